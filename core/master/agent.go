package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// agent is a registered agent.
type agent struct {
	id         string
	info       mesos.AgentInfo
	endpoint   string
	version    string
	total      core.Resources
	conn       AgentConn // nil while disconnected
	registered time.Time
	rereg      time.Time

	// Health checks: a PING is sent every AgentPingTimeout; misses counts
	// consecutive periods without a PONG, or any other call from the
	// agent. A busy master's PINGs wait behind everything else queued
	// for the agent, so the PONG can come late from an agent that is
	// plainly alive: it posts status updates. (An agent whose stream
	// from the master is stuck notices by itself: no PING in time, and
	// it subscribes again.)
	lastPing time.Time
	pingSeq  uint64
	ponged   bool
	misses   int

	tasks     map[taskKey]*task
	executors map[string]map[string]*executor // framework -> executor id
	offers    map[alloc.OfferID]*offer

	// refusedTasks and refusedExecutors are what the agent reported, when
	// it came back after being marked unreachable, that the master did not
	// take back: the tasks and executors of frameworks that are not
	// partition-aware, which the agent was told to shut down (see "Back
	// from unreachable" in the package doc). Until the agent stops
	// reporting one, it is refused again at each re-registration (and
	// killed again), its status updates are acknowledged by the master
	// and go no further, and an executor's exit is not reported. They are
	// consulted only when the master has no record of the task or
	// executor: a record wins, since the framework may launch on the agent
	// again, even on an executor with the same id.
	refusedTasks     map[taskKey]bool
	refusedExecutors map[executorKey]bool

	// machine is the agent's machine while it is in the maintenance
	// schedule (maintenance.go).
	machine *machine
}

type executorKey struct{ framework, executor string }

type executor struct {
	info      mesos.ExecutorInfo
	resources core.Resources
	role      string
}

func (ag *agent) connected() bool { return ag.conn != nil }

func (ag *agent) send(ev *agentapi.Event) {
	if ag.conn != nil {
		ag.conn.Send(ev)
	}
}

func (ag *agent) runsFramework(fw string) bool {
	if len(ag.executors[fw]) > 0 {
		return true
	}
	for k := range ag.tasks {
		if k.framework == fw {
			return true
		}
	}
	return false
}

func (ag *agent) addExecutor(fw string, ex *mesos.ExecutorInfo, res core.Resources, role string) {
	if ag.executors[fw] == nil {
		ag.executors[fw] = map[string]*executor{}
	}
	ag.executors[fw][ex.ExecutorID.Value] = &executor{info: *ex, resources: res, role: role}
}

// url is the agent's address as offers carry it.
func (ag *agent) url() *mesos.URL {
	host, port, err := net.SplitHostPort(ag.endpoint)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	return &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: ag.info.Hostname, IP: host, Port: int32(p)}, Path: "/slave(1)"}
}

// applyLocked writes operations to the registry, all or none in one
// Apply, and mirrors them in the master's lookup maps.
func (m *Master) applyLocked(ops ...registry.Op) error {
	if err := m.reg.Apply(ops...); err != nil {
		return err
	}
	for _, op := range ops {
		switch op.Kind {
		case registry.AdmitAgent:
			m.admitted[op.AgentID] = true
		case registry.MarkReachable:
			delete(m.unreachable, op.AgentID)
			m.admitted[op.AgentID] = true
		case registry.MarkUnreachable:
			delete(m.admitted, op.AgentID)
			delete(m.recovering, op.AgentID)
			m.unreachable[op.AgentID] = op.Time
		case registry.RemoveAgent:
			delete(m.admitted, op.AgentID)
			delete(m.recovering, op.AgentID)
			delete(m.unreachable, op.AgentID)
			m.gone[op.AgentID] = op.Time
		}
	}
	return nil
}

func (m *Master) isGone(id string) bool {
	_, ok := m.gone[id]
	return ok
}

func (m *Master) isUnreachable(id string) bool {
	_, ok := m.unreachable[id]
	return ok
}

func allocAttributes(as []mesos.Attribute) []alloc.Attribute {
	out := make([]alloc.Attribute, len(as))
	for i := range as {
		out[i] = alloc.Attribute{Name: as[i].Name, Value: as[i].String()}
	}
	return out
}

