package alloc

import (
	"fmt"
	"slices"
	"time"

	"meseta/core"
)

// markRevocable returns res with every entry marked revocable.
func markRevocable(res core.Resources) core.Resources {
	out := res.Clone()
	for i := range out {
		out[i].Revocable = true
	}
	return out
}

func validateResources(what string, res core.Resources) error {
	if err := res.Validate(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadArgument, what, err)
	}
	return nil
}

// admit validates resources that enter the engine and interns their names.
func (s *Sharded) admit(what string, res core.Resources) error {
	if err := validateResources(what, res); err != nil {
		return err
	}
	return s.names.internResources(res)
}

// frameworkForAllocLocked returns fr for (fw, role), creating an inactive
// placeholder framework for allocations of frameworks that have not
// re-subscribed yet (after a master failover agents come back first).
func (s *Sharded) fwRoleLocked(id FrameworkID, roleName string) *fwRole {
	fw, ok := s.frameworks[id]
	if !ok {
		fw = &framework{id: id, info: FrameworkInfo{ID: id}, roles: map[string]*fwRole{}, placeholder: true}
		s.frameworks[id] = fw
	}
	fr, ok := fw.roles[roleName]
	if !ok {
		s.genSeq++
		fr = &fwRole{fw: fw, role: s.roleLocked(roleName), filterGen: s.genSeq, idKey: idKeyOf(fw.id)}
		fw.roles[roleName] = fr
	}
	return fr
}

// AddAgent implements Allocator.
func (s *Sharded) AddAgent(info AgentInfo) error {
	s.enter()
	defer s.exit()
	if info.ID == "" {
		return fmt.Errorf("%w: empty agent id", ErrBadArgument)
	}
	if err := s.admit("agent total", info.Total); err != nil {
		return err
	}
	if err := s.admit("oversubscribed", info.Oversubscribed); err != nil {
		return err
	}
	slack := markRevocable(info.Oversubscribed)
	total := info.Total
	if len(slack) > 0 {
		total = total.Add(slack)
	}
	var used core.Resources
	for _, u := range info.Used {
		if err := core.ValidateRole(u.Role); err != nil {
			return fmt.Errorf("%w: used by %s: %v", ErrBadArgument, u.Framework, err)
		}
		if err := s.admit("used", u.Resources); err != nil {
			return err
		}
		used = used.Add(u.Resources)
	}
	if !fits(total, used) {
		return fmt.Errorf("%w: agent %s: used %s does not fit in %s", ErrBadArgument, info.ID, used, total)
	}

	sh := s.shardOf(info.ID)
	var out Output
	sh.mu.Lock()
	err := s.addAgentShardLocked(sh, info, slack, total, used, &out)
	sh.mu.Unlock()
	s.emit(&out)
	s.rescindPendingOverLimit()
	return err
}

// rescindPendingOverLimit rescinds offers of roles that a new reservation
// pushed over a quota limit. No shard lock may be held.
func (s *Sharded) rescindPendingOverLimit() {
	s.lock()
	roles := s.overLimit
	s.overLimit = nil
	s.mu.Unlock()
	for _, r := range roles {
		s.rescindOverLimit(r)
	}
}

