package main

import (
	"bufio"
	"encoding/json"
	"sync"
	"time"

	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// maxQueued bounds the bytes queued on one stream. A client that falls
// this far behind is cut off (and, for a framework, marked disconnected)
// rather than let the master's memory grow without bound.
const maxQueued = 256 << 20

// stream is one long-lived RecordIO event stream. The master queues
// events with send, which never blocks; the connection's stream writer
// goroutine (run) writes them out. Heartbeats are written by run when
// the stream has been idle for the heartbeat interval.
type stream struct {
	heartbeat []byte // a pre-framed HEARTBEAT event, or nil

	// mu guards queue, queued and closed.
	mu     sync.Mutex
	queue  [][]byte
	queued int
	closed bool
	wake   chan struct{} // capacity 1: something was queued or closed
}

func newStream(heartbeat any) *stream {
	s := &stream{wake: make(chan struct{}, 1)}
	if heartbeat != nil {
		b, _ := json.Marshal(heartbeat)
		s.heartbeat = recordio.Append(nil, b)
	}
	return s
}

// sendJSON queues v; it reports false when the stream is closed.
func (s *stream) sendJSON(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	rec := recordio.Append(make([]byte, 0, len(b)+12), b)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.queued+len(rec) > maxQueued {
		s.closed = true
		s.queue = nil
		s.mu.Unlock()
		s.signal()
		return false
	}
	s.queue = append(s.queue, rec)
	s.queued += len(rec)
	s.mu.Unlock()
	s.signal()
	return true
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close ends the stream once what is queued has been written.
func (s *stream) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

// queueLen is the number of events waiting, for metrics.
func (s *stream) queueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// run writes queued events to w until the stream is closed, the client
// goes away (a write fails), or done closes. It returns when the stream
// is over.
func (s *stream) run(w *bufio.Writer, interval time.Duration, done <-chan struct{}) {
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

// frameworkConn is a framework's stream, as core/master.Conn.
type frameworkConn struct{ *stream }

func (c frameworkConn) Send(ev *mesos.Event) bool { return c.sendJSON(ev) }

// agentConn is an agent's stream, as core/master.AgentConn.
type agentConn struct{ *stream }

func (c agentConn) Send(ev *agentapi.Event) bool { return c.sendJSON(ev) }
