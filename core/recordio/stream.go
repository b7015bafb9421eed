package recordio

import (
	"bufio"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// MaxQueued bounds the bytes queued on one Stream. A client that falls
// this far behind is cut off rather than let the server's memory grow
// without bound.
const MaxQueued = 256 << 20

// Stream is one long-lived RecordIO event stream of JSON events, as a
// server writes it. Producers queue events with SendJSON, which never
// blocks; the connection's writer goroutine (Run) writes them out, with
// a heartbeat event every interval when one is set.
type Stream struct {
	heartbeat []byte // a pre-framed HEARTBEAT event, or nil

	// mu guards queue, queued, sent and closed.
	mu     sync.Mutex
	queue  [][]byte
	queued int
	sent   uint64 // events queued so far
	closed bool
	wake   chan struct{} // capacity 1: something was queued or closed

	written atomic.Uint64 // events written and flushed so far, by Run
}

// NewStream returns a Stream; heartbeat, when not nil, is the event Run
// writes every interval.
func NewStream(heartbeat any) *Stream {
	s := &Stream{wake: make(chan struct{}, 1)}
	if heartbeat != nil {
		b, _ := json.Marshal(heartbeat)
		s.heartbeat = Append(nil, b)
	}
	return s
}

// SendJSON queues v encoded by encoding/json; it reports false when the
// stream is closed.
func (s *Stream) SendJSON(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.Send(b)
}

// Send queues the JSON document b (which it copies); it reports false
// when the stream is closed.
func (s *Stream) Send(b []byte) bool {
	rec := Append(make([]byte, 0, len(b)+12), b)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.queued+len(rec) > MaxQueued {
		s.closed = true
		s.queue = nil
		s.mu.Unlock()
		s.signal()
		return false
	}
	s.queue = append(s.queue, rec)
	s.queued += len(rec)
	s.sent++
	s.mu.Unlock()
	s.signal()
	return true
}

func (s *Stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close ends the stream once what is queued has been written.
func (s *Stream) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

// Sent is how many events Send has queued; the n-th one queued is
// written once Written reaches n.
func (s *Stream) Sent() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Written is how many queued events have been written to the connection
// and flushed (heartbeats not counted). An event written may still sit
// in the kernel's buffers; one not written is certainly not with the
// client.
func (s *Stream) Written() uint64 { return s.written.Load() }

// QueueLen is the number of events waiting, for metrics.
func (s *Stream) QueueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Run writes queued events to w until the stream is closed, the client
// goes away (a write fails), or done closes. It returns when the stream
// is over, and the stream is closed then.
func (s *Stream) Run(w *bufio.Writer, interval time.Duration, done <-chan struct{}) {
	var tick <-chan time.Time
	if s.heartbeat != nil && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	defer s.Close()
	for {
		s.mu.Lock()
		batch, closed := s.queue, s.closed
		s.queue, s.queued = nil, 0
		s.mu.Unlock()
		for _, rec := range batch {
			if _, err := w.Write(rec); err != nil {
				return
			}
		}
		if len(batch) > 0 {
			if err := w.Flush(); err != nil {
				return
			}
			s.written.Add(uint64(len(batch)))
		}
		if closed {
			return
		}
		select {
		case <-s.wake:
		case <-tick:
			if _, err := w.Write(s.heartbeat); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
		case <-done:
			return
		}
	}
}
