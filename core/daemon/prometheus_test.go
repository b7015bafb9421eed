package daemon

import (
	"bytes"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestPrometheusName(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"master/cpus_total", "mesos_master_cpus_total"},
		{"master/elected", "mesos_master_elected"},
		{"allocator/mesos/allocation_run_ms", "mesos_allocator_mesos_allocation_run_ms"},
		{"allocator/mesos/allocation_run_ms/p50", `mesos_allocator_mesos_allocation_run_ms{quantile="0.5"}`},
		{"allocator/mesos/allocation_run_ms/p90", `mesos_allocator_mesos_allocation_run_ms{quantile="0.9"}`},
		{"allocator/mesos/allocation_run_ms/p99", `mesos_allocator_mesos_allocation_run_ms{quantile="0.99"}`},
		{"registrar/state_store_ms/p999", `mesos_registrar_state_store_ms{quantile="0.999"}`},
		{"registrar/state_store_ms/p9999", `mesos_registrar_state_store_ms{quantile="0.9999"}`},
		{"registrar/state_store_ms/min", `mesos_registrar_state_store_ms{quantile="0"}`},
		{"registrar/state_store_ms/max", `mesos_registrar_state_store_ms{quantile="1"}`},
		{"registrar/state_store_ms/count", "mesos_registrar_state_store_ms_count"},
		// Not percentiles: a lone segment, p with no digits or other text.
		{"p99", "mesos_p99"},
		{"a/p", "mesos_a_p"},
		{"a/p9x", "mesos_a_p9x"},
		{"a/max_x", "mesos_a_max_x"},
		// Every byte outside [a-zA-Z0-9_] becomes '_', colons included.
		{"slave/a-b.c:d é", "mesos_slave_a_b_c_d___"},
		{"", "mesos_"},
		// Per-role figures: the role is a label, and may hold '/'.
		{"allocator/mesos/roles/eng/web/shares/dominant", `mesos_allocator_mesos_roles_shares_dominant{role="eng/web"}`},
		{"allocator/mesos/offer_filters/roles/*/active", `mesos_allocator_mesos_offer_filters_roles_active{role="*"}`},
		{"allocator/mesos/quota/roles/a/resources/cpus/guarantee",
			`mesos_allocator_mesos_quota_roles_resources_guarantee{role="a",resource="cpus"}`},
		{"allocator/mesos/quota/roles/a/resources/b/resources/cpus/offered_or_allocated",
			`mesos_allocator_mesos_quota_roles_resources_offered_or_allocated{role="a",resource="b/resources/cpus"}`},
		{"allocator/mesos/roles/r/shares/dominant/p99",
			`mesos_allocator_mesos_roles_shares_dominant{role="r",quantile="0.99"}`},
		// No role: not the template, so no label.
		{"allocator/mesos/roles/shares/dominant", "mesos_allocator_mesos_roles_shares_dominant"},
	} {
		name, labels, _ := PrometheusName(c.key)
		if got := name + string(appendLabels(nil, labels)); got != c.want {
			t.Errorf("%q: %s, want %s", c.key, got, c.want)
		}
	}
}

// TestAppendPrometheus shows the whole text for a few figures: sorted
// by name, then labels; one HELP and TYPE per metric; label values
// escaped; a colliding key left out.
func TestAppendPrometheus(t *testing.T) {
	figures := map[string]float64{
		"master/cpus_total":                                8,
		"allocator/mesos/allocation_run_ms/p99":            2.5,
		"allocator/mesos/allocation_run_ms":                1,
		"allocator/mesos/allocation_run_ms/p50":            0.25,
		"allocator/mesos/allocation_run_ms/min":            0.125,
		"allocator/mesos/allocation_run_ms/max":            3,
		"allocator/mesos/allocation_run_ms/count":          17,
		"allocator/mesos/roles/a\"b\\c\nd/shares/dominant": 0.5,
		"master/cpus-total":                                9, // also mesos_master_cpus_total: sorts after, left out
		"master/uptime_secs":                               math.Inf(1),
	}
	want := `# HELP mesos_allocator_mesos_allocation_run_ms Mesos /metrics/snapshot key allocator/mesos/allocation_run_ms.
# TYPE mesos_allocator_mesos_allocation_run_ms gauge
mesos_allocator_mesos_allocation_run_ms 1
mesos_allocator_mesos_allocation_run_ms{quantile="0"} 0.125
mesos_allocator_mesos_allocation_run_ms{quantile="0.5"} 0.25
mesos_allocator_mesos_allocation_run_ms{quantile="0.99"} 2.5
mesos_allocator_mesos_allocation_run_ms{quantile="1"} 3
# HELP mesos_allocator_mesos_allocation_run_ms_count Mesos /metrics/snapshot key allocator/mesos/allocation_run_ms/count.
# TYPE mesos_allocator_mesos_allocation_run_ms_count gauge
mesos_allocator_mesos_allocation_run_ms_count 17
# HELP mesos_allocator_mesos_roles_shares_dominant Mesos /metrics/snapshot key allocator/mesos/roles/{role}/shares/dominant.
# TYPE mesos_allocator_mesos_roles_shares_dominant gauge
mesos_allocator_mesos_roles_shares_dominant{role="a\"b\\c\nd"} 0.5
# HELP mesos_master_cpus_total Mesos /metrics/snapshot key master/cpus-total.
# TYPE mesos_master_cpus_total gauge
mesos_master_cpus_total 9
# HELP mesos_master_uptime_secs Mesos /metrics/snapshot key master/uptime_secs.
# TYPE mesos_master_uptime_secs gauge
mesos_master_uptime_secs +Inf
`
	got := string(AppendPrometheus(nil, figures))
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again := string(AppendPrometheus(nil, figures)); again != got {
		t.Errorf("not deterministic:\n%s\nthen\n%s", got, again)
	}
	checkExposition(t, figures, []byte(got))
}

