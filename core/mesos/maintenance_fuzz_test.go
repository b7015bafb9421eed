package mesos

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzMaintenanceSchedule feeds /maintenance/schedule bodies to the
// decoder and the validator: no panic, and a schedule that passes both
// survives a round trip through JSON (the registry stores it so).
func FuzzMaintenanceSchedule(f *testing.F) {
	f.Add([]byte(`{"windows":[{"machine_ids":[{"hostname":"h","ip":"10.0.0.1"}],"unavailability":{"start":{"nanoseconds":1},"duration":{"nanoseconds":2}}}]}`))
	f.Add([]byte(`{"windows":[]}`))
	f.Add([]byte(`{"windows":[{"machine_ids":[{"hostname":"h"},{"hostname":"H"}],"unavailability":{"start":{"nanoseconds":1}}}]}`))
	f.Add([]byte(`{"windows":[{"machine_ids":[{"ip":"::1"}],"unavailability":{}}]}`))
	f.Add([]byte(`[{"hostname":"h","ip":"10.0.0.1"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s MaintenanceSchedule
		if err := Decode(data, &s); err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			return
		}
		b, err := json.Marshal(&s)
		if err != nil {
			t.Fatalf("a valid schedule does not encode: %v", err)
		}
		var back MaintenanceSchedule
		if err := Decode(b, &back); err != nil {
			t.Fatalf("%s does not decode: %v", b, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("%s no longer valid: %v", b, err)
		}
		if !reflect.DeepEqual(normal(s), normal(back)) {
			t.Fatalf("round trip changed the schedule: %+v -> %+v", s, back)
		}
		var ids []MachineID
		if Decode(data, &ids) == nil {
			_ = ValidateMachines(ids)
		}
	})
}

// normal makes empty and nil lists alike.
func normal(s MaintenanceSchedule) MaintenanceSchedule {
	if len(s.Windows) == 0 {
		s.Windows = nil
	}
	return s
}
