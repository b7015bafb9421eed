package e2e

import (
	"fmt"
	"math"
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestDeclineFilter is acceptance 4a: a declined agent is not offered to
// the framework again before refuse_seconds, and is offered after.
func TestDeclineFilter(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f := subscribe(t, c.master.addr, newFrameworkInfo("decliner"))
	offers := f.nextOffers(10 * time.Second)
	const refuse = 2.0
	declined := time.Now()
	f.decline(offers, refuse)
	next := f.nextOffers(15 * time.Second)
	gap := time.Since(declined)
	if next[0].AgentID != offers[0].AgentID {
		t.Fatalf("re-offered a different agent %s", next[0].AgentID.Value)
	}
	if gap < time.Duration(refuse*float64(time.Second)) {
		t.Fatalf("agent re-offered after %v, before refuse_seconds=%v", gap, refuse)
	}
	t.Logf("re-offered %v after the decline (refuse_seconds %v, allocation_interval 100ms)", gap.Round(time.Millisecond), refuse)
}

// TestFairShares is acceptance 4b: two frameworks with equal demand end
// with equal dominant shares, within one task's worth.
func TestFairShares(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 3, agentRes: "cpus:4;mem:4096;disk:1024;ports:[31000-31100]"})
	// Both start suppressed, so neither gets the cluster before the other
	// subscribed; each takes one task per offer and gives the rest back.
	fs := []*framework{
		subscribe(t, c.master.addr, newFrameworkInfo("fair-a"), "*"),
		subscribe(t, c.master.addr, newFrameworkInfo("fair-b"), "*"),
	}
	for _, f := range fs {
		f.mustCall(&mesos.Call{Type: mesos.CallRevive, Revive: &mesos.RoleList{}})
	}
	launched := map[*framework]int{}
	// 12 cpus, tasks of 1 cpu: 12 tasks in all when the cluster is full.
	deadline := time.Now().Add(60 * time.Second)
	for launched[fs[0]]+launched[fs[1]] < 12 && time.Now().Before(deadline) {
		for _, f := range fs {
			select {
			case ev := <-f.events:
				switch ev.Type {
				case mesos.EventOffers:
					for _, o := range ev.Offers.Offers {
						if offerFits(o, 1, 64) == 0 {
							f.decline([]mesos.Offer{o}, 0)
							continue
						}
						id := fmt.Sprintf("%s-%d", f.info.Name, launched[f])
						launched[f]++
						// The rest of the offer goes back with no filter.
						f.launch(o, []mesos.TaskInfo{commandTask(id, o, "cpus:1;mem:64", "sleep 600")}, 0)
					}
				case mesos.EventUpdate:
					f.ack(&ev.Update.Status)
				}
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	a, b := launched[fs[0]], launched[fs[1]]
	if a+b != 12 {
		t.Fatalf("launched %d + %d tasks, want 12", a, b)
	}
	// Dominant share: cpus (1/12 per task) dominates mem (64/12288).
	shareA, shareB := float64(a)/12, float64(b)/12
	if math.Abs(shareA-shareB) > 1.0/12+1e-9 {
		t.Fatalf("dominant shares %.3f and %.3f differ by more than one task (1/12)", shareA, shareB)
	}
	t.Logf("dominant shares: %s %.3f, %s %.3f", fs[0].info.Name, shareA, fs[1].info.Name, shareB)
}
