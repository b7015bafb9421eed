package registry

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// A storeMode is one Store implementation the shared runner tests.
type storeMode struct {
	name    string
	durable bool // survives reopen
	open    func(t testing.TB, dir string) Store
}

var storeModes = []storeMode{
	{"Memory", false, func(testing.TB, string) Store { return NewMemory() }},
	{"Pebble", true, func(t testing.TB, dir string) Store {
		p, err := OpenPebble(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}},
}

// harness is what a behavioural test gets: a fresh store of one mode.
type harness struct {
	t     *testing.T
	mode  storeMode
	dir   string
	store Store
}

// run runs f against every Store implementation, in parallel subtests (in
// the style of net/http's clientserver_test.go).
func run(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Helper()
	for _, mode := range storeModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{t: t, mode: mode, dir: t.TempDir()}
			h.store = mode.open(t, h.dir)
			t.Cleanup(func() { h.store.Close() })
			f(t, h)
		})
	}
}

// reopen closes and reopens a durable store; a Memory store stays as it is.
func (h *harness) reopen() {
	h.t.Helper()
	if !h.mode.durable {
		return
	}
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.store = h.mode.open(h.t, h.dir)
}

func (h *harness) apply(ops ...Op) {
	h.t.Helper()
	if err := h.store.Apply(ops...); err != nil {
		h.t.Fatal(err)
	}
}

// snapshotter is what Memory and Pebble have beyond Store.
type snapshotter interface {
	Store
	Snapshot() (State, error)
	Restore(State) error
}

// checkState fails unless got equals want exactly (reflect.DeepEqual:
// normalized times and byte slices) and passes Check.
func checkState(t testing.TB, got, want State) {
	t.Helper()
	if err := got.Check(); err != nil {
		t.Fatalf("state fails Check: %v\n%#v", err, got)
	}
	want = want.Clone()
	if !got.Equal(want) {
		t.Fatalf("state differs\n got: %v\nwant: %v", dump(got), dump(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("state Equal but not DeepEqual (not normalized)\n got: %#v\nwant: %#v", got, want)
	}
}

func dump(s State) string {
	out := "applied=" + strconv.FormatUint(s.Applied, 10)
	for id, info := range s.Admitted {
		out += " admitted:" + id + "=" + string(info)
	}
	for id, e := range s.Unreachable {
		out += " unreachable:" + id + "=" + string(e.Info) + "@" + e.Time.Format(time.RFC3339Nano)
	}
	for id, t := range s.Gone {
		out += " gone:" + id + "@" + t.Format(time.RFC3339Nano)
	}
	for k, v := range s.Values {
		out += " value:" + k + "=" + string(v)
	}
	return out
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func admit(id, info string) Op { return Op{Kind: AdmitAgent, AgentID: id, Info: []byte(info)} }
func unreachable(id string, t time.Time) Op {
	return Op{Kind: MarkUnreachable, AgentID: id, Time: t}
}
func reachable(id, info string) Op { return Op{Kind: MarkReachable, AgentID: id, Info: []byte(info)} }
func remove(id string, t time.Time) Op {
	return Op{Kind: RemoveAgent, AgentID: id, Time: t}
}
func setValue(k, v string) Op     { return Op{Kind: SetValue, Key: k, Info: []byte(v)} }
func deleteValue(k string) Op     { return Op{Kind: DeleteValue, Key: k} }
func prune(t time.Time, n int) Op { return Op{Kind: PruneAgents, Time: t, Count: n} }

// genOps turns bytes into ops over a handful of ids, keys and times so that
// they collide often: four bytes per op. Some ops are invalid on purpose
// (kinds 0 and 8, an empty id, a missing time). ends[i] says op i ends a
// batch.
func genOps(data []byte) (ops []Op, ends []bool) {
	for ; len(data) >= 4; data = data[4:] {
		b0, b1, b2, b3 := data[0], data[1], data[2], data[3]
		kind := OpKind(b0 % 9)
		id := "a" + strconv.Itoa(int(b1%6))
		if b1 == 255 {
			id = ""
		}
		key := "k" + strconv.Itoa(int(b1%4))
		t := at(int(b2))
		var info []byte
		if b3%2 == 0 {
			info = []byte{'i', b3}
		}
		var op Op
		switch kind {
		case AdmitAgent, MarkReachable:
			op = Op{Kind: kind, AgentID: id, Info: info}
		case MarkUnreachable, RemoveAgent:
			op = Op{Kind: kind, AgentID: id, Time: t}
			if b3 == 255 {
				op.Time = time.Time{}
			}
		case SetValue:
			op = Op{Kind: kind, Key: key, Info: info}
		case DeleteValue:
			op = Op{Kind: kind, Key: key}
		case PruneAgents:
			op = Op{Kind: kind, Count: int(b3 % 4)}
			if b3&4 != 0 {
				op.Time = t
			}
		default:
			op = Op{Kind: kind, AgentID: id}
		}
		ops = append(ops, op)
		ends = append(ends, b0 >= 128)
	}
	return ops, ends
}

// invariants checks what every State must satisfy, beyond Check.
func invariants(t testing.TB, s State) {
	t.Helper()
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for id := range s.Admitted {
		seen[id]++
	}
	for id := range s.Unreachable {
		seen[id]++
	}
	for id := range s.Gone {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("agent %q is in %d of Admitted/Unreachable/Gone", id, n)
		}
	}
}

func isOpError(err error, index int, kind OpKind) bool {
	var oe *OpError
	return errors.As(err, &oe) && oe.Index == index && oe.Kind == kind
}
