package alloc

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"meseta/core"
)

// Reference is the deliberately simple allocator: one mutex around plain
// maps, and Mesos's algorithm. A sweep shuffles the agents and, for each,
// sorts the role tree and the frameworks in each role from scratch before
// every pick. Nothing is indexed and nothing is clever, so it is easy to
// check by reading; the randomized tests use it as the oracle for the
// sharded engine, and every benchmark reports the sharded engine's speed as
// a ratio to it, measured in the same run.
//
// It follows the semantics in the package documentation, except that it
// finishes each agent before the next (as Mesos does).
type Reference struct {
	opts Options

	mu         sync.Mutex
	rng        *rand.Rand
	agents     map[AgentID]*refAgent
	frameworks map[FrameworkID]*refFramework
	weights    map[string]float64
	quotas     map[string]Quota
	offers     map[OfferID]*refOffer
	nextOffer  OfferID
	sweepNo    uint64
	stats      Stats
	// alloc is what each framework-role holds (offers included), as
	// DRF-counted quantities; it is kept up to date on every change.
	alloc map[allocKey]core.Quantities
	// unres is the unreserved part of alloc and reserved the reservations
	// in agents' totals, each summed over every role's subtree: together
	// they are a role's quota consumption.
	unres, reserved map[string]core.Quantities
	// avail is the free unreserved counted resources of active agents
	// (the headroom available for quota guarantees).
	avail core.Quantities
	// totals is the DRF-counted sum of the agents' totals.
	totalQ core.Quantities
}

var _ Allocator = (*Reference)(nil)

type allocKey struct {
	fw   FrameworkID
	role string
}

type refAgent struct {
	info   AgentInfo
	slack  core.Resources // marked revocable
	active bool
	allocs map[allocKey]core.Resources
	offers []OfferID
	filter map[allocKey]refFilter
}

type refFilter struct {
	res              core.Resources
	created, expires time.Time
}

type refFramework struct {
	info          FrameworkInfo
	active        bool
	filteredUntil time.Time
	lastOffer     map[string]uint64
}

type refOffer struct {
	Offer
}

// NewReference returns a reference engine.
func NewReference(opts Options) (*Reference, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Reference{
		opts:       o,
		rng:        rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed)),
		agents:     map[AgentID]*refAgent{},
		frameworks: map[FrameworkID]*refFramework{},
		weights:    map[string]float64{},
		quotas:     map[string]Quota{},
		offers:     map[OfferID]*refOffer{},
		alloc:      map[allocKey]core.Quantities{},
		unres:      map[string]core.Quantities{},
		reserved:   map[string]core.Quantities{},
	}, nil
}

func (r *Reference) total(a *refAgent) core.Resources { return a.info.Total.Add(a.slack) }

func (r *Reference) used(a *refAgent) core.Resources {
	var u core.Resources
	for _, res := range a.allocs {
		u = u.Add(res)
	}
	for _, id := range a.offers {
		u = u.Add(r.offers[id].Resources)
	}
	return u
}

func (r *Reference) free(a *refAgent) core.Resources { return r.total(a).Sub(r.used(a)) }

// charge adds (sign +1) or removes res to what k holds.
func (r *Reference) charge(k allocKey, res core.Resources, sign int) {
	q, u := quotaCounted(res), unreservedCounted(res)
	if sign > 0 {
		r.alloc[k] = r.alloc[k].Add(q)
	} else {
		r.alloc[k] = r.alloc[k].Sub(q)
	}
	for x, ok := k.role, true; ok; x, ok = core.ParentRole(x) {
		if sign > 0 {
			r.unres[x] = r.unres[x].Add(u)
		} else {
			r.unres[x] = r.unres[x].Sub(u)
		}
	}
}

// addReserved adds (or removes) the reservations of total to the roles'
// consumption.
func (r *Reference) addReserved(total core.Resources, sign int) {
	for _, res := range total {
		if !res.IsReserved() || res.Revocable || res.Type != core.Scalar {
			continue
		}
		q := core.QuantitiesOf(core.Quantity{Name: res.Name, Value: res.Scalar})
		for x, ok := res.Role(), true; ok; x, ok = core.ParentRole(x) {
			if sign > 0 {
				r.reserved[x] = r.reserved[x].Add(q)
			} else {
				r.reserved[x] = r.reserved[x].Sub(q)
			}
		}
	}
}

// freed adds (sign +1) or removes res, free resources of a, to the
// available headroom when a is active.
func (r *Reference) freed(a *refAgent, res core.Resources, sign int) {
	if !a.active {
		return
	}
	if u := unreservedCounted(res); sign > 0 {
		r.avail = r.avail.Add(u)
	} else {
		r.avail = r.avail.Sub(u)
	}
}

