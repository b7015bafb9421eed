package master

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// framework is a subscribed (or recovered, or failing-over) framework.
type framework struct {
	id       string
	ord      uint32 // the order in which this master learned of it (taskOrder)
	info     mesos.FrameworkInfo
	roles    []string
	conn     Conn   // nil while disconnected
	streamID string // the Mesos-Stream-Id of conn
	// sub counts the framework's subscriptions to this master, so it
	// names the current one (conn); 0 before the first.
	sub uint32
	// recovered: known only from re-registering agents; not yet
	// re-subscribed after a master restart.
	recovered bool
	// failoverAt is when a disconnected framework is torn down.
	failoverAt   time.Time
	registered   time.Time
	reregistered time.Time
	unregistered time.Time

	tasks     map[string]*task // active tasks, terminal ones until acknowledged
	completed []*task          // oldest first
	offers    map[alloc.OfferID]*offer
}

func (fw *framework) connected() bool { return fw.conn != nil }

func (fw *framework) send(ev *mesos.Event) {
	if fw.conn != nil {
		fw.conn.Send(ev)
	}
}

// forward sends the task's update s to the framework and makes it the
// task's pending one, noting the subscription it went out on.
func (fw *framework) forward(t *task, s mesos.TaskStatus, now time.Time) {
	t.pending, t.pendingSub, t.pendingSeq, t.pendingAt, t.acked = &s, 0, 0, 0, false
	if fw.conn != nil && fw.conn.Send(updateEvent(s)) {
		t.pendingSub, t.pendingAt = fw.sub, now.UnixNano()
		if b, ok := fw.conn.(Backlog); ok {
			t.pendingSeq = b.Sent()
		}
	}
}

// retryHold is how long after forwarding an update on a subscription a
// retry of it is not forwarded there again, even once written. An
// agent's first retry comes 10 s after its first send by default, so a
// copy sooner than this is one of a burst: the agents re-registering
// after a failover resend all they hold, over several seconds, to
// frameworks that were just sent the same on re-subscribing. The price:
// an update a framework did lose is sent again at the first retry
// retryHold or more after the forward.
const retryHold = 5 * time.Second

// holds reports whether a retry of the task's pending update is better
// not forwarded on the framework's current subscription: the update was
// sent on it less than retryHold ago, or is still queued for it, not yet
// written to the connection.
func (fw *framework) holds(t *task, now time.Time) bool {
	if t.pending == nil || t.pendingSub == 0 || t.pendingSub != fw.sub || fw.conn == nil {
		return false
	}
	if now.UnixNano()-t.pendingAt < int64(retryHold) {
		return true
	}
	b, ok := fw.conn.(Backlog)
	return ok && b.Written() < t.pendingSeq
}

func (fw *framework) partitionAware() bool {
	return fw.info.HasCapability(mesos.CapPartitionAware)
}

// lostState is TASK_LOST, or alt for partition-aware frameworks.
func (fw *framework) lostState(alt mesos.TaskState) mesos.TaskState {
	if fw.partitionAware() {
		return alt
	}
	return mesos.TaskLost
}

func allocInfo(id string, fi *mesos.FrameworkInfo, suppressed []string) alloc.FrameworkInfo {
	var caps alloc.Capability
	for _, c := range fi.Capabilities {
		switch c.Type {
		case mesos.CapMultiRole:
			caps |= alloc.MultiRole
		case mesos.CapRevocableResources:
			caps |= alloc.RevocableResources
		case mesos.CapGPUResources:
			caps |= alloc.GPUResources
		case mesos.CapPartitionAware:
			caps |= alloc.PartitionAware
		case mesos.CapSharedResources:
			caps |= alloc.SharedResources
		}
	}
	return alloc.FrameworkInfo{
		ID:           alloc.FrameworkID(id),
		Roles:        fi.EffectiveRoles(),
		Capabilities: caps,
		Checkpoint:   fi.Checkpoint,
		Suppressed:   suppressed,
	}
}

// Subscribed is what Subscribe returns to masterd: the stream id for the
// Mesos-Stream-Id header. The SUBSCRIBED event is already queued on conn.
type Subscribed struct {
	FrameworkID string
	StreamID    string
}

