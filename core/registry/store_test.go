package registry

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) { run(t, testLifecycle) }
func testLifecycle(t *testing.T, h *harness) {
	h.apply(admit("a1", "info1"), admit("a2", "info2"), admit("a3", ""))
	h.apply(unreachable("a1", at(10)))
	h.apply(remove("a2", at(20)))
	h.apply(setValue("weights", "w1"), setValue("quota", "q"), deleteValue("quota"), deleteValue("absent"))
	h.apply(admit("a4", "info4"), unreachable("a4", at(30)), reachable("a4", "info4b")) // one batch
	h.apply(unreachable("a3", at(40)), remove("a3", at(41)))                            // unreachable -> gone

	want := State{
		Admitted:    map[string][]byte{"a4": []byte("info4b")},
		Unreachable: map[string]AgentEntry{"a1": {ID: "a1", Info: []byte("info1"), Time: at(10)}},
		Gone:        map[string]time.Time{"a2": at(20), "a3": at(41)},
		Values:      map[string][]byte{"weights": []byte("w1")},
		Applied:     14,
	}
	checkState(t, h.store.State(), want)

	// MarkReachable without info keeps the info recorded at admission.
	h.apply(reachable("a1", ""))
	want.Admitted["a1"] = []byte("info1")
	delete(want.Unreachable, "a1")
	want.Applied++
	checkState(t, h.store.State(), want)

	h.reopen()
	checkState(t, h.store.State(), want)
	h.apply(setValue("weights", "w2"))
	want.Values["weights"] = []byte("w2")
	want.Applied++
	checkState(t, h.store.State(), want)
}

func TestValidation(t *testing.T) { run(t, testValidation) }
func testValidation(t *testing.T, h *harness) {
	// Setup: a1 admitted, a2 unreachable, a3 gone.
	h.apply(admit("a1", "x"), admit("a2", "y"), admit("a3", "z"),
		unreachable("a2", at(1)), remove("a3", at(2)), setValue("k", "v"))
	before := h.store.State()

	cases := []struct {
		name string
		op   Op
		want error
	}{
		{"admit gone", admit("a3", "z"), ErrGone},
		{"admit admitted", admit("a1", "x"), ErrExists},
		{"admit unreachable", admit("a2", "y"), ErrExists},
		{"unreachable unknown", unreachable("nobody", at(3)), ErrUnknownAgent},
		{"unreachable twice", unreachable("a2", at(3)), ErrUnknownAgent},
		{"unreachable gone", unreachable("a3", at(3)), ErrUnknownAgent},
		{"reachable admitted", reachable("a1", ""), ErrUnknownAgent},
		{"reachable unknown", reachable("nobody", ""), ErrUnknownAgent},
		{"reachable gone", reachable("a3", ""), ErrUnknownAgent},
		{"remove unknown", remove("nobody", at(3)), ErrUnknownAgent},
		{"remove gone", remove("a3", at(3)), ErrUnknownAgent},
		{"admit empty id", admit("", "x"), ErrBadOp},
		{"unreachable empty id", unreachable("", at(3)), ErrBadOp},
		{"reachable empty id", reachable("", ""), ErrBadOp},
		{"remove empty id", remove("", at(3)), ErrBadOp},
		{"set empty key", setValue("", "v"), ErrBadOp},
		{"delete empty key", deleteValue(""), ErrBadOp},
		{"kind zero", Op{AgentID: "a9"}, ErrBadOp},
		{"kind unknown", Op{Kind: 99, AgentID: "a9"}, ErrBadOp},
		{"unreachable without time", unreachable("a1", time.Time{}), ErrBadOp},
		{"remove without time", remove("a1", time.Time{}), ErrBadOp},
		{"admit with key", Op{Kind: AdmitAgent, AgentID: "a9", Key: "k"}, ErrBadOp},
		{"admit with time", Op{Kind: AdmitAgent, AgentID: "a9", Time: at(1)}, ErrBadOp},
		{"admit with count", Op{Kind: AdmitAgent, AgentID: "a9", Count: 1}, ErrBadOp},
		{"set with agent id", Op{Kind: SetValue, Key: "k", AgentID: "a1"}, ErrBadOp},
		{"delete with info", Op{Kind: DeleteValue, Key: "k", Info: []byte("v")}, ErrBadOp},
		{"prune with id", Op{Kind: PruneAgents, AgentID: "a1"}, ErrBadOp},
		{"unreachable with info", Op{Kind: MarkUnreachable, AgentID: "a1", Time: at(3), Info: []byte("i")}, ErrBadOp},
		{"id not UTF-8", admit("a\xff", ""), ErrBadOp},
		{"key not UTF-8", setValue("k\xfe", ""), ErrBadOp},
		{"time past 9999", remove("a1", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), ErrBadOp},
		{"time before year 1", unreachable("a1", time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)), ErrBadOp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.store.Apply(c.op)
			if !errors.Is(err, c.want) {
				t.Fatalf("Apply(%+v) = %v, want %v", c.op, err, c.want)
			}
			if !isOpError(err, 0, c.op.Kind) {
				t.Fatalf("error %v is not an *OpError for op 0 (%s)", err, c.op.Kind)
			}
			if !strings.HasPrefix(err.Error(), "registry: op 0 ("+c.op.Kind.String()+")") {
				t.Errorf("error message %q does not name the op", err)
			}
			checkState(t, h.store.State(), before)

			// State.Apply on its own says the same and changes nothing.
			s := before.Clone()
			if err := s.Apply(c.op); !errors.Is(err, c.want) {
				t.Fatalf("State.Apply = %v, want %v", err, c.want)
			}
			checkState(t, s, before)
		})
	}
	h.reopen()
	checkState(t, h.store.State(), before)
}

