package agent

import (
	"testing"
	"time"

	"meseta/core/agentapi"
	"meseta/core/mesos"
)

func upd(task string, state mesos.TaskState, uuid byte) agentapi.StatusUpdate {
	return agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: "f"},
		Status: mesos.TaskStatus{TaskID: mesos.ID{Value: task}, State: state, UUID: []byte{uuid}}}
}

// TestUpdatesInOrder: only the head of a task's stream is in flight; the
// next update goes out when the head is acknowledged; retries back off.
func TestUpdatesInOrder(t *testing.T) {
	u := NewUpdates()
	t0 := time.Unix(0, 0)
	if out := u.Add(upd("t", mesos.TaskRunning, 1), t0); len(out) != 1 || out[0].Status.UUID[0] != 1 {
		t.Fatalf("first update not sent: %v", out)
	}
	if out := u.Add(upd("t", mesos.TaskFinished, 2), t0); len(out) != 0 {
		t.Fatalf("second update sent before the first was acknowledged: %v", out)
	}
	if out := u.Add(upd("t", mesos.TaskFinished, 2), t0); len(out) != 0 || u.Len() != 2 {
		t.Fatalf("duplicate uuid queued: len %d", u.Len())
	}
	if out := u.Due(t0.Add(9 * time.Second)); len(out) != 0 {
		t.Fatalf("resent before the 10s retry: %v", out)
	}
	out := u.Due(t0.Add(10 * time.Second))
	if len(out) != 1 || out[0].LatestState != mesos.TaskFinished {
		t.Fatalf("retry at 10s: %v", out)
	}
	if out := u.Due(t0.Add(29 * time.Second)); len(out) != 0 { // backoff doubled: next at 30s
		t.Fatalf("resent before 30s: %v", out)
	}
	if _, ok := u.Ack("f", "t", []byte{2}, t0); ok {
		t.Fatal("ack of a non-head uuid accepted")
	}
	next, ok := u.Ack("f", "t", []byte{1}, t0)
	if !ok || len(next) != 1 || next[0].Status.UUID[0] != 2 {
		t.Fatalf("after ack: %v %v", next, ok)
	}
	if next, ok := u.Ack("f", "t", []byte{2}, t0); !ok || len(next) != 0 || u.Pending("f", "t") {
		t.Fatalf("final ack: %v %v pending %v", next, ok, u.Pending("f", "t"))
	}
}

// TestUpdatesLen: Len follows adds, acknowledgements and dropped
// frameworks.
func TestUpdatesLen(t *testing.T) {
	u := NewUpdates()
	t0 := time.Unix(0, 0)
	other := upd("x", mesos.TaskRunning, 9)
	other.FrameworkID.Value = "g"
	for _, su := range []agentapi.StatusUpdate{upd("t", mesos.TaskRunning, 1), upd("t", mesos.TaskFinished, 2), upd("s", mesos.TaskRunning, 3), other} {
		u.Add(su, t0)
	}
	if u.Len() != 4 {
		t.Fatalf("Len %d after 4 adds, want 4", u.Len())
	}
	if _, ok := u.Ack("f", "t", []byte{1}, t0); !ok || u.Len() != 3 {
		t.Fatalf("Len %d after an ack, want 3", u.Len())
	}
	u.DropFramework("f")
	if u.Len() != 1 || !u.Pending("g", "x") {
		t.Fatalf("Len %d after dropping f, want 1 (g's)", u.Len())
	}
}
