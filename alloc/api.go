package alloc

import (
	"errors"
	"slices"
	"time"

	"meseta/core"
)

// AgentID names an agent. FrameworkID names a framework.
type (
	AgentID     string
	FrameworkID string
)

// OfferID names one outstanding offer. IDs are unique for the lifetime of an
// allocator and never reused.
type OfferID uint64

// Capability is a set of framework capabilities that change what a
// framework may be offered (Mesos's FrameworkInfo.Capability).
type Capability uint16

// Framework capabilities the allocator looks at.
const (
	MultiRole Capability = 1 << iota
	RevocableResources
	GPUResources
	PartitionAware
	// SharedResources: the framework may be offered shared resources
	// (shared persistent volumes); others are never offered them.
	SharedResources
)

// Has reports whether c includes all of o.
func (c Capability) Has(o Capability) bool { return c&o == o }

// Allocation is what one framework holds, for one role, on one agent. It is
// used to describe resources already in use when an agent is added (after a
// master failover) and in snapshots.
type Allocation struct {
	Framework FrameworkID
	Role      string
	Resources core.Resources
}

// AgentInfo describes an agent to the allocator.
type AgentInfo struct {
	ID       AgentID
	Hostname string
	// Total is everything the agent has, including statically reserved
	// resources, without the oversubscribed (revocable) slack.
	Total      core.Resources
	Attributes []Attribute
	// Checkpoint says the agent checkpoints, so frameworks that ask for
	// checkpointing may run there.
	Checkpoint bool
	// Used lists the allocations already running on the agent, for recovery
	// after a master failover. They must fit in Total (plus Oversubscribed
	// for revocable ones).
	Used []Allocation
	// Oversubscribed is the revocable slack the agent reports; see
	// Allocator.UpdateOversubscribed.
	Oversubscribed core.Resources
}

// Attribute is one agent attribute; the allocator passes them through.
type Attribute struct {
	Name, Value string
}

// FrameworkInfo describes a framework to the allocator.
type FrameworkInfo struct {
	ID           FrameworkID
	Roles        []string
	Capabilities Capability
	// Checkpoint: the framework wants its tasks checkpointed, so it is only
	// offered agents that checkpoint.
	Checkpoint bool
	// MinAllocatable overrides, per role, the allocator-wide
	// Options.MinAllocatable. An offer must contain at least one of the
	// alternatives.
	MinAllocatable map[string][]core.Quantities
	// Suppressed lists the roles for which the framework wants no offers.
	Suppressed []string
}

// Quota is a role's guarantee and limit. Both cover scalar resources only.
// A role's consumption (its allocations, offers included, and its
// unallocated reservations, summed over its sub-roles) is kept at or below
// Limit, and the allocator offers to roles below their Guarantee first,
// holding back enough unreserved resources ("headroom") to satisfy every
// unmet guarantee. An empty Limit means no limit.
type Quota struct {
	Guarantee core.Quantities
	Limit     core.Quantities
}

// Offer is resources on one agent offered to one framework for one role.
type Offer struct {
	ID        OfferID
	Framework FrameworkID
	Role      string
	Agent     AgentID
	Resources core.Resources
	Created   time.Time
}

// RescindReason says why an offer was taken back.
type RescindReason uint8

// Rescind reasons.
const (
	// RescindTimeout: the offer was outstanding longer than OfferTimeout.
	RescindTimeout RescindReason = iota + 1
	// RescindStarvation: another framework below its fair share or quota
	// guarantee needed the resources and nothing was free.
	RescindStarvation
	// RescindAgentRemoved, RescindAgentDeactivated: the agent went away.
	RescindAgentRemoved
	RescindAgentDeactivated
	// RescindFrameworkRemoved, RescindFrameworkDeactivated: the framework
	// went away, so its offers are void.
	RescindFrameworkRemoved
	RescindFrameworkDeactivated
	// RescindSuppressed: the framework suppressed the offer's role.
	RescindSuppressed
	// RescindQuotaLimit: the role's quota limit was lowered below its
	// consumption.
	RescindQuotaLimit
	// RescindRevocableShrunk: the agent's oversubscribed slack shrank below
	// the revocable resources offered.
	RescindRevocableShrunk
	// RescindAgentUpdated: the agent's total shrank below what was offered.
	RescindAgentUpdated
)

