package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Keys of the Pebble layout (see the package documentation).
const (
	keyFormat         = "meta/format"
	keyApplied        = "meta/applied"
	prefixAdmitted    = "agent/admitted/"
	prefixUnreachable = "agent/unreachable/"
	prefixGone        = "agent/gone/"
	prefixValue       = "value/"

	// pebbleFormat is the layout version this build writes and reads.
	pebbleFormat = "1"
)

// Pebble is the durable registry, kept in a Pebble database in one
// directory (Mesos's replicated_log registry, without the replication: the
// HA work replicates the ops and applies them to a Pebble on each master).
//
// It keeps the whole State in memory as well as on disk: reads (State, and
// the checks that Apply makes) never touch the disk, and Apply writes only
// the entries the ops changed, as one synced batch.
//
// A Pebble is safe for concurrent use. One mutex, mu, guards the in-memory
// state and every write to the database, so Applies and Restores are
// serialized and a State is never seen before it is durable. Snapshot holds
// mu only to take a Pebble snapshot and reads outside it.
type Pebble struct {
	dir string

	mu      sync.Mutex // guards everything below, and all writes to db
	db      *pebble.DB
	state   State // always what db holds
	closed  bool
	failed  error          // a write failed: db may not match state, so refuse further writes
	readers sync.WaitGroup // Snapshots reading db; Close waits for them
}

// OpenPebble opens the registry in dir, creating dir and an empty registry
// if needed, and loads its state. It refuses a directory whose layout
// version is not this build's, and a Pebble database that is not a
// registry. Pebble locks the directory: a second OpenPebble of the same
// directory fails until the first is closed.
func OpenPebble(dir string) (*Pebble, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("registry: open %s: %w", dir, err)
	}
	p := &Pebble{dir: dir, db: db}
	if err := p.init(); err != nil {
		db.Close()
		return nil, err
	}
	return p, nil
}

// init checks the format version (writing it into an empty database) and
// loads the state.
func (p *Pebble) init() error {
	ver, closer, err := p.db.Get([]byte(keyFormat))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := isEmpty(p.db)
		if err != nil {
			return fmt.Errorf("registry: open %s: %w", p.dir, err)
		}
		if !empty {
			return fmt.Errorf("registry: open %s: the database has no %q key: not a registry", p.dir, keyFormat)
		}
		b := p.db.NewBatch()
		defer b.Close()
		if err := errors.Join(
			b.Set([]byte(keyFormat), []byte(pebbleFormat), nil),
			b.Set([]byte(keyApplied), appliedValue(0), nil),
			b.Commit(pebble.Sync),
		); err != nil {
			return fmt.Errorf("registry: open %s: initialize: %w", p.dir, err)
		}
	case err != nil:
		return fmt.Errorf("registry: open %s: read format version: %w", p.dir, err)
	default:
		v := string(ver)
		closer.Close()
		if v != pebbleFormat {
			return fmt.Errorf("registry: open %s: unsupported registry format version %q (this build reads version %q)", p.dir, v, pebbleFormat)
		}
	}
	s, err := load(p.db)
	if err != nil {
		return fmt.Errorf("registry: open %s: %w", p.dir, err)
	}
	p.state = s
	return nil
}

type reader interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

func isEmpty(r reader) (bool, error) {
	it, err := r.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, errors.Join(it.Error(), it.Close())
}

