package master

import (
	"fmt"
	"reflect"
	"testing"

	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// BenchmarkUIViews: what one poll of the UI's overview, roles page,
// frameworks page and an unfiltered first page of tasks costs the master
// (under its lock). The overview reads running counts; the frameworks and
// task pages walk every task once; the roles page reads the allocator.
func BenchmarkUIViews(b *testing.B) {
	for _, size := range []struct{ agents, tasks int }{{100, 3000}, {3000, 100000}} {
		m, now := runningCluster(b, size.agents, size.tasks)
		b.Run(fmt.Sprintf("overview/agents=%d/tasks=%d", size.agents, size.tasks), func(b *testing.B) {
			if got := m.UIOverview(now).Tasks["TASK_RUNNING"]; got != size.tasks {
				b.Fatalf("overview: %d tasks running, want %d", got, size.tasks)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.UIOverview(now)
			}
		})
		b.Run(fmt.Sprintf("roles/agents=%d/tasks=%d", size.agents, size.tasks), func(b *testing.B) {
			if got := m.UIRoles(); len(got) == 0 {
				b.Fatal("roles page: no roles")
			}
			b.ReportAllocs()
			for b.Loop() {
				m.UIRoles()
			}
		})
		b.Run(fmt.Sprintf("frameworks-page/agents=%d/tasks=%d", size.agents, size.tasks), func(b *testing.B) {
			if got := m.UIFrameworks("", "", 0, 50); got.Total != 1 {
				b.Fatalf("frameworks page: total %d, want 1", got.Total)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.UIFrameworks("", "", 0, 50)
			}
		})
		b.Run(fmt.Sprintf("tasks-page/agents=%d/tasks=%d", size.agents, size.tasks), func(b *testing.B) {
			if got := m.UITasks(TaskFilter{}, 0, 50); got.Total != size.tasks || len(got.Items) != 50 {
				b.Fatalf("tasks page: total %d, %d rows; want %d and 50", got.Total, len(got.Items), size.tasks)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.UITasks(TaskFilter{}, 0, 50)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.tasks), "ns/task")
		})
	}
}

// TestUITasksIndex: pages read from the task index (unfiltered, or by
// state or framework) equal the pages a scan gives for the same filter
// (a text search every task matches takes the scanning path), at every
// offset, with tasks in several states, some completed.
func TestUITasksIndex(t *testing.T) {
	m, now := runningCluster(t, 3, 120)
	var fw, stream string
	for id, f := range m.frameworks {
		fw, stream = id, f.streamID
	}
	agentOf := func(task string) *mesos.ID {
		m.mu.Lock()
		defer m.mu.Unlock()
		return &mesos.ID{Value: m.frameworks[fw].tasks[task].agent}
	}
	states := []mesos.TaskState{mesos.TaskFinished, mesos.TaskFailed, mesos.TaskKilling, mesos.TaskRunning}
	for i := 0; i < 120; i += 3 {
		id := fmt.Sprintf("t%d", i)
		ag := agentOf(id)
		s := mesos.TaskStatus{TaskID: mesos.ID{Value: id}, State: states[i%len(states)], Source: mesos.SourceExecutor,
			UUID: []byte(fmt.Sprintf("u%015d", i)), AgentID: ag}
		m.AgentCalls([]agentapi.Call{{Type: agentapi.CallStatusUpdate, AgentID: ag,
			StatusUpdate: &agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: fw}, Status: s}}}, now)
		if i%2 == 0 { // acknowledged: a terminal task completes
			if err := m.Call(&mesos.Call{FrameworkID: &mesos.ID{Value: fw}, Type: mesos.CallAcknowledge,
				Acknowledge: &mesos.Acknowledge{AgentID: *ag, TaskID: s.TaskID, UUID: s.UUID}}, stream, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	m.mu.Lock()
	completed := len(m.frameworks[fw].completed)
	m.mu.Unlock()
	if completed == 0 {
		t.Fatal("no task completed; the test would not cover completed tasks")
	}
	filters := []TaskFilter{{}, {Framework: fw}, {Framework: "nope"}, {State: "TASK_RUNNING"},
		{State: "TASK_FINISHED"}, {State: "TASK_KILLING", Framework: fw}, {State: "TASK_BOGUS"}}
	for _, f := range filters {
		for _, w := range []struct{ offset, limit int }{{0, 50}, {0, 500}, {37, 10}, {79, 1}, {110, 50}, {119, 7}, {400, 10}} {
			got := m.UITasks(f, w.offset, w.limit)
			scan := f
			scan.Query = "t"
			want := m.UITasks(scan, w.offset, w.limit)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("filter %+v offset %d limit %d: the index gives total %d %v,\na scan total %d %v",
					f, w.offset, w.limit, got.Total, ids(got.Items), want.Total, ids(want.Items))
			}
		}
	}
	if got := m.UITasks(TaskFilter{}, 0, 500); got.Total != 120 || got.Items[0].State != mesos.TaskRunning ||
		got.Items[len(got.Items)-1].State.Terminal() != true {
		t.Fatalf("unfiltered: total %d, first %s, last %s; want 120, running first, terminal last",
			got.Total, got.Items[0].State, got.Items[len(got.Items)-1].State)
	}
}

func ids(rows []TaskRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID+"/"+string(r.State))
	}
	return out
}
