package master

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// The operator endpoints' JSON, with Mesos's key names. Resources are
// shown as Mesos's model() shows them: {"cpus": 2, "mem": 1024,
// "ports": "[31000-32000]"}.

// ResourceMap is Mesos's JSON model of a Resources.
type ResourceMap map[string]any

// ModelResources returns the JSON model of rs: scalars summed by name,
// ranges and sets as their text form. cpus, gpus, mem and disk are always
// present, as Mesos shows them.
func ModelResources(rs core.Resources) ResourceMap {
	out := ResourceMap{"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
	ranges := map[string]core.Resources{}
	for _, r := range rs {
		switch r.Type {
		case core.Scalar:
			f, _ := out[r.Name].(float64)
			out[r.Name] = f + r.Scalar.Float()
		default:
			ranges[r.Name] = append(ranges[r.Name], r)
		}
	}
	for name, list := range ranges {
		var parts []string
		for _, r := range list {
			switch r.Type {
			case core.RangesType:
				for _, rg := range r.Ranges {
					parts = append(parts, fmt.Sprintf("%d-%d", rg.Begin, rg.End))
				}
			case core.SetType:
				parts = append(parts, r.Set...)
			}
		}
		if list[0].Type == core.RangesType {
			out[name] = "[" + strings.Join(parts, ", ") + "]"
		} else {
			out[name] = "{" + strings.Join(parts, ", ") + "}"
		}
	}
	return out
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// TaskJSON is a task in the operator JSON.
type TaskJSON struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	FrameworkID string           `json:"framework_id"`
	ExecutorID  string           `json:"executor_id"`
	SlaveID     string           `json:"slave_id"`
	AgentID     string           `json:"agent_id"`
	State       mesos.TaskState  `json:"state"`
	Role        string           `json:"role"`
	Resources   ResourceMap      `json:"resources"`
	Statuses    []TaskStatusJSON `json:"statuses"`
}

// TaskStatusJSON is one status in TaskJSON.
type TaskStatusJSON struct {
	State     mesos.TaskState `json:"state"`
	Timestamp float64         `json:"timestamp"`
	Message   string          `json:"message,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Source    string          `json:"source,omitempty"`
}

func (t *task) json() TaskJSON {
	j := TaskJSON{ID: t.id, Name: t.name, FrameworkID: t.framework, ExecutorID: t.executor, SlaveID: t.agent,
		AgentID: t.agent, State: t.state, Role: t.role, Resources: ModelResources(t.resources),
		Statuses: make([]TaskStatusJSON, 0, len(t.statuses))}
	for _, s := range t.statuses {
		j.Statuses = append(j.Statuses, TaskStatusJSON{State: s.State, Timestamp: s.Timestamp, Message: s.Message, Reason: s.Reason, Source: s.Source})
	}
	return j
}

// OfferJSON is an outstanding offer in the operator JSON.
type OfferJSON struct {
	ID          string      `json:"id"`
	FrameworkID string      `json:"framework_id"`
	SlaveID     string      `json:"slave_id"`
	Role        string      `json:"role"`
	Resources   ResourceMap `json:"resources"`
}

func (of *offer) json() OfferJSON {
	return OfferJSON{ID: of.id, FrameworkID: string(of.Framework), SlaveID: string(of.Agent), Role: of.Role, Resources: ModelResources(of.Resources)}
}

// ExecutorJSON is an executor in the operator JSON.
type ExecutorJSON struct {
	ExecutorID  string      `json:"executor_id"`
	Name        string      `json:"name"`
	FrameworkID string      `json:"framework_id"`
	SlaveID     string      `json:"slave_id"`
	Type        string      `json:"type"`
	Command     any         `json:"command,omitempty"`
	Resources   ResourceMap `json:"resources"`
}

// FrameworkJSON is a framework in the operator JSON.
type FrameworkJSON struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Hostname         string         `json:"hostname"`
	User             string         `json:"user"`
	Principal        string         `json:"principal"`
	Role             string         `json:"role"`
	Roles            []string       `json:"roles"`
	Capabilities     []string       `json:"capabilities"`
	WebUIURL         string         `json:"webui_url"`
	Active           bool           `json:"active"`
	Connected        bool           `json:"connected"`
	Recovered        bool           `json:"recovered"`
	Checkpoint       bool           `json:"checkpoint"`
	FailoverTimeout  float64        `json:"failover_timeout"`
	RegisteredTime   float64        `json:"registered_time"`
	ReregisteredTime float64        `json:"reregistered_time,omitempty"`
	UnregisteredTime float64        `json:"unregistered_time"`
	Resources        ResourceMap    `json:"resources"`
	UsedResources    ResourceMap    `json:"used_resources"`
	OfferedResources ResourceMap    `json:"offered_resources"`
	Tasks            []TaskJSON     `json:"tasks"`
	UnreachableTasks []TaskJSON     `json:"unreachable_tasks"`
	CompletedTasks   []TaskJSON     `json:"completed_tasks"`
	Offers           []OfferJSON    `json:"offers"`
	Executors        []ExecutorJSON `json:"executors"`
	TaskCounts       map[string]int `json:"-"`
}

// AgentJSON is an agent ("slave") in the operator JSON.
type AgentJSON struct {
	ID                  string                 `json:"id"`
	Hostname            string                 `json:"hostname"`
	Port                int                    `json:"port"`
	PID                 string                 `json:"pid"`
	Attributes          map[string]any         `json:"attributes"`
	RegisteredTime      float64                `json:"registered_time"`
	ReregisteredTime    float64                `json:"reregistered_time,omitempty"`
	Resources           ResourceMap            `json:"resources"`
	UsedResources       ResourceMap            `json:"used_resources"`
	OfferedResources    ResourceMap            `json:"offered_resources"`
	UnreservedResources ResourceMap            `json:"unreserved_resources"`
	ReservedResources   map[string]ResourceMap `json:"reserved_resources"`
	Active              bool                   `json:"active"`
	Version             string                 `json:"version"`
	Capabilities        []string               `json:"capabilities"`
	Endpoint            string                 `json:"endpoint"`
}

// RecoveredAgentJSON is an agent the master recovered from the registry
// after a failover and still expects to re-register (Mesos's
// "recovered_slaves"), as the registry describes it.
type RecoveredAgentJSON struct {
	ID         string         `json:"id"`
	Hostname   string         `json:"hostname"`
	Port       int32          `json:"port,omitempty"`
	Attributes map[string]any `json:"attributes"`
	Resources  ResourceMap    `json:"resources"`
}

// attributesJSON is the JSON model of agent attributes: scalars as
// numbers, the others as text.
func attributesJSON(as []mesos.Attribute) map[string]any {
	out := map[string]any{}
	for _, a := range as {
		if a.Scalar != nil {
			out[a.Name] = a.Scalar.Value
		} else {
			out[a.Name] = a.String()
		}
	}
	return out
}

func (m *Master) frameworkJSONLocked(fw *framework, withTasks bool) FrameworkJSON {
	j := FrameworkJSON{
		ID: fw.id, Name: fw.info.Name, Hostname: fw.info.Hostname, User: fw.info.User, Principal: fw.info.Principal,
		Roles: fw.roles, WebUIURL: fw.info.WebUIURL, Active: fw.connected(), Connected: fw.connected(),
		Recovered: fw.recovered, Checkpoint: fw.info.Checkpoint, FailoverTimeout: fw.info.FailoverTimeout,
		RegisteredTime: seconds(fw.registered), ReregisteredTime: seconds(fw.reregistered),
		UnregisteredTime: seconds(fw.unregistered),
		Capabilities:     []string{}, Tasks: []TaskJSON{}, UnreachableTasks: []TaskJSON{}, CompletedTasks: []TaskJSON{},
		Offers: []OfferJSON{}, Executors: []ExecutorJSON{}, TaskCounts: map[string]int{},
	}
	if len(fw.roles) > 0 {
		j.Role = fw.roles[0]
	}
	for _, c := range fw.info.Capabilities {
		j.Capabilities = append(j.Capabilities, c.Type)
	}
	var used, offered core.Resources
	for _, t := range fw.sortedTasks() {
		if !t.state.Terminal() {
			used = used.Add(t.resources)
		}
		j.TaskCounts[string(t.state)]++
		if withTasks {
			j.Tasks = append(j.Tasks, t.json())
		}
	}
	for _, ag := range m.agents {
		for _, ex := range ag.executors[fw.id] {
			used = used.Add(ex.resources)
			if withTasks {
				j.Executors = append(j.Executors, ExecutorJSON{ExecutorID: ex.info.ExecutorID.Value, Name: ex.info.Name,
					FrameworkID: fw.id, SlaveID: ag.id, Type: ex.info.Type, Command: ex.info.Command, Resources: ModelResources(ex.resources)})
			}
		}
	}
	for _, t := range fw.completed {
		j.TaskCounts[string(t.state)]++
		if !withTasks {
			continue
		}
		if t.state == mesos.TaskUnreachable {
			j.UnreachableTasks = append(j.UnreachableTasks, t.json())
		} else {
			j.CompletedTasks = append(j.CompletedTasks, t.json())
		}
	}
	for _, of := range fw.offers {
		offered = offered.Add(of.Resources)
		if withTasks {
			j.Offers = append(j.Offers, of.json())
		}
	}
	slices.SortFunc(j.Offers, func(a, b OfferJSON) int { return strings.Compare(a.ID, b.ID) })
	j.UsedResources = ModelResources(used)
	j.OfferedResources = ModelResources(offered)
	j.Resources = ModelResources(used.Add(offered))
	return j
}

func (m *Master) agentJSONLocked(ag *agent) AgentJSON {
	host, port, _ := net.SplitHostPort(ag.endpoint)
	p, _ := strconv.Atoi(port)
	j := AgentJSON{
		ID: ag.id, Hostname: ag.info.Hostname, Port: p, PID: "slave(1)@" + net.JoinHostPort(host, port),
		RegisteredTime: seconds(ag.registered), ReregisteredTime: seconds(ag.rereg),
		Resources: ModelResources(ag.total), UnreservedResources: ModelResources(ag.total.Unreserved()),
		ReservedResources: map[string]ResourceMap{}, Active: ag.connected(), Version: ag.version,
		Capabilities: []string{}, Endpoint: ag.endpoint,
	}
	j.Attributes = attributesJSON(ag.info.Attributes)
	for _, c := range ag.info.Capabilities {
		j.Capabilities = append(j.Capabilities, c.Type)
	}
	byRole := map[string]core.Resources{}
	for _, r := range ag.total.Reserved() {
		byRole[r.Role()] = byRole[r.Role()].Add(core.Resources{r})
	}
	for role, rs := range byRole {
		j.ReservedResources[role] = ModelResources(rs)
	}
	var used, offered core.Resources
	for _, t := range ag.tasks {
		if !t.state.Terminal() {
			used = used.Add(t.resources)
		}
	}
	for _, exs := range ag.executors {
		for _, ex := range exs {
			used = used.Add(ex.resources)
		}
	}
	for _, of := range ag.offers {
		offered = offered.Add(of.Resources)
	}
	j.UsedResources = ModelResources(used)
	j.OfferedResources = ModelResources(offered)
	return j
}

// State is /master/state.
type State struct {
	Version                string            `json:"version"`
	GitSHA                 string            `json:"git_sha,omitempty"`
	StartTime              float64           `json:"start_time"`
	ElectedTime            float64           `json:"elected_time"`
	ID                     string            `json:"id"`
	PID                    string            `json:"pid"`
	Hostname               string            `json:"hostname"`
	ActivatedSlaves        int               `json:"activated_slaves"`
	DeactivatedSlaves      int               `json:"deactivated_slaves"`
	UnreachableSlaves      int               `json:"unreachable_slaves"`
	Leader                 string            `json:"leader"`
	LeaderInfo             mesos.MasterInfo  `json:"leader_info"`
	Cluster                string            `json:"cluster"`
	Flags                  map[string]string `json:"flags"`
	Slaves                 []AgentJSON       `json:"slaves"`
	Frameworks             []FrameworkJSON   `json:"frameworks"`
	CompletedFrameworks    []FrameworkJSON   `json:"completed_frameworks"`
	OrphanTasks            []TaskJSON        `json:"orphan_tasks"`
	UnregisteredFrameworks []string          `json:"unregistered_frameworks"`

	// RecoveredSlaves are the agents recovered from the registry after a
	// failover that have not re-registered yet (see recovery.go); empty
	// once they all have, or have been marked unreachable.
	RecoveredSlaves []RecoveredAgentJSON `json:"recovered_slaves"`
}

// PID returns the master's libprocess-style pid, master@ip:port.
func (m *Master) PID() string {
	if m.cfg.Info.PID != "" {
		return m.cfg.Info.PID
	}
	a := m.cfg.Info.Address
	if a == nil {
		return ""
	}
	return "master@" + net.JoinHostPort(a.IP, strconv.Itoa(int(a.Port)))
}

// State builds /master/state. flags are masterd's flags.
func (m *Master) State(flags map[string]string) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := State{
		Version: m.cfg.Info.Version, StartTime: seconds(m.started), ElectedTime: seconds(m.elected),
		ID: m.cfg.Info.ID, PID: m.PID(), Hostname: m.cfg.Info.Hostname, Leader: m.PID(), LeaderInfo: m.cfg.Info,
		Cluster: m.cfg.Cluster, Flags: flags, Slaves: []AgentJSON{}, Frameworks: []FrameworkJSON{},
		CompletedFrameworks: []FrameworkJSON{}, OrphanTasks: []TaskJSON{}, UnregisteredFrameworks: []string{},
		UnreachableSlaves: len(m.unreachable), RecoveredSlaves: m.recoveredAgentsLocked(),
	}
	for _, ag := range m.sortedAgentsLocked() {
		if ag.connected() {
			s.ActivatedSlaves++
		} else {
			s.DeactivatedSlaves++
		}
		s.Slaves = append(s.Slaves, m.agentJSONLocked(ag))
	}
	for _, fw := range m.sortedFrameworksLocked() {
		s.Frameworks = append(s.Frameworks, m.frameworkJSONLocked(fw, true))
	}
	for i := len(m.completed) - 1; i >= 0; i-- {
		s.CompletedFrameworks = append(s.CompletedFrameworks, m.frameworkJSONLocked(m.completed[i], true))
	}
	return s
}

func (m *Master) sortedAgentsLocked() []*agent {
	return slices.SortedFunc(maps.Values(m.agents), func(a, b *agent) int { return strings.Compare(a.id, b.id) })
}

func (m *Master) sortedFrameworksLocked() []*framework {
	return slices.SortedFunc(maps.Values(m.frameworks), func(a, b *framework) int { return strings.Compare(a.id, b.id) })
}

// Frameworks is /master/frameworks.
func (m *Master) Frameworks() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	active, completed := []FrameworkJSON{}, []FrameworkJSON{}
	for _, fw := range m.sortedFrameworksLocked() {
		active = append(active, m.frameworkJSONLocked(fw, true))
	}
	for i := len(m.completed) - 1; i >= 0; i-- {
		completed = append(completed, m.frameworkJSONLocked(m.completed[i], true))
	}
	return map[string]any{"frameworks": active, "completed_frameworks": completed, "unregistered_frameworks": []string{}}
}

// Slaves is /master/slaves.
func (m *Master) Slaves() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []AgentJSON{}
	for _, ag := range m.sortedAgentsLocked() {
		out = append(out, m.agentJSONLocked(ag))
	}
	return map[string]any{"slaves": out, "recovered_slaves": m.recoveredAgentsLocked()}
}

// Tasks is /master/tasks: every known task, active and completed,
// filtered by framework and task id when given, paged by offset and
// limit.
func (m *Master) Tasks(frameworkID, taskID string, offset, limit int) map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []TaskJSON
	add := func(fw *framework) {
		if frameworkID != "" && fw.id != frameworkID {
			return
		}
		for _, t := range fw.sortedTasks() {
			if taskID == "" || t.id == taskID {
				out = append(out, t.json())
			}
		}
		for _, t := range fw.completed {
			if taskID == "" || t.id == taskID {
				out = append(out, t.json())
			}
		}
	}
	for _, fw := range m.sortedFrameworksLocked() {
		add(fw)
	}
	for _, fw := range m.completed {
		add(fw)
	}
	if offset > len(out) {
		offset = len(out)
	}
	out = out[offset:]
	if limit >= 0 && limit < len(out) {
		out = out[:limit]
	}
	if out == nil {
		out = []TaskJSON{}
	}
	return map[string]any{"tasks": out}
}

// Roles is /master/roles.
func (m *Master) Roles() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	type roleJSON struct {
		Name       string      `json:"name"`
		Weight     float64     `json:"weight"`
		Frameworks []string    `json:"frameworks"`
		Resources  ResourceMap `json:"resources"`
		Allocated  ResourceMap `json:"allocated"`
		Offered    ResourceMap `json:"offered"`
		Reserved   ResourceMap `json:"reserved"`
	}
	roles := map[string]*roleJSON{}
	alloc := map[string]core.Resources{}
	offered := map[string]core.Resources{}
	reserved := map[string]core.Resources{}
	get := func(name string) *roleJSON {
		r := roles[name]
		if r == nil {
			r = &roleJSON{Name: name, Weight: 1, Frameworks: []string{}}
			roles[name] = r
		}
		return r
	}
	for _, fw := range m.sortedFrameworksLocked() {
		for _, role := range fw.roles {
			r := get(role)
			r.Frameworks = append(r.Frameworks, fw.id)
		}
		for _, t := range fw.tasks {
			if !t.state.Terminal() {
				get(t.role)
				alloc[t.role] = alloc[t.role].Add(t.resources)
			}
		}
		for _, of := range fw.offers {
			get(of.Role)
			offered[of.Role] = offered[of.Role].Add(of.Resources)
		}
	}
	for _, ag := range m.agents {
		for _, r := range ag.total.Reserved() {
			get(r.Role())
			reserved[r.Role()] = reserved[r.Role()].Add(core.Resources{r})
		}
	}
	out := make([]*roleJSON, 0, len(roles))
	for name, r := range roles {
		if w, ok := m.weights[name]; ok {
			r.Weight = w
		}
		r.Allocated = ModelResources(alloc[name])
		r.Offered = ModelResources(offered[name])
		r.Reserved = ModelResources(reserved[name])
		r.Resources = ModelResources(alloc[name].Add(offered[name]))
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *roleJSON) int { return strings.Compare(a.Name, b.Name) })
	return map[string]any{"roles": out}
}

// Summary is /master/state-summary.
func (m *Master) Summary() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	var fws, ags []map[string]any
	agentCounts := map[string]map[string]int{}
	agentFWs := map[string][]string{}
	for _, fw := range m.sortedFrameworksLocked() {
		j := m.frameworkJSONLocked(fw, false)
		var agents []string
		seen := map[string]bool{}
		for _, t := range fw.tasks {
			if !seen[t.agent] {
				seen[t.agent] = true
				agents = append(agents, t.agent)
				agentFWs[t.agent] = append(agentFWs[t.agent], fw.id)
			}
			if agentCounts[t.agent] == nil {
				agentCounts[t.agent] = map[string]int{}
			}
			agentCounts[t.agent][string(t.state)]++
		}
		slices.Sort(agents)
		f := map[string]any{"id": j.ID, "name": j.Name, "active": j.Active, "connected": j.Connected,
			"roles": j.Roles, "capabilities": j.Capabilities, "hostname": j.Hostname, "webui_url": j.WebUIURL,
			"used_resources": j.UsedResources, "offered_resources": j.OfferedResources, "slave_ids": agents}
		for _, st := range summaryStates {
			f[string(st)] = j.TaskCounts[string(st)]
		}
		fws = append(fws, f)
	}
	for _, ag := range m.sortedAgentsLocked() {
		j := m.agentJSONLocked(ag)
		a := map[string]any{"id": j.ID, "hostname": j.Hostname, "pid": j.PID, "active": j.Active,
			"registered_time": j.RegisteredTime, "resources": j.Resources, "used_resources": j.UsedResources,
			"offered_resources": j.OfferedResources, "attributes": j.Attributes, "framework_ids": agentFWs[ag.id]}
		for _, st := range summaryStates {
			a[string(st)] = agentCounts[ag.id][string(st)]
		}
		ags = append(ags, a)
	}
	if fws == nil {
		fws = []map[string]any{}
	}
	if ags == nil {
		ags = []map[string]any{}
	}
	return map[string]any{"hostname": m.cfg.Info.Hostname, "cluster": m.cfg.Cluster, "frameworks": fws, "slaves": ags}
}

var summaryStates = []mesos.TaskState{mesos.TaskStaging, mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling,
	mesos.TaskFinished, mesos.TaskKilled, mesos.TaskFailed, mesos.TaskLost, mesos.TaskError, mesos.TaskUnreachable}
