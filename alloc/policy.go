package alloc

import (
	"fmt"
	"time"

	"meseta/core"
)

// Defaults, as in Mesos.
const (
	// DefaultRefuse is Filters.refuse_seconds when a framework gives none.
	DefaultRefuse = 5 * time.Second
	// MaxRefuse caps refuse_seconds.
	MaxRefuse = 365 * 24 * time.Hour
	// DefaultMaxStarvationRescinds bounds the offers rescinded per Sweep on
	// behalf of starved frameworks.
	DefaultMaxStarvationRescinds = 64
)

// DefaultMinAllocatable is Mesos's --min_allocatable_resources default,
// cpus:0.01|mem:32: an offer must hold at least 0.01 cpus or 32 MB of memory.
func DefaultMinAllocatable() []core.Quantities {
	return []core.Quantities{
		core.QuantitiesOf(core.Quantity{Name: core.CPUs, Value: 10}),
		core.QuantitiesOf(core.Quantity{Name: core.Mem, Value: core.Units(32)}),
	}
}

// RefuseDuration turns a framework's Filters.refuse_seconds into a filter
// duration as Mesos does: absent or negative means the 5 s default, values
// are capped at 365 days, and zero means no filter. NaN is an error.
func RefuseDuration(seconds float64, present bool) (time.Duration, error) {
	if !present {
		return DefaultRefuse, nil
	}
	if seconds != seconds {
		return 0, fmt.Errorf("%w: refuse_seconds is NaN", ErrBadArgument)
	}
	if seconds < 0 {
		return DefaultRefuse, nil
	}
	if seconds >= MaxRefuse.Seconds() {
		return MaxRefuse, nil
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

// Options configure an allocator. The zero value of every field but Clock
// and Sink picks the Mesos default.
type Options struct {
	Clock Clock
	Sink  Sink
	// Shards is the number of agent shards of the sharded engine (default:
	// 4 × GOMAXPROCS, at least 1). The reference engine ignores it.
	Shards int
	// DisableIncremental turns off allocation on events: only Sweep makes
	// offers. Benchmarks use it to time whole cycles.
	DisableIncremental bool
	// OfferTimeout rescinds offers outstanding longer than this; zero means
	// offers never time out.
	OfferTimeout time.Duration
	// MinAllocatable: an offer must contain at least one of these
	// alternatives. Nil means DefaultMinAllocatable; an empty non-nil slice
	// means any non-empty offer will do.
	MinAllocatable []core.Quantities
	// ExcludedFromShares lists resource names ignored when computing
	// dominant shares (--fair_sharing_excluded_resource_names).
	ExcludedFromShares []string
	// OfferGPUsToAll turns off Mesos's --filter_gpu_resources: by default
	// agents with GPUs are offered only to GPU_RESOURCES frameworks.
	OfferGPUsToAll bool
	// MaxStarvationRescinds bounds the offers rescinded per Sweep for
	// starved frameworks (default DefaultMaxStarvationRescinds; negative
	// turns starvation rescinds off).
	MaxStarvationRescinds int
	// Seed seeds the reference engine's agent shuffle.
	Seed int64
}

func (o *Options) withDefaults() (Options, error) {
	opts := *o
	if opts.Clock == nil {
		return opts, fmt.Errorf("%w: Options.Clock is nil", ErrBadArgument)
	}
	if opts.Sink == nil {
		opts.Sink = func(Output) {}
	}
	if opts.MinAllocatable == nil {
		opts.MinAllocatable = DefaultMinAllocatable()
	}
	if opts.MaxStarvationRescinds == 0 {
		opts.MaxStarvationRescinds = DefaultMaxStarvationRescinds
	}
	if opts.OfferTimeout < 0 {
		return opts, fmt.Errorf("%w: negative offer timeout", ErrBadArgument)
	}
	return opts, nil
}

// validateFramework checks a FrameworkInfo.
func validateFramework(fi *FrameworkInfo) error {
	if fi.ID == "" {
		return fmt.Errorf("%w: empty framework id", ErrBadArgument)
	}
	if len(fi.Roles) == 0 {
		return fmt.Errorf("%w: framework %s has no roles", ErrBadArgument, fi.ID)
	}
	if len(fi.Roles) > 1 && !fi.Capabilities.Has(MultiRole) {
		return fmt.Errorf("%w: framework %s has several roles but not MULTI_ROLE", ErrBadArgument, fi.ID)
	}
	seen := make(map[string]bool, len(fi.Roles))
	for _, r := range fi.Roles {
		if err := core.ValidateRole(r); err != nil {
			return fmt.Errorf("%w: framework %s: %v", ErrBadArgument, fi.ID, err)
		}
		if seen[r] {
			return fmt.Errorf("%w: framework %s: role %q twice", ErrBadArgument, fi.ID, r)
		}
		seen[r] = true
	}
	for _, r := range fi.Suppressed {
		if !seen[r] {
			return fmt.Errorf("%w: framework %s suppresses role %q it is not subscribed to", ErrBadArgument, fi.ID, r)
		}
	}
	for r := range fi.MinAllocatable {
		if !seen[r] {
			return fmt.Errorf("%w: framework %s sets min_allocatable for role %q it is not subscribed to", ErrBadArgument, fi.ID, r)
		}
	}
	return nil
}

// validateQuota checks a quota: guarantee within limit where both are set.
func validateQuota(role string, q Quota) error {
	if err := core.ValidateRole(role); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	for _, list := range []core.Quantities{q.Guarantee, q.Limit} {
		for i := 1; i < len(list); i++ {
			if list[i-1].Name >= list[i].Name {
				return fmt.Errorf("%w: role %q: quota quantities must be sorted by name without repeats (build them with core.QuantitiesOf)", ErrBadArgument, role)
			}
		}
	}
	for _, g := range q.Guarantee {
		if g.Value < 0 {
			return fmt.Errorf("%w: negative guarantee for %s", ErrBadArgument, g.Name)
		}
	}
	for _, l := range q.Limit {
		if l.Value < 0 {
			return fmt.Errorf("%w: negative limit for %s", ErrBadArgument, l.Name)
		}
		if g := q.Guarantee.Get(l.Name); g > l.Value {
			return fmt.Errorf("%w: role %q: guarantee %s of %s exceeds limit %s", ErrBadArgument, role, g, l.Name, l.Value)
		}
	}
	return nil
}

func validateWeight(role string, w float64) error {
	if err := core.ValidateRole(role); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	if !(w > 0) || w > 1e9 {
		return fmt.Errorf("%w: weight %v for role %q must be positive and finite", ErrBadArgument, w, role)
	}
	return nil
}

// offerable returns the part of free that may be offered to a framework
// with caps in role: resources allocatable to the role, without revocable
// or shared ones unless the framework takes them.
func offerable(free core.Resources, role string, caps Capability) core.Resources {
	revocable, shared := caps.Has(RevocableResources), caps.Has(SharedResources)
	return free.Filter(func(r *core.Resource) bool {
		return r.AllocatableTo(role) && (revocable || !r.Revocable) && (shared || !r.Shared)
	})
}

// meetsMin reports whether an offer of q satisfies one of mins.
func meetsMin(q core.Quantities, mins []core.Quantities) bool {
	if len(mins) == 0 {
		return !q.IsEmpty()
	}
	for _, m := range mins {
		if q.Contains(m) {
			return true
		}
	}
	return false
}

// quotaCounted returns the quantities of res that count against quota and
// DRF: non-revocable scalars that are not shared (see shared.go).
func quotaCounted(res core.Resources) core.Quantities {
	return countedWhere(res, func(r *core.Resource) bool { return true })
}

// unreservedCounted is quotaCounted for unreserved resources only.
func unreservedCounted(res core.Resources) core.Quantities {
	return countedWhere(res, func(r *core.Resource) bool { return !r.IsReserved() })
}

func countedWhere(res core.Resources, keep func(*core.Resource) bool) core.Quantities {
	var pairs [8]core.Quantity
	list := pairs[:0]
	for i := range res {
		if r := &res[i]; !r.Revocable && !r.Shared && r.Type == core.Scalar && keep(r) {
			list = append(list, core.Quantity{Name: r.Name, Value: r.Scalar})
		}
	}
	return core.QuantitiesOf(list...)
}

// dominantShare is max over names of alloc/total, divided by weight.
func dominantShare(alloc, total core.Quantities, excluded []string, weight float64) float64 {
	var s float64
	for _, a := range alloc {
		if isExcluded(a.Name, excluded) {
			continue
		}
		t := total.Get(a.Name)
		if t <= 0 {
			continue
		}
		if v := float64(a.Value) / float64(t); v > s {
			s = v
		}
	}
	return s / weight
}

func isExcluded(name string, excluded []string) bool {
	for _, e := range excluded {
		if e == name {
			return true
		}
	}
	return false
}

// filter is a decline filter: offers to the framework in the role on the
// agent whose resources are within res are refused until expires.
type filter struct {
	res     core.Resources
	expires time.Time
}

// blocks reports whether the filter refuses an offer of off at now.
func (f *filter) blocks(off core.Resources, now time.Time) bool {
	return now.Before(f.expires) && f.res.Contains(off)
}
