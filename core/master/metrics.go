package master

import (
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// metricResources are the resources of master/<name>_total, _used and
// _percent, in the order of a scalars array.
var metricResources = [...]string{core.CPUs, core.Mem, core.Disk, core.GPUs}

// scalars sums the metricResources of many Resources without allocating.
type scalars [len(metricResources)]core.Value

// add adds rs's scalar entries of metricResources, across reservations
// and markers, as Resources.ScalarValue counts them.
func (s *scalars) add(rs core.Resources) {
	for i := range rs {
		r := &rs[i]
		if r.Type != core.Scalar {
			continue
		}
		switch r.Name {
		case core.CPUs:
			s[0] += r.Scalar
		case core.Mem:
			s[1] += r.Scalar
		case core.Disk:
			s[2] += r.Scalar
		case core.GPUs:
			s[3] += r.Scalar
		}
	}
}

// sub takes rs's scalar entries of metricResources away, as add adds
// them.
func (s *scalars) sub(rs core.Resources) {
	var o scalars
	o.add(rs)
	for i := range s {
		s[i] -= o[i]
	}
}

// ui converts s for the UI's views.
func (s scalars) ui() Scalars {
	return Scalars{CPUs: s[0].Float(), Mem: s[1].Float(), Disk: s[2].Float(), GPUs: s[3].Float()}
}

// liveTasks are running counts of the tasks in the frameworks' tasks maps
// (tracked tasks), kept as tasks are added, change state and complete, so
// that Metrics and UIOverview do not walk a million tasks under the
// master's lock. Every change goes through trackTaskLocked,
// setTaskStateLocked and completeTaskLocked; the transcript tests check
// the counts against a full walk after every command.
type liveTasks struct {
	states map[mesos.TaskState]int // tracked tasks by state, terminal ones (awaiting acknowledgement) too
	used   scalars                 // resources of the tracked tasks not terminal
	// The same tasks by framework id and by role (frameworks and roles
	// pages); an entry goes when its last task does.
	frameworks map[string]*liveUse
	roles      map[string]*liveUse
}

// liveUse is what some of the tracked tasks not terminal hold.
type liveUse struct {
	tasks    int
	used     scalars
	reserved scalars // the part of used that is reserved resources
}

func (u *liveUse) count(t *task, d int) {
	u.tasks += d
	if d > 0 {
		u.used.add(t.resources)
	} else {
		u.used.sub(t.resources)
	}
	for i := range t.resources {
		if r := t.resources[i : i+1]; r[0].IsReserved() {
			if d > 0 {
				u.reserved.add(r)
			} else {
				u.reserved.sub(r)
			}
		}
	}
}

// count adds (d = 1) or takes away (d = -1) a tracked task.
func (l *liveTasks) count(t *task, d int) {
	if !t.tracked {
		return
	}
	l.states[t.state] += d
	if l.states[t.state] == 0 {
		delete(l.states, t.state)
	}
	if t.state.Terminal() {
		return
	}
	if d > 0 {
		l.used.add(t.resources)
	} else {
		l.used.sub(t.resources)
	}
	l.frameworks = countUse(l.frameworks, t.framework, t, d)
	l.roles = countUse(l.roles, t.role, t, d)
}

// countUse counts t in m[key], making the map and the entry as needed
// and dropping an entry left with no task.
func countUse(m map[string]*liveUse, key string, t *task, d int) map[string]*liveUse {
	if m == nil {
		m = map[string]*liveUse{}
	}
	u := m[key]
	if u == nil {
		u = &liveUse{}
		m[key] = u
	}
	u.count(t, d)
	if u.tasks == 0 {
		delete(m, key)
	}
	return m
}

// trackTaskLocked counts and indexes t, just put in fw's tasks.
func (m *Master) trackTaskLocked(fw *framework, t *task) {
	if !t.tracked {
		t.tracked = true
		m.live.count(t, 1)
	}
	m.indexTaskLocked(fw, t)
}

// indexTaskLocked puts t, a task of fw, in the tasks page's index.
func (m *Master) indexTaskLocked(fw *framework, t *task) {
	if !t.indexed {
		if t.seq == 0 {
			m.taskSeq++
			t.seq = m.taskSeq
		}
		t.fwOrd = fw.ord
		m.tasks.insert(t)
	}
}

// setTaskStateLocked changes t's state, keeping the counts and the index.
func (m *Master) setTaskStateLocked(t *task, state mesos.TaskState) {
	m.live.count(t, -1)
	indexed := t.indexed
	m.tasks.remove(t)
	t.state = state
	if indexed {
		m.tasks.insert(t)
	}
	m.live.count(t, 1)
}

// completeTaskLocked moves t from its framework's tasks to its completed
// tasks, and out of the counts; it stays in the index until its completed
// record is dropped.
func (m *Master) completeTaskLocked(fw *framework, t *task) {
	m.live.count(t, -1)
	t.tracked = false
	m.indexTaskLocked(fw, t)
	delete(fw.tasks, t.id)
	t.pending = nil
	fw.completed = append(fw.completed, t)
	if len(fw.completed) > m.cfg.MaxCompletedTasksPerFramework {
		m.tasks.remove(fw.completed[0])
		fw.completed = fw.completed[1:]
	}
}

// Metrics returns the master's part of /metrics/snapshot, under Mesos's
// key names (Mesos's monitoring.md): agents, frameworks and tasks by state,
// outstanding offers, resources total, used and percent (a fraction, as
// Mesos gives it), and the counters of Metrics. Terminal task states are
// counters (tasks that reached the state since this master was elected);
// the other states are gauges.
//
// Cost: it holds m.mu while it looks at every agent and framework, but
// at no task: the task figures come from the running counts (liveTasks).
// BenchmarkMetrics has the figures (docs/benchmarks.md); walking every
// task, as it did before, took about half a second at 1,000,000 tasks.
func (m *Master) Metrics(now time.Time) map[string]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]float64, 64)
	out["master/elected"] = 1
	out["master/uptime_secs"] = now.Sub(m.started).Seconds()
	var active, inactive float64
	var total scalars
	used := m.live.used // the tasks'; the executors' are added below
	for _, ag := range m.agents {
		if ag.connected() {
			active++
		} else {
			inactive++
		}
		total.add(ag.total)
		for _, exs := range ag.executors {
			for _, ex := range exs {
				used.add(ex.resources)
			}
		}
	}
	var fwConnected, fwDisconnected float64
	for _, fw := range m.frameworks {
		if fw.connected() {
			fwConnected++
		} else {
			fwDisconnected++
		}
	}
	live := func(s mesos.TaskState) float64 { return float64(m.live.states[s]) }
	out["master/slaves_active"] = active
	out["master/slaves_inactive"] = inactive
	out["master/slaves_connected"] = active
	out["master/slaves_disconnected"] = inactive
	out["master/slaves_unreachable"] = float64(len(m.unreachable))
	out["master/slave_removals"] = float64(m.metrics.AgentsRemoved)
	out["master/recovery_slave_removals"] = float64(m.metrics.RecoveryAgentRemovals)
	// A framework is active while connected: meseta has no deactivated
	// framework that stays connected.
	out["master/frameworks_active"] = fwConnected
	out["master/frameworks_inactive"] = fwDisconnected
	out["master/frameworks_connected"] = fwConnected
	out["master/frameworks_disconnected"] = fwDisconnected
	out["master/outstanding_offers"] = float64(len(m.offers))
	out["master/tasks_staging"] = live(mesos.TaskStaging)
	out["master/tasks_starting"] = live(mesos.TaskStarting)
	out["master/tasks_running"] = live(mesos.TaskRunning)
	out["master/tasks_killing"] = live(mesos.TaskKilling)
	out["master/tasks_unreachable"] = live(mesos.TaskUnreachable)
	for _, st := range []struct {
		key   string
		state mesos.TaskState
	}{
		{"finished", mesos.TaskFinished}, {"failed", mesos.TaskFailed}, {"killed", mesos.TaskKilled},
		{"lost", mesos.TaskLost}, {"error", mesos.TaskError}, {"dropped", mesos.TaskDropped},
		{"gone", mesos.TaskGone}, {"gone_by_operator", mesos.TaskGoneByOperator},
	} {
		out["master/tasks_"+st.key] = float64(m.metrics.TaskStates[st.state])
	}
	for i, name := range metricResources {
		t, u := total[i].Float(), used[i].Float()
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
	out["master/status_update_retries_acked"] = float64(m.metrics.StatusUpdateRetriesAcked)
	out["master/status_update_retries_held"] = float64(m.metrics.StatusUpdateRetriesHeld)
	out["master/offers_sent"] = float64(m.metrics.OffersSent)
	out["master/offers_declined"] = float64(m.metrics.OffersDeclined)
	out["master/offers_accepted"] = float64(m.metrics.OffersAccepted)
	out["master/offers_rescinded"] = float64(m.metrics.OffersRescinded)
	out["master/invalid_calls"] = float64(m.metrics.InvalidCalls)
	out["master/tasks_launched"] = float64(m.metrics.TasksLaunched)
	return out
}
