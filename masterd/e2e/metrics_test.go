package e2e

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"meseta/core/daemon"
	"meseta/core/mesos"
)

// readmeMetrics are the /metrics/snapshot keys the reference README
// lists; a leading master must give each a real value.
const readmeMetrics = `master/elected master/uptime_secs
	master/slaves_active master/slaves_connected master/slaves_disconnected master/slaves_inactive master/slaves_unreachable
	master/frameworks_active master/frameworks_connected master/frameworks_disconnected master/frameworks_inactive
	master/outstanding_offers
	master/tasks_staging master/tasks_starting master/tasks_running master/tasks_finished master/tasks_failed
	master/tasks_killed master/tasks_lost master/tasks_error master/tasks_killing master/tasks_unreachable
	master/cpus_total master/cpus_used master/cpus_percent master/mem_total master/mem_used master/mem_percent
	master/disk_total master/disk_used master/disk_percent master/gpus_total master/gpus_used master/gpus_percent
	master/event_queue_messages registrar/state_store_ms/p99 allocator/mesos/allocation_runs
	allocator/mesos/allocation_run_ms allocator/mesos/allocation_run_ms/p50 allocator/mesos/allocation_run_ms/p90
	allocator/mesos/allocation_run_ms/p99 allocator/mesos/allocation_run_latency_ms`

// agentMetrics are the agent's keys (Mesos's names, and meseta's retry
// queue).
const agentMetrics = `slave/registered slave/uptime_secs slave/frameworks_active
	slave/executors_registering slave/executors_running slave/executors_terminating slave/executors_terminated
	slave/tasks_staging slave/tasks_starting slave/tasks_running slave/tasks_killing
	slave/tasks_finished slave/tasks_failed slave/tasks_killed slave/tasks_lost
	slave/cpus_total slave/cpus_used slave/cpus_percent slave/mem_total slave/mem_used slave/mem_percent
	slave/disk_total slave/disk_used slave/disk_percent slave/gpus_total slave/gpus_used slave/gpus_percent
	slave/status_update_retry_queue`

