package alloc

import (
	"strings"

	"github.com/google/btree"

	"meseta/core"
)

// role is one node of the role tree. Every field is guarded by Sharded.mu;
// name and parent are immutable.
//
// Invariants (checked by checkOrderLocked in tests):
//   - alloc == selfAlloc + Σ children's alloc; likewise unresAlloc and
//     reserved over the subtree;
//   - active == number of candidates (fwRole.inOrder) in the subtree;
//   - inParent == (active > 0), and then entry is in parent.order keyed by
//     the current share of alloc; selfIn == (fws.Len() > 0), and then
//     selfEntry is in order keyed by the share of selfAlloc;
//   - unmet == guarantee - (unresAlloc + reserved), clamped at zero.
type role struct {
	name     string
	parent   *role
	children map[string]*role
	weight   float64

	quota        Quota
	hasGuarantee bool

	alloc      core.Quantities // subtree: non-revocable scalars offered or allocated
	selfAlloc  core.Quantities // this role's own frameworks only
	unresAlloc core.Quantities // subtree: the unreserved part of alloc
	reserved   core.Quantities // subtree: reservations in agents' totals
	unmet      core.Quantities

	order     *btree.BTreeG[*orderEntry] // sub-roles with candidates, and self
	fws       *btree.BTreeG[*fwRole]     // candidate frameworks, lowest share first
	entry     orderEntry                 // this role in parent.order
	selfEntry orderEntry                 // this role's own frameworks in order
	inParent  bool
	selfIn    bool
	active    int

	quotaShare  float64 // key in Sharded.guaranteeOrder
	inGuarantee bool
}

// orderEntry is an item of a role's order: a sub-role (self false) or the
// role's own frameworks (self true).
type orderEntry struct {
	share float64
	self  bool
	r     *role
}

func lessEntry(a, b *orderEntry) bool {
	if a.share != b.share {
		return a.share < b.share
	}
	if c := strings.Compare(a.r.name, b.r.name); c != 0 {
		return c < 0
	}
	return a.self && !b.self
}

func lessFwRole(a, b *fwRole) bool {
	if a.share != b.share {
		return a.share < b.share
	}
	return a.fw.id < b.fw.id
}

func lessQuotaShare(a, b *role) bool {
	if a.quotaShare != b.quotaShare {
		return a.quotaShare < b.quotaShare
	}
	return a.name < b.name
}

func newRole(name string, parent *role) *role {
	r := &role{
		name:     name,
		parent:   parent,
		children: map[string]*role{},
		weight:   1,
		order:    btree.NewG(8, lessEntry),
		fws:      btree.NewG(8, lessFwRole),
	}
	r.entry = orderEntry{r: r}
	r.selfEntry = orderEntry{r: r, self: true}
	return r
}

// roleLocked returns the role named name, creating it and its ancestors.
func (s *Sharded) roleLocked(name string) *role {
	if r, ok := s.roles[name]; ok {
		return r
	}
	parent := s.root
	if p, ok := core.ParentRole(name); ok {
		parent = s.roleLocked(p)
	}
	r := newRole(name, parent)
	if w, ok := s.weights[name]; ok {
		r.weight = w
	}
	if q, ok := s.quotas[name]; ok {
		r.quota = q
		r.hasGuarantee = !q.Guarantee.IsEmpty()
		r.unmet = q.Guarantee.Clone()
		s.required = s.required.Add(r.unmet)
	}
	parent.children[name] = r
	s.roles[name] = r
	return r
}

func (s *Sharded) shareOf(q core.Quantities, weight float64) float64 {
	return dominantShare(q, s.orderTotals, s.opts.ExcludedFromShares, weight)
}

// addCandidateLocked makes fr a candidate.
func (s *Sharded) addCandidateLocked(fr *fwRole) {
	if fr.inOrder {
		return
	}
	r := fr.role
	fr.share = s.shareOf(fr.alloc, 1)
	r.fws.ReplaceOrInsert(fr)
	fr.inOrder = true
	if !r.selfIn {
		r.selfEntry.share = s.shareOf(r.selfAlloc, r.weight)
		r.order.ReplaceOrInsert(&r.selfEntry)
		r.selfIn = true
	}
	for x := r; x != s.root; x = x.parent {
		x.active++
		if !x.inParent {
			x.entry.share = s.shareOf(x.alloc, x.weight)
			x.parent.order.ReplaceOrInsert(&x.entry)
			x.inParent = true
		}
		s.updateGuaranteeLocked(x)
	}
}

