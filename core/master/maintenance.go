package master

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// Maintenance follows Mesos's maintenance primitives. The operator posts
// a schedule of windows, each a set of machines and an unavailability;
// every machine in it is draining at once. Offers from the agents on a
// draining machine carry the unavailability, and each framework running
// tasks or executors there gets an inverse offer for the agent, which it
// answers with ACCEPT_INVERSE_OFFERS or DECLINE_INVERSE_OFFERS; the
// answer is only information for the operator (/maintenance/status).
// /machine/down takes draining machines down: their agents are told to
// shut down and removed, and no agent on them may register until
// /machine/up, which also takes the machines out of the schedule.
//
// An agent is on a machine when its hostname (without case) and the host
// of its endpoint both equal the machine id's, as in Mesos: a field the
// operator leaves out is the empty string.
//
// Durability: the schedule and the set of down machines are one registry
// value (maintenanceKey), written before anything changes. Inverse
// offers, their filters and the frameworks' answers are soft state: a new
// leader sends the inverse offers again.

// maintenanceKey is the registry value holding the maintenance record.
const maintenanceKey = "maintenance"

// maintenanceRecord is the registry's maintenance value.
type maintenanceRecord struct {
	Schedule mesos.MaintenanceSchedule `json:"schedule"`
	Down     []mesos.MachineID         `json:"down,omitempty"`
}

// machine is a machine in the schedule: draining, or down. Machines
// that are up are not kept.
type machine struct {
	id             mesos.MachineID // as the operator wrote it
	down           bool
	unavailability mesos.Unavailability
	agents         map[string]*agent                   // registered agents on it
	statuses       map[string]mesos.InverseOfferStatus // frameworks' last answers
}

func newMachine(id mesos.MachineID, u mesos.Unavailability) *machine {
	return &machine{id: id, unavailability: u, agents: map[string]*agent{}, statuses: map[string]mesos.InverseOfferStatus{}}
}

type inverseKey struct{ agent, framework string }

// inverseOffer is an outstanding inverse offer.
type inverseOffer struct {
	id  string
	key inverseKey
}

// maintenance is the master's maintenance state, guarded by Master.mu.
type maintenance struct {
	schedule    mesos.MaintenanceSchedule    // as posted
	machines    map[mesos.MachineID]*machine // by MachineID.Key()
	outstanding map[inverseKey]*inverseOffer
	byID        map[string]*inverseOffer
	// filters holds when a framework that answered an inverse offer for
	// an agent may get the next one.
	filters map[inverseKey]time.Time
	next    uint64 // the last inverse offer number given
}

func newMaintenance() maintenance {
	return maintenance{
		machines:    map[mesos.MachineID]*machine{},
		outstanding: map[inverseKey]*inverseOffer{},
		byID:        map[string]*inverseOffer{},
		filters:     map[inverseKey]time.Time{},
	}
}

// machineOf returns the key of the machine an agent with this hostname
// and endpoint is on.
func machineOf(hostname, endpoint string) mesos.MachineID {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		host = endpoint
	}
	return mesos.MachineID{Hostname: hostname, IP: host}.Key()
}

// MaintenanceSchedule returns the schedule last posted (GET
// /maintenance/schedule).
func (m *Master) MaintenanceSchedule() mesos.MaintenanceSchedule {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.maint.schedule
	if s.Windows == nil {
		s.Windows = []mesos.MaintenanceWindow{}
	}
	return s
}

