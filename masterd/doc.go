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
//
// With --zk (server.go, runHA) the process starts as a standby: it
// contends for leadership through package core/election, follows the
// replicated registry (core/registry/zklog) into its own Pebble, and
// answers as a standby (state naming the leader, 307 redirects). Elected,
// it catches up with the registry and builds the master; from then on the
// election lease is checked before every request and timer tick, and the
// process exits the moment leadership is lost (docs/ha.md). server.cur is
// the master while leading, nil before; deposed, once set, stays set.
package main
