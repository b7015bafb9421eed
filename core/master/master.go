package master

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// Conn is a framework's event stream. Send queues an event and must not
// block; it reports false when the stream is gone. Close ends the stream
// after the queued events.
type Conn interface {
	Send(*mesos.Event) bool
	Close()
}

// Backlog is what a Conn may also tell: how many events Send has queued,
// and how many of those have been written to the connection. The master
// holds back a status update's retry while the first copy is still
// queued (see "Status update retries" in the package doc).
type Backlog interface {
	Sent() uint64
	Written() uint64
}

// AgentConn is an agent's event stream, with the same contract as Conn.
type AgentConn interface {
	Send(*agentapi.Event) bool
	Close()
}

// Config holds the master's settings (masterd's flags).
type Config struct {
	Info    mesos.MasterInfo
	Cluster string
	// AgentPingTimeout and MaxAgentPingTimeouts: an agent that answers no
	// PING (nor anything else) for MaxAgentPingTimeouts periods of
	// AgentPingTimeout is marked unreachable.
	AgentPingTimeout     time.Duration
	MaxAgentPingTimeouts int
	// HeartbeatInterval is announced in SUBSCRIBED; masterd sends the
	// HEARTBEAT events.
	HeartbeatInterval time.Duration
	// MaxCompletedFrameworks and MaxCompletedTasksPerFramework bound the
	// history kept for /master/state.
	MaxCompletedFrameworks        int
	MaxCompletedTasksPerFramework int
	// AgentReregisterTimeout (--agent_reregister_timeout, default 10
	// minutes) is how long a new master waits for the agents it recovers
	// from the registry to re-register before it marks the missing ones
	// unreachable. See recovery.go.
	AgentReregisterTimeout time.Duration
	// RecoveryAgentRemovalLimit (--recovery_agent_removal_limit) is the
	// largest fraction, in [0, 1], of the agents recovered from the
	// registry that may be marked unreachable when AgentReregisterTimeout
	// ends; if more are missing, Housekeep marks none and returns
	// ErrRecoveryLimit so that masterd fails over. It is a pointer because
	// 0 (mark none) is a valid limit: nil means Mesos's default, 1.0
	// (100%). New replaces nil with a pointer to 1.0, so Config() always
	// shows the limit in force.
	RecoveryAgentRemovalLimit *float64
	Logger                    *slog.Logger
}

