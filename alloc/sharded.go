package alloc

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"

	"meseta/core"
)

// Sharded is the production allocator engine.
//
// # Structure
//
// Agents live in shards, picked by xxhash of the agent ID. A shard owns its
// agents' resources, allocations, outstanding offers and decline filters.
// Everything that spans agents lives in the engine itself under Sharded.mu:
// frameworks, the role tree with its DRF ordering (btrees of roles and of
// frameworks, kept sorted by share as allocations change, never re-sorted
// wholesale), cluster totals and the quota accounting.
//
// Allocating an agent means: with its shard locked, repeatedly take
// Sharded.mu, walk the ordering to the first candidate that may take
// something on the agent, charge the offer to its framework and roles, drop
// Sharded.mu, and record the offer in the shard. The walk only visits
// candidates until the first that fits, so a cycle costs about one ordered
// lookup per offer instead of Mesos's sort per agent.
//
// An agent whose free resources nobody can take is parked: it is not looked
// at again until something that could change the answer happens to it (its
// free resources grow, a filter on it expires) or to the cluster (a new
// candidate appears: the global epoch moves). A sweep over a cluster where
// every offer was declined with a long filter therefore costs nearly nothing.
//
// Quota gets the same treatment. An agent refused only because of quota
// caps waits for the quota epoch, which moves whenever a cap may loosen
// (consumption goes down, headroom grows, quota changes). Caps depend on
// the role, not the agent, so a role whose caps leave no min_allocatable
// alternative is skipped whole on agents without reservations or revocable
// slack, and a walk that found only such roles is not repeated for the
// next such agent until either epoch moves. Without this, the quota shape
// (3000 roles at their limits) walked every role for every leftover agent:
// about 800 ms a cycle, against about 12 ms with it.
//
// # Hot path
//
// An event that gives resources back (Recover, Decline) does its own
// accounting in the same hold of Sharded.mu as the pick that re-offers the
// resources, with the resource vectors worked out before the lock is
// taken. When the pick hands them straight back to the same framework-role
// the accounting is skipped as a no-op, under a read lock where that is
// safe (see the package documentation). The steady-state event allocates
// nothing: offers are recycled per shard, the offer list handed to the Sink
// comes from a pool, pickers come from a per-P pool (so that their scratch
// stays in one core's cache), and agents and shards are padded to whole
// cache lines and keep their short lists inline (so that two goroutines
// working on different agents never write the same line).
//
// # Lock order
//
// shard.mu before Sharded.mu (an RWMutex; see foldShared for its one read
// path); several shards only in increasing index order
// (Snapshot), and never while holding Sharded.mu. Methods that need
// Sharded.mu held end in Locked; those that need a shard's mu held take the
// shard as their first argument or end in ShardLocked.
//
// # Fairness error allowed by concurrency
//
// See the package documentation: up to k-1 offers of drift for k calls
// allocating at once, and 1% from keying shares against a snapshot of the
// totals (orderTotalsDrift).
type Sharded struct {
	opts   Options
	shards []*shard
	// epoch moves when a new candidate may exist for parked agents (a
	// framework joins, activates, revives or changes roles; quota or weights
	// change). Read without locks; written under mu.
	epoch atomic.Uint64
	// quotaEpoch moves when a quota cap may have loosened: some role's
	// unreserved consumption went down, or quota changed. Agents parked
	// because quota caps alone refused them wait for it.
	quotaEpoch atomic.Uint64

	sweeps atomic.Uint64

	// pickers holds idle pickers. A picker is taken for one allocateAgents
	// call; the pool keeps one per P at hand, so that the picker's scratch
	// stays in the cache of the core that uses it, whichever shard it
	// works on.
	pickers sync.Pool

	// names interns resource names for the qvec accounting; it has its own
	// leaf lock. skip marks Options.ExcludedFromShares; minAlloc is
	// Options.MinAllocatable. Both are fixed at construction.
	names    nameTable
	skip     [maxNames]bool
	minAlloc []qvec

	// debugMu serializes public calls under the invariants build tag.
	debugMu sync.Mutex

	// bias lets foldShared read engine state without touching mu, whose
	// reader count every reader would otherwise write (one cache line,
	// passed between cores on every event): while it is set, a fold read
	// flags its own shard (shard.folding) instead, and a writer that finds
	// it set clears it and waits for the flagged shards (revokeBias). A
	// fold read that found it clear sets it again once biasAfter reads
	// have gone through mu since then, which bounds the cost of revoking
	// when writes are frequent. Go's atomics are sequentially consistent,
	// so a reader's store of its flag and load of bias, and a writer's
	// store of bias and load of the flags, cannot both miss each other.
	bias     atomic.Bool
	slowRead atomic.Uint32 // fold reads through mu since bias was revoked

	// mu guards every field below. Take it for writing with lock, never
	// with mu.Lock: see bias.
	mu         sync.RWMutex
	frameworks map[FrameworkID]*framework
	roles      map[string]*role
	root       *role // the nameless root of the role tree
	// totals is the sum of the non-revocable scalar totals of all agents;
	// orderTotals is the snapshot of it that shares are keyed against.
	totals, orderTotals qvec
	// available is the free unreserved non-revocable scalars of active
	// agents; required is the sum of unmet quota guarantees (headroom).
	available, required qvec
	// guaranteeOrder holds roles with an unmet guarantee and candidates,
	// lowest quota share first.
	guaranteeOrder *btree.BTreeG[*role]
	weights        map[string]float64
	quotas         map[string]Quota
	// sweepNo numbers sweeps; a candidate's lastOffer says in which sweep
	// it last got an offer (starvation detection).
	sweepNo uint64
	// genSeq hands out filter generations, unique across frameworks.
	genSeq uint64
	// allQuotaBlocked remembers (quota epoch + 1, epoch) when a plain
	// agent's walk found every candidate blocked by quota caps alone (see
	// picker.pickLocked).
	allQuotaBlocked [2]uint64
	// overLimit lists roles a new reservation pushed over a quota limit;
	// rescindPendingOverLimit empties it.
	overLimit []*role
}

