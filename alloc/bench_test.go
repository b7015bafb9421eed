package alloc_test

import (
	"fmt"
	"testing"
	"time"

	"meseta/bench/scenario"
	"meseta/core"
)

// The benchmarks here and the bench harness (go run ./bench) run the same
// scenarios, from bench/scenario. Each sub-benchmark runs a whole scenario
// per iteration (setup untimed) and reports domain figures; ns/op is the
// scenario's headline figure. See docs/benchmarks.md.

var mesosAgent = core.MustParseResources("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")

// referenceBudget skips reference cells with more agents × frameworks:
// the reference sorts every framework for every agent, so they take
// minutes.
const referenceBudget = 10_000_000

func grid(b *testing.B) []scenario.Size {
	if testing.Short() {
		return []scenario.Size{{Agents: 1000, Frameworks: 100}}
	}
	return []scenario.Size{{Agents: 1000, Frameworks: 100}, {Agents: 10000, Frameworks: 1000}, {Agents: 20000, Frameworks: 2000}, {Agents: 50000, Frameworks: 5000}}
}

// BenchmarkDeclineOffers is Mesos's DeclineOffers shape: every framework in
// one role, every offer declined with an infinite filter.
func BenchmarkDeclineOffers(b *testing.B) {
	for _, impl := range scenario.Impls {
		for _, size := range grid(b) {
			b.Run(fmt.Sprintf("impl=%s/%s", impl, size), func(b *testing.B) {
				if impl == "reference" && int64(size.Agents)*int64(size.Frameworks) > referenceBudget {
					b.Skipf("reference at %s takes minutes per cycle", size)
				}
				var first, filtered time.Duration
				for range b.N {
					r, err := scenario.Decline(impl, size, mesosAgent)
					if err != nil {
						b.Fatal(err)
					}
					first += r.First
					filtered += r.Filtered
				}
				n := float64(b.N)
				b.ReportMetric(first.Seconds()*1e9/n, "ns/op")
				b.ReportMetric(first.Seconds()*1e3/n, "ms/cycle-first")
				b.ReportMetric(filtered.Seconds()*1e3/n, "ms/cycle-filtered")
				b.ReportMetric(float64(size.Agents)*n/first.Seconds(), "offers/s")
			})
		}
	}
}

// BenchmarkQuota is the LargeAndSmallQuota shape: 3000 agents of
// cpus:2;mem:2048;disk:2048, 3000 roles with quota, one framework each.
func BenchmarkQuota(b *testing.B) {
	agents := 3000
	if testing.Short() {
		agents = 300
	}
	res := core.MustParseResources("cpus:2;mem:2048;disk:2048")
	var roles []scenario.QuotaRole
	for i := range agents {
		q := core.MustParseResources("cpus:1;mem:1024").Quantities()
		if i%2 == 0 {
			q = core.MustParseResources("cpus:2;mem:2048").Quantities()
		}
		roles = append(roles, scenario.QuotaRole{Role: fmt.Sprintf("role%05d", i), Guarantee: q, Limit: q})
	}
	for _, impl := range scenario.Impls {
		b.Run(fmt.Sprintf("impl=%s/agents=%d/roles=%d", impl, agents, len(roles)), func(b *testing.B) {
			var first time.Duration
			for range b.N {
				r, err := scenario.Quota(impl, agents, res, roles)
				if err != nil {
					b.Fatal(err)
				}
				first += r.First
			}
			b.ReportMetric(first.Seconds()*1e9/float64(b.N), "ns/op")
			b.ReportMetric(first.Seconds()*1e3/float64(b.N), "ms/cycle")
		})
	}
}

// BenchmarkIncrementalLatency measures recovered-to-re-offered latency in
// a steady state.
func BenchmarkIncrementalLatency(b *testing.B) {
	size := scenario.Size{Agents: 20000, Frameworks: 2000}
	events := 100000
	if testing.Short() {
		size, events = scenario.Size{Agents: 1000, Frameworks: 100}, 10000
	}
	for _, impl := range scenario.Impls {
		b.Run(fmt.Sprintf("impl=%s/%s", impl, size), func(b *testing.B) {
			n := events
			if impl == "reference" {
				n = max(events/200, 200)
			}
			var p50, p99 time.Duration
			for i := range b.N {
				r, err := scenario.Incremental(impl, size, mesosAgent, n, uint64(i))
				if err != nil {
					b.Fatal(err)
				}
				p50 += r.P50
				p99 += r.P99
			}
			b.ReportMetric(float64(p50.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(float64(p50.Nanoseconds())/float64(b.N), "ns/event-p50")
			b.ReportMetric(float64(p99.Nanoseconds())/float64(b.N), "ns/event-p99")
		})
	}
}

// BenchmarkChurn measures accept+recover events per second with one
// goroutine per GOMAXPROCS, each driving the agents of its own shards
// (workers=shard), of every shard (workers=dealt) or of an engine of its
// own (workers=apart, the machine's ceiling); see scenario.Churn. Each
// iteration runs GOMAXPROCS=1 and 2 back to back and reports both rates
// and their ratio.
func BenchmarkChurn(b *testing.B) {
	size := scenario.Size{Agents: 2000, Frameworks: 200}
	for _, impl := range scenario.Impls {
		for _, workers := range []scenario.Workers{scenario.WorkersByShard, scenario.WorkersDealt, scenario.WorkersApart} {
			b.Run(fmt.Sprintf("impl=%s/%s/workers=%s", impl, size, workers), func(b *testing.B) {
				events := 200000
				if impl == "reference" || testing.Short() {
					events = 20000
				}
				var one, two, ratio float64
				for range b.N {
					p, err := scenario.ChurnPairs(impl, size, mesosAgent, events, 1, workers)
					if err != nil {
						b.Fatal(err)
					}
					one += p[0].One
					two += p[0].Two
					ratio += p[0].Ratio()
				}
				n := float64(b.N)
				b.ReportMetric(1e9/(two/n), "ns/op")
				b.ReportMetric(one/n, "events/s-procs1")
				b.ReportMetric(two/n, "events/s-procs2")
				b.ReportMetric(ratio/n, "speedup")
			})
		}
	}
}

// BenchmarkMemory measures the heap per agent and per framework.
func BenchmarkMemory(b *testing.B) {
	agents, fws := 50000, 5000
	if testing.Short() {
		agents, fws = 5000, 500
	}
	for _, impl := range scenario.Impls {
		b.Run(fmt.Sprintf("impl=%s/agents=%d/frameworks=%d", impl, agents, fws), func(b *testing.B) {
			var perAgent, perFw float64
			for range b.N {
				r, err := scenario.Memory(impl, agents, fws, mesosAgent)
				if err != nil {
					b.Fatal(err)
				}
				perAgent += r.BytesPerAgent
				perFw += r.BytesPerFramework
			}
			b.ReportMetric(perAgent/float64(b.N), "bytes/agent")
			b.ReportMetric(perFw/float64(b.N), "bytes/framework")
		})
	}
}
