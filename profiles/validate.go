package profiles

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"meseta/core"
)

// Bounds on the numbers a profile may hold. They are far above any real
// run; a number beyond them is a typo, and keeping them keeps the load
// generator's arithmetic (agents × tasks, durations) clear of overflow.
const (
	maxAgents     = 1_000_000
	maxFrameworks = 1_000_000 // over every group
	maxTasks      = 1_000_000_000
	maxRate       = 1_000_000 // per second
	maxMasters    = 9
	maxPing       = Duration(time.Hour)
	maxPings      = 1000
	maxDuration   = Duration(365 * 24 * time.Hour)
	maxRefuse     = 1e9 // seconds, about 31 years: Mesos's "forever" is 1e9 s too
	maxSigma      = 10
)

// Validate checks every field and reports every bad one by its JSON path.
//
// Which load fields each kind takes (req: required when the profile has a
// run; opt: optional; -: an error if set):
//
//	            task  instances  total_tasks/rate  decline_fraction, refuse_seconds,  idle, flood
//	                                               attribute_match
//	decliner    -     -          -                 -                                   -
//	greedy      req   -          one of them req   -                                   -
//	service     req   req        -                 -                                   -
//	picky       req   -          one of them req   opt                                 -
//	bursty      req   -          opt               -                                   req
func (p *Profile) Validate() error {
	v := &validator{}
	if p.Name == "" {
		v.bad("name", "must be set")
	}
	c := p.Cluster
	if c.Agents <= 0 || c.Agents > maxAgents {
		v.bad("cluster.agents", "must be in [1, %d], not %d", maxAgents, c.Agents)
	}
	agent, err := core.ParseResources(c.AgentResources)
	if err != nil || c.AgentResources == "" {
		v.bad("cluster.agent_resources", "%q is not a resource list: %v", c.AgentResources, err)
	}
	if err := checkAttributes(c.Attributes); err != nil {
		v.bad("cluster.attributes", "%v", err)
	}
	if c.Racks < 0 || c.Racks > max(c.Agents, 1) {
		v.bad("cluster.racks", "must be in [0, cluster.agents], not %d", c.Racks)
	}
	total := 0
	for i, g := range p.Frameworks {
		v.group(fmt.Sprintf("frameworks[%d]", i), g, agent.CountQuantities(), p.Run != nil)
		total += max(g.Count, 0)
	}
	if total > maxFrameworks {
		v.bad("frameworks", "%d frameworks in all, more than %d", total, maxFrameworks)
	}
	if p.Run != nil {
		v.run("run", p.Run, c.Agents)
	}
	v.bench(p.Bench)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) bad(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// duration checks 0 <= d <= maxDuration (ParseDuration already refuses
// negatives; a Profile built in Go may hold one).
func (v *validator) duration(field string, d Duration) {
	if d < 0 || d > maxDuration {
		v.bad(field, "must be in [0, %s], not %s", core.FormatDuration(maxDuration.D()), time.Duration(d))
	}
}

// notFor reports the load fields of g that its kind does not take.
func (v *validator) notFor(f string, g FrameworkGroup, fields ...string) {
	set := map[string]bool{
		"task":             g.Task != nil,
		"instances":        g.Instances != 0,
		"total_tasks":      g.TotalTasks != 0,
		"rate":             g.Rate != 0,
		"decline_fraction": g.DeclineFraction != 0,
		"refuse_seconds":   g.RefuseSeconds != 0,
		"attribute_match":  g.AttributeMatch != "",
		"idle":             g.Idle != 0,
		"flood":            g.Flood != 0,
	}
	for _, name := range fields {
		if set[name] {
			v.bad(f+"."+name, "is not for %q frameworks", g.Kind)
		}
	}
}

func (v *validator) group(f string, g FrameworkGroup, agent core.Quantities, load bool) {
	if !slices.Contains(kinds, g.Kind) {
		v.bad(f+".kind", "%q is not one of %s", g.Kind, strings.Join(kinds, ", "))
	}
	if g.Count <= 0 || g.Count > maxFrameworks {
		v.bad(f+".count", "must be in [1, %d], not %d", maxFrameworks, g.Count)
	}
	if err := core.ValidateRole(strings.ReplaceAll(g.Role, "%d", "0")); err != nil {
		v.bad(f+".role", "%v", err)
	}
	if g.Weight < 0 || g.Weight > 1e6 || math.IsNaN(g.Weight) {
		v.bad(f+".weight", "must be in [0, 1e6], not %v", g.Weight)
	}
	guarantee, gerr := core.ParseQuantities(g.Guarantee)
	if gerr != nil {
		v.bad(f+".guarantee", "%v", gerr)
	}
	limit, lerr := core.ParseQuantities(g.Limit)
	if lerr != nil {
		v.bad(f+".limit", "%v", lerr)
	}
	if gerr == nil && lerr == nil && g.Limit != "" && !limit.Contains(guarantee) {
		v.bad(f+".guarantee", "%s is more than the limit %s", guarantee, limit)
	}

	// The load fields: which a kind takes.
	switch g.Kind {
	case Decliner:
		v.notFor(f, g, "task", "instances", "total_tasks", "rate", "decline_fraction", "refuse_seconds", "attribute_match", "idle", "flood")
	case Greedy:
		v.notFor(f, g, "instances", "decline_fraction", "refuse_seconds", "attribute_match", "idle", "flood")
	case Service:
		v.notFor(f, g, "total_tasks", "rate", "decline_fraction", "refuse_seconds", "attribute_match", "idle", "flood")
		if load && g.Instances <= 0 {
			v.bad(f+".instances", "a service needs instances > 0")
		}
	case Picky:
		v.notFor(f, g, "instances", "idle", "flood")
	case Bursty:
		v.notFor(f, g, "instances", "decline_fraction", "refuse_seconds", "attribute_match")
		if load && (g.Idle <= 0 || g.Flood <= 0) {
			v.bad(f+".idle", "a bursty framework needs idle and flood > 0")
		}
	}
	if load && g.Kind != Decliner && g.Task == nil {
		v.bad(f+".task", "%q frameworks need a task shape", g.Kind)
	}
	if load && (g.Kind == Greedy || g.Kind == Picky) && g.TotalTasks == 0 && g.Rate == 0 {
		v.bad(f+".total_tasks", "a batch framework needs total_tasks or rate")
	}
	if g.Instances < 0 || g.Instances > maxTasks {
		v.bad(f+".instances", "must be in [0, %d], not %d", maxTasks, g.Instances)
	}
	if g.TotalTasks < 0 || g.TotalTasks > maxTasks {
		v.bad(f+".total_tasks", "must be in [0, %d], not %d", maxTasks, g.TotalTasks)
	}
	if !(g.Rate >= 0 && g.Rate <= maxRate) {
		v.bad(f+".rate", "must be in [0, %d] tasks a second, not %v", maxRate, g.Rate)
	}
	if !(g.DeclineFraction >= 0 && g.DeclineFraction <= 1) {
		v.bad(f+".decline_fraction", "must be in [0, 1], not %v", g.DeclineFraction)
	}
	if !(g.RefuseSeconds >= 0 && g.RefuseSeconds <= maxRefuse) {
		v.bad(f+".refuse_seconds", "must be in [0, %g], not %v", float64(maxRefuse), g.RefuseSeconds)
	}
	if err := checkAttributes(g.AttributeMatch); err != nil {
		v.bad(f+".attribute_match", "%v", err)
	}
	v.duration(f+".idle", g.Idle)
	v.duration(f+".flood", g.Flood)
	if g.Task != nil {
		v.task(f+".task", g.Task, g.Kind, agent)
	}
}

func (v *validator) task(f string, t *Task, kind string, agent core.Quantities) {
	res, err := core.ParseResources(t.Resources)
	switch {
	case t.Resources == "":
		v.bad(f+".resources", "must be set")
	case err != nil:
		v.bad(f+".resources", "%q is not a resource list: %v", t.Resources, err)
	case len(agent) > 0 && !agent.Contains(res.CountQuantities()):
		v.bad(f+".resources", "%s does not fit on an agent (%s)", res.CountQuantities(), agent)
	}
	d, df := t.Duration, f+".duration"
	if !slices.Contains(distributionKinds, d.Kind) {
		v.bad(df+".kind", "%q is not one of %s", d.Kind, strings.Join(distributionKinds, ", "))
		return
	}
	for _, x := range []struct {
		name string
		d    Duration
	}{{"median", d.Median}, {"mean", d.Mean}, {"min", d.Min}, {"max", d.Max}} {
		v.duration(df+"."+x.name, x.d)
	}
	// takes lists the fields a kind uses; the others must be unset.
	takes := map[string][]string{
		Fixed: {"median"}, Exponential: {"mean", "max"}, Lognormal: {"median", "sigma", "max"},
		Uniform: {"min", "max"}, Infinite: {},
	}[d.Kind]
	set := map[string]bool{"median": d.Median != 0, "mean": d.Mean != 0, "min": d.Min != 0, "max": d.Max != 0, "sigma": d.Sigma != 0}
	for _, name := range []string{"median", "mean", "min", "max", "sigma"} {
		if set[name] && !slices.Contains(takes, name) {
			v.bad(df+"."+name, "is not for a %s distribution", d.Kind)
		}
	}
	switch d.Kind {
	case Fixed, Lognormal:
		if d.Median <= 0 {
			v.bad(df+".median", "must be > 0")
		}
	case Exponential:
		if d.Mean <= 0 {
			v.bad(df+".mean", "must be > 0")
		}
	case Uniform:
		if d.Max <= 0 || d.Max < d.Min {
			v.bad(df+".max", "must be > 0 and >= min (%s), not %s", d.Min.D(), d.Max.D())
		}
	case Infinite:
		if kind != Service {
			v.bad(df+".kind", "only a service's tasks may run forever, not a %s framework's", kind)
		}
	}
	if d.Max != 0 && (d.Kind == Exponential && d.Max < d.Mean || d.Kind == Lognormal && d.Max < d.Median) {
		v.bad(df+".max", "a cap below the %s's centre (%s) makes it a fixed distribution", d.Kind, max(d.Mean, d.Median).D())
	}
	if !(d.Sigma >= 0 && d.Sigma <= maxSigma) {
		v.bad(df+".sigma", "must be in [0, %d], not %v", maxSigma, d.Sigma)
	}
}

func (v *validator) run(f string, r *Run, agents int) {
	v.duration(f+".duration", r.Duration)
	if !(r.Arrival.PerSecond >= 0 && r.Arrival.PerSecond <= maxRate) {
		v.bad(f+".arrival.per_second", "must be in [0, %d], not %v", maxRate, r.Arrival.PerSecond)
	}
	if r.Masters < 0 || r.Masters > maxMasters {
		v.bad(f+".masters", "must be in [0, %d], not %d", maxMasters, r.Masters)
	}
	if r.Masters > 1 && !r.ZooKeeper {
		v.bad(f+".zookeeper", "%d masters contend through ZooKeeper: set zookeeper", r.Masters)
	}
	if r.End != "" && r.End != EndFinished && r.End != EndRunning {
		v.bad(f+".end", "%q is not %s or %s", r.End, EndFinished, EndRunning)
	}
	v.duration(f+".agent_ping_timeout", r.AgentPingTimeout)
	if r.AgentPingTimeout > maxPing {
		v.bad(f+".agent_ping_timeout", "must be at most %s, not %s", core.FormatDuration(maxPing.D()), core.FormatDuration(r.AgentPingTimeout.D()))
	}
	if r.MaxAgentPingTimeouts < 0 || r.MaxAgentPingTimeouts > maxPings {
		v.bad(f+".max_agent_ping_timeouts", "must be in [0, %d], not %d", maxPings, r.MaxAgentPingTimeouts)
	}
	for i, ft := range r.Faults {
		ff := fmt.Sprintf("%s.faults[%d]", f, i)
		v.duration(ff+".at", ft.At)
		v.duration(ff+".for", ft.For)
		v.duration(ff+".every", ft.Every)
		if r.Duration > 0 && ft.At > r.Duration {
			v.bad(ff+".at", "%s is after the end of the run (%s)", ft.At.D(), r.Duration.D())
		}
		if ft.For != 0 && ft.Kind != PartitionAgents {
			v.bad(ff+".for", "only a partition lasts for a time")
		}
		if !(ft.Fraction >= 0 && ft.Fraction <= 1) {
			v.bad(ff+".fraction", "must be in [0, 1], not %v", ft.Fraction)
		}
		if ft.Count < 0 || ft.Count > agents {
			v.bad(ff+".count", "must be in [0, cluster.agents = %d], not %d", agents, ft.Count)
		}
		switch ft.Kind {
		case KillLeader:
			if ft.Count != 0 || ft.Fraction != 0 {
				v.bad(ff+".count", "a leader kill hits one master: no count or fraction")
			}
			if r.Masters < 2 || !r.ZooKeeper {
				v.bad(ff+".kind", "killing the leader needs a standby: run.masters >= 2 and run.zookeeper")
			}
		case KillAgents, PartitionAgents, RestartAgents:
			if (ft.Count > 0) == (ft.Fraction > 0) {
				v.bad(ff+".count", "set exactly one of count and fraction (> 0)")
			}
		default:
			v.bad(ff+".kind", "%q is not one of %s", ft.Kind, strings.Join(faultKinds, ", "))
		}
	}
}

func (v *validator) bench(b Bench) {
	for _, s := range b.Scenarios {
		if !slices.Contains(scenarios, s) {
			v.bad("bench.scenarios", "%q is not one of %s", s, strings.Join(scenarios, ", "))
		}
	}
	for i, s := range b.Grid {
		if s.Agents <= 0 || s.Frameworks <= 0 || s.Agents > maxAgents || s.Frameworks > maxFrameworks {
			v.bad(fmt.Sprintf("bench.grid[%d]", i), "agents and frameworks must be in [1, %d], not %d and %d", maxAgents, s.Agents, s.Frameworks)
		}
	}
	if b.ReferenceBudget < 0 {
		v.bad("bench.reference_budget", "must be >= 0")
	}
	if b.Events < 0 {
		v.bad("bench.events", "must be >= 0")
	}
	if b.MemoryAgents < 0 || b.MemoryAgents > maxAgents {
		v.bad("bench.memory_agents", "must be in [0, %d]", maxAgents)
	}
	if b.MemoryFrameworks < 0 || b.MemoryFrameworks > maxFrameworks {
		v.bad("bench.memory_frameworks", "must be in [0, %d]", maxFrameworks)
	}
	if slices.Contains(b.Scenarios, "incremental") && (b.Incremental.Agents <= 0 || b.Incremental.Frameworks <= 0) {
		v.bad("bench.incremental", "agents and frameworks must be > 0 when the incremental scenario runs")
	}
}

// checkAttributes checks the `name:value;name:value` form of agent
// attributes (empty is fine).
func checkAttributes(text string) error {
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(text, ";") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return fmt.Errorf("attribute %q is not name:value", entry)
		}
		if seen[name] {
			return fmt.Errorf("attribute %q given twice", name)
		}
		seen[name] = true
	}
	return nil
}
