package agent

import (
	"bytes"
	"time"

	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// Retry intervals of the status update manager, as Mesos's
// STATUS_UPDATE_RETRY_INTERVAL_MIN and _MAX.
const (
	DefaultRetryMin = 10 * time.Second
	DefaultRetryMax = 10 * time.Minute
)

// Updates is the agent's status update manager. For each task it keeps
// the updates not yet acknowledged by the framework, in order. Only the
// oldest one (the head) is in flight: it is sent to the master, resent
// with exponential backoff until the acknowledgement of its uuid comes
// back, and only then is the next one sent. So a framework sees each
// task's updates exactly in order, and the agent forgets an update only
// after its acknowledgement.
//
// Updates is not safe for concurrent use; agentd guards it with its
// agent lock.
type Updates struct {
	RetryMin, RetryMax time.Duration

	streams map[streamKey]*updateStream
	n       int // updates queued in all streams
}

type streamKey struct{ framework, task string }

type updateStream struct {
	pending []agentapi.StatusUpdate // pending[0] is in flight
	next    time.Time               // when to resend the head
	backoff time.Duration
	sent    bool      // the head was sent at least once
	since   time.Time // when the head became the head
}

// NewUpdates returns an empty manager with the default intervals.
func NewUpdates() *Updates {
	return &Updates{RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax, streams: map[streamKey]*updateStream{}}
}

// Add queues an update. It returns the updates to send now: the update
// itself when it is the head of its task's stream, else nothing. A
// duplicate (same uuid already queued) is dropped.
func (u *Updates) Add(su agentapi.StatusUpdate, now time.Time) []agentapi.StatusUpdate {
	k := streamKey{su.FrameworkID.Value, su.Status.TaskID.Value}
	s := u.streams[k]
	if s == nil {
		s = &updateStream{}
		u.streams[k] = s
	}
	for _, p := range s.pending {
		if bytes.Equal(p.Status.UUID, su.Status.UUID) {
			return nil
		}
	}
	s.pending = append(s.pending, su)
	u.n++
	u.refreshLatest(s)
	if len(s.pending) > 1 {
		return nil
	}
	s.since = now
	return []agentapi.StatusUpdate{u.markSent(s, now)}
}

// refreshLatest sets the head's LatestState to the newest queued state,
// so the master learns where the task is while older updates wait.
func (u *Updates) refreshLatest(s *updateStream) {
	s.pending[0].LatestState = s.pending[len(s.pending)-1].Status.State
}

func (u *Updates) markSent(s *updateStream, now time.Time) agentapi.StatusUpdate {
	if !s.sent {
		s.backoff = u.RetryMin
	} else {
		s.backoff = min(2*s.backoff, u.RetryMax)
	}
	s.sent = true
	s.next = now.Add(s.backoff)
	return s.pending[0]
}

// Ack handles the framework's acknowledgement of uuid for a task. ok is
// false when uuid is not the head of the task's stream (a duplicate or
// stale ack, ignored). next is the following update to send, if any.
func (u *Updates) Ack(framework, task string, uuid []byte, now time.Time) (next []agentapi.StatusUpdate, ok bool) {
	k := streamKey{framework, task}
	s := u.streams[k]
	if s == nil || !bytes.Equal(s.pending[0].Status.UUID, uuid) {
		return nil, false
	}
	s.pending = s.pending[1:]
	u.n--
	if len(s.pending) == 0 {
		delete(u.streams, k)
		return nil, true
	}
	s.sent = false
	s.since = now
	u.refreshLatest(s)
	return []agentapi.StatusUpdate{u.markSent(s, now)}, true
}

// Due returns the heads whose retry time has come, and schedules their
// next retry.
func (u *Updates) Due(now time.Time) []agentapi.StatusUpdate {
	var out []agentapi.StatusUpdate
	for _, s := range u.streams {
		if !now.Before(s.next) {
			out = append(out, u.markSent(s, now))
		}
	}
	return out
}

// Heads returns every in-flight update, to send again at once (after the
// agent re-registered), and restarts their backoff.
func (u *Updates) Heads(now time.Time) []agentapi.StatusUpdate {
	var out []agentapi.StatusUpdate
	for _, s := range u.streams {
		s.sent = false
		out = append(out, u.markSent(s, now))
	}
	return out
}

// Each calls fn with every task's in-flight update, how many updates
// that task has queued, since when the update has been in flight (the
// head of its task's queue), and when it is resent next (zero if it was
// never sent); it changes nothing.
func (u *Updates) Each(fn func(head agentapi.StatusUpdate, queued int, since, next time.Time)) {
	for _, s := range u.streams {
		next := s.next
		if !s.sent {
			next = time.Time{}
		}
		fn(s.pending[0], len(s.pending), s.since, next)
	}
}

// Pending reports whether a task still has unacknowledged updates.
func (u *Updates) Pending(framework, task string) bool {
	return u.streams[streamKey{framework, task}] != nil
}

// Len is the number of unacknowledged updates, for metrics.
func (u *Updates) Len() int { return u.n }

// DropFramework forgets every update of a framework (it was removed).
func (u *Updates) DropFramework(framework string) {
	for k := range u.streams {
		if k.framework == framework {
			u.n -= len(u.streams[k].pending)
			delete(u.streams, k)
		}
	}
}

// Status is a convenience for making an agent-sourced update.
func Status(taskID, agentID, executorID string, state mesos.TaskState, reason, msg string, uuid []byte, now time.Time) mesos.TaskStatus {
	return mesos.TaskStatus{
		TaskID: mesos.ID{Value: taskID}, State: state, Source: mesos.SourceAgent, Reason: reason, Message: msg,
		AgentID: mesos.NewID(agentID), ExecutorID: mesos.NewID(executorID), UUID: uuid,
		Timestamp: float64(now.UnixNano()) / 1e9,
	}
}