func TestAtomicity(t *testing.T) { run(t, testAtomicity) }
func testAtomicity(t *testing.T, h *harness) {
	h.apply(admit("a1", "x"), admit("a2", "y"), unreachable("a2", at(1)),
		admit("old", ""), remove("old", at(0)), setValue("k", "v"))
	before := h.store.State()

	batches := []struct {
		ops     []Op
		badAt   int
		badKind OpKind
	}{
		{ // bad last op, after ops that touched every kind of entry
			ops: []Op{
				admit("b1", "new"), unreachable("a1", at(5)), reachable("a2", "z"),
				setValue("k", "changed"), setValue("k2", "new"), deleteValue("k"),
				prune(at(3), 0), remove("b1", at(6)), // prune drops old (gone at 0), keeps a1 (unreachable at 5)
				admit("old", ""), // was gone, but pruned above, so this is fine...
				admit("a1", ""),  // ...and this fails: a1 is unreachable now
			},
			badAt: 9, badKind: AdmitAgent,
		},
		{ops: []Op{{Kind: 42}, admit("b2", "")}, badAt: 0, badKind: 42},
		{ops: []Op{admit("b3", ""), unreachable("b3", at(7)), unreachable("b3", at(8)), admit("b4", "")}, badAt: 2, badKind: MarkUnreachable},
	}
	for i, b := range batches {
		err := h.store.Apply(b.ops...)
		if err == nil || !isOpError(err, b.badAt, b.badKind) {
			t.Fatalf("batch %d: Apply = %v, want an *OpError for op %d (%s)", i, err, b.badAt, b.badKind)
		}
		checkState(t, h.store.State(), before)
	}
	h.reopen()
	checkState(t, h.store.State(), before)

	// The same ops without the bad one are applied, each seeing the ones
	// before it.
	h.apply(batches[0].ops[:9]...)
	s := before.Clone()
	for _, op := range batches[0].ops[:9] {
		if err := s.Apply(op); err != nil {
			t.Fatal(err)
		}
	}
	checkState(t, h.store.State(), s)
	h.reopen()
	checkState(t, h.store.State(), s)

	// An empty batch is a no-op.
	h.apply()
	checkState(t, h.store.State(), s)
}