var _ Allocator = (*Sharded)(nil)

// orderTotalsDrift is how far (relatively) any cluster total may move before
// every share key is recomputed against the new totals.
const orderTotalsDrift = 0.01

// shard owns a subset of the agents.
type shard struct {
	shardState
	// Pad to a multiple of a cache line: goroutines working on different
	// shards must not share one.
	_ [(64 - unsafe.Sizeof(shardState{})%64) % 64]byte
}

type shardState struct {
	idx int
	// mu guards every field below and every agent in agents.
	mu     sync.Mutex
	agents map[AgentID]*agent
	list   []*agent // insertion order, for deterministic full passes
	// dirty lists agents to look at in the next sweep; agent.dirty says
	// whether an agent is on it.
	dirty []*agent
	// seenEpoch is the engine epoch the last full pass of this shard saw.
	seenEpoch uint64
	// quotaParked lists agents refused only by quota caps (agent.quotaParked
	// says whether an agent is on it); seenQuotaEpoch is the quota epoch
	// when they were last looked at.
	quotaParked    []*agent
	seenQuotaEpoch uint64
	offers         map[OfferID]*offer
	offerSeq       uint64
	// byAge queues offers in creation order, for OfferTimeout.
	byAge []*offer
	// spare holds offers that were accepted or declined, for reuse; only
	// without OfferTimeout, as byAge would still point at them.
	spare []*offer
	// filterExpiry is a min-heap of filter expiry times.
	filterExpiry expiryHeap
	// Counters for Stats, kept per shard so that concurrent calls on
	// different shards do not write a shared cache line. folds counts
	// events settled by foldShared (for tests).
	offersMade, rescinds, revocations, folds uint64
	// folding is set while a fold read runs on this shard without mu (see
	// Sharded.bias). Written only with the shard's mu held; read by
	// writers of the engine state at any time.
	folding atomic.Bool
}

// agent is one agent's state. Guarded by its shard's mu.
type agent struct {
	agentState
	// Pad to a multiple of a cache line, so that two agents (which
	// different goroutines may be working on) never share one.
	_ [(64 - unsafe.Sizeof(agentState{})%64) % 64]byte
}