// TestMetrics: a master with two agents of different sizes (4 and 2
// cpus) and one framework running one task of 0.5 cpus and 32 MB. The
// master's /metrics/snapshot has every key the README lists, with the
// values this cluster must give; /metrics says the same in the
// Prometheus text format; each agent's endpoints describe that agent.
func TestMetrics(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1}) // cpus:4;mem:2048;disk:4096
	c.startAgent("small", "0", "--resources=cpus:2;mem:1024;disk:1024")
	c.waitAgents(2)
	f := subscribe(t, c.master.addr, newFrameworkInfo("metrics"))
	o := launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("m1", o, "cpus:0.5;mem:32", "sleep 600") })
	f.waitState("m1", mesos.TaskRunning, 20*time.Second)

	// The framework leaves the offers of what is left alone from here on:
	// one outstanding offer per agent. The first offers may come from
	// allocations that events started, before the first periodic run.
	var m map[string]any
	eventually(t, 10*time.Second, "one outstanding offer per agent, and an allocation run", func() bool {
		m = getJSON(t, c.url("/metrics/snapshot"))
		return num(m["master/outstanding_offers"]) == 2 && num(m["allocator/mesos/allocation_runs"]) > 0
	})
	for _, k := range strings.Fields(readmeMetrics) {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("/metrics/snapshot: %s is %v, want a number", k, m[k])
		}
	}
	for k, want := range map[string]float64{
		"master/elected": 1, "master/slaves_active": 2, "master/slaves_connected": 2,
		"master/slaves_disconnected": 0, "master/slaves_inactive": 0, "master/slaves_unreachable": 0,
		"master/frameworks_active": 1, "master/frameworks_connected": 1, "master/frameworks_disconnected": 0,
		"master/tasks_running": 1, "master/tasks_staging": 0, "master/tasks_starting": 0, "master/tasks_finished": 0,
		"master/tasks_failed": 0, "master/tasks_killed": 0, "master/tasks_lost": 0, "master/tasks_error": 0,
		// The agents' sums: 4 + 2 cpus, 2048 + 1024 mem, 4096 + 1024 disk.
		"master/cpus_total": 6, "master/mem_total": 3072, "master/disk_total": 5120, "master/gpus_total": 0,
		"master/cpus_used": 0.5, "master/mem_used": 32, "master/disk_used": 0,
		"master/cpus_percent": 0.5 / 6, "master/mem_percent": 32.0 / 3072,
		// Two agents and one framework: three event streams.
		"master/event_streams": 3,
	} {
		if got := num(m[k]); got != want {
			t.Errorf("/metrics/snapshot: %s = %v, want %v", k, got, want)
		}
	}
	// Two agents were admitted: two registry writes, each of some time.
	if n, p99 := num(m["registrar/state_store_ms/count"]), num(m["registrar/state_store_ms/p99"]); n < 2 || !(p99 > 0) {
		t.Errorf("registrar: %v writes, p99 %v ms; want 2 or more writes taking some time", n, p99)
	}
	runs := num(m["allocator/mesos/allocation_runs"])
	p50, p90, p99 := num(m["allocator/mesos/allocation_run_ms/p50"]), num(m["allocator/mesos/allocation_run_ms/p90"]),
		num(m["allocator/mesos/allocation_run_ms/p99"])
	if runs < 1 || !(p50 > 0) || p50 > p90 || p90 > p99 || p99 > num(m["allocator/mesos/allocation_run_ms/max"]) {
		t.Errorf("allocation runs %v, p50 %v p90 %v p99 %v ms: want runs, and ordered percentiles above zero", runs, p50, p90, p99)
	}
	if q := num(m["master/event_queue_messages"]); q < 0 || q < num(m["master/event_stream_backlog_max"]) {
		t.Errorf("event queue %v messages, longest stream backlog %v", q, m["master/event_stream_backlog_max"])
	}
	t.Logf("master: uptime %.2fs, %v allocation runs (p50 %.3f p90 %.3f p99 %.3f ms, latest %.3f ms, latency %.3f ms), "+
		"%v registry writes (p99 %.3f ms), %v events queued on %v streams",
		num(m["master/uptime_secs"]), runs, p50, p90, p99, num(m["allocator/mesos/allocation_run_ms"]),
		num(m["allocator/mesos/allocation_run_latency_ms"]), m["registrar/state_store_ms/count"],
		num(m["registrar/state_store_ms/p99"]), m["master/event_queue_messages"], m["master/event_streams"])

	// /metrics: the same figures. Those that do not move (all but times
	// and counts of runs) must be equal; all must be there.
	prom := getPrometheus(t, c.url("/metrics"))
	comparePrometheus(t, "master", m, prom, "uptime_secs", "allocator/mesos/", "master/event_", "registrar/")
	if got := prom.get(t, "allocator/mesos/allocation_runs"); got < runs {
		t.Errorf("/metrics: allocation runs %v, fewer than the snapshot's %v before", got, runs)
	}
	eventually(t, 10*time.Second, "more allocation runs", func() bool {
		return num(getJSON(t, c.url("/metrics/snapshot"))["allocator/mesos/allocation_runs"]) > runs
	})

	// The agents: the one that runs the task, and the small idle one.
	byID := map[string]string{}
	for _, a := range c.agents {
		byID[getJSON(t, "http://"+a.addr+"/state")["id"].(string)] = a.addr
	}
	busy := byID[o.AgentID.Value]
	idle := c.agents[0].addr
	if idle == busy {
		idle = c.agents[1].addr
	}
	var am map[string]any
	eventually(t, 10*time.Second, "the agent's updates acknowledged", func() bool {
		am = getJSON(t, "http://"+busy+"/metrics/snapshot")
		return num(am["slave/status_update_retry_queue"]) == 0
	})
	for _, k := range strings.Fields(agentMetrics) {
		if _, ok := am[k].(float64); !ok {
			t.Errorf("agent /metrics/snapshot: %s is %v, want a number", k, am[k])
		}
	}
	busyCPUs, busyMem := 4.0, 2048.0
	if busy != c.agents[0].addr {
		busyCPUs, busyMem = 2, 1024
	}
	for k, want := range map[string]float64{
		"slave/registered": 1, "slave/frameworks_active": 1, "slave/executors_running": 1,
		"slave/executors_registering": 0, "slave/executors_terminating": 0,
		"slave/tasks_running": 1, "slave/tasks_staging": 0, "slave/tasks_finished": 0,
		"slave/cpus_total": busyCPUs, "slave/cpus_used": 0.5, "slave/cpus_percent": 0.5 / busyCPUs,
		"slave/mem_total": busyMem, "slave/mem_used": 32, "slave/mem_percent": 32 / busyMem,
	} {
		if got := num(am[k]); got != want {
			t.Errorf("agent running the task: %s = %v, want %v", k, got, want)
		}
	}
	t.Logf("agent %s running the task: cpus %v/%v, mem %v/%v, %v executors running, %v updates unacknowledged",
		busy, am["slave/cpus_used"], am["slave/cpus_total"], am["slave/mem_used"], am["slave/mem_total"],
		am["slave/executors_running"], am["slave/status_update_retry_queue"])
	if !(num(am["slave/uptime_secs"]) > 0) {
		t.Errorf("agent uptime %v", am["slave/uptime_secs"])
	}
	comparePrometheus(t, "agent", am, getPrometheus(t, "http://"+busy+"/metrics"), "uptime_secs", "outbox_calls")
	im := getJSON(t, "http://"+idle+"/metrics/snapshot")
	if num(im["slave/registered"]) != 1 || num(im["slave/executors_running"]) != 0 || num(im["slave/tasks_running"]) != 0 ||
		num(im["slave/cpus_used"]) != 0 {
		t.Errorf("idle agent: %v", im)
	}

	// Killed, the task counts as killed and its resources are free.
	f.mustCall(&mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "m1"}, AgentID: &o.AgentID}})
	f.waitState("m1", mesos.TaskKilled, 20*time.Second)
	m = getJSON(t, c.url("/metrics/snapshot"))
	if num(m["master/tasks_killed"]) != 1 || num(m["master/tasks_running"]) != 0 || num(m["master/cpus_used"]) != 0 {
		t.Errorf("after the kill: tasks_killed %v tasks_running %v cpus_used %v",
			m["master/tasks_killed"], m["master/tasks_running"], m["master/cpus_used"])
	}
}

