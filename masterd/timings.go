package main

import (
	"slices"
	"sync"
	"time"
)

// keptTimings is how many recent durations a timings keeps.
const keptTimings = 1000

// timings keeps the most recent durations of one operation (allocation
// runs, registry writes), for the percentiles of /metrics/snapshot.
type timings struct {
	// mu guards everything below.
	mu     sync.Mutex
	ring   []time.Duration // the last len(ring) durations; next is the oldest once full
	next   int
	total  uint64
	latest time.Duration
}

func (t *timings) record(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	t.latest = d
	if len(t.ring) < keptTimings {
		t.ring = append(t.ring, d)
		return
	}
	t.ring[t.next] = d
	t.next = (t.next + 1) % keptTimings
}

// snapshot returns how many were recorded in all, the latest in
// milliseconds, and percentiles (p50, p90, p95, p99, p999), min, max and
// count of the kept ones in milliseconds; every key is present, zero when
// nothing was recorded.
func (t *timings) snapshot() (total uint64, latest float64, pct map[string]float64) {
	t.mu.Lock()
	ds := slices.Clone(t.ring)
	total, latest = t.total, ms(t.latest)
	t.mu.Unlock()
	pct = map[string]float64{"count": float64(len(ds))}
	slices.Sort(ds)
	at := func(q float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		return ms(ds[int(q*float64(len(ds)-1))])
	}
	for _, p := range []struct {
		name string
		q    float64
	}{{"min", 0}, {"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1}} {
		pct[p.name] = at(p.q)
	}
	return total, latest, pct
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
