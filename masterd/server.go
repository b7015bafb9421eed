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
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/alloc"
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
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		fmt.Fprintf(stderr, "masterd: invalid value %q for flag --log_level\n", cfg.logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
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

	// sweepMu guards sweeps: recent allocation run times, for metrics.
	sweepMu      sync.Mutex
	sweeps       []time.Duration
	sweepCount   uint64
	sweepLatency time.Duration // how late the last sweep started
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
		Logger:             fasthttpLogger{log},
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
			s.recordSweep(start.Sub(due), time.Since(start))
		case now := <-house.C:
			s.master.Housekeep(now)
		}
	}
}

const keptSweeps = 1000

func (s *server) recordSweep(latency, d time.Duration) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	s.sweepCount++
	s.sweepLatency = latency
	if len(s.sweeps) == keptSweeps {
		copy(s.sweeps, s.sweeps[1:])
		s.sweeps = s.sweeps[:keptSweeps-1]
	}
	s.sweeps = append(s.sweeps, d)
}

func (s *server) sweepStats() (count uint64, last, latency float64, pct map[string]float64) {
	s.sweepMu.Lock()
	ds := slices.Clone(s.sweeps)
	count = s.sweepCount
	latency = ms(s.sweepLatency)
	s.sweepMu.Unlock()
	pct = map[string]float64{}
	if len(ds) == 0 {
		for _, k := range []string{"p50", "p90", "p95", "p99", "p999", "min", "max", "count"} {
			pct[k] = 0
		}
		return count, 0, latency, pct
	}
	last = ms(ds[len(ds)-1])
	slices.Sort(ds)
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}} {
		pct[p.name] = ms(ds[int(p.q*float64(len(ds)-1))])
	}
	pct["min"], pct["max"] = ms(ds[0]), ms(ds[len(ds)-1])
	pct["count"] = float64(len(ds))
	return count, last, latency, pct
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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
	mu    sync.Mutex
	times []time.Duration
}

func (t *timedStore) Apply(ops ...registry.Op) error {
	start := time.Now()
	err := t.Store.Apply(ops...)
	d := time.Since(start)
	t.mu.Lock()
	if len(t.times) == keptSweeps {
		copy(t.times, t.times[1:])
		t.times = t.times[:keptSweeps-1]
	}
	t.times = append(t.times, d)
	t.mu.Unlock()
	return err
}

func (t *timedStore) percentiles() map[string]float64 {
	t.mu.Lock()
	ds := slices.Clone(t.times)
	t.mu.Unlock()
	out := map[string]float64{"p50": 0, "p99": 0, "max": 0, "count": 0}
	if len(ds) == 0 {
		return out
	}
	slices.Sort(ds)
	out["p50"] = ms(ds[len(ds)/2])
	out["p99"] = ms(ds[int(0.99*float64(len(ds)-1))])
	out["max"] = ms(ds[len(ds)-1])
	out["count"] = float64(len(ds))
	return out
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}
