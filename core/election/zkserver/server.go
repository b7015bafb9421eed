package zkserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultClassPath is where Debian's zookeeper package puts the server and a
// logging backend.
const DefaultClassPath = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

const (
	mainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	// startAttempts bounds the retries after a port was taken under us.
	startAttempts = 3
	// pollEvery is how often readiness is probed while a start is under way.
	pollEvery = 50 * time.Millisecond
	// logTail is how much of a server's log a start error carries.
	logTail = 4 << 10
)

// Options configure the servers of one start. The zero value is usable.
type Options struct {
	// TickTime is ZooKeeper's tick; sessions last at least two ticks.
	// Default 500 ms.
	TickTime time.Duration
	// Log, when set, also receives every server's stdout and stderr, line
	// by line, each line prefixed with "zkN| " (N is the myid, 0 for a
	// standalone server). Writes are serialized per start. The output always
	// goes to zookeeper.log in the server's directory as well.
	Log io.Writer
	// JavaPath is the java binary; default "java" from $PATH.
	JavaPath string
	// ClassPath is the JVM class path; default [DefaultClassPath].
	ClassPath string
	// JVMFlags replace the default JVM flags
	// (-Xms64m -Xmx256m -XX:+UseSerialGC).
	JVMFlags []string
	// StartTimeout bounds a start or restart when ctx has no earlier
	// deadline. Default 30 s.
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.TickTime <= 0 {
		o.TickTime = 500 * time.Millisecond
	}
	if o.JavaPath == "" {
		o.JavaPath = "java"
	}
	if o.ClassPath == "" {
		o.ClassPath = DefaultClassPath
	}
	if o.JVMFlags == nil {
		o.JVMFlags = []string{"-Xms64m", "-Xmx256m", "-XX:+UseSerialGC"}
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	return o
}

// check reports whether java and every jar of the class path are present.
func (o Options) check() error {
	const install = "install ZooKeeper with `apt-get install -y zookeeper`"
	if _, err := exec.LookPath(o.JavaPath); err != nil {
		return fmt.Errorf("zkserver: no java (%v); %s", err, install)
	}
	for _, jar := range filepath.SplitList(o.ClassPath) {
		if _, err := os.Stat(jar); err != nil {
			return fmt.Errorf("zkserver: class path entry %s: %v; %s", jar, err, install)
		}
	}
	return nil
}

// Available returns nil when java and the ZooKeeper jars are installed where
// the default [Options] expect them, and otherwise an error that says how to
// install them.
func Available() error {
	return Options{}.withDefaults().check()
}

// ErrNotServing is returned by [Server.Mode] while the server answers but
// does not serve requests (it is starting, or an ensemble member without
// quorum).
var ErrNotServing = errors.New("zkserver: not currently serving requests")

// errPortInUse marks a start that failed because a port was taken.
var errPortInUse = errors.New("zkserver: port already in use")

// ports of one server.
type ports struct {
	client, peer, election int
}

// Server is one ZooKeeper server process. Its methods are safe for concurrent
// use; a Restart that races a Stop leaves the server in whichever state came
// last.
type Server struct {
	// Addr is the client address, 127.0.0.1:port.
	Addr string
	// ID is the server's myid in an ensemble, 0 for a standalone server.
	ID int
	// Dir holds zoo.cfg, data/ and zookeeper.log.
	Dir string

	opts    Options
	dataDir string
	cfgPath string
	logPath string
	logMu   *sync.Mutex // serializes writes to opts.Log across one start's servers

	mu sync.Mutex
	// proc is the running child; nil before the first start and after Stop
	// or Kill. logStart is where its output begins in zookeeper.log.
	proc     *process
	logStart int64
}

func newServer(dir string, id int, opts Options, logMu *sync.Mutex) (*Server, error) {
	s := &Server{
		ID:      id,
		Dir:     dir,
		opts:    opts,
		dataDir: filepath.Join(dir, "data"),
		cfgPath: filepath.Join(dir, "zoo.cfg"),
		logPath: filepath.Join(dir, "zookeeper.log"),
		logMu:   logMu,
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("zkserver: %w", err)
	}
	if id > 0 {
		myid := filepath.Join(s.dataDir, "myid")
		if err := os.WriteFile(myid, []byte(strconv.Itoa(id)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("zkserver: %w", err)
		}
	}
	return s, nil
}

// configure writes zoo.cfg. members is nil for a standalone server, else the
// ports of every member, member K at index K-1.
func (s *Server) configure(own ports, members []ports) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", s.opts.TickTime.Milliseconds())
	fmt.Fprintf(&b, "minSessionTimeout=1000\nmaxSessionTimeout=30000\n")
	fmt.Fprintf(&b, "dataDir=%s\n", s.dataDir)
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", own.client)
	fmt.Fprintf(&b, "admin.enableServer=false\n")
	// conf is there for the readiness check; see doc.go.
	fmt.Fprintf(&b, "4lw.commands.whitelist=ruok,srvr,stat,mntr,conf\n")
	if members != nil {
		fmt.Fprintf(&b, "initLimit=10\nsyncLimit=5\n")
		for i, m := range members {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", i+1, m.peer, m.election)
		}
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", own.client)
	if err := os.WriteFile(s.cfgPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("zkserver: %w", err)
	}
	return nil
}

// start launches the child; it does not wait for it to serve.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if done, _ := s.proc.exited(); !done {
			return fmt.Errorf("zkserver: server %s is already running (pid %d)", s.Addr, s.proc.pid)
		}
	}
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zkserver: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("zkserver: %w", err)
	}
	fmt.Fprintf(f, "zkserver: starting server %d on %s at %s\n", s.ID, s.Addr, time.Now().Format(time.RFC3339Nano))

	args := append(append([]string(nil), s.opts.JVMFlags...), "-cp", s.opts.ClassPath, mainClass, s.cfgPath)
	cmd := exec.Command(s.opts.JavaPath, args...)
	cmd.Dir = s.Dir
	var out io.Writer = f
	var pw *prefixWriter
	if s.opts.Log != nil {
		pw = &prefixWriter{mu: s.logMu, w: s.opts.Log, prefix: fmt.Appendf(nil, "zk%d| ", s.ID)}
		out = io.MultiWriter(f, pw)
	}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := startProcess(cmd, func() {
		if pw != nil {
			pw.flush()
		}
		f.Close()
	})
	if err != nil {
		return fmt.Errorf("zkserver: start %s: %w", s.opts.JavaPath, err)
	}
	s.proc, s.logStart = p, st.Size()
	return nil
}