// SubscribeAgent handles an agent's REGISTER or REREGISTER on a new
// stream conn. A refused agent gets SHUTDOWN on conn, which is then
// closed; the error says why.
func (m *Master) SubscribeAgent(conn AgentConn, call *agentapi.Call, now time.Time) (string, error) {
	defer m.enter(now)()
	reg := call.Register
	static, err := core.NewResources(reg.AgentInfo.Resources...)
	if err != nil {
		return "", badRequest("register.agent_info.resources: %v", err)
	}
	if err := m.refuseDownLocked(conn, reg); err != nil {
		return "", err
	}
	if call.Type == agentapi.CallRegister {
		return m.registerLocked(conn, reg, static, now)
	}
	id := reg.AgentInfo.ID.Value
	if m.isGone(id) {
		return "", refuseAgent(conn, fmt.Sprintf("Agent %s was removed from the cluster; register again as a new agent", id),
			fmt.Sprintf("agent %s was removed", id))
	}
	return m.reregisterLocked(conn, reg, static, now)
}

// refuseDownLocked refuses an agent on a machine that is down for
// maintenance, as SubscribeAgent refuses a removed one.
func (m *Master) refuseDownLocked(conn AgentConn, reg *agentapi.Register) error {
	mid, down := m.machineDownLocked(reg.AgentInfo.Hostname, reg.Endpoint)
	if !down {
		return nil
	}
	return refuseAgent(conn, fmt.Sprintf("Machine %s is down for maintenance", mid), fmt.Sprintf("machine %s is down for maintenance", mid))
}

// refuseAgent sends a subscribing agent SHUTDOWN with msg, closes its
// stream, and returns why as an ErrForbidden.
func refuseAgent(conn AgentConn, msg, why string) error {
	conn.Send(&agentapi.Event{Type: agentapi.EventShutdown, Shutdown: &agentapi.Shutdown{Message: msg}})
	conn.Close()
	return fmt.Errorf("%w: %s", ErrForbidden, why)
}

func (m *Master) registerLocked(conn AgentConn, reg *agentapi.Register, static core.Resources, now time.Time) (string, error) {
	id := fmt.Sprintf("%s-S%d", m.cfg.Info.ID, m.nextAgent)
	m.nextAgent++
	info := reg.AgentInfo
	info.ID = &mesos.ID{Value: id}
	cp, record, push := m.checkpointedLocked(id, static, reg.CheckpointedResources)
	total := agentTotal(static, cp)
	info.Resources = total
	blob, _ := json.Marshal(&info)
	ops := []registry.Op{{Kind: registry.AdmitAgent, AgentID: id, Info: blob}}
	if record != nil {
		ops = append(ops, *record)
	}
	if err := m.applyLocked(ops...); err != nil {
		return "", fmt.Errorf("master: registry: %w", err)
	}
	if record != nil {
		m.resources[id] = cp
	}
	ag := m.newAgent(id, info, reg, total, conn, now)
	if err := m.alloc.AddAgent(alloc.AgentInfo{ID: alloc.AgentID(id), Hostname: info.Hostname, Total: total,
		Attributes: allocAttributes(info.Attributes), Checkpoint: reg.Checkpoint}); err != nil {
		return "", badRequest("register: %v", err)
	}
	m.agents[id] = ag
	m.joinMachineLocked(ag)
	m.sendRegistered(ag)
	if push {
		ag.sendCheckpointed(cp)
	}
	m.log.Info("agent registered", "agent", id, "hostname", info.Hostname, "resources", total.String())
	return id, nil
}

func (m *Master) newAgent(id string, info mesos.AgentInfo, reg *agentapi.Register, total core.Resources, conn AgentConn, now time.Time) *agent {
	return &agent{
		id: id, info: info, endpoint: reg.Endpoint, version: reg.Version, total: total, conn: conn,
		registered: now, lastPing: now,
		tasks: map[taskKey]*task{}, executors: map[string]map[string]*executor{}, offers: map[alloc.OfferID]*offer{},
	}
}

func (m *Master) sendRegistered(ag *agent) {
	ag.send(&agentapi.Event{Type: agentapi.EventRegistered, Registered: &agentapi.Registered{
		AgentID: mesos.ID{Value: ag.id}, MasterInfo: m.cfg.Info,
		PingTimeoutSeconds: m.cfg.AgentPingTimeout.Seconds(), MaxPingTimeouts: m.cfg.MaxAgentPingTimeouts,
	}})
}