// run wraps a call: lock, do, unlock, then deliver the output.
func (r *Reference) run(fn func(out *Output) error) error {
	var out Output
	r.mu.Lock()
	err := fn(&out)
	r.mu.Unlock()
	if !out.IsEmpty() {
		r.opts.Sink(out)
	}
	return err
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

// AddAgent implements Allocator.
func (r *Reference) AddAgent(info AgentInfo) error {
	if info.ID == "" {
		return fmt.Errorf("%w: empty agent id", ErrBadArgument)
	}
	if err := validateResources("agent total", info.Total); err != nil {
		return err
	}
	if err := validateResources("oversubscribed", info.Oversubscribed); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		if _, ok := r.agents[info.ID]; ok {
			return fmt.Errorf("%w: %s", ErrDuplicateAgent, info.ID)
		}
		a := &refAgent{info: info, slack: markRevocable(info.Oversubscribed), active: true,
			allocs: map[allocKey]core.Resources{}, filter: map[allocKey]refFilter{}}
		var used core.Resources
		for _, u := range info.Used {
			if err := core.ValidateRole(u.Role); err != nil {
				return fmt.Errorf("%w: used by %s: %v", ErrBadArgument, u.Framework, err)
			}
			if err := validateResources("used", u.Resources); err != nil {
				return err
			}
			used = used.Add(u.Resources)
		}
		if !r.total(a).Contains(used) {
			return fmt.Errorf("%w: agent %s: used %s does not fit in %s", ErrBadArgument, info.ID, used, r.total(a))
		}
		for _, u := range info.Used {
			k := allocKey{u.Framework, u.Role}
			a.allocs[k] = a.allocs[k].Add(u.Resources)
			r.charge(k, u.Resources, +1)
		}
		a.info.Used = nil
		r.agents[info.ID] = a
		r.totalQ = r.totalQ.Add(quotaCounted(info.Total))
		r.addReserved(info.Total, +1)
		r.freed(a, r.free(a), +1)
		r.incremental(out, a)
		return nil
	})
}

// incremental allocates the given agents at once unless incremental
// allocation is off (then the next Sweep does).
func (r *Reference) incremental(out *Output, agents ...*refAgent) {
	if r.opts.DisableIncremental {
		return
	}
	if agents == nil {
		agents = r.sortedAgents()
	}
	now := r.opts.Clock.Now()
	for _, a := range agents {
		r.allocateAgent(a, now, out)
	}
}

func (r *Reference) sortedAgents() []*refAgent {
	ids := make([]AgentID, 0, len(r.agents))
	for id := range r.agents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*refAgent, len(ids))
	for i, id := range ids {
		out[i] = r.agents[id]
	}
	return out
}

func (r *Reference) rescind(id OfferID, why RescindReason, out *Output) {
	o := r.offers[id]
	delete(r.offers, id)
	a := r.agents[o.Agent]
	a.offers = slices.DeleteFunc(a.offers, func(x OfferID) bool { return x == id })
	r.charge(allocKey{o.Framework, o.Role}, o.Resources, -1)
	r.freed(a, o.Resources, +1)
	r.stats.Rescinds++
	out.Rescinds = append(out.Rescinds, Rescind{Offer: o.Offer, Reason: why})
}

// UpdateAgentTotal implements Allocator.
func (r *Reference) UpdateAgentTotal(id AgentID, total core.Resources) error {
	if err := validateResources("agent total", total); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		newTotal := total.Add(a.slack)
		var allocated core.Resources
		for _, res := range a.allocs {
			allocated = allocated.Add(res)
		}
		if !newTotal.Contains(allocated) {
			return fmt.Errorf("%w: agent %s: allocations %s do not fit in new total %s", ErrBadArgument, id, allocated, newTotal)
		}
		for i := len(a.offers) - 1; i >= 0 && !newTotal.Contains(r.used(a)); i-- {
			r.rescind(a.offers[i], RescindAgentUpdated, out)
		}
		r.totalQ = r.totalQ.Sub(quotaCounted(a.info.Total)).Add(quotaCounted(total))
		r.freed(a, r.free(a), -1)
		r.addReserved(a.info.Total, -1)
		a.info.Total = total
		r.addReserved(total, +1)
		r.freed(a, r.free(a), +1)
		r.incremental(out, a)
		return nil
	})
}