var rescindReasonNames = [...]string{"", "timeout", "starvation", "agent-removed", "agent-deactivated",
	"framework-removed", "framework-deactivated", "suppressed", "quota-limit", "revocable-shrunk", "agent-updated"}

func (r RescindReason) String() string {
	if int(r) < len(rescindReasonNames) {
		return rescindReasonNames[r]
	}
	return "unknown"
}

// Rescind tells the master that an outstanding offer is void. Its resources
// are already free again when the rescind is emitted.
type Rescind struct {
	Offer  Offer
	Reason RescindReason
}

// Revocation tells the master to kill tasks that use revocable resources, so
// that the agent's non-revocable demand can have them back. The allocator
// has already taken Resources out of the framework's allocation: the master
// must not Recover them again.
type Revocation struct {
	Framework FrameworkID
	Role      string
	Agent     AgentID
	Resources core.Resources
}

// Output is one batch of decisions. The allocator calls the Sink with it
// after releasing its locks, so the sink may call back into the allocator.
// Its slices belong to the allocator and are reused once the Sink returns:
// a Sink copies what it keeps.
type Output struct {
	Offers      []Offer
	Rescinds    []Rescind
	Revocations []Revocation

	buf *offerBuf // where Offers came from, to give back after the Sink
}

// Clone returns a copy of o whose slices are its own, for a Sink that keeps
// it.
func (o Output) Clone() Output {
	return Output{Offers: slices.Clone(o.Offers), Rescinds: slices.Clone(o.Rescinds), Revocations: slices.Clone(o.Revocations)}
}

// IsEmpty reports whether the batch carries nothing.
func (o *Output) IsEmpty() bool {
	return len(o.Offers) == 0 && len(o.Rescinds) == 0 && len(o.Revocations) == 0
}

// Sink receives the allocator's decisions. It may be called from several
// goroutines at once (one per shard): a master that needs one stream should
// put a channel behind it. The Output's slices are only valid until the
// Sink returns.
type Sink func(Output)

// Clock is the allocator's only source of time.
type Clock interface {
	Now() time.Time
}

// Errors are faults in how the allocator was called. Outcomes such as "not
// allocatable" or "filtered" are not errors.
var (
	ErrUnknownAgent       = errors.New("alloc: unknown agent")
	ErrUnknownFramework   = errors.New("alloc: unknown framework")
	ErrUnknownOffer       = errors.New("alloc: unknown offer")
	ErrDuplicateAgent     = errors.New("alloc: agent already added")
	ErrDuplicateFramework = errors.New("alloc: framework already added")
	ErrBadArgument        = errors.New("alloc: bad argument")
	ErrNotAllocated       = errors.New("alloc: resources are not allocated to the framework")
)

