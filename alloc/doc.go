// Package alloc is meseta's allocator: it decides which framework is
// offered which resources on which agent. It is pure: no I/O, no goroutines
// of its own outside a call, and time comes from an injected Clock. The
// master feeds it events through the [Allocator] interface and drains its
// decisions (offers, rescinds, revocations) from a [Sink].
//
// Two engines implement the interface:
//
//   - [Sharded], the production engine: agents are spread over lock-sharded
//     shards, the DRF ordering is kept incrementally in btrees, and every
//     event that frees or adds resources allocates them at once.
//   - [Reference], a deliberately simple single-threaded engine that follows
//     Mesos's hierarchical allocator: a periodic full sweep over shuffled
//     agents, sorting roles and then frameworks for each agent. It is the
//     oracle of the randomized tests and the baseline of every benchmark.
//
// # Allocation semantics (both engines)
//
// Glossary. An agent's free resources are its total (plus revocable slack)
// minus its allocations and outstanding offers. Offered resources count as
// allocated for DRF shares and quota consumption; Accept only moves them from
// "offered" to "allocated". A framework-role pair is a candidate when the
// framework is active and has not suppressed the role.
//
// For one agent, the allocator repeatedly picks the best candidate and
// offers it everything it may take, until no candidate is left or nothing
// offerable remains. (The sharded engine works through a batch of agents in
// rounds, one pick per agent per round, so an agent's leftovers wait for the
// other agents' first picks: in a pass over all shards, every agent of a
// shard gets its first pick before any gets its second. The reference
// finishes each agent first.) A
// candidate may take, on agent a:
//
//   - the free resources allocatable to its role (unreserved, or reserved for
//     the role or one of its ancestors); revocable ones only with
//     REVOCABLE_RESOURCES; shared ones (shared persistent volumes, free
//     however many tasks use them) only with SHARED_RESOURCES (shared.go);
//   - nothing at all when the framework asks for checkpointing and a does not
//     checkpoint, or when a has GPUs and the framework lacks GPU_RESOURCES
//     (unless Options.OfferGPUsToAll);
//   - nothing when a decline filter of (framework, role, a) is active and its
//     resources contain what would be offered;
//   - unreserved scalars capped by the quota limits of the role and its
//     ancestors (limit minus consumption), and by the headroom rule below;
//   - and only when the result meets one of the min_allocatable alternatives
//     (the framework's own for the role, else Options.MinAllocatable).
//
// Order. Stage one serves roles whose quota guarantee is not met, lowest
// quota share first (consumption over guarantee, the max over named
// resources); a stage-one offer carries guaranteed scalars only up to the
// unmet amount. Stage two walks the role tree: at each level the child
// with the lowest weighted dominant share first (ties by name, then the
// self entry first); a role that has frameworks and sub-roles competes with
// its own sub-roles as a "self" entry, whose share is its own frameworks'
// allocation, unweighted (Mesos's virtual leaf "role/." has no weight of
// its own); within a role, frameworks by their dominant share in that role
// (ties by ID). A dominant share is the max over scalar names, except
// Options.ExcludedFromShares, of allocation over cluster total; a role's
// share covers its whole subtree and is divided by its weight. Revocable
// resources count neither for shares nor for quota.
//
// Quota. A role's consumption is its subtree's unreserved non-revocable
// scalar allocations plus every reservation made for a role in the subtree
// (allocated or not). Headroom: let required be the sum over roles of their
// unmet guarantees and available the free unreserved non-revocable scalars
// of all active agents; an offer to role R may carry at most
// max(0, available-required) + unmet(R) of each name that any role
// guarantees.
//
// Filters. Decline and Recover with refuse > 0 install a filter on
// (framework, role, agent) holding the refused resources until now+refuse.
// A later filter for the same key replaces the earlier one. Revive clears
// all of the framework's filters (for the revived roles).
//
// Rescinds. Sweep rescinds offers older than Options.OfferTimeout. It then
// looks for starved candidates. A candidate's fair share is its role's
// weight over the sum of the weights of all roles that have candidates,
// split evenly among the role's candidates. A candidate is starved when it
// got no offer since the previous sweep began, has no decline filter
// running, and its dominant share (unweighted, against the exact totals) is
// below its fair share or its nearest guaranteed role has an unmet
// guarantee. For each starved candidate in turn (by framework ID, then
// role), the sweep rescinds one outstanding offer, among those the starved
// candidate is not barred from by the checkpoint, GPU and reservation
// rules, of the candidate furthest above its fair share at that moment
// (ties: oldest offer first), and allocates that agent again at once,
// offering the victim nothing from it in that step; at most
// Options.MaxStarvationRescinds per sweep. Offers are also rescinded
// when their agent or framework goes away or is deactivated, when their role
// is suppressed, when a lowered quota limit is exceeded, and when an agent's
// total or slack shrinks below them.
//
// Revocation. An agent's oversubscribed slack is offered, marked revocable,
// to REVOCABLE_RESOURCES frameworks. When UpdateOversubscribed shrinks the
// slack below what is offered and allocated as revocable, revocable offers
// are rescinded first, then revocable allocations are revoked (newest
// framework ID first, so the choice is deterministic) until the rest fits.
//
// # The sharded engine
//
// State is split by owner. Shards (picked by xxhash of the agent ID) own
// their agents: resources, allocations, outstanding offers, decline
// filters. The engine's mu owns everything that spans agents: frameworks,
// the role tree and its DRF ordering (google/btree indexes keyed by share,
// updated in place as each offer is charged), cluster totals and quota
// accounting. See the Sharded type for the design and what was measured.
//
// Lock order: a shard's mu before the engine's mu; several shards only in
// increasing index order (snapshots, starvation and quota rescinds), and
// never a shard's mu while holding the engine's mu. The name table's lock
// is a leaf. Methods named ...Locked need the engine's mu; methods named
// ...ShardLocked, or taking a *shard first, need that shard's mu.
//
// The engine's mu is a sync.RWMutex. Everything that changes engine state
// holds it for writing. One path holds it for reading only: a Recover or
// Decline without a filter whose resources the pick hands straight back to
// the same framework-role (a task ended; its framework is still the
// furthest below its share), when no quota is set and the framework's role
// and its ancestors are alone in their orders. Then nothing the engine's
// mu guards changes at all, and the pick only reads (its writes are quota
// memos), so such events on different shards run in parallel
// (Sharded.foldShared). While no writer is about, such a read does not even
// take the read lock: it flags its own shard, and a writer clears the
// engine's read bias and waits for flagged shards (Sharded.bias).
//
// Fairness error. Every pick is atomic under the engine's mu, so no two
// picks act on the same stale share. Concurrent API calls on different
// shards allocate at once, so which agent a candidate's turn lands on
// depends on their interleaving: with k calls allocating concurrently, a
// framework can be up to k-1 offers (each at most one agent's free
// resources) ahead of or behind the order a serial run would give. Sweeps
// pick for the shards one after another (a second goroutine only records
// the offers) and add no error of their own. A Recover settled under the
// read lock (see above) changes no share, so it adds none either. Shares
// are keyed against a snapshot of the cluster totals that is refreshed
// when any total moves by more than 1%, so a key can be off by up to 1% of
// the share; the exact totals are used for quota and starvation.
package alloc
