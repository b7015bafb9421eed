package alloc

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meseta/core"
)

// The scenarios below mostly run with incremental allocation on: then
// AddAgent allocates only the new agent, so the order of events fixes the
// order of picks and the tests can spell out every offer. The arithmetic
// behind each expectation is in the comments. Every step of every test
// checks CheckInvariants and the engine's own accounting (refHarness.step).

// refHarness drives one Reference.
type refHarness struct {
	t    *testing.T
	clk  *fakeClock
	a    *Reference
	opts Options

	mu    sync.Mutex
	out   Output
	calls int // Sink calls during the current step
}

func newRefHarness(t *testing.T, opts Options) *refHarness {
	t.Helper()
	h := &refHarness{t: t, clk: newFakeClock()}
	opts.Clock = h.clk
	opts.Sink = h.sink
	h.opts = opts
	a, err := NewReference(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	return h
}

func (h *refHarness) sink(o Output) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	h.out.Offers = append(h.out.Offers, o.Offers...)
	h.out.Rescinds = append(h.out.Rescinds, o.Rescinds...)
	h.out.Revocations = append(h.out.Revocations, o.Revocations...)
}

// step ends a step: it checks the invariants, the accounting and that the
// Sink was called at most once, and returns what the step emitted, one
// decision a line (rescinds, then revocations, then offers).
func (h *refHarness) step() []string {
	h.t.Helper()
	snap := h.a.Snapshot()
	if err := CheckInvariants(snap, h.opts.OfferGPUsToAll); err != nil {
		h.t.Fatalf("invariants: %v", err)
	}
	if err := checkQuotaLimits(snap); err != nil {
		h.t.Fatalf("quota limits: %v", err)
	}
	if err := h.a.checkAccounting(); err != nil {
		h.t.Fatalf("accounting: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls > 1 {
		h.t.Fatalf("the Sink was called %d times in one call", h.calls)
	}
	out := h.out
	h.out, h.calls = Output{}, 0
	var lines []string
	for _, r := range out.Rescinds {
		lines = append(lines, fmt.Sprintf("rescind o%d (%s)", r.Offer.ID, r.Reason))
	}
	for _, r := range out.Revocations {
		lines = append(lines, fmt.Sprintf("revoke %s/%s on %s: %s", r.Framework, r.Role, r.Agent, r.Resources))
	}
	for _, o := range out.Offers {
		lines = append(lines, fmt.Sprintf("offer o%d: %s/%s on %s: %s", o.ID, o.Framework, o.Role, o.Agent, o.Resources))
	}
	return lines
}

// ok checks that a call succeeded and ends the step.
func (h *refHarness) ok(err error) []string {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("unexpected error: %v", err)
	}
	return h.step()
}

// want checks a step's output.
func (h *refHarness) want(got []string, want ...string) {
	h.t.Helper()
	if !slices.Equal(got, want) {
		h.t.Fatalf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// sweep runs a Sweep and ends the step.
func (h *refHarness) sweep() []string {
	h.t.Helper()
	h.a.Sweep()
	return h.step()
}

// fails checks that f fails with target and changes nothing.
func (h *refHarness) fails(target error, f func() error) {
	h.t.Helper()
	before := h.a.Snapshot()
	stats := h.a.Stats()
	err := f()
	if !errors.Is(err, target) {
		h.t.Fatalf("error %v, want %v", err, target)
	}
	if after := h.a.Snapshot(); !reflect.DeepEqual(before, after) {
		h.t.Fatalf("a failed call (%v) changed the state:\nbefore %+v\nafter  %+v", err, before, after)
	}
	if after := h.a.Stats(); after != stats {
		h.t.Fatalf("a failed call (%v) changed the stats: %+v -> %+v", err, stats, after)
	}
	if lines := h.step(); len(lines) > 0 {
		h.t.Fatalf("a failed call (%v) emitted %v", err, lines)
	}
}

func (h *refHarness) addFramework(id FrameworkID, roles ...string) {
	h.t.Helper()
	info := FrameworkInfo{ID: id, Roles: roles}
	if len(roles) > 1 {
		info.Capabilities = MultiRole
	}
	h.want(h.ok(h.a.AddFramework(info)))
}

func (h *refHarness) agent(id AgentID) AgentState {
	h.t.Helper()
	for _, a := range h.a.Snapshot().Agents {
		if a.Info.ID == id {
			return a
		}
	}
	h.t.Fatalf("no agent %s", id)
	return AgentState{}
}

func refRes(text string) core.Resources { return core.MustParseResources(text) }

func refQuant(text string) core.Quantities {
	q, err := core.ParseQuantities(text)
	if err != nil {
		panic(err)
	}
	return q
}

func refAgentInfo(id AgentID, total string) AgentInfo {
	return AgentInfo{ID: id, Total: refRes(total), Checkpoint: true}
}

// checkAccounting recomputes, from the plain state, everything the engine
// keeps as a running sum or a cache, and the links between its maps.
func (r *Reference) checkAccounting() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	held := map[refKey]refHeld{}
	add := func(k refKey, rs core.Resources) {
		h := held[k]
		h.counted, h.unreserved = h.counted.Add(quotaCounted(rs)), h.unreserved.Add(unreservedCounted(rs))
		held[k] = h
	}
	offers := 0
	for id, a := range r.agents {
		if a.info.ID != id {
			errs = append(errs, fmt.Errorf("agent %s filed as %s", a.info.ID, id))
		}
		for k, rs := range a.allocs {
			if rs.IsEmpty() {
				errs = append(errs, fmt.Errorf("agent %s: empty allocation of %v", id, k))
			}
			add(k, rs)
		}
		if !slices.IsSorted(a.offers) || len(slices.Compact(slices.Clone(a.offers))) != len(a.offers) {
			errs = append(errs, fmt.Errorf("agent %s: offers %v not in ID order", id, a.offers))
		}
		for _, oid := range a.offers {
			o, ok := r.offers[oid]
			if !ok || o.Agent != id {
				errs = append(errs, fmt.Errorf("agent %s lists offer %d, which is not its", id, oid))
				continue
			}
			offers++
			add(refKey{o.Framework, o.Role}, o.Resources)
			if r.void(o) {
				errs = append(errs, fmt.Errorf("offer %d is void but outstanding", oid))
			}
			if o.ID > r.lastID {
				errs = append(errs, fmt.Errorf("offer %d is beyond the last ID %d", oid, r.lastID))
			}
		}
		if !refFits(a.total(), r.parts(a)...) {
			errs = append(errs, fmt.Errorf("agent %s: allocations and offers do not fit in %s", id, a.total()))
		}
		if !a.active && len(a.offers) > 0 {
			errs = append(errs, fmt.Errorf("inactive agent %s has offers", id))
		}
	}
	if offers != len(r.offers) {
		errs = append(errs, fmt.Errorf("%d offers filed by agents, %d in all", offers, len(r.offers)))
	}
	for k := range held {
		if h := held[k]; h.counted.IsEmpty() && h.unreserved.IsEmpty() {
			delete(held, k)
		}
	}
	if !reflect.DeepEqual(held, r.held) {
		errs = append(errs, fmt.Errorf("held is %v, recomputed %v", r.held, held))
	}
	if cached := r.sums; cached != nil {
		r.sums = nil
		fresh := r.clusterSums()
		r.sums = cached
		if !reflect.DeepEqual(cached, fresh) {
			errs = append(errs, fmt.Errorf("cached sums %+v, recomputed %+v", cached, fresh))
		}
	}
	return errors.Join(errs...)
}

// TestReferenceDRF: dominant shares decide within a role, weighted shares
// between roles.
func TestReferenceDRF(t *testing.T) {
	// Agent u (cpus:4;mem:4096) is fully used by f1 and f2; agent v, the
	// same size, is then offered, whole, to the framework with the lower
	// dominant share. Totals: cpus:8;mem:8192.
	//   f1 holds cpus:3;mem:512:  max(3/8, 512/8192)  = max(0.375, 0.0625) = 0.375
	//   f2 holds cpus:1;mem:3584: max(1/8, 3584/8192) = max(0.125, 0.4375) = 0.4375
	// f1 has the lower share although it holds more cpus. With mem
	// excluded from shares, f2's share is 0.125 and f2 wins.
	for _, tc := range []struct {
		name     string
		excluded []string
		want     string
	}{
		{"dominant", nil, "offer o1: f1/r on v: cpus:4;mem:4096"},
		{"mem-excluded", []string{core.Mem}, "offer o1: f2/r on v: cpus:4;mem:4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRefHarness(t, Options{ExcludedFromShares: tc.excluded})
			h.addFramework("f1", "r")
			h.addFramework("f2", "r")
			u := refAgentInfo("u", "cpus:4;mem:4096")
			u.Used = []Allocation{
				{Framework: "f1", Role: "r", Resources: refRes("cpus:3;mem:512")},
				{Framework: "f2", Role: "r", Resources: refRes("cpus:1;mem:3584")},
			}
			h.want(h.ok(h.a.AddAgent(u)))
			h.want(h.ok(h.a.AddAgent(refAgentInfo("v", "cpus:4;mem:4096"))), tc.want)
		})
	}

	t.Run("weights", func(t *testing.T) {
		// Role a has weight 2, role b weight 1; agents of cpus:1;mem:1024
		// come one at a time. With n agents the shares are a: n_a/n/2 and
		// b: n_b/n, so the agent goes to the lower of n_a/2 and n_b (ties
		// by role name: a).
		//   a1: a 0     b 0  -> a (tie)   n_a=1
		//   a2: a 0.5   b 0  -> b         n_b=1
		//   a3: a 0.5   b 1  -> a         n_a=2
		//   a4: a 1     b 1  -> a (tie)   n_a=3
		//   a5: a 1.5   b 1  -> b         n_b=2
		//   a6: a 1.5   b 2  -> a         n_a=4
		// a holds twice b's resources: weighted shares 4/6/2 = 2/6 = 1/3 each.
		h := newRefHarness(t, Options{})
		h.want(h.ok(h.a.SetWeight("a", 2)))
		h.addFramework("fa", "a")
		h.addFramework("fb", "b")
		var got []string
		for i := 1; i <= 6; i++ {
			got = append(got, h.ok(h.a.AddAgent(refAgentInfo(AgentID(fmt.Sprint("a", i)), "cpus:1;mem:1024")))...)
		}
		h.want(got,
			"offer o1: fa/a on a1: cpus:1;mem:1024",
			"offer o2: fb/b on a2: cpus:1;mem:1024",
			"offer o3: fa/a on a3: cpus:1;mem:1024",
			"offer o4: fa/a on a4: cpus:1;mem:1024",
			"offer o5: fb/b on a5: cpus:1;mem:1024",
			"offer o6: fa/a on a6: cpus:1;mem:1024",
		)
	})
}

