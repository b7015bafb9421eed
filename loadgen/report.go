package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"meseta/core/mesos"
	"meseta/loadgen/simagent"
	"meseta/loadgen/synth"
)

// monitor samples the run once a second and prints the status line.
type monitor struct {
	// master is the leading master loadgen started (nil: an external
	// master, not sampled); follow replaces it after a failover.
	master atomic.Pointer[masterProc]
	// pid is the sampled master's; cpuBefore the CPU time of the masters
	// that led before it, so that CPU figures add up across a failover.
	pid       int
	cpuBefore time.Duration
	fleet     *simagent.Fleet
	out       io.Writer
	tty       bool // out is a terminal: one line rewritten with \r

	last    procSample
	peakRSS int64
	sampled bool

	// samples holds one sample a second, for the fairness summary and the
	// HTML report; the loop appends, and it is read after the loop ends.
	samples []sample
}

// sample is what the monitor saw at one tick.
type sample struct {
	at               time.Duration // since the run's start
	offers, launches float64       // a second, over the last tick
	running          int64         // tasks running on the simulated agents
	subscribed       int           // frameworks subscribed
	// all: every framework of the plan had subscribed, so the sample
	// counts toward the fairness summary.
	all bool
	// master: cpu (CPU seconds a second over the last tick) and rss
	// (bytes) were sampled; false for an external master.
	master bool
	cpu    float64
	rss    int64
	fair   fairness
}

func newMonitor(master *masterProc, fleet *simagent.Fleet, out io.Writer) *monitor {
	m := &monitor{fleet: fleet, out: out}
	m.master.Store(master)
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			m.tty = true
		}
	}
	return m
}

// sample reads the started master's CPU time and RSS.
func (m *monitor) sample() {
	mp := m.master.Load()
	if mp == nil {
		return
	}
	pid := mp.cmd.Process.Pid
	s, err := sampleProc(pid)
	if err != nil {
		return
	}
	if m.sampled && pid != m.pid {
		m.cpuBefore = m.last.cpu // the old leader's last figure
	}
	m.pid = pid
	s.cpu += m.cpuBefore
	m.last, m.sampled = s, true
	m.peakRSS = max(m.peakRSS, s.rss)
}

