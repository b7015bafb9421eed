package alloc

import (
	"fmt"
	"sync"
	"sync/atomic"

	"meseta/core"
)

// maxNames bounds the distinct resource names one allocator tracks. Mesos
// clusters use a handful (cpus, mem, disk, ports, gpus and perhaps a few
// custom ones); a fixed bound lets the hot accounting run on arrays
// without allocating.
const maxNames = 16

// qvec holds one amount per interned resource name, in Value units. It is
// the engine's internal form of core.Quantities.
type qvec [maxNames]int64

func (v *qvec) add(o *qvec) {
	for i := range v {
		v[i] += o[i]
	}
}

func (v *qvec) sub(o *qvec) {
	for i := range v {
		v[i] -= o[i]
	}
}

// subClamp subtracts o and stops each amount at zero.
func (v *qvec) subClamp(o *qvec) {
	for i := range v {
		v[i] = max(v[i]-o[i], 0)
	}
}

func (v *qvec) isZero() bool { return *v == qvec{} }

// The ...N forms look at the first n names only. Every engine vector is
// zero past the names interned so far (nameTable.width), and a cluster
// uses a handful of the maxNames slots, so on the hot path (each offer
// charges half a dozen vectors) the bound is worth having.

// addN adds sign*o to v.
func (v *qvec) addN(o *qvec, sign int64, n int) {
	a, b := v[:n], o[:n]
	for i := range a {
		a[i] += sign * b[i]
	}
}

func (v *qvec) isZeroN(n int) bool {
	for _, x := range v[:n] {
		if x != 0 {
			return false
		}
	}
	return true
}

func (v *qvec) coversN(o *qvec, n int) bool {
	a, b := v[:n], o[:n]
	for i := range a {
		if a[i] < b[i] {
			return false
		}
	}
	return true
}

// covers reports whether v holds at least o of every name.
func (v *qvec) covers(o *qvec) bool {
	for i := range v {
		if v[i] < o[i] {
			return false
		}
	}
	return true
}

// nameTable interns resource names. Lookups are lock-free (the list is
// copied on write); interning takes mu, a leaf lock.
type nameTable struct {
	mu   sync.Mutex
	list atomic.Pointer[[]string]
}

// width is how many names are interned: every vector is zero past it.
func (t *nameTable) width() int { return len(t.names()) }

func (t *nameTable) names() []string {
	if p := t.list.Load(); p != nil {
		return *p
	}
	return nil
}

// index returns name's index, or -1.
func (t *nameTable) index(name string) int {
	for i, n := range t.names() {
		if n == name {
			return i
		}
	}
	return -1
}

// intern returns name's index, adding it if needed.
func (t *nameTable) intern(name string) (int, error) {
	if i := t.index(name); i >= 0 {
		return i, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.names()
	for i, n := range old {
		if n == name {
			return i, nil
		}
	}
	if len(old) == maxNames {
		return -1, fmt.Errorf("%w: more than %d distinct resource names (adding %q)", ErrBadArgument, maxNames, name)
	}
	list := append(append(make([]string, 0, len(old)+1), old...), name)
	t.list.Store(&list)
	return len(old), nil
}

func (t *nameTable) internResources(res core.Resources) error {
	for i := range res {
		if _, err := t.intern(res[i].Name); err != nil {
			return err
		}
	}
	return nil
}

func (t *nameTable) internQuantities(q core.Quantities) error {
	for _, e := range q {
		if _, err := t.intern(e.Name); err != nil {
			return err
		}
	}
	return nil
}

// mustIndex returns name's index in names. Every name the engine sees is
// interned when it enters (Sharded.admit), so a miss is a bug.
func mustIndex(names []string, name string) int {
	for j, n := range names {
		if n == name {
			return j
		}
	}
	panic(fmt.Sprintf("alloc: resource name %q was not interned", name))
}

// vecKind selects which entries of a Resources a vector counts.
type vecKind uint8

const (
	// counted: non-revocable, non-shared scalars (what DRF and quota
	// see; see shared.go for why shared ones are not).
	counted vecKind = iota
	// unreserved: the unreserved part of counted.
	unreserved
	// members: everything, ranges and sets by member count (what
	// min_allocatable sees).
	members
)

// vec converts res to a qvec. Every name in res must be interned.
func (t *nameTable) vec(res core.Resources, kind vecKind) qvec {
	var v qvec
	names := t.names()
	for i := range res {
		r := &res[i]
		switch kind {
		case counted, unreserved:
			if r.Type != core.Scalar || r.Revocable || r.Shared || (kind == unreserved && r.IsReserved()) {
				continue
			}
		}
		idx := mustIndex(names, r.Name)
		switch r.Type {
		case core.Scalar:
			v[idx] += int64(r.Scalar)
		case core.RangesType:
			v[idx] += int64(min(r.Ranges.Count(), uint64(core.MaxValue)/core.ValueScale)) * core.ValueScale
		case core.SetType:
			v[idx] += int64(len(r.Set)) * core.ValueScale
		}
	}
	return v
}

// quantitiesVec converts quantities (names interned) to a qvec.
func (t *nameTable) quantitiesVec(q core.Quantities) qvec {
	var v qvec
	for _, e := range q {
		v[t.index(e.Name)] += int64(e.Value)
	}
	return v
}

// dominantShareVec is dominantShare over qvecs; skip masks excluded names.
func dominantShareVec(alloc, total *qvec, skip *[maxNames]bool, weight float64) float64 {
	return dominantShareVecN(alloc, total, skip, weight, maxNames)
}

// dominantShareVecN is dominantShareVec over the first n names.
func dominantShareVecN(alloc, total *qvec, skip *[maxNames]bool, weight float64, n int) float64 {
	var s float64
	a := alloc[:n]
	for i := range a {
		if a[i] == 0 || total[i] <= 0 || skip[i] {
			continue
		}
		if v := float64(alloc[i]) / float64(total[i]); v > s {
			s = v
		}
	}
	return s / weight
}

// vecs returns the counted and unreserved vectors of res in one pass.
func (t *nameTable) vecs(res core.Resources) (q, u qvec) {
	names := t.names()
	for i := range res {
		r := &res[i]
		if r.Type != core.Scalar || r.Revocable || r.Shared {
			continue
		}
		idx := mustIndex(names, r.Name)
		q[idx] += int64(r.Scalar)
		if !r.IsReserved() {
			u[idx] += int64(r.Scalar)
		}
	}
	return q, u
}
