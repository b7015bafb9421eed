package executor

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// ---- builders ----

func shellTask(id, script string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:    id,
		TaskID:  mesos.ID{Value: id},
		AgentID: mesos.ID{Value: "agent-1"},
		Command: &mesos.CommandInfo{Value: script},
	}
}

func launch(task mesos.TaskInfo) mesos.ExecutorEvent {
	return mesos.ExecutorEvent{Type: mesos.ExecEventLaunch, Launch: &mesos.ExecutorLaunch{Task: task}}
}

func launchGroup(tasks ...mesos.TaskInfo) mesos.ExecutorEvent {
	return mesos.ExecutorEvent{Type: mesos.ExecEventLaunchGroup,
		LaunchGroup: &mesos.ExecutorLaunchGroup{TaskGroup: mesos.TaskGroupInfo{Tasks: tasks}}}
}

func kill(id string) mesos.ExecutorEvent {
	return mesos.ExecutorEvent{Type: mesos.ExecEventKill, Kill: &mesos.ExecutorKill{TaskID: mesos.ID{Value: id}}}
}

// waitFile waits for a task to create path (tasks report readiness by
// writing files) and returns its contents.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", path)
		}
		<-tick.C
	}
}

// waitGone waits until pid no longer runs (absent, or a zombie nobody
// reaps, which is as dead as it gets in a container without an init).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		<-tick.C
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, path)))
	if err != nil || pid <= 0 {
		t.Fatalf("bad pid file %s: %v", path, err)
	}
	return pid
}

func wantStates(t *testing.T, fa *fakeAgent, id string, want ...mesos.TaskState) {
	t.Helper()
	if got := fa.states(id); !slices.Equal(got, want) {
		t.Fatalf("task %s states = %v, want %v", id, got, want)
	}
}

// ---- command executor ----

func TestCommandTaskFinishes(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", "echo hi")))
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	wantStates(t, fa, "t1", mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFinished)
	seen := map[string]bool{}
	for _, u := range fa.allUpdates() {
		if len(u.UUID) != 16 || seen[string(u.UUID)] {
			t.Errorf("%s: uuid %x is not a fresh 16-byte uuid", u.State, u.UUID)
		}
		seen[string(u.UUID)] = true
		if u.Source != mesos.SourceExecutor || u.ExecutorID.Val() != "exec-1" || u.AgentID.Val() != "agent-1" || u.Timestamp <= 0 {
			t.Errorf("%s: source %q executor %q agent %q timestamp %v", u.State, u.Source, u.ExecutorID.Val(), u.AgentID.Val(), u.Timestamp)
		}
	}
	if st := fa.waitState(t, "t1", mesos.TaskFinished); st.Message != "Command exited with status 0" {
		t.Errorf("message %q", st.Message)
	}
	if out, _ := os.ReadFile(filepath.Join(x.sandbox, "stdout")); string(out) != "hi\n" {
		t.Errorf("task stdout %q, want %q", out, "hi\n")
	}
}