// UpdateOversubscribed implements Allocator.
func (r *Reference) UpdateOversubscribed(id AgentID, slack core.Resources) error {
	if err := validateResources("oversubscribed", slack); err != nil {
		return err
	}
	slack = markRevocable(slack)
	return r.run(func(out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		fits := func() bool { return slack.Contains(r.used(a).Revocable()) }
		for i := len(a.offers) - 1; i >= 0 && !fits(); i-- {
			if len(r.offers[a.offers[i]].Resources.Revocable()) > 0 {
				r.rescind(a.offers[i], RescindRevocableShrunk, out)
			}
		}
		keys := make([]allocKey, 0, len(a.allocs))
		for k := range a.allocs {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(x, y allocKey) int { return cmp.Or(cmp.Compare(y.fw, x.fw), cmp.Compare(y.role, x.role)) })
		for _, k := range keys {
			if fits() {
				break
			}
			rev := a.allocs[k].Revocable()
			if len(rev) == 0 {
				continue
			}
			a.allocs[k] = a.allocs[k].Sub(rev)
			if len(a.allocs[k]) == 0 {
				delete(a.allocs, k)
			}
			r.stats.Revocations++
			out.Revocations = append(out.Revocations, Revocation{Framework: k.fw, Role: k.role, Agent: id, Resources: rev})
		}
		a.slack = slack
		r.incremental(out, a)
		return nil
	})
}

// ActivateAgent implements Allocator.
func (r *Reference) ActivateAgent(id AgentID) error {
	return r.run(func(out *Output) error {
		a, err := r.agent(id)
		if err != nil || a.active {
			return err
		}
		a.active = true
		r.freed(a, r.free(a), +1)
		r.incremental(out, a)
		return nil
	})
}

// DeactivateAgent implements Allocator.
func (r *Reference) DeactivateAgent(id AgentID) error {
	return r.run(func(out *Output) error {
		a, err := r.agent(id)
		if err != nil || !a.active {
			return err
		}
		for len(a.offers) > 0 {
			r.rescind(a.offers[len(a.offers)-1], RescindAgentDeactivated, out)
		}
		r.freed(a, r.free(a), -1)
		a.active = false
		return nil
	})
}

// RemoveAgent implements Allocator.
func (r *Reference) RemoveAgent(id AgentID) error {
	return r.run(func(out *Output) error {
		a, err := r.agent(id)
		if err != nil {
			return err
		}
		for len(a.offers) > 0 {
			r.rescind(a.offers[len(a.offers)-1], RescindAgentRemoved, out)
		}
		r.freed(a, r.free(a), -1)
		for k, res := range a.allocs {
			r.charge(k, res, -1)
		}
		r.addReserved(a.info.Total, -1)
		r.totalQ = r.totalQ.Sub(quotaCounted(a.info.Total))
		delete(r.agents, id)
		return nil
	})
}

// AddFramework implements Allocator.
func (r *Reference) AddFramework(info FrameworkInfo) error {
	if err := validateFramework(&info); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		if _, ok := r.frameworks[info.ID]; ok {
			return fmt.Errorf("%w: %s", ErrDuplicateFramework, info.ID)
		}
		info.Roles = slices.Clone(info.Roles)
		info.Suppressed = slices.Clone(info.Suppressed)
		r.frameworks[info.ID] = &refFramework{info: info, active: true, lastOffer: map[string]uint64{}}
		r.incremental(out)
		return nil
	})
}

// UpdateFramework implements Allocator.
func (r *Reference) UpdateFramework(info FrameworkInfo) error {
	if err := validateFramework(&info); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		f, err := r.framework(info.ID)
		if err != nil {
			return err
		}
		f.info = info
		f.info.Roles = slices.Clone(info.Roles)
		f.info.Suppressed = slices.Clone(info.Suppressed)
		r.rescindWhere(func(o *refOffer) bool {
			return o.Framework == info.ID && (!slices.Contains(info.Roles, o.Role) || slices.Contains(info.Suppressed, o.Role))
		}, RescindSuppressed, out)
		r.incremental(out)
		return nil
	})
}

// rescindWhere rescinds matching offers, oldest first.
func (r *Reference) rescindWhere(pick func(*refOffer) bool, why RescindReason, out *Output) []*refAgent {
	var ids []OfferID
	for id, o := range r.offers {
		if pick(o) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var agents []*refAgent
	for _, id := range ids {
		a := r.agents[r.offers[id].Agent]
		r.rescind(id, why, out)
		if !slices.Contains(agents, a) {
			agents = append(agents, a)
		}
	}
	return agents
}

// RemoveFramework implements Allocator.
func (r *Reference) RemoveFramework(id FrameworkID) error {
	return r.run(func(out *Output) error {
		if _, err := r.framework(id); err != nil {
			return err
		}
		r.rescindWhere(func(o *refOffer) bool { return o.Framework == id }, RescindFrameworkRemoved, out)
		delete(r.frameworks, id)
		for _, a := range r.agents {
			for k, res := range a.allocs {
				if k.fw == id {
					r.charge(k, res, -1)
					r.freed(a, res, +1)
					delete(a.allocs, k)
				}
			}
			for k := range a.filter {
				if k.fw == id {
					delete(a.filter, k)
				}
			}
		}
		r.incremental(out)
		return nil
	})
}

// ActivateFramework implements Allocator.
func (r *Reference) ActivateFramework(id FrameworkID) error {
	return r.run(func(out *Output) error {
		f, err := r.framework(id)
		if err != nil {
			return err
		}
		f.active = true
		r.incremental(out)
		return nil
	})
}

// DeactivateFramework implements Allocator.
func (r *Reference) DeactivateFramework(id FrameworkID) error {
	return r.run(func(out *Output) error {
		f, err := r.framework(id)
		if err != nil {
			return err
		}
		f.active = false
		r.rescindWhere(func(o *refOffer) bool { return o.Framework == id }, RescindFrameworkDeactivated, out)
		return nil
	})
}

func refRoles(f *refFramework, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return f.info.Roles, nil
	}
	for _, role := range roles {
		if !slices.Contains(f.info.Roles, role) {
			return nil, fmt.Errorf("%w: framework %s is not subscribed to role %q", ErrBadArgument, f.info.ID, role)
		}
	}
	return roles, nil
}

