// Package agentapi is meseta's own agent protocol: the messages that
// agents and the master exchange. docs/agent-protocol.md describes the
// exchange; this package holds the wire types and their validation.
//
// An agent opens one long-lived stream to the master (POST
// /agent/v1/subscribe with a REGISTER or REREGISTER call); the master
// answers with a RecordIO stream of [Event]s: REGISTERED first, then
// PING, RUN_TASK, KILL_TASK, ACKNOWLEDGE and so on. Everything an agent
// tells the master travels as a batch of [Call]s on POST /agent/v1/call,
// so one process hosting thousands of simulated agents can batch calls
// across agents. Every call names its agent; nothing assumes one agent
// per host.
//
// Types reuse the Mesos v1 messages of package mesos (AgentInfo, TaskInfo,
// TaskStatus, ...) so that what reaches a framework is what the agent
// sent.
//
// The hot messages have a hand-written codec (codec.go, on package
// jsonwire): [AppendBatch] and [DecodeBatch] for batches of calls,
// [AppendEvent] and [DecodeEvent] for events. Its output is byte for byte
// json.Marshal's, and any input it does not expect is decoded again the
// slow way (mesos.Decode for batches, json.Unmarshal for events), so
// values and errors do not depend on which path ran.
package agentapi
