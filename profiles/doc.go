// Package profiles holds named workload shapes: how big the cluster is,
// which frameworks run on it, what tasks they launch and for how long,
// which faults a run injects, and which benchmark scenarios and sizes to
// run. The bench harness reads the cluster, the framework groups' roles
// and quotas, and the bench section; the load generator reads the same
// files, and with them the task shapes and the run section.
//
// Profiles are JSON files embedded in the binary (profiles/*.json), so
// Load works from any directory; LoadFile reads one from disk. The fields
// are documented in docs/profiles.md.
//
// # Strict decoding
//
// An unknown field or an impossible number is an error that names the
// field by its JSON path (`frameworks[2].task.duration.median: must be >
// 0`), and Validate reports every bad field, not only the first.
// encoding/json's DisallowUnknownFields names an unknown field without
// saying where it is, and its type errors drop slice indices, so Parse
// uses a small decoder of its own (decode.go) that walks the Go types and
// hands only the leaves to encoding/json. Keys match the json tags
// exactly: "Agents" is an unknown field, not "agents".
//
// # Bench profiles and load profiles
//
// A profile with a run section is a load profile: every framework group
// that launches tasks then needs a task shape, and each kind its own
// fields (a service its instances, a batch framework total_tasks or a
// rate, a bursty one its idle and flood phases). A profile without one is
// for the bench harness only, where groups are roles with quotas and need
// nothing more. Fields a kind does not use are an error either way, so a
// misplaced field is never silently ignored.
//
// Validation is pure: it never looks at the clock or the disk. Durations
// are read by core.ParseDuration, so both Mesos's form ("5mins") and Go's
// ("5m") work, and written back in Mesos's form; FuzzDecode checks that a
// profile survives that round trip unchanged.
package profiles
