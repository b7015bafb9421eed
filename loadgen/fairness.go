package main

import (
	"math"
	"time"

	"meseta/loadgen/synth"
)

// The fairness error says how far the master's allocation is from
// weighted DRF, once a second. For each role (several frameworks may
// share one) the monitor takes
//
//   - its allocation: the tasks its frameworks have launched and not yet
//     seen end (staging tasks hold their resources too) times each
//     framework's task shape (cpus, mem);
//   - its demand: those tasks plus the tasks its frameworks would launch
//     now (synth.Framework.Demand), times the shape;
//   - its weight: the profile group's weight (default 1).
//
// Capacity is the plan's agents' cpus and mem summed. A role's dominant
// share is the largest of its allocation's cpus and mem over capacity.
// Its DRF share is what progressive filling (drfShares) gives it: every
// role's dominant share rises at the rate of its weight, its allocation
// growing in the proportions of its demand, until its demand is met or a
// resource it uses runs out. The fairness error of a sample is the largest
// |dominant share − DRF share| over the roles; the summary gives its mean
// and maximum over the samples taken once every framework had subscribed.
//
// Both are in units of the cluster: 0.05 is 5% of the cluster's dominant
// resource. The figure is a yardstick, not an exact target: the master
// allocates every allocation interval (1 s), offers whole agents that a
// framework may only partly use, and loadgen does not set role weights on
// it (see doc.go), so a master doing right lags demand by about one
// interval's worth of launches.

// resDims are the resources the fairness error looks at.
const resDims = 2 // cpus, mem

type resVec [resDims]float64

// roleDemand is one role's input to drfShares: its weight and its demand
// in resources.
type roleDemand struct {
	weight float64 // > 0; 0 is taken as 1
	demand resVec
}

// dominantShare is the largest share of capacity that r takes; resources
// the cluster has none of are skipped.
func dominantShare(r, capacity resVec) float64 {
	s := 0.0
	for k := range r {
		if capacity[k] > 0 {
			s = max(s, r[k]/capacity[k])
		}
	}
	return s
}

// drfShares returns each role's weighted DRF dominant share of capacity
// by progressive filling. Every role's dominant share s_r rises as
// weight_r·t, its allocation being its demand scaled to that dominant
// share; a role stops when its demand is met (s_r = its demand's
// dominant share) or when a resource it uses is exhausted. t advances
// from event to event (a demand met, a resource exhausted), so the result
// is exact up to rounding, in O(events × roles) with at most roles +
// resDims events.
func drfShares(roles []roleDemand, capacity resVec) []float64 {
	n := len(roles)
	shares := make([]float64, n)
	full := make([]float64, n)   // dominant share of each role's whole demand
	unit := make([]resVec, n)    // allocation per unit of dominant share
	active := make([]bool, n)    // still rising
	weight := make([]float64, n) // weights, 0 taken as 1
	var used resVec              // by the stopped roles
	left := 0
	for i, r := range roles {
		weight[i] = r.weight
		if weight[i] <= 0 {
			weight[i] = 1
		}
		full[i] = dominantShare(r.demand, capacity)
		if full[i] <= 0 || math.IsInf(full[i], 0) || math.IsNaN(full[i]) {
			continue
		}
		for k := range unit[i] {
			unit[i][k] = r.demand[k] / full[i]
		}
		active[i] = true
		left++
	}
	const eps = 1e-12
	for left > 0 {
		// The next event: the smallest t at which an active role's demand
		// is met or a resource runs out. Active roles all have
		// share = weight·t, as they have risen since t = 0.
		next := math.Inf(1)
		for i := range n {
			if active[i] {
				next = min(next, full[i]/weight[i])
			}
		}
		var rate resVec // resource use per unit of t by the active roles
		for i := range n {
			if active[i] {
				for k := range rate {
					rate[k] += weight[i] * unit[i][k]
				}
			}
		}
		for k := range rate {
			if rate[k] > 0 {
				next = min(next, max(capacity[k]-used[k], 0)/rate[k])
			}
		}
		// Stop the roles whose demand is met, and those using a resource
		// that is now exhausted.
		var exhausted [resDims]bool
		for k := range rate {
			exhausted[k] = rate[k] > 0 && used[k]+next*rate[k] >= capacity[k]*(1-eps)
		}
		for i := range n {
			if !active[i] {
				continue
			}
			stop := next*weight[i] >= full[i]*(1-eps)
			for k := range exhausted {
				stop = stop || exhausted[k] && unit[i][k] > 0
			}
			if stop {
				shares[i] = min(next*weight[i], full[i])
				for k := range used {
					used[k] += shares[i] * unit[i][k]
				}
				active[i] = false
				left--
			}
		}
	}
	return shares
}

// fairness is one sample's fairness figures.
type fairness struct {
	shares []float64 // each role's dominant share now
	drf    []float64 // each role's DRF share now
	err    float64   // max over roles of |shares − drf|
	worst  int       // the role of err; -1 without roles
}

// measureFairness computes the fairness figures of one sample from each
// role's allocation and demand.
func measureFairness(alloc []resVec, roles []roleDemand, capacity resVec) fairness {
	f := fairness{shares: make([]float64, len(roles)), drf: drfShares(roles, capacity), worst: -1}
	for i := range roles {
		f.shares[i] = dominantShare(alloc[i], capacity)
		if e := math.Abs(f.shares[i] - f.drf[i]); f.worst < 0 || e > f.err {
			f.err, f.worst = e, i
		}
	}
	return f
}

// sampleFairness measures the fairness of the frameworks now; roleIndex
// maps a role to its place in pl.roles.
func sampleFairness(fws []*synth.Framework, roleIndex map[string]int, pl *plan) fairness {
	alloc := make([]resVec, len(pl.roles))
	roles := make([]roleDemand, len(pl.roles))
	for i := range roles {
		roles[i].weight = pl.weights[i]
	}
	for _, f := range fws {
		cfg := f.Config()
		i, ok := roleIndex[roleName(cfg.Role)]
		if !ok {
			continue // not a framework of the plan
		}
		p := f.Progress()
		running := float64(p.Launched - p.Ended)
		shape := resVec{cfg.CPUs, cfg.Mem}
		want := float64(f.Demand())
		if want >= math.MaxInt/2 {
			// No limit: as many tasks as the cluster could hold.
			want = math.Inf(1)
			for k := range shape {
				if shape[k] > 0 {
					want = min(want, math.Ceil(pl.capacity[k]/shape[k]))
				}
			}
		}
		want = max(want, running) // Demand and Progress are read apart
		for k := range shape {
			alloc[i][k] += running * shape[k]
			roles[i].demand[k] += want * shape[k]
		}
	}
	return measureFairness(alloc, roles, pl.capacity)
}

// fairnessSummary is the fairness error over a run's counted samples.
type fairnessSummary struct {
	samples   int // counted: taken once every framework had subscribed
	mean, max float64
	worst     int           // role index of max; -1 with no samples
	at        time.Duration // when max was seen
}

func summarizeFairness(samples []sample) fairnessSummary {
	s := fairnessSummary{worst: -1}
	sum := 0.0
	for _, x := range samples {
		if !x.all || x.fair.worst < 0 {
			continue
		}
		s.samples++
		sum += x.fair.err
		if s.worst < 0 || x.fair.err > s.max {
			s.max, s.worst, s.at = x.fair.err, x.fair.worst, x.at
		}
	}
	if s.samples > 0 {
		s.mean = sum / float64(s.samples)
	}
	return s
}