// TestAppendPrometheusEmpty: no figures, no text.
func TestAppendPrometheusEmpty(t *testing.T) {
	if b := AppendPrometheus(nil, nil); len(b) != 0 {
		t.Errorf("%q", b)
	}
}

var promName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// checkExposition parses text with Prometheus's own parser and checks
// that every figure is there: under PrometheusName's name and labels,
// with its value, unless an earlier key (in sorted order) took that name
// and labels. It also checks that no name and label set repeats.
func checkExposition(t *testing.T, figures map[string]float64, text []byte) {
	t.Helper()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the Prometheus parser refuses the text: %v\n%s", err, text)
	}
	got := map[string]float64{} // name + canonical labels -> value
	for name, fam := range fams {
		if !promName.MatchString(name) {
			t.Errorf("invalid metric name %q", name)
		}
		if fam.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s: type %v, want gauge", name, fam.GetType())
		}
		for _, m := range fam.GetMetric() {
			var ls []PromLabel
			for _, l := range m.GetLabel() {
				ls = append(ls, PromLabel{l.GetName(), l.GetValue()})
			}
			id := name + canonical(ls)
			if _, dup := got[id]; dup {
				t.Errorf("sample %s appears twice", id)
			}
			got[id] = m.GetGauge().GetValue()
		}
	}
	// The first key in sorted order owns its name and labels.
	owner := map[string]string{}
	keys := make([]string, 0, len(figures))
	for k := range figures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, labels, _ := PrometheusName(k)
		for i := range labels {
			labels[i].Value = strings.ToValidUTF8(labels[i].Value, string(utf8.RuneError))
		}
		id := name + canonical(labels)
		if _, taken := owner[id]; taken {
			continue
		}
		owner[id] = k
		v, ok := got[id]
		if !ok {
			t.Errorf("key %q (%s) missing from\n%s", k, id, text)
			continue
		}
		if want := figures[k]; v != want && !(math.IsNaN(v) && math.IsNaN(want)) {
			t.Errorf("key %q: %v, want %v", k, v, want)
		}
	}
	if len(got) != len(owner) {
		t.Errorf("%d samples for %d distinct names and labels", len(got), len(owner))
	}
}

// canonical renders labels sorted by name, as the parser returns them.
func canonical(ls []PromLabel) string {
	ls = slices.Clone(ls)
	slices.SortFunc(ls, func(x, y PromLabel) int { return strings.Compare(x.Name, y.Name) })
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("|" + l.Name + "=" + l.Value)
	}
	return b.String()
}

// FuzzAppendPrometheus: whatever the keys (PrometheusName parses them
// for percentiles and roles) and values, the text is valid exposition
// format that carries every figure.
func FuzzAppendPrometheus(f *testing.F) {
	f.Add("master/cpus_total", 1.0, "allocator/mesos/allocation_run_ms/p99", 2.5, "allocator/mesos/roles/a/b/shares/dominant", 0.5)
	f.Add("a/p50", 1.0, "a/p5", 2.0, "a", math.NaN())
	f.Add("allocator/mesos/roles/\"\\\n\xff/shares/dominant/max", math.Inf(-1), "x/min", -0.0, "", 1e300)
	f.Add("allocator/mesos/quota/roles/r/resources/resources/x/resources/guarantee", 3.0, "a:b", 1.0, "a_b", 2.0)
	f.Fuzz(func(t *testing.T, k1 string, v1 float64, k2 string, v2 float64, k3 string, v3 float64) {
		figures := map[string]float64{k1: v1, k2: v2, k3: v3}
		text := AppendPrometheus(nil, figures)
		if !utf8.Valid(text) {
			t.Fatalf("not UTF-8: %q", text)
		}
		checkExposition(t, figures, text)
	})
}
