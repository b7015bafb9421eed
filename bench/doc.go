// Command bench runs the allocator benchmark scenarios of a profile on both
// engines and prints a side-by-side table: one row per scenario and size,
// the sharded and reference engines' medians, their ratio, and the target
// with PASS or MISS.
//
//	go run ./bench -profile small
//	go run ./bench -profile mesos-grid -count 5 -cpuprofile cpu.out
//
// The scenarios themselves live in bench/scenario, shared with the
// `go test -bench` benchmarks of alloc/. Every figure is measured in the
// same run for both engines, so a ratio compares like with like on this
// machine at this moment; docs/benchmarks.md records results with the
// command that produced them.
package main