// load reads a whole State. Any key outside the layout is an error.
func load(r reader) (State, error) {
	var s State
	s.init()
	it, err := r.NewIter(nil)
	if err != nil {
		return State{}, err
	}
	var sawApplied bool
	for valid := it.First(); valid; valid = it.Next() {
		k := string(it.Key())
		v, err := it.ValueAndErr()
		if err != nil {
			break // it.Error reports it
		}
		corrupt := func(what string) error {
			return fmt.Errorf("corrupt registry: key %q: %s", k, what)
		}
		switch {
		case k == keyFormat:
		case k == keyApplied:
			if len(v) != 8 {
				err = corrupt("bad length")
				break
			}
			s.Applied = binary.BigEndian.Uint64(v)
			sawApplied = true
		case hasPrefix(k, prefixAdmitted):
			s.Admitted[k[len(prefixAdmitted):]] = clone(v)
		case hasPrefix(k, prefixUnreachable):
			var t time.Time
			if t, err = decodeTime(v); err != nil {
				err = corrupt(err.Error())
				break
			}
			id := k[len(prefixUnreachable):]
			s.Unreachable[id] = AgentEntry{ID: id, Info: clone(v[timeLen:]), Time: t}
		case hasPrefix(k, prefixGone):
			if len(v) != timeLen {
				err = corrupt("bad length")
				break
			}
			var t time.Time
			if t, err = decodeTime(v); err != nil {
				err = corrupt(err.Error())
				break
			}
			s.Gone[k[len(prefixGone):]] = t
		case hasPrefix(k, prefixValue):
			s.Values[k[len(prefixValue):]] = clone(v)
		default:
			err = corrupt("not part of the registry layout")
		}
		if err != nil {
			it.Close()
			return State{}, err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return State{}, err
	}
	if !sawApplied {
		return State{}, fmt.Errorf("corrupt registry: no %q key", keyApplied)
	}
	if err := s.Check(); err != nil {
		return State{}, fmt.Errorf("corrupt registry: %w", err)
	}
	return s, nil
}

func hasPrefix(s, prefix string) bool {
	return len(s) > len(prefix) && s[:len(prefix)] == prefix
}

// Times are stored as 8 bytes of big-endian Unix seconds (two's complement)
// and 4 bytes of big-endian nanoseconds.
const timeLen = 12

func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

func decodeTime(b []byte) (time.Time, error) {
	if len(b) < timeLen {
		return time.Time{}, errors.New("value too short for a time")
	}
	sec := int64(binary.BigEndian.Uint64(b))
	nsec := binary.BigEndian.Uint32(b[8:])
	if nsec >= 1e9 || sec < minUnix || sec > maxUnix {
		return time.Time{}, errors.New("time out of range")
	}
	return time.Unix(sec, int64(nsec)).UTC(), nil
}

func appliedValue(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// writeSlot puts a slot's current content (or its absence) in the batch.
func writeSlot(b *pebble.Batch, s *State, sl slot) error {
	var (
		prefix string
		val    []byte
		ok     bool
	)
	switch sl.sp {
	case spAdmitted:
		prefix = prefixAdmitted
		val, ok = s.Admitted[sl.key]
	case spUnreachable:
		prefix = prefixUnreachable
		var e AgentEntry
		if e, ok = s.Unreachable[sl.key]; ok {
			val = append(appendTime(nil, e.Time), e.Info...)
		}
	case spGone:
		prefix = prefixGone
		var t time.Time
		if t, ok = s.Gone[sl.key]; ok {
			val = appendTime(nil, t)
		}
	case spValues:
		prefix = prefixValue
		val, ok = s.Values[sl.key]
	}
	key := []byte(prefix + sl.key)
	if !ok {
		return b.Delete(key, nil)
	}
	return b.Set(key, val, nil)
}

// Apply applies ops all or nothing, as one synced Pebble batch. If the
// write itself fails the store refuses all later writes (the disk may then
// hold less than memory did): reopen it.
func (p *Pebble) Apply(ops ...Op) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.writable(); err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	j, err := applyBatch(&p.state, ops)
	if err != nil {
		return err
	}
	b := p.db.NewBatch()
	defer b.Close()
	for _, sl := range j.slots() {
		if err = writeSlot(b, &p.state, sl); err != nil {
			break
		}
	}
	if err == nil {
		err = b.Set([]byte(keyApplied), appliedValue(p.state.Applied), nil)
	}
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	if err != nil {
		j.undo(&p.state)
		p.failed = fmt.Errorf("registry: write to %s: %w", p.dir, err)
		return p.failed
	}
	return nil
}

func (p *Pebble) writable() error {
	if p.closed {
		return ErrClosed
	}
	if p.failed != nil {
		return fmt.Errorf("registry: an earlier write failed, reopen the store: %w", p.failed)
	}
	return nil
}

// State returns a deep copy of the current state (from memory).
func (p *Pebble) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Clone()
}

// Snapshot reads the whole state back from the database, as of one
// instant (its Applied is the log position it includes). Unlike State it
// reads the disk, and it does not block Apply while it reads.
func (p *Pebble) Snapshot() (State, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return State{}, ErrClosed
	}
	snap := p.db.NewSnapshot()
	p.readers.Add(1)
	p.mu.Unlock()
	defer p.readers.Done()

	s, err := load(snap)
	if err := errors.Join(err, snap.Close()); err != nil {
		return State{}, fmt.Errorf("registry: snapshot of %s: %w", p.dir, err)
	}
	return s, nil
}

// Restore replaces the whole registry, Applied included, with s, in one
// synced batch. s must pass State.Check.
func (p *Pebble) Restore(s State) error {
	if err := s.Check(); err != nil {
		return err
	}
	c := s.Clone()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.writable(); err != nil {
		return err
	}
	b := p.db.NewBatch()
	defer b.Close()
	errs := []error{
		b.DeleteRange([]byte("agent/"), []byte("agent0"), nil), // '0' follows '/'
		b.DeleteRange([]byte(prefixValue), []byte("value0"), nil),
		b.Set([]byte(keyApplied), appliedValue(c.Applied), nil),
	}
	for id := range c.Admitted {
		errs = append(errs, writeSlot(b, &c, slot{spAdmitted, id}))
	}
	for id := range c.Unreachable {
		errs = append(errs, writeSlot(b, &c, slot{spUnreachable, id}))
	}
	for id := range c.Gone {
		errs = append(errs, writeSlot(b, &c, slot{spGone, id}))
	}
	for k := range c.Values {
		errs = append(errs, writeSlot(b, &c, slot{spValues, k}))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("registry: restore %s: %w", p.dir, err) // nothing written
	}
	if err := b.Commit(pebble.Sync); err != nil {
		p.failed = fmt.Errorf("registry: restore %s: %w", p.dir, err)
		return p.failed
	}
	p.state = c
	return nil
}

// Close waits for running Snapshots and closes the database. State still
// returns the last state; everything else returns ErrClosed. Closing twice
// is harmless.
func (p *Pebble) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.readers.Wait()
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("registry: close %s: %w", p.dir, err)
	}
	return nil
}

// Dir returns the directory the store lives in.
func (p *Pebble) Dir() string { return p.dir }

// quietLogger drops Pebble's informational lines (WAL recovery and the
// like) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) {
	log.Printf("registry: pebble: "+format, args...)
}

func (quietLogger) Fatalf(format string, args ...any) {
	log.Fatalf("registry: pebble: "+format, args...)
}

// Check reports whether ops would apply, without applying them or touching
// the disk: the error Apply would return for them (other than a write
// failure), or nil.
func (p *Pebble) Check(ops ...Op) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.writable(); err != nil {
		return err
	}
	j, err := applyBatch(&p.state, ops)
	if err == nil {
		j.undo(&p.state)
	}
	return err
}

// Applied returns State().Applied without copying the state.
func (p *Pebble) Applied() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Applied
}