// Suppress implements Allocator.
func (r *Reference) Suppress(id FrameworkID, roles []string) error {
	return r.run(func(out *Output) error {
		f, err := r.framework(id)
		if err != nil {
			return err
		}
		rs, err := refRoles(f, roles)
		if err != nil {
			return err
		}
		for _, role := range rs {
			if !slices.Contains(f.info.Suppressed, role) {
				f.info.Suppressed = append(f.info.Suppressed, role)
			}
		}
		agents := r.rescindWhere(func(o *refOffer) bool {
			return o.Framework == id && slices.Contains(f.info.Suppressed, o.Role)
		}, RescindSuppressed, out)
		r.incremental(out, agents...)
		return nil
	})
}

// Revive implements Allocator.
func (r *Reference) Revive(id FrameworkID, roles []string) error {
	return r.run(func(out *Output) error {
		f, err := r.framework(id)
		if err != nil {
			return err
		}
		rs, err := refRoles(f, roles)
		if err != nil {
			return err
		}
		for _, role := range rs {
			f.info.Suppressed = slices.DeleteFunc(f.info.Suppressed, func(x string) bool { return x == role })
			for _, a := range r.agents {
				delete(a.filter, allocKey{id, role})
			}
		}
		f.filteredUntil = time.Time{}
		r.incremental(out)
		return nil
	})
}

// Accept implements Allocator.
func (r *Reference) Accept(id OfferID) error {
	return r.run(func(out *Output) error {
		o, ok := r.offers[id]
		if !ok {
			return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
		}
		delete(r.offers, id)
		a := r.agents[o.Agent]
		a.offers = slices.DeleteFunc(a.offers, func(x OfferID) bool { return x == id })
		k := allocKey{o.Framework, o.Role}
		a.allocs[k] = a.allocs[k].Add(o.Resources)
		return nil
	})
}

// Decline implements Allocator.
func (r *Reference) Decline(id OfferID, refuse time.Duration) error {
	return r.run(func(out *Output) error {
		o, ok := r.offers[id]
		if !ok {
			return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
		}
		delete(r.offers, id)
		a := r.agents[o.Agent]
		a.offers = slices.DeleteFunc(a.offers, func(x OfferID) bool { return x == id })
		k := allocKey{o.Framework, o.Role}
		r.charge(k, o.Resources, -1)
		r.freed(a, o.Resources, +1)
		r.refuse(a, k, o.Resources, refuse)
		r.incremental(out, a)
		return nil
	})
}

func (r *Reference) refuse(a *refAgent, k allocKey, res core.Resources, d time.Duration) {
	if d <= 0 || len(res) == 0 {
		return
	}
	now := r.opts.Clock.Now()
	until := now.Add(min(d, MaxRefuse))
	a.filter[k] = refFilter{res: res.Clone(), created: now, expires: until}
	if f := r.frameworks[k.fw]; f != nil && until.After(f.filteredUntil) {
		f.filteredUntil = until
	}
}

// Recover implements Allocator.
func (r *Reference) Recover(fw FrameworkID, agent AgentID, role string, res core.Resources, refuse time.Duration) error {
	if err := validateResources("recovered", res); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		a, err := r.agent(agent)
		if err != nil {
			return err
		}
		k := allocKey{fw, role}
		held, ok := a.allocs[k]
		if !ok || !held.Contains(res) {
			return fmt.Errorf("%w: %s on %s in role %q: %s", ErrNotAllocated, fw, agent, role, res)
		}
		if len(res) == 0 {
			return nil
		}
		a.allocs[k] = held.Sub(res)
		if len(a.allocs[k]) == 0 {
			delete(a.allocs, k)
		}
		r.charge(k, res, -1)
		r.freed(a, res, +1)
		r.refuse(a, k, res, refuse)
		r.incremental(out, a)
		return nil
	})
}

