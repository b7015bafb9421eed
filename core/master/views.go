package master

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/mesos"
)

// The web UI's views: small, paginated, filtered answers for one page of
// the UI each, so that a browser polling every second or two never asks
// for the whole state. Each method takes Master.mu once, computes what
// the page shows and builds JSON records only for the rows it returns.
//
// Cost at 30,000 agents and 1,000,000 tasks. Every task the tasks page
// can list is kept in page order in an index (taskIndex), so a page
// unfiltered or filtered by state or framework reads only its window;
// one filtered by agent reads the agent's tasks (agent.tasks), one by
// exact id a map lookup per framework. Only a text search scans every
// task, keeping the best offset+limit rows in a bounded heap (offset is
// at most 100,000), never sorting the million. The overview, which every
// open UI polls, and the frameworks and roles pages read running counts
// (liveTasks) and walk only the bounded lists of completed tasks. Agents
// are sorted for their page (30,000 pointers), offers likewise.

// Scalars are the four scalar resources the UI shows.
type Scalars struct {
	CPUs float64 `json:"cpus"`
	GPUs float64 `json:"gpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
}

func (s *Scalars) add(rs core.Resources) {
	for i := range rs {
		r := &rs[i]
		if r.Type != core.Scalar {
			continue
		}
		switch r.Name {
		case "cpus":
			s.CPUs += r.Scalar.Float()
		case "gpus":
			s.GPUs += r.Scalar.Float()
		case "mem":
			s.Mem += r.Scalar.Float()
		case "disk":
			s.Disk += r.Scalar.Float()
		}
	}
}

func (s *Scalars) addReserved(rs core.Resources) {
	for i := range rs {
		if rs[i].IsReserved() {
			s.add(rs[i : i+1])
		}
	}
}

func (s Scalars) plus(o Scalars) Scalars {
	return Scalars{s.CPUs + o.CPUs, s.GPUs + o.GPUs, s.Mem + o.Mem, s.Disk + o.Disk}
}

func (s Scalars) minus(o Scalars) Scalars {
	return Scalars{max(0, s.CPUs-o.CPUs), max(0, s.GPUs-o.GPUs), max(0, s.Mem-o.Mem), max(0, s.Disk-o.Disk)}
}

// dominantShare is the largest share of total that s takes (DRF).
func (s Scalars) dominantShare(total Scalars) float64 {
	share := 0.0
	for _, p := range [][2]float64{{s.CPUs, total.CPUs}, {s.GPUs, total.GPUs}, {s.Mem, total.Mem}, {s.Disk, total.Disk}} {
		if p[1] > 0 {
			share = max(share, p[0]/p[1])
		}
	}
	return share
}

// Page is one page of a filtered list: Total rows matched, Items are
// those from Offset on.
type Page[T any] struct {
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Items  []T `json:"items"`
}

// Overview is the UI's overview page.
type Overview struct {
	Cluster     string  `json:"cluster"`
	ID          string  `json:"id"`
	PID         string  `json:"pid"`
	Hostname    string  `json:"hostname"`
	Version     string  `json:"version"`
	StartTime   float64 `json:"start_time"`
	ElectedTime float64 `json:"elected_time"`
	Now         float64 `json:"now"`

	Agents struct {
		Active      int `json:"active"`
		Deactivated int `json:"deactivated"`
		Unreachable int `json:"unreachable"`
		Recovering  int `json:"recovering"`
		// Removed agents failed their health checks (or were shut
		// down): the registry keeps them as gone, and they may not
		// come back under their id.
		Removed int `json:"removed"`
	} `json:"agents"`
	Frameworks struct {
		Active    int `json:"active"`
		Inactive  int `json:"inactive"`
		Completed int `json:"completed"`
	} `json:"frameworks"`
	// Tasks counts the tasks /master/state lists (active, unreachable and
	// completed, of active and completed frameworks) by state.
	Tasks             map[mesos.TaskState]int `json:"tasks"`
	OutstandingOffers int                     `json:"outstanding_offers"`

	// Resources: Total of the registered agents, Allocated to tasks and
	// executors, Offered in outstanding offers, Idle the rest.
	Resources struct {
		Total     Scalars `json:"total"`
		Allocated Scalars `json:"allocated"`
		Offered   Scalars `json:"offered"`
		Idle      Scalars `json:"idle"`
	} `json:"resources"`

	// Counters only grow; the UI charts their rates.
	Counters struct {
		OffersSent      uint64 `json:"offers_sent"`
		OffersDeclined  uint64 `json:"offers_declined"`
		OffersAccepted  uint64 `json:"offers_accepted"`
		OffersRescinded uint64 `json:"offers_rescinded"`
		TasksLaunched   uint64 `json:"tasks_launched"`
		StatusUpdates   uint64 `json:"status_updates"`
	} `json:"counters"`
}

// UIOverview is the overview page at now.
func (m *Master) UIOverview(now time.Time) Overview {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := Overview{Cluster: m.cfg.Cluster, ID: m.cfg.Info.ID, PID: m.PID(), Hostname: m.cfg.Info.Hostname,
		Version: m.cfg.Info.Version, StartTime: seconds(m.started), ElectedTime: seconds(m.elected), Now: seconds(now),
		Tasks: map[mesos.TaskState]int{}, OutstandingOffers: len(m.offers)}
	o.Agents.Unreachable = len(m.unreachable)
	o.Agents.Recovering = len(m.recovering)
	o.Agents.Removed = len(m.gone)
	for _, ag := range m.agents {
		if ag.connected() {
			o.Agents.Active++
		} else {
			o.Agents.Deactivated++
		}
		o.Resources.Total.add(ag.total)
		for _, exs := range ag.executors {
			for _, ex := range exs {
				o.Resources.Allocated.add(ex.resources)
			}
		}
	}
	// The active tasks from the running counts (liveTasks), the
	// completed ones from the frameworks' bounded lists of them.
	for state, n := range m.live.states {
		o.Tasks[state] += n
	}
	o.Resources.Allocated = o.Resources.Allocated.plus(m.live.used.ui())
	completed := func(fw *framework) {
		for _, t := range fw.completed {
			o.Tasks[t.state]++
		}
	}
	for _, fw := range m.frameworks {
		if fw.connected() {
			o.Frameworks.Active++
		} else {
			o.Frameworks.Inactive++
		}
		completed(fw)
	}
	for _, fw := range m.completed {
		completed(fw)
	}
	o.Frameworks.Completed = len(m.completed)
	for _, of := range m.offers {
		o.Resources.Offered.add(of.Resources)
	}
	o.Resources.Idle = o.Resources.Total.minus(o.Resources.Allocated).minus(o.Resources.Offered)
	c := &o.Counters
	c.OffersSent, c.OffersDeclined, c.OffersAccepted = m.metrics.OffersSent, m.metrics.OffersDeclined, m.metrics.OffersAccepted
	c.OffersRescinded, c.TasksLaunched, c.StatusUpdates = m.metrics.OffersRescinded, m.metrics.TasksLaunched, m.metrics.StatusUpdates
	return o
}

// FrameworkRow is a framework in the UI.
type FrameworkRow struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	State            string   `json:"state"` // active, inactive or completed
	Roles            []string `json:"roles"`
	Principal        string   `json:"principal"`
	User             string   `json:"user"`
	Hostname         string   `json:"hostname"`
	WebUIURL         string   `json:"webui_url"`
	ActiveTasks      int      `json:"active_tasks"`
	Used             Scalars  `json:"used"`
	Offered          Scalars  `json:"offered"`
	DominantShare    float64  `json:"dominant_share"`
	Offers           int      `json:"offers"`
	RegisteredTime   float64  `json:"registered_time"`
	ReregisteredTime float64  `json:"reregistered_time"`
	UnregisteredTime float64  `json:"unregistered_time"`
}

// clusterTotalLocked sums the registered agents' resources.
func (m *Master) clusterTotalLocked() Scalars {
	var total Scalars
	for _, ag := range m.agents {
		total.add(ag.total)
	}
	return total
}

// executorUseLocked sums the executors' resources by framework.
func (m *Master) executorUseLocked() map[string]Scalars {
	out := map[string]Scalars{}
	for _, ag := range m.agents {
		for fw, exs := range ag.executors {
			s := out[fw]
			for _, ex := range exs {
				s.add(ex.resources)
			}
			out[fw] = s
		}
	}
	return out
}

func (m *Master) frameworkRowLocked(fw *framework, state string, total Scalars, exUse map[string]Scalars) FrameworkRow {
	r := FrameworkRow{ID: fw.id, Name: fw.info.Name, State: state, Roles: fw.roles, Principal: fw.info.Principal,
		User: fw.info.User, Hostname: fw.info.Hostname, WebUIURL: fw.info.WebUIURL, Offers: len(fw.offers),
		RegisteredTime: seconds(fw.registered), ReregisteredTime: seconds(fw.reregistered),
		UnregisteredTime: seconds(fw.unregistered), Used: exUse[fw.id]}
	if r.Roles == nil {
		r.Roles = []string{}
	}
	if u := m.live.frameworks[fw.id]; u != nil {
		r.ActiveTasks = u.tasks
		r.Used = r.Used.plus(u.used.ui())
	}
	for _, of := range fw.offers {
		r.Offered.add(of.Resources)
	}
	r.DominantShare = r.Used.dominantShare(total)
	return r
}

// UIFrameworks is a page of frameworks: state "active", "inactive",
// "completed" or "" (all), q a substring of the id, name or a role.
// Active and inactive frameworks come first, by id; then the completed
// ones, newest first.
func (m *Master) UIFrameworks(state, q string, offset, limit int) Page[FrameworkRow] {
	m.mu.Lock()
	defer m.mu.Unlock()
	type entry struct {
		fw    *framework
		state string
	}
	var match []entry
	ok := func(fw *framework, st string) bool {
		if state != "" && state != st {
			return false
		}
		return q == "" || strings.Contains(fw.id, q) || strings.Contains(fw.info.Name, q) ||
			slices.ContainsFunc(fw.roles, func(r string) bool { return strings.Contains(r, q) })
	}
	for _, fw := range m.sortedFrameworksLocked() {
		st := "inactive"
		if fw.connected() {
			st = "active"
		}
		if ok(fw, st) {
			match = append(match, entry{fw, st})
		}
	}
	for i := len(m.completed) - 1; i >= 0; i-- {
		if ok(m.completed[i], "completed") {
			match = append(match, entry{m.completed[i], "completed"})
		}
	}
	p := Page[FrameworkRow]{Total: len(match), Items: []FrameworkRow{}}
	lo, hi := window(len(match), offset, limit)
	p.Offset = lo
	if lo == hi {
		return p
	}
	total, exUse := m.clusterTotalLocked(), m.executorUseLocked()
	for _, e := range match[lo:hi] {
		p.Items = append(p.Items, m.frameworkRowLocked(e.fw, e.state, total, exUse))
	}
	return p
}

// FrameworkDetail is one framework's page: its row and its outstanding
// offers (its tasks are a UITasks page filtered by framework).
type FrameworkDetail struct {
	FrameworkRow
	Capabilities    []string                `json:"capabilities"`
	FailoverTimeout float64                 `json:"failover_timeout"`
	TaskStates      map[mesos.TaskState]int `json:"task_states"`
	OfferList       []OfferRow              `json:"offer_list"`
}

// UIFramework is the framework with this id, active or completed.
func (m *Master) UIFramework(id string) (FrameworkDetail, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw, st := m.frameworks[id], "active"
	if fw != nil && !fw.connected() {
		st = "inactive"
	}
	if fw == nil {
		for _, c := range m.completed {
			if c.id == id {
				fw, st = c, "completed"
			}
		}
	}
	if fw == nil {
		return FrameworkDetail{}, false
	}
	d := FrameworkDetail{FrameworkRow: m.frameworkRowLocked(fw, st, m.clusterTotalLocked(), m.executorUseLocked()),
		Capabilities: []string{}, FailoverTimeout: fw.info.FailoverTimeout, TaskStates: map[mesos.TaskState]int{},
		OfferList: []OfferRow{}}
	for _, c := range fw.info.Capabilities {
		d.Capabilities = append(d.Capabilities, c.Type)
	}
	for _, t := range fw.tasks {
		d.TaskStates[t.state]++
	}
	for _, t := range fw.completed {
		d.TaskStates[t.state]++
	}
	ofs := slices.SortedFunc(func(yield func(*offer) bool) {
		for _, of := range fw.offers {
			if !yield(of) {
				return
			}
		}
	}, func(a, b *offer) int { return cmp.Compare(a.ID, b.ID) })
	for _, of := range ofs {
		d.OfferList = append(d.OfferList, offerRow(of))
	}
	return d, true
}

// AgentRow is an agent in the UI. Unreachable and removed agents are
// known by id and time only: the master keeps no other record of them.
type AgentRow struct {
	ID               string         `json:"id"`
	Hostname         string         `json:"hostname"`
	Endpoint         string         `json:"endpoint"`
	State            string         `json:"state"` // active, deactivated, unreachable or removed
	Version          string         `json:"version"`
	Attributes       map[string]any `json:"attributes"`
	Total            Scalars        `json:"total"`
	Allocated        Scalars        `json:"allocated"`
	Offered          Scalars        `json:"offered"`
	Tasks            int            `json:"tasks"`
	RegisteredTime   float64        `json:"registered_time"`
	ReregisteredTime float64        `json:"reregistered_time"`
	UnreachableTime  float64        `json:"unreachable_time,omitempty"`
	RemovedTime      float64        `json:"removed_time,omitempty"`
}

func agentState(ag *agent) string {
	if ag.connected() {
		return "active"
	}
	return "deactivated"
}

func (m *Master) agentRowLocked(ag *agent) AgentRow {
	r := AgentRow{ID: ag.id, Hostname: ag.info.Hostname, Endpoint: ag.endpoint, State: agentState(ag),
		Version: ag.version, Attributes: attributesJSON(ag.info.Attributes),
		RegisteredTime: seconds(ag.registered), ReregisteredTime: seconds(ag.rereg)}
	r.Total.add(ag.total)
	for _, t := range ag.tasks {
		if !t.state.Terminal() {
			r.Tasks++
			r.Allocated.add(t.resources)
		}
	}
	for _, exs := range ag.executors {
		for _, ex := range exs {
			r.Allocated.add(ex.resources)
		}
	}
	for _, of := range ag.offers {
		r.Offered.add(of.Resources)
	}
	return r
}

// UIAgents is a page of agents: state "active", "deactivated",
// "unreachable", "removed" or "" (all), q a substring of the id or
// hostname. Registered agents first, then unreachable ones, then
// removed ones, each by id (idOrder).
func (m *Master) UIAgents(state, q string, offset, limit int) Page[AgentRow] {
	m.mu.Lock()
	defer m.mu.Unlock()
	var match []*agent
	if state == "" || state == "active" || state == "deactivated" {
		for _, ag := range m.agents {
			if (state == "" || state == agentState(ag)) &&
				(q == "" || strings.Contains(ag.id, q) || strings.Contains(ag.info.Hostname, q)) {
				match = append(match, ag)
			}
		}
		slices.SortFunc(match, func(a, b *agent) int { return idOrder(a.id, b.id) })
	}
	ids := func(st string, set map[string]time.Time) []string {
		var out []string
		if state == "" || state == st {
			for id := range set {
				if q == "" || strings.Contains(id, q) {
					out = append(out, id)
				}
			}
			slices.SortFunc(out, idOrder)
		}
		return out
	}
	unreachable, removed := ids("unreachable", m.unreachable), ids("removed", m.gone)
	p := Page[AgentRow]{Total: len(match) + len(unreachable) + len(removed), Items: []AgentRow{}}
	lo, hi := window(p.Total, offset, limit)
	p.Offset = lo
	for i := lo; i < hi; i++ {
		switch {
		case i < len(match):
			p.Items = append(p.Items, m.agentRowLocked(match[i]))
		case i < len(match)+len(unreachable):
			id := unreachable[i-len(match)]
			p.Items = append(p.Items, AgentRow{ID: id, State: "unreachable", Attributes: map[string]any{},
				UnreachableTime: seconds(m.unreachable[id])})
		default:
			id := removed[i-len(match)-len(unreachable)]
			p.Items = append(p.Items, AgentRow{ID: id, State: "removed", Attributes: map[string]any{},
				RemovedTime: seconds(m.gone[id])})
		}
	}
	return p
}

// ExecutorRow is an executor the master knows on an agent.
type ExecutorRow struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	FrameworkID string  `json:"framework_id"`
	Resources   Scalars `json:"resources"`
}

// AgentDetail is one agent's page: its row and executors (its tasks are
// a UITasks page filtered by agent).
type AgentDetail struct {
	AgentRow
	Executors []ExecutorRow `json:"executors"`
}

// UIAgent is the agent with this id; ok is false if the master has no
// record of it (an unreachable or removed agent is shown by id only).
func (m *Master) UIAgent(id string) (AgentDetail, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ag := m.agents[id]
	if ag == nil {
		if t, ok := m.unreachable[id]; ok {
			return AgentDetail{AgentRow: AgentRow{ID: id, State: "unreachable", Attributes: map[string]any{},
				UnreachableTime: seconds(t)}, Executors: []ExecutorRow{}}, true
		}
		if t, ok := m.gone[id]; ok {
			return AgentDetail{AgentRow: AgentRow{ID: id, State: "removed", Attributes: map[string]any{},
				RemovedTime: seconds(t)}, Executors: []ExecutorRow{}}, true
		}
		return AgentDetail{}, false
	}
	d := AgentDetail{AgentRow: m.agentRowLocked(ag), Executors: []ExecutorRow{}}
	for fw, exs := range ag.executors {
		for id, ex := range exs {
			e := ExecutorRow{ID: id, Name: ex.info.Name, FrameworkID: fw}
			e.Resources.add(ex.resources)
			d.Executors = append(d.Executors, e)
		}
	}
	slices.SortFunc(d.Executors, func(a, b ExecutorRow) int {
		return cmp.Or(strings.Compare(a.FrameworkID, b.FrameworkID), strings.Compare(a.ID, b.ID))
	})
	return d, true
}

// AgentEndpoint is the host:port of a registered agent, for proxying
// its /files API.
func (m *Master) AgentEndpoint(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ag := m.agents[id]
	if ag == nil || ag.endpoint == "" {
		return "", false
	}
	return ag.endpoint, true
}

// TaskRow is a task in the UI.
type TaskRow struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	FrameworkID string          `json:"framework_id"`
	AgentID     string          `json:"agent_id"`
	ExecutorID  string          `json:"executor_id"`
	State       mesos.TaskState `json:"state"`
	Role        string          `json:"role"`
	Resources   Scalars         `json:"resources"`
	// Updated is the time of its latest status update (seconds).
	Updated float64 `json:"updated"`
	Message string  `json:"message,omitempty"`
	Reason  string  `json:"reason,omitempty"`
}

func taskRow(t *task) TaskRow {
	r := TaskRow{ID: t.id, Name: t.name, FrameworkID: t.framework, AgentID: t.agent, ExecutorID: t.executor,
		State: t.state, Role: t.role, Updated: float64(t.launched) / 1e9}
	r.Resources.add(t.resources)
	if n := len(t.statuses); n > 0 {
		s := t.statuses[n-1]
		r.Updated, r.Message, r.Reason = s.Timestamp, s.Message, s.Reason
	}
	return r
}

// TaskFilter selects tasks for UITasks. Every field set must match: ID
// exactly, Query as a substring of the id or name, the others exactly.
type TaskFilter struct {
	ID, Query, State, Framework, Agent string
}

func (f *TaskFilter) match(t *task) bool {
	return (f.ID == "" || t.id == f.ID) && (f.State == "" || string(t.state) == f.State) &&
		(f.Framework == "" || t.framework == f.Framework) && (f.Agent == "" || t.agent == f.Agent) &&
		(f.Query == "" || strings.Contains(t.id, f.Query) || strings.Contains(t.name, f.Query))
}

// UITasks is a page of the tasks /master/state lists that match f, in
// taskOrder.
func (m *Master) UITasks(f TaskFilter, offset, limit int) Page[TaskRow] {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.ID == "" && f.Agent == "" && f.Query == "" {
		return m.indexedTasksLocked(f, offset, limit)
	}
	sel := newTopK(offset + limit)
	total := 0
	visit := func(t *task) {
		if f.match(t) {
			total++
			sel.offer(t)
		}
	}
	var fws []*framework
	if f.Framework != "" {
		if fw := m.frameworks[f.Framework]; fw != nil {
			fws = append(fws, fw)
		}
		for _, fw := range m.completed {
			if fw.id == f.Framework {
				fws = append(fws, fw)
			}
		}
	} else {
		fws = slices.AppendSeq(fws, func(yield func(*framework) bool) {
			for _, fw := range m.frameworks {
				if !yield(fw) {
					return
				}
			}
		})
		fws = append(fws, m.completed...)
	}
	// The indexes: the agent's own tasks, or each framework's task map,
	// instead of every task. Completed tasks are bounded per framework
	// (MaxCompletedTasksPerFramework) and scanned.
	ag := m.agents[f.Agent]
	for _, fw := range fws {
		switch {
		case f.ID != "":
			if t := fw.tasks[f.ID]; t != nil {
				visit(t)
			}
		case f.Agent != "":
			// below, once, from the agent's index
		default:
			for _, t := range fw.tasks {
				visit(t)
			}
		}
		for _, t := range fw.completed {
			visit(t)
		}
	}
	if f.ID == "" && f.Agent != "" && ag != nil {
		for k, t := range ag.tasks {
			// The agent's index holds the tasks of active frameworks;
			// a completed framework's tasks are in its completed list.
			if fw := m.frameworks[k.framework]; fw != nil && fw.tasks[k.task] == t && (f.Framework == "" || k.framework == f.Framework) {
				visit(t)
			}
		}
	}
	p := Page[TaskRow]{Total: total, Items: []TaskRow{}}
	ts := sel.sorted()
	lo, hi := window(len(ts), offset, limit)
	p.Offset = min(offset, total)
	for _, t := range ts[lo:hi] {
		p.Items = append(p.Items, taskRow(t))
	}
	return p
}

// indexedTasksLocked answers a page filtered by state and framework at
// most, from the index.
func (m *Master) indexedTasksLocked(f TaskFilter, offset, limit int) Page[TaskRow] {
	p := Page[TaskRow]{Items: []TaskRow{}}
	var fwOrd uint32
	if f.Framework != "" {
		fw := m.frameworks[f.Framework]
		for _, c := range m.completed {
			if fw == nil && c.id == f.Framework {
				fw = c
			}
		}
		if fw == nil {
			return p
		}
		fwOrd = fw.ord
	}
	var rank uint8
	if f.State != "" {
		r, ok := stateRanks[mesos.TaskState(f.State)]
		if !ok {
			return p
		}
		rank = r
	}
	ts, total := m.tasks.page(f.Framework == "", fwOrd, f.State == "", rank, offset, limit)
	p.Total, p.Offset = total, min(offset, total)
	for _, t := range ts {
		p.Items = append(p.Items, taskRow(t))
	}
	return p
}

// topK keeps the k smallest tasks in taskOrder offered to it: a max-heap,
// so a page deep into a million tasks costs O(n log k), not a sort.
type topK struct {
	k  int
	ts []*task
}

func newTopK(k int) *topK { return &topK{k: k} }

func (h *topK) Len() int           { return len(h.ts) }
func (h *topK) Less(i, j int) bool { return taskOrder(h.ts[i], h.ts[j]) > 0 }
func (h *topK) Swap(i, j int)      { h.ts[i], h.ts[j] = h.ts[j], h.ts[i] }
func (h *topK) Push(x any)         { h.ts = append(h.ts, x.(*task)) }
func (h *topK) Pop() any {
	t := h.ts[len(h.ts)-1]
	h.ts = h.ts[:len(h.ts)-1]
	return t
}

func (h *topK) offer(t *task) {
	switch {
	case h.k <= 0:
	case len(h.ts) < h.k:
		heap.Push(h, t)
	case taskOrder(t, h.ts[0]) < 0:
		h.ts[0] = t
		heap.Fix(h, 0)
	}
}

func (h *topK) sorted() []*task {
	slices.SortFunc(h.ts, taskOrder)
	return h.ts
}

// OfferRow is an outstanding offer in the UI.
type OfferRow struct {
	ID          string  `json:"id"`
	FrameworkID string  `json:"framework_id"`
	AgentID     string  `json:"agent_id"`
	Role        string  `json:"role"`
	Resources   Scalars `json:"resources"`
	Created     float64 `json:"created"`
}

func offerRow(of *offer) OfferRow {
	r := OfferRow{ID: of.id, FrameworkID: string(of.Framework), AgentID: string(of.Agent), Role: of.Role,
		Created: seconds(of.Created)}
	r.Resources.add(of.Resources)
	return r
}

// UIOffers is a page of the outstanding offers, oldest first, filtered
// by framework and agent id (exact) and q (a substring of the offer id,
// framework id, agent id or role).
func (m *Master) UIOffers(framework, agent, q string, offset, limit int) Page[OfferRow] {
	m.mu.Lock()
	defer m.mu.Unlock()
	var match []*offer
	for _, of := range m.offers {
		if (framework == "" || string(of.Framework) == framework) && (agent == "" || string(of.Agent) == agent) &&
			(q == "" || strings.Contains(of.id, q) || strings.Contains(string(of.Framework), q) ||
				strings.Contains(string(of.Agent), q) || strings.Contains(of.Role, q)) {
			match = append(match, of)
		}
	}
	slices.SortFunc(match, func(a, b *offer) int { return cmp.Compare(a.ID, b.ID) })
	p := Page[OfferRow]{Total: len(match), Items: []OfferRow{}}
	lo, hi := window(len(match), offset, limit)
	p.Offset = lo
	for _, of := range match[lo:hi] {
		p.Items = append(p.Items, offerRow(of))
	}
	return p
}

// RoleRow is a role in the UI. Consumed is what counts against its quota,
// as in Mesos: what is allocated plus its reservations not allocated.
type RoleRow struct {
	Name       string   `json:"name"`
	Weight     float64  `json:"weight"`
	Frameworks []string `json:"frameworks"`
	Offered    Scalars  `json:"offered"`
	Allocated  Scalars  `json:"allocated"`
	Reserved   Scalars  `json:"reserved"`
	Guarantee  Scalars  `json:"quota_guarantee"`
	Limit      *Scalars `json:"quota_limit"` // nil: no limit
	Consumed   Scalars  `json:"consumed"`
}

func quantities(q core.Quantities) Scalars {
	return Scalars{CPUs: q.Get("cpus").Float(), GPUs: q.Get("gpus").Float(), Mem: q.Get("mem").Float(), Disk: q.Get("disk").Float()}
}

// UIRoles lists the roles that have frameworks, allocations, offers,
// reservations, a weight or a quota.
func (m *Master) UIRoles() []RoleRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	roles := map[string]*RoleRow{}
	allocRes := map[string]*Scalars{} // reserved part of Allocated
	get := func(name string) *RoleRow {
		r := roles[name]
		if r == nil {
			r = &RoleRow{Name: name, Weight: 1, Frameworks: []string{}}
			roles[name] = r
			allocRes[name] = &Scalars{}
		}
		return r
	}
	for _, fw := range m.sortedFrameworksLocked() {
		for _, role := range fw.roles {
			r := get(role)
			r.Frameworks = append(r.Frameworks, fw.id)
		}
		for _, of := range fw.offers {
			get(of.Role).Offered.add(of.Resources)
		}
	}
	for role, u := range m.live.roles {
		r := get(role)
		r.Allocated = r.Allocated.plus(u.used.ui())
		*allocRes[role] = allocRes[role].plus(u.reserved.ui())
	}
	for _, ag := range m.agents {
		for _, exs := range ag.executors {
			for _, ex := range exs {
				if ex.role != "" {
					get(ex.role).Allocated.add(ex.resources)
					allocRes[ex.role].addReserved(ex.resources)
				}
			}
		}
		for i := range ag.total {
			if r := &ag.total[i]; r.IsReserved() {
				get(r.Role()).Reserved.add(ag.total[i : i+1])
			}
		}
	}
	weights, quotas := m.weightsAndQuotasLocked()
	for name, w := range weights {
		get(name).Weight = w
	}
	for name, q := range quotas {
		r := get(name)
		r.Guarantee = quantities(q.Guarantee)
		if !q.Limit.IsEmpty() {
			l := quantities(q.Limit)
			r.Limit = &l
		}
	}
	out := make([]RoleRow, 0, len(roles))
	for name, r := range roles {
		r.Consumed = r.Allocated.plus(r.Reserved.minus(*allocRes[name]))
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RoleRow) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// weightsAndQuotasLocked asks the allocator for the roles' weights and
// quotas. The allocator only offers them through Snapshot, which copies
// every agent; the roles page is the only caller, polled every few
// seconds while it is shown.
func (m *Master) weightsAndQuotasLocked() (map[string]float64, map[string]alloc.Quota) {
	return m.weights, m.quotas
}

// idOrder sorts ids of one master (a common prefix, then a number) in
// numeric order: shorter first.
func idOrder(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// window clamps [offset, offset+limit) to [0, n).
func window(n, offset, limit int) (int, int) {
	lo := min(max(offset, 0), n)
	hi := n
	if limit >= 0 && lo+limit < n {
		hi = lo + limit
	}
	return lo, hi
}
