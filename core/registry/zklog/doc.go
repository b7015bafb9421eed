// Package zklog replicates the registry through ZooKeeper: a leader-fenced
// log of registry batches that every master applies, in the same order, to
// its own Pebble copy. It owns the znodes under its root path (the
// masters' --zk path + "/registry"); the election znodes it fences on
// belong to package election. docs/ha.md has the design and its failure
// cases; this is the summary.
//
// ZooKeeper layout under the root:
//
//	log/op-NNNNNNNNNN     persistent sequential: one batch (registry.EncodeBatch)
//	snapshot              JSON pointer: generation, position, chunks, history
//	snap-G/c-NNNN         generation G of the state (registry.EncodeState), in chunks
//
// Positions. Every batch records the registry position (State.Applied) it
// starts at. The leader checks a batch against its own copy before it
// writes it, so every logged batch applies, everywhere, and the position
// after the last entry is the same on every master that applied the log.
// A master's local position is therefore its Pebble's Applied: there is no
// separate bookkeeping to lose or to get out of step.
//
// Writes are fenced. The leader writes each batch with one ZooKeeper multi:
// a check that its own election znode exists, and the create of the entry,
// through the session that owns that ephemeral znode. A master that lost
// leadership (its session expired, so its znode is gone, or it closed)
// cannot write, and ZooKeeper orders every multi, so no deposed leader can
// append after its successor read the log. A write whose outcome is
// unknown (the connection broke mid-request) poisons the Log: every later
// Apply fails, and the master must exit, as Mesos's registrar does.
//
// A write is acknowledged only after ZooKeeper committed it and the
// leader's Pebble applied it, so nothing a master acted on can be missing
// from the next leader's registry.
//
// Catching up (Sync) reads the snapshot pointer, restores the snapshot when
// the local copy is behind it or from another history, then applies every
// later entry in order. An entry that starts after the local position (the
// log was compacted under the reader) restarts the catch-up from the new
// snapshot.
//
// Compaction. After the log grows by more than the last snapshot's size
// (and at least CompactBytes), the leader writes the state as a new
// generation of chunks, switches the pointer to it in one fenced multi, and
// then deletes the entries and the generation it replaced. A crash in
// between leaves garbage that the next compaction removes, never a pointer
// to an incomplete generation.
//
// History. The first leader on an empty root seeds it: its local registry
// (so a single master moving to HA keeps its agents), plus a random history
// id under the registry value key [HistoryKey], as generation 1. A local
// copy whose history id differs from the pointer's (a work_dir from another
// cluster, or from before the ZooKeeper data was wiped) is replaced by the
// snapshot, whatever its position.
//
// Locking: Log.mu serializes Sync, Apply and the start of a compaction,
// and guards the fields under it. The local store has its own lock.
package zklog