// masterFigures returns CPU seconds and peak RSS, or "-" for both when the
// master is not ours.
func (m *monitor) masterFigures() [2]string {
	if !m.sampled {
		return [2]string{"-", "-"}
	}
	return [2]string{fmt.Sprintf("%.1f s", m.last.cpu.Seconds()), mib(m.peakRSS)}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// waitAgents waits until n agents are registered.
func (m *monitor) waitAgents(ctx context.Context, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for m.fleet.Stats().Registered < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d agents registered within %v", m.fleet.Stats().Registered, n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// loop prints the status line each second until ctx ends or the plan's
// end: its duration, or with none, every finite framework done.
func (m *monitor) loop(ctx context.Context, start time.Time, pl *plan, g *synth.Group) {
	finite := map[string]bool{}
	for _, f := range pl.fws {
		finite[f.cfg.Name] = f.finite
	}
	roleIndex := map[string]int{}
	for i, r := range pl.roles {
		roleIndex[r] = i
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var prev synth.Stats
	m.sample()
	prevCPU := m.last.cpu // the master's CPU rate is per tick, from here
	prevAt := start
	lastLine := start
	defer func() {
		if m.tty {
			fmt.Fprintln(m.out)
		}
	}()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-tick.C:
		}
		m.sample()
		elapsed := now.Sub(start)
		fws := g.Frameworks()
		st := g.Counters()
		fl := m.fleet.Stats()
		dt := now.Sub(prevAt).Seconds()
		subscribed := 0
		for _, f := range fws {
			if f.ID() != "" {
				subscribed++
			}
		}
		eta, done := "", false
		if pl.duration > 0 {
			eta = (pl.duration - elapsed).Round(time.Second).String()
			done = elapsed >= pl.duration
		} else {
			fin, total, all := finiteProgress(fws, finite, pl.endRunning)
			done = all && len(fws) == len(pl.fws)
			if fin > 0 {
				eta = "~" + time.Duration(float64(elapsed)*float64(total-fin)/float64(fin)).Round(time.Second).String()
			} else {
				eta = "?"
			}
		}
		cpu, rss := "-", "-"
		if m.sampled {
			cpu, rss = fmt.Sprintf("%.1fs", m.last.cpu.Seconds()), mib(m.last.rss)
		}
		line := fmt.Sprintf("%5s  agents %d/%d  frameworks %d/%d  offers/s %.0f  launches/s %.0f  running %d  master cpu %s rss %s  eta %s",
			elapsed.Round(time.Second), fl.Registered, fl.Agents, subscribed, len(pl.fws),
			float64(st.OffersReceived-prev.OffersReceived)/dt, float64(st.TasksLaunched-prev.TasksLaunched)/dt,
			fl.TasksRunning, cpu, rss, eta)
		switch {
		case m.tty:
			fmt.Fprintf(m.out, "\r%-140s", line)
		case now.Sub(lastLine) >= 5*time.Second:
			fmt.Fprintln(m.out, line)
			lastLine = now
		}
		smp := sample{at: elapsed, offers: float64(st.OffersReceived-prev.OffersReceived) / dt,
			launches: float64(st.TasksLaunched-prev.TasksLaunched) / dt, running: fl.TasksRunning,
			subscribed: subscribed, all: subscribed == len(pl.fws),
			fair: sampleFairness(fws, roleIndex, pl)}
		if m.sampled {
			smp.master, smp.rss = true, m.last.rss
			smp.cpu = (m.last.cpu - prevCPU).Seconds() / dt
			prevCPU = m.last.cpu
		}
		m.samples = append(m.samples, smp)
		prev, prevAt = st, now
		if done {
			return
		}
	}
}

// result is what a run measured.
type result struct {
	profile     string
	description string // the profile's
	command     string // loadgen's command line, for the report
	finished    time.Time
	elapsed     time.Duration // from the first framework to the end, before the drain
	agents      int
	frameworks  int
	stats       synth.Stats
	fleet       simagent.Stats
	master      [2]string      // CPU seconds, peak RSS
	progress    synth.Progress // at the end of the run, before the drain
	endRunning  bool           // the run ended when every task was running
	lost        int
	failover    failoverResult
	duplicates  int64
	faults      struct{ killed, restarted, partitioned, healed int64 }
	// samples are the monitor's, one a second; roles and weights name
	// the places of their fairness figures.
	samples  []sample
	roles    []string
	weights  []float64
	fairness fairnessSummary
	// errors are failures besides lost and duplicated updates: frameworks
	// the master sent ERROR, a data race reported by the masterd.
	errors []string
	// unacked describes a few of the updates lost (fleet.Unacknowledged).
	unacked []string
	notes   []string
}

// failed reports whether an invariant broke: the exit status is 1.
func (r *result) failed() bool { return len(r.errors) > 0 || r.lost > 0 || r.duplicates > 0 }

// summaryRow is one row of the summary table.
type summaryRow struct{ Key, Value string }

// rows are the summary table, shared by the text summary and the HTML
// report.
func (r *result) rows() []summaryRow {
	var rows []summaryRow
	secs := r.elapsed.Seconds()
	rate := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/secs) }
	row := func(k, v string) { rows = append(rows, summaryRow{k, v}) }
	row("profile", r.profile)
	row("run time", r.elapsed.Round(time.Millisecond).String())
	row("agents", fmt.Sprint(r.agents))
	row("frameworks", fmt.Sprint(r.frameworks))
	row("offers/s", rate(r.stats.OffersReceived))
	row("accepts/s", rate(r.stats.OffersAccepted))
	row("launches/s", rate(r.stats.TasksLaunched))
	row("tasks launched", fmt.Sprint(r.stats.TasksLaunched))
	if r.endRunning {
		row("tasks running and acknowledged", fmt.Sprintf("%d (%.1f/s)", r.progress.Started, float64(r.progress.Started)/secs))
	}
	row("submit→RUNNING p50/p99/max", latencies(r.stats.Latencies))
	row("master CPU", r.master[0])
	row("master peak RSS", r.master[1])
	row("fairness error mean/max", r.fairnessFigure())
	row("agent faults", fmt.Sprintf("killed %d, restarted %d, partitioned %d, healed %d",
		r.faults.killed, r.faults.restarted, r.faults.partitioned, r.faults.healed))
	row("updates acknowledged", fmt.Sprintf("%d (agents: %d acked, %d pending)", r.stats.Acks, r.fleet.UpdatesAcked, r.fleet.UpdatesPending))
	row("lost updates", fmt.Sprint(r.lost))
	row("duplicated updates", fmt.Sprint(r.duplicates))
	if r.stats.Redelivered > 0 {
		row("updates redelivered after re-subscribing", fmt.Sprint(r.stats.Redelivered))
	}
	if fo := r.failover; fo.done {
		row("leader killed: new leader seen", since(fo.newLeader))
		// The old leader's session expired at or before its successor was
		// seen, so the second figure is at least the time since expiry.
		row("leader killed: 99% of agents back", fmt.Sprintf("%s (%s after the new leader was seen; fewest registered %d)",
			since(fo.rereg99), since(fo.rereg99-fo.newLeader), fo.lowest))
		u := r.stats.Updates
		refused := r.stats.LostReasons[mesos.ReasonInvalidOffers]
		row("tasks lost or unreachable", fmt.Sprintf("%d (LOST %d, UNREACHABLE %d, DROPPED %d, GONE %d)",
			u[mesos.TaskLost]+u[mesos.TaskUnreachable]+u[mesos.TaskDropped]+u[mesos.TaskGone]-refused,
			u[mesos.TaskLost], u[mesos.TaskUnreachable], u[mesos.TaskDropped], u[mesos.TaskGone]))
		row("launches refused (offer rescinded meanwhile)", fmt.Sprint(refused))
	}
	if len(r.errors) > 0 {
		var first []string
		for _, e := range r.errors {
			line, _, _ := strings.Cut(e, "\n")
			first = append(first, line)
		}
		row("errors", strings.Join(first, "; "))
	}
	return rows
}

// fairnessFigure formats the fairness error's mean and max in percent of
// the cluster (a dominant share of 0.05 is 5%), with the worst role and
// when.
func (r *result) fairnessFigure() string {
	f := r.fairness
	if f.samples == 0 {
		return "- (no sample with every framework subscribed)"
	}
	worst := "every role at its DRF share"
	if f.max > 0 {
		worst = fmt.Sprintf("worst: role %s at %s", r.roles[f.worst], f.at.Round(time.Second))
	}
	return fmt.Sprintf("%.2f%% / %.2f%% of the cluster (%s; %d samples)", 100*f.mean, 100*f.max, worst, f.samples)
}

// print writes the summary table.
func (r *result) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\n", row.Key, row.Value)
	}
	tw.Flush()
}

// since formats a time after the leader kill; "-" when it never came.
func since(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(10 * time.Millisecond).String()
}

// latencies formats p50/p99/max.
func latencies(ls []time.Duration) string {
	if len(ls) == 0 {
		return "-"
	}
	s := slices.Clone(ls)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(int(p*float64(len(s))), len(s)-1)] }
	r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	return fmt.Sprintf("%s / %s / %s (%d tasks)", r(q(0.5)), r(q(0.99)), r(s[len(s)-1]), len(s))
}
