package main

import (
	"log/slog"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// TestAgentMetrics builds an agent of cpus:8;mem:4096 by hand: a custom
// executor (cpus:0.5;mem:64) running a task of cpus:1;mem:256 and
// two that finished (cpus:2 each, freed; their updates wait for
// acknowledgements), a command executor being shut down with a killing
// task of cpus:0.25;mem:32, and a terminated one.
// Used: 0.5 + 1 + 0.25 = 1.75 cpus, 64 + 256 + 32 = 352 MB.
func TestAgentMetrics(t *testing.T) {
	cfg, err := parseFlags([]string{"--master=127.0.0.1:5050", "--work_dir=" + t.TempDir()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(cfg, slog.New(slog.DiscardHandler), core.MustParseResources("cpus:8;mem:4096"), nil, nil)
	a.registered = true
	exec := func(fw, id string, state execState, killing bool, res string) *executorRun {
		ex := &executorRun{key: execKey{fw, id}, state: state, killing: killing, tasks: map[string]*taskRun{}}
		if res != "" {
			ex.info.Resources = core.MustParseResources(res)
		}
		a.executors[ex.key] = ex
		return ex
	}
	task := func(ex *executorRun, id string, state mesos.TaskState, res string) {
		tr := &taskRun{key: taskKey{ex.key.framework, id}, exec: ex, state: state, terminal: state.Terminal(),
			info: mesos.TaskInfo{Resources: core.MustParseResources(res)}}
		a.tasks[tr.key] = tr
		ex.tasks[id] = tr
	}
	custom := exec("f1", "custom", execRunning, false, "cpus:0.5;mem:64")
	task(custom, "t1", mesos.TaskRunning, "cpus:1;mem:256")
	// t2 and t6 finish through the agent's update path, which counts
	// them; t2 is still held (unacknowledged), t6 already gone.
	task(custom, "t2", mesos.TaskRunning, "cpus:2;mem:256")
	task(custom, "t6", mesos.TaskRunning, "cpus:2;mem:256")
	for _, id := range []string{"t2", "t6"} {
		a.updateLocked(a.tasks[taskKey{"f1", id}], mesos.TaskStatus{TaskID: mesos.ID{Value: id}, State: mesos.TaskFinished}, time.Now())
	}
	delete(a.tasks, taskKey{"f1", "t6"})
	delete(custom.tasks, "t6")
	cmd := exec("f2", "t3", execRunning, true, "")
	task(cmd, "t3", mesos.TaskKilling, "cpus:0.25;mem:32")
	exec("f2", "t4", execTerminated, false, "")
	exec("f3", "t5", execLaunching, false, "")

	got := a.metrics()
	for k, want := range map[string]float64{
		"slave/registered": 1, "slave/frameworks_active": 3,
		"slave/executors_registering": 1, "slave/executors_running": 1, "slave/executors_terminating": 1,
		"slave/executors_terminated": 1,
		"slave/tasks_running":        1, "slave/tasks_killing": 1, "slave/tasks_finished": 2, "slave/tasks_staging": 0,
		"slave/tasks_failed": 0,
		"slave/cpus_total":   8, "slave/cpus_used": 1.75, "slave/cpus_percent": 1.75 / 8,
		"slave/mem_total": 4096, "slave/mem_used": 352, "slave/mem_percent": 352.0 / 4096,
		"slave/disk_total": 0, "slave/disk_percent": 0, "slave/gpus_total": 0,
		"slave/status_update_retry_queue": 2,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if !(got["slave/uptime_secs"] > 0) {
		t.Errorf("uptime %v", got["slave/uptime_secs"])
	}
}