// reregisterLocked takes back an agent that knows its id: after its
// stream broke, after it restarted, or after this master restarted. The
// agent's report of its tasks and executors is the truth: the master
// drops what the agent no longer runs and adopts what it did not know,
// with one exception. An agent that comes back after being marked
// unreachable is taken back without the tasks and executors of
// frameworks that are not partition-aware, and told to shut those
// frameworks down (see "Back from unreachable" in the package doc).
func (m *Master) reregisterLocked(conn AgentConn, reg *agentapi.Register, static core.Resources, now time.Time) (string, error) {
	info := reg.AgentInfo
	id := info.ID.Value
	cp, record, push := m.checkpointedLocked(id, static, reg.CheckpointedResources)
	total := agentTotal(static, cp)
	info.Resources = total
	var op *registry.Op
	back, unreachableSince := false, time.Time{} // back from unreachable
	switch {
	case m.admitted[id]:
	case m.isUnreachable(id):
		back, unreachableSince = true, m.unreachable[id]
		op = &registry.Op{Kind: registry.MarkReachable, AgentID: id}
	default:
		blob, _ := json.Marshal(&info)
		op = &registry.Op{Kind: registry.AdmitAgent, AgentID: id, Info: blob}
	}
	if op != nil {
		if err := m.applyLocked(*op); err != nil && !errors.Is(err, registry.ErrExists) {
			return "", fmt.Errorf("master: registry: %w", err)
		}
	}
	if record != nil {
		if err := m.applyLocked(*record); err != nil {
			return "", fmt.Errorf("master: registry: %w", err)
		}
		m.resources[id] = cp
	}
	ag := m.agents[id]
	if ag != nil {
		if old := ag.conn; old != nil && old != conn {
			old.Close()
		}
		// Its offers are rescinded when the allocator's decisions drain.
		_ = m.alloc.RemoveAgent(alloc.AgentID(id))
		ag.info, ag.endpoint, ag.version, ag.total, ag.conn = info, reg.Endpoint, reg.Version, total, conn
		ag.rereg = now
	} else {
		// An agent back from unreachable is always new here: it is marked
		// unreachable only while this master has no record of it (see
		// recovery.go), so the master knows none of its tasks.
		ag = m.newAgent(id, info, reg, total, conn, now)
		ag.rereg = now
		m.agents[id] = ag
	}
	ag.lastPing, ag.misses, ag.ponged = now, 0, false
	m.reregisteredLocked(id)
	m.joinMachineLocked(ag)

	// Frameworks the master does not know yet (it restarted) come back as
	// "recovered" until they re-subscribe.
	for _, fi := range reg.Frameworks {
		fid := fi.ID.Val()
		if fid == "" || m.frameworks[fid] != nil {
			continue
		}
		m.recoverFrameworkLocked(fid, fi, now)
	}
	// What the agent reports is refused if it is back from unreachable and
	// the framework is not partition-aware, or if it was refused before and
	// the master has no record of it. shutdown holds the frameworks the
	// agent is told to shut down; kills, the events that kill again what
	// was refused before, sent after REGISTERED.
	prevTasks, prevExecs, oldExecs := ag.refusedTasks, ag.refusedExecutors, ag.executors
	ag.refusedTasks, ag.refusedExecutors = map[taskKey]bool{}, map[executorKey]bool{}
	shutdown := map[string]bool{}
	var kills []*agentapi.Event
	if back {
		for _, fi := range reg.Frameworks {
			if fw := m.frameworks[fi.ID.Val()]; fw != nil && !fw.partitionAware() {
				shutdown[fw.id] = true
			}
		}
	}
	reported := map[taskKey]bool{}
	for i := range reg.Tasks {
		rt := &reg.Tasks[i]
		key := taskKey{rt.FrameworkID.Value, rt.TaskID.Value}
		fw := m.frameworks[key.framework]
		if fw == nil {
			fw = m.recoverFrameworkLocked(key.framework, mesos.FrameworkInfo{Name: "(recovered)", ID: &rt.FrameworkID, Roles: []string{rt.Role}}, now)
		}
		reported[key] = true
		t := fw.tasks[key.task]
		switch {
		case t == nil && back && !fw.partitionAware():
			m.refuseTaskLocked(ag, fw, rt, unreachableSince, now)
			shutdown[fw.id] = true
			continue
		case t == nil && prevTasks[key]:
			// Refused before and still there: the agent has not finished
			// shutting the framework down, or never heard it. Kill just
			// this task; the framework may run others here by now.
			ag.refuse(key, rt.ExecutorID.Val())
			kills = append(kills, &agentapi.Event{Type: agentapi.EventKillTask, KillTask: &agentapi.KillTask{
				FrameworkID: rt.FrameworkID, TaskID: rt.TaskID}})
			continue
		}
		if t == nil {
			res, err := core.NewResources(rt.Resources...)
			if err != nil {
				continue
			}
			// A partition-aware framework's task that this master
			// reported TASK_UNREACHABLE is taken back: it is active
			// again, no longer completed.
			m.uncompleteTaskLocked(fw, key.task, id, mesos.TaskUnreachable)
			role := rt.Role
			if role == "" {
				role = fw.roles[0]
			}
			t = &task{id: key.task, name: rt.Name, framework: fw.id, agent: id, executor: rt.ExecutorID.Val(),
				role: role, resources: res, state: rt.State, statuses: rt.Statuses, launched: now.UnixNano()}
			fw.tasks[t.id] = t
			m.trackTaskLocked(fw, t)
			if t.state.Terminal() {
				t.recovered = true
			}
		}
		if rt.State != "" && rt.State.Valid() {
			m.setTaskStateLocked(t, rt.State)
			t.recovered = t.state.Terminal()
		}
		ag.tasks[key] = t
	}
	// Tasks the agent no longer runs are lost.
	for _, key := range sortedTaskKeys(ag.tasks) {
		t := ag.tasks[key]
		if reported[key] || t.state.Terminal() {
			continue
		}
		fw := m.frameworks[key.framework]
		m.setTaskStateLocked(t, mesos.TaskLost)
		t.recovered = true // the agent is re-added without it below
		s := masterStatus(t.id, id, mesos.TaskLost, mesos.ReasonAgentRestarted, "Task is unknown to the agent after it re-registered", now)
		t.statuses = append(t.statuses, s)
		m.metrics.TaskStates[mesos.TaskLost]++
		delete(ag.tasks, key)
		if fw != nil {
			fw.send(updateEvent(s))
			m.completeTaskLocked(fw, t)
		}
	}
	ag.executors = map[string]map[string]*executor{}
	for _, e := range reg.Executors {
		k := executorKey{e.FrameworkID.Value, e.Info.ExecutorID.Value}
		if fw := m.frameworks[k.framework]; back && fw != nil && !fw.partitionAware() {
			ag.refusedExecutors[k] = true
			shutdown[k.framework] = true
			continue
		}
		if prevExecs[k] && oldExecs[k.framework][k.executor] == nil {
			ag.refusedExecutors[k] = true
			if !e.Command { // a command executor ends with its task's kill
				kills = append(kills, &agentapi.Event{Type: agentapi.EventShutdownExecutor, ShutdownExecutor: &agentapi.ExecutorRef{
					FrameworkID: e.FrameworkID, ExecutorID: e.Info.ExecutorID}})
			}
			continue
		}
		if e.Command {
			continue
		}
		res, err := core.NewResources(e.Info.Resources...)
		if err != nil {
			continue
		}
		info := e.Info
		ag.addExecutor(e.FrameworkID.Value, &info, res, e.Role)
	}
	// Re-add the agent to the allocator with what it runs. Refused tasks
	// and executors are not counted: the master holds them terminal, so
	// their resources are free from now on, as a torn-down framework's
	// are (see the package doc).
	used := map[[2]string]core.Resources{}
	for _, t := range ag.tasks {
		if !t.state.Terminal() {
			k := [2]string{t.framework, t.role}
			used[k] = used[k].Add(t.resources)
		}
	}
	for fid, exs := range ag.executors {
		for _, e := range exs {
			k := [2]string{fid, e.role}
			used[k] = used[k].Add(e.resources)
		}
	}
	ai := alloc.AgentInfo{ID: alloc.AgentID(id), Hostname: info.Hostname, Total: total,
		Attributes: allocAttributes(info.Attributes), Checkpoint: reg.Checkpoint}
	for k, r := range used {
		if m.frameworks[k[0]] != nil {
			ai.Used = append(ai.Used, alloc.Allocation{Framework: alloc.FrameworkID(k[0]), Role: k[1], Resources: r})
		}
	}
	if err := m.alloc.AddAgent(ai); err != nil {
		// Used does not fit the total: take the agent without them rather
		// than refuse it; its tasks keep running.
		m.log.Warn("agent re-registered with more in use than its total", "agent", id, "err", err)
		ai.Used = nil
		_ = m.alloc.AddAgent(ai)
	}
	m.sendRegistered(ag)
	if push {
		ag.sendCheckpointed(cp)
	}
	// The shutdowns go out before any offer on the agent can be accepted,
	// so a framework shut down here has nothing newer on the agent.
	for _, fid := range slices.Sorted(maps.Keys(shutdown)) {
		m.log.Warn("agent back from unreachable: shutting down a framework that is not partition-aware on it",
			"agent", id, "framework", fid, "unreachable_since", unreachableSince)
		ag.send(&agentapi.Event{Type: agentapi.EventShutdownFramework,
			ShutdownFramework: &agentapi.FrameworkRef{FrameworkID: mesos.ID{Value: fid}}})
	}
	for _, ev := range kills {
		ag.send(ev)
	}
	for fid := range ag.executors {
		if fw := m.frameworks[fid]; fw != nil {
			ag.send(&agentapi.Event{Type: agentapi.EventUpdateFramework, UpdateFramework: &fw.info})
		}
	}
	// Resend pending acknowledgements' updates to connected frameworks is
	// the agent's job: it retries its own unacknowledged updates.
	m.log.Info("agent re-registered", "agent", id, "tasks", len(ag.tasks), "refused_tasks", len(ag.refusedTasks))
	return id, nil
}

