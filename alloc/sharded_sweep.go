package alloc

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"time"
)

// forEachShard runs fn on every shard in turn, with its mu held, and emits
// each shard's output, on the calling goroutine.
//
// Allocation passes over every shard use passAll instead. Spreading whole
// passes over GOMAXPROCS goroutines was tried and measured: picking a
// candidate is serial (it holds Sharded.mu), so two workers mostly handed
// the lock back and forth, and on this kind of machine each handoff woke
// a sleeping goroutine (a 10k-agent cycle took 26 ms on two workers
// against 9 ms on one). passAll splits the work by kind instead: one
// goroutine picks, the other records.
func (s *Sharded) forEachShard(fn func(sh *shard, out *Output)) {
	for _, sh := range s.shards {
		var out Output
		sh.mu.Lock()
		fn(sh, &out)
		sh.mu.Unlock()
		s.emit(&out)
	}
}

// allocateAll runs an allocation pass at once, unless incremental
// allocation is off (then the next Sweep does it).
func (s *Sharded) allocateAll() {
	if s.opts.DisableIncremental {
		return
	}
	s.passAll(s.now(), false)
}

// passAll runs an allocation pass over every shard (after expiring offers
// and filters, with expire).
//
// With more than one shard and more than one P, it is a two-stage
// pipeline. The calling goroutine locks a shard, makes the first pick for
// each of its agents that may have something to offer (charged under
// Sharded.mu, in batches) and hands the shard, still locked, to a second
// goroutine, which records those offers, allocates what the agents have
// left (rare: reservations, slack and quota caps leave leftovers),
// unlocks the shard and emits its output, while the caller picks for the
// next shard. Picking is serial, recording is not: the recorder takes
// Sharded.mu only for leftovers, so the two rarely meet, and a handoff is
// one channel send per shard. Within a shard the order is as in
// allocateAgents except that every agent's first pick comes before any
// agent's second.
func (s *Sharded) passAll(now time.Time, expire bool) {
	prep := func(sh *shard, out *Output) []*agent {
		if expire {
			s.expireOffersShardLocked(sh, now, out)
			s.expireFiltersShardLocked(sh, now)
		}
		return s.todoShardLocked(sh)
	}
	if len(s.shards) == 1 || runtime.GOMAXPROCS(0) == 1 {
		s.forEachShard(func(sh *shard, out *Output) {
			todo := prep(sh, out)
			out.reserveOffers(len(todo))
			s.allocateAgents(sh, todo, now, out, nil, nil)
		})
		return
	}
	type pass struct {
		sh    *shard
		out   Output
		works []work
	}
	var ch chan *pass // the recorder's, made when a shard first has picks
	var recorder sync.WaitGroup
	p := s.pickers.Get().(*picker)
	p.now = now
	for _, sh := range s.shards {
		ps := &pass{sh: sh}
		sh.mu.Lock()
		todo := prep(sh, &ps.out)
		ps.works = s.firstPicksShardLocked(sh, p, todo)
		if len(ps.works) == 0 {
			// Nothing to record (a sweep where every agent is parked
			// costs no handoff at all).
			sh.mu.Unlock()
			s.emit(&ps.out)
			continue
		}
		if ch == nil {
			ch = make(chan *pass, 4)
			recorder.Go(func() {
				for ps := range ch {
					s.recordPassShardLocked(ps.sh, ps.works, now, &ps.out)
					ps.sh.mu.Unlock()
					s.emit(&ps.out)
				}
			})
		}
		ch <- ps // the recorder unlocks sh
	}
	if ch != nil {
		close(ch)
	}
	p.release()
	s.pickers.Put(p)
	recorder.Wait()
}

// firstPicksShardLocked makes, and charges, the first pick for each agent
// of todo that may have something to offer, batchSize agents per hold of
// Sharded.mu. The offers are not recorded: see recordPassShardLocked.
func (s *Sharded) firstPicksShardLocked(sh *shard, p *picker, todo []*agent) []work {
	var works []work
	for _, a := range todo {
		if a.active && !a.removed && len(a.free) > 0 {
			if works == nil {
				works = make([]work, 0, len(todo))
			}
			a.primeCounts(&s.names)
			works = append(works, work{a: a})
		}
	}
	var none *uncharge
	for b := works; len(b) > 0; {
		n := min(len(b), batchSize)
		s.pickRoundLocking(sh, p, b[:n], &none, nil)
		b = b[n:]
	}
	return works
}

