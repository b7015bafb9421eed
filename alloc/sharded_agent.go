package alloc

import (
	"slices"
	"time"

	"meseta/core"
)

// agentView caches, for one pick, what an agent could offer to a role.
type agentView struct {
	a *agent
	// For agents without reservations every role sees the same resources:
	// all (revocable included) and nonRev.
	all, nonRev             core.Resources
	allCounts, nonRevCounts qvec
	haveAll, haveNonRev     bool
	byRole                  map[viewKey]viewEntry
	names                   *nameTable
}

type viewKey struct {
	role      string
	revocable bool
	shared    bool // with shared resources (agents that have some only)
}

type viewEntry struct {
	res    core.Resources
	counts *qvec
}

// reset points v at a for a new pick. It leaves the count vectors in
// place (they are recomputed before use) so that a pick does not clear
// them.
func (v *agentView) reset(a *agent, names *nameTable) {
	v.a, v.names = a, names
	v.all, v.nonRev, v.byRole = nil, nil, nil
	v.haveAll, v.haveNonRev = false, false
	if !a.reserved {
		v.all = a.free
		if len(a.slack) == 0 {
			v.nonRev = a.free
		} else {
			v.nonRev = a.free.NonRevocable()
		}
	}
}

// primeCounts brings a.freeCounts up to date for a's free resources, for
// an agent without reservations or slack, so that picks need not count
// them under Sharded.mu. The shard's mu must be held.
func (a *agent) primeCounts(names *nameTable) {
	if a.plain() && !sameResources(a.freeCountsOf, a.free) {
		a.freeCounts, a.freeCountsOf = names.vec(a.free, members), a.free
		a.freeCounted, _ = names.vecs(a.free)
	}
}

// plain reports whether a has neither reservations nor slack: every role
// may be offered all of its free resources, all of them unreserved and
// non-revocable.
func (a *agent) plain() bool { return !a.reserved && len(a.slack) == 0 }

// sameResources reports whether a and b are the same slice. Resources are
// never modified in place, so the same slice means the same resources.
func sameResources(a, b core.Resources) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// base returns what the agent could offer to role, without quota caps;
// shared resources only with shared (which agents without any never ask).
func (v *agentView) base(role string, revocable, shared bool) (core.Resources, *qvec) {
	if !v.a.reserved {
		if v.a.plain() && sameResources(v.a.freeCountsOf, v.all) {
			return v.all, &v.a.freeCounts // all == nonRev == free
		}
		if revocable {
			if !v.haveAll {
				v.allCounts, v.haveAll = v.names.vec(v.all, members), true
			}
			return v.all, &v.allCounts
		}
		if !v.haveNonRev {
			v.nonRevCounts, v.haveNonRev = v.names.vec(v.nonRev, members), true
		}
		return v.nonRev, &v.nonRevCounts
	}
	k := viewKey{role, revocable, shared}
	if e, ok := v.byRole[k]; ok {
		return e.res, e.counts
	}
	caps := Capability(0)
	if revocable {
		caps = RevocableResources
	}
	if shared {
		caps |= SharedResources
	}
	res := offerable(v.a.free, role, caps)
	e := viewEntry{res, new(v.names.vec(res, members))}
	if v.byRole == nil {
		v.byRole = map[viewKey]viewEntry{}
	}
	v.byRole[k] = e
	return e.res, e.counts
}

// allocateAgent offers a's free resources to candidates, best first, until
// nobody can take anything more. The shard's mu must be held.
func (s *Sharded) allocateAgent(sh *shard, a *agent, now time.Time, out *Output) {
	one := [1]*agent{a}
	s.allocateAgents(sh, one[:], now, out, nil, nil)
}

// batchSize is how many agents one hold of Sharded.mu picks for. Picking
// is the serial part of allocation; batching it keeps two shards that
// allocate at once from handing the lock back and forth for every offer.
const batchSize = 64

// uncharge is an event's own accounting (a Decline or Recover giving
// resources back, with a filter) done under the engine lock it takes to
// allocate the agent anyway.
type uncharge struct {
	fr     *fwRole
	res    core.Resources
	now    time.Time
	refuse time.Duration
	// q and u are res's counted and unreserved vectors (see vecs), worked
	// out before Sharded.mu is taken.
	q, u  qvec
	ready bool
}

