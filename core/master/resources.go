package master

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// Dynamic reservations and persistent volumes.
//
// RESERVE, UNRESERVE, CREATE and DESTROY change an agent's resources in
// place (core.Conversion). Their result, the agent's checkpointed
// resources (its dynamic reservations and persistent volumes), is
// recorded in the registry under "resources/<agent id>" before anything
// else changes, so it survives a master failover; then the allocator and
// the master's agent record change, and the agent gets its whole new set
// in CHECKPOINT_RESOURCES, on its stream, ahead of any task launched on
// what the operation made.
//
// Whose set wins when an agent registers: the registry's record, when
// there is one that fits the agent's static resources (those its flags
// declare); the agent is then sent the record if its own set differs (it
// missed an operation while its stream was down, or restarted from an
// older checkpoint). Without a record (a new agent, or a master whose
// registry has none), the agent's own set is taken and recorded. So a
// master that knows nothing never tells an agent to drop its volumes:
// the agent deletes a volume's data only when told a set without it,
// and only a DESTROY makes such a set.
//
// An operation that names an id gets an UPDATE_OPERATION_STATUS.
// OPERATION_FINISHED carries a uuid: it is recorded in the registry
// ("operation/<framework id>/<operation id>") with the resources, sent
// again each time the framework subscribes, and forgotten when the
// framework acknowledges it (or is removed). Refused operations get
// OPERATION_ERROR without a uuid, as the master's own task updates carry
// none. RECONCILE_OPERATIONS answers with the recorded status, or with
// what the master can say of an operation it does not know.

// registry keys
const (
	resourcesKey  = "resources/"
	operationsKey = "operation/"
)

// operation is an operation status waiting for the framework's
// acknowledgement.
type operation struct {
	status mesos.OperationStatus
}

// recoverResourcesLocked loads the agents' checkpointed resources and the
// unacknowledged operation statuses the registry holds.
func (m *Master) recoverResourcesLocked(values map[string][]byte) error {
	for k, v := range values {
		switch {
		case strings.HasPrefix(k, resourcesKey):
			var rs core.Resources
			if err := json.Unmarshal(v, &rs); err != nil {
				return fmt.Errorf("master: registry value %s: %w", k, err)
			}
			m.resources[strings.TrimPrefix(k, resourcesKey)] = rs
		case strings.HasPrefix(k, operationsKey):
			fw, id, ok := strings.Cut(strings.TrimPrefix(k, operationsKey), "/")
			var s mesos.OperationStatus
			if err := json.Unmarshal(v, &s); err != nil || !ok {
				return fmt.Errorf("master: registry value %s does not decode: %v", k, err)
			}
			m.operationsOf(fw)[id] = &operation{status: s}
		}
	}
	return nil
}

func (m *Master) operationsOf(fw string) map[string]*operation {
	ops := m.operations[fw]
	if ops == nil {
		ops = map[string]*operation{}
		m.operations[fw] = ops
	}
	return ops
}

func resourcesOp(agent string, cp core.Resources) registry.Op {
	if cp == nil {
		cp = core.Resources{}
	}
	b, _ := json.Marshal(cp)
	return registry.Op{Kind: registry.SetValue, Key: resourcesKey + agent, Info: b}
}

// checkpointedLocked decides an agent's checkpointed resources at
// registration (see the comment at the top): cp, the registry op that
// records them when the registry has no record yet, and whether the
// agent must be sent them.
func (m *Master) checkpointedLocked(id string, static core.Resources, reported []core.Resource) (cp core.Resources, record *registry.Op, push bool) {
	theirs, err := core.NewResources(reported...)
	if err == nil {
		_, err = core.ApplyCheckpointed(static, theirs)
	}
	if err != nil {
		m.log.Error("agent reports checkpointed resources that do not fit its resources; ignoring them", "agent", id, "err", err)
		theirs = nil
	}
	if rec, ok := m.resources[id]; ok {
		if _, err := core.ApplyCheckpointed(static, rec); err == nil {
			return rec, nil, !rec.Equal(theirs)
		}
		m.log.Error("the registry's checkpointed resources for the agent do not fit its resources; taking the agent's",
			"agent", id, "recorded", rec.String(), "static", static.String())
		if theirs == nil {
			// Neither fits: offer only its static resources, tell it
			// nothing, and keep the record for an operator to look at.
			return nil, nil, false
		}
	}
	op := resourcesOp(id, theirs)
	return theirs, &op, false
}

