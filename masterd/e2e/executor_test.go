package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// TestCustomExecutorEnvironment: a custom executor of a checkpointing
// framework gets all nine MESOS_* variables the issue lists, with values
// that match the agent, its flags and the sandbox; customexec records
// them in its sandbox. It also runs in its own session and process
// group, as every executor does.
func TestCustomExecutorEnvironment(t *testing.T) {
	// Not the defaults (5secs, 15mins), so that the values are seen to
	// come from the flags.
	c := newCluster(t, clusterOpts{agents: 1,
		agentFlags: []string{"--executor_shutdown_grace_period=3secs", "--recovery_timeout=7mins"}})
	info := newFrameworkInfo("env")
	info.Checkpoint = true
	info.FailoverTimeout = 120
	f := subscribe(t, c.master.addr, info)
	trigger := filepath.Join(c.dir, "finish-now")
	o := launchOne(f, func(o mesos.Offer) mesos.TaskInfo {
		return mesos.TaskInfo{Name: "envtask", TaskID: mesos.ID{Value: "envtask"}, AgentID: o.AgentID,
			Resources: mustRes("cpus:0.5;mem:32"),
			Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "env-exec"}, Name: "customexec",
				Command: &mesos.CommandInfo{Value: bin.customexec}, Resources: mustRes("cpus:0.1;mem:32")},
			Data: []byte("while [ ! -f " + trigger + " ]; do sleep 0.05; done")}
	})
	f.waitState("envtask", mesos.TaskRunning, 30*time.Second)
	pid := executorPIDs(t, c.agents[0].addr)["env-exec"]
	if pid == 0 {
		t.Fatal("no pid for the custom executor")
	}
	requireOwnSession(t, pid, c.agents[0])
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.waitState("envtask", mesos.TaskFinished, 30*time.Second)

	runs, _ := filepath.Glob(filepath.Join(c.dir, "agent0/slaves", o.AgentID.Value, "frameworks", f.id, "executors/env-exec/runs/*"))
	runs = slices.DeleteFunc(runs, func(p string) bool { return filepath.Base(p) == "latest" })
	if len(runs) != 1 {
		t.Fatalf("the executor's sandbox: %v, want one run directory", runs)
	}
	sandbox := runs[0]
	b, err := os.ReadFile(filepath.Join(sandbox, "customexec.env"))
	if err != nil {
		t.Fatalf("customexec recorded no environment: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"MESOS_FRAMEWORK_ID":                   f.id,
		"MESOS_EXECUTOR_ID":                    "env-exec",
		"MESOS_DIRECTORY":                      sandbox,
		"MESOS_SANDBOX":                        sandbox,
		"MESOS_AGENT_ENDPOINT":                 c.agents[0].addr,
		"MESOS_CHECKPOINT":                     "1",
		"MESOS_RECOVERY_TIMEOUT":               "7mins",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "3secs",
	} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("%s=%q (set: %v), want %q", k, got, ok, want)
		}
	}
	// Not a flag of the agent: a positive duration in Mesos's form.
	if d, err := core.ParseDuration(env["MESOS_SUBSCRIPTION_BACKOFF_MAX"]); err != nil || d <= 0 {
		t.Errorf("MESOS_SUBSCRIPTION_BACKOFF_MAX=%q: %v, want a positive duration", env["MESOS_SUBSCRIPTION_BACKOFF_MAX"], err)
	}
	if t.Failed() {
		t.Logf("customexec's environment:\n%s", b)
	}
}

// TestDefaultKillGrace: a task that traps SIGTERM, killed without a
// kill_policy, is killed with SIGKILL after the agent's
// --executor_shutdown_grace_period (1secs in these tests), not before and
// not after the 5 s default; TASK_KILLED names the signal.
func TestDefaultKillGrace(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f := subscribe(t, c.master.addr, newFrameworkInfo("stubborn"))
	ready := filepath.Join(c.dir, "trap-set")
	o := launchOne(f, func(o mesos.Offer) mesos.TaskInfo {
		// The file says the trap is set, so the KILL cannot beat it.
		return commandTask("stubborn", o, "cpus:0.5;mem:32",
			"trap 'echo TERM ignored' TERM; touch "+ready+"; while :; do sleep 0.05; done")
	})
	f.waitState("stubborn", mesos.TaskRunning, 20*time.Second)
	eventually(t, 10*time.Second, "the task to set its trap", func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	killed := time.Now()
	f.mustCall(&mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "stubborn"}, AgentID: &o.AgentID}})
	s := f.waitState("stubborn", mesos.TaskKilled, 20*time.Second)
	took := time.Since(killed)
	t.Logf("TASK_KILLED %v after KILL: %q", took.Round(time.Millisecond), s.Message)
	if took < 900*time.Millisecond || took > 4*time.Second {
		t.Errorf("TASK_KILLED %v after KILL, want about the 1s grace period (not the 5s default)", took)
	}
	if !strings.Contains(s.Message, "signal Killed") {
		t.Errorf("TASK_KILLED message %q does not name SIGKILL (\"signal Killed\")", s.Message)
	}
}