type agentState struct {
	id       AgentID
	info     AgentInfo      // Used is cleared after AddAgent
	slack    core.Resources // revocable slack, marked revocable
	total    core.Resources // info.Total + slack
	free     core.Resources // total - allocations - offers
	hasGPUs  bool
	reserved bool // whether total holds reserved resources
	// shared: whether total holds shared resources, whose copies free
	// keeps however many are allocated (see shared.go). Implies reserved.
	shared  bool
	active  bool
	removed bool
	dirty   bool
	// quotaParked: on the shard's quotaParked list.
	quotaParked bool
	allocs      []allocation
	offers      []*offer
	// allocsBuf and offersBuf back allocs and offers while they are
	// short, as they mostly are: in the agent itself, their writes stay on
	// the agent's cache lines instead of sharing tiny heap objects with
	// other agents' lists.
	allocsBuf [2]allocation
	offersBuf [2]*offer
	// freeCounts caches the member counts of freeCountsOf, the free
	// resources they were made for (agents without reservations or slack
	// only; see primeCounts).
	freeCountsOf core.Resources
	freeCounts   qvec
	freeCounted  qvec                     // likewise, counted (and, for such agents, unreserved)
	filters      map[*fwRole]*agentFilter // keyed by framework-role
	shard        *shard
	// nextExpiry is the earliest filter expiry queued in the shard's heap
	// for this agent (zero: none queued).
	nextExpiry time.Time
}

// allocation is what one framework-role holds on an agent (offers excluded).
type allocation struct {
	fr  *fwRole
	res core.Resources
}

type offer struct {
	Offer
	fr    *fwRole
	agent *agent
	gone  bool // accepted, declined or rescinded
}

type agentFilter struct {
	filter
	created time.Time
	// gen is the filter generation of the framework-role when the filter
	// was made; Revive moves the generation on, voiding older filters
	// without visiting every agent.
	gen uint64
}

// framework is a framework's state. Guarded by Sharded.mu, except id which
// is immutable.
type framework struct {
	id     FrameworkID
	info   FrameworkInfo
	active bool
	// placeholder: known only from allocations on agents that were added
	// before the framework re-subscribed (master failover).
	placeholder bool
	roles       map[string]*fwRole
	// filteredUntil is the latest expiry of a filter it installed: until
	// then it is not considered starved.
	filteredUntil time.Time
}

// fwRole is a framework's membership in one role. Guarded by Sharded.mu,
// except fw and role, which are immutable.
type fwRole struct {
	fw         *framework
	role       *role
	subscribed bool
	suppressed bool
	// inOrder says whether it is in role.fws (a candidate).
	inOrder   bool
	alloc     qvec    // non-revocable scalars offered or allocated
	share     float64 // key in role.fws
	minAlloc  []qvec  // nil: the engine default
	lastOffer uint64  // sweep number of its last offer
	filterGen uint64  // see agentFilter.gen
	// idKey is fw.id's first 16 bytes, for the order's tie-break.
	idKey [2]uint64
}

func (fr *fwRole) candidate() bool {
	return fr.subscribed && !fr.suppressed && fr.fw.active
}

// NewSharded returns a sharded engine.
func NewSharded(opts Options) (*Sharded, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Shards <= 0 {
		o.Shards = max(64, 8*runtime.GOMAXPROCS(0))
	}
	o.Shards = min(o.Shards, maxShards)
	s := &Sharded{
		opts:           o,
		frameworks:     map[FrameworkID]*framework{},
		roles:          map[string]*role{},
		weights:        map[string]float64{},
		quotas:         map[string]Quota{},
		guaranteeOrder: btree.NewG(8, lessQuotaShare),
	}
	s.root = newRole("", nil)
	s.pickers.New = func() any { return s.newPicker() }
	for _, name := range o.ExcludedFromShares {
		i, err := s.names.intern(name)
		if err != nil {
			return nil, err
		}
		s.skip[i] = true
	}
	var err2 error
	if s.minAlloc, err2 = s.minVecs(o.MinAllocatable); err2 != nil {
		return nil, err2
	}
	for i := range o.Shards {
		s.shards = append(s.shards, &shard{shardState: shardState{
			idx:    i,
			agents: map[AgentID]*agent{},
			offers: map[OfferID]*offer{},
		}})
	}
	return s, nil
}

// biasAfter is how many fold reads go through Sharded.mu after a writer
// revoked the read bias before a reader sets it again.
const biasAfter = 1024

