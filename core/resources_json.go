package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// The Mesos v1 JSON form of a Resource (mesos.proto, message Resource).
// Unknown fields (allocation_info, provider_id, ...) are ignored, as
// Mesos clients send them.
type resourceJSON struct {
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Scalar       *scalarJSON       `json:"scalar,omitempty"`
	Ranges       *rangesJSON       `json:"ranges,omitempty"`
	Set          *setJSON          `json:"set,omitempty"`
	Role         string            `json:"role,omitempty"`        // pre-refinement form
	Reservation  *reservationJSON  `json:"reservation,omitempty"` // pre-refinement form
	Reservations []reservationJSON `json:"reservations,omitempty"`
	Disk         *diskJSON         `json:"disk,omitempty"`
	Revocable    *struct{}         `json:"revocable,omitempty"`
	Shared       *struct{}         `json:"shared,omitempty"`
}

type scalarJSON struct {
	Value *float64 `json:"value"`
}

type rangeJSON struct {
	Begin *uint64 `json:"begin"`
	End   *uint64 `json:"end"`
}

type rangesJSON struct {
	Range []rangeJSON `json:"range"`
}

type setJSON struct {
	Item []string `json:"item"`
}

type labelJSON struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

type labelsJSON struct {
	Labels []labelJSON `json:"labels"`
}

type reservationJSON struct {
	Type      string      `json:"type,omitempty"`
	Role      string      `json:"role,omitempty"`
	Principal string      `json:"principal,omitempty"`
	Labels    *labelsJSON `json:"labels,omitempty"`
}

type diskJSON struct {
	Persistence *struct {
		ID        string `json:"id"`
		Principal string `json:"principal,omitempty"`
	} `json:"persistence,omitempty"`
	Volume *struct {
		ContainerPath string `json:"container_path"`
		Mode          string `json:"mode"`
	} `json:"volume,omitempty"`
}

