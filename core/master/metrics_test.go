package master

import (
	"fmt"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// runningCluster builds a master with agents agents of cpus:32;mem:262144
// and tasks running tasks of cpus:0.1;mem:32 (TASK_RUNNING, acknowledged),
// of one framework, launched through ACCEPTs of at most 40 tasks.
func runningCluster(tb testing.TB, agents, tasks int) (*Master, time.Time) {
	tb.Helper()
	now := time.Unix(1_800_000_000, 0)
	m := newMasterAt(tb, now)
	res := core.MustParseResources("cpus:32;mem:262144;disk:1048576")
	for i := range agents {
		if _, err := m.SubscribeAgent(nopAgentConn{}, &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
			AgentInfo: mesos.AgentInfo{Hostname: fmt.Sprintf("agent-%05d", i), Resources: res},
			Endpoint:  fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250)}}, now); err != nil {
			tb.Fatal(err)
		}
	}
	c := &countConn{}
	sub, err := m.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{
		FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: "metrics"}}}, now)
	if err != nil {
		tb.Fatal(err)
	}
	fw := &mesos.ID{Value: sub.FrameworkID}
	taskRes := core.MustParseResources("cpus:0.1;mem:32")
	zero := 0.0
	for launched := 0; launched < tasks; {
		o, ok := c.next()
		if !ok {
			now = now.Add(time.Second)
			m.Sweep(now)
			if o, ok = c.next(); !ok {
				tb.Fatalf("no offer after %d tasks", launched)
			}
		}
		n := min(tasks-launched, 40)
		infos := make([]mesos.TaskInfo, n)
		for i := range infos {
			id := fmt.Sprintf("t%d", launched+i)
			infos[i] = mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID, Resources: taskRes,
				Command: &mesos.CommandInfo{Value: "sleep 300"}}
		}
		if err := m.Call(&mesos.Call{FrameworkID: fw, Type: mesos.CallAccept, Accept: &mesos.Accept{
			OfferIDs: []mesos.ID{o.ID}, Filters: &mesos.Filters{RefuseSeconds: &zero},
			Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: infos}}}}}, sub.StreamID, now); err != nil {
			tb.Fatal(err)
		}
		calls := make([]agentapi.Call, n)
		for i := range infos {
			calls[i] = agentapi.Call{Type: agentapi.CallStatusUpdate, AgentID: &o.AgentID,
				StatusUpdate: &agentapi.StatusUpdate{FrameworkID: *fw, Status: mesos.TaskStatus{
					TaskID: infos[i].TaskID, State: mesos.TaskRunning, Source: mesos.SourceExecutor,
					UUID: []byte(fmt.Sprintf("%016d", launched+i)), AgentID: &o.AgentID}}}
		}
		m.AgentCalls(calls, now)
		for i := range calls {
			if err := m.Call(&mesos.Call{FrameworkID: fw, Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
				AgentID: o.AgentID, TaskID: infos[i].TaskID, UUID: calls[i].StatusUpdate.Status.UUID}}, sub.StreamID, now); err != nil {
				tb.Fatal(err)
			}
		}
		launched += n
	}
	if c.bad != "" {
		tb.Fatalf("a task did not run: %s", c.bad)
	}
	return m, now
}

// TestMetricsArithmetic: 3 agents of 32 cpus and 100 running tasks of
// 0.1 cpus and 32 MB each: cpus_total 96, cpus_used 10 (0.104 of the
// total), mem_used 3200, all 100 tasks running.
func TestMetricsArithmetic(t *testing.T) {
	m, now := runningCluster(t, 3, 100)
	got := m.Metrics(now)
	for k, want := range map[string]float64{
		"master/slaves_active": 3, "master/slaves_connected": 3, "master/slaves_inactive": 0,
		"master/frameworks_active": 1, "master/frameworks_connected": 1,
		"master/tasks_running": 100, "master/tasks_staging": 0, "master/tasks_launched": 100,
		"master/cpus_total": 96, "master/cpus_used": 10, "master/cpus_percent": 10.0 / 96,
		"master/mem_total": 3 * 262144, "master/mem_used": 3200, "master/mem_percent": 3200.0 / (3 * 262144),
		"master/disk_total": 3 * 1048576, "master/disk_used": 0, "master/gpus_total": 0, "master/gpus_percent": 0,
	} {
		// cpus are fixed-point: 100 additions of 0.1 are exactly 10.
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

// BenchmarkMetrics measures Master.Metrics, which holds the master's lock
// while it scans every agent and task.
func BenchmarkMetrics(b *testing.B) {
	for _, size := range []struct{ agents, tasks int }{{100, 3000}, {3000, 100000}} {
		b.Run(fmt.Sprintf("agents=%d/tasks=%d", size.agents, size.tasks), func(b *testing.B) {
			m, now := runningCluster(b, size.agents, size.tasks)
			if got := m.Metrics(now)["master/tasks_running"]; got != float64(size.tasks) {
				b.Fatalf("%v tasks running, want %d", got, size.tasks)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Metrics(now)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.agents), "ns/agent")
		})
	}
}