func (s *Sharded) addAgentShardLocked(sh *shard, info AgentInfo, slack, total, used core.Resources, out *Output) error {
	if _, ok := sh.agents[info.ID]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicateAgent, info.ID)
	}
	a := &agent{agentState: agentState{
		id:     info.ID,
		info:   info,
		slack:  slack,
		total:  total,
		free:   total,
		active: true,
		shard:  sh,
	}}
	a.offers, a.allocs = a.offersBuf[:0], a.allocsBuf[:0]
	a.info.Used = nil
	a.hasGPUs = total.Has(core.GPUs)
	a.reserved = slices.ContainsFunc(total, func(r core.Resource) bool { return r.IsReserved() })
	a.shared = total.HasShared()
	if len(used) > 0 {
		a.free = total.Sub(a.released(used))
	}
	a.primeCounts(&s.names)
	s.lock()
	for _, u := range info.Used {
		fr := s.fwRoleLocked(u.Framework, u.Role)
		a.addAllocation(fr, u.Resources)
		s.chargeLocked(fr, u.Resources, +1, false)
		for x := fr.role; x != s.root; x = x.parent {
			if x.overLimit() && !slices.Contains(s.overLimit, x) {
				s.overLimit = append(s.overLimit, x) // see rescindPendingOverLimit
			}
		}
	}
	s.addAvailableLocked(a.free, +1)
	s.addReservedLocked(info.Total, +1)
	s.addTotalsLocked(info.Total, +1)
	s.mu.Unlock()
	sh.agents[a.id] = a
	sh.list = append(sh.list, a)
	s.settleShardLocked(sh, a, out)
	return nil
}

// withAgent runs fn with a's shard locked, then emits fn's output.
func (s *Sharded) withAgent(id AgentID, fn func(sh *shard, a *agent, out *Output) error) error {
	sh := s.shardOf(id)
	var out Output
	sh.mu.Lock()
	a, ok := sh.agents[id]
	var err error
	if !ok {
		err = fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	} else {
		err = fn(sh, a, &out)
	}
	sh.mu.Unlock()
	s.emit(&out)
	return err
}

// rescindUntilFitsShardLocked rescinds a's offers that pick selects,
// newest first, until what a uses fits in limit.
func (s *Sharded) rescindUntilFitsShardLocked(sh *shard, a *agent, limit core.Resources, pick func(*offer) bool, why RescindReason, out *Output) {
	for i := len(a.offers) - 1; i >= 0 && !a.fitsIn(limit); i-- {
		if i >= len(a.offers) {
			continue
		}
		if o := a.offers[i]; pick(o) {
			s.rescindShardLocked(sh, o, why, out)
		}
	}
}

// UpdateAgentTotal implements Allocator.
func (s *Sharded) UpdateAgentTotal(id AgentID, total core.Resources) error {
	s.enter()
	defer s.exit()
	if err := s.admit("agent total", total); err != nil {
		return err
	}
	defer s.rescindPendingOverLimit()
	return s.withAgent(id, func(sh *shard, a *agent, out *Output) error {
		newTotal := total
		if len(a.slack) > 0 {
			newTotal = total.Add(a.slack)
		}
		allocated := make([]core.Resources, len(a.allocs))
		for i, al := range a.allocs {
			allocated[i] = al.res
		}
		if !fits(newTotal, allocated...) {
			return fmt.Errorf("%w: agent %s: allocations %s do not fit in new total %s", ErrBadArgument, id, allocated, newTotal)
		}
		s.rescindUntilFitsShardLocked(sh, a, newTotal, func(*offer) bool { return true }, RescindAgentUpdated, out)
		if !a.hasGPUs && newTotal.Has(core.GPUs) && !s.opts.OfferGPUsToAll {
			// The agent has GPUs now: offers to frameworks without
			// GPU_RESOURCES are void. They go before the accounting
			// below, which moves the agent's free resources out of and
			// back into the available headroom as a whole.
			for i := len(a.offers) - 1; i >= 0; i-- {
				if o := a.offers[i]; !o.fr.fw.info.Capabilities.Has(GPUResources) {
					s.rescindShardLocked(sh, o, RescindAgentUpdated, out)
				}
			}
		}
		s.lock()
		if a.active {
			s.addAvailableLocked(a.free, -1)
		}
		s.addReservedLocked(a.info.Total, -1)
		s.addTotalsLocked(a.info.Total, -1)
		a.info.Total = total
		a.total = newTotal
		a.free = a.freeIn(newTotal)
		a.hasGPUs = newTotal.Has(core.GPUs)
		a.reserved = slices.ContainsFunc(newTotal, func(r core.Resource) bool { return r.IsReserved() })
		a.shared = newTotal.HasShared()
		s.addReservedLocked(total, +1)
		s.addTotalsLocked(total, +1)
		if a.active {
			s.addAvailableLocked(a.free, +1)
		}
		s.mu.Unlock()
		s.settleShardLocked(sh, a, out)
		return nil
	})
}

