package core

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Value is a fixed-point scalar with three decimals: the value 1.5 is stored
// as 1500. Mesos keeps three decimals of precision for scalar resources; doing
// the same with integers makes addition and subtraction exact.
type Value int64

// ValueScale is the number of Value units in 1.0.
const ValueScale = 1000

// MaxValue is the largest scalar accepted from outside: large enough for
// any real cluster (about 9.2e12 units of anything) and small enough that
// summing a million of them cannot overflow an int64.
const MaxValue = Value(math.MaxInt64 / (1 << 20))

// ErrBadScalar is returned for scalars that are negative, NaN, infinite or
// too large.
var ErrBadScalar = errors.New("core: bad scalar")

// ValueOf converts a float to a Value, rounding to three decimals. It rejects
// NaN, infinities, negative numbers and numbers above MaxValue.
func ValueOf(f float64) (Value, error) {
	switch {
	case math.IsNaN(f):
		return 0, fmt.Errorf("%w: NaN", ErrBadScalar)
	case math.IsInf(f, 0):
		return 0, fmt.Errorf("%w: infinite", ErrBadScalar)
	case f < 0:
		return 0, fmt.Errorf("%w: negative value %v", ErrBadScalar, f)
	case f > float64(MaxValue)/ValueScale:
		return 0, fmt.Errorf("%w: value %v is too large", ErrBadScalar, f)
	}
	return Value(math.Round(f * ValueScale)), nil
}

// Units returns a Value of n whole units.
func Units(n int64) Value { return Value(n * ValueScale) }

// Float returns v as a float64.
func (v Value) Float() float64 { return float64(v) / ValueScale }

