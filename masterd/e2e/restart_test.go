package e2e

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestMasterRestartKeepsAgents is acceptance 7a: a standalone master
// restarted with --registry=pebble gets its agents back, with their
// running tasks, and the framework re-subscribes to find them. Three
// agents, one task on each:
//
//   - agent0 stays up: it re-registers at once and its task is kept.
//   - agent1 is stopped (SIGSTOP) across the restart. The new master
//     knows from the registry that it was admitted: /master/state lists
//     it in recovered_slaves, and an explicit reconciliation of its task
//     gets no answer (proved by order, as in TestRegistryKeepsTasks).
//     Resumed, it comes back under its id, with its task RUNNING.
//   - agent2 is marked unreachable for missing its pings (SIGSTOP)
//     before the restart, then killed. Its task was reported TASK_LOST
//     to the framework, which is not partition-aware. Started again after
//     the restart, it recovers its id and its (checkpointed) executor
//     and re-registers under its id; the new master knows from the
//     registry that it was unreachable, takes it back, and kills the
//     task it had reported lost.
//
// An in_memory registry fails this test: the new master would expect no
// agent back, and would take agent2's task back as running.
func TestMasterRestartKeepsAgents(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 3, masterFlags: []string{"--registry=pebble",
		"--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=3"}})
	agentIDs := make([]string, len(c.agents)) // by index in c.agents
	index := map[string]int{}                 // agent id -> index
	for i, p := range c.agents {
		agentIDs[i] = getJSON(t, "http://"+p.addr+"/state")["id"].(string)
		index[agentIDs[i]] = i
	}
	info := newFrameworkInfo("survivor")
	info.FailoverTimeout = 300
	info.Checkpoint = true // agent2's executor outlives its agent
	f := subscribe(t, c.master.addr, info)
	taskNames := []string{"kept", "paused", "removed"} // the task on agent i
	launched := map[int]bool{}
	for len(launched) < len(c.agents) {
		for _, o := range f.nextOffers(20 * time.Second) {
			i := index[o.AgentID.Value]
			if launched[i] {
				f.decline([]mesos.Offer{o}, 0)
				continue
			}
			launched[i] = true
			f.launch(o, []mesos.TaskInfo{commandTask(taskNames[i], o, "cpus:0.5;mem:32", "sleep 600")}, 0)
		}
	}
	for _, name := range taskNames {
		f.waitState(name, mesos.TaskRunning, 30*time.Second)
	}
	removedPID := executorPIDs(t, c.agents[2].addr)["removed"]
	if removedPID == 0 {
		t.Fatal("no executor pid for the task on agent2")
	}

	// agent2 misses its pings and is marked unreachable, before the
	// restart.
	c.agents[2].signal(syscall.SIGSTOP)
	lost := f.waitState("removed", mesos.TaskLost, 20*time.Second)
	if lost.Reason != mesos.ReasonAgentRemoved || !strings.Contains(lost.Message, "health check timed out") {
		t.Fatalf("agent2's task: %s %s (%s), want TASK_LOST %s for missed pings", lost.State, lost.Reason, lost.Message, mesos.ReasonAgentRemoved)
	}
	c.agents[2].kill()
	if !alive(removedPID) {
		t.Fatal("agent2's executor died with its agent")
	}
	f.close()

	port := c.master.addr[strings.LastIndex(c.master.addr, ":")+1:]
	c.master.kill() // SIGKILL: no goodbye
	// Stopped while no master runs, agent1 cannot re-register before the
	// new master has recovered.
	c.agents[1].signal(syscall.SIGSTOP)
	c.startMaster(port)
	c.waitAgents(1)
	st := getJSON(t, c.url("/master/state"))
	if ids := agentIDsOf(st["slaves"]); !slices.Equal(ids, []string{agentIDs[0]}) {
		t.Fatalf("agents after the restart %v, want agent0 %s back with its id", ids, agentIDs[0])
	}
	if ids := agentIDsOf(st["recovered_slaves"]); !slices.Equal(ids, []string{agentIDs[1]}) {
		t.Fatalf("recovered_slaves %v, want only the stopped agent1 %s (not the unreachable agent2 %s)", ids, agentIDs[1], agentIDs[2])
	}

	g := &framework{t: t, master: c.master.addr, info: info, id: f.id}
	g.open(nil)
	t.Cleanup(g.close)
	// Reconcile the task on the missing agent1, then the one on agent0.
	// Events keep the order of the calls, so if agent0's task answers
	// first, none was sent for agent1's.
	reconcile := func(task, agent string) {
		g.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: []mesos.ReconcileTask{
			{TaskID: mesos.ID{Value: task}, AgentID: &mesos.ID{Value: agent}}}}})
	}
	isReconciled := func(task string) func(*mesos.Event) bool {
		return func(e *mesos.Event) bool {
			return e.Type == mesos.EventUpdate && e.Update.Status.Reason == mesos.ReasonReconciliation &&
				(task == "" && (e.Update.Status.TaskID.Value == "paused" || e.Update.Status.TaskID.Value == "kept") ||
					e.Update.Status.TaskID.Value == task)
		}
	}
	reconcile("paused", agentIDs[1])
	reconcile("kept", agentIDs[0])
	if s := g.next(20*time.Second, isReconciled("")).Update.Status; s.TaskID.Value != "kept" || s.State != mesos.TaskRunning {
		t.Fatalf("reconciliation with agent1 expected back answered %s %s, want nothing for paused and RUNNING for kept",
			s.TaskID.Value, s.State)
	}

	// agent1 resumes and comes back under its id with its task; agent2
	// starts again and comes back under its id, its lost task killed.
	c.agents[1].signal(syscall.SIGCONT)
	c.restartAgent(2)
	eventually(t, 30*time.Second, "agent1 and agent2 back under their ids, agent2's task killed", func() bool {
		ids := agentIDsOf(getJSON(t, c.url("/master/slaves"))["slaves"])
		return slices.Equal(ids, slices.Sorted(slices.Values(agentIDs))) && !alive(removedPID)
	})
	if st := getJSON(t, c.url("/master/state")); len(st["recovered_slaves"].([]any)) != 0 || num(st["unreachable_slaves"]) != 0 {
		t.Fatalf("recovered_slaves %v, unreachable_slaves %v after the agents came back", st["recovered_slaves"], st["unreachable_slaves"])
	}
	reconcile("paused", agentIDs[1])
	if s := g.next(20*time.Second, isReconciled("paused")).Update.Status; s.State != mesos.TaskRunning {
		t.Fatalf("agent1's task after it came back: %s (%s)", s.State, s.Message)
	}
	running := map[string]bool{}
	for _, task := range getJSON(t, c.url("/master/tasks"))["tasks"].([]any) {
		tm := task.(map[string]any)
		running[tm["id"].(string)] = tm["state"] == string(mesos.TaskRunning)
	}
	if !running["kept"] || !running["paused"] || running["removed"] {
		t.Fatalf("tasks running after the restart: %v, want kept and paused", running)
	}
	for _, fw := range []*framework{f, g} {
		fw.mu.Lock()
		for _, ev := range fw.log {
			if ev.Type == mesos.EventUpdate && ev.Update.Status.TaskID.Value != "removed" && ev.Update.Status.State.Terminal() {
				t.Errorf("task %s went %s (%s)", ev.Update.Status.TaskID.Value, ev.Update.Status.State, ev.Update.Status.Message)
			}
		}
		fw.mu.Unlock()
	}
}

