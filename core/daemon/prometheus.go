package daemon

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// PrometheusContentType is the content type of the Prometheus text
// exposition format that AppendPrometheus writes.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// WritePrometheus answers with figures in the Prometheus text exposition
// format (AppendPrometheus).
func WritePrometheus(ctx *fasthttp.RequestCtx, figures map[string]float64) {
	ctx.SetStatusCode(200)
	ctx.SetContentType(PrometheusContentType)
	ctx.SetBody(AppendPrometheus(nil, figures))
}

// A PromLabel is one label of a Prometheus sample.
type PromLabel struct{ Name, Value string }

// promTemplates are the Mesos keys with parts that are names (roles,
// resources) rather than a fixed metric: each part in braces becomes a
// label, and may span several segments (hierarchical roles hold '/').
var promTemplates = [][]string{
	strings.Split("allocator/mesos/roles/{role}/shares/dominant", "/"),
	strings.Split("allocator/mesos/offer_filters/roles/{role}/active", "/"),
	strings.Split("allocator/mesos/quota/roles/{role}/resources/{resource}/offered_or_allocated", "/"),
	strings.Split("allocator/mesos/quota/roles/{role}/resources/{resource}/guarantee", "/"),
}

// PrometheusName returns the Prometheus metric a /metrics/snapshot key
// maps to, its labels, and the pattern of keys the metric stands for (its
// HELP text). The mapping is deterministic and needs no table of keys:
//
//   - A last segment p<digits> is a percentile, the digits being those
//     after the decimal point: the key without it, with the label
//     quantile="0.<digits>" (p50 -> 0.5, p99 -> 0.99, p999 -> 0.999).
//     /min and /max are quantile="0" and quantile="1". So
//     allocator/mesos/allocation_run_ms/p99 is
//     mesos_allocator_mesos_allocation_run_ms{quantile="0.99"}, beside
//     the unlabelled mesos_allocator_mesos_allocation_run_ms (the latest
//     run). /count, the number of runs the percentiles are taken over,
//     is a metric of its own, ..._allocation_run_ms_count.
//   - A key that matches one of promTemplates (per-role allocator
//     figures) gives its names as labels:
//     allocator/mesos/roles/a/b/shares/dominant is
//     mesos_allocator_mesos_roles_shares_dominant{role="a/b"}.
//   - The name is "mesos_" and the rest of the key, with '/' and every
//     byte outside [a-zA-Z0-9_] replaced by '_': master/cpus_total is
//     mesos_master_cpus_total.
func PrometheusName(key string) (name string, labels []PromLabel, help string) {
	segs := strings.Split(key, "/")
	var quantile string
	if n := len(segs); n > 1 {
		switch last := segs[n-1]; {
		case last == "min":
			quantile = "0"
		case last == "max":
			quantile = "1"
		case len(last) > 1 && last[0] == 'p' && allDigits(last[1:]):
			quantile = formatQuantile(last[1:])
		}
		if quantile != "" {
			segs = segs[:n-1]
		}
	}
	var parts []string
	help = strings.Join(segs, "/")
	for _, tmpl := range promTemplates {
		if lits, ls, ok := matchTemplate(tmpl, segs); ok {
			parts, labels = lits, ls
			help = strings.Join(tmpl, "/")
			break
		}
	}
	if parts == nil {
		parts = segs
	}
	if quantile != "" {
		labels = append(labels, PromLabel{"quantile", quantile})
		help += " (/pNN, /min, /max as quantile labels)"
	}
	b := make([]byte, 0, len(key)+8)
	b = append(b, "mesos"...)
	for _, p := range parts {
		b = append(b, '_')
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				b = append(b, c)
			} else {
				b = append(b, '_')
			}
		}
	}
	return string(b), labels, "Mesos /metrics/snapshot key " + help + "."
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// formatQuantile turns the digits of p<digits> into the quantile,
// without trailing zeros: "50" -> "0.5", "999" -> "0.999", "0" -> "0".
func formatQuantile(digits string) string {
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "0"
	}
	return "0." + digits
}

