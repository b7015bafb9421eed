package main

import (
	"fmt"
	"syscall"
	"time"

	"meseta/core/checkpoint"
	"meseta/core/mesos"
)

// Checkpointing. The agent records, in core/checkpoint under
// <work_dir>/meta, what a restarted agent needs: its id and boot id, the
// frameworks that asked for checkpointing, their executors (with the pid
// and container to find them again), their tasks, and the status updates
// not yet acknowledged. Writes happen under agent.mu, in the order of the
// state changes they record; the synced ones (agent, executors, updates)
// take about a third of a millisecond here. Frameworks without
// checkpointing are not recorded: their executors exit when the agent
// goes away, as in Mesos.

// checkpointingLocked reports whether a framework's state is recorded.
func (a *agent) checkpointingLocked(fid string) bool {
	if a.ckpt == nil {
		return false
	}
	fw := a.frameworks[fid]
	return fw != nil && fw.info.Checkpoint
}

// ckptErr logs a checkpoint write that failed: the agent keeps running
// (the state in memory is right), but a restart may not recover it.
func (a *agent) ckptErr(what string, err error) {
	if err != nil {
		a.log.Error("checkpoint write failed; a restart may lose this state", "what", what, "err", err)
	}
}

func (a *agent) executorRecord(ex *executorRun) checkpoint.ExecutorRecord {
	return checkpoint.ExecutorRecord{FrameworkID: ex.key.framework, Info: ex.info, Command: ex.command, Group: ex.group,
		Role: ex.role, Directory: ex.dir, ContainerID: ex.container, PID: ex.pid, Started: ex.started}
}

// recordLaunchLocked records a framework, its executor and a new task.
func (a *agent) recordLaunchLocked(t *taskRun) {
	fid := t.key.framework
	if !a.checkpointingLocked(fid) {
		return
	}
	a.ckptErr("framework", a.ckpt.PutFramework(checkpoint.FrameworkRecord{Info: a.frameworks[fid].info}))
	a.ckptErr("executor", a.ckpt.PutExecutor(a.executorRecord(t.exec)))
	a.ckptErr("task", a.ckpt.PutTask(checkpoint.TaskRecord{FrameworkID: fid, ExecutorID: t.exec.key.executor,
		Role: t.role, Info: t.info, State: t.state, Terminal: t.terminal}))
}

// recover reads the checkpoint at start-up. It returns the executors to
// reconnect to (their processes may still run) or, in cleanup mode, to
// kill. A host reboot (a new boot id) means no executor survived: the
// agent starts afresh, as a new agent, but with the reservations and
// persistent volumes it had (they belong to the host; see volumes.go).
func (a *agent) recover(strict bool) ([]*executorRun, error) {
	st, err := a.ckpt.Recover(strict)
	if err != nil {
		return nil, fmt.Errorf("recover the checkpoint in %s (--strict=%v): %w", a.ckpt.Dir(), strict, err)
	}
	for _, s := range st.Skipped {
		a.log.Warn("checkpoint: skipped an unreadable record (--strict=false)", "record", s)
	}
	if err := a.recoverResources(st.Resources); err != nil {
		return nil, err
	}
	exs, err := a.recoverRuns(st)
	if err != nil {
		return nil, err
	}
	// Once the tasks are known, which may still use a volume.
	a.finishDestroying(st.Resources)
	return exs, nil
}