// MarshalJSON encodes r as a Mesos v1 Resource object.
func (r Resource) MarshalJSON() ([]byte, error) {
	j := resourceJSON{Name: r.Name, Type: r.Type.String()}
	switch r.Type {
	case Scalar:
		v := r.Scalar.Float()
		j.Scalar = &scalarJSON{Value: &v}
	case RangesType:
		j.Ranges = &rangesJSON{Range: []rangeJSON{}}
		for _, rg := range r.Ranges {
			j.Ranges.Range = append(j.Ranges.Range, rangeJSON{Begin: &rg.Begin, End: &rg.End})
		}
	case SetType:
		j.Set = &setJSON{Item: append([]string{}, r.Set...)}
	}
	for _, res := range r.Reservations {
		rj := reservationJSON{Type: res.Type.String(), Role: res.Role, Principal: res.Principal}
		if len(res.Labels) > 0 {
			rj.Labels = &labelsJSON{}
			for _, l := range res.Labels {
				rj.Labels.Labels = append(rj.Labels.Labels, labelJSON(l))
			}
		}
		j.Reservations = append(j.Reservations, rj)
	}
	if d := r.Disk; d != nil {
		j.Disk = &diskJSON{}
		if p := d.Persistence; p != nil {
			j.Disk.Persistence = &struct {
				ID        string `json:"id"`
				Principal string `json:"principal,omitempty"`
			}{p.ID, p.Principal}
		}
		if v := d.Volume; v != nil {
			j.Disk.Volume = &struct {
				ContainerPath string `json:"container_path"`
				Mode          string `json:"mode"`
			}{v.ContainerPath, v.Mode.String()}
		}
	}
	if r.Revocable {
		j.Revocable = &struct{}{}
	}
	if r.Shared {
		j.Shared = &struct{}{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a Mesos v1 Resource object, old (role and
// reservation) and new (reservations) reservation forms alike. It checks
// the shape; Validate checks the values.
func (r *Resource) UnmarshalJSON(data []byte) error {
	var j resourceJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResource, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadResource, j.Name, fmt.Sprintf(format, args...))
	}
	out := Resource{Name: j.Name}
	t, err := ParseValueType(j.Type)
	if err != nil || t == Text {
		return bad("type %q is not SCALAR, RANGES or SET", j.Type)
	}
	out.Type = t
	if (j.Scalar != nil) != (t == Scalar) || (j.Ranges != nil) != (t == RangesType) || (j.Set != nil) != (t == SetType) {
		return bad("type %s needs exactly the %q field", t, map[ValueType]string{Scalar: "scalar", RangesType: "ranges", SetType: "set"}[t])
	}
	switch t {
	case Scalar:
		if j.Scalar.Value == nil {
			return bad("scalar.value is missing")
		}
		f := *j.Scalar.Value
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("scalar.value is not finite")
		}
		v, err := ValueOf(f)
		if err != nil {
			return bad("scalar.value: %v", err)
		}
		out.Scalar = v
	case RangesType:
		var in []Range
		for i, rg := range j.Ranges.Range {
			if rg.Begin == nil || rg.End == nil {
				return bad("ranges.range[%d] needs begin and end", i)
			}
			in = append(in, Range{*rg.Begin, *rg.End})
		}
		rs, err := NewRanges(in)
		if err != nil {
			return bad("ranges: %v", err)
		}
		out.Ranges = rs
	case SetType:
		s, err := NewSet(j.Set.Item)
		if err != nil {
			return bad("set: %v", err)
		}
		out.Set = s
	}
	if j.Role != "" && j.Role != DefaultRole {
		if len(j.Reservations) > 0 {
			return bad("both the legacy role %q and reservations are set", j.Role)
		}
		res := Reservation{Type: Static, Role: j.Role}
		if j.Reservation != nil {
			res.Type, res.Principal = Dynamic, j.Reservation.Principal
			res.Labels = labelsOf(j.Reservation.Labels)
		}
		out.Reservations = []Reservation{res}
	}
	for i, rj := range j.Reservations {
		res := Reservation{Role: rj.Role, Principal: rj.Principal, Labels: labelsOf(rj.Labels)}
		switch rj.Type {
		case "STATIC":
			res.Type = Static
		case "DYNAMIC":
			res.Type = Dynamic
		default:
			return bad("reservations[%d].type %q is not STATIC or DYNAMIC", i, rj.Type)
		}
		out.Reservations = append(out.Reservations, res)
	}
	if d := j.Disk; d != nil {
		out.Disk = &DiskInfo{}
		if p := d.Persistence; p != nil {
			out.Disk.Persistence = &Persistence{ID: p.ID, Principal: p.Principal}
		}
		if v := d.Volume; v != nil {
			mode := map[string]VolumeMode{"RW": RW, "RO": RO}[v.Mode]
			if mode == 0 {
				return bad("disk.volume.mode %q is not RW or RO", v.Mode)
			}
			out.Disk.Volume = &Volume{ContainerPath: v.ContainerPath, Mode: mode}
		}
		if out.Disk.Persistence == nil && out.Disk.Volume == nil {
			out.Disk = nil
		}
	}
	out.Revocable, out.Shared = j.Revocable != nil, j.Shared != nil
	*r = out
	return nil
}

func labelsOf(l *labelsJSON) []Label {
	if l == nil {
		return nil
	}
	var out []Label
	for _, x := range l.Labels {
		out = append(out, Label(x))
	}
	return out
}

// ParseResourcesJSON parses a JSON array of Mesos v1 Resource objects into
// validated, normalized Resources.
func ParseResourcesJSON(data []byte) (Resources, error) {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil, nil // what encoding/json makes of an empty list
	}
	if len(data) == 0 || data[0] != '[' {
		return nil, fmt.Errorf("%w: want a JSON array of resources", ErrBadResource)
	}
	var list []Resource
	if err := json.Unmarshal(data, &list); err != nil {
		if errors.Is(err, ErrBadResource) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrBadResource, err)
	}
	return NewResources(list...)
}
