package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"meseta/core/agentapi"
)

// Sentinel errors. Errors returned by this package wrap them (test with
// errors.Is) and add the ids or the key concerned.
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("checkpoint: store is closed")
	// ErrFormat: the directory holds a checkpoint of another format
	// version (or a Pebble database that is not a checkpoint). Recover and
	// every write but Reset refuse it.
	ErrFormat = errors.New("checkpoint: unsupported format")
	// ErrBadRecord: a record to write is malformed (a missing id, ids that
	// disagree, an unknown task state, an update without a uuid).
	ErrBadRecord = errors.New("checkpoint: bad record")
	// ErrUnknownFramework, ErrUnknownExecutor, ErrUnknownTask: a record to
	// write belongs to a framework, executor or task that is not recorded.
	ErrUnknownFramework = errors.New("checkpoint: unknown framework")
	ErrUnknownExecutor  = errors.New("checkpoint: unknown executor")
	ErrUnknownTask      = errors.New("checkpoint: unknown task")
	// ErrNotHead: AckUpdate's uuid is not that of the task's oldest
	// pending update (or the task has none). Nothing was changed.
	ErrNotHead = errors.New("checkpoint: not the oldest pending update")
	// ErrCorrupt: Recover found a record it cannot read. The error is a
	// *CorruptError naming the key.
	ErrCorrupt = errors.New("checkpoint: unreadable record")
)

