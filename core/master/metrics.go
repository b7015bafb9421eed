package master

import (
	"strings"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// Metrics returns the master's part of /metrics/snapshot.
func (m *Master) Metrics(now time.Time) map[string]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]float64{
		"master/elected":     1,
		"master/uptime_secs": now.Sub(m.started).Seconds(),
	}
	var active, inactive, fwConnected, fwDisconnected, fwActive, fwInactive float64
	var total, used core.Resources
	for _, ag := range m.agents {
		if ag.connected() {
			active++
		} else {
			inactive++
		}
		total = total.Add(ag.total)
		for _, t := range ag.tasks {
			if !t.state.Terminal() {
				used = used.Add(t.resources)
			}
		}
		for _, exs := range ag.executors {
			for _, ex := range exs {
				used = used.Add(ex.resources)
			}
		}
	}
	states := map[mesos.TaskState]float64{}
	for _, fw := range m.frameworks {
		if fw.connected() {
			fwConnected++
			fwActive++
		} else {
			fwDisconnected++
			fwInactive++
		}
		for _, t := range fw.tasks {
			if !t.state.Terminal() {
				states[t.state]++
			}
		}
	}
	out["master/slaves_active"] = active
	out["master/slaves_inactive"] = inactive
	out["master/slaves_connected"] = active
	out["master/slaves_disconnected"] = inactive
	out["master/slaves_unreachable"] = float64(len(m.unreachable))
	out["master/slave_removals"] = float64(m.metrics.AgentsRemoved)
	out["master/recovery_slave_removals"] = float64(m.metrics.RecoveryAgentRemovals)
	out["master/frameworks_active"] = fwActive
	out["master/frameworks_inactive"] = fwInactive
	out["master/frameworks_connected"] = fwConnected
	out["master/frameworks_disconnected"] = fwDisconnected
	out["master/outstanding_offers"] = float64(len(m.offers))
	out["master/tasks_staging"] = states[mesos.TaskStaging]
	out["master/tasks_starting"] = states[mesos.TaskStarting]
	out["master/tasks_running"] = states[mesos.TaskRunning]
	out["master/tasks_killing"] = states[mesos.TaskKilling]
	out["master/tasks_unreachable"] = states[mesos.TaskUnreachable]
	for _, st := range []mesos.TaskState{mesos.TaskFinished, mesos.TaskFailed, mesos.TaskKilled, mesos.TaskLost,
		mesos.TaskError, mesos.TaskDropped, mesos.TaskGone, mesos.TaskGoneByOperator} {
		out["master/tasks_"+strings.ToLower(strings.TrimPrefix(string(st), "TASK_"))] = float64(m.metrics.TaskStates[st])
	}
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		t, u := total.ScalarValue(name).Float(), used.ScalarValue(name).Float()
		out["master/"+name+"_total"] = t
		out["master/"+name+"_used"] = u
		pct := 0.0
		if t > 0 {
			pct = u / t
		}
		out["master/"+name+"_percent"] = pct
	}
	out["master/messages_status_update"] = float64(m.metrics.StatusUpdates)
	out["master/messages_acknowledge"] = float64(m.metrics.Acknowledgements)
	out["master/offers_sent"] = float64(m.metrics.OffersSent)
	out["master/offers_declined"] = float64(m.metrics.OffersDeclined)
	out["master/offers_accepted"] = float64(m.metrics.OffersAccepted)
	out["master/offers_rescinded"] = float64(m.metrics.OffersRescinded)
	out["master/invalid_calls"] = float64(m.metrics.InvalidCalls)
	out["master/tasks_launched"] = float64(m.metrics.TasksLaunched)
	return out
}
