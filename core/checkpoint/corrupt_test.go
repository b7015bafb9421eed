package checkpoint

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// TestCorruption: a record damaged behind the store's back (written
// directly through Pebble) fails strict recovery with an error naming its
// key, and is skipped by non-strict recovery, which returns everything
// else, with one Skipped line per unreadable key. A damaged parent takes
// its children along; those are listed too.
func TestCorruption(t *testing.T) {
	const (
		agent  = "agent"
		f1     = "framework/f1"
		e1     = "framework/f1/executor/e1"
		t1     = "framework/f1/task/t1"
		t2     = "framework/f1/task/t2"
		t1u1   = "framework/f1/task/t1/update/0000000000000001"
		t1u2   = "framework/f1/task/t1/update/0000000000000002"
		t9u1   = "framework/f1/task/t9/update/0000000000000001"
		f2json = `{"info":{"user":"u","name":"n","id":{"value":"f2"}}}`
	)
	t1Updates := [2]string{"f1", "t1"}
	dropTask := func(st *State, id string) {
		st.Tasks = slices.DeleteFunc(st.Tasks, func(r TaskRecord) bool { return r.Info.TaskID.Value == id })
	}
	dropF1 := func(st *State) {
		delete(st.Frameworks, "f1")
		st.Executors, st.Tasks = nil, nil
		delete(st.Updates, t1Updates)
	}
	cases := []struct {
		name    string
		key     string // written with val
		val     string
		skipped []string        // the keys Skipped names, in order; the first is the strict error's
		want    func(st *State) // the non-strict state, from populated()
		reason  string          // in the error and the Skipped line
	}{
		{"garbage task", t2, "\x00\x01garbage", []string{t2},
			func(st *State) { dropTask(st, "t2") }, "unreadable value: bad JSON"},
		{"truncated task", t2, `{"framework_id":"f1","executor_id":"e1","info":{"na`, []string{t2},
			func(st *State) { dropTask(st, "t2") }, "unreadable value: bad JSON"},
		{"trailing data", t2, `{} {}`, []string{t2},
			func(st *State) { dropTask(st, "t2") }, "data after the value"},
		{"null task", t2, `null`, []string{t2},
			func(st *State) { dropTask(st, "t2") }, "empty task framework id"},
		{"agent", agent, `{"agent_id": 7}`, []string{agent},
			func(st *State) { st.Agent = nil }, "unreadable value"},
		{"unreserved checkpointed resources", "resources", `{"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}`,
			[]string{"resources"}, func(st *State) {}, "neither dynamically reserved nor a persistent volume"},
		{"first update", t1u1, `[]`, []string{t1u1},
			func(st *State) { st.Updates[t1Updates] = st.Updates[t1Updates][1:] }, "unreadable value"},
		{"executor takes its tasks and their updates along", e1, `{"framework_id":`,
			[]string{e1, t1, t1u1, t1u2, t2},
			func(st *State) { st.Executors, st.Tasks = nil, nil; delete(st.Updates, t1Updates) }, "unreadable value"},
		{"framework record of another framework", f1, f2json, []string{f1, e1, t1, t1u1, t1u2, t2},
			dropF1, `holds the record of key "framework/f2"`},
		{"unknown key", "bogus", `{}`, []string{"bogus"},
			func(*State) {}, "key does not parse: not part of the checkpoint layout"},
		{"bad sequence number", "framework/f1/task/t1/update/zz", `{}`, []string{"framework/f1/task/t1/update/zz"},
			func(*State) {}, "key does not parse: update sequence number"},
		{"update of unknown task", t9u1, string(encodeOrDie(t, update("f1", "t9", 1, mesos.TaskRunning))),
			[]string{t9u1}, func(*State) {}, `status update of unrecorded task "t9"`},
		{"update filed under another task", t1u2, string(encodeOrDie(t, update("f1", "t2", 2, mesos.TaskRunning))),
			[]string{t1u2}, func(st *State) { st.Updates[t1Updates] = st.Updates[t1Updates][:1] },
			`holds the record of key "framework/f1/task/t2/update/0000000000000002"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			populate(t, s)
			setRaw(t, s, c.key, []byte(c.val))
			s = reopen(t, s)

			_, err := s.Recover(true)
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Key != c.skipped[0] {
				t.Fatalf("strict: %v, want a CorruptError for %q", err, c.skipped[0])
			}
			if msg := err.Error(); !strings.Contains(msg, strconv.Quote(c.skipped[0])) ||
				(c.skipped[0] == c.key && !strings.Contains(msg, c.reason)) {
				t.Fatalf("strict: error %q does not name %q (with %q)", msg, c.skipped[0], c.reason)
			}
			if len(c.skipped) > 1 && !strings.Contains(err.Error(), "and "+strconv.Itoa(len(c.skipped)-1)+" more") {
				t.Fatalf("strict: error %q does not count the others", err)
			}

			t.Logf("strict: %v", err)

			st, err := s.Recover(false)
			must(t, err)
			t.Logf("skipped: %q", st.Skipped)
			if len(st.Skipped) != len(c.skipped) {
				t.Fatalf("non-strict: skipped\n%s\nwant the keys %q", strings.Join(st.Skipped, "\n"), c.skipped)
			}
			for i, k := range c.skipped {
				if !strings.Contains(st.Skipped[i], strconv.Quote(k)) {
					t.Fatalf("non-strict: Skipped[%d] = %q, want it to name %q", i, st.Skipped[i], k)
				}
			}
			if !strings.Contains(st.Skipped[0], c.reason) {
				t.Fatalf("non-strict: Skipped[0] = %q, want it to say %q", st.Skipped[0], c.reason)
			}
			want := populated()
			c.want(&want)
			want.Skipped = st.Skipped
			checkState(t, st, want)
		})
	}
}

// TestAckPassesOverUnreadable: after a non-strict recovery skipped the
// head of a stream, acknowledging the next update removes both, so the
// stream is not blocked forever.
func TestAckPassesOverUnreadable(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s) // t1: u1, u2
	setRaw(t, s, "framework/f1/task/t1/update/0000000000000001", []byte("garbage"))
	st, err := s.Recover(false)
	must(t, err)
	if got := st.Updates[[2]string{"f1", "t1"}]; len(got) != 1 || string(got[0].Status.UUID) != "u2" {
		t.Fatalf("non-strict recovery gave %+v", got)
	}
	must(t, s.AckUpdate("f1", "t1", uuid(2)))
	st = recoverStrict(t, s)
	if _, ok := st.Updates[[2]string{"f1", "t1"}]; ok {
		t.Fatalf("updates left: %+v", st.Updates)
	}
}

func encodeOrDie(t testing.TB, u agentapi.StatusUpdate) []byte {
	t.Helper()
	b, err := encode(u)
	must(t, err)
	return b
}
