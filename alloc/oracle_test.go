package alloc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"meseta/core"
)

// TestOracleMatchesReference drives the sharded engine and the reference
// engine through the same randomized cluster and compares them after
// quiescence (when a sweep offers nothing more):
//
//   - no invariant is broken in either engine (CheckInvariants);
//   - every framework-role's dominant share matches the reference's within
//     epsilon (below): the engines visit agents in different orders;
//   - the same candidates are starved (hold nothing) in both, unless the
//     other engine serves it less than epsilon: a candidate can miss the
//     last whole agent its group gets by a tie-break.
//
// Each round then gives everything back in both engines, changes the
// cluster the same way in both (a weight, a framework joining or leaving)
// and compares again. Greedy DRF over whole agents is path dependent, so
// epsilon is two agents' worth, times the largest weight (a share is
// compared unweighted). Quota is left to the transcripts: a capped
// candidate takes parts of agents, which makes the outcome depend on agent
// order far more than plain DRF. Starvation rescinds are off: they depend
// on sweep timing, and the transcripts test them.
func TestOracleMatchesReference(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { oracleRun(t, seed) })
	}
}

type oracleEngine struct {
	name  string
	a     Allocator
	mu    sync.Mutex
	offer []Offer
}

func (e *oracleEngine) sink(o Output) {
	e.mu.Lock()
	e.offer = append(e.offer, o.Offers...)
	e.mu.Unlock()
}

// settle sweeps until nothing new is offered, accepting every offer.
func (e *oracleEngine) settle(t *testing.T) {
	for range 100 {
		e.a.Sweep()
		e.mu.Lock()
		offers := e.offer
		e.offer = nil
		e.mu.Unlock()
		if len(offers) == 0 {
			return
		}
		for _, o := range offers {
			if err := e.a.Accept(o.ID); err != nil {
				t.Fatalf("%s: accept %d: %v", e.name, o.ID, err)
			}
		}
	}
	t.Fatalf("%s: no quiescence after 100 sweeps", e.name)
}

func oracleRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	clk := newFakeClock()
	mk := func(name string, build func(Options) (Allocator, error)) *oracleEngine {
		e := &oracleEngine{name: name}
		a, err := build(Options{Clock: clk, Sink: e.sink, DisableIncremental: true, MaxStarvationRescinds: -1, Shards: 1, Seed: int64(seed)})
		if err != nil {
			t.Fatal(err)
		}
		e.a = a
		return e
	}
	engines := []*oracleEngine{
		mk("sharded", func(o Options) (Allocator, error) { return NewSharded(o) }),
		mk("reference", func(o Options) (Allocator, error) { return NewReference(o) }),
	}
	both := func(what string, f func(a Allocator) error) {
		for _, e := range engines {
			if err := f(e.a); err != nil {
				t.Fatalf("%s: %s: %v", e.name, what, err)
			}
		}
	}

	roles := []string{"a", "b", "b/x", "b/y", "c"}
	maxWeight := 1.0
	for _, role := range roles {
		if r.IntN(2) == 0 {
			w := float64(1 + r.IntN(3))
			maxWeight = max(maxWeight, w)
			both("weight", func(a Allocator) error { return a.SetWeight(role, w) })
		}
	}
	nfw := 2 + r.IntN(6)
	for i := range nfw {
		info := FrameworkInfo{ID: FrameworkID(fmt.Sprintf("f%d", i)), Roles: []string{roles[r.IntN(len(roles))]}}
		both("add framework", func(a Allocator) error { return a.AddFramework(info) })
	}
	nag := 20 + r.IntN(40)
	var maxAgentShare float64
	var totalCPU, totalMem int64
	var agents []AgentInfo
	for i := range nag {
		cpus, mem := int64(1+r.IntN(4)), int64(512*(1+r.IntN(8)))
		list := []core.Resource{
			{Name: core.CPUs, Scalar: core.Units(cpus)},
			{Name: core.Mem, Scalar: core.Units(mem)},
		}
		if r.IntN(6) == 0 {
			list = append(list, core.Resource{Name: core.CPUs, Scalar: core.Units(1), Reservations: []core.Reservation{{Type: core.Static, Role: "b"}}})
			cpus++
		}
		res, err := core.NewResources(list...)
		if err != nil {
			t.Fatal(err)
		}
		totalCPU += cpus
		totalMem += mem
		agents = append(agents, AgentInfo{ID: AgentID(fmt.Sprintf("a%02d", i)), Total: res, Checkpoint: true})
		_ = cpus
	}
	for _, info := range agents {
		both("add agent", func(a Allocator) error { return a.AddAgent(info) })
		cpus := float64(info.Total.ScalarValue(core.CPUs)) / float64(core.Units(totalCPU))
		mem := float64(info.Total.ScalarValue(core.Mem)) / float64(core.Units(totalMem))
		maxAgentShare = max(maxAgentShare, cpus, mem)
	}
	eps := 2*maxAgentShare*maxWeight + 1e-9

	compare := func(round int) {
		var shares []map[string]float64
		for _, e := range engines {
			e.settle(t)
			snap := e.a.Snapshot()
			if err := CheckInvariants(snap, false); err != nil {
				t.Fatalf("round %d: %s: %v", round, e.name, err)
			}
			shares = append(shares, snapshotShares(snap, nil))
		}
		keys := make([]string, 0, len(shares[0]))
		for k := range shares[0] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s0, s1 := shares[0][k], shares[1][k]
			if math.Abs(s0-s1) > eps {
				t.Errorf("round %d: %s: sharded share %.4f, reference %.4f (epsilon %.4f)\nsharded:\n%sreference:\n%s",
					round, k, s0, s1, eps, formatShares(shares[0]), formatShares(shares[1]))
			}
			if (s0 == 0) != (s1 == 0) && max(s0, s1) > eps {
				t.Errorf("round %d: %s is starved in one engine only: sharded %.4f, reference %.4f", round, k, s0, s1)
			}
		}
	}
	compare(0)
	for round := 1; round <= 4; round++ {
		// Each engine gives everything back, so that both start the round
		// from the same state; then the cluster changes.
		for _, e := range engines {
			snap := e.a.Snapshot()
			for _, ag := range snap.Agents {
				for _, al := range ag.Allocations {
					if err := e.a.Recover(al.Framework, ag.Info.ID, al.Role, al.Resources, 0); err != nil {
						t.Fatalf("%s: recover: %v", e.name, err)
					}
				}
			}
		}
		if round == 1 {
			role := roles[r.IntN(len(roles))]
			both("weight", func(a Allocator) error { return a.SetWeight(role, 2) })
			maxWeight = max(maxWeight, 2)
			eps = 2*maxAgentShare*maxWeight + 1e-9
		}
		if round == 2 {
			info := FrameworkInfo{ID: "late", Roles: []string{roles[r.IntN(len(roles))]}}
			both("add late framework", func(a Allocator) error { return a.AddFramework(info) })
		}
		if round == 3 {
			both("remove f0", func(a Allocator) error { return a.RemoveFramework("f0") })
		}
		clk.Advance(time.Second)
		compare(round)
	}
}
