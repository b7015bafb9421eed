package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/alloc"
	"meseta/core/daemon"
	"meseta/core/election"
	"meseta/core/flagenv"
	"meseta/core/master"
	"meseta/core/mesos"
	"meseta/core/recordio"
	"meseta/core/registry"
	"meseta/core/registry/zklog"
)

// Version is the Mesos API version meseta speaks; MesetaVersion is its own.
const (
	Version       = "1.11.0"
	MesetaVersion = "0.3.0"
)

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv)
	if errors.Is(err, errHelp) {
		fmt.Fprintln(stdout, "Usage: masterd [--flag=value ...]\n\nFlags (each also settable as an environment variable):")
		flagenv.Usage(stdout, cfg.fs, "MESETA_")
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "masterd: %v\nRun masterd --help for the flags.\n", err)
		return 2
	}
	log, err := daemon.NewLogger(stderr, cfg.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "masterd: %v\n", err)
		return 2
	}
	prof, err := daemon.StartProfiles(cfg.cpuProfile, cfg.memProfile)
	if err != nil {
		fmt.Fprintf(stderr, "masterd: --cpuprofile: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = serve(ctx, cfg, log, stdout)
	if perr := prof.Stop(); perr != nil {
		log.Error("writing profiles", "err", perr)
	}
	if err != nil {
		log.Error("masterd failed", "err", err)
		return 1
	}
	return 0
}

var errHelp = errors.New("help requested")

// server is a running masterd: a standby until it leads (at once without
// --zk), then the leader until it stops or loses leadership.
type server struct {
	cfg   *config
	log   *slog.Logger
	info  mesos.MasterInfo
	flags map[string]string
	start time.Time
	done  chan struct{} // closed at shutdown; ends every stream

	// cur is the master while this process leads; nil while it is a
	// standby. deposed is set, for good, the moment leadership is lost or
	// the registry breaks: every request is refused from then on, and
	// serve returns so that the process exits.
	cur     atomic.Pointer[master.Master]
	deposed atomic.Bool
	fatal   chan error // registry failures that end the leadership; buffered

	// detector follows the election (nil without --zk): standbys
	// redirect to the leader it reports. holds, set before cur while
	// leading with --zk, is the election lease (Contender.Holds).
	detector *election.Detector
	holds    func() bool

	// streamsMu guards streams: every open event stream, for shutdown and
	// the event queue metric.
	streamsMu sync.Mutex
	streams   map[*recordio.Stream]struct{}

	// registering admits agent registrations (decoding and
	// Master.SubscribeAgent) a few at a time: they serialize on the
	// master's lock anyway, and after a failover thousands arrive at once.
	// Runnable, they would queue ahead of every other goroutine,
	// ZooKeeper's client among them, long enough to cost the new leader
	// its session lease; waiting here, they are parked.
	registering chan struct{}

	// sweeps are the allocation runs' times; sweepLatency how late the
	// last one started (nanoseconds).
	sweeps       timings
	sweepLatency atomic.Int64
	regWrites    *timedStore
}

func serve(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.ip, strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen on --ip=%s --port=%d: %w", cfg.ip, cfg.port, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	var store interface {
		registry.Store
		zklog.Local
	}
	switch cfg.registry {
	case "in_memory":
		store = registry.NewMemory()
	case "pebble":
		dir := filepath.Join(cfg.workDir, "registry")
		p, err := registry.OpenPebble(dir)
		if err != nil {
			return fmt.Errorf("open registry in %s: %w", dir, err)
		}
		store = p
	}
	defer store.Close()

	now := time.Now()
	info := mesos.MasterInfo{
		ID: master.NewMasterID(now), IP: ipv4(cfg.ip), Port: uint32(port), Hostname: cfg.hostname, Version: Version,
		Address: &mesos.Address{Hostname: cfg.hostname, IP: cfg.ip, Port: int32(port)},
	}
	info.PID = "master@" + net.JoinHostPort(cfg.ip, strconv.Itoa(port))
	s := &server{cfg: cfg, log: log, info: info, flags: flagenv.Values(cfg.fs), start: now, done: make(chan struct{}),
		registering: make(chan struct{}, 4*runtime.GOMAXPROCS(0)),
		fatal:       make(chan error, 1), streams: map[*recordio.Stream]struct{}{}}
	s.flags["port"] = strconv.Itoa(port)

	srv := &fasthttp.Server{
		Handler:            s.handle,
		Name:               "meseta",
		ReadTimeout:        75 * time.Second,
		IdleTimeout:        90 * time.Second,
		MaxRequestBodySize: 64 << 20,
		CloseOnShutdown:    true,
		Logger:             daemon.FasthttpLogger{Log: log},
	}
	var wg sync.WaitGroup
	if cfg.zk == "" {
		// A single master leads from the start: no request sees a standby.
		if err := s.lead(store, &wg); err != nil {
			return err
		}
	} else {
		// Set before the server starts: handlers read it unlocked.
		det, err := election.NewDetector(cfg.zkServers, cfg.zkPath, cfg.zkSessionTimeout, log)
		if err != nil {
			return fmt.Errorf("--zk=%s: %w", cfg.zk, err)
		}
		defer det.Close()
		s.detector = det
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	addr := net.JoinHostPort(cfg.ip, strconv.Itoa(port))
	mode := "standalone"
	if cfg.zk != "" {
		mode = "zk " + cfg.zk
	}
	fmt.Fprintf(stdout, "masterd %s listening on http://%s (id %s, registry %s, %s)\n", MesetaVersion, addr, info.ID, cfg.registry, mode)
	log.Info("master started", "addr", addr, "id", info.ID, "registry", cfg.registry, "work_dir", cfg.workDir, "zk", cfg.zk)

	if cfg.zk == "" {
		select {
		case <-ctx.Done():
		case err = <-errc:
		case err = <-s.fatal:
		}
	} else {
		err = s.runHA(ctx, store, errc, &wg)
	}
	close(s.done)
	s.closeStreams()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.ShutdownWithContext(shut)
	wg.Wait()
	log.Info("master stopped")
	return err
}

// lead builds the master over the registry reg, as of now, and starts its
// clocks: from here on this process acts as the leader.
func (s *server) lead(reg registry.Store, wg *sync.WaitGroup) error {
	cfg := s.cfg
	s.regWrites = &timedStore{Store: reg, fail: s.fail}
	minAlloc, _ := cfg.minAllocatableQuantities()
	opts := alloc.Options{OfferTimeout: cfg.offerTimeout, MinAllocatable: minAlloc}
	m, err := master.New(master.Config{
		Info: s.info, Cluster: cfg.cluster, AgentPingTimeout: cfg.agentPingTimeout,
		MaxAgentPingTimeouts: cfg.maxAgentPingTimeouts, HeartbeatInterval: cfg.heartbeatInterval, Logger: s.log,
		AgentReregisterTimeout: cfg.agentReregisterTimeout, RecoveryAgentRemovalLimit: &cfg.removalLimit,
	}, s.regWrites, func(o alloc.Options) (alloc.Allocator, error) { return alloc.NewSharded(o) }, opts, time.Now())
	if err != nil {
		return err
	}
	s.cur.Store(m)
	wg.Go(func() { s.timers(m) })
	return nil
}

// errLeaseLost: the election lease ran out (a pause, a partition) before
// the contender reported the loss.
var errLeaseLost = errors.New("lost leadership: no word from ZooKeeper within the session lease; exiting so that a supervisor restarts this master as a standby")

// stillLeading reports whether this master may act as the leader now, and
// ends the leadership when the election lease ran out.
func (s *server) stillLeading() bool {
	if s.deposed.Load() {
		return false
	}
	if s.holds != nil && !s.holds() {
		s.fail(errLeaseLost)
		return false
	}
	return true
}

// fail ends the leadership because of err (a broken registry, a removal
// limit): requests are refused at once, and serve returns err.
func (s *server) fail(err error) {
	s.deposed.Store(true)
	select {
	case s.fatal <- err:
	default:
	}
}

// runHA contends for leadership until this master leads, following the
// replicated registry meanwhile, then leads until ctx ends or leadership
// is lost. A standby whose session ends contends again with a new one.
func (s *server) runHA(ctx context.Context, store zklog.Local, errc <-chan error, wg *sync.WaitGroup) error {
	cfg := s.cfg
	data, err := json.Marshal(s.info)
	if err != nil {
		return err
	}
	backoff := 100 * time.Millisecond
	wait := func() error {
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(2*backoff, 10*time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return cmp.Or(err, errors.New("HTTP server stopped"))
		case <-t.C:
			return nil
		}
	}
	for {
		c, err := election.NewContender(cfg.zkServers, cfg.zkPath, data, cfg.zkSessionTimeout, s.log)
		if err != nil {
			s.log.Warn("cannot contend for leadership; retrying", "err", err, "in", backoff)
			if err := wait(); err != nil {
				return ignoreCanceled(err)
			}
			continue
		}
		rlog, err := zklog.New(zklog.Config{Conn: c.Conn(), Root: cfg.zkPath + "/registry", Local: store, Logger: s.log})
		if err != nil {
			c.Close()
			s.log.Warn("cannot open the replicated registry; retrying", "err", err, "in", backoff)
			if err := wait(); err != nil {
				return ignoreCanceled(err)
			}
			continue
		}
		s.log.Info("contending for leadership", "node", c.Node())
		fctx, stopFollowing := context.WithCancel(ctx)
		followed := make(chan struct{})
		go func() { defer close(followed); rlog.Follow(fctx) }()
		stop := func() {
			stopFollowing()
			<-followed
		}
		select {
		case <-ctx.Done():
			stop()
			rlog.Close()
			c.Close()
			return nil
		case err := <-errc:
			stop()
			rlog.Close()
			c.Close()
			return err
		case <-c.Lost():
			stop()
			rlog.Close()
			s.log.Warn("standby lost its ZooKeeper session; contending again")
			continue
		case <-c.Leading():
		}
		stop()
		return s.leadHA(ctx, c, rlog, errc, wg)
	}
}

// leadHA catches up with the replicated registry and leads until ctx ends,
// leadership is lost or the registry breaks.
func (s *server) leadHA(ctx context.Context, c *election.Contender, rlog *zklog.Log, errc <-chan error, wg *sync.WaitGroup) error {
	defer rlog.Close()
	start := time.Now()
	if err := rlog.Lead(c.Node()); err != nil {
		c.Close()
		return fmt.Errorf("elected, but could not catch up with the replicated registry: %w", err)
	}
	s.holds = c.Holds
	if err := s.lead(rlog, wg); err != nil {
		c.Close()
		return err
	}
	st := rlog.Stats()
	s.log.Info("elected leading master", "node", c.Node(), "catch_up", time.Since(start).Round(time.Millisecond),
		"registry_position", rlog.State().Applied, "log_entries_applied", st.Entries, "snapshots_restored", st.Restores)
	select {
	case <-ctx.Done():
		c.Close() // the next contender leads now, not a session timeout later
		return nil
	case err := <-errc:
		c.Close()
		return err
	case err := <-s.fatal:
		c.Close()
		return err
	case <-c.Lost():
		s.deposed.Store(true)
		return errors.New("lost leadership (the ZooKeeper session ended); exiting so that a supervisor restarts this master as a standby")
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func ipv4(ip string) uint32 {
	p := net.ParseIP(ip).To4()
	if p == nil {
		return 0
	}
	// Mesos stores the address in network byte order in a uint32.
	return binary.LittleEndian.Uint32(p)
}

// timers drives the master's clocks: a sweep every allocation_interval
// and housekeeping (pings, failover timeouts) several times per ping
// period.
func (s *server) timers(m *master.Master) {
	sweep := time.NewTicker(s.cfg.allocationInterval)
	defer sweep.Stop()
	hk := min(s.cfg.agentPingTimeout/4, time.Second)
	hk = max(hk, 10*time.Millisecond)
	house := time.NewTicker(hk)
	defer house.Stop()
	for {
		select {
		case <-s.done:
			return
		case due := <-sweep.C:
			if !s.stillLeading() {
				return
			}
			start := time.Now()
			m.Sweep(start)
			s.sweeps.record(time.Since(start))
			s.sweepLatency.Store(int64(start.Sub(due)))
		case now := <-house.C:
			if !s.stillLeading() {
				return
			}
			if err := m.Housekeep(now); err != nil {
				// Too many agents missing after a failover: fail over
				// rather than mark them all unreachable.
				s.log.Error("failing over", "err", err)
				s.fail(err)
				return
			}
		}
	}
}

func (s *server) addStream(st *recordio.Stream) {
	s.streamsMu.Lock()
	s.streams[st] = struct{}{}
	s.streamsMu.Unlock()
}

func (s *server) dropStream(st *recordio.Stream) {
	s.streamsMu.Lock()
	delete(s.streams, st)
	s.streamsMu.Unlock()
}

func (s *server) closeStreams() {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	for st := range s.streams {
		st.Close()
	}
}

// timedStore measures registry write latency for metrics, and ends the
// leadership (fail) when the replicated registry breaks.
type timedStore struct {
	registry.Store
	times timings
	fail  func(error)
}

func (t *timedStore) Apply(ops ...registry.Op) error {
	start := time.Now()
	err := t.Store.Apply(ops...)
	t.times.record(time.Since(start))
	if errors.Is(err, zklog.ErrBroken) || errors.Is(err, zklog.ErrNotLeader) {
		t.fail(err)
	}
	return err
}
