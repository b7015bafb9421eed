package simagent

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/agentapi"
)

// maxBatch is the most calls one POST /agent/v1/call carries, as agentd.
const maxBatch = 1000

// senders is how many batches may be in flight at once. Parallel batches
// cannot reorder a task's updates: only the oldest unacknowledged update
// of a task is ever sent.
const senders = 4

// outbox batches the calls of every agent of the fleet. A batch that
// fails is dropped, not retried: PONGs are worthless once late, and a
// status update stays in its agent's status update manager until it is
// acknowledged, so the retry loop or the next re-registration sends it
// again.
type outbox struct {
	f      *Fleet
	client *fasthttp.Client
	wake   chan struct{} // capacity 1: calls were added

	// mu guards calls.
	mu    sync.Mutex
	calls []queued
}

// queued is a call of agent a, made while a's stream epoch was epoch: a
// call of a stream since replaced (a PONG to an old master, an update of
// a killed agent) is dropped when the batch is built.
type queued struct {
	a     *agent
	epoch uint64
	call  agentapi.Call
}

func newOutbox(f *Fleet) *outbox {
	return &outbox{f: f, wake: make(chan struct{}, 1),
		client: &fasthttp.Client{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxConnsPerHost: 2 * senders}}
}

func (o *outbox) add(q ...queued) {
	if len(q) == 0 {
		return
	}
	o.mu.Lock()
	o.calls = append(o.calls, q...)
	o.mu.Unlock()
	notify(o.wake)
}

// take removes up to maxBatch live calls from the queue.
func (o *outbox) take() []agentapi.Call {
	o.mu.Lock()
	defer o.mu.Unlock()
	var batch []agentapi.Call
	i := 0
	for ; i < len(o.calls) && len(batch) < maxBatch; i++ {
		q := &o.calls[i]
		if q.a.live(q.epoch) {
			batch = append(batch, q.call)
		}
	}
	o.calls = o.calls[i:]
	if len(o.calls) == 0 {
		o.calls = nil
	}
	if len(o.calls) > 0 {
		notify(o.wake) // another sender takes the rest
	}
	return batch
}

func (o *outbox) run(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-o.wake:
		}
		for {
			batch := o.take()
			if len(batch) == 0 {
				break
			}
			updates := 0
			for i := range batch {
				if batch[i].Type == agentapi.CallStatusUpdate {
					updates++
				}
			}
			if err := agentapi.PostCalls(o.client, o.f.Master(), batch, 10*time.Second); err != nil {
				o.f.stats.postErrors.Add(1)
				o.f.log.Debug("posting calls to the master failed; updates will be resent", "calls", len(batch), "err", err)
				continue
			}
			o.f.stats.batches.Add(1)
			o.f.stats.updatesSent.Add(int64(updates))
		}
	}
}
