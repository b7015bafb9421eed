// Package scenario builds and times the allocator benchmark scenarios, for
// both engines, so that `go test -bench` (alloc/bench_test.go) and the bench
// harness (go run ./bench) measure exactly the same thing.
//
// Every scenario drives an alloc.Allocator through its public API with a
// clock the scenario controls. Setup is never timed. Each scenario checks
// that its setup really allocates before it times anything, and returns an
// error instead of a figure when it does not.
package scenario