// removeCandidateLocked stops fr from being a candidate.
func (s *Sharded) removeCandidateLocked(fr *fwRole) {
	if !fr.inOrder {
		return
	}
	r := fr.role
	r.fws.Delete(fr)
	fr.inOrder = false
	if r.fws.Len() == 0 && r.selfIn {
		r.order.Delete(&r.selfEntry)
		r.selfIn = false
	}
	for x := r; x != s.root; x = x.parent {
		x.active--
		if x.active == 0 && x.inParent {
			x.parent.order.Delete(&x.entry)
			x.inParent = false
		}
		s.updateGuaranteeLocked(x)
	}
}

// syncCandidateLocked puts fr in or out of the ordering as its state says.
func (s *Sharded) syncCandidateLocked(fr *fwRole) {
	if fr.candidate() {
		s.addCandidateLocked(fr)
	} else {
		s.removeCandidateLocked(fr)
	}
}

// chargeLocked adds (sign +1) or removes (-1) res to fr's accounting: its
// share, its role's and every ancestor's share and quota consumption, and
// the cluster's available headroom when the agent is active.
func (s *Sharded) chargeLocked(fr *fwRole, res core.Resources, sign int, agentActive bool) {
	q, u := quotaCounted(res), unreservedCounted(res)
	if q.IsEmpty() {
		return
	}
	add := func(x, d core.Quantities) core.Quantities {
		if sign > 0 {
			return x.Add(d)
		}
		return x.Sub(d)
	}
	fr.alloc = add(fr.alloc, q)
	if fr.inOrder {
		fr.role.fws.Delete(fr)
		fr.share = s.shareOf(fr.alloc, 1)
		fr.role.fws.ReplaceOrInsert(fr)
	}
	r := fr.role
	r.selfAlloc = add(r.selfAlloc, q)
	if r.selfIn {
		r.order.Delete(&r.selfEntry)
		r.selfEntry.share = s.shareOf(r.selfAlloc, r.weight)
		r.order.ReplaceOrInsert(&r.selfEntry)
	}
	for x := r; x != s.root; x = x.parent {
		x.alloc = add(x.alloc, q)
		if !u.IsEmpty() {
			x.unresAlloc = add(x.unresAlloc, u)
			s.updateUnmetLocked(x)
		}
		s.rekeyRoleLocked(x)
	}
	if agentActive && !u.IsEmpty() {
		// Offered or allocated resources are no longer free.
		if sign > 0 {
			s.available = s.available.Sub(u)
		} else {
			s.available = s.available.Add(u)
		}
	}
}

// rekeyRoleLocked refreshes x's key in its parent's order.
func (s *Sharded) rekeyRoleLocked(x *role) {
	if !x.inParent {
		return
	}
	x.parent.order.Delete(&x.entry)
	x.entry.share = s.shareOf(x.alloc, x.weight)
	x.parent.order.ReplaceOrInsert(&x.entry)
}

// addReservedLocked adds (or with sign -1 removes) the reservations in res
// to the consumption of the roles they are made for.
func (s *Sharded) addReservedLocked(res core.Resources, sign int) {
	for i := range res {
		r := &res[i]
		if !r.IsReserved() || r.Revocable || r.Type != core.Scalar {
			continue
		}
		q := core.QuantitiesOf(core.Quantity{Name: r.Name, Value: r.Scalar})
		for x := s.roleLocked(r.Role()); x != s.root; x = x.parent {
			if sign > 0 {
				x.reserved = x.reserved.Add(q)
			} else {
				x.reserved = x.reserved.Sub(q)
			}
			s.updateUnmetLocked(x)
		}
	}
}

// consumed is a role's quota consumption.
func (x *role) consumed() core.Quantities { return x.unresAlloc.Add(x.reserved) }

// updateUnmetLocked recomputes x's unmet guarantee and the cluster's
// required headroom.
func (s *Sharded) updateUnmetLocked(x *role) {
	if !x.hasGuarantee {
		return
	}
	c := x.consumed()
	unmet := x.quota.Guarantee.Sub(c)
	s.required = s.required.Sub(x.unmet).Add(unmet)
	x.unmet = unmet
	var qs float64
	for _, g := range x.quota.Guarantee {
		if g.Value > 0 {
			qs = max(qs, float64(c.Get(g.Name))/float64(g.Value))
		}
	}
	if x.inGuarantee && qs != x.quotaShare {
		s.guaranteeOrder.Delete(x)
		x.quotaShare = qs
		s.guaranteeOrder.ReplaceOrInsert(x)
	}
	x.quotaShare = qs
	s.updateGuaranteeLocked(x)
}