// vecs computes u's vectors once. It needs no engine lock.
func (u *uncharge) vecs(names *nameTable) {
	if !u.ready {
		u.q, u.u = names.vecs(u.res)
		u.ready = true
	}
}

// applyLocked gives u's resources back to the accounting and installs its
// filter on a. The shard's mu and Sharded.mu must be held. With deferFw,
// the framework-role keeps its old key in its role's order: see picker.pend.
func (s *Sharded) applyLocked(sh *shard, a *agent, u *uncharge, deferFw bool) {
	u.vecs(&s.names)
	s.chargeVecLocked(u.fr, &u.q, &u.u, -1, a.active, !deferFw)
	s.noteFilterLocked(u.fr.fw, u.now, u.refuse)
	s.addFilterShardLocked(sh, a, u.fr, u.fr.filterGen, u.res, u.now, u.refuse)
}

// allocateAgents is allocateAgent for several agents of one shard: each
// round takes Sharded.mu once and picks one candidate for every agent
// still open, then records the offers with only the shard locked.
//
// pre, when not nil, is applied under the first hold of Sharded.mu, before
// any pick, and belongs to agents[0]: an event's own accounting rides along
// with its allocation, so that the event takes the engine lock once.
//
// exclude, when not nil, is not offered anything in this call (a starvation
// rescind must not hand the agent straight back to its victim).
func (s *Sharded) allocateAgents(sh *shard, agents []*agent, now time.Time, out *Output, pre *uncharge, exclude *fwRole) {
	var one [1]work
	open := one[:0]
	if len(agents) > 1 {
		open = make([]work, 0, min(len(agents), batchSize))
	}
	s.allocate(sh, agents, open, now, out, pre, exclude)
}

// allocateWorks carries on allocating agents already being worked on (their
// tried lists set): see recordPassShardLocked.
func (s *Sharded) allocateWorks(sh *shard, open []work, now time.Time, out *Output) {
	s.allocate(sh, nil, open, now, out, nil, nil)
}

// allocate is allocateAgents and allocateWorks: open holds the agents
// being worked on, agents those still to start.
func (s *Sharded) allocate(sh *shard, agents []*agent, open []work, now time.Time, out *Output, pre *uncharge, exclude *fwRole) {
	var preAgent *agent
	if pre != nil {
		preAgent = agents[0]
	}
	p := s.pickers.Get().(*picker)
	p.now = now
	defer s.pickers.Put(p)
	defer p.release()
	if pre != nil {
		pre.vecs(&s.names)
	}
	for len(agents) > 0 || len(open) > 0 {
		for len(open) < batchSize && len(agents) > 0 {
			if a := agents[0]; a.active && !a.removed && len(a.free) > 0 {
				a.primeCounts(&s.names)
				w := work{a: a, tried: p.triedSlot()}
				if exclude != nil {
					w.tried = append(w.tried, exclude)
				}
				open = append(open, w)
			}
			agents = agents[1:]
		}
		if len(open) == 0 {
			if pre != nil { // nothing to allocate: apply the event alone
				s.lock()
				s.applyLocked(sh, preAgent, pre, false)
				s.mu.Unlock()
			}
			return
		}
		if pre != nil && s.foldShared(p, open, pre, preAgent) {
			pre = nil
			sh.folds++
		} else {
			s.pickRoundLocking(sh, p, open, &pre, preAgent)
		}
		open = s.recordRoundShardLocked(sh, open, now, out)
	}
}

// recordRoundShardLocked records the offers of a round of picks and
// returns, in open's own array, the works whose agents have something left
// after their offer; it parks the agents refused by quota caps alone.
func (s *Sharded) recordRoundShardLocked(sh *shard, open []work, now time.Time, out *Output) []work {
	kept := open[:0]
	for _, w := range open {
		if w.fr != nil {
			s.recordOfferShardLocked(sh, w.a, w.fr, w.res, now, out)
			if len(w.a.free) > 0 {
				w.tried = append(w.tried, w.fr)
				w.fr, w.res = nil, nil
				kept = append(kept, w)
				continue
			}
		}
		if w.qBlock && !w.a.quotaParked {
			// Quota caps change as other agents' allocations come and go,
			// without this agent hearing of it: park it until some
			// consumption goes down or quota changes (quotaEpoch).
			w.a.quotaParked = true
			sh.quotaParked = append(sh.quotaParked, w.a)
		}
	}
	return kept
}

