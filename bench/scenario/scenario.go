package scenario

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"meseta/alloc"
	"meseta/core"
)

// Impls are the engine names.
var Impls = []string{"sharded", "reference"}

// New builds the named engine.
func New(impl string, opts alloc.Options) (alloc.Allocator, error) {
	switch impl {
	case "sharded":
		return alloc.NewSharded(opts)
	case "reference":
		return alloc.NewReference(opts)
	}
	return nil, fmt.Errorf("scenario: unknown engine %q (want sharded or reference)", impl)
}

// Clock is a clock the scenario moves by hand. It is an atomic offset from
// a fixed instant, so that goroutines reading it at once (the churn
// workers) do not pass a lock's cache line back and forth: the scenarios
// measure the allocator, not their clock.
type Clock struct {
	ns atomic.Int64 // since clockBase
}

var clockBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{} }

// Now implements alloc.Clock.
func (c *Clock) Now() time.Time { return clockBase.Add(time.Duration(c.ns.Load())) }

// Advance moves the clock.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// collector gathers offers from the sink, which several goroutines may
// call at once.
type collector struct {
	mu     sync.Mutex
	offers []alloc.Offer
}

func (c *collector) sink(o alloc.Output) {
	c.mu.Lock()
	c.offers = append(c.offers, o.Offers...)
	c.mu.Unlock()
}

func (c *collector) take() []alloc.Offer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.offers
	c.offers = make([]alloc.Offer, 0, cap(out))
	return out
}

func agentID(i int) alloc.AgentID         { return alloc.AgentID(fmt.Sprintf("agent-%06d", i)) }
func frameworkID(i int) alloc.FrameworkID { return alloc.FrameworkID(fmt.Sprintf("framework-%05d", i)) }

// populate adds frameworks (all in role) and agents of res.
func populate(a alloc.Allocator, agents, frameworks int, role string, res core.Resources) error {
	for i := range frameworks {
		if err := a.AddFramework(alloc.FrameworkInfo{ID: frameworkID(i), Roles: []string{role}}); err != nil {
			return err
		}
	}
	for i := range agents {
		if err := a.AddAgent(alloc.AgentInfo{ID: agentID(i), Hostname: fmt.Sprintf("host-%06d", i), Total: res.Clone(), Checkpoint: true}); err != nil {
			return err
		}
	}
	return nil
}

// DeclineResult is what the DeclineOffers shape measured.
type DeclineResult struct {
	// First is the first allocation cycle after setup: every agent is
	// offered to some framework.
	First time.Duration
	// Filtered is the next cycle, after every offer of the first was
	// declined with an infinite filter: each agent is offered to another
	// framework, past the one that refused it.
	Filtered time.Duration
	// Idle is a cycle with nothing new to offer (every offer of the
	// filtered cycle is outstanding).
	Idle time.Duration
	// Decline is the time taken to decline the first cycle's offers.
	Decline time.Duration
	Offers  int
}

// Decline runs Mesos's DeclineOffers shape: agents of res, frameworks all
// in one role, every offer declined with an infinite filter. Incremental
// allocation is off so that a cycle is one Sweep.
func Decline(impl string, size Size, res core.Resources) (DeclineResult, error) {
	var r DeclineResult
	c := collector{offers: make([]alloc.Offer, 0, size.Agents)}
	clk := NewClock()
	// Mesos has no starvation rescinds; without this, frameworks left out
	// of a cycle (more frameworks than agents) would take offers back.
	a, err := New(impl, alloc.Options{Clock: clk, Sink: c.sink, DisableIncremental: true, MaxStarvationRescinds: -1})
	if err != nil {
		return r, err
	}
	if err := populate(a, size.Agents, size.Frameworks, "roleA", res); err != nil {
		return r, err
	}
	cycle := func() (time.Duration, []alloc.Offer) {
		runtime.GC()
		start := time.Now()
		a.Sweep()
		return time.Since(start), c.take()
	}
	var offers []alloc.Offer
	r.First, offers = cycle()
	if len(offers) != size.Agents {
		return r, fmt.Errorf("scenario: decline %s: first cycle made %d offers for %d agents", size, len(offers), size.Agents)
	}
	r.Offers = len(offers)
	start := time.Now()
	for _, o := range offers {
		if err := a.Decline(o.ID, alloc.MaxRefuse); err != nil {
			return r, err
		}
	}
	r.Decline = time.Since(start)
	clk.Advance(time.Second)
	r.Filtered, offers = cycle()
	if want := min(size.Agents, size.Agents*(size.Frameworks-1)); len(offers) != want {
		return r, fmt.Errorf("scenario: decline %s: filtered cycle made %d offers, want %d", size, len(offers), want)
	}
	clk.Advance(time.Second)
	r.Idle, offers = cycle()
	if len(offers) != 0 {
		return r, fmt.Errorf("scenario: decline %s: idle cycle made %d offers", size, len(offers))
	}
	return r, nil
}

