package e2e

import (
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestFrameworkFailover is acceptance 5a: a framework that disconnects
// and re-subscribes within failover_timeout keeps its tasks, and
// implicit reconciliation returns them; the old stream gets ERROR.
func TestFrameworkFailover(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	info := newFrameworkInfo("failover")
	info.FailoverTimeout = 60
	f := subscribe(t, c.master.addr, info)
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("keeper", o, "cpus:0.5;mem:32", "sleep 600") })
	f.waitState("keeper", mesos.TaskRunning, 20*time.Second)

	// A second scheduler instance takes over while the first is still
	// connected: the first gets ERROR "Framework failed over".
	g := &framework{t: t, master: c.master.addr, info: info, id: f.id}
	g.open(nil)
	t.Cleanup(g.close)
	ev := f.next(10*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventError })
	if ev.Error.Message != "Framework failed over" {
		t.Fatalf("old stream got ERROR %q", ev.Error.Message)
	}
	if code, _ := f.call(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{}}); code != 400 {
		t.Fatalf("a call on the old stream id answered %d, want 400", code)
	}

	// Now the new instance disconnects and comes back within the timeout.
	g.close()
	eventually(t, 10*time.Second, "framework marked disconnected", func() bool {
		return c.frameworkState(g.id)["connected"] == false
	})
	g.open(nil)
	g.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{}})
	ev = g.next(10*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "keeper"
	})
	s := ev.Update.Status
	if s.State != mesos.TaskRunning || s.Reason != mesos.ReasonReconciliation || len(s.UUID) != 0 {
		t.Fatalf("implicit reconciliation: %s reason %s uuid %x", s.State, s.Reason, s.UUID)
	}
	// Explicit reconciliation of a task the master never heard of, on a
	// registered agent: TASK_LOST for a framework that is not
	// partition-aware.
	g.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: []mesos.ReconcileTask{
		{TaskID: mesos.ID{Value: "never-launched"}, AgentID: s.AgentID}}}})
	ev = g.next(10*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "never-launched"
	})
	if ev.Update.Status.State != mesos.TaskLost {
		t.Fatalf("explicit reconciliation of an unknown task: %s", ev.Update.Status.State)
	}
}

// TestFailoverTimeout is acceptance 5b: after failover_timeout, a
// disconnected framework's tasks are killed and it is torn down.
func TestFailoverTimeout(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	info := newFrameworkInfo("short-failover")
	info.FailoverTimeout = 1
	f := subscribe(t, c.master.addr, info)
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("doomed", o, "cpus:0.5;mem:32", "sleep 600") })
	f.waitState("doomed", mesos.TaskRunning, 20*time.Second)
	agent := "http://" + c.agents[0].addr + "/state"
	pid := 0
	for _, e := range getJSON(t, agent)["executors"].([]any) {
		pid = int(num(e.(map[string]any)["pid"]))
	}
	if pid == 0 {
		t.Fatalf("no executor pid on the agent: %v", getJSON(t, agent))
	}
	f.close()
	eventually(t, 20*time.Second, "framework torn down and its task killed", func() bool {
		fw := c.frameworkState(f.id)
		if fw == nil || fw["active"] == true {
			return false
		}
		done, _ := fw["completed_tasks"].([]any)
		return len(done) == 1 && done[0].(map[string]any)["state"] == string(mesos.TaskKilled)
	})
	eventually(t, 20*time.Second, "executor process gone", func() bool {
		exs, _ := getJSON(t, agent)["executors"].([]any)
		return len(exs) == 0 && !alive(pid)
	})
	// The torn-down framework may not come back.
	code, body := postSubscribe(t, c.master.addr, info, f.id)
	if code != 403 {
		t.Fatalf("re-subscribing a removed framework answered %d %s, want 403", code, body)
	}
}
