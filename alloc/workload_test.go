package alloc

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meseta/core"
)

// This file holds runRandomWorkload, a randomized workload driver that
// knows nothing of any engine: it drives anything that implements
// Allocator, through its public API only, and receives decisions through
// the Sink it installs. Tests of either engine (and oracle comparisons of
// the two) build on it.

// workloadTarget names an engine and how to build it.
type workloadTarget struct {
	Name  string
	Build func(Options) (Allocator, error)
}

// workloadConfig configures runRandomWorkload.
type workloadConfig struct {
	Seed  uint64
	Steps int
	// Options are given to every engine, with Clock and Sink replaced by
	// the driver's.
	Options Options
	// Check, when set, runs after every step, after the driver's own
	// checks, with every engine (in the order of the targets).
	Check func(step int, engines []*workloadEngine)
}

// workloadEngine is one allocator under the workload, and what the driver
// learned of it from its Sink.
type workloadEngine struct {
	Name string
	A    Allocator

	mu sync.Mutex
	// outstanding holds the offers delivered and not yet rescinded,
	// accepted or declined.
	outstanding map[OfferID]Offer
	// seen holds every offer ID ever delivered; gone those no longer
	// outstanding (for stale Accepts and Declines).
	seen map[OfferID]bool
	gone []OfferID
	// Step holds what the Sink delivered during the current step.
	Step []Output
	// Offers, Rescinds and Revocations count what was delivered.
	Offers, Rescinds, Revocations int
	sweeps                        int
	errs                          []string
}

func (e *workloadEngine) sink(o Output) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Step = append(e.Step, o.Clone())
	// Offers first: one Output may carry an offer made and rescinded
	// during the same call.
	for _, of := range o.Offers {
		if e.seen[of.ID] {
			e.errs = append(e.errs, fmt.Sprintf("offer ID %d delivered twice", of.ID))
		}
		e.seen[of.ID] = true
		e.outstanding[of.ID] = of
		e.Offers++
	}
	for _, r := range o.Rescinds {
		if _, ok := e.outstanding[r.Offer.ID]; !ok {
			e.errs = append(e.errs, fmt.Sprintf("rescind of offer %d, which is not outstanding", r.Offer.ID))
		}
		delete(e.outstanding, r.Offer.ID)
		e.gone = append(e.gone, r.Offer.ID)
		e.Rescinds++
	}
	e.Revocations += len(o.Revocations)
}

// settle forgets an offer the driver accepted or declined.
func (e *workloadEngine) settle(id OfferID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.outstanding, id)
	e.gone = append(e.gone, id)
}

// offerIDs returns the outstanding offers' IDs, sorted.
func (e *workloadEngine) offerIDs() []OfferID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.outstanding))
}

// workloadResult is what runRandomWorkload did.
type workloadResult struct {
	Engines []*workloadEngine
	// Calls counts, per API call, how often it succeeded and failed on
	// the first engine.
	Calls map[string]*[2]int
}