// recordPassShardLocked records the first picks of a pass, parks agents
// refused by quota caps, and allocates what the agents that got an offer
// have left.
func (s *Sharded) recordPassShardLocked(sh *shard, works []work, now time.Time, out *Output) {
	out.reserveOffers(len(works))
	if kept := s.recordRoundShardLocked(sh, works, now, out); len(kept) > 0 {
		s.allocateWorks(sh, kept, now, out)
	}
}

// todoShardLocked returns the shard's agents that may have something to
// offer: all of them when the epoch moved since the shard's last full pass,
// else only the dirty ones.
func (s *Sharded) todoShardLocked(sh *shard) []*agent {
	if ep := s.quotaEpoch.Load(); sh.seenQuotaEpoch != ep {
		// Quota may have loosened: look at the parked agents again (via
		// the dirty list, which holds an agent once).
		sh.seenQuotaEpoch = ep
		for _, a := range sh.quotaParked {
			a.quotaParked = false
			s.markDirtyShardLocked(sh, a)
		}
		sh.quotaParked = sh.quotaParked[:0]
	}
	todo := sh.dirty
	sh.dirty = nil
	for _, a := range todo {
		a.dirty = false
	}
	if ep := s.epoch.Load(); sh.seenEpoch != ep {
		sh.seenEpoch = ep
		todo = sh.list
	}
	return todo
}

// Sweep implements Allocator.
func (s *Sharded) Sweep() {
	s.enter()
	defer s.exit()
	now := s.now()
	s.lock()
	s.sweepNo++
	sweep := s.sweepNo
	s.mu.Unlock()
	s.sweeps.Add(1)
	s.passAll(now, true)
	if s.opts.MaxStarvationRescinds > 0 {
		s.relieveStarvation(now, sweep)
	}
}

// expireOffersShardLocked rescinds offers older than OfferTimeout.
func (s *Sharded) expireOffersShardLocked(sh *shard, now time.Time, out *Output) {
	if s.opts.OfferTimeout <= 0 {
		return
	}
	n := 0
	for _, o := range sh.byAge {
		if now.Before(o.Created.Add(s.opts.OfferTimeout)) {
			break
		}
		n++
		if !o.gone {
			s.rescindShardLocked(sh, o, RescindTimeout, out)
		}
	}
	sh.byAge = slices.Delete(sh.byAge, 0, n)
}

// fairShareLocked returns each candidate's fair share: its role's weight
// over the weights of all roles with candidates, split evenly among the
// role's candidates.
func (s *Sharded) fairShareLocked() map[*fwRole]float64 {
	var total float64
	for _, r := range s.roles {
		if r.fws.Len() > 0 {
			total += r.weight
		}
	}
	fair := map[*fwRole]float64{}
	for _, r := range s.roles {
		if n := r.fws.Len(); n > 0 {
			each := r.weight / total / float64(n)
			r.fws.Ascend(func(fr *fwRole) bool { fair[fr] = each; return true })
		}
	}
	return fair
}

// relieveStarvation rescinds offers of candidates above their fair share
// when some candidate below its fair share (or guarantee) got nothing
// since the previous sweep and refuses nothing.
func (s *Sharded) relieveStarvation(now time.Time, sweep uint64) {
	s.lock()
	fair := s.fairShareLocked()
	var starved []*fwRole
	for fr, f := range fair {
		if fr.lastOffer+1 >= sweep || now.Before(fr.fw.filteredUntil) {
			continue
		}
		g := nearestGuarantee(fr.role)
		if dominantShareVec(&fr.alloc, &s.totals, &s.skip, 1) < f || (g != nil && !g.unmet.isZero()) {
			starved = append(starved, fr)
		}
	}
	s.mu.Unlock()
	if len(starved) == 0 {
		return
	}
	slices.SortFunc(starved, func(a, b *fwRole) int {
		return cmp.Or(cmp.Compare(a.fw.id, b.fw.id), cmp.Compare(a.role.name, b.role.name))
	})

	var out Output
	s.lockAllShards()
	var pool []*offer
	for _, sh := range s.shards {
		for _, o := range sh.offers {
			pool = append(pool, o)
		}
	}
	slices.SortFunc(pool, func(a, b *offer) int { return cmpTime(a.Created, b.Created, uint64(a.ID), uint64(b.ID)) })
	for n, st := range starved {
		if n == s.opts.MaxStarvationRescinds {
			break
		}
		// The victim is the offer, among those st could use, of the
		// candidate furthest above its fair share right now (oldest offer
		// on ties).
		s.lock()
		var victim *offer
		var worst float64
		for _, o := range pool {
			f, ok := fair[o.fr]
			if o.gone || !ok || slices.Contains(starved, o.fr) || !s.couldUseLocked(st, o) {
				continue
			}
			if over := dominantShareVec(&o.fr.alloc, &s.totals, &s.skip, 1) - f; over > worst {
				victim, worst = o, over
			}
		}
		s.mu.Unlock()
		if victim == nil {
			continue
		}
		s.rescindShardLocked(victim.agent.shard, victim, RescindStarvation, &out)
		one := [1]*agent{victim.agent}
		s.allocateAgents(victim.agent.shard, one[:], now, &out, nil, victim.fr)
	}
	s.unlockAllShards()
	s.emit(&out)
}

