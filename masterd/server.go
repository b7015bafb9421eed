package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/alloc"
	"meseta/core/daemon"
	"meseta/core/flagenv"
	"meseta/core/master"
	"meseta/core/mesos"
	"meseta/core/recordio"
	"meseta/core/registry"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("masterd failed", "err", err)
		return 1
	}
	return 0
}

var errHelp = errors.New("help requested")

// server is a running masterd.
type server struct {
	cfg    *config
	log    *slog.Logger
	master *master.Master
	reg    registry.Store
	flags  map[string]string
	done   chan struct{} // closed at shutdown; ends every stream

	// streamsMu guards streams: every open event stream, for shutdown and
	// the event queue metric.
	streamsMu sync.Mutex
	streams   map[*recordio.Stream]struct{}

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

	var store registry.Store
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
	timed := &timedStore{Store: store}
	defer store.Close()

	now := time.Now()
	info := mesos.MasterInfo{
		ID: master.NewMasterID(now), IP: ipv4(cfg.ip), Port: uint32(port), Hostname: cfg.hostname, Version: Version,
		Address: &mesos.Address{Hostname: cfg.hostname, IP: cfg.ip, Port: int32(port)},
	}
	info.PID = "master@" + net.JoinHostPort(cfg.ip, strconv.Itoa(port))
	minAlloc, _ := cfg.minAllocatableQuantities()
	opts := alloc.Options{OfferTimeout: cfg.offerTimeout, MinAllocatable: minAlloc}
	m, err := master.New(master.Config{
		Info: info, Cluster: cfg.cluster, AgentPingTimeout: cfg.agentPingTimeout,
		MaxAgentPingTimeouts: cfg.maxAgentPingTimeouts, HeartbeatInterval: cfg.heartbeatInterval, Logger: log,
	}, timed, func(o alloc.Options) (alloc.Allocator, error) { return alloc.NewSharded(o) }, opts, now)
	if err != nil {
		return err
	}
	s := &server{cfg: cfg, log: log, master: m, reg: store, flags: flagenv.Values(cfg.fs), done: make(chan struct{}),
		streams: map[*recordio.Stream]struct{}{}, regWrites: timed}
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.timers() }()

	addr := net.JoinHostPort(cfg.ip, strconv.Itoa(port))
	fmt.Fprintf(stdout, "masterd %s listening on http://%s (id %s, registry %s)\n", MesetaVersion, addr, info.ID, cfg.registry)
	log.Info("master started", "addr", addr, "id", info.ID, "registry", cfg.registry, "work_dir", cfg.workDir)

	select {
	case <-ctx.Done():
	case err = <-errc:
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
func (s *server) timers() {
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
			start := time.Now()
			s.master.Sweep(start)
			s.sweeps.record(time.Since(start))
			s.sweepLatency.Store(int64(start.Sub(due)))
		case now := <-house.C:
			s.master.Housekeep(now)
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

func (s *server) queuedEvents() int {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	n := 0
	for st := range s.streams {
		n += st.QueueLen()
	}
	return n
}

// timedStore measures registry write latency for metrics.
type timedStore struct {
	registry.Store
	times timings
}

func (t *timedStore) Apply(ops ...registry.Op) error {
	start := time.Now()
	err := t.Store.Apply(ops...)
	t.times.record(time.Since(start))
	return err
}
