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
// # Durability
//
// Agent admission and removal are written to the registry before the
// master acts on them, so a restarted master refuses removed agents and
// knows which agents to expect back. Everything else (frameworks, tasks,
// offers) is soft state, rebuilt from re-registering agents and
// re-subscribing frameworks.
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
// aware); an unreachable agent may still re-register with its id and
// tasks. If more than RecoveryAgentRemovalLimit of the recovered agents
// are missing, nothing is written and Housekeep returns ErrRecoveryLimit:
// the master must fail over. recovery.go has the details.
package master
