// Package simagent runs thousands of simulated agents in one process, for
// the load generator. Each simulated agent speaks meseta's real agent
// protocol (docs/agent-protocol.md, package core/agentapi) to a real
// masterd; its tasks are timers, not processes.
//
// simagent owns:
//
//   - the agents' streams: one goroutine per agent holds its POST
//     /agent/v1/subscribe stream (net/http, as agentd does, because a read
//     blocked on a fasthttp body cannot be cancelled), REGISTER the first
//     time and REREGISTER with its id, frameworks, executors and tasks after.
//   - the calls: one [outbox] for the whole fleet batches PONGs and status
//     updates of every agent into POST /agent/v1/call requests of up to
//     1,000 calls (a batch may mix agents: every call names its agent),
//     sent over one pooled fasthttp client by a few sender goroutines.
//   - the tasks: a task is a record and at most one entry in the fleet's
//     shared min-heap [scheduler] (one goroutine for all timers). A
//     launched task reports TASK_STARTING then TASK_RUNNING, as agentd's
//     command executor does, and TASK_FINISHED when the duration the caller
//     gives has passed (0 or negative: it runs until killed).
//   - reliability: each agent keeps its unacknowledged status updates in
//     agentd's own status update manager (core/agent.Updates): per task, in
//     order, only the oldest in flight, resent with backoff by one retry
//     loop for the fleet and at once after every re-registration.
//
// # Failure controls
//
// [Fleet.Kill] ends an agent: its stream is closed, it answers nothing and
// its tasks and their unacknowledged updates are gone; it keeps its id.
// [Fleet.Restart] brings a killed agent back with that id: it re-registers
// (REREGISTER) with no tasks, so the master marks the old ones TASK_LOST,
// as after a real agent host reboot.
//
// [Fleet.Partition] models a network partition that the TCP connection
// survives: the stream stays open but the agent discards every event
// (PINGs go unanswered, so after max_agent_ping_timeouts the master marks
// it unreachable) and sends nothing; its tasks keep running and their
// updates wait. [Fleet.Heal] ends the partition: the agent drops the
// stream and re-registers with its id and its tasks (REREGISTER). The
// master takes it back, with the tasks of partition-aware frameworks; it
// kills the others', which it reported lost. A master that removed it for
// good answers SHUTDOWN instead; the agent then forgets its id and tasks
// and registers as a new agent, as agentd does.
//
// [Fleet.SetMaster] points every agent at a new master (a new leader after
// a failover): each drops its stream and re-registers with the same id.
//
// # Locks
//
// Each agent has its own mutex (agent.mu) over its state; the outbox and
// the scheduler have their own. Lock order: agent.mu, then outbox.mu or
// scheduler.mu; neither of those is held while calling back into an agent.
package simagent
