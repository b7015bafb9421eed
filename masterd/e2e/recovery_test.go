package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"meseta/core/mesos"
)

func executorPIDs(t *testing.T, agent string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range getJSON(t, "http://"+agent+"/state")["executors"].([]any) {
		em := e.(map[string]any)
		out[em["id"].(string)] = int(num(em["pid"]))
	}
	return out
}

// TestAgentRestartKeepsTasks is HA acceptance 3: kill -9 an agent with
// running tasks of a checkpointing framework, then restart it. The tasks
// keep running throughout, the agent re-registers with the same id, and
// an update produced while it was down reaches the framework once,
// after which (acknowledged) it is not sent again.
func TestAgentRestartKeepsTasks(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	info := newFrameworkInfo("checkpointer")
	info.Checkpoint = true
	info.FailoverTimeout = 120
	f := subscribe(t, c.master.addr, info)
	trigger := filepath.Join(c.dir, "finish-now")
	offers := f.nextOffers(10 * time.Second)
	o := offers[0]
	f.launch(o, []mesos.TaskInfo{
		commandTask("steady", o, "cpus:0.5;mem:32", "sleep 600"),
		commandTask("waiter", o, "cpus:0.5;mem:32", "while [ ! -f "+trigger+" ]; do sleep 0.05; done"),
	}, 0)
	f.waitState("steady", mesos.TaskRunning, 20*time.Second)
	f.waitState("waiter", mesos.TaskRunning, 20*time.Second)
	before := executorPIDs(t, c.agents[0].addr)
	if len(before) != 2 {
		t.Fatalf("executor pids %v, want 2", before)
	}
	for _, pid := range before {
		requireOwnSession(t, pid, c.agents[0])
	}
	agentID := o.AgentID.Value

	c.agents[0].kill() // kill -9: no goodbye, executors keep running
	for id, pid := range before {
		if !alive(pid) {
			t.Fatalf("executor %s (pid %d) died with its agent", id, pid)
		}
	}
	// While the agent is down, waiter finishes: its executor holds the
	// update until it can hand it to an agent.
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.restartAgent(0)
	eventually(t, 20*time.Second, "the agent back with its old id", func() bool {
		slaves := getJSON(t, c.url("/master/slaves"))["slaves"].([]any)
		return len(slaves) == 1 && slaves[0].(map[string]any)["id"] == agentID &&
			slaves[0].(map[string]any)["active"] == true
	})
	// The finished task's update arrives, once; no other terminal update.
	// Updates passed over on the way are acknowledged: an ack the killed
	// agent never got makes it send that update again, and it holds the
	// task's later updates until that one is acknowledged.
	var uuid []byte
	ev := f.next(30*time.Second, func(e *mesos.Event) bool {
		if e.Type != mesos.EventUpdate {
			return false
		}
		s := e.Update.Status
		if s.TaskID.Value == "steady" && s.State.Terminal() {
			t.Fatalf("steady ended %s (%s) across the agent restart", s.State, s.Message)
		}
		if s.TaskID.Value == "waiter" && s.State.Terminal() {
			return true
		}
		f.ack(&s)
		return false
	})
	if s := ev.Update.Status; s.State != mesos.TaskFinished {
		t.Fatalf("waiter: %s %s", s.State, s.Message)
	}
	uuid = ev.Update.Status.UUID
	f.ack(&ev.Update.Status)
	// After the ack, it is not delivered again (retries run every second).
	deadline := time.After(3 * time.Second)
	for done := false; !done; {
		select {
		case e := <-f.events:
			if e.Type == mesos.EventUpdate && string(e.Update.Status.UUID) == string(uuid) {
				t.Fatal("the acknowledged update was delivered again")
			}
			if e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "steady" && e.Update.Status.State.Terminal() {
				t.Fatalf("steady ended %s", e.Update.Status.State)
			}
		case <-deadline:
			done = true
		}
	}
	// steady's executor is the same process, and reconciliation agrees.
	after := executorPIDs(t, c.agents[0].addr)
	if after["steady"] != before["steady"] || !alive(before["steady"]) {
		t.Fatalf("steady's executor changed: before %v, after %v", before, after)
	}
	f.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{}})
	rec := f.next(10*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.Reason == mesos.ReasonReconciliation
	})
	if s := rec.Update.Status; s.TaskID.Value != "steady" || s.State != mesos.TaskRunning {
		t.Fatalf("reconciliation after the restart: %s %s", s.TaskID.Value, s.State)
	}
}

// launchCheckpointed starts a checkpointing framework with one sleep task
// on agent 0 and returns it, with the executor's pid.
func launchCheckpointed(t *testing.T, c *cluster, task string) (*framework, int) {
	t.Helper()
	info := newFrameworkInfo("ckpt-" + task)
	info.Checkpoint = true
	info.FailoverTimeout = 120
	f := subscribe(t, c.master.addr, info)
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask(task, o, "cpus:0.5;mem:32", "sleep 600") })
	f.waitState(task, mesos.TaskRunning, 20*time.Second)
	pid := executorPIDs(t, c.agents[0].addr)[task]
	if pid == 0 {
		t.Fatal("no executor pid")
	}
	return f, pid
}

