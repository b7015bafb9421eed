package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	agentcore "meseta/core/agent"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"meseta/core/daemon"
	"meseta/loadgen/simagent"
	"meseta/loadgen/synth"
	"meseta/profiles"
)

// drainGrace bounds the wait, after the run, for the live agents' status
// updates to be acknowledged and, in a run that ends when its work is
// done, for the tasks to get there. It is longer than the agents' first
// resend interval (10 s), so an update whose batch was dropped is sent
// again within it.
const drainGrace = 30 * time.Second

// lostAfter is how long an update may go unacknowledged, at the end of the
// drain, before it counts as lost: two of the simulated agents' retries
// (10 s, then 20 s after it) would have gone out, and one more round trip.
const lostAfter = 2*agentcore.DefaultRetryMin + 5*time.Second

type config struct {
	profile  string
	master   string
	masterd  string
	duration time.Duration // 0: the profile's
	seed     uint64
	race     bool // build masterd with -race (tests)
	// inprocess: drive the allocator alone (inprocess.go).
	inprocess bool
	report    string // write the HTML report to this file
	command   string // the command line, for the report

	// cpuProfile and memProfile are loadgen's profiles; the masterd it
	// starts writes its own next to them, with ".masterd" appended.
	cpuProfile, memProfile string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.profile, "profile", "", "profile name (profiles/*.json) or a path ending in .json (required)")
	fs.StringVar(&c.master, "master", "", "host:port of a running master to drive (default: start a masterd)")
	fs.StringVar(&c.masterd, "masterd", "", "masterd binary to start (default: go build ./masterd)")
	fs.DurationVar(&c.duration, "duration", 0, "run length, overriding the profile's run.duration (0: the profile's)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of task durations, picky declines and fault victims")
	fs.BoolVar(&c.inprocess, "inprocess", false, "drive the allocator alone, in this process (no master, no API): the allocator's share of the cost")
	fs.StringVar(&c.report, "report", "", "write a self-contained HTML report (SVG charts) to this file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write loadgen's CPU profile to this file, and the masterd it starts to this file + \".masterd\"")
	fs.StringVar(&c.memProfile, "memprofile", "", "write loadgen's heap profile at the end to this file, and the masterd's to this file + \".masterd\"")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.command = commandLine(args)
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.profile == "":
		return c, errors.New("-profile is required (have " + strings.Join(profiles.Names(), ", ") + ")")
	case c.duration < 0:
		return c, fmt.Errorf("-duration: must not be negative, not %v", c.duration)
	case c.master != "" && c.masterd != "":
		return c, errors.New("-master and -masterd: give at most one")
	case c.inprocess && (c.master != "" || c.masterd != ""):
		return c, errors.New("-inprocess: runs no master; drop -master and -masterd")
	case c.inprocess && c.report != "":
		return c, errors.New("-inprocess: writes no -report (the summary table only)")
	}
	return c, nil
}

func loadProfile(name string) (*profiles.Profile, error) {
	if strings.HasSuffix(name, ".json") {
		return profiles.LoadFile(name)
	}
	return profiles.Load(name)
}

// run is the command: it returns the exit status (0 ok, 1 a failed run or
// lost or duplicated updates, 2 bad usage).
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	prof, err := daemon.StartProfiles(cfg.cpuProfile, cfg.memProfile)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: -cpuprofile: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	status := runConfig(ctx, cfg, stdout, stderr)
	if err := prof.Stop(); err != nil {
		fmt.Fprintf(stderr, "loadgen: writing profiles: %v\n", err)
	}
	return status
}

