package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/agentd/cgroups"
	"meseta/agentd/executor"
	"meseta/agentd/sandbox"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/checkpoint"
	"meseta/core/daemon"
	"meseta/core/flagenv"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

const versionString = "meseta-0.3.0"

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "executor" {
		return executor.Main(args[1:], getenv)
	}
	cfg, err := parseFlags(args, getenv)
	if errors.Is(err, errHelp) {
		fmt.Fprintln(stdout, "Usage: agentd --master=host:port|zk://host1:port1,host2:port2/path --work_dir=DIR [--flag=value ...]\n       agentd executor --mode=command|default   (run by the agent)\n\nFlags (each also settable as an environment variable):")
		flagenv.Usage(stdout, cfg.fs, "MESETA_")
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "agentd: %v\nRun agentd --help for the flags.\n", err)
		return 2
	}
	log, err := daemon.NewLogger(stderr, cfg.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "agentd: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("agentd failed", "err", err)
		return 1
	}
	return 0
}

// server is a running agentd.
type server struct {
	cfg     *config
	log     *slog.Logger
	agent   *agent
	masters masterSource // read by masterLoop only (see there)
	files   *sandbox.Server
	done    chan struct{}

	// streamsMu guards streams, the open executor streams.
	streamsMu sync.Mutex
	streams   map[*recordio.Stream]struct{}
}

func serve(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer) error {
	if err := os.MkdirAll(filepath.Join(cfg.workDir, "slaves"), 0o755); err != nil {
		return fmt.Errorf("flag --work_dir: %w", err)
	}
	total, _ := cfg.totalResources()
	attrs, _ := mesos.ParseAttributes(cfg.attributes)

	var cg *cgroups.Manager
	if cfg.isolation != "none" {
		m, err := cgroups.New("meseta")
		if err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		if m.Mode() == cgroups.ModeNone {
			if cfg.isolation == "cgroups" {
				return fmt.Errorf("flag --isolation=cgroups: cgroups are not usable here: %s", m.Reason())
			}
			log.Warn("tasks run without resource limits: cgroups are not usable here", "reason", m.Reason())
		} else {
			log.Info("tasks run in cgroups with cpu and memory limits", "mode", m.Mode())
		}
		cg = m
	} else {
		log.Warn("tasks run without resource limits (--isolation=none)")
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.ip, strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen on --ip=%s --port=%d: %w", cfg.ip, cfg.port, err)
	}
	defer ln.Close()
	endpoint := ln.Addr().String()

	masters, err := newMasterSource(cfg, log)
	if err != nil {
		return fmt.Errorf("flag --master: %w", err)
	}
	defer masters.Close()
	a := newAgent(cfg, log, total, attrs, cg)
	a.endpoint = endpoint
	// A fixed master takes calls from the start, as it always has; a
	// leader found in ZooKeeper once the agent has registered with it.
	var target string
	if cfg.zkServers == nil {
		target = cfg.master
	}
	a.outbox = newOutbox(target, log)
	ckpt, err := checkpoint.Open(filepath.Join(cfg.workDir, "meta"))
	if err != nil {
		return fmt.Errorf("open the checkpoint under --work_dir: %w", err)
	}
	defer ckpt.Close()
	a.ckpt = ckpt
	recovered, err := a.recover(cfg.strict)
	if err != nil {
		return err
	}
	s := &server{cfg: cfg, log: log, agent: a, masters: masters, done: make(chan struct{}), streams: map[*recordio.Stream]struct{}{},
		files: &sandbox.Server{Root: filepath.Join(cfg.workDir, "slaves")}}

	srv := &fasthttp.Server{Handler: s.handle, Name: "meseta-agent", ReadTimeout: 75 * time.Second,
		IdleTimeout: 90 * time.Second, MaxRequestBodySize: 64 << 20, CloseOnShutdown: true,
		Logger: daemon.FasthttpLogger{Log: log}}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var wg sync.WaitGroup
	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(3)
	go func() { defer wg.Done(); a.outbox.run(loopCtx) }()
	go func() { defer wg.Done(); s.masterLoop(loopCtx) }()
	go func() { defer wg.Done(); s.retryLoop(loopCtx) }()
	cleanupDone := make(chan struct{})
	if cfg.recoverMode == "cleanup" {
		// Kill what the previous run left, deliver its tasks' fate, exit.
		a.cleanup(recovered)
		go func() {
			defer close(cleanupDone)
			deadline := time.Now().Add(30 * time.Second)
			for a.pendingUpdates() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
			if n := a.pendingUpdates(); n > 0 {
				log.Warn("cleanup: exiting with updates not yet acknowledged; they stay checkpointed", "updates", n)
			}
		}()
	} else {
		a.reconnect(recovered, cfg.executorRegistrationTimeout)
	}
	shutdown := make(chan os.Signal, 1)
	signal.Notify(shutdown, syscall.SIGUSR1)
	defer signal.Stop(shutdown)

	fmt.Fprintf(stdout, "agentd %s listening on http://%s (master %s, work_dir %s, resources %s)\n",
		versionString, endpoint, cfg.master, cfg.workDir, total)
	log.Info("agent started", "endpoint", endpoint, "master", cfg.master, "resources", total.String())

	killAll := false
	select {
	case <-ctx.Done():
	case <-shutdown:
		killAll = true
	case <-cleanupDone:
		log.Info("cleanup done; exiting (--recover=cleanup)")
	case err = <-errc:
	}
	// SIGTERM or SIGINT: executors of checkpointing frameworks keep
	// running and the next agent reconnects to them; the others cannot
	// reconnect, so they stop now. SIGUSR1 shuts every executor down.
	a.stopExecutors(killAll)
	cancel()
	close(s.done)
	s.closeStreams()
	shut, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.ShutdownWithContext(shut)
	wg.Wait()
	return err
}

