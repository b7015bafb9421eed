package registry

import (
	"strconv"
	"testing"
)

// BenchmarkPebbleApply measures synced Applies: one op per Apply, and 64.
// ns/op is per Apply; ops/s counts ops.
func BenchmarkPebbleApply(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			p := openPebble(b, b.TempDir())
			info := make([]byte, 256) // about the size of an encoded agent info
			ops := make([]Op, n)
			next := 0
			for b.Loop() {
				for k := range ops {
					ops[k] = Op{Kind: AdmitAgent, AgentID: "agent-" + strconv.Itoa(next), Info: info}
					next++
				}
				if err := p.Apply(ops...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