func runConfig(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	p, err := loadProfile(cfg.profile)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: -profile: %v\n", err)
		return 2
	}
	pl, err := newPlan(p, cfg.seed)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if cfg.duration > 0 {
		pl.duration = cfg.duration
	}
	if cfg.inprocess {
		for _, n := range inprocessNotes(pl) {
			fmt.Fprintf(stderr, "loadgen: note: %s\n", n)
		}
		return runInProcess(ctx, pl, stdout, stderr)
	}
	if cfg.master != "" && pl.killsLeader() {
		fmt.Fprintf(stderr, "loadgen: -master: profile %s kills the leading master, so loadgen must start the masters itself\n", pl.profile.Name)
		return 2
	}
	for _, n := range pl.notes {
		fmt.Fprintf(stderr, "loadgen: note: %s\n", n)
	}
	// Each agent holds a stream in loadgen and in the master; leave room
	// for the frameworks, the outboxes and the master's own files.
	if limit := raiseOpenFiles(); limit < uint64(len(pl.agents))+4096 {
		fmt.Fprintf(stderr, "loadgen: note: the open-file limit is %d, too low for %d agents' streams: raise it (ulimit -Hn, as root)\n",
			limit, len(pl.agents))
	}
	var report *os.File
	if cfg.report != "" {
		// Created now, so that a path that cannot be written fails before
		// the run rather than after it.
		if report, err = os.Create(cfg.report); err != nil {
			fmt.Fprintf(stderr, "loadgen: -report: %v\n", err)
			return 2
		}
		defer report.Close()
	}
	res, err := execute(ctx, cfg, pl, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	res.command = cfg.command
	res.print(stdout)
	status := 0
	if report != nil {
		err := renderReport(report, res)
		if cerr := report.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: -report: %v\n", err)
			status = 1
		} else {
			fmt.Fprintf(stderr, "loadgen: report written to %s\n", cfg.report)
		}
	}
	if res.lost > 0 {
		for _, u := range res.unacked {
			fmt.Fprintf(stderr, "loadgen: unacknowledged: %s\n", u)
		}
	}
	for _, d := range res.stats.DuplicateSamples {
		fmt.Fprintf(stderr, "loadgen: duplicated: %s\n", d)
	}
	if res.stats.CallErrors > 0 {
		fmt.Fprintf(stderr, "loadgen: %d framework calls failed (expected of calls to a master that was killed); the first: %s\n",
			res.stats.CallErrors, strings.Join(slices.Compact(res.stats.CallErrorSamples), "; "))
	}
	if len(res.errors) > 0 {
		fmt.Fprintf(stderr, "loadgen: FAIL: %s\n", strings.Join(res.errors, "\n"))
		return 1
	}
	if res.lost > 0 || res.duplicates > 0 {
		fmt.Fprintf(stderr, "loadgen: FAIL: %d lost and %d duplicated status updates\n", res.lost, res.duplicates)
		return 1
	}
	return status
}