// picker walks the ordering for one agent at a time. Its walk functions are
// made once per picker, so that a pick allocates nothing.
type picker struct {
	s     *Sharded
	now   time.Time
	a     *agent
	v     agentView
	tried []*fwRole
	// stage1 is the guaranteed role being served in stage one, or nil.
	stage1 *role

	// pend is a framework-role whose key in its role's order is stale:
	// the event being allocated gave some of its resources back and its
	// rekey waits until the pick is done (see allocateAgents). The walk
	// of pend's role visits it as if it were at pendShare.
	pend      *fwRole
	pendShare float64
	pendDone  bool // pend was visited in the current walk of its role

	best         *fwRole
	res          core.Resources
	quotaBlocked bool
	// other: some candidate was refused for a reason that depends on the
	// agent, so "nobody can take anything" does not carry to other agents.
	other bool

	// slab backs the tried lists of the works of one allocateAgents
	// call, triedSlots at a time, so that they need not allocate; next is
	// the first unused entry.
	slab []*fwRole
	next int

	visitFw     func(*fwRole) bool
	visitFwPend func(*fwRole) bool
	visitEntry  func(*orderEntry) bool
	visitQuota  func(*role) bool
}

// release drops what the picker points to, so that it keeps nothing alive
// between calls.
func (p *picker) release() {
	clear(p.slab[:p.next])
	p.next = 0
	p.a, p.tried, p.best, p.res, p.stage1, p.pend = nil, nil, nil, nil, nil, nil
	p.v.a, p.v.all, p.v.nonRev, p.v.byRole = nil, nil, nil, nil
}

// triedSlots is how many picks per agent a slab slot holds; a work that
// makes more grows its list on the heap.
const triedSlots = 4

// triedSlot returns an empty tried list with room for triedSlots picks,
// from the slab while it lasts.
func (p *picker) triedSlot() []*fwRole {
	if p.next+triedSlots > len(p.slab) {
		return nil
	}
	t := p.slab[p.next : p.next : p.next+triedSlots]
	p.next += triedSlots
	return t
}

func (s *Sharded) newPicker() *picker {
	p := &picker{s: s, slab: make([]*fwRole, triedSlots*batchSize)}
	p.visitFw = p.tryFw
	p.visitFwPend = p.tryFwPend
	p.visitEntry = p.tryEntry
	p.visitQuota = p.tryQuota
	return p
}

// pickLocked returns the best candidate that may take something on a, and
// what it would be offered; p.quotaBlocked then says some candidate was
// denied by quota caps alone.
func (p *picker) pickLocked(a *agent, tried []*fwRole) (*fwRole, core.Resources) {
	p.a, p.tried, p.best, p.res, p.quotaBlocked, p.other = a, tried, nil, nil, false, false
	s := p.s
	memo := [2]uint64{s.quotaEpoch.Load() + 1, s.epoch.Load()}
	if p.plain() && s.guaranteeOrder.Len() == 0 && s.allQuotaBlocked == memo {
		// A plain agent's walk found every candidate blocked by quota
		// caps alone, and neither quota nor the candidates changed since.
		p.quotaBlocked = true
		return nil, nil
	}
	p.v.reset(a, &s.names)
	if s.guaranteeOrder.Len() > 0 {
		s.guaranteeOrder.Ascend(p.visitQuota)
		p.stage1 = nil
		if p.best != nil {
			return p.best, p.res
		}
	}
	s.root.order.Ascend(p.visitEntry)
	if p.best == nil && p.quotaBlocked && !p.other && p.plain() && s.guaranteeOrder.Len() == 0 {
		s.allQuotaBlocked = memo
	}
	return p.best, p.res
}

// plain reports whether the agent being picked for has neither
// reservations nor revocable slack, so that quota caps are all that can
// differ between candidates of a role (and only in stage two).
func (p *picker) plain() bool {
	return p.stage1 == nil && !p.a.reserved && len(p.a.slack) == 0
}

// tryQuota walks a guaranteed role's subtree in stage one.
func (p *picker) tryQuota(q *role) bool {
	p.stage1 = q
	q.order.Ascend(p.visitEntry)
	return p.best == nil
}

