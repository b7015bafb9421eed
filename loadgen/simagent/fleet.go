package simagent

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"meseta/core"
	agentcore "meseta/core/agent"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// AgentSpec describes one simulated agent.
type AgentSpec struct {
	Hostname string
	// Resources in Mesos text form ("cpus:4;mem:4096;ports:[31000-32000]"),
	// parsed with core.ParseResources.
	Resources string
	// Attributes in Mesos text form ("rack:r1;zone:a"), or "".
	Attributes string
}

// Config configures a [Fleet].
type Config struct {
	// Master is the master's host:port.
	Master string
	Agents []AgentSpec
	// Duration says how long a task runs before TASK_FINISHED; 0 or
	// negative (or a nil Duration) runs it until it is killed.
	Duration func(mesos.TaskInfo) time.Duration
	// RetryInterval is the first resend interval of an unacknowledged
	// status update (doubling to 10 min); 0 means agentd's 10 s.
	RetryInterval time.Duration
	// Backoff is the registration backoff factor: after a broken stream an
	// agent waits a random time up to Backoff, doubling to 1 min while it
	// fails; 0 means agentd's 1 s.
	Backoff time.Duration
	// Log receives debug and warning lines; nil discards them.
	Log *slog.Logger
}

// Fleet is a set of simulated agents in this process.
type Fleet struct {
	cfg    Config
	log    *slog.Logger
	agents []*agent
	out    *outbox
	sched  *scheduler
	// streams are the clients of the subscribe streams; agent i uses
	// streams[i % len(streams)]. Each dials from its own loopback source
	// address when the master is on loopback: one address has only some
	// 28,000 ephemeral ports to a master's port, fewer than a fleet's
	// streams.
	streams []*http.Client
	done    chan struct{}
	wg      sync.WaitGroup
	stats   counters

	// masterMu guards master.
	masterMu sync.Mutex
	master   string
}

// counters are the fleet's figures; gauges and totals are kept exactly
// by the agents as they change.
type counters struct {
	registered  atomic.Int64 // gauge: agents registered on a live stream
	running     atomic.Int64 // gauge: tasks launched and not terminal
	updatesSent atomic.Int64 // status update calls the master took (with resends)
	acked       atomic.Int64
	resends     atomic.Int64 // updates queued again: retry timer or re-registration
	batches     atomic.Int64
	postErrors  atomic.Int64
	launched    atomic.Int64
}

// Stats is a snapshot of the fleet's counters, for the loadgen report.
type Stats struct {
	Agents       int
	Registered   int64 // agents registered now
	TasksRunning int64 // tasks launched, not yet terminal
	Launched     int64 // tasks launched in total
	UpdatesSent  int64 // status updates in batches the master answered 202 (with resends)
	UpdatesAcked int64 // acknowledgements applied
	// UpdatesPending: status updates not yet acknowledged, summed over
	// the agents' status update managers.
	UpdatesPending int64
	// PendingDown is the part of UpdatesPending held by agents that are
	// down (killed or partitioned), which cannot send them.
	PendingDown int64
	Resends     int64 // status updates queued again after the first send
	Batches     int64 // POST /agent/v1/call requests answered 202
	PostErrors  int64 // batches that failed (dropped; updates are resent)
}

