package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"meseta/profiles"
)

// fleetControl is what fault injection needs of simagent.Fleet.
type fleetControl interface {
	Kill(i int)
	Restart(i int)
	Partition(i int)
	Heal(i int)
}

// restartPause is how long a restarted agent stays down.
const restartPause = time.Second

// faultCounts are the agent faults injected, for the summary.
type faultCounts struct {
	killed, restarted, partitioned, healed atomic.Int64
}

// faultEvent is one step of the fault timeline, at a time from the start.
type faultEvent struct {
	at    time.Duration
	fault int   // index in the plan's faults
	heal  []int // a partition's end: heal these agents
	start []int // a restart's second half: start these agents
}

// injectFaults runs the faults against fleet (and, for kill_leader,
// calls killLeader) until ctx ends. Victims are
// drawn, with r, among the agents that are up (not killed, partitioned or
// between a restart's kill and start).
func injectFaults(ctx context.Context, start time.Time, faults []profiles.Fault, agents int, fleet fleetControl,
	killLeader func(), r *rand.Rand, n *faultCounts) {
	down := make([]bool, agents)
	var events []faultEvent
	for i, f := range faults {
		events = append(events, faultEvent{at: f.At.D(), fault: i})
	}
	pick := func(k int) []int {
		var up []int
		for i, d := range down {
			if !d {
				up = append(up, i)
			}
		}
		r.Shuffle(len(up), func(i, j int) { up[i], up[j] = up[j], up[i] })
		up = up[:min(k, len(up))]
		for _, i := range up {
			down[i] = true
		}
		return up
	}
	for len(events) > 0 {
		slices.SortStableFunc(events, func(a, b faultEvent) int { return int(a.at - b.at) })
		ev := events[0]
		events = events[1:]
		t := time.NewTimer(time.Until(start.Add(ev.at)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		switch {
		case ev.heal != nil:
			for _, i := range ev.heal {
				fleet.Heal(i)
				down[i] = false
			}
			n.healed.Add(int64(len(ev.heal)))
		case ev.start != nil:
			for _, i := range ev.start {
				fleet.Restart(i)
				down[i] = false
			}
			n.restarted.Add(int64(len(ev.start)))
		default:
			f := faults[ev.fault]
			if f.Kind == profiles.KillLeader {
				killLeader()
				break
			}
			victims := pick(f.Agents(agents))
			switch f.Kind {
			case profiles.KillAgents:
				for _, i := range victims {
					fleet.Kill(i)
				}
				n.killed.Add(int64(len(victims)))
			case profiles.RestartAgents:
				for _, i := range victims {
					fleet.Kill(i)
				}
				if len(victims) > 0 {
					events = append(events, faultEvent{at: ev.at + restartPause, start: victims})
				}
			case profiles.PartitionAgents:
				for _, i := range victims {
					fleet.Partition(i)
				}
				n.partitioned.Add(int64(len(victims)))
				if f.For > 0 && len(victims) > 0 {
					events = append(events, faultEvent{at: ev.at + f.For.D(), heal: victims})
				}
			}
			if f.Every > 0 {
				events = append(events, faultEvent{at: ev.at + f.Every.D(), fault: ev.fault})
			}
		}
	}
}
