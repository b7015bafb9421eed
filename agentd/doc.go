// Command agentd is meseta's agent daemon. It registers with the master
// over meseta's agent protocol (docs/agent-protocol.md), runs each task
// under an executor process in its own session and process group, in a
// cgroup with limits from the task's resources when the kernel allows,
// serves the v1 executor API (/api/v1/executor) and the sandbox browser
// (/files/browse, /files/read, /files/download).
//
// # Finding the master
//
// --master=host:port names the master. --master=zk://host1:port1,host2:port2/path
// follows the masters' ZooKeeper election instead, as a Mesos agent does
// (core/election's Detector, with --zk_session_timeout, 10secs by
// default): the leader's znode holds its MasterInfo as JSON, which gives
// its address. The agent subscribes to the leader. When another master
// leads (or none), it drops its stream at once rather than wait for the
// ping watchdog, waits while there is no leader, and re-registers with the
// new one after a random part of --registration_backoff_factor, with the
// id it has: the same REREGISTER as after a master restart. Calls waiting
// in the outbox are held from the change until that re-registration, then
// go to the new leader (PONGs, which answered the old one's PINGs, are
// dropped). /state shows the master the agent talks to under "master"
// (host:port) and "master_hostname".
//
// # Reservations and persistent volumes
//
// The agent keeps its dynamic reservations and persistent volumes, the
// set the master gives it in CHECKPOINT_RESOURCES, in its checkpoint
// (core/checkpoint's resources record, which outlives a reboot or a
// removal by the master: it describes the host), reports it in every
// REGISTER and REREGISTER, and shows core.ApplyCheckpointed of its
// static resources and that set as its total (/state "resources" and
// "reserved_resources_full", the slave/<r>_total metrics). A persistent
// volume is the directory <work_dir>/volumes/roles/<role, path-escaped>/
// <persistence id>, linked into the sandbox of each task that uses it at
// its container path. volumes.go has the design: the order of directory
// creation, checkpoint and deletion that crashes cannot break, and why a
// volume of mode RO is writable (links, as Mesos's posix isolation, not
// mounts).
//
// # Sandboxes
//
// An executor's sandbox is removed --gc_delay (a week by default, as Mesos)
// after the agent forgets the executor, without following the links to
// volumes in it (sandboxgc.go).
//
// The same binary is the built-in executors: `agentd executor
// --mode=command` runs one CommandInfo task, `--mode=default` runs task
// groups (package agentd/executor).
//
// # Locking
//
// agent.mu guards the agent's state: its id, frameworks, executors,
// tasks, the status update manager and the checkpointed resources. It is
// never held across slow I/O: process starts, fetches, HTTP calls and the
// creation and deletion of volume directories happen outside it, and
// events to executors are queued on their streams (recordio.Stream),
// which never block. The checkpoint writes of frameworks, executors,
// tasks and updates, and a launch's volume links (a few local file system
// calls), are made under it, so that they follow the state changes in
// order. Calls to the master are queued on agent.outbox and sent in
// batches by one goroutine. The server's masterLoop alone reads where the
// master is (masterSource) and tells the others: agent.master under
// agent.mu, and the outbox's target under the outbox's own lock.
package main
