package alloc

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"meseta/core"
)

func smokeRes(cpus, mem int64) core.Resources {
	r, err := core.NewResources(
		core.Resource{Name: "cpus", Type: core.Scalar, Scalar: core.Units(cpus)},
		core.Resource{Name: "mem", Type: core.Scalar, Scalar: core.Units(mem)},
		core.Resource{Name: "disk", Type: core.Scalar, Scalar: core.Units(mem)},
		core.Resource{Name: "ports", Type: core.RangesType, Ranges: core.Ranges{{Begin: 31000, End: 32000}}},
	)
	if err != nil {
		panic(err)
	}
	return r
}

func TestSmokeDecline(t *testing.T) {
	clk := &smokeClock{t: time.Unix(1e9, 0)}
	var mu sync.Mutex
	var offers []Offer
	a, err := NewSharded(Options{Clock: clk, DisableIncremental: true, Sink: func(o Output) {
		mu.Lock()
		offers = append(offers, o.Offers...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	const agents, fws = 1000, 100
	for i := range fws {
		if err := a.AddFramework(FrameworkInfo{ID: FrameworkID(fmt.Sprintf("f%04d", i)), Roles: []string{"r"}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range agents {
		if err := a.AddAgent(AgentInfo{ID: AgentID(fmt.Sprintf("a%05d", i)), Total: smokeRes(24, 4096)}); err != nil {
			t.Fatal(err)
		}
	}
	for cycle := range 3 {
		offers = offers[:0]
		start := time.Now()
		a.Sweep()
		el := time.Since(start)
		if len(offers) != agents {
			t.Fatalf("cycle %d: %d offers, want %d", cycle, len(offers), agents)
		}
		t.Logf("cycle %d: %v", cycle, el)
		if err := CheckInvariants(a.Snapshot(), false); err != nil {
			t.Fatal(err)
		}
		for _, o := range append([]Offer(nil), offers...) {
			if err := a.Decline(o.ID, MaxRefuse); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type smokeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *smokeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func BenchmarkSmokeCycle(b *testing.B) {
	for _, cycle := range []int{1, 2} {
		b.Run(fmt.Sprintf("cycle=%d", cycle), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				b.StopTimer()
				agents, fws := smokeSize()
				offers := make([]Offer, 0, agents)
				var mu sync.Mutex
				a, _ := NewSharded(Options{Clock: &smokeClock{t: time.Unix(1e9, 0)}, DisableIncremental: true, Sink: func(o Output) {
					mu.Lock()
					offers = append(offers, o.Offers...)
					mu.Unlock()
				}})
				for i := range fws {
					a.AddFramework(FrameworkInfo{ID: FrameworkID(fmt.Sprintf("f%04d", i)), Roles: []string{"r"}})
				}
				for i := range agents {
					a.AddAgent(AgentInfo{ID: AgentID(fmt.Sprintf("a%05d", i)), Total: smokeRes(24, 4096)})
				}
				for c := 1; c <= cycle; c++ {
					offers = offers[:0]
					if c == cycle {
						runtime.GC()
						b.StartTimer()
					}
					start := time.Now()
					a.Sweep()
					if c == cycle {
						total += time.Since(start)
						b.StopTimer()
					}
					if len(offers) != agents {
						b.Fatalf("%d offers", len(offers))
					}
					for _, o := range offers {
						a.Decline(o.ID, MaxRefuse)
					}
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/cycle")
		})
	}
}

func smokeSize() (int, int) {
	var a, f int
	if _, err := fmt.Sscanf(os.Getenv("SMOKE_SIZE"), "%d/%d", &a, &f); err != nil {
		return 10000, 1000
	}
	return a, f
}
