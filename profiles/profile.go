package profiles

import (
	"embed"
	"fmt"
	"math"
	"os"
	"path"
	"strings"
	"time"
)

//go:embed *.json
var files embed.FS

// Profile is a named workload shape.
type Profile struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Cluster     Cluster          `json:"cluster"`
	Frameworks  []FrameworkGroup `json:"frameworks"`
	// Run is the load generator's run; a profile without one is for the
	// bench harness only, and its framework groups need no task shapes.
	Run   *Run  `json:"run,omitempty"`
	Bench Bench `json:"bench"`
}

// Cluster is the shape of the agents.
type Cluster struct {
	// Agents is the number of agents (the bench grid may override it).
	Agents int `json:"agents"`
	// AgentResources is each agent's resources in the Mesos text form.
	AgentResources string `json:"agent_resources"`
	// Attributes are each agent's attributes (`rack:r1;zone:z2`); a
	// "%d" in a value is replaced by the agent's rack number.
	Attributes string `json:"attributes,omitempty"`
	// Racks spreads the agents over this many racks (0: one).
	Racks int `json:"racks,omitempty"`
}

// FrameworkGroup is Count frameworks of one kind. The fields after Limit
// shape the load generator's frameworks; which of them a kind takes is in
// the table on Validate and in docs/profiles.md.
type FrameworkGroup struct {
	// Kind is the framework's behaviour: "decliner" (declines every offer
	// with an infinite filter), "greedy" (a batch scheduler: launches
	// TotalTasks tasks, or Rate a second, on every offer it can use),
	// "service" (keeps Instances tasks running), "picky" (a batch
	// scheduler that declines most offers with a filter) or "bursty"
	// (alternates Idle and Flood phases).
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	// Role is the frameworks' role; a "%d" is replaced by the framework's
	// index in the group, giving each its own role.
	Role   string  `json:"role"`
	Weight float64 `json:"weight,omitempty"`
	// Guarantee and Limit are the role's quota in the text form
	// (`cpus:2;mem:2048`); empty means none.
	Guarantee string `json:"guarantee,omitempty"`
	Limit     string `json:"limit,omitempty"`

	// Task is the shape of every task the frameworks launch.
	Task *Task `json:"task,omitempty"`
	// Instances is how many tasks each service framework keeps running.
	Instances int `json:"instances,omitempty"`
	// TotalTasks is how many tasks each framework launches before it is
	// done (greedy, picky; for bursty, per flood); 0 means no end.
	TotalTasks int64 `json:"total_tasks,omitempty"`
	// Rate is each framework's launches per second (greedy, picky, and
	// bursty during a flood); 0 means as fast as offers allow.
	Rate float64 `json:"rate,omitempty"`
	// DeclineFraction is the share of usable offers a picky framework
	// declines anyway; RefuseSeconds is the filter it declines them with
	// (0: Mesos's default of 5 seconds).
	DeclineFraction float64 `json:"decline_fraction,omitempty"`
	RefuseSeconds   float64 `json:"refuse_seconds,omitempty"`
	// AttributeMatch is the attributes (`rack:r3`) a picky framework wants;
	// it declines offers from other agents.
	AttributeMatch string `json:"attribute_match,omitempty"`
	// Idle and Flood are a bursty framework's phases: it holds no offers
	// for Idle, then launches as fast as Rate allows for Flood, and again.
	Idle  Duration `json:"idle,omitzero"`
	Flood Duration `json:"flood,omitzero"`
}

// Task is the shape of a task.
type Task struct {
	// Resources is what each task uses, in the Mesos text form
	// (`cpus:0.1;mem:32`); it must fit on one agent.
	Resources string `json:"resources"`
	// Duration is how long each task runs.
	Duration Distribution `json:"duration"`
}

// Run is one load-generator run.
type Run struct {
	// Duration is the run's length; 0 runs until the workload is done:
	// every framework's TotalTasks launched and, by End, finished or
	// running.
	Duration Duration `json:"duration,omitzero"`
	// End is when a run without a Duration is done: "finished" (the
	// default) when every task of total_tasks has ended, "running" as soon
	// as every one of them is TASK_RUNNING and acknowledged (C1M's
	// measure: long tasks need not run out).
	End string `json:"end,omitempty"`
	// Arrival is how the frameworks arrive.
	Arrival Arrival `json:"arrival,omitzero"`
	// Faults are injected during the run, in order of At.
	Faults []Fault `json:"faults,omitempty"`
	// Masters is the number of masters (0 means 1); more than one needs
	// ZooKeeper, through which they contend for leadership.
	Masters   int  `json:"masters,omitempty"`
	ZooKeeper bool `json:"zookeeper,omitempty"`
	// AgentPingTimeout and MaxAgentPingTimeouts are the master's health
	// check, its flags of those names: an agent is removed after missing
	// that many PINGs. 0 takes Mesos's defaults, 15 s and 5. Killed and
	// partitioned agents are noticed after their product.
	AgentPingTimeout     Duration `json:"agent_ping_timeout,omitzero"`
	MaxAgentPingTimeouts int      `json:"max_agent_ping_timeouts,omitempty"`
}

