package core

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// durationUnits are Mesos's duration suffixes, largest first, for
// FormatDuration.
var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"weeks", 7 * 24 * time.Hour}, {"days", 24 * time.Hour}, {"hrs", time.Hour}, {"mins", time.Minute},
	{"secs", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", time.Nanosecond},
}

// mesosUnits are the unit suffixes of Mesos's Duration::parse, in
// nanoseconds.
var mesosUnits = map[string]int64{
	"ns":    1,
	"us":    int64(time.Microsecond),
	"ms":    int64(time.Millisecond),
	"secs":  int64(time.Second),
	"mins":  int64(time.Minute),
	"hrs":   int64(time.Hour),
	"days":  24 * int64(time.Hour),
	"weeks": 7 * 24 * int64(time.Hour),
}

// maxDurationLen bounds the text ParseDuration looks at; no sensible
// duration is longer, and the bound keeps the exact arithmetic cheap.
const maxDurationLen = 64

// ParseDuration parses a duration as Mesos's flags and the agent's
// executor environment write it. It accepts Mesos's form, a non-negative decimal
// number directly followed by one of the units ns, us, ms, secs, mins,
// hrs, days or weeks ("5secs", "250ms", "1.5hrs"), and Go's form as
// [time.ParseDuration] reads it ("5s", "1m30s"). Mesos's form is
// converted exactly and rounded to the nearest nanosecond. Negative
// durations and durations beyond math.MaxInt64 nanoseconds are errors.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if len(s) > maxDurationLen {
		return 0, fmt.Errorf("duration %.20q... is longer than %d bytes", s, maxDurationLen)
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i > 0 {
		if unit, ok := mesosUnits[s[i:]]; ok {
			return parseMesosNumber(s, s[:i], unit)
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number and a unit, such as 5secs, 250ms, 15mins or 2hrs", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return d, nil
}

// parseMesosNumber returns num*unit nanoseconds; num is digits with at
// most one '.', as Mesos's numify<double> takes them.
func parseMesosNumber(s, num string, unit int64) (time.Duration, error) {
	if strings.Count(num, ".") > 1 || strings.Trim(num, ".") == "" {
		return 0, fmt.Errorf("invalid duration %q: bad number %q", s, num)
	}
	if strings.HasPrefix(num, ".") {
		num = "0" + num
	}
	num = strings.TrimSuffix(num, ".")
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid duration %q: bad number %q", s, num)
	}
	r.Mul(r, new(big.Rat).SetInt64(unit))
	// Round half up: floor(r + 1/2). r is non-negative.
	r.Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("invalid duration %q: out of range", s)
	}
	return time.Duration(n.Int64()), nil
}

// FormatDuration prints d in Mesos's form, as flags show defaults.
func FormatDuration(d time.Duration) string {
	for _, u := range durationUnits {
		if d%u.unit == 0 && d != 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return "0secs"
}