// UpdateOversubscribed implements Allocator.
func (s *Sharded) UpdateOversubscribed(id AgentID, slack core.Resources) error {
	s.enter()
	defer s.exit()
	if err := s.admit("oversubscribed", slack); err != nil {
		return err
	}
	slack = markRevocable(slack)
	return s.withAgent(id, func(sh *shard, a *agent, out *Output) error {
		revocableUsed := func() core.Resources { return a.used().Revocable() }
		for i := len(a.offers) - 1; i >= 0 && !slack.Contains(revocableUsed()); i-- {
			if i < len(a.offers) && len(a.offers[i].Resources.Revocable()) > 0 {
				s.rescindShardLocked(sh, a.offers[i], RescindRevocableShrunk, out)
			}
		}
		if !slack.Contains(revocableUsed()) {
			// Revoke revocable allocations, newest framework first.
			order := make([]*fwRole, 0, len(a.allocs))
			for _, al := range a.allocs {
				order = append(order, al.fr)
			}
			slices.SortFunc(order, func(x, y *fwRole) int {
				if x.fw.id != y.fw.id {
					if x.fw.id > y.fw.id {
						return -1
					}
					return 1
				}
				if x.role.name > y.role.name {
					return -1
				}
				return 1
			})
			for _, fr := range order {
				if slack.Contains(revocableUsed()) {
					break
				}
				i := slices.IndexFunc(a.allocs, func(x allocation) bool { return x.fr == fr })
				al := &a.allocs[i]
				rev := al.res.Revocable()
				if len(rev) == 0 {
					continue
				}
				al.res = al.res.Sub(rev)
				if len(al.res) == 0 {
					a.allocs = slices.Delete(a.allocs, i, i+1)
				}
				sh.revocations++
				out.Revocations = append(out.Revocations, Revocation{Framework: fr.fw.id, Role: fr.role.name, Agent: a.id, Resources: rev})
			}
		}
		a.slack = slack
		a.total = a.info.Total.Add(slack)
		a.free = a.freeIn(a.total)
		s.settleShardLocked(sh, a, out)
		return nil
	})
}

// ActivateAgent implements Allocator.
func (s *Sharded) ActivateAgent(id AgentID) error {
	s.enter()
	defer s.exit()
	return s.withAgent(id, func(sh *shard, a *agent, out *Output) error {
		if a.active {
			return nil
		}
		a.active = true
		s.lock()
		s.addAvailableLocked(a.free, +1)
		s.mu.Unlock()
		s.settleShardLocked(sh, a, out)
		return nil
	})
}

// DeactivateAgent implements Allocator.
func (s *Sharded) DeactivateAgent(id AgentID) error {
	s.enter()
	defer s.exit()
	return s.withAgent(id, func(sh *shard, a *agent, out *Output) error {
		if !a.active {
			return nil
		}
		for len(a.offers) > 0 {
			s.rescindShardLocked(sh, a.offers[len(a.offers)-1], RescindAgentDeactivated, out)
		}
		a.active = false
		s.lock()
		s.addAvailableLocked(a.free, -1)
		s.mu.Unlock()
		return nil
	})
}

