package core

import "meseta/core/jsonwire"

// The fast path of the resource JSON codec (see package jsonwire): the
// wire codecs of core/mesos and core/agentapi write and read resources
// with these instead of Resource.MarshalJSON and Resource.UnmarshalJSON,
// which go through encoding/json's reflection twice per resource.

// AppendResourceJSON appends r exactly as r.MarshalJSON encodes it.
func AppendResourceJSON(dst []byte, r Resource) []byte {
	dst = append(dst, '{')
	dst = AppendResourceFields(dst, r)
	return append(dst, '}')
}

// AppendResourceFields appends the members of r's JSON object, without
// its braces, preceded by a comma unless dst ends an opening brace; it
// lets OfferResources put allocation_info and the legacy role first.
func AppendResourceFields(dst []byte, r Resource) []byte {
	dst = jsonwire.Key(dst, "name")
	dst = jsonwire.String(dst, r.Name)
	dst = jsonwire.Key(dst, "type")
	dst = jsonwire.String(dst, r.Type.String())
	switch r.Type {
	case Scalar:
		dst = append(dst, `,"scalar":{"value":`...)
		dst = jsonwire.Float(dst, r.Scalar.Float())
		dst = append(dst, '}')
	case RangesType:
		dst = append(dst, `,"ranges":{"range":[`...)
		for i, rg := range r.Ranges {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"begin":`...)
			dst = jsonwire.Uint(dst, rg.Begin)
			dst = append(dst, `,"end":`...)
			dst = jsonwire.Uint(dst, rg.End)
			dst = append(dst, '}')
		}
		dst = append(dst, "]}"...)
	case SetType:
		dst = append(dst, `,"set":{"item":[`...)
		for i, s := range r.Set {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonwire.String(dst, s)
		}
		dst = append(dst, "]}"...)
	}
	for i := range r.Reservations {
		res := &r.Reservations[i]
		if i == 0 {
			dst = append(dst, `,"reservations":[`...)
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":`...)
		dst = jsonwire.String(dst, res.Type.String())
		if res.Role != "" {
			dst = append(dst, `,"role":`...)
			dst = jsonwire.String(dst, res.Role)
		}
		if res.Principal != "" {
			dst = append(dst, `,"principal":`...)
			dst = jsonwire.String(dst, res.Principal)
		}
		if len(res.Labels) > 0 {
			dst = append(dst, `,"labels":{"labels":[`...)
			for j, l := range res.Labels {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"key":`...)
				dst = jsonwire.String(dst, l.Key)
				if l.Value != "" {
					dst = append(dst, `,"value":`...)
					dst = jsonwire.String(dst, l.Value)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, "]}"...)
		}
		dst = append(dst, '}')
		if i == len(r.Reservations)-1 {
			dst = append(dst, ']')
		}
	}
	if d := r.Disk; d != nil {
		dst = append(dst, `,"disk":{`...)
		if p := d.Persistence; p != nil {
			dst = append(dst, `"persistence":{"id":`...)
			dst = jsonwire.String(dst, p.ID)
			if p.Principal != "" {
				dst = append(dst, `,"principal":`...)
				dst = jsonwire.String(dst, p.Principal)
			}
			dst = append(dst, '}')
		}
		if v := d.Volume; v != nil {
			dst = jsonwire.Key(dst, "volume")
			dst = append(dst, `{"container_path":`...)
			dst = jsonwire.String(dst, v.ContainerPath)
			dst = append(dst, `,"mode":`...)
			dst = jsonwire.String(dst, v.Mode.String())
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	if r.Revocable {
		dst = append(dst, `,"revocable":{}`...)
	}
	if r.Shared {
		dst = append(dst, `,"shared":{}`...)
	}
	return dst
}

// Bits of the members ReadResourceJSON has read, to refuse repeats.
const (
	resName = 1 << iota
	resType
	resScalar
	resRanges
	resSet
	resRole
	resReservations
	resAllocationInfo
	resRevocable
	resShared
)

// ReadResourcesJSON reads a JSON array of resources as encoding/json
// decodes a Resources (each element by Resource.UnmarshalJSON, no
// normalization): [] is an empty, non-nil list.
func ReadResourcesJSON(r *jsonwire.Reader) Resources {
	rs := Resources{}
	it := r.Array()
	for r.Elem(&it) {
		rs = append(rs, Resource{})
		ReadResourceJSON(r, &rs[len(rs)-1])
	}
	return rs
}

// ReadResourceJSON reads one resource object into out as
// Resource.UnmarshalJSON would. It takes name, type, scalar, ranges, set,
// the legacy role (without reservation), reservations, revocable and
// shared, and skips allocation_info ({"role": ...}), which the slow path
// ignores as an unknown member. Anything else (disk, an unknown or
// repeated member, a value UnmarshalJSON refuses) fails r.
func ReadResourceJSON(r *jsonwire.Reader, out *Resource) {
	var (
		seen                uint32
		name, typ, role     string
		scalar              float64
		hasScalar, hasValue bool
		hasRanges, hasSet   bool
		ranges              []Range
		items               []string
		reservations        []Reservation
		nReservations       int
		revocable, shared   bool
		bad                 bool
	)
	once := func(bit uint32) {
		if seen&bit != 0 {
			r.Fail()
		}
		seen |= bit
	}
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "name":
			once(resName)
			name = readResourceName(r)
		case "type":
			once(resType)
			typ = readResourceName(r)
		case "scalar":
			once(resScalar)
			hasScalar = true
			sit := r.Object()
			for k, ok := r.Field(&sit); ok; k, ok = r.Field(&sit) {
				if string(k) != "value" || hasValue {
					r.Fail()
				}
				hasValue = true
				scalar = r.Float()
			}
		case "ranges":
			once(resRanges)
			hasRanges = true
			rit := r.Object()
			seenRange := false
			for k, ok := r.Field(&rit); ok; k, ok = r.Field(&rit) {
				if string(k) != "range" || seenRange {
					r.Fail()
				}
				seenRange = true
				ait := r.Array()
				for r.Elem(&ait) {
					ranges = append(ranges, readRangeJSON(r))
				}
			}
		case "set":
			once(resSet)
			hasSet = true
			sit := r.Object()
			seenItem := false
			for k, ok := r.Field(&sit); ok; k, ok = r.Field(&sit) {
				if string(k) != "item" || seenItem {
					r.Fail()
				}
				seenItem = true
				items = []string{}
				ait := r.Array()
				for r.Elem(&ait) {
					items = append(items, r.String())
				}
			}
		case "role":
			once(resRole)
			role = readResourceName(r)
		case "reservations":
			once(resReservations)
			ait := r.Array()
			for r.Elem(&ait) {
				nReservations++
				res, ok := readReservationJSON(r)
				if !ok {
					bad = true
				}
				reservations = append(reservations, res)
			}
		case "allocation_info":
			once(resAllocationInfo)
			ait := r.Object()
			seenRole := false
			for k, ok := r.Field(&ait); ok; k, ok = r.Field(&ait) {
				if string(k) != "role" || seenRole {
					r.Fail()
				}
				seenRole = true
				r.RawString()
			}
		case "revocable":
			once(resRevocable)
			revocable = true
			readEmptyObject(r)
		case "shared":
			once(resShared)
			shared = true
			readEmptyObject(r)
		default:
			r.Fail()
		}
	}
	if r.Err() != nil {
		return
	}
	// From here on, the checks of Resource.UnmarshalJSON, in its order;
	// where it returns an error the slow path must report it.
	t, err := ParseValueType(typ)
	if bad || err != nil || t == Text ||
		hasScalar != (t == Scalar) || hasRanges != (t == RangesType) || hasSet != (t == SetType) {
		r.Fail()
		return
	}
	res := Resource{Name: name, Type: t}
	switch t {
	case Scalar:
		if !hasValue {
			r.Fail()
			return
		}
		if res.Scalar, err = ValueOf(scalar); err != nil {
			r.Fail()
			return
		}
	case RangesType:
		if res.Ranges, err = NewRanges(ranges); err != nil {
			r.Fail()
			return
		}
	case SetType:
		if res.Set, err = NewSet(items); err != nil {
			r.Fail()
			return
		}
	}
	if role != "" && role != DefaultRole {
		if nReservations > 0 {
			r.Fail()
			return
		}
		res.Reservations = []Reservation{{Type: Static, Role: role}}
	}
	res.Reservations = append(res.Reservations, reservations...)
	res.Revocable, res.Shared = revocable, shared
	*out = res
}

// readResourceName reads a string, returning the constant for the
// common resource names, value types and "*" rather than allocating.
func readResourceName(r *jsonwire.Reader) string {
	b := r.RawString()
	switch string(b) {
	case CPUs:
		return CPUs
	case Mem:
		return Mem
	case Disk:
		return Disk
	case GPUs:
		return GPUs
	case Ports:
		return Ports
	case DefaultRole:
		return DefaultRole
	case "SCALAR":
		return "SCALAR"
	case "RANGES":
		return "RANGES"
	case "SET":
		return "SET"
	}
	return string(b)
}

func readRangeJSON(r *jsonwire.Reader) Range {
	var rg Range
	var seen uint8
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		var bit uint8
		switch string(k) {
		case "begin":
			bit = 1
			rg.Begin = r.Uint(64)
		case "end":
			bit = 2
			rg.End = r.Uint(64)
		default:
			r.Fail()
		}
		if seen&bit != 0 {
			r.Fail()
		}
		seen |= bit
	}
	if seen != 3 {
		r.Fail() // UnmarshalJSON: "needs begin and end"
	}
	return rg
}

// readReservationJSON reads one element of reservations; ok is false for
// a type other than STATIC or DYNAMIC, which UnmarshalJSON refuses.
func readReservationJSON(r *jsonwire.Reader) (res Reservation, ok bool) {
	var seen uint8
	var typ string
	it := r.Object()
	for k, more := r.Field(&it); more; k, more = r.Field(&it) {
		var bit uint8
		switch string(k) {
		case "type":
			bit = 1
			typ = r.String()
		case "role":
			bit = 2
			res.Role = r.String()
		case "principal":
			bit = 4
			res.Principal = r.String()
		case "labels":
			bit = 8
			res.Labels = readLabelsJSON(r)
		default:
			r.Fail()
		}
		if seen&bit != 0 {
			r.Fail()
		}
		seen |= bit
	}
	switch typ {
	case "STATIC":
		res.Type = Static
	case "DYNAMIC":
		res.Type = Dynamic
	default:
		return res, false
	}
	return res, true
}

// readLabelsJSON reads {"labels": [...]} as labelsOf converts it: nil
// when there are none.
func readLabelsJSON(r *jsonwire.Reader) []Label {
	var out []Label
	seenLabels := false
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "labels" || seenLabels {
			r.Fail()
		}
		seenLabels = true
		ait := r.Array()
		for r.Elem(&ait) {
			var l Label
			var seen uint8
			lit := r.Object()
			for k, ok := r.Field(&lit); ok; k, ok = r.Field(&lit) {
				var bit uint8
				switch string(k) {
				case "key":
					bit = 1
					l.Key = r.String()
				case "value":
					bit = 2
					l.Value = r.String()
				default:
					r.Fail()
				}
				if seen&bit != 0 {
					r.Fail()
				}
				seen |= bit
			}
			out = append(out, l)
		}
	}
	return out
}

// readEmptyObject reads {}; a member fails (encoding/json would ignore
// it, but no client sends one).
func readEmptyObject(r *jsonwire.Reader) {
	it := r.Object()
	if _, ok := r.Field(&it); ok {
		r.Fail()
	}
}