// Subscribe handles SUBSCRIBE on a new stream conn: a new framework, a
// framework failing over to a new scheduler instance, or one
// re-subscribing after a master failover.
func (m *Master) Subscribe(conn Conn, call *mesos.Call, now time.Time) (Subscribed, error) {
	defer m.enter(now)()
	sub := call.Subscribe
	fi := sub.FrameworkInfo
	for _, r := range fi.EffectiveRoles() {
		if err := core.ValidateRole(r); err != nil {
			return Subscribed{}, badRequest("subscribe.framework_info.roles: %v", err)
		}
	}
	roles := fi.EffectiveRoles()
	for _, r := range sub.SuppressedRoles {
		if !slices.Contains(roles, r) {
			return Subscribed{}, badRequest("subscribe.suppressed_roles: %q is not one of the framework's roles", r)
		}
	}
	id := fi.ID.Val()
	if cid := call.FrameworkID.Val(); cid != "" && id != "" && cid != id {
		return Subscribed{}, badRequest("framework_id %q does not match subscribe.framework_info.id %q", cid, id)
	} else if id == "" {
		id = cid
	}
	if id != "" {
		for _, c := range m.completed {
			if c.id == id {
				return Subscribed{}, fmt.Errorf("%w: framework %s has been removed", ErrForbidden, id)
			}
		}
	}
	streamID := fmt.Sprintf("%x", newUUID())
	fw := m.frameworks[id]
	switch {
	case id == "":
		id = fmt.Sprintf("%s-%04d", m.cfg.Info.ID, m.nextFW)
		m.nextFW++
		fallthrough
	case fw == nil:
		// New, or re-subscribing with an id this master never saw (after
		// a master failover): adopt the id.
		fi.ID = &mesos.ID{Value: id}
		m.fwSeq++
		fw = &framework{id: id, ord: m.fwSeq, info: fi, roles: roles, registered: now,
			tasks: map[string]*task{}, offers: map[alloc.OfferID]*offer{}}
		if err := m.alloc.AddFramework(allocInfo(id, &fi, sub.SuppressedRoles)); err != nil {
			return Subscribed{}, badRequest("subscribe: %v", err)
		}
		m.frameworks[id] = fw
	default:
		// Failover to a new scheduler instance, or recovery after the
		// master restarted. Fields a framework may not change keep their
		// old values (user, checkpoint), as Mesos does.
		if old := fw.conn; old != nil {
			old.Send(&mesos.Event{Type: mesos.EventError, Error: &mesos.Error{Message: "Framework failed over"}})
			old.Close()
		}
		fi.ID = &mesos.ID{Value: id}
		fi.User, fi.Checkpoint = fw.info.User, fw.info.Checkpoint
		if fw.recovered {
			fi.User, fi.Checkpoint = sub.FrameworkInfo.User, sub.FrameworkInfo.Checkpoint
		}
		if err := m.alloc.UpdateFramework(allocInfo(id, &fi, sub.SuppressedRoles)); err != nil {
			return Subscribed{}, badRequest("subscribe: %v", err)
		}
		fw.info, fw.roles = fi, roles
		fw.recovered = false
		fw.failoverAt = time.Time{}
		fw.reregistered = now
		_ = m.alloc.ActivateFramework(alloc.FrameworkID(id))
	}
	fw.conn, fw.streamID = conn, streamID
	fw.sub++
	info := m.cfg.Info
	conn.Send(&mesos.Event{Type: mesos.EventSubscribed, Subscribed: &mesos.Subscribed{
		FrameworkID:              mesos.ID{Value: id},
		HeartbeatIntervalSeconds: m.cfg.HeartbeatInterval.Seconds(),
		MasterInfo:               &info,
	}})
	// Resend what is still unacknowledged, oldest task first.
	for _, t := range fw.sortedTasks() {
		if t.pending != nil {
			fw.forward(t, *t.pending, now)
		}
	}
	m.resendOperationsLocked(fw)
	m.forgetFrameworkInverseLocked(id, false) // those of its last stream
	m.inverseOffersLocked(now)
	// Agents learn the new FrameworkInfo (executors read it).
	for _, ag := range m.agents {
		if ag.runsFramework(id) {
			ag.send(&agentapi.Event{Type: agentapi.EventUpdateFramework, UpdateFramework: &fw.info})
		}
	}
	return Subscribed{FrameworkID: id, StreamID: streamID}, nil
}

// Authorize checks that a non-SUBSCRIBE call comes from the framework's
// current subscription (the Mesos-Stream-Id header).
func (m *Master) authorizeLocked(fwID, streamID string) (*framework, error) {
	fw := m.frameworks[fwID]
	if fw == nil {
		return nil, fmt.Errorf("%w: framework %s is not subscribed", ErrForbidden, fwID)
	}
	if fw.conn == nil {
		return nil, fmt.Errorf("%w: framework %s is disconnected; subscribe again", ErrForbidden, fwID)
	}
	if streamID == "" {
		return nil, badRequest("missing Mesos-Stream-Id header")
	}
	if streamID != fw.streamID {
		return nil, badRequest("the Mesos-Stream-Id %q is not the framework's current stream", streamID)
	}
	return fw, nil
}

