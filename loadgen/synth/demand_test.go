package synth

import (
	"math"
	"testing"

	"meseta/core/mesos"
)

// TestDemandBeforeSubscribe checks Demand from a framework's config alone:
// nothing runs yet, so it is what each kind wants to launch.
func TestDemandBeforeSubscribe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		drain bool
		want  int
	}{
		{"greedy with a total", Config{Kind: Greedy, Total: 5}, false, 5},
		{"greedy without a total", Config{Kind: Greedy}, false, math.MaxInt},
		{"service", Config{Kind: Service, Instances: 3}, false, 3},
		{"picky", Config{Kind: Picky, Total: 7, Match: acceptAll}, false, 7},
		{"bursty, idle until its loop starts a flood", Config{Kind: Bursty, Total: 4, Idle: 1, Flood: 1}, false, 0},
		{"drained", Config{Kind: Greedy, Total: 5}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name, tc.cfg.CPUs = "f", 1
			f, err := newFramework(nil, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.drain {
				f.Drain()
			}
			if got := f.Demand(); got != tc.want {
				t.Errorf("Demand() = %d, want %d", got, tc.want)
			}
		})
	}
}

func acceptAll(*mesos.Offer) bool { return true }
