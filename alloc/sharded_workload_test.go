package alloc

import (
	"fmt"
	"testing"
)

// TestShardedRandomWorkload runs the randomized workload driver against the
// sharded engine and the reference in lockstep: every safety invariant is
// checked after every step in both, and the sharded engine's incremental
// accounting is recomputed from scratch and compared.
func TestShardedRandomWorkload(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for seed := range uint64(seeds) {
		for _, opts := range []Options{{}, {DisableIncremental: true}, {Shards: 3, OfferTimeout: 30_000_000_000}} {
			t.Run(fmt.Sprintf("seed=%d/incremental=%v/shards=%d", seed, !opts.DisableIncremental, opts.Shards), func(t *testing.T) {
				runRandomWorkload(t, workloadConfig{
					Seed:    seed,
					Steps:   300,
					Options: opts,
					Check: func(step int, engines []*workloadEngine) {
						if err := engines[0].A.(*Sharded).checkAccounting(); err != nil {
							t.Errorf("step %d: %v", step, err)
						}
					},
				},
					workloadTarget{Name: "sharded", Build: func(o Options) (Allocator, error) { return NewSharded(o) }},
					workloadTarget{Name: "reference", Build: func(o Options) (Allocator, error) { return NewReference(o) }},
				)
			})
		}
	}
}