// updateGuaranteeLocked puts x in or out of guaranteeOrder.
func (s *Sharded) updateGuaranteeLocked(x *role) {
	want := x.hasGuarantee && !x.unmet.IsEmpty() && x.active > 0
	switch {
	case want && !x.inGuarantee:
		s.guaranteeOrder.ReplaceOrInsert(x)
	case !want && x.inGuarantee:
		s.guaranteeOrder.Delete(x)
	}
	x.inGuarantee = want
}

// addTotalsLocked changes the cluster totals and refreshes every share key
// when they drifted past orderTotalsDrift from the snapshot keys use.
func (s *Sharded) addTotalsLocked(q core.Quantities, sign int) {
	if sign > 0 {
		s.totals = s.totals.Add(q)
	} else {
		s.totals = s.totals.Sub(q)
	}
	if drifted(s.totals, s.orderTotals) {
		s.orderTotals = s.totals.Clone()
		s.rekeyAllLocked()
	}
}

func drifted(now, then core.Quantities) bool {
	if len(now) != len(then) {
		return true
	}
	for i := range now {
		if now[i].Name != then[i].Name {
			return true
		}
		d := float64(now[i].Value - then[i].Value)
		if d < 0 {
			d = -d
		}
		if d > orderTotalsDrift*float64(then[i].Value) {
			return true
		}
	}
	return false
}

// rekeyAllLocked recomputes every share key and rebuilds the btrees.
func (s *Sharded) rekeyAllLocked() {
	for _, r := range s.roles {
		if r.fws.Len() > 0 {
			var frs []*fwRole
			r.fws.Ascend(func(fr *fwRole) bool { frs = append(frs, fr); return true })
			r.fws.Clear(false)
			for _, fr := range frs {
				fr.share = s.shareOf(fr.alloc, 1)
				r.fws.ReplaceOrInsert(fr)
			}
		}
	}
	for _, r := range append(s.rolesList(), s.root) {
		r.order.Clear(false)
		if r.selfIn {
			r.selfEntry.share = s.shareOf(r.selfAlloc, r.weight)
			r.order.ReplaceOrInsert(&r.selfEntry)
		}
		for _, c := range r.children {
			if c.inParent {
				c.entry.share = s.shareOf(c.alloc, c.weight)
				r.order.ReplaceOrInsert(&c.entry)
			}
		}
	}
}

func (s *Sharded) rolesList() []*role {
	out := make([]*role, 0, len(s.roles))
	for _, r := range s.roles {
		out = append(out, r)
	}
	return out
}

// walkLocked visits the candidates of r's subtree in DRF order until visit
// returns false; it reports whether the walk ran to the end.
func walkLocked(r *role, visit func(*fwRole) bool) bool {
	done := true
	r.order.Ascend(func(e *orderEntry) bool {
		if e.self {
			e.r.fws.Ascend(func(fr *fwRole) bool {
				done = visit(fr)
				return done
			})
		} else {
			done = walkLocked(e.r, visit)
		}
		return done
	})
	return done
}

// nearestGuaranteeLocked returns the closest role at or above r with a
// guarantee, or nil.
func nearestGuarantee(r *role) *role {
	for x := r; x != nil && x.name != ""; x = x.parent {
		if x.hasGuarantee {
			return x
		}
	}
	return nil
}

// capsLocked returns, per scalar name, how much unreserved non-revocable
// resource may be offered to r: the quota limits of r and its ancestors,
// the headroom rule, and in stage one (stage1 != nil) the unmet guarantee
// of that role. A nil result means no cap.
func (s *Sharded) capsLocked(r *role, stage1 *role) map[string]core.Value {
	var caps map[string]core.Value
	set := func(name string, v core.Value) {
		if caps == nil {
			caps = map[string]core.Value{}
		}
		if old, ok := caps[name]; !ok || v < old {
			caps[name] = max(v, 0)
		}
	}
	for x := r; x != s.root; x = x.parent {
		if len(x.quota.Limit) == 0 {
			continue
		}
		c := x.consumed()
		for _, l := range x.quota.Limit {
			set(l.Name, l.Value-c.Get(l.Name))
		}
	}
	if stage1 != nil {
		for _, g := range stage1.quota.Guarantee {
			set(g.Name, stage1.unmet.Get(g.Name))
		}
	}
	if !s.required.IsEmpty() {
		q := nearestGuarantee(r)
		for _, need := range s.required {
			v := max(s.available.Get(need.Name)-need.Value, 0)
			if q != nil {
				v += q.unmet.Get(need.Name)
			}
			set(need.Name, v)
		}
	}
	return caps
}