// Disconnected tells the master that conn, a framework's stream, broke.
// The framework stays, inactive, until its failover timeout.
func (m *Master) Disconnected(fwID string, conn Conn, now time.Time) {
	defer m.enter(now)()
	fw := m.frameworks[fwID]
	if fw == nil || fw.conn != conn {
		return // an old stream of a framework that failed over
	}
	fw.conn, fw.streamID = nil, ""
	fw.unregistered = now
	_ = m.alloc.DeactivateFramework(alloc.FrameworkID(fwID))
	m.forgetFrameworkInverseLocked(fwID, false)
	timeout := time.Duration(fw.info.FailoverTimeout * float64(time.Second))
	fw.failoverAt = now.Add(timeout)
	m.log.Info("framework disconnected", "framework", fwID, "failover_timeout", timeout)
	if timeout <= 0 {
		m.removeFrameworkLocked(fw, now)
	}
}

func (m *Master) expireFrameworksLocked(now time.Time) {
	for _, fw := range m.frameworks {
		if fw.conn == nil && !fw.failoverAt.IsZero() && !now.Before(fw.failoverAt) {
			m.log.Info("framework failover timeout", "framework", fw.id)
			m.removeFrameworkLocked(fw, now)
		}
	}
}

// removeFrameworkLocked tears a framework down: its executors and tasks
// are shut down on every agent, its offers rescinded, its resources
// recovered, and it moves to the completed list.
func (m *Master) removeFrameworkLocked(fw *framework, now time.Time) {
	for _, ag := range m.agents {
		if ag.runsFramework(fw.id) {
			ag.send(&agentapi.Event{Type: agentapi.EventShutdownFramework,
				ShutdownFramework: &agentapi.FrameworkRef{FrameworkID: mesos.ID{Value: fw.id}}})
		}
		delete(ag.executors, fw.id)
	}
	for _, t := range fw.sortedTasks() {
		if !t.state.Terminal() {
			m.setStateLocked(t, mesos.TaskKilled, now)
			t.statuses = append(t.statuses, masterStatus(t.id, t.agent, mesos.TaskKilled, mesos.ReasonFrameworkRemoved, "Framework removed", now))
		}
		if ag := m.agents[t.agent]; ag != nil {
			delete(ag.tasks, taskKey{fw.id, t.id})
		}
		m.completeTaskLocked(fw, t)
	}
	for _, of := range fw.offers {
		m.forgetOfferLocked(of)
	}
	_ = m.alloc.RemoveFramework(alloc.FrameworkID(fw.id))
	m.forgetOperationsLocked(fw.id)
	m.forgetFrameworkInverseLocked(fw.id, true)
	if fw.conn != nil {
		fw.conn.Close()
		fw.conn = nil
	}
	fw.unregistered = now
	delete(m.frameworks, fw.id)
	m.completed = append(m.completed, fw)
	if len(m.completed) > m.cfg.MaxCompletedFrameworks {
		for _, t := range m.completed[0].completed {
			m.tasks.remove(t)
		}
		m.completed = m.completed[1:]
	}
	m.metrics.FrameworksRemoved++
}

// Call handles every scheduler call but SUBSCRIBE, from the stream
// streamID. It returns an error wrapping ErrBadRequest, ErrForbidden or
// ErrNotSupported; nil means 202 Accepted.
func (m *Master) Call(call *mesos.Call, streamID string, now time.Time) error {
	defer m.enter(now)()
	fw, err := m.authorizeLocked(call.FrameworkID.Val(), streamID)
	if err != nil {
		m.metrics.InvalidCalls++
		return err
	}
	switch call.Type {
	case mesos.CallTeardown:
		m.removeFrameworkLocked(fw, now)
	case mesos.CallAccept:
		return m.acceptLocked(fw, call.Accept, now)
	case mesos.CallDecline:
		return m.declineLocked(fw, call.Decline)
	case mesos.CallRevive:
		roles, err := fw.checkRoles(call.Revive, "revive")
		if err != nil {
			return err
		}
		return m.alloc.Revive(alloc.FrameworkID(fw.id), roles)
	case mesos.CallSuppress:
		roles, err := fw.checkRoles(call.Suppress, "suppress")
		if err != nil {
			return err
		}
		return m.alloc.Suppress(alloc.FrameworkID(fw.id), roles)
	case mesos.CallKill:
		m.killLocked(fw, call.Kill, now)
	case mesos.CallShutdown:
		ag := m.agents[call.Shutdown.AgentID.Value]
		if ag == nil {
			return badRequest("shutdown.agent_id: unknown agent %q", call.Shutdown.AgentID.Value)
		}
		ag.send(&agentapi.Event{Type: agentapi.EventShutdownExecutor, ShutdownExecutor: &agentapi.ExecutorRef{
			FrameworkID: mesos.ID{Value: fw.id}, ExecutorID: call.Shutdown.ExecutorID}})
	case mesos.CallAcknowledge:
		return m.acknowledgeLocked(fw, call.Acknowledge)
	case mesos.CallReconcile:
		m.reconcileLocked(fw, call.Reconcile, now)
	case mesos.CallAcknowledgeOpStatus:
		return m.acknowledgeOperationLocked(fw, call.AcknowledgeOperationStatus)
	case mesos.CallReconcileOperations:
		m.reconcileOperationsLocked(fw, call.ReconcileOperations)
	case mesos.CallMessage:
		ag := m.agents[call.Message.AgentID.Value]
		if ag == nil {
			return badRequest("message.agent_id: unknown agent %q", call.Message.AgentID.Value)
		}
		ag.send(&agentapi.Event{Type: agentapi.EventMessage, Message: &agentapi.Message{
			FrameworkID: mesos.ID{Value: fw.id}, ExecutorID: call.Message.ExecutorID, Data: call.Message.Data}})
	case mesos.CallRequest:
		// The hierarchical allocator ignores REQUEST; so do we.
	case mesos.CallUpdateFramework:
		return m.updateFrameworkLocked(fw, call.UpdateFramework)
	case mesos.CallAcceptInverseOffers:
		m.answerInverseOffersLocked(fw, call.AcceptInverseOffers, mesos.InverseOfferAccept, now)
	case mesos.CallDeclineInverseOffers:
		m.answerInverseOffersLocked(fw, call.DeclineInverseOffers, mesos.InverseOfferDecline, now)
	default:
		return fmt.Errorf("%w: call %s", ErrNotSupported, call.Type)
	}
	return nil
}

