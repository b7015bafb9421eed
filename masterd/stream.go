package main

import (
	"sync"

	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// encBufs are scratch buffers for encoding events; Stream.Send copies.
var encBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// send encodes an event with enc into a scratch buffer and queues it.
func send(s *recordio.Stream, enc func([]byte) []byte) bool {
	bp := encBufs.Get().(*[]byte)
	b := enc((*bp)[:0])
	ok := len(b) > 0 && s.Send(b)
	if cap(b) <= 1<<20 { // keep no outsized buffer
		*bp = b[:0]
		encBufs.Put(bp)
	}
	return ok
}

// frameworkConn is a framework's stream, as core/master.Conn.
type frameworkConn struct{ *recordio.Stream }

func (c frameworkConn) Send(ev *mesos.Event) bool {
	return send(c.Stream, func(b []byte) []byte { return mesos.AppendEvent(b, ev) })
}

// agentConn is an agent's stream, as core/master.AgentConn.
type agentConn struct{ *recordio.Stream }

func (c agentConn) Send(ev *agentapi.Event) bool {
	return send(c.Stream, func(b []byte) []byte { return agentapi.AppendEvent(b, ev) })
}
