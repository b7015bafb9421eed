package alloc

import (
	"errors"
	"fmt"
	"time"

	"meseta/core"
)

// CheckInvariants checks the safety properties of an allocator's state and
// returns every violation found, joined:
//
//   - no agent has offered plus allocated resources exceeding its total, and
//     no resource (a port, say) is offered or allocated twice, except that
//     allocations may hold any number of copies of a shared resource of
//     the total while at most one outstanding offer holds it (shared.go);
//   - an offer is made for a role the resources are allocatable to, to a
//     framework subscribed to that role, revocable resources only to
//     REVOCABLE_RESOURCES frameworks, shared resources only to
//     SHARED_RESOURCES frameworks, GPU agents only to GPU_RESOURCES
//     frameworks (unless gpusToAll), and agents that do not checkpoint only
//     to frameworks that do not ask for it;
//   - no offer breaks a decline filter that was active when it was made;
//   - no role holds an offer of an unreserved resource while its (or an
//     ancestor's) consumption of that resource is above its quota limit.
//
// Both engines are checked with it in tests, and the sharded engine checks
// itself after every call under the invariants build tag.
func CheckInvariants(s Snapshot, gpusToAll bool) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	fws := make(map[FrameworkID]*FrameworkState, len(s.Frameworks))
	for i := range s.Frameworks {
		fws[s.Frameworks[i].Info.ID] = &s.Frameworks[i]
	}
	consumed := map[string]core.Quantities{}
	// offeredUnreserved holds, per role, the unreserved counted resources
	// of its outstanding offers.
	offeredUnreserved := map[string]core.Quantities{}
	charge := func(role string, q core.Quantities) {
		for r, ok := role, true; ok; r, ok = core.ParentRole(r) {
			consumed[r] = consumed[r].Add(q)
		}
	}
	for _, a := range s.Agents {
		left := a.Total.Clone()
		take := func(what string, res core.Resources) {
			if !left.Contains(res) {
				fail("agent %s: %s %s does not fit in what is left (%s) of total %s", a.Info.ID, what, res, left, a.Total)
				return
			}
			left = left.Sub(res)
		}
		shared := a.Total.Shared()
		for _, al := range a.Allocations {
			res := al.Resources
			if res.HasShared() {
				if !fits(shared, res.Shared()) {
					fail("agent %s: allocation of %s/%s holds shared %s not in total %s", a.Info.ID, al.Framework, al.Role, res.Shared(), a.Total)
				}
				res = res.NonShared() // allocated copies leave the free one
			}
			take(fmt.Sprintf("allocation of %s/%s", al.Framework, al.Role), res)
			charge(al.Role, unreservedCounted(al.Resources))
		}
		for _, r := range a.Total {
			if r.IsReserved() && r.Type == core.Scalar && !r.Revocable {
				charge(r.Role(), core.QuantitiesOf(core.Quantity{Name: r.Name, Value: r.Scalar}))
			}
		}
		hasGPUs := a.Total.Has(core.GPUs)
		for _, o := range a.Offers {
			take(fmt.Sprintf("offer %d", o.ID), o.Resources)
			charge(o.Role, unreservedCounted(o.Resources))
			offeredUnreserved[o.Role] = offeredUnreserved[o.Role].Add(unreservedCounted(o.Resources))
			fw := fws[o.Framework]
			if fw == nil {
				fail("offer %d: unknown framework %s", o.ID, o.Framework)
				continue
			}
			if !containsString(fw.Info.Roles, o.Role) {
				fail("offer %d: framework %s is not subscribed to role %q", o.ID, o.Framework, o.Role)
			}
			for _, r := range o.Resources {
				if !r.AllocatableTo(o.Role) {
					fail("offer %d: %s reserved for %q offered to role %q", o.ID, r.Name, r.Role(), o.Role)
				}
				if r.Revocable && !fw.Info.Capabilities.Has(RevocableResources) {
					fail("offer %d: revocable %s offered to %s without REVOCABLE_RESOURCES", o.ID, r.Name, o.Framework)
				}
				if r.Shared && !fw.Info.Capabilities.Has(SharedResources) {
					fail("offer %d: shared %s offered to %s without SHARED_RESOURCES", o.ID, r.Name, o.Framework)
				}
			}
			if hasGPUs && !gpusToAll && !fw.Info.Capabilities.Has(GPUResources) {
				fail("offer %d: GPU agent %s offered to %s without GPU_RESOURCES", o.ID, a.Info.ID, o.Framework)
			}
			if fw.Info.Checkpoint && !a.Info.Checkpoint {
				fail("offer %d: agent %s does not checkpoint but %s asks for it", o.ID, a.Info.ID, o.Framework)
			}
			for _, f := range a.Filters {
				// Offers made at the same instant as the filter may
				// predate it (a later Recover replaced the filter), so
				// only offers strictly after it are judged.
				if f.Framework == o.Framework && f.Role == o.Role && o.Created.After(f.Created) &&
					o.Created.Before(f.Expires) && f.Resources.Contains(o.Resources) {
					fail("offer %d: breaks the filter of %s/%s on %s until %s", o.ID, o.Framework, o.Role, a.Info.ID, f.Expires.Format(time.RFC3339))
				}
			}
		}
	}
	for role, q := range s.Quotas {
		c := consumed[role]
		for _, l := range q.Limit {
			if c.Get(l.Name) <= l.Value {
				continue
			}
			for r, off := range offeredUnreserved {
				if core.IsSubRoleOf(r, role) && off.Get(l.Name) > 0 {
					fail("role %q: consumes %s of %s, over its limit %s, while %q holds an unreserved offer of it", role, c.Get(l.Name), l.Name, l.Value, r)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