// TestReferenceNestedRoles: the role tree is sorted level by level; a role
// with frameworks of its own competes with its sub-roles as a "self"
// entry, which holds only the role's own frameworks' allocation and is
// not weighted (as Mesos's virtual "." leaf).
func TestReferenceNestedRoles(t *testing.T) {
	// Frameworks fe (eng), fml (eng/ml), fweb (eng/web), fops (ops);
	// agents of cpus:1;mem:1024 one at a time. Shares are proportional to
	// the number of agents held (n), so compare counts.
	for _, tc := range []struct {
		name      string
		engWeight float64
		want      []string // framework per agent
	}{
		// Weight 1. Top level: eng's subtree vs ops; inside eng: self (fe)
		// vs eng/ml vs eng/web.
		//   a1: eng 0 = ops 0 -> eng; self 0 = ml 0 = web 0 -> self  fe
		//   a2: eng 1 > ops 0 -> ops                                 fops
		//   a3: eng 1 = ops 1 -> eng; self 1, ml 0 = web 0 -> ml    fml
		//   a4: eng 2 > ops 1 -> ops                                 fops
		//   a5: eng 2 = ops 2 -> eng; self 1, ml 1, web 0 -> web     fweb
		//   a6: eng 3 > ops 2 -> ops                                 fops
		//   a7: eng 3 = ops 3 -> eng; all 1 -> self                  fe
		//   a8: eng 4 > ops 3 -> ops                                 fops
		{"flat", 1, []string{"fe", "fops", "fml", "fops", "fweb", "fops", "fe", "fops"}},
		// eng weighs 2: eng's subtree share is n_eng/2 against ops's
		// n_ops; the self entry is still unweighted.
		//   a1: eng 0   = ops 0 -> eng; self first (tie)            fe
		//   a2: eng 0.5 > ops 0 -> ops                               fops
		//   a3: eng 0.5 < ops 1 -> eng; self 1, ml 0 = web 0 -> ml   fml
		//   a4: eng 1   = ops 1 -> eng; self 1, ml 1, web 0 -> web   fweb
		//   a5: eng 1.5 > ops 1 -> ops                               fops
		//   a6: eng 1.5 < ops 2 -> eng; all 1 -> self                fe
		//   a7: eng 2   = ops 2 -> eng; self 2 > ml 1 = web 1 -> ml  fml
		// (were the self entry weighted by eng's 2, it would tie with ml
		// and web at 1 and win a7 by name).
		//   a8: eng 2.5 > ops 2 -> ops                               fops
		{"eng-weight-2", 2, []string{"fe", "fops", "fml", "fweb", "fops", "fe", "fml", "fops"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRefHarness(t, Options{})
			h.want(h.ok(h.a.SetWeight("eng", tc.engWeight)))
			h.addFramework("fe", "eng")
			h.addFramework("fml", "eng/ml")
			h.addFramework("fweb", "eng/web")
			h.addFramework("fops", "ops")
			var got, want []string
			for i, fw := range tc.want {
				id := AgentID(fmt.Sprint("a", i+1))
				got = append(got, h.ok(h.a.AddAgent(refAgentInfo(id, "cpus:1;mem:1024")))...)
				role := map[string]string{"fe": "eng", "fml": "eng/ml", "fweb": "eng/web", "fops": "ops"}[fw]
				want = append(want, fmt.Sprintf("offer o%d: %s/%s on %s: cpus:1;mem:1024", i+1, fw, role, id))
			}
			h.want(got, want...)
		})
	}
}

