package zkserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// childEnv makes the test binary a child that starts a server under the
// given directory, prints the server's pid and waits for stdin to close
// (TestPdeathsig).
const childEnv = "ZKSERVER_TEST_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(m.Run())
}

func runChild(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartStandalone(ctx, dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pid %d\n", s.Pid())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	s.Stop()
	return 0
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// startStandalone starts a server that the test stops at its end.
func startStandalone(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := StartStandalone(testContext(t, 30*time.Second), t.TempDir(), opts)
	if err != nil {
		t.Fatalf("StartStandalone: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// connect opens a client whose log goes nowhere and whose events are drained.
func connect(t *testing.T, addrs []string) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect(addrs, 2*time.Second, zk.WithLogger(discardLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range events {
		}
	}()
	t.Cleanup(c.Close)
	return c
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// eventually retries f until it succeeds or d has passed, and returns f's
// last error.
func eventually(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

// gone reports whether pid no longer runs the process whose command line
// contained marker (it exited, is a zombie, or the pid was reused).
func gone(pid int, marker string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(marker)) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

func requireGone(t *testing.T, pid int, marker string) {
	t.Helper()
	err := eventually(10*time.Second, func() error {
		if !gone(pid, marker) {
			return fmt.Errorf("pid %d (%s) still runs", pid, marker)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAvailable(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("ZooKeeper is needed by these tests: %v", err)
	}
	_, err := StartStandalone(t.Context(), t.TempDir(), Options{JavaPath: "/nonexistent/java"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y zookeeper") {
		t.Fatalf("StartStandalone without java: got %v, want an error naming apt-get", err)
	}
}

func TestStandalone(t *testing.T) {
	var logMu sync.Mutex
	var logBuf bytes.Buffer
	s := startStandalone(t, Options{Log: &lockedWriter{mu: &logMu, w: &logBuf}})
	ctx := testContext(t, 30*time.Second)

	if got, err := s.FourLetterWord(ctx, "ruok"); err != nil || got != "imok" {
		t.Fatalf("ruok = %q, %v; want imok", got, err)
	}
	if mode, err := s.Mode(ctx); err != nil || mode != "standalone" {
		t.Fatalf("Mode = %q, %v; want standalone", mode, err)
	}
	c := connect(t, []string{s.Addr})
	if _, err := c.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	pid, addr := s.Pid(), s.Addr
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	requireGone(t, pid, s.Dir)
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := s.Kill(); err != nil {
		t.Fatalf("Kill after Stop: %v", err)
	}

	// Restart keeps the port and the data.
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Addr != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr, addr)
	}
	c = connect(t, []string{s.Addr})
	if data, _, err := c.Get("/kept"); err != nil || string(data) != "v" {
		t.Fatalf("after restart Get /kept = %q, %v", data, err)
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	logMu.Lock()
	defer logMu.Unlock()
	for line := range strings.Lines(logBuf.String()) {
		if !strings.HasPrefix(line, "zk0| ") {
			t.Fatalf("Options.Log line without prefix: %q", line)
		}
	}
	if !strings.Contains(logBuf.String(), "QuorumPeerMain") && !strings.Contains(logBuf.String(), "ZooKeeperServer") {
		t.Fatalf("Options.Log did not get the server's output: %q", logBuf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestEnsemble(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	e, err := StartEnsemble(ctx, t.TempDir(), 3, Options{})
	if err != nil {
		t.Fatalf("StartEnsemble: %v", err)
	}
	t.Cleanup(func() { e.Stop() })
	if got := strings.Count(e.Connect(), ","); got != 2 {
		t.Fatalf("Connect() = %q, want three addresses", e.Connect())
	}

	leader := -1
	for i, s := range e.Servers {
		mode, err := s.Mode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch mode {
		case "leader":
			if leader >= 0 {
				t.Fatalf("servers %d and %d both lead", leader+1, i+1)
			}
			leader = i
		case "follower":
		default:
			t.Fatalf("server %d is in mode %s", i+1, mode)
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}

	c := connect(t, e.Addrs())
	if _, err := c.Create("/before", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	// Kill the leader: the other two elect one of themselves and the client
	// still works (it reconnects to a survivor within its session).
	if err := e.Servers[leader].Kill(); err != nil {
		t.Fatal(err)
	}
	err = eventually(20*time.Second, func() error {
		_, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll))
		return err
	})
	if err != nil {
		t.Fatalf("client after killing the leader: %v", err)
	}
	var leaders int
	for i, s := range e.Servers {
		if i == leader {
			continue
		}
		if mode, err := s.Mode(ctx); err == nil && mode == "leader" {
			leaders++
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders among the survivors", leaders)
	}

	// The killed server rejoins as a follower.
	if err := e.Servers[leader].Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if mode, err := e.Servers[leader].Mode(ctx); err != nil || mode != "follower" {
		t.Fatalf("restarted server: mode %q, %v", mode, err)
	}

	pids := make([]int, len(e.Servers))
	for i, s := range e.Servers {
		pids[i] = s.Pid()
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	for i, pid := range pids {
		requireGone(t, pid, e.Servers[i].Dir)
	}
}

func TestStartFailureCarriesLog(t *testing.T) {
	// The class path lacks ZooKeeper: java exits at once.
	_, err := StartStandalone(testContext(t, 30*time.Second), t.TempDir(),
		Options{ClassPath: "/usr/share/java/slf4j-simple.jar"})
	if err == nil {
		t.Fatal("started without ZooKeeper on the class path")
	}
	if !strings.Contains(err.Error(), "QuorumPeerMain") || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("error lacks the log tail: %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := newServer(t.TempDir(), 0, Options{}.withDefaults(), new(sync.Mutex))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.configure(ports{client: l.Addr().(*net.TCPAddr).Port}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	err = waitReady(testContext(t, 20*time.Second), []*Server{s}, isStandalone)
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("waitReady on a taken port: %v; want errPortInUse", err)
	}
}

// TestPdeathsig kills a process that started a server and checks that the
// server dies with it.
func TestPdeathsig(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	var pid int
	select {
	case line := <-lines:
		pid, err = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
		if err != nil || pid == 0 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q; stderr:\n%s", line, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child did not start a server in 30 s")
	}
	if gone(pid, dir) {
		t.Fatalf("server pid %d is not running", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	requireGone(t, pid, dir)
}