// Start parses the specs and starts the agents.
func Start(cfg Config) (*Fleet, error) {
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = agentcore.DefaultRetryMin
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.Duration == nil {
		cfg.Duration = func(mesos.TaskInfo) time.Duration { return 0 }
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{cfg: cfg, log: log, sched: newScheduler(), done: make(chan struct{}), master: cfg.Master,
		streams: streamClients(cfg.Master)}
	f.out = newOutbox(f)
	for i, spec := range cfg.Agents {
		total, err := core.ParseResources(spec.Resources)
		if err != nil {
			return nil, fmt.Errorf("simagent: agent %d (%s) resources: %w", i, spec.Hostname, err)
		}
		var attrs []mesos.Attribute
		if spec.Attributes != "" {
			if attrs, err = mesos.ParseAttributes(spec.Attributes); err != nil {
				return nil, fmt.Errorf("simagent: agent %d (%s) attributes: %w", i, spec.Hostname, err)
			}
		}
		f.agents = append(f.agents, newAgent(f, i, spec.Hostname, total, attrs))
	}
	f.wg.Add(2 + senders + len(f.agents))
	go func() { defer f.wg.Done(); f.sched.run(f.done) }()
	go func() { defer f.wg.Done(); f.retryLoop() }()
	for range senders {
		go func() { defer f.wg.Done(); f.out.run(f.done) }()
	}
	for _, a := range f.agents {
		go func() { defer f.wg.Done(); a.loop() }()
	}
	return f, nil
}

// Close stops every agent (their streams close; the master sees them
// disconnect) and waits for the fleet's goroutines.
func (f *Fleet) Close() {
	close(f.done)
	for _, a := range f.agents {
		a.dropStream()
	}
	f.wg.Wait()
	for _, c := range f.streams {
		c.CloseIdleConnections()
	}
}

// Len is the number of agents.
func (f *Fleet) Len() int { return len(f.agents) }

// Master is the master's host:port the agents talk to.
func (f *Fleet) Master() string {
	f.masterMu.Lock()
	defer f.masterMu.Unlock()
	return f.master
}

// SetMaster points every agent at the master at addr (a new leader): each
// drops its stream and re-registers there with its id and tasks.
func (f *Fleet) SetMaster(addr string) {
	f.masterMu.Lock()
	f.master = addr
	f.masterMu.Unlock()
	for _, a := range f.agents {
		a.dropStreamUnless(addr)
		notify(a.wake)
	}
}

// Registered is how many agents are registered on a live stream now: the
// Registered of Stats, without its cost.
func (f *Fleet) Registered() int64 { return f.stats.registered.Load() }

// AgentID is agent i's id, "" until it first registered.
func (f *Fleet) AgentID(i int) string {
	a := f.agents[i]
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id
}

// Kill ends agent i: its stream closes, it answers nothing, and its tasks
// and their unacknowledged updates are gone. It keeps its id for Restart.
func (f *Fleet) Kill(i int) { f.agents[i].kill() }

// Restart brings killed agent i back: it re-registers with its id and no
// tasks. On a live agent it is a no-op.
func (f *Fleet) Restart(i int) { f.agents[i].setMode(modeUp) }

// Partition cuts agent i off while its stream stays open: it discards
// every event (PINGs included) and sends nothing; its tasks keep running
// and their updates wait. See the package doc.
func (f *Fleet) Partition(i int) { f.agents[i].setMode(modePartitioned) }

// Heal ends agent i's partition: it drops its stream and re-registers
// with its id and its tasks.
func (f *Fleet) Heal(i int) {
	a := f.agents[i]
	if a.mode.Load() == modePartitioned {
		a.setMode(modeUp)
		a.dropStream()
	}
}

// Stats returns the fleet's counters.
func (f *Fleet) Stats() Stats {
	s := Stats{Agents: len(f.agents), Registered: f.stats.registered.Load(), TasksRunning: f.stats.running.Load(),
		Launched: f.stats.launched.Load(), UpdatesSent: f.stats.updatesSent.Load(), UpdatesAcked: f.stats.acked.Load(),
		Resends: f.stats.resends.Load(), Batches: f.stats.batches.Load(), PostErrors: f.stats.postErrors.Load()}
	for _, a := range f.agents {
		a.mu.Lock()
		n := int64(a.updates.Len())
		a.mu.Unlock()
		s.UpdatesPending += n
		if a.mode.Load() != modeUp {
			s.PendingDown += n
		}
	}
	return s
}

// Unacknowledged counts the updates that agents still up have held
// unacknowledged since before t: every update queued for a task whose
// in-flight update has waited since before t. It describes up to n of
// those tasks, for a report: the agent, the task, the update, how long
// it has waited and when it is resent next.
func (f *Fleet) Unacknowledged(t time.Time, n int) (count int64, samples []string) {
	now := time.Now()
	for _, a := range f.agents {
		if a.mode.Load() != modeUp {
			continue
		}
		a.mu.Lock()
		a.updates.Each(func(h agentapi.StatusUpdate, queued int, since, next time.Time) {
			if !since.Before(t) {
				return
			}
			count += int64(queued)
			if len(samples) >= n {
				return
			}
			when := "never sent"
			if !next.IsZero() {
				when = "resent in " + next.Sub(now).Round(time.Millisecond).String()
			}
			samples = append(samples, fmt.Sprintf("agent %s (%s, registered %t): framework %s task %s %s uuid %x, waiting %s, %d queued, %s",
				a.id, a.hostname, a.registered, h.FrameworkID.Value, h.Status.TaskID.Value, h.Status.State, h.Status.UUID,
				now.Sub(since).Round(time.Millisecond), queued, when))
		})
		a.mu.Unlock()
	}
	return count, samples
}

// retryLoop resends the updates whose retry time has come, and drops the
// streams of masters that stopped sending PINGs (agentd's watchdog).
func (f *Fleet) retryLoop() {
	t := time.NewTicker(min(f.cfg.RetryInterval/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case now := <-t.C:
			for _, a := range f.agents {
				a.tick(now)
			}
		}
	}
}

// sourceAddrs is how many loopback source addresses the stream clients
// spread over: 127.0.0.1 to 127.0.0.8, room for some 220,000 streams.
const sourceAddrs = 8

// streamClients returns the stream clients for a master at addr: one per
// loopback source address if addr is on loopback (a later SetMaster to
// another host on loopback keeps working; a master elsewhere does not
// need the spread), else one.
func streamClients(addr string) []*http.Client {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	n := 1
	if ip != nil && ip.IsLoopback() && ip.To4() != nil {
		n = sourceAddrs
	}
	out := make([]*http.Client, n)
	for i := range out {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		if n > 1 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		out[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext,
			MaxIdleConnsPerHost: 16, DisableCompression: true}}
	}
	return out
}