// RemoveAgent implements Allocator.
func (s *Sharded) RemoveAgent(id AgentID) error {
	s.enter()
	defer s.exit()
	return s.withAgent(id, func(sh *shard, a *agent, out *Output) error {
		for len(a.offers) > 0 {
			s.rescindShardLocked(sh, a.offers[len(a.offers)-1], RescindAgentRemoved, out)
		}
		s.lock()
		for _, al := range a.allocs {
			s.chargeLocked(al.fr, al.res, -1, false)
		}
		if a.active {
			s.addAvailableLocked(a.free, -1)
		}
		s.addReservedLocked(a.info.Total, -1)
		s.addTotalsLocked(a.info.Total, -1)
		s.mu.Unlock()
		a.removed = true
		a.allocs = nil
		delete(sh.agents, id)
		sh.list = slices.DeleteFunc(sh.list, func(x *agent) bool { return x == a })
		sh.dirty = slices.DeleteFunc(sh.dirty, func(x *agent) bool { return x == a })
		sh.quotaParked = slices.DeleteFunc(sh.quotaParked, func(x *agent) bool { return x == a })
		return nil
	})
}

// AddFramework implements Allocator.
func (s *Sharded) AddFramework(info FrameworkInfo) error {
	s.enter()
	defer s.exit()
	mins, err := s.checkFramework(&info)
	if err != nil {
		return err
	}
	s.lock()
	fw, ok := s.frameworks[info.ID]
	if ok && !fw.placeholder {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrDuplicateFramework, info.ID)
	}
	if !ok {
		fw = &framework{id: info.ID, roles: map[string]*fwRole{}}
		s.frameworks[info.ID] = fw
	}
	fw.placeholder = false
	fw.active = true
	s.applyInfoLocked(fw, info, mins)
	s.epoch.Add(1)
	s.mu.Unlock()
	s.allocateAll()
	return nil
}

// checkFramework validates info and converts its min_allocatable.
func (s *Sharded) checkFramework(info *FrameworkInfo) (map[string][]qvec, error) {
	if err := validateFramework(info); err != nil {
		return nil, err
	}
	mins := map[string][]qvec{}
	for role, m := range info.MinAllocatable {
		v, err := s.minVecs(m)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = []qvec{}
		}
		mins[role] = v
	}
	return mins, nil
}

// applyInfoLocked sets fw's info and brings its roles in line with it.
func (s *Sharded) applyInfoLocked(fw *framework, info FrameworkInfo, mins map[string][]qvec) {
	fw.info = info
	fw.info.Roles = slices.Clone(info.Roles)
	fw.info.Suppressed = slices.Clone(info.Suppressed)
	for name, fr := range fw.roles {
		if !slices.Contains(info.Roles, name) {
			fr.subscribed = false
			s.syncCandidateLocked(fr)
		}
	}
	for _, name := range info.Roles {
		fr := s.fwRoleLocked(fw.id, name)
		s.removeCandidateLocked(fr) // its minimum may change: re-enter below
		fr.subscribed = true
		fr.suppressed = slices.Contains(info.Suppressed, name)
		fr.minAlloc = mins[name]
		s.syncCandidateLocked(fr)
	}
}

// UpdateFramework implements Allocator.
func (s *Sharded) UpdateFramework(info FrameworkInfo) error {
	s.enter()
	defer s.exit()
	mins, err := s.checkFramework(&info)
	if err != nil {
		return err
	}
	s.lock()
	fw, ok := s.frameworks[info.ID]
	if !ok || fw.placeholder {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownFramework, info.ID)
	}
	s.applyInfoLocked(fw, info, mins)
	s.epoch.Add(1)
	s.mu.Unlock()
	// Offers for roles it left or now suppresses are void, and so are
	// offers its new capabilities or checkpointing no longer allow.
	s.rescindWhere(func(o *offer) bool {
		if o.fr.fw != fw {
			return false
		}
		caps := fw.info.Capabilities
		return !o.fr.candidate() ||
			(!caps.Has(RevocableResources) && len(o.Resources.Revocable()) > 0) ||
			(o.agent.hasGPUs && !s.opts.OfferGPUsToAll && !caps.Has(GPUResources)) ||
			(fw.info.Checkpoint && !o.agent.info.Checkpoint)
	}, RescindSuppressed)
	s.allocateAll()
	return nil
}

