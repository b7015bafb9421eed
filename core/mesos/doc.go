// Package mesos holds the Mesos v1 wire types that meseta speaks: the
// scheduler API (Call and Event of mesos.v1.scheduler), the executor API
// (ExecutorCall and ExecutorEvent of mesos.v1.executor) and the messages
// they carry (FrameworkInfo, TaskInfo, TaskStatus, Offer, ...).
//
// JSON field names follow Mesos's proto field names exactly (snake_case),
// enums travel as their names ("TASK_RUNNING"), bytes as base64 and IDs as
// {"value": "..."} objects, so that existing Mesos clients work unchanged.
// Only the fields meseta acts on are modelled; unknown fields are ignored
// on input, as Mesos ignores them.
//
// Decoding is strict about types and names the offending field:
// [DecodeCall] turns a malformed body into an error such as
//
//	invalid field "accept.offer_ids": expected array, got string
//
// and [Call.Validate] checks what a type check cannot (required fields,
// enum names). Resources are [core.Resources]; the allocation role that
// offers attach to each resource (allocation_info) is added on output by
// [OfferResources].
//
// The hot messages also have a hand-written codec (codec.go, on package
// jsonwire): [AppendEvent] and [DecodeEvent] for UPDATE, OFFERS,
// HEARTBEAT and RESCIND events, and a fast path inside [DecodeCall] for
// ACKNOWLEDGE, DECLINE, REVIVE, SUPPRESS and ACCEPT (LAUNCH) calls. It is
// a fast path only: its output is byte for byte json.Marshal's, and any
// input it does not expect is decoded again with encoding/json, so values
// and error messages do not depend on which path ran.
//
// Everything here is pure: no I/O and no clocks.
package mesos
