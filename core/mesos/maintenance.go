package mesos

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"meseta/core"
)

// MachineID names a machine, as mesos.proto's MachineID: an agent is on
// the machine whose hostname (compared without case) and ip both equal
// its own; a field left out is the empty string.
type MachineID struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
}

// Key returns the form two machine ids compare in: the hostname in
// lower case.
func (id MachineID) Key() MachineID {
	return MachineID{Hostname: strings.ToLower(id.Hostname), IP: id.IP}
}

// String is the id in the operator's JSON, for error messages.
func (id MachineID) String() string {
	return fmt.Sprintf(`{"hostname":%q,"ip":%q}`, id.Hostname, id.IP)
}

// Validate checks one machine id as Mesos does: at least one of hostname
// and ip, and an ip that is an IPv4 address.
func (id MachineID) Validate() error {
	if id.Hostname == "" && id.IP == "" {
		return fmt.Errorf("machine %s: both 'hostname' and 'ip' are empty", id)
	}
	if id.IP != "" {
		a, err := netip.ParseAddr(id.IP)
		if err != nil || !a.Is4() {
			return fmt.Errorf("machine %s: 'ip' is not an IPv4 address", id)
		}
	}
	return nil
}

// Unavailability is a planned interval during which a machine may be
// down (mesos.proto Unavailability). No duration means indefinitely.
type Unavailability struct {
	Start    TimeInfo      `json:"start"`
	Duration *DurationInfo `json:"duration,omitempty"`
}

// UnmarshalJSON decodes an unavailability, which must have a start.
func (u *Unavailability) UnmarshalJSON(b []byte) error {
	var raw struct {
		Start    *TimeInfo     `json:"start"`
		Duration *DurationInfo `json:"duration"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Start == nil {
		return fmt.Errorf("unavailability: 'start' is required")
	}
	u.Start, u.Duration = *raw.Start, raw.Duration
	return nil
}

// InverseOffer asks a framework to give back what it runs on an agent
// before an unavailability (mesos.proto InverseOffer). meseta sends them
// for maintenance only, with no resources: everything on the agent.
type InverseOffer struct {
	ID             ID             `json:"id"`
	URL            *URL           `json:"url,omitempty"`
	FrameworkID    ID             `json:"framework_id"`
	AgentID        *ID            `json:"agent_id,omitempty"`
	Unavailability Unavailability `json:"unavailability"`
	Resources      core.Resources `json:"resources,omitempty"`
}

// InverseOffers is INVERSE_OFFERS's body.
type InverseOffers struct {
	InverseOffers []InverseOffer `json:"inverse_offers"`
}

// RescindInverseOffer is RESCIND_INVERSE_OFFER's body.
type RescindInverseOffer struct {
	InverseOfferID ID `json:"inverse_offer_id"`
}

// InverseOfferResponse is ACCEPT_INVERSE_OFFERS's and
// DECLINE_INVERSE_OFFERS's body.
type InverseOfferResponse struct {
	InverseOfferIDs []ID     `json:"inverse_offer_ids"`
	Filters         *Filters `json:"filters,omitempty"`
}

// MaintenanceWindow is a set of machines and their unavailability
// (maintenance.proto Window).
type MaintenanceWindow struct {
	MachineIDs     []MachineID     `json:"machine_ids"`
	Unavailability *Unavailability `json:"unavailability"` // required
}

// MaintenanceSchedule is the cluster's maintenance schedule
// (maintenance.proto Schedule), the body of /maintenance/schedule.
type MaintenanceSchedule struct {
	Windows []MaintenanceWindow `json:"windows"`
}

// Validate checks a schedule as Mesos does, except for its rule about
// machines that are down, which needs the master's state: every window
// has machines and a start, no negative duration, every machine id is
// valid, and no machine appears twice.
func (s *MaintenanceSchedule) Validate() error {
	seen := map[MachineID]bool{}
	for i, w := range s.Windows {
		if len(w.MachineIDs) == 0 {
			return fmt.Errorf("windows[%d].machine_ids: the list of machines is empty", i)
		}
		if w.Unavailability == nil {
			return fmt.Errorf("windows[%d].unavailability: required", i)
		}
		if d := w.Unavailability.Duration; d != nil && d.Nanoseconds < 0 {
			return fmt.Errorf("windows[%d].unavailability.duration: negative", i)
		}
		for j, id := range w.MachineIDs {
			if err := id.Validate(); err != nil {
				return fmt.Errorf("windows[%d].machine_ids[%d]: %w", i, j, err)
			}
			if seen[id.Key()] {
				return fmt.Errorf("windows[%d].machine_ids[%d]: machine %s appears more than once in the schedule", i, j, id)
			}
			seen[id.Key()] = true
		}
	}
	return nil
}

// ValidateMachines checks the body of /machine/down and /machine/up: not
// empty, every id valid, none twice.
func ValidateMachines(ids []MachineID) error {
	if len(ids) == 0 {
		return fmt.Errorf("the list of machines is empty")
	}
	seen := map[MachineID]bool{}
	for i, id := range ids {
		if err := id.Validate(); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
		if seen[id.Key()] {
			return fmt.Errorf("[%d]: machine %s appears more than once", i, id)
		}
		seen[id.Key()] = true
	}
	return nil
}

// Inverse offer responses (allocator.proto InverseOfferStatus.Status;
// its UNKNOWN is never recorded).
const (
	InverseOfferAccept  = "ACCEPT"
	InverseOfferDecline = "DECLINE"
)

// InverseOfferStatus is a framework's last answer to an inverse offer
// for a machine (allocator.proto InverseOfferStatus).
type InverseOfferStatus struct {
	Status      string   `json:"status"`
	FrameworkID ID       `json:"framework_id"`
	Timestamp   TimeInfo `json:"timestamp"`
}

// DrainingMachine is a machine in its maintenance window, with the
// answers of the frameworks that were asked to leave it.
type DrainingMachine struct {
	ID       MachineID            `json:"id"`
	Statuses []InverseOfferStatus `json:"statuses,omitempty"`
}

// MaintenanceStatus is /maintenance/status (maintenance.proto
// ClusterStatus).
type MaintenanceStatus struct {
	DrainingMachines []DrainingMachine `json:"draining_machines,omitempty"`
	DownMachines     []MachineID       `json:"down_machines,omitempty"`
}