func TestCommandTaskFails(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", "exit 3")))
	st := fa.waitState(t, "t1", mesos.TaskFailed)
	if !strings.Contains(st.Message, "status 3") {
		t.Errorf("message %q, want it to mention status 3", st.Message)
	}
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func TestCommandCannotStart(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	no := false
	task := shellTask("t1", "/nonexistent/program")
	task.Command.Shell = &no
	fa.push(t, launch(task))
	st := fa.waitState(t, "t1", mesos.TaskFailed)
	if st.Reason != mesos.ReasonCommandExecutorFailed || !strings.Contains(st.Message, "/nonexistent/program") {
		t.Errorf("reason %q message %q", st.Reason, st.Message)
	}
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	wantStates(t, fa, "t1", mesos.TaskStarting, mesos.TaskFailed)
}

// shell=false runs value with arguments as the whole argv, as Mesos does.
func TestCommandNoShell(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	no := false
	task := shellTask("t1", "sh") // found in PATH
	task.Command.Shell = &no
	// Under sh -c, $0 is argv[0] when no further argument is given.
	task.Command.Arguments = []string{"custom-argv0", "-c", `echo "$0" > args.txt`}
	fa.push(t, launch(task))
	fa.waitState(t, "t1", mesos.TaskFinished)
	if got := waitFile(t, filepath.Join(x.sandbox, "args.txt")); got != "custom-argv0\n" {
		t.Errorf("args %q", got)
	}
}

func TestKillTerminates(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	fa.setCapabilities(mesos.CapTaskKillingState)
	x := startExec(t, fa, execOpts{mode: "command", env: map[string]string{EnvShutdownGracePeriod: "10s"}})
	task := shellTask("t1", "sleep 100")
	// The KILL's policy wins over the 10s from the environment.
	fa.push(t, launch(task))
	fa.waitState(t, "t1", mesos.TaskRunning)
	start := time.Now()
	ev := kill("t1")
	ev.Kill.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(5 * time.Second)}}
	fa.push(t, ev)
	st := fa.waitState(t, "t1", mesos.TaskKilled)
	// sleep dies of the SIGTERM, long before the grace period ends.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("TASK_KILLED after %v", d)
	}
	if st.Message != "Command terminated with signal Terminated" {
		t.Errorf("message %q", st.Message)
	}
	wantStates(t, fa, "t1", mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling, mesos.TaskKilled)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// A task that ignores SIGTERM is SIGKILLed once the grace period (the
// task's kill policy, 200ms) is over; without TASK_KILLING_STATE there is
// no TASK_KILLING.
func TestKillEscalatesAfterGrace(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command", env: map[string]string{EnvShutdownGracePeriod: "10s"}})
	const grace = 200 * time.Millisecond
	task := shellTask("t1", `trap '' TERM; echo ready > ready; sleep 100`)
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(grace)}}
	fa.push(t, launch(task))
	waitFile(t, filepath.Join(x.sandbox, "ready"))
	start := time.Now()
	fa.push(t, kill("t1"))
	st := fa.waitState(t, "t1", mesos.TaskKilled)
	if d := time.Since(start); d < grace || d > grace+4*time.Second {
		t.Errorf("TASK_KILLED after %v, want just after the %v grace period", d, grace)
	}
	if st.Message != "Command terminated with signal Killed" {
		t.Errorf("message %q", st.Message)
	}
	wantStates(t, fa, "t1", mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilled)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// KILL reaches the whole process group: a background grandchild that
// ignores SIGTERM dies too.
func TestKillReachesGrandchildren(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", `(trap '' TERM; sleep 100) & echo $! > child.pid; wait`)))
	pid := readPid(t, filepath.Join(x.sandbox, "child.pid"))
	fa.waitState(t, "t1", mesos.TaskRunning)
	fa.push(t, kill("t1"))
	fa.waitState(t, "t1", mesos.TaskKilled)
	waitGone(t, pid)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// When the task's main process ends, what it left behind is killed.
func TestLeftoversKilledOnExit(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", `sleep 100 & echo $! > child.pid`)))
	fa.waitState(t, "t1", mesos.TaskFinished)
	waitGone(t, readPid(t, filepath.Join(x.sandbox, "child.pid")))
	x.wait(t)
}

func TestKillUnknownOrEndedTaskIgnored(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	fa.setAutoAck(false)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, kill("nope"))
	fa.push(t, launch(shellTask("t1", "true")))
	fa.waitState(t, "t1", mesos.TaskFinished)
	fa.push(t, kill("t1"))
	fa.push(t, kill("nope"))
	for _, u := range fa.allUpdates() {
		fa.ack(t, u)
	}
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	wantStates(t, fa, "t1", mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFinished)
	wantStates(t, fa, "nope")
}

