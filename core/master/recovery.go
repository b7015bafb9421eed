package master

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"meseta/core/mesos"
	"meseta/core/registry"
)

// Recovery after a failover.
//
// A master is made (New) when it becomes leader, so New's now is the
// election time. The registry tells it which agents were admitted; their
// tasks and executors are soft state it learns only when each agent
// re-registers. Until then an admitted agent is "recovering": in admitted
// and in recovering, not in agents. The master waits
// AgentReregisterTimeout for them; the first Housekeep at or after
// recoveryDeadline ends the wait:
//
//   - If the agents still missing are at most RecoveryAgentRemovalLimit of
//     those recovered, they are marked unreachable in one registry Apply
//     (MarkUnreachable at that Housekeep's now), counted in
//     RecoveryAgentRemovals, and every framework gets a FAILURE for each,
//     as for an agent removed by health checks. Such an agent may still
//     come back: it re-registers through MarkReachable with its id, as
//     any unreachable agent does, and is taken back with the tasks of its
//     partition-aware frameworks only. The others' frameworks hold their
//     tasks TASK_LOST (reconciliation answers so from now on), so those
//     tasks are killed, not revived ("Back from unreachable" in doc.go).
//   - If more are missing, so many agents failing at once is more likely a
//     fault of this master (a wrong registry, a network split) than of the
//     agents: nothing is written, and Housekeep returns ErrRecoveryLimit
//     for masterd to exit, so that another master takes over or a human
//     looks. This is Mesos's --recovery_agent_removal_limit; the fraction
//     is of the agents recovered, and the limit is exceeded only when the
//     fraction missing is strictly greater.
//
// While an agent is recovering the master cannot tell whether a task it
// does not know runs there, so explicit reconciliation of an unknown task
// on a recovering agent gets no answer (reconcileLocked); the framework
// retries, and gets the truth once the agent re-registers or is marked
// unreachable. Answering TASK_LOST for a task that runs on a slow agent
// was an inconsistency of early Mesos masters.
//
// If the registry refuses the write, recovery stays as it is and the next
// Housekeep tries again, as markUnreachableLocked does.

// recoverRegistry loads the registry at now: which agents are admitted
// (and expected back until now plus AgentReregisterTimeout), unreachable,
// or gone (refused for good).
func (m *Master) recoverRegistry(now time.Time) error {
	st := m.reg.State()
	for id, blob := range st.Admitted {
		m.admitted[id] = true
		var info mesos.AgentInfo
		if err := json.Unmarshal(blob, &info); err != nil {
			m.log.Warn("registry holds an agent info that does not decode; expecting the agent anyway", "agent", id, "err", err)
		}
		info.ID = &mesos.ID{Value: id}
		m.recovering[id] = info
	}
	m.recovered = len(m.recovering)
	m.recoveryDeadline = now.Add(m.cfg.AgentReregisterTimeout)
	for id, e := range st.Unreachable {
		m.unreachable[id] = e.Time
	}
	for id, t := range st.Gone {
		m.gone[id] = t
	}
	if err := m.recoverQuotaLocked(st.Values); err != nil {
		return err
	}
	if err := m.recoverResourcesLocked(st.Values); err != nil {
		return err
	}
	if err := m.recoverMaintenanceLocked(st.Values); err != nil {
		return err
	}
	m.log.Info("registry recovered", "admitted", len(st.Admitted), "unreachable", len(st.Unreachable), "gone", len(st.Gone),
		"reregister_deadline", m.recoveryDeadline)
	return nil
}

// isRecovering reports whether id is an agent recovered from the registry
// that has not re-registered yet.
func (m *Master) isRecovering(id string) bool {
	_, ok := m.recovering[id]
	return ok
}

// reregisteredLocked notes that agent id is back.
func (m *Master) reregisteredLocked(id string) {
	if !m.isRecovering(id) {
		return
	}
	delete(m.recovering, id)
	if len(m.recovering) == 0 {
		m.log.Info("every agent recovered from the registry has re-registered", "agents", m.recovered)
	}
}

// endRecoveryLocked ends the wait for the recovered agents once
// recoveryDeadline has passed (see the comment at the top of this file).
func (m *Master) endRecoveryLocked(now time.Time) error {
	if len(m.recovering) == 0 || now.Before(m.recoveryDeadline) {
		return nil
	}
	missing := slices.Sorted(maps.Keys(m.recovering))
	limit := *m.cfg.RecoveryAgentRemovalLimit
	if frac := float64(len(missing)) / float64(m.recovered); frac > limit {
		return fmt.Errorf("%w: %d of the %d agents recovered from the registry did not re-register within %v (%.0f%%, limit %.0f%%)",
			ErrRecoveryLimit, len(missing), m.recovered, m.cfg.AgentReregisterTimeout, 100*frac, 100*limit)
	}
	ops := make([]registry.Op, len(missing))
	for i, id := range missing {
		ops[i] = registry.Op{Kind: registry.MarkUnreachable, AgentID: id, Time: now}
	}
	if err := m.applyLocked(ops...); err != nil {
		m.log.Error("registry refused to mark recovered agents unreachable; will retry", "agents", len(missing), "err", err)
		return nil
	}
	m.metrics.RecoveryAgentRemovals += uint64(len(missing))
	m.log.Warn("agents recovered from the registry did not re-register in time; marked unreachable",
		"agents", missing, "recovered", m.recovered, "timeout", m.cfg.AgentReregisterTimeout)
	fws := m.sortedFrameworksLocked()
	for _, id := range missing {
		for _, fw := range fws {
			fw.send(&mesos.Event{Type: mesos.EventFailure, Failure: &mesos.Failure{AgentID: &mesos.ID{Value: id}}})
		}
	}
	return nil
}

// recoveredAgentsLocked returns the agents still expected back, by id.
func (m *Master) recoveredAgentsLocked() []RecoveredAgentJSON {
	out := []RecoveredAgentJSON{}
	for _, id := range slices.Sorted(maps.Keys(m.recovering)) {
		info := m.recovering[id]
		out = append(out, RecoveredAgentJSON{ID: id, Hostname: info.Hostname, Port: info.Port,
			Attributes: attributesJSON(info.Attributes), Resources: ModelResources(info.Resources)})
	}
	return out
}