// Allocator is the contract between the master and an allocator engine.
//
// Every method may be called from any goroutine. Methods that change what
// could be offered allocate at once ("incremental allocation", unless
// Options.DisableIncremental is set) and deliver the result to the Sink before
// they return; Sweep is the periodic safety net that also expires filters
// and offers.
type Allocator interface {
	// AddAgent adds an agent, with the allocations already running there.
	AddAgent(AgentInfo) error
	// UpdateAgentTotal changes an agent's total (non-revocable) resources.
	// Offers that no longer fit are rescinded.
	UpdateAgentTotal(AgentID, core.Resources) error
	// UpdateOversubscribed sets an agent's revocable slack. The allocator
	// offers it, marked revocable, to REVOCABLE_RESOURCES frameworks only.
	// When the slack shrinks below what is offered and allocated as
	// revocable, outstanding revocable offers are rescinded first and then
	// revocable allocations are revoked (Output.Revocations).
	UpdateOversubscribed(AgentID, core.Resources) error
	ActivateAgent(AgentID) error
	DeactivateAgent(AgentID) error
	// RemoveAgent forgets an agent and everything allocated on it; its
	// outstanding offers are rescinded.
	RemoveAgent(AgentID) error

	AddFramework(FrameworkInfo) error
	// UpdateFramework replaces a framework's roles, capabilities,
	// min_allocatable and suppressed roles. Allocations in roles it left
	// stay until recovered.
	UpdateFramework(FrameworkInfo) error
	// RemoveFramework forgets a framework: its offers are rescinded and its
	// allocations freed.
	RemoveFramework(FrameworkID) error
	ActivateFramework(FrameworkID) error
	DeactivateFramework(FrameworkID) error
	// Suppress stops offers to the framework for roles (all of its roles
	// when roles is empty) and rescinds its outstanding offers for them.
	Suppress(FrameworkID, []string) error
	// Revive resumes offers for roles (all when empty) and clears the
	// framework's filters.
	Revive(FrameworkID, []string) error

	// Accept turns an outstanding offer into an allocation. It fails with
	// ErrUnknownOffer when the offer was rescinded, declined or accepted
	// already. The master then recovers the part it did not use.
	Accept(OfferID) error
	// Decline gives an offer back; refuse > 0 filters its resources from the
	// framework on that agent for that long.
	Decline(OfferID, time.Duration) error
	// Recover gives allocated resources back (a task ended, or the unused
	// part of an accepted offer) and filters them for refuse when refuse > 0.
	Recover(fw FrameworkID, agent AgentID, role string, res core.Resources, refuse time.Duration) error
	// UpdateAllocation replaces from, part of the framework's allocation on
	// the agent, with to: the result of an operation such as RESERVE or
	// CREATE. The agent's total changes the same way. from and to must have
	// the same quantities.
	UpdateAllocation(fw FrameworkID, agent AgentID, role string, from, to core.Resources) error

	// SetWeight sets a role's weight (default 1).
	SetWeight(role string, weight float64) error
	// SetQuota sets a role's quota; a zero Quota removes it. Offers that
	// push the role past a lowered limit are rescinded.
	SetQuota(role string, q Quota) error

	// Sweep is one periodic allocation run: it expires filters and offers,
	// offers whatever is free and unfiltered, and rescinds offers for starved
	// frameworks.
	Sweep()

	// Stats returns counters about the allocator's work.
	Stats() Stats
	// Snapshot returns a consistent copy of the allocator's state, for
	// invariant checks, tests and operator endpoints. It is not cheap.
	Snapshot() Snapshot
}

// Stats counts what an allocator did.
type Stats struct {
	Agents, Frameworks int
	OutstandingOffers  int
	Offers             uint64 // offers made since start
	Rescinds           uint64
	Revocations        uint64
	Sweeps             uint64
	FiltersActive      int
}

// AgentState is an agent's part of a Snapshot.
type AgentState struct {
	Info        AgentInfo
	Active      bool
	Total       core.Resources // Info.Total plus revocable slack
	Allocations []Allocation   // accepted allocations, offers excluded
	Offers      []Offer
	// Filters lists the active decline filters on this agent.
	Filters []FilterState
}

// FilterState is one active decline filter.
type FilterState struct {
	Framework FrameworkID
	Role      string
	Resources core.Resources
	Created   time.Time
	Expires   time.Time
}

// FrameworkState is a framework's part of a Snapshot.
type FrameworkState struct {
	Info   FrameworkInfo
	Active bool
}

// Snapshot is a copy of an allocator's state.
type Snapshot struct {
	Agents     []AgentState     // sorted by ID
	Frameworks []FrameworkState // sorted by ID
	Weights    map[string]float64
	Quotas     map[string]Quota
}
