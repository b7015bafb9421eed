package master

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/datadriven"

	"meseta/core/mesos"
)

// The transcript harness's maintenance commands (see TestTranscripts).

// maintenance posts d.Input to the schedule (what=schedule) or as the
// machines to take down or bring up (what=down, up). "$now+DURATION" in
// the input is the harness's clock plus DURATION, in nanoseconds.
func (h *harness) maintenance(d *datadriven.TestData, what string) error {
	in := d.Input
	for {
		i := strings.Index(in, "$now+")
		if i < 0 {
			break
		}
		j := i + len("$now+")
		for j < len(in) && strings.ContainsRune("0123456789.hms", rune(in[j])) {
			j++
		}
		dur, err := time.ParseDuration(in[i+len("$now+") : j])
		if err != nil {
			return err
		}
		in = in[:i] + fmt.Sprint(h.now.Add(dur).UnixNano()) + in[j:]
	}
	in = h.expand(in)
	switch what {
	case "schedule":
		var s mesos.MaintenanceSchedule
		if err := mesos.Decode([]byte(in), &s); err != nil {
			return err
		}
		return h.m.SetMaintenanceSchedule(s, h.now)
	case "down", "up":
		var ids []mesos.MachineID
		if err := mesos.Decode([]byte(in), &ids); err != nil {
			return err
		}
		if what == "down" {
			return h.m.MachinesDown(ids, h.now)
		}
		return h.m.MachinesUp(ids, h.now)
	}
	return fmt.Errorf("maintenance %s: unknown", what)
}

func (h *harness) answerInverse(d *datadriven.TestData, fw, how string, labels []string) error {
	r := &mesos.InverseOfferResponse{Filters: h.filters(d)}
	for _, l := range labels {
		r.InverseOfferIDs = append(r.InverseOfferIDs, mesos.ID{Value: h.wireName(l)})
	}
	c := &mesos.Call{Type: mesos.CallAcceptInverseOffers, AcceptInverseOffers: r}
	if how == "decline" {
		c = &mesos.Call{Type: mesos.CallDeclineInverseOffers, DeclineInverseOffers: r}
	}
	return h.call(fw, c)
}

// unavailability prints u relative to the harness's clock.
func (h *harness) unavailability(u *mesos.Unavailability) string {
	out := fmt.Sprintf("unavailable@%+v", time.Duration(u.Start.Nanoseconds-h.now.UnixNano()))
	if u.Duration != nil {
		out += fmt.Sprintf("/%v", time.Duration(u.Duration.Nanoseconds))
	}
	return out
}

func (h *harness) describeInverse(ev *mesos.Event) string {
	if ev.Type == mesos.EventRescindInverseOffer {
		return "RESCIND_INVERSE_OFFER " + h.name(ev.RescindInverseOffer.InverseOfferID.Value)
	}
	var parts []string
	for _, io := range ev.InverseOffers.InverseOffers {
		h.inverse++
		label := fmt.Sprintf("i%d", h.inverse)
		h.names[io.ID.Value], h.ids[label] = label, io.ID.Value
		parts = append(parts, fmt.Sprintf("%s=%s %s", label, h.name(io.AgentID.Val()), h.unavailability(&io.Unavailability)))
	}
	return "INVERSE_OFFERS " + strings.Join(parts, " ")
}

// maintenanceStatus prints /maintenance/status, one machine a line.
func (h *harness) maintenanceStatus() string {
	st := h.m.MaintenanceStatus()
	var b strings.Builder
	for _, dm := range st.DrainingMachines {
		fmt.Fprintf(&b, "draining %s/%s", dm.ID.Hostname, dm.ID.IP)
		for _, s := range dm.Statuses {
			fmt.Fprintf(&b, " %s=%s", h.name(s.FrameworkID.Value), s.Status)
		}
		b.WriteString("\n")
	}
	for _, id := range st.DownMachines {
		fmt.Fprintf(&b, "down %s/%s\n", id.Hostname, id.IP)
	}
	return b.String()
}

// checkMaintenance compares the master's maintenance state with the
// registry's record: the same schedule, the same machines down, every
// machine's agents registered and on it, and every outstanding inverse
// offer indexed both ways.
func (h *harness) checkMaintenance() error {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	var rec maintenanceRecord
	if b, ok := h.reg.State().Values[maintenanceKey]; ok {
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
	}
	got, _ := json.Marshal(m.maint.schedule)
	want, _ := json.Marshal(rec.Schedule)
	if string(got) != string(want) {
		return fmt.Errorf("maintenance schedule %s, registry %s", got, want)
	}
	var down, recDown []string
	for _, key := range m.sortedMachines() {
		mc := m.maint.machines[key]
		if mc.down {
			down = append(down, key.String())
			if len(mc.agents) > 0 {
				return fmt.Errorf("machine %s is down with agents %v", key, sortedKeys(mc.agents))
			}
		}
		for id, ag := range mc.agents {
			if m.agents[id] != ag || ag.machine != mc {
				return fmt.Errorf("machine %s lists agent %s, which is not registered on it", key, id)
			}
		}
	}
	for _, id := range rec.Down {
		recDown = append(recDown, id.Key().String())
	}
	slices.Sort(down)
	slices.Sort(recDown)
	if !slices.Equal(down, recDown) {
		return fmt.Errorf("machines down %v, registry %v", down, recDown)
	}
	for id, ag := range m.agents {
		if mc := ag.machine; mc != nil && mc.agents[id] != ag {
			return fmt.Errorf("agent %s is on a machine that does not list it", id)
		}
	}
	if len(m.maint.byID) != len(m.maint.outstanding) {
		return fmt.Errorf("%d inverse offers by id, %d outstanding", len(m.maint.byID), len(m.maint.outstanding))
	}
	for k, io := range m.maint.outstanding {
		if m.maint.byID[io.id] != io || io.key != k {
			return fmt.Errorf("inverse offer %s is not indexed", io.id)
		}
	}
	return nil
}
