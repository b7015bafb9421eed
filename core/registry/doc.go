// Package registry is the master's durable registry, the counterpart of
// Mesos's registrar: the small set of facts that must survive a master
// failover.
//
//   - Agents: admitted agents with their info (opaque bytes here: the
//     master's encoding of the agent info); unreachable agents, still known
//     and allowed back, with their info and the time they were marked
//     unreachable; gone (removed) agents, refused forever, with the time of
//     their removal.
//   - Small keyed values, opaque bytes under string keys: role weights and
//     quotas, agents' checkpointed resources, unacknowledged operation
//     statuses (the master's keys are listed in core/master).
//
// # An ordered log of operations
//
// The registry is written as an ordered log of operations. Every change is
// an [Op]; [State.Apply] is the one function that turns an op into a state
// change, it is pure (no I/O, no clock, no map-order dependence), and a
// [Store] applies ops with it. So applying the same op sequence to any Store
// gives the same [State], and State.Applied, the number of ops applied, is
// the log position. This is what lets later work replicate the same ops
// through a leader-fenced log in ZooKeeper and apply them on followers, and
// compact that log with [Pebble.Snapshot] and [Pebble.Restore].
//
// Ops have a stable binary encoding ([Op.Marshal], [UnmarshalOp]; the
// layout is written next to Marshal, versioned by its first byte and
// canonical, so equal ops have equal bytes) and a stable JSON form (the
// struct tags on Op; kinds by name). OpKind numbers are part of both and are
// never reused.
//
// # Rules
//
// An agent id is in at most one of Admitted, Unreachable and Gone.
//
//   - AdmitAgent adds a new agent. An id that is gone fails with ErrGone;
//     an id that is admitted or unreachable fails with ErrExists (an
//     unreachable agent comes back through MarkReachable).
//   - MarkUnreachable moves an admitted agent to Unreachable at op.Time.
//   - MarkReachable moves an unreachable agent back to Admitted, with
//     op.Info if given, else with the info it had.
//   - RemoveAgent moves an admitted or unreachable agent to Gone at op.Time.
//   - SetValue sets Values[op.Key] to op.Info; DeleteValue deletes it
//     (deleting an absent key is not an error).
//   - PruneAgents forgets unreachable and gone agents: those older than
//     op.Time (if set), then the oldest until at most op.Count of each kind
//     remain (if op.Count > 0); ties in time go by id. These are Mesos's
//     --registry_max_agent_age and --registry_max_agent_count. A pruned
//     gone agent could be admitted again, as in Mesos.
//
// The agent ops need a non-empty UTF-8 id (an AgentID), the value ops a
// non-empty UTF-8 key; MarkUnreachable and RemoveAgent need a time. An op
// that sets a field its kind does not use is malformed, so that each
// encoded op means one thing. Malformed ops fail with ErrBadOp; the others
// with ErrUnknownAgent when the agent is not in the state the op needs.
// Failed ops change nothing and do not count in Applied.
//
// # Stores
//
// [Memory] is Mesos's in_memory registry. [Pebble] keeps the registry in a
// Pebble database and in memory. Both are safe for concurrent use (each has
// one mutex guarding its state) and apply a batch of ops all or nothing:
// if op i of a batch is invalid, the batch returns an [*OpError] with i and
// the op's kind, and nothing changed. A Pebble Apply is one synced Pebble
// batch that writes only the entries the ops touched plus the log position.
//
// The Pebble layout (format version 1), every key a byte string:
//
//	meta/format              "1": the layout version; OpenPebble refuses any other
//	meta/applied             8 bytes, big-endian State.Applied
//	agent/admitted/<id>      the agent's info
//	agent/unreachable/<id>   12-byte time, then the agent's info
//	agent/gone/<id>          12-byte time
//	value/<key>              the value
//
// A time is 8 bytes of big-endian two's complement Unix seconds and 4 bytes
// of big-endian nanoseconds. OpenPebble writes meta/format into an empty
// database, and refuses a non-empty one without it, one with another
// version, or one holding keys outside this layout.
package registry