// SetMaintenanceSchedule replaces the schedule (POST
// /maintenance/schedule). Machines new to it start draining; machines
// left out are up again; a machine that is down must stay in it. An
// invalid schedule is a bad request and changes nothing.
func (m *Master) SetMaintenanceSchedule(s mesos.MaintenanceSchedule, now time.Time) error {
	defer m.enter(now)()
	if err := s.Validate(); err != nil {
		return badRequest("%v", err)
	}
	windows := map[mesos.MachineID]bool{} // by key
	for _, w := range s.Windows {
		for _, id := range w.MachineIDs {
			windows[id.Key()] = true
		}
	}
	for _, key := range m.sortedMachines() {
		if mc := m.maint.machines[key]; mc.down {
			if !windows[key] {
				return badRequest("machine %s is down and cannot be removed from the schedule; bring it up with /machine/up", mc.id)
			}
		}
	}
	if err := m.writeMaintenanceLocked(s, nil); err != nil {
		return err
	}
	m.maint.schedule = s
	// Machines left out are up again.
	for _, key := range m.sortedMachines() {
		if !windows[key] {
			mc := m.maint.machines[key]
			delete(m.maint.machines, key)
			for _, id := range sortedKeys(mc.agents) {
				ag := mc.agents[id]
				ag.machine = nil
				m.refreshAgentOffersLocked(ag)
				m.dropInverseFiltersLocked(onAgent(id))
			}
		}
	}
	// Machines new to the schedule, or with a new unavailability.
	var added map[mesos.MachineID]*machine
	for _, w := range s.Windows {
		for _, id := range w.MachineIDs {
			key := id.Key()
			mc := m.maint.machines[key]
			if mc == nil {
				mc = newMachine(id, *w.Unavailability)
				m.maint.machines[key] = mc
				if added == nil {
					added = map[mesos.MachineID]*machine{}
				}
				added[key] = mc
				continue
			}
			mc.id = id
			if !sameUnavailability(mc.unavailability, *w.Unavailability) {
				// As in Mesos, frameworks must think again: their
				// answers and filters go.
				mc.unavailability = *w.Unavailability
				mc.statuses = map[string]mesos.InverseOfferStatus{}
				for _, aid := range sortedKeys(mc.agents) {
					m.refreshAgentOffersLocked(mc.agents[aid])
					m.dropInverseFiltersLocked(onAgent(aid))
				}
			}
		}
	}
	if added != nil {
		for _, id := range sortedKeys(m.agents) {
			ag := m.agents[id]
			if mc := added[machineOf(ag.info.Hostname, ag.endpoint)]; mc != nil {
				ag.machine = mc
				mc.agents[id] = ag
				m.refreshAgentOffersLocked(ag)
			}
		}
	}
	m.log.Info("maintenance schedule updated", "windows", len(s.Windows), "machines", len(m.maint.machines))
	m.inverseOffersLocked(now)
	return nil
}

// MachinesDown starts maintenance on draining machines (POST
// /machine/down): their agents are told to shut down and removed, their
// tasks lost.
func (m *Master) MachinesDown(ids []mesos.MachineID, now time.Time) error {
	defer m.enter(now)()
	if err := mesos.ValidateMachines(ids); err != nil {
		return badRequest("%v", err)
	}
	for _, id := range ids {
		mc := m.maint.machines[id.Key()]
		if mc == nil {
			return badRequest("machine %s is not part of a maintenance schedule", id)
		}
		if mc.down {
			return badRequest("machine %s is not in DRAINING mode and cannot be brought down", id)
		}
	}
	downs := map[mesos.MachineID]bool{}
	for _, id := range ids {
		downs[id.Key()] = true
	}
	if err := m.writeMaintenanceLocked(m.maint.schedule, downs); err != nil {
		return err
	}
	var failed error
	for _, id := range ids {
		mc := m.maint.machines[id.Key()]
		mc.down = true
		mc.statuses = map[string]mesos.InverseOfferStatus{}
		for _, aid := range sortedKeys(mc.agents) {
			ag := mc.agents[aid]
			ag.send(&agentapi.Event{Type: agentapi.EventShutdown, Shutdown: &agentapi.Shutdown{
				Message: "Operator initiated 'Machine DOWN'"}})
			if err := m.removeAgentLocked(ag, now, "Operator initiated 'Machine DOWN'"); err != nil {
				// The machine is down and the agent told so; it is
				// refused when it registers again, and removed as
				// unreachable if it stays away.
				failed = errors.Join(failed, err)
			}
		}
		m.log.Info("machine down", "machine", mc.id.String())
	}
	return failed
}

