package main

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/mesos"
	"meseta/loadgen/synth"
)

// -inprocess runs the profile's cluster and frameworks against the
// allocator alone (alloc.Sharded, in this process): no master, no HTTP,
// no JSON. Frameworks answer offers as their kinds do over the API
// (greedy and bursty take what fits their budget and rate, picky declines
// offers of the wrong agents with its filter, services keep their
// instances), tasks end after their drawn durations, and what they held
// is recovered at once. Comparing its rates with a run against masterd
// separates the allocator's cost from the API's.

// inprocFramework is one framework's state in an in-process run; the
// driver goroutine owns it.
type inprocFramework struct {
	plan     fwPlan
	id       alloc.FrameworkID
	launched int
	active   int
	tokens   float64
	last     time.Time
	// suppressed: a picky or bursty framework with nothing to launch
	// suppresses its role, as synth's do.
	suppressed bool
}

// inprocTask is a running task: its end and what it holds.
type inprocTask struct {
	end   time.Time
	fw    int
	agent alloc.AgentID
	role  string
	res   core.Resources
}

type inprocStats struct {
	offers, accepts, declines, launches, ended int64
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// runInProcess runs pl against an allocator until its duration (or, with
// none, until every finite framework launched its total and, unless
// run.end is running, saw it end), and prints the summary.
func runInProcess(ctx context.Context, pl *plan, stdout, stderr io.Writer) int {
	// The sink runs inside allocator calls, made by this goroutine or by
	// the sweeper; it only queues.
	var mu sync.Mutex
	var queued []alloc.Offer
	sink := func(o alloc.Output) {
		mu.Lock()
		queued = append(queued, o.Offers...)
		mu.Unlock()
	}
	a, err := alloc.NewSharded(alloc.Options{Clock: wallClock{}, Sink: sink})
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	for i, w := range pl.weights {
		if w != 1 {
			if err := a.SetWeight(pl.roles[i], w); err != nil {
				fmt.Fprintf(stderr, "loadgen: weight of %s: %v\n", pl.roles[i], err)
				return 1
			}
		}
	}
	offerOf := map[alloc.AgentID]*mesos.Offer{} // for picky matches
	for i, spec := range pl.agents {
		total, err := core.ParseResources(spec.Resources)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: agent %d: %v\n", i, err)
			return 1
		}
		attrs, err := mesos.ParseAttributes(spec.Attributes)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: agent %d: %v\n", i, err)
			return 1
		}
		id := alloc.AgentID("agent-" + strconv.Itoa(i))
		offerOf[id] = &mesos.Offer{AgentID: mesos.ID{Value: string(id)}, Hostname: spec.Hostname, Attributes: attrs}
		if err := a.AddAgent(alloc.AgentInfo{ID: id, Hostname: spec.Hostname, Total: total}); err != nil {
			fmt.Fprintf(stderr, "loadgen: agent %d: %v\n", i, err)
			return 1
		}
	}
	start := time.Now()
	fws := make([]*inprocFramework, len(pl.fws))
	for i, fp := range pl.fws {
		fws[i] = &inprocFramework{plan: fp, id: alloc.FrameworkID("fw-" + strconv.Itoa(i)), last: start}
		if err := a.AddFramework(alloc.FrameworkInfo{ID: fws[i].id, Roles: []string{fp.cfg.Role}}); err != nil {
			fmt.Fprintf(stderr, "loadgen: framework %s: %v\n", fp.cfg.Name, err)
			return 1
		}
	}
	byID := map[alloc.FrameworkID]int{}
	for i, f := range fws {
		byID[f.id] = i
	}

	// The periodic allocation, as masterd's --allocation_interval.
	sweepCtx, stopSweeps := context.WithCancel(ctx)
	defer stopSweeps()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sweepCtx.Done():
				return
			case <-t.C:
				a.Sweep()
			}
		}
	}()

	var st inprocStats
	var tasks taskHeap
	var batch []alloc.Offer
	idle := time.NewTimer(time.Millisecond)
	defer idle.Stop()
	for {
		now := time.Now()
		if ctx.Err() != nil || pl.inprocDone(fws, now.Sub(start)) {
			break
		}
		// Tasks that ended give their resources back.
		for tasks.Len() > 0 && !tasks[0].end.After(now) {
			t := heap.Pop(&tasks).(inprocTask)
			f := fws[t.fw]
			f.active--
			st.ended++
			if err := a.Recover(f.id, t.agent, t.role, t.res, 0); err != nil {
				fmt.Fprintf(stderr, "loadgen: recover: %v\n", err)
				return 1
			}
		}
		for _, f := range fws {
			if k := f.plan.cfg.Kind; k != synth.Picky && k != synth.Bursty {
				continue
			}
			want := f.wants() > 0
			switch {
			case want && f.suppressed:
				f.suppressed = false
				err = a.Revive(f.id, []string{f.plan.cfg.Role})
			case !want && !f.suppressed:
				f.suppressed = true
				err = a.Suppress(f.id, []string{f.plan.cfg.Role})
			}
			if err != nil {
				fmt.Fprintf(stderr, "loadgen: suppress or revive: %v\n", err)
				return 1
			}
		}
		mu.Lock()
		batch, queued = queued, batch[:0]
		mu.Unlock()
		if len(batch) == 0 {
			wait := 5 * time.Millisecond
			if tasks.Len() > 0 {
				wait = min(wait, max(time.Until(tasks[0].end), 0))
			}
			idle.Reset(wait)
			<-idle.C
			continue
		}
		for _, o := range batch {
			st.offers++
			i, ok := byID[o.Framework]
			if !ok {
				continue
			}
			f := fws[i]
			n := f.budget(now)
			if n > 0 && f.plan.cfg.Kind == synth.Picky && !f.plan.cfg.Match(offerOf[o.Agent]) {
				n = 0
			}
			shape := f.plan.cfg
			if n > 0 {
				n = min(n, shape.Fit(o.Resources))
			}
			if n == 0 {
				st.declines++
				refuse := shape.RefuseSeconds
				if refuse <= 0 {
					refuse = 5 // synth's default, and Mesos's
				}
				// An offer rescinded meanwhile (by a suppress) is unknown.
				if err := a.Decline(o.ID, time.Duration(refuse*float64(time.Second))); err != nil && !errors.Is(err, alloc.ErrUnknownOffer) {
					fmt.Fprintf(stderr, "loadgen: decline: %v\n", err)
					return 1
				}
				continue
			}
			if err := a.Accept(o.ID); errors.Is(err, alloc.ErrUnknownOffer) {
				continue // rescinded meanwhile
			} else if err != nil {
				fmt.Fprintf(stderr, "loadgen: accept: %v\n", err)
				return 1
			}
			st.accepts++
			used := core.Resources{}
			per := shape.TaskResources()
			for range n {
				used = used.Add(per)
				if d := shape.Duration(); d > 0 { // 0: an infinite task
					heap.Push(&tasks, inprocTask{end: now.Add(d), fw: i, agent: o.Agent, role: o.Role, res: per})
				}
			}
			f.launched += n
			f.active += n
			if shape.Rate > 0 {
				f.tokens -= float64(n)
			}
			st.launches += int64(n)
			if rest := o.Resources.Sub(used); len(rest) > 0 {
				if err := a.Recover(f.id, o.Agent, o.Role, rest, 0); err != nil {
					fmt.Fprintf(stderr, "loadgen: recover: %v\n", err)
					return 1
				}
			}
		}
	}
	elapsed := time.Since(start)
	as := a.Stats()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	secs := elapsed.Seconds()
	rate := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/secs) }
	rows := [][2]string{
		{"profile", pl.profile.Name + " (in-process: the allocator alone)"},
		{"run time", elapsed.Round(time.Millisecond).String()},
		{"agents", strconv.Itoa(len(pl.agents))},
		{"frameworks", strconv.Itoa(len(fws))},
		{"offers/s", rate(st.offers)},
		{"accepts/s", rate(st.accepts)},
		{"declines/s", rate(st.declines)},
		{"launches/s", rate(st.launches)},
		{"tasks launched", strconv.FormatInt(st.launches, 10)},
		{"tasks ended", strconv.FormatInt(st.ended, 10)},
		{"allocator sweeps", strconv.FormatUint(as.Sweeps, 10)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	return 0
}

// wants is how many tasks f's kind would launch, rate aside.
func (f *inprocFramework) wants() int {
	c := f.plan.cfg
	switch {
	case c.Kind == synth.Service:
		return max(c.Instances-f.active, 0)
	case c.Total > 0:
		return max(c.Total-f.launched, 0)
	}
	return math.MaxInt
}

// budget is how many tasks f launches now: what it wants, within its
// rate.
func (f *inprocFramework) budget(now time.Time) int {
	c := f.plan.cfg
	want := f.wants()
	if c.Rate > 0 {
		f.tokens = min(f.tokens+now.Sub(f.last).Seconds()*c.Rate, max(c.Rate, 1))
		f.last = now
		want = min(want, int(f.tokens))
	}
	return max(want, 0)
}

// inprocDone reports whether the run is over: its duration passed or,
// without one, every finite framework launched its total (and, unless
// the run ends when they run, saw them end).
func (pl *plan) inprocDone(fws []*inprocFramework, elapsed time.Duration) bool {
	if pl.duration > 0 {
		return elapsed >= pl.duration
	}
	for _, f := range fws {
		if !f.plan.finite {
			continue
		}
		if f.launched < f.plan.cfg.Total || (!pl.endRunning && f.active > 0) {
			return false
		}
	}
	return true
}

// taskHeap orders running tasks by their end (container/heap).
type taskHeap []inprocTask

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].end.Before(h[j].end) }
func (h taskHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)        { *h = append(*h, x.(inprocTask)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// inprocessNotes says what an in-process run leaves out of pl.
func inprocessNotes(pl *plan) []string {
	var out []string
	if len(pl.faults) > 0 {
		out = append(out, "faults are not injected in-process (there are no agents or masters to fault)")
	}
	for _, f := range pl.fws {
		if f.cfg.Kind == synth.Bursty {
			out = append(out, "bursty frameworks run as greedy ones in-process (no idle and flood phases)")
			break
		}
	}
	return out
}
