package election

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// nodePrefix names the contenders' znodes, as Mesos masters name theirs:
// json.info_0000000007 holds a MasterInfo as JSON.
const nodePrefix = "json.info_"

// leaseFraction is the part of the session timeout a contender may go
// without hearing from ZooKeeper before it gives up leadership. The server
// expires the session no earlier than a full timeout after it last heard
// from the contender; the rest (500 ms of a 2 s timeout) covers the round
// trip, the client noticing late, and clock-rate differences, so the old
// leader's Lost fires before a successor can be elected.
//
// The price: go-zookeeper drops a silent server after 2/3 of the timeout,
// which leaves 1/12 of it (170 ms of 2 s, 830 ms of Mesos's default 10 s)
// to reach another server before a leader connected to a stalled server
// gives up.
const leaseFraction = 0.75

// ErrClosed is returned by a Detector's Wait once the Detector is closed.
var ErrClosed = errors.New("election: closed")

// Contender is one candidate for leadership: an ephemeral sequential znode
// under the election path, holding the candidate's data, alive as long as
// its ZooKeeper session. The lowest live sequence number leads.
//
// A Contender runs two goroutines. watch lists the path's children on every
// change and decides: own znode lowest → Leading; own znode gone, or a lower
// one after Leading → Lost. monitor follows the session: expired, or out of
// touch with every server for leaseFraction of the timeout → Lost. Once Lost
// fires the session is closed and nothing is re-created; a new candidacy is
// a new Contender. As in Mesos, every contender watches the whole path
// rather than only its predecessor: groups are small, so the herd effect
// does not matter.
type Contender struct {
	conn *zk.Conn
	sess *session
	path string // the election path
	node string // own znode's full path
	name string // own znode's name under path
	log  *slog.Logger

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	connOnce  sync.Once

	mu sync.Mutex
	// leading and lost are closed at most once each, under mu: Leading never
	// fires after Lost. Invariant: leadingClosed implies leading is closed.
	leading       chan struct{}
	lost          chan struct{}
	leadingClosed bool
	lostClosed    bool
}

// NewContender connects with the given session timeout, creates path (and
// its parents) if needed, and creates this contender's ephemeral sequential
// znode path/json.info_N holding data. It returns once the znode exists; it
// does not wait for leadership (see Leading).
//
// log may be nil. It fails when no server can be reached (go-zookeeper gives up after one
// pass over the servers) or a request fails; nothing is retried, and the
// session is closed, so a znode whose creation was in flight when the
// connection broke disappears with it.
func NewContender(servers []string, path string, data []byte, sessionTimeout time.Duration, log *slog.Logger) (*Contender, error) {
	return newContender(config{servers: servers, sessionTimeout: sessionTimeout, log: log}, path, data)
}

func newContender(cfg config, path string, data []byte) (*Contender, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := validatePath(path); err != nil {
		return nil, err
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	conn, sess, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	if err := EnsurePath(conn, path); err != nil {
		conn.Close()
		return nil, err
	}
	node, err := conn.Create(path+"/"+nodePrefix, data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("election: create %s/%s: %w", path, nodePrefix, err)
	}
	c := &Contender{
		conn:    conn,
		sess:    sess,
		path:    path,
		node:    node,
		name:    node[len(path)+1:],
		log:     cfg.log.With("node", node),
		leading: make(chan struct{}),
		lost:    make(chan struct{}),
	}
	c.log.Info("election: contending", "session", fmt.Sprintf("%#x", conn.SessionID()))
	c.wg.Add(2)
	go c.watch()
	go c.monitor()
	return c, nil
}

// Leading returns a channel closed when this contender becomes leader: its
// znode is the lowest live one. It stays closed; leadership ends when Lost
// fires.
func (c *Contender) Leading() <-chan struct{} { return c.leading }

// Lost returns a channel closed when the contender's session ends: expired,
// presumed expired (no word from any server for 3/4 of the session timeout),
// its znode deleted by someone else, or Close. After Leading, Lost means the
// caller must stop acting as leader at once. Lost is final: the contender
// never leads again.
func (c *Contender) Lost() <-chan struct{} { return c.lost }

// Node returns the contender's znode path, path/json.info_N.
func (c *Contender) Node() string { return c.node }

// Conn returns the ZooKeeper client whose session holds the contender's
// ephemeral znode, for writes fenced on that session (for example a multi
// that checks the znode's existence). Do not close it; use Close.
func (c *Contender) Conn() *zk.Conn { return c.conn }

// Close fires Lost, deletes the znode so that the next contender leads at
// once, and closes the session. It waits for the contender's goroutines.
// Closing twice returns the first result.
func (c *Contender) Close() error {
	c.closeOnce.Do(func() {
		// Lost first: the caller stops acting as leader before the hand-over.
		c.lose("closed")
		c.closeErr = c.deleteNode()
		c.closeConn()
		c.wg.Wait()
	})
	return c.closeErr
}

// deleteNode deletes the znode, bounded by the session timeout; closing the
// session deletes it too, so a node already gone or a session already over
// is no failure.
func (c *Contender) deleteNode() error {
	done := make(chan error, 1)
	go func() { done <- c.conn.Delete(c.node, -1) }()
	t := time.NewTimer(c.sess.timeout())
	defer t.Stop()
	select {
	case err := <-done:
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrConnectionClosed),
			errors.Is(err, zk.ErrClosing), errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrNoServer):
			return nil
		default:
			return fmt.Errorf("election: delete %s: %w", c.node, err)
		}
	case <-t.C:
		// Closing the client below ends the request.
		c.log.Warn("election: delete timed out; closing the session deletes the znode")
		return nil
	}
}

