//go:build invariants

package alloc

// invariantsEnabled turns on the engine's self-checks: every public call of
// the sharded engine is serialized and followed by CheckInvariants and
// checkAccounting, panicking on a violation. Build or test with
// -tags invariants.
const invariantsEnabled = true