// MachinesUp ends maintenance on machines that are down (POST
// /machine/up): they leave the schedule, and their agents may register
// again.
func (m *Master) MachinesUp(ids []mesos.MachineID, now time.Time) error {
	defer m.enter(now)()
	if err := mesos.ValidateMachines(ids); err != nil {
		return badRequest("%v", err)
	}
	ups := map[mesos.MachineID]bool{}
	for _, id := range ids {
		mc := m.maint.machines[id.Key()]
		if mc == nil {
			return badRequest("machine %s is not part of a maintenance schedule", id)
		}
		if !mc.down {
			return badRequest("machine %s is not in DOWN mode and cannot be brought up", id)
		}
		ups[id.Key()] = true
	}
	var s mesos.MaintenanceSchedule
	for _, w := range m.maint.schedule.Windows {
		w.MachineIDs = slices.DeleteFunc(slices.Clone(w.MachineIDs), func(id mesos.MachineID) bool { return ups[id.Key()] })
		if len(w.MachineIDs) > 0 {
			s.Windows = append(s.Windows, w)
		}
	}
	if err := m.writeMaintenanceLocked(s, nil); err != nil {
		return err
	}
	m.maint.schedule = s
	for _, id := range ids {
		mc := m.maint.machines[id.Key()]
		for _, aid := range sortedKeys(mc.agents) {
			// Only an agent MachinesDown failed to remove is still here.
			ag := mc.agents[aid]
			ag.machine = nil
			m.refreshAgentOffersLocked(ag)
		}
		delete(m.maint.machines, id.Key())
		m.log.Info("machine up", "machine", mc.id.String())
	}
	return nil
}

// writeMaintenanceLocked records schedule s, with its machines that are
// down now or in alsoDown (by key) as down.
func (m *Master) writeMaintenanceLocked(s mesos.MaintenanceSchedule, alsoDown map[mesos.MachineID]bool) error {
	rec := maintenanceRecord{Schedule: s}
	for _, w := range s.Windows {
		for _, id := range w.MachineIDs {
			key := id.Key()
			if mc := m.maint.machines[key]; (mc != nil && mc.down) || alsoDown[key] {
				rec.Down = append(rec.Down, id)
			}
		}
	}
	b, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("master: maintenance record: %w", err)
	}
	if err := m.applyLocked(registry.Op{Kind: registry.SetValue, Key: maintenanceKey, Info: b}); err != nil {
		return fmt.Errorf("master: registry: %w", err)
	}
	return nil
}

// recoverMaintenanceLocked loads the registry's maintenance record; agents
// join their machines as they re-register.
func (m *Master) recoverMaintenanceLocked(values map[string][]byte) error {
	b, ok := values[maintenanceKey]
	if !ok {
		return nil
	}
	var rec maintenanceRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("master: registry value %q: %w", maintenanceKey, err)
	}
	if err := rec.Schedule.Validate(); err != nil {
		return fmt.Errorf("master: registry value %q: %w", maintenanceKey, err)
	}
	m.maint.schedule = rec.Schedule
	for _, w := range rec.Schedule.Windows {
		for _, id := range w.MachineIDs {
			m.maint.machines[id.Key()] = newMachine(id, *w.Unavailability)
		}
	}
	for _, id := range rec.Down {
		if mc := m.maint.machines[id.Key()]; mc != nil {
			mc.down = true
		}
	}
	if len(m.maint.machines) > 0 {
		m.log.Info("maintenance schedule recovered", "machines", len(m.maint.machines), "down", len(rec.Down))
	}
	return nil
}

// machineDownLocked returns the machine an agent with this hostname and
// endpoint is on, and whether that machine is down.
func (m *Master) machineDownLocked(hostname, endpoint string) (mesos.MachineID, bool) {
	if len(m.maint.machines) == 0 {
		return mesos.MachineID{}, false
	}
	key := machineOf(hostname, endpoint)
	mc := m.maint.machines[key]
	return key, mc != nil && mc.down
}