// matchTemplate matches key segments against a template, a placeholder
// taking one segment or more (the fewest that let the rest match). It
// returns the template's literal segments and the placeholders' values.
func matchTemplate(tmpl, segs []string) (lits []string, labels []PromLabel, ok bool) {
	if len(tmpl) == 0 {
		return nil, nil, len(segs) == 0
	}
	t := tmpl[0]
	if !strings.HasPrefix(t, "{") {
		if len(segs) == 0 || segs[0] != t {
			return nil, nil, false
		}
		lits, labels, ok = matchTemplate(tmpl[1:], segs[1:])
		if !ok {
			return nil, nil, false
		}
		return append([]string{t}, lits...), labels, true
	}
	for n := 1; n <= len(segs); n++ {
		if lits, labels, ok = matchTemplate(tmpl[1:], segs[n:]); ok {
			l := PromLabel{strings.Trim(t, "{}"), strings.Join(segs[:n], "/")}
			return lits, append([]PromLabel{l}, labels...), true
		}
	}
	return nil, nil, false
}

// AppendPrometheus appends figures, keyed by Mesos /metrics/snapshot
// names, to b in the Prometheus text exposition format (version 0.0.4),
// and returns the extended slice. Names and labels are PrometheusName's.
//
// Every metric is a gauge: /metrics/snapshot does not say which figures
// are counters, and a Mesos counter starts again from zero when another
// master is elected. Each metric has a HELP line naming the Mesos key (or
// key pattern) it comes from and a TYPE line; metrics are sorted by name,
// and the samples of one metric by their labels, so equal figures give
// equal text. Label values are escaped (\\, \", \n) and made valid
// UTF-8. Should two keys map to the same name and labels, the first key
// in sorted order wins and the others are left out: the format allows one
// sample per name and label set.
func AppendPrometheus(b []byte, figures map[string]float64) []byte {
	type sample struct {
		name, labels, help string
		value              float64
	}
	keys := make([]string, 0, len(figures))
	for k := range figures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	samples := make([]sample, 0, len(keys))
	for _, k := range keys {
		name, labels, help := PrometheusName(k)
		samples = append(samples, sample{name: name, labels: string(appendLabels(nil, labels)), help: help, value: figures[k]})
	}
	// Stable: among samples of one name and labels the first key stays
	// first, and is the one kept.
	slices.SortStableFunc(samples, func(x, y sample) int {
		if c := strings.Compare(x.name, y.name); c != 0 {
			return c
		}
		return strings.Compare(x.labels, y.labels)
	})
	for i, s := range samples {
		if i > 0 && s.name == samples[i-1].name && s.labels == samples[i-1].labels {
			continue
		}
		if i == 0 || s.name != samples[i-1].name {
			b = append(b, "# HELP "...)
			b = append(b, s.name...)
			b = append(b, ' ')
			b = appendEscaped(b, s.help, false)
			b = append(b, "\n# TYPE "...)
			b = append(b, s.name...)
			b = append(b, " gauge\n"...)
		}
		b = append(b, s.name...)
		b = append(b, s.labels...)
		b = append(b, ' ')
		b = strconv.AppendFloat(b, s.value, 'g', -1, 64) // +Inf, -Inf and NaN as the format spells them
		b = append(b, '\n')
	}
	return b
}

// appendLabels appends {name="value",...}, or nothing when there are no
// labels.
func appendLabels(b []byte, labels []PromLabel) []byte {
	for i, l := range labels {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, l.Name...)
		b = append(b, `="`...)
		b = appendEscaped(b, l.Value, true)
		b = append(b, '"')
	}
	if len(labels) > 0 {
		b = append(b, '}')
	}
	return b
}

// appendEscaped appends s as valid UTF-8 with backslash and line feed
// escaped, and the double quote too in a label value (quote).
func appendEscaped(b []byte, s string, quote bool) []byte {
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		switch {
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}
