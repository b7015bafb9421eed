package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nastyRole is a role name with every HTML special character.
const nastyRole = `<script>alert("x")</script>&'r`

// syntheticResult is a 20-second run of two roles, the second with
// nastyRole, sampled by a monitor that started the master when master.
func syntheticResult(master bool) *result {
	r := &result{profile: "synthetic", description: "two roles & <tags>", command: "loadgen -profile synthetic -report out.html",
		finished: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), elapsed: 20 * time.Second, agents: 10, frameworks: 3,
		roles: []string{"batch", nastyRole}, weights: []float64{1, 2}, master: [2]string{"1.0 s", "40 MiB"}}
	for i := range 20 {
		x := float64(i)
		r.samples = append(r.samples, sample{at: time.Duration(i+1) * time.Second,
			offers: 100 + 10*x, launches: 50 + 5*x, running: int64(10 * i), subscribed: min(i+1, 3), all: i >= 2,
			master: master, cpu: 0.25, rss: int64(30+i) << 20,
			fair: fairness{shares: []float64{0.3, 0.6}, drf: []float64{1.0 / 3, 2.0 / 3}, err: 1.0 / 15, worst: 1}})
		r.stats.Latencies = append(r.stats.Latencies, time.Duration(i+1)*time.Millisecond)
	}
	r.stats.OffersReceived, r.stats.TasksLaunched = 3000, 1500
	r.fairness = summarizeFairness(r.samples)
	return r
}

// TestReportHTML renders a report from synthetic samples and checks that
// it is well-formed, draws every chart, fetches nothing, and escapes a
// role name.
func TestReportHTML(t *testing.T) {
	var buf bytes.Buffer
	if err := renderReport(&buf, syntheticResult(true)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	// The page parses as HTML (void elements closed, HTML entities).
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	svgs := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
			svgs++
		}
	}
	// Offers and launches, tasks running, shares, fairness error,
	// latency, RSS, CPU.
	if svgs != 7 {
		t.Errorf("%d <svg> elements, want 7 (one a chart)", svgs)
	}

	// Each SVG is well-formed XML by itself, with a title and axis labels.
	parts := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(parts) != svgs {
		t.Errorf("%d <svg>…</svg> blocks, %d <svg> elements", len(parts), svgs)
	}
	for i, p := range parts {
		var v struct {
			Texts []struct {
				Class string `xml:"class,attr"`
				Text  string `xml:",chardata"`
			} `xml:"text"`
			Paths []struct {
				D string `xml:"d,attr"`
			} `xml:"path"`
		}
		if err := xml.Unmarshal([]byte(p), &v); err != nil {
			t.Errorf("svg %d is not well-formed XML: %v\n%s", i, err, p)
			continue
		}
		classes := map[string]int{}
		for _, tx := range v.Texts {
			classes[tx.Class]++
		}
		if classes["title"] != 1 || classes["axis"] == 0 || classes["ytick"] < 2 {
			t.Errorf("svg %d: %d titles, %d axis labels, %d y ticks; want 1, some and 2+", i, classes["title"], classes["axis"], classes["ytick"])
		}
		for _, pa := range v.Paths {
			if !regexp.MustCompile(`^M[0-9.]+,[0-9.]+( [LM][0-9.]+,[0-9.]+)*$`).MatchString(pa.D) {
				t.Errorf("svg %d: path data %q", i, pa.D)
			}
		}
	}

	// Nothing is fetched: the only URL is the SVG namespace.
	for _, u := range regexp.MustCompile(`https?://[^\s"'<>]*`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("the page refers to %s", u)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<link") || strings.Contains(page, "src=") {
		t.Errorf("the page has a script, link or src")
	}

	// The role name is escaped wherever it appears, and it appears.
	if strings.Contains(page, nastyRole) || strings.Contains(page, "<script>") {
		t.Errorf("the role name %q is not escaped", nastyRole)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;r") {
		t.Errorf("the escaped role name is missing")
	}
	for _, want := range []string{"synthetic", "two roles &amp; &lt;tags&gt;", "loadgen -profile synthetic -report out.html",
		"fairness error mean/max", "6.67%", "p90", "% of the cluster", "MiB", "time since the run started (s)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
}

// TestReportExternalMaster: without master samples the master's charts
// say why they are empty.
func TestReportExternalMaster(t *testing.T) {
	var buf bytes.Buffer
	if err := renderReport(&buf, syntheticResult(false)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "not sampled: loadgen did not start this master"); n != 2 {
		t.Errorf("%d notes on the master's charts, want 2 (RSS and CPU)", n)
	}
}

// TestAxis checks the tick steps and axis tops.
func TestAxis(t *testing.T) {
	for _, tc := range []struct{ hi, step, top float64 }{
		{0, 0.2, 1}, {1, 0.2, 1}, {10, 2, 10}, {10.003, 2, 10}, {11, 5, 15}, {19.9, 5, 20}, {100, 20, 100}, {101, 25, 125}, {1.2, 0.25, 1.25}, {0.031, 0.01, 0.04},
	} {
		if step, top := axis(tc.hi); !near(step, tc.step) || !near(top, tc.top) {
			t.Errorf("axis(%v) = %v, %v; want %v, %v", tc.hi, step, top, tc.step, tc.top)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestReportManyRoles: with more roles than maxRoleLines the shares chart
// draws the worst maxRoleLines (two lines each) and says so.
func TestReportManyRoles(t *testing.T) {
	r := syntheticResult(true)
	n := maxRoleLines + 4
	r.roles, r.weights = nil, nil
	for i := range n {
		r.roles = append(r.roles, fmt.Sprintf("role%d", i))
		r.weights = append(r.weights, 1)
	}
	for i := range r.samples {
		f := &r.samples[i].fair
		f.shares, f.drf = make([]float64, n), make([]float64, n)
		for j := range n {
			f.shares[j], f.drf[j] = 0.01*float64(j), 0 // role j's error is j%
		}
	}
	var buf bytes.Buffer
	if err := renderReport(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, fmt.Sprintf("Of %d roles, the chart draws the %d with the largest errors", n, maxRoleLines)) {
		t.Errorf("no note on the roles left out")
	}
	// The worst are the last maxRoleLines; role3 (3%) is left out.
	if strings.Contains(page, "<title>role3</title>") || !strings.Contains(page, fmt.Sprintf("<title>role%d DRF</title>", n-1)) {
		t.Errorf("the chart does not draw the roles with the largest errors")
	}
}
