// Command agentd is meseta's agent daemon. It registers with the master
// over meseta's agent protocol (docs/agent-protocol.md), runs each task
// under an executor process in its own session and process group, in a
// cgroup with limits from the task's resources when the kernel allows,
// serves the v1 executor API (/api/v1/executor) and the sandbox browser
// (/files/browse, /files/read, /files/download).
//
// The same binary is the built-in executors: `agentd executor
// --mode=command` runs one CommandInfo task, `--mode=default` runs task
// groups (package agentd/executor).
//
// # Locking
//
// agent.mu guards the agent's state: its id, frameworks, executors,
// tasks and the status update manager. It is never held across I/O:
// process starts, fetches and HTTP calls happen outside it, and events to
// executors are queued on their streams (recordio.Stream), which never
// block. Calls to the master are queued on agent.outbox and sent in
// batches by one goroutine.
package main