func (fw *framework) checkRoles(rl *mesos.RoleList, field string) ([]string, error) {
	if rl == nil {
		return nil, nil
	}
	for _, r := range rl.Roles {
		if !slices.Contains(fw.roles, r) {
			return nil, badRequest("%s.roles: %q is not one of the framework's roles", field, r)
		}
	}
	return rl.Roles, nil
}

func (m *Master) updateFrameworkLocked(fw *framework, u *mesos.Subscribe) error {
	fi := u.FrameworkInfo
	if id := fi.ID.Val(); id != "" && id != fw.id {
		return badRequest("update_framework.framework_info.id: %q is not the caller", id)
	}
	if fi.User != fw.info.User || fi.Checkpoint != fw.info.Checkpoint || fi.Principal != fw.info.Principal {
		return badRequest("update_framework.framework_info: user, checkpoint and principal cannot change")
	}
	roles := fi.EffectiveRoles()
	for _, r := range roles {
		if err := core.ValidateRole(r); err != nil {
			return badRequest("update_framework.framework_info.roles: %v", err)
		}
	}
	for _, r := range u.SuppressedRoles {
		if !slices.Contains(roles, r) {
			return badRequest("update_framework.suppressed_roles: %q is not one of the framework's roles", r)
		}
	}
	fi.ID = &mesos.ID{Value: fw.id}
	if err := m.alloc.UpdateFramework(allocInfo(fw.id, &fi, u.SuppressedRoles)); err != nil {
		return badRequest("update_framework: %v", err)
	}
	fw.info, fw.roles = fi, roles
	return nil
}

func (fw *framework) sortedTasks() []*task {
	ts := make([]*task, 0, len(fw.tasks))
	for _, t := range fw.tasks {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *task) int {
		if c := cmp.Compare(a.launched, b.launched); c != 0 {
			return c
		}
		if a.id < b.id {
			return -1
		}
		return 1
	})
	return ts
}

// completedTask finds a completed task by id, newest first (a linear
// search of at most MaxCompletedTasksPerFramework: only retries of
// updates about completed tasks need it).
func (fw *framework) completedTask(id string) *task {
	for i := len(fw.completed) - 1; i >= 0; i-- {
		if fw.completed[i].id == id {
			return fw.completed[i]
		}
	}
	return nil
}

// uncompleteTaskLocked forgets the completed record of task id on agent
// in state, if there is one.
func (m *Master) uncompleteTaskLocked(fw *framework, id, agent string, state mesos.TaskState) {
	fw.completed = slices.DeleteFunc(fw.completed, func(c *task) bool {
		if c.id == id && c.agent == agent && c.state == state {
			m.tasks.remove(c)
			return true
		}
		return false
	})
}

// Teardown is the operator's /master/teardown: remove a framework now.
func (m *Master) Teardown(fwID string, now time.Time) error {
	defer m.enter(now)()
	fw := m.frameworks[fwID]
	if fw == nil {
		return badRequest("no framework with id %q", fwID)
	}
	m.removeFrameworkLocked(fw, now)
	return nil
}