// CorruptError is an unreadable record found by Recover: its key and why.
type CorruptError struct {
	Key    string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("record %q: %s", e.Key, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Store is the agent's checkpoint: a Pebble database in one directory.
//
// The database is the only copy: the store keeps no state in memory, so
// what Recover returns is what is on disk, and every write checks what it
// needs (a parent record, the head of an update stream) by reading the
// database.
//
// A Store is safe for concurrent use. One mutex, mu, serializes every
// method: each write's check-then-write (the parent exists; the next
// sequence number; the head's uuid), the Pebble commit and, for synced
// writes, the wait for the fsync. Holding mu across the fsync means that
// concurrent synced writes do not share an fsync (no group commit); see
// the package documentation for why that is acceptable.
type Store struct {
	dir string

	mu     sync.Mutex // guards everything below, and every read and write of db
	db     *pebble.DB
	closed bool
	// version is the database's format version, formatV1 or
	// formatVersion, when formatErr is nil.
	version   string
	formatErr error // non-nil: the database is of no version this build reads; only Reset may write
}

// Open opens the checkpoint in dir, creating dir and an empty checkpoint
// (with the format-version key) if needed. A version-1 checkpoint opens as
// it is (see SetResources). Open succeeds on a database of another format
// version, so that Keys can list it and Reset can wipe it, but Recover and
// the other writes then fail with ErrFormat. Pebble locks the directory:
// a second Open of it fails until the first is closed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, db: db}
	if err := s.initFormat(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// initFormat writes the format key into an empty database, or sets
// formatErr if the database is not of this build's version.
func (s *Store) initFormat() error {
	v, closer, err := s.db.Get([]byte(keyFormat))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := s.emptyLocked()
		if err != nil {
			return fmt.Errorf("checkpoint: open %s: %w", s.dir, err)
		}
		if !empty {
			s.formatErr = fmt.Errorf("%w: %s has no %q key: not a checkpoint (this build reads format version %q)",
				ErrFormat, s.dir, keyFormat, formatVersion)
			return nil
		}
		if err := s.db.Set([]byte(keyFormat), []byte(formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("checkpoint: open %s: initialize: %w", s.dir, err)
		}
		s.version = formatVersion
	case err != nil:
		return fmt.Errorf("checkpoint: open %s: read format version: %w", s.dir, err)
	default:
		ver := string(v)
		closer.Close()
		if ver != formatVersion && ver != formatV1 {
			s.formatErr = fmt.Errorf("%w: %s holds checkpoint format version %q; this build reads versions %q and %q",
				ErrFormat, s.dir, ver, formatV1, formatVersion)
		}
		s.version = ver
	}
	return nil
}

func (s *Store) emptyLocked() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, errors.Join(it.Error(), it.Close())
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// Close closes the database. Every method but Dir fails with ErrClosed
// afterwards; closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("checkpoint: close %s: %w", s.dir, err)
	}
	return nil
}

// writableLocked says whether the store may be written (by anything but
// Reset) or recovered.
func (s *Store) writableLocked() error {
	if s.closed {
		return ErrClosed
	}
	return s.formatErr
}

// SetAgent records the agent's identity, synced.
func (s *Store) SetAgent(r AgentRecord) error {
	if err := r.check(); err != nil {
		return err
	}
	return s.set(pebble.Sync, key{kind: kindAgent}, r)
}

// SetResources records (or replaces) the agent's checkpointed resources,
// synced: agentd deletes a destroyed volume's data only once the set
// without it is durable. The first one written into a version-1
// checkpoint also raises its format version to 2, in the same write,
// since a version-1 build could not read the record.
func (s *Store) SetResources(r ResourcesRecord) error {
	if err := r.check(); err != nil {
		return err
	}
	val, err := encode(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	k := key{kind: kindResources}
	errs := []error{b.Set(k.bytes(), val, nil)}
	if s.version != formatVersion {
		errs = append(errs, b.Set([]byte(keyFormat), []byte(formatVersion), nil))
	}
	errs = append(errs, b.Commit(pebble.Sync))
	if err := errors.Join(errs...); err != nil {
		return s.writeErr(k, err)
	}
	s.version = formatVersion
	return nil
}

// PutFramework records (or replaces) a framework. Not synced: it becomes
// durable with the next synced write (PutExecutor), or may be lost in a
// crash before that.
func (s *Store) PutFramework(r FrameworkRecord) error {
	if err := r.check(); err != nil {
		return err
	}
	return s.set(pebble.NoSync, r.key(), r)
}

// PutExecutor records (or replaces) an executor of a recorded framework,
// synced: a lost pid would orphan the process.
func (s *Store) PutExecutor(r ExecutorRecord) error {
	if err := r.check(); err != nil {
		return err
	}
	return s.set(pebble.Sync, r.key(), r, parent{frameworkKey(r.FrameworkID), ErrUnknownFramework})
}

// PutTask records (or replaces) a task of a recorded executor. Not synced:
// it becomes durable with the next synced write, normally the task's
// first status update.
func (s *Store) PutTask(r TaskRecord) error {
	if err := r.check(); err != nil {
		return err
	}
	return s.set(pebble.NoSync, r.key(), r, parent{executorKey(r.FrameworkID, r.ExecutorID), ErrUnknownExecutor})
}

// parent is a key that must exist for a record to be written, and the
// error if it does not.
type parent struct {
	key key
	err error
}

// set writes one record after checking that its parents exist.
func (s *Store) set(sync *pebble.WriteOptions, k key, v any, parents ...parent) error {
	val, err := encode(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	for _, p := range parents {
		if err := s.mustExistLocked(p.key, p.err); err != nil {
			return err
		}
	}
	if err := s.db.Set(k.bytes(), val, sync); err != nil {
		return s.writeErr(k, err)
	}
	return nil
}

func (s *Store) mustExistLocked(k key, notFound error) error {
	_, closer, err := s.db.Get(k.bytes())
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("%w: no record %q", notFound, k)
	case err != nil:
		return fmt.Errorf("checkpoint: read %q in %s: %w", k, s.dir, err)
	}
	return closer.Close()
}

func (s *Store) writeErr(k key, err error) error {
	return fmt.Errorf("checkpoint: write %q in %s: %w", k, s.dir, err)
}

// RemoveFramework forgets a framework and everything under it: its
// executors, tasks and update streams. Removing an unknown framework is
// not an error. Not synced.
func (s *Store) RemoveFramework(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	prefix := frameworkPrefix(id)
	k := frameworkKey(id)
	if err := errors.Join(
		b.Delete(k.bytes(), nil),
		b.DeleteRange([]byte(prefix), prefixEnd(prefix), nil),
		b.Commit(pebble.NoSync),
	); err != nil {
		return s.writeErr(k, err)
	}
	return nil
}

// RemoveExecutor forgets an executor and its tasks with their update
// streams (a task of an unknown executor would make strict recovery
// fail). Removing an unknown executor is not an error. Not synced.
func (s *Store) RemoveExecutor(frameworkID, executorID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	tasks, err := s.tasksOfLocked(frameworkID, executorID)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	k := executorKey(frameworkID, executorID)
	errs := []error{b.Delete(k.bytes(), nil)}
	for _, t := range tasks {
		errs = append(errs, deleteTask(b, frameworkID, t))
	}
	errs = append(errs, b.Commit(pebble.NoSync))
	if err := errors.Join(errs...); err != nil {
		return s.writeErr(k, err)
	}
	return nil
}

// tasksOfLocked lists the ids of an executor's tasks. It decodes only the
// executor id of each task record; unreadable ones are not its.
func (s *Store) tasksOfLocked(frameworkID, executorID string) ([]string, error) {
	prefix := frameworkPrefix(frameworkID) + "task/"
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	var tasks []string
	for valid := it.First(); valid; valid = it.Next() {
		k, err := parseKey(string(it.Key()))
		if err != nil || k.kind != kindTask {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			break // it.Error reports it
		}
		var r struct {
			ExecutorID string `json:"executor_id"`
		}
		if json.Unmarshal(v, &r) == nil && r.ExecutorID == executorID {
			tasks = append(tasks, k.task)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("checkpoint: read tasks of %q in %s: %w", frameworkID, s.dir, err)
	}
	return tasks, nil
}

// RemoveTask forgets a task and its update stream. Removing an unknown
// task is not an error. Not synced.
func (s *Store) RemoveTask(frameworkID, taskID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := errors.Join(deleteTask(b, frameworkID, taskID), b.Commit(pebble.NoSync)); err != nil {
		return s.writeErr(taskKey(frameworkID, taskID), err)
	}
	return nil
}

func deleteTask(b *pebble.Batch, frameworkID, taskID string) error {
	prefix := updatePrefix(frameworkID, taskID)
	return errors.Join(
		b.Delete(taskKey(frameworkID, taskID).bytes(), nil),
		b.DeleteRange([]byte(prefix), prefixEnd(prefix), nil),
	)
}

// pending is one entry of an update stream as stored.
type pending struct {
	key    []byte
	seq    uint64
	update agentapi.StatusUpdate
	err    error // the entry is unreadable
}

// streamLocked reads a task's update stream, oldest first.
func (s *Store) streamLocked(frameworkID, taskID string) ([]pending, error) {
	prefix := updatePrefix(frameworkID, taskID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	var out []pending
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			break
		}
		p := pending{key: bytes.Clone(it.Key())}
		k, err := parseKey(string(p.key))
		if err != nil || k.kind != kindUpdate {
			p.err = fmt.Errorf("key does not parse: %v", err)
		} else {
			p.seq = k.seq
			p.update, p.err = decodeUpdate(v)
		}
		out = append(out, p)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("checkpoint: read updates of task %q of framework %q in %s: %w", taskID, frameworkID, s.dir, err)
	}
	return out, nil
}

// AppendUpdate adds a status update at the end of its task's stream of
// unacknowledged updates, synced: an update the agent accepted from an
// executor must survive a crash. The task must be recorded. An update
// whose uuid is already pending for the task is a duplicate and is
// dropped (as agent.Updates.Add drops it) without error.
func (s *Store) AppendUpdate(u agentapi.StatusUpdate) error {
	if err := checkUpdate(&u); err != nil {
		return err
	}
	val, err := encode(u)
	if err != nil {
		return err
	}
	fw, task := u.FrameworkID.Value, u.Status.TaskID.Value
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	if err := s.mustExistLocked(taskKey(fw, task), ErrUnknownTask); err != nil {
		return err
	}
	stream, err := s.streamLocked(fw, task)
	if err != nil {
		return err
	}
	var last uint64
	for _, p := range stream {
		if p.err == nil && bytes.Equal(p.update.Status.UUID, u.Status.UUID) {
			return nil
		}
		last = max(last, p.seq)
	}
	k := updateKey(fw, task, last+1)
	if err := s.db.Set(k.bytes(), val, pebble.Sync); err != nil {
		return s.writeErr(k, err)
	}
	return nil
}

// AckUpdate removes the oldest pending update of a task, which must have
// the given uuid, synced. Otherwise (another uuid, or no pending update)
// it fails with ErrNotHead and changes nothing.
//
// Unreadable entries at the head of the stream (which a non-strict
// Recover reported in State.Skipped, so agentd does not know them) are
// passed over and removed with the acknowledged update; otherwise one
// corrupt entry would block its stream forever.
func (s *Store) AckUpdate(frameworkID, taskID string, uuid []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	stream, err := s.streamLocked(frameworkID, taskID)
	if err != nil {
		return err
	}
	head := 0
	for head < len(stream) && stream[head].err != nil {
		head++
	}
	if head == len(stream) {
		return fmt.Errorf("%w: task %q of framework %q has no pending update", ErrNotHead, taskID, frameworkID)
	}
	if got := stream[head].update.Status.UUID; !bytes.Equal(got, uuid) {
		return fmt.Errorf("%w: task %q of framework %q: uuid %x, the oldest pending update has uuid %x",
			ErrNotHead, taskID, frameworkID, uuid, got)
	}
	b := s.db.NewBatch()
	defer b.Close()
	var errs []error
	for _, p := range stream[:head+1] {
		errs = append(errs, b.Delete(p.key, nil))
	}
	errs = append(errs, b.Commit(pebble.Sync))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checkpoint: write %q in %s: %w", stream[head].key, s.dir, err)
	}
	return nil
}

// Reset forgets everything but the format version and the checkpointed
// resources (the agent was removed by the master, or the host rebooted),
// synced. The resources stay because they describe the host, not the
// agent id: a new agent on the same work_dir still holds the volumes'
// data and reports them when it registers, as a Mesos agent does after a
// reboot. An unreadable resources record goes like the rest, so that
// what Reset leaves, a strict Recover reads. Reset also turns a database
// of another format version into an empty checkpoint of this one,
// resources and all.
func (s *Store) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	version, resources := formatVersion, []byte(nil)
	if s.formatErr == nil {
		version = s.version
		v, closer, err := s.db.Get([]byte(keyResources))
		switch {
		case err == nil:
			if _, err := decodeResources(v); err == nil {
				resources = bytes.Clone(v)
			}
			closer.Close()
		case !errors.Is(err, pebble.ErrNotFound):
			return fmt.Errorf("checkpoint: reset %s: %w", s.dir, err)
		}
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("checkpoint: reset %s: %w", s.dir, err)
	}
	var start, end []byte
	if it.First() {
		start = bytes.Clone(it.Key())
	}
	if it.Last() {
		end = append(bytes.Clone(it.Key()), 0) // just past the last key
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("checkpoint: reset %s: %w", s.dir, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	format := []byte(keyFormat)
	var errs []error
	if len(start) == 0 && end != nil {
		// An empty key (no layout key is empty) is deleted on its own:
		// Pebble's invariant checks trip on a range deletion starting at
		// the empty key.
		errs = append(errs, b.Delete(start, nil))
		start = []byte{0}
	}
	// Two ranges around the format key: [start, format) and (format, end).
	for _, r := range [][2][]byte{{start, format}, {append(bytes.Clone(format), 0), end}} {
		if end != nil && bytes.Compare(r[0], r[1]) < 0 {
			errs = append(errs, b.DeleteRange(r[0], r[1], nil))
		}
	}
	// A batch applies in order: the sets after the range deletions stand.
	errs = append(errs, b.Set(format, []byte(version), nil))
	if resources != nil {
		errs = append(errs, b.Set([]byte(keyResources), resources, nil))
	}
	errs = append(errs, b.Commit(pebble.Sync))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checkpoint: reset %s: %w", s.dir, err)
	}
	s.version, s.formatErr = version, nil
	return nil
}

// quietLogger drops Pebble's informational lines (WAL recovery and the
// like) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) {
	log.Printf("checkpoint: pebble: "+format, args...)
}

func (quietLogger) Fatalf(format string, args ...any) {
	log.Fatalf("checkpoint: pebble: "+format, args...)
}
