package alloc

import (
	"errors"
	"fmt"

	"meseta/core"
)

// checkAccounting recomputes, from the agents, everything the engine keeps
// incrementally (framework and role allocations, quota consumption, totals,
// available and required headroom, the ordering's membership and keys) and
// reports every difference. It locks everything, so it is for tests and
// the invariants build.
func (s *Sharded) checkAccounting() error {
	s.lockAllShards()
	defer s.unlockAllShards()
	s.lock()
	defer s.mu.Unlock()
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	frAlloc := map[*fwRole]qvec{}
	frUnres := map[*fwRole]qvec{}
	reserved := map[*role]qvec{}
	var totals, available qvec
	for _, sh := range s.shards {
		if len(sh.agents) != len(sh.list) {
			fail("shard %d: %d agents but %d listed", sh.idx, len(sh.agents), len(sh.list))
		}
		for _, a := range sh.list {
			used := a.used()
			if !a.fitsIn(a.total) {
				fail("agent %s: used %s exceeds total %s", a.id, used, a.total)
			}
			if a.shared != a.total.HasShared() {
				fail("agent %s: shared flag %v for total %s", a.id, a.shared, a.total)
			}
			if want := a.freeIn(a.total); !want.Equal(a.free) {
				fail("agent %s: free is %s, want %s", a.id, a.free, want)
			}
			t := s.names.vec(a.info.Total, counted)
			totals.add(&t)
			if a.active {
				u := s.names.vec(a.free, unreserved)
				available.add(&u)
			}
			for i := range a.info.Total {
				r := &a.info.Total[i]
				if r.IsReserved() && !r.Revocable && r.Type == core.Scalar {
					x := s.roles[r.Role()]
					v := reserved[x]
					v[s.names.index(r.Name)] += int64(r.Scalar)
					reserved[x] = v
				}
			}
			for _, al := range a.allocs {
				q, u := s.names.vec(al.res, counted), s.names.vec(al.res, unreserved)
				v, w := frAlloc[al.fr], frUnres[al.fr]
				v.add(&q)
				w.add(&u)
				frAlloc[al.fr], frUnres[al.fr] = v, w
			}
			for _, o := range a.offers {
				if sh.offers[o.ID] != o || o.gone {
					fail("agent %s: offer %d is not outstanding in its shard", a.id, o.ID)
				}
				q, u := s.names.vec(o.Resources, counted), s.names.vec(o.Resources, unreserved)
				v, w := frAlloc[o.fr], frUnres[o.fr]
				v.add(&q)
				w.add(&u)
				frAlloc[o.fr], frUnres[o.fr] = v, w
			}
		}
		for id, o := range sh.offers {
			if o.agent.removed || !containsOffer(o.agent.offers, o) {
				fail("shard %d: offer %d is not on its agent", sh.idx, id)
			}
		}
	}
	if totals != s.totals {
		fail("totals %v, want %v", s.totals, totals)
	}
	if available != s.available {
		fail("available %v, want %v", s.available, available)
	}

	selfAlloc := map[*role]qvec{}
	subAlloc := map[*role]qvec{}
	subUnres := map[*role]qvec{}
	subReserved := map[*role]qvec{}
	active := map[*role]int{}
	for _, fw := range s.frameworks {
		for _, fr := range fw.roles {
			want := frAlloc[fr]
			if fr.alloc != want {
				fail("%s/%s: alloc %v, want %v", fw.id, fr.role.name, fr.alloc, want)
			}
			v := selfAlloc[fr.role]
			v.add(&want)
			selfAlloc[fr.role] = v
			u := frUnres[fr]
			for x := fr.role; x != s.root; x = x.parent {
				a, b := subAlloc[x], subUnres[x]
				a.add(&want)
				b.add(&u)
				subAlloc[x], subUnres[x] = a, b
				if fr.candidate() {
					active[x]++
				}
			}
			if fr.inOrder != fr.candidate() {
				fail("%s/%s: inOrder %v but candidate %v", fw.id, fr.role.name, fr.inOrder, fr.candidate())
			}
			if fr.inOrder {
				if got, ok := fr.role.fws.Get(fr); !ok || got != fr {
					fail("%s/%s: not found in its role's order", fw.id, fr.role.name)
				}
				if k := s.shareOf(&fr.alloc, 1); k != fr.share {
					fail("%s/%s: key %v, want %v", fw.id, fr.role.name, fr.share, k)
				}
			}
		}
	}
	for _, r := range s.roles {
		res := reserved[r]
		for x := r; x != s.root; x = x.parent {
			v := subReserved[x]
			v.add(&res)
			subReserved[x] = v
		}
	}
	var required qvec
	for name, r := range s.roles {
		if r.selfAlloc != selfAlloc[r] {
			fail("role %q: selfAlloc %v, want %v", name, r.selfAlloc, selfAlloc[r])
		}
		if r.alloc != subAlloc[r] {
			fail("role %q: alloc %v, want %v", name, r.alloc, subAlloc[r])
		}
		if r.unresAlloc != subUnres[r] {
			fail("role %q: unresAlloc %v, want %v", name, r.unresAlloc, subUnres[r])
		}
		if r.reserved != subReserved[r] {
			fail("role %q: reserved %v, want %v", name, r.reserved, subReserved[r])
		}
		if r.active != active[r] {
			fail("role %q: active %d, want %d", name, r.active, active[r])
		}
		if r.inParent != (r.active > 0) {
			fail("role %q: inParent %v with %d active", name, r.inParent, r.active)
		}
		custom := 0
		r.fws.Ascend(func(fr *fwRole) bool {
			if fr.minAlloc != nil {
				custom++
			}
			return true
		})
		if custom != r.customMin {
			fail("role %q: customMin %d, want %d", name, r.customMin, custom)
		}
		if r.selfIn != (r.fws.Len() > 0) {
			fail("role %q: selfIn %v with %d candidates", name, r.selfIn, r.fws.Len())
		}
		if r.hasGuarantee {
			c := r.consumed()
			want := r.guarantee
			want.subClamp(&c)
			if want != r.unmet {
				fail("role %q: unmet %v, want %v", name, r.unmet, want)
			}
			required.add(&want)
		}
	}
	if required != s.required {
		fail("required %v, want %v", s.required, required)
	}
	return errors.Join(errs...)
}

func containsOffer(list []*offer, o *offer) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

// enter and exit bracket every public call of the sharded engine. Under the
// invariants build tag they serialize the calls (so that no call sees
// another half done) and check everything after each one; otherwise they
// compile to nothing.
func (s *Sharded) enter() {
	if invariantsEnabled {
		s.debugMu.Lock()
	}
}

func (s *Sharded) exit() {
	if invariantsEnabled {
		defer s.debugMu.Unlock()
		if err := CheckInvariants(s.Snapshot(), s.opts.OfferGPUsToAll); err != nil {
			panic(fmt.Sprintf("alloc: invariant broken: %v", err))
		}
		if err := s.checkAccounting(); err != nil {
			panic(fmt.Sprintf("alloc: accounting broken: %v", err))
		}
	}
}