// tryEntry walks one entry of a role's order: its own frameworks or a
// sub-role.
func (p *picker) tryEntry(e *orderEntry) bool {
	if e.self {
		if p.plain() && e.r.customMin == 0 && e.r.quotaBlocked == p.s.quotaEpoch.Load()+1 {
			// Every candidate here was refused by quota caps alone on an
			// agent like this one, and no cap has loosened since.
			p.quotaBlocked = true
			return true
		}
		if p.pend != nil && p.pend.role == e.r {
			p.pendDone = false
			e.r.fws.Ascend(p.visitFwPend)
			if p.best == nil && !p.pendDone {
				p.tryFw(p.pend) // pend's place is after every other candidate
			}
		} else {
			e.r.fws.Ascend(p.visitFw)
		}
	} else {
		e.r.order.Ascend(p.visitEntry)
	}
	return p.best == nil
}

// tryFw checks one candidate; it returns false (stop) when it is picked.
func (p *picker) tryFw(fr *fwRole) bool {
	if slices.Contains(p.tried, fr) {
		p.other = true
		return true
	}
	r, why := p.s.offerForLocked(fr, p.a, &p.v, p.now, p.stage1)
	switch why {
	case refusedQuotaAnywhere:
		p.quotaBlocked = true
		if p.stage1 == nil {
			// Quota caps depend on the role, not the agent: every plain
			// agent refuses every default-minimum candidate of this role
			// until the quota epoch moves.
			fr.role.quotaBlocked = p.s.quotaEpoch.Load() + 1
		}
	case refusedQuota:
		p.quotaBlocked, p.other = true, true
	case refusedOther:
		p.other = true
	}
	if r == nil {
		return true
	}
	p.best, p.res = fr, r
	return false
}

// orderOnlyLocked reports whether taking resources from fr (as a
// Recover or Decline without a filter would) changes nothing a pick looks
// at except fr's own key in its role's order: no quota is set anywhere (so
// no cap, headroom or guarantee depends on consumption), and fr's role and
// each of its ancestors is alone in the order it sits in (so their keys
// decide nothing). A pick can then run before the accounting is applied,
// with fr at its would-be key (picker.pend), and when it gives the same
// resources straight back to fr the accounting need not be touched at all.
func (s *Sharded) orderOnlyLocked(fr *fwRole) bool {
	if len(s.quotas) != 0 || s.guaranteeOrder.Len() != 0 {
		return false
	}
	r := fr.role
	if !r.selfIn || r.order.Len() != 1 {
		return false
	}
	for x := r; x != s.root; x = x.parent {
		if !x.inParent || x.parent.order.Len() != 1 {
			return false
		}
	}
	return true
}

// tryFwPend is tryFw for the walk of p.pend's role: pend is skipped where
// its stale key puts it and tried where pendShare puts it instead.
func (p *picker) tryFwPend(fr *fwRole) bool {
	if fr == p.pend {
		return true
	}
	if !p.pendDone && fwRoleBefore(p.pendShare, p.pend, fr.share, fr) {
		p.pendDone = true
		if !p.tryFw(p.pend) {
			return false
		}
	}
	return p.tryFw(fr)
}

// refusal says why a candidate was offered nothing.
type refusal uint8

const (
	accepted refusal = iota
	// refusedOther: a rule that depends on the agent (filters, checkpoint,
	// GPUs, what is free, min_allocatable on what is left).
	refusedOther
	// refusedQuota: quota caps shrank the offer below the minimum, on this
	// agent's resources.
	refusedQuota
	// refusedQuotaAnywhere: quota caps leave no minimum alternative on any
	// agent without reservations or revocable slack; see picker.plain.
	refusedQuotaAnywhere
)

// offerForLocked returns what fr may be offered on a, or nil and why not.
func (s *Sharded) offerForLocked(fr *fwRole, a *agent, v *agentView, now time.Time, stage1 *role) (core.Resources, refusal) {
	fw := fr.fw
	caps := fw.info.Capabilities
	if fw.info.Checkpoint && !a.info.Checkpoint {
		return nil, refusedOther
	}
	if a.hasGPUs && !s.opts.OfferGPUsToAll && !caps.Has(GPUResources) {
		return nil, refusedOther
	}
	qc := s.capsLocked(fr.role, stage1)
	if qc.set != 0 && fr.minAlloc == nil && qc.blocksAll(s.minAlloc) && !a.reserved && len(a.slack) == 0 {
		return nil, refusedQuotaAnywhere
	}
	res, counts := v.base(fr.role.name, caps.Has(RevocableResources), a.shared && caps.Has(SharedResources))
	if len(res) == 0 {
		return nil, refusedOther
	}
	shrunk := false
	if qc.set != 0 {
		if capped := qc.shrink(res, &s.names); len(capped) != len(res) || &capped[0] != &res[0] {
			res, shrunk = capped, true
			if len(res) == 0 {
				return nil, refusedQuota
			}
			c := s.names.vec(res, members)
			counts = &c
		}
	}
	if f := a.filters[fr]; f != nil && f.gen == fr.filterGen && f.blocks(res, now) {
		return nil, refusedOther
	}
	mins := fr.minAlloc
	if mins == nil {
		mins = s.minAlloc
	}
	if !meetsMinVec(counts, mins, s.names.width()) {
		if shrunk {
			return nil, refusedQuota
		}
		return nil, refusedOther
	}
	return res, accepted
}

