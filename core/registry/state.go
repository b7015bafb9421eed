package registry

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// AgentEntry is an agent that is known but not admitted: its info and when
// it was marked unreachable.
type AgentEntry struct {
	ID   string
	Info []byte
	Time time.Time
}

// State is the registry's content: what replaying the op log gives.
//
// Each agent id is in at most one of Admitted, Unreachable and Gone. Times
// are UTC without a monotonic reading and empty byte slices are nil, so
// states built by the same ops are reflect.DeepEqual as well as Equal
// (except that a State that never had an op applied may have nil maps).
type State struct {
	Admitted    map[string][]byte     // agent id -> info
	Unreachable map[string]AgentEntry // id -> info + when it was marked unreachable (still known; it may come back)
	Gone        map[string]time.Time  // removed agents: refused forever; the time they were removed
	Values      map[string][]byte
	Applied     uint64 // how many ops have been applied since creation (the log position)
}

// Apply applies one op. It does no I/O and depends only on s and op, so the
// same op sequence gives the same State everywhere. An invalid op returns an
// error wrapping ErrBadOp, ErrGone, ErrExists or ErrUnknownAgent and leaves
// s unchanged; a valid one changes s and increments Applied.
func (s *State) Apply(op Op) error { return s.apply(op, nil) }

func (s *State) apply(op Op, j *journal) error {
	if err := op.check(); err != nil {
		return err
	}
	id := op.AgentID
	_, admitted := s.Admitted[id]
	unreach, unreachable := s.Unreachable[id]
	_, gone := s.Gone[id]
	switch op.Kind {
	case AdmitAgent:
		switch {
		case gone:
			return fmt.Errorf("%w: AdmitAgent %q: it was removed", ErrGone, id)
		case admitted:
			return fmt.Errorf("%w: AdmitAgent %q: already admitted", ErrExists, id)
		case unreachable:
			return fmt.Errorf("%w: AdmitAgent %q: it is unreachable (readmit it with MarkReachable)", ErrExists, id)
		}
	case MarkUnreachable:
		if !admitted {
			return fmt.Errorf("%w: MarkUnreachable %q: not admitted%s", ErrUnknownAgent, id, s.where(id))
		}
	case MarkReachable:
		if !unreachable {
			return fmt.Errorf("%w: MarkReachable %q: not unreachable%s", ErrUnknownAgent, id, s.where(id))
		}
	case RemoveAgent:
		if !admitted && !unreachable {
			return fmt.Errorf("%w: RemoveAgent %q: neither admitted nor unreachable%s", ErrUnknownAgent, id, s.where(id))
		}
	}

	// Valid: from here on nothing fails.
	s.init()
	t := op.Time.UTC()
	switch op.Kind {
	case AdmitAgent:
		j.save(s, spAdmitted, id)
		s.Admitted[id] = clone(op.Info)
	case MarkUnreachable:
		j.save(s, spAdmitted, id)
		j.save(s, spUnreachable, id)
		s.Unreachable[id] = AgentEntry{ID: id, Info: s.Admitted[id], Time: t}
		delete(s.Admitted, id)
	case MarkReachable:
		info := unreach.Info
		if len(op.Info) != 0 {
			info = clone(op.Info)
		}
		j.save(s, spUnreachable, id)
		j.save(s, spAdmitted, id)
		delete(s.Unreachable, id)
		s.Admitted[id] = info
	case RemoveAgent:
		j.save(s, spAdmitted, id)
		j.save(s, spUnreachable, id)
		j.save(s, spGone, id)
		delete(s.Admitted, id)
		delete(s.Unreachable, id)
		s.Gone[id] = t
	case SetValue:
		j.save(s, spValues, op.Key)
		s.Values[op.Key] = clone(op.Info)
	case DeleteValue:
		// Deleting an absent key is not an error (it still counts as applied).
		j.save(s, spValues, op.Key)
		delete(s.Values, op.Key)
	case PruneAgents:
		for _, id := range pruneVictims(s.Unreachable, func(e AgentEntry) time.Time { return e.Time }, t, op.Count) {
			j.save(s, spUnreachable, id)
			delete(s.Unreachable, id)
		}
		for _, id := range pruneVictims(s.Gone, func(t time.Time) time.Time { return t }, t, op.Count) {
			j.save(s, spGone, id)
			delete(s.Gone, id)
		}
	}
	s.Applied++
	return nil
}

