package alloc

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"meseta/core"
)

// Reference is the deliberately simple allocator engine: Mesos's
// hierarchical allocator, written to be checked by reading rather than to
// be fast. It is the oracle of the randomized tests and the baseline of
// every benchmark.
//
// Design:
//
//   - One mutex guards everything; state is kept in plain maps.
//   - Every API call takes the mutex, collects its decisions in one Output,
//     releases the mutex and hands the Output to the Sink (one Sink call per
//     API call at most, none when the Output is empty).
//   - Allocation follows the package documentation literally. For each
//     agent, every pick computes the role shares, the quota consumption and
//     the DRF order of the candidates from scratch, walks stage one and then
//     stage two, and offers the first candidate that may take something
//     everything it may take. The agent is finished before the next one.
//   - The only running sum is held (what each framework-role is offered or
//     allocated); charge is the one place that changes it. The cluster
//     totals and the reservation sums are recomputed from the agents
//     whenever an agent's total changed since they were last computed.
//
// Choices where the package documentation is silent are marked "Choice:"
// in the comments below.
type Reference struct {
	opts Options

	mu         sync.Mutex
	rng        *rand.Rand
	agents     map[AgentID]*refAgent
	frameworks map[FrameworkID]*refFramework
	weights    map[string]float64
	quotas     map[string]Quota
	offers     map[OfferID]*Offer
	// held is what each framework-role is offered or allocated, as the
	// quantities DRF and quota see (non-revocable scalars). Allocations of
	// frameworks the allocator does not know (recovered with an agent
	// before their framework re-subscribed) count as well.
	held   map[refKey]refHeld
	lastID OfferID
	// sweeps is the number of sweeps begun.
	sweeps uint64
	stats  Stats

	// sums caches the cluster sums derived from the agents' totals; nil
	// when an agent's total changed since they were computed.
	sums *refSums
}

var _ Allocator = (*Reference)(nil)

// refKey names a framework-role: what holds allocations and filters.
type refKey struct {
	fw   FrameworkID
	role string
}

func refCmpKey(x, y refKey) int {
	return cmp.Or(cmp.Compare(x.fw, y.fw), cmp.Compare(x.role, y.role))
}

// refHeld is a framework-role's offered and allocated resources as
// quantities: counted is what DRF sees, unreserved the part quota
// consumption adds up (reservations are counted where they are made).
type refHeld struct {
	counted, unreserved core.Quantities
}

type refAgent struct {
	// info is as given, with Used cleared and Oversubscribed the current
	// slack (marked revocable).
	info   AgentInfo
	slack  core.Resources
	active bool
	allocs map[refKey]core.Resources
	// offers lists the agent's outstanding offers, oldest (lowest ID) first.
	offers  []OfferID
	filters map[refKey]refFilter
}

// refFilter is a decline filter and when it was installed.
type refFilter struct {
	filter
	created time.Time
}

type refFramework struct {
	info   FrameworkInfo
	active bool
	// lastOffer is, per role, the value of Reference.sweeps when the
	// framework was last offered something in the role.
	lastOffer map[string]uint64
}

// refCand is a candidate: a framework-role that may be offered resources.
type refCand struct {
	fw   *refFramework
	role string
}

func (c refCand) key() refKey { return refKey{c.fw.info.ID, c.role} }

// NewReference returns a reference engine.
func NewReference(opts Options) (*Reference, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	o.MinAllocatable = slices.Clone(o.MinAllocatable)
	o.ExcludedFromShares = slices.Clone(o.ExcludedFromShares)
	return &Reference{
		opts:       o,
		rng:        rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed)),
		agents:     map[AgentID]*refAgent{},
		frameworks: map[FrameworkID]*refFramework{},
		weights:    map[string]float64{},
		quotas:     map[string]Quota{},
		offers:     map[OfferID]*Offer{},
		held:       map[refKey]refHeld{},
	}, nil
}

// run is the frame of every call: take the mutex, read the clock once, do
// fn, release the mutex, then deliver what fn decided. fn must validate
// before it changes anything, so that an error leaves the state (and the
// Output) untouched.
func (r *Reference) run(fn func(now time.Time, out *Output) error) error {
	var out Output
	r.mu.Lock()
	err := fn(r.opts.Clock.Now(), &out)
	r.mu.Unlock()
	if !out.IsEmpty() {
		r.opts.Sink(out)
	}
	return err
}

// ---------------------------------------------------------------------------
// Validation helpers. They only read their arguments.

func refValidate(what string, res core.Resources) error {
	if err := res.Validate(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadArgument, what, err)
	}
	return nil
}

func refValidateRole(role string) error {
	if err := core.ValidateRole(role); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	return nil
}

// refRevocable returns a copy of res with every entry marked revocable.
func refRevocable(res core.Resources) core.Resources {
	out := res.Clone()
	for i := range out {
		out[i].Revocable = true
	}
	return out
}

func refHasRevocable(res core.Resources) bool {
	return slices.ContainsFunc(res, func(r core.Resource) bool { return r.Revocable })
}

// refFits reports whether parts, taken one after the other, fit in total: no
// scalar is exceeded and no port or set item is used twice; shared copies
// need only be of a shared resource of total (see shared.go).
func refFits(total core.Resources, parts ...core.Resources) bool {
	return fits(total, parts...)
}

// refCheckQuantities rejects hand-built Quantities that are not sorted by name
// or name a resource twice (their lookups would be wrong).
func refCheckQuantities(what string, q core.Quantities) error {
	for i := 1; i < len(q); i++ {
		if q[i-1].Name >= q[i].Name {
			return fmt.Errorf("%w: %s %s is not sorted by name or repeats a name", ErrBadArgument, what, q)
		}
	}
	return nil
}

func refCloneFrameworkInfo(fi FrameworkInfo) FrameworkInfo {
	fi.Roles = slices.Clone(fi.Roles)
	fi.Suppressed = slices.Clone(fi.Suppressed)
	if fi.MinAllocatable != nil {
		m := make(map[string][]core.Quantities, len(fi.MinAllocatable))
		for role, alts := range fi.MinAllocatable {
			c := make([]core.Quantities, len(alts))
			for i, q := range alts {
				c[i] = q.Clone()
			}
			m[role] = c
		}
		fi.MinAllocatable = m
	}
	return fi
}

// ---------------------------------------------------------------------------
// Agent state.

func (a *refAgent) total() core.Resources { return a.info.Total.Add(a.slack) }

// allocKeys returns the keys of a's allocations in order (framework, then
// role), so that sums over them come out the same every time.
func (a *refAgent) allocKeys() []refKey {
	return slices.SortedFunc(maps.Keys(a.allocs), refCmpKey)
}

