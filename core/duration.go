package core

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// durationUnits are Mesos's duration suffixes (stout Duration::parse),
// longest first so that "mins" wins over "ms".
var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"weeks", 7 * 24 * time.Hour}, {"days", 24 * time.Hour}, {"hrs", time.Hour}, {"mins", time.Minute},
	{"secs", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", time.Nanosecond},
}

// ParseDuration parses a duration in Mesos's form ("15secs", "1mins",
// "2.5hrs", "100ms", "2weeks") or Go's ("15s", "1m30s").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	for _, u := range durationUnits {
		num, ok := strings.CutSuffix(t, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f != f {
			return 0, fmt.Errorf("bad duration %q: %q is not a number", s, num)
		}
		d := f * float64(u.unit)
		if d > float64(1<<62) || d < -float64(1<<62) {
			return 0, fmt.Errorf("bad duration %q: out of range", s)
		}
		return time.Duration(d), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a number with a unit such as 15secs, 1mins or 500ms", s)
	}
	return d, nil
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
