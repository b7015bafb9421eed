// Package master is the master's state machine: frameworks, agents,
// offers, tasks and status updates, on top of the allocator (package
// alloc) and the registry (package core/registry). It holds no sockets,
// timers or clocks: masterd feeds it calls from the HTTP API, agent
// messages and clock ticks, each with the current time, and gives it the
// connections (Conn, AgentConn) on which it sends events.
//
// # Locking
//
// Master.mu guards every field of the Master and of the framework, agent,
// task and offer records it owns. Every exported method takes it, so the
// master is one serial state machine, as a Mesos master is one actor. The
// lock order is Master.mu, then the allocator's locks, then pendingMu.
//
// The allocator delivers its decisions (offers, rescinds) to a Sink while
// the master is inside an allocator call, so the Sink cannot take
// Master.mu: it appends a copy to pending under pendingMu, and every
// exported method drains pending before it returns (drainLocked). Conn and
// AgentConn Send must not block and must not call back into the Master;
// masterd queues events per connection.
//
// # What is reliable
//
// Status updates that carry a uuid come from an agent's status update
// manager, which resends each one until the framework's acknowledgement
// reaches it through the master. The master forwards each update as it
// arrives, keeps the newest unacknowledged one per task, and sends it
// again when the framework re-subscribes. Updates the master makes itself
// (TASK_DROPPED, TASK_ERROR, TASK_LOST for a removed agent, reconciliation
// answers) carry no uuid and are not retried, as in Mesos.
//
// # Status update retries
//
// An agent resends an update it has no acknowledgement for, 10 s after
// the first send and then with a doubling backoff. Under load the
// framework may simply not have read it yet: forwarding every retry then
// puts a second copy behind the first on a stream that is already
// behind, and the framework sees a duplicate. So a retry of a task's
// newest update (same uuid) is not forwarded when:
//
//   - the framework acknowledged it through this master: the
//     acknowledgement was lost on its way to the agent (the agent's
//     stream broke), and the master acknowledges again for the
//     framework;
//   - the first copy is still queued for the framework's current stream,
//     not yet written to its connection (Backlog): the framework cannot
//     have seen it, and the stream delivers it unless it breaks, when
//     the framework's next subscription is sent every pending update;
//   - the first copy went out on the framework's current stream less
//     than 5 s ago (retryHold): no retry of the agent's own comes so
//     soon (10 s by default), so this one is part of a burst, such as
//     agents that re-registered after a failover and resent all they
//     hold to frameworks that were just sent the same on re-subscribing.
//
// Every other retry is forwarded, as Mesos forwards them all: once the
// first copy is written, the framework may have lost it, or lost its
// acknowledgement (a scheduler does not resend one), and the retry is
// what recovers. /metrics/snapshot counts the two cases
// (master/status_update_retries_acked and _held).
//
// # Durability
//
// Agent admission and removal are written to the registry before the
// master acts on them, so a restarted master refuses removed agents and
// knows which agents to expect back. So are, under these registry value
// keys: roles' quotas ("quota/<role>") and weights ("weight/<role>",
// quota.go); each agent's dynamic reservations and persistent volumes
// ("resources/<agent id>"); and operation statuses not yet acknowledged
// ("operation/<framework id>/<operation id>", resources.go); and the
// maintenance schedule with the machines that are down ("maintenance",
// maintenance.go). Everything
// else (frameworks, tasks, offers) is soft state, rebuilt from
// re-registering agents and re-subscribing frameworks.
//
// # After a failover
//
// New is called when a master becomes leader, so its now is the election
// time. The agents the registry holds as admitted are expected back for
// AgentReregisterTimeout: until each re-registers, the master cannot know
// what runs on it, so explicit reconciliation of a task it does not know
// on such an agent gets no answer. At the deadline Housekeep marks the
// agents still missing unreachable, in one registry write, and frameworks
// get the usual answers (TASK_LOST, or TASK_UNREACHABLE if partition
// aware); an unreachable agent may still re-register with its id, and
// comes back with its partition-aware frameworks' tasks only (below). If
// more than RecoveryAgentRemovalLimit of the recovered agents are
// missing, nothing is written and Housekeep returns ErrRecoveryLimit:
// the master must fail over. recovery.go has the details.
//
// # Back from unreachable
//
// An agent marked unreachable re-registers through MarkReachable
// (reregisterLocked), but the master does not take back all it reports.
// A framework that is not partition-aware was told, or is told by
// reconciliation, that the agent's tasks are TASK_LOST, which is
// terminal: taking such a task back as running would leave the
// framework believing gone a task that runs. So, as Mesos 1.1 to 1.4 did
// (master.cpp, __reregisterSlave):
//
//   - The tasks and executors of frameworks that are not partition-aware
//     are refused. Each refused task is recorded completed as TASK_LOST
//     (REASON_AGENT_REMOVED, with the time the agent became unreachable),
//     and its framework is told TASK_LOST once more, now that the master
//     knows the task (after a failover it did not when it marked the
//     agent). The agent gets SHUTDOWN_FRAMEWORK for each such framework,
//     after REGISTERED and before any offer on it can be accepted, so
//     that nothing newer of the framework is there to go with them.
//   - The tasks and executors of partition-aware frameworks are taken
//     back as reported. Their frameworks were told TASK_UNREACHABLE, which
//     is not terminal, and reconciliation now answers their state.
//
// Which frameworks are partition-aware is read from the master's
// framework records (for a framework it learns from this agent, from the
// agent's report): the same test that chose reconciliation's answer
// (framework.lostState).
//
// Refused tasks and executors are not counted in the allocator: the agent
// is re-added with only what was taken back, so their resources are
// offered at once, though the agent may still be killing them for a grace
// period. Teardown does the same (removeFrameworkLocked), as did Mesos.
// Holding them until the agent reports the kill done would hang on
// updates the agent need not send (it drops a shut-down framework's
// pending updates), and would leak if they never came.
//
// The agent record remembers what it refused (agent.refusedTasks and
// refusedExecutors) while the agent reports it. The agent's status
// updates for a refused task (a RUNNING resent from before the
// partition, the kill's TASK_KILLED) are acknowledged by the master,
// neither recorded nor forwarded, and recover no resources; a refused
// executor's exit is not reported. At a later re-registration a refused
// task still reported is refused again and killed on its own (KILL_TASK:
// by then the framework may run newer tasks on the agent, which
// SHUTDOWN_FRAMEWORK would kill too). A task or executor the master has a
// record of is never refused. This memory is soft state: a new master
// takes back everything an admitted agent reports.
//
// Mesos 1.5 dropped this and takes every task back, sending the framework
// its latest state: it called this use of ShutdownFrameworkMessage a
// misuse (MESOS-7215, a race on re-registration of frameworks that are
// not partition-aware). Here the shutdown precedes, on the agent's
// ordered stream, every launch this master can make there; what remains
// is the agent's to handle: a launch on an executor id of the framework
// that is still shutting down.
package master
