package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"meseta/bench/scenario"
	"meseta/core"
	"meseta/profiles"
)

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "small", "profile name (one of "+strings.Join(profiles.Names(), ", ")+") or a .json file")
	impls := fs.String("impl", "sharded,reference", "comma-separated engines to run")
	count := fs.Int("count", 3, "runs per cell; the table shows medians")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile at the end to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *count < 1 {
		fmt.Fprintf(stderr, "bench: -count must be at least 1, not %d\n", *count)
		return 2
	}
	var engines []string
	for _, name := range strings.Split(*impls, ",") {
		if !slices.Contains(scenario.Impls, name) {
			fmt.Fprintf(stderr, "bench: -impl: unknown engine %q (want sharded, reference)\n", name)
			return 2
		}
		engines = append(engines, name)
	}
	var p *profiles.Profile
	var err error
	if strings.HasSuffix(*profile, ".json") {
		p, err = profiles.LoadFile(*profile)
	} else {
		p, err = profiles.Load(*profile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: -profile: %v\n", err)
		return 2
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: -cpuprofile: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: -cpuprofile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	h := &harness{p: p, engines: engines, count: *count, progress: stderr}
	rows, err := h.runAll()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	printTable(stdout, p, rows, h.notes)
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: -memprofile: %v\n", err)
			return 1
		}
	}
	return 0
}

// row is one line of the table: a figure for each engine.
type row struct {
	name, unit string
	value      map[string]float64 // by engine; absent: not run
	skipped    map[string]string  // by engine: why not run
	// target, when set, is checked on the sharded figure.
	target *target
	// ratioTarget, when set, is the least sharded-over-reference speedup.
	ratioTarget float64
}

type target struct {
	limit  float64
	atMost bool // the figure must be <= limit (else >=)
}

func (t *target) check(v float64) string {
	if t == nil {
		return ""
	}
	ok := v >= t.limit
	op := ">="
	if t.atMost {
		ok, op = v <= t.limit, "<="
	}
	verdict := "MISS"
	if ok {
		verdict = "PASS"
	}
	return fmt.Sprintf("%s %s %s", op, formatNum(t.limit), verdict)
}

type harness struct {
	p        *profiles.Profile
	engines  []string
	count    int
	progress io.Writer
	notes    []string
}

func (h *harness) has(engine string) bool { return slices.Contains(h.engines, engine) }

