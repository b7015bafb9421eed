package alloc

import (
	"encoding/binary"
	"slices"
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

	quota        Quota // as set, for snapshots
	hasGuarantee bool
	hasLimit     bool
	guarantee    qvec
	limit        qvec
	limitSet     uint32 // bit i: limit[i] is set

	alloc      qvec // subtree: non-revocable scalars offered or allocated
	selfAlloc  qvec // this role's own frameworks only
	unresAlloc qvec // subtree: the unreserved part of alloc
	reserved   qvec // subtree: reservations in agents' totals
	unmet      qvec

	order     *btree.BTreeG[*orderEntry] // sub-roles with candidates, and self
	fws       *btree.BTreeG[*fwRole]     // candidate frameworks, lowest share first
	entry     orderEntry                 // this role in parent.order
	selfEntry orderEntry                 // this role's own frameworks in order
	inParent  bool
	selfIn    bool
	active    int

	quotaShare  float64 // key in Sharded.guaranteeOrder
	inGuarantee bool
	// customMin counts the candidates in fws with their own
	// min_allocatable. quotaBlocked is the quota epoch + 1 at which every
	// other candidate was refused by quota caps alone on an agent without
	// reservations or slack (see picker.tryEntry).
	customMin    int
	quotaBlocked uint64
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

// lessFwRole orders a role's candidates by share, then framework ID. The
// ID comparison, hit on every tie (frameworks with equal shares are
// common), looks at the first 16 bytes as two integers before it compares
// whole strings.
func lessFwRole(a, b *fwRole) bool {
	return fwRoleBefore(a.share, a, b.share, b)
}

// fwRoleBefore reports whether a at share as sorts before b at share bs.
func fwRoleBefore(as float64, a *fwRole, bs float64, b *fwRole) bool {
	if as != bs {
		return as < bs
	}
	if a.idKey != b.idKey {
		if a.idKey[0] != b.idKey[0] {
			return a.idKey[0] < b.idKey[0]
		}
		return a.idKey[1] < b.idKey[1]
	}
	return a.fw.id < b.fw.id
}

// idKeyOf packs the first 16 bytes of id, big-endian and zero-padded, so
// that comparing keys orders IDs as comparing strings does, up to ties
// between IDs that share those 16 bytes (or differ only by trailing zero
// bytes), which the caller breaks with the strings themselves.
func idKeyOf(id FrameworkID) [2]uint64 {
	var b [16]byte
	copy(b[:], id)
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
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
		fws:      btree.NewG(32, lessFwRole),
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
	parent.children[name] = r
	s.roles[name] = r
	if q, ok := s.quotas[name]; ok {
		s.setQuotaLocked(r, q)
	}
	return r
}

// setQuotaLocked installs q on r and refreshes the headroom accounting.
func (s *Sharded) setQuotaLocked(r *role, q Quota) {
	s.required.sub(&r.unmet)
	r.unmet = qvec{}
	r.quota = q
	r.guarantee = s.names.quantitiesVec(q.Guarantee)
	r.limit = s.names.quantitiesVec(q.Limit)
	r.limitSet = 0
	for _, l := range q.Limit {
		r.limitSet |= 1 << s.names.index(l.Name)
	}
	r.hasLimit = r.limitSet != 0
	r.hasGuarantee = !r.guarantee.isZero()
	if r.hasGuarantee {
		s.updateUnmetLocked(r)
	} else {
		s.updateGuaranteeLocked(r)
	}
}

func (s *Sharded) shareOf(q *qvec, weight float64) float64 {
	return dominantShareVecN(q, &s.orderTotals, &s.skip, weight, s.names.width())
}

// addCandidateLocked makes fr a candidate.
func (s *Sharded) addCandidateLocked(fr *fwRole) {
	if fr.inOrder {
		return
	}
	r := fr.role
	fr.share = s.shareOf(&fr.alloc, 1)
	r.fws.ReplaceOrInsert(fr)
	fr.inOrder = true
	if fr.minAlloc != nil {
		r.customMin++
	}
	if !r.selfIn {
		r.selfEntry.share = s.shareOf(&r.selfAlloc, 1)
		r.order.ReplaceOrInsert(&r.selfEntry)
		r.selfIn = true
	}
	for x := r; x != s.root; x = x.parent {
		x.active++
		if !x.inParent {
			x.entry.share = s.shareOf(&x.alloc, x.weight)
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
	if fr.minAlloc != nil {
		r.customMin--
	}
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
	q, u := s.names.vecs(res)
	s.chargeVecLocked(fr, &q, &u, sign, agentActive, true)
}

// chargeVecLocked is chargeLocked with res already turned into its counted
// (q) and unreserved (u) vectors, which callers compute before they take
// Sharded.mu. With rekeyFw false, fr keeps its old key in its role's order
// and the caller must call rekeyFwRoleLocked(fr) before it lets go of mu
// (see picker.pend).
func (s *Sharded) chargeVecLocked(fr *fwRole, q, u *qvec, sign int, agentActive, rekeyFw bool) {
	n := s.names.width()
	if q.isZeroN(n) {
		return
	}
	sg := int64(sign)
	hasU := !u.isZeroN(n)
	fr.alloc.addN(q, sg, n)
	if fr.inOrder && rekeyFw {
		s.rekeyFwRoleLocked(fr)
	}
	r := fr.role
	r.selfAlloc.addN(q, sg, n)
	if r.selfIn {
		rekeyEntry(r.order, &r.selfEntry, s.shareOf(&r.selfAlloc, 1))
	}
	for x := r; x != s.root; x = x.parent {
		x.alloc.addN(q, sg, n)
		if hasU {
			x.unresAlloc.addN(u, sg, n)
			s.updateUnmetLocked(x)
		}
		s.rekeyRoleLocked(x)
	}
	if agentActive && hasU {
		// Offered or allocated resources are no longer free.
		s.available.addN(u, -sg, n)
	}
	if sign < 0 && hasU {
		s.quotaEpoch.Add(1) // a cap may have loosened
	}
}

// rekeyRoleLocked refreshes x's key in its parent's order.
func (s *Sharded) rekeyRoleLocked(x *role) {
	if !x.inParent {
		return
	}
	rekeyEntry(x.parent.order, &x.entry, s.shareOf(&x.alloc, x.weight))
}

// rekeyEntry moves e to its new share in t. The btree is keyed by share,
// so e leaves and re-enters it, unless the key is unchanged or e is alone.
func rekeyEntry(t *btree.BTreeG[*orderEntry], e *orderEntry, share float64) {
	if share == e.share {
		return
	}
	if t.Len() == 1 {
		e.share = share
		return
	}
	t.Delete(e)
	e.share = share
	t.ReplaceOrInsert(e)
}

// rekeyFwRoleLocked moves a candidate to its new share in its role's order.
func (s *Sharded) rekeyFwRoleLocked(fr *fwRole) {
	share := s.shareOf(&fr.alloc, 1)
	if share == fr.share {
		return
	}
	t := fr.role.fws
	if t.Len() == 1 {
		fr.share = share
		return
	}
	if m, _ := t.Min(); m == fr {
		t.DeleteMin() // the common case after a pick: no comparisons
	} else {
		t.Delete(fr)
	}
	fr.share = share
	t.ReplaceOrInsert(fr)
}

// addReservedLocked adds (or with sign -1 removes) the reservations in res
// to the consumption of the roles they are made for.
func (s *Sharded) addReservedLocked(res core.Resources, sign int) {
	for i := range res {
		r := &res[i]
		if !r.IsReserved() || r.Revocable || r.Type != core.Scalar {
			continue
		}
		idx := s.names.index(r.Name)
		for x := s.roleLocked(r.Role()); x != s.root; x = x.parent {
			x.reserved[idx] += int64(sign) * int64(r.Scalar)
			s.updateUnmetLocked(x)
			if sign > 0 && x.overLimit() && !slices.Contains(s.overLimit, x) {
				// A reservation pushed x over its limit: its offers are
				// rescinded once the caller has let go of its shard.
				s.overLimit = append(s.overLimit, x)
			}
		}
	}
}

// consumed is a role's quota consumption.
func (x *role) consumed() qvec {
	c := x.unresAlloc
	c.add(&x.reserved)
	return c
}

// overLimit reports whether x consumes more than its limit of some name.
func (x *role) overLimit() bool {
	if !x.hasLimit {
		return false
	}
	c := x.consumed()
	for i := range c {
		if x.limitSet&(1<<i) != 0 && c[i] > x.limit[i] {
			return true
		}
	}
	return false
}

// updateUnmetLocked recomputes x's unmet guarantee and the cluster's
// required headroom.
func (s *Sharded) updateUnmetLocked(x *role) {
	if !x.hasGuarantee {
		return
	}
	c := x.consumed()
	unmet := x.guarantee
	unmet.subClamp(&c)
	s.required.sub(&x.unmet)
	s.required.add(&unmet)
	x.unmet = unmet
	var qs float64
	for i, g := range x.guarantee {
		if g > 0 {
			qs = max(qs, float64(c[i])/float64(g))
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
	want := x.hasGuarantee && !x.unmet.isZero() && x.active > 0
	switch {
	case want && !x.inGuarantee:
		s.guaranteeOrder.ReplaceOrInsert(x)
	case !want && x.inGuarantee:
		s.guaranteeOrder.Delete(x)
	}
	x.inGuarantee = want
}

// addTotalsLocked changes the cluster totals by the counted part of res
// and refreshes every share key when they drifted past orderTotalsDrift
// from the snapshot keys use.
func (s *Sharded) addTotalsLocked(res core.Resources, sign int) {
	q := s.names.vec(res, counted)
	if sign > 0 {
		s.totals.add(&q)
	} else {
		s.totals.sub(&q)
	}
	if drifted(&s.totals, &s.orderTotals) {
		s.orderTotals = s.totals
		s.rekeyAllLocked()
	}
}

func drifted(now, then *qvec) bool {
	for i := range now {
		d := float64(now[i] - then[i])
		if d < 0 {
			d = -d
		}
		if d > orderTotalsDrift*float64(then[i]) {
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
				fr.share = s.shareOf(&fr.alloc, 1)
				r.fws.ReplaceOrInsert(fr)
			}
		}
	}
	for _, r := range append(s.rolesList(), s.root) {
		r.order.Clear(false)
		if r.selfIn {
			r.selfEntry.share = s.shareOf(&r.selfAlloc, 1)
			r.order.ReplaceOrInsert(&r.selfEntry)
		}
		for _, c := range r.children {
			if c.inParent {
				c.entry.share = s.shareOf(&c.alloc, c.weight)
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

// capVec is a per-name cap on unreserved non-revocable scalars.
type capVec struct {
	v   qvec
	set uint32 // bit i: v[i] applies
}

func (c *capVec) cap(i int, v int64) {
	v = max(v, 0)
	if c.set&(1<<i) == 0 || v < c.v[i] {
		c.v[i] = v
	}
	c.set |= 1 << i
}

// capsLocked returns how much unreserved non-revocable resource may be
// offered to r: the quota limits of r and its ancestors, the headroom rule,
// and in stage one (stage1 != nil) the unmet guarantee of that role.
func (s *Sharded) capsLocked(r *role, stage1 *role) capVec {
	var c capVec
	for x := r; x != s.root; x = x.parent {
		if !x.hasLimit {
			continue
		}
		con := x.consumed()
		for i := range con {
			if x.limitSet&(1<<i) != 0 {
				c.cap(i, x.limit[i]-con[i])
			}
		}
	}
	if stage1 != nil {
		for i, g := range stage1.guarantee {
			if g > 0 {
				c.cap(i, stage1.unmet[i])
			}
		}
	}
	if !s.required.isZeroN(s.names.width()) {
		q := nearestGuarantee(r)
		for i, need := range s.required {
			if need <= 0 {
				continue
			}
			v := max(s.available[i]-need, 0)
			if q != nil {
				v += q.unmet[i]
			}
			c.cap(i, v)
		}
	}
	return c
}

// shrink caps the unreserved non-revocable scalars of res by c; it returns
// res itself when nothing is capped.
func (c *capVec) shrink(res core.Resources, names *nameTable) core.Resources {
	if c.set == 0 {
		return res
	}
	left := c.v
	var out core.Resources
	changed := false
	for k := range res {
		r := res[k]
		if r.Type == core.Scalar && !r.IsReserved() && !r.Revocable {
			if i := names.index(r.Name); c.set&(1<<i) != 0 {
				if v := min(int64(r.Scalar), left[i]); v != int64(r.Scalar) {
					changed = true
					r.Scalar = core.Value(v)
				}
				left[i] -= int64(r.Scalar)
				if r.Scalar == 0 {
					continue
				}
			}
		}
		out = append(out, r)
	}
	if !changed {
		return res
	}
	return out
}
