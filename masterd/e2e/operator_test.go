package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestOperatorKeys: the operator endpoints carry the Mesos key names that
// existing tools read (the reference README lists them), and redirect
// and health answer as Mesos's do.
func TestOperatorKeys(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f := subscribe(t, c.master.addr, newFrameworkInfo("keys"))
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("k1", o, "cpus:0.5;mem:32", "sleep 600") })
	f.waitState("k1", mesos.TaskRunning, 20*time.Second)
	// HEARTBEAT every --heartbeat_interval (300ms in these tests).
	f.next(5*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventHeartbeat })

	has := func(what string, m map[string]any, keys string) {
		t.Helper()
		for _, k := range strings.Fields(keys) {
			if _, ok := m[k]; !ok {
				t.Errorf("%s has no %q", what, k)
			}
		}
	}
	st := getJSON(t, c.url("/master/state"))
	requireSubscribed(t, f, st, 0.3)
	has("/master/state", st, `version start_time elected_time id pid hostname activated_slaves deactivated_slaves
		unreachable_slaves leader leader_info cluster flags slaves frameworks completed_frameworks orphan_tasks
		unregistered_frameworks`)
	fw := st["frameworks"].([]any)[0].(map[string]any)
	has("a framework", fw, `id name hostname active connected recovered roles principal capabilities used_resources
		offered_resources user failover_timeout checkpoint registered_time tasks unreachable_tasks completed_tasks
		offers executors`)
	ag := st["slaves"].([]any)[0].(map[string]any)
	has("an agent", ag, `id hostname port attributes pid registered_time resources used_resources offered_resources
		unreserved_resources active version capabilities`)
	if used := fw["used_resources"].(map[string]any); num(used["cpus"]) != 0.5 {
		t.Errorf("framework used_resources %v, want cpus 0.5", used)
	}

	// Wait for a sweep and a registry write to be counted.
	var m map[string]any
	eventually(t, 10*time.Second, "an allocation run", func() bool {
		m = getJSON(t, c.url("/metrics/snapshot"))
		return num(m["allocator/mesos/allocation_runs"]) > 0
	})
	has("/metrics/snapshot", m, `master/elected master/uptime_secs master/slaves_active master/slaves_connected
		master/slaves_disconnected master/slaves_inactive master/slaves_unreachable master/frameworks_active
		master/frameworks_connected master/frameworks_disconnected master/frameworks_inactive master/outstanding_offers
		master/tasks_staging master/tasks_starting master/tasks_running master/tasks_finished master/tasks_failed
		master/tasks_killed master/tasks_lost master/tasks_error master/tasks_killing master/tasks_unreachable
		master/cpus_total master/cpus_used master/cpus_percent master/mem_total master/mem_used master/mem_percent
		master/disk_total master/disk_used master/disk_percent master/gpus_total master/gpus_used master/gpus_percent
		master/event_queue_messages registrar/state_store_ms/p99 allocator/mesos/allocation_runs
		allocator/mesos/allocation_run_ms allocator/mesos/allocation_run_ms/p50 allocator/mesos/allocation_run_ms/p90
		allocator/mesos/allocation_run_ms/p99 allocator/mesos/allocation_run_latency_ms`)
	if num(m["master/tasks_running"]) != 1 || num(m["master/cpus_used"]) != 0.5 || num(m["registrar/state_store_ms/count"]) < 1 {
		t.Errorf("metrics: tasks_running %v cpus_used %v registry writes %v", m["master/tasks_running"], m["master/cpus_used"], m["registrar/state_store_ms/count"])
	}
	for _, p := range []string{"/master/state-summary", "/master/frameworks", "/master/slaves", "/master/tasks", "/master/roles", "/master/flags"} {
		getJSON(t, c.url(p))
	}
	if tasks := getJSON(t, c.url("/master/tasks?task_id=k1"))["tasks"].([]any); len(tasks) != 1 {
		t.Errorf("/master/tasks?task_id=k1: %d tasks", len(tasks))
	}
	if roles := getJSON(t, c.url("/master/roles"))["roles"].([]any); len(roles) != 1 || roles[0].(map[string]any)["name"] != "*" {
		t.Errorf("/master/roles: %v", roles)
	}

	// The UI's views page on the server, and refuse a bad page.
	if page := getJSON(t, c.url("/master/ui/tasks?q=k1&limit=5")); num(page["total"]) != 1 {
		t.Errorf("/master/ui/tasks?q=k1: %v", page)
	}
	for q, want := range map[string]string{"/master/ui/tasks?offset=-1": "non-negative integer",
		"/master/ui/agents?limit=x": "non-negative integer", "/master/ui/tasks?offset=100001": "narrow the filter"} {
		resp, err := http.Get(c.url(q))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s, want 400 naming the parameter", q, resp.StatusCode, body)
		}
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(c.url("/master/redirect"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "//"+c.master.addr {
		t.Errorf("/master/redirect: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = http.Get(c.url("/master/health"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/master/health: %d", resp.StatusCode)
	}
	// The operator tears the framework down: its task is killed.
	resp, err = http.PostForm(c.url("/master/teardown"), url.Values{"frameworkId": {f.id}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/master/teardown: %d", resp.StatusCode)
	}
	eventually(t, 20*time.Second, "torn-down framework's task gone", func() bool {
		return num(getJSON(t, c.url("/metrics/snapshot"))["master/tasks_running"]) == 0 &&
			len(getJSON(t, "http://"+c.agents[0].addr+"/state")["executors"].([]any)) == 0
	})
}

// TestPortsAndSandbox: a task gets its ports as PORT0 and PORTS, writes
// them to stdout, and the agent's /files API shows that stdout.
func TestPortsAndSandbox(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f := subscribe(t, c.master.addr, newFrameworkInfo("ports"))
	o := launchOne(f, func(o mesos.Offer) mesos.TaskInfo {
		return commandTask("web", o, "cpus:0.5;mem:32;ports:[31000-31001]", `echo "port0=$PORT0 ports=$PORTS"`)
	})
	f.waitState("web", mesos.TaskFinished, 20*time.Second)
	agent := "http://" + c.agents[0].addr
	runs := c.dir + "/agent0/slaves/" + o.AgentID.Value + "/frameworks/" + f.id + "/executors/web/runs"
	list := getJSONList(t, agent+"/files/browse?path="+url.QueryEscape(runs))
	if len(list) != 1 {
		t.Fatalf("browse %s: %v", runs, list)
	}
	dir := list[0].(map[string]any)["path"].(string)
	out := getJSON(t, agent+"/files/read?offset=0&path="+url.QueryEscape(dir+"/stdout"))
	if data := out["data"].(string); !strings.Contains(data, "port0=31000 ports=31000,31001") {
		t.Fatalf("task stdout %q does not show its ports", data)
	}
}

// TestMemoryLimit: where the agent runs tasks in cgroups, a task that
// allocates far past its mem is killed by the kernel and fails.
func TestMemoryLimit(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	if mode := getJSON(t, "http://"+c.agents[0].addr+"/state")["isolation"]; mode == "none" {
		t.Logf("isolation mode none: no memory limit to check (the agent reported this at start-up)")
		return
	}
	f := subscribe(t, c.master.addr, newFrameworkInfo("hog"))
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo {
		// tail keeps the whole newline-free input in memory: 512 MB against
		// a limit of 32 + 32 MB.
		return commandTask("hog", o, "cpus:0.5;mem:32", "head -c 512m /dev/zero | tail >/dev/null")
	})
	s := f.waitState("hog", mesos.TaskFailed, 60*time.Second)
	t.Logf("memory hog: TASK_FAILED %q", s.Message)
}

// requireSubscribed checks the framework's SUBSCRIBED against the master's
// /master/state: the heartbeat interval in seconds, and master_info with
// the master's id, port and hostname.
func requireSubscribed(t *testing.T, f *framework, st map[string]any, heartbeat float64) {
	t.Helper()
	sub := f.subscribed
	if sub.FrameworkID.Value != f.id || sub.HeartbeatIntervalSeconds != heartbeat {
		t.Errorf("SUBSCRIBED framework_id %q heartbeat_interval_seconds %v, want %q and %v",
			sub.FrameworkID.Value, sub.HeartbeatIntervalSeconds, f.id, heartbeat)
	}
	mi := sub.MasterInfo
	if mi == nil {
		t.Fatal("SUBSCRIBED has no master_info")
	}
	port := f.master[strings.LastIndex(f.master, ":")+1:]
	if mi.ID == "" || mi.ID != st["id"] || strconv.Itoa(int(mi.Port)) != port || mi.Hostname == "" || mi.Hostname != st["hostname"] {
		t.Errorf("SUBSCRIBED master_info id %q port %d hostname %q; want the master's id %v, port %s and hostname %v",
			mi.ID, mi.Port, mi.Hostname, st["id"], port, st["hostname"])
	}
}

// TestMasterDefaults: a master started with no timing flags sends
// heartbeats every 15 s, Mesos's default: /master/flags shows it and
// SUBSCRIBED carries it.
func TestMasterDefaults(t *testing.T) {
	m := start(t, "masterd", bin.masterd, "--ip=127.0.0.1", "--port=0", "--registry=in_memory")
	flags := getJSON(t, "http://"+m.addr+"/master/flags")["flags"].(map[string]any)
	if got := flags["heartbeat_interval"]; got != "15secs" {
		t.Errorf("default --heartbeat_interval %v, want 15secs", got)
	}
	f := subscribe(t, m.addr, newFrameworkInfo("defaults"))
	requireSubscribed(t, f, getJSON(t, "http://"+m.addr+"/master/state"), 15)
}