// parts lists a's allocations and outstanding offers.
func (r *Reference) parts(a *refAgent) []core.Resources {
	var ps []core.Resources
	for _, k := range a.allocKeys() {
		ps = append(ps, a.allocs[k])
	}
	for _, id := range a.offers {
		ps = append(ps, r.offers[id].Resources)
	}
	return ps
}

// free is a's total minus its allocations and outstanding offers, where
// allocated shared copies take nothing (see shared.go).
func (r *Reference) free(a *refAgent) core.Resources {
	var allocs, offers []core.Resources
	for _, k := range a.allocKeys() {
		allocs = append(allocs, a.allocs[k])
	}
	for _, id := range a.offers {
		offers = append(offers, r.offers[id].Resources)
	}
	return freeIn(a.total(), allocs, offers)
}

// setAlloc sets what k holds on a, forgetting it when empty.
func (a *refAgent) setAlloc(k refKey, res core.Resources) {
	if res.IsEmpty() {
		delete(a.allocs, k)
		return
	}
	if a.allocs == nil {
		a.allocs = map[refKey]core.Resources{}
	}
	a.allocs[k] = res
}

// hasGPUs: the GPU rule applies to agents whose total (slack included)
// holds GPUs, as CheckInvariants judges it.
func (a *refAgent) hasGPUs() bool { return a.total().Has(core.GPUs) }

// barred reports whether the framework may be offered nothing at all on a,
// by the checkpoint and GPU rules.
func (r *Reference) barred(fw *refFramework, a *refAgent) bool {
	if fw.info.Checkpoint && !a.info.Checkpoint {
		return true
	}
	return a.hasGPUs() && !r.opts.OfferGPUsToAll && !fw.info.Capabilities.Has(GPUResources)
}

func (r *Reference) sortedAgents() []*refAgent {
	out := make([]*refAgent, 0, len(r.agents))
	for _, id := range slices.Sorted(maps.Keys(r.agents)) {
		out = append(out, r.agents[id])
	}
	return out
}

func (r *Reference) agent(id AgentID) (*refAgent, error) {
	a, ok := r.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	return a, nil
}

func (r *Reference) framework(id FrameworkID) (*refFramework, error) {
	f, ok := r.frameworks[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFramework, id)
	}
	return f, nil
}

func (r *Reference) weight(role string) float64 {
	if w, ok := r.weights[role]; ok {
		return w
	}
	return 1
}