// agentTotal is static with cp carved out of it (cp fits: see
// checkpointedLocked).
func agentTotal(static, cp core.Resources) core.Resources {
	total, err := core.ApplyCheckpointed(static, cp)
	if err != nil {
		return static
	}
	return total
}

// sendCheckpointed gives the agent its whole set of checkpointed
// resources.
func (ag *agent) sendCheckpointed(cp core.Resources) {
	if cp == nil {
		cp = core.Resources{}
	}
	ag.send(&agentapi.Event{Type: agentapi.EventCheckpointResources,
		CheckpointResources: &agentapi.CheckpointResources{Resources: cp}})
}

// volumeInUse reports whether a live task or executor on the agent uses
// the persistent volume with persistence id id.
func (ag *agent) volumeInUse(id string) bool {
	uses := func(rs core.Resources) bool { return slices.Contains(rs.PersistenceIDs(), id) }
	for _, t := range ag.tasks {
		if !t.state.Terminal() && uses(t.resources) {
			return true
		}
	}
	for _, exs := range ag.executors {
		for _, e := range exs {
			if uses(e.resources) {
				return true
			}
		}
	}
	return false
}

// conversionLocked checks an operation against the agent and returns its
// conversion. principal is the framework's (empty for an operator); role,
// the role the offers were allocated to ("" for an operator).
func (m *Master) conversionLocked(ag *agent, opType string, res core.Resources, principal, role string) (core.Conversion, error) {
	var c core.Conversion
	var err error
	switch opType {
	case mesos.OpReserve:
		if c, err = core.ReserveConversion(res, principal); err != nil {
			return c, err
		}
		for i := range res {
			if r := res[i].Role(); role != "" && r != role {
				return c, fmt.Errorf("reserve: %s is reserved for role %q, but the offers were made to role %q", res[i].Name, r, role)
			}
		}
	case mesos.OpUnreserve:
		c, err = core.UnreserveConversion(res)
	case mesos.OpCreate:
		if c, err = core.CreateConversion(res); err != nil {
			return c, err
		}
		have := ag.total.PersistenceIDs()
		for i := range res {
			p := res[i].Disk.Persistence
			if slices.Contains(have, p.ID) {
				return c, fmt.Errorf("create: persistence id %q is already used by a volume on agent %s", p.ID, ag.id)
			}
			if principal != "" && p.Principal != principal {
				return c, fmt.Errorf("create: volume %q has principal %q, not the framework's %q", p.ID, p.Principal, principal)
			}
		}
	case mesos.OpDestroy:
		if c, err = core.DestroyConversion(res); err != nil {
			return c, err
		}
		for _, id := range res.PersistenceIDs() {
			if ag.volumeInUse(id) {
				return c, fmt.Errorf("destroy: volume %q is in use by a task or executor on agent %s", id, ag.id)
			}
		}
	default:
		return c, fmt.Errorf("operation %s is not supported", opType)
	}
	return c, err
}

// applyConversionLocked records c on the agent in the registry (with
// extra ops in the same write), then applies it to the allocator (to
// fw's allocation for role, or to the agent's unallocated resources when
// fw is nil) and to the agent, and sends the agent its new set. On error
// nothing has changed.
func (m *Master) applyConversionLocked(ag *agent, c core.Conversion, fw *framework, role string, extra ...registry.Op) error {
	total, err := ag.total.Apply(c)
	if err != nil {
		return err
	}
	cp := total.Checkpointed()
	old, hadOld := m.resources[ag.id]
	if err := m.applyLocked(append([]registry.Op{resourcesOp(ag.id, cp)}, extra...)...); err != nil {
		return fmt.Errorf("master: registry: %w", err)
	}
	if fw != nil {
		err = m.alloc.UpdateAllocation(fw.allocID(), alloc.AgentID(ag.id), role, c.Consumed, c.Converted)
	} else {
		err = m.alloc.UpdateAgentTotal(alloc.AgentID(ag.id), total)
	}
	if err != nil {
		// The allocator disagrees with the master's view: put the
		// records back as they were.
		undo := []registry.Op{resourcesOp(ag.id, old)}
		if !hadOld {
			undo[0] = registry.Op{Kind: registry.DeleteValue, Key: resourcesKey + ag.id}
		}
		for _, e := range extra {
			undo = append(undo, registry.Op{Kind: registry.DeleteValue, Key: e.Key})
		}
		if uerr := m.applyLocked(undo...); uerr != nil {
			m.log.Error("registry: could not undo a refused operation's record", "agent", ag.id, "err", uerr)
		}
		return err
	}
	m.resources[ag.id] = cp
	ag.total = total
	ag.info.Resources = total
	ag.sendCheckpointed(cp)
	return nil
}

