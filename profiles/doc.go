// Package profiles holds named workload shapes: how big the cluster is,
// which frameworks run on it, and which benchmark scenarios and sizes to
// run. The bench harness uses them now; the load generator will use the
// same files to drive real daemons.
//
// Profiles are JSON files embedded in the binary (profiles/*.json), so
// Load works from any directory; LoadFile reads one from disk. Decoding is
// strict: an unknown field or an impossible number is an error that names
// the field.
package profiles