// UpdateAllocation implements Allocator.
func (r *Reference) UpdateAllocation(fw FrameworkID, agent AgentID, role string, from, to core.Resources) error {
	if err := validateResources("from", from); err != nil {
		return err
	}
	if err := validateResources("to", to); err != nil {
		return err
	}
	if !slices.Equal(from.Quantities(), to.Quantities()) {
		return fmt.Errorf("%w: operation changes quantities: %s -> %s", ErrBadArgument, from, to)
	}
	return r.run(func(out *Output) error {
		a, err := r.agent(agent)
		if err != nil {
			return err
		}
		k := allocKey{fw, role}
		if !a.allocs[k].Contains(from) {
			return fmt.Errorf("%w: %s on %s in role %q: %s", ErrNotAllocated, fw, agent, role, from)
		}
		newTotal := a.info.Total.Sub(from).Add(to)
		if err := validateResources("new agent total", newTotal); err != nil {
			return err
		}
		r.charge(k, from, -1)
		r.charge(k, to, +1)
		a.allocs[k] = a.allocs[k].Sub(from).Add(to)
		r.addReserved(a.info.Total, -1)
		a.info.Total = newTotal
		r.addReserved(newTotal, +1)
		return nil
	})
}

// SetWeight implements Allocator.
func (r *Reference) SetWeight(role string, w float64) error {
	if err := validateWeight(role, w); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		r.weights[role] = w
		return nil
	})
}