// TestReferenceQuota: guarantees are served first (stage one, up to the
// unmet amount), limits are never exceeded, lowering a limit rescinds the
// newest offers, and the headroom for unmet guarantees is held back.
func TestReferenceQuota(t *testing.T) {
	t.Run("guarantee-and-limit", func(t *testing.T) {
		// q: guarantee cpus:3, limit cpus:4. free has no quota (and its
		// name sorts first). Agents of cpus:2;mem:2048 one at a time.
		h := newRefHarness(t, Options{})
		h.want(h.ok(h.a.SetQuota("q", Quota{Guarantee: refQuant("cpus:3"), Limit: refQuant("cpus:4")})))
		h.addFramework("fq", "q")
		h.addFramework("ff", "free")
		// a1: stage one, q unmet cpus:3. Caps on cpus: guarantee 3, limit
		// 4-0 = 4, headroom max(0, 2-3) + 3 = 3: all 2 cpus, and the
		// memory, which no quota names.
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:2;mem:2048"))), "offer o1: fq/q on a1: cpus:2;mem:2048")
		// a2: stage one, q unmet cpus:1: cpus capped at 1. q's guarantee is
		// met; a2's last cpu goes to ff in stage two (fq had its pick).
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a2", "cpus:2;mem:2048"))),
			"offer o2: fq/q on a2: cpus:1;mem:2048",
			"offer o3: ff/free on a2: cpus:1")
		// a3: totals cpus:6;mem:6144. ff max(1/6, 0) = 0.17 < fq max(3/6,
		// 4096/6144) = 0.67 -> ff.
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a3", "cpus:2;mem:2048"))), "offer o4: ff/free on a3: cpus:2;mem:2048")
		// a4: totals cpus:8;mem:8192. ff max(3/8, 2048/8192) = 0.375 <
		// fq max(3/8, 4096/8192) = 0.5 -> ff.
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a4", "cpus:2;mem:2048"))), "offer o5: ff/free on a4: cpus:2;mem:2048")
		// ff declines a4 for an hour: fq may have a4, but only up to its
		// limit: cpus 4-3 = 1. ff is filtered from the last cpu.
		h.want(h.ok(h.a.Decline(5, time.Hour)), "offer o6: fq/q on a4: cpus:1;mem:2048")
		// Nothing more for q: its consumption is at its limit.
		h.want(h.sweep())
		// Lowering the limit to cpus:3 rescinds q's newest offer (o6); a4's
		// memory then goes back to fq, but no cpus (limit 3 - 3 = 0).
		h.want(h.ok(h.a.SetQuota("q", Quota{Guarantee: refQuant("cpus:3"), Limit: refQuant("cpus:3")})),
			"rescind o6 (quota-limit)",
			"offer o7: fq/q on a4: mem:2048")
		h.want(h.sweep())
		// A zero quota removes it: fq may have a4's cpus again.
		h.want(h.ok(h.a.SetQuota("q", Quota{})), "offer o8: fq/q on a4: cpus:2")
		if _, ok := h.a.Snapshot().Quotas["q"]; ok {
			t.Fatal("a zero quota is still listed")
		}
	})

	t.Run("headroom", func(t *testing.T) {
		// Two agents of cpus:2;mem:2048 and role g guaranteed cpus:3 with
		// no framework yet: required = cpus:3 of the 4 available.
		h := newRefHarness(t, Options{DisableIncremental: true})
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:2;mem:2048"))))
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a2", "cpus:2;mem:2048"))))
		h.want(h.ok(h.a.SetQuota("g", Quota{Guarantee: refQuant("cpus:3")})))
		h.addFramework("ff", "free")
		// First agent (whichever the shuffle picks): ff may have
		// max(0, 4-3) + 0 = 1 cpu. Second: max(0, 3-3) = 0 cpus, so only
		// the memory.
		h.sweep()
		refCheckHeld(t, h, "ff", "cpus:1;mem:4096")
		// fg joins g: stage one gives it the 3 cpus held back (its unmet
		// guarantee counts on top of the zero surplus).
		h.addFramework("fg", "g")
		h.sweep()
		refCheckHeld(t, h, "fg", "cpus:3")
	})

	t.Run("reservations-count", func(t *testing.T) {
		// A reservation counts towards its role's consumption whether or
		// not it is allocated: eng's static cpus(eng):2 meet its guarantee
		// of cpus:2, so eng gets no stage-one priority, and count against
		// its limit of cpus:3, so fe may take only 1 unreserved cpu.
		h := newRefHarness(t, Options{})
		h.want(h.ok(h.a.SetQuota("eng", Quota{Guarantee: refQuant("cpus:2"), Limit: refQuant("cpus:3")})))
		h.addFramework("fe", "eng")
		h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:4;cpus(eng):2;mem:1024"))),
			"offer o1: fe/eng on a1: cpus:1;cpus(eng):2;mem:1024")
		// Raising the eng reservation on a1 by UpdateAgentTotal pushes eng
		// over its limit (reserved 4 + offered 1 > 3): the offer with
		// unreserved cpus is rescinded (eng stays over: its reservations
		// alone exceed the limit), and fe is offered the reservations and
		// the memory, which the limit does not cap, but no unreserved cpus.
		h.want(h.ok(h.a.UpdateAgentTotal("a1", refRes("cpus:2;cpus(eng):4;mem:1024"))),
			"rescind o1 (quota-limit)",
			"offer o2: fe/eng on a1: cpus(eng):4;mem:1024")
	})
}

// refCheckHeld checks what a framework is offered and allocated in all.
func refCheckHeld(t *testing.T, h *refHarness, fw FrameworkID, want string) {
	t.Helper()
	var got core.Resources
	for _, a := range h.a.Snapshot().Agents {
		for _, o := range a.Offers {
			if o.Framework == fw {
				got = got.Add(o.Resources)
			}
		}
		for _, al := range a.Allocations {
			if al.Framework == fw {
				got = got.Add(al.Resources)
			}
		}
	}
	if !got.Equal(refRes(want)) {
		t.Fatalf("%s holds %s, want %s", fw, got, want)
	}
}

