package election

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// children lists path's children through a client of the test's own.
func children(t *testing.T, servers []string, path string) []string {
	t.Helper()
	conn, _, err := connect(config{servers: servers, sessionTimeout: sessionTimeout, log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _, err := conn.Children(path)
	if err != nil {
		t.Fatalf("children of %s: %v", path, err)
	}
	slices.Sort(ch)
	return ch
}

// requireClientClosed checks that a contender's client takes no requests.
func requireClientClosed(t *testing.T, c *Contender) {
	t.Helper()
	if _, _, err := c.Conn().Exists("/"); !errors.Is(err, zk.ErrConnectionClosed) {
		t.Fatalf("the lost contender's client still works: Exists = %v", err)
	}
}

func base(node string) string { return node[strings.LastIndexByte(node, '/')+1:] }

// Three contenders: the first created leads, alone; the detector names it.
// Closing the leader hands over to the next at once, and the detector
// follows.
func TestElectionHandOver(t *testing.T) {
	servers := ensemble(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: testLogger(t)}
	path := "/meseta/" + t.Name()
	d := detect(t, cfg, path)
	c1 := contend(t, cfg, path, "m1")
	c2 := contend(t, cfg, path, "m2")
	c3 := contend(t, cfg, path, "m3")

	waitClosed(t, c1.Leading(), 10*time.Second, "first contender leads")
	// The granted timeout comes from go-zookeeper's log line (see zkLogger);
	// this fails if a new go-zookeeper words it differently.
	if got := time.Duration(c1.sess.negotiated.Load()); got != sessionTimeout {
		t.Errorf("granted session timeout %v, want %v", got, sessionTimeout)
	}
	waitLeader(t, d, "m1")
	waitMembers(t, d, "m1", "m2", "m3")
	if _, node, _ := d.Leader(); node != c1.Node() {
		t.Fatalf("detector names %s, want %s", node, c1.Node())
	}
	// The others have seen the election too (their znodes are listed after
	// c1's) and do not lead.
	if closed(c2.Leading()) || closed(c3.Leading()) {
		t.Fatal("more than one contender leads")
	}
	if !c1.Holds() || c2.Holds() || c3.Holds() {
		t.Fatalf("Holds: %v %v %v, want only the leader's true", c1.Holds(), c2.Holds(), c3.Holds())
	}
	if got := children(t, servers, path); !slices.Equal(got, []string{base(c1.Node()), base(c2.Node()), base(c3.Node())}) {
		t.Fatalf("children %v", got)
	}

	start := time.Now()
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if !closed(c1.Lost()) || c1.Holds() {
		t.Fatal("Close did not fire Lost, or the closed contender still holds")
	}
	waitClosed(t, c2.Leading(), 5*time.Second, "second contender leads after the first closed")
	t.Logf("hand-over: the second contender leads %v after the first began to close", time.Since(start))
	waitLeader(t, d, "m2")
	waitMembers(t, d, "m2", "m3")
	if closed(c3.Leading()) {
		t.Fatal("third contender leads while the second does")
	}
	if closed(c2.Lost()) || closed(c3.Lost()) {
		t.Fatal("a live contender lost")
	}
}

// The leader is cut off from ZooKeeper: it gives up leadership before its
// session can expire, the next contender leads once it has, and the old one
// never comes back.
func TestLeaderPartitioned(t *testing.T) {
	servers := ensemble(t)
	log := testLogger(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: log}
	path := "/meseta/" + t.Name()
	fault := &faultDialer{}
	c1 := contend(t, config{servers: servers, sessionTimeout: sessionTimeout, log: log.With("c", 1), dial: fault.dial}, path, "m1")
	c2 := contend(t, cfg, path, "m2")
	d := detect(t, cfg, path)
	waitClosed(t, c1.Leading(), 10*time.Second, "first contender leads")
	waitLeader(t, d, "m1")

	fault.partition()
	start := time.Now()
	waitClosed(t, c2.Leading(), 10*time.Second, "second contender leads after the first was cut off")
	led := time.Since(start)
	// Safety: by the time anyone else leads, the old leader has let go.
	if !closed(c1.Lost()) || c1.Holds() {
		t.Fatalf("the second contender leads (after %v) while the cut-off first has not lost", led)
	}
	t.Logf("successor leads %v after the partition", led)
	waitLeader(t, d, "m2")

	fault.heal()
	// The old contender's client is closed (Close waits for its goroutines,
	// which are all that could create a znode) and only c2's znode is left.
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := children(t, servers, path); !slices.Equal(got, []string{base(c2.Node())}) {
		t.Fatalf("children %v, want only %s", got, base(c2.Node()))
	}
	requireClientClosed(t, c1)
}

// A leading contender in another process is stopped (SIGSTOP) past its
// session timeout: the session expires, the next contender leads, and when
// the old one runs again it sees Lost and never leads or contends again.
func TestLeaderStopped(t *testing.T) {
	servers := ensemble(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: testLogger(t)}
	path := "/meseta/" + t.Name()

	old := startChild(t, childConfig{Servers: servers, Path: path, Data: "child"})
	node, ok := strings.CutPrefix(old.next(t, 15*time.Second), "node ")
	if !ok {
		t.Fatal("child did not report its znode")
	}
	if line := old.next(t, 10*time.Second); line != "leading" {
		t.Fatalf("child said %q, want leading", line)
	}
	c2 := contend(t, cfg, path, "m2")
	d := detect(t, cfg, path)
	waitLeader(t, d, "child")

	if err := old.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	took := waitClosed(t, c2.Leading(), 15*time.Second, "second contender leads while the first is stopped")
	t.Logf("successor leads %v after SIGSTOP", took)
	waitLeader(t, d, "m2")
	if got := children(t, servers, path); !slices.Equal(got, []string{base(c2.Node())}) {
		t.Fatalf("children %v, want only %s (the stopped child's %s expired)", got, base(c2.Node()), base(node))
	}

	if err := old.proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if line := old.next(t, 10*time.Second); line != "lost" {
		t.Fatalf("resumed child said %q, want lost", line)
	}
	old.stdin.Close()
	if line := old.next(t, 10*time.Second); line != "closed" {
		t.Fatalf("child said %q after lost, want closed", line)
	}
	if line, ok := <-old.lines; ok {
		t.Fatalf("child said %q after closing", line)
	}
	if got := children(t, servers, path); !slices.Equal(got, []string{base(c2.Node())}) {
		t.Fatalf("children after the child ran again: %v", got)
	}
	if closed(c2.Lost()) {
		t.Fatal("the new leader lost")
	}
}

// Someone deletes the leader's znode: it loses and does not re-create it.
func TestContenderZnodeDeleted(t *testing.T) {
	servers := ensemble(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: testLogger(t)}
	path := "/meseta/" + t.Name()
	c := contend(t, cfg, path, "m1")
	waitClosed(t, c.Leading(), 10*time.Second, "contender leads")

	conn, _, err := connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Delete(c.Node(), -1); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, c.Lost(), 10*time.Second, "contender loses when its znode is deleted")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := children(t, servers, path); len(got) != 0 {
		t.Fatalf("children %v, want none", got)
	}
}

// The detector waits for a path that does not exist yet, reports the leader
// once there is one, and no leader once it is gone.
func TestDetectorNoLeader(t *testing.T) {
	servers := ensemble(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: testLogger(t)}
	path := "/meseta/" + t.Name() + "/not/yet"
	d := detect(t, cfg, path)
	if _, _, ok := d.Leader(); ok {
		t.Fatal("leader before any contender")
	}

	c := contend(t, cfg, path, "m1")
	waitLeader(t, d, "m1")
	select {
	case <-d.Changes():
	case <-time.After(time.Second):
		t.Fatal("no receive on Changes after a leader appeared")
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoLeader(t, d, 10*time.Second)
}

// The detector is cut off for longer than its session: it reports no leader,
// and once it can reach ZooKeeper again it follows the election with a new
// session, including what changed meanwhile.
func TestDetectorSessionExpiry(t *testing.T) {
	servers := ensemble(t)
	log := testLogger(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: log}
	path := "/meseta/" + t.Name()
	fault := &faultDialer{}
	d := detect(t, config{servers: servers, sessionTimeout: sessionTimeout, log: log.With("d", "cut"), dial: fault.dial}, path)
	c1 := contend(t, cfg, path, "m1")
	waitLeader(t, d, "m1")

	fault.partition()
	start := time.Now()
	waitNoLeader(t, d, 10*time.Second)
	t.Logf("no leader %v after the partition", time.Since(start))
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	contend(t, cfg, path, "m2")

	fault.heal()
	waitLeader(t, d, "m2")
}

// Unreachable servers: NewContender fails within a bound; a Detector keeps
// trying, reports no leader, and closes promptly.
func TestUnreachable(t *testing.T) {
	cfg := config{servers: []string{"127.0.0.1:1"}, sessionTimeout: sessionTimeout, log: testLogger(t)}
	start := time.Now()
	_, err := newContender(cfg, "/m", nil)
	if err == nil {
		t.Fatal("NewContender succeeded without a server")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("NewContender took %v to fail", took)
	}
	t.Logf("NewContender failed after %v: %v", time.Since(start), err)

	d, err := newDetector(cfg, "/m")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := d.Wait(ctx, nil); err != context.DeadlineExceeded {
		t.Fatalf("Wait without a server: %v", err)
	}
	start = time.Now()
	d.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Detector.Close took %v", took)
	}
	if _, err := d.Wait(t.Context(), nil); err != ErrClosed {
		t.Fatalf("Wait after Close: %v, want ErrClosed", err)
	}
}

func TestBadArguments(t *testing.T) {
	for _, tc := range []struct {
		servers []string
		path    string
		timeout time.Duration
		want    string
	}{
		{nil, "/m", time.Second, "no ZooKeeper servers"},
		{[]string{"h"}, "/m", time.Second, "missing port"},
		{[]string{"h:1"}, "m", time.Second, "not absolute"},
		{[]string{"h:1"}, "/", time.Second, "root"},
		{[]string{"h:1"}, "/m", 0, "not positive"},
	} {
		_, err := NewContender(tc.servers, tc.path, nil, tc.timeout, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewContender(%q, %q, %v): %v; want %q", tc.servers, tc.path, tc.timeout, err, tc.want)
		}
		_, err = NewDetector(tc.servers, tc.path, tc.timeout, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewDetector(%q, %q, %v): %v; want %q", tc.servers, tc.path, tc.timeout, err, tc.want)
		}
	}
}

func TestRank(t *testing.T) {
	kids := []string{"log_replicas", "json.info_0000000012", "json.info_0000000003", "info_0000000001", "json.info_0000000007"}
	for _, tc := range []struct {
		name            string
		lowest, present bool
	}{
		{"json.info_0000000003", true, true},
		{"json.info_0000000007", false, true},
		{"json.info_0000000001", true, false},
		{"info_0000000001", false, false},
	} {
		lowest, present := rank(kids, tc.name)
		if lowest != tc.lowest || present != tc.present {
			t.Errorf("rank(%s) = %v, %v; want %v, %v", tc.name, lowest, present, tc.lowest, tc.present)
		}
	}
	if name, ok := leader(kids); !ok || name != "json.info_0000000003" {
		t.Errorf("leader = %q, %v", name, ok)
	}
	if _, ok := leader([]string{"log_replicas"}); ok {
		t.Error("leader among no contenders")
	}
}

// go-zookeeper reports an expired session (it learns of it on reconnecting):
// the contender loses and closes its client, which would otherwise carry on
// with a new session.
func TestContenderExpiredEvent(t *testing.T) {
	servers := ensemble(t)
	cfg := config{servers: servers, sessionTimeout: sessionTimeout, log: testLogger(t)}
	c := contend(t, cfg, "/meseta/"+t.Name(), "m1")
	waitClosed(t, c.Leading(), 10*time.Second, "contender leads")
	c.sess.onEvent(zk.Event{Type: zk.EventSession, State: zk.StateExpired})
	waitClosed(t, c.Lost(), 5*time.Second, "contender loses on an expiry event")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	requireClientClosed(t, c)
}