func TestPortsEnvironment(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	ports, err := core.NewRanges([]core.Range{{Begin: 31000, End: 31001}, {Begin: 31005, End: 31005}})
	if err != nil {
		t.Fatal(err)
	}
	task := shellTask("t1", "env > env.txt")
	task.Resources = core.Resources{
		{Name: "cpus", Type: core.Scalar, Scalar: core.Units(1)},
		{Name: "ports", Type: core.RangesType, Ranges: ports},
	}
	task.Command.Environment = &mesos.Environment{Variables: []mesos.Variable{{Name: "GREETING", Value: "hello"}}}
	fa.push(t, launch(task))
	fa.waitState(t, "t1", mesos.TaskFinished)
	env := map[string]string{}
	for _, line := range strings.Split(waitFile(t, filepath.Join(x.sandbox, "env.txt")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	want := map[string]string{
		"PORT0": "31000", "PORT1": "31001", "PORT2": "31005",
		"PORTS": "31000,31001,31005", "PORT": "31000",
		"MESOS_TASK_ID": "t1", "GREETING": "hello",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["PORT3"]; ok {
		t.Errorf("PORT3 is set")
	}
	if got, _ := filepath.EvalSymlinks(env["PWD"]); got != mustEval(t, x.sandbox) {
		t.Errorf("cwd %q, want the sandbox %q", env["PWD"], x.sandbox)
	}
	x.wait(t)
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSecondLaunchRejected(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", "sleep 100")))
	fa.waitState(t, "t1", mesos.TaskRunning)
	fa.push(t, launch(shellTask("t2", "true")))
	if st := fa.waitState(t, "t2", mesos.TaskFailed); !strings.Contains(st.Message, "multiple tasks") {
		t.Errorf("message %q", st.Message)
	}
	fa.push(t, kill("t1"))
	fa.waitState(t, "t1", mesos.TaskKilled)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// ---- acknowledgements and reconnection ----

// With checkpointing, a broken stream is followed by a new SUBSCRIBE that
// carries every update the agent has not acknowledged, and the tasks none
// of whose updates were acknowledged.
func TestResendUnackedOnResubscribe(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	fa.setAutoAck(false)
	x := startExec(t, fa, execOpts{mode: "command", env: map[string]string{
		EnvCheckpoint: "1", EnvRecoveryTimeout: "10secs", EnvSubscriptionBackoffMax: "50ms",
	}})
	first := fa.waitSubscribes(t, 1)
	if s := first.Subscribe; s == nil || len(s.UnacknowledgedUpdates)+len(s.UnacknowledgedTasks) != 0 {
		t.Fatalf("first SUBSCRIBE carries %+v", s)
	}
	fa.push(t, launch(shellTask("t1", "sleep 100")))
	fa.waitState(t, "t1", mesos.TaskRunning)

	// Nothing acknowledged: both updates and the task travel.
	fa.dropStream(t)
	second := fa.waitSubscribes(t, 2).Subscribe
	if got := statesOf(second.UnacknowledgedUpdates); !slices.Equal(got, []mesos.TaskState{mesos.TaskStarting, mesos.TaskRunning}) {
		t.Fatalf("second SUBSCRIBE updates %v", got)
	}
	if len(second.UnacknowledgedTasks) != 1 || second.UnacknowledgedTasks[0].TaskID.Value != "t1" {
		t.Fatalf("second SUBSCRIBE tasks %+v", second.UnacknowledgedTasks)
	}
	for i, u := range second.UnacknowledgedUpdates {
		if orig := fa.allUpdates()[i]; string(orig.UUID) != string(u.Status.UUID) {
			t.Errorf("resent update %d has a new uuid", i)
		}
	}

	// STARTING acknowledged: only RUNNING travels, and the task is
	// acknowledged.
	fa.ack(t, second.UnacknowledgedUpdates[0].Status)
	// The ACKNOWLEDGED is in the stream before the KILL; once the KILL's
	// TASK_KILLED arrives, the executor has seen the ACKNOWLEDGED too.
	fa.push(t, kill("t1"))
	killed := fa.waitState(t, "t1", mesos.TaskKilled)
	fa.dropStream(t)
	third := fa.waitSubscribes(t, 3).Subscribe
	if got := statesOf(third.UnacknowledgedUpdates); !slices.Equal(got, []mesos.TaskState{mesos.TaskRunning, mesos.TaskKilled}) {
		t.Fatalf("third SUBSCRIBE updates %v", got)
	}
	if len(third.UnacknowledgedTasks) != 0 {
		t.Fatalf("third SUBSCRIBE tasks %+v", third.UnacknowledgedTasks)
	}
	if code := pollCode(x); code >= 0 {
		t.Fatalf("executor exited (%d) before the terminal update was acknowledged", code)
	}
	fa.ack(t, killed)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func statesOf(us []mesos.Update) []mesos.TaskState {
	var out []mesos.TaskState
	for _, u := range us {
		out = append(out, u.Status.State)
	}
	return out
}

// pollCode returns the exit code if the executor has exited, else -1.
func pollCode(x *testExec) int {
	select {
	case c := <-x.code:
		x.code <- c
		return c
	default:
		return -1
	}
}

// Updates made while disconnected go out in the next SUBSCRIBE, not as
// separate calls.
func TestUpdatesWhileDisconnected(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command", env: map[string]string{
		EnvCheckpoint: "true", EnvRecoveryTimeout: "10secs", EnvSubscriptionBackoffMax: "50ms",
	}})
	fifo := filepath.Join(x.sandbox, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	fa.push(t, launch(shellTask("t1", `read line < fifo; exit $line`)))
	fa.waitState(t, "t1", mesos.TaskRunning)

	fa.setRefuse(true)
	fa.dropStream(t)
	// A refused SUBSCRIBE shows the executor knows it is disconnected.
	fa.waitFor(t, "a refused SUBSCRIBE", func() bool { return len(fa.refused) > 0 })
	// Let the task end while the agent is away: opening the FIFO for
	// writing waits for the task to open it for reading.
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("7\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fa.waitFor(t, "a SUBSCRIBE carrying TASK_FAILED", func() bool {
		for _, c := range fa.refused {
			for _, u := range c.Subscribe.UnacknowledgedUpdates {
				if u.Status.State == mesos.TaskFailed && u.Status.Message == "Command exited with status 7" {
					return true
				}
			}
		}
		return false
	})
	fa.setRefuse(false)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	// Acknowledged through the SUBSCRIBE; never sent as an UPDATE call.
	wantStates(t, fa, "t1", mesos.TaskStarting, mesos.TaskRunning)
}

// Without checkpointing, losing the agent kills the tasks and exits 1.
func TestAgentLostWithoutCheckpoint(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", `echo $$ > task.pid; exec sleep 100`)))
	pid := readPid(t, filepath.Join(x.sandbox, "task.pid"))
	fa.waitState(t, "t1", mesos.TaskRunning)
	fa.dropStream(t)
	if code := x.wait(t); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	waitGone(t, pid)
}

// With checkpointing, an agent that does not come back within the
// recovery timeout is given up on.
func TestRecoveryTimeout(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command", env: map[string]string{
		EnvCheckpoint: "1", EnvRecoveryTimeout: "300ms", EnvSubscriptionBackoffMax: "50ms",
	}})
	fa.push(t, launch(shellTask("t1", `echo $$ > task.pid; exec sleep 100`)))
	pid := readPid(t, filepath.Join(x.sandbox, "task.pid"))
	fa.waitState(t, "t1", mesos.TaskRunning)
	fa.setRefuse(true)
	start := time.Now()
	fa.dropStream(t)
	if code := x.wait(t); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the recovery timeout", d)
	}
	waitGone(t, pid)
	fa.mu.Lock()
	n := len(fa.refused)
	fa.mu.Unlock()
	if n < 2 {
		t.Errorf("%d SUBSCRIBE retries within the recovery timeout, want several", n)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "command"})
	fa.push(t, launch(shellTask("t1", `trap '' TERM; echo ready > ready; sleep 100`)))
	waitFile(t, filepath.Join(x.sandbox, "ready"))
	fa.push(t, mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
	st := fa.waitState(t, "t1", mesos.TaskKilled)
	if st.Message != "Command terminated with signal Killed" {
		t.Errorf("message %q", st.Message)
	}
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// SIGTERM to the executor shuts it down as SHUTDOWN does.
func TestSignalShutsDown(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	sigs := make(chan os.Signal, 1)
	x := startExec(t, fa, execOpts{mode: "command", signals: sigs})
	fa.push(t, launch(shellTask("t1", "sleep 100")))
	fa.waitState(t, "t1", mesos.TaskRunning)
	sigs <- syscall.SIGTERM
	fa.waitState(t, "t1", mesos.TaskKilled)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func TestShutdownWithoutTasks(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "default"})
	fa.push(t, mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// ---- default executor ----

// When one task of a group fails, the rest of the group is killed.
func TestTaskGroupFailureKillsSiblings(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "default"})
	fa.push(t, launchGroup(
		shellTask("long", `echo started; echo oops >&2; echo $MESOS_SANDBOX > sandbox.txt; echo ready > ready; exec sleep 100`),
		shellTask("bad", `while [ ! -e ../long/ready ]; do :; done; exit 1`),
	))
	if st := fa.waitState(t, "bad", mesos.TaskFailed); st.Message != "Command exited with status 1" {
		t.Errorf("bad: message %q", st.Message)
	}
	if st := fa.waitState(t, "long", mesos.TaskKilled); st.Message != "Command terminated with signal Terminated" {
		t.Errorf("long: message %q", st.Message)
	}
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	dir := filepath.Join(x.sandbox, "tasks", "long")
	for name, want := range map[string]string{"stdout": "started\n", "stderr": "oops\n", "sandbox.txt": dir + "\n"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s: %q, want %q", name, b, want)
		}
	}
	wantStates(t, fa, "long", mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilled)
}