// TestReferenceReservations: reserved resources go only to their role and
// its sub-roles.
func TestReferenceReservations(t *testing.T) {
	// Roles "*" < "api" < "web" sort in that order. The agent's cpus(web)
	// and disk(web) may go to web/x only.
	h := newRefHarness(t, Options{})
	h.addFramework("fstar", "*")
	h.addFramework("fapi", "api")
	h.addFramework("fx", "web/x")
	// Pick 1: all shares 0, "*" first: fstar takes the unreserved part.
	// Pick 2: fapi is next (share 0) but nothing unreserved is left; fx
	// takes the reservations.
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:1;mem:1024;cpus(web):2;disk(web):100"))),
		"offer o1: fstar/* on a1: cpus:1;mem:1024",
		"offer o2: fx/web/x on a1: cpus(web):2;disk(web):100")
	h.want(h.ok(h.a.Accept(2)))
	// Recovered reserved resources go back to fx alone.
	h.want(h.ok(h.a.Recover("fx", "a1", "web/x", refRes("cpus(web):2"), 0)), "offer o3: fx/web/x on a1: cpus(web):2")
	// fx accepts and reserves its disk(web) further, for web/x (a dynamic
	// reservation refining the static one): the agent's total changes the
	// same way.
	h.want(h.ok(h.a.Accept(3)))
	web := core.Reservation{Type: core.Dynamic, Role: "web/x", Principal: "ops"}
	from := refRes("disk(web):100")
	to := from.Reserve(web)
	h.want(h.ok(h.a.UpdateAllocation("fx", "a1", "web/x", from, to)))
	a := h.agent("a1")
	if !a.Info.Total.Contains(to) || a.Info.Total.Contains(from) {
		t.Fatalf("the total did not change with the allocation: %s", a.Info.Total)
	}
}

// TestReferenceFilters: a decline filter holds the refused resources for
// its framework-role on the agent until it expires, and only refuses
// offers within them.
func TestReferenceFilters(t *testing.T) {
	// Without starvation rescinds: f2, which declined before the first
	// sweep, would otherwise count as starved at the second.
	h := newRefHarness(t, Options{MaxStarvationRescinds: -1})
	h.addFramework("f1", "r")
	h.addFramework("f2", "r")
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:2;mem:2048"))), "offer o1: f1/r on a1: cpus:2;mem:2048")
	// f1 refuses for 10 s: f2 is next.
	h.want(h.ok(h.a.Decline(1, 10*time.Second)), "offer o2: f2/r on a1: cpus:2;mem:2048")
	filters := h.agent("a1").Filters
	if len(filters) != 1 || filters[0].Framework != "f1" || !filters[0].Expires.Equal(filters[0].Created.Add(10*time.Second)) {
		t.Fatalf("filters %+v", filters)
	}
	// f2 refuses too: nobody is left.
	h.want(h.ok(h.a.Decline(2, 10*time.Second)))
	h.clk.Advance(5 * time.Second)
	h.want(h.sweep())
	// At 10 s both filters have expired; f1 is first again (tie, by ID).
	h.clk.Advance(5 * time.Second)
	h.want(h.sweep(), "offer o3: f1/r on a1: cpus:2;mem:2048")
	if st := h.a.Stats(); st.FiltersActive != 0 {
		t.Fatalf("%d filters active", st.FiltersActive)
	}
	// Both refuse for an hour. The agent grows to cpus:3: the offer is no
	// longer within f1's filter (cpus:2;mem:2048), so f1 is offered again.
	h.want(h.ok(h.a.Decline(3, time.Hour)), "offer o4: f2/r on a1: cpus:2;mem:2048")
	h.want(h.ok(h.a.Decline(4, time.Hour)))
	h.want(h.ok(h.a.UpdateAgentTotal("a1", refRes("cpus:3;mem:2048"))), "offer o5: f1/r on a1: cpus:3;mem:2048")
	// Recover with a filter: f1 gives back cpus:1 for an hour; its new
	// filter (cpus:1) replaces the old one; f2 is still filtered (cpus:1
	// is within cpus:2;mem:2048).
	h.want(h.ok(h.a.Accept(5)))
	h.want(h.ok(h.a.Recover("f1", "a1", "r", refRes("cpus:1"), time.Hour)))
	if f := h.agent("a1").Filters; len(f) != 2 || !f[0].Resources.Equal(refRes("cpus:1")) {
		t.Fatalf("filters %+v", f)
	}
}

// TestReferenceSuppressRevive: suppressing rescinds and stops offers;
// reviving resumes them and clears the framework's filters.
func TestReferenceSuppressRevive(t *testing.T) {
	h := newRefHarness(t, Options{})
	h.addFramework("f1", "r")
	h.addFramework("f2", "r")
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:2;mem:2048"))), "offer o1: f1/r on a1: cpus:2;mem:2048")
	h.want(h.ok(h.a.Suppress("f1", nil)),
		"rescind o1 (suppressed)",
		"offer o2: f2/r on a1: cpus:2;mem:2048")
	h.want(h.ok(h.a.Decline(2, time.Hour)))
	h.want(h.sweep())
	// Reviving f2 clears its filter: f2 is offered again (f1 is still
	// suppressed).
	h.want(h.ok(h.a.Revive("f2", []string{"r"})), "offer o3: f2/r on a1: cpus:2;mem:2048")
	if f := h.agent("a1").Filters; len(f) != 0 {
		t.Fatalf("filters %+v", f)
	}
	h.want(h.ok(h.a.Revive("f1", nil)))
	if s := h.a.Snapshot().Frameworks[0].Info.Suppressed; len(s) != 0 {
		t.Fatalf("f1 still suppresses %v", s)
	}
}

// TestReferenceMinAllocatable: an offer must meet one alternative of the
// framework's min_allocatable for the role, else the allocator's.
func TestReferenceMinAllocatable(t *testing.T) {
	h := newRefHarness(t, Options{}) // default: cpus:0.01 | mem:32
	big := FrameworkInfo{ID: "fbig", Roles: []string{"r"}, MinAllocatable: map[string][]core.Quantities{"r": {refQuant("cpus:2")}}}
	ports := FrameworkInfo{ID: "fports", Roles: []string{"p"}, MinAllocatable: map[string][]core.Quantities{"p": {refQuant("ports:5")}}}
	h.want(h.ok(h.a.AddFramework(big)))
	h.want(h.ok(h.a.AddFramework(ports)))
	h.addFramework("fsmall", "r")
	// All shares are 0; role p sorts before r, and fbig before fsmall.
	// fports (p) needs ports:5 and ports:[1-3] counts 3; fbig needs
	// cpus:2; fsmall takes it all.
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:1;mem:1024;ports:[1-3]"))), "offer o1: fsmall/r on a1: cpus:1;mem:1024;ports:[1-3]")
	// ports:[1-10] counts 10 >= 5: fports takes everything.
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a2", "cpus:1;mem:1024;ports:[1-10]"))), "offer o2: fports/p on a2: cpus:1;mem:1024;ports:[1-10]")
	// Only disk: nobody meets cpus:0.01 or mem:32 (and not cpus:2 or
	// ports:5).
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a3", "disk:1000"))))
	// An empty list of alternatives for the role means anything will do.
	disk := FrameworkInfo{ID: "fdisk", Roles: []string{"d"}, MinAllocatable: map[string][]core.Quantities{"d": nil}}
	h.want(h.ok(h.a.AddFramework(disk)), "offer o3: fdisk/d on a3: disk:1000")
}