// runRandomWorkload builds one allocator per target and drives them all,
// in lockstep, through cfg.Steps random API calls drawn from cfg.Seed. It
// returns what it did, for tests that want to check the workload's reach.
//
// Every kind of call is made: agents come and go with random mixes of
// unreserved, statically and dynamically reserved, GPU and port resources,
// with recovered allocations and oversubscribed slack, and are updated;
// frameworks come and go in random (nested) roles with random capabilities
// and are updated; offers the Sink delivered are accepted and declined;
// allocations are recovered (in whole or in part, with random filters) and
// reserved and unreserved; frameworks suppress and revive; weights and
// quotas are set; the clock advances; sweeps run. Most calls are valid,
// some are not on purpose (unknown IDs, bad roles, bad resources, offers
// already gone, resources not allocated).
//
// What the driver checks after every call, for every engine:
//
//   - a call it knows to be valid succeeds, and one it knows to be invalid
//     fails with the right package error, changes nothing (the Snapshot is
//     the same) and emits nothing;
//   - engines agree on whether each call whose arguments do not depend on
//     the engine's own decisions succeeds;
//   - CheckInvariants holds, and so does checkQuotaLimits (quota limits);
//   - the Sink's stream is consistent: offer IDs are never reused, only
//     outstanding offers are rescinded, the outstanding offers are exactly
//     the Snapshot's, and Stats counts what was delivered;
//   - with DisableIncremental only Sweep makes offers, and with an
//     OfferTimeout no offer outlives it past a sweep.
//
// Calls whose arguments depend on an engine's own state (which offer to
// accept, which allocation to recover) draw one random number for all
// engines and apply it to each engine's own state, so that engines that
// decide alike get identical calls.
//
// The driver takes constructors rather than allocators because it must
// install its own Sink (and its fakeClock) before an engine exists; it
// takes several so that engines can be compared call by call. A test of
// one engine:
//
//	runRandomWorkload(t, workloadConfig{Seed: 1, Steps: 300, Options: Options{OfferTimeout: time.Minute}},
//		workloadTarget{"sharded", func(o Options) (Allocator, error) { return NewSharded(o) }})
//
// and an oracle comparison adds newReferenceTarget() as a second target
// and compares the engines in cfg.Check (workloadEngine.Step holds what
// each delivered during the step; workloadEngine.A is the allocator).
func runRandomWorkload(t *testing.T, cfg workloadConfig, targets ...workloadTarget) *workloadResult {
	t.Helper()
	w := &workload{
		t:     t,
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0xa110c)),
		clk:   newFakeClock(),
		alive: map[AgentID]bool{},
		fws:   map[FrameworkID]*FrameworkInfo{},
		calls: map[string]*[2]int{},
	}
	for _, tg := range targets {
		e := &workloadEngine{Name: tg.Name, outstanding: map[OfferID]Offer{}, seen: map[OfferID]bool{}}
		opts := cfg.Options
		opts.Clock = w.clk
		opts.Sink = e.sink
		a, err := tg.Build(opts)
		if err != nil {
			t.Fatalf("%s: %v", tg.Name, err)
		}
		e.A = a
		w.engines = append(w.engines, e)
	}
	ops := []struct {
		weight int
		name   string
		run    func()
	}{
		{8, "AddAgent", w.addAgent},
		{2, "RemoveAgent", w.removeAgent},
		{3, "UpdateAgentTotal", w.updateAgentTotal},
		{3, "UpdateOversubscribed", w.updateOversubscribed},
		{3, "Activate/DeactivateAgent", w.toggleAgent},
		{4, "AddFramework", w.addFramework},
		{2, "UpdateFramework", w.updateFramework},
		{1, "RemoveFramework", w.removeFramework},
		{3, "Activate/DeactivateFramework", w.toggleFramework},
		{2, "Suppress", w.suppress},
		{3, "Revive", w.revive},
		{14, "Accept", w.accept},
		{8, "Decline", w.decline},
		{10, "Recover", w.recover},
		{3, "UpdateAllocation", w.updateAllocation},
		{2, "SetWeight", w.setWeight},
		{3, "SetQuota", w.setQuota},
		{5, "advance", w.advance},
		{8, "Sweep", w.sweep},
	}
	total := 0
	for _, op := range ops {
		total += op.weight
	}
	for w.step = 0; w.step < cfg.Steps; w.step++ {
		n := w.rng.IntN(total)
		for _, op := range ops {
			if n -= op.weight; n < 0 {
				for _, e := range w.engines {
					e.mu.Lock()
					e.Step = nil
					e.mu.Unlock()
				}
				op.run()
				break
			}
		}
		w.verify()
		if t.Failed() {
			t.Fatalf("seed %d: stopped at step %d; the last calls were:\n%s", cfg.Seed, w.step, strings.Join(w.history, "\n"))
		}
		if cfg.Check != nil {
			cfg.Check(w.step, w.engines)
			if t.Failed() {
				t.Fatalf("seed %d: stopped at step %d; the last calls were:\n%s", cfg.Seed, w.step, strings.Join(w.history, "\n"))
			}
		}
	}
	return &workloadResult{Engines: w.engines, Calls: w.calls}
}

// workload is runRandomWorkload's state. Its model holds only what does not
// depend on an engine's decisions: which agents and frameworks exist.
type workload struct {
	t       *testing.T
	cfg     workloadConfig
	rng     *rand.Rand
	clk     *fakeClock
	engines []*workloadEngine
	step    int
	history []string
	calls   map[string]*[2]int

	alive     map[AgentID]bool // agent -> active
	nextAgent int
	fws       map[FrameworkID]*FrameworkInfo
	fwActive  map[FrameworkID]bool
	// sweeping is set during a Sweep step; lastSweep is when the last one
	// ran.
	sweeping  bool
	lastSweep time.Time
}

var workloadRoles = []string{"*", "eng", "eng/ml", "eng/web", "ops", "ops/batch", "ops/batch/night"}