// Errors returned to callers. Each wraps one of these sentinels; masterd
// maps them to HTTP status codes.
var (
	// ErrBadRequest: the call is malformed or names something it may not
	// (HTTP 400).
	ErrBadRequest = errors.New("master: bad request")
	// ErrForbidden: the caller is not subscribed, or uses a stale stream
	// (HTTP 403).
	ErrForbidden = errors.New("master: forbidden")
	// ErrNotSupported: a valid request meseta does not implement yet
	// (HTTP 400 with a message saying so).
	ErrNotSupported = errors.New("master: not supported yet")
	// ErrConflict: the request is valid but what it needs is in use, or
	// it would overcommit the cluster (HTTP 409, as Mesos answers).
	ErrConflict = errors.New("master: conflict")
	// ErrRecoveryLimit: after a failover, more of the agents recovered
	// from the registry failed to re-register than
	// RecoveryAgentRemovalLimit allows. The master changed nothing and
	// must fail over (masterd exits) so that a human looks.
	ErrRecoveryLimit = errors.New("master: recovery agent removal limit exceeded")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Master is the master's state machine. See the package documentation
// for its locking and its reliability rules.
type Master struct {
	cfg   Config
	log   *slog.Logger
	alloc alloc.Allocator
	reg   registry.Store
	clock *clock

	// pendingMu guards pending: allocator decisions waiting to be turned
	// into offers and rescinds. Taken after mu (see the package doc).
	pendingMu sync.Mutex
	pending   []alloc.Output

	// mu guards everything below and all records reachable from it.
	mu         sync.Mutex
	started    time.Time
	elected    time.Time
	frameworks map[string]*framework
	completed  []*framework // oldest first, at most MaxCompletedFrameworks
	agents     map[string]*agent
	offers     map[alloc.OfferID]*offer
	// admitted, unreachable and gone mirror the registry's agent sets.
	admitted    map[string]bool
	unreachable map[string]time.Time
	gone        map[string]time.Time
	nextFW      uint64
	nextAgent   uint64
	pingSeq     uint64
	metrics     Metrics
	live        liveTasks // running counts of the tasks in frameworks' tasks
	tasks       taskIndex // the tasks page's order (taskindex.go)
	// resources mirrors the registry's record of each agent's
	// checkpointed resources; operations, the operation statuses not yet
	// acknowledged, by framework and operation id (resources.go).
	resources  map[string]core.Resources
	operations map[string]map[string]*operation
	taskSeq    uint64 // the last task.seq given
	fwSeq      uint32 // the last framework.ord given
	// weights and quotas mirror what the master set in the allocator, so
	// that the roles pages need not take a snapshot of it (which copies
	// every agent under all its locks). The master is the allocator's
	// only writer (/quota and /weights, quota.go).
	weights map[string]float64
	quotas  map[string]alloc.Quota
	// maint is the maintenance schedule, the machines in it and the
	// inverse offers (maintenance.go).
	maint maintenance

	// recovering holds the agents recovered from the registry by New that
	// have not re-registered yet, with the info the registry has for them,
	// and recovered is how many New recovered. When recoveryDeadline (New's
	// now plus AgentReregisterTimeout) has passed, Housekeep marks those
	// still here unreachable, or fails (see recovery.go).
	// Invariant: every id in recovering is in admitted and not in agents.
	recovering       map[string]mesos.AgentInfo
	recovered        int
	recoveryDeadline time.Time
}

// Metrics are counters exported at /metrics/snapshot.
type Metrics struct {
	OffersSent, OffersRescinded, OffersDeclined, OffersAccepted uint64
	TasksLaunched, TasksDropped, TasksErrored                   uint64
	StatusUpdates, Acknowledgements                             uint64
	// Retries of a status update that were not forwarded: acknowledged
	// already (Acked), or still on the framework's stream (Held).
	StatusUpdateRetriesAcked, StatusUpdateRetriesHeld uint64
	AgentsRemoved, FrameworksRemoved                  uint64
	InvalidCalls                                      uint64
	// Operations counts the RESERVE, UNRESERVE, CREATE and DESTROY
	// operations applied (frameworks' and operators'), OperationsRefused
	// the frameworks' ones refused.
	Operations, OperationsRefused uint64
	TaskStates                    map[mesos.TaskState]uint64 // terminal transitions, by state

	// RecoveryAgentRemovals counts the agents recovered from the registry
	// after a failover and marked unreachable because they did not
	// re-register in time (master/recovery_slave_removals).
	RecoveryAgentRemovals uint64
}

// clock gives the allocator the time of the master call it runs inside.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// New returns a master that allocates with an engine made by newAlloc
// from the options it is given (Clock and Sink are set by New), and
// records agents in reg.
func New(cfg Config, reg registry.Store, newAlloc func(alloc.Options) (alloc.Allocator, error), opts alloc.Options, now time.Time) (*Master, error) {
	if cfg.AgentPingTimeout <= 0 {
		cfg.AgentPingTimeout = 15 * time.Second
	}
	if cfg.MaxAgentPingTimeouts <= 0 {
		cfg.MaxAgentPingTimeouts = 5
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 15 * time.Second
	}
	if cfg.MaxCompletedFrameworks <= 0 {
		cfg.MaxCompletedFrameworks = 50
	}
	if cfg.MaxCompletedTasksPerFramework <= 0 {
		cfg.MaxCompletedTasksPerFramework = 1000
	}
	if cfg.AgentReregisterTimeout <= 0 {
		cfg.AgentReregisterTimeout = 10 * time.Minute
	}
	limit := 1.0
	if cfg.RecoveryAgentRemovalLimit != nil {
		limit = *cfg.RecoveryAgentRemovalLimit
		if !(limit >= 0 && limit <= 1) { // also refuses NaN
			return nil, fmt.Errorf("master: recovery agent removal limit %v is not a fraction in [0, 1]", limit)
		}
	}
	cfg.RecoveryAgentRemovalLimit = &limit // a copy: the caller's variable is not aliased
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Info.ID == "" {
		cfg.Info.ID = NewMasterID(now)
	}
	m := &Master{
		cfg:         cfg,
		log:         cfg.Logger,
		reg:         reg,
		clock:       &clock{now: now},
		started:     now,
		elected:     now,
		frameworks:  map[string]*framework{},
		agents:      map[string]*agent{},
		offers:      map[alloc.OfferID]*offer{},
		admitted:    map[string]bool{},
		unreachable: map[string]time.Time{},
		gone:        map[string]time.Time{},
		recovering:  map[string]mesos.AgentInfo{},
		tasks:       newTaskIndex(),
		resources:   map[string]core.Resources{},
		operations:  map[string]map[string]*operation{},
		maint:       newMaintenance(),
	}
	m.metrics.TaskStates = map[mesos.TaskState]uint64{}
	m.live.states = map[mesos.TaskState]int{}
	opts.Clock = m.clock
	opts.Sink = m.sink
	a, err := newAlloc(opts)
	if err != nil {
		return nil, err
	}
	m.alloc = a
	if err := m.recoverRegistry(now); err != nil {
		return nil, err
	}
	return m, nil
}

// NewMasterID returns a fresh master id: the date and random hex, unique
// across restarts so that framework, agent and offer ids never repeat.
func NewMasterID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Info returns the master's MasterInfo.
func (m *Master) Info() mesos.MasterInfo { return m.cfg.Info }

// Config returns the master's configuration.
func (m *Master) Config() Config { return m.cfg }

// sink is the allocator's Sink. It runs inside allocator calls made with
// mu held, so it only queues (see the package doc).
func (m *Master) sink(out alloc.Output) {
	if out.IsEmpty() {
		return
	}
	c := out.Clone()
	m.pendingMu.Lock()
	m.pending = append(m.pending, c)
	m.pendingMu.Unlock()
}

// enter takes mu and sets the time every allocator call inside will see.
// The returned function drains the allocator's decisions and unlocks.
func (m *Master) enter(now time.Time) func() {
	m.mu.Lock()
	if now.After(m.clock.now) {
		m.clock.now = now
	}
	return func() {
		m.drainLocked()
		m.mu.Unlock()
	}
}

// drainLocked turns queued allocator decisions into OFFERS and RESCIND
// events, one OFFERS event per framework per drain.
func (m *Master) drainLocked() {
	for {
		m.pendingMu.Lock()
		batch := m.pending
		m.pending = nil
		m.pendingMu.Unlock()
		if len(batch) == 0 {
			return
		}
		// Frameworks hear of their offers in the order the allocator
		// made them, so that a drain is deterministic.
		byFW := map[*framework][]mesos.Offer{}
		var order []*framework
		var made []alloc.OfferID
		for _, out := range batch {
			for _, r := range out.Rescinds {
				m.rescindLocked(r)
			}
			for _, o := range out.Offers {
				if mo, fw := m.makeOfferLocked(o); fw != nil {
					if _, ok := byFW[fw]; !ok {
						order = append(order, fw)
					}
					byFW[fw] = append(byFW[fw], mo)
					made = append(made, o.ID)
				}
			}
			for _, rv := range out.Revocations {
				m.revokeLocked(rv)
			}
		}
		// An offer a later decision of the batch rescinded (it was
		// told of at once) is not sent at all.
		gone := map[string]bool{}
		for _, id := range made {
			if m.offers[id] == nil {
				gone[m.offerWireID(id)] = true
			}
		}
		for _, fw := range order {
			offers := byFW[fw]
			if len(gone) > 0 {
				offers = slices.DeleteFunc(offers, func(o mesos.Offer) bool { return gone[o.ID.Value] })
				if len(offers) == 0 {
					continue
				}
			}
			m.metrics.OffersSent += uint64(len(offers))
			fw.send(&mesos.Event{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: offers}})
		}
	}
}