func TestPrune(t *testing.T) { run(t, testPrune) }
func testPrune(t *testing.T, h *harness) {
	// u0..u5 unreachable at 0..5, g0..g5 gone at 0..5; u6 and u7 tie at 6.
	for i := range 8 {
		u, g := fmt.Sprint("u", i), fmt.Sprint("g", i)
		ti := min(i, 6)
		h.apply(admit(u, u), unreachable(u, at(ti)))
		h.apply(admit(g, g), remove(g, at(ti)))
	}
	h.apply(admit("live", ""))

	names := func() (us, gs []string) {
		s := h.store.State()
		for i := range 8 {
			if _, ok := s.Unreachable[fmt.Sprint("u", i)]; ok {
				us = append(us, fmt.Sprint("u", i))
			}
			if _, ok := s.Gone[fmt.Sprint("g", i)]; ok {
				gs = append(gs, fmt.Sprint("g", i))
			}
		}
		if _, ok := s.Admitted["live"]; !ok {
			t.Fatal("prune touched an admitted agent")
		}
		return
	}
	expect := func(wantU, wantG string) {
		t.Helper()
		us, gs := names()
		if got := strings.Join(us, ","); got != wantU {
			t.Errorf("unreachable = %s, want %s", got, wantU)
		}
		if got := strings.Join(gs, ","); got != wantG {
			t.Errorf("gone = %s, want %s", got, wantG)
		}
	}

	h.apply(prune(time.Time{}, 0)) // no limits: nothing goes
	expect("u0,u1,u2,u3,u4,u5,u6,u7", "g0,g1,g2,g3,g4,g5,g6,g7")
	h.apply(prune(at(2), 0)) // by age: older than 2 goes, 2 stays
	expect("u2,u3,u4,u5,u6,u7", "g2,g3,g4,g5,g6,g7")
	h.apply(prune(time.Time{}, 5)) // by count: newest 5 of each stay
	expect("u3,u4,u5,u6,u7", "g3,g4,g5,g6,g7")
	h.apply(prune(at(4), 2)) // both: age first, then count; the tie at 6 keeps the larger id last
	expect("u6,u7", "g6,g7")
	h.apply(prune(time.Time{}, 1))
	expect("u7", "g7")
	h.reopen()
	expect("u7", "g7")

	// A pruned gone agent may be admitted again (as in Mesos).
	h.apply(admit("g0", "back"))
	if got := string(h.store.State().Admitted["g0"]); got != "back" {
		t.Fatalf("readmitted g0 info = %q", got)
	}
}

func TestSnapshotRestore(t *testing.T) { run(t, testSnapshotRestore) }
func testSnapshotRestore(t *testing.T, h *harness) {
	st := h.store.(snapshotter)
	h.apply(admit("a1", "x"), admit("a2", "y"), unreachable("a2", at(1)), setValue("k", "v"))

	snap, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, snap, h.store.State())

	// Build another registry elsewhere and restore it over this one.
	other := NewMemory()
	if err := other.Apply(admit("b1", "p"), admit("b2", "q"), remove("b2", at(9)),
		admit("b3", "r"), unreachable("b3", at(8)), setValue("w", "1"), setValue("w", "2")); err != nil {
		t.Fatal(err)
	}
	want := other.State()
	if err := st.Restore(want); err != nil {
		t.Fatal(err)
	}
	checkState(t, h.store.State(), want)
	if snap, err = st.Snapshot(); err != nil {
		t.Fatal(err)
	}
	checkState(t, snap, want)
	h.reopen()
	st = h.store.(snapshotter)
	checkState(t, h.store.State(), want)

	// Applying after a restore continues from the restored position.
	h.apply(reachable("b3", ""))
	if err := want.Apply(reachable("b3", "")); err != nil {
		t.Fatal(err)
	}
	checkState(t, h.store.State(), want)

	// Restoring the empty state empties the store (Applied included).
	if err := st.Restore(State{}); err != nil {
		t.Fatal(err)
	}
	checkState(t, h.store.State(), State{})
	h.reopen()
	st = h.store.(snapshotter)
	checkState(t, h.store.State(), State{})

	// An invalid state is refused and changes nothing.
	h.apply(admit("c1", ""))
	before := h.store.State()
	bad := []State{
		{Admitted: map[string][]byte{"x": nil}, Gone: map[string]time.Time{"x": at(1)}},
		{Unreachable: map[string]AgentEntry{"x": {ID: "y", Time: at(1)}}},
		{Unreachable: map[string]AgentEntry{"x": {ID: "x"}}},
		{Values: map[string][]byte{"": []byte("v")}},
	}
	for i, s := range bad {
		if err := st.Restore(s); !errors.Is(err, ErrBadOp) {
			t.Errorf("Restore(bad[%d]) = %v, want ErrBadOp", i, err)
		}
	}
	checkState(t, h.store.State(), before)
}

