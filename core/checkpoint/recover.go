package checkpoint

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	"meseta/core/agentapi"
)

// State is everything Recover read back.
type State struct {
	// Agent is nil when no agent record exists (a new agent, or after Reset).
	Agent *AgentRecord
	// Resources is the checkpointed resources, empty when none were
	// recorded (or when a non-strict Recover skipped the record).
	Resources  ResourcesRecord
	Frameworks map[string]FrameworkRecord // by framework id
	// Executors and Tasks are in key order: by framework, then by id
	// (escaped ids compare as their escaped bytes).
	Executors []ExecutorRecord
	Tasks     []TaskRecord
	// Updates holds, per (framework id, task id), the unacknowledged
	// updates, oldest first.
	Updates map[[2]string][]agentapi.StatusUpdate
	// Skipped has one line per key a non-strict Recover could not read,
	// in key order: the quoted key, a colon, and why (`"framework/f1":
	// unreadable value: ...`).
	Skipped []string
}

// Recover reads the whole checkpoint back.
//
// A record is unreadable when its key does not parse, its value is not
// the JSON of its kind, its ids disagree with its key, or it hangs from a
// record that is missing or unreadable: an executor of an unrecorded
// framework, a task of an unrecorded executor, an update of an unrecorded
// task. With strict, the first unreadable record in key order (which is
// the root cause: parents sort before their children) fails Recover with
// a *CorruptError naming its key. Without, every unreadable record is
// left out and listed in State.Skipped, and the rest is recovered.
//
// Strict or not, a database of another format version fails with
// ErrFormat, and a failure of Pebble itself (such as a block checksum
// mismatch), which no record-level skipping can get past, fails too.
//
// Recover only reads: skipped records stay in the database until a
// Remove or Reset deletes them (and AckUpdate passes over unreadable
// updates at the head of a stream).
func (s *Store) Recover(strict bool) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return State{}, err
	}
	st, bad, err := s.loadLocked()
	if err != nil {
		return State{}, fmt.Errorf("checkpoint: recover %s: %w", s.dir, err)
	}
	if len(bad) > 0 && strict {
		err := error(bad[0])
		if len(bad) > 1 {
			err = fmt.Errorf("%w (and %d more unreadable records)", err, len(bad)-1)
		}
		return State{}, fmt.Errorf("checkpoint: strict recovery of %s: %w", s.dir, err)
	}
	for _, b := range bad {
		st.Skipped = append(st.Skipped, fmt.Sprintf("%q: %s", b.Key, b.Reason))
	}
	return st, nil
}

// loadLocked reads every record. It returns what is readable and, in key
// order, what is not.
func (s *Store) loadLocked() (State, []*CorruptError, error) {
	st := State{
		Frameworks: map[string]FrameworkRecord{},
		Updates:    map[[2]string][]agentapi.StatusUpdate{},
	}
	var bad []*CorruptError
	skip := func(k []byte, format string, args ...any) {
		bad = append(bad, &CorruptError{Key: string(k), Reason: fmt.Sprintf(format, args...)})
	}

	// First pass: parse and decode every record on its own.
	type entry[T any] struct {
		key []byte
		rec T
	}
	var (
		executors []entry[ExecutorRecord]
		tasks     []entry[TaskRecord]
		updates   []entry[agentapi.StatusUpdate]
	)
	it, err := s.db.NewIter(nil)
	if err != nil {
		return State{}, nil, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		raw := append([]byte(nil), it.Key()...)
		v, err := it.ValueAndErr()
		if err != nil {
			break // it.Error reports it
		}
		k, err := parseKey(string(raw))
		if err != nil {
			skip(raw, "key does not parse: %v", err)
			continue
		}
		var (
			rec  any // the decoded record
			want key // the key it belongs under
		)
		switch k.kind {
		case kindFormat:
			continue // checked by Open
		case kindAgent:
			r, e := decodeAgent(v)
			rec, want, err = r, k, e
		case kindResources:
			r, e := decodeResources(v)
			rec, want, err = r, k, e
		case kindFramework:
			r, e := decodeFramework(v)
			rec, want, err = r, r.key(), e
		case kindExecutor:
			r, e := decodeExecutor(v)
			rec, want, err = r, r.key(), e
		case kindTask:
			r, e := decodeTask(v)
			rec, want, err = r, r.key(), e
		case kindUpdate:
			r, e := decodeUpdate(v)
			rec, want, err = r, updateKey(r.FrameworkID.Value, r.Status.TaskID.Value, k.seq), e
		}
		if err != nil {
			skip(raw, "unreadable value: %v", err)
			continue
		}
		if want.String() != string(raw) {
			skip(raw, "holds the record of key %q", want)
			continue
		}
		switch r := rec.(type) {
		case AgentRecord:
			st.Agent = &r
		case ResourcesRecord:
			st.Resources = r
		case FrameworkRecord:
			st.Frameworks[k.framework] = r
		case ExecutorRecord:
			executors = append(executors, entry[ExecutorRecord]{raw, r})
		case TaskRecord:
			tasks = append(tasks, entry[TaskRecord]{raw, r})
		case agentapi.StatusUpdate:
			updates = append(updates, entry[agentapi.StatusUpdate]{raw, r})
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return State{}, nil, err
	}

	// Second pass: parents before children, so that a skipped parent
	// takes its children with it.
	liveExecutors := map[key]bool{}
	for _, e := range executors {
		if _, ok := st.Frameworks[e.rec.FrameworkID]; !ok {
			skip(e.key, "executor of unrecorded framework %q", e.rec.FrameworkID)
			continue
		}
		st.Executors = append(st.Executors, e.rec)
		liveExecutors[e.rec.key()] = true
	}
	liveTasks := map[key]bool{}
	for _, t := range tasks {
		if !liveExecutors[executorKey(t.rec.FrameworkID, t.rec.ExecutorID)] {
			skip(t.key, "task of unrecorded executor %q of framework %q", t.rec.ExecutorID, t.rec.FrameworkID)
			continue
		}
		st.Tasks = append(st.Tasks, t.rec)
		liveTasks[t.rec.key()] = true
	}
	for _, u := range updates {
		fw, task := u.rec.FrameworkID.Value, u.rec.Status.TaskID.Value
		if !liveTasks[taskKey(fw, task)] {
			skip(u.key, "status update of unrecorded task %q of framework %q", task, fw)
			continue
		}
		k := [2]string{fw, task}
		st.Updates[k] = append(st.Updates[k], u.rec)
	}
	sort.SliceStable(bad, func(i, j int) bool { return bad[i].Key < bad[j].Key })
	return st, bad, nil
}

// Keys lists every key in the database, in order, for tools (such as a
// dump of an agent's work_dir) and tests. The layout is in the package
// documentation.
func (s *Store) Keys() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %s: %w", s.dir, err)
	}
	var keys []string
	for valid := it.First(); valid; valid = it.Next() {
		keys = append(keys, string(it.Key()))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("checkpoint: list %s: %w", s.dir, err)
	}
	return keys, nil
}