func (s *server) handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/api/v1/executor":
		s.executorAPI(ctx)
	case "/files/browse", "/files/browse.json":
		s.files.Browse(ctx)
	case "/files/read", "/files/read.json":
		s.files.Read(ctx)
	case "/files/download", "/files/download.json":
		s.files.Download(ctx)
	case "/state", "/state.json", "/slave(1)/state":
		daemon.WriteJSON(ctx, 200, s.agent.state())
	case "/health":
		ctx.SetStatusCode(200)
	case "/metrics/snapshot":
		daemon.WriteJSON(ctx, 200, s.agent.metrics())
	case "/metrics":
		daemon.WritePrometheus(ctx, s.agent.metrics())
	default:
		daemon.WriteError(ctx, 404, "no endpoint "+string(ctx.Path()))
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

// retryLoop resends unacknowledged status updates when their time comes.
func (s *server) retryLoop(ctx context.Context) {
	t := time.NewTicker(min(s.cfg.statusRetryMin/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.agent.retryUpdates(now)
		}
	}
}

// masterLoop keeps the agent's stream to the leading master open:
// subscribe (REGISTER, or REREGISTER once the agent has an id), apply
// events, and on any break back off (registration_backoff_factor, doubling
// to 1 min) and subscribe again. A master that sends no PING for its
// announced limit is presumed gone.
//
// masterLoop owns the current master's address: it alone reads
// s.masters (with the watcher it runs beside each stream, while it waits
// for that stream), and passes what it reads on (see leader). With
// --master=zk:// the leader can change. A watcher beside the stream then
// drops it at once, and the loop re-registers with the new leader after a
// fresh randomized backoff (a random part of registration_backoff_factor,
// as a Mesos agent waits on a new master), keeping the agent's id: the
// same REREGISTER as after a master restart. A change during a backoff
// cuts it short the same way. While there is no leader the loop waits.
func (s *server) masterLoop(ctx context.Context) {
	a := s.agent
	factor := s.cfg.registrationBackoff
	backoff := factor
	client := &http.Client{}
	var last string        // the master last subscribed to
	var wait time.Duration // before the next subscription
	for ctx.Err() == nil {
		master, ok := s.awaitLeader(ctx)
		if !ok {
			return
		}
		if last != "" && master != last {
			s.log.Info("new leading master; re-registering with it", "master", master, "was", last)
			backoff = factor
			wait = randomUpTo(backoff)
		}
		if wait > 0 && s.pause(ctx, wait, master) {
			continue // the leader moved again
		}
		last = master
		err := s.subscribeOnce(ctx, client, master)
		a.mu.Lock()
		wasRegistered := a.registered
		a.registered = false
		a.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		moved := errors.Is(err, errLeaderMoved) // logged by the watcher
		if wasRegistered || moved {
			backoff = factor
		}
		wait = randomUpTo(backoff)
		if !moved {
			s.log.Info("disconnected from the master; retrying", "master", master, "err", err, "in", wait.Round(time.Millisecond))
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// errLeaderMoved ends a stream to a master that no longer leads.
var errLeaderMoved = errors.New("agentd: the leading master changed")

// errNoPing ends a stream to a master that sent no PING in time.
var errNoPing = errors.New("agentd: no PING from the master in time")

// leader reads s.masters and passes the answer on: to agent.master for
// /state, and to the outbox, which holds its calls while the leader is not
// the master they go to. Only masterLoop and its watcher call it.
func (s *server) leader() (string, bool) {
	addr, ok := s.masters.Leader()
	s.agent.setMaster(addr)
	s.agent.outbox.leaderIs(addr)
	return addr, ok
}

// awaitLeader returns the leading master, waiting while there is none; ok
// is false once ctx ends.
func (s *server) awaitLeader(ctx context.Context) (string, bool) {
	for logged := false; ; logged = true {
		if addr, ok := s.leader(); ok {
			return addr, true
		}
		if !logged {
			s.log.Info("no leading master; waiting for one")
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-s.masters.Changes():
		}
	}
}

// pause waits d, or returns early when ctx ends, or with moved true when
// the leader is no longer master.
func (s *server) pause(ctx context.Context, d time.Duration, master string) (moved bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return false
		case <-s.masters.Changes():
			if l, _ := s.leader(); l != master {
				return true
			}
		}
	}
}

// randomUpTo returns a random duration from 0 to d.
func randomUpTo(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d) + 1)) }

