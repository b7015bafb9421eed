package main

import (
	"strings"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// processStart is when agentd started, for slave/uptime_secs.
var processStart = time.Now()

// metrics is the agent's /metrics/snapshot (and, through
// daemon.WritePrometheus, /metrics), under Mesos's key names
// (monitoring.md):
//
//   - slave/registered (1 while registered with a master) and
//     slave/uptime_secs;
//   - slave/executors_registering (started, not yet subscribed),
//     _running, _terminating (being shut down) and _terminated (exited,
//     kept until their tasks' last updates are acknowledged), and
//     slave/frameworks_active (frameworks with an executor not
//     terminated);
//   - slave/tasks_<state> for every state: staging, starting, running
//     and killing are the tasks in that state now; the terminal states
//     (finished, failed, killed, lost, ...) count every task that ended
//     so since the agent process started, as Mesos's counters do;
//   - slave/<r>_total, _used and _percent (a fraction) for cpus, mem,
//     disk and gpus: used is what the tasks not yet terminal and the
//     executors not terminated were given;
//   - slave/status_update_retry_queue: status updates waiting for their
//     acknowledgement, which the agent resends until it comes, and
//     slave/outbox_calls: calls queued for the master, not yet sent
//     (meseta's).
//
// It holds a.mu while it looks at every executor and task, as /state
// does.
func (a *agent) metrics() map[string]float64 {
	now := time.Now()
	out := map[string]float64{"slave/uptime_secs": now.Sub(processStart).Seconds(), "slave/registered": 0}
	// Every key Mesos lists, present at zero.
	for _, st := range []mesos.TaskState{mesos.TaskStaging, mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling,
		mesos.TaskFinished, mesos.TaskFailed, mesos.TaskKilled, mesos.TaskLost} {
		out[taskStateKey(st)] = 0
	}
	if o := a.outbox; o != nil {
		o.mu.Lock()
		out["slave/outbox_calls"] = float64(len(o.calls))
		o.mu.Unlock()
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.registered {
		out["slave/registered"] = 1
	}
	out["slave/status_update_retry_queue"] = float64(a.updates.Len())
	var registering, running, terminating, terminated float64
	var used core.Resources
	frameworks := map[string]bool{}
	for _, ex := range a.executors {
		switch {
		case ex.state == execTerminated:
			terminated++
			continue
		case ex.killing:
			terminating++
		case ex.state == execRunning:
			running++
		default:
			registering++
		}
		frameworks[ex.key.framework] = true
		used = used.Add(ex.info.Resources)
	}
	out["slave/executors_registering"] = registering
	out["slave/executors_running"] = running
	out["slave/executors_terminating"] = terminating
	out["slave/executors_terminated"] = terminated
	out["slave/frameworks_active"] = float64(len(frameworks))
	for _, t := range a.tasks {
		if !t.terminal {
			out[taskStateKey(t.state)]++
			used = used.Add(t.info.Resources)
		}
	}
	for st, n := range a.ended {
		out[taskStateKey(st)] = float64(n)
	}
	for _, name := range []string{core.CPUs, core.Mem, core.Disk, core.GPUs} {
		total, u := a.total.ScalarValue(name).Float(), used.ScalarValue(name).Float()
		out["slave/"+name+"_total"] = total
		out["slave/"+name+"_used"] = u
		pct := 0.0
		if total > 0 {
			pct = u / total
		}
		out["slave/"+name+"_percent"] = pct
	}
	return out
}

// taskStateKey is the metric of a task state: TASK_RUNNING is
// slave/tasks_running.
func taskStateKey(st mesos.TaskState) string {
	return "slave/tasks_" + strings.ToLower(strings.TrimPrefix(string(st), "TASK_"))
}
