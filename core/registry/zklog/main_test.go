package zklog

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"meseta/core/election"
	"meseta/core/election/zkserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.s != nil {
		if err := shared.s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// shared is one standalone ZooKeeper for the package, started by the
// first test that needs it; tests use distinct roots.
var shared struct {
	once sync.Once
	dir  string
	s    *zkserver.Server
	err  error
}

func server(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "zklog-zk-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shared.s, shared.err = zkserver.StartStandalone(ctx, shared.dir, zkserver.Options{})
	})
	if shared.err != nil {
		t.Fatalf("ZooKeeper is required: %v", shared.err)
	}
	return shared.s.Addr
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// connect opens a session; the test closes it at cleanup.
func connect(t testing.TB) *zk.Conn {
	t.Helper()
	conn, ev, err := zk.Connect([]string{server(t)}, 2*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no ZooKeeper session: %v", conn.State())
		}
	}
	go func() {
		for range ev {
		}
	}()
	t.Cleanup(conn.Close)
	return conn
}

// contend creates an election-like ephemeral znode under root/election
// with conn's session and returns its path: the fence of a leader.
func contend(t testing.TB, conn *zk.Conn, root string) string {
	t.Helper()
	if err := election.EnsurePath(conn, root+"/election"); err != nil {
		t.Fatal(err)
	}
	p, err := conn.Create(root+"/election/json.info_", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var rootSeq struct {
	mu sync.Mutex
	n  int
}

// newRoot returns a fresh root path for one test.
func newRoot(testing.TB) string {
	rootSeq.mu.Lock()
	defer rootSeq.mu.Unlock()
	rootSeq.n++
	return fmt.Sprintf("/zklog-test/%d-%d", os.Getpid(), rootSeq.n)
}

// eventually waits for cond, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