// blocksAll reports whether the caps leave no min_allocatable alternative
// reachable from unreserved non-revocable resources: every alternative
// needs some resource capped to zero.
func (c *capVec) blocksAll(mins []qvec) bool {
	if len(mins) == 0 {
		return false
	}
	for i := range mins {
		blocked := false
		for n, need := range mins[i] {
			if need > 0 && c.set&(1<<n) != 0 && c.v[n] == 0 {
				blocked = true
				break
			}
		}
		if !blocked {
			return false
		}
	}
	return true
}

// recordOfferShardLocked records an offer already charged under mu.
func (s *Sharded) recordOfferShardLocked(sh *shard, a *agent, fr *fwRole, res core.Resources, now time.Time, out *Output) {
	sh.offerSeq++
	id := OfferID(sh.offerSeq<<shardBits | uint64(sh.idx))
	var o *offer
	if n := len(sh.spare); n > 0 {
		o, sh.spare = sh.spare[n-1], sh.spare[:n-1]
	} else {
		o = new(offer)
	}
	*o = offer{
		Offer: Offer{ID: id, Framework: fr.fw.id, Role: fr.role.name, Agent: a.id, Resources: res, Created: now},
		fr:    fr,
		agent: a,
	}
	sh.offers[id] = o
	a.offers = append(a.offers, o)
	if s.opts.OfferTimeout > 0 {
		sh.byAge = append(sh.byAge, o)
	}
	if len(res) == len(a.free) && &res[0] == &a.free[0] {
		a.free = nil // the whole agent was offered
	} else {
		a.free = a.free.Sub(res)
	}
	sh.offersMade++
	out.addOffer(o.Offer)
}

// maxSpare bounds a shard's spare offers (a cluster of 64 shards keeps at
// most 2 MiB of them).
const maxSpare = 256

// recycleShardLocked keeps o, which is gone and which nothing points to any
// more, for a later offer. Only Accept and Decline call it: the sweep's
// starvation relief holds lists of offers, but never across those calls.
func (s *Sharded) recycleShardLocked(sh *shard, o *offer) {
	if s.opts.OfferTimeout <= 0 && len(sh.spare) < maxSpare {
		*o = offer{}
		sh.spare = append(sh.spare, o)
	}
}

// dropOfferShardLocked removes an outstanding offer from its shard and
// agent and gives its resources back to the agent's free pool. The caller
// uncharges it under mu.
func dropOfferShardLocked(sh *shard, o *offer) {
	o.gone = true
	delete(sh.offers, o.ID)
	a := o.agent
	if i := slices.Index(a.offers, o); i >= 0 {
		a.offers = slices.Delete(a.offers, i, i+1)
	}
	a.giveBack(o.Resources)
}

// giveBack returns res to a's free resources. An agent with nothing free
// takes res itself (resource lists are never modified in place, so
// sharing is safe): the counts cached for res when it was offered
// (primeCounts) then still hold.
func (a *agent) giveBack(res core.Resources) {
	if len(a.free) == 0 {
		a.free = res
	} else {
		a.free = a.free.Add(res)
	}
}

// rescindShardLocked takes an offer back: it is dropped, uncharged, and
// reported in out.
func (s *Sharded) rescindShardLocked(sh *shard, o *offer, why RescindReason, out *Output) {
	dropOfferShardLocked(sh, o)
	s.lock()
	s.chargeLocked(o.fr, o.Resources, -1, o.agent.active && !o.agent.removed)
	s.mu.Unlock()
	sh.rescinds++
	out.Rescinds = append(out.Rescinds, Rescind{Offer: o.Offer, Reason: why})
	s.markDirtyShardLocked(sh, o.agent)
}

