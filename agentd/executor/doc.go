// Package executor holds meseta's built-in executors: the programs the
// agent starts, as `agentd executor --mode=command` or
// `agentd executor --mode=default`, to run tasks as OS processes. They
// are the client side of the Mesos v1 executor HTTP API and behave as
// Mesos's command executor and default executor do, so that frameworks
// see the same task states, messages and kill semantics.
//
// # What the package owns
//
//   - [Main]: reading the flags and the environment the agent sets
//     (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_SANDBOX or
//     MESOS_DIRECTORY, MESOS_AGENT_ENDPOINT, MESOS_CHECKPOINT,
//     MESOS_RECOVERY_TIMEOUT, MESOS_SUBSCRIPTION_BACKOFF_MAX,
//     MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
//     MESOS_EXECUTOR_AUTHENTICATION_TOKEN); durations in Mesos's
//     ("5secs") or Go's ("5s") form, see [core.ParseDuration]. Bad input
//     exits 2 with the variable named on stderr.
//   - The agent connection: SUBSCRIBE and its RecordIO event stream, and
//     UPDATE calls on separate POSTs.
//   - Task processes: starting them from CommandInfo, their environment,
//     signalling their process groups, and turning their ends into task
//     states.
//
// It does not fetch URIs (the agent does, before starting the executor),
// does not switch users (CommandInfo.user is ignored) and does not
// isolate resources.
//
// # One loop, many feeders
//
// All state lives in one goroutine, the run loop (executor.run); it is a
// state machine that reacts to events one at a time and never waits on
// the network or for a process. Other goroutines only feed it events:
//
//   - a stream goroutine per connection attempt sends SUBSCRIBE, decodes
//     every record of the event stream (evAgent) and reports the end of
//     the stream (evStreamEnd); events carry the connection's generation
//     so that a late event from an old connection is dropped;
//   - a waiter goroutine per task process reports its exit (evExited);
//   - timers report kill grace periods (evEscalate), SUBSCRIBE retries
//     (evRetry), the recovery timeout and the exit deadline;
//   - the outbox goroutine delivers UPDATE calls in FIFO order (so a
//     task's STARTING, RUNNING and FINISHED arrive in that order), each
//     on its own POST with a timeout, retrying transport errors and 5xx
//     answers while the connection lasts.
//
// The long-lived stream uses net/http's client: it hands the response
// body over as soon as the headers arrive, the body is read
// incrementally, and its chunked framing is invisible below the RecordIO
// reader. The client ignores proxy variables, since the agent is always
// addressed directly.
//
// # Task life
//
// LAUNCH (command mode) or LAUNCH_GROUP (default mode) creates a task and
// reports TASK_STARTING; once its process runs, TASK_RUNNING. The process
// is `/bin/sh -c value` when CommandInfo.shell is unset or true; with
// shell false, value is the program and arguments its whole argv
// (argv[0] included), as Mesos's execvp does. It runs in the sandbox
// (command mode) or in <sandbox>/tasks/<task_id>/ with stdout and stderr
// files there (default mode), in its own process group, with the
// executor's environment plus MESOS_TASK_ID, the Marathon-style port
// variables (PORT0..PORTn, PORTS, PORT) from the task's "ports" ranges,
// and CommandInfo.environment last. A process that cannot be started
// gives TASK_FAILED with reason REASON_COMMAND_EXECUTOR_FAILED.
//
// When the process exits, its process group is SIGKILLed (what the task
// leaves behind goes with it, as a destroyed Mesos container does) and
// the task ends: TASK_KILLED if a kill was decided, else TASK_FINISHED
// for status 0 and TASK_FAILED otherwise, with Mesos's messages
// ("Command exited with status 3", "Command terminated with signal
// Killed").
//
// KILL sends TASK_KILLING when the framework has TASK_KILLING_STATE,
// SIGTERM to the process group and, after the grace period (the KILL's
// kill policy, else the task's, else MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
// else 5s), SIGKILL. A second KILL can only shorten the grace period. A
// KILL for an unknown or ended task is ignored, as Mesos's command
// executor does. In default mode, a task ending TASK_FAILED or
// TASK_KILLED gets the rest of its group killed (Mesos's default
// executor's rule); groups are otherwise independent.
//
// Processes that leave their process group (setsid, setpgid) escape the
// kill; only a cgroup-based agent could catch them.
//
// # Acknowledgements and reconnection
//
// Every update gets a fresh random uuid and stays in the unacknowledged
// list until an ACKNOWLEDGED event names it; a task whose updates were
// never acknowledged is an unacknowledged task. Every SUBSCRIBE carries
// both lists. Updates made while not subscribed are not sent on their
// own: they travel in the next SUBSCRIBE, or are sent once SUBSCRIBED
// arrives if they were made after that SUBSCRIBE went out. The agent
// must therefore ignore an update whose uuid it already has.
//
// When the stream breaks (or an ERROR event arrives): with
// MESOS_CHECKPOINT, SUBSCRIBE is retried after an exponential backoff
// from 100ms with jitter, never above MESOS_SUBSCRIPTION_BACKOFF_MAX,
// until MESOS_RECOVERY_TIMEOUT has passed since the break; without
// checkpointing, or once that timeout passes, the executor abandons its
// tasks.
//
// # Ending
//
// The executor's phase only moves forward, from active to shuttingDown
// (SHUTDOWN, SIGTERM or SIGINT) and from either to abandoning (the agent
// is lost):
//
//   - active: exits 0 once every launched task has an acknowledged
//     terminal update.
//   - shuttingDown: every task is killed (TASK_KILLED), its grace period
//     capped at MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD since the agent
//     destroys the executor after that; exits 0 once the terminal
//     updates are acknowledged, or after the longest grace period plus
//     5s. New launches are ignored.
//   - abandoning: every task is killed the same way; exits 1 once every
//     process is gone, or after the same deadline.
package executor
