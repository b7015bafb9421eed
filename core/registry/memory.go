package registry

import "sync"

// Store is a registry: a State changed only by Ops.
type Store interface {
	// Apply applies ops atomically, in order, and makes them durable
	// (synced) before returning. If any op is invalid, none is applied and
	// the error (an *OpError) says which op (index and kind) failed.
	Apply(ops ...Op) error
	// State returns a deep copy of the current state.
	State() State
	// Close releases the store. Apply fails with ErrClosed afterwards.
	Close() error
}

var (
	_ Store = (*Memory)(nil)
	_ Store = (*Pebble)(nil)
)

// Memory is the in_memory registry (Mesos's --registry=in_memory): nothing
// survives the process. It is safe for concurrent use.
type Memory struct {
	mu     sync.Mutex // guards state and closed
	state  State
	closed bool
}

// NewMemory returns an empty in-memory registry.
func NewMemory() *Memory {
	m := &Memory{}
	m.state.init()
	return m
}

// Apply applies ops all or nothing.
func (m *Memory) Apply(ops ...Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	_, err := applyBatch(&m.state, ops)
	return err
}

// State returns a deep copy of the current state.
func (m *Memory) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Clone()
}

// Snapshot is State with Pebble's signature.
func (m *Memory) Snapshot() (State, error) { return m.State(), nil }

// Restore replaces the whole content (Applied included) with a copy of s,
// after checking s with State.Check.
func (m *Memory) Restore(s State) error {
	if err := s.Check(); err != nil {
		return err
	}
	c := s.Clone()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.state = c
	return nil
}

// Close marks the store closed. State still returns the last state.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// Check reports whether ops would apply, without applying them: the error
// Apply would return, or nil.
func (m *Memory) Check(ops ...Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	j, err := applyBatch(&m.state, ops)
	if err == nil {
		j.undo(&m.state)
	}
	return err
}

// Applied returns State().Applied without copying the state.
func (m *Memory) Applied() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Applied
}