// couldUseLocked reports whether fr is not excluded from o's resources by
// the checkpoint, GPU and reservation rules.
func (s *Sharded) couldUseLocked(fr *fwRole, o *offer) bool {
	a := o.agent
	caps := fr.fw.info.Capabilities
	if fr.fw.info.Checkpoint && !a.info.Checkpoint {
		return false
	}
	if a.hasGPUs && !s.opts.OfferGPUsToAll && !caps.Has(GPUResources) {
		return false
	}
	return len(offerable(o.Resources, fr.role.name, caps)) > 0
}

// Stats implements Allocator.
func (s *Sharded) Stats() Stats {
	st := Stats{Sweeps: s.sweeps.Load()}
	for _, sh := range s.shards {
		sh.mu.Lock()
		st.Offers += sh.offersMade
		st.Rescinds += sh.rescinds
		st.Revocations += sh.revocations
		st.Agents += len(sh.agents)
		st.OutstandingOffers += len(sh.offers)
		for _, a := range sh.agents {
			st.FiltersActive += len(a.filters)
		}
		sh.mu.Unlock()
	}
	s.lock()
	for _, fw := range s.frameworks {
		if !fw.placeholder {
			st.Frameworks++
		}
	}
	s.mu.Unlock()
	return st
}

// Snapshot implements Allocator.
func (s *Sharded) Snapshot() Snapshot {
	now := s.now()
	s.lockAllShards()
	defer s.unlockAllShards()
	s.lock()
	defer s.mu.Unlock()
	snap := Snapshot{Weights: map[string]float64{}, Quotas: map[string]Quota{}}
	for _, sh := range s.shards {
		for _, a := range sh.list {
			as := AgentState{Info: a.info, Active: a.active, Total: a.total.Clone()}
			as.Info.Total = a.info.Total.Clone()
			as.Info.Oversubscribed = a.slack.Clone()
			for _, al := range a.allocs {
				as.Allocations = append(as.Allocations, Allocation{Framework: al.fr.fw.id, Role: al.fr.role.name, Resources: al.res.Clone()})
			}
			slices.SortFunc(as.Allocations, func(x, y Allocation) int {
				return cmp.Or(cmp.Compare(x.Framework, y.Framework), cmp.Compare(x.Role, y.Role))
			})
			for _, o := range a.offers {
				off := o.Offer
				off.Resources = off.Resources.Clone()
				as.Offers = append(as.Offers, off)
			}
			slices.SortFunc(as.Offers, func(x, y Offer) int { return cmp.Compare(x.ID, y.ID) })
			for fr, f := range a.filters {
				if s.frameworks[fr.fw.id] != fr.fw || !now.Before(f.expires) || fr.filterGen != f.gen {
					continue
				}
				as.Filters = append(as.Filters, FilterState{Framework: fr.fw.id, Role: fr.role.name, Resources: f.res.Clone(), Created: f.created, Expires: f.expires})
			}
			slices.SortFunc(as.Filters, func(x, y FilterState) int {
				return cmp.Or(cmp.Compare(x.Framework, y.Framework), cmp.Compare(x.Role, y.Role))
			})
			snap.Agents = append(snap.Agents, as)
		}
	}
	slices.SortFunc(snap.Agents, func(x, y AgentState) int { return cmp.Compare(x.Info.ID, y.Info.ID) })
	for _, fw := range s.frameworks {
		if fw.placeholder {
			continue
		}
		info := fw.info
		info.Roles = slices.Clone(info.Roles)
		info.Suppressed = slices.Clone(info.Suppressed)
		slices.Sort(info.Suppressed)
		snap.Frameworks = append(snap.Frameworks, FrameworkState{Info: info, Active: fw.active})
	}
	slices.SortFunc(snap.Frameworks, func(x, y FrameworkState) int { return cmp.Compare(x.Info.ID, y.Info.ID) })
	for k, v := range s.weights {
		snap.Weights[k] = v
	}
	for k, v := range s.quotas {
		snap.Quotas[k] = Quota{Guarantee: v.Guarantee.Clone(), Limit: v.Limit.Clone()}
	}
	return snap
}
