package master

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// offerConn keeps a framework's outstanding offers and operation results.
type offerConn struct {
	offers map[string]mesos.Offer
	errors int
	seen   []mesos.Offer // every offer ever made
}

func (c *offerConn) Send(ev *mesos.Event) bool {
	switch {
	case ev.Offers != nil:
		for _, o := range ev.Offers.Offers {
			c.offers[o.ID.Value] = o
			c.seen = append(c.seen, o)
		}
	case ev.Rescind != nil:
		delete(c.offers, ev.Rescind.OfferID.Value)
	case ev.UpdateOperationStatus != nil && ev.UpdateOperationStatus.Status.State == mesos.OperationError:
		c.errors++
	}
	return true
}

func (c *offerConn) Close() {}

// TestReservationsRandomized: frameworks in roles a, a/x, b and c, and an
// operator, reserve and unreserve at random, launch and finish tasks,
// and decline; every offer ever made holds only resources its role may
// have (unreserved, or reserved for the role or an ancestor of it), and
// the cluster's quantities never change. At the end the operator
// unreserves everything and role c's framework is offered all of it.
func TestReservationsRandomized(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { reservationWorkload(t, seed) })
	}
}

func reservationWorkload(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	now := time.Unix(1_800_000_000, 0)
	m, err := New(Config{Info: mesos.MasterInfo{ID: "M"}}, registry.NewMemory(),
		func(o alloc.Options) (alloc.Allocator, error) { return alloc.NewSharded(o) }, alloc.Options{}, now)
	if err != nil {
		t.Fatal(err)
	}
	static := core.MustParseResources("cpus:8;mem:4096;disk:1000")
	var agents []string
	for i := range 4 {
		id, err := m.SubscribeAgent(nopAgentConn{}, &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
			AgentInfo: mesos.AgentInfo{Hostname: fmt.Sprintf("h%d", i), Resources: static}, Endpoint: "127.0.0.1:5051"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, id)
	}
	roles := []string{"a", "a/x", "b", "c"}
	type fw struct {
		id, stream, role string
		conn             *offerConn
	}
	var fws []*fw
	for _, role := range roles {
		c := &offerConn{offers: map[string]mesos.Offer{}}
		sub, err := m.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{
			FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: role, Role: role}}}, now)
		if err != nil {
			t.Fatal(err)
		}
		fws = append(fws, &fw{id: sub.FrameworkID, stream: sub.StreamID, role: role, conn: c})
	}
	call := func(f *fw, c *mesos.Call) {
		c.FrameworkID = &mesos.ID{Value: f.id}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := m.Call(c, f.stream, now); err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
	}
	zero := 0.0
	type running struct {
		f     *fw
		agent string
		id    string
	}
	var tasks []running
	for step := range 600 {
		now = now.Add(100 * time.Millisecond)
		if step%10 == 0 {
			m.Sweep(now)
		}
		if len(tasks) > 0 && rng.IntN(4) == 0 { // a task ends
			i := rng.IntN(len(tasks))
			r := tasks[i]
			tasks = append(tasks[:i], tasks[i+1:]...)
			m.AgentCalls([]agentapi.Call{{Type: agentapi.CallStatusUpdate, AgentID: &mesos.ID{Value: r.agent},
				StatusUpdate: &agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: r.f.id}, Status: mesos.TaskStatus{
					TaskID: mesos.ID{Value: r.id}, State: mesos.TaskFinished, Source: mesos.SourceExecutor,
					UUID: []byte(fmt.Sprintf("%016d", step))}}}}, now)
		}
		if rng.IntN(8) == 0 { // the operator
			ag := agents[rng.IntN(len(agents))]
			role := roles[rng.IntN(len(roles))]
			res := core.MustParseResources("cpus:1;disk:100").Reserve(core.Reservation{Type: core.Dynamic, Role: role, Principal: "ops"})
			kind := mesos.OpReserve
			if rng.IntN(2) == 0 {
				kind = mesos.OpUnreserve
			}
			_ = m.OperatorOperation(kind, ag, res, now) // refused when it does not fit: that is part of the test
		}
		f := fws[rng.IntN(len(fws))]
		var o mesos.Offer
		for _, o = range f.conn.offers {
			break
		}
		if o.ID.Value == "" {
			continue
		}
		delete(f.conn.offers, o.ID.Value)
		offered := o.Resources.Resources
		var ops []mesos.Operation
		switch rng.IntN(4) {
		case 0: // reserve part of what is unreserved
			if u := offered.Unreserved(); u.Contains(core.MustParseResources("cpus:1;disk:50")) {
				ops = append(ops, mesos.Operation{Type: mesos.OpReserve, Reserve: &mesos.ResourceOp{Resources: core.MustParseResources("cpus:1;disk:50").
					Reserve(core.Reservation{Type: core.Dynamic, Role: f.role, Principal: "p"})}})
			}
		case 1: // unreserve one dynamically reserved entry
			for i := range offered {
				if offered[i].IsDynamicallyReserved() {
					ops = append(ops, mesos.Operation{Type: mesos.OpUnreserve, Unreserve: &mesos.ResourceOp{Resources: offered[i : i+1].Clone()}})
					break
				}
			}
		case 2: // a task on some of it, reserved first if there is any
			need := core.MustParseResources("cpus:1;mem:64")
			var use core.Resources
			if r := offered.Reserved(); r.Quantities().Contains(need.Quantities()) {
				for i := range r {
					if r[i].Name == core.CPUs && r[i].Scalar >= core.Units(1) {
						use = core.Resources{r[i]}
						use[0].Scalar = core.Units(1)
					}
				}
			}
			if use == nil && offered.Unreserved().Contains(need) {
				use = need
			} else if use != nil && offered.Contains(core.MustParseResources("mem:64")) {
				use = use.Add(core.MustParseResources("mem:64"))
			} else {
				use = nil
			}
			if use != nil {
				id := fmt.Sprintf("t%d", step)
				ops = append(ops, mesos.Operation{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{{
					Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID, Resources: use, Command: &mesos.CommandInfo{Value: "true"}}}}})
				tasks = append(tasks, running{f, o.AgentID.Value, id})
			}
		}
		call(f, &mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID}, Operations: ops,
			Filters: &mesos.Filters{RefuseSeconds: &zero}}})
	}
	checkOffers := func() {
		t.Helper()
		for _, f := range fws {
			for _, o := range f.conn.seen {
				if role := o.AllocationInfo.Role; !o.Resources.Resources.Equal(o.Resources.Resources.AllocatableTo(role)) {
					t.Fatalf("offer %s to role %s holds resources reserved for another role: %v", o.ID.Value, role, o.Resources.Resources)
				}
			}
		}
	}
	checkOffers()
	m.mu.Lock()
	var reservedSeen int
	var total core.Resources
	for _, ag := range m.agents {
		total = total.Add(ag.total)
		reservedSeen += len(ag.total.Reserved())
	}
	m.mu.Unlock()
	if want := static.Quantities().Add(static.Quantities()).Add(static.Quantities()).Add(static.Quantities()); !total.Quantities().Contains(want) || !want.Contains(total.Quantities()) {
		t.Fatalf("the cluster's quantities changed: %v, want %v", total.Quantities(), want)
	}
	m.mu.Lock()
	ops, refused := m.metrics.Operations, m.metrics.OperationsRefused
	m.mu.Unlock()
	t.Logf("%d operations applied, %d refused; %d reserved entries at the end", ops, refused, reservedSeen)
	if ops < 30 {
		t.Fatalf("only %d operations were applied: the workload does not exercise reservations", ops)
	}

	// Every task ends, the operator unreserves everything, and c's
	// framework is offered the whole cluster.
	for _, r := range tasks {
		m.AgentCalls([]agentapi.Call{{Type: agentapi.CallStatusUpdate, AgentID: &mesos.ID{Value: r.agent},
			StatusUpdate: &agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: r.f.id}, Status: mesos.TaskStatus{
				TaskID: mesos.ID{Value: r.id}, State: mesos.TaskFinished, Source: mesos.SourceExecutor, UUID: []byte("end-" + r.id)}}}}, now)
	}
	for _, f := range fws[:3] {
		call(f, &mesos.Call{Type: mesos.CallTeardown})
	}
	for _, id := range agents {
		m.mu.Lock()
		var dyn core.Resources
		for _, r := range m.agents[id].total {
			if r.IsDynamicallyReserved() {
				dyn = append(dyn, r)
			}
		}
		m.mu.Unlock()
		for len(dyn) > 0 {
			if err := m.OperatorOperation(mesos.OpUnreserve, id, dyn, now); err != nil {
				t.Fatalf("unreserving %v on %s: %v", dyn, id, err)
			}
			dyn = dyn.Unreserve().Filter(func(r *core.Resource) bool { return r.IsDynamicallyReserved() })
		}
	}
	// c declines what it holds, so that what is left on an agent is
	// offered whole (a remainder below the minimum allocatable, such as
	// disk alone, is not offered by itself).
	c := fws[3]
	var held []mesos.ID
	for _, o := range c.conn.offers {
		held = append(held, o.ID)
	}
	clear(c.conn.offers)
	call(c, &mesos.Call{Type: mesos.CallDecline, Decline: &mesos.Decline{OfferIDs: held, Filters: &mesos.Filters{RefuseSeconds: &zero}}})
	now = now.Add(10 * time.Second)
	m.Sweep(now)
	var offered core.Resources
	for _, o := range c.conn.offers {
		offered = offered.Add(o.Resources.Resources)
	}
	if want := core.MustParseResources("cpus:32;mem:16384;disk:4000"); !offered.Equal(want) {
		t.Fatalf("after unreserving everything, role c is offered %v, want %v", offered, want)
	}
	checkOffers()
}