// Several groups may arrive; a task that finishes leaves its siblings
// alone, and the executor exits once every task ended.
func TestTaskGroups(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "default"})
	fa.push(t, launchGroup(shellTask("a", "true"), shellTask("b", "echo ready > ready; exec sleep 100")))
	fa.waitState(t, "a", mesos.TaskFinished)
	waitFile(t, filepath.Join(x.sandbox, "tasks", "b", "ready"))
	fa.push(t, launchGroup(shellTask("c", "true")))
	fa.waitState(t, "c", mesos.TaskFinished)
	if code := pollCode(x); code >= 0 {
		t.Fatalf("executor exited (%d) with task b running", code)
	}
	fa.push(t, kill("b"))
	fa.waitState(t, "b", mesos.TaskKilled)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func TestTaskGroupBadTaskID(t *testing.T) {
	t.Parallel()
	fa := newFakeAgent(t)
	x := startExec(t, fa, execOpts{mode: "default"})
	fa.push(t, launchGroup(shellTask("ok", "sleep 100"), shellTask("..", "true")))
	if st := fa.waitState(t, "..", mesos.TaskFailed); st.Reason != mesos.ReasonCommandExecutorFailed {
		t.Errorf("reason %q", st.Reason)
	}
	fa.waitState(t, "ok", mesos.TaskKilled)
	if code := x.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// ---- configuration ----

func TestBadEnvironment(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		EnvFrameworkID: "fw", EnvExecutorID: "ex", EnvSandbox: "/tmp", EnvAgentEndpoint: "127.0.0.1:5051",
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string // changes to good; "" deletes
		want string
	}{
		{"no mode", nil, nil, "--mode is required"},
		{"bad mode", []string{"--mode=docker"}, nil, `--mode="docker"`},
		{"extra args", []string{"--mode=command", "x"}, nil, "unexpected arguments"},
		{"no framework", []string{"--mode=command"}, map[string]string{EnvFrameworkID: ""}, "MESOS_FRAMEWORK_ID is not set"},
		{"no executor", []string{"--mode=command"}, map[string]string{EnvExecutorID: ""}, "MESOS_EXECUTOR_ID is not set"},
		{"no endpoint", []string{"--mode=command"}, map[string]string{EnvAgentEndpoint: ""}, "MESOS_AGENT_ENDPOINT is not set"},
		{"bad endpoint", []string{"--mode=command"}, map[string]string{EnvAgentEndpoint: "http://agent"}, "want host:port"},
		{"bad port", []string{"--mode=command"}, map[string]string{EnvAgentEndpoint: "agent:http"}, "bad port"},
		{"no sandbox", []string{"--mode=command"}, map[string]string{EnvSandbox: ""}, "MESOS_SANDBOX (or MESOS_DIRECTORY) is not set"},
		{"bad checkpoint", []string{"--mode=command"}, map[string]string{EnvCheckpoint: "yes"}, "MESOS_CHECKPOINT"},
		{"checkpoint without recovery", []string{"--mode=command"}, map[string]string{EnvCheckpoint: "1", EnvSubscriptionBackoffMax: "1secs"}, "MESOS_RECOVERY_TIMEOUT is not set"},
		{"checkpoint without backoff", []string{"--mode=command"}, map[string]string{EnvCheckpoint: "1", EnvRecoveryTimeout: "15mins"}, "MESOS_SUBSCRIPTION_BACKOFF_MAX is not set"},
		{"zero backoff", []string{"--mode=command"}, map[string]string{EnvCheckpoint: "1", EnvRecoveryTimeout: "15mins", EnvSubscriptionBackoffMax: "0secs"}, "must be positive"},
		{"bad grace", []string{"--mode=command"}, map[string]string{EnvShutdownGracePeriod: "5 parsecs"}, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"},
		{"negative grace", []string{"--mode=command"}, map[string]string{EnvShutdownGracePeriod: "-5s"}, "negative"},
	}
	for _, c := range cases {
		env := maps(good, c.env)
		getenv := func(k string) string { return env[k] }
		var stderr syncBuffer
		code := run(t.Context(), c.args, getenv, runOptions{stderr: &stderr})
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, code, stderr.String(), c.want)
		}
	}
	// Main itself (which writes to the real stderr) agrees.
	if code := Main([]string{"--mode=command"}, func(string) string { return "" }); code != 2 {
		t.Errorf("Main exit %d, want 2", code)
	}
}