// refuseTaskLocked handles a task that an agent back from unreachable
// reports and that the master does not take back, its framework not
// being partition-aware: that framework was told, or is told by
// reconciliation, that the task is TASK_LOST, and so it stays. The
// master records it completed as TASK_LOST and tells the framework so
// once more, now that it knows the task (after a failover it did not
// when the agent was marked unreachable). Its resources never reach the
// allocator.
func (m *Master) refuseTaskLocked(ag *agent, fw *framework, rt *agentapi.Task, unreachableSince, now time.Time) {
	ag.refuse(taskKey{fw.id, rt.TaskID.Value}, rt.ExecutorID.Val())
	if c := fw.completedTask(rt.TaskID.Value); c != nil && c.agent == ag.id && c.state == mesos.TaskLost {
		// This master marked the agent unreachable and told the
		// framework then: it hears nothing more of the task.
		return
	}
	res, _ := core.NewResources(rt.Resources...) // shown in state only
	role := rt.Role
	if role == "" {
		role = fw.roles[0]
	}
	s := masterStatus(rt.TaskID.Value, ag.id, mesos.TaskLost, mesos.ReasonAgentRemoved,
		"Agent re-registered after it was marked unreachable; the framework is not partition-aware, so the task is killed", now)
	s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: unreachableSince.UnixNano()}
	t := &task{id: rt.TaskID.Value, name: rt.Name, framework: fw.id, agent: ag.id, executor: rt.ExecutorID.Val(),
		role: role, resources: res, state: mesos.TaskLost, statuses: append(slices.Clone(rt.Statuses), s),
		launched: now.UnixNano(), recovered: true}
	m.metrics.TaskStates[mesos.TaskLost]++
	fw.send(updateEvent(s))
	m.completeTaskLocked(fw, t)
}

