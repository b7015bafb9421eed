package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"meseta/core/agentapi"
	"meseta/core/election"
	"meseta/core/election/zkserver"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// The whole agent (serve) against fake masters: just enough of
// POST /agent/v1/subscribe and /agent/v1/call to see it register, answer
// PINGs and follow the leader.

// within is how long a test waits for the agent to do something.
const within = 15 * time.Second

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeMaster answers its n-th subscription with REGISTERED (the id the
// agent re-registers with, else newID) and a PING with seq n, then holds the
// stream open until the agent hangs up, passing on what the test sends to
// events; hangUpOnce makes it end the first stream itself after those two
// events, as a master restart would, and a value on hangUp ends the
// current one. Calls go to calls; with autoAck, each STATUS_UPDATE is
// also acknowledged on the stream, as a framework would.
type fakeMaster struct {
	name       string
	newID      string
	hangUpOnce bool
	srv        *httptest.Server
	addr       string // host:port

	subscribes chan agentapi.Call // each subscription's REGISTER or REREGISTER
	calls      chan agentapi.Call // every call posted
	dropped    chan struct{}      // one per stream the agent hung up
	quit       chan struct{}      // ends held streams at the test's end
	events     chan agentapi.Event
	hangUp     chan struct{}
	autoAck    bool
	mu         sync.Mutex // guards streams
	streams    int        // subscriptions answered
	info       func() mesos.MasterInfo
}

func newFakeMaster(t *testing.T, name, newID string) *fakeMaster {
	m := &fakeMaster{name: name, newID: newID,
		subscribes: make(chan agentapi.Call, 8), calls: make(chan agentapi.Call, 64),
		dropped: make(chan struct{}, 8), quit: make(chan struct{}),
		events: make(chan agentapi.Event, 64), hangUp: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentapi.PathSubscribe, m.subscribe)
	mux.HandleFunc("POST "+agentapi.PathCall, m.call)
	m.srv = httptest.NewServer(mux)
	m.addr = m.srv.Listener.Addr().String()
	t.Cleanup(func() {
		close(m.quit)
		m.srv.Close()
	})
	return m
}

// masterInfo is the MasterInfo the fake master publishes, as masterd
// writes it.
func (m *fakeMaster) masterInfo() mesos.MasterInfo {
	host, port, _ := net.SplitHostPort(m.addr)
	p, _ := strconv.Atoi(port)
	return mesos.MasterInfo{ID: m.name + "-id", IP: ipv4(host), Port: uint32(p), Hostname: m.name,
		PID: "master@" + m.addr, Address: &mesos.Address{Hostname: m.name, IP: host, Port: int32(p)}}
}

func (m *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request) {
	var call agentapi.Call
	if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	m.subscribes <- call
	id := m.newID
	if call.Type == agentapi.CallReregister {
		id = call.Register.AgentInfo.ID.Value
	}
	m.mu.Lock()
	m.streams++
	n := m.streams
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	for _, ev := range []agentapi.Event{
		{Type: agentapi.EventRegistered, Registered: &agentapi.Registered{AgentID: mesos.ID{Value: id},
			MasterInfo: m.masterInfo(), PingTimeoutSeconds: 15, MaxPingTimeouts: 5}},
		{Type: agentapi.EventPing, Ping: &agentapi.Ping{Seq: uint64(n)}},
	} {
		b, _ := json.Marshal(&ev)
		if _, err := w.Write(recordio.Append(nil, b)); err != nil {
			return
		}
	}
	w.(http.Flusher).Flush()
	if n == 1 && m.hangUpOnce {
		return
	}
	for {
		select {
		case ev := <-m.events:
			b, _ := json.Marshal(&ev)
			if _, err := w.Write(recordio.Append(nil, b)); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		case <-m.hangUp:
			return
		case <-r.Context().Done():
			m.dropped <- struct{}{}
			return
		case <-m.quit:
			return
		}
	}
}

func (m *fakeMaster) call(w http.ResponseWriter, r *http.Request) {
	var b agentapi.Batch
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	for _, c := range b.Calls {
		m.calls <- c
		if u := c.StatusUpdate; m.autoAck && c.Type == agentapi.CallStatusUpdate {
			m.events <- agentapi.Event{Type: agentapi.EventAcknowledge, Acknowledge: &agentapi.Acknowledge{
				FrameworkID: u.FrameworkID, TaskID: u.Status.TaskID, UUID: u.Status.UUID}}
		}
	}
	w.WriteHeader(202)
}

// nextSubscribe returns the agent's next subscription to m.
func (m *fakeMaster) nextSubscribe(t *testing.T) agentapi.Call {
	t.Helper()
	select {
	case c := <-m.subscribes:
		return c
	case <-time.After(within):
		t.Fatalf("%s: the agent did not subscribe within %v", m.name, within)
		return agentapi.Call{}
	}
}

// awaitPong waits for the agent's PONG to the PING on m's stream-th stream.
func (m *fakeMaster) awaitPong(t *testing.T, stream int, agentID string) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case c := <-m.calls:
			if c.Type == agentapi.CallPong && c.Pong.Seq == uint64(stream) {
				if c.AgentID.Val() != agentID {
					t.Fatalf("%s: PONG from agent %q, want %q", m.name, c.AgentID.Val(), agentID)
				}
				return
			}
		case <-deadline:
			t.Fatalf("%s: no PONG to PING %d within %v", m.name, stream, within)
		}
	}
}

