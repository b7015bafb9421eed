package alloc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meseta/core"
)

// TestShardedConcurrentStress fires random events at a sharded engine from
// several goroutines at once (run it with -race), then checks the safety
// invariants and that the incremental accounting matches a recomputation
// from scratch.
//
// Two shapes: with quota and an offer timeout (every event takes the
// engine lock), and without either, where a Recover that hands resources
// straight back settles under the engine's read lock (Sharded.foldShared)
// and accepted and declined offers are recycled.
func TestShardedConcurrentStress(t *testing.T) {
	for _, quota := range []bool{true, false} {
		for _, shards := range []int{1, 3, 8} {
			t.Run(fmt.Sprintf("quota=%t/shards=%d", quota, shards), func(t *testing.T) {
				stress(t, shards, 4, 400, quota)
			})
		}
	}
}

func stress(t *testing.T, shards, workers, steps int, quota bool) {
	clk := newFakeClock()
	var mu sync.Mutex
	offers := map[OfferID]Offer{}
	sink := func(o Output) {
		mu.Lock()
		defer mu.Unlock()
		for _, of := range o.Offers {
			offers[of.ID] = of
		}
		for _, r := range o.Rescinds {
			delete(offers, r.Offer.ID)
		}
	}
	opts := Options{Clock: clk, Shards: shards, Sink: sink}
	if quota {
		opts.OfferTimeout = time.Minute
	}
	a, err := NewSharded(opts)
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{"*", "eng", "eng/ml", "ops"}
	if quota {
		if err := a.SetQuota("ops", Quota{Guarantee: stressQ(4, 0), Limit: stressQ(16, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	take := func(r *rand.Rand) (Offer, bool) {
		mu.Lock()
		defer mu.Unlock()
		for id, o := range offers {
			if r.IntN(3) == 0 {
				delete(offers, id)
				return o, true
			}
		}
		return Offer{}, false
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var held []Offer // accepted offers this worker may recover
			for i := range steps {
				var err error
				agent := AgentID(fmt.Sprintf("a%d", r.IntN(24)))
				fw := FrameworkID(fmt.Sprintf("f%d", r.IntN(6)))
				switch op := r.IntN(14); op {
				case 0:
					err = a.AddAgent(AgentInfo{ID: agent, Total: stressAgent(r), Checkpoint: r.IntN(4) > 0})
				case 1:
					err = a.RemoveAgent(agent)
				case 2:
					info := FrameworkInfo{ID: fw, Roles: []string{roles[r.IntN(len(roles))]}, Checkpoint: r.IntN(4) == 0}
					if r.IntN(3) == 0 {
						info.Capabilities |= GPUResources | RevocableResources
					}
					err = a.AddFramework(info)
				case 3:
					err = a.RemoveFramework(fw)
				case 4, 5, 6:
					if o, ok := take(r); ok {
						if err = a.Accept(o.ID); err == nil {
							held = append(held, o)
						}
					}
				case 7, 8:
					if o, ok := take(r); ok {
						err = a.Decline(o.ID, time.Duration(r.IntN(3))*time.Second)
					}
				case 9:
					if len(held) > 0 {
						k := r.IntN(len(held))
						o := held[k]
						held = append(held[:k], held[k+1:]...)
						err = a.Recover(o.Framework, o.Agent, o.Role, o.Resources, 0)
					}
				case 10:
					if r.IntN(2) == 0 {
						err = a.Suppress(fw, nil)
					} else {
						err = a.Revive(fw, nil)
					}
				case 11:
					err = a.UpdateOversubscribed(agent, stressQRes(int64(r.IntN(3)), 0))
				case 12:
					clk.Advance(time.Duration(r.IntN(20)) * time.Second)
					a.Sweep()
				case 13:
					if r.IntN(2) == 0 {
						err = a.DeactivateAgent(agent)
					} else {
						err = a.ActivateAgent(agent)
					}
				}
				// Races between workers make many calls legitimately fail:
				// the agent or framework may be gone, the offer rescinded.
				if err != nil && !errors.Is(err, ErrUnknownAgent) && !errors.Is(err, ErrUnknownFramework) &&
					!errors.Is(err, ErrUnknownOffer) && !errors.Is(err, ErrDuplicateAgent) &&
					!errors.Is(err, ErrDuplicateFramework) && !errors.Is(err, ErrNotAllocated) {
					t.Errorf("worker %d step %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	checkSettled(t, a)
	st := a.Stats()
	t.Logf("%+v", st)
	if st.Offers == 0 {
		t.Fatalf("no offers were made: %+v", st)
	}
}

func stressQ(cpus, mem int64) core.Quantities {
	var q core.Quantities
	if cpus > 0 {
		q = append(q, core.Quantity{Name: core.CPUs, Value: core.Units(cpus)})
	}
	if mem > 0 {
		q = append(q, core.Quantity{Name: core.Mem, Value: core.Units(mem)})
	}
	return q
}

func stressQRes(cpus, mem int64) core.Resources {
	var list []core.Resource
	if cpus > 0 {
		list = append(list, core.Resource{Name: core.CPUs, Scalar: core.Units(cpus)})
	}
	if mem > 0 {
		list = append(list, core.Resource{Name: core.Mem, Scalar: core.Units(mem)})
	}
	r, err := core.NewResources(list...)
	if err != nil {
		panic(err)
	}
	return r
}

// stressAgent makes a random agent: unreserved cpus, mem and ports, maybe
// reserved resources for eng or ops, maybe GPUs.
func stressAgent(r *rand.Rand) core.Resources {
	list := []core.Resource{
		{Name: core.CPUs, Scalar: core.Units(int64(1 + r.IntN(8)))},
		{Name: core.Mem, Scalar: core.Units(int64(256 * (1 + r.IntN(8))))},
		{Name: core.Ports, Type: core.RangesType, Ranges: core.Ranges{{Begin: 31000, End: 31000 + uint64(r.IntN(10))}}},
	}
	if r.IntN(3) == 0 {
		role := []string{"eng", "ops"}[r.IntN(2)]
		list = append(list,
			core.Resource{Name: core.CPUs, Scalar: core.Units(2), Reservations: []core.Reservation{{Type: core.Static, Role: role}}},
			core.Resource{Name: core.Mem, Scalar: core.Units(512), Reservations: []core.Reservation{{Type: core.Static, Role: role}}})
	}
	if r.IntN(5) == 0 {
		list = append(list, core.Resource{Name: core.GPUs, Scalar: core.Units(1)})
	}
	res, err := core.NewResources(list...)
	if err != nil {
		panic(err)
	}
	return res
}

// TestShardedFoldConcurrent drives the read-locked path of Recover (a task
// ends and its resources go straight back to its framework) from several
// goroutines while another changes what that path depends on: it adds and
// removes a framework in a second role (so that roles are no longer alone
// in their order), sets and clears quota, suppresses and revives, and
// sweeps. Run it with -race.
func TestShardedFoldConcurrent(t *testing.T) {
	clk := newFakeClock()
	const workers = 3
	queues := make([]chan Offer, workers)
	for i := range queues {
		queues[i] = make(chan Offer, 1<<14) // stale (rescinded) offers wait here too
	}
	owner := func(id AgentID) int {
		var n int
		fmt.Sscanf(string(id), "a%d", &n)
		return n % workers
	}
	a, err := NewSharded(Options{Clock: clk, Shards: 8, Sink: func(o Output) {
		for _, of := range o.Offers {
			queues[owner(of.Agent)] <- of
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := a.AddFramework(FrameworkInfo{ID: FrameworkID(fmt.Sprintf("f%d", i)), Roles: []string{"web"}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 24 {
		if err := a.AddAgent(AgentInfo{ID: AgentID(fmt.Sprintf("a%d", i)), Total: stressQRes(4, 1024)}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var recovered atomic.Int64
	var wg, changer sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range 3000 {
				var o Offer
				select {
				case o = <-queues[w]:
				case <-time.After(10 * time.Second):
					t.Errorf("worker %d: no offer for 10s", w)
					return
				}
				if err := a.Accept(o.ID); err != nil {
					if !errors.Is(err, ErrUnknownOffer) { // rescinded by a suppress
						t.Error(err)
						return
					}
					continue
				}
				// "other" may have been removed, and its allocations
				// with it, since the Accept.
				if err := a.Recover(o.Framework, o.Agent, o.Role, o.Resources, 0); err != nil &&
					!(o.Framework == "other" && errors.Is(err, ErrNotAllocated)) {
					t.Error(err)
					return
				}
				recovered.Add(1)
			}
		})
	}
	changer.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for next := int64(0); ; next += 16 {
			// A Recover folds only within the sweep that made its
			// framework's last offer: let the workers recover a few
			// times between changes, however the machine schedules
			// the goroutines (a busy one once starved them of any).
			for recovered.Load() < next {
				select {
				case <-done:
					return
				default:
					runtime.Gosched()
				}
			}
			select {
			case <-done:
				return
			default:
			}
			var err error
			switch r.IntN(5) {
			case 0:
				err = a.AddFramework(FrameworkInfo{ID: "other", Roles: []string{"batch"}})
			case 1:
				err = a.RemoveFramework("other")
			case 2:
				err = a.SetQuota("web", Quota{Limit: stressQ(int64(40+r.IntN(60)), 0)})
			case 3:
				err = a.SetQuota("web", Quota{})
			case 4:
				fw := FrameworkID(fmt.Sprintf("f%d", r.IntN(6)))
				if err = a.Suppress(fw, nil); err == nil {
					err = a.Revive(fw, nil)
				}
			}
			if err != nil && !errors.Is(err, ErrUnknownFramework) && !errors.Is(err, ErrDuplicateFramework) {
				t.Error(err)
			}
			clk.Advance(time.Second)
			a.Sweep()
		}
	})
	wg.Wait()
	close(done)
	changer.Wait()
	checkSettled(t, a)
	var folds uint64
	for _, sh := range a.shards {
		sh.mu.Lock()
		folds += sh.folds
		sh.mu.Unlock()
	}
	if folds == 0 {
		t.Fatal("no Recover was settled under the read lock")
	}
	t.Logf("folds=%d %+v", folds, a.Stats())
}

// TestFwRoleOrderMatchesIDs checks that the packed ID keys order framework
// IDs exactly as comparing the strings does, ties and prefixes included.
func TestFwRoleOrderMatchesIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("a\x00z-0189")
	id := func() FrameworkID {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return FrameworkID(b)
	}
	for range 20000 {
		x, y := id(), id()
		if r.IntN(4) == 0 {
			y = x + FrameworkID(id()) // a prefix of the other
		}
		a := &fwRole{fw: &framework{id: x}, idKey: idKeyOf(x)}
		b := &fwRole{fw: &framework{id: y}, idKey: idKeyOf(y)}
		if got, want := lessFwRole(a, b), x < y; got != want {
			t.Fatalf("lessFwRole(%q, %q) = %t, want %t", x, y, got, want)
		}
	}
}

// checkSettled sweeps a once more, then checks the safety invariants and
// that the incremental accounting matches a recomputation from scratch.
func checkSettled(t *testing.T, a *Sharded) {
	t.Helper()
	a.Sweep()
	if err := CheckInvariants(a.Snapshot(), false); err != nil {
		t.Fatal(err)
	}
	if err := a.checkAccounting(); err != nil {
		t.Fatal(err)
	}
}
