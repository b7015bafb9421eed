package profiles

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"meseta/core"
)

//go:embed *.json
var files embed.FS

// Profile is a named workload shape.
type Profile struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Cluster     Cluster          `json:"cluster"`
	Frameworks  []FrameworkGroup `json:"frameworks"`
	Bench       Bench            `json:"bench"`
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

// FrameworkGroup is Count frameworks of one kind.
type FrameworkGroup struct {
	// Kind is the framework's behaviour: "decliner" (declines every offer
	// with an infinite filter), "greedy", "service", "picky" or "bursty".
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

var (
	kinds     = []string{"decliner", "greedy", "service", "picky", "bursty"}
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
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", source, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("profiles: %s: trailing data after the profile", source)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", source, err)
	}
	return &p, nil
}

// Validate checks every field and names the first bad one.
func (p *Profile) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" {
		bad("name", "must be set")
	}
	if p.Cluster.Agents <= 0 {
		bad("cluster.agents", "must be > 0, not %d", p.Cluster.Agents)
	}
	if _, err := core.ParseResources(p.Cluster.AgentResources); err != nil || p.Cluster.AgentResources == "" {
		bad("cluster.agent_resources", "%q is not a resource list: %v", p.Cluster.AgentResources, err)
	}
	if p.Cluster.Racks < 0 {
		bad("cluster.racks", "must be >= 0")
	}
	for i, g := range p.Frameworks {
		f := fmt.Sprintf("frameworks[%d]", i)
		if !slices.Contains(kinds, g.Kind) {
			bad(f+".kind", "%q is not one of %s", g.Kind, strings.Join(kinds, ", "))
		}
		if g.Count <= 0 {
			bad(f+".count", "must be > 0, not %d", g.Count)
		}
		if err := core.ValidateRole(strings.ReplaceAll(g.Role, "%d", "0")); err != nil {
			bad(f+".role", "%v", err)
		}
		if g.Weight < 0 || g.Weight > 1e6 {
			bad(f+".weight", "must be in [0, 1e6], not %v", g.Weight)
		}
		for field, text := range map[string]string{"guarantee": g.Guarantee, "limit": g.Limit} {
			if text == "" {
				continue
			}
			if _, err := core.ParseQuantities(text); err != nil {
				bad(f+"."+field, "%v", err)
			}
		}
	}
	for _, s := range p.Bench.Scenarios {
		if !slices.Contains(scenarios, s) {
			bad("bench.scenarios", "%q is not one of %s", s, strings.Join(scenarios, ", "))
		}
	}
	for i, s := range p.Bench.Grid {
		if s.Agents <= 0 || s.Frameworks <= 0 {
			bad(fmt.Sprintf("bench.grid[%d]", i), "agents and frameworks must be > 0, not %d and %d", s.Agents, s.Frameworks)
		}
	}
	if p.Bench.ReferenceBudget < 0 {
		bad("bench.reference_budget", "must be >= 0")
	}
	if p.Bench.Events < 0 || p.Bench.MemoryAgents < 0 || p.Bench.MemoryFrameworks < 0 {
		bad("bench", "events and memory sizes must be >= 0")
	}
	if slices.Contains(p.Bench.Scenarios, "incremental") && (p.Bench.Incremental.Agents <= 0 || p.Bench.Incremental.Frameworks <= 0) {
		bad("bench.incremental", "agents and frameworks must be > 0 when the incremental scenario runs")
	}
	return errors.Join(errs...)
}

// RoleOf returns the role of the i-th framework of g.
func (g FrameworkGroup) RoleOf(i int) string {
	if strings.Contains(g.Role, "%d") {
		return strings.ReplaceAll(g.Role, "%d", fmt.Sprint(i))
	}
	return g.Role
}