func TestConcurrent(t *testing.T) { run(t, testConcurrent) }
func testConcurrent(t *testing.T, h *harness) {
	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := h.store.Apply(admit(id, id), setValue(id, "v")); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if err := h.store.Apply(unreachable(id, at(i))); err != nil {
						t.Error(err)
					}
				}
				s := h.store.State()
				invariants(t, s)
				if _, ok := s.Values[id]; !ok {
					t.Errorf("own write %s not visible", id)
				}
				if st, ok := h.store.(snapshotter); ok && i%10 == 0 {
					if _, err := st.Snapshot(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	s := h.store.State()
	if want := uint64(writers * (2*perWriter + perWriter/5)); s.Applied != want {
		t.Fatalf("Applied = %d, want %d", s.Applied, want)
	}
	if len(s.Admitted)+len(s.Unreachable) != writers*perWriter {
		t.Fatalf("%d agents, want %d", len(s.Admitted)+len(s.Unreachable), writers*perWriter)
	}
	h.reopen()
	checkState(t, h.store.State(), s)
}

func TestCopies(t *testing.T) { run(t, testCopies) }
func testCopies(t *testing.T, h *harness) {
	op := admit("a1", "info")
	h.apply(op, setValue("k", "v"))
	op.Info[0] = 'X' // the caller's slice is not kept
	s := h.store.State()
	s.Admitted["a1"][0] = 'Y' // nor handed out
	s.Values["k"][0] = 'Z'
	delete(s.Admitted, "a1")
	got := h.store.State()
	if string(got.Admitted["a1"]) != "info" || string(got.Values["k"]) != "v" {
		t.Fatalf("store changed through a copy: %v", dump(got))
	}
}

func TestClosed(t *testing.T) { run(t, testClosed) }
func testClosed(t *testing.T, h *harness) {
	h.apply(admit("a1", ""))
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := h.store.Apply(admit("a2", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after Close = %v, want ErrClosed", err)
	}
	st := h.store.(snapshotter)
	if err := st.Restore(State{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Restore after Close = %v, want ErrClosed", err)
	}
	if _, ok := h.store.State().Admitted["a1"]; !ok {
		t.Fatal("State after Close lost the last state")
	}
}

// TestReplay: the same op sequence gives the same State in every store and
// in a bare State, applied op by op or in batches.
func TestReplay(t *testing.T) { run(t, testReplay) }
func testReplay(t *testing.T, h *harness) {
	data := make([]byte, 4*600)
	seed := uint32(12345)
	for i := range data {
		seed = seed*1664525 + 1013904223
		data[i] = byte(seed >> 24)
	}
	ops, ends := genOps(data)
	var ref State // op by op; a batch with a failing op is skipped whole
	var batch []Op
	accepted := 0
	for i, op := range ops {
		batch = append(batch, op)
		if !ends[i] && i != len(ops)-1 {
			continue
		}
		trial := ref.Clone()
		ok := true
		for _, op := range batch {
			if trial.Apply(op) != nil {
				ok = false
				break
			}
		}
		err := h.store.Apply(batch...)
		if ok != (err == nil) {
			t.Fatalf("batch %v: store says %v, State says ok=%v", batch, err, ok)
		}
		if ok {
			ref = trial
			accepted++
		}
		batch = nil
	}
	if accepted < 20 || ref.Applied < 100 {
		t.Fatalf("generator too hostile: %d batches, %d ops accepted", accepted, ref.Applied)
	}
	checkState(t, h.store.State(), ref)
	h.reopen()
	checkState(t, h.store.State(), ref)
}