// testAgent is a running agentd (serve) on a free port.
type testAgent struct {
	endpoint string
	cfg      *config
	// stop ends serve (SIGTERM's path: the executors of checkpointing
	// frameworks keep running) and waits for it; it runs at the test's
	// end if the test did not call it.
	stop func()
}

// startAgent runs serve with args added to a test agent's flags, and
// stops it at the test's end.
func startAgent(t *testing.T, args ...string) *testAgent {
	t.Helper()
	return startAgentWith(t, nil, args...)
}

// startAgentWith is startAgent with a change to the parsed config (for
// what has no flag) before serve starts.
func startAgentWith(t *testing.T, change func(*config), args ...string) *testAgent {
	t.Helper()
	base := []string{"--ip=127.0.0.1", "--port=0", "--hostname=agent1", "--isolation=none",
		"--registration_backoff_factor=20ms"}
	cfg, err := parse(t, nil, append(base, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(cfg)
	}
	log := testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{lines: make(chan string, 4)}
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, cfg, log, out) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(within):
				t.Errorf("serve did not return within %v of its context's end", within)
			}
		})
	}
	t.Cleanup(stop)
	listening := regexp.MustCompile(`listening on http://(\S+) `)
	select {
	case line := <-out.lines:
		m := listening.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("agent said %q", line)
		}
		return &testAgent{endpoint: m[1], cfg: cfg, stop: stop}
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(within):
		t.Fatalf("the agent did not start within %v", within)
	}
	return nil
}

// state is the agent's /state.
func (a *testAgent) state(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + a.endpoint + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// requireState checks what /state says of the agent's id and master.
func (a *testAgent) requireState(t *testing.T, id string, m *fakeMaster) {
	t.Helper()
	st := a.state(t)
	if st["id"] != id || st["registered"] != true || st["master"] != m.addr || st["master_hostname"] != m.name {
		t.Fatalf("/state: id %v, registered %v, master %v, master_hostname %v; want %s, true, %s, %s",
			st["id"], st["registered"], st["master"], st["master_hostname"], id, m.addr, m.name)
	}
}

// lineWriter hands each write (serve's start-up line) to lines.
type lineWriter struct{ lines chan string }

func (w *lineWriter) Write(b []byte) (int, error) {
	select {
	case w.lines <- string(b):
	default:
	}
	return len(b), nil
}

// testLogger logs to the test's output (at debug with AGENTD_TEST_DEBUG=1)
// and drops lines that come after the test ended (go-zookeeper's
// goroutines outlive Close briefly).
func testLogger(t *testing.T) *slog.Logger {
	w := &guardedWriter{w: t.Output()}
	t.Cleanup(w.stop) // registered first, so it runs after every other cleanup
	level := slog.LevelInfo
	if os.Getenv("AGENTD_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type guardedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (g *guardedWriter) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return len(b), nil
	}
	return g.w.Write(b)
}

func (g *guardedWriter) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
}