// RemoveFramework implements Allocator.
func (s *Sharded) RemoveFramework(id FrameworkID) error {
	s.enter()
	defer s.exit()
	s.lock()
	fw, ok := s.frameworks[id]
	if !ok || fw.placeholder {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownFramework, id)
	}
	delete(s.frameworks, id)
	fw.active = false
	for _, fr := range fw.roles {
		fr.subscribed = false
		s.removeCandidateLocked(fr)
	}
	s.mu.Unlock()
	s.forEachShard(func(sh *shard, out *Output) {
		now := s.now()
		for _, a := range sh.list {
			changed := false
			for i := len(a.offers) - 1; i >= 0; i-- {
				if o := a.offers[i]; o.fr.fw == fw {
					s.rescindShardLocked(sh, o, RescindFrameworkRemoved, out)
					changed = true
				}
			}
			for i := len(a.allocs) - 1; i >= 0; i-- {
				al := a.allocs[i]
				if al.fr.fw != fw {
					continue
				}
				a.allocs = slices.Delete(a.allocs, i, i+1)
				a.free = a.free.Add(a.released(al.res))
				s.lock()
				s.chargeLocked(al.fr, al.res, -1, a.active)
				s.mu.Unlock()
				changed = true
			}
			for fr := range a.filters {
				if fr.fw == fw {
					delete(a.filters, fr)
				}
			}
			if changed {
				if s.opts.DisableIncremental {
					s.markDirtyShardLocked(sh, a)
				} else {
					s.allocateAgent(sh, a, now, out)
				}
			}
		}
	})
	return nil
}

// ActivateFramework implements Allocator.
func (s *Sharded) ActivateFramework(id FrameworkID) error {
	s.enter()
	defer s.exit()
	err := s.withFramework(id, func(fw *framework) {
		fw.active = true
		for _, fr := range fw.roles {
			s.syncCandidateLocked(fr)
		}
		s.epoch.Add(1)
	})
	if err == nil {
		s.allocateAll()
	}
	return err
}

// DeactivateFramework implements Allocator.
func (s *Sharded) DeactivateFramework(id FrameworkID) error {
	s.enter()
	defer s.exit()
	var fw *framework
	err := s.withFramework(id, func(f *framework) {
		fw = f
		f.active = false
		for _, fr := range f.roles {
			s.syncCandidateLocked(fr)
		}
	})
	if err == nil {
		s.rescindWhere(func(o *offer) bool { return o.fr.fw == fw }, RescindFrameworkDeactivated)
	}
	return err
}

func (s *Sharded) withFramework(id FrameworkID, fn func(*framework)) error {
	s.lock()
	defer s.mu.Unlock()
	fw, ok := s.frameworks[id]
	if !ok || fw.placeholder {
		return fmt.Errorf("%w: %s", ErrUnknownFramework, id)
	}
	fn(fw)
	return nil
}

// rolesArg checks that roles (all of fw's when empty) are fw's.
func rolesArg(fw *framework, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return fw.info.Roles, nil
	}
	for _, r := range roles {
		if !slices.Contains(fw.info.Roles, r) {
			return nil, fmt.Errorf("%w: framework %s is not subscribed to role %q", ErrBadArgument, fw.id, r)
		}
	}
	return roles, nil
}