// where says, for an error message, what state an agent id is in.
func (s *State) where(id string) string {
	switch {
	case hasKey(s.Admitted, id):
		return " (it is admitted)"
	case hasKey(s.Unreachable, id):
		return " (it is unreachable)"
	case hasKey(s.Gone, id):
		return " (it is gone)"
	}
	return ""
}

func hasKey[V any](m map[string]V, k string) bool { _, ok := m[k]; return ok }

// pruneVictims lists the entries PruneAgents drops: those older than cutoff
// (when cutoff is not zero), then the oldest of the rest until at most count
// remain (when count > 0). Ties in time are broken by id (smaller id is
// older), so the result does not depend on map order.
func pruneVictims[V any](m map[string]V, when func(V) time.Time, cutoff time.Time, count int) []string {
	type entry struct {
		id string
		t  time.Time
	}
	var victims []string
	var kept []entry
	for id, v := range m {
		t := when(v)
		if !cutoff.IsZero() && t.Before(cutoff) {
			victims = append(victims, id)
		} else {
			kept = append(kept, entry{id, t})
		}
	}
	if count > 0 && len(kept) > count {
		slices.SortFunc(kept, func(a, b entry) int {
			if c := a.t.Compare(b.t); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		for _, e := range kept[:len(kept)-count] {
			victims = append(victims, e.id)
		}
	}
	slices.Sort(victims)
	return victims
}

func (s *State) init() {
	if s.Admitted == nil {
		s.Admitted = map[string][]byte{}
	}
	if s.Unreachable == nil {
		s.Unreachable = map[string]AgentEntry{}
	}
	if s.Gone == nil {
		s.Gone = map[string]time.Time{}
	}
	if s.Values == nil {
		s.Values = map[string][]byte{}
	}
}

// clone copies b; an empty slice becomes nil.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// Clone returns a deep copy of s with non-nil maps.
func (s State) Clone() State {
	c := State{
		Admitted:    make(map[string][]byte, len(s.Admitted)),
		Unreachable: make(map[string]AgentEntry, len(s.Unreachable)),
		Gone:        make(map[string]time.Time, len(s.Gone)),
		Values:      make(map[string][]byte, len(s.Values)),
		Applied:     s.Applied,
	}
	for k, v := range s.Admitted {
		c.Admitted[k] = clone(v)
	}
	for k, v := range s.Unreachable {
		v.Info = clone(v.Info)
		v.Time = v.Time.UTC()
		c.Unreachable[k] = v
	}
	for k, v := range s.Gone {
		c.Gone[k] = v.UTC()
	}
	for k, v := range s.Values {
		c.Values[k] = clone(v)
	}
	return c
}

// Equal reports whether s and o hold the same registry: nil and empty maps
// and byte slices are equal, times are compared with time.Time.Equal.
func (s State) Equal(o State) bool {
	return s.Applied == o.Applied &&
		mapsEqual(s.Admitted, o.Admitted, bytes.Equal) &&
		mapsEqual(s.Unreachable, o.Unreachable, func(a, b AgentEntry) bool {
			return a.ID == b.ID && bytes.Equal(a.Info, b.Info) && a.Time.Equal(b.Time)
		}) &&
		mapsEqual(s.Gone, o.Gone, time.Time.Equal) &&
		mapsEqual(s.Values, o.Values, bytes.Equal)
}

func mapsEqual[V any](a, b map[string]V, eq func(V, V) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !eq(va, vb) {
			return false
		}
	}
	return true
}

// Check verifies the invariants that Apply maintains: every id and key is
// non-empty UTF-8, each agent id is in at most one of Admitted, Unreachable
// and Gone, each Unreachable entry's ID is its key, and unreachable and gone
// times are set and within years 1..9999. Restore refuses a State that fails
// it; the error wraps ErrBadOp.
func (s State) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: invalid state: %s", ErrBadOp, fmt.Sprintf(format, args...))
	}
	okID := func(id string) bool { return id != "" && utf8.ValidString(id) }
	for id := range s.Admitted {
		if !okID(id) {
			return bad("admitted agent id %q", id)
		}
		if hasKey(s.Unreachable, id) || hasKey(s.Gone, id) {
			return bad("agent %q is admitted and also unreachable or gone", id)
		}
	}
	for id, e := range s.Unreachable {
		if !okID(id) {
			return bad("unreachable agent id %q", id)
		}
		if e.ID != id {
			return bad("unreachable entry %q has ID %q", id, e.ID)
		}
		if e.Time.IsZero() || !validTime(e.Time) {
			return bad("unreachable agent %q has time %v", id, e.Time)
		}
		if hasKey(s.Gone, id) {
			return bad("agent %q is unreachable and also gone", id)
		}
	}
	for id, t := range s.Gone {
		if !okID(id) {
			return bad("gone agent id %q", id)
		}
		if t.IsZero() || !validTime(t) {
			return bad("gone agent %q has time %v", id, t)
		}
	}
	for k := range s.Values {
		if !okID(k) {
			return bad("value key %q", k)
		}
	}
	return nil
}

