package master

import (
	"fmt"
	"math"
	"strings"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// task is the master's record of a task.
type task struct {
	id        string
	name      string
	framework string
	agent     string
	executor  string // "" for a command task
	role      string
	resources core.Resources
	info      mesos.TaskInfo
	state     mesos.TaskState
	statuses  []mesos.TaskStatus
	launched  int64 // when the master learned of it, Unix nanoseconds
	// pending is the newest forwarded update that still waits for the
	// framework's acknowledgement; nil when none does. pendingSub is the
	// framework's subscription (framework.sub) it was last sent on, 0
	// when it could not be sent (the framework was disconnected), and
	// pendingSeq its number among the events queued on that
	// subscription's Conn (Backlog.Sent), 0 if the Conn does not tell.
	// pendingAt is when it was sent (Unix nanoseconds).
	pending    *mesos.TaskStatus
	pendingSub uint32
	fwOrd      uint32 // (with rank and seq below) the task's key in Master.tasks
	pendingSeq uint64
	pendingAt  int64
	// recovered: resources were already given back (terminal update seen).
	recovered bool
	// acked: the framework acknowledged the newest entry of statuses
	// through this master.
	acked bool
	// tracked: the task is in its framework's tasks and counted in
	// Master.live (see trackTaskLocked).
	tracked bool
	// The task's key in Master.tasks (taskOrder): its state's rank,
	// fwOrd (its framework's ord, placed above to fill padding) and seq
	// (the order the master learned of it); indexed says it is in.
	rank    uint8
	indexed bool
	seq     uint64
}

type taskKey struct{ framework, task string }

func (t *task) wire() mesos.Task {
	return mesos.Task{
		Name: t.name, TaskID: mesos.ID{Value: t.id}, FrameworkID: mesos.ID{Value: t.framework},
		ExecutorID: mesos.NewID(t.executor), AgentID: mesos.ID{Value: t.agent},
		State: t.state, Resources: t.resources, Statuses: t.statuses,
	}
}

// refuse converts Filters to a filter duration: default 5 s, negative
// means the default, capped at 365 days, as Mesos does.
func refuse(f *mesos.Filters) time.Duration {
	const maxRefuse = 365 * 24 * time.Hour
	if f == nil || f.RefuseSeconds == nil || *f.RefuseSeconds < 0 || math.IsNaN(*f.RefuseSeconds) {
		return 5 * time.Second
	}
	s := *f.RefuseSeconds
	if s > maxRefuse.Seconds() {
		return maxRefuse
	}
	return time.Duration(s * float64(time.Second))
}

// checkOffersLocked sorts the offer ids of an ACCEPT or DECLINE: ids of
// another framework's offers are a bad request (nothing changes); unknown
// ids (rescinded, declined, never made) are returned in unknown.
func (m *Master) checkOffersLocked(fw *framework, ids []mesos.ID, field string) (known []*offer, unknown []string, err error) {
	seen := map[alloc.OfferID]bool{}
	for i, wid := range ids {
		id, ok := m.parseOfferID(wid.Value)
		of := m.offers[id]
		if !ok || of == nil {
			unknown = append(unknown, wid.Value)
			continue
		}
		if string(of.Framework) != fw.id {
			return nil, nil, badRequest("%s[%d]: offer %s belongs to another framework", field, i, wid.Value)
		}
		if seen[id] {
			return nil, nil, badRequest("%s[%d]: offer %s is given twice", field, i, wid.Value)
		}
		seen[id] = true
		known = append(known, of)
	}
	return known, unknown, nil
}

func (m *Master) declineLocked(fw *framework, d *mesos.Decline) error {
	known, _, err := m.checkOffersLocked(fw, d.OfferIDs, "decline.offer_ids")
	if err != nil {
		return err
	}
	r := refuse(d.Filters)
	for _, of := range known {
		m.forgetOfferLocked(of)
		_ = m.alloc.Decline(of.ID, r)
		m.metrics.OffersDeclined++
	}
	return nil
}

// acceptLocked implements ACCEPT: validate the offers, take them, run
// the operations in order against what they hold, and give back the rest
// under the call's filter.
func (m *Master) acceptLocked(fw *framework, a *mesos.Accept, now time.Time) error {
	for i, op := range a.Operations {
		switch op.Type {
		case mesos.OpLaunch, mesos.OpLaunchGroup, mesos.OpReserve, mesos.OpUnreserve, mesos.OpCreate, mesos.OpDestroy:
		default:
			return fmt.Errorf("%w: accept.operations[%d]: %s is not supported", ErrNotSupported, i, op.Type)
		}
	}
	known, unknown, err := m.checkOffersLocked(fw, a.OfferIDs, "accept.offer_ids")
	if err != nil {
		return err
	}
	// Invalid offers void the whole call, as in Mesos: every task is
	// dropped and the valid offers go back without a filter.
	reason := ""
	switch {
	case len(a.OfferIDs) == 0:
		reason = "No offers given"
	case len(unknown) > 0:
		reason = fmt.Sprintf("Offer %s is no longer valid", unknown[0])
	default:
		for _, of := range known[1:] {
			if of.Agent != known[0].Agent {
				reason = "Aggregated offers must belong to one agent"
				break
			}
			if of.Role != known[0].Role {
				reason = "Aggregated offers must be allocated to one role"
				break
			}
		}
	}
	if reason == "" {
		if ag := m.agents[string(known[0].Agent)]; ag == nil || !ag.connected() {
			reason = "Agent is not connected"
		}
	}
	if reason != "" {
		for _, of := range known {
			m.forgetOfferLocked(of)
			_ = m.alloc.Decline(of.ID, 0)
		}
		m.dropTasksLocked(fw, a.Operations, reason, now)
		m.dropOperationsLocked(fw, a.Operations, reason)
		return nil
	}
	var offered core.Resources
	for _, of := range known {
		m.forgetOfferLocked(of)
		if err := m.alloc.Accept(of.ID); err != nil {
			// The allocator rescinded it in the meantime.
			for _, o2 := range known {
				_ = m.alloc.Recover(fw.allocID(), o2.Agent, o2.Role, o2.Resources, 0)
			}
			m.dropTasksLocked(fw, a.Operations, "Offer is no longer valid", now)
			m.dropOperationsLocked(fw, a.Operations, "Offer is no longer valid")
			return nil
		}
		offered = offered.Add(of.Resources)
		m.metrics.OffersAccepted++
	}
	ag := m.agents[string(known[0].Agent)]
	role := known[0].Role
	l := leftover{res: offered, shared: offered.Shared()}
	for _, op := range a.Operations {
		switch op.Type {
		case mesos.OpReserve, mesos.OpUnreserve, mesos.OpCreate, mesos.OpDestroy:
			l.res = m.offerOperationLocked(fw, ag, role, l.res, &op, now)
			l.shared = l.res.Shared() // CREATE and DESTROY change them
		case mesos.OpLaunch:
			for _, ti := range op.Launch.TaskInfos {
				m.launchLocked(fw, ag, role, &l, ti, now)
			}
		case mesos.OpLaunchGroup:
			m.launchGroupLocked(fw, ag, role, &l, op.LaunchGroup, now)
		}
	}
	left := l.res
	if !left.IsEmpty() {
		_ = m.alloc.Recover(fw.allocID(), alloc.AgentID(ag.id), role, left, refuse(a.Filters))
	}
	return nil
}

func (fw *framework) allocID() alloc.FrameworkID { return alloc.FrameworkID(fw.id) }

// dropTasksLocked answers every task of the operations with TASK_DROPPED
// (TASK_LOST for frameworks that are not partition-aware).
func (m *Master) dropTasksLocked(fw *framework, ops []mesos.Operation, msg string, now time.Time) {
	state := fw.lostState(mesos.TaskDropped)
	each := func(ti *mesos.TaskInfo) {
		m.metrics.TasksDropped++
		m.metrics.TaskStates[state]++
		fw.send(updateEvent(masterStatus(ti.TaskID.Value, ti.AgentID.Value, state, mesos.ReasonInvalidOffers, msg, now)))
	}
	for i := range ops {
		switch {
		case ops[i].Launch != nil:
			for j := range ops[i].Launch.TaskInfos {
				each(&ops[i].Launch.TaskInfos[j])
			}
		case ops[i].LaunchGroup != nil:
			for j := range ops[i].LaunchGroup.TaskGroup.Tasks {
				each(&ops[i].LaunchGroup.TaskGroup.Tasks[j])
			}
		}
	}
}

func updateEvent(s mesos.TaskStatus) *mesos.Event {
	return &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: s}}
}

