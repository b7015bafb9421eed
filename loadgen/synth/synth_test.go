package synth

import (
	"context"
	"testing"
	"time"

	"meseta/core/mesos"
)

func rackIs(rack string) func(*mesos.Offer) bool {
	return func(o *mesos.Offer) bool {
		for _, a := range o.Attributes {
			if a.Name == "rack" && a.Text != nil && a.Text.Value == rack {
				return true
			}
		}
		return false
	}
}

func start(t *testing.T, g *Group, cfg Config) *Framework {
	t.Helper()
	f, err := g.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Teardown(); err != nil {
			t.Logf("teardown %s: %v", cfg.Name, err)
		}
	})
	return f
}

// TestFrameworksAgainstMasterd runs a greedy, a service and a picky
// framework together against a real masterd with two agents (8 cpus,
// 4096 MB in all).
func TestFrameworksAgainstMasterd(t *testing.T) {
	master, racks := cluster(t, 2)
	g := NewGroup(master)
	declinedBefore := metric(t, master, "master/offers_declined")

	// Greedy: 40 tasks of 0.5 cpu / 64 MB, so at most 16 run at once
	// (8 cpus): at least three waves of 0.2 s.
	const total = 40
	greedy := start(t, g, Config{Kind: Greedy, Name: "greedy", CPUs: 0.5, Mem: 64, Total: total,
		Duration: func() time.Duration { return 200 * time.Millisecond }})
	// Service: 3 instances of 1 s tasks, relaunched as they end.
	service := start(t, g, Config{Kind: Service, Name: "service", CPUs: 0.1, Mem: 32, Instances: 3,
		Duration: func() time.Duration { return time.Second }})
	// Picky: only rack r1; r0's offers are declined for 30 s.
	picky := start(t, g, Config{Kind: Picky, Name: "picky", CPUs: 0.1, Mem: 32, Total: 2,
		Match: rackIs("r1"), RefuseSeconds: 30, Duration: func() time.Duration { return 200 * time.Millisecond }})

	eventually(t, time.Minute, "every greedy task finished", func() bool {
		return greedy.Stats().Updates[mesos.TaskFinished] >= total
	})
	for _, tk := range greedy.Tasks() {
		if tk.State != mesos.TaskFinished || tk.Terminal != 1 {
			t.Errorf("greedy task %s: state %s, %d terminal updates; want TASK_FINISHED once", tk.ID, tk.State, tk.Terminal)
		}
	}
	gs := greedy.Stats()
	if gs.TasksLaunched != total || gs.Updates[mesos.TaskFinished] != total || len(gs.Latencies) != total {
		t.Errorf("greedy: launched %d, finished %d, %d latencies; want %d each", gs.TasksLaunched, gs.Updates[mesos.TaskFinished], len(gs.Latencies), total)
	}
	if n := greedy.Lost(); n != 0 {
		t.Errorf("greedy lost %d tasks", n)
	}

	// The service relaunched at least two generations and is back at 3.
	eventually(t, 45*time.Second, "service relaunched 6 instances and runs 3", func() bool {
		return service.Stats().TasksLaunched >= 9 && service.Running() == 3
	})
	if s := service.Stats(); s.OffersDeclined == 0 {
		t.Errorf("service declined no offers")
	}

	// Picky ran its two tasks on r1 only, declined r0, and suppressed.
	eventually(t, 30*time.Second, "picky finished and suppressed", func() bool {
		s := picky.Stats()
		return s.Updates[mesos.TaskFinished] == 2 && s.Suppresses >= 1
	})
	// More work revives it.
	picky.Submit(2)
	eventually(t, 30*time.Second, "picky revived and finished 4", func() bool {
		s := picky.Stats()
		return s.Revives >= 1 && s.Updates[mesos.TaskFinished] == 4 && s.Suppresses >= 2
	})
	for _, tk := range picky.Tasks() {
		if tk.AgentID != racks["r1"] {
			t.Errorf("picky task %s ran on %s, want r1's agent %s", tk.ID, tk.AgentID, racks["r1"])
		}
	}
	if s := picky.Stats(); s.OffersDeclined == 0 {
		t.Errorf("picky declined nothing")
	}
	if after := metric(t, master, "master/offers_declined"); after <= declinedBefore {
		t.Errorf("master/offers_declined %v -> %v: the declines did not reach the master", declinedBefore, after)
	}

	all := g.Stats()
	if all.Duplicates != 0 {
		t.Errorf("%d duplicate updates", all.Duplicates)
	}
	var withUUID int64
	for _, n := range all.Updates {
		withUUID += n
	}
	if all.Acks != withUUID || all.CallErrors != 0 {
		t.Errorf("acks %d for %d updates, %d call errors", all.Acks, withUUID, all.CallErrors)
	}
	t.Logf("group: offers %d (accepted %d, declined %d), launched %d, updates %v, acks %d, heartbeats %d",
		all.OffersReceived, all.OffersAccepted, all.OffersDeclined, all.TasksLaunched, all.Updates, all.Acks, all.Heartbeats)
}
