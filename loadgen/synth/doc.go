// Package synth runs synthetic frameworks for the load generator: many
// schedulers in one process, each speaking the Mesos v1 scheduler HTTP API
// in JSON to a real masterd, with the behaviour of a kind of real
// framework and metrics that say what the master did for it.
//
// # What it owns
//
// A Group is the shared part: the master address (SetMaster follows a
// failover; a 307 from a standby moves it too), one fasthttp client for
// every call of every framework, one net/http client for the SUBSCRIBE
// streams, and the list of frameworks for aggregate metrics. A Framework
// is one scheduler: a SUBSCRIBE stream read on one goroutine and an event
// loop on another that owns all of the framework's protocol state. The
// loop is the only writer of the framework's task table and metrics; the
// mutex Framework.mu guards them for concurrent readers.
//
// # Kinds
//
//   - Greedy accepts every offer and launches as many tasks of its shape
//     as fit, up to Config.Total (0: no limit) and at most Config.Rate
//     launches a second (0: no limit).
//   - Service keeps Config.Instances tasks running, relaunching when one
//     ends (any terminal state), and declines the rest with
//     Config.RefuseSeconds. When an instance ends it sends REVIVE, which
//     clears its own decline filters so the relaunch is not delayed by
//     them.
//   - Picky declines, with the filter, every offer Config.Match rejects,
//     accepts only matching ones, SUPPRESSes when it has nothing to run
//     and REVIVEs when Submit gives it work.
//   - Bursty alternates flood phases (greedy, Config.Flood long; at most
//     Config.Total launches per phase when non-zero) and idle phases
//     (suppressed, Config.Idle long), starting with a flood.
//
// # Tasks
//
// A task's duration comes from Config.Duration. The simulated agents of
// loadgen/simagent read it from the label "meseta.duration" (seconds as a
// decimal string); the task's command is also "sleep <seconds>", so real
// agents run it for as long. Task ids are "<framework name>-<n>".
//
// # Protocol duties
//
// Every framework acknowledges every update that carries a uuid (those
// without one are reconciliation answers and are not acknowledged), uses
// real filters (refuse_seconds on DECLINE), ignores RESCIND beyond
// counting it (offers are answered as soon as they arrive), watches
// HEARTBEAT (a stream silent for three heartbeat intervals is dropped and
// re-subscribed), stops on ERROR (Framework.Err), and re-subscribes with
// its framework id, with exponential backoff, when its stream breaks or
// the group's master changes. FrameworkInfo.failover_timeout is set so
// the master keeps the framework and its tasks across such gaps.
//
// # Metrics
//
// Stats counts offers received, accepted and declined, tasks launched,
// updates by state, acknowledgements sent, duplicates (an update whose
// task, state and uuid were already seen: a re-delivery), and keeps every
// submit→TASK_RUNNING latency, submit being the time the ACCEPT call was
// sent. Lost counts launched tasks with no terminal update yet; call it
// when the run is over. Demand says how many tasks the framework would
// have running if it got all it asks for now (loadgen's fairness error
// takes it as the role's demand); the event loop publishes what it wants
// in an atomic after each event, so reading it costs a lock and a load.
//
// # Encoding
//
// ACKNOWLEDGE and DECLINE, the most frequent calls, are written by hand
// from a prefix encoded once per subscription (it holds the framework
// id); ACCEPT and the rare calls go through encoding/json.
package synth