// SetQuota implements Allocator.
func (r *Reference) SetQuota(role string, q Quota) error {
	if err := validateQuota(role, q); err != nil {
		return err
	}
	return r.run(func(out *Output) error {
		if q.Guarantee.IsEmpty() && q.Limit.IsEmpty() {
			delete(r.quotas, role)
		} else {
			r.quotas[role] = Quota{Guarantee: q.Guarantee.Clone(), Limit: q.Limit.Clone()}
		}
		// Rescind the newest offers that carry an over-limit resource.
		var ids []OfferID
		for id, o := range r.offers {
			if core.IsSubRoleOf(o.Role, role) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for i := len(ids) - 1; i >= 0; i-- {
			over := r.overLimit(role)
			if len(over) == 0 {
				break
			}
			u := unreservedCounted(r.offers[ids[i]].Resources)
			for _, name := range over {
				if u.Get(name) > 0 {
					r.rescind(ids[i], RescindQuotaLimit, out)
					break
				}
			}
		}
		r.incremental(out)
		return nil
	})
}

// overLimit lists the names that role or an ancestor consumes beyond its
// limit.
func (r *Reference) overLimit(role string) []string {
	var names []string
	for x, ok := role, true; ok; x, ok = core.ParentRole(x) {
		q, has := r.quotas[x]
		if !has {
			continue
		}
		c := r.consumed(x)
		for _, l := range q.Limit {
			if c.Get(l.Name) > l.Value {
				names = append(names, l.Name)
			}
		}
	}
	return names
}

// consumed is role's quota consumption: the unreserved allocations of its
// subtree plus every reservation for a role in it.
func (r *Reference) consumed(role string) core.Quantities {
	return r.unres[role].Add(r.reserved[role])
}

func (r *Reference) unmet(role string) core.Quantities {
	q, ok := r.quotas[role]
	if !ok || q.Guarantee.IsEmpty() {
		return nil
	}
	return q.Guarantee.Sub(r.consumed(role))
}

func (r *Reference) weight(role string) float64 {
	if w, ok := r.weights[role]; ok {
		return w
	}
	return 1
}

// Sweep implements Allocator.
func (r *Reference) Sweep() {
	r.run(func(out *Output) error {
		r.sweepNo++
		r.stats.Sweeps++
		now := r.opts.Clock.Now()
		if r.opts.OfferTimeout > 0 {
			r.rescindWhere(func(o *refOffer) bool { return !now.Before(o.Created.Add(r.opts.OfferTimeout)) }, RescindTimeout, out)
		}
		for _, a := range r.agents {
			for k, f := range a.filter {
				if !now.Before(f.expires) {
					delete(a.filter, k)
				}
			}
		}
		agents := r.sortedAgents()
		r.rng.Shuffle(len(agents), func(i, j int) { agents[i], agents[j] = agents[j], agents[i] })
		for _, a := range agents {
			r.allocateAgent(a, now, out)
		}
		if r.opts.MaxStarvationRescinds > 0 {
			r.relieveStarvation(now, out)
		}
		return nil
	})
}

// candidate is a framework-role that may be offered resources.
type candidate struct {
	fw   *refFramework
	role string
}

func (r *Reference) candidates() []candidate {
	var out []candidate
	for _, f := range r.frameworks {
		if !f.active {
			continue
		}
		for _, role := range f.info.Roles {
			if !slices.Contains(f.info.Suppressed, role) {
				out = append(out, candidate{f, role})
			}
		}
	}
	return out
}

func (r *Reference) totals() core.Quantities { return r.totalQ }

// order sorts cands hierarchically: at every level of the role tree the
// child with the lowest weighted share first (a role's own frameworks
// compete with its sub-roles as a "self" entry), and within a role the
// frameworks by their share in it.
func (r *Reference) order(cands []candidate, totals core.Quantities) []candidate {
	// Subtree and own allocations per role.
	sub := map[string]core.Quantities{}
	own := map[string]core.Quantities{}
	for k, q := range r.alloc {
		own[k.role] = own[k.role].Add(q)
		for x, ok := k.role, true; ok; x, ok = core.ParentRole(x) {
			sub[x] = sub[x].Add(q)
		}
	}
	share := func(q core.Quantities, w float64) float64 {
		return dominantShare(q, totals, r.opts.ExcludedFromShares, w)
	}
	// Build the tree of roles that have candidates.
	type node struct {
		name     string
		children map[string]*node
		fws      []candidate
	}
	root := &node{children: map[string]*node{}}
	nodes := map[string]*node{"": root}
	var get func(name string) *node
	get = func(name string) *node {
		if n, ok := nodes[name]; ok {
			return n
		}
		parent := ""
		if p, ok := core.ParentRole(name); ok {
			parent = p
		}
		n := &node{name: name, children: map[string]*node{}}
		get(parent).children[name] = n
		nodes[name] = n
		return n
	}
	for _, c := range cands {
		n := get(c.role)
		n.fws = append(n.fws, c)
	}
	var out []candidate
	var walk func(n *node)
	walk = func(n *node) {
		type entry struct {
			share float64
			name  string
			self  bool
			n     *node
		}
		var es []entry
		if len(n.fws) > 0 {
			es = append(es, entry{share(own[n.name], r.weight(n.name)), n.name, true, n})
		}
		for name, c := range n.children {
			es = append(es, entry{share(sub[name], r.weight(name)), name, false, c})
		}
		sort.Slice(es, func(i, j int) bool {
			if es[i].share != es[j].share {
				return es[i].share < es[j].share
			}
			if es[i].name != es[j].name {
				return es[i].name < es[j].name
			}
			return es[i].self && !es[j].self
		})
		for _, e := range es {
			if !e.self {
				walk(e.n)
				continue
			}
			type keyed struct {
				c     candidate
				share float64
			}
			fws := make([]keyed, len(e.n.fws))
			for i, c := range e.n.fws {
				fws[i] = keyed{c, share(r.alloc[allocKey{c.fw.info.ID, c.role}], 1)}
			}
			sort.Slice(fws, func(i, j int) bool {
				if fws[i].share != fws[j].share {
					return fws[i].share < fws[j].share
				}
				return fws[i].c.fw.info.ID < fws[j].c.fw.info.ID
			})
			for _, k := range fws {
				out = append(out, k.c)
			}
		}
	}
	walk(root)
	return out
}

// quotaOrder lists the roles with an unmet guarantee, lowest quota share
// first.
func (r *Reference) quotaOrder() []string {
	type qs struct {
		role  string
		share float64
	}
	var list []qs
	for role, q := range r.quotas {
		if r.unmet(role).IsEmpty() {
			continue
		}
		c := r.consumed(role)
		var s float64
		for _, g := range q.Guarantee {
			if g.Value > 0 {
				s = max(s, float64(c.Get(g.Name))/float64(g.Value))
			}
		}
		list = append(list, qs{role, s})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].share != list[j].share {
			return list[i].share < list[j].share
		}
		return list[i].role < list[j].role
	})
	out := make([]string, len(list))
	for i, q := range list {
		out[i] = q.role
	}
	return out
}

// required is the sum of every unmet guarantee: the headroom to hold back.
func (r *Reference) required() core.Quantities {
	var req core.Quantities
	for q := range r.quotas {
		req = req.Add(r.unmet(q))
	}
	return req
}

