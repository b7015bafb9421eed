package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestMaintenance drives Mesos's maintenance primitives through real
// daemons: two agents on machines maint-a and maint-b (their --hostname,
// both on 127.0.0.1), a framework running a task on maint-a. Bad
// schedules are refused and change nothing; a window for maint-a brings
// the framework an inverse offer and marks maint-a's offers with the
// unavailability; /machine/down removes the agent (its task is lost) and
// no offer names it afterwards, though its agentd keeps trying to
// register; /machine/up lets it back.
func TestMaintenance(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 0})
	c.startAgent("agent0", "0", "--hostname=maint-a")
	c.startAgent("agent1", "0", "--hostname=maint-b")
	c.waitAgents(2)
	agentA := agentIDByHostname(t, c, "maint-a")

	f := subscribe(t, c.master.addr, newFrameworkInfo("maint"))
	var task string
	for task == "" {
		for _, o := range f.nextOffers(20 * time.Second) {
			if o.AgentID.Value == agentA && task == "" {
				task = "sleeper"
				f.launch(o, []mesos.TaskInfo{commandTask(task, o, "cpus:0.5;mem:32", "sleep 600")}, 0)
				continue
			}
			f.decline([]mesos.Offer{o}, 0)
		}
	}
	f.waitState(task, mesos.TaskRunning, 30*time.Second) // acknowledges the updates

	// Bad requests: 400 with a message, and the schedule stays empty.
	window := func(machines string, start int64) string {
		return fmt.Sprintf(`{"windows":[{"machine_ids":%s,"unavailability":{"start":{"nanoseconds":%d},"duration":{"nanoseconds":3600000000000}}}]}`,
			machines, start)
	}
	start := time.Now().Add(time.Hour).UnixNano()
	for _, bad := range []struct{ path, body string }{
		{"/maintenance/schedule", `{"windows":[{"machine_ids":[{"hostname":"maint-a"`},
		{"/maintenance/schedule", window(`[]`, start)},
		{"/maintenance/schedule", window(`[{"hostname":"maint-a","ip":"127.0.0.1"},{"hostname":"MAINT-A","ip":"127.0.0.1"}]`, start)},
		{"/maintenance/schedule", window(`[{"hostname":"maint-a","ip":"localhost"}]`, start)},
		{"/maintenance/schedule", `{"windows":[{"machine_ids":[{"hostname":"maint-a"}]}]}`},
		{"/maintenance/schedule", `{"windows":[{"machine_ids":[{"hostname":"maint-a"}],"unavailability":{"start":{"nanoseconds":1},"duration":{"nanoseconds":-1}}}]}`},
		{"/maintenance/schedule", `{"windows":"soon"}`},
		{"/machine/down", `[{"hostname":"maint-a","ip":"127.0.0.1"}]`},
		{"/machine/down", `[]`},
		{"/machine/up", `[{"hostname":"maint-a","ip":"127.0.0.1"}]`},
	} {
		code, ct, body := do(t, "POST", c.url(bad.path), "application/json", bad.body)
		var msg struct{ Error string }
		if code != 400 || ct != "application/json" || json.Unmarshal(body, &msg) != nil || msg.Error == "" {
			t.Errorf("POST %s %s: %d %s %s, want 400 with a JSON message", bad.path, bad.body, code, ct, body)
		}
	}
	if code, _, _ := do(t, "DELETE", c.url("/maintenance/schedule"), "", ""); code != 405 {
		t.Errorf("DELETE /maintenance/schedule: %d, want 405", code)
	}
	if got := string(mustDo(t, "GET", c.url("/maintenance/schedule"), "", "")); got != `{"windows":[]}` {
		t.Fatalf("schedule after bad requests: %s", got)
	}

	// A window for maint-a: an inverse offer for the agent, and offers
	// from it carry the unavailability.
	mustDo(t, "POST", c.url("/maintenance/schedule"), "application/json", window(`[{"hostname":"maint-a","ip":"127.0.0.1"}]`, start))
	// The stream is in order: the offers before the inverse offers were
	// made before the schedule (those from maint-a are rescinded), those
	// after it since.
	ev := f.next(20*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventInverseOffers })
	f.declineSkipped()
	ios := ev.InverseOffers.InverseOffers
	if len(ios) != 1 || ios[0].AgentID.Val() != agentA || ios[0].Unavailability.Start.Nanoseconds != start ||
		ios[0].FrameworkID.Value != f.id {
		t.Fatalf("inverse offers %+v, want one for agent %s starting at %d", ios, agentA, start)
	}
	f.mustCall(&mesos.Call{Type: mesos.CallRevive, Revive: &mesos.RoleList{}})
	marked := false
	for deadline := time.Now().Add(20 * time.Second); !marked && time.Now().Before(deadline); {
		for _, o := range f.nextOffers(time.Until(deadline)) {
			if o.AgentID.Value == agentA {
				if o.Unavailability == nil || o.Unavailability.Start.Nanoseconds != start {
					t.Fatalf("offer from the draining agent without its unavailability: %+v", o.Unavailability)
				}
				marked = true
			} else if o.Unavailability != nil {
				t.Fatalf("offer from maint-b carries an unavailability: %+v", o.Unavailability)
			}
			f.decline([]mesos.Offer{o}, 0)
		}
	}
	if !marked {
		t.Fatal("no offer from the draining agent")
	}
	refuse := 3600.0
	f.mustCall(&mesos.Call{Type: mesos.CallDeclineInverseOffers, DeclineInverseOffers: &mesos.InverseOfferResponse{
		InverseOfferIDs: []mesos.ID{ios[0].ID}, Filters: &mesos.Filters{RefuseSeconds: &refuse}}})
	var status mesos.MaintenanceStatus
	eventually(t, 10*time.Second, "the decline in /maintenance/status", func() bool {
		status = mesos.MaintenanceStatus{}
		_ = json.Unmarshal(mustDo(t, "GET", c.url("/maintenance/status"), "", ""), &status)
		return len(status.DrainingMachines) == 1 && len(status.DrainingMachines[0].Statuses) == 1 &&
			status.DrainingMachines[0].Statuses[0].Status == "DECLINE"
	})

	// Down: the task is lost, the agent gone, and for the next seconds
	// of offers (and the agent's attempts to register again) no offer
	// names it.
	mustDo(t, "POST", c.url("/machine/down"), "application/json", `[{"hostname":"maint-a","ip":"127.0.0.1"}]`)
	f.waitState(task, mesos.TaskLost, 20*time.Second)
	f.declineSkipped() // made before the machine went down
	c.waitAgents(1)
	f.mustCall(&mesos.Call{Type: mesos.CallRevive, Revive: &mesos.RoleList{}})
	seen := 0
	for start := time.Now(); time.Since(start) < 3*time.Second || seen == 0; {
		if time.Since(start) > 30*time.Second {
			t.Fatal("no offers at all after the machine went down")
		}
		ev := f.next(10*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventOffers || e.Type == mesos.EventHeartbeat })
		if ev.Type != mesos.EventOffers {
			continue
		}
		for _, o := range ev.Offers.Offers {
			seen++
			if o.AgentID.Value == agentA || o.Hostname == "maint-a" {
				t.Fatalf("offer %s names the agent on the machine that is down", o.ID.Value)
			}
			f.decline([]mesos.Offer{o}, 0)
		}
	}
	if st := getJSON(t, c.url("/master/state")); num(st["activated_slaves"]) != 1 {
		t.Fatalf("activated_slaves %v after /machine/down", st["activated_slaves"])
	}
	status = mesos.MaintenanceStatus{}
	_ = json.Unmarshal(mustDo(t, "GET", c.url("/maintenance/status"), "", ""), &status)
	if len(status.DownMachines) != 1 || status.DownMachines[0].Hostname != "maint-a" || len(status.DrainingMachines) != 0 {
		t.Fatalf("/maintenance/status after down: %+v", status)
	}

	// Up: the machine leaves the schedule and its agentd, still running,
	// registers as a new agent.
	mustDo(t, "POST", c.url("/machine/up"), "application/json", `[{"hostname":"maint-a","ip":"127.0.0.1"}]`)
	eventually(t, 90*time.Second, "the agent on maint-a back", func() bool {
		id, ok := tryAgentIDByHostname(c, "maint-a")
		return ok && id != agentA
	})
	if got := string(mustDo(t, "GET", c.url("/maintenance/schedule"), "", "")); got != `{"windows":[]}` {
		t.Fatalf("schedule after /machine/up: %s", got)
	}
}

// declineSkipped declines the offers that arrived while the test waited
// for something else (declining a rescinded one does no harm).
func (f *framework) declineSkipped() {
	f.t.Helper()
	for _, ev := range f.skipped {
		f.decline(ev.Offers.Offers, 0)
	}
	f.skipped = nil
}

// agentIDByHostname returns the id of the registered agent with that
// hostname.
func agentIDByHostname(t *testing.T, c *cluster, hostname string) string {
	t.Helper()
	id, ok := tryAgentIDByHostname(c, hostname)
	if !ok {
		t.Fatalf("no agent %s registered", hostname)
	}
	return id
}

func tryAgentIDByHostname(c *cluster, hostname string) (string, bool) {
	st, err := tryGetJSON(c.url("/master/state"))
	if err != nil {
		return "", false
	}
	slaves, _ := st["slaves"].([]any)
	for _, s := range slaves {
		s, _ := s.(map[string]any)
		if s["hostname"] == hostname && s["active"] == true {
			id, _ := s["id"].(string)
			return id, true
		}
	}
	return "", false
}