// offer is an outstanding offer.
type offer struct {
	alloc.Offer
	id string // the wire id
}

// OfferID returns the wire id of an allocator offer id.
func (m *Master) offerWireID(id alloc.OfferID) string {
	return fmt.Sprintf("%s-O%d", m.cfg.Info.ID, id)
}

// parseOfferID maps a wire offer id back; ok is false for ids this master
// did not make.
func (m *Master) parseOfferID(s string) (alloc.OfferID, bool) {
	prefix := m.cfg.Info.ID + "-O"
	if len(s) <= len(prefix) || s[:len(prefix)] != prefix {
		return 0, false
	}
	var n uint64
	for _, c := range s[len(prefix):] {
		if c < '0' || c > '9' || n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return alloc.OfferID(n), true
}

func (m *Master) makeOfferLocked(o alloc.Offer) (mesos.Offer, *framework) {
	fw := m.frameworks[string(o.Framework)]
	ag := m.agents[string(o.Agent)]
	if fw == nil || ag == nil || !fw.connected() {
		// The allocator offered to a framework or on an agent the master
		// no longer has: give it straight back.
		_ = m.alloc.Decline(o.ID, 0)
		return mesos.Offer{}, nil
	}
	of := &offer{Offer: o, id: m.offerWireID(o.ID)}
	of.Resources = o.Resources.Clone()
	m.offers[o.ID] = of
	fw.offers[o.ID] = of
	ag.offers[o.ID] = of
	mo := mesos.Offer{
		ID:             mesos.ID{Value: of.id},
		FrameworkID:    mesos.ID{Value: fw.id},
		AgentID:        mesos.ID{Value: ag.id},
		Hostname:       ag.info.Hostname,
		URL:            ag.url(),
		Resources:      mesos.OfferResources{Role: o.Role, Resources: of.Resources},
		Attributes:     ag.info.Attributes,
		AllocationInfo: &mesos.AllocationInfo{Role: o.Role},
	}
	if mc := ag.machine; mc != nil {
		u := mc.unavailability
		mo.Unavailability = &u
	}
	for id := range ag.executors[fw.id] {
		mo.ExecutorIDs = append(mo.ExecutorIDs, mesos.ID{Value: id})
	}
	return mo, fw
}

func (m *Master) rescindLocked(r alloc.Rescind) {
	if of := m.offers[r.Offer.ID]; of != nil {
		m.rescindOfferLocked(of, r.Reason != alloc.RescindFrameworkRemoved)
	}
}

// rescindOfferLocked forgets an outstanding offer, and tells its
// framework when tell is set. The allocator's side is the caller's.
func (m *Master) rescindOfferLocked(of *offer, tell bool) {
	m.forgetOfferLocked(of)
	m.metrics.OffersRescinded++
	if fw := m.frameworks[string(of.Framework)]; fw != nil && tell {
		fw.send(&mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.Rescind{OfferID: mesos.ID{Value: of.id}}})
	}
}

