// Package election is leader election and leader detection over ZooKeeper,
// the way Mesos masters do it (see shared/reference/mesos/high-availability.md).
// It owns the election's znodes under one path and the ZooKeeper sessions of
// its Contenders and Detectors; what the data means (a MasterInfo as JSON)
// and what a master does when it leads or loses is the caller's business.
// [ParseURL] reads Mesos's --zk=zk://host1:port1,host2:port2/path form.
//
// # The election
//
// Each candidate is a [Contender]: an ephemeral sequential znode
// path/json.info_N holding the candidate's data, created with the
// candidate's own session. The lowest live N leads. Mesos names the znodes
// the same way, so a Mesos tool reading the path sees meseta's masters.
// Other children of the path (Mesos keeps log_replicas there) are ignored.
//
// A contender considers itself leader only when a listing of the path shows
// its own znode as the lowest; Leading then fires, once. Lost fires, once,
// when the candidacy is over:
//
//   - a server reports the session expired;
//   - the contender has heard nothing from any server for 3/4 of the
//     session timeout (go-zookeeper only learns of expiry when it
//     reconnects, so a contender cut off from ZooKeeper would otherwise lead
//     on forever). The server expires a session no earlier than a full
//     timeout after it last heard from the client, so the old leader gives
//     up before a successor can be elected: with a 2 s timeout, 500 ms of
//     margin for round trips and clock rates;
//   - its znode is deleted by someone else, or a lower one appears after it
//     led;
//   - Close, which fires Lost first, then deletes the znode (the next
//     contender leads within milliseconds instead of a session timeout) and
//     closes the session.
//
// After Lost the contender closes its session and never creates a znode
// again: the caller decides. masterd exits, as a Mesos master does when it
// loses leadership; a standby may start a new Contender.
//
// A paused process (GC, SIGSTOP) can still believe it leads for as long as
// it is paused; Lost fires when it runs again, but work it does in between
// is not fenced by this package. Writes that must not come from a deposed
// leader should be made through [Contender.Conn] and check the contender's
// znode in the same multi-op.
//
// # Detection
//
// A [Detector] follows the lowest json.info_N znode and its data, with its
// own session. It reports no leader while there is none, and also when it
// has heard from no server for a whole session timeout (as Mesos's detector
// does); it then replaces its client with a new one, so it comes back on its
// own after a session expiry, a partition, or a server that lost its data.
// It keeps the last leader it saw through shorter disconnections.
//
// # Failure cases
//
//   - No server reachable: NewContender fails (go-zookeeper gives up after
//     one pass over the servers); NewDetector does not fail and keeps
//     trying, reporting no leader.
//   - A server restarted with an *empty* data directory refuses every
//     client that has seen a newer zxid, forever, without telling it that
//     its session expired. A Contender connected to it loses (Lost, by the
//     3/4 timeout rule); a Detector recovers after a session timeout by
//     starting a new client. Code that uses its own zk.Conn must recreate
//     it.
//   - Credentials in the URL are refused: no ZooKeeper authentication.
//
// go-zookeeper's log goes to the given slog.Logger at debug level; its event
// channel is drained, and session state is taken from its event callback.
package election