// refuse notes a refused task and its executor ("" for none).
func (ag *agent) refuse(key taskKey, executor string) {
	ag.refusedTasks[key] = true
	if executor != "" {
		ag.refusedExecutors[executorKey{key.framework, executor}] = true
	}
}

func (m *Master) recoverFrameworkLocked(id string, fi mesos.FrameworkInfo, now time.Time) *framework {
	fi.ID = &mesos.ID{Value: id}
	roles := fi.EffectiveRoles()
	m.fwSeq++
	fw := &framework{id: id, ord: m.fwSeq, info: fi, roles: roles, recovered: true, registered: now,
		tasks: map[string]*task{}, offers: map[alloc.OfferID]*offer{}}
	if err := m.alloc.AddFramework(allocInfo(id, &fi, nil)); err != nil {
		m.log.Warn("recovered framework refused by the allocator", "framework", id, "err", err)
	}
	_ = m.alloc.DeactivateFramework(alloc.FrameworkID(id))
	m.frameworks[id] = fw
	return fw
}

// AgentDisconnected tells the master that an agent's stream broke. The
// agent is deactivated (no offers) until it re-registers; health checks
// remove it if it does not.
func (m *Master) AgentDisconnected(id string, conn AgentConn, now time.Time) {
	defer m.enter(now)()
	ag := m.agents[id]
	if ag == nil || ag.conn != conn {
		return
	}
	ag.conn = nil
	_ = m.alloc.DeactivateAgent(alloc.AgentID(id))
	m.log.Info("agent disconnected", "agent", id)
}