// joinMachineLocked puts a (re-)registered agent on its machine, if that
// machine is in the schedule.
func (m *Master) joinMachineLocked(ag *agent) {
	var mc *machine
	if len(m.maint.machines) > 0 {
		mc = m.maint.machines[machineOf(ag.info.Hostname, ag.endpoint)]
	}
	if ag.machine == mc {
		return
	}
	m.leaveMachineLocked(ag)
	if mc != nil {
		ag.machine = mc
		mc.agents[ag.id] = ag
	}
}

// leaveMachineLocked takes an agent that is going away off its machine,
// rescinding the inverse offers for it.
func (m *Master) leaveMachineLocked(ag *agent) {
	if ag.machine == nil {
		return
	}
	delete(ag.machine.agents, ag.id)
	ag.machine = nil
	m.rescindInverseOffersLocked(onAgent(ag.id), true)
	m.dropInverseFiltersLocked(onAgent(ag.id))
}

// dropInverseFiltersLocked forgets the inverse offer filters match
// selects.
func (m *Master) dropInverseFiltersLocked(match func(inverseKey) bool) {
	for k := range m.maint.filters {
		if match(k) {
			delete(m.maint.filters, k)
		}
	}
}

func onAgent(id string) func(inverseKey) bool {
	return func(k inverseKey) bool { return k.agent == id }
}

// refreshAgentOffersLocked rescinds an agent's offers and inverse offers
// after its unavailability changed: the allocator offers the resources
// again, and makeOfferLocked marks the new offers.
func (m *Master) refreshAgentOffersLocked(ag *agent) {
	for _, id := range sortedKeys(ag.offers) {
		m.rescindOfferLocked(ag.offers[id], true)
		_ = m.alloc.Decline(id, 0)
	}
	m.rescindInverseOffersLocked(onAgent(ag.id), true)
}

// rescindInverseOffersLocked drops the outstanding inverse offers match
// selects, telling their frameworks when tell is set.
func (m *Master) rescindInverseOffersLocked(match func(inverseKey) bool, tell bool) {
	if len(m.maint.outstanding) == 0 {
		return
	}
	var drop []*inverseOffer
	for k, io := range m.maint.outstanding {
		if match(k) {
			drop = append(drop, io)
		}
	}
	slices.SortFunc(drop, func(a, b *inverseOffer) int { return strings.Compare(a.id, b.id) })
	for _, io := range drop {
		delete(m.maint.outstanding, io.key)
		delete(m.maint.byID, io.id)
		if fw := m.frameworks[io.key.framework]; tell && fw != nil {
			fw.send(&mesos.Event{Type: mesos.EventRescindInverseOffer,
				RescindInverseOffer: &mesos.RescindInverseOffer{InverseOfferID: mesos.ID{Value: io.id}}})
		}
	}
}

// forgetFrameworkInverseLocked drops a framework's outstanding inverse
// offers when its stream ends (it gets them again when it subscribes),
// and everything about it when it is removed.
func (m *Master) forgetFrameworkInverseLocked(fw string, removed bool) {
	ofFramework := func(k inverseKey) bool { return k.framework == fw }
	m.rescindInverseOffersLocked(ofFramework, false)
	if !removed {
		return
	}
	m.dropInverseFiltersLocked(ofFramework)
	for _, mc := range m.maint.machines {
		delete(mc.statuses, fw)
	}
}

