package core

import "strings"

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

// String prints one resource in the text form.
func (r Resource) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if r.IsReserved() {
		b.WriteByte('(')
		b.WriteString(r.Role())
		b.WriteByte(')')
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