// --master=host:port: the agent registers, and after the master ends the
// stream (a master restart) re-registers with the same master and id.
func TestAgentFixedMaster(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	m.hangUpOnce = true
	a := startAgent(t, "--master="+m.addr)

	if c := m.nextSubscribe(t); c.Type != agentapi.CallRegister {
		t.Fatalf("first subscription %s, want REGISTER", c.Type)
	}
	c := m.nextSubscribe(t)
	if c.Type != agentapi.CallReregister || c.Register.AgentInfo.ID.Val() != "agent-1" {
		t.Fatalf("after the stream ended: %s with id %q, want REREGISTER with agent-1", c.Type, c.Register.AgentInfo.ID.Val())
	}
	m.awaitPong(t, 2, "agent-1")
	a.requireState(t, "agent-1", m)
}

// --master=zk://: two masters contend in a real ZooKeeper. The agent
// registers with the first, which leads; when the first withdraws (its
// server still up, its ping limit 80 s away) the agent drops that stream at
// once and re-registers with the second, keeping the id the first gave it.
// PONGs, /state and the subscription all follow the leader.
func TestAgentFollowsLeadingMaster(t *testing.T) {
	if err := zkserver.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	zk, err := zkserver.StartStandalone(ctx, t.TempDir(), zkserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zk.Stop() })
	servers, path := []string{zk.Addr}, "/meseta/"+t.Name()
	log := testLogger(t)
	contend := func(m *fakeMaster) *election.Contender {
		c, err := election.NewContender(servers, path, []byte(mustJSON(t, m.masterInfo())), 2*time.Second, log.With("contender", m.name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	m1 := newFakeMaster(t, "m1", "agent-1")
	m2 := newFakeMaster(t, "m2", "agent-from-m2")
	c1 := contend(m1)
	select {
	case <-c1.Leading():
	case <-time.After(within):
		t.Fatal("the first master does not lead")
	}
	contend(m2)

	a := startAgent(t, "--master=zk://"+zk.Addr+path, "--zk_session_timeout=2secs")
	if c := m1.nextSubscribe(t); c.Type != agentapi.CallRegister {
		t.Fatalf("first subscription %s, want REGISTER", c.Type)
	}
	m1.awaitPong(t, 1, "agent-1")
	a.requireState(t, "agent-1", m1)

	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m1.dropped:
	case <-time.After(within):
		t.Fatal("the agent kept its stream to the master that no longer leads")
	}
	c := m2.nextSubscribe(t)
	if c.Type != agentapi.CallReregister || c.Register.AgentInfo.ID.Val() != "agent-1" {
		t.Fatalf("the new leader got %s with id %q, want REREGISTER with agent-1", c.Type, c.Register.AgentInfo.ID.Val())
	}
	m2.awaitPong(t, 1, "agent-1")
	a.requireState(t, "agent-1", m2)
}

// A standby master redirects the subscription to the leader (307): the
// agent registers there, and its calls go there too, not to the standby.
func TestAgentRedirectedByStandby(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+m.addr+r.URL.Path)
		w.WriteHeader(307)
	}))
	t.Cleanup(standby.Close)
	startAgent(t, "--master="+standby.Listener.Addr().String())
	if c := m.nextSubscribe(t); c.Type != agentapi.CallRegister {
		t.Fatalf("subscription %s, want REGISTER", c.Type)
	}
	m.awaitPong(t, 1, "agent-1")
}
