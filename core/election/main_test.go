package election

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meseta/core/election/zkserver"
)

// sessionTimeout is every test session's timeout: 4 ticks of the test
// servers' 500 ms.
const sessionTimeout = 2 * time.Second

// childEnv makes the test binary a child contender (see runChildContender);
// its value is a JSON childConfig.
const childEnv = "ELECTION_TEST_CHILD"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChildContender(cfg))
	}
	code := m.Run()
	if err := stopEnsemble(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// shared is one 3-server ensemble for the whole package, started by the
// first test that needs it. Tests use distinct paths under it.
var shared struct {
	once sync.Once
	dir  string
	e    *zkserver.Ensemble
	err  error
}

func ensemble(t *testing.T) []string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "election-zk-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		shared.e, shared.err = zkserver.StartEnsemble(ctx, shared.dir, 3, zkserver.Options{})
		fmt.Fprintf(os.Stderr, "election tests: 3-server ZooKeeper ensemble up in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if shared.err != nil {
		t.Fatalf("ZooKeeper is required: %v", shared.err)
	}
	return shared.e.Addrs()
}

func stopEnsemble() error {
	var err error
	if shared.e != nil {
		err = shared.e.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return err
}

// testLogger logs at Info (Debug with ELECTION_TEST_DEBUG=1) to the test's
// output, and drops lines that come after the test ended (go-zookeeper's
// goroutines outlive Close briefly).
func testLogger(t *testing.T) *slog.Logger {
	w := &guardedWriter{w: t.Output()}
	t.Cleanup(w.stop) // registered first, so it runs after every other cleanup
	level := slog.LevelInfo
	if os.Getenv("ELECTION_TEST_DEBUG") != "" {
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

// contend starts a contender that the test closes at its end.
func contend(t *testing.T, cfg config, path, data string) *Contender {
	t.Helper()
	c, err := newContender(cfg, path, []byte(data))
	if err != nil {
		t.Fatalf("contender %s: %v", data, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func detect(t *testing.T, cfg config, path string) *Detector {
	t.Helper()
	d, err := newDetector(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitClosed fails the test unless ch is closed within d, and returns how
// long that took.
func waitClosed(t *testing.T, ch <-chan struct{}, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ch:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
		return 0
	}
}

// waitLeader waits until the detector names the leader with data want.
func waitLeader(t *testing.T, d *Detector, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := d.Wait(ctx, func(data []byte) bool { return string(data) == want }); err != nil {
		data, node, ok := d.Leader()
		t.Fatalf("detector: leader %q not seen (%v); it reports %q at %q (ok=%v)", want, err, data, node, ok)
	}
}

// waitMembers waits until the detector lists exactly these contenders,
// in this order.
func waitMembers(t *testing.T, d *Detector, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []string
		for _, m := range d.Members() {
			got = append(got, string(m))
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("detector: members %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitNoLeader waits until the detector reports no leader.
func waitNoLeader(t *testing.T, d *Detector, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		if _, _, ok := d.Leader(); !ok {
			return
		}
		select {
		case <-d.Changes():
		case <-deadline:
			data, node, _ := d.Leader()
			t.Fatalf("detector still names %q at %q after %v", data, node, within)
		}
	}
}

// faultDialer cuts a client off from ZooKeeper: partition closes its
// connections and fails new dials until heal.
type faultDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (f *faultDialer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return nil, errors.New("test: partitioned from ZooKeeper")
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err == nil {
		f.conns = append(f.conns, c)
	}
	return c, err
}

func (f *faultDialer) partition() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = true
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *faultDialer) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = false
}

// childConfig is what a child contender process contends with.
type childConfig struct {
	Servers []string
	Path    string
	Data    string
}

// runChildContender is the child process's main: it contends, prints "node
// <path>", then "leading" and "lost" as they happen, and on stdin's end
// closes the contender and prints "closed".
func runChildContender(env string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(env), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := NewContender(cfg.Servers, cfg.Path, []byte(cfg.Data), sessionTimeout, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("node %s\n", c.Node())
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	leading, lost := c.Leading(), c.Lost()
	for {
		select {
		case <-leading:
			fmt.Println("leading")
			leading = nil
		case <-lost:
			fmt.Println("lost")
			lost = nil
		case <-eof:
			c.Close()
			fmt.Println("closed")
			return 0
		}
	}
}

// child is a child contender process.
type child struct {
	proc   *os.Process
	lines  chan string // its stdout, line by line; closed at EOF
	stdin  *os.File
	stderr *guardedBuffer
	done   chan struct{} // closed once it has been reaped
}

type guardedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (g *guardedBuffer) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.Write(p)
}

func (g *guardedBuffer) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.String()
}

// startChild re-executes the test binary as a child contender. Like
// zkserver's servers it gets Pdeathsig from a goroutine locked to its thread,
// so a crashed test leaves no child behind (not even a stopped one).
func startChild(t *testing.T, cfg childConfig) *child {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{lines: make(chan string, 16), stdin: inW, stderr: &guardedBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, ch.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		ch.proc = cmd.Process
		started <- nil
		cmd.Wait()
		close(ch.done)
	}()
	err = <-started
	inR.Close()
	outW.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(ch.lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		ch.proc.Signal(syscall.SIGCONT)
		ch.stdin.Close()
		select {
		case <-ch.done:
		case <-time.After(10 * time.Second):
			ch.proc.Kill()
			<-ch.done
		}
		outR.Close()
		t.Logf("child stderr:\n%s", ch.stderr.String())
	})
	return ch
}

// next returns the child's next line, failing the test after d.
func (c *child) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("child exited; stderr:\n%s", c.stderr.String())
		}
		return line
	case <-time.After(d):
		t.Fatalf("child said nothing for %v; stderr:\n%s", d, c.stderr.String())
		return ""
	}
}