// Run end conditions (Run.End).
const (
	EndFinished = "finished"
	EndRunning  = "running"
)

// PingTimeouts are the run's agent_ping_timeout and
// max_agent_ping_timeouts, with Mesos's defaults for zeros.
func (r *Run) PingTimeouts() (time.Duration, int) {
	d, n := 15*time.Second, 5
	if r != nil && r.AgentPingTimeout > 0 {
		d = r.AgentPingTimeout.D()
	}
	if r != nil && r.MaxAgentPingTimeouts > 0 {
		n = r.MaxAgentPingTimeouts
	}
	return d, n
}

// Arrival is how frameworks join the run.
type Arrival struct {
	// PerSecond is how many frameworks subscribe a second, in the order of
	// the groups; 0 subscribes them all at the start.
	PerSecond float64 `json:"per_second,omitempty"`
}

// Fault kinds.
const (
	KillLeader      = "kill_leader"      // kill -9 the leading master; a standby takes over
	KillAgents      = "kill_agents"      // kill -9 agents; they stay down
	PartitionAgents = "partition_agents" // cut agents off from the masters, for For
	RestartAgents   = "restart_agents"   // kill -9 agents and start them again (they recover)
)

var faultKinds = []string{KillLeader, KillAgents, PartitionAgents, RestartAgents}

// Fault is one fault to inject.
type Fault struct {
	// At is when, from the start of the run.
	At   Duration `json:"at"`
	Kind string   `json:"kind"`
	// Count or Fraction (of cluster.agents) is how many agents an agent
	// fault hits; exactly one is set. A leader kill takes neither.
	Count    int     `json:"count,omitempty"`
	Fraction float64 `json:"fraction,omitempty"`
	// For is how long a partition lasts (0: the rest of the run).
	For Duration `json:"for,omitzero"`
	// Every repeats the fault at At, At+Every, ... (0: once); repeated
	// agent restarts keep resources coming back continuously.
	Every Duration `json:"every,omitzero"`
}

// Bench says which benchmark scenarios to run, and at which sizes.
type Bench struct {
	// Scenarios: "decline", "quota", "incremental", "churn", "memory".
	Scenarios []string `json:"scenarios"`
	// Grid is the agents × frameworks sizes of the decline scenario.
	Grid []Size `json:"grid,omitempty"`
	// ReferenceBudget skips reference cells whose agents × frameworks
	// exceed it (they would take minutes); 0 runs every cell.
	ReferenceBudget int64 `json:"reference_budget,omitempty"`
	// Incremental is the size of the incremental-latency scenario.
	Incremental Size `json:"incremental,omitzero"`
	// Events is the number of events of the incremental and churn
	// scenarios.
	Events int `json:"events,omitempty"`
	// MemoryAgents and MemoryFrameworks size the memory scenario.
	MemoryAgents     int `json:"memory_agents,omitempty"`
	MemoryFrameworks int `json:"memory_frameworks,omitempty"`
}

// Size is a cluster size.
type Size struct {
	Agents     int `json:"agents"`
	Frameworks int `json:"frameworks"`
}

func (s Size) String() string { return fmt.Sprintf("agents=%d/frameworks=%d", s.Agents, s.Frameworks) }

// Framework kinds.
const (
	Decliner = "decliner"
	Greedy   = "greedy"
	Service  = "service"
	Picky    = "picky"
	Bursty   = "bursty"
)

var (
	kinds     = []string{Decliner, Greedy, Service, Picky, Bursty}
	scenarios = []string{"decline", "quota", "incremental", "churn", "memory"}
)

// Names lists the embedded profiles.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	return out
}

// Load returns the embedded profile called name.
func Load(name string) (*Profile, error) {
	data, err := files.ReadFile(path.Clean(name) + ".json")
	if err != nil {
		return nil, fmt.Errorf("profiles: no profile %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return Parse(name, data)
}

// LoadFile reads a profile from a file.
func LoadFile(file string) (*Profile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return Parse(file, data)
}

// Parse decodes and validates a profile; source names it in errors.
func Parse(source string, data []byte) (*Profile, error) {
	var p Profile
	if err := decodeStrict(data, &p); err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", source, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", source, err)
	}
	return &p, nil
}

// RoleOf returns the role of the i-th framework of g.
func (g FrameworkGroup) RoleOf(i int) string {
	if strings.Contains(g.Role, "%d") {
		return strings.ReplaceAll(g.Role, "%d", fmt.Sprint(i))
	}
	return g.Role
}

// TotalFrameworks is the number of frameworks over every group.
func (p *Profile) TotalFrameworks() int {
	n := 0
	for _, g := range p.Frameworks {
		n += g.Count
	}
	return n
}

// Masters is the number of masters the run starts (1 without a run).
func (p *Profile) Masters() int {
	if p.Run == nil || p.Run.Masters == 0 {
		return 1
	}
	return p.Run.Masters
}

// Agents is how many agents f hits, out of agents.
func (f Fault) Agents(agents int) int {
	if f.Count > 0 {
		return f.Count
	}
	return int(math.Ceil(f.Fraction * float64(agents)))
}