// Size is a cluster size.
type Size struct{ Agents, Frameworks int }

func (s Size) String() string { return fmt.Sprintf("agents=%d/frameworks=%d", s.Agents, s.Frameworks) }

// QuotaRole is one role of the quota scenario.
type QuotaRole struct {
	Role             string
	Guarantee, Limit core.Quantities
}

// QuotaResult is what the quota shape measured.
type QuotaResult struct {
	First, Idle time.Duration
	Offers      int
}

// Quota runs the quota shape: agents of res, one framework per role, every
// role with its quota. The first cycle satisfies the guarantees; the idle
// cycle finds nothing more to do.
func Quota(impl string, agents int, res core.Resources, roles []QuotaRole) (QuotaResult, error) {
	var r QuotaResult
	var c collector
	a, err := New(impl, alloc.Options{Clock: NewClock(), Sink: c.sink, DisableIncremental: true, MaxStarvationRescinds: -1})
	if err != nil {
		return r, err
	}
	for i, q := range roles {
		if err := a.SetQuota(q.Role, alloc.Quota{Guarantee: q.Guarantee, Limit: q.Limit}); err != nil {
			return r, err
		}
		if err := a.AddFramework(alloc.FrameworkInfo{ID: frameworkID(i), Roles: []string{q.Role}}); err != nil {
			return r, err
		}
	}
	for i := range agents {
		if err := a.AddAgent(alloc.AgentInfo{ID: agentID(i), Total: res.Clone(), Checkpoint: true}); err != nil {
			return r, err
		}
	}
	runtime.GC()
	start := time.Now()
	a.Sweep()
	r.First = time.Since(start)
	offers := c.take()
	if len(offers) == 0 {
		return r, fmt.Errorf("scenario: quota: the first cycle made no offers")
	}
	r.Offers = len(offers)
	start = time.Now()
	a.Sweep()
	r.Idle = time.Since(start)
	return r, nil
}

// LatencyResult is the distribution of recovered-to-re-offered times.
type LatencyResult struct {
	P50, P99, Max time.Duration
	Events        int
}

// Incremental measures how long resources that come back take to be
// offered again: in a steady state where every agent is allocated, a task
// finishes (Recover of a whole allocation, no filter) and the time until
// the sink receives the new offer is recorded.
func Incremental(impl string, size Size, res core.Resources, events int, seed uint64) (LatencyResult, error) {
	var r LatencyResult
	var start time.Time
	var lat []time.Duration
	var got []alloc.Offer
	a, err := New(impl, alloc.Options{Clock: NewClock(), Sink: func(o alloc.Output) {
		if len(o.Offers) > 0 && !start.IsZero() {
			lat = append(lat, time.Since(start))
		}
		got = append(got, o.Offers...)
	}})
	if err != nil {
		return r, err
	}
	if err := populate(a, size.Agents, size.Frameworks, "roleA", res); err != nil {
		return r, err
	}
	held := slices.Clone(got)
	if len(held) != size.Agents {
		return r, fmt.Errorf("scenario: incremental %s: %d offers after setup, want %d", size, len(held), size.Agents)
	}
	for _, o := range held {
		if err := a.Accept(o.ID); err != nil {
			return r, err
		}
	}
	lat = make([]time.Duration, 0, events)
	rnd := newRand(seed)
	runtime.GC()
	for range events {
		k := rnd.IntN(len(held))
		o := held[k]
		got = got[:0]
		start = time.Now()
		if err := a.Recover(o.Framework, o.Agent, o.Role, o.Resources, 0); err != nil {
			return r, err
		}
		if len(got) != 1 {
			return r, fmt.Errorf("scenario: incremental: recovering %s made %d offers, want 1", o.Agent, len(got))
		}
		if err := a.Accept(got[0].ID); err != nil {
			return r, err
		}
		held[k] = got[0]
	}
	slices.Sort(lat)
	r.Events = len(lat)
	r.P50, r.P99, r.Max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	return r, nil
}

// Workers says how the churn scenario splits agents among its goroutines.
type Workers int

const (
	// WorkersDealt deals agents out in turn, so every goroutine works on
	// every shard and they meet on its lock and cache lines.
	WorkersDealt Workers = iota
	// WorkersByShard gives each goroutine the agents of its own shards (for
	// an engine that says which shard owns an agent), as in a master that
	// partitions agent-side work by the allocator's shard: this shows what
	// sharding buys.
	WorkersByShard
	// WorkersApart gives each goroutine an engine of its own, with its part
	// of the agents and frameworks: nothing is shared, so the speedup is
	// the most this machine gives this work, the ceiling for the others.
	WorkersApart
)

func (w Workers) String() string {
	switch w {
	case WorkersByShard:
		return "shard"
	case WorkersApart:
		return "apart"
	}
	return "dealt"
}

