package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meseta/core/mesos"
	"meseta/core/recordio"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 15 * time.Second

// fakeAgent is the agent side of the executor API: it accepts SUBSCRIBE
// and streams the events a test pushes, records UPDATE calls and, unless
// told otherwise, acknowledges each update as soon as it arrives.
type fakeAgent struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	autoAck    bool                 // guarded by mu
	refuse     bool                 // guarded by mu; answer SUBSCRIBE with 503
	refused    []mesos.ExecutorCall // guarded by mu; refused SUBSCRIBEs
	framework  mesos.FrameworkInfo  // guarded by mu; sent in SUBSCRIBED
	subscribes []mesos.ExecutorCall // guarded by mu
	updates    []mesos.TaskStatus   // guarded by mu
	conn       *fakeConn            // guarded by mu; the live stream, or nil
	changed    chan struct{}        // guarded by mu; closed on every change
	closing    chan struct{}
}

// fakeConn is one SUBSCRIBE stream.
type fakeConn struct {
	events chan []byte
	drop   chan struct{}
}

func newFakeAgent(t *testing.T) *fakeAgent {
	fa := &fakeAgent{
		t:         t,
		autoAck:   true,
		framework: mesos.FrameworkInfo{User: "nobody", Name: "test-framework", ID: &mesos.ID{Value: "fw-1"}},
		changed:   make(chan struct{}),
		closing:   make(chan struct{}),
	}
	fa.srv = httptest.NewServer(http.HandlerFunc(fa.serve))
	t.Cleanup(func() {
		close(fa.closing)
		fa.srv.Close()
	})
	return fa
}

func (fa *fakeAgent) endpoint() string { return strings.TrimPrefix(fa.srv.URL, "http://") }

// changedLocked wakes every waiter.
func (fa *fakeAgent) changedLocked() {
	close(fa.changed)
	fa.changed = make(chan struct{})
}

func (fa *fakeAgent) setAutoAck(on bool) {
	fa.mu.Lock()
	fa.autoAck = on
	fa.mu.Unlock()
}

// setRefuse makes the agent answer SUBSCRIBE with 503, as an agent that
// is down would fail it.
func (fa *fakeAgent) setRefuse(on bool) {
	fa.mu.Lock()
	fa.refuse = on
	fa.mu.Unlock()
}

func (fa *fakeAgent) setCapabilities(caps ...string) {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	fa.framework.Capabilities = nil
	for _, c := range caps {
		fa.framework.Capabilities = append(fa.framework.Capabilities, mesos.Capability{Type: c})
	}
}

func (fa *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/executor" || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	call, err := mesos.DecodeExecutorCall(body)
	if err != nil {
		fa.t.Errorf("fake agent: bad call %s: %v", body, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch call.Type {
	case mesos.ExecCallSubscribe:
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "want Accept: application/json", http.StatusNotAcceptable)
			return
		}
		fa.subscribe(w, r, call)
	case mesos.ExecCallUpdate:
		st := call.Update.Status
		fa.mu.Lock()
		fa.updates = append(fa.updates, st)
		if fa.autoAck && fa.conn != nil {
			fa.conn.events <- ackEvent(st)
		}
		fa.changedLocked()
		fa.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

func (fa *fakeAgent) subscribe(w http.ResponseWriter, r *http.Request, call *mesos.ExecutorCall) {
	c := &fakeConn{events: make(chan []byte, 256), drop: make(chan struct{})}
	fa.mu.Lock()
	if fa.refuse {
		fa.refused = append(fa.refused, *call)
		fa.changedLocked()
		fa.mu.Unlock()
		http.Error(w, "agent is recovering", http.StatusServiceUnavailable)
		return
	}
	fa.subscribes = append(fa.subscribes, *call)
	if fa.conn != nil {
		close(fa.conn.drop)
	}
	fa.conn = c
	ev := mesos.ExecutorEvent{Type: mesos.ExecEventSubscribed, Subscribed: &mesos.ExecutorSubscribed{
		ExecutorInfo:  mesos.ExecutorInfo{ExecutorID: call.ExecutorID, FrameworkID: &call.FrameworkID},
		FrameworkInfo: fa.framework,
		AgentInfo:     mesos.AgentInfo{Hostname: "localhost", ID: &mesos.ID{Value: "agent-1"}},
	}}
	c.events <- mustJSON(fa.t, ev)
	// Acknowledge what SUBSCRIBE carried, as the agent does, when acking.
	if fa.autoAck {
		for _, u := range call.Subscribe.UnacknowledgedUpdates {
			c.events <- ackEvent(u.Status)
		}
	}
	fa.changedLocked()
	fa.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	flusher.Flush()
	for {
		select {
		case ev := <-c.events:
			if _, err := w.Write(recordio.Append(nil, ev)); err != nil {
				return
			}
			flusher.Flush()
		case <-c.drop:
			return
		case <-r.Context().Done():
			return
		case <-fa.closing:
			return
		}
	}
}

func ackEvent(st mesos.TaskStatus) []byte {
	b, _ := json.Marshal(mesos.ExecutorEvent{Type: mesos.ExecEventAcknowledged,
		Acknowledged: &mesos.Acknowledged{TaskID: st.TaskID, UUID: st.UUID}})
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor waits until cond (called with fa.mu held) holds.
func (fa *fakeAgent) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		fa.mu.Lock()
		ok, ch := cond(), fa.changed
		fa.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; updates so far:\n%s", what, fa.describe())
		}
	}
}

