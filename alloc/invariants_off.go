//go:build !invariants

package alloc

const invariantsEnabled = false