// commandLine is args as a shell command line (arguments with unusual
// characters single-quoted).
func commandLine(args []string) string {
	var b strings.Builder
	b.WriteString("loadgen")
	for _, a := range args {
		b.WriteByte(' ')
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// execute starts the master (unless cfg.master), the agents and the
// frameworks, injects the faults, and runs until the plan's end.
func execute(ctx context.Context, cfg config, pl *plan, stderr io.Writer) (*result, error) {
	addr := cfg.master
	var cl *cluster
	if addr == "" {
		dir, err := os.MkdirTemp("", "loadgen")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		bin := cfg.masterd
		if bin == "" {
			fmt.Fprintln(stderr, "loadgen: building masterd")
			if bin, err = buildMasterd(dir, cfg.race); err != nil {
				return nil, err
			}
		}
		cl, err = startCluster(ctx, bin, dir, pl.profile.Masters(), pl.profile.Run.ZooKeeper,
			masterdFlags(pl, suffix(cfg.cpuProfile), suffix(cfg.memProfile)), stderr)
		if err != nil {
			return nil, err
		}
		defer cl.stop()
		_, addr, _ = cl.leader()
		if cl.zk != nil {
			fmt.Fprintf(stderr, "loadgen: %d masters contend through %s\n", len(cl.masters), cl.zkURL)
		}
	}
	fmt.Fprintf(stderr, "loadgen: profile %s against master %s: %d agents, %d frameworks\n",
		pl.profile.Name, addr, len(pl.agents), len(pl.fws))

	fleet, err := simagent.Start(simagent.Config{Master: addr, Agents: pl.agents, Duration: labelDuration})
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	var leader *masterProc
	if cl != nil {
		i, _, _ := cl.leader()
		leader = cl.masters[i]
	}
	mon := newMonitor(leader, fleet, stderr)
	if err := mon.waitAgents(ctx, len(pl.agents), 30*time.Second+time.Duration(len(pl.agents))*4*time.Millisecond); err != nil {
		return nil, err
	}

	start := time.Now()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	fwCtx, cancelFws := context.WithCancel(context.Background())
	defer cancelFws()
	group := synth.NewGroup(addr)
	started := make(chan []*fwRun, 1)
	go func() { started <- arrive(runCtx, fwCtx, group, pl, start, stderr) }()
	var faults faultCounts
	var wg sync.WaitGroup
	fo := &failover{agents: len(pl.agents), fleet: fleet}
	if cl != nil {
		// Agents and frameworks follow the leader as loadgen's detector
		// sees it: one ZooKeeper watch stands for each agent's.
		wg.Go(func() {
			cl.follow(runCtx, func(addr string) {
				fo.leaderMoved()
				fleet.SetMaster(addr)
				group.SetMaster(addr)
				if i, a, ok := cl.leader(); ok && a == addr {
					mon.master.Store(cl.masters[i])
				}
			})
		})
	}
	killLeader := func() {
		if cl == nil {
			return
		}
		i, err := cl.killLeader()
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: kill_leader: %v\n", err)
			return
		}
		fmt.Fprintf(stderr, "loadgen: killed the leading master %s (kill -9)\n", cl.masters[i].addr)
		wg.Go(func() { fo.measure(runCtx) })
	}
	wg.Go(func() {
		injectFaults(runCtx, start, pl.faults, len(pl.agents), fleet, killLeader,
			rand.New(rand.NewPCG(cfg.seed, 0xfa17)), &faults)
	})

	mon.loop(runCtx, start, pl, group)
	elapsed := time.Since(start)
	atEnd := group.Progress() // before the drain, which runs on
	cancelRun()
	wg.Wait()
	fws := <-started

	// Stop launching; wait for the finite tasks launched to finish.
	for _, f := range fws {
		f.fw.Drain()
	}
	// The drain waits until the live agents hold no unacknowledged update
	// (and, without a duration, every finite task is done), or drainGrace.
	// An update still unacknowledged then is lost if it has waited since
	// before the drain, or for longer than lostAfter: through two of the
	// agent's retries at least. Younger ones, of tasks that ended during
	// the drain, are in flight.
	drainStart := time.Now()
	settled := func() bool {
		st := fleet.Stats()
		return st.UpdatesPending == st.PendingDown && (pl.duration != 0 || unfinished(fws, pl.endRunning) == 0)
	}
	deadline := drainStart.Add(drainGrace)
	for time.Now().Before(deadline) && ctx.Err() == nil && !settled() {
		time.Sleep(100 * time.Millisecond)
	}
	cutoff := time.Now().Add(-lostAfter)
	if cutoff.Before(drainStart) {
		cutoff = drainStart
	}
	lost := func() int {
		n, _ := fleet.Unacknowledged(cutoff, 0)
		if pl.duration == 0 {
			n += int64(unfinished(fws, pl.endRunning))
		}
		return int(n)
	}
	mon.sample()

	res := &result{profile: pl.profile.Name, elapsed: elapsed, agents: len(pl.agents),
		frameworks: len(fws), stats: group.Stats(), progress: atEnd, endRunning: pl.endRunning,
		fleet: fleet.Stats(), lost: lost(), master: mon.masterFigures(), notes: pl.notes,
		description: pl.profile.Description, finished: time.Now(),
		samples: mon.samples, roles: pl.roles, weights: pl.weights, fairness: summarizeFairness(mon.samples)}
	res.duplicates = res.stats.Duplicates
	_, res.unacked = fleet.Unacknowledged(cutoff, 10)
	res.failover = fo.result()
	res.faults.killed, res.faults.restarted = faults.killed.Load(), faults.restarted.Load()
	res.faults.partitioned, res.faults.healed = faults.partitioned.Load(), faults.healed.Load()
	for _, f := range fws {
		if err := f.fw.Err(); err != nil {
			res.errors = append(res.errors, fmt.Sprintf("%s: %v", f.plan.cfg.Name, err))
		}
	}

	// Tear the frameworks down (the master kills their tasks), at most 5 s.
	var td sync.WaitGroup
	for _, f := range fws {
		td.Go(func() { _ = f.fw.Teardown() })
	}
	tdDone := make(chan struct{})
	go func() { td.Wait(); close(tdDone) }()
	select {
	case <-tdDone:
	case <-time.After(5 * time.Second):
		cancelFws()
		<-tdDone
	}
	if cl != nil {
		cl.stop()
		res.errors = append(res.errors, cl.unexpectedExits()...)
		for _, m := range cl.masters {
			if m.raced() {
				res.errors = append(res.errors, "masterd reported a data race:\n"+m.stderr())
			}
		}
	}
	return res, nil
}

// fwRun is a started framework and its plan.
type fwRun struct {
	plan fwPlan
	fw   *synth.Framework
}

// arrive starts the plan's frameworks, all at once or pl.arrival a
// second, until runCtx ends; they run under fwCtx.
func arrive(runCtx, fwCtx context.Context, g *synth.Group, pl *plan, start time.Time, stderr io.Writer) []*fwRun {
	var out []*fwRun
	for i, fp := range pl.fws {
		if pl.arrival > 0 {
			at := start.Add(time.Duration(float64(i) / pl.arrival * float64(time.Second)))
			t := time.NewTimer(time.Until(at))
			select {
			case <-runCtx.Done():
				t.Stop()
				return out
			case <-t.C:
			}
		}
		f, err := g.Start(fwCtx, fp.cfg)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: framework %s: %v\n", fp.cfg.Name, err)
			continue
		}
		out = append(out, &fwRun{plan: fp, fw: f})
	}
	return out
}

