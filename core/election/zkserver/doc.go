// Package zkserver starts real Apache ZooKeeper servers as child processes,
// for tests and tools (the election tests, loadgen). It owns the servers'
// configuration, ports, data directories and process lifetimes, and nothing
// else: clients are the caller's business.
//
// A server is `java ... QuorumPeerMain zoo.cfg` from Debian's `zookeeper`
// package (3.8), with the test configuration measured in
// shared/reference/ENVIRONMENT.md: tickTime 500 ms, sessions of 1 to 30 s,
// the client port on 127.0.0.1 only, no admin HTTP server, and the
// four-letter words ruok, srvr, stat, mntr and conf. [StartStandalone]
// starts one server; [StartEnsemble] starts n servers with myid files and
// server.K lines. Both return only when the servers serve: a standalone
// server answers "ruok" with "imok" and "srvr" with "Mode: standalone"
// (ruok alone answers before the server serves requests); every member of
// an ensemble reports Mode leader or follower, with exactly one leader.
// Before trusting a port, the readiness check asks "conf" for the data
// directory, so a server answering on a reused port is never mistaken for
// ours.
//
// # Ports
//
// Ports are picked by binding 127.0.0.1:0 and closing the listener again,
// all of one start at once so they are distinct. Another process can take
// such a port before the JVM binds it; the server then exits with "Address
// already in use" and the start is retried with new ports, at most three
// times.
//
// # Process lifetime
//
// Every server is started with Pdeathsig=SIGKILL, so a test binary that
// crashes or is killed takes its servers with it. Linux delivers that signal
// when the *thread* that forked the child exits, and the Go runtime may end
// threads, so each child is started and reaped by one goroutine locked to
// its OS thread for the child's whole life. [Server.Stop] sends SIGTERM,
// waits up to 5 s, then sends SIGKILL; [Server.Kill] sends SIGKILL. Both
// return once the child has been reaped (or fail after a bound), and both
// may be called any number of times.
//
// # Output
//
// Each server appends its stdout and stderr to zookeeper.log in its own
// directory, and also to [Options.Log] when set (lines prefixed with
// "zkN| ", writes serialized, so one writer may serve a whole ensemble).
// Every failure to start returns an error that carries the tail of that
// server's log.
//
// # Failure cases
//
//   - Java or the jars are missing: [Available] and the Start functions
//     return an error that says to `apt-get install -y zookeeper`.
//   - A server exits before it is ready, or is not ready within the bound
//     (ctx, else [Options.StartTimeout], 30 s by default): every server of
//     that start is killed and the error has the log tails.
//   - [Server.Restart] reuses the ports and the data directory. A client
//     that talked to a server which then restarts with an *empty* data
//     directory is refused by it forever (the client has seen a newer zxid)
//     and is never told that its session expired; remove the data directory
//     only together with every client.
package zkserver