// caps is capsLocked of the sharded engine, recomputed from scratch;
// required is r.required(), computed once per pick.
func (r *Reference) caps(role, stage1 string, required core.Quantities) map[string]core.Value {
	caps := map[string]core.Value{}
	set := func(name string, v core.Value) {
		if old, ok := caps[name]; !ok || v < old {
			caps[name] = max(v, 0)
		}
	}
	for x, ok := role, true; ok; x, ok = core.ParentRole(x) {
		q, has := r.quotas[x]
		if !has || len(q.Limit) == 0 {
			continue
		}
		c := r.consumed(x)
		for _, l := range q.Limit {
			set(l.Name, l.Value-c.Get(l.Name))
		}
	}
	if stage1 != "" {
		unmet := r.unmet(stage1)
		for _, g := range r.quotas[stage1].Guarantee {
			set(g.Name, unmet.Get(g.Name))
		}
	}
	if !required.IsEmpty() {
		available := r.avail
		var nearest core.Quantities
		for x, ok := role, true; ok; x, ok = core.ParentRole(x) {
			if q, has := r.quotas[x]; has && !q.Guarantee.IsEmpty() {
				nearest = r.unmet(x)
				break
			}
		}
		for _, need := range required {
			set(need.Name, max(available.Get(need.Name)-need.Value, 0)+nearest.Get(need.Name))
		}
	}
	if len(caps) == 0 {
		return nil
	}
	return caps
}

