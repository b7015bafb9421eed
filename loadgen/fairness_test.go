package main

import (
	"math"
	"testing"
)

// demand builds a roleDemand of weight w wanting cpus and mem.
func demand(w, cpus, mem float64) roleDemand { return roleDemand{weight: w, demand: resVec{cpus, mem}} }

// TestDRFShares checks progressive filling against shares worked out by
// hand. Capacity is (cpus, mem).
func TestDRFShares(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity resVec
		roles    []roleDemand
		want     []float64
	}{{
		// Two roles wanting more cpus than there are, equal weights: both
		// rise at 1 until the 10 cpus run out at t = 0.5 (5 + 5).
		name:     "equal weights",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(1, 20, 0), demand(1, 20, 0)},
		want:     []float64{0.5, 0.5},
	}, {
		// Weights 2:1: a's share is 2t, b's t; 10·2t + 10·t = 10 at
		// t = 1/3, so a 2/3 and b 1/3.
		name:     "weights 2:1",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(2, 20, 0), demand(1, 20, 0)},
		want:     []float64{2.0 / 3, 1.0 / 3},
	}, {
		// a wants 2 cpus (0.2), below its third; it stops at t = 0.2.
		// b and c share the 8 cpus left: 2 + 10t + 10t = 10 at t = 0.4.
		name:     "demand below the fair share",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(1, 2, 0), demand(1, 20, 0), demand(1, 20, 0)},
		want:     []float64{0.2, 0.4, 0.4},
	}, {
		// The DRF paper's example: 9 cpus, 18 GB; a's tasks are <1 cpu,
		// 4 GB> (mem dominant), b's <3 cpus, 1 GB> (cpus dominant), both
		// wanting far more. At dominant share s, a holds 4.5s cpus and
		// 18s GB, b holds 9s cpus and 3s GB. Cpus run out first:
		// 13.5s = 9 at s = 2/3 (mem: 21s = 14 GB of 18). So a gets 3
		// tasks (12 GB of 18), b 2 tasks (6 cpus of 9): 2/3 each.
		name:     "different dominant resources",
		capacity: resVec{9, 18},
		roles:    []roleDemand{demand(1, 100, 400), demand(1, 300, 100)},
		want:     []float64{2.0 / 3, 2.0 / 3},
	}, {
		// A resource running out stops only the roles using it: a uses
		// cpus only and b mem only. b's demand (50 of 100 mem) is met at
		// 0.5; a takes every cpu, 1.
		name:     "disjoint resources",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(1, 100, 0), demand(1, 0, 50)},
		want:     []float64{1, 0.5},
	}, {
		// Weights 1:3 over two resources. a wants 4 cpus, 4 GB (cpus
		// dominant: 0.4); b 50 cpus, 1000 GB (mem dominant: 10). At t, a's
		// share is t (10t cpus, 10t GB) and b's 3t (15t cpus, 300t GB).
		// Mem runs out first, at 10t + 300t = 100, t = 10/31 (cpus would
		// at 25t = 10, t = 0.4), before a's demand is met (t = 0.4). So a
		// 10/31 and b 30/31.
		name:     "weights over two resources",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(1, 4, 4), demand(3, 50, 1000)},
		want:     []float64{10.0 / 31, 30.0 / 31},
	}, {
		// A role wanting nothing gets nothing; the other gets all.
		name:     "zero demand",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(1, 0, 0), demand(1, 20, 0)},
		want:     []float64{0, 1},
	}, {
		// Enough for everyone: each gets its demand, whatever the weights.
		name:     "no contention",
		capacity: resVec{10, 100},
		roles:    []roleDemand{demand(5, 1, 10), demand(1, 3, 0)},
		want:     []float64{0.1, 0.3},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := drfShares(tc.roles, tc.capacity)
			for i := range tc.want {
				if math.Abs(got[i]-tc.want[i]) > 1e-9 {
					t.Errorf("role %d: share %.6f, want %.6f (all: %v)", i, got[i], tc.want[i], got)
				}
			}
		})
	}
}

// TestMeasureFairness checks the error and the worst role: with the
// weights 2:1 case above (DRF 2/3 and 1/3), an allocation of 3 and 5 cpus
// is shares 0.3 and 0.5: a is 2/3 − 0.3 = 11/30 under, b 1/6 over, so the
// error is 11/30, role a's.
func TestMeasureFairness(t *testing.T) {
	f := measureFairness([]resVec{{3, 0}, {5, 0}},
		[]roleDemand{demand(2, 20, 0), demand(1, 20, 0)}, resVec{10, 100})
	if math.Abs(f.err-11.0/30) > 1e-9 || f.worst != 0 {
		t.Errorf("err %.6f worst %d, want %.6f and role 0", f.err, f.worst, 11.0/30)
	}
	if f.shares[0] != 0.3 || f.shares[1] != 0.5 {
		t.Errorf("shares %v, want [0.3 0.5]", f.shares)
	}
}

// TestSummarizeFairness counts only the samples with every framework
// subscribed.
func TestSummarizeFairness(t *testing.T) {
	s := summarizeFairness([]sample{
		{at: 1e9, fair: fairness{err: 0.9, worst: 0}}, // before all subscribed: not counted
		{at: 2e9, all: true, fair: fairness{err: 0.1, worst: 1}},
		{at: 3e9, all: true, fair: fairness{err: 0.3, worst: 0}},
	})
	if s.samples != 2 || math.Abs(s.mean-0.2) > 1e-12 || s.max != 0.3 || s.worst != 0 || s.at != 3e9 {
		t.Errorf("summary %+v, want 2 samples, mean 0.2, max 0.3 by role 0 at 3s", s)
	}
}