// TestExecutorKilled is HA acceptance 7: kill -9 an executor; its task
// fails and the framework hears FAILURE for the executor.
func TestExecutorKilled(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f, pid := launchCheckpointed(t, c, "victim")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s := f.waitState("victim", mesos.TaskFailed, 20*time.Second)
	if s.Reason != mesos.ReasonExecutorTerminated {
		t.Errorf("reason %s (%s)", s.Reason, s.Message)
	}
	ev := f.next(10*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventFailure })
	if ev.Failure.ExecutorID.Val() != "victim" || ev.Failure.Status == nil || *ev.Failure.Status == 0 {
		t.Fatalf("FAILURE: %+v", ev.Failure)
	}
}

// TestAgentCleanup is HA acceptance 4: an agent restarted with
// --recover=cleanup kills the executors it finds, tells the framework
// their tasks' fate, and exits.
func TestAgentCleanup(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f, pid := launchCheckpointed(t, c, "doomed")
	c.agents[0].kill()
	if !alive(pid) {
		t.Fatal("the executor died with its agent")
	}
	p := c.restartAgent(0, "--recover=cleanup")
	s := f.waitState("doomed", mesos.TaskKilled, 30*time.Second)
	t.Logf("after --recover=cleanup: %s (%s)", s.State, s.Message)
	eventually(t, 10*time.Second, "the executor gone", func() bool { return !alive(pid) })
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatal("the agent did not exit after --recover=cleanup")
	}
}

// TestAgentNeverReturns is HA acceptance 5: executors of a dead agent
// stop themselves after recovery_timeout.
func TestAgentNeverReturns(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1, agentFlags: []string{"--recovery_timeout=2secs"}})
	_, pid := launchCheckpointed(t, c, "orphan")
	killed := time.Now()
	c.agents[0].kill()
	eventually(t, 20*time.Second, "the orphaned executor to stop itself", func() bool { return !alive(pid) })
	t.Logf("executor stopped %v after its agent died (recovery_timeout 2s)", time.Since(killed).Round(time.Millisecond))
}

// TestCorruptCheckpoint is HA acceptance 9: with a damaged task record,
// the agent refuses to start under --strict=true (naming the record),
// and under --strict=false recovers the readable part: same agent id,
// the undamaged task still running.
func TestCorruptCheckpoint(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	info := newFrameworkInfo("fragile")
	info.Checkpoint = true
	info.FailoverTimeout = 120
	f := subscribe(t, c.master.addr, info)
	o := f.nextOffers(10 * time.Second)[0]
	f.launch(o, []mesos.TaskInfo{
		commandTask("intact", o, "cpus:0.5;mem:32", "sleep 600"),
		commandTask("damaged", o, "cpus:0.5;mem:32", "sleep 600"),
	}, 0)
	f.waitState("intact", mesos.TaskRunning, 20*time.Second)
	f.waitState("damaged", mesos.TaskRunning, 20*time.Second)
	c.agents[0].kill()

	meta := filepath.Join(c.dir, c.agents[0].name, "meta")
	key := "framework/" + f.id + "/task/damaged"
	db, err := pebble.Open(meta, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte(key), []byte("{not json"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	port := c.agents[0].addr[strings.LastIndex(c.agents[0].addr, ":")+1:]
	cmd := exec.Command(bin.agentd, "--master="+c.master.addr, "--ip=127.0.0.1", "--port="+port,
		"--work_dir="+filepath.Join(c.dir, c.agents[0].name), "--resources="+c.opts.agentRes, "--strict=true")
	out, err := runBounded(cmd, 30*time.Second)
	if err == nil || !strings.Contains(out, key) {
		t.Fatalf("--strict=true: exit %v, output does not name %q:\n%s", err, key, out)
	}
	t.Logf("--strict=true refused to start: %s", lastLine(out))
	c.restartAgent(0, "--strict=false")
	eventually(t, 20*time.Second, "the agent back with its id", func() bool {
		slaves := getJSON(t, c.url("/master/slaves"))["slaves"].([]any)
		return len(slaves) == 1 && slaves[0].(map[string]any)["id"] == o.AgentID.Value
	})
	f.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: []mesos.ReconcileTask{
		{TaskID: mesos.ID{Value: "intact"}, AgentID: &o.AgentID}}}})
	ev := f.next(10*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "intact" && e.Update.Status.Reason == mesos.ReasonReconciliation
	})
	if ev.Update.Status.State != mesos.TaskRunning {
		t.Fatalf("intact after a lenient recovery: %s", ev.Update.Status.State)
	}
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// runBounded runs cmd to its end (killing it at the deadline) and returns
// its combined output.
func runBounded(cmd *exec.Cmd, d time.Duration) (string, error) {
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return b.String(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return b.String(), fmt.Errorf("still running after %v", d)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
