// Package checkpoint is the agent's durable state, Mesos's agent
// checkpointing: what a restarted agent (agentd) needs to re-register
// with the same agent id, reconnect to its live executors and resend the
// status updates that frameworks have not acknowledged. It lives in a
// Pebble database in one directory, by convention <work_dir>/meta.
//
// # Records
//
//   - the agent: its id and info, the host's boot id at registration
//     ([BootID]) and the registration time ([AgentRecord]);
//   - the agent's checkpointed resources, its dynamic reservations and
//     persistent volumes as the master last gave them, with the volumes
//     whose directories agentd is deleting ([ResourcesRecord]). They
//     describe the host rather than the agent id, so [Store.Reset] keeps
//     them;
//   - frameworks ([FrameworkRecord]); agentd records only those that
//     registered with checkpoint: true;
//   - executors ([ExecutorRecord]): the executor info and what finding
//     the process again needs (pid, container id, sandbox directory);
//   - tasks ([TaskRecord]): the task info, its executor and last state;
//   - per task, the stream of status updates not yet acknowledged by the
//     framework, oldest first ([Store.AppendUpdate] adds at the end,
//     [Store.AckUpdate] removes the head if its uuid is the acknowledged
//     one). This is the durable half of agent.Updates: agentd appends an
//     update before it acknowledges it to the executor, and acks it here
//     when agent.Updates.Ack accepts the framework's acknowledgement.
//
// Every record hangs from its parent: an executor from its framework, a
// task from its executor, an update from its task. The writes keep that
// so (PutExecutor needs the framework, PutTask the executor, AppendUpdate
// the task; a Remove takes everything under it along), so whatever the
// store writes, a strict [Store.Recover] reads. Removing what is not
// recorded is not an error.
//
// # Layout
//
// Format version 2. Keys are byte strings; values are JSON (the struct
// tags of the record types, and agentapi.StatusUpdate's; resources in the
// Mesos v1 JSON form of core.Resource).
//
//	meta/format                                   "2" (or "1"): the layout version
//	agent                                         AgentRecord
//	resources                                     ResourcesRecord
//	framework/<fw>                                FrameworkRecord
//	framework/<fw>/executor/<executor>            ExecutorRecord
//	framework/<fw>/task/<task>                    TaskRecord
//	framework/<fw>/task/<task>/update/<seq>       agentapi.StatusUpdate
//
// An id is written escaped, so that it is one non-empty key component:
// bytes other than ASCII letters, digits and "-._~:@+=," are written %XX
// (uppercase hex), '/' and '%' among them. Only that canonical form
// parses. <seq> is 16 lowercase hex digits, so that a stream's keys sort
// in append order: one more than the largest in the stream (1 for an
// empty one). Everything under a framework shares the prefix
// framework/<fw>/, so removing a framework is one range deletion.
//
// Version 1 is version 2 without the resources key. Open writes "2"
// into an empty database. A version-1 database is read and written as it
// is (Reset keeps its version too), so that the build before this one can
// still read it, until the first [Store.SetResources] raises it to "2" in
// the same write as the record it could not read. A database with another
// version, or a non-empty one without the key, opens (so that
// [Store.Keys] can list it and [Store.Reset] can wipe it) but Recover and
// every other write fail with [ErrFormat], strict or not: this build
// cannot know what another version's records mean.
//
// # Durability
//
// SetAgent, SetResources, PutExecutor, AppendUpdate, AckUpdate and Reset
// are synced (the Pebble WAL is fsynced before they return).
// PutFramework, PutTask and the Removes are not: a crash may lose them.
// The WAL is one ordered log, so a synced write makes every earlier write
// durable too; in the order agentd writes (framework, executor; task, its
// first update) the unsynced records are made durable by the synced one
// that follows. A lost Remove only brings back a record that agentd will
// find stale at recovery (its executor is gone).
//
// # Recovery
//
// Recover reads everything back into a [State]. A record is unreadable
// when its key does not parse, its value does not decode, the ids in it
// disagree with its key, or its parent is missing or itself unreadable.
// Strict recovery (agentd's --strict, the default) fails on the first
// one, naming its key (parents sort before their children, so the first
// is the cause); non-strict recovery leaves them out, lists each in
// State.Skipped, and returns the rest. Recover does not delete what it
// skips; Reset, a Remove, or AckUpdate (which passes over unreadable
// updates at the head of a stream) do. Corruption that Pebble itself
// detects (a checksum mismatch) fails Recover either way.
//
// # Concurrency and cost
//
// A [Store] is safe for concurrent use: one mutex serializes all its
// methods, including the fsync of synced writes. The store keeps nothing
// in memory; each write reads what it must check (a parent key, the
// stream for the next sequence number and for duplicates) under the same
// mutex, which makes the check and the write one step. The price is that
// concurrent synced writes do not share fsyncs (Pebble's group commit):
// BenchmarkAppendUpdate measures about the disk's synced-batch rate
// with 1 writer or 8 (some 4,200 and 4,500 appends/s on a 2-core test
// machine). agentd writes from its
// one agent loop, and a task makes a handful of updates in its life, so
// that is far above need. Pebble's DB.ApplyNoSyncWait would let the fsync
// wait happen outside the mutex, but it is marked experimental, for
// CockroachDB only.
package checkpoint