func maps(base, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func TestConfig(t *testing.T) {
	env := map[string]string{
		EnvFrameworkID: "fw", EnvExecutorID: "ex", EnvDirectory: "/sb", EnvAgentEndpoint: "10.0.0.1:5051",
		EnvCheckpoint: "1", EnvRecoveryTimeout: "15mins", EnvSubscriptionBackoffMax: "2secs",
		EnvShutdownGracePeriod: "3secs", EnvAuthToken: "tok",
	}
	c, err := parseConfig([]string{"--mode=default"}, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config{mode: ModeDefault, frameworkID: "fw", executorID: "ex", sandbox: "/sb", agentEndpoint: "10.0.0.1:5051",
		authToken: "tok", checkpoint: true, recoveryTimeout: 15 * time.Minute, backoffMax: 2 * time.Second, shutdownGrace: 3 * time.Second}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	delete(env, EnvShutdownGracePeriod)
	env[EnvCheckpoint] = "0"
	c, err = parseConfig([]string{"--mode", "command"}, func(k string) string { return env[k] }, nil)
	if err != nil || c.checkpoint || c.shutdownGrace != DefaultShutdownGracePeriod || c.mode != ModeCommand {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestTaskEnv(t *testing.T) {
	ports, _ := core.NewRanges([]core.Range{{Begin: 5, End: 6}})
	task := &mesos.TaskInfo{
		TaskID:    mesos.ID{Value: "t"},
		Resources: core.Resources{{Name: "ports", Type: core.RangesType, Ranges: ports}},
		Command: &mesos.CommandInfo{Value: "x", Environment: &mesos.Environment{Variables: []mesos.Variable{
			{Name: "A", Value: "framework"}, {Name: "PORT", Value: "80"}, {Name: "S", Type: "SECRET"},
		}}},
	}
	got := taskEnv([]string{"A=executor", "B=1", EnvAuthToken + "=secret", "MESOS_TASK_ID=old"}, task, "C=extra")
	want := []string{"A=framework", "B=1", "MESOS_TASK_ID=t", "C=extra", "PORT0=5", "PORT1=6", "PORTS=5,6", "PORT=80"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestDescribeSignal(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{
		syscall.SIGKILL: "Killed", syscall.SIGTERM: "Terminated", syscall.SIGINT: "Interrupt", syscall.Signal(99): "signal 99",
	} {
		if got := signalName(sig); got != want {
			t.Errorf("signalName(%d) = %q, want %q", sig, got, want)
		}
	}
}
