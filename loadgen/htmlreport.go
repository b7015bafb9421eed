package main

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The HTML report (-report) is one file that a browser shows without a
// network: the summary table, then inline SVG charts drawn here from the
// monitor's per-second samples. Nothing is scripted and nothing is
// fetched; html/template escapes every name that comes from a profile.
//
// A chart is laid out in Go (chart: pixel positions, tick labels, path
// data) and drawn by the "chart" template, so the template holds no
// arithmetic and each chart type is one builder function.

// Chart geometry, in pixels: the plot area sits inside these margins; the
// right margin holds the legend.
const (
	chartW, chartH = 960, 300
	marginL        = 72
	marginR        = 200
	marginT        = 36
	marginB        = 48
	maxRoleLines   = 8   // roles drawn in the shares chart
	maxRoleRows    = 100 // roles listed in the fairness table
)

// palette is Tableau 10: distinguishable, and readable on white.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// chart is one SVG chart, laid out.
type chart struct {
	Title, XLabel, YLabel string
	W, H                  int
	L, T, R, B            float64 // the plot area's edges
	XTicks, YTicks        []tick
	Lines                 []line
	Bars                  []bar
	Marks                 []mark
	Legend                []legendItem
	Note                  string // drawn in the plot area: why it is empty
}

type tick struct {
	Pos   float64
	Label string
}

type line struct {
	Name, Color string
	Dashed      bool
	D           string // path data
}

type bar struct {
	X, Y, W, H   float64
	Color, Value string
}

// mark is a vertical line at X, labelled.
type mark struct {
	X     float64
	Label string
}

type legendItem struct {
	Y           float64
	Name, Color string
	Dashed      bool
}

// series is a line chart's input: ys[i] at the chart's xs[i]; NaN leaves
// a gap.
type series struct {
	name, color string
	dashed      bool
	ys          []float64
}

// newChart returns a chart with its frame laid out.
func newChart(title, xLabel, yLabel string) chart {
	return chart{Title: title, XLabel: xLabel, YLabel: yLabel, W: chartW, H: chartH,
		L: marginL, T: marginT, R: chartW - marginR, B: chartH - marginB}
}

// lineChart lays out series over xs (seconds), the y axis from 0 to a
// round number above the largest value.
func lineChart(title, xLabel, yLabel string, xs []float64, ss []series) chart {
	c := newChart(title, xLabel, yLabel)
	xMax, yMax := 1.0, 0.0
	for _, x := range xs {
		xMax = max(xMax, x)
	}
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) {
				yMax = max(yMax, y)
			}
		}
	}
	xStep, xTop := axis(xMax)
	yStep, yTop := axis(yMax)
	c.XTicks = ticks(xStep, xTop, c.xPos(xTop))
	c.YTicks = ticks(yStep, yTop, c.yPos(yTop))
	for i, s := range ss {
		var d strings.Builder
		pen := false
		for j, y := range s.ys {
			if j >= len(xs) || math.IsNaN(y) {
				pen = false
				continue
			}
			if pen {
				d.WriteString(" L")
			} else {
				if d.Len() > 0 {
					d.WriteByte(' ')
				}
				d.WriteString("M")
			}
			pen = true
			d.WriteString(px(c.xPos(xTop)(xs[j])) + "," + px(c.yPos(yTop)(y)))
		}
		c.Lines = append(c.Lines, line{Name: s.name, Color: s.color, Dashed: s.dashed, D: d.String()})
		c.Legend = append(c.Legend, legendItem{Y: c.T + 8 + 18*float64(i), Name: clip(s.name), Color: s.color, Dashed: s.dashed})
	}
	if len(xs) == 0 {
		c.Note = "no samples: the run ended within a second"
	}
	return c
}

// xPos maps x in [0, top] onto the plot area.
func (c *chart) xPos(top float64) func(float64) float64 {
	return func(x float64) float64 { return c.L + (c.R-c.L)*x/top }
}

// yPos maps y in [0, top] onto the plot area, upwards.
func (c *chart) yPos(top float64) func(float64) float64 {
	return func(y float64) float64 { return c.B - (c.B-c.T)*y/top }
}