// inverseOffersLocked sends an inverse offer to every connected framework
// running something on an agent of a draining machine, unless one is
// outstanding or the framework answered the last one within its filter.
// It runs when the schedule changes, when a framework subscribes, and at
// every Housekeep.
func (m *Master) inverseOffersLocked(now time.Time) {
	if len(m.maint.machines) == 0 {
		return
	}
	var order []*framework
	byFW := map[*framework][]mesos.InverseOffer{}
	for _, key := range m.sortedMachines() {
		mc := m.maint.machines[key]
		if mc.down || len(mc.agents) == 0 {
			continue
		}
		for _, aid := range sortedKeys(mc.agents) {
			ag := mc.agents[aid]
			for _, fid := range ag.frameworksRunning() {
				fw := m.frameworks[fid]
				k := inverseKey{agent: ag.id, framework: fid}
				if fw == nil || !fw.connected() || m.maint.outstanding[k] != nil {
					continue
				}
				if until, ok := m.maint.filters[k]; ok {
					if now.Before(until) {
						continue
					}
					delete(m.maint.filters, k)
				}
				m.maint.next++
				io := &inverseOffer{id: fmt.Sprintf("%s-I%d", m.cfg.Info.ID, m.maint.next), key: k}
				m.maint.outstanding[k] = io
				m.maint.byID[io.id] = io
				if _, ok := byFW[fw]; !ok {
					order = append(order, fw)
				}
				byFW[fw] = append(byFW[fw], mesos.InverseOffer{
					ID: mesos.ID{Value: io.id}, URL: ag.url(), FrameworkID: mesos.ID{Value: fid},
					AgentID: &mesos.ID{Value: ag.id}, Unavailability: mc.unavailability,
				})
			}
		}
	}
	for _, fw := range order {
		fw.send(&mesos.Event{Type: mesos.EventInverseOffers, InverseOffers: &mesos.InverseOffers{InverseOffers: byFW[fw]}})
	}
}

// answerInverseOffersLocked handles ACCEPT_INVERSE_OFFERS and
// DECLINE_INVERSE_OFFERS: the answer is recorded for the operator and the
// framework gets no inverse offer for the agent for the filter's
// refuse_seconds (default 5). Ids that are not outstanding for the
// framework (rescinded, answered already) are ignored, as in Mesos.
func (m *Master) answerInverseOffersLocked(fw *framework, r *mesos.InverseOfferResponse, status string, now time.Time) {
	for _, id := range r.InverseOfferIDs {
		io := m.maint.byID[id.Value]
		if io == nil || io.key.framework != fw.id {
			m.log.Debug("ignoring an answer to an inverse offer that is not outstanding", "framework", fw.id, "inverse_offer", id.Value)
			continue
		}
		delete(m.maint.outstanding, io.key)
		delete(m.maint.byID, io.id)
		m.maint.filters[io.key] = now.Add(refuse(r.Filters))
		if ag := m.agents[io.key.agent]; ag != nil && ag.machine != nil {
			ag.machine.statuses[fw.id] = mesos.InverseOfferStatus{Status: status, FrameworkID: mesos.ID{Value: fw.id},
				Timestamp: mesos.TimeInfo{Nanoseconds: now.UnixNano()}}
		}
	}
}

// MaintenanceStatus returns the machines in the schedule (GET
// /maintenance/status): draining ones with the frameworks' answers, and
// down ones.
func (m *Master) MaintenanceStatus() mesos.MaintenanceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := mesos.MaintenanceStatus{DrainingMachines: []mesos.DrainingMachine{}, DownMachines: []mesos.MachineID{}}
	for _, key := range m.sortedMachines() {
		mc := m.maint.machines[key]
		if mc.down {
			st.DownMachines = append(st.DownMachines, mc.id)
			continue
		}
		dm := mesos.DrainingMachine{ID: mc.id}
		for _, fid := range sortedKeys(mc.statuses) {
			dm.Statuses = append(dm.Statuses, mc.statuses[fid])
		}
		st.DrainingMachines = append(st.DrainingMachines, dm)
	}
	return st
}

func (m *Master) sortedMachines() []mesos.MachineID {
	return slices.SortedFunc(maps.Keys(m.maint.machines), func(a, b mesos.MachineID) int {
		if c := strings.Compare(a.Hostname, b.Hostname); c != 0 {
			return c
		}
		return strings.Compare(a.IP, b.IP)
	})
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

func sameUnavailability(a, b mesos.Unavailability) bool {
	if a.Start != b.Start || (a.Duration == nil) != (b.Duration == nil) {
		return false
	}
	return a.Duration == nil || *a.Duration == *b.Duration
}

// frameworksRunning returns, sorted, the frameworks with a live task or
// an executor on the agent.
func (ag *agent) frameworksRunning() []string {
	set := map[string]bool{}
	for fid, exs := range ag.executors {
		if len(exs) > 0 {
			set[fid] = true
		}
	}
	for k, t := range ag.tasks {
		if !t.state.Terminal() {
			set[k.framework] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
