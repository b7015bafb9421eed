package mesos

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseAttributes parses the agent --attributes text form,
// `rack:r1;zone:z2;cores:8;slots:[1-4];os:{linux,x86}`: a number is a
// SCALAR, [a-b,c-d] RANGES, {a,b} a SET and anything else TEXT.
func ParseAttributes(text string) ([]Attribute, error) {
	var out []Attribute
	seen := map[string]bool{}
	for _, entry := range strings.Split(text, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("attribute %q: want name:value", entry)
		}
		if seen[name] {
			return nil, fmt.Errorf("attribute %q: given twice", name)
		}
		seen[name] = true
		a := Attribute{Name: name}
		switch {
		case strings.HasPrefix(value, "[") && strings.HasSuffix(value, "]"):
			a.Type = "RANGES"
			a.Ranges = &Ranges{}
			for _, part := range strings.Split(value[1:len(value)-1], ",") {
				lo, hi, ok := strings.Cut(strings.TrimSpace(part), "-")
				b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
				e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
				if !ok || err1 != nil || err2 != nil || b > e {
					return nil, fmt.Errorf("attribute %q: bad range %q", name, part)
				}
				a.Ranges.Range = append(a.Ranges.Range, Range{Begin: b, End: e})
			}
		case strings.HasPrefix(value, "{") && strings.HasSuffix(value, "}"):
			a.Type = "SET"
			a.Set = &Set{}
			for _, item := range strings.Split(value[1:len(value)-1], ",") {
				if item = strings.TrimSpace(item); item != "" {
					a.Set.Item = append(a.Set.Item, item)
				}
			}
		default:
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				a.Type = "SCALAR"
				a.Scalar = &Scalar{Value: f}
			} else {
				a.Type = "TEXT"
				a.Text = &Text{Value: value}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// String prints the attribute's value in the text form.
func (a *Attribute) String() string {
	switch {
	case a.Scalar != nil:
		return strconv.FormatFloat(a.Scalar.Value, 'f', -1, 64)
	case a.Ranges != nil:
		parts := make([]string, len(a.Ranges.Range))
		for i, r := range a.Ranges.Range {
			parts[i] = fmt.Sprintf("%d-%d", r.Begin, r.End)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case a.Set != nil:
		return "{" + strings.Join(a.Set.Item, ",") + "}"
	case a.Text != nil:
		return a.Text.Value
	}
	return ""
}
