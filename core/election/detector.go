package election

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Detector follows who leads under an election path: the lowest json.info_N
// znode and its data. Masters, agents and schedulers use one to find the
// leading master.
//
// One goroutine owns the ZooKeeper client. It lists the path's children with
// a watch (or, while the path does not exist, watches for its creation),
// reads the lowest contender's data once per leader znode (Mesos writes it
// at creation only), and waits for the next change. When the client has
// heard from no server for a whole session timeout the session is surely
// gone: the Detector reports no leader, as Mesos's detector does, closes the
// client and starts a new one. That also gets it past a server that
// restarted with an empty data directory, which refuses the old client
// forever without saying its session expired. An expiry the server does
// report needs nothing special: go-zookeeper opens a new session and the
// watches are set again.
type Detector struct {
	cfg  config
	path string
	log  *slog.Logger

	changes chan struct{} // capacity 1: Changes coalesces
	closing chan struct{}
	done    chan struct{}
	once    sync.Once

	mu sync.Mutex
	// current is the leader as last observed; its zero value is "none".
	current observed
	// changed is closed and replaced on every change of current, and closed
	// for good by Close (closed is then true). Wait blocks on it.
	changed chan struct{}
	closed  bool
	// members is every contender's data as last observed, in order of
	// candidacy (the leader first); replacing it signals nothing.
	members [][]byte

	// seen caches contenders' data by znode name (Mesos writes it at
	// creation only). Only the goroutine that observes uses it.
	seen map[string][]byte
}

// observed is one observation of the election.
type observed struct {
	node    string // the leader's znode path; "" when none
	data    []byte
	members [][]byte // every contender's data, the leader's first
}

func (o observed) equal(p observed) bool {
	return o.node == p.node && bytes.Equal(o.data, p.data)
}

// NewDetector starts following the election under path. It does not wait
// for the first observation (see Wait); it fails only on bad arguments.
// log may be nil.
func NewDetector(servers []string, path string, sessionTimeout time.Duration, log *slog.Logger) (*Detector, error) {
	return newDetector(config{servers: servers, sessionTimeout: sessionTimeout, log: log}, path)
}

