package core

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		// Mesos's form, as the agent writes it.
		{"5secs", 5 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"15mins", 15 * time.Minute},
		{"2hrs", 2 * time.Hour},
		{"1days", 24 * time.Hour},
		{"2weeks", 14 * 24 * time.Hour},
		{"10us", 10 * time.Microsecond},
		{"7ns", 7},
		{"0secs", 0},
		{"1.5hrs", 90 * time.Minute},
		{".5secs", 500 * time.Millisecond},
		{"3.secs", 3 * time.Second},
		{"0.0000000015secs", 2}, // 1.5ns rounds half up
		{"0.0000000014secs", 1},
		{"0.1ns", 0},
		{" 5secs\n", 5 * time.Second},
		{"9223372036854775807ns", math.MaxInt64},
		// Go's form.
		{"5s", 5 * time.Second},
		{"1m30s", 90 * time.Second},
		{"1.5h", 90 * time.Minute},
		{"0", 0},
		{"+3ms", 3 * time.Millisecond},
		{"2µs", 2 * time.Microsecond},
	} {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// The agent writes durations with FormatDuration; they all parse
// back exactly.
func TestParseDurationOfAgentFormat(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 999 * time.Microsecond, 250 * time.Millisecond, 5 * time.Second,
		90 * time.Second, 15 * time.Minute, 2 * time.Hour, 36 * time.Hour, 3 * 7 * 24 * time.Hour, math.MaxInt64} {
		s := FormatDuration(d)
		if got, err := ParseDuration(s); err != nil || got != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, d)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	for _, in := range []string{
		"", "   ", "5", "secs", "5sec", "5 secs", "5SECS", "1.2.3secs", ".secs", "-5secs", "-5s", "5parsecs",
		"9223372036854775808ns", "15251weeks", "1e3secs", "0x10secs", "NaNsecs", "infsecs",
		strings.Repeat("1", 70) + "ns",
	} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"5secs", "250ms", "15mins", "2hrs", "1.5days", "5s", "1h2m3.5s", "-1s", ".5weeks", "9223372036854775807ns", "1e3secs", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		// Whatever parses prints in Go's form and parses back exactly.
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, but ParseDuration(%q) = %v, %v", s, d, d.String(), back, err)
		}
		// So does Mesos's form with a count of nanoseconds.
		ns := strconv.FormatInt(int64(d), 10) + "ns"
		if back, err := ParseDuration(ns); err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, %v; want %v", ns, back, err, d)
		}
	})
}