// taskError answers an invalid task with TASK_ERROR.
func (m *Master) taskErrorLocked(fw *framework, ti *mesos.TaskInfo, reason, msg string, now time.Time) {
	m.metrics.TasksErrored++
	m.metrics.TaskStates[mesos.TaskError]++
	fw.send(updateEvent(masterStatus(ti.TaskID.Value, ti.AgentID.Value, mesos.TaskError, reason, msg, now)))
}

// validateTaskLocked checks one task against the framework, the agent and
// what is left of the offers. It returns the task's normalized resources
// and those of a new executor it needs (nil when the executor exists).
func (m *Master) validateTaskLocked(fw *framework, ag *agent, ti *mesos.TaskInfo, seen map[string]bool) (taskRes, execRes core.Resources, err error) {
	id := ti.TaskID.Value
	switch {
	case id == "":
		return nil, nil, fmt.Errorf("task_id is empty")
	case len(id) > 1024 || strings.ContainsAny(id, "/\x00"):
		return nil, nil, fmt.Errorf("task_id %q has a '/' or NUL or is too long", id)
	case fw.tasks[id] != nil || seen[id]:
		return nil, nil, fmt.Errorf("task %s is already in use", id)
	case ti.AgentID.Value != ag.id:
		return nil, nil, fmt.Errorf("task uses agent %q, but the offers are for agent %s", ti.AgentID.Value, ag.id)
	case (ti.Command == nil) == (ti.Executor == nil):
		return nil, nil, fmt.Errorf("task must set exactly one of command and executor")
	}
	taskRes, err = core.NewResources(ti.Resources...)
	if err != nil {
		return nil, nil, fmt.Errorf("task resources: %v", err)
	}
	if taskRes.IsEmpty() {
		return nil, nil, fmt.Errorf("task uses no resources")
	}
	if ti.Command != nil && ti.Command.Value == "" && ti.Command.IsShell() {
		return nil, nil, fmt.Errorf("command.value is empty")
	}
	if ex := ti.Executor; ex != nil {
		eid := ex.ExecutorID.Value
		if eid == "" {
			return nil, nil, fmt.Errorf("executor.executor_id is empty")
		}
		if fid := ex.FrameworkID.Val(); fid != "" && fid != fw.id {
			return nil, nil, fmt.Errorf("executor.framework_id %q is not the framework", fid)
		}
		if old, ok := ag.executors[fw.id][eid]; ok {
			if ex.Command != nil && (old.info.Command == nil || old.info.Command.Value != ex.Command.Value) {
				return nil, nil, fmt.Errorf("executor %s is already running with a different command", eid)
			}
		} else {
			if ex.Command == nil {
				return nil, nil, fmt.Errorf("executor.command is required for a custom executor")
			}
			execRes, err = core.NewResources(ex.Resources...)
			if err != nil {
				return nil, nil, fmt.Errorf("executor resources: %v", err)
			}
		}
	}
	return taskRes, execRes, nil
}

