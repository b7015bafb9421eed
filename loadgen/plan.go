package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"meseta/core"
	"meseta/core/mesos"
	"meseta/loadgen/simagent"
	"meseta/loadgen/synth"
	"meseta/profiles"
)

// errUnsupported marks a profile feature loadgen cannot run yet.
var errUnsupported = errors.New("not supported yet")

// plan is a load profile turned into what loadgen starts: the agents'
// specs, the frameworks' configs in arrival order, the faults and the
// run's length. Building it is pure; nothing runs.
type plan struct {
	profile  *profiles.Profile
	agents   []simagent.AgentSpec
	fws      []fwPlan
	faults   []profiles.Fault
	duration time.Duration // 0: until every finite framework is done
	arrival  float64       // frameworks a second; 0: all at the start
	// endRunning: the run (without a duration) is done when every finite
	// framework's tasks are running, not ended (run.end).
	endRunning bool
	// notes are what the profile asks for that loadgen skips.
	notes []string

	// roles are the frameworks' roles in order of first appearance, with
	// their weights (the first group's, 0 taken as 1), and capacity is
	// the agents' cpus and mem summed: the fairness error's inputs.
	roles    []string
	weights  []float64
	capacity resVec
}

// fwPlan is one synthetic framework.
type fwPlan struct {
	cfg synth.Config
	// finite: a batch framework (greedy or picky) with a total that it
	// launches and then is done; the run can end when all such are done.
	finite bool
	// service: its tasks are still running at the end by design, so they
	// are not counted as lost.
	service bool
	// weight is its group's weight (0: the default, 1), for the fairness
	// error's DRF shares.
	weight float64
}