// markDirtyShardLocked queues a for the next pass.
func (s *Sharded) markDirtyShardLocked(sh *shard, a *agent) {
	if !a.dirty && !a.removed {
		a.dirty = true
		sh.dirty = append(sh.dirty, a)
	}
}

// settleShardLocked allocates a at once when incremental allocation is on,
// and otherwise queues it for the next sweep.
func (s *Sharded) settleShardLocked(sh *shard, a *agent, out *Output) {
	s.settleWithShardLocked(sh, a, out, nil)
}

// settleWithShardLocked is settleShardLocked with an event's accounting to
// apply under Sharded.mu first (see allocateAgents).
func (s *Sharded) settleWithShardLocked(sh *shard, a *agent, out *Output, pre *uncharge) {
	if s.opts.DisableIncremental {
		if pre != nil {
			s.lock()
			s.applyLocked(sh, a, pre, false)
			s.mu.Unlock()
		}
		s.markDirtyShardLocked(sh, a)
		return
	}
	one := [1]*agent{a}
	s.allocateAgents(sh, one[:], s.now(), out, pre, nil)
}

// addFilterShardLocked installs a decline filter on a.
func (s *Sharded) addFilterShardLocked(sh *shard, a *agent, fr *fwRole, gen uint64, res core.Resources, now time.Time, refuse time.Duration) {
	if refuse <= 0 || len(res) == 0 {
		return
	}
	refuse = min(refuse, MaxRefuse)
	f := &agentFilter{filter: filter{res: res, expires: now.Add(refuse)}, created: now, gen: gen}
	if a.filters == nil {
		a.filters = map[*fwRole]*agentFilter{}
	}
	a.filters[fr] = f
	if a.nextExpiry.IsZero() || f.expires.Before(a.nextExpiry) {
		a.nextExpiry = f.expires
		sh.filterExpiry.push(expiry{at: f.expires, agent: a})
	}
}

// expireFiltersShardLocked drops filters that expired by now and queues the
// agents they were on.
func (s *Sharded) expireFiltersShardLocked(sh *shard, now time.Time) {
	for len(sh.filterExpiry) > 0 && !sh.filterExpiry[0].at.After(now) {
		e := sh.filterExpiry.pop()
		a := e.agent
		if a.removed || !e.at.Equal(a.nextExpiry) {
			continue // a later entry for this agent supersedes this one
		}
		a.nextExpiry = time.Time{}
		for k, f := range a.filters {
			if !f.expires.After(now) {
				delete(a.filters, k)
			} else if a.nextExpiry.IsZero() || f.expires.Before(a.nextExpiry) {
				a.nextExpiry = f.expires
			}
		}
		if !a.nextExpiry.IsZero() {
			sh.filterExpiry.push(expiry{at: a.nextExpiry, agent: a})
		}
		s.markDirtyShardLocked(sh, a)
	}
}

// findAllocation returns the index of fr's allocation on a, or -1.
func (a *agent) findAllocation(fw FrameworkID, role string) int {
	for i, al := range a.allocs {
		if al.fr.fw.id == fw && al.fr.role.name == role {
			return i
		}
	}
	return -1
}

// addAllocation adds res to fr's allocation on a.
func (a *agent) addAllocation(fr *fwRole, res core.Resources) {
	for i := range a.allocs {
		if al := &a.allocs[i]; al.fr == fr {
			al.res = al.res.Add(res)
			return
		}
	}
	a.allocs = append(a.allocs, allocation{fr: fr, res: res})
}

// used is everything offered or allocated on a.
func (a *agent) used() core.Resources {
	var u core.Resources
	for _, al := range a.allocs {
		u = u.Add(al.res)
	}
	for _, o := range a.offers {
		u = u.Add(o.Resources)
	}
	return u
}

// meetsMinVec reports whether an offer with member counts c satisfies one of
// mins (any non-empty offer when mins is empty).
func meetsMinVec(c *qvec, mins []qvec, n int) bool {
	if len(mins) == 0 {
		return !c.isZeroN(n)
	}
	for i := range mins {
		if c.coversN(&mins[i], n) {
			return true
		}
	}
	return false
}

// addAvailableLocked adds (or removes) the unreserved counted part of free
// resources of an active agent to the cluster's available headroom.
func (s *Sharded) addAvailableLocked(free core.Resources, sign int) {
	u := s.names.vec(free, unreserved)
	if sign > 0 {
		s.available.add(&u)
		s.quotaEpoch.Add(1) // more headroom: a cap may have loosened
	} else {
		s.available.sub(&u)
	}
}