// TestReferenceCapabilities: agents that do not checkpoint are not offered
// to frameworks that ask for checkpointing; GPU agents only to
// GPU_RESOURCES frameworks unless OfferGPUsToAll.
func TestReferenceCapabilities(t *testing.T) {
	for _, toAll := range []bool{false, true} {
		t.Run(fmt.Sprintf("gpus-to-all=%v", toAll), func(t *testing.T) {
			h := newRefHarness(t, Options{OfferGPUsToAll: toAll})
			h.want(h.ok(h.a.AddFramework(FrameworkInfo{ID: "fcp", Roles: []string{"r"}, Checkpoint: true})))
			h.addFramework("fplain", "r")
			nocp := refAgentInfo("nocp", "cpus:1;mem:128")
			nocp.Checkpoint = false
			// fcp is first (tie, by ID) but asks for checkpointing.
			h.want(h.ok(h.a.AddAgent(nocp)), "offer o1: fplain/r on nocp: cpus:1;mem:128")
			gpu := h.ok(h.a.AddAgent(refAgentInfo("gpu", "cpus:8;mem:1024;gpus:2")))
			if !toAll {
				// Neither has GPU_RESOURCES.
				h.want(gpu)
				h.want(h.ok(h.a.AddFramework(FrameworkInfo{ID: "fgpu", Roles: []string{"r"}, Capabilities: GPUResources})),
					"offer o2: fgpu/r on gpu: cpus:8;mem:1024;gpus:2")
				// Dropping the capability voids the offer.
				h.want(h.ok(h.a.UpdateFramework(FrameworkInfo{ID: "fgpu", Roles: []string{"r"}})), "rescind o2 (suppressed)")
				return
			}
			// fcp's share is 0 < fplain's: fcp gets the GPU agent.
			h.want(gpu, "offer o2: fcp/r on gpu: cpus:8;mem:1024;gpus:2")
		})
	}
}

// TestReferenceRevocable: slack is offered, marked revocable, only to
// REVOCABLE_RESOURCES frameworks; when it shrinks, revocable offers are
// rescinded first and then revocable allocations revoked, newest
// framework ID first.
func TestReferenceRevocable(t *testing.T) {
	h := newRefHarness(t, Options{})
	h.addFramework("f1", "r")
	for _, id := range []FrameworkID{"f2", "f3"} {
		h.want(h.ok(h.a.AddFramework(FrameworkInfo{ID: id, Roles: []string{"r"}, Capabilities: RevocableResources})))
	}
	// f2 and f3 run on the agent's slack of cpus:4, cpus:2 each.
	a1 := refAgentInfo("a1", "cpus:2;mem:1024")
	a1.Oversubscribed = refRes("cpus:4")
	a1.Used = []Allocation{
		{Framework: "f2", Role: "r", Resources: refRevocable(refRes("cpus:2"))},
		{Framework: "f3", Role: "r", Resources: refRevocable(refRes("cpus:2"))},
	}
	// Revocable resources count for no share: all three are at 0, f1
	// first; it may not have revocable resources, and none are free.
	h.want(h.ok(h.a.AddAgent(a1)), "offer o1: f1/r on a1: cpus:2;mem:1024")
	// The slack grows to cpus:6: f2 (tie with f3, by ID) is offered the
	// new revocable cpus:2.
	h.want(h.ok(h.a.UpdateOversubscribed("a1", refRes("cpus:6"))), "offer o2: f2/r on a1: cpus{REV}:2")
	// It shrinks to cpus:3: revocable use is 2+2 allocated + 2 offered.
	// The offer goes first (6 -> 4, still over 3), then f3's allocation
	// (newest framework ID): 4 -> 2. The free cpus{REV}:1 is then offered
	// to f2 (f2 and f3 tie at share 0; by ID).
	h.want(h.ok(h.a.UpdateOversubscribed("a1", refRes("cpus:3"))),
		"rescind o2 (revocable-shrunk)",
		"revoke f3/r on a1: cpus{REV}:2",
		"offer o3: f2/r on a1: cpus{REV}:1")
	if st := h.a.Stats(); st.Revocations != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReferenceOfferTimeout: a sweep rescinds offers once they are
// OfferTimeout old.
func TestReferenceOfferTimeout(t *testing.T) {
	h := newRefHarness(t, Options{DisableIncremental: true, OfferTimeout: 30 * time.Second, MaxStarvationRescinds: -1})
	h.addFramework("f1", "r")
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:1;mem:128"))))
	h.want(h.sweep(), "offer o1: f1/r on a1: cpus:1;mem:128")
	h.clk.Advance(29 * time.Second)
	h.want(h.sweep())
	// 30 s old: rescinded, and offered again in the same sweep.
	h.clk.Advance(time.Second)
	h.want(h.sweep(), "rescind o1 (timeout)", "offer o2: f1/r on a1: cpus:1;mem:128")
	if st := h.a.Stats(); st.Offers != 2 || st.Rescinds != 1 || st.OutstandingOffers != 1 || st.Sweeps != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReferenceRemove: removing an agent or a framework rescinds its offers
// and frees its allocations; deactivating stops offers.
func TestReferenceRemove(t *testing.T) {
	h := newRefHarness(t, Options{})
	h.addFramework("f1", "r")
	h.addFramework("f2", "r")
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:1;mem:1024"))), "offer o1: f1/r on a1: cpus:1;mem:1024")
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a2", "cpus:1;mem:1024"))), "offer o2: f2/r on a2: cpus:1;mem:1024")
	h.want(h.ok(h.a.Accept(1)))
	// f1 and f2 both hold one agent of three: tie, f1 first.
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a3", "cpus:1;mem:1024"))), "offer o3: f1/r on a3: cpus:1;mem:1024")
	// Removing f1 rescinds o3 and frees a1: both go to f2 (in the
	// shuffled order of an allocation over every agent).
	got := h.ok(h.a.RemoveFramework("f1"))
	if len(got) != 3 || got[0] != "rescind o3 (framework-removed)" || !strings.Contains(strings.Join(got, "\n"), "f2/r on a1") {
		t.Fatalf("got %v", got)
	}
	for _, a := range h.a.Snapshot().Agents {
		for _, al := range a.Allocations {
			t.Fatalf("allocation left: %+v", al)
		}
	}
	// Deactivating an agent rescinds its offers; it is offered nothing
	// until activated again.
	h.want(h.ok(h.a.DeactivateAgent("a2")), "rescind o2 (agent-deactivated)")
	h.want(h.sweep())
	h.want(h.ok(h.a.ActivateAgent("a2")), "offer o6: f2/r on a2: cpus:1;mem:1024")
	// Deactivating a framework rescinds its offers too.
	got = h.ok(h.a.DeactivateFramework("f2"))
	slices.Sort(got)
	h.want(got, "rescind o4 (framework-deactivated)", "rescind o5 (framework-deactivated)", "rescind o6 (framework-deactivated)")
	// Reactivated, f2 is offered the three agents (in the shuffled order
	// of an allocation over every agent).
	got = h.ok(h.a.ActivateFramework("f2"))
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	// Removing an agent rescinds its offers and forgets its allocations.
	h.want(h.ok(h.a.Accept(7)))
	var victim AgentID
	for _, a := range h.a.Snapshot().Agents {
		for _, o := range a.Offers {
			if o.ID == 8 {
				victim = a.Info.ID
			}
		}
	}
	h.want(h.ok(h.a.RemoveAgent(victim)), "rescind o8 (agent-removed)")
	if st := h.a.Stats(); st.Agents != 2 || st.Frameworks != 1 || st.OutstandingOffers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReferenceStarvation: a candidate below its fair share that got
// nothing since the previous sweep began and refuses nothing makes the
// sweep rescind an offer of the candidate furthest above its fair share.
func TestReferenceStarvation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int
		want3 []string
	}{
		// hog holds both agents: share 1 against a fair share of 1/2 (one
		// role, weight 1 over a total weight of 1, split between two
		// candidates). late has share 0 < 1/2. hog's oldest offer, o1, is
		// rescinded and a1 is allocated at once without hog: late gets it.
		{"on", 0, []string{"rescind o1 (starvation)", "offer o3: late/r on a1: cpus:1;mem:1024"}},
		{"off", -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRefHarness(t, Options{MaxStarvationRescinds: tc.max})
			h.addFramework("hog", "r")
			h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:1;mem:1024"))), "offer o1: hog/r on a1: cpus:1;mem:1024")
			h.want(h.ok(h.a.AddAgent(refAgentInfo("a2", "cpus:1;mem:1024"))), "offer o2: hog/r on a2: cpus:1;mem:1024")
			h.addFramework("late", "r")
			// The first sweep ever has no previous sweep to count from.
			h.want(h.sweep())
			h.want(h.sweep(), tc.want3...)
			// Both at their fair share now, or starvation rescinds off.
			h.want(h.sweep())
			h.want(h.sweep())
		})
	}

	t.Run("filter-and-bound", func(t *testing.T) {
		// hog holds three agents; l1 and l2 arrive with nothing. Fair
		// shares are 1/3 each. MaxStarvationRescinds 1 allows one rescind
		// per sweep, and a filter running keeps a candidate from counting
		// as starved.
		h := newRefHarness(t, Options{MaxStarvationRescinds: 1})
		h.addFramework("hog", "r")
		for i := 1; i <= 3; i++ {
			h.ok(h.a.AddAgent(refAgentInfo(AgentID(fmt.Sprint("a", i)), "cpus:1;mem:1024")))
		}
		h.addFramework("l1", "r")
		h.addFramework("l2", "r")
		h.sweep()
		h.sweep()
		// At the second sweep both are starved; l1 comes first (by ID),
		// and gets a1 when hog's oldest offer (o1) is rescinded. The
		// bound is then reached: l2 waits.
		refCheckHeld(t, h, "l1", "cpus:1;mem:1024")
		refCheckHeld(t, h, "l2", "")
		// Next sweep: l1 was served since the previous sweep began; l2 is
		// starved (share 0 < 1/3) and hog (2/3 > 1/3) gives up o2.
		h.want(h.sweep(), "rescind o2 (starvation)", "offer o5: l2/r on a2: cpus:1;mem:1024")
		// l2 declines with a filter (a2 goes back to hog: hog and l1 tie
		// at 1/3, by ID): l2 is not starved while the filter runs,
		// although its share is 0 again.
		h.want(h.ok(h.a.Decline(5, time.Minute)), "offer o6: hog/r on a2: cpus:1;mem:1024")
		h.want(h.sweep())
		h.want(h.sweep())
	})
}