// median runs f count times and returns the median of each of its figures.
func median[T any](count int, f func() (T, error), pick ...func(T) float64) ([]float64, error) {
	vals := make([][]float64, len(pick))
	for range count {
		r, err := f()
		if err != nil {
			return nil, err
		}
		for i, p := range pick {
			vals[i] = append(vals[i], p(r))
		}
	}
	out := make([]float64, len(pick))
	for i, v := range vals {
		slices.Sort(v)
		out[i] = v[len(v)/2]
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (h *harness) runAll() ([]row, error) {
	res, err := core.ParseResources(h.p.Cluster.AgentResources)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, sc := range h.p.Bench.Scenarios {
		var rs []row
		var err error
		switch sc {
		case "decline":
			rs, err = h.decline(res)
		case "quota":
			rs, err = h.quota(res)
		case "incremental":
			rs, err = h.incremental(res)
		case "churn":
			rs, err = h.churn(res)
		case "memory":
			rs, err = h.memory(res)
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

// cycleTargets are the targets for a cycle, by size.
var cycleTargets = map[scenario.Size]float64{
	{Agents: 10000, Frameworks: 1000}: 10,
	{Agents: 20000, Frameworks: 2000}: 25,
	{Agents: 50000, Frameworks: 5000}: 100,
}

func (h *harness) decline(res core.Resources) ([]row, error) {
	var rows []row
	for _, g := range h.p.Bench.Grid {
		size := scenario.Size{Agents: g.Agents, Frameworks: g.Frameworks}
		first := row{name: "decline first cycle " + size.String(), unit: "ms", value: map[string]float64{}, skipped: map[string]string{}}
		filtered := row{name: "decline filtered cycle " + size.String(), unit: "ms", value: map[string]float64{}, skipped: map[string]string{}}
		idle := row{name: "decline idle cycle " + size.String(), unit: "ms", value: map[string]float64{}, skipped: map[string]string{}}
		if t, ok := cycleTargets[size]; ok {
			first.target = &target{t, true}
			filtered.target = &target{t, true}
		}
		if size == (scenario.Size{Agents: 10000, Frameworks: 1000}) {
			first.ratioTarget, filtered.ratioTarget = 50, 50
		}
		for _, impl := range h.engines {
			if impl == "reference" && h.p.Bench.ReferenceBudget > 0 && int64(size.Agents)*int64(size.Frameworks) > h.p.Bench.ReferenceBudget {
				why := fmt.Sprintf("agents × frameworks > %d", h.p.Bench.ReferenceBudget)
				first.skipped[impl], filtered.skipped[impl], idle.skipped[impl] = why, why, why
				continue
			}
			fmt.Fprintf(h.progress, "decline %s %s\n", impl, size)
			v, err := median(h.count, func() (scenario.DeclineResult, error) { return scenario.Decline(impl, size, res) },
				func(r scenario.DeclineResult) float64 { return ms(r.First) },
				func(r scenario.DeclineResult) float64 { return ms(r.Filtered) },
				func(r scenario.DeclineResult) float64 { return ms(r.Idle) })
			if err != nil {
				return nil, err
			}
			first.value[impl], filtered.value[impl], idle.value[impl] = v[0], v[1], v[2]
		}
		rows = append(rows, first, filtered, idle)
	}
	return rows, nil
}

func (h *harness) quota(res core.Resources) ([]row, error) {
	var roles []scenario.QuotaRole
	for _, g := range h.p.Frameworks {
		guarantee, _ := core.ParseQuantities(g.Guarantee)
		limit, _ := core.ParseQuantities(g.Limit)
		for i := range g.Count {
			roles = append(roles, scenario.QuotaRole{Role: g.RoleOf(i), Guarantee: guarantee, Limit: limit})
		}
	}
	name := fmt.Sprintf("quota first cycle agents=%d/roles=%d", h.p.Cluster.Agents, len(roles))
	first := row{name: name, unit: "ms", value: map[string]float64{}, skipped: map[string]string{}}
	idle := row{name: strings.Replace(name, "first", "idle", 1), unit: "ms", value: map[string]float64{}, skipped: map[string]string{}}
	if h.p.Cluster.Agents == 3000 && len(roles) == 3000 {
		first.target = &target{30, true}
	}
	for _, impl := range h.engines {
		fmt.Fprintf(h.progress, "quota %s\n", impl)
		v, err := median(h.count, func() (scenario.QuotaResult, error) { return scenario.Quota(impl, h.p.Cluster.Agents, res, roles) },
			func(r scenario.QuotaResult) float64 { return ms(r.First) },
			func(r scenario.QuotaResult) float64 { return ms(r.Idle) })
		if err != nil {
			return nil, err
		}
		first.value[impl], idle.value[impl] = v[0], v[1]
	}
	return []row{first, idle}, nil
}

func (h *harness) incremental(res core.Resources) ([]row, error) {
	s := h.p.Bench.Incremental
	size := scenario.Size{Agents: s.Agents, Frameworks: s.Frameworks}
	p50 := row{name: "recovered-to-offered p50 " + size.String(), unit: "µs", value: map[string]float64{}, skipped: map[string]string{}}
	p99 := row{name: "recovered-to-offered p99 " + size.String(), unit: "µs", value: map[string]float64{}, skipped: map[string]string{}}
	if size == (scenario.Size{Agents: 20000, Frameworks: 2000}) {
		p99.target = &target{20, true}
	}
	for _, impl := range h.engines {
		events := max(h.p.Bench.Events, 1000)
		if impl == "reference" {
			// The reference sorts every candidate for every pick: fewer
			// events keep it to seconds.
			events = max(events/1000, 100)
			h.notes = append(h.notes, fmt.Sprintf("reference latency rows use %d events (sharded: %d)", events, max(h.p.Bench.Events, 1000)))
		}
		fmt.Fprintf(h.progress, "incremental %s %s\n", impl, size)
		v, err := median(h.count, func() (scenario.LatencyResult, error) { return scenario.Incremental(impl, size, res, events, 1) },
			func(r scenario.LatencyResult) float64 { return float64(r.P50) / 1e3 },
			func(r scenario.LatencyResult) float64 { return float64(r.P99) / 1e3 })
		if err != nil {
			return nil, err
		}
		p50.value[impl], p99.value[impl] = v[0], v[1]
	}
	return []row{p50, p99}, nil
}

func (h *harness) churn(res core.Resources) ([]row, error) {
	s := h.p.Bench.Incremental
	size := scenario.Size{Agents: max(s.Agents/10, 200), Frameworks: max(s.Frameworks/10, 20)}
	var rows []row
	for _, workers := range []scenario.Workers{scenario.WorkersByShard, scenario.WorkersDealt, scenario.WorkersApart} {
		label := map[scenario.Workers]string{
			scenario.WorkersByShard: "workers by shard",
			scenario.WorkersDealt:   "workers dealt agents in turn",
			scenario.WorkersApart:   "ceiling: an engine per worker",
		}[workers]
		newRow := func(name, unit string) row {
			return row{name: fmt.Sprintf("churn %s, %s %s", name, label, size), unit: unit, value: map[string]float64{}, skipped: map[string]string{}}
		}
		one, two, ratio := newRow("GOMAXPROCS=1", "events/s"), newRow("GOMAXPROCS=2", "events/s"), newRow("speedup 2 over 1", "x")
		if workers == scenario.WorkersByShard {
			// The target is what sharding buys: concurrent calls on
			// different shards.
			ratio.target = &target{1.6, false}
		}
		for _, impl := range h.engines {
			fmt.Fprintf(h.progress, "churn %s %s\n", impl, label)
			// Five times as many pairs, each a fifth as long: this
			// machine's speed drifts on a scale of a fraction of a
			// second, and a short pair is more often measured in one
			// state. Rates do not depend on the count.
			events, count := max(h.p.Bench.Events/5, 1000), 5*h.count
			if impl == "reference" {
				// The reference takes a sort per event: fewer events keep
				// it to seconds.
				events = max(events/20, 1000)
			}
			pairs, err := scenario.ChurnPairs(impl, size, res, events, count, workers)
			if err != nil {
				return nil, err
			}
			one.value[impl] = medianOf(pairs, func(p scenario.ChurnPair) float64 { return p.One })
			two.value[impl] = medianOf(pairs, func(p scenario.ChurnPair) float64 { return p.Two })
			// The median of the pairs' ratios, each pair measured back to
			// back: steadier than a ratio of medians on a shared machine.
			ratio.value[impl] = medianOf(pairs, scenario.ChurnPair.Ratio)
		}
		rows = append(rows, one, two, ratio)
	}
	return rows, nil
}

// medianOf is the median of f over xs.
func medianOf[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		v = append(v, f(x))
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func (h *harness) memory(res core.Resources) ([]row, error) {
	agents, fws := h.p.Bench.MemoryAgents, h.p.Bench.MemoryFrameworks
	perAgent := row{name: fmt.Sprintf("memory per agent at %d agents", agents), unit: "bytes", value: map[string]float64{}, skipped: map[string]string{}}
	perFw := row{name: fmt.Sprintf("memory per framework at %d frameworks", fws), unit: "bytes", value: map[string]float64{}, skipped: map[string]string{}}
	if agents == 50000 {
		perAgent.target = &target{2048, true}
	}
	for _, impl := range h.engines {
		fmt.Fprintf(h.progress, "memory %s\n", impl)
		v, err := median(h.count, func() (scenario.MemoryResult, error) { return scenario.Memory(impl, agents, fws, res) },
			func(r scenario.MemoryResult) float64 { return r.BytesPerAgent },
			func(r scenario.MemoryResult) float64 { return r.BytesPerFramework })
		if err != nil {
			return nil, err
		}
		perAgent.value[impl], perFw.value[impl] = v[0], v[1]
	}
	return []row{perAgent, perFw}, nil
}

func formatNum(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// printTable prints the rows side by side.
func printTable(w io.Writer, p *profiles.Profile, rows []row, notes []string) {
	fmt.Fprintf(w, "profile %s: %s\n\n", p.Name, p.Description)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\tunit\tsharded\treference\tratio\ttarget\t")
	var skipped []string
	for _, r := range rows {
		cell := func(impl string) string {
			if v, ok := r.value[impl]; ok {
				return formatNum(v)
			}
			if why, ok := r.skipped[impl]; ok {
				skipped = append(skipped, fmt.Sprintf("%s: %s skipped (%s)", r.name, impl, why))
				return "skipped"
			}
			return "-"
		}
		ratio := ""
		s, okS := r.value["sharded"]
		ref, okR := r.value["reference"]
		if okS && okR && s > 0 && r.unit != "x" {
			x := ref / s
			if r.unit == "events/s" {
				x = s / ref
			}
			ratio = formatNum(x) + "x"
			if r.ratioTarget > 0 {
				verdict := "MISS"
				if x >= r.ratioTarget {
					verdict = "PASS"
				}
				ratio += fmt.Sprintf(" (>= %gx %s)", r.ratioTarget, verdict)
			}
		}
		tgt := ""
		if okS {
			tgt = r.target.check(s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.unit, cell("sharded"), cell("reference"), ratio, tgt)
	}
	tw.Flush()
	for _, s := range skipped {
		fmt.Fprintln(w, "  note: "+s+": the reference sorts every framework for every agent, so these cells would take minutes")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "  note: "+n)
	}
}