// recoverRuns restores the agent's id, frameworks, executors, tasks and
// unacknowledged updates.
func (a *agent) recoverRuns(st checkpoint.State) ([]*executorRun, error) {
	if st.Agent == nil {
		return nil, nil
	}
	boot, _ := checkpoint.BootID()
	if st.Agent.BootID != "" && boot != "" && st.Agent.BootID != boot {
		a.log.Warn("the host rebooted since the agent checkpointed: its executors are gone; registering as a new agent",
			"old_agent", st.Agent.AgentID)
		return nil, a.ckpt.Reset()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.id = st.Agent.AgentID
	for id, fr := range st.Frameworks {
		a.frameworks[id] = &frameworkRun{info: fr.Info}
	}
	var exs []*executorRun
	for _, r := range st.Executors {
		ex := &executorRun{key: execKey{r.FrameworkID, r.Info.ExecutorID.Value}, info: r.Info, command: r.Command,
			group: r.Group, role: r.Role, dir: r.Directory, container: r.ContainerID, pid: r.PID, started: r.Started,
			tasks: map[string]*taskRun{}, ready: true, recovered: true}
		if r.PID <= 0 {
			ex.state = execTerminated
		}
		if a.cg != nil && r.ContainerID != "" {
			if g, err := a.cg.Open(r.ContainerID); err == nil {
				ex.group_ = g
			}
		}
		a.executors[ex.key] = ex
		exs = append(exs, ex)
	}
	for _, r := range st.Tasks {
		ex := a.executors[execKey{r.FrameworkID, r.ExecutorID}]
		if ex == nil {
			continue
		}
		t := &taskRun{key: taskKey{r.FrameworkID, r.Info.TaskID.Value}, info: r.Info, role: r.Role, exec: ex,
			state: r.State, terminal: r.Terminal}
		a.tasks[t.key] = t
		ex.tasks[t.key.task] = t
	}
	now := time.Now()
	for k, us := range st.Updates {
		t := a.tasks[taskKey{k[0], k[1]}]
		for _, u := range us {
			a.updates.Add(u, now)
			if t != nil {
				t.state = u.Status.State
				t.terminal = t.terminal || u.Status.State.Terminal()
			}
		}
	}
	a.log.Info("recovered from the checkpoint", "agent", a.id, "frameworks", len(st.Frameworks),
		"executors", len(st.Executors), "tasks", len(st.Tasks), "unacknowledged_updates", a.updates.Len())
	return exs, nil
}

// processAlive reports whether pid runs and still leads the session the
// agent gave its executor (so a reused pid is not mistaken for it).
func processAlive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	sid, ok := sessionOf(pid)
	return ok && sid == pid
}

// reconnect watches recovered executors after a restart: a live one has
// executor_reregistration_timeout to subscribe again, or it is destroyed;
// a dead one's tasks fail at once. Since a recovered executor is not the
// new agent's child, its end is found by polling.
func (a *agent) reconnect(exs []*executorRun, timeout time.Duration) {
	for _, ex := range exs {
		a.mu.Lock()
		terminated, pid := ex.state == execTerminated, ex.pid
		a.mu.Unlock()
		if terminated {
			a.finishRecovered(ex)
			continue
		}
		if !processAlive(pid) {
			a.executorGone(ex, -1, "Executor terminated while the agent was down", mesos.ReasonExecutorTerminated, time.Now())
			continue
		}
		go a.watchRecovered(ex, timeout)
	}
}

// finishRecovered handles an executor that had already exited
// before the restart: its tasks wait only for their updates' acks.
func (a *agent) finishRecovered(ex *executorRun) {
	a.mu.Lock()
	forget := len(ex.tasks) == 0
	if forget {
		delete(a.executors, ex.key)
		a.ckptErr("remove executor", a.ckpt.RemoveExecutor(ex.key.framework, ex.key.executor))
	}
	a.mu.Unlock()
	if forget {
		a.gcSandbox(ex.dir)
	}
}

func (a *agent) watchRecovered(ex *executorRun, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		a.mu.Lock()
		subscribed, state, pid := ex.stream != nil, ex.state, ex.pid
		a.mu.Unlock()
		if state == execTerminated {
			return
		}
		if !processAlive(pid) {
			a.executorGone(ex, -1, "Executor terminated", mesos.ReasonExecutorTerminated, time.Now())
			return
		}
		if !subscribed && time.Now().After(deadline) {
			a.log.Warn("recovered executor did not re-subscribe in time; destroying it",
				"executor", ex.key.executor, "timeout", timeout)
			a.destroyExecutor(ex)
			continue
		}
	}
}

// cleanup kills recovered executors (--recover=cleanup): their tasks end
// TASK_KILLED through the status update manager, which the agent then
// delivers before it exits.
func (a *agent) cleanup(exs []*executorRun) {
	for _, ex := range exs {
		a.mu.Lock()
		ex.killing = true
		a.mu.Unlock()
		if processAlive(ex.pid) {
			_ = syscall.Kill(-ex.pid, syscall.SIGKILL)
			killSession(ex.pid)
		}
		if ex.group_ != nil {
			_ = ex.group_.Kill()
		}
		a.executorGone(ex, -1, "Killed by the agent's --recover=cleanup", mesos.ReasonExecutorTerminated, time.Now())
	}
}

// pendingUpdates reports how many updates still wait for their acks.
func (a *agent) pendingUpdates() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.updates.Len()
}
