package core

import (
	"slices"
	"strings"
)

// Quantity is an amount of one named scalar resource.
type Quantity struct {
	Name  string
	Value Value
}

// Quantities is a set of scalar amounts, sorted by name, without zero
// entries. It is what DRF shares and quota are computed over: where
// resources came from and how they are reserved does not matter here.
type Quantities []Quantity

// QuantitiesOf builds Quantities from name/value pairs.
func QuantitiesOf(pairs ...Quantity) Quantities {
	var q Quantities
	for _, p := range pairs {
		q = q.addOne(p.Name, p.Value)
	}
	return q
}

func (q Quantities) find(name string) (int, bool) {
	return slices.BinarySearchFunc(q, name, func(e Quantity, n string) int { return strings.Compare(e.Name, n) })
}

// addOne adds v of name into q, in place when q owns its storage.
func (q Quantities) addOne(name string, v Value) Quantities {
	if v == 0 {
		return q
	}
	i, ok := q.find(name)
	if ok {
		q[i].Value += v
		if q[i].Value == 0 {
			return slices.Delete(q, i, i+1)
		}
		return q
	}
	return slices.Insert(q, i, Quantity{name, v})
}

// Get returns the amount of name.
func (q Quantities) Get(name string) Value {
	if i, ok := q.find(name); ok {
		return q[i].Value
	}
	return 0
}

// Add returns q + o.
func (q Quantities) Add(o Quantities) Quantities {
	out := make(Quantities, 0, max(len(q), len(o)))
	i, j := 0, 0
	for i < len(q) || j < len(o) {
		switch {
		case j == len(o) || (i < len(q) && q[i].Name < o[j].Name):
			out = append(out, q[i])
			i++
		case i == len(q) || o[j].Name < q[i].Name:
			out = append(out, o[j])
			j++
		default:
			if v := q[i].Value + o[j].Value; v != 0 {
				out = append(out, Quantity{q[i].Name, v})
			}
			i++
			j++
		}
	}
	return out
}

// Sub returns q - o, with each amount stopping at zero.
func (q Quantities) Sub(o Quantities) Quantities {
	out := make(Quantities, 0, len(q))
	j := 0
	for _, e := range q {
		for j < len(o) && o[j].Name < e.Name {
			j++
		}
		if j < len(o) && o[j].Name == e.Name {
			e.Value -= o[j].Value
		}
		if e.Value > 0 {
			out = append(out, e)
		}
	}
	return out
}

// Contains reports whether q holds at least o of every name.
func (q Quantities) Contains(o Quantities) bool {
	i := 0
	for _, e := range o {
		for i < len(q) && q[i].Name < e.Name {
			i++
		}
		if i == len(q) || q[i].Name != e.Name || q[i].Value < e.Value {
			if e.Value > 0 {
				return false
			}
		}
	}
	return true
}

// Min returns, per name present in both, the smaller amount.
func (q Quantities) Min(o Quantities) Quantities {
	var out Quantities
	j := 0
	for _, e := range q {
		for j < len(o) && o[j].Name < e.Name {
			j++
		}
		if j < len(o) && o[j].Name == e.Name {
			if v := min(e.Value, o[j].Value); v > 0 {
				out = append(out, Quantity{e.Name, v})
			}
		}
	}
	return out
}

// IsEmpty reports whether q holds nothing.
func (q Quantities) IsEmpty() bool { return len(q) == 0 }

// String prints q in the text form: cpus:1.5;mem:128.
func (q Quantities) String() string {
	var b strings.Builder
	for i, e := range q {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(e.Name)
		b.WriteByte(':')
		b.WriteString(e.Value.String())
	}
	return b.String()
}

// Clone returns a copy of q.
func (q Quantities) Clone() Quantities { return slices.Clone(q) }
