package e2e

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestMasterRestartKeepsAgents is acceptance 7a: a standalone master
// restarted with --registry=pebble gets its agents back, with their
// running tasks, and the framework re-subscribes to find them.
func TestMasterRestartKeepsAgents(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 2})
	info := newFrameworkInfo("survivor")
	info.FailoverTimeout = 300
	f := subscribe(t, c.master.addr, info)
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("long", o, "cpus:0.5;mem:32", "sleep 600") })
	running := f.waitState("long", mesos.TaskRunning, 20*time.Second)
	agentID := running.AgentID.Value
	f.close()

	port := c.master.addr[strings.LastIndex(c.master.addr, ":")+1:]
	c.master.kill() // SIGKILL: no goodbye
	c.startMaster(port)
	c.waitAgents(2)
	st := getJSON(t, c.url("/master/state"))
	ids := map[string]bool{}
	for _, s := range st["slaves"].([]any) {
		ids[s.(map[string]any)["id"].(string)] = true
	}
	if !ids[agentID] {
		t.Fatalf("agent %s did not come back with its id; agents now %v", agentID, ids)
	}
	// The task is still running, under its (recovered) framework.
	eventually(t, 10*time.Second, "task known to the new master", func() bool {
		tasks := getJSON(t, c.url("/master/tasks"))["tasks"].([]any)
		return len(tasks) == 1 && tasks[0].(map[string]any)["state"] == string(mesos.TaskRunning)
	})
	g := &framework{t: t, master: c.master.addr, info: info, id: f.id}
	g.open(nil)
	t.Cleanup(g.close)
	g.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{}})
	ev := g.next(10*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventUpdate })
	if s := ev.Update.Status; s.TaskID.Value != "long" || s.State != mesos.TaskRunning {
		t.Fatalf("after the master restart, reconciliation says %s %s", s.TaskID.Value, s.State)
	}
}

// TestLostAgent is acceptance 6 of the HA issue: an agent that stops
// answering pings (SIGSTOP) is removed after agent_ping_timeout ×
// max_agent_ping_timeouts; a framework sees TASK_LOST and FAILURE, a
// PARTITION_AWARE one TASK_UNREACHABLE. Woken up, the agent is refused,
// kills its tasks and registers again under a new id.
func TestLostAgent(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1,
		masterFlags: []string{"--agent_ping_timeout=300ms", "--max_agent_ping_timeouts=3"}})
	f := subscribe(t, c.master.addr, newFrameworkInfo("watcher"))
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("stranded", o, "cpus:0.5;mem:32", "sleep 600") })
	running := f.waitState("stranded", mesos.TaskRunning, 20*time.Second)
	oldID := running.AgentID.Value
	paInfo := newFrameworkInfo("partition-aware")
	paInfo.Capabilities = []mesos.Capability{{Type: mesos.CapPartitionAware}}
	pa := subscribe(t, c.master.addr, paInfo)
	launchOne(pa, func(o mesos.Offer) mesos.TaskInfo { return commandTask("aware", o, "cpus:0.5;mem:32", "sleep 600") })
	pa.waitState("aware", mesos.TaskRunning, 20*time.Second)
	var pids []int
	for _, e := range getJSON(t, "http://"+c.agents[0].addr+"/state")["executors"].([]any) {
		pids = append(pids, int(num(e.(map[string]any)["pid"])))
	}
	if len(pids) != 2 {
		t.Fatalf("executor pids %v, want 2", pids)
	}

	stopped := time.Now()
	c.agents[0].signal(syscall.SIGSTOP)
	lost := f.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "stranded"
	}).Update.Status
	took := time.Since(stopped)
	if lost.State != mesos.TaskLost || lost.Reason != mesos.ReasonAgentRemoved {
		t.Fatalf("after SIGSTOP: %s %s %s", lost.State, lost.Reason, lost.Message)
	}
	if took < 900*time.Millisecond {
		t.Fatalf("agent removed after %v, before 3 × 300ms of missed pings", took)
	}
	unreachable := pa.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "aware"
	}).Update.Status
	if unreachable.State != mesos.TaskUnreachable {
		t.Fatalf("partition-aware framework after SIGSTOP: %s %s %s", unreachable.State, unreachable.Reason, unreachable.Message)
	}
	fail := f.next(10*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventFailure })
	if fail.Failure.AgentID.Val() != oldID {
		t.Fatalf("FAILURE names agent %q, want %s", fail.Failure.AgentID.Val(), oldID)
	}
	t.Logf("agent removed %v after SIGSTOP: TASK_LOST (%s) and FAILURE", took.Round(time.Millisecond), lost.Message)
	if n := num(getJSON(t, c.url("/metrics/snapshot"))["master/slave_removals"]); n != 1 {
		t.Fatalf("master/slave_removals = %v", n)
	}

	c.agents[0].signal(syscall.SIGCONT)
	eventually(t, 20*time.Second, "the agent back under a new id, its task killed", func() bool {
		slaves := getJSON(t, c.url("/master/slaves"))["slaves"].([]any)
		if len(slaves) != 1 {
			return false
		}
		id := slaves[0].(map[string]any)["id"].(string)
		return id != oldID && !slices.ContainsFunc(pids, alive)
	})
}