// String prints v with at most three decimals and no trailing zeros.
func (v Value) String() string {
	neg := v < 0
	if neg {
		v = -v
	}
	whole, frac := int64(v)/ValueScale, int64(v)%ValueScale
	s := strconv.FormatInt(whole, 10)
	if frac != 0 {
		f := fmt.Sprintf("%03d", frac)
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ValueType is the kind of value a resource holds. The names follow Mesos's
// Value.Type enum.
type ValueType uint8

// The value types. TEXT exists in Mesos only for attributes.
const (
	Scalar ValueType = iota
	RangesType
	SetType
	Text
)

var valueTypeNames = [...]string{"SCALAR", "RANGES", "SET", "TEXT"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", t)
}

// ParseValueType parses the Mesos enum name of a value type.
func ParseValueType(s string) (ValueType, error) {
	for i, n := range valueTypeNames {
		if n == s {
			return ValueType(i), nil
		}
	}
	return 0, fmt.Errorf("core: unknown value type %q", s)
}

// Range is an inclusive interval [Begin, End] of non-negative integers, as
// used for ports.
type Range struct {
	Begin, End uint64
}

// Len is the number of integers in r.
func (r Range) Len() uint64 { return r.End - r.Begin + 1 }

// Ranges is a set of integers kept as sorted, disjoint, non-adjacent
// intervals. Invariant: for consecutive a, b: a.End+1 < b.Begin, and every
// Begin <= End. Functions in this package never alias their inputs' backing
// arrays in their results.
type Ranges []Range

// ErrBadRanges is returned for inverted or overlapping intervals.
var ErrBadRanges = errors.New("core: bad ranges")

// NewRanges validates intervals given in any order and returns them
// normalized. Inverted intervals and intervals that overlap one another are
// errors; adjacent ones are merged.
func NewRanges(in []Range) (Ranges, error) {
	for _, r := range in {
		if r.Begin > r.End {
			return nil, fmt.Errorf("%w: inverted range [%d-%d]", ErrBadRanges, r.Begin, r.End)
		}
	}
	rs := slices.Clone(in)
	slices.SortFunc(rs, func(a, b Range) int {
		switch {
		case a.Begin < b.Begin:
			return -1
		case a.Begin > b.Begin:
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if r.Begin <= last.End {
				return nil, fmt.Errorf("%w: [%d-%d] overlaps [%d-%d]", ErrBadRanges, r.Begin, r.End, last.Begin, last.End)
			}
			if last.End != math.MaxUint64 && r.Begin == last.End+1 {
				last.End = r.End
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Count is the number of integers in rs.
func (rs Ranges) Count() uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// Union returns rs ∪ o.
func (rs Ranges) Union(o Ranges) Ranges {
	if len(o) == 0 {
		return slices.Clone(rs)
	}
	if len(rs) == 0 {
		return slices.Clone(o)
	}
	out := make(Ranges, 0, len(rs)+len(o))
	i, j := 0, 0
	push := func(r Range) {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.End == math.MaxUint64 || r.Begin <= last.End+1 {
				if r.End > last.End {
					last.End = r.End
				}
				return
			}
		}
		out = append(out, r)
	}
	for i < len(rs) || j < len(o) {
		if j == len(o) || (i < len(rs) && rs[i].Begin <= o[j].Begin) {
			push(rs[i])
			i++
		} else {
			push(o[j])
			j++
		}
	}
	return out
}

// Difference returns rs \ o.
func (rs Ranges) Difference(o Ranges) Ranges {
	out := make(Ranges, 0, len(rs)+1)
	j := 0
	for _, r := range rs {
		cur := r
		alive := true
		for j < len(o) && o[j].End < cur.Begin {
			j++
		}
		for k := j; alive && k < len(o) && o[k].Begin <= cur.End; k++ {
			s := o[k]
			if s.Begin > cur.Begin {
				out = append(out, Range{cur.Begin, s.Begin - 1})
			}
			if s.End >= cur.End {
				alive = false
			} else {
				cur.Begin = s.End + 1
			}
		}
		if alive {
			out = append(out, cur)
		}
	}
	return out
}

// Contains reports whether o ⊆ rs.
func (rs Ranges) Contains(o Ranges) bool {
	i := 0
	for _, r := range o {
		for i < len(rs) && rs[i].End < r.Begin {
			i++
		}
		if i == len(rs) || rs[i].Begin > r.Begin || rs[i].End < r.End {
			return false
		}
	}
	return true
}

// String prints rs in the Mesos text form: [31000-32000, 33000-33000].
func (rs Ranges) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(r.Begin, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(r.End, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// Set is a sorted set of distinct strings. Invariant: strictly increasing.
type Set []string

// NewSet returns the items as a normalized set; duplicates are an error.
func NewSet(items []string) (Set, error) {
	s := slices.Clone(items)
	slices.Sort(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return nil, fmt.Errorf("core: duplicate set item %q", s[i])
		}
	}
	return s, nil
}

// Union returns s ∪ o.
func (s Set) Union(o Set) Set {
	out := make(Set, 0, len(s)+len(o))
	i, j := 0, 0
	for i < len(s) || j < len(o) {
		switch {
		case j == len(o) || (i < len(s) && s[i] < o[j]):
			out = append(out, s[i])
			i++
		case i == len(s) || o[j] < s[i]:
			out = append(out, o[j])
			j++
		default:
			out = append(out, s[i])
			i++
			j++
		}
	}
	return out
}

// Difference returns s \ o.
func (s Set) Difference(o Set) Set {
	out := make(Set, 0, len(s))
	j := 0
	for _, x := range s {
		for j < len(o) && o[j] < x {
			j++
		}
		if j < len(o) && o[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}

// Contains reports whether o ⊆ s.
func (s Set) Contains(o Set) bool {
	i := 0
	for _, x := range o {
		for i < len(s) && s[i] < x {
			i++
		}
		if i == len(s) || s[i] != x {
			return false
		}
	}
	return true
}

// String prints s in the Mesos text form: {a,b,c}.
func (s Set) String() string { return "{" + strings.Join(s, ",") + "}" }
