package master

import (
	"bytes"
	"time"

	"meseta/alloc"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// setStateLocked moves a task to state; the first terminal state gives
// the task's resources back to the allocator.
func (m *Master) setStateLocked(t *task, state mesos.TaskState, now time.Time) {
	if t.state == state {
		return
	}
	m.setTaskStateLocked(t, state)
	if state.Terminal() {
		m.metrics.TaskStates[state]++
		if !t.recovered {
			t.recovered = true
			_ = m.alloc.Recover(alloc.FrameworkID(t.framework), alloc.AgentID(t.agent), t.role, t.resources, 0)
		}
	}
}

// statusUpdateLocked handles a STATUS_UPDATE from an agent's status
// update manager.
func (m *Master) statusUpdateLocked(ag *agent, u *agentapi.StatusUpdate, now time.Time) {
	m.metrics.StatusUpdates++
	s := u.Status
	s.AgentID = &mesos.ID{Value: ag.id}
	fwID := u.FrameworkID.Value
	fw := m.frameworks[fwID]
	var t *task
	if fw != nil {
		t = fw.tasks[s.TaskID.Value]
	}
	if fw == nil || t == nil && ag.refusedTasks[taskKey{fwID, s.TaskID.Value}] {
		// A framework that was torn down, or a task the master refused
		// when the agent came back from unreachable (its framework holds
		// it TASK_LOST and must hear nothing more of it; see "Back from
		// unreachable" in the package doc). Nobody will acknowledge, so
		// acknowledge for the framework and let the agent's stream drain.
		ag.send(&agentapi.Event{Type: agentapi.EventAcknowledge, Acknowledge: &agentapi.Acknowledge{
			FrameworkID: u.FrameworkID, TaskID: s.TaskID, UUID: s.UUID}})
		return
	}
	if t == nil {
		if c := fw.completedTask(s.TaskID.Value); c != nil && c.acked && len(s.UUID) > 0 &&
			len(c.statuses) > 0 && bytes.Equal(c.statuses[len(c.statuses)-1].UUID, s.UUID) {
			// The retry of a terminal update the framework acknowledged
			// here: the acknowledgement was lost on its way to the agent.
			m.metrics.StatusUpdateRetriesAcked++
			ag.send(&agentapi.Event{Type: agentapi.EventAcknowledge, Acknowledge: &agentapi.Acknowledge{
				FrameworkID: u.FrameworkID, TaskID: s.TaskID, UUID: s.UUID}})
			return
		}
		// Unknown to the master (for example an update about a task that
		// completed longer ago than the completed tasks kept, or before a
		// failover): forward anyway so the framework can acknowledge it,
		// which is what drains the agent.
		fw.send(updateEvent(s))
		return
	}
	latest := s.State
	if u.LatestState != "" && u.LatestState.Valid() {
		latest = u.LatestState
	}
	if !t.state.Terminal() || latest.Terminal() {
		m.setStateLocked(t, latest, now)
	}
	if n := len(t.statuses); n > 0 && len(s.UUID) > 0 && bytes.Equal(t.statuses[n-1].UUID, s.UUID) {
		// A retry of the newest update. The agent resends what it has no
		// acknowledgement for, and two cases need nothing from the
		// framework (see "Status update retries" in the package doc).
		switch {
		case t.acked:
			// The framework acknowledged it here; the acknowledgement
			// was lost on the way to the agent.
			m.metrics.StatusUpdateRetriesAcked++
			ag.send(&agentapi.Event{Type: agentapi.EventAcknowledge, Acknowledge: &agentapi.Acknowledge{
				FrameworkID: u.FrameworkID, TaskID: s.TaskID, UUID: s.UUID}})
			return
		case fw.holds(t, now):
			// The first copy went out on the framework's current
			// stream a moment ago, or is still queued for it: the
			// framework has not had it long enough to acknowledge.
			m.metrics.StatusUpdateRetriesHeld++
			return
		}
	} else {
		t.statuses = append(t.statuses, s)
	}
	fw.forward(t, s, now)
}

// acknowledgeLocked forwards a framework's acknowledgement to the agent
// and retires the task when its terminal update is acknowledged.
func (m *Master) acknowledgeLocked(fw *framework, a *mesos.Acknowledge) error {
	m.metrics.Acknowledgements++
	ag := m.agents[a.AgentID.Value]
	if ag == nil {
		return badRequest("acknowledge.agent_id: unknown agent %q", a.AgentID.Value)
	}
	if t := fw.tasks[a.TaskID.Value]; t != nil && t.pending != nil && bytes.Equal(t.pending.UUID, a.UUID) {
		terminal := t.pending.State.Terminal()
		t.pending, t.pendingSub, t.pendingSeq, t.pendingAt = nil, 0, 0, 0
		if n := len(t.statuses); n > 0 && bytes.Equal(t.statuses[n-1].UUID, a.UUID) {
			t.acked = true
		}
		if terminal {
			delete(ag.tasks, taskKey{fw.id, t.id})
			m.completeTaskLocked(fw, t)
		}
	}
	ag.send(&agentapi.Event{Type: agentapi.EventAcknowledge, Acknowledge: &agentapi.Acknowledge{
		FrameworkID: mesos.ID{Value: fw.id}, TaskID: a.TaskID, UUID: a.UUID}})
	return nil
}

// killLocked forwards KILL to the task's agent. A task the master does
// not know gets TASK_LOST, as in Mesos.
func (m *Master) killLocked(fw *framework, k *mesos.Kill, now time.Time) {
	t := fw.tasks[k.TaskID.Value]
	if t == nil || t.state.Terminal() {
		if t == nil {
			fw.send(updateEvent(masterStatus(k.TaskID.Value, k.AgentID.Val(), mesos.TaskLost, mesos.ReasonReconciliation,
				"Attempted to kill an unknown task", now)))
		}
		return
	}
	ag := m.agents[t.agent]
	if ag == nil {
		return
	}
	ag.send(&agentapi.Event{Type: agentapi.EventKillTask, KillTask: &agentapi.KillTask{
		FrameworkID: mesos.ID{Value: fw.id}, TaskID: k.TaskID, KillPolicy: k.KillPolicy}})
}

// reconcileLocked answers RECONCILE with reasons as the reference
// summary lists them. Answers carry no uuid. An unknown task on an agent
// still expected back after a failover gets no answer.
func (m *Master) reconcileLocked(fw *framework, r *mesos.Reconcile, now time.Time) {
	status := func(t *task) mesos.TaskStatus {
		s := masterStatus(t.id, t.agent, t.state, mesos.ReasonReconciliation, "Reconciliation: latest task state", now)
		if n := len(t.statuses); n > 0 {
			s.Healthy, s.Labels, s.Data = t.statuses[n-1].Healthy, t.statuses[n-1].Labels, t.statuses[n-1].Data
		}
		if t.executor != "" {
			s.ExecutorID = &mesos.ID{Value: t.executor}
		}
		return s
	}
	if r == nil || len(r.Tasks) == 0 {
		for _, t := range fw.sortedTasks() {
			fw.send(updateEvent(status(t)))
		}
		return
	}
	for _, rt := range r.Tasks {
		if t := fw.tasks[rt.TaskID.Value]; t != nil {
			fw.send(updateEvent(status(t)))
			continue
		}
		agentID := rt.AgentID.Val()
		var state mesos.TaskState
		var unreachableSince time.Time
		switch {
		case agentID != "" && m.agents[agentID] != nil:
			state = fw.lostState(mesos.TaskGone)
		case agentID != "" && m.isRecovering(agentID):
			// The agent has not re-registered since the failover: the
			// master cannot know yet. No answer; the framework retries
			// and is answered once the agent is back or marked
			// unreachable (see recovery.go).
			continue
		case agentID != "" && m.isUnreachable(agentID):
			state = fw.lostState(mesos.TaskUnreachable)
			unreachableSince = m.unreachable[agentID]
		case agentID != "" && m.isGone(agentID):
			state = fw.lostState(mesos.TaskGoneByOperator)
		case agentID == "" && len(m.recovering) > 0:
			// No agent named, and some agents are still expected back:
			// the task may be on one of them. No answer yet (Mesos
			// does the same).
			continue
		default:
			state = fw.lostState(mesos.TaskUnknown)
		}
		s := masterStatus(rt.TaskID.Value, agentID, state, mesos.ReasonReconciliation, "Reconciliation: task is unknown", now)
		if !unreachableSince.IsZero() {
			s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: unreachableSince.UnixNano()}
		}
		fw.send(updateEvent(s))
	}
}
