package zklog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"meseta/core/registry"
)

func admit(id string) registry.Op {
	return registry.Op{Kind: registry.AdmitAgent, AgentID: id, Info: []byte(`{"hostname":"` + id + `"}`)}
}

func openPebble(t testing.TB, dir string) *registry.Pebble {
	t.Helper()
	p, err := registry.OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func sameState(a, b registry.State) bool { return a.Equal(b) && a.Applied == b.Applied }

// A leader's writes reach a follower's Pebble, in order, and a write
// fails, writing nothing, once the leader's fence znode is gone.
func TestFollowAndFence(t *testing.T) {
	root := newRoot(t)
	connA, connB := connect(t), connect(t)
	a := newLog(t, Config{Conn: connA, Root: root, Local: openPebble(t, t.TempDir())})
	b := newLog(t, Config{Conn: connB, Root: root, Local: openPebble(t, t.TempDir())})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	followed := make(chan struct{})
	go func() { defer close(followed); b.Follow(ctx) }()

	if err := a.Apply(admit("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply before Lead: %v", err)
	}
	fenceA := contend(t, connA, root)
	if err := a.Lead(fenceA); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := a.Apply(admit(fmt.Sprintf("a%02d", i)), registry.Op{Kind: registry.SetValue, Key: "k", Info: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// An invalid batch is refused by the local check, and nothing is logged.
	var opErr *registry.OpError
	if err := a.Apply(admit("new"), admit("a00")); !errors.As(err, &opErr) || opErr.Index != 1 {
		t.Fatalf("invalid batch: %v", err)
	}
	eventually(t, 10*time.Second, "the follower to catch up", func() bool { return sameState(a.State(), b.State()) })
	if st := b.State(); len(st.Admitted) != 50 || st.Applied != 1+100 {
		t.Fatalf("follower: %d admitted at position %d", len(st.Admitted), st.Applied)
	}

	// Leadership lost: the fence znode goes (as when A's session expires).
	if err := connA.Delete(fenceA, -1); err != nil {
		t.Fatal(err)
	}
	before, _, _ := connA.Children(root + "/log")
	err := a.Apply(admit("late"))
	if !errors.Is(err, ErrNotLeader) || !errors.Is(err, ErrBroken) {
		t.Fatalf("Apply after losing the fence: %v", err)
	}
	after, _, _ := connA.Children(root + "/log")
	if len(after) != len(before) {
		t.Fatalf("a fenced-out write was logged: %d entries, then %d", len(before), len(after))
	}
	if _, ok := a.State().Admitted["late"]; ok {
		t.Fatal("a fenced-out write reached the local copy")
	}
	if err := a.Apply(admit("later")); !errors.Is(err, ErrBroken) {
		t.Fatalf("a broken log must stay broken: %v", err)
	}

	// B takes over: it has everything A committed, and writes on.
	cancel()
	<-followed
	if err := b.Lead(contend(t, connB, root)); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(admit("b1")); err != nil {
		t.Fatal(err)
	}
	if st := b.State(); len(st.Admitted) != 51 || st.Applied != 102 {
		t.Fatalf("new leader: %d admitted at %d", len(st.Admitted), st.Applied)
	}
}

// A leader whose session ends cannot write: the ephemeral fence goes with
// the session.
func TestSessionEndFences(t *testing.T) {
	root := newRoot(t)
	conn := connect(t)
	l := newLog(t, Config{Conn: conn, Root: root, Local: registry.NewMemory()})
	if err := l.Lead(contend(t, conn, root)); err != nil {
		t.Fatal(err)
	}
	if err := l.Apply(admit("a")); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := l.Apply(admit("b")); !errors.Is(err, ErrBroken) {
		t.Fatalf("Apply after the session closed: %v", err)
	}
	other := connect(t)
	children, _, err := other.Children(root + "/log")
	if err != nil || len(children) != 1 {
		t.Fatalf("log after the session ended: %v %v", children, err)
	}
}

// The first leader on an empty root seeds it from its local registry; a
// follower whose local copy comes from another history gets the snapshot.
func TestSeedAndHistory(t *testing.T) {
	root := newRoot(t)
	seeded := openPebble(t, t.TempDir())
	if err := seeded.Apply(admit("old1"), admit("old2")); err != nil {
		t.Fatal(err)
	}
	stranger := openPebble(t, t.TempDir())
	if err := stranger.Apply(admit("s1"), admit("s2"), admit("s3"), admit("s4")); err != nil {
		t.Fatal(err)
	}
	connA, connB := connect(t), connect(t)
	a := newLog(t, Config{Conn: connA, Root: root, Local: seeded})
	if err := a.Lead(contend(t, connA, root)); err != nil {
		t.Fatal(err)
	}
	st := a.State()
	if len(st.Admitted) != 2 || st.Applied != 3 || len(st.Values[HistoryKey]) == 0 {
		t.Fatalf("seeded state: %+v", st)
	}
	if err := a.Apply(admit("new")); err != nil {
		t.Fatal(err)
	}
	// The stranger is ahead by position (4 > 3) but from another history.
	b := newLog(t, Config{Conn: connB, Root: root, Local: stranger})
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if !sameState(a.State(), b.State()) {
		t.Fatalf("after Sync:\n leader %+v\n follower %+v", a.State(), b.State())
	}
	if s := b.Stats(); s.Restores != 1 || s.Entries != 1 {
		t.Fatalf("follower stats %+v", s)
	}
}

// Compaction: snapshots replace the log; followers that were behind, and
// new ones, catch up from the snapshot and the tail, and a batch too big
// for one znode is split.
func TestCompaction(t *testing.T) {
	root := newRoot(t)
	conn := connect(t)
	a := newLog(t, Config{Conn: conn, Root: root, Local: openPebble(t, t.TempDir()), CompactBytes: 2 << 10, ChunkBytes: 1 << 10})
	if err := a.Lead(contend(t, conn, root)); err != nil {
		t.Fatal(err)
	}
	behindDir := t.TempDir()
	behind := newLog(t, Config{Conn: connect(t), Root: root, Local: openPebble(t, behindDir)})
	for i := range 400 {
		if err := a.Apply(admit(fmt.Sprintf("agent-%04d", i))); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			if err := behind.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One big batch: about 2 MB of ops, more than one entry holds.
	big := make([]registry.Op, 0, 2000)
	info := strings.Repeat("i", 1000)
	for i := range 2000 {
		big = append(big, registry.Op{Kind: registry.AdmitAgent, AgentID: fmt.Sprintf("big-%04d", i), Info: []byte(info)})
	}
	written := a.Stats().Written
	if err := a.Apply(big...); err != nil {
		t.Fatal(err)
	}
	if n := a.Stats().Written - written; n < 3 {
		t.Fatalf("a 2 MB batch went into %d entries", n)
	}
	a.compactWG.Wait()
	if err := a.Apply(admit("tail")); err != nil {
		t.Fatal(err)
	}
	a.compactWG.Wait()
	s := a.Stats()
	if s.Snapshots < 2 || s.Deleted == 0 {
		t.Fatalf("leader stats %+v: no compaction", s)
	}
	children, _, _ := conn.Children(root + "/log")
	if len(children) >= int(s.Written) {
		t.Fatalf("%d log entries left of %d written", len(children), s.Written)
	}
	gens := 0
	top, _, _ := conn.Children(root)
	for _, c := range top {
		if strings.HasPrefix(c, "snap-") {
			gens++
		}
	}
	if gens != 1 {
		t.Fatalf("%d snapshot generations kept, want 1: %v", gens, top)
	}
	if err := behind.Sync(); err != nil {
		t.Fatal(err)
	}
	if !sameState(a.State(), behind.State()) {
		t.Fatal("the follower that was behind differs after Sync")
	}
	fresh := newLog(t, Config{Conn: connect(t), Root: root, Local: registry.NewMemory()})
	if err := fresh.Sync(); err != nil {
		t.Fatal(err)
	}
	if !sameState(a.State(), fresh.State()) || fresh.Stats().Restores != 1 {
		t.Fatalf("a new follower differs after Sync (stats %+v)", fresh.Stats())
	}
	if n := len(fresh.State().Admitted); n != 400+2000+1 {
		t.Fatalf("%d admitted", n)
	}
}