// nearestGuaranteed returns the closest role at or above role that has a
// quota guarantee, or "".
func (r *Reference) nearestGuaranteed(role string) string {
	for x, ok := role, true; ok; x, ok = core.ParentRole(x) {
		if !r.quotas[x].Guarantee.IsEmpty() {
			return x
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Offers and accounting.

// charge adds (sign +1) or removes (sign -1) res to what k holds.
func (r *Reference) charge(k refKey, res core.Resources, sign int) {
	h := r.held[k]
	c, u := quotaCounted(res), unreservedCounted(res)
	if sign > 0 {
		h.counted, h.unreserved = h.counted.Add(c), h.unreserved.Add(u)
	} else {
		h.counted, h.unreserved = h.counted.Sub(c), h.unreserved.Sub(u)
	}
	if h.counted.IsEmpty() && h.unreserved.IsEmpty() {
		delete(r.held, k)
		return
	}
	r.held[k] = h
}

func (r *Reference) makeOffer(a *refAgent, c refCand, res core.Resources, p *refPass, out *Output) {
	r.lastID++
	o := &Offer{ID: r.lastID, Framework: c.fw.info.ID, Role: c.role, Agent: a.info.ID, Resources: res, Created: p.now}
	r.offers[o.ID] = o
	a.offers = append(a.offers, o.ID)
	r.charge(c.key(), res, +1)
	if p.haveAvailable {
		p.available = p.available.Sub(unreservedCounted(res))
	}
	c.fw.lastOffer[c.role] = r.sweeps
	r.stats.Offers++
	sent := *o
	sent.Resources = res.Clone()
	out.Offers = append(out.Offers, sent)
}

// dropOffer forgets an outstanding offer; its resources stay charged.
func (r *Reference) dropOffer(id OfferID) *Offer {
	o := r.offers[id]
	delete(r.offers, id)
	a := r.agents[o.Agent]
	a.offers = slices.DeleteFunc(a.offers, func(x OfferID) bool { return x == id })
	return o
}

func (r *Reference) rescind(id OfferID, why RescindReason, out *Output) {
	o := r.dropOffer(id)
	r.charge(refKey{o.Framework, o.Role}, o.Resources, -1)
	r.stats.Rescinds++
	out.Rescinds = append(out.Rescinds, Rescind{Offer: *o, Reason: why})
}

// rescindWhere rescinds every outstanding offer for which pick is true,
// oldest first.
func (r *Reference) rescindWhere(pick func(*Offer) bool, why RescindReason, out *Output) {
	for _, id := range slices.Sorted(maps.Keys(r.offers)) {
		if pick(r.offers[id]) {
			r.rescind(id, why, out)
		}
	}
}

// void reports whether an outstanding offer may no longer stand: its
// framework is gone, inactive, left or suppressed the role, or may not
// have these resources on this agent any more (capabilities, checkpoint,
// GPU rule).
func (r *Reference) void(o *Offer) bool {
	fw, ok := r.frameworks[o.Framework]
	if !ok || !fw.active || !slices.Contains(fw.info.Roles, o.Role) || slices.Contains(fw.info.Suppressed, o.Role) {
		return true
	}
	if r.barred(fw, r.agents[o.Agent]) {
		return true
	}
	return refHasRevocable(o.Resources) && !fw.info.Capabilities.Has(RevocableResources)
}

// setFilter installs a decline filter of res for k on a, replacing any
// earlier one, unless refuse is not positive.
func (r *Reference) setFilter(a *refAgent, k refKey, res core.Resources, now time.Time, refuse time.Duration) {
	if refuse <= 0 || res.IsEmpty() {
		return
	}
	if a.filters == nil {
		a.filters = map[refKey]refFilter{}
	}
	a.filters[k] = refFilter{filter: filter{res: res.Clone(), expires: now.Add(min(refuse, MaxRefuse))}, created: now}
}

// filtered reports whether k has a decline filter running on some agent.
func (r *Reference) filtered(k refKey, now time.Time) bool {
	for _, a := range r.agents {
		if f, ok := a.filters[k]; ok && now.Before(f.expires) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Cluster sums, quota and order.

// refSums are the sums over every agent's non-revocable total. They change
// only when an agent's total does; agentsChanged drops them.
type refSums struct {
	// totals is what dominant shares are computed against.
	totals core.Quantities
	// reserved is, per role, the reservations for the role or one of its
	// sub-roles (allocated or not): the reserved part of quota consumption.
	reserved map[string]core.Quantities
}

func (r *Reference) agentsChanged() { r.sums = nil }

func (r *Reference) clusterSums() *refSums {
	if r.sums != nil {
		return r.sums
	}
	s := &refSums{reserved: map[string]core.Quantities{}}
	for _, a := range r.agents {
		s.totals = s.totals.Add(quotaCounted(a.info.Total))
		for _, res := range a.info.Total {
			if !res.IsReserved() || res.Revocable || res.Type != core.Scalar {
				continue
			}
			q := core.QuantitiesOf(core.Quantity{Name: res.Name, Value: res.Scalar})
			for x, ok := res.Role(), true; ok; x, ok = core.ParentRole(x) {
				s.reserved[x] = s.reserved[x].Add(q)
			}
		}
	}
	r.sums = s
	return s
}

// refPass is one allocation run (a sweep's allocation, one event's
// allocation, or the reallocation after a starvation rescind). Agents'
// totals do not change during a run.
type refPass struct {
	now time.Time
	*refSums
	// available is the free unreserved counted resources of every active
	// agent: the headroom quota guarantees may draw on. It is computed
	// when first needed and then lowered by every offer of the run.
	available     core.Quantities
	haveAvailable bool
}

func (r *Reference) newPass(now time.Time) *refPass {
	return &refPass{now: now, refSums: r.clusterSums()}
}

func (r *Reference) availableHeadroom(p *refPass) core.Quantities {
	if !p.haveAvailable {
		for _, a := range r.agents {
			if a.active {
				p.available = p.available.Add(unreservedCounted(r.free(a)))
			}
		}
		p.haveAvailable = true
	}
	return p.available
}

// refView is the state one pick looks at, computed from scratch.
type refView struct {
	// sub and own are counted allocations (offers included): sub of the
	// role's whole subtree, own of the role's frameworks only.
	sub, own map[string]core.Quantities
	// consumed is the quota consumption of every role with a quota.
	consumed map[string]core.Quantities
	// unmet holds the roles whose guarantee is not met, with what is
	// missing; required is the sum of unmet.
	unmet    map[string]core.Quantities
	required core.Quantities
}

func (r *Reference) view(p *refPass) *refView {
	v := &refView{
		sub:      map[string]core.Quantities{},
		own:      map[string]core.Quantities{},
		consumed: map[string]core.Quantities{},
		unmet:    map[string]core.Quantities{},
	}
	subUnreserved := map[string]core.Quantities{}
	for k, h := range r.held {
		v.own[k.role] = v.own[k.role].Add(h.counted)
		for x, ok := k.role, true; ok; x, ok = core.ParentRole(x) {
			v.sub[x] = v.sub[x].Add(h.counted)
			subUnreserved[x] = subUnreserved[x].Add(h.unreserved)
		}
	}
	for role, q := range r.quotas {
		c := subUnreserved[role].Add(p.reserved[role])
		v.consumed[role] = c
		if u := q.Guarantee.Sub(c); !u.IsEmpty() {
			v.unmet[role] = u
			v.required = v.required.Add(u)
		}
	}
	return v
}

// candidates lists the active frameworks' unsuppressed roles, by framework
// ID and then in the framework's order of roles.
func (r *Reference) candidates() []refCand {
	var out []refCand
	for _, id := range slices.Sorted(maps.Keys(r.frameworks)) {
		fw := r.frameworks[id]
		if !fw.active {
			continue
		}
		for _, role := range fw.info.Roles {
			if !slices.Contains(fw.info.Suppressed, role) {
				out = append(out, refCand{fw, role})
			}
		}
	}
	return out
}

// drfOrder lists cands in stage-two order: the role tree walked from the
// root, at each level the entry with the lowest share first, and within a
// role its frameworks by their dominant share in it (ties by ID).
//
// An entry is a sub-role, whose share is its subtree's allocation divided
// by its weight, or, for a role that has candidates of its own, the role's
// "self" entry. Choice: the self entry's share is the role's own
// allocation (its frameworks' only, not its sub-roles') and is not
// weighted, as in Mesos, where a role's own clients live in a virtual "."
// leaf whose path ("role/.") has no weight, so it weighs 1. Ties are broken
// by name (a self entry is named after its role, which sorts before its
// sub-roles; Mesos breaks them by allocation count first, then path).
func (r *Reference) drfOrder(cands []refCand, p *refPass, v *refView) []refCand {
	byRole := map[string][]refCand{}
	children := map[string][]string{} // parent ("" is the root) -> child roles
	inTree := map[string]bool{}
	for _, c := range cands {
		byRole[c.role] = append(byRole[c.role], c)
		for x := c.role; !inTree[x]; {
			inTree[x] = true
			parent, ok := core.ParentRole(x)
			if !ok {
				parent = ""
			}
			children[parent] = append(children[parent], x)
			if !ok {
				break
			}
			x = parent
		}
	}
	share := func(q core.Quantities, w float64) float64 {
		return dominantShare(q, p.totals, r.opts.ExcludedFromShares, w)
	}
	type entry struct {
		name  string
		self  bool
		share float64
	}
	var out []refCand
	var walk func(role string)
	walk = func(role string) {
		var es []entry
		if len(byRole[role]) > 0 {
			es = append(es, entry{role, true, share(v.own[role], 1)})
		}
		for _, ch := range children[role] {
			es = append(es, entry{ch, false, share(v.sub[ch], r.weight(ch))})
		}
		slices.SortFunc(es, func(x, y entry) int {
			if c := cmp.Compare(x.share, y.share); c != 0 {
				return c
			}
			if c := cmp.Compare(x.name, y.name); c != 0 {
				return c
			}
			switch {
			case x.self && !y.self:
				return -1
			case y.self && !x.self:
				return 1
			}
			return 0
		})
		for _, e := range es {
			if !e.self {
				walk(e.name)
				continue
			}
			type keyed struct {
				c     refCand
				share float64
			}
			fws := make([]keyed, len(byRole[role]))
			for i, c := range byRole[role] {
				fws[i] = keyed{c, share(r.held[c.key()].counted, 1)}
			}
			slices.SortFunc(fws, func(x, y keyed) int {
				return cmp.Or(cmp.Compare(x.share, y.share), cmp.Compare(x.c.fw.info.ID, y.c.fw.info.ID))
			})
			for _, k := range fws {
				out = append(out, k.c)
			}
		}
	}
	walk("")
	return out
}

// stageOne lists the roles with an unmet guarantee and a candidate in their
// subtree, lowest quota share (consumption over guarantee, the max over the
// guaranteed names) first, ties by name.
func (r *Reference) stageOne(v *refView, cands []refCand) []string {
	type qs struct {
		role  string
		share float64
	}
	var list []qs
	for role := range v.unmet {
		if !slices.ContainsFunc(cands, func(c refCand) bool { return core.IsSubRoleOf(c.role, role) }) {
			continue
		}
		var s float64
		for _, g := range r.quotas[role].Guarantee {
			if g.Value > 0 {
				s = max(s, float64(v.consumed[role].Get(g.Name))/float64(g.Value))
			}
		}
		list = append(list, qs{role, s})
	}
	slices.SortFunc(list, func(x, y qs) int { return cmp.Or(cmp.Compare(x.share, y.share), cmp.Compare(x.role, y.role)) })
	out := make([]string, len(list))
	for i, q := range list {
		out[i] = q.role
	}
	return out
}

// caps returns how much of each unreserved non-revocable scalar an offer to
// role may carry: the quota limits of the role and its ancestors (limit
// minus consumption), in stage one (stage1 != "") the unmet guarantee of
// the role being served, and the headroom rule.
//
// Choice: the headroom rule's unmet(R) is the unmet guarantee of the
// nearest role at or above R that has a guarantee, since a sub-role's
// allocations count towards its ancestors' consumption (taken literally,
// a sub-role of a guaranteed role could never help meet that guarantee
// once the headroom is short).
func (r *Reference) caps(role, stage1 string, p *refPass, v *refView) map[string]core.Value {
	caps := map[string]core.Value{}
	limit := func(name string, c core.Value) {
		c = max(c, 0)
		if old, ok := caps[name]; !ok || c < old {
			caps[name] = c
		}
	}
	for x, ok := role, true; ok; x, ok = core.ParentRole(x) {
		for _, l := range r.quotas[x].Limit {
			limit(l.Name, l.Value-v.consumed[x].Get(l.Name))
		}
	}
	if stage1 != "" {
		for _, g := range r.quotas[stage1].Guarantee {
			limit(g.Name, v.unmet[stage1].Get(g.Name))
		}
	}
	if !v.required.IsEmpty() {
		available := r.availableHeadroom(p)
		own := v.unmet[r.nearestGuaranteed(role)]
		for _, need := range v.required {
			limit(need.Name, max(available.Get(need.Name)-need.Value, 0)+own.Get(need.Name))
		}
	}
	return caps
}

// refCapScalars caps the unreserved non-revocable scalars of res at caps, per
// name: entries of one name (disk with and without a volume, say) share
// their name's cap, taken in order, as the sharded engine's capVec.shrink
// does.
func refCapScalars(res core.Resources, caps map[string]core.Value) core.Resources {
	if len(caps) == 0 {
		return res
	}
	left := maps.Clone(caps)
	var out core.Resources
	for _, e := range res {
		if e.Type == core.Scalar && !e.IsReserved() && !e.Revocable {
			if c, ok := left[e.Name]; ok {
				e.Scalar = min(e.Scalar, c)
				left[e.Name] = c - e.Scalar
				if e.Scalar == 0 {
					continue
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// offerFor returns what candidate c may be offered from free on a, or nil.
func (r *Reference) offerFor(c refCand, a *refAgent, free core.Resources, p *refPass, v *refView, stage1 string) core.Resources {
	if r.barred(c.fw, a) {
		return nil
	}
	info := &c.fw.info
	res := offerable(free, c.role, info.Capabilities)
	res = refCapScalars(res, r.caps(c.role, stage1, p, v))
	if res.IsEmpty() {
		return nil
	}
	if f, ok := a.filters[c.key()]; ok && f.blocks(res, p.now) {
		return nil
	}
	mins, ok := info.MinAllocatable[c.role]
	if !ok {
		mins = r.opts.MinAllocatable
	}
	if !meetsMin(res.CountQuantities(), mins) {
		return nil
	}
	return res
}

// allocateAgent offers a's free resources, best candidate first, until no
// candidate can take anything. Choice: a candidate is offered at most once
// per agent in one run (stage one or stage two, not both), as "until no
// candidate is left" says; exclude, when not nil, is offered nothing (the
// victim of a starvation rescind).
func (r *Reference) allocateAgent(a *refAgent, p *refPass, out *Output, exclude *refKey) {
	if !a.active {
		return
	}
	cands := r.candidates()
	tried := map[refKey]bool{}
	if exclude != nil {
		tried[*exclude] = true
	}
	for {
		free := r.free(a)
		if free.IsEmpty() {
			return
		}
		c, res, ok := r.pick(a, free, cands, tried, p)
		if !ok {
			return
		}
		r.makeOffer(a, c, res, p, out)
		tried[c.key()] = true
	}
}

// pick returns the best candidate that may take something from free on a,
// and what it may take: stage one, then stage two.
func (r *Reference) pick(a *refAgent, free core.Resources, cands []refCand, tried map[refKey]bool, p *refPass) (refCand, core.Resources, bool) {
	v := r.view(p)
	first := func(order []refCand, stage1 string) (refCand, core.Resources, bool) {
		for _, c := range order {
			if tried[c.key()] {
				continue
			}
			if res := r.offerFor(c, a, free, p, v, stage1); res != nil {
				return c, res, true
			}
		}
		return refCand{}, nil, false
	}
	for _, g := range r.stageOne(v, cands) {
		var under []refCand
		for _, c := range cands {
			if core.IsSubRoleOf(c.role, g) {
				under = append(under, c)
			}
		}
		if c, res, ok := first(r.drfOrder(under, p, v), g); ok {
			return c, res, true
		}
	}
	return first(r.drfOrder(cands, p, v), "")
}

// allocate is incremental allocation: unless DisableIncremental, it runs
// the allocation for the given agents, or for every agent (in a seeded
// random order, as a sweep does) when none are given.
//
// Choice: events that add or free resources on an agent (AddAgent,
// UpdateAgentTotal, UpdateOversubscribed, ActivateAgent, Decline, Recover,
// UpdateAllocation) allocate that agent; events about frameworks and quota
// (AddFramework, UpdateFramework, RemoveFramework, Activate/
// DeactivateFramework, Suppress, Revive, SetQuota) allocate every agent.
// Events that only take resources away or reorder (Accept, DeactivateAgent,
// RemoveAgent, SetWeight) allocate nothing; the next Sweep catches up.
func (r *Reference) allocate(now time.Time, out *Output, agents ...*refAgent) {
	if r.opts.DisableIncremental {
		return
	}
	if len(agents) == 0 {
		agents = r.sortedAgents()
		r.rng.Shuffle(len(agents), func(i, j int) { agents[i], agents[j] = agents[j], agents[i] })
	}
	p := r.newPass(now)
	for _, a := range agents {
		r.allocateAgent(a, p, out, nil)
	}
}

// enforceLimits rescinds offers while a role consumes more of a name than
// its quota limit allows: newest first, the offers in its subtree that
// carry an unreserved amount of a name it is over, until it is within its
// limits or no such offer is left. (Offers of other names stay, and more
// may be made: a limit caps only its own names.)
//
// Choice: this runs after every event that can raise consumption other
// than by an offer (SetQuota, and AddAgent, UpdateAgentTotal and
// UpdateAllocation through reservations and recovered allocations), not
// only when a limit is lowered.
func (r *Reference) enforceLimits(now time.Time, out *Output) {
	// overNames lists the names role consumes more of than its limit.
	overNames := func(v *refView, role string) []string {
		var names []string
		for _, l := range r.quotas[role].Limit {
			if v.consumed[role].Get(l.Name) > l.Value {
				names = append(names, l.Name)
			}
		}
		return names
	}
	var limited []string
	for role, q := range r.quotas {
		if len(q.Limit) > 0 {
			limited = append(limited, role)
		}
	}
	slices.Sort(limited)
	if len(limited) == 0 {
		return
	}
	v := r.view(r.newPass(now))
	for _, role := range limited {
		if len(overNames(v, role)) == 0 {
			continue
		}
		var ids []OfferID // the subtree's offers of unreserved resources, newest first
		for _, id := range slices.Sorted(maps.Keys(r.offers)) {
			if o := r.offers[id]; core.IsSubRoleOf(o.Role, role) && !unreservedCounted(o.Resources).IsEmpty() {
				ids = append(ids, id)
			}
		}
		slices.Reverse(ids)
		for _, id := range ids {
			names := overNames(v, role)
			if len(names) == 0 {
				break
			}
			u := unreservedCounted(r.offers[id].Resources)
			if slices.ContainsFunc(names, func(n string) bool { return u.Get(n) > 0 }) {
				r.rescind(id, RescindQuotaLimit, out)
				v = r.view(r.newPass(now))
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Agents.

// AddAgent implements Allocator. Choice: Total must not hold revocable
// resources (slack belongs in Oversubscribed), and every Used allocation
// must name a framework, be allocatable to its role and fit, together with
// the others, in the total.
func (r *Reference) AddAgent(info AgentInfo) error {
	if info.ID == "" {
		return fmt.Errorf("%w: empty agent id", ErrBadArgument)
	}
	if err := refValidate("agent total", info.Total); err != nil {
		return err
	}
	if refHasRevocable(info.Total) {
		return fmt.Errorf("%w: agent %s: revocable resources in the total (report them as oversubscribed)", ErrBadArgument, info.ID)
	}
	slack := refRevocable(info.Oversubscribed)
	if err := refValidate("oversubscribed", slack); err != nil {
		return err
	}
	var used []core.Resources
	for _, u := range info.Used {
		if u.Framework == "" {
			return fmt.Errorf("%w: agent %s: allocation without a framework", ErrBadArgument, info.ID)
		}
		if err := refValidateRole(u.Role); err != nil {
			return err
		}
		if err := refValidate("used", u.Resources); err != nil {
			return err
		}
		for _, res := range u.Resources {
			if !res.AllocatableTo(u.Role) {
				return fmt.Errorf("%w: agent %s: %s reserved for %q is used by role %q", ErrBadArgument, info.ID, res.Name, res.Role(), u.Role)
			}
		}
		used = append(used, u.Resources)
	}
	total := info.Total.Add(slack)
	if !refFits(total, used...) {
		return fmt.Errorf("%w: agent %s: used resources do not fit in %s", ErrBadArgument, info.ID, total)
	}
	return r.run(func(now time.Time, out *Output) error {
		if _, ok := r.agents[info.ID]; ok {
			return fmt.Errorf("%w: %s", ErrDuplicateAgent, info.ID)
		}
		a := &refAgent{info: info, slack: slack, active: true}
		a.info.Total = info.Total.Clone()
		a.info.Attributes = slices.Clone(info.Attributes)
		a.info.Oversubscribed = slack
		a.info.Used = nil
		for _, u := range info.Used {
			k := refKey{u.Framework, u.Role}
			a.setAlloc(k, a.allocs[k].Add(u.Resources))
			r.charge(k, u.Resources, +1)
		}
		r.agents[info.ID] = a
		r.agentsChanged()
		r.enforceLimits(now, out)
		r.allocate(now, out, a)
		return nil
	})
}

// UpdateAgentTotal implements Allocator. The allocations must fit in the
// new total (plus slack), else ErrBadArgument; outstanding offers are
// rescinded, newest first, until the rest fits too.
func (r *Reference) UpdateAgentTotal(id AgentID, total core.Resources) error {
	if err := refValidate("agent total", total); err != nil {
		return err
	}
	if refHasRevocable(total) {
		return fmt.Errorf("%w: agent %s: revocable resources in the total", ErrBadArgument, id)
	}
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		newTotal := total.Add(a.slack)
		var allocs []core.Resources
		for _, k := range a.allocKeys() {
			allocs = append(allocs, a.allocs[k])
		}
		if !refFits(newTotal, allocs...) {
			return fmt.Errorf("%w: agent %s: allocations do not fit in the new total %s", ErrBadArgument, id, newTotal)
		}
		for i := len(a.offers) - 1; i >= 0 && !refFits(newTotal, r.parts(a)...); i-- {
			r.rescind(a.offers[i], RescindAgentUpdated, out)
		}
		a.info.Total = total.Clone()
		r.agentsChanged()
		// GPUs may have appeared.
		r.rescindWhere(func(o *Offer) bool { return o.Agent == id && r.void(o) }, RescindAgentUpdated, out)
		r.enforceLimits(now, out)
		r.allocate(now, out, a)
		return nil
	})
}

// UpdateOversubscribed implements Allocator.
func (r *Reference) UpdateOversubscribed(id AgentID, oversubscribed core.Resources) error {
	slack := refRevocable(oversubscribed)
	if err := refValidate("oversubscribed", slack); err != nil {
		return err
	}
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		revocableFits := func() bool {
			var parts []core.Resources
			for _, p := range r.parts(a) {
				parts = append(parts, p.Revocable())
			}
			return refFits(slack, parts...)
		}
		// Revocable offers first, newest first...
		for i := len(a.offers) - 1; i >= 0 && !revocableFits(); i-- {
			if oid := a.offers[i]; refHasRevocable(r.offers[oid].Resources) {
				r.rescind(oid, RescindRevocableShrunk, out)
			}
		}
		// ...then revocable allocations, newest (greatest) framework ID
		// first. Choice: a framework-role's whole revocable allocation on
		// the agent is revoked at once (its tasks are killed); roles of
		// one framework go in reverse name order.
		keys := a.allocKeys()
		slices.Reverse(keys)
		for _, k := range keys {
			if revocableFits() {
				break
			}
			rev := a.allocs[k].Revocable()
			if rev.IsEmpty() {
				continue
			}
			a.setAlloc(k, a.allocs[k].Sub(rev))
			r.charge(k, rev, -1) // counts for nothing, but keeps charge the one door
			r.stats.Revocations++
			out.Revocations = append(out.Revocations, Revocation{Framework: k.fw, Role: k.role, Agent: id, Resources: rev})
		}
		a.slack = slack
		a.info.Oversubscribed = slack
		// GPUs may have appeared in the slack.
		r.rescindWhere(func(o *Offer) bool { return o.Agent == id && r.void(o) }, RescindAgentUpdated, out)
		r.allocate(now, out, a)
		return nil
	})
}

// ActivateAgent implements Allocator.
func (r *Reference) ActivateAgent(id AgentID) error {
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		a.active = true
		r.allocate(now, out, a)
		return nil
	})
}

// DeactivateAgent implements Allocator: the agent's offers are rescinded
// and it is offered nothing until it is activated again.
func (r *Reference) DeactivateAgent(id AgentID) error {
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		a.active = false
		r.rescindWhere(func(o *Offer) bool { return o.Agent == id }, RescindAgentDeactivated, out)
		return nil
	})
}

// RemoveAgent implements Allocator.
func (r *Reference) RemoveAgent(id AgentID) error {
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		r.rescindWhere(func(o *Offer) bool { return o.Agent == id }, RescindAgentRemoved, out)
		for _, k := range a.allocKeys() {
			r.charge(k, a.allocs[k], -1)
		}
		delete(r.agents, id)
		r.agentsChanged()
		return nil
	})
}

// ---------------------------------------------------------------------------
// Frameworks.

// AddFramework implements Allocator.
func (r *Reference) AddFramework(info FrameworkInfo) error {
	if err := validateFramework(&info); err != nil {
		return err
	}
	return r.run(func(now time.Time, out *Output) error {
		if _, ok := r.frameworks[info.ID]; ok {
			return fmt.Errorf("%w: %s", ErrDuplicateFramework, info.ID)
		}
		r.frameworks[info.ID] = &refFramework{info: refCloneFrameworkInfo(info), active: true, lastOffer: map[string]uint64{}}
		r.allocate(now, out)
		return nil
	})
}

// UpdateFramework implements Allocator. Choice: the framework's offers that
// its new info voids (a role left or suppressed, a capability dropped,
// checkpointing asked for) are rescinded with RescindSuppressed, the
// closest reason there is.
func (r *Reference) UpdateFramework(info FrameworkInfo) error {
	if err := validateFramework(&info); err != nil {
		return err
	}
	return r.run(func(now time.Time, out *Output) error {
		fw, err := r.framework(info.ID)
		if err != nil {
			return err
		}
		fw.info = refCloneFrameworkInfo(info)
		for role := range fw.lastOffer {
			if !slices.Contains(info.Roles, role) {
				delete(fw.lastOffer, role)
			}
		}
		r.rescindWhere(func(o *Offer) bool { return o.Framework == info.ID && r.void(o) }, RescindSuppressed, out)
		r.allocate(now, out)
		return nil
	})
}

// RemoveFramework implements Allocator.
func (r *Reference) RemoveFramework(id FrameworkID) error {
	return r.run(func(now time.Time, out *Output) error {
		if _, err := r.framework(id); err != nil {
			return err
		}
		r.rescindWhere(func(o *Offer) bool { return o.Framework == id }, RescindFrameworkRemoved, out)
		for _, a := range r.agents {
			for _, k := range a.allocKeys() {
				if k.fw == id {
					r.charge(k, a.allocs[k], -1)
					delete(a.allocs, k)
				}
			}
			for k := range a.filters {
				if k.fw == id {
					delete(a.filters, k)
				}
			}
		}
		delete(r.frameworks, id)
		r.allocate(now, out)
		return nil
	})
}

// ActivateFramework implements Allocator.
func (r *Reference) ActivateFramework(id FrameworkID) error {
	return r.run(func(now time.Time, out *Output) error {
		fw, err := r.framework(id)
		if err != nil {
			return err
		}
		fw.active = true
		r.allocate(now, out)
		return nil
	})
}

// DeactivateFramework implements Allocator: its offers are rescinded and go
// to others at once.
func (r *Reference) DeactivateFramework(id FrameworkID) error {
	return r.run(func(now time.Time, out *Output) error {
		fw, err := r.framework(id)
		if err != nil {
			return err
		}
		fw.active = false
		r.rescindWhere(func(o *Offer) bool { return o.Framework == id }, RescindFrameworkDeactivated, out)
		r.allocate(now, out)
		return nil
	})
}

// refRolesArg returns roles, or all of fw's when empty; each must be one of
// fw's.
func refRolesArg(fw *refFramework, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return slices.Clone(fw.info.Roles), nil
	}
	for _, role := range roles {
		if !slices.Contains(fw.info.Roles, role) {
			return nil, fmt.Errorf("%w: framework %s is not subscribed to role %q", ErrBadArgument, fw.info.ID, role)
		}
	}
	return roles, nil
}

// Suppress implements Allocator.
func (r *Reference) Suppress(id FrameworkID, roles []string) error {
	return r.run(func(now time.Time, out *Output) error {
		fw, err := r.framework(id)
		if err != nil {
			return err
		}
		rs, err := refRolesArg(fw, roles)
		if err != nil {
			return err
		}
		for _, role := range rs {
			if !slices.Contains(fw.info.Suppressed, role) {
				fw.info.Suppressed = append(fw.info.Suppressed, role)
			}
		}
		r.rescindWhere(func(o *Offer) bool { return o.Framework == id && slices.Contains(rs, o.Role) }, RescindSuppressed, out)
		r.allocate(now, out)
		return nil
	})
}

// Revive implements Allocator: the roles are unsuppressed and the
// framework's decline filters for them are cleared.
func (r *Reference) Revive(id FrameworkID, roles []string) error {
	return r.run(func(now time.Time, out *Output) error {
		fw, err := r.framework(id)
		if err != nil {
			return err
		}
		rs, err := refRolesArg(fw, roles)
		if err != nil {
			return err
		}
		fw.info.Suppressed = slices.DeleteFunc(fw.info.Suppressed, func(x string) bool { return slices.Contains(rs, x) })
		for _, a := range r.agents {
			for _, role := range rs {
				delete(a.filters, refKey{id, role})
			}
		}
		r.allocate(now, out)
		return nil
	})
}

// ---------------------------------------------------------------------------
// Offers and allocations.

// Accept implements Allocator.
func (r *Reference) Accept(id OfferID) error {
	return r.run(func(now time.Time, out *Output) error {
		if _, ok := r.offers[id]; !ok {
			return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
		}
		o := r.dropOffer(id)
		a := r.agents[o.Agent]
		k := refKey{o.Framework, o.Role}
		a.setAlloc(k, a.allocs[k].Add(o.Resources))
		return nil
	})
}

// Decline implements Allocator.
func (r *Reference) Decline(id OfferID, refuse time.Duration) error {
	return r.run(func(now time.Time, out *Output) error {
		if _, ok := r.offers[id]; !ok {
			return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
		}
		o := r.dropOffer(id)
		k := refKey{o.Framework, o.Role}
		r.charge(k, o.Resources, -1)
		a := r.agents[o.Agent]
		r.setFilter(a, k, o.Resources, now, refuse)
		r.allocate(now, out, a)
		return nil
	})
}

// Recover implements Allocator. Choice: recovering nothing from a
// framework-role that holds nothing on the agent is ErrNotAllocated too.
func (r *Reference) Recover(fw FrameworkID, agent AgentID, role string, res core.Resources, refuse time.Duration) error {
	if err := refValidate("recovered", res); err != nil {
		return err
	}
	if err := refValidateRole(role); err != nil {
		return err
	}
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(agent)
		if err != nil {
			return err
		}
		k := refKey{fw, role}
		held, ok := a.allocs[k]
		if !ok || !held.Contains(res) {
			return fmt.Errorf("%w: %s on %s in role %q: %s", ErrNotAllocated, fw, agent, role, res)
		}
		a.setAlloc(k, held.Sub(res))
		r.charge(k, res, -1)
		r.setFilter(a, k, res, now, refuse)
		r.allocate(now, out, a)
		return nil
	})
}

// UpdateAllocation implements Allocator. Choice: from and to must hold the
// same scalar quantities and no revocable resources (Mesos's operations do
// not apply to them), to must be allocatable to the role, and the agent's
// allocations and offers must still fit in the changed total (no port
// taken twice).
func (r *Reference) UpdateAllocation(fw FrameworkID, agent AgentID, role string, from, to core.Resources) error {
	if err := refValidate("from", from); err != nil {
		return err
	}
	if err := refValidate("to", to); err != nil {
		return err
	}
	if err := refValidateRole(role); err != nil {
		return err
	}
	if refHasRevocable(from) || refHasRevocable(to) {
		return fmt.Errorf("%w: operations on revocable resources", ErrBadArgument)
	}
	if len(from) != 0 && !slices.Equal(from.Quantities(), to.Quantities()) {
		return fmt.Errorf("%w: operation changes quantities: %s -> %s", ErrBadArgument, from, to)
	}
	for _, res := range to {
		if !res.AllocatableTo(role) {
			return fmt.Errorf("%w: %s reserved for %q cannot be allocated to role %q", ErrBadArgument, res.Name, res.Role(), role)
		}
	}
	return r.run(func(now time.Time, out *Output) error {
		a, err := r.agent(agent)
		if err != nil {
			return err
		}
		k := refKey{fw, role}
		held, ok := a.allocs[k]
		if !ok || !held.Contains(from) {
			return fmt.Errorf("%w: %s on %s in role %q: %s", ErrNotAllocated, fw, agent, role, from)
		}
		if len(from) == 0 {
			// More copies of shared resources the agent has (for more
			// tasks of one ACCEPT): the allocation grows, nothing else.
			if !extraCopies(a.info.Total, from, to) {
				return fmt.Errorf("%w: %s are not copies of shared resources of agent %s", ErrBadArgument, to, agent)
			}
			a.setAlloc(k, held.Add(to))
			return nil
		}
		newTotal := a.info.Total.Sub(from).Add(to)
		if err := refValidate("new agent total", newTotal); err != nil {
			return err
		}
		// An offer holding a shared volume the operation destroys is
		// rescinded, newest first, as Mesos's master does.
		left := newTotal.Shared()
		for i := len(a.offers) - 1; i >= 0; i-- {
			if o := r.offers[a.offers[i]]; o.Resources.HasShared() && !fits(left, o.Resources.Shared()) {
				r.rescind(a.offers[i], RescindAgentUpdated, out)
			}
		}
		newHeld := held.Sub(from).Add(to)
		var parts []core.Resources
		for _, x := range a.allocKeys() {
			if x == k {
				parts = append(parts, newHeld)
			} else {
				parts = append(parts, a.allocs[x])
			}
		}
		for _, id := range a.offers {
			parts = append(parts, r.offers[id].Resources)
		}
		if !refFits(newTotal.Add(a.slack), parts...) {
			return fmt.Errorf("%w: agent %s: the operation %s -> %s makes the allocations overlap", ErrBadArgument, agent, from, to)
		}
		r.charge(k, from, -1)
		r.charge(k, to, +1)
		a.setAlloc(k, newHeld)
		a.info.Total = newTotal
		r.agentsChanged()
		r.enforceLimits(now, out)
		r.allocate(now, out, a)
		return nil
	})
}

// ---------------------------------------------------------------------------
// Weights and quota.

// SetWeight implements Allocator.
func (r *Reference) SetWeight(role string, w float64) error {
	if err := validateWeight(role, w); err != nil {
		return err
	}
	return r.run(func(now time.Time, out *Output) error {
		r.weights[role] = w
		return nil
	})
}

// SetQuota implements Allocator.
func (r *Reference) SetQuota(role string, q Quota) error {
	if err := validateQuota(role, q); err != nil {
		return err
	}
	if err := refCheckQuantities("guarantee", q.Guarantee); err != nil {
		return err
	}
	if err := refCheckQuantities("limit", q.Limit); err != nil {
		return err
	}
	return r.run(func(now time.Time, out *Output) error {
		if q.Guarantee.IsEmpty() && q.Limit.IsEmpty() {
			delete(r.quotas, role)
		} else {
			r.quotas[role] = Quota{Guarantee: q.Guarantee.Clone(), Limit: q.Limit.Clone()}
		}
		r.enforceLimits(now, out)
		r.allocate(now, out)
		return nil
	})
}

// ---------------------------------------------------------------------------
// Sweep and starvation.

// Sweep implements Allocator: expire offers (Choice: an offer is expired
// once it is OfferTimeout old, as Mesos's timer fires then) and filters,
// allocate every active agent in a seeded random order, then relieve
// starvation.
func (r *Reference) Sweep() {
	_ = r.run(func(now time.Time, out *Output) error {
		r.sweeps++
		r.stats.Sweeps++
		if r.opts.OfferTimeout > 0 {
			r.rescindWhere(func(o *Offer) bool { return !now.Before(o.Created.Add(r.opts.OfferTimeout)) }, RescindTimeout, out)
		}
		for _, a := range r.agents {
			maps.DeleteFunc(a.filters, func(_ refKey, f refFilter) bool { return !now.Before(f.expires) })
		}
		agents := r.sortedAgents()
		r.rng.Shuffle(len(agents), func(i, j int) { agents[i], agents[j] = agents[j], agents[i] })
		p := r.newPass(now)
		for _, a := range agents {
			r.allocateAgent(a, p, out, nil)
		}
		if r.opts.MaxStarvationRescinds > 0 {
			r.relieveStarvation(now, out)
		}
		return nil
	})
}

// relieveStarvation follows the package documentation's starvation rule.
//
// Choices: a sweep counts "since the previous sweep began" from the
// previous sweep's number, so the first sweep ever finds nobody starved; a
// candidate's "decline filter running" is a filter of that framework-role
// on any agent; starved candidates are never victims; the bound counts
// rescinds made, not starved candidates considered.
func (r *Reference) relieveStarvation(now time.Time, out *Output) {
	cands := r.candidates()
	if len(cands) == 0 {
		return
	}
	p := r.newPass(now)
	perRole := map[string]int{}
	var weights float64
	for _, c := range cands {
		if perRole[c.role] == 0 {
			weights += r.weight(c.role)
		}
		perRole[c.role]++
	}
	fair := map[refKey]float64{}
	for _, c := range cands {
		fair[c.key()] = r.weight(c.role) / weights / float64(perRole[c.role])
	}
	share := func(k refKey) float64 {
		return dominantShare(r.held[k].counted, p.totals, r.opts.ExcludedFromShares, 1)
	}
	v := r.view(p)
	var starved []refCand
	isStarved := map[refKey]bool{}
	for _, c := range cands {
		k := c.key()
		if c.fw.lastOffer[c.role]+1 >= r.sweeps || r.filtered(k, now) {
			continue
		}
		g := r.nearestGuaranteed(c.role)
		if share(k) < fair[k] || (g != "" && !v.unmet[g].IsEmpty()) {
			starved = append(starved, c)
			isStarved[k] = true
		}
	}
	slices.SortFunc(starved, func(x, y refCand) int { return refCmpKey(x.key(), y.key()) })
	rescinded := 0
	for _, st := range starved {
		if rescinded >= r.opts.MaxStarvationRescinds {
			break
		}
		byAge := slices.SortedFunc(maps.Values(r.offers), func(x, y *Offer) int {
			return cmp.Or(x.Created.Compare(y.Created), cmp.Compare(x.ID, y.ID))
		})
		var victim *Offer
		var worst float64
		for _, o := range byAge {
			k := refKey{o.Framework, o.Role}
			f, ok := fair[k]
			if !ok || isStarved[k] || !r.couldUse(st, o) {
				continue
			}
			if over := share(k) - f; over > worst {
				victim, worst = o, over
			}
		}
		if victim == nil {
			continue
		}
		k := refKey{victim.Framework, victim.Role}
		a := r.agents[victim.Agent]
		r.rescind(victim.ID, RescindStarvation, out)
		rescinded++
		r.allocateAgent(a, r.newPass(now), out, &k)
	}
}

// couldUse reports whether candidate c is not barred from o's resources by
// the checkpoint, GPU and reservation rules (nor from revocable ones).
func (r *Reference) couldUse(c refCand, o *Offer) bool {
	if r.barred(c.fw, r.agents[o.Agent]) {
		return false
	}
	return !offerable(o.Resources, c.role, c.fw.info.Capabilities).IsEmpty()
}

// ---------------------------------------------------------------------------
// Introspection.

// Stats implements Allocator. FiltersActive counts the filters that have
// not expired.
func (r *Reference) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Clock.Now()
	st := r.stats
	st.Agents, st.Frameworks, st.OutstandingOffers = len(r.agents), len(r.frameworks), len(r.offers)
	for _, a := range r.agents {
		for _, f := range a.filters {
			if now.Before(f.expires) {
				st.FiltersActive++
			}
		}
	}
	return st
}

