package master

import (
	"fmt"
	"testing"
)

// BenchmarkUIViews: what one poll of the UI's overview and of an
// unfiltered first page of tasks costs the master (under its lock). The
// overview reads running counts; the task page walks every task once.
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
