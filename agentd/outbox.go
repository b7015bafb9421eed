package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/agentapi"
)

// outbox batches calls to the master. Calls wait in order; one goroutine
// (run) posts them in batches of up to maxBatch and retries on failure.
//
// The outbox sends to one master, its target, which masterLoop sets:
//
//   - sendTo(at, leader) when the agent, subscribing to leader, has
//     registered with the master at at: leader itself, or the master a
//     standby redirected the subscription to. PONGs still queued answer
//     PINGs of another master and are dropped; every other call goes to
//     at. A fixed --master is the target from the start (newOutbox).
//   - leaderIs(l) whenever masterLoop reads the leader. A leader other than
//     the one the target was set for (a failover, or no leader) holds the
//     calls: the target becomes none until the agent has re-registered,
//     because a master drops calls from an agent it does not know, and a
//     call accepted by a deposed master may never reach a framework.
//
// With a fixed --master that answers itself the target never changes, so
// nothing is held or dropped, as before ZooKeeper. A batch in flight when
// the target changes is not lost: a failure, or a refusal by a master that
// is no longer the target, leaves it queued for the new target, and a
// target change cuts a retry backoff short. A post to a master that does
// not answer takes at most the client's 10 s timeout, so a dead master
// delays the queue by that much and no more.
type outbox struct {
	log    *slog.Logger
	client *fasthttp.Client

	wake  chan struct{} // capacity 1: calls were added, or the target changed
	moved chan struct{} // capacity 1: the target changed

	// mu guards the fields below.
	mu sync.Mutex
	// calls wait in order of seq, which only grows: a batch that went out
	// is removed by seq, so calls dropped or cleared meanwhile do not shift
	// it.
	calls   []queuedCall
	nextSeq uint64
	// target is the host:port calls go to; "" holds them. leader is the
	// leader's host:port, as masterLoop read it, when target was set.
	target, leader string
}

type queuedCall struct {
	seq  uint64
	call agentapi.Call
}

const maxBatch = 1000

// newOutbox returns an outbox whose target is master: the fixed --master,
// or "" to hold calls until sendTo.
func newOutbox(master string, log *slog.Logger) *outbox {
	return &outbox{log: log, target: master, leader: master, wake: make(chan struct{}, 1), moved: make(chan struct{}, 1),
		client: &fasthttp.Client{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxConnsPerHost: 4}}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (o *outbox) add(c agentapi.Call) {
	o.mu.Lock()
	o.calls = append(o.calls, queuedCall{seq: o.nextSeq, call: c})
	o.nextSeq++
	o.mu.Unlock()
	notify(o.wake)
}

func (o *outbox) clear() {
	o.mu.Lock()
	o.calls = nil
	o.mu.Unlock()
}

// sendTo makes at the target: the agent has registered with it while
// following leader.
func (o *outbox) sendTo(at, leader string) {
	o.mu.Lock()
	o.leader = leader
	if o.target == at {
		o.mu.Unlock()
		return
	}
	o.target = at
	kept := make([]queuedCall, 0, len(o.calls))
	for _, c := range o.calls {
		if c.call.Type != agentapi.CallPong {
			kept = append(kept, c)
		}
	}
	dropped := len(o.calls) - len(kept)
	o.calls = kept
	o.mu.Unlock()
	o.log.Debug("calls to the master go to a new one", "master", at, "queued", len(kept), "stale_pongs_dropped", dropped)
	notify(o.moved)
	notify(o.wake)
}

// leaderIs holds the calls unless leader ("" for none) is the one the
// target was set for.
func (o *outbox) leaderIs(leader string) {
	o.mu.Lock()
	if o.target == "" || o.leader == leader {
		o.mu.Unlock()
		return
	}
	o.target = ""
	o.mu.Unlock()
	notify(o.moved)
}

func (o *outbox) run(ctx context.Context) {
	const minBackoff = 50 * time.Millisecond
	backoff := minBackoff
	for {
		// A change before the target is read below is in target already.
		select {
		case <-o.moved:
		default:
		}
		o.mu.Lock()
		target := o.target
		var batch []agentapi.Call
		var last uint64
		if target != "" {
			n := min(len(o.calls), maxBatch)
			batch = make([]agentapi.Call, n)
			for i, c := range o.calls[:n] {
				batch[i] = c.call
				last = c.seq
			}
		}
		o.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
			}
			continue
		}
		err := agentapi.PostCalls(o.client, target, batch, 10*time.Second)
		o.mu.Lock()
		moved := o.target != target
		sent := err == nil || errors.Is(err, agentapi.ErrRefused) && !moved
		if sent {
			i := 0
			for i < len(o.calls) && o.calls[i].seq <= last {
				i++
			}
			o.calls = o.calls[i:]
		}
		o.mu.Unlock()
		switch {
		case sent:
			if err != nil {
				// The master will never take this batch: drop it, loudly.
				o.log.Error("the master refused a batch of calls", "err", err)
			}
			backoff = minBackoff
		case moved:
			// The new target gets the batch at once.
			o.log.Debug("posting to the previous master failed; the calls go to the next", "master", target, "err", err)
			backoff = minBackoff
		default:
			o.log.Debug("posting to the master failed; will retry", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
				backoff = min(2*backoff, 5*time.Second)
			case <-o.moved:
				backoff = minBackoff
			}
		}
	}
}
