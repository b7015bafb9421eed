package master

import (
	"fmt"
	"testing"
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