// leftover is what the offers of one ACCEPT have left as its operations
// run.
type leftover struct {
	res core.Resources
	// shared is the shared resources the offers carried, used by tasks or
	// not: as in Mesos's master (_accept), any number of tasks of the call
	// may use one offered copy of a shared volume, and each task past the
	// offered copies gets a copy of its own added to the framework's
	// allocation. A CREATE or DESTROY resets it to the shared resources
	// still left, as Mesos does, so a LAUNCH after one of them can use
	// only the copies no earlier task took.
	shared core.Resources
}

// fits reports whether need fits in what is left, shared resources
// counted as available however many tasks use them.
func (l *leftover) fits(need core.Resources) bool {
	if !need.HasShared() {
		return l.res.Contains(need)
	}
	return l.res.NonShared().Contains(need.NonShared()) && l.shared.Contains(need.Shared())
}

// takeLocked takes need (which fits) out of what is left; shared copies
// past those left are added to the allocation first.
func (m *Master) takeLocked(fw *framework, ag *agent, role string, l *leftover, need core.Resources) {
	if need.HasShared() {
		if more := need.Shared().Sub(l.res.Shared()); !more.IsEmpty() {
			if err := m.alloc.UpdateAllocation(fw.allocID(), alloc.AgentID(ag.id), role, nil, more); err != nil {
				// The master and the allocator disagree about the
				// agent's shared resources; the task runs, and its end
				// will not give the copy back.
				m.log.Error("allocator refused more copies of shared resources", "framework", fw.id, "agent", ag.id,
					"resources", more.String(), "err", err)
			}
		}
	}
	l.res = l.res.Sub(need)
}