// lock takes Sharded.mu for writing, revoking the read bias if it is set.
func (s *Sharded) lock() {
	s.mu.Lock()
	if s.bias.Load() {
		s.bias.Store(false)
		s.slowRead.Store(0)
		for _, sh := range s.shards {
			// A fold read holds its shard's mu, takes no other lock and
			// only reads: it ends soon.
			for sh.folding.Load() {
				runtime.Gosched()
			}
		}
	}
}

// maxShards bounds the shard count so that a shard index fits in the low
// bits of an OfferID.
const (
	shardBits = 10
	maxShards = 1 << shardBits
)

func (s *Sharded) shardOf(id AgentID) *shard {
	return s.shards[s.ShardIndex(id)]
}

// ShardIndex returns the index of the shard that owns the agent, in
// [0, Shards()). Callers that drive the engine from several goroutines can
// partition their agents by it, so that their calls never meet on a shard.
func (s *Sharded) ShardIndex(id AgentID) int {
	return int(xxhash.Sum64String(string(id)) % uint64(len(s.shards)))
}

// Shards returns the number of shards.
func (s *Sharded) Shards() int { return len(s.shards) }

func (s *Sharded) shardOfOffer(id OfferID) (*shard, bool) {
	i := int(id & (maxShards - 1))
	if i >= len(s.shards) {
		return nil, false
	}
	return s.shards[i], true
}

func (s *Sharded) now() time.Time { return s.opts.Clock.Now() }

// emit hands out to the Sink, then takes its offer list back for reuse
// (the Sink may not keep the slices of an Output).
func (s *Sharded) emit(out *Output) {
	if !out.IsEmpty() {
		s.opts.Sink(*out)
	}
	if b := out.buf; b != nil {
		clear(out.Offers)
		b.offers = out.Offers[:0]
		offerBufs.Put(b)
		out.buf, out.Offers = nil, nil
	}
}

// offerBuf is a reusable backing array for Output.Offers: most events make
// one offer, and allocating a list for each kept the garbage collector
// busy enough to stop two cores from doing twice the work of one.
type offerBuf struct{ offers []Offer }

var offerBufs = sync.Pool{New: func() any { return &offerBuf{offers: make([]Offer, 0, 4)} }}

// addOffer appends to out.Offers, taking a pooled list for the first.
func (out *Output) addOffer(o Offer) {
	out.reserveOffers(1)
	out.Offers = append(out.Offers, o)
}

// reserveOffers makes room for n more offers in out.Offers, in a pooled
// list if out has none yet.
func (out *Output) reserveOffers(n int) {
	if out.Offers == nil && out.buf == nil {
		out.buf = offerBufs.Get().(*offerBuf)
		out.Offers = out.buf.offers
	}
	if cap(out.Offers)-len(out.Offers) < n {
		out.Offers = slices.Grow(out.Offers, n)
	}
}

// expiryHeap is a min-heap of filter expiries.
type expiryHeap []expiry

type expiry struct {
	at    time.Time
	agent *agent
}

func (h *expiryHeap) push(e expiry) {
	*h = append(*h, e)
	i := len(*h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !(*h)[i].at.Before((*h)[p].at) {
			break
		}
		(*h)[i], (*h)[p] = (*h)[p], (*h)[i]
		i = p
	}
}

func (h *expiryHeap) pop() expiry {
	old := *h
	top := old[0]
	n := len(old) - 1
	old[0] = old[n]
	old[n] = expiry{}
	*h = old[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && (*h)[l].at.Before((*h)[m].at) {
			m = l
		}
		if r < n && (*h)[r].at.Before((*h)[m].at) {
			m = r
		}
		if m == i {
			return top
		}
		(*h)[i], (*h)[m] = (*h)[m], (*h)[i]
		i = m
	}
}

// minVecs interns and converts min_allocatable alternatives.
func (s *Sharded) minVecs(mins []core.Quantities) ([]qvec, error) {
	out := make([]qvec, 0, len(mins))
	for _, m := range mins {
		if err := s.names.internQuantities(m); err != nil {
			return nil, err
		}
		out = append(out, s.names.quantitiesVec(m))
	}
	return out, nil
}