// TestReferenceAgentUpdates: UpdateAgentTotal rescinds offers, newest
// first, until the rest fits; UpdateAllocation changes the total the same
// way as the allocation.
func TestReferenceAgentUpdates(t *testing.T) {
	h := newRefHarness(t, Options{})
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:4;mem:4096"))))
	h.want(h.ok(h.a.AddFramework(FrameworkInfo{ID: "f1", Roles: []string{"r"},
		MinAllocatable: map[string][]core.Quantities{"r": nil}})), "offer o1: f1/r on a1: cpus:4;mem:4096")
	h.want(h.ok(h.a.Accept(1)))
	h.want(h.ok(h.a.Recover("f1", "a1", "r", refRes("cpus:2;mem:2048"), 0)), "offer o2: f1/r on a1: cpus:2;mem:2048")
	h.want(h.ok(h.a.Recover("f1", "a1", "r", refRes("cpus:1"), 0)), "offer o3: f1/r on a1: cpus:1")
	// Allocated cpus:1;mem:2048, offered cpus:3;mem:2048 (o2 cpus:2;
	// mem:2048, o3 cpus:1). Shrinking the total to cpus:2;mem:4096
	// rescinds o3 (newest): cpus 1+2 = 3 > 2 still, so o2 too. What is
	// left, cpus:1;mem:2048, is offered again.
	h.want(h.ok(h.a.UpdateAgentTotal("a1", refRes("cpus:2;mem:4096"))),
		"rescind o3 (agent-updated)", "rescind o2 (agent-updated)",
		"offer o4: f1/r on a1: cpus:1;mem:2048")
	// RESERVE part of the allocation: the total changes with it.
	from := refRes("cpus:1")
	to := from.Reserve(core.Reservation{Type: core.Dynamic, Role: "r", Principal: "ops"})
	h.want(h.ok(h.a.UpdateAllocation("f1", "a1", "r", from, to)))
	a := h.agent("a1")
	if want := refRes("cpus:1;mem:4096").Add(to); !a.Info.Total.Equal(want) || !a.Allocations[0].Resources.Equal(to.Add(refRes("mem:2048"))) {
		t.Fatalf("total %s, allocation %s", a.Info.Total, a.Allocations[0].Resources)
	}
}

