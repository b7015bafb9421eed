package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// config is what Contenders and Detectors connect with.
type config struct {
	servers        []string
	sessionTimeout time.Duration
	log            *slog.Logger
	// dial replaces net.DialTimeout; tests use it to cut a client off.
	dial zk.Dialer
}

func (c config) validate() error {
	if len(c.servers) == 0 {
		return errors.New("election: no ZooKeeper servers given")
	}
	for _, s := range c.servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("election: server %q: %w", s, err)
		}
	}
	if c.sessionTimeout <= 0 {
		return fmt.Errorf("election: session timeout %v is not positive", c.sessionTimeout)
	}
	return nil
}

// session follows one zk.Conn: its state, from go-zookeeper's event
// callback, and when bytes last came from a server, from a wrapper around
// each connection the client dials.
//
// go-zookeeper learns that a session expired only when it reconnects; a
// client cut off from every server hears nothing. The time of the last read
// bounds when the server can have expired the session: the server expires it
// no earlier than a full session timeout after it last heard from the client,
// and it last heard from the client no earlier than (about) the client's last
// read of an answer. lossDeadline turns that into a local deadline.
type session struct {
	requested time.Duration
	start     time.Time // monotonic base for lastRead

	lastRead   atomic.Int64 // time.Duration since start of the last read with data
	negotiated atomic.Int64 // time.Duration the server granted; 0 until known

	mu sync.Mutex
	// state is the last state go-zookeeper reported.
	state zk.State
	// expired is sticky: a server said the session expired. go-zookeeper then
	// opens a new session on its own, which must not pass for the old one.
	expired bool
	// changed is closed and replaced whenever state or expired changes.
	changed chan struct{}
}

func newSession(requested time.Duration) *session {
	return &session{
		requested: requested,
		start:     time.Now(),
		state:     zk.StateDisconnected,
		changed:   make(chan struct{}),
	}
}

// onEvent is go-zookeeper's event callback. It runs on the client's own
// goroutines, some holding the client's locks, so it only records.
func (s *session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.State == s.state {
		return
	}
	s.state = ev.State
	if ev.State == zk.StateExpired {
		s.expired = true
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// current returns the state, whether the session ever expired, and a channel
// closed at the next change.
func (s *session) current() (state zk.State, expired bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.expired, s.changed
}

// timeout is the session timeout in force: the granted one once known, but
// never more than the requested one.
func (s *session) timeout() time.Duration {
	if n := time.Duration(s.negotiated.Load()); n > 0 && n < s.requested {
		return n
	}
	return s.requested
}

// lossDeadline is the time fraction*timeout after the last read.
func (s *session) lossDeadline(fraction float64) time.Time {
	budget := time.Duration(float64(s.timeout()) * fraction)
	return s.start.Add(time.Duration(s.lastRead.Load()) + budget)
}

// dialer wraps dial so that every read with data stamps lastRead.
func (s *session) dialer(dial zk.Dialer) zk.Dialer {
	if dial == nil {
		dial = net.DialTimeout
	}
	return func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := dial(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		return &stampedConn{Conn: c, s: s}, nil
	}
}

type stampedConn struct {
	net.Conn
	s *session
}

func (c *stampedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.s.lastRead.Store(int64(time.Since(c.s.start)))
	}
	return n, err
}

// zkLogger sends go-zookeeper's log to slog at debug level, and takes the
// granted session timeout from its "authenticated" line (the client has no
// other way to tell it).
type zkLogger struct {
	log *slog.Logger
	s   *session
}

// authenticatedFormat is go-zookeeper v1.0.4's line after a session is
// established; its second argument is the granted timeout in ms (int32).
const authenticatedFormat = "authenticated: id=%d, timeout=%d"

func (l zkLogger) Printf(format string, args ...any) {
	if format == authenticatedFormat && len(args) == 2 {
		if ms, ok := args[1].(int32); ok && ms > 0 {
			l.s.negotiated.Store(int64(time.Duration(ms) * time.Millisecond))
		}
	}
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("zk: " + fmt.Sprintf(format, args...))
	}
}

// connect starts a client; it does not wait for a session. The client's
// event channel is drained (the callback already recorded what matters).
func connect(cfg config) (*zk.Conn, *session, error) {
	s := newSession(cfg.sessionTimeout)
	conn, events, err := zk.Connect(cfg.servers, cfg.sessionTimeout,
		zk.WithLogger(zkLogger{log: cfg.log, s: s}),
		zk.WithEventCallback(s.onEvent),
		zk.WithDialer(s.dialer(cfg.dial)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("election: connect to %v: %w", cfg.servers, err)
	}
	go func() {
		for range events {
		}
	}()
	return conn, s, nil
}

// retryDelay is how long a watch loop waits after a failed request before it
// tries again, unless the session changes first.
const retryDelay = 250 * time.Millisecond

// isConnectionError reports whether err is go-zookeeper's way of saying the
// request did not get an answer (as opposed to an answer that is an error).
func isConnectionError(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrClosing) || errors.Is(err, zk.ErrSessionExpired) ||
		errors.Is(err, zk.ErrSessionMoved)
}

// EnsurePath creates path and its parents as persistent znodes as needed.
func EnsurePath(conn *zk.Conn, path string) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		_, err := conn.Create(path[:i], nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("election: create %s: %w", path[:i], err)
		}
	}
	return nil
}