// A journal records the prior content of every slot (one map entry) that a
// batch of ops touches, so that a failing batch can be rolled back and a
// durable store can write exactly the touched slots.
type journal struct {
	recs    []undoRec
	applied uint64 // State.Applied before the first op
}

type space uint8

const (
	spAdmitted space = iota
	spUnreachable
	spGone
	spValues
)

type slot struct {
	sp  space
	key string
}

type undoRec struct {
	slot
	had   bool
	info  []byte // admitted, unreachable, values
	t     time.Time
	entry AgentEntry
}

// save records the slot's current content before it is changed. A nil
// journal records nothing (State.Apply on its own).
func (j *journal) save(s *State, sp space, key string) {
	if j == nil {
		return
	}
	r := undoRec{slot: slot{sp, key}}
	switch sp {
	case spAdmitted:
		r.info, r.had = s.Admitted[key]
	case spUnreachable:
		r.entry, r.had = s.Unreachable[key]
	case spGone:
		r.t, r.had = s.Gone[key]
	case spValues:
		r.info, r.had = s.Values[key]
	}
	j.recs = append(j.recs, r)
}

// undo restores s to what it was before the journaled ops.
func (j *journal) undo(s *State) {
	for i := len(j.recs) - 1; i >= 0; i-- {
		r := j.recs[i]
		switch r.sp {
		case spAdmitted:
			setOrDelete(s.Admitted, r.key, r.info, r.had)
		case spUnreachable:
			setOrDelete(s.Unreachable, r.key, r.entry, r.had)
		case spGone:
			setOrDelete(s.Gone, r.key, r.t, r.had)
		case spValues:
			setOrDelete(s.Values, r.key, r.info, r.had)
		}
	}
	s.Applied = j.applied
	*j = journal{}
}

func setOrDelete[V any](m map[string]V, k string, v V, had bool) {
	if had {
		m[k] = v
	} else {
		delete(m, k)
	}
}

// slots lists the touched slots once each, in a deterministic order.
func (j *journal) slots() []slot {
	out := make([]slot, 0, len(j.recs))
	for _, r := range j.recs {
		out = append(out, r.slot)
	}
	slices.SortFunc(out, func(a, b slot) int {
		return cmp.Or(cmp.Compare(a.sp, b.sp), strings.Compare(a.key, b.key))
	})
	return slices.Compact(out)
}

// applyBatch applies ops to s in order, all or nothing. On failure s is as
// before and the error is an *OpError naming the op.
func applyBatch(s *State, ops []Op) (*journal, error) {
	j := &journal{applied: s.Applied}
	for i, op := range ops {
		if err := s.apply(op, j); err != nil {
			j.undo(s)
			return nil, &OpError{Index: i, Kind: op.Kind, Err: err}
		}
	}
	return j, nil
}

// OpError is the error Store.Apply returns when one op of a batch is
// invalid; nothing of the batch was applied.
type OpError struct {
	Index int    // position of the failing op in the batch, from 0
	Kind  OpKind // its kind
	Err   error  // what State.Apply said (wraps one of the sentinel errors)
}

func (e *OpError) Error() string {
	return fmt.Sprintf("registry: op %d (%s) rejected, batch not applied: %s",
		e.Index, e.Kind, strings.TrimPrefix(e.Err.Error(), "registry: "))
}

func (e *OpError) Unwrap() error { return e.Err }