// launchLocked validates and launches one task out of what is left.
func (m *Master) launchLocked(fw *framework, ag *agent, role string, l *leftover, ti mesos.TaskInfo, now time.Time) {
	taskRes, execRes, err := m.validateTaskLocked(fw, ag, &ti, nil)
	if err == nil {
		if need := taskRes.Add(execRes); !l.fits(need) {
			err = fmt.Errorf("task uses more resources (%v) than the offers have left (%v)", need, l.res)
		}
	}
	if err != nil {
		m.taskErrorLocked(fw, &ti, mesos.ReasonTaskInvalid, "Task is invalid: "+err.Error(), now)
		return
	}
	m.takeLocked(fw, ag, role, l, taskRes.Add(execRes))
	ev := &agentapi.Event{Type: agentapi.EventRunTask, RunTask: &agentapi.RunTask{FrameworkInfo: fw.info, Task: ti, Role: role}}
	ti.Resources = taskRes
	t := m.addTaskLocked(fw, ag, role, &ti, taskRes, now)
	if ti.Executor != nil {
		t.executor = ti.Executor.ExecutorID.Value
		ag.addExecutor(fw.id, ti.Executor, execRes, role)
	}
	ag.send(ev)
}

// launchGroupLocked validates and launches a task group out of what is
// left: all tasks or none.
func (m *Master) launchGroupLocked(fw *framework, ag *agent, role string, l *leftover, lg *mesos.LaunchGroup, now time.Time) {
	fail := func(msg string) {
		for i := range lg.TaskGroup.Tasks {
			m.taskErrorLocked(fw, &lg.TaskGroup.Tasks[i], mesos.ReasonTaskGroupInvalid, "Task group is invalid: "+msg, now)
		}
	}
	ex := lg.Executor
	if ex.Type != "" && ex.Type != mesos.ExecutorDefault {
		fail("the executor of a task group must be of type DEFAULT")
		return
	}
	if ex.ExecutorID.Value == "" {
		fail("executor.executor_id is empty")
		return
	}
	if len(lg.TaskGroup.Tasks) == 0 {
		fail("the task group has no tasks")
		return
	}
	var need core.Resources
	_, execKnown := ag.executors[fw.id][ex.ExecutorID.Value]
	var execRes core.Resources
	if !execKnown {
		var err error
		if execRes, err = core.NewResources(ex.Resources...); err != nil {
			fail("executor resources: " + err.Error())
			return
		}
		need = execRes
	}
	seen := map[string]bool{}
	res := make([]core.Resources, len(lg.TaskGroup.Tasks))
	for i := range lg.TaskGroup.Tasks {
		ti := &lg.TaskGroup.Tasks[i]
		if ti.Executor != nil {
			fail(fmt.Sprintf("task %s sets executor; tasks of a group use the group's", ti.TaskID.Value))
			return
		}
		if ti.Command == nil {
			fail(fmt.Sprintf("task %s has no command", ti.TaskID.Value))
			return
		}
		r, _, err := m.validateTaskLocked(fw, ag, ti, seen)
		if err != nil {
			fail(fmt.Sprintf("task %s: %v", ti.TaskID.Value, err))
			return
		}
		seen[ti.TaskID.Value] = true
		res[i] = r
		need = need.Add(r)
	}
	// As in Mesos, a task group gets no copies of shared resources past
	// those the offers have left.
	if !l.res.Contains(need) {
		fail(fmt.Sprintf("the group uses more resources (%v) than the offers have left (%v)", need, l.res))
		return
	}
	l.res = l.res.Sub(need)
	ex.Type = mesos.ExecutorDefault
	ex.FrameworkID = &mesos.ID{Value: fw.id}
	if !execKnown {
		ag.addExecutor(fw.id, &ex, execRes, role)
	}
	for i := range lg.TaskGroup.Tasks {
		ti := lg.TaskGroup.Tasks[i]
		ti.Resources = res[i]
		t := m.addTaskLocked(fw, ag, role, &ti, res[i], now)
		t.executor = ex.ExecutorID.Value
	}
	ag.send(&agentapi.Event{Type: agentapi.EventRunTaskGroup, RunTaskGroup: &agentapi.RunTaskGroup{
		FrameworkInfo: fw.info, Executor: ex, TaskGroup: lg.TaskGroup, Role: role}})
}

func (m *Master) addTaskLocked(fw *framework, ag *agent, role string, ti *mesos.TaskInfo, res core.Resources, now time.Time) *task {
	t := &task{
		id: ti.TaskID.Value, name: ti.Name, framework: fw.id, agent: ag.id, role: role,
		resources: res, info: *ti, state: mesos.TaskStaging, launched: now.UnixNano(),
	}
	fw.tasks[t.id] = t
	m.trackTaskLocked(fw, t)
	ag.tasks[taskKey{fw.id, t.id}] = t
	m.metrics.TasksLaunched++
	return t
}