// Churn measures events per second (an Accept of an offer and the Recover
// of what it held) with procs goroutines at GOMAXPROCS=procs, each working
// its own agents, as a master's concurrent API calls would; workers says
// how the agents are split.
func Churn(impl string, size Size, res core.Resources, events, procs int, workers Workers) (float64, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	engines := 1
	if workers == WorkersApart {
		engines = procs
	}
	owner := make(map[alloc.AgentID]int, size.Agents)
	queues := make([]chan alloc.Offer, procs)
	for i := range queues {
		queues[i] = make(chan alloc.Offer, size.Agents+16)
	}
	sink := func(o alloc.Output) {
		for _, of := range o.Offers {
			queues[owner[of.Agent]] <- of
		}
	}
	engine := make([]alloc.Allocator, procs) // per worker
	for e := range engines {
		a, err := New(impl, alloc.Options{Clock: NewClock(), Sink: sink})
		if err != nil {
			return 0, err
		}
		// Engine e holds agents e, e+engines, ... and as many frameworks.
		var ids []alloc.AgentID
		for i := e; i < size.Agents; i += engines {
			ids = append(ids, agentID(i))
		}
		sh, sharded := a.(interface{ ShardIndex(alloc.AgentID) int })
		for k, id := range ids {
			switch {
			case engines > 1:
				owner[id] = e
			case workers == WorkersByShard && sharded:
				owner[id] = sh.ShardIndex(id) % procs
			default:
				owner[id] = k % procs
			}
		}
		for i := range size.Frameworks / engines {
			if err := a.AddFramework(alloc.FrameworkInfo{ID: frameworkID(i), Roles: []string{"roleA"}}); err != nil {
				return 0, err
			}
		}
		for _, id := range ids {
			if err := a.AddAgent(alloc.AgentInfo{ID: id, Hostname: "host-" + string(id), Total: res.Clone(), Checkpoint: true}); err != nil {
				return 0, err
			}
		}
		for w := range procs {
			if engines == 1 || w == e {
				engine[w] = a
			}
		}
	}
	per := events / procs
	errs := make(chan error, procs)
	runtime.GC()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range procs {
		a := engine[w]
		wg.Go(func() {
			for range per {
				// The sink runs inside Recover, so the offer that
				// re-offers a worker's agent is queued before Recover
				// returns: an empty queue is a lost offer, not a wait.
				var o alloc.Offer
				select {
				case o = <-queues[w]:
				default:
					errs <- fmt.Errorf("scenario: churn: worker %d has no offer to accept", w)
					return
				}
				if err := a.Accept(o.ID); err != nil {
					errs <- err
					return
				}
				if err := a.Recover(o.Framework, o.Agent, o.Role, o.Resources, 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(per*procs) / elapsed.Seconds(), nil
}

// ChurnPair is one measurement of the churn speedup: Churn at
// GOMAXPROCS=1 and then at 2, back to back, so that the ratio of the two
// is taken under the same conditions on a shared machine whose speed
// drifts from minute to minute.
type ChurnPair struct {
	One, Two float64 // events per second
}

// Ratio is the speedup of two cores over one.
func (p ChurnPair) Ratio() float64 { return p.Two / p.One }

// ChurnPairs runs Churn at 1 and 2 procs, count times, interleaved.
func ChurnPairs(impl string, size Size, res core.Resources, events, count int, workers Workers) ([]ChurnPair, error) {
	var out []ChurnPair
	for range count {
		one, err := Churn(impl, size, res, events, 1, workers)
		if err != nil {
			return nil, err
		}
		two, err := Churn(impl, size, res, events, 2, workers)
		if err != nil {
			return nil, err
		}
		out = append(out, ChurnPair{One: one, Two: two})
	}
	return out, nil
}

// MemoryResult is the allocator's heap per agent and per framework.
type MemoryResult struct {
	BytesPerAgent, BytesPerFramework float64
}

// Memory measures the live heap an engine holds per agent (each with its
// own copy of res and a hostname) and per framework, after GC.
func Memory(impl string, agents, frameworks int, res core.Resources) (MemoryResult, error) {
	var r MemoryResult
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	a, err := New(impl, alloc.Options{Clock: NewClock(), DisableIncremental: true})
	if err != nil {
		return r, err
	}
	if err := populate(a, agents, 0, "roleA", res); err != nil {
		return r, err
	}
	withAgents := heap()
	if err := populate(a, 0, frameworks, "roleA", res); err != nil {
		return r, err
	}
	withFrameworks := heap()
	if st := a.Stats(); st.Agents != agents || st.Frameworks != frameworks {
		return r, fmt.Errorf("scenario: memory: engine holds %d agents and %d frameworks, want %d and %d", st.Agents, st.Frameworks, agents, frameworks)
	}
	runtime.KeepAlive(a)
	r.BytesPerAgent = float64(int64(withAgents)-int64(base)) / float64(agents)
	if frameworks > 0 {
		r.BytesPerFramework = float64(int64(withFrameworks)-int64(withAgents)) / float64(frameworks)
	}
	return r, nil
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }
