package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// callSink is a master's POST /agent/v1/call. Each request is handed to
// requests before it is answered with status(n), n counting from 1.
type callSink struct {
	addr     string
	requests chan []agentapi.Call
}

func newCallSink(t *testing.T, status func(n int) int) *callSink {
	s := &callSink{requests: make(chan []agentapi.Call, 64)}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b agentapi.Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.requests <- b.Calls
		w.WriteHeader(status(int(n.Add(1))))
	}))
	t.Cleanup(srv.Close)
	s.addr = srv.Listener.Addr().String()
	return s
}

// next returns the calls of the sink's next request.
func (s *callSink) next(t *testing.T, d time.Duration) []agentapi.Call {
	t.Helper()
	select {
	case calls := <-s.requests:
		return calls
	case <-time.After(d):
		t.Fatalf("no calls at %s within %v", s.addr, d)
		return nil
	}
}

// collect returns the types of the next n calls posted to the sink.
func (s *callSink) collect(t *testing.T, n int, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	var types []string
	for len(types) < n {
		for _, c := range s.next(t, time.Until(deadline)) {
			types = append(types, c.Type)
		}
	}
	return types
}

// runOutbox runs o until the test ends.
func runOutbox(t *testing.T, o *outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

var agentID = &mesos.ID{Value: "agent-1"}

func pong(seq uint64) agentapi.Call {
	return agentapi.Call{Type: agentapi.CallPong, AgentID: agentID, Pong: &agentapi.Pong{Seq: seq}}
}

func executorExited() agentapi.Call {
	return agentapi.Call{Type: agentapi.CallExecutorExited, AgentID: agentID,
		ExecutorExited: &agentapi.ExecutorExited{FrameworkID: mesos.ID{Value: "f"}, ExecutorID: mesos.ID{Value: "e"}, Status: 9}}
}

func message() agentapi.Call {
	return agentapi.Call{Type: agentapi.CallMessage, AgentID: agentID,
		Message: &agentapi.Message{FrameworkID: mesos.ID{Value: "f"}, ExecutorID: mesos.ID{Value: "e"}, Data: []byte("hi")}}
}

func statusUpdate() agentapi.Call {
	return agentapi.Call{Type: agentapi.CallStatusUpdate, AgentID: agentID, StatusUpdate: &agentapi.StatusUpdate{
		FrameworkID: mesos.ID{Value: "f"}, Status: mesos.TaskStatus{TaskID: mesos.ID{Value: "t"}, State: mesos.TaskRunning, UUID: []byte{1}}}}
}

// A fixed master is the target from the start and stays it: telling the
// outbox that it leads, or that the agent registered with it, holds and
// drops nothing.
func TestOutboxFixedMaster(t *testing.T) {
	m := newCallSink(t, func(int) int { return 202 })
	o := newOutbox(m.addr, testLogger(t))
	o.add(pong(1))
	o.leaderIs(m.addr)
	o.sendTo(m.addr, m.addr)
	o.add(executorExited())
	runOutbox(t, o)
	if got, want := m.collect(t, 2, within), []string{agentapi.CallPong, agentapi.CallExecutorExited}; !slices.Equal(got, want) {
		t.Fatalf("the master got %v, want %v", got, want)
	}
}

// A fixed --master that is a standby redirected the subscription to the
// leader: calls go to the leader, and reading the fixed master again (as
// masterLoop does before each subscription) does not hold them.
func TestOutboxRedirected(t *testing.T) {
	m := newCallSink(t, func(int) int { return 202 })
	const standby = "127.0.0.1:1" // never posted to
	o := newOutbox(standby, testLogger(t))
	o.sendTo(m.addr, standby)
	o.leaderIs(standby)
	o.add(executorExited())
	runOutbox(t, o)
	if got, want := m.collect(t, 1, within), []string{agentapi.CallExecutorExited}; !slices.Equal(got, want) {
		t.Fatalf("the leader got %v, want %v", got, want)
	}
}

// A batch in flight to the old leader when the leader changes, which that
// master then refuses (a 4xx, which would drop it had it come from the
// target), is not lost: once the agent registered with the new leader, it
// gets every call but the stale PONG, in order, with the call queued while
// the outbox held.
func TestOutboxRefusalFromFormerLeader(t *testing.T) {
	release := make(chan struct{})
	old := newCallSink(t, func(int) int { <-release; return 400 })
	leader := newCallSink(t, func(int) int { return 202 })
	o := newOutbox(old.addr, testLogger(t))
	o.add(pong(1))
	o.add(executorExited())
	o.add(message())
	runOutbox(t, o)

	if got := old.next(t, within); len(got) != 3 {
		t.Fatalf("the old master got %d calls, want 3", len(got))
	}
	// The batch is in flight. The leader changes; the outbox holds.
	o.leaderIs(leader.addr)
	o.add(statusUpdate())
	o.sendTo(leader.addr, leader.addr) // the agent registered with the new leader
	close(release)                     // the old master refuses the batch

	want := []string{agentapi.CallExecutorExited, agentapi.CallMessage, agentapi.CallStatusUpdate}
	if got := leader.collect(t, 3, within); !slices.Equal(got, want) {
		t.Fatalf("the new leader got %v, want %v", got, want)
	}
	// The outbox posts one batch at a time, so anything more for the old
	// master would have come before the new leader's calls.
	select {
	case calls := <-old.requests:
		t.Fatalf("the old master got calls again after the leader changed: %v", calls)
	default:
	}
}

// A master that keeps failing does not wedge the outbox: its retry backoff
// doubles from 50 ms (attempts at 0, 50, 150, 350, 750 and 1550 ms, then a
// 1.6 s wait), and a new target cuts the wait short, so the new leader gets
// the calls within 1 s of the sixth failure.
func TestOutboxFailingMasterDoesNotWedge(t *testing.T) {
	failing := newCallSink(t, func(int) int { return 503 })
	leader := newCallSink(t, func(int) int { return 202 })
	o := newOutbox(failing.addr, testLogger(t))
	o.add(pong(1))
	o.add(executorExited())
	runOutbox(t, o)
	for range 6 {
		failing.next(t, within)
	}
	o.leaderIs("") // no leader for a while
	o.sendTo(leader.addr, leader.addr)
	want := []string{agentapi.CallExecutorExited}
	if got := leader.collect(t, 1, time.Second); !slices.Equal(got, want) {
		t.Fatalf("the new leader got %v, want %v", got, want)
	}
}