var workloadFrameworks = []FrameworkID{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"}

// wlExpect says how a call must turn out.
type wlExpect struct {
	fail bool    // the call must fail
	may  bool    // the call may fail (the driver cannot tell)
	errs []error // when it fails: the acceptable package errors (any when empty)
}

var wlSucceed = wlExpect{}

func wlFail(errs ...error) wlExpect { return wlExpect{fail: true, errs: errs} }

var wlPackageErrors = []error{ErrUnknownAgent, ErrUnknownFramework, ErrUnknownOffer, ErrDuplicateAgent,
	ErrDuplicateFramework, ErrBadArgument, ErrNotAllocated}

func (w *workload) logf(format string, args ...any) {
	w.history = append(w.history, fmt.Sprintf("%4d: ", w.step)+fmt.Sprintf(format, args...))
	if len(w.history) > 25 {
		w.history = w.history[1:]
	}
}

// call makes one API call on one engine and checks its outcome against
// want. It returns the call's error.
func (w *workload) call(e *workloadEngine, name string, want wlExpect, f func(Allocator) error) error {
	var before Snapshot
	if want.fail || want.may {
		before = e.A.Snapshot()
	}
	e.mu.Lock()
	delivered := len(e.Step)
	e.mu.Unlock()
	err := f(e.A)
	e.mu.Lock()
	emitted := len(e.Step) > delivered
	e.mu.Unlock()
	if e == w.engines[0] {
		c := w.calls[name]
		if c == nil {
			c = new([2]int)
			w.calls[name] = c
		}
		if err == nil {
			c[0]++
		} else {
			c[1]++
		}
	}
	switch {
	case err == nil && want.fail:
		w.t.Errorf("step %d: %s: %s succeeded; want an error (%v)", w.step, e.Name, name, want.errs)
	case err != nil && !want.fail && !want.may:
		w.t.Errorf("step %d: %s: %s: unexpected error: %v", w.step, e.Name, name, err)
	case err != nil:
		ok := false
		for _, target := range wlOr(want.errs, wlPackageErrors) {
			ok = ok || errors.Is(err, target)
		}
		if !ok {
			w.t.Errorf("step %d: %s: %s: error %v is not one of %v", w.step, e.Name, name, err, wlOr(want.errs, wlPackageErrors))
		}
		if emitted {
			w.t.Errorf("step %d: %s: %s failed (%v) but emitted output", w.step, e.Name, name, err)
		}
		if after := e.A.Snapshot(); !reflect.DeepEqual(before, after) {
			w.t.Errorf("step %d: %s: %s failed (%v) but changed the state", w.step, e.Name, name, err)
		}
	}
	return err
}

func wlOr(a, b []error) []error {
	if len(a) > 0 {
		return a
	}
	return b
}

// all makes the same call on every engine; the engines must agree on
// whether it succeeds. It reports whether it succeeded on the first.
func (w *workload) all(name string, want wlExpect, f func(Allocator) error) bool {
	var first error
	for i, e := range w.engines {
		err := w.call(e, name, want, f)
		if i == 0 {
			first = err
		} else if (err == nil) != (first == nil) {
			w.t.Errorf("step %d: %s: engines disagree: %s: %v, %s: %v", w.step, name, w.engines[0].Name, first, e.Name, err)
		}
	}
	return first == nil
}

// verify checks every engine after a step.
func (w *workload) verify() {
	for _, e := range w.engines {
		snap := e.A.Snapshot()
		if err := CheckInvariants(snap, w.cfg.Options.OfferGPUsToAll); err != nil {
			w.t.Errorf("step %d: %s: invariants broken:\n%v", w.step, e.Name, err)
		}
		if err := checkQuotaLimits(snap); err != nil {
			w.t.Errorf("step %d: %s: %v", w.step, e.Name, err)
		}
		e.mu.Lock()
		for _, msg := range e.errs {
			w.t.Errorf("step %d: %s: sink: %s", w.step, e.Name, msg)
		}
		e.errs = nil
		inSnap := map[OfferID]bool{}
		for _, a := range snap.Agents {
			for _, o := range a.Offers {
				inSnap[o.ID] = true
				got, ok := e.outstanding[o.ID]
				if !ok {
					w.t.Errorf("step %d: %s: offer %d is in the snapshot but was never delivered (or is gone)", w.step, e.Name, o.ID)
					continue
				}
				if got.Framework != o.Framework || got.Role != o.Role || got.Agent != o.Agent || a.Info.ID != o.Agent ||
					!got.Resources.Equal(o.Resources) || !got.Created.Equal(o.Created) {
					w.t.Errorf("step %d: %s: offer %d delivered as %+v, snapshot has %+v", w.step, e.Name, o.ID, got, o)
				}
				if to := w.cfg.Options.OfferTimeout; to > 0 && e.sweeps > 0 && w.lastSweep.After(o.Created.Add(to)) {
					w.t.Errorf("step %d: %s: offer %d made at %s outlived the offer timeout %s past a sweep", w.step, e.Name, o.ID, o.Created, to)
				}
			}
		}
		for id := range e.outstanding {
			if !inSnap[id] {
				w.t.Errorf("step %d: %s: offer %d was delivered and not rescinded, but is not in the snapshot", w.step, e.Name, id)
			}
		}
		if w.cfg.Options.DisableIncremental && !w.sweeping {
			for _, o := range e.Step {
				if len(o.Offers) > 0 {
					w.t.Errorf("step %d: %s: offers made outside Sweep with DisableIncremental", w.step, e.Name)
				}
			}
		}
		st := e.A.Stats()
		if st.OutstandingOffers != len(e.outstanding) || st.Offers != uint64(e.Offers) || st.Rescinds != uint64(e.Rescinds) ||
			st.Revocations != uint64(e.Revocations) || st.Sweeps != uint64(e.sweeps) ||
			st.Agents != len(w.alive) || st.Frameworks != len(w.fws) {
			w.t.Errorf("step %d: %s: stats %+v; delivered %d offers (%d outstanding), %d rescinds, %d revocations; %d sweeps, %d agents, %d frameworks",
				w.step, e.Name, st, e.Offers, len(e.outstanding), e.Rescinds, e.Revocations, e.sweeps, len(w.alive), len(w.fws))
		}
		e.mu.Unlock()
		var agents []AgentID
		for _, a := range snap.Agents {
			agents = append(agents, a.Info.ID)
			if a.Active != w.alive[a.Info.ID] {
				w.t.Errorf("step %d: %s: agent %s active=%v, want %v", w.step, e.Name, a.Info.ID, a.Active, w.alive[a.Info.ID])
			}
		}
		if want := slices.Sorted(maps.Keys(w.alive)); !slices.Equal(agents, want) {
			w.t.Errorf("step %d: %s: agents %v, want %v", w.step, e.Name, agents, want)
		}
		var fws []FrameworkID
		for _, f := range snap.Frameworks {
			fws = append(fws, f.Info.ID)
			if f.Active != w.fwActive[f.Info.ID] {
				w.t.Errorf("step %d: %s: framework %s active=%v, want %v", w.step, e.Name, f.Info.ID, f.Active, w.fwActive[f.Info.ID])
			}
		}
		if want := slices.Sorted(maps.Keys(w.fws)); !slices.Equal(fws, want) {
			w.t.Errorf("step %d: %s: frameworks %v, want %v", w.step, e.Name, fws, want)
		}
	}
	w.sweeping = false
}

// checkQuotaLimits checks that no offer carries an unreserved amount of a name
// of which its role, or an ancestor, consumes more than its quota limit.
//
// CheckInvariants means to check this, but its test (Limit.Contains(
// consumed.Min(Limit))) can never fail, as the per-name minimum never
// exceeds the limit; and it states the rule for every unreserved resource,
// while a limit caps only its own names (package documentation: "unreserved
// scalars capped by the quota limits"), so that a role over its cpus limit
// may still be offered memory.
func checkQuotaLimits(s Snapshot) error {
	consumed := map[string]core.Quantities{}
	charge := func(role string, q core.Quantities) {
		for r, ok := role, true; ok; r, ok = core.ParentRole(r) {
			consumed[r] = consumed[r].Add(q)
		}
	}
	var offers []Offer
	for _, a := range s.Agents {
		for _, al := range a.Allocations {
			charge(al.Role, unreservedCounted(al.Resources))
		}
		for _, o := range a.Offers {
			charge(o.Role, unreservedCounted(o.Resources))
			offers = append(offers, o)
		}
		for _, r := range a.Total {
			if r.IsReserved() && r.Type == core.Scalar && !r.Revocable {
				charge(r.Role(), core.QuantitiesOf(core.Quantity{Name: r.Name, Value: r.Scalar}))
			}
		}
	}
	var errs []error
	for _, role := range slices.Sorted(maps.Keys(s.Quotas)) {
		for _, l := range s.Quotas[role].Limit {
			c := consumed[role].Get(l.Name)
			if c <= l.Value {
				continue
			}
			for _, o := range offers {
				if u := unreservedCounted(o.Resources).Get(l.Name); u > 0 && core.IsSubRoleOf(o.Role, role) {
					errs = append(errs, fmt.Errorf("role %q consumes %s of %s, over its limit %s, while offer %d to %q holds %s of it unreserved",
						role, c, l.Name, l.Value, o.ID, o.Role, u))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------------------
// Random arguments.

func (w *workload) chance(n int) bool { return w.rng.IntN(n) == 0 }

func (w *workload) role() string { return workloadRoles[w.rng.IntN(len(workloadRoles))] }

// reservedRole is a role resources may be reserved for (not "*").
func (w *workload) reservedRole() string { return workloadRoles[1+w.rng.IntN(len(workloadRoles)-1)] }

func (w *workload) agentIDs() []AgentID { return slices.Sorted(maps.Keys(w.alive)) }

// someAgent returns an existing agent, or an unknown one (and false) when
// there is none or by chance.
func (w *workload) someAgent() (AgentID, bool) {
	ids := w.agentIDs()
	if len(ids) == 0 || w.chance(12) {
		return "nowhere", false
	}
	return ids[w.rng.IntN(len(ids))], true
}

func (w *workload) someFramework() (FrameworkID, bool) {
	ids := slices.Sorted(maps.Keys(w.fws))
	if len(ids) == 0 || w.chance(12) {
		return "nobody", false
	}
	return ids[w.rng.IntN(len(ids))], true
}

func wlResources(list ...core.Resource) core.Resources {
	res, err := core.NewResources(list...)
	if err != nil {
		panic(err)
	}
	return res
}

func wlScalar(name string, v core.Value, reservations ...core.Reservation) core.Resource {
	return core.Resource{Name: name, Type: core.Scalar, Scalar: v, Reservations: reservations}
}

func (w *workload) reservation(dynamic bool) core.Reservation {
	if dynamic {
		return core.Reservation{Type: core.Dynamic, Role: w.reservedRole(), Principal: "ops"}
	}
	return core.Reservation{Type: core.Static, Role: w.reservedRole()}
}

// agentTotal returns a random agent total: cpus and memory, often disk and
// ports, sometimes GPUs and reservations.
func (w *workload) agentTotal() core.Resources {
	list := []core.Resource{
		wlScalar(core.CPUs, core.Units(int64(1+w.rng.IntN(8)))+core.Value(500*w.rng.IntN(2))),
		wlScalar(core.Mem, core.Units(int64(256*(1+w.rng.IntN(16))))),
	}
	if w.chance(2) {
		list = append(list, wlScalar(core.Disk, core.Units(int64(1024*(1+w.rng.IntN(4))))))
	}
	if w.chance(2) {
		b := uint64(31000 + 100*w.rng.IntN(10))
		list = append(list, core.Resource{Name: core.Ports, Type: core.RangesType, Ranges: core.Ranges{{Begin: b, End: b + uint64(w.rng.IntN(20))}}})
	}
	if w.chance(5) {
		list = append(list, wlScalar(core.GPUs, core.Units(int64(1+w.rng.IntN(2)))))
	}
	if w.chance(3) {
		list = append(list, wlScalar(core.CPUs, core.Units(int64(1+w.rng.IntN(2))), w.reservation(false)))
	}
	if w.chance(4) {
		list = append(list, wlScalar(core.Mem, core.Units(512), w.reservation(true)))
	}
	if w.chance(4) {
		list = append(list, wlSharedVolume(w.reservation(w.chance(2))))
	}
	return wlResources(list...)
}

// wlSharedVolume returns a shared persistent volume of 64 MB on disk
// reserved by res.
func wlSharedVolume(res core.Reservation) core.Resource {
	v := wlScalar(core.Disk, core.Units(64), res)
	v.Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: "vol-" + res.Role, Principal: "ops"},
		Volume: &core.Volume{ContainerPath: "data", Mode: core.RW}}
	v.Shared = true
	return v
}

func (w *workload) slack() core.Resources {
	if w.chance(3) {
		return nil
	}
	return wlResources(wlScalar(core.CPUs, core.Units(int64(1+w.rng.IntN(4)))), wlScalar(core.Mem, core.Units(int64(128*(1+w.rng.IntN(4))))))
}

var wlBadResources = core.Resources{{Name: core.CPUs, Type: core.Scalar, Scalar: -1}}

func (w *workload) refuse() time.Duration {
	return []time.Duration{0, 0, time.Second, 5 * time.Second, 30 * time.Second, time.Hour, MaxRefuse}[w.rng.IntN(7)]
}

// frameworkInfo returns a random valid FrameworkInfo for id.
func (w *workload) frameworkInfo(id FrameworkID) FrameworkInfo {
	info := FrameworkInfo{ID: id, Checkpoint: w.chance(4)}
	n := 1
	if w.chance(3) {
		n = 2 + w.rng.IntN(2)
		info.Capabilities |= MultiRole
	}
	for _, i := range w.rng.Perm(len(workloadRoles))[:n] {
		info.Roles = append(info.Roles, workloadRoles[i])
	}
	if w.chance(2) {
		info.Capabilities |= RevocableResources
	}
	if w.chance(3) {
		info.Capabilities |= GPUResources
	}
	if w.chance(2) {
		info.Capabilities |= SharedResources
	}
	if w.chance(6) {
		info.Suppressed = []string{info.Roles[w.rng.IntN(n)]}
	}
	if w.chance(5) {
		role := info.Roles[w.rng.IntN(n)]
		alts := [][]core.Quantities{
			nil,
			{core.QuantitiesOf(core.Quantity{Name: core.CPUs, Value: core.Units(1)})},
			{core.QuantitiesOf(core.Quantity{Name: core.Mem, Value: core.Units(1024)}), core.QuantitiesOf(core.Quantity{Name: core.Disk, Value: core.Units(1)})},
		}
		info.MinAllocatable = map[string][]core.Quantities{role: alts[w.rng.IntN(len(alts))]}
	}
	return info
}

// wlPart returns a random part of res (maybe all of it, maybe nothing), drawn
// from r.
func wlPart(r *rand.Rand, res core.Resources) core.Resources {
	if r.IntN(3) == 0 {
		return res.Clone()
	}
	var list []core.Resource
	for _, e := range res {
		if r.IntN(3) == 0 {
			continue
		}
		e = core.Resources{e}.Clone()[0]
		switch e.Type {
		case core.Scalar:
			if !e.Shared && e.Name != core.GPUs && r.IntN(2) == 0 {
				e.Scalar /= 2
			}
		case core.RangesType:
			if r.IntN(2) == 0 {
				e.Ranges = core.Ranges{{Begin: e.Ranges[0].Begin, End: e.Ranges[0].Begin}}
			}
		}
		if e.Type == core.Scalar && e.Scalar == 0 {
			continue
		}
		list = append(list, e)
	}
	out, err := core.NewResources(list...)
	if err != nil {
		panic(err)
	}
	return out
}

// wlFits reports whether parts, one after the other, fit in total; shared
// copies need only be copies of a shared resource of total.
func wlFits(total core.Resources, parts ...core.Resources) bool {
	shared := total.Shared()
	for _, p := range parts {
		for _, r := range p.Shared() {
			if !shared.Contains(core.Resources{r}) {
				return false
			}
		}
		p = p.NonShared()
		if !total.Contains(p) {
			return false
		}
		total = total.Sub(p)
	}
	return true
}

func wlAgent(s Snapshot, id AgentID) *AgentState {
	for i := range s.Agents {
		if s.Agents[i].Info.ID == id {
			return &s.Agents[i]
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Operations.

func (w *workload) addAgent() {
	info := AgentInfo{Total: w.agentTotal(), Checkpoint: !w.chance(4), Oversubscribed: w.slack(),
		Attributes: []Attribute{{Name: "rack", Value: fmt.Sprint(w.rng.IntN(3))}}}
	want := wlSucceed
	switch {
	case len(w.alive) > 0 && w.chance(10):
		info.ID = w.agentIDs()[w.rng.IntN(len(w.alive))]
		want = wlFail(ErrDuplicateAgent)
	case w.chance(15):
		info.ID = AgentID(fmt.Sprintf("a%03d", w.nextAgent))
		info.Total = wlBadResources
		want = wlFail(ErrBadArgument)
	default:
		info.ID = AgentID(fmt.Sprintf("a%03d", w.nextAgent))
		w.nextAgent++
	}
	if !want.fail && w.chance(4) {
		// Recovered after a master failover: part of the agent is in use by
		// a framework, known or not.
		fw := workloadFrameworks[w.rng.IntN(len(workloadFrameworks))]
		if w.chance(3) {
			fw = "ghost"
		}
		info.Used = []Allocation{{Framework: fw, Role: w.role(), Resources: wlResources(wlScalar(core.CPUs, core.Units(1)), wlScalar(core.Mem, core.Units(128)))}}
	}
	info.Hostname = string(info.ID) + ".example"
	w.logf("AddAgent(%s, %s, slack %s, used %v, checkpoint=%v)", info.ID, info.Total, info.Oversubscribed, info.Used, info.Checkpoint)
	if w.all("AddAgent", want, func(a Allocator) error { return a.AddAgent(info) }) && !want.fail {
		w.alive[info.ID] = true
	}
}

func (w *workload) removeAgent() {
	id, known := w.someAgent()
	w.logf("RemoveAgent(%s)", id)
	want := wlSucceed
	if !known {
		want = wlFail(ErrUnknownAgent)
	}
	if w.all("RemoveAgent", want, func(a Allocator) error { return a.RemoveAgent(id) }) {
		delete(w.alive, id)
	}
}

func (w *workload) updateAgentTotal() {
	id, known := w.someAgent()
	if !known {
		total := w.agentTotal()
		w.logf("UpdateAgentTotal(%s, %s)", id, total)
		w.all("UpdateAgentTotal", wlFail(ErrUnknownAgent), func(a Allocator) error { return a.UpdateAgentTotal(id, total) })
		return
	}
	if w.chance(15) {
		w.logf("UpdateAgentTotal(%s, bad)", id)
		w.all("UpdateAgentTotal", wlFail(ErrBadArgument), func(a Allocator) error { return a.UpdateAgentTotal(id, wlBadResources) })
		return
	}
	// The new total: a fresh one, or the current one grown or shrunk.
	mode := w.rng.IntN(4)
	fresh := w.agentTotal()
	extra := wlResources(wlScalar(core.CPUs, core.Units(1)), wlScalar(core.Mem, core.Units(256), w.reservation(false)))
	draw := w.rng.Uint64()
	for _, e := range w.engines {
		ag := wlAgent(e.A.Snapshot(), id)
		total := ag.Info.Total
		switch mode {
		case 0:
			total = fresh
		case 1:
			total = total.Add(extra)
		default:
			total = total.Sub(wlPart(rand.New(rand.NewPCG(draw, 1)), total))
		}
		var allocs []core.Resources
		for _, al := range ag.Allocations {
			allocs = append(allocs, al.Resources)
		}
		want := wlSucceed
		if !wlFits(total.Add(ag.Info.Oversubscribed), allocs...) {
			want = wlFail(ErrBadArgument)
		}
		w.logf("UpdateAgentTotal(%s, %s) on %s", id, total, e.Name)
		w.call(e, "UpdateAgentTotal", want, func(a Allocator) error { return a.UpdateAgentTotal(id, total) })
	}
}

func (w *workload) updateOversubscribed() {
	id, known := w.someAgent()
	slack := w.slack()
	w.logf("UpdateOversubscribed(%s, %s)", id, slack)
	want := wlSucceed
	if !known {
		want = wlFail(ErrUnknownAgent)
	}
	w.all("UpdateOversubscribed", want, func(a Allocator) error { return a.UpdateOversubscribed(id, slack) })
}

func (w *workload) toggleAgent() {
	id, known := w.someAgent()
	want := wlSucceed
	if !known {
		want = wlFail(ErrUnknownAgent)
	}
	if w.chance(2) {
		w.logf("DeactivateAgent(%s)", id)
		if w.all("DeactivateAgent", want, func(a Allocator) error { return a.DeactivateAgent(id) }) {
			w.alive[id] = false
		}
		return
	}
	w.logf("ActivateAgent(%s)", id)
	if w.all("ActivateAgent", want, func(a Allocator) error { return a.ActivateAgent(id) }) {
		w.alive[id] = true
	}
}

func (w *workload) addFramework() {
	id := workloadFrameworks[w.rng.IntN(len(workloadFrameworks))]
	info := w.frameworkInfo(id)
	want := wlSucceed
	if _, dup := w.fws[id]; dup {
		want = wlFail(ErrDuplicateFramework)
	} else if w.chance(8) {
		switch w.rng.IntN(3) {
		case 0:
			info.Roles = nil
		case 1:
			info.Roles = append(info.Roles, "bad//role")
		case 2:
			info.Roles = []string{"eng", "ops"}
			info.Capabilities &^= MultiRole
			info.Suppressed, info.MinAllocatable = nil, nil
		}
		want = wlFail(ErrBadArgument)
	}
	w.logf("AddFramework(%+v)", info)
	if w.all("AddFramework", want, func(a Allocator) error { return a.AddFramework(info) }) {
		w.fws[id] = &info
		if w.fwActive == nil {
			w.fwActive = map[FrameworkID]bool{}
		}
		w.fwActive[id] = true
	}
}

func (w *workload) updateFramework() {
	id, known := w.someFramework()
	info := w.frameworkInfo(id)
	want := wlSucceed
	switch {
	case !known:
		want = wlFail(ErrUnknownFramework)
	case w.chance(8):
		info.Suppressed = append(info.Suppressed, "not/mine")
		want = wlFail(ErrBadArgument)
	}
	w.logf("UpdateFramework(%+v)", info)
	if w.all("UpdateFramework", want, func(a Allocator) error { return a.UpdateFramework(info) }) {
		w.fws[id] = &info
	}
}

func (w *workload) removeFramework() {
	id, known := w.someFramework()
	want := wlSucceed
	if !known {
		want = wlFail(ErrUnknownFramework)
	}
	w.logf("RemoveFramework(%s)", id)
	if w.all("RemoveFramework", want, func(a Allocator) error { return a.RemoveFramework(id) }) {
		delete(w.fws, id)
		delete(w.fwActive, id)
	}
}

func (w *workload) toggleFramework() {
	id, known := w.someFramework()
	want := wlSucceed
	if !known {
		want = wlFail(ErrUnknownFramework)
	}
	if w.chance(2) {
		w.logf("DeactivateFramework(%s)", id)
		if w.all("DeactivateFramework", want, func(a Allocator) error { return a.DeactivateFramework(id) }) {
			w.fwActive[id] = false
		}
		return
	}
	w.logf("ActivateFramework(%s)", id)
	if w.all("ActivateFramework", want, func(a Allocator) error { return a.ActivateFramework(id) }) {
		w.fwActive[id] = true
	}
}

// rolesArg returns roles of id for Suppress and Revive: none (all), some,
// or (with want set to fail) one it is not subscribed to.
func (w *workload) rolesArg(id FrameworkID, known bool) ([]string, wlExpect) {
	if !known {
		return nil, wlFail(ErrUnknownFramework)
	}
	info := w.fws[id]
	if w.chance(10) {
		return []string{"not/mine"}, wlFail(ErrBadArgument)
	}
	if w.chance(2) {
		return nil, wlSucceed
	}
	return []string{info.Roles[w.rng.IntN(len(info.Roles))]}, wlSucceed
}

func (w *workload) suppress() {
	id, known := w.someFramework()
	roles, want := w.rolesArg(id, known)
	w.logf("Suppress(%s, %v)", id, roles)
	if w.all("Suppress", want, func(a Allocator) error { return a.Suppress(id, roles) }) {
		info := w.fws[id]
		for _, r := range wlOrRoles(roles, info.Roles) {
			if !slices.Contains(info.Suppressed, r) {
				info.Suppressed = append(info.Suppressed, r)
			}
		}
	}
}

func (w *workload) revive() {
	id, known := w.someFramework()
	roles, want := w.rolesArg(id, known)
	w.logf("Revive(%s, %v)", id, roles)
	if w.all("Revive", want, func(a Allocator) error { return a.Revive(id, roles) }) {
		info := w.fws[id]
		rs := wlOrRoles(roles, info.Roles)
		info.Suppressed = slices.DeleteFunc(info.Suppressed, func(r string) bool { return slices.Contains(rs, r) })
	}
}

func wlOrRoles(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// offerArg picks, for e, an outstanding offer (draw picks which), or a stale
// one when stale is set: one that was outstanding once, or one never made.
func (e *workloadEngine) offerArg(draw uint64, stale bool) (OfferID, bool) {
	if stale {
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.gone) == 0 || draw%4 == 0 {
			return OfferID(1<<40 + draw%1000), true
		}
		return e.gone[draw%uint64(len(e.gone))], true
	}
	ids := e.offerIDs()
	if len(ids) == 0 {
		return 0, false
	}
	return ids[draw%uint64(len(ids))], true
}

func (w *workload) accept() {
	stale, draw := w.chance(10), w.rng.Uint64()
	for _, e := range w.engines {
		id, ok := e.offerArg(draw, stale)
		if !ok {
			continue
		}
		want := wlSucceed
		if stale {
			want = wlFail(ErrUnknownOffer)
		}
		w.logf("Accept(%d) on %s", id, e.Name)
		if w.call(e, "Accept", want, func(a Allocator) error { return a.Accept(id) }) == nil {
			e.settle(id)
		}
	}
}

func (w *workload) decline() {
	stale, draw, refuse := w.chance(10), w.rng.Uint64(), w.refuse()
	for _, e := range w.engines {
		id, ok := e.offerArg(draw, stale)
		if !ok {
			continue
		}
		want := wlSucceed
		if stale {
			want = wlFail(ErrUnknownOffer)
		}
		w.logf("Decline(%d, %s) on %s", id, refuse, e.Name)
		// Forget the offer before the call: the Decline must not rescind
		// it, and the allocation it runs delivers offers of its own.
		o, was := e.take(id)
		if w.call(e, "Decline", want, func(a Allocator) error { return a.Decline(id, refuse) }) != nil && was {
			e.putBack(o)
		}
	}
}

// take forgets an outstanding offer and returns it.
func (e *workloadEngine) take(id OfferID) (Offer, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.outstanding[id]
	if ok {
		delete(e.outstanding, id)
		e.gone = append(e.gone, id)
	}
	return o, ok
}

// putBack undoes take.
func (e *workloadEngine) putBack(o Offer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outstanding[o.ID] = o
	e.gone = slices.DeleteFunc(e.gone, func(x OfferID) bool { return x == o.ID })
}

func (w *workload) recover() {
	mode, draw, refuse := w.rng.IntN(12), w.rng.Uint64(), w.refuse()
	for _, e := range w.engines {
		snap := e.A.Snapshot()
		type held struct {
			agent AgentID
			al    Allocation
		}
		var all []held
		for _, a := range snap.Agents {
			for _, al := range a.Allocations {
				all = append(all, held{a.Info.ID, al})
			}
		}
		if len(all) == 0 {
			continue
		}
		h := all[draw%uint64(len(all))]
		res := wlPart(rand.New(rand.NewPCG(draw, 2)), h.al.Resources)
		agent, fw, role := h.agent, h.al.Framework, h.al.Role
		want := wlSucceed
		switch mode {
		case 0: // more than allocated
			res = res.Add(wlResources(wlScalar(core.CPUs, core.Units(1000))))
			want = wlFail(ErrNotAllocated)
		case 1:
			agent = "nowhere"
			want = wlFail(ErrUnknownAgent)
		case 2: // a role the framework holds nothing in there
			role = "nobody/holds"
			want = wlFail(ErrNotAllocated)
		case 3:
			role = "bad role"
			want = wlFail(ErrNotAllocated, ErrBadArgument)
		case 4:
			res = wlBadResources
			want = wlFail(ErrBadArgument)
		}
		w.logf("Recover(%s, %s, %s, %s, %s) on %s", fw, agent, role, res, refuse, e.Name)
		w.call(e, "Recover", want, func(a Allocator) error { return a.Recover(fw, agent, role, res, refuse) })
	}
}

// updateAllocation reserves part of an unreserved allocation for its role
// (RESERVE), unreserves a dynamic reservation (UNRESERVE), or adds a copy
// of a shared volume the allocation holds (a second task on it).
func (w *workload) updateAllocation() {
	bad, draw := w.chance(8), w.rng.Uint64()
	for _, e := range w.engines {
		snap := e.A.Snapshot()
		type cand struct {
			agent    AgentID
			al       Allocation
			from, to core.Resources
		}
		var cands []cand
		for _, a := range snap.Agents {
			for _, al := range a.Allocations {
				for _, r := range al.Resources {
					if r.Shared {
						cands = append(cands, cand{a.Info.ID, al, nil, wlResources(r)})
						continue
					}
					if r.Type != core.Scalar || r.Revocable || r.Disk != nil || r.Name == core.GPUs {
						continue
					}
					from := wlResources(r)
					switch {
					case !r.IsReserved():
						if al.Role != core.DefaultRole {
							cands = append(cands, cand{a.Info.ID, al, from, from.Reserve(core.Reservation{Type: core.Dynamic, Role: al.Role, Principal: "ops"})})
						}
					case r.Reservations[len(r.Reservations)-1].Type == core.Dynamic:
						cands = append(cands, cand{a.Info.ID, al, from, from.Unreserve()})
					}
				}
			}
		}
		if len(cands) == 0 {
			continue
		}
		c := cands[draw%uint64(len(cands))]
		want := wlSucceed
		if bad && len(c.from) == 0 {
			c.to = c.to.Add(wlResources(wlScalar(core.CPUs, core.Units(1)))) // not a copy
			want = wlFail(ErrBadArgument)
		} else if bad {
			c.to = c.to.Add(c.to) // changes the quantities
			want = wlFail(ErrBadArgument)
		}
		w.logf("UpdateAllocation(%s, %s, %s, %s -> %s) on %s", c.al.Framework, c.agent, c.al.Role, c.from, c.to, e.Name)
		w.call(e, "UpdateAllocation", want, func(a Allocator) error {
			return a.UpdateAllocation(c.al.Framework, c.agent, c.al.Role, c.from, c.to)
		})
	}
}

func (w *workload) setWeight() {
	role, weight, want := w.role(), []float64{0.5, 1, 2, 3}[w.rng.IntN(4)], wlSucceed
	if w.chance(8) {
		weight, want = []float64{0, -1, math.NaN(), math.Inf(1)}[w.rng.IntN(4)], wlFail(ErrBadArgument)
	}
	w.logf("SetWeight(%s, %v)", role, weight)
	w.all("SetWeight", want, func(a Allocator) error { return a.SetWeight(role, weight) })
}

func (w *workload) setQuota() {
	role := w.role()
	var q Quota
	want := wlSucceed
	switch n := w.rng.IntN(10); {
	case n < 2: // remove
	case n < 3:
		q.Guarantee = core.QuantitiesOf(core.Quantity{Name: core.CPUs, Value: core.Units(4)})
		q.Limit = core.QuantitiesOf(core.Quantity{Name: core.CPUs, Value: core.Units(2)})
		want = wlFail(ErrBadArgument)
	default:
		cpus := core.Units(int64(w.rng.IntN(5)))
		if w.chance(2) {
			q.Guarantee = core.QuantitiesOf(core.Quantity{Name: core.CPUs, Value: cpus}, core.Quantity{Name: core.Mem, Value: core.Units(int64(256 * w.rng.IntN(8)))})
		}
		if w.chance(2) {
			q.Limit = core.QuantitiesOf(core.Quantity{Name: core.CPUs, Value: cpus + core.Units(int64(w.rng.IntN(8)))})
		}
	}
	w.logf("SetQuota(%s, %+v)", role, q)
	w.all("SetQuota", want, func(a Allocator) error { return a.SetQuota(role, q) })
}

func (w *workload) advance() {
	d := []time.Duration{100 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second, time.Minute}[w.rng.IntN(5)]
	w.logf("advance %s", d)
	w.clk.Advance(d)
}

func (w *workload) sweep() {
	w.logf("Sweep")
	w.sweeping = true
	w.lastSweep = w.clk.Now()
	for _, e := range w.engines {
		e.A.Sweep()
		e.mu.Lock()
		e.sweeps++
		e.mu.Unlock()
	}
}