// axis returns a round tick step for [0, hi] (about 5 ticks) and the
// axis's top, the first step at or above hi. A value within 0.5% above a
// round number (10.001 s for a 10 s run) counts as that number: it is
// drawn a hair past the top rather than stretching the axis by a step.
func axis(hi float64) (step, top float64) {
	if hi <= 0 || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return 0.2, 1
	}
	hi /= 1.005
	raw := hi / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m == 2.5 && mag == 1 {
			continue // 2.5 s or 2.5 tasks a tick reads oddly; 25 and 0.25 do not
		}
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return step, step * math.Ceil(hi/step)
}

// ticks places the ticks 0, step, ..., top with pos.
func ticks(step, top float64, pos func(float64) float64) []tick {
	var ts []tick
	for i := 0; float64(i)*step <= top*(1+1e-9); i++ {
		v := float64(i) * step
		ts = append(ts, tick{Pos: round1(pos(v)), Label: number(v)})
	}
	return ts
}

// number formats a tick value briefly: 0.25, 40, 12k, 1.5M.
func number(v float64) string {
	f := func(x float64) string { return strconv.FormatFloat(math.Round(x*1e6)/1e6, 'f', -1, 64) }
	switch {
	case v >= 1e6:
		return f(v/1e6) + "M"
	case v >= 1e4:
		return f(v/1e3) + "k"
	}
	return f(v)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func px(v float64) string { return strconv.FormatFloat(round1(v), 'f', -1, 64) }

// clip shortens a legend name to fit the legend's column.
func clip(s string) string {
	const n = 24
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// barChart lays out one bar a category, the y axis from 0.
func barChart(title, yLabel string, names []string, values []float64, unit string) chart {
	c := newChart(title, "", yLabel)
	yMax := 0.0
	for _, v := range values {
		yMax = max(yMax, v)
	}
	yStep, yTop := axis(yMax)
	y := c.yPos(yTop)
	c.YTicks = ticks(yStep, yTop, y)
	slot := (c.R - c.L) / float64(max(len(names), 1))
	for i, name := range names {
		x := c.L + slot*float64(i)
		w := slot * 0.6
		c.Bars = append(c.Bars, bar{X: round1(x + (slot-w)/2), Y: round1(y(values[i])), W: round1(w),
			H: round1(c.B - y(values[i])), Color: palette[i%len(palette)], Value: strconv.FormatFloat(values[i], 'f', 1, 64) + " " + unit})
		c.XTicks = append(c.XTicks, tick{Pos: round1(x + slot/2), Label: name})
	}
	if len(names) == 0 {
		c.Note = "no task reached TASK_RUNNING"
	}
	return c
}

// reportData is what the page template shows.
type reportData struct {
	Profile, Description, Command, Finished string
	Failed                                  bool
	Errors, Notes                           []string
	Rows                                    []summaryRow
	Throughput, Running                     chart
	Shares, Fairness                        chart
	SharesNote                              string
	Roles                                   []roleRow
	Latency                                 chart
	Percentiles                             []summaryRow
	RSS, CPU                                chart
}

// roleRow is one role's line in the fairness table.
type roleRow struct {
	Name, Weight, MeanShare, MeanDRF, MaxErr string
	maxErr                                   float64
}

// renderReport writes r as the HTML report.
func renderReport(w io.Writer, r *result) error {
	d := reportData{Profile: r.profile, Description: r.description, Command: r.command,
		Finished: r.finished.Format("2006-01-02 15:04:05 MST"), Failed: r.failed(),
		Errors: r.errors, Notes: r.notes, Rows: r.rows()}

	xs := make([]float64, len(r.samples))
	col := func(f func(s sample) float64) []float64 {
		ys := make([]float64, len(r.samples))
		for i, s := range r.samples {
			xs[i] = s.at.Seconds()
			ys[i] = f(s)
		}
		return ys
	}
	const xLabel = "time since the run started (s)"
	d.Throughput = lineChart("Offers and launches a second", xLabel, "per second", xs, []series{
		{name: "offers/s", color: palette[0], ys: col(func(s sample) float64 { return s.offers })},
		{name: "launches/s", color: palette[1], ys: col(func(s sample) float64 { return s.launches })},
	})
	d.Running = lineChart("Tasks running on the simulated agents", xLabel, "tasks", xs, []series{
		{name: "tasks running", color: palette[4], ys: col(func(s sample) float64 { return float64(s.running) })},
	})

	d.Shares, d.SharesNote, d.Roles = sharesChart(r, xs, col)
	d.Fairness = lineChart("Fairness error: max over roles of |dominant share − DRF share|", xLabel, "% of the cluster", xs, []series{
		{name: "fairness error", color: palette[2], ys: col(func(s sample) float64 { return 100 * s.fair.err })},
	})
	for i, s := range r.samples {
		if s.all {
			d.Fairness.Marks = append(d.Fairness.Marks, mark{X: round1(d.Fairness.L + (d.Fairness.R-d.Fairness.L)*xs[i]/axisTop(xs)),
				Label: "all subscribed"})
			break
		}
	}

	lat := slices.Clone(r.stats.Latencies)
	slices.Sort(lat)
	names := []string{"p50", "p90", "p99", "max"}
	var ms []float64
	if len(lat) > 0 {
		for _, p := range []float64{0.5, 0.9, 0.99, 1} {
			v := percentile(lat, p)
			ms = append(ms, float64(v)/float64(time.Millisecond))
			d.Percentiles = append(d.Percentiles, summaryRow{names[len(ms)-1], v.Round(100 * time.Microsecond).String()})
		}
	} else {
		names = nil
	}
	d.Latency = barChart(fmt.Sprintf("Task submit → TASK_RUNNING latency (%d tasks)", len(lat)), "milliseconds", names, ms, "ms")

	master := func(s sample) bool { return s.master }
	d.RSS = lineChart("Master resident memory (RSS)", xLabel, "MiB", xs, []series{
		{name: "RSS", color: palette[6], ys: col(func(s sample) float64 {
			if !master(s) {
				return math.NaN()
			}
			return float64(s.rss) / (1 << 20)
		})},
	})
	d.CPU = lineChart("Master CPU", xLabel, "% of one core", xs, []series{
		{name: "CPU", color: palette[3], ys: col(func(s sample) float64 {
			if !master(s) {
				return math.NaN()
			}
			return 100 * s.cpu
		})},
	})
	if !slices.ContainsFunc(r.samples, master) {
		d.RSS.Note = "not sampled: loadgen did not start this master"
		d.CPU.Note = d.RSS.Note
	}
	return reportTemplate.Execute(w, d)
}

// axisTop is the top of the time axis lineChart draws for xs.
func axisTop(xs []float64) float64 {
	hi := 1.0
	for _, x := range xs {
		hi = max(hi, x)
	}
	_, top := axis(hi)
	return top
}

// percentile is the p-th of sorted (p = 1: the largest), as latencies
// takes it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(int(p*float64(len(sorted))), len(sorted)-1)]
}

// sharesChart draws each role's dominant share (solid) and DRF share
// (dashed, same colour) over time, for the maxRoleLines roles with the
// largest errors, and returns a note saying what is left out and the
// table of the roles (at most maxRoleRows, largest error first).
func sharesChart(r *result, xs []float64, col func(func(sample) float64) []float64) (chart, string, []roleRow) {
	n := len(r.roles)
	rows := make([]roleRow, n)
	for i := range n {
		var sum, sumDRF, maxErr float64
		k := 0
		for _, s := range r.samples {
			if !s.all || i >= len(s.fair.shares) {
				continue
			}
			sum += s.fair.shares[i]
			sumDRF += s.fair.drf[i]
			maxErr = max(maxErr, math.Abs(s.fair.shares[i]-s.fair.drf[i]))
			k++
		}
		rows[i] = roleRow{Name: r.roles[i], Weight: strconv.FormatFloat(r.weights[i], 'g', -1, 64),
			MeanShare: "-", MeanDRF: "-", MaxErr: "-", maxErr: maxErr}
		if k > 0 {
			rows[i].MeanShare = fmt.Sprintf("%.2f%%", 100*sum/float64(k))
			rows[i].MeanDRF = fmt.Sprintf("%.2f%%", 100*sumDRF/float64(k))
			rows[i].MaxErr = fmt.Sprintf("%.2f%%", 100*maxErr)
		}
	}
	// Draw the roles with the largest errors, in profile order.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rows[b].maxErr, rows[a].maxErr) })
	drawn := order[:min(n, maxRoleLines)]
	slices.Sort(drawn)
	var ss []series
	for j, i := range drawn {
		color := palette[j%len(palette)]
		at := func(v func(fairness) []float64) func(sample) float64 {
			return func(s sample) float64 {
				if i >= len(v(s.fair)) {
					return math.NaN()
				}
				return 100 * v(s.fair)[i]
			}
		}
		ss = append(ss,
			series{name: r.roles[i], color: color, ys: col(at(func(f fairness) []float64 { return f.shares }))},
			series{name: r.roles[i] + " DRF", color: color, dashed: true, ys: col(at(func(f fairness) []float64 { return f.drf }))})
	}
	c := lineChart("Dominant share per role: actual (solid) and weighted DRF (dashed)", "time since the run started (s)", "% of the cluster", xs, ss)
	// One legend entry a role, and one for each line style.
	c.Legend = nil
	y := c.T + 8
	for j, i := range drawn {
		c.Legend = append(c.Legend, legendItem{Y: y, Name: clip(r.roles[i]), Color: palette[j%len(palette)]})
		y += 18
	}
	c.Legend = append(c.Legend, legendItem{Y: y + 8, Name: "actual share", Color: "#555"},
		legendItem{Y: y + 26, Name: "DRF share", Color: "#555", Dashed: true})
	slices.SortStableFunc(rows, func(a, b roleRow) int { return cmp.Compare(b.maxErr, a.maxErr) })
	note := ""
	switch {
	case n > maxRoleRows:
		note = fmt.Sprintf("Of %d roles, the chart draws the %d and the table lists the %d with the largest errors.", n, len(drawn), maxRoleRows)
		rows = rows[:maxRoleRows]
	case n > len(drawn):
		note = fmt.Sprintf("Of %d roles, the chart draws the %d with the largest errors; the table lists all.", n, len(drawn))
	}
	return c, note, rows
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"add":  func(a, b float64) float64 { return round1(a + b) },
	"sub":  func(a, b float64) float64 { return round1(a - b) },
	"mid":  func(a, b float64) float64 { return round1((a + b) / 2) },
	"half": func(a float64) float64 { return round1(a / 2) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>loadgen report: {{.Profile}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 980px; padding: 0 12px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
p.meta { color: #555; margin: 2px 0; }
code { background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
.verdict { font-weight: bold; padding: 6px 10px; border-radius: 4px; display: inline-block; margin: 10px 0; }
.pass { background: #e6f4e6; color: #1d5e1d; }
.fail { background: #fbe3e3; color: #8a1c1c; }
table { border-collapse: collapse; margin: 6px 0; font-size: 14px; }
td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f7f7f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; margin: 8px 0; }
svg text { font-size: 12px; fill: #333; font-family: inherit; }
svg .title { font-size: 14px; font-weight: bold; }
svg .plot { fill: #fff; stroke: #999; }
svg .grid { stroke: #e6e6e6; }
svg .xtick { text-anchor: middle; }
svg .ytick { text-anchor: end; dominant-baseline: middle; }
svg .axis { text-anchor: middle; fill: #555; }
svg .series { fill: none; stroke-width: 2; }
svg .mark { stroke: #888; stroke-dasharray: 2 3; }
svg .note { text-anchor: middle; fill: #888; font-size: 14px; }
svg .value { text-anchor: middle; font-size: 11px; }
p.note { color: #555; font-size: 13px; margin: 2px 0 8px; }
</style>
</head>
<body>
<h1>loadgen report: {{.Profile}}</h1>
{{with .Description}}<p class="meta">{{.}}</p>{{end}}
<p class="meta">Command: <code>{{.Command}}</code></p>
<p class="meta">Finished {{.Finished}}</p>
{{if .Failed}}<div class="verdict fail">FAIL: an invariant broke (lost or duplicated updates, or an error below)</div>
{{else}}<div class="verdict pass">PASS: no lost or duplicated status updates, no errors</div>
{{end}}{{range .Errors}}<pre>{{.}}</pre>
{{end}}{{if .Notes}}<p class="meta">Not run as the profile asks:</p>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
{{end}}
<h2>Summary</h2>
<table>
{{range .Rows}}<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{end}}</table>

<h2>Throughput</h2>
{{template "chart" .Throughput}}
{{template "chart" .Running}}

<h2>Fairness</h2>
<p class="note">A role's dominant share is its largest share of the cluster's cpus or mem, counting the tasks its frameworks have launched and not seen end. Its DRF share is what weighted DRF (progressive filling) would give it for what its frameworks want now. The summary's fairness error counts only the samples after the dotted line, once every framework had subscribed.</p>
{{template "chart" .Shares}}
{{with .SharesNote}}<p class="note">{{.}}</p>{{end}}
<table>
<tr><th>role</th><th>weight</th><th>mean share</th><th>mean DRF share</th><th>max |error|</th></tr>
{{range .Roles}}<tr><td>{{.Name}}</td><td class="num">{{.Weight}}</td><td class="num">{{.MeanShare}}</td><td class="num">{{.MeanDRF}}</td><td class="num">{{.MaxErr}}</td></tr>
{{end}}</table>
{{template "chart" .Fairness}}

<h2>Latency</h2>
{{if .Percentiles}}<table>
<tr>{{range .Percentiles}}<th>{{.Key}}</th>{{end}}</tr>
<tr>{{range .Percentiles}}<td class="num">{{.Value}}</td>{{end}}</tr>
</table>{{end}}
{{template "chart" .Latency}}

<h2>Master</h2>
{{template "chart" .RSS}}
{{template "chart" .CPU}}
</body>
</html>
{{define "chart"}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}">
<text x="{{.L}}" y="22" class="title">{{.Title}}</text>
<rect x="{{.L}}" y="{{.T}}" width="{{sub .R .L}}" height="{{sub .B .T}}" class="plot"/>
{{range .YTicks}}<line x1="{{$.L}}" x2="{{$.R}}" y1="{{.Pos}}" y2="{{.Pos}}" class="grid"/><text x="{{sub $.L 6}}" y="{{.Pos}}" class="ytick">{{.Label}}</text>
{{end}}{{range .XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.B}}" y2="{{add $.B 4}}" stroke="#999"/><text x="{{.Pos}}" y="{{add $.B 18}}" class="xtick">{{.Label}}</text>
{{end}}{{with .XLabel}}<text x="{{mid $.L $.R}}" y="{{add $.B 38}}" class="axis">{{.}}</text>
{{end}}<text transform="translate(16 {{mid $.T $.B}}) rotate(-90)" class="axis">{{.YLabel}}</text>
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"/><text x="{{add .X (half .W)}}" y="{{sub .Y 5}}" class="value">{{.Value}}</text>
{{end}}{{range .Lines}}<path d="{{.D}}" class="series" stroke="{{.Color}}"{{if .Dashed}} stroke-dasharray="6 4"{{end}}><title>{{.Name}}</title></path>
{{end}}{{range .Marks}}<line x1="{{.X}}" x2="{{.X}}" y1="{{$.T}}" y2="{{$.B}}" class="mark"/><text x="{{add .X 4}}" y="{{add $.T 14}}">{{.Label}}</text>
{{end}}{{range .Legend}}<line x1="{{add $.R 14}}" x2="{{add $.R 40}}" y1="{{.Y}}" y2="{{.Y}}" stroke="{{.Color}}" stroke-width="2"{{if .Dashed}} stroke-dasharray="6 4"{{end}}/><text x="{{add $.R 46}}" y="{{add .Y 4}}">{{.Name}}</text>
{{end}}{{with .Note}}<text x="{{mid $.L $.R}}" y="{{mid $.T $.B}}" class="note">{{.}}</text>
{{end}}</svg>{{end}}`))
