// Command masterd is meseta's master daemon. It parses flags (Mesos names
// and defaults, each also settable as MESETA_<FLAG>), opens the registry,
// and serves the core master state machine (package core/master) over
// fasthttp:
//
//   - POST /api/v1/scheduler: the Mesos v1 scheduler API (JSON);
//   - POST /agent/v1/subscribe and /agent/v1/call: meseta's agent
//     protocol (docs/agent-protocol.md);
//   - the operator endpoints (/master/state, /metrics/snapshot, ...).
//
// Event streams (stream.go) queue events per connection and write them
// from the connection's own goroutine, so the master never blocks on a
// slow client. Timers (allocation sweeps, agent health checks, framework
// failover) run on one goroutine that feeds the master the time.
package main