// TestReferenceOutput: offer IDs count from 1, offers are stamped with the
// clock, the Sink is called once per call at most and never with the
// mutex held, and the snapshot is sorted.
func TestReferenceOutput(t *testing.T) {
	var a *Reference
	clk := newFakeClock()
	var got []Output
	a, err := NewReference(Options{Clock: clk, Sink: func(o Output) {
		got = append(got, o.Clone())
		_ = a.Stats() // the mutex is free
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []FrameworkID{"f2", "f1"} {
		if err := a.AddFramework(FrameworkInfo{ID: id, Roles: []string{"r"}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 0 {
		t.Fatalf("output without agents: %+v", got)
	}
	clk.Advance(time.Minute)
	for _, id := range []AgentID{"b", "a"} {
		if err := a.AddAgent(refAgentInfo(id, "cpus:1;mem:1024")); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0].Offers[0].ID != 1 || got[1].Offers[0].ID != 2 || !got[0].Offers[0].Created.Equal(clk.Now()) {
		t.Fatalf("got %+v", got)
	}
	snap := a.Snapshot()
	if snap.Agents[0].Info.ID != "a" || snap.Frameworks[0].Info.ID != "f1" || snap.Weights == nil || snap.Quotas == nil {
		t.Fatalf("snapshot %+v", snap)
	}
	// The snapshot shares nothing with the engine.
	snap.Agents[0].Offers[0].Resources[0].Scalar = 999
	snap.Frameworks[0].Info.Roles[0] = "changed"
	if again := a.Snapshot(); again.Agents[0].Offers[0].Resources[0].Scalar == 999 || again.Frameworks[0].Info.Roles[0] == "changed" {
		t.Fatal("the snapshot aliases the engine's state")
	}
	if _, err := NewReference(Options{}); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("no clock: %v", err)
	}
}

// TestReferenceErrors: bad arguments fail with the package errors and
// change nothing.
func TestReferenceErrors(t *testing.T) {
	h := newRefHarness(t, Options{})
	h.addFramework("f1", "r")
	h.want(h.ok(h.a.AddAgent(refAgentInfo("a1", "cpus:2;mem:2048;ports:[1-10]"))), "offer o1: f1/r on a1: cpus:2;mem:2048;ports:[1-10]")
	h.want(h.ok(h.a.Accept(1)))
	h.want(h.ok(h.a.Recover("f1", "a1", "r", refRes("cpus:1"), time.Hour)))
	h.want(h.ok(h.a.SetQuota("r", Quota{Guarantee: refQuant("cpus:1"), Limit: refQuant("cpus:4")})))

	revocable := refRevocable(refRes("cpus:1"))
	used := func(role, text string) AgentInfo {
		info := refAgentInfo("a2", "cpus:2;mem:2048;cpus(eng):1")
		info.Used = []Allocation{{Framework: "f1", Role: role, Resources: refRes(text)}}
		return info
	}
	for _, tc := range []struct {
		name string
		want error
		call func(a Allocator) error
	}{
		{"AddAgent duplicate", ErrDuplicateAgent, func(a Allocator) error { return a.AddAgent(refAgentInfo("a1", "cpus:1")) }},
		{"AddAgent empty id", ErrBadArgument, func(a Allocator) error { return a.AddAgent(refAgentInfo("", "cpus:1")) }},
		{"AddAgent bad total", ErrBadArgument, func(a Allocator) error {
			return a.AddAgent(AgentInfo{ID: "a2", Total: core.Resources{{Name: "cpus", Scalar: -1}}})
		}},
		{"AddAgent revocable total", ErrBadArgument, func(a Allocator) error { return a.AddAgent(AgentInfo{ID: "a2", Total: revocable}) }},
		{"AddAgent used too much", ErrBadArgument, func(a Allocator) error { return a.AddAgent(used("r", "cpus:3")) }},
		{"AddAgent used twice", ErrBadArgument, func(a Allocator) error {
			info := used("r", "ports:[1-2]")
			info.Total = refRes("cpus:1;ports:[1-5]")
			info.Used = append(info.Used, info.Used[0])
			return a.AddAgent(info)
		}},
		{"AddAgent used reserved elsewhere", ErrBadArgument, func(a Allocator) error { return a.AddAgent(used("ops", "cpus(eng):1")) }},
		{"AddAgent used bad role", ErrBadArgument, func(a Allocator) error { return a.AddAgent(used("a//b", "cpus:1")) }},
		{"UpdateAgentTotal unknown", ErrUnknownAgent, func(a Allocator) error { return a.UpdateAgentTotal("zz", refRes("cpus:1")) }},
		{"UpdateAgentTotal too small", ErrBadArgument, func(a Allocator) error { return a.UpdateAgentTotal("a1", refRes("cpus:0.5;mem:2048")) }},
		{"UpdateAgentTotal bad", ErrBadArgument, func(a Allocator) error { return a.UpdateAgentTotal("a1", core.Resources{{Name: ""}}) }},
		{"UpdateOversubscribed unknown", ErrUnknownAgent, func(a Allocator) error { return a.UpdateOversubscribed("zz", refRes("cpus:1")) }},
		{"ActivateAgent unknown", ErrUnknownAgent, func(a Allocator) error { return a.ActivateAgent("zz") }},
		{"DeactivateAgent unknown", ErrUnknownAgent, func(a Allocator) error { return a.DeactivateAgent("zz") }},
		{"RemoveAgent unknown", ErrUnknownAgent, func(a Allocator) error { return a.RemoveAgent("zz") }},
		{"AddFramework duplicate", ErrDuplicateFramework, func(a Allocator) error { return a.AddFramework(FrameworkInfo{ID: "f1", Roles: []string{"r"}}) }},
		{"AddFramework no roles", ErrBadArgument, func(a Allocator) error { return a.AddFramework(FrameworkInfo{ID: "f9"}) }},
		{"AddFramework bad role", ErrBadArgument, func(a Allocator) error { return a.AddFramework(FrameworkInfo{ID: "f9", Roles: []string{"-x"}}) }},
		{"AddFramework multi-role", ErrBadArgument, func(a Allocator) error { return a.AddFramework(FrameworkInfo{ID: "f9", Roles: []string{"a", "b"}}) }},
		{"AddFramework suppresses other", ErrBadArgument, func(a Allocator) error {
			return a.AddFramework(FrameworkInfo{ID: "f9", Roles: []string{"a"}, Suppressed: []string{"b"}})
		}},
		{"UpdateFramework unknown", ErrUnknownFramework, func(a Allocator) error { return a.UpdateFramework(FrameworkInfo{ID: "f9", Roles: []string{"r"}}) }},
		{"RemoveFramework unknown", ErrUnknownFramework, func(a Allocator) error { return a.RemoveFramework("f9") }},
		{"ActivateFramework unknown", ErrUnknownFramework, func(a Allocator) error { return a.ActivateFramework("f9") }},
		{"DeactivateFramework unknown", ErrUnknownFramework, func(a Allocator) error { return a.DeactivateFramework("f9") }},
		{"Suppress unknown", ErrUnknownFramework, func(a Allocator) error { return a.Suppress("f9", nil) }},
		{"Suppress other role", ErrBadArgument, func(a Allocator) error { return a.Suppress("f1", []string{"ops"}) }},
		{"Revive other role", ErrBadArgument, func(a Allocator) error { return a.Revive("f1", []string{"ops"}) }},
		{"Accept unknown", ErrUnknownOffer, func(a Allocator) error { return a.Accept(99) }},
		{"Accept again", ErrUnknownOffer, func(a Allocator) error { return a.Accept(1) }},
		{"Decline unknown", ErrUnknownOffer, func(a Allocator) error { return a.Decline(99, time.Second) }},
		{"Recover unknown agent", ErrUnknownAgent, func(a Allocator) error { return a.Recover("f1", "zz", "r", refRes("cpus:1"), 0) }},
		{"Recover more", ErrNotAllocated, func(a Allocator) error { return a.Recover("f1", "a1", "r", refRes("cpus:2"), 0) }},
		{"Recover port not held", ErrNotAllocated, func(a Allocator) error { return a.Recover("f1", "a1", "r", refRes("ports:[11-11]"), 0) }},
		{"Recover other role", ErrNotAllocated, func(a Allocator) error { return a.Recover("f1", "a1", "ops", refRes("cpus:1"), 0) }},
		{"Recover other framework", ErrNotAllocated, func(a Allocator) error { return a.Recover("f2", "a1", "r", refRes("cpus:1"), 0) }},
		{"Recover bad role", ErrBadArgument, func(a Allocator) error { return a.Recover("f1", "a1", "r/", refRes("cpus:1"), 0) }},
		{"Recover bad resources", ErrBadArgument, func(a Allocator) error {
			return a.Recover("f1", "a1", "r", core.Resources{{Name: "cpus", Scalar: -5}}, 0)
		}},
		{"UpdateAllocation quantities", ErrBadArgument, func(a Allocator) error {
			return a.UpdateAllocation("f1", "a1", "r", refRes("cpus:1"), refRes("cpus(r):2"))
		}},
		{"UpdateAllocation not held", ErrNotAllocated, func(a Allocator) error {
			return a.UpdateAllocation("f1", "a1", "r", refRes("cpus:2"), refRes("cpus(r):2"))
		}},
		{"UpdateAllocation not allocatable", ErrBadArgument, func(a Allocator) error {
			return a.UpdateAllocation("f1", "a1", "r", refRes("cpus:1"), refRes("cpus(ops):1"))
		}},
		{"UpdateAllocation revocable", ErrBadArgument, func(a Allocator) error {
			return a.UpdateAllocation("f1", "a1", "r", revocable, revocable)
		}},
		{"UpdateAllocation unknown agent", ErrUnknownAgent, func(a Allocator) error {
			return a.UpdateAllocation("f1", "zz", "r", refRes("cpus:1"), refRes("cpus(r):1"))
		}},
		{"SetWeight bad role", ErrBadArgument, func(a Allocator) error { return a.SetWeight("", 1) }},
		{"SetWeight zero", ErrBadArgument, func(a Allocator) error { return a.SetWeight("r", 0) }},
		{"SetWeight NaN", ErrBadArgument, func(a Allocator) error { return a.SetWeight("r", math.NaN()) }},
		{"SetQuota bad role", ErrBadArgument, func(a Allocator) error { return a.SetQuota("a b", Quota{}) }},
		{"SetQuota guarantee over limit", ErrBadArgument, func(a Allocator) error {
			return a.SetQuota("r", Quota{Guarantee: refQuant("cpus:2"), Limit: refQuant("cpus:1")})
		}},
		{"SetQuota unsorted", ErrBadArgument, func(a Allocator) error {
			return a.SetQuota("r", Quota{Limit: core.Quantities{{Name: "mem", Value: 1}, {Name: "cpus", Value: 1}}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.fails(tc.want, func() error { return tc.call(h.a) })
		})
	}
}

func newReferenceTarget() workloadTarget {
	return workloadTarget{Name: "reference", Build: func(o Options) (Allocator, error) { return NewReference(o) }}
}

// refWorkloadChecks checks the reference's own accounting after every step.
func refWorkloadChecks(t *testing.T) func(int, []*workloadEngine) {
	return func(step int, engines []*workloadEngine) {
		for _, e := range engines {
			if r, ok := e.A.(*Reference); ok {
				if err := r.checkAccounting(); err != nil {
					t.Errorf("step %d: %s: accounting: %v", step, e.Name, err)
				}
			}
		}
	}
}

// refWorkloadOptions are the option sets the randomized tests cycle through.
var refWorkloadOptions = []Options{
	{},
	{DisableIncremental: true, OfferTimeout: 30 * time.Second},
	{OfferTimeout: 10 * time.Second, MaxStarvationRescinds: 2, OfferGPUsToAll: true},
	{MinAllocatable: []core.Quantities{}, ExcludedFromShares: []string{core.GPUs}, MaxStarvationRescinds: -1},
}

// TestReferenceRandomInvariants runs the randomized workload against the
// reference under several option sets, checking the invariants and the
// engine's accounting after every step.
func TestReferenceRandomInvariants(t *testing.T) {
	seeds, steps := 12, 400
	if testing.Short() {
		seeds, steps = 4, 200
	}
	calls := map[string]*[2]int{}
	var offers, rescinds, revocations int
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cfg := workloadConfig{Seed: seed, Steps: steps, Options: refWorkloadOptions[seed%uint64(len(refWorkloadOptions))], Check: refWorkloadChecks(t)}
			r := runRandomWorkload(t, cfg, newReferenceTarget())
			for name, c := range r.Calls {
				if calls[name] == nil {
					calls[name] = new([2]int)
				}
				calls[name][0] += c[0]
				calls[name][1] += c[1]
			}
			e := r.Engines[0]
			offers, rescinds, revocations = offers+e.Offers, rescinds+e.Rescinds, revocations+e.Revocations
		})
	}
	if t.Failed() {
		return
	}
	// The workload reaches every call, both ways, and every kind of
	// decision.
	for _, name := range slices.Sorted(maps.Keys(calls)) {
		t.Logf("%-28s %4d ok %4d failed", name, calls[name][0], calls[name][1])
		if calls[name][0] == 0 || (calls[name][1] == 0 && name != "DeactivateAgent" && name != "DeactivateFramework") {
			t.Errorf("%s: %d succeeded, %d failed", name, calls[name][0], calls[name][1])
		}
	}
	if len(calls) != 19 || offers == 0 || rescinds == 0 || revocations == 0 {
		t.Errorf("%d kinds of calls, %d offers, %d rescinds, %d revocations", len(calls), offers, rescinds, revocations)
	}
	t.Logf("%d offers, %d rescinds, %d revocations", offers, rescinds, revocations)
}

// TestReferenceDeterministic runs two references with the same seed in
// lockstep: they must decide exactly alike.
func TestReferenceDeterministic(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cfg := workloadConfig{Seed: seed, Steps: 300, Options: refWorkloadOptions[seed]}
			cfg.Options.Seed = int64(seed)
			cfg.Check = func(step int, engines []*workloadEngine) {
				a, b := engines[0], engines[1]
				if !reflect.DeepEqual(a.Step, b.Step) {
					t.Errorf("step %d: outputs differ:\n%+v\n%+v", step, a.Step, b.Step)
				}
				if sa, sb := a.A.Snapshot(), b.A.Snapshot(); !reflect.DeepEqual(sa, sb) {
					t.Errorf("step %d: snapshots differ", step)
				}
			}
			ref := newReferenceTarget()
			twin := ref
			twin.Name = "twin"
			runRandomWorkload(t, cfg, ref, twin)
		})
	}
}