// offerOperationLocked runs one RESERVE, UNRESERVE, CREATE or DESTROY of
// an ACCEPT against left, what the offers still hold, and returns what
// they hold afterwards. A refused operation changes nothing; the
// framework hears of it only if the operation has an id.
func (m *Master) offerOperationLocked(fw *framework, ag *agent, role string, left core.Resources, op *mesos.Operation, now time.Time) core.Resources {
	var res core.Resources
	switch op.Type {
	case mesos.OpReserve:
		res = op.Reserve.Resources
	case mesos.OpUnreserve:
		res = op.Unreserve.Resources
	case mesos.OpCreate:
		res = op.Create.Volumes
	case mesos.OpDestroy:
		res = op.Destroy.Volumes
	}
	opID := op.ID.Val()
	c, err := m.validOperationLocked(fw, ag, op.Type, res, role, opID)
	if err == nil && op.Type == mesos.OpCreate && res.HasShared() && !fw.info.HasCapability(mesos.CapSharedResources) {
		// As in Mesos: the framework could never be offered the volume.
		err = fmt.Errorf("create: shared volumes need the %s capability", mesos.CapSharedResources)
	}
	if err == nil && !left.Contains(c.Consumed) {
		err = fmt.Errorf("%s: %v is not in what the offers have left (%v)", strings.ToLower(op.Type), c.Consumed, left)
	}
	var extra []registry.Op
	var status mesos.OperationStatus
	if err == nil && opID != "" {
		status = mesos.OperationStatus{OperationID: &mesos.ID{Value: opID}, State: mesos.OperationFinished,
			ConvertedResources: c.Converted, UUID: &mesos.UUID{Value: newUUID()}, AgentID: &mesos.ID{Value: ag.id}}
		b, _ := json.Marshal(&status)
		extra = append(extra, registry.Op{Kind: registry.SetValue, Key: operationsKey + fw.id + "/" + opID, Info: b})
	}
	if err == nil {
		err = m.applyConversionLocked(ag, c, fw, role, extra...)
	}
	if err != nil {
		m.metrics.OperationsRefused++
		m.log.Info("offer operation refused", "framework", fw.id, "agent", ag.id, "type", op.Type, "id", opID, "err", err)
		if opID != "" {
			fw.send(operationEvent(mesos.OperationStatus{OperationID: &mesos.ID{Value: opID}, State: mesos.OperationError,
				Message: err.Error(), AgentID: &mesos.ID{Value: ag.id}}))
		}
		return left
	}
	m.metrics.Operations++
	left, _ = left.Apply(c)
	if opID != "" {
		m.operationsOf(fw.id)[opID] = &operation{status: status}
		fw.send(operationEvent(status))
	}
	return left
}

// validOperationLocked is conversionLocked for a framework's operation,
// which may not reuse the id of one still waiting for acknowledgement.
func (m *Master) validOperationLocked(fw *framework, ag *agent, opType string, res core.Resources, role, opID string) (core.Conversion, error) {
	if opID != "" && m.operations[fw.id][opID] != nil {
		return core.Conversion{}, fmt.Errorf("operation id %q is already in use by an operation not yet acknowledged", opID)
	}
	res, err := core.NewResources(res...)
	if err != nil {
		return core.Conversion{}, err
	}
	return m.conversionLocked(ag, opType, res, fw.info.Principal, role)
}

func operationEvent(s mesos.OperationStatus) *mesos.Event {
	return &mesos.Event{Type: mesos.EventUpdateOperationStatus, UpdateOperationStatus: &mesos.UpdateOperationStatus{Status: s}}
}

// dropOperationsLocked answers the operations with ids of an ACCEPT whose
// offers were invalid.
func (m *Master) dropOperationsLocked(fw *framework, ops []mesos.Operation, msg string) {
	for i := range ops {
		if id := ops[i].ID.Val(); id != "" {
			fw.send(operationEvent(mesos.OperationStatus{OperationID: &mesos.ID{Value: id}, State: mesos.OperationDropped, Message: msg}))
		}
	}
}

