package checkpoint

import (
	"strconv"
	"sync"
	"testing"

	"meseta/core/mesos"
)

// BenchmarkAppendUpdate measures synced AppendUpdates from 1 and from 8
// goroutines. ns/op is per append; updates/s counts appends. Each writer
// records a new task (an unsynced PutTask) every 4 appends, so that
// streams stay as short as a real agent's.
func BenchmarkAppendUpdate(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			s := openStore(b, b.TempDir())
			must(b, s.PutFramework(frameworkRec("f1")))
			must(b, s.PutExecutor(executorRec("f1", "e1")))
			// The setup really stores: one append, recovered.
			must(b, s.PutTask(taskRec("f1", "e1", "setup", mesos.TaskRunning)))
			must(b, s.AppendUpdate(update("f1", "setup", 0, mesos.TaskRunning)))
			if st := recoverStrict(b, s); len(st.Updates[[2]string{"f1", "setup"}]) != 1 {
				b.Fatalf("setup append not recovered: %+v", st.Updates)
			}

			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				n := b.N / writers
				if w < b.N%writers {
					n++
				}
				wg.Go(func() {
					for i := range n {
						task := "w" + strconv.Itoa(w) + "-t" + strconv.Itoa(i/4)
						if i%4 == 0 {
							if err := s.PutTask(taskRec("f1", "e1", task, mesos.TaskRunning)); err != nil {
								b.Error(err)
								return
							}
						}
						if err := s.AppendUpdate(update("f1", task, i%4, mesos.TaskRunning)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
