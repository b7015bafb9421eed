package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"meseta/core/mesos"
)

func executorPIDs(t *testing.T, agent string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range getJSON(t, "http://"+agent+"/state")["executors"].([]any) {
		em := e.(map[string]any)
		out[em["id"].(string)] = int(num(em["pid"]))
	}
	return out
}

// TestAgentRestartKeepsTasks is HA acceptance 3: kill -9 an agent with
// running tasks of a checkpointing framework, then restart it. The tasks
// keep running throughout, the agent re-registers with the same id, and
// an update produced while it was down reaches the framework once,
// after which (acknowledged) it is not sent again.
func TestAgentRestartKeepsTasks(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	info := newFrameworkInfo("checkpointer")
	info.Checkpoint = true
	info.FailoverTimeout = 120
	f := subscribe(t, c.master.addr, info)
	trigger := filepath.Join(c.dir, "finish-now")
	offers := f.nextOffers(10 * time.Second)
	o := offers[0]
	f.launch(o, []mesos.TaskInfo{
		commandTask("steady", o, "cpus:0.5;mem:32", "sleep 600"),
		commandTask("waiter", o, "cpus:0.5;mem:32", "while [ ! -f "+trigger+" ]; do sleep 0.05; done"),
	}, 0)
	f.waitState("steady", mesos.TaskRunning, 20*time.Second)
	f.waitState("waiter", mesos.TaskRunning, 20*time.Second)
	before := executorPIDs(t, c.agents[0].addr)
	agentID := o.AgentID.Value

	c.agents[0].kill() // kill -9: no goodbye, executors keep running
	for id, pid := range before {
		if !alive(pid) {
			t.Fatalf("executor %s (pid %d) died with its agent", id, pid)
		}
	}
	// While the agent is down, waiter finishes: its executor holds the
	// update until it can hand it to an agent.
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.restartAgent(0)
	eventually(t, 20*time.Second, "the agent back with its old id", func() bool {
		slaves := getJSON(t, c.url("/master/slaves"))["slaves"].([]any)
		return len(slaves) == 1 && slaves[0].(map[string]any)["id"] == agentID &&
			slaves[0].(map[string]any)["active"] == true
	})
	// The finished task's update arrives, once; no other terminal update.
	var uuid []byte
	ev := f.next(30*time.Second, func(e *mesos.Event) bool {
		if e.Type != mesos.EventUpdate {
			return false
		}
		s := e.Update.Status
		if s.TaskID.Value == "steady" && s.State.Terminal() {
			t.Fatalf("steady ended %s (%s) across the agent restart", s.State, s.Message)
		}
		return s.TaskID.Value == "waiter" && s.State.Terminal()
	})
	if s := ev.Update.Status; s.State != mesos.TaskFinished {
		t.Fatalf("waiter: %s %s", s.State, s.Message)
	}
	uuid = ev.Update.Status.UUID
	f.ack(&ev.Update.Status)
	// After the ack, it is not delivered again (retries run every second).
	deadline := time.After(3 * time.Second)
	for done := false; !done; {
		select {
		case e := <-f.events:
			if e.Type == mesos.EventUpdate && string(e.Update.Status.UUID) == string(uuid) {
				t.Fatal("the acknowledged update was delivered again")
			}
			if e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "steady" && e.Update.Status.State.Terminal() {
				t.Fatalf("steady ended %s", e.Update.Status.State)
			}
		case <-deadline:
			done = true
		}
	}
	// steady's executor is the same process, and reconciliation agrees.
	after := executorPIDs(t, c.agents[0].addr)
	if after["steady"] != before["steady"] || !alive(before["steady"]) {
		t.Fatalf("steady's executor changed: before %v, after %v", before, after)
	}
	f.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{}})
	rec := f.next(10*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.Reason == mesos.ReasonReconciliation
	})
	if s := rec.Update.Status; s.TaskID.Value != "steady" || s.State != mesos.TaskRunning {
		t.Fatalf("reconciliation after the restart: %s %s", s.TaskID.Value, s.State)
	}
	_ = syscall.SIGKILL
}