// Suppress implements Allocator.
func (s *Sharded) Suppress(id FrameworkID, roles []string) error {
	s.enter()
	defer s.exit()
	var err error
	var fw *framework
	ferr := s.withFramework(id, func(f *framework) {
		fw = f
		var rs []string
		if rs, err = rolesArg(f, roles); err != nil {
			return
		}
		for _, r := range rs {
			fr := f.roles[r]
			fr.suppressed = true
			s.syncCandidateLocked(fr)
			if !slices.Contains(f.info.Suppressed, r) {
				f.info.Suppressed = append(f.info.Suppressed, r)
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	s.rescindWhere(func(o *offer) bool { return o.fr.fw == fw && o.fr.suppressed }, RescindSuppressed)
	return nil
}

// Revive implements Allocator.
func (s *Sharded) Revive(id FrameworkID, roles []string) error {
	s.enter()
	defer s.exit()
	var err error
	ferr := s.withFramework(id, func(f *framework) {
		var rs []string
		if rs, err = rolesArg(f, roles); err != nil {
			return
		}
		for _, r := range rs {
			fr := f.roles[r]
			fr.suppressed = false
			s.genSeq++
			fr.filterGen = s.genSeq
			s.syncCandidateLocked(fr)
			f.info.Suppressed = slices.DeleteFunc(f.info.Suppressed, func(x string) bool { return x == r })
		}
		f.filteredUntil = time.Time{}
		s.epoch.Add(1)
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	s.allocateAll()
	return nil
}

// Accept implements Allocator.
func (s *Sharded) Accept(id OfferID) error {
	s.enter()
	defer s.exit()
	sh, ok := s.shardOfOffer(id)
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
	}
	sh.mu.Lock()
	o, ok := sh.offers[id]
	if ok {
		o.gone = true
		delete(sh.offers, id)
		a := o.agent
		if i := slices.Index(a.offers, o); i >= 0 {
			a.offers = slices.Delete(a.offers, i, i+1)
		}
		a.addAllocation(o.fr, o.Resources)
		if a.shared && o.Resources.HasShared() {
			// The offer held the free copies of its shared resources:
			// they are free again, for the agent's next allocation (see
			// shared.go).
			a.giveBack(o.Resources.Shared())
			s.markDirtyShardLocked(sh, a)
		}
		s.recycleShardLocked(sh, o)
	}
	sh.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
	}
	return nil
}

// Decline implements Allocator.
func (s *Sharded) Decline(id OfferID, refuse time.Duration) error {
	s.enter()
	defer s.exit()
	sh, ok := s.shardOfOffer(id)
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
	}
	var out Output
	sh.mu.Lock()
	o, ok := sh.offers[id]
	if ok {
		dropOfferShardLocked(sh, o)
		s.settleWithShardLocked(sh, o.agent, &out, &uncharge{fr: o.fr, res: o.Resources, now: s.now(), refuse: refuse})
		s.recycleShardLocked(sh, o)
	}
	sh.mu.Unlock()
	s.emit(&out)
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownOffer, id)
	}
	return nil
}

// noteFilterLocked records that fw refused resources until now+refuse.
func (s *Sharded) noteFilterLocked(fw *framework, now time.Time, refuse time.Duration) {
	if refuse <= 0 {
		return
	}
	if until := now.Add(min(refuse, MaxRefuse)); until.After(fw.filteredUntil) {
		fw.filteredUntil = until
	}
}

// Recover implements Allocator.
func (s *Sharded) Recover(fwID FrameworkID, agentID AgentID, role string, res core.Resources, refuse time.Duration) error {
	s.enter()
	defer s.exit()
	if err := validateResources("recovered", res); err != nil {
		return err
	}
	sh := s.shardOf(agentID)
	var out Output
	sh.mu.Lock()
	err := s.recoverShardLocked(sh, fwID, agentID, role, res, refuse, &out)
	sh.mu.Unlock()
	s.emit(&out)
	return err
}

func (s *Sharded) recoverShardLocked(sh *shard, fwID FrameworkID, agentID AgentID, role string, res core.Resources, refuse time.Duration, out *Output) error {
	a, ok := sh.agents[agentID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
	}
	i := a.findAllocation(fwID, role)
	if i < 0 || !a.allocs[i].res.Contains(res) {
		return fmt.Errorf("%w: %s on %s in role %q: %s", ErrNotAllocated, fwID, agentID, role, res)
	}
	if len(res) == 0 {
		return nil
	}
	al := &a.allocs[i]
	fr := al.fr
	if len(al.res) == len(res) && res.Contains(al.res) {
		al.res = nil // all of it: no arithmetic needed
	} else {
		al.res = al.res.Sub(res)
	}
	if len(al.res) == 0 {
		a.allocs = slices.Delete(a.allocs, i, i+1)
	}
	a.giveBack(a.released(res))
	s.settleWithShardLocked(sh, a, out, &uncharge{fr: fr, res: res, now: s.now(), refuse: refuse})
	return nil
}

// UpdateAllocation implements Allocator.
func (s *Sharded) UpdateAllocation(fwID FrameworkID, agentID AgentID, role string, from, to core.Resources) error {
	s.enter()
	defer s.exit()
	if err := validateResources("from", from); err != nil {
		return err
	}
	if err := s.admit("to", to); err != nil {
		return err
	}
	if len(from) != 0 && !slices.Equal(from.Quantities(), to.Quantities()) {
		return fmt.Errorf("%w: operation changes quantities: %s -> %s", ErrBadArgument, from, to)
	}
	defer s.rescindPendingOverLimit()
	return s.withAgent(agentID, func(sh *shard, a *agent, out *Output) error {
		i := a.findAllocation(fwID, role)
		if i < 0 || !a.allocs[i].res.Contains(from) {
			return fmt.Errorf("%w: %s on %s in role %q: %s", ErrNotAllocated, fwID, agentID, role, from)
		}
		if len(from) == 0 {
			// More copies of shared resources for the framework-role:
			// nothing else changes (they count for no share or quota).
			if !extraCopies(a.info.Total, from, to) {
				return fmt.Errorf("%w: %s are not copies of shared resources of agent %s", ErrBadArgument, to, agentID)
			}
			a.allocs[i].res = a.allocs[i].res.Add(to)
			return nil
		}
		newTotal := a.info.Total.Sub(from).Add(to)
		if err := validateResources("new agent total", newTotal); err != nil {
			return err
		}
		sharedOp := a.shared || from.HasShared() || to.HasShared()
		if sharedOp {
			// The free copy of a shared resource the operation removes
			// (DESTROY) may sit in an offer: rescind it.
			left := newTotal.Shared()
			for j := len(a.offers) - 1; j >= 0; j-- {
				if o := a.offers[j]; o.Resources.HasShared() && !fits(left, o.Resources.Shared()) {
					s.rescindShardLocked(sh, o, RescindAgentUpdated, out)
				}
			}
		}
		al := &a.allocs[i]
		s.lock()
		s.chargeLocked(al.fr, from, -1, false)
		s.chargeLocked(al.fr, to, +1, false)
		s.addReservedLocked(a.info.Total, -1)
		s.addReservedLocked(newTotal, +1)
		if sharedOp {
			// A shared volume's disk counts for no share: CREATE and
			// DESTROY of one change the counted totals.
			s.addTotalsLocked(a.info.Total, -1)
			s.addTotalsLocked(newTotal, +1)
		}
		s.mu.Unlock()
		al.res = al.res.Sub(from).Add(to)
		a.info.Total = newTotal
		a.total = newTotal.Add(a.slack)
		a.reserved = slices.ContainsFunc(a.total, func(r core.Resource) bool { return r.IsReserved() })
		if sharedOp {
			// CREATE of a shared volume makes its free copy, DESTROY
			// takes it away.
			a.shared = a.total.HasShared()
			a.free = a.freeIn(a.total)
			s.settleShardLocked(sh, a, out)
		}
		return nil
	})
}

// SetWeight implements Allocator.
func (s *Sharded) SetWeight(roleName string, w float64) error {
	s.enter()
	defer s.exit()
	if err := validateWeight(roleName, w); err != nil {
		return err
	}
	s.lock()
	s.weights[roleName] = w
	r := s.roleLocked(roleName)
	r.weight = w
	s.rekeyRoleLocked(r)
	s.mu.Unlock()
	return nil
}

// SetQuota implements Allocator.
func (s *Sharded) SetQuota(roleName string, q Quota) error {
	s.enter()
	defer s.exit()
	if err := validateQuota(roleName, q); err != nil {
		return err
	}
	if err := s.names.internQuantities(q.Guarantee); err != nil {
		return err
	}
	if err := s.names.internQuantities(q.Limit); err != nil {
		return err
	}
	s.lock()
	if q.Guarantee.IsEmpty() && q.Limit.IsEmpty() {
		delete(s.quotas, roleName)
	} else {
		s.quotas[roleName] = Quota{Guarantee: q.Guarantee.Clone(), Limit: q.Limit.Clone()}
	}
	r := s.roleLocked(roleName)
	s.setQuotaLocked(r, s.quotas[roleName])
	over := s.overLimitLocked(r)
	s.epoch.Add(1)
	s.quotaEpoch.Add(1)
	s.mu.Unlock()
	if over {
		s.rescindOverLimit(r)
	}
	s.allocateAll()
	return nil
}

// overLimitLocked reports whether the consumption of r or an ancestor
// exceeds its limit.
func (s *Sharded) overLimitLocked(r *role) bool {
	for x := r; x != s.root; x = x.parent {
		if x.overLimit() {
			return true
		}
	}
	return false
}

// offerEasesLimitLocked reports whether o carries unreserved resources of a
// name that r or an ancestor consumes beyond its limit.
func (s *Sharded) offerEasesLimitLocked(r *role, o *offer) bool {
	u := s.names.vec(o.Resources, unreserved)
	for x := r; x != s.root; x = x.parent {
		c := x.consumed()
		for i := range c {
			if x.limitSet&(1<<i) != 0 && c[i] > x.limit[i] && u[i] > 0 {
				return true
			}
		}
	}
	return false
}

// rescindOverLimit rescinds offers of unreserved resources in r's subtree,
// newest first, while r is over its limit.
func (s *Sharded) rescindOverLimit(r *role) {
	var victims []*offer
	s.lockAllShards()
	for _, sh := range s.shards {
		for _, o := range sh.offers {
			if core.IsSubRoleOf(o.Role, r.name) && !unreservedCounted(o.Resources).IsEmpty() {
				victims = append(victims, o)
			}
		}
	}
	slices.SortFunc(victims, func(a, b *offer) int { return cmpTime(b.Created, a.Created, uint64(b.ID), uint64(a.ID)) })
	var out Output
	for _, o := range victims {
		s.lock()
		over, helps := s.overLimitLocked(r), s.offerEasesLimitLocked(r, o)
		s.mu.Unlock()
		if !over {
			break
		}
		if helps {
			s.rescindShardLocked(o.agent.shard, o, RescindQuotaLimit, &out)
		}
	}
	s.unlockAllShards()
	s.emit(&out)
}

func cmpTime(a, b time.Time, ai, bi uint64) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	switch {
	case ai < bi:
		return -1
	case ai > bi:
		return 1
	}
	return 0
}

func (s *Sharded) lockAllShards() {
	for _, sh := range s.shards {
		sh.mu.Lock()
	}
}

func (s *Sharded) unlockAllShards() {
	for _, sh := range s.shards {
		sh.mu.Unlock()
	}
}

// rescindWhere rescinds every outstanding offer for which pick is true.
func (s *Sharded) rescindWhere(pick func(*offer) bool, why RescindReason) {
	s.forEachShard(func(sh *shard, out *Output) {
		var victims []*offer
		s.lock() // pick reads framework state
		for _, o := range sh.offers {
			if pick(o) {
				victims = append(victims, o)
			}
		}
		s.mu.Unlock()
		slices.SortFunc(victims, func(a, b *offer) int { return cmpTime(a.Created, b.Created, uint64(a.ID), uint64(b.ID)) })
		for _, o := range victims {
			s.rescindShardLocked(sh, o, why, out)
			if !s.opts.DisableIncremental {
				s.allocateAgent(sh, o.agent, s.now(), out)
			}
		}
	})
}
