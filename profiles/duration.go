package profiles

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"meseta/core"
)

// Duration is a time.Duration written as a JSON string in either Mesos's
// form ("60secs", "1.5hrs") or Go's ("60s", "1m30s"); core.ParseDuration
// reads both and refuses negative durations.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New(`want a duration string such as "60s" or "5mins"`)
	}
	v, err := core.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes Mesos's form, which UnmarshalJSON reads back exactly.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(core.FormatDuration(time.Duration(d)))
}

// Distribution kinds.
const (
	Fixed       = "fixed"       // always Median
	Exponential = "exponential" // mean Mean, optionally capped at Max
	Lognormal   = "lognormal"   // median Median, shape Sigma, optionally capped at Max
	Uniform     = "uniform"     // uniform in [Min, Max]
	Infinite    = "infinite"    // never ends (services only)
)

var distributionKinds = []string{Fixed, Exponential, Lognormal, Uniform, Infinite}

// Distribution is how long a task runs.
type Distribution struct {
	Kind   string   `json:"kind"`
	Median Duration `json:"median,omitzero"`
	Mean   Duration `json:"mean,omitzero"`
	Min    Duration `json:"min,omitzero"`
	Max    Duration `json:"max,omitzero"`
	// Sigma is the lognormal's shape (the standard deviation of the log);
	// 0 means 1.
	Sigma float64 `json:"sigma,omitempty"`
}

// Sample draws a task's run time from d; finite is false for an infinite
// distribution (the task runs until killed). The source of randomness is
// an input, so a seeded generator gives a repeatable workload.
func (d Distribution) Sample(r *rand.Rand) (_ time.Duration, finite bool) {
	var v float64
	switch d.Kind {
	case Fixed:
		return d.Median.D(), true
	case Exponential:
		v = r.ExpFloat64() * float64(d.Mean)
	case Lognormal:
		sigma := d.Sigma
		if sigma == 0 {
			sigma = 1
		}
		v = float64(d.Median) * math.Exp(sigma*r.NormFloat64())
	case Uniform:
		span := int64(d.Max - d.Min)
		if span <= 0 {
			return d.Min.D(), true
		}
		return d.Min.D() + time.Duration(r.Int64N(min(span, math.MaxInt64-1)+1)), true
	default:
		return 0, false
	}
	if d.Max > 0 && v > float64(d.Max) {
		return d.Max.D(), true
	}
	return time.Duration(min(v, math.MaxInt64/2)), true
}