func (fa *fakeAgent) describe() string {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	var b strings.Builder
	for _, u := range fa.updates {
		fmt.Fprintf(&b, "  %s %s %q\n", u.TaskID.Value, u.State, u.Message)
	}
	fmt.Fprintf(&b, "  (%d subscribes)", len(fa.subscribes))
	return b.String()
}

// waitSubscribes waits for the n-th SUBSCRIBE and returns it.
func (fa *fakeAgent) waitSubscribes(t *testing.T, n int) mesos.ExecutorCall {
	t.Helper()
	fa.waitFor(t, fmt.Sprintf("SUBSCRIBE #%d", n), func() bool { return len(fa.subscribes) >= n })
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return fa.subscribes[n-1]
}

// waitState waits for an update of task id to state and returns it.
func (fa *fakeAgent) waitState(t *testing.T, id string, state mesos.TaskState) mesos.TaskStatus {
	t.Helper()
	var got mesos.TaskStatus
	fa.waitFor(t, fmt.Sprintf("%s of task %s", state, id), func() bool {
		for _, u := range fa.updates {
			if u.TaskID.Value == id && u.State == state {
				got = u
				return true
			}
		}
		return false
	})
	return got
}

// states lists the states reported for task id, in arrival order.
func (fa *fakeAgent) states(id string) []mesos.TaskState {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	var out []mesos.TaskState
	for _, u := range fa.updates {
		if u.TaskID.Value == id {
			out = append(out, u.State)
		}
	}
	return out
}

func (fa *fakeAgent) allUpdates() []mesos.TaskStatus {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return append([]mesos.TaskStatus(nil), fa.updates...)
}

// push sends an event on the live stream, waiting for one to exist.
func (fa *fakeAgent) push(t *testing.T, ev mesos.ExecutorEvent) {
	t.Helper()
	b := mustJSON(t, ev)
	fa.waitFor(t, "a live stream", func() bool { return fa.conn != nil })
	fa.mu.Lock()
	fa.conn.events <- b
	fa.mu.Unlock()
}

// ack acknowledges st on the live stream.
func (fa *fakeAgent) ack(t *testing.T, st mesos.TaskStatus) {
	t.Helper()
	fa.waitFor(t, "a live stream", func() bool { return fa.conn != nil })
	fa.mu.Lock()
	fa.conn.events <- ackEvent(st)
	fa.mu.Unlock()
}

// dropStream ends the live stream, as an agent restart would.
func (fa *fakeAgent) dropStream(t *testing.T) {
	t.Helper()
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if fa.conn == nil {
		t.Fatal("dropStream: no live stream")
	}
	close(fa.conn.drop)
	fa.conn = nil
	fa.changedLocked()
}

// ---- the executor under test ----

// testExec is an executor running in a goroutine.
type testExec struct {
	sandbox string
	code    chan int
	cancel  context.CancelFunc
	log     *syncBuffer
}

type execOpts struct {
	mode    string
	env     map[string]string // added to / overriding the defaults; "" deletes
	signals chan os.Signal    // stands in for SIGTERM and SIGINT
}

// startExec runs the executor against fa with a fresh sandbox, a 200ms
// shutdown grace period and, unless opts.env says otherwise, no
// checkpointing. The executor's log is shown if the test fails.
func startExec(t *testing.T, fa *fakeAgent, opts execOpts) *testExec {
	t.Helper()
	sandbox := t.TempDir()
	env := map[string]string{
		EnvFrameworkID:         "fw-1",
		EnvExecutorID:          "exec-1",
		EnvDirectory:           sandbox,
		EnvSandbox:             sandbox,
		EnvAgentEndpoint:       fa.endpoint(),
		EnvShutdownGracePeriod: "200ms",
	}
	for k, v := range opts.env {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	stdout, err := os.Create(filepath.Join(sandbox, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(sandbox, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &testExec{sandbox: sandbox, code: make(chan int, 1), cancel: cancel, log: &syncBuffer{}}
	go func() {
		x.code <- run(ctx, []string{"--mode=" + opts.mode}, func(k string) string { return env[k] },
			runOptions{stderr: x.log, taskStdout: stdout, taskStderr: stderr, signals: opts.signals})
	}()
	t.Cleanup(func() {
		// Make sure the executor (and so its tasks) is gone before the
		// fake agent closes.
		cancel()
		select {
		case c := <-x.code:
			x.code <- c
		case <-time.After(waitTimeout):
			t.Errorf("executor did not exit after cancel")
		}
		stdout.Close()
		stderr.Close()
		if t.Failed() {
			t.Logf("executor log:\n%s", x.log.String())
		}
	})
	return x
}

// wait returns the executor's exit code.
func (x *testExec) wait(t *testing.T) int {
	t.Helper()
	select {
	case c := <-x.code:
		x.code <- c
		return c
	case <-time.After(waitTimeout):
		t.Fatalf("executor did not exit")
		return -1
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