// agentIDsOf returns the sorted ids of a list of agents from /master/state.
func agentIDsOf(list any) []string {
	var ids []string
	l, _ := list.([]any)
	for _, a := range l {
		ids = append(ids, a.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// TestLostAgent is acceptance 6 of the HA issue: an agent that stops
// answering pings (SIGSTOP) is marked unreachable after agent_ping_timeout
// × max_agent_ping_timeouts; a framework sees TASK_LOST and FAILURE, a
// PARTITION_AWARE one TASK_UNREACHABLE. Woken up, the agent comes back
// under its id, as in Mesos since 1.2: the task reported lost is killed,
// the partition-aware framework's task is taken back, still running.
func TestLostAgent(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1,
		masterFlags: []string{"--agent_ping_timeout=300ms", "--max_agent_ping_timeouts=3"}})
	f := subscribe(t, c.master.addr, newFrameworkInfo("watcher"))
	launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("stranded", o, "cpus:0.5;mem:32", "sleep 600") })
	running := f.waitState("stranded", mesos.TaskRunning, 20*time.Second)
	oldID := running.AgentID.Value
	paInfo := newFrameworkInfo("partition-aware")
	paInfo.Capabilities = []mesos.Capability{{Type: mesos.CapPartitionAware}}
	pa := subscribe(t, c.master.addr, paInfo)
	launchOne(pa, func(o mesos.Offer) mesos.TaskInfo { return commandTask("aware", o, "cpus:0.5;mem:32", "sleep 600") })
	pa.waitState("aware", mesos.TaskRunning, 20*time.Second)
	pids := executorPIDs(t, c.agents[0].addr)
	if len(pids) != 2 || pids["stranded"] == 0 || pids["aware"] == 0 {
		t.Fatalf("executor pids %v, want stranded's and aware's", pids)
	}

	stopped := time.Now()
	c.agents[0].signal(syscall.SIGSTOP)
	lost := f.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "stranded"
	}).Update.Status
	took := time.Since(stopped)
	if lost.State != mesos.TaskLost || lost.Reason != mesos.ReasonAgentRemoved {
		t.Fatalf("after SIGSTOP: %s %s %s", lost.State, lost.Reason, lost.Message)
	}
	if took < 900*time.Millisecond {
		t.Fatalf("agent unreachable after %v, before 3 × 300ms of missed pings", took)
	}
	unreachable := pa.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "aware"
	}).Update.Status
	if unreachable.State != mesos.TaskUnreachable || unreachable.Reason != mesos.ReasonAgentRemoved || unreachable.UnreachableTime == nil {
		t.Fatalf("partition-aware framework after SIGSTOP: %s %s %s (unreachable_time %v), want TASK_UNREACHABLE %s with an unreachable_time",
			unreachable.State, unreachable.Reason, unreachable.Message, unreachable.UnreachableTime, mesos.ReasonAgentRemoved)
	}
	fail := f.next(10*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventFailure })
	if fail.Failure.AgentID.Val() != oldID {
		t.Fatalf("FAILURE names agent %q, want %s", fail.Failure.AgentID.Val(), oldID)
	}
	t.Logf("agent unreachable %v after SIGSTOP: TASK_LOST (%s) and FAILURE", took.Round(time.Millisecond), lost.Message)
	if n := num(getJSON(t, c.url("/metrics/snapshot"))["master/slave_removals"]); n != 1 {
		t.Fatalf("master/slave_removals = %v", n)
	}

	if st := getJSON(t, c.url("/master/state")); num(st["unreachable_slaves"]) != 1 {
		t.Fatalf("unreachable_slaves %v, want the stopped agent", st["unreachable_slaves"])
	}

	c.agents[0].signal(syscall.SIGCONT)
	eventually(t, 20*time.Second, "the agent back under its id, the lost task killed", func() bool {
		slaves := getJSON(t, c.url("/master/slaves"))["slaves"].([]any)
		return len(slaves) == 1 && slaves[0].(map[string]any)["id"] == oldID && !alive(pids["stranded"])
	})
	if !alive(pids["aware"]) {
		t.Fatal("the partition-aware framework's task was killed when its agent came back")
	}
	pa.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: []mesos.ReconcileTask{
		{TaskID: mesos.ID{Value: "aware"}, AgentID: &mesos.ID{Value: oldID}}}}})
	back := pa.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "aware" && e.Update.Status.Reason == mesos.ReasonReconciliation
	}).Update.Status
	if back.State != mesos.TaskRunning {
		t.Fatalf("the partition-aware task after its agent came back: %s (%s), want TASK_RUNNING", back.State, back.Message)
	}
}