// newPlan builds the plan of p; seed makes the task durations, picky
// declines and fault victims repeatable.
func newPlan(p *profiles.Profile, seed uint64) (*plan, error) {
	if p.Run == nil {
		return nil, fmt.Errorf("profile %q has no run section: it is for the bench harness only (go run ./bench -profile %s)", p.Name, p.Name)
	}
	pl := &plan{profile: p, duration: p.Run.Duration.D(), arrival: p.Run.Arrival.PerSecond,
		endRunning: p.Run.End == profiles.EndRunning}
	pl.faults = append(pl.faults, p.Run.Faults...)

	agentRes, err := core.ParseResources(p.Cluster.AgentResources)
	if err != nil {
		return nil, fmt.Errorf("cluster.agent_resources: %w", err)
	}
	pl.capacity = resVec{agentRes.ScalarValue("cpus").Float(), agentRes.ScalarValue("mem").Float()}
	for k := range pl.capacity {
		pl.capacity[k] *= float64(p.Cluster.Agents)
	}
	racks := max(p.Cluster.Racks, 1)
	for i := range p.Cluster.Agents {
		// Agent i is on rack i % racks, numbered from 0.
		attrs := strings.ReplaceAll(p.Cluster.Attributes, "%d", strconv.Itoa(i%racks))
		pl.agents = append(pl.agents, simagent.AgentSpec{
			Hostname: fmt.Sprintf("sim-%d", i), Resources: p.Cluster.AgentResources, Attributes: attrs,
		})
	}

	quota := false
	roleIndex := map[string]int{}
	for gi, g := range p.Frameworks {
		if g.Weight != 0 || g.Guarantee != "" || g.Limit != "" {
			quota = true
		}
		if g.Kind == profiles.Decliner {
			pl.notes = append(pl.notes, fmt.Sprintf("frameworks[%d]: %d decliner frameworks skipped (synth has no decliner kind)", gi, g.Count))
			continue
		}
		if g.Kind == profiles.Picky && g.Rate > 0 {
			pl.notes = append(pl.notes, fmt.Sprintf("frameworks[%d]: picky rate %v not enforced (synth bounds only greedy and bursty)", gi, g.Rate))
		}
		shape, err := core.ParseResources(g.Task.Resources)
		if err != nil {
			return nil, fmt.Errorf("frameworks[%d].task.resources: %w", gi, err)
		}
		var match []mesos.Attribute
		if g.AttributeMatch != "" {
			if match, err = mesos.ParseAttributes(g.AttributeMatch); err != nil {
				return nil, fmt.Errorf("frameworks[%d].attribute_match: %w", gi, err)
			}
		}
		for i := range g.Count {
			r := rand.New(rand.NewPCG(seed, uint64(gi)<<32|uint64(i)))
			dist := g.Task.Duration
			cfg := synth.Config{
				Name:  fmt.Sprintf("%s%d-%d", g.Kind, gi, i),
				Role:  g.RoleOf(i),
				CPUs:  shape.ScalarValue("cpus").Float(),
				Mem:   shape.ScalarValue("mem").Float(),
				Total: int(min(g.TotalTasks, math.MaxInt32)),
				Rate:  g.Rate,
				// Called on the framework's own loop only, so r needs no lock.
				Duration: func() time.Duration {
					d, finite := dist.Sample(r)
					if !finite {
						return 0 // the simulated agent runs it until killed
					}
					return d
				},
				RefuseSeconds: g.RefuseSeconds,
			}
			fp := fwPlan{cfg: cfg, weight: g.Weight}
			role := roleName(cfg.Role)
			if j, ok := roleIndex[role]; !ok {
				roleIndex[role] = len(pl.roles)
				pl.roles = append(pl.roles, role)
				pl.weights = append(pl.weights, weightOr1(g.Weight))
			} else if w := weightOr1(g.Weight); w != pl.weights[j] {
				note := fmt.Sprintf("frameworks[%d]: role %q has weight %v in an earlier group; the fairness error uses %v",
					gi, role, w, pl.weights[j])
				if !slices.Contains(pl.notes, note) { // once, not once a framework
					pl.notes = append(pl.notes, note)
				}
			}
			switch g.Kind {
			case profiles.Greedy:
				fp.cfg.Kind = synth.Greedy
				fp.finite = g.TotalTasks > 0
			case profiles.Service:
				fp.cfg.Kind = synth.Service
				fp.cfg.Instances = g.Instances
				fp.service = true
			case profiles.Picky:
				fp.cfg.Kind = synth.Picky
				fp.finite = g.TotalTasks > 0
				if g.TotalTasks == 0 {
					fp.cfg.Total = math.MaxInt32 // rate only: no end
				}
				frac := g.DeclineFraction
				fp.cfg.Match = func(o *mesos.Offer) bool {
					return hasAttributes(o.Attributes, match) && !(frac > 0 && r.Float64() < frac)
				}
			case profiles.Bursty:
				fp.cfg.Kind = synth.Bursty
				fp.cfg.Idle, fp.cfg.Flood = g.Idle.D(), g.Flood.D()
			default:
				return nil, fmt.Errorf("frameworks[%d].kind: %q is %w", gi, g.Kind, errUnsupported)
			}
			pl.fws = append(pl.fws, fp)
		}
	}
	if quota {
		pl.notes = append(pl.notes, "role weights and quotas are not set on the master (not supported yet)")
	}
	if pl.duration == 0 && !pl.hasFinite() {
		return nil, fmt.Errorf("profile %q: run.duration is 0 but no framework has total_tasks, so the run would never end; give -duration", p.Name)
	}
	return pl, nil
}

// roleName is the role a synth.Framework takes for r: "*" for none.
func roleName(r string) string {
	if r == "" {
		return "*"
	}
	return r
}

// weightOr1 is a profile weight with 0 (absent) taken as the default, 1.
func weightOr1(w float64) float64 {
	if w <= 0 {
		return 1
	}
	return w
}

func (pl *plan) hasFinite() bool {
	for _, f := range pl.fws {
		if f.finite {
			return true
		}
	}
	return false
}

// hasAttributes reports whether have holds every attribute of want, by
// name and value.
func hasAttributes(have, want []mesos.Attribute) bool {
	for i := range want {
		found := false
		for j := range have {
			if have[j].Name == want[i].Name && have[j].String() == want[i].String() {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// labelDuration is the simulated agents' task duration: the seconds in
// the task's synth.DurationLabel; absent, zero or bad, the task runs until
// it is killed.
func labelDuration(ti mesos.TaskInfo) time.Duration {
	if ti.Labels == nil {
		return 0
	}
	for _, l := range ti.Labels.Labels {
		if l.Key == synth.DurationLabel {
			s, err := strconv.ParseFloat(l.Value, 64)
			if err != nil || s <= 0 {
				return 0
			}
			return time.Duration(s * float64(time.Second))
		}
	}
	return 0
}

// killsLeader reports whether a fault kills the leading master.
func (pl *plan) killsLeader() bool {
	for _, f := range pl.faults {
		if f.Kind == profiles.KillLeader {
			return true
		}
	}
	return false
}
