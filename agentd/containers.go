package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"meseta/agentd/cgroups"
	"meseta/agentd/fetcher"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// launchExecutor prepares the sandbox, fetches the URIs, and starts the
// executor process in its own session, in a cgroup when available. A
// failure fails the executor's tasks with the reason.
func (a *agent) launchExecutor(ex *executorRun, now time.Time) {
	if err := a.startExecutor(ex); err != nil {
		a.log.Warn("executor launch failed", "framework", ex.key.framework, "executor", ex.key.executor, "err", err)
		a.executorGone(ex, -1, "Failed to launch the executor: "+err.Error(), mesos.ReasonContainerLaunchFailed, time.Now())
		return
	}
	a.mu.Lock()
	timeout := a.cfg.executorRegistrationTimeout
	a.mu.Unlock()
	time.AfterFunc(timeout, func() {
		a.mu.Lock()
		stuck := ex.state == execLaunching && ex.stream == nil && ex.pid > 0 && ex.started.Add(timeout).Before(time.Now().Add(time.Millisecond))
		a.mu.Unlock()
		if stuck {
			a.log.Warn("executor did not subscribe in time", "executor", ex.key.executor, "timeout", timeout)
			a.destroyExecutor(ex)
		}
	})
}

func (a *agent) startExecutor(ex *executorRun) error {
	a.mu.Lock()
	info := ex.info
	dir := ex.dir
	var uris []mesos.URI
	if ex.command || ex.group {
		for _, t := range ex.tasks {
			if t.info.Command != nil {
				uris = append(uris, t.info.Command.URIs...)
			}
		}
	} else if info.Command != nil {
		uris = info.Command.URIs
	}
	res := core.Resources(nil)
	for _, t := range ex.tasks {
		res = res.Add(t.info.Resources)
	}
	res = res.Add(info.Resources)
	checkpoint := false
	if fw := a.frameworks[ex.key.framework]; fw != nil {
		checkpoint = fw.info.Checkpoint
	}
	a.mu.Unlock()

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the sandbox: %w", err)
	}
	if len(uris) > 0 {
		list := make([]fetcher.URI, len(uris))
		for i, u := range uris {
			list[i] = fetcher.URI{Value: u.Value, Executable: u.Executable, Extract: u.ShouldExtract(), Cache: u.Cache, OutputFile: u.OutputFile}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err := fetcher.Fetch(ctx, dir, list, fetcher.Options{})
		cancel()
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
	}
	stdout, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(filepath.Join(dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stderr.Close()

	var cmd *exec.Cmd
	switch {
	case ex.command:
		cmd = exec.Command(a.self, "executor", "--mode=command")
	case ex.group:
		cmd = exec.Command(a.self, "executor", "--mode=default")
	case info.Command.IsShell():
		cmd = exec.Command("/bin/sh", "-c", info.Command.Value)
	default:
		args := info.Command.Arguments
		if len(args) > 0 {
			args = args[1:] // arguments[0] is argv[0], as in Mesos
		}
		cmd = exec.Command(info.Command.Value, args...)
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own session and process group: the executor survives an agent crash,
	// and the whole tree can be signalled at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	grace := a.cfg.shutdownGrace
	if info.ShutdownGracePeriod != nil {
		grace = time.Duration(info.ShutdownGracePeriod.Nanoseconds)
	}
	env := append(os.Environ(),
		"MESOS_FRAMEWORK_ID="+ex.key.framework,
		"MESOS_EXECUTOR_ID="+ex.key.executor,
		"MESOS_DIRECTORY="+dir,
		"MESOS_SANDBOX="+dir,
		"MESOS_AGENT_ENDPOINT="+a.endpoint,
		"MESOS_SLAVE_PID=slave(1)@"+a.endpoint,
		"MESOS_CHECKPOINT="+boolEnv(checkpoint),
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="+core.FormatDuration(grace),
		"MESOS_CONTAINER_ID="+ex.container,
	)
	if checkpoint {
		env = append(env, "MESOS_RECOVERY_TIMEOUT="+core.FormatDuration(a.cfg.recoveryTimeout),
			"MESOS_SUBSCRIPTION_BACKOFF_MAX="+core.FormatDuration(2*time.Second))
	}
	if info.Command != nil && info.Command.Environment != nil && !ex.command {
		for _, v := range info.Command.Environment.Variables {
			env = append(env, v.Name+"="+v.Value)
		}
	}
	cmd.Env = env

	var group *cgroups.Group
	if a.cg != nil && a.cg.Mode() != cgroups.ModeNone {
		limits := cgroups.Limits{CPUs: res.ScalarValue("cpus").Float()}
		if mem := res.ScalarValue("mem").Float(); mem > 0 {
			// The executor itself needs room too: Mesos adds 32 MB for the
			// command executor.
			limits.MemoryBytes = int64(mem+32) << 20
		}
		g, err := a.cg.Create(ex.container, limits)
		if err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		group = g
	}
	if err := cmd.Start(); err != nil {
		if group != nil {
			_ = group.Destroy()
		}
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	if group != nil {
		if err := group.Add(cmd.Process.Pid); err != nil {
			a.log.Warn("could not put the executor in its cgroup", "err", err)
		}
	}
	// The executor is in its cgroup now: tasks may start. Launches that
	// arrived while it was starting (even if it subscribed already) are
	// delivered only from here, so no task escapes the cgroup.
	a.mu.Lock()
	ex.pid = cmd.Process.Pid
	ex.group_ = group
	ex.started = time.Now()
	ex.ready = true
	if a.checkpointingLocked(ex.key.framework) {
		a.ckptErr("executor", a.ckpt.PutExecutor(a.executorRecord(ex))) // now with its pid
	}
	if ex.stream != nil {
		for _, ev := range ex.queued {
			ex.stream.SendJSON(ev)
		}
		ex.queued = nil
	}
	a.mu.Unlock()
	a.log.Info("executor started", "framework", ex.key.framework, "executor", ex.key.executor, "pid", ex.pid, "dir", dir)
	go func() {
		err := cmd.Wait()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = exit.ExitCode()
			}
		}
		a.executorGone(ex, code, "Executor terminated", mesos.ReasonExecutorTerminated, time.Now())
	}()
	return nil
}

func boolEnv(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// executorGone handles the end of an executor: tasks it left without a
// terminal update fail (or are killed, when the agent shut it down), the
// master hears EXECUTOR_EXITED, and its cgroup goes.
func (a *agent) executorGone(ex *executorRun, code int, msg, reason string, now time.Time) {
	a.mu.Lock()
	if ex.state == execTerminated {
		a.mu.Unlock()
		return
	}
	ex.state = execTerminated
	if ex.stream != nil {
		ex.stream.Close()
		ex.stream = nil
	}
	var out []agentapi.StatusUpdate
	for _, t := range ex.tasks {
		if t.terminal {
			continue
		}
		state, m := mesos.TaskFailed, msg
		if code > 0 {
			m = fmt.Sprintf("%s with status %d", msg, code)
		}
		if ex.killing {
			state = mesos.TaskKilled
			if code >= 0 {
				m = "Executor was shut down"
			}
		}
		out = append(out, a.agentStatusLocked(t, state, reason, m, now)...)
	}
	group, pid := ex.group_, ex.pid
	id := a.id
	if cur := a.executors[ex.key]; cur == ex {
		delete(a.executors, ex.key)
	}
	// Forgotten now, unless its tasks' last updates still wait for
	// acknowledgements (acknowledge forgets it then); with its framework
	// gone they never will.
	var gc string
	if len(ex.tasks) == 0 || a.frameworks[ex.key.framework] == nil {
		gc = ex.dir
	}
	if a.checkpointingLocked(ex.key.framework) {
		if len(ex.tasks) == 0 {
			a.ckptErr("remove executor", a.ckpt.RemoveExecutor(ex.key.framework, ex.key.executor))
		} else {
			// Kept, without a pid, until its tasks' last updates are
			// acknowledged.
			rec := a.executorRecord(ex)
			rec.PID = 0
			a.ckptErr("executor", a.ckpt.PutExecutor(rec))
		}
	}
	a.mu.Unlock()
	// Whatever the executor left behind dies with it, as a destroyed
	// container's processes do.
	if pid > 0 {
		killSession(pid)
	}
	if group != nil {
		if err := group.Destroy(); err != nil {
			a.log.Warn("destroy cgroup", "err", err)
		}
	}
	a.gcSandbox(gc)
	a.sendUpdates(out)
	if id != "" {
		a.outbox.add(agentapi.Call{Type: agentapi.CallExecutorExited, AgentID: &mesos.ID{Value: id},
			ExecutorExited: &agentapi.ExecutorExited{FrameworkID: mesos.ID{Value: ex.key.framework},
				ExecutorID: mesos.ID{Value: ex.key.executor}, Status: int32(code)}})
	}
	a.log.Info("executor exited", "framework", ex.key.framework, "executor", ex.key.executor, "status", code)
}

// shutdownExecutor asks the executor to shut down, and kills it after
// the grace period.
func (a *agent) shutdownExecutor(ex *executorRun) {
	a.mu.Lock()
	if ex.state == execTerminated {
		a.mu.Unlock()
		return
	}
	ex.killing = true
	grace := a.cfg.shutdownGrace
	if ex.info.ShutdownGracePeriod != nil {
		grace = time.Duration(ex.info.ShutdownGracePeriod.Nanoseconds)
	}
	subscribed := ex.stream != nil
	if subscribed {
		ex.stream.SendJSON(&mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
	}
	a.mu.Unlock()
	if !subscribed {
		a.destroyExecutor(ex)
		return
	}
	// The executor kills its tasks within the grace period; give it that
	// and a little more to send its updates, then force it.
	time.AfterFunc(grace+2*time.Second, func() { a.destroyExecutor(ex) })
}

// destroyExecutor kills the executor's whole process group (and cgroup)
// with SIGKILL.
func (a *agent) destroyExecutor(ex *executorRun) {
	a.mu.Lock()
	ex.killing = true
	pid, group, state := ex.pid, ex.group_, ex.state
	a.mu.Unlock()
	if state == execTerminated {
		return
	}
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		killSession(pid) // tasks in their own process groups, without cgroups
	}
	if group != nil {
		_ = group.Kill()
	}
	if pid <= 0 {
		a.executorGone(ex, -1, "Executor was destroyed before it started", mesos.ReasonExecutorTerminated, time.Now())
	}
}

// stopExecutors kills, as the agent stops, the executors that cannot
// reconnect to the next agent (those of frameworks without
// checkpointing), or every executor when all is set.
func (a *agent) stopExecutors(all bool) {
	a.mu.Lock()
	var exs []*executorRun
	for _, ex := range a.executors {
		if all || !a.checkpointingLocked(ex.key.framework) {
			exs = append(exs, ex)
		}
	}
	a.mu.Unlock()
	for _, ex := range exs {
		a.destroyExecutor(ex)
	}
}