// promFigures are the samples of a /metrics answer, by metric name and
// labels as daemon.PrometheusName gives them for a key.
type promFigures map[string]float64

func promID(key string) string {
	name, labels, _ := daemon.PrometheusName(key)
	for _, l := range labels {
		name += "|" + l.Name + "=" + l.Value
	}
	return name
}

func (p promFigures) get(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := p[promID(key)]
	if !ok {
		t.Errorf("/metrics has no sample for %s (%s)", key, promID(key))
	}
	return v
}

// getPrometheus fetches url and parses it with Prometheus's own parser.
func getPrometheus(t *testing.T, url string) promFigures {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %d %s: %.200s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var parser expfmt.TextParser
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("GET %s: not Prometheus text: %v\n%s", url, err, body)
	}
	out := promFigures{}
	for name, fam := range fams {
		for _, s := range fam.GetMetric() {
			id := name
			for _, l := range s.GetLabel() { // one label at most: quantile
				id += "|" + l.GetName() + "=" + l.GetValue()
			}
			out[id] = s.GetGauge().GetValue()
		}
	}
	return out
}

// comparePrometheus checks that /metrics has a sample for every key of
// the snapshot and nothing else, with the same value unless the key
// contains one of moving (figures that change between two requests).
func comparePrometheus(t *testing.T, who string, snapshot map[string]any, prom promFigures, moving ...string) {
	t.Helper()
	if len(prom) != len(snapshot) {
		t.Errorf("%s: /metrics has %d samples, /metrics/snapshot %d keys", who, len(prom), len(snapshot))
	}
	for k, v := range snapshot {
		got := prom.get(t, k)
		if slices.ContainsFunc(moving, func(m string) bool { return strings.Contains(k, m) }) {
			continue
		}
		if want := num(v); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s: /metrics says %s = %v, /metrics/snapshot %v", who, k, got, want)
		}
	}
}

// TestStandbyPrometheus: a standby's /metrics says, in the Prometheus
// format, what its /metrics/snapshot says: it is not elected.
func TestStandbyPrometheus(t *testing.T) {
	c := newHACluster(t, 2, 0)
	li, _ := c.waitLeader(30 * time.Second)
	standby := c.masters[1-li].addr
	prom := getPrometheus(t, "http://"+standby+"/metrics")
	if len(prom) != 2 || prom.get(t, "master/elected") != 0 || !(prom.get(t, "master/uptime_secs") > 0) {
		t.Errorf("standby /metrics: %v", prom)
	}
}
