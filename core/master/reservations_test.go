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
	m := newMasterAt(t, now)
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

// TestSharedVolumesRandomized: on two agents, framework s (SHARED_RESOURCES)
// creates a shared volume per agent, launches one to three tasks on each
// offered copy, ends them at random and tries DESTROY now and then; n, in
// the same role without the capability, launches and declines. Checked at
// every step: n is never offered a shared resource; the allocator holds,
// per agent, exactly one copy of a volume per running task of s that uses
// it (CheckInvariants holding too); DESTROY takes effect exactly when no
// task uses the volume.
func TestSharedVolumesRandomized(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { sharedWorkload(t, seed) })
	}
}

func sharedWorkload(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	now := time.Unix(1_800_000_000, 0)
	m := newMasterAt(t, now)
	var agents []string
	for i := range 2 {
		id, err := m.SubscribeAgent(nopAgentConn{}, &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
			AgentInfo: mesos.AgentInfo{Hostname: fmt.Sprintf("h%d", i), Resources: core.MustParseResources("cpus:8;mem:4096;disk:1000")},
			Endpoint:  "127.0.0.1:5051"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, id)
	}
	type fw struct {
		id, stream string
		conn       *offerConn
	}
	subscribe := func(name string, caps ...string) *fw {
		c := &offerConn{offers: map[string]mesos.Offer{}}
		fi := mesos.FrameworkInfo{User: "u", Name: name, Role: "a"}
		for _, cp := range caps {
			fi.Capabilities = append(fi.Capabilities, mesos.Capability{Type: cp})
		}
		sub, err := m.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: fi}}, now)
		if err != nil {
			t.Fatal(err)
		}
		return &fw{id: sub.FrameworkID, stream: sub.StreamID, conn: c}
	}
	s, n := subscribe("s", mesos.CapSharedResources), subscribe("n")
	call := func(f *fw, c *mesos.Call) {
		c.FrameworkID = &mesos.ID{Value: f.id}
		if err := m.Call(c, f.stream, now); err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
	}
	zero := 0.0
	reservation := core.Reservation{Type: core.Dynamic, Role: "a", Principal: "p"}
	disk := core.MustParseResources("disk:100").Reserve(reservation)
	volume := func(agent string) core.Resources {
		v := disk.Clone()
		v[0].Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: "v-" + agent, Principal: "p"}, Volume: &core.Volume{ContainerPath: "data", Mode: core.RW}}
		v[0].Shared = true
		return v
	}
	type running struct {
		f         *fw
		agent, id string
	}
	var tasks []running
	users := func(agent string) int {
		k := 0
		for _, r := range tasks {
			if r.f == s && r.agent == agent {
				k++
			}
		}
		return k
	}
	hasVolume := func(agent string) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.agents[agent].total.Contains(volume(agent))
	}
	check := func(step int) {
		t.Helper()
		for _, o := range n.conn.seen {
			if o.Resources.Resources.HasShared() {
				t.Fatalf("step %d: offer %s to a framework without SHARED_RESOURCES holds %v", step, o.ID.Value, o.Resources.Resources)
			}
		}
		snap := m.alloc.Snapshot()
		if err := alloc.CheckInvariants(snap, false); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, a := range snap.Agents {
			copies := 0
			for _, al := range a.Allocations {
				if al.Framework == alloc.FrameworkID(s.id) {
					copies += len(al.Resources.Shared())
				}
			}
			if want := users(string(a.Info.ID)); copies != want {
				t.Fatalf("step %d: agent %s: s holds %d copies of its volume, but %d tasks use it", step, a.Info.ID, copies, want)
			}
		}
	}
	launched, destroyed, refusedDestroys := 0, 0, 0
	for step := range 1000 {
		now = now.Add(100 * time.Millisecond)
		if step%10 == 0 {
			m.Sweep(now)
		}
		if len(tasks) > 0 && rng.IntN(3) == 0 { // a task ends
			i := rng.IntN(len(tasks))
			r := tasks[i]
			tasks = append(tasks[:i], tasks[i+1:]...)
			m.AgentCalls([]agentapi.Call{{Type: agentapi.CallStatusUpdate, AgentID: &mesos.ID{Value: r.agent},
				StatusUpdate: &agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: r.f.id}, Status: mesos.TaskStatus{
					TaskID: mesos.ID{Value: r.id}, State: mesos.TaskFinished, Source: mesos.SourceExecutor,
					UUID: []byte(fmt.Sprintf("%016d", step))}}}}, now)
		}
		f := s
		if rng.IntN(3) == 0 {
			f = n
		}
		var o mesos.Offer
		for _, o = range f.conn.offers {
			break
		}
		if o.ID.Value == "" {
			check(step)
			continue
		}
		// Every offer of f on the agent at once, so that what tasks give
		// back one by one is used whole again.
		agent := o.AgentID.Value
		var ids []mesos.ID
		var offered core.Resources
		for id, x := range f.conn.offers {
			if x.AgentID.Value == agent {
				ids = append(ids, x.ID)
				offered = offered.Add(x.Resources.Resources)
				delete(f.conn.offers, id)
			}
		}
		var ops []mesos.Operation
		destroy := false
		switch {
		case f == n:
			if rng.IntN(2) == 0 && offered.Contains(core.MustParseResources("cpus:1;mem:64")) {
				id := fmt.Sprintf("n%d", step)
				ops = append(ops, mesos.Operation{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{{
					Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID, Resources: core.MustParseResources("cpus:1;mem:64"),
					Command: &mesos.CommandInfo{Value: "true"}}}}})
				tasks = append(tasks, running{n, agent, id})
			}
		case !hasVolume(agent) && offered.Contains(disk):
			ops = append(ops, mesos.Operation{Type: mesos.OpCreate, Create: &mesos.VolumeOp{Volumes: volume(agent)}})
		case !hasVolume(agent) && offered.Unreserved().Contains(core.MustParseResources("disk:100")):
			ops = append(ops, mesos.Operation{Type: mesos.OpReserve, Reserve: &mesos.ResourceOp{Resources: disk}})
		case offered.Contains(volume(agent)) && rng.IntN(10) == 0:
			ops = append(ops, mesos.Operation{Type: mesos.OpDestroy, Destroy: &mesos.VolumeOp{Volumes: volume(agent)}})
			destroy = true
		case offered.Contains(volume(agent)):
			var infos []mesos.TaskInfo
			for range 1 + rng.IntN(3) {
				if !offered.Contains(core.MustParseResources("cpus:0.5;mem:32")) {
					break
				}
				id := fmt.Sprintf("s%d-%d", step, len(infos))
				res := core.MustParseResources("cpus:0.5;mem:32").Add(volume(agent))
				offered = offered.Sub(core.MustParseResources("cpus:0.5;mem:32"))
				infos = append(infos, mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID, Resources: res,
					Command: &mesos.CommandInfo{Value: "true"}})
				tasks = append(tasks, running{s, agent, id})
				launched++
			}
			if len(infos) > 0 {
				ops = append(ops, mesos.Operation{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: infos}})
			}
		}
		inUse := users(agent) > 0
		call(f, &mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: ids, Operations: ops,
			Filters: &mesos.Filters{RefuseSeconds: &zero}}})
		if destroy {
			if gone := !hasVolume(agent); gone == inUse {
				t.Fatalf("step %d: DESTROY of the volume on %s with %d tasks on it: destroyed=%v", step, agent, users(agent), gone)
			}
			if inUse {
				refusedDestroys++
			} else {
				destroyed++
			}
		}
		check(step)
	}
	t.Logf("%d tasks on shared volumes, %d destroyed, %d DESTROY refused", launched, destroyed, refusedDestroys)
	if launched < 40 {
		t.Fatalf("only %d tasks used a shared volume: the workload does not exercise sharing", launched)
	}
}