// Snapshot implements Allocator. Every slice is sorted (agents and
// frameworks by ID, allocations and filters by framework then role, offers
// by ID, a framework's suppressed roles by name), and nothing in it is
// shared with the engine.
func (r *Reference) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Clock.Now()
	snap := Snapshot{Weights: maps.Clone(r.weights), Quotas: map[string]Quota{}}
	for _, a := range r.sortedAgents() {
		st := AgentState{Info: a.info, Active: a.active, Total: a.total()}
		st.Info.Total = a.info.Total.Clone()
		st.Info.Oversubscribed = a.slack.Clone()
		st.Info.Attributes = slices.Clone(a.info.Attributes)
		for _, k := range a.allocKeys() {
			st.Allocations = append(st.Allocations, Allocation{Framework: k.fw, Role: k.role, Resources: a.allocs[k].Clone()})
		}
		for _, id := range a.offers {
			o := *r.offers[id]
			o.Resources = o.Resources.Clone()
			st.Offers = append(st.Offers, o)
		}
		for _, k := range slices.SortedFunc(maps.Keys(a.filters), refCmpKey) {
			if f := a.filters[k]; now.Before(f.expires) {
				st.Filters = append(st.Filters, FilterState{Framework: k.fw, Role: k.role, Resources: f.res.Clone(), Created: f.created, Expires: f.expires})
			}
		}
		snap.Agents = append(snap.Agents, st)
	}
	for _, id := range slices.Sorted(maps.Keys(r.frameworks)) {
		fw := r.frameworks[id]
		info := refCloneFrameworkInfo(fw.info)
		slices.Sort(info.Suppressed)
		snap.Frameworks = append(snap.Frameworks, FrameworkState{Info: info, Active: fw.active})
	}
	for role, q := range r.quotas {
		snap.Quotas[role] = Quota{Guarantee: q.Guarantee.Clone(), Limit: q.Limit.Clone()}
	}
	return snap
}