// work is one agent being allocated by allocateAgents.
type work struct {
	a      *agent
	tried  []*fwRole
	fr     *fwRole
	res    core.Resources
	qBlock bool
}

// pickRoundLocking takes Sharded.mu and picks one candidate for every
// agent of open (see allocateAgents). It applies *pre first, and clears it.
func (s *Sharded) pickRoundLocking(sh *shard, p *picker, open []work, pre **uncharge, preAgent *agent) {
	s.lock()
	defer s.mu.Unlock()
	// folded is the event whose resources this round may offer again as
	// they are: their vectors are known already. (foldShared has already
	// tried, and failed, to settle it without charging anything.)
	var folded *uncharge
	if u := *pre; u != nil {
		*pre = nil
		folded = u
		// When the event's framework-role gets its resources straight
		// back (a task ended and its framework is still the furthest
		// below its share), moving it down and back up its role's btree
		// is wasted work: leave it at its old key and let the pick see it
		// at its new one (picker.pend).
		deferFw := len(open) == 1 && open[0].a == preAgent && u.fr.inOrder
		s.applyLocked(sh, preAgent, u, deferFw)
		if deferFw {
			p.pend, p.pendShare = u.fr, s.shareOf(&u.fr.alloc, 1)
		}
	}
	for i := range open {
		w := &open[i]
		w.fr, w.res = p.pickLocked(w.a, w.tried)
		w.qBlock = w.qBlock || p.quotaBlocked
		if w.fr != nil {
			switch {
			case folded != nil && sameResources(w.res, folded.res):
				s.chargeVecLocked(w.fr, &folded.q, &folded.u, +1, true, true)
			case w.a.plain() && sameResources(w.res, w.a.freeCountsOf):
				// All of a plain agent's free resources: all unreserved.
				s.chargeVecLocked(w.fr, &w.a.freeCounted, &w.a.freeCounted, +1, true, true)
			default:
				s.chargeLocked(w.fr, w.res, +1, true)
			}
			w.fr.lastOffer = s.sweepNo
		}
	}
	if p.pend != nil {
		// A no-op when the pick gave it back exactly what it returned.
		s.rekeyFwRoleLocked(p.pend)
		p.pend = nil
	}
}

// foldShared settles, under Sharded.mu held for reading only, an event
// that gives resources back (pre) when the pick hands them straight back
// to the same framework-role: then no engine state changes at all, so
// concurrent events on other shards need not wait for each other. It
// reports whether it did; otherwise the caller allocates as usual.
//
// It applies only where orderOnlyLocked holds, so that the pick reads and
// never writes engine state (the pick's writes are quota memos, and no
// quota is set), and only when the candidate's lastOffer is current.
func (s *Sharded) foldShared(p *picker, open []work, pre *uncharge, preAgent *agent) bool {
	if len(open) != 1 || open[0].a != preAgent || len(open[0].tried) > 0 || pre.refuse > 0 || !preAgent.active {
		return false
	}
	if s.bias.Load() {
		sh := preAgent.shard
		sh.folding.Store(true)
		if s.bias.Load() {
			ok := s.foldReadLocked(p, open, pre, preAgent)
			sh.folding.Store(false)
			return ok
		}
		sh.folding.Store(false)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.bias.Load() && s.slowRead.Add(1) >= biasAfter {
		s.bias.Store(true) // no writer holds mu: safe to turn the bias on
	}
	return s.foldReadLocked(p, open, pre, preAgent)
}

// foldReadLocked is foldShared's read of engine state, with Sharded.mu
// held for reading or the read bias in force (see Sharded.bias).
func (s *Sharded) foldReadLocked(p *picker, open []work, pre *uncharge, preAgent *agent) bool {
	fr := pre.fr
	if !fr.inOrder || fr.lastOffer != s.sweepNo || !s.orderOnlyLocked(fr) {
		return false
	}
	after := fr.alloc
	after.sub(&pre.q)
	p.pend, p.pendShare = fr, s.shareOf(&after, 1)
	got, res := p.pickLocked(preAgent, nil)
	p.pend = nil
	if got != fr || !sameResources(res, pre.res) || p.quotaBlocked {
		return false
	}
	open[0].fr, open[0].res = got, res
	return true
}
