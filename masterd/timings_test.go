package main

import (
	"testing"
	"time"
)

// TestTimings: percentiles over the kept window only, every key present.
func TestTimings(t *testing.T) {
	var tm timings
	if total, _, pct := tm.snapshot(); total != 0 || pct["p99"] != 0 || pct["count"] != 0 {
		t.Fatalf("empty: %d %v", total, pct)
	}
	// 1..1100 ms: the first 100 fall out of the window of 1000.
	for i := 1; i <= keptTimings+100; i++ {
		tm.record(time.Duration(i) * time.Millisecond)
	}
	total, latest, pct := tm.snapshot()
	if total != keptTimings+100 || latest != 1100 || pct["count"] != keptTimings {
		t.Fatalf("total %d latest %v count %v", total, latest, pct["count"])
	}
	// Kept: 101..1100 ms; index q*(n-1) of the sorted window.
	if pct["min"] != 101 || pct["max"] != 1100 || pct["p50"] != 600 || pct["p99"] != 1090 {
		t.Fatalf("percentiles %v", pct)
	}
}
