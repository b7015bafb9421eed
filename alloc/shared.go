package alloc

import "meseta/core"

// Shared resources.
//
// A shared resource (a shared persistent volume, the only kind Mesos has)
// may be used by several tasks at once. Following Mesos's hierarchical
// allocator (Slave::updateAvailable, HierarchicalAllocatorProcess::
// __allocate, stripIncapableResources), both engines treat it so:
//
//   - Only frameworks with SHARED_RESOURCES are offered shared resources;
//     others are offered the rest of the agent without them (offerable).
//   - Allocations hold one copy per user: the master adds a copy for each
//     further task of one ACCEPT that uses the volume (UpdateAllocation
//     with an empty from: Mesos's conversion with nothing consumed), and
//     recovers one copy when each task ends. The agent's total holds the
//     volume once.
//   - An agent's free resources hold one copy of each of its shared
//     resources however many copies are allocated, except while an
//     outstanding offer holds it: so a shared volume stays offerable while
//     tasks use it, and at most one outstanding offer carries it at a time.
//     Mesos re-offers a volume in every allocation cycle (at most once per
//     cycle), even while earlier offers of it are outstanding, so it may
//     sit in several offers at once. Here an offer holds the free copy as it
//     holds any other resource: the free pool stays one Resources (so that
//     nothing in the pick or the accounting changes), and a second
//     framework gets the volume once the first answers its offer, or the
//     offer is rescinded. Accept returns the copy to the free pool; it is
//     offered at the agent's next allocation (the master's Recover of the
//     offer's unused part, a task's end, or a sweep), as Mesos offers it at
//     its next cycle.
//   - Shared resources count neither for DRF shares nor for quota
//     consumption (quotaCounted, vecKind counted). Their disk is reserved,
//     and a reservation counts for quota from the agent's total, allocated
//     or not, once. Mesos's DRF sorter counts a shared resource once per
//     client and agent however many copies it holds; counting it here would
//     need every charge to know what else the framework-role holds on the
//     agent, where charges now work on the offered resources alone. A
//     framework using a shared volume is thus charged for it by neither
//     engine, and both agree.
//
// Cost: agents without shared resources pay one flag test (agent.shared)
// on Accept and Recover; the pick sees shared resources only on agents
// with reservations (a persistent volume is always reserved), whose views
// are computed per role anyway (agentView.base).

// fits reports whether parts, taken one after the other, fit in total: no
// non-shared scalar is exceeded and no port or set item is used twice, and
// every shared copy in them is a copy of a shared resource of total.
func fits(total core.Resources, parts ...core.Resources) bool {
	left := total
	var shared core.Resources
	for _, p := range parts {
		if p.HasShared() {
			if shared == nil {
				shared = total.Shared()
			}
			for i := range p {
				if p[i].Shared && !shared.Contains(p[i:i+1]) {
					return false
				}
			}
			p = p.NonShared()
		}
		if !left.Contains(p) {
			return false
		}
		left = left.Sub(p)
	}
	return true
}

// freeIn returns what is free of total when allocs are allocated and offers
// are outstanding: total minus both, except that allocated shared copies
// take nothing (each shared resource stays free until an offer holds it).
func freeIn(total core.Resources, allocs, offers []core.Resources) core.Resources {
	free := total
	for _, p := range allocs {
		if p.HasShared() {
			p = p.NonShared()
		}
		free = free.Sub(p)
	}
	for _, p := range offers {
		free = free.Sub(p)
	}
	return free
}

// fitsIn reports whether a's allocations and offers fit in total (fits).
func (a *agent) fitsIn(total core.Resources) bool {
	if !a.shared && !total.HasShared() {
		return total.Contains(a.used())
	}
	return fits(total, a.parts()...)
}

// freeIn returns what a has free when its total is total (see freeIn).
func (a *agent) freeIn(total core.Resources) core.Resources {
	if !a.shared && !total.HasShared() {
		return total.Sub(a.used())
	}
	allocs := make([]core.Resources, len(a.allocs))
	for i, al := range a.allocs {
		allocs[i] = al.res
	}
	offers := make([]core.Resources, len(a.offers))
	for i, o := range a.offers {
		offers[i] = o.Resources
	}
	return freeIn(total, allocs, offers)
}

// parts lists a's allocations and then its offers.
func (a *agent) parts() []core.Resources {
	ps := make([]core.Resources, 0, len(a.allocs)+len(a.offers))
	for _, al := range a.allocs {
		ps = append(ps, al.res)
	}
	for _, o := range a.offers {
		ps = append(ps, o.Resources)
	}
	return ps
}

// released is what giving res back from an allocation on a adds to a's
// free resources: all of it, but for shared copies, which were never taken
// out of them.
func (a *agent) released(res core.Resources) core.Resources {
	if a.shared && res.HasShared() {
		return res.NonShared()
	}
	return res
}

// extraCopies reports whether an UpdateAllocation from from to to adds
// copies of shared resources the agent's total holds already (to a task
// that shares a volume with others of the same ACCEPT): from is empty and to
// holds only shared resources of total.
func extraCopies(total, from, to core.Resources) bool {
	if len(from) != 0 || len(to) == 0 {
		return false
	}
	shared := total.Shared()
	for i := range to {
		if !to[i].Shared || !shared.Contains(to[i:i+1]) {
			return false
		}
	}
	return true
}