func newDetector(cfg config, path string) (*Detector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := validatePath(path); err != nil {
		return nil, err
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	d := &Detector{
		cfg:     cfg,
		path:    path,
		log:     cfg.log.With("path", path),
		changes: make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	go d.run()
	return d, nil
}

// Leader returns the current leader's data and znode path; ok is false while
// there is none (or none is known). The data is a copy.
func (d *Detector) Leader() (data []byte, node string, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current.node == "" {
		return nil, "", false
	}
	return bytes.Clone(d.current.data), d.current.node, true
}

// Members returns the data of every contender (the leader's first, then
// the standbys' in the order they would take over), as last observed;
// empty while nothing is known. Changes does not signal changes of the
// standbys alone.
func (d *Detector) Members() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([][]byte, len(d.members))
	for i, m := range d.members {
		out[i] = bytes.Clone(m)
	}
	return out
}

// Changes returns a channel that receives after the leader changed,
// including to none. Changes coalesce: one receive may stand for several;
// read Leader for the latest.
func (d *Detector) Changes() <-chan struct{} { return d.changes }

// Wait blocks until there is a leader whose data accept takes (any leader
// when accept is nil) and returns that data; or until ctx ends or the
// Detector is closed (ErrClosed).
func (d *Detector) Wait(ctx context.Context, accept func(data []byte) bool) ([]byte, error) {
	for {
		d.mu.Lock()
		cur, changed, closed := d.current, d.changed, d.closed
		d.mu.Unlock()
		if cur.node != "" && (accept == nil || accept(cur.data)) {
			return bytes.Clone(cur.data), nil
		}
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close stops following and closes the client.
func (d *Detector) Close() error {
	d.once.Do(func() {
		close(d.closing)
		<-d.done
		d.mu.Lock()
		d.closed = true
		close(d.changed)
		d.mu.Unlock()
	})
	return nil
}

// set records an observation and signals a change.
func (d *Detector) set(o observed) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.members = o.members
	if d.current.equal(o) {
		return
	}
	d.current = o
	close(d.changed)
	d.changed = make(chan struct{})
	select {
	case d.changes <- struct{}{}:
	default:
	}
	if o.node == "" {
		d.log.Info("election: no leader")
	} else {
		d.log.Info("election: leader", "node", o.node)
	}
}

func (d *Detector) run() {
	defer close(d.done)
	for {
		conn, sess, err := connect(d.cfg)
		if err != nil {
			// Only resolving the servers' names fails here.
			d.log.Warn("election: detector cannot connect; retrying", "err", err)
			t := time.NewTimer(d.cfg.sessionTimeout)
			select {
			case <-d.closing:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		d.follow(conn, sess)
		conn.Close()
		select {
		case <-d.closing:
			return
		default:
		}
	}
}

// follow observes through one client until the Detector is closing or the
// client has been out of touch for a whole session timeout.
//
// A helper goroutine watches the session: on that timeout, or on closing, it
// closes the client, which ends any request the loop is blocked in. The loop
// alone writes observations.
func (d *Detector) follow(conn *zk.Conn, sess *session) {
	outOfTouch := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() {
		defer conn.Close()
		for {
			state, _, changed := sess.current()
			if state == zk.StateHasSession {
				select {
				case <-changed:
					continue
				case <-d.closing:
				case <-stop:
				}
				return
			}
			t := time.NewTimer(time.Until(sess.lossDeadline(1)))
			select {
			case <-changed:
				t.Stop()
				continue
			case <-t.C:
				d.log.Info("election: detector out of touch with ZooKeeper for a session timeout; reconnecting",
					"timeout", sess.timeout())
				close(outOfTouch)
			case <-d.closing:
				t.Stop()
			case <-stop:
				t.Stop()
			}
			return
		}
	})

	for {
		_, _, changed := sess.current()
		o, events, err := d.observe(conn)
		select {
		case <-outOfTouch:
			d.set(observed{})
			return
		case <-d.closing:
			return
		default:
		}
		var retry <-chan time.Time
		if err == nil {
			d.set(o)
			// The watch outlives reconnections within the session, and an
			// expiry fires it (EventNotWatching): no need to follow the
			// session's state, which would pile up watches.
			changed = nil
		} else {
			if isConnectionError(err) {
				d.log.Debug("election: detector request failed; retrying", "err", err)
			} else {
				d.log.Warn("election: detector request failed; retrying", "err", err)
			}
			retry = time.After(retryDelay)
		}
		select {
		case <-events:
		case <-retry:
		case <-changed:
		case <-outOfTouch:
			d.set(observed{})
			return
		case <-d.closing:
			return
		}
	}
}

// observe reads the leader once and returns a channel that fires at the next
// change under path (or when the path is created).
func (d *Detector) observe(conn *zk.Conn) (observed, <-chan zk.Event, error) {
	for {
		children, _, events, err := conn.ChildrenW(d.path)
		if errors.Is(err, zk.ErrNoNode) {
			exists, _, created, err := conn.ExistsW(d.path)
			if err != nil {
				return observed{}, nil, err
			}
			if exists {
				continue // created between the two requests
			}
			return observed{}, created, nil
		}
		if err != nil {
			return observed{}, nil, err
		}
		name, ok := leader(children)
		if !ok {
			return observed{}, events, nil
		}
		node := d.path + "/" + name
		data, _, err := conn.Get(node)
		if errors.Is(err, zk.ErrNoNode) {
			continue // the leader went between the two requests
		}
		if err != nil {
			return observed{}, nil, err
		}
		return observed{node: node, data: data, members: d.contenders(conn, children)}, events, nil
	}
}

// contenders returns the data of the contenders among children, in order
// of candidacy, reading only znodes not seen before. A contender that
// cannot be read now is left out until the next observation.
func (d *Detector) contenders(conn *zk.Conn, children []string) [][]byte {
	type contender struct {
		seq  int64
		name string
	}
	var cs []contender
	for _, ch := range children {
		if seq, ok := sequence(ch); ok {
			cs = append(cs, contender{seq, ch})
		}
	}
	slices.SortFunc(cs, func(a, b contender) int { return cmp.Compare(a.seq, b.seq) })
	seen := make(map[string][]byte, len(cs))
	var out [][]byte
	for _, c := range cs {
		data, ok := d.seen[c.name]
		if !ok {
			var err error
			if data, _, err = conn.Get(d.path + "/" + c.name); err != nil {
				continue
			}
		}
		seen[c.name] = data
		out = append(out, data)
	}
	d.seen = seen
	return out
}