// offerFor returns what c may take from free on a, or nil.
func (r *Reference) offerFor(c candidate, a *refAgent, free core.Resources, now time.Time, stage1 string, required core.Quantities) core.Resources {
	info := c.fw.info
	if info.Checkpoint && !a.info.Checkpoint {
		return nil
	}
	if r.total(a).Has(core.GPUs) && !r.opts.OfferGPUsToAll && !info.Capabilities.Has(GPUResources) {
		return nil
	}
	res := offerable(free, c.role, info.Capabilities)
	if caps := r.caps(c.role, stage1, required); caps != nil {
		res = shrinkScalars(res, caps)
	}
	if len(res) == 0 {
		return nil
	}
	if f, ok := a.filter[allocKey{info.ID, c.role}]; ok && f.blocks(res, now) {
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

// blocks reports whether the filter refuses an offer of res at now.
func (f refFilter) blocks(res core.Resources, now time.Time) bool {
	return now.Before(f.expires) && f.res.Contains(res)
}

// allocateAgent offers a's free resources, best candidate first, until no
// candidate can take anything.
func (r *Reference) allocateAgent(a *refAgent, now time.Time, out *Output) {
	r.allocateAgentExcluding(a, now, out, candidate{})
}

// allocateAgentExcluding is allocateAgent that offers exclude nothing.
func (r *Reference) allocateAgentExcluding(a *refAgent, now time.Time, out *Output, exclude candidate) {
	if !a.active {
		return
	}
	tried := []candidate{exclude}
	for {
		free := r.free(a)
		if len(free) == 0 {
			return
		}
		var best candidate
		var res core.Resources
		required := r.required()
		pick := func(list []candidate, stage1 string) bool {
			for _, c := range list {
				if slices.Contains(tried, c) {
					continue
				}
				if off := r.offerFor(c, a, free, now, stage1, required); off != nil {
					best, res = c, off
					return true
				}
			}
			return false
		}
		cands := r.candidates()
		totals := r.totals()
		found := false
		order := r.quotaOrder()
		// The candidates under each guaranteed role.
		under := map[string][]candidate{}
		if len(order) > 0 {
			for _, c := range cands {
				for x, ok := c.role, true; ok; x, ok = core.ParentRole(x) {
					if _, has := r.quotas[x]; has {
						under[x] = append(under[x], c)
					}
				}
			}
		}
		for _, q := range order {
			if pick(r.order(under[q], totals), q) {
				found = true
				break
			}
		}
		if !found && !pick(r.order(cands, totals), "") {
			return
		}
		r.makeOffer(a, best, res, now, out)
		tried = append(tried, best)
	}
}

func (r *Reference) makeOffer(a *refAgent, c candidate, res core.Resources, now time.Time, out *Output) {
	r.nextOffer++
	o := &refOffer{Offer{ID: r.nextOffer, Framework: c.fw.info.ID, Role: c.role, Agent: a.info.ID, Resources: res, Created: now}}
	r.offers[o.ID] = o
	a.offers = append(a.offers, o.ID)
	r.charge(allocKey{c.fw.info.ID, c.role}, res, +1)
	r.freed(a, res, -1)
	c.fw.lastOffer[c.role] = r.sweepNo
	r.stats.Offers++
	out.Offers = append(out.Offers, o.Offer)
}

// relieveStarvation follows the package documentation's starvation rule.
func (r *Reference) relieveStarvation(now time.Time, out *Output) {
	cands := r.candidates()
	var totalWeight float64
	perRole := map[string]int{}
	for _, c := range cands {
		if perRole[c.role] == 0 {
			totalWeight += r.weight(c.role)
		}
		perRole[c.role]++
	}
	fair := func(c candidate) float64 { return r.weight(c.role) / totalWeight / float64(perRole[c.role]) }
	totals := r.totals()
	share := func(c candidate) float64 {
		return dominantShare(r.alloc[allocKey{c.fw.info.ID, c.role}], totals, r.opts.ExcludedFromShares, 1)
	}
	var starved []candidate
	for _, c := range cands {
		if c.fw.lastOffer[c.role]+1 >= r.sweepNo || now.Before(c.fw.filteredUntil) {
			continue
		}
		unmetGuarantee := false
		for x, ok := c.role, true; ok; x, ok = core.ParentRole(x) {
			if q, has := r.quotas[x]; has && !q.Guarantee.IsEmpty() {
				unmetGuarantee = !r.unmet(x).IsEmpty()
				break
			}
		}
		if share(c) < fair(c) || unmetGuarantee {
			starved = append(starved, c)
		}
	}
	slices.SortFunc(starved, func(x, y candidate) int {
		return cmp.Or(cmp.Compare(x.fw.info.ID, y.fw.info.ID), cmp.Compare(x.role, y.role))
	})
	for n, st := range starved {
		if n == r.opts.MaxStarvationRescinds {
			break
		}
		var ids []OfferID
		for id := range r.offers {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		var victim OfferID
		var worst float64
		for _, id := range ids {
			o := r.offers[id]
			f := r.frameworks[o.Framework]
			c := candidate{f, o.Role}
			if f == nil || slices.Contains(starved, c) || !slices.Contains(cands, c) {
				continue
			}
			a := r.agents[o.Agent]
			if st.fw.info.Checkpoint && !a.info.Checkpoint ||
				r.total(a).Has(core.GPUs) && !r.opts.OfferGPUsToAll && !st.fw.info.Capabilities.Has(GPUResources) ||
				len(offerable(o.Resources, st.role, st.fw.info.Capabilities)) == 0 {
				continue
			}
			if over := share(c) - fair(c); over > worst {
				victim, worst = id, over
			}
		}
		if victim == 0 {
			continue
		}
		o := r.offers[victim]
		a := r.agents[o.Agent]
		r.rescind(victim, RescindStarvation, out)
		r.allocateAgentExcluding(a, now, out, candidate{r.frameworks[o.Framework], o.Role})
	}
}

// Stats implements Allocator.
func (r *Reference) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Agents, st.Frameworks, st.OutstandingOffers = len(r.agents), len(r.frameworks), len(r.offers)
	for _, a := range r.agents {
		st.FiltersActive += len(a.filter)
	}
	return st
}

// Snapshot implements Allocator.
func (r *Reference) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Clock.Now()
	snap := Snapshot{Weights: map[string]float64{}, Quotas: map[string]Quota{}}
	for _, a := range r.sortedAgents() {
		as := AgentState{Info: a.info, Active: a.active, Total: r.total(a)}
		as.Info.Total = a.info.Total.Clone()
		as.Info.Oversubscribed = a.slack.Clone()
		for k, res := range a.allocs {
			as.Allocations = append(as.Allocations, Allocation{Framework: k.fw, Role: k.role, Resources: res.Clone()})
		}
		slices.SortFunc(as.Allocations, func(x, y Allocation) int {
			return cmp.Or(cmp.Compare(x.Framework, y.Framework), cmp.Compare(x.Role, y.Role))
		})
		for _, id := range a.offers {
			o := r.offers[id].Offer
			o.Resources = o.Resources.Clone()
			as.Offers = append(as.Offers, o)
		}
		slices.SortFunc(as.Offers, func(x, y Offer) int { return cmp.Compare(x.ID, y.ID) })
		for k, f := range a.filter {
			if now.Before(f.expires) {
				as.Filters = append(as.Filters, FilterState{Framework: k.fw, Role: k.role, Resources: f.res.Clone(), Created: f.created, Expires: f.expires})
			}
		}
		slices.SortFunc(as.Filters, func(x, y FilterState) int {
			return cmp.Or(cmp.Compare(x.Framework, y.Framework), cmp.Compare(x.Role, y.Role))
		})
		snap.Agents = append(snap.Agents, as)
	}
	for _, f := range r.frameworks {
		info := f.info
		info.Roles = slices.Clone(info.Roles)
		info.Suppressed = slices.Clone(info.Suppressed)
		slices.Sort(info.Suppressed)
		snap.Frameworks = append(snap.Frameworks, FrameworkState{Info: info, Active: f.active})
	}
	slices.SortFunc(snap.Frameworks, func(x, y FrameworkState) int { return cmp.Compare(x.Info.ID, y.Info.ID) })
	for k, v := range r.weights {
		snap.Weights[k] = v
	}
	for k, v := range r.quotas {
		snap.Quotas[k] = Quota{Guarantee: v.Guarantee.Clone(), Limit: v.Limit.Clone()}
	}
	return snap
}
