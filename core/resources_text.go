package core

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseResources parses the Mesos --resources text form:
// `name(role):value` entries separated by ';', where a value is a decimal
// scalar, ranges `[a-b, c-d]` or a set `{a,b}`. A role in parentheses is a
// static reservation (`*` means unreserved). Text that starts with '[' is
// taken as a JSON array of Resource objects instead, as Mesos flags allow.
// The result is validated and normalized; errors name the offending entry.
func ParseResources(text string) (Resources, error) {
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "[") {
		return ParseResourcesJSON([]byte(t))
	}
	var list []Resource
	for entry := range strings.SplitSeq(text, ";") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		r, err := parseEntry(entry)
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return NewResources(list...)
}

// MustParseResources is ParseResources for constants and tests: it panics
// on bad input.
func MustParseResources(text string) Resources {
	r, err := ParseResources(text)
	if err != nil {
		panic(err)
	}
	return r
}

func parseEntry(entry string) (Resource, error) {
	bad := func(format string, args ...any) (Resource, error) {
		return Resource{}, fmt.Errorf("%w: %q: %s", ErrBadResource, strings.TrimSpace(entry), fmt.Sprintf(format, args...))
	}
	head, value, ok := strings.Cut(entry, ":")
	if !ok {
		return bad("missing ':' between name and value")
	}
	head, value = strings.TrimSpace(head), strings.TrimSpace(value)
	var r Resource
	name, role := head, ""
	if i := strings.IndexByte(head, '('); i >= 0 {
		if !strings.HasSuffix(head, ")") {
			return bad("unclosed '(' in %q", head)
		}
		name, role = strings.TrimSpace(head[:i]), strings.TrimSpace(head[i+1:len(head)-1])
		if err := ValidateRole(role); err != nil {
			return bad("%v", err)
		}
	}
	if name == "" {
		return bad("empty name")
	}
	if strings.ContainsAny(name, "(){}[],") {
		return bad("bad name %q", name)
	}
	r.Name = name
	if role != "" && role != DefaultRole {
		r.Reservations = []Reservation{{Type: Static, Role: role}}
	}
	switch {
	case value == "":
		return bad("empty value")
	case value[0] == '[':
		if !strings.HasSuffix(value, "]") {
			return bad("unclosed '['")
		}
		r.Type = RangesType
		var in []Range
		for part := range strings.SplitSeq(value[1:len(value)-1], ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			lo, hi, ok := strings.Cut(part, "-")
			if !ok {
				return bad("range %q is not begin-end", part)
			}
			b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
			e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
			if err1 != nil || err2 != nil {
				return bad("range %q is not two non-negative integers", part)
			}
			in = append(in, Range{b, e})
		}
		rs, err := NewRanges(in)
		if err != nil {
			return bad("%v", err)
		}
		r.Ranges = rs
	case value[0] == '{':
		if !strings.HasSuffix(value, "}") {
			return bad("unclosed '{'")
		}
		r.Type = SetType
		var items []string
		for item := range strings.SplitSeq(value[1:len(value)-1], ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		set, err := NewSet(items)
		if err != nil {
			return bad("%v", err)
		}
		r.Set = set
	default:
		v, err := parseScalar(value)
		if err != nil {
			return bad("%v", err)
		}
		r.Type, r.Scalar = Scalar, v
	}
	return r, nil
}

// parseScalar parses a decimal scalar; NaN, infinities, negative and huge
// values are errors.
func parseScalar(s string) (Value, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if asNumErr(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%w: value %q is out of range", ErrBadScalar, s)
		}
		return 0, fmt.Errorf("%w: %q is not a number", ErrBadScalar, s)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: %q is not a finite number", ErrBadScalar, s)
	}
	return ValueOf(f)
}

func asNumErr(err error, target **strconv.NumError) bool {
	ne, ok := err.(*strconv.NumError)
	if ok {
		*target = ne
	}
	return ok
}

// ParseQuantities parses scalar quantities such as `cpus:1;mem:32` (no
// roles). Ranges and sets may be given as a plain member count.
func ParseQuantities(text string) (Quantities, error) {
	var q Quantities
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(text, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: quantity %q is not name:value", ErrBadResource, entry)
		}
		if strings.ContainsAny(name, "(){}[],") {
			return nil, fmt.Errorf("%w: quantity %q: bad name", ErrBadResource, entry)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: quantity %q given twice", ErrBadResource, name)
		}
		seen[name] = true
		v, err := parseScalar(value)
		if err != nil {
			return nil, fmt.Errorf("quantity %q: %w", entry, err)
		}
		q = q.addOne(name, v)
	}
	return q, nil
}

// ParseMinAllocatable parses Mesos's --min_allocatable_resources form:
// alternatives separated by '|', each a set of quantities (`cpus:0.01|mem:32`).
func ParseMinAllocatable(text string) ([]Quantities, error) {
	var out []Quantities
	for alt := range strings.SplitSeq(text, "|") {
		q, err := ParseQuantities(alt)
		if err != nil {
			return nil, err
		}
		if q.IsEmpty() {
			return nil, fmt.Errorf("%w: min_allocatable alternative %q is empty", ErrBadResource, alt)
		}
		out = append(out, q)
	}
	return out, nil
}

// String prints rs in the Mesos text form, e.g.
// cpus:24;mem:4096;disk(eng):100;ports:[31000-32000].
func (rs Resources) String() string {
	var b strings.Builder
	for i := range rs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(rs[i].String())
	}
	return b.String()
}

// String prints one resource in the text form. What the text form cannot
// say is annotated: a dynamic or refined reservation prints its whole stack
// as `(reservations: [(STATIC,eng),(DYNAMIC,eng/ml,alice)])`, a persistent
// volume `[id:path]`, and the markers `{REV}` and `<SHARED>`.
func (r Resource) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	switch {
	case len(r.Reservations) == 1 && r.Reservations[0].Type == Static:
		b.WriteString("(" + r.Reservations[0].Role + ")")
	case len(r.Reservations) > 0:
		b.WriteString("(reservations: [")
		for i, res := range r.Reservations {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(" + res.Type.String() + "," + res.Role)
			if res.Principal != "" {
				b.WriteString("," + res.Principal)
			}
			b.WriteByte(')')
		}
		b.WriteString("])")
	}
	if r.IsPersistentVolume() {
		path := ""
		if r.Disk.Volume != nil { // an invalid volume may still be printed in an error
			path = r.Disk.Volume.ContainerPath
		}
		b.WriteString("[" + r.Disk.Persistence.ID + ":" + path + "]")
	}
	if r.Revocable {
		b.WriteString("{REV}")
	}
	if r.Shared {
		b.WriteString("<SHARED>")
	}
	b.WriteByte(':')
	switch r.Type {
	case Scalar:
		b.WriteString(r.Scalar.String())
	case RangesType:
		b.WriteString(r.Ranges.String())
	case SetType:
		b.WriteString(r.Set.String())
	}
	return b.String()
}
