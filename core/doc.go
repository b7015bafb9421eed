// Package core holds meseta's domain model: resources and their arithmetic,
// roles, and durations in Mesos's form. Its sub-packages hold the rest of
// the model: the Mesos v1 wire types (core/mesos), RecordIO framing
// (core/recordio), the agent protocol (core/agentapi), the master state
// machine (core/master), the agent's status update manager (core/agent),
// the registry (core/registry) and daemon flag parsing (core/flagenv).
// Checkpoints and leader election come with the HA work.
//
// # Resources
//
// A [Resource] is one entry of the Mesos resource model: a name, a value
// (scalar, ranges or set), a reservation stack, optional disk information
// (persistent volumes), and the revocable and shared markers. [Resources] is
// a normalized collection of them. Scalars are fixed-point [Value]s with
// three decimals, as in Mesos, so that adding and subtracting never drifts.
//
// Two entries are "alike" when everything but the value matches (name, type,
// reservations, disk, revocable, shared). A normalized Resources holds at
// most one entry per alike-class, except for shared resources, which are
// indivisible and kept as one entry per copy. Arithmetic (Add, Sub,
// Contains) works per alike-class, so 2 cpus reserved for "eng" never merge
// with 2 unreserved cpus.
//
// The text form (`cpus:24;mem:4096;disk(eng):100;ports:[31000-32000]`) and
// the Mesos v1 JSON Resource object are both parsed and printed here.
//
// Everything in this package is pure: no I/O and no clocks.
package core