// Pid returns the running child's pid, 0 when none runs.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	if done, _ := s.proc.exited(); done {
		return 0
	}
	return s.proc.pid
}

// Stop sends SIGTERM, waits up to 5 s, then SIGKILL, and returns once the
// process has been reaped. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop(stopGrace)
}

// Kill sends SIGKILL and returns once the process has been reaped.
func (s *Server) Kill() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.kill()
}

// Restart stops the server if it runs and starts it again with the same
// ports and data directory, then waits until it serves: a standalone server
// in Mode standalone, an ensemble member as leader or follower (which needs
// a quorum of the other members up).
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	if err := s.start(); err != nil {
		return err
	}
	accept := isStandalone
	if s.ID > 0 {
		accept = isQuorumMember
	}
	if err := waitReady(ctx, []*Server{s}, accept); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// failure builds a start error carrying the tail of the server's log.
func (s *Server) failure(what string, cause error) error {
	s.mu.Lock()
	offset := s.logStart
	s.mu.Unlock()
	t := tail(s.logPath, offset, logTail)
	err := fmt.Errorf("zkserver: server %d (%s) %s: %w\n--- tail of %s ---\n%s", s.ID, s.Addr, what, cause, s.logPath, t)
	if strings.Contains(t, "Address already in use") {
		err = errors.Join(err, errPortInUse)
	}
	return err
}

// StartStandalone starts one server on a free 127.0.0.1 port with its files
// under dir, and returns once it serves (see the package comment), within
// ctx and opts.StartTimeout.
func StartStandalone(ctx context.Context, dir string, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	s, err := newServer(dir, 0, opts, new(sync.Mutex))
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		p, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		if err := s.configure(ports{client: p[0]}, nil); err != nil {
			return nil, err
		}
		if err := s.start(); err != nil {
			return nil, err
		}
		err = waitReady(ctx, []*Server{s}, isStandalone)
		if err == nil {
			return s, nil
		}
		s.Kill()
		if attempt == startAttempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
}

// Mode returns the server's mode from "srvr": "standalone", "leader" or
// "follower" (or "observer"), or ErrNotServing.
func (s *Server) Mode(ctx context.Context) (string, error) {
	out, err := s.FourLetterWord(ctx, "srvr")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(out) {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	if strings.Contains(out, "not currently serving") {
		return "", ErrNotServing
	}
	return "", fmt.Errorf("zkserver: %s: no Mode in srvr answer %q", s.Addr, out)
}

func isStandalone(mode string) bool   { return mode == "standalone" }
func isQuorumMember(mode string) bool { return mode == "leader" || mode == "follower" }

// waitReady polls until every server is ours (conf names our data dir),
// answers ruok with imok and reports a mode that accept takes; for more than
// one server also exactly one leader. It fails at once when a server exits.
func waitReady(ctx context.Context, servers []*Server, accept func(mode string) bool) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last error
	for {
		for _, s := range servers {
			s.mu.Lock()
			p := s.proc
			s.mu.Unlock()
			if done, werr := p.exited(); done {
				return s.failure("exited before it was ready", fmt.Errorf("%v", werr))
			}
		}
		last = ready(ctx, servers, accept)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			var errs []error
			for _, s := range servers {
				errs = append(errs, s.failure("was not ready in time", fmt.Errorf("%w; last check: %v", ctx.Err(), last)))
			}
			return errors.Join(errs...)
		case <-tick.C:
		}
	}
}

func ready(ctx context.Context, servers []*Server, accept func(string) bool) error {
	leaders := 0
	for _, s := range servers {
		conf, err := s.FourLetterWord(ctx, "conf")
		if err != nil {
			return err
		}
		if !strings.Contains(conf, "dataDir="+s.dataDir+"/") {
			return fmt.Errorf("%s answers conf without our dataDir %s", s.Addr, s.dataDir)
		}
		if ok, err := s.FourLetterWord(ctx, "ruok"); err != nil || ok != "imok" {
			return fmt.Errorf("%s: ruok answered %q (%v)", s.Addr, ok, err)
		}
		mode, err := s.Mode(ctx)
		if err != nil {
			return err
		}
		if !accept(mode) {
			return fmt.Errorf("%s: mode %s", s.Addr, mode)
		}
		if mode == "leader" {
			leaders++
		}
	}
	if len(servers) > 1 && leaders != 1 {
		return fmt.Errorf("%d leaders", leaders)
	}
	return nil
}