// unfinished counts the launched tasks of non-service frameworks (only
// services may have infinite durations) that have not got where they
// should by the end of a run: a terminal update, or with endRunning their
// first TASK_RUNNING. A service's instances run on by design and are not
// counted.
func unfinished(fws []*fwRun, endRunning bool) int {
	n := 0
	for _, f := range fws {
		if f.plan.service {
			continue
		}
		p := f.fw.Progress()
		if endRunning {
			n += int(p.Launched - p.Started)
		} else {
			n += int(p.Launched - p.Ended)
		}
	}
	return n
}

// finiteProgress returns how many tasks of the finite frameworks are done
// (ended, or with endRunning started) and their total; all when every
// finite framework launched its total and each of those tasks is done.
func finiteProgress(fws []*synth.Framework, finite map[string]bool, endRunning bool) (done, total int, all bool) {
	all = true
	for _, f := range fws {
		if !finite[f.Config().Name] {
			continue
		}
		want := f.Config().Total
		total += want
		p := f.Progress()
		n := int(p.Ended)
		if endRunning {
			n = int(p.Started)
		}
		done += min(n, want)
		if n < want {
			all = false
		}
	}
	return done, total, all
}

// suffix names the masterd's profile after loadgen's (empty stays empty).
func suffix(path string) string {
	if path == "" {
		return ""
	}
	return path + ".masterd"
}
