package e2e

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// TestReservationsRandomized runs three frameworks against real daemons:
// roles db, web and db/backup (a sub-role of db), each with its own
// principal. At random they reserve parts of their offers for their role
// (db/backup also refines db's reservations), unreserve what their role
// holds, or decline. Every offer is checked: a reservation reaches only
// its role and that role's sub-roles. The frameworks' view (the sum of
// their operations) is compared with /master/state. Then everything is
// unreserved, and web is offered each agent whole again.
func TestReservationsRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	c := newCluster(t, clusterOpts{agents: 2, agentRes: "cpus:4;mem:2048"})

	type resFW struct {
		*framework
		role string
		dyn  core.Reservation
	}
	var fws []*resFW
	for i, role := range []string{"db", "web", "db/backup"} {
		info := newFrameworkInfo(fmt.Sprintf("res%d", i))
		info.Role, info.Principal = role, fmt.Sprintf("p%d", i)
		fws = append(fws, &resFW{framework: subscribe(t, c.master.addr, info), role: role,
			dyn: core.Reservation{Type: core.Dynamic, Role: role, Principal: info.Principal}})
	}
	// want is what the frameworks reserved: agent -> role -> cpus, mem.
	type amount struct{ cpus, mem float64 }
	want := map[string]map[string]amount{}
	add := func(agent, role string, cpus, mem float64) {
		if want[agent] == nil {
			want[agent] = map[string]amount{}
		}
		a := want[agent][role]
		a.cpus += cpus
		a.mem += mem
		want[agent][role] = a
	}
	refuse := 0.1
	// Each operation's effect on want waits for its status: an offer
	// may be rescinded (for a starved framework) before it is accepted,
	// and its operations dropped.
	var checked, reservedOffers, finished, dropped int
	opN := 0
	pending := map[string]func(){}
	onStatus := func(st mesos.OperationStatus) {
		t.Helper()
		id := st.OperationID.Val()
		switch st.State {
		case mesos.OperationFinished:
			pending[id]()
			finished++
		case mesos.OperationDropped:
			dropped++
		default:
			t.Fatalf("operation %s: %s %s", id, st.State, st.Message)
		}
		delete(pending, id)
	}
	accept := func(f *resFW, o mesos.Offer, ops []mesos.Operation, effects []func()) {
		for i := range ops {
			opN++
			id := fmt.Sprintf("op%d", opN)
			ops[i].ID = mesos.NewID(id)
			pending[id] = effects[i]
		}
		f.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID},
			Operations: ops, Filters: &mesos.Filters{RefuseSeconds: &refuse}}})
	}
	check := func(f *resFW, o mesos.Offer) {
		t.Helper()
		checked++
		if !o.Resources.Resources.Reserved().IsEmpty() {
			reservedOffers++
		}
		if o.AllocationInfo == nil || o.AllocationInfo.Role != f.role {
			t.Fatalf("%s (role %s) offered %s for role %v", f, f.role, o.ID.Value, o.AllocationInfo)
		}
		for _, r := range o.Resources.Resources {
			if !r.AllocatableTo(f.role) {
				t.Fatalf("%s (role %s) offered %s, reserved for %s", f, f.role, r.String(), r.Role())
			}
		}
	}
	// unreserveOps pops one level of every reservation in o that f's
	// role made, recording it.
	unreserveOps := func(f *resFW, o mesos.Offer, all bool) ([]mesos.Operation, []func()) {
		var ops []mesos.Operation
		var effects []func()
		for _, r := range o.Resources.Resources {
			if !r.IsReserved() || r.Role() != f.role || !(all || rng.IntN(2) == 0) {
				continue
			}
			part := core.Resources{r}
			if quarter := core.Units(1) / 4; !all && r.Name == core.CPUs && r.Scalar > quarter {
				part[0].Scalar = quarter
			}
			ops = append(ops, mesos.Operation{Type: mesos.OpUnreserve, Unreserve: &mesos.ResourceOp{Resources: part}})
			cpus, mem := part.ScalarValue(core.CPUs).Float(), part.ScalarValue(core.Mem).Float()
			agent, below := o.AgentID.Value, ""
			if n := len(r.Reservations); n > 1 {
				below = r.Reservations[n-2].Role
			}
			effects = append(effects, func() {
				add(agent, f.role, -cpus, -mem)
				if below != "" {
					add(agent, below, cpus, mem)
				}
			})
		}
		return ops, effects
	}

	// At least 90 steps, and more until the workload has reserved enough
	// to test anything (a busy machine makes for fewer offers a step).
	stepsEnd := time.Now().Add(90 * time.Second)
	for step := 0; step < 90 || finished < 5 || reservedOffers < 10; step++ {
		if time.Now().After(stepsEnd) {
			t.Fatalf("after %d steps: %d operations finished, %d offers with reservations", step, finished, reservedOffers)
		}
		f := fws[rng.IntN(len(fws))]
		for _, o := range f.tryOffers(200*time.Millisecond, onStatus) {
			check(f, o)
			switch p := rng.IntN(10); {
			case p < 4:
				// Reserve a quarter cpu or 64 MB: refined from db's
				// reservation for db/backup when it has one, else
				// unreserved.
				name, size := core.CPUs, "cpus:0.25"
				if rng.IntN(2) == 0 {
					name, size = core.Mem, "mem:64"
				}
				part := mustRes(size)
				from := "*"
				if f.role == "db/backup" {
					if dbs := o.Resources.Resources.ReservedFor("db"); dbs.ScalarValue(name).Float() >= part.ScalarValue(name).Float() &&
						rng.IntN(2) == 0 {
						part = part.Reserve(core.Reservation{Type: core.Dynamic, Role: "db", Principal: "p0"})
						from = "db"
					}
				}
				if !o.Resources.Resources.Contains(part) {
					f.decline([]mesos.Offer{o}, refuse)
					continue
				}
				cpus, mem := part.ScalarValue(core.CPUs).Float(), part.ScalarValue(core.Mem).Float()
				agent := o.AgentID.Value
				accept(f, o, []mesos.Operation{{Type: mesos.OpReserve, Reserve: &mesos.ResourceOp{Resources: part.Reserve(f.dyn)}}},
					[]func(){func() {
						add(agent, f.role, cpus, mem)
						if from != "*" {
							add(agent, from, -cpus, -mem)
						}
					}})
			case p < 6:
				if ops, effects := unreserveOps(f, o, false); len(ops) > 0 {
					accept(f, o, ops, effects)
					continue
				}
				f.decline([]mesos.Offer{o}, refuse)
			default:
				f.decline([]mesos.Offer{o}, refuse)
			}
		}
	}

	// Every operation has its status.
	settle := func() {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); len(pending) > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("no status for operations %v", pending)
			}
			for _, f := range fws {
				for _, o := range f.tryOffers(50*time.Millisecond, onStatus) {
					f.decline([]mesos.Offer{o}, refuse)
				}
			}
		}
	}
	settle()

	// The master agrees with the frameworks.
	compare := func() error {
		st := getJSON(t, c.url("/master/state"))
		slaves, _ := st["slaves"].([]any)
		for _, s := range slaves {
			s, _ := s.(map[string]any)
			id, _ := s["id"].(string)
			got, _ := s["reserved_resources"].(map[string]any)
			for role, w := range want[id] {
				g, _ := got[role].(map[string]any)
				if math.Abs(num(g["cpus"])-w.cpus) > 1e-6 || math.Abs(num(g["mem"])-w.mem) > 1e-6 {
					return fmt.Errorf("agent %s role %s: master has %v, frameworks reserved %+v", id, role, g, w)
				}
			}
			for role := range got {
				if w, ok := want[id][role]; !ok || (w.cpus == 0 && w.mem == 0) {
					return fmt.Errorf("agent %s: master has %v reserved for %s, frameworks none", id, got[role], role)
				}
			}
		}
		return nil
	}
	if err := compare(); err != nil {
		t.Fatal(err)
	}
	reserved := 0
	for _, roles := range want {
		for _, a := range roles {
			if a.cpus > 0 || a.mem > 0 {
				reserved++
			}
		}
	}
	t.Logf("after the random steps: %d offers checked, %d with reservations; %d operations finished, %d dropped (offer rescinded); %d (agent, role) reservations",
		checked, reservedOffers, finished, dropped, reserved)

	// Unreserve everything, sub-role first; then web is offered each
	// agent whole.
	empty := func() bool {
		for _, roles := range want {
			for _, a := range roles {
				if a.cpus > 1e-9 || a.mem > 1e-9 {
					return false
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(60 * time.Second); !empty(); {
		if time.Now().After(deadline) {
			t.Fatalf("reservations left: %+v", want)
		}
		for _, f := range fws {
			for _, o := range f.tryOffers(100*time.Millisecond, onStatus) {
				check(f, o)
				if ops, effects := unreserveOps(f, o, true); len(ops) > 0 {
					accept(f, o, ops, effects)
				} else {
					f.decline([]mesos.Offer{o}, refuse)
				}
			}
		}
	}
	settle()
	if err := compare(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*resFW{fws[0], fws[2]} {
		f.mustCall(&mesos.Call{Type: mesos.CallSuppress, Suppress: &mesos.RoleList{}})
	}
	// web holds what it is offered, so that the pieces of an agent come
	// together (a declined piece would come back alone while another is
	// out), until it holds both agents whole and unreserved.
	held := map[string]core.Resources{}
	whole := func() bool {
		n := 0
		for _, rs := range held {
			if rs.Contains(mustRes("cpus:4;mem:2048")) {
				n++
			}
		}
		return n == 2
	}
	for deadline := time.Now().Add(30 * time.Second); !whole(); {
		if time.Now().After(deadline) {
			t.Fatalf("web holds %v, not both agents whole", held)
		}
		for _, o := range fws[1].tryOffers(200*time.Millisecond, onStatus) {
			check(fws[1], o)
			if !o.Resources.Resources.Reserved().IsEmpty() {
				t.Fatalf("reservations left in %s", o.Resources.Resources)
			}
			held[o.AgentID.Value] = held[o.AgentID.Value].Add(o.Resources.Resources)
		}
	}
}

// tryOffers returns the next OFFERS event's offers, or nil when none
// comes within d. Operation statuses on the way go to onStatus, and are
// acknowledged.
func (f *framework) tryOffers(d time.Duration, onStatus func(mesos.OperationStatus)) []mesos.Offer {
	if len(f.skipped) > 0 {
		ev := f.skipped[0]
		f.skipped = f.skipped[1:]
		return ev.Offers.Offers
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-f.events:
			switch ev.Type {
			case mesos.EventOffers:
				return ev.Offers.Offers
			case mesos.EventUpdateOperationStatus:
				st := ev.UpdateOperationStatus.Status
				if st.UUID != nil {
					f.mustCall(&mesos.Call{Type: mesos.CallAcknowledgeOpStatus, AcknowledgeOperationStatus: &mesos.AcknowledgeOperationStatus{
						AgentID: st.AgentID, OperationID: *st.OperationID, UUID: st.UUID.Value}})
				}
				onStatus(st)
			}
		case <-timer.C:
			return nil
		}
	}
}