// AgentCalls handles a batch of agent calls. Calls from agents the
// master does not know are dropped; such an agent's stream is gone too,
// and it re-registers.
func (m *Master) AgentCalls(calls []agentapi.Call, now time.Time) {
	defer m.enter(now)()
	for i := range calls {
		c := &calls[i]
		ag := m.agents[c.AgentID.Val()]
		if ag == nil {
			continue
		}
		// Any call shows the agent alive (see agent.ponged), while it
		// has a stream: one without is marked unreachable in time even
		// if it keeps posting.
		if ag.connected() {
			ag.ponged, ag.misses = true, 0
		}
		switch c.Type {
		case agentapi.CallPong: // counted above, whatever its seq
		case agentapi.CallStatusUpdate:
			m.statusUpdateLocked(ag, c.StatusUpdate, now)
		case agentapi.CallExecutorExited:
			m.executorExitedLocked(ag, c.ExecutorExited)
		case agentapi.CallMessage:
			if fw := m.frameworks[c.Message.FrameworkID.Value]; fw != nil {
				fw.send(&mesos.Event{Type: mesos.EventMessage, Message: &mesos.Message{
					AgentID: mesos.ID{Value: ag.id}, ExecutorID: c.Message.ExecutorID, Data: c.Message.Data}})
			}
		}
	}
}

func (m *Master) executorExitedLocked(ag *agent, e *agentapi.ExecutorExited) {
	fid, eid := e.FrameworkID.Value, e.ExecutorID.Value
	ex := ag.executors[fid][eid]
	if k := (executorKey{fid, eid}); ex == nil && ag.refusedExecutors[k] {
		// Shut down when the agent came back from unreachable: its
		// framework holds its tasks lost and hears nothing of it.
		delete(ag.refusedExecutors, k)
		return
	}
	if ex != nil {
		delete(ag.executors[fid], eid)
		if len(ag.executors[fid]) == 0 {
			delete(ag.executors, fid)
		}
		if !ex.resources.IsEmpty() {
			_ = m.alloc.Recover(alloc.FrameworkID(fid), alloc.AgentID(ag.id), ex.role, ex.resources, 0)
		}
	}
	if fw := m.frameworks[fid]; fw != nil && (ex != nil || e.Status != 0) {
		status := e.Status
		fw.send(&mesos.Event{Type: mesos.EventFailure, Failure: &mesos.Failure{
			AgentID: &mesos.ID{Value: ag.id}, ExecutorID: &mesos.ID{Value: eid}, Status: &status}})
	}
}

// pingAgentsLocked sends PINGs and removes agents that missed too many.
func (m *Master) pingAgentsLocked(now time.Time) {
	for _, ag := range m.agents {
		if now.Sub(ag.lastPing) < m.cfg.AgentPingTimeout {
			continue
		}
		if ag.pingSeq > 0 && !ag.ponged {
			ag.misses++
		}
		if ag.misses >= m.cfg.MaxAgentPingTimeouts {
			m.markUnreachableLocked(ag, now, fmt.Sprintf("health check timed out: no PONG nor other call for %d pings of %v",
				ag.misses, m.cfg.AgentPingTimeout))
			continue
		}
		ag.pingSeq++
		ag.ponged = false
		ag.lastPing = now
		ag.send(&agentapi.Event{Type: agentapi.EventPing, Ping: &agentapi.Ping{Seq: ag.pingSeq}})
	}
}