// subscribeOnce holds one stream to master until it breaks, ctx ends, the
// master sends no PING in time (errNoPing) or another master leads
// (errLeaderMoved).
func (s *server) subscribeOnce(ctx context.Context, client *http.Client, master string) error {
	a := s.agent
	body, _ := json.Marshal(a.registerCall())
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Why the stream ended, when it was ended here rather than broke.
	cause := func(err error) error {
		if c := context.Cause(sctx); c != nil && ctx.Err() == nil {
			return c
		}
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	// The leader watcher: a new leader (or none) ends the stream at once,
	// while connecting too. It stops before subscribeOnce returns, so
	// masterLoop is the only reader of Changes again.
	if changes := s.masters.Changes(); changes != nil {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-changes:
					if l, _ := s.leader(); l != master {
						s.log.Info("the leading master changed; dropping the stream to the old one", "master", master, "leader", l)
						cancel(errLeaderMoved)
						return
					}
				}
			}
		})
	}
	req, err := http.NewRequestWithContext(sctx, "POST", "http://"+master+agentapi.PathSubscribe, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return cause(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("master answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	// The master that answered: master itself, or the leader a standby
	// redirected the subscription to (307).
	at := resp.Request.URL.Host
	// Watchdog: no PING within the master's limit means it is gone.
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				a.mu.Lock()
				limit, last := a.pingLimit, a.pingTime
				a.mu.Unlock()
				if limit > 0 && !last.IsZero() && now.Sub(last) > limit+5*time.Second {
					s.log.Warn("no PING from the master in time; reconnecting", "limit", limit)
					cancel(errNoPing)
					return
				}
			}
		}
	})
	rd := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := rd.Next()
		if err != nil {
			return cause(err)
		}
		var ev agentapi.Event
		if err := agentapi.DecodeEvent(rec, &ev); err != nil {
			return fmt.Errorf("bad event from the master: %w", err)
		}
		if ev.Type == agentapi.EventRegistered {
			// From here on that master knows the agent and takes its calls.
			a.outbox.sendTo(at, master)
		}
		a.handleEvent(&ev, time.Now())
	}
}

// state is the agent's /state: its id and what it runs, with sandbox
// directories, and the master it talks to ("master", host:port, "" while
// there is no leader; the flag's value is under "flags"). "resources" is
// the agent's total, its static resources with its dynamic reservations
// and persistent volumes applied; "reserved_resources_full" is its
// reserved part by role, as Mesos shows it.
func (a *agent) state() map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	type taskJSON struct {
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		State mesos.TaskState `json:"state"`
	}
	type execJSON struct {
		ID          string     `json:"id"`
		FrameworkID string     `json:"framework_id"`
		Directory   string     `json:"directory"`
		Container   string     `json:"container"`
		PID         int        `json:"pid"`
		Tasks       []taskJSON `json:"tasks"`
	}
	exs := []execJSON{}
	for _, ex := range a.executors {
		e := execJSON{ID: ex.key.executor, FrameworkID: ex.key.framework, Directory: ex.dir, Container: ex.container, PID: ex.pid, Tasks: []taskJSON{}}
		for _, t := range ex.tasks {
			e.Tasks = append(e.Tasks, taskJSON{ID: t.key.task, Name: t.info.Name, State: t.state})
		}
		exs = append(exs, e)
	}
	isolation := "none"
	if a.cg != nil {
		isolation = string(a.cg.Mode())
	}
	reserved := map[string]core.Resources{}
	for _, r := range a.total.Reserved() {
		reserved[r.Role()] = append(reserved[r.Role()], r)
	}
	st := map[string]any{"id": a.id, "hostname": a.cfg.hostname, "pid": "slave(1)@" + a.endpoint,
		"version": versionString, "registered": a.registered, "master": a.master,
		"resources": a.total, "reserved_resources_full": reserved, "attributes": a.attrs, "executors": exs,
		"isolation": isolation, "flags": flagenv.Values(a.cfg.fs)}
	if h := a.masterHostnameLocked(); h != "" {
		st["master_hostname"] = h
	}
	return st
}

// masterHostnameLocked is Mesos's master_hostname: the name the master
// gave in REGISTERED while registered with it, else the host part of the
// master's address; "" while there is no master.
func (a *agent) masterHostnameLocked() string {
	if a.master == "" {
		return ""
	}
	if a.registered && a.masterInfo.Hostname != "" {
		return a.masterInfo.Hostname
	}
	host, _, err := net.SplitHostPort(a.master)
	if err != nil {
		return a.master
	}
	return host
}