func (c *Contender) closeConn() { c.connOnce.Do(c.conn.Close) }

// lead closes leading unless Lost already fired.
func (c *Contender) lead() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lostClosed || c.leadingClosed {
		return
	}
	c.leadingClosed = true
	close(c.leading)
	c.log.Info("election: leading")
}

// lose closes lost once.
func (c *Contender) lose(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lostClosed {
		return
	}
	c.lostClosed = true
	close(c.lost)
	c.log.Info("election: lost", "why", why, "was_leading", c.leadingClosed)
}

// Holds reports whether this contender may act as the leader right now:
// Leading has fired, Lost has not, and a server was heard from within 3/4
// of the session timeout. It turns false the moment a pause (GC, SIGSTOP)
// outlasts that lease, before the goroutine that fires Lost has run, so a
// leader checks it before each thing it does on its own (a timer, a
// request).
func (c *Contender) Holds() bool {
	return c.isLeading() && time.Now().Before(c.sess.lossDeadline(leaseFraction))
}

func (c *Contender) isLeading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leadingClosed && !c.lostClosed
}

// watch decides leadership from the path's children, on every change.
func (c *Contender) watch() {
	defer c.wg.Done()
	for {
		_, _, changed := c.sess.current()
		children, _, events, err := c.conn.ChildrenW(c.path)
		if errors.Is(err, zk.ErrNoNode) {
			// The path can only go once every child has, own znode included.
			c.lose("election path " + c.path + " is gone")
			c.closeConn()
			return
		}
		if err != nil {
			select {
			case <-c.lost:
				return
			default:
			}
			if isConnectionError(err) {
				c.log.Debug("election: listing failed; retrying", "err", err)
			} else {
				c.log.Warn("election: listing failed; retrying", "err", err)
			}
			t := time.NewTimer(retryDelay)
			select {
			case <-c.lost:
				t.Stop()
				return
			case <-changed:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		switch lowest, present := rank(children, c.name); {
		case !present:
			c.lose("znode " + c.node + " is gone")
			c.closeConn()
			return
		case lowest:
			c.lead()
		case c.isLeading():
			c.lose("a lower znode than " + c.name + " appeared")
			c.closeConn()
			return
		}
		select {
		case <-events:
		case <-c.lost:
			return
		}
	}
}

// monitor gives up the candidacy when the session is over or presumed over.
func (c *Contender) monitor() {
	defer c.wg.Done()
	for {
		state, expired, changed := c.sess.current()
		if expired {
			c.lose("session expired")
			c.closeConn()
			return
		}
		if state == zk.StateHasSession {
			select {
			case <-changed:
				continue
			case <-c.lost:
				return
			}
		}
		t := time.NewTimer(time.Until(c.sess.lossDeadline(leaseFraction)))
		select {
		case <-changed:
			t.Stop()
		case <-t.C:
			c.lose(fmt.Sprintf("no word from ZooKeeper for %v of its %v session",
				time.Duration(float64(c.sess.timeout())*leaseFraction), c.sess.timeout()))
			c.closeConn()
			return
		case <-c.lost:
			t.Stop()
			return
		}
	}
}

// rank reports whether name is among children and whether it is the lowest
// contender there. Children that are not json.info_N are ignored.
func rank(children []string, name string) (lowest, present bool) {
	own, ok := sequence(name)
	if !ok {
		return false, false
	}
	lowest = true
	for _, ch := range children {
		if ch == name {
			present = true
			continue
		}
		if seq, ok := sequence(ch); ok && seq < own {
			lowest = false
		}
	}
	return lowest, present
}

// leader returns the lowest contender among children.
func leader(children []string) (name string, ok bool) {
	var best int64
	for _, ch := range children {
		seq, isContender := sequence(ch)
		if isContender && (!ok || seq < best) {
			name, best, ok = ch, seq, true
		}
	}
	return name, ok
}

// sequence parses json.info_N's N (ZooKeeper prints it as %010d; it goes
// negative past 2^31, which is not handled specially).
func sequence(child string) (int64, bool) {
	digits, ok := strings.CutPrefix(child, nodePrefix)
	if !ok || digits == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}