// markUnreachableLocked marks an agent that failed its health checks
// unreachable, as Mesos has since 1.2: the registry records it first,
// then its tasks are reported (TASK_UNREACHABLE to partition-aware
// frameworks, TASK_LOST to the others), its frameworks told, its
// resources leave the allocator, and its stream is closed. It is not told
// to shut down: if it is alive it subscribes again, under its id, and
// comes back as "Back from unreachable" in the package doc describes.
func (m *Master) markUnreachableLocked(ag *agent, now time.Time, why string) {
	if err := m.applyLocked(registry.Op{Kind: registry.MarkUnreachable, AgentID: ag.id, Time: now}); err != nil &&
		!errors.Is(err, registry.ErrUnknownAgent) {
		m.log.Error("registry refused to mark agent unreachable; will retry", "agent", ag.id, "err", err)
		return
	}
	m.log.Warn("agent unreachable", "agent", ag.id, "reason", why)
	m.dropAgentLocked(ag, mesos.TaskUnreachable, mesos.ReasonAgentRemoved, fmt.Sprintf("Agent %s is unreachable: %s", ag.id, why), now)
}

// removeAgentLocked removes an agent for good, as Mesos's removeSlave
// does for /machine/down: the registry records it gone first, then its
// tasks are reported (TASK_GONE_BY_OPERATOR to partition-aware
// frameworks, TASK_LOST to the others), its frameworks told, its
// resources leave the allocator, and its stream is closed. The agent was
// told to shut down; under its old id it is refused from now on.
func (m *Master) removeAgentLocked(ag *agent, now time.Time, why string) error {
	ops := []registry.Op{{Kind: registry.RemoveAgent, AgentID: ag.id, Time: now}}
	if _, ok := m.resources[ag.id]; ok {
		// Its id is gone for good; the agent reports its reservations
		// again when it registers as a new agent.
		ops = append(ops, registry.Op{Kind: registry.DeleteValue, Key: resourcesKey + ag.id})
	}
	if err := m.applyLocked(ops...); err != nil {
		m.log.Error("registry refused to remove agent; it stays until it fails its health checks", "agent", ag.id, "err", err)
		return fmt.Errorf("master: registry: removing agent %s: %w", ag.id, err)
	}
	delete(m.resources, ag.id)
	m.log.Warn("agent removed", "agent", ag.id, "reason", why)
	m.dropAgentLocked(ag, mesos.TaskGoneByOperator, mesos.ReasonAgentRemovedByOperator, fmt.Sprintf("Agent %s removed: %s", ag.id, why), now)
	return nil
}

// sortedTaskKeys returns the keys of tasks in order, so that the events a
// loop over them sends come in the same order every time.
func sortedTaskKeys(tasks map[taskKey]*task) []taskKey {
	return slices.SortedFunc(maps.Keys(tasks), func(a, b taskKey) int {
		if c := strings.Compare(a.framework, b.framework); c != 0 {
			return c
		}
		return strings.Compare(a.task, b.task)
	})
}

// dropAgentLocked is the end of markUnreachableLocked and
// removeAgentLocked, once the registry has recorded the agent's fate: a
// partition-aware framework's live tasks there go to state with reason,
// the others' to TASK_LOST with REASON_AGENT_REMOVED; every framework gets
// FAILURE for the agent; and the agent leaves the allocator and the
// master.
func (m *Master) dropAgentLocked(ag *agent, state mesos.TaskState, reason, msg string, now time.Time) {
	for _, key := range sortedTaskKeys(ag.tasks) {
		t := ag.tasks[key]
		fw := m.frameworks[key.framework]
		if fw == nil || t.state.Terminal() {
			continue
		}
		st, why := fw.lostState(state), reason
		if st != state {
			why = mesos.ReasonAgentRemoved
		}
		s := masterStatus(t.id, ag.id, st, why, msg, now)
		if state == mesos.TaskUnreachable {
			s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: now.UnixNano()}
		}
		m.setTaskStateLocked(t, st)
		t.recovered = true // RemoveAgent below frees everything on the agent (in the allocator)
		if st.Terminal() {
			m.metrics.TaskStates[st]++
		}
		t.statuses = append(t.statuses, s)
		fw.send(updateEvent(s))
		m.completeTaskLocked(fw, t)
	}
	m.leaveMachineLocked(ag)
	_ = m.alloc.RemoveAgent(alloc.AgentID(ag.id)) // rescinds its offers
	for _, fw := range m.frameworks {
		fw.send(&mesos.Event{Type: mesos.EventFailure, Failure: &mesos.Failure{AgentID: &mesos.ID{Value: ag.id}}})
	}
	if ag.conn != nil {
		ag.conn.Close()
	}
	delete(m.agents, ag.id)
	m.metrics.AgentsRemoved++
}
