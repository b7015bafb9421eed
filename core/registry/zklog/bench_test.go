package zklog

import (
	"fmt"
	"testing"
	"time"

	"meseta/core/registry"
)

// BenchmarkApply is the leader's registry write through ZooKeeper (a
// fenced multi on a standalone server over loopback, then the synced
// Pebble write): the latency every admission and removal pays.
func BenchmarkApply(b *testing.B) {
	root := newRoot(b)
	conn := connect(b)
	l, err := New(Config{Conn: conn, Root: root, Local: openPebble(b, b.TempDir())})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	fence := contend(b, conn, root)
	if err := l.Lead(fence); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := l.Apply(admit(fmt.Sprintf("agent-%08d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N)/1000, "ms/write")
}

// BenchmarkCatchUp is what a new leader pays to read a log of 1,000
// single-op entries written since the last snapshot.
func BenchmarkCatchUp(b *testing.B) {
	root := newRoot(b)
	conn := connect(b)
	leader, err := New(Config{Conn: conn, Root: root, Local: registry.NewMemory(), CompactBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer leader.Close()
	fence := contend(b, conn, root)
	if err := leader.Lead(fence); err != nil {
		b.Fatal(err)
	}
	const entries = 1000
	for i := range entries {
		if err := leader.Apply(admit(fmt.Sprintf("agent-%08d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		f, err := New(Config{Conn: conn, Root: root, Local: registry.NewMemory()})
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if f.Stats().Entries != entries {
			b.Fatalf("applied %d entries", f.Stats().Entries)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/catch-up")
}
