package e2e

import (
	"fmt"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

func mustRes(text string) core.Resources { return core.MustParseResources(text) }

// offerFits reports how many tasks of cpus/mem fit in an offer.
func offerFits(o mesos.Offer, cpus, mem float64) int {
	r := o.Resources.Resources
	n := int(r.ScalarValue("cpus").Float()/cpus + 1e-9)
	return min(n, int(r.ScalarValue("mem").Float()/mem+1e-9))
}

// TestLaunch200Tasks is acceptance 1: a framework launches 200 sh -c
// tasks across three agents; every task reaches TASK_FINISHED, every
// update is acknowledged, and the resources come back.
func TestLaunch200Tasks(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 3})
	f := subscribe(t, c.master.addr, newFrameworkInfo("batch"))
	const total = 200
	launched, finished := 0, 0
	agentsUsed := map[string]bool{}
	// Updates must arrive in order per task: STARTING, RUNNING, FINISHED.
	order := map[mesos.TaskState]int{mesos.TaskStarting: 1, mesos.TaskRunning: 2, mesos.TaskFinished: 3}
	last := map[string]int{}
	deadline := time.After(3 * time.Minute)
	for finished < total {
		select {
		case <-deadline:
			t.Fatalf("after 3 minutes: %d launched, %d finished", launched, finished)
		case ev := <-f.events:
			switch ev.Type {
			case mesos.EventOffers:
				for _, o := range ev.Offers.Offers {
					n := min(offerFits(o, 0.5, 32), total-launched)
					if n == 0 {
						f.decline([]mesos.Offer{o}, 0)
						continue
					}
					var tasks []mesos.TaskInfo
					for range n {
						id := fmt.Sprintf("t%03d", launched)
						tasks = append(tasks, commandTask(id, o, "cpus:0.5;mem:32", "echo hello from $MESOS_TASK_ID"))
						launched++
					}
					agentsUsed[o.AgentID.Value] = true
					f.launch(o, tasks, 0)
				}
			case mesos.EventUpdate:
				s := ev.Update.Status
				if o := order[s.State]; o < last[s.TaskID.Value] {
					t.Fatalf("task %s: %s arrived after a later state", s.TaskID.Value, s.State)
				} else {
					last[s.TaskID.Value] = o
				}
				if s.State.Terminal() {
					if s.State != mesos.TaskFinished {
						t.Fatalf("task %s: %s %s %s", s.TaskID.Value, s.State, s.Reason, s.Message)
					}
					finished++
				}
				f.ack(&s)
			}
		}
	}
	if len(agentsUsed) != 3 {
		t.Errorf("tasks ran on %d agents, want 3", len(agentsUsed))
	}
	// Every task's terminal update was acknowledged, and its resources
	// came back: nothing is used, and the tasks are completed.
	eventually(t, 20*time.Second, "resources back and tasks completed", func() bool {
		m := getJSON(t, c.url("/metrics/snapshot"))
		fw := c.frameworkState(f.id)
		done, _ := fw["completed_tasks"].([]any)
		active, _ := fw["tasks"].([]any)
		return num(m["master/cpus_used"]) == 0 && num(m["master/mem_used"]) == 0 &&
			len(done) == total && len(active) == 0 && num(m["master/tasks_finished"]) == total
	})
	// The agents forget the acknowledged updates.
	for _, a := range c.agents {
		eventually(t, 10*time.Second, "agent retry queue empty", func() bool {
			return num(getJSON(t, "http://"+a.addr+"/metrics/snapshot")["slave/status_update_retry_queue"]) == 0
		})
	}
}