// acknowledgeOperationLocked is ACKNOWLEDGE_OPERATION_STATUS. An
// acknowledgement of a status the master does not hold (acknowledged
// already, or another uuid) is ignored, as Mesos does.
func (m *Master) acknowledgeOperationLocked(fw *framework, a *mesos.AcknowledgeOperationStatus) error {
	op := m.operations[fw.id][a.OperationID.Value]
	if op == nil || op.status.UUID == nil || string(op.status.UUID.Value) != string(a.UUID) {
		return nil
	}
	if err := m.applyLocked(registry.Op{Kind: registry.DeleteValue, Key: operationsKey + fw.id + "/" + a.OperationID.Value}); err != nil {
		return fmt.Errorf("master: registry: %w", err)
	}
	delete(m.operations[fw.id], a.OperationID.Value)
	return nil
}

// reconcileOperationsLocked is RECONCILE_OPERATIONS: the recorded status
// of each operation named (all recorded ones when none is), and for one
// the master does not know, what it can tell from the agent named:
// recovering, unreachable, gone, or unknown.
func (m *Master) reconcileOperationsLocked(fw *framework, r *mesos.ReconcileOperations) {
	ops := m.operations[fw.id]
	if r == nil || len(r.Operations) == 0 {
		for _, id := range slices.Sorted(maps.Keys(ops)) {
			fw.send(operationEvent(ops[id].status))
		}
		return
	}
	for _, o := range r.Operations {
		if op := ops[o.OperationID.Value]; op != nil {
			fw.send(operationEvent(op.status))
			continue
		}
		s := mesos.OperationStatus{OperationID: &mesos.ID{Value: o.OperationID.Value}, State: mesos.OperationUnknown, AgentID: o.AgentID}
		switch agent := o.AgentID.Val(); {
		case agent == "":
		case m.isRecovering(agent):
			s.State = mesos.OperationRecovering
		case m.isUnreachable(agent):
			s.State = mesos.OperationUnreachable
		case m.isGone(agent):
			s.State = mesos.OperationGoneByOperator
		}
		fw.send(operationEvent(s))
	}
}

// resendOperationsLocked sends a framework that (re)subscribed every
// operation status it has not acknowledged.
func (m *Master) resendOperationsLocked(fw *framework) {
	ops := m.operations[fw.id]
	for _, id := range slices.Sorted(maps.Keys(ops)) {
		fw.send(operationEvent(ops[id].status))
	}
}

// forgetOperationsLocked drops a removed framework's operation statuses.
func (m *Master) forgetOperationsLocked(fw string) {
	ops := m.operations[fw]
	if len(ops) == 0 {
		delete(m.operations, fw)
		return
	}
	var del []registry.Op
	for id := range ops {
		del = append(del, registry.Op{Kind: registry.DeleteValue, Key: operationsKey + fw + "/" + id})
	}
	if err := m.applyLocked(del...); err != nil {
		m.log.Error("registry: could not forget a removed framework's operation statuses", "framework", fw, "err", err)
		return
	}
	delete(m.operations, fw)
}

// OperatorOperation is the operator's /master/reserve, /master/unreserve,
// /master/create-volumes and /master/destroy-volumes: opType (mesos.OpReserve
// ...) on the agent's unallocated resources. Resources offered to a
// framework count as unallocated: their offers are rescinded. It returns
// an error wrapping ErrBadRequest for an invalid request or an unknown
// agent, and ErrConflict when what it needs is in use.
func (m *Master) OperatorOperation(opType, agentID string, res core.Resources, now time.Time) error {
	defer m.enter(now)()
	ag := m.agents[agentID]
	if ag == nil {
		if m.isRecovering(agentID) {
			return fmt.Errorf("%w: agent %s has not re-registered with this master yet", ErrConflict, agentID)
		}
		return badRequest("no agent %q is registered", agentID)
	}
	res, err := core.NewResources(res...)
	if err != nil {
		return badRequest("%v", err)
	}
	c, err := m.conversionLocked(ag, opType, res, "", "")
	if err != nil {
		return badRequest("%v", err)
	}
	var used core.Resources
	for _, t := range ag.tasks {
		if !t.state.Terminal() {
			used = used.Add(t.resources)
		}
	}
	for _, exs := range ag.executors {
		for _, e := range exs {
			used = used.Add(e.resources)
		}
	}
	if free := ag.total.Sub(used); !free.Contains(c.Consumed) {
		if !ag.total.Contains(c.Consumed) {
			return badRequest("%v is not on agent %s (it has %v)", c.Consumed, agentID, ag.total)
		}
		return fmt.Errorf("%w: %v is in use on agent %s", ErrConflict, c.Consumed, agentID)
	}
	if err := m.applyConversionLocked(ag, c, nil, ""); err != nil {
		return err
	}
	m.metrics.Operations++
	return nil
}