func (m *Master) forgetOfferLocked(of *offer) {
	delete(m.offers, of.ID)
	if fw := m.frameworks[string(of.Framework)]; fw != nil {
		delete(fw.offers, of.ID)
	}
	if ag := m.agents[string(of.Agent)]; ag != nil {
		delete(ag.offers, of.ID)
	}
}

// revokeLocked kills the framework's tasks on the agent that use
// revocable resources, as the allocator asked.
func (m *Master) revokeLocked(rv alloc.Revocation) {
	ag := m.agents[string(rv.Agent)]
	fw := m.frameworks[string(rv.Framework)]
	if ag == nil || fw == nil {
		return
	}
	for _, t := range fw.tasks {
		if t.agent == ag.id && !t.state.Terminal() && !t.resources.Revocable().IsEmpty() {
			ag.send(&agentapi.Event{Type: agentapi.EventKillTask, KillTask: &agentapi.KillTask{
				FrameworkID: mesos.ID{Value: fw.id}, TaskID: mesos.ID{Value: t.id}}})
		}
	}
}

// Sweep runs one periodic allocation (every allocation_interval).
func (m *Master) Sweep(now time.Time) {
	defer m.enter(now)()
	m.alloc.Sweep()
}

// Housekeep runs the master's timers at now: agent pings and removals,
// framework failover timeouts, inverse offers, and the end of the wait for the agents
// recovered from the registry (see recovery.go). masterd calls it several
// times per agent_ping_timeout.
//
// The only error is one wrapping ErrRecoveryLimit: too many recovered
// agents are missing, the registry is untouched, and the master must fail
// over (masterd exits). Housekeep keeps returning it, and keeps doing its
// other work, until then.
func (m *Master) Housekeep(now time.Time) error {
	defer m.enter(now)()
	m.pingAgentsLocked(now)
	m.expireFrameworksLocked(now)
	m.inverseOffersLocked(now)
	return m.endRecoveryLocked(now)
}

// Allocator gives masterd the allocator for its stats.
func (m *Master) Allocator() alloc.Allocator { return m.alloc }

// newUUID returns 16 random bytes.
func newUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// masterStatus builds an update the master makes itself: no uuid, so it
// is neither retried nor acknowledged.
func masterStatus(taskID, agentID string, state mesos.TaskState, reason, msg string, now time.Time) mesos.TaskStatus {
	return mesos.TaskStatus{
		TaskID:    mesos.ID{Value: taskID},
		State:     state,
		Source:    mesos.SourceMaster,
		Reason:    reason,
		Message:   msg,
		AgentID:   mesos.NewID(agentID),
		Timestamp: float64(now.UnixNano()) / 1e9,
	}
}

// sumResources adds up resource lists.
func sumResources(lists ...core.Resources) core.Resources {
	var out core.Resources
	for _, l := range lists {
		out = out.Add(l)
	}
	return out
}
