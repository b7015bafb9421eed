// Command loadgen drives a real masterd with simulated agents
// (loadgen/simagent) and synthetic frameworks (loadgen/synth) shaped by a
// workload profile (package profiles, docs/profiles.md), and reports what
// the master sustained.
//
//	go run ./loadgen -profile small
//	go run ./loadgen -profile my.json -master 10.0.0.5:5050 -duration 5m
//
// Flags:
//
//	-profile NAME   an embedded profile, or a file when NAME ends in .json;
//	                it needs a run section (bench-only profiles are refused)
//	-master ADDR    drive the master at host:port instead of starting one
//	-masterd PATH   the masterd binary to start (default: go build ./masterd
//	                in the module's root, into a temporary directory)
//	-duration D     override run.duration (0: the profile's)
//	-seed N         seed of task durations, picky declines and fault victims
//	-report FILE    write a self-contained HTML report (inline SVG charts,
//	                no scripts, nothing fetched) to FILE; it is created
//	                before the run, so a bad path fails at once
//	-cpuprofile F   loadgen's CPU profile; the masterd's goes to F.masterd
//	                (F.masterd.N for master N of several)
//	-memprofile F   loadgen's heap profile; the masterd's to F.masterd
//	-inprocess      drive the allocator alone, in this process: no master,
//	                no HTTP, no JSON (inprocess.go); its rates against a
//	                run with masterd separate the allocator's cost from the
//	                API's. No faults, bursty runs as greedy, no -report
//
// # A run
//
// Without -master, loadgen starts masterd as a separate process
// (masterdFlags: in-memory registry, 1 s allocation interval, agents
// unreachable after 5 missed 1 s PINGs), reads its "listening on" line and
// stops it with SIGTERM at the end. It then starts cluster.agents
// simulated agents (agent i is on rack i % cluster.racks, which replaces
// "%d" in cluster.attributes) and waits for them to register; the run's
// clock starts there. Frameworks subscribe all at once or
// run.arrival.per_second a second. Each framework of a group draws its
// task durations from the group's distribution with its own generator
// seeded by -seed and its place in the profile, so a run is repeatable;
// the duration travels in the task's synth.DurationLabel and the agents
// finish the task after it (an infinite duration: never).
//
// Faults run on their own timeline: kill_agents kills agents for good,
// restart_agents kills them and starts them again a second later (they
// re-register without their tasks, which the master reports lost),
// partition_agents cuts them off for `for` (or the rest of the run); each
// repeats every `every`. Victims are drawn among the agents that are up.
//
// The run ends at run.duration, or with none when every framework with a
// total_tasks has launched it and seen each task end (or, with
// run.end = "running", seen each task TASK_RUNNING and acknowledged it).
// Every framework is then drained (it launches nothing more but keeps
// acknowledging), and loadgen waits up to 30 s for the live agents'
// status updates to be acknowledged (and, without a duration, for the
// tasks to get where the run expects), before it counts what is lost.
//
// # Output
//
// While running, one status line a second on stderr (rewritten in place
// on a terminal, otherwise a new line every 5 s): elapsed time, agents
// registered, frameworks subscribed, offers and launches a second, tasks
// running, the master's CPU time and RSS (from /proc; "-" for a master
// loadgen did not start), and the time left.
//
// At the end a summary table on stdout: run time, agents, frameworks,
// offers, accepts and launches a second, submit→TASK_RUNNING latency
// p50/p99/max, the master's CPU seconds and peak RSS, the fairness error
// (mean and max over the seconds after every framework subscribed, of
// the largest gap between a role's dominant share and its weighted DRF
// share; fairness.go and docs/profiles.md define it), the faults
// injected, updates acknowledged, lost updates and duplicated updates (a
// task, state and uuid delivered twice on one subscription; one delivered
// again after the framework re-subscribed, as after a master failover,
// is counted apart as redelivered, which at-least-once delivery allows).
// The drain (at most 30 s) waits until the agents still up hold no
// unacknowledged update. Lost counts the updates they still hold then
// that have waited since before the drain or for 25 s (two of the agent's
// retries): their delivery is reliable, so each is one that never got
// through; younger ones, of tasks that ended during the drain, are in
// flight. It adds, in a run without a duration, the tasks of
// non-service frameworks that did not end (or start, with run.end =
// "running"); a service's instances run on by design and only services
// may have infinite durations. loadgen describes up to ten of each. The
// exit status is 1 when any update was lost or duplicated, a framework
// got ERROR, a master exited by itself or the masterd reported a data
// race; 2 for bad usage or a profile loadgen cannot run.
//
// With -report, the same table and charts drawn from the monitor's
// per-second samples go to one HTML file (htmlreport.go): offers and
// launches a second, tasks running, each role's dominant share against
// its DRF share, the fairness error, latency percentiles, and the
// master's RSS and CPU. docs/profiles.md says how to read it.
//
// # Several masters
//
// With run.zookeeper, loadgen starts a standalone ZooKeeper server
// (core/election/zkserver) and run.masters masterd processes with --zk
// and --zk_session_timeout=2secs, each with its own in-memory registry
// copy replicated through ZooKeeper. One leader detector in loadgen
// follows the election and points the agents and the frameworks at each
// new leader; it stands for the watch each real agent and scheduler
// would hold. kill_leader sends SIGKILL to the leader; the summary then
// gives when the next leader was seen and when 99% of the agents were
// registered again (failover in ha.go). The monitor samples whichever
// master leads, and adds up CPU time across leaders.
//
// # Not supported yet
//
// Decliner groups are skipped (synth has no decliner kind), role weights
// and quotas are not set on the master (-inprocess sets the weights on
// its allocator), and a picky group's rate is not enforced; each is said
// on stderr when a profile asks for it.
package main
