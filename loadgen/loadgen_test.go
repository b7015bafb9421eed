package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"meseta/core/daemon/launch"
)

// masterdBin is built once, with -race when the tests are.
var masterdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadgen-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if masterdBin, err = buildMasterd(dir, launch.Race); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// TestSmall runs the small profile end to end against a real masterd: 50
// simulated agents, 5 frameworks of every kind, 5 agents restarted at 5 s.
func TestSmall(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"-profile", "small", "-masterd", masterdBin}, &stdout, &stderr) }()
	select {
	case c := <-code:
		t.Logf("stderr:\n%s\nstdout:\n%s", &stderr, &stdout)
		if c != 0 {
			t.Fatalf("exit status %d", c)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the small profile did not finish within 60s")
	}
	out := stdout.String()
	for _, row := range []string{"run time", "agents", "frameworks", "offers/s", "accepts/s", "launches/s",
		"submit→RUNNING p50/p99/max", "master CPU", "master peak RSS", "fairness error mean/max", "updates acknowledged",
		"lost updates", "duplicated updates"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(row) + `  +\S`).MatchString(out) {
			t.Errorf("summary has no %q row", row)
		}
	}
	figure := func(row string) int {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(row) + `  +(\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no figure in the %q row", row)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if n := figure("lost updates"); n != 0 {
		t.Errorf("lost updates = %d, want 0", n)
	}
	if n := figure("duplicated updates"); n != 0 {
		t.Errorf("duplicated updates = %d, want 0", n)
	}
	if n := figure("tasks launched"); n < 10 {
		t.Errorf("tasks launched = %d, want some (at least 10)", n)
	}
	if n := figure("agents"); n != 50 {
		t.Errorf("agents = %d, want 50", n)
	}

	// The fairness error (fairness.go). Small's frameworks want at most
	// about 60 of the 1,200 cpus and 19 of the 200 GB at once, so nothing
	// is contended: every role's DRF share is its whole demand, and the
	// error of a sample is the demand the master has not yet met when it
	// is taken. The largest single demand is a greedy role's 200 tasks of
	// 32 MB: 3.1% of the mem; a picky role's 50 of 64 MB is 1.6%, a
	// bursty flood's 50 of 32 MB 0.8%. Measured on this machine (3 runs
	// with -race): mean 0.00%, max 0.00% every time, as the master offers
	// at once on SUBSCRIBE and REVIVE. The bounds leave room for a sample
	// to catch a flood or the picky role's declined offers in flight
	// (max 2%, under the greedy role's 3.1%, so a batch left waiting for
	// a second fails), and for that to happen in a few samples but not
	// most (mean 0.5%).
	m := regexp.MustCompile(`(?m)^fairness error mean/max  +(\d+\.\d+)% / (\d+\.\d+)% .*; (\d+) samples\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no fairness figures in the summary")
	}
	mean, _ := strconv.ParseFloat(m[1], 64)
	worst, _ := strconv.ParseFloat(m[2], 64)
	if n, _ := strconv.Atoi(m[3]); n < 5 {
		t.Errorf("fairness error over %d samples, want at least 5 of the 10 s run", n)
	}
	if mean > 0.5 || worst > 2 {
		t.Errorf("fairness error mean %.2f%%, max %.2f%%; want at most 0.5%% and 2%%", mean, worst)
	}
}

// TestUsageErrors checks that each usage error names what is wrong and
// exits 2 without starting anything.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "-bogus"},
		{[]string{"-profile", "small", "-duration", "soon"}, "-duration"},
		{[]string{"-profile", "small", "-duration", "-1s"}, "-duration"},
		{[]string{"-profile", "small", "-seed", "x"}, "-seed"},
		{[]string{}, "-profile is required"},
		{[]string{"-profile", "nope"}, `no profile "nope"`},
		{[]string{"-profile", "/nonexistent/p.json"}, "/nonexistent/p.json"},
		{[]string{"-profile", "mesos-grid"}, "no run section"},
		{[]string{"-profile", "failover", "-master", "127.0.0.1:1"}, "kills the leading master"},
		{[]string{"-profile", "small", "-master", "x:1", "-masterd", "y"}, "-master and -masterd"},
		{[]string{"-profile", "small", "-inprocess", "-master", "x:1"}, "-inprocess"},
		{[]string{"-profile", "small", "-inprocess", "-report", "x.html"}, "-inprocess"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if c := run(tc.args, &stdout, &stderr); c != 2 {
				t.Errorf("exit status %d, want 2", c)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, &stderr)
			}
		})
	}
}

// TestInProcess runs small against the allocator alone: every kind
// launches, picky declines, and the run ends on time.
func TestInProcess(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if c := run([]string{"-profile", "small", "-inprocess", "-duration", "2s"}, &stdout, &stderr); c != 0 {
		t.Fatalf("exit status %d:\n%s%s", c, &stdout, &stderr)
	}
	rows := map[string]float64{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			rows[strings.Join(f[:len(f)-1], " ")] = v
		}
	}
	// small wants 200+200+50+50 batch tasks and 10 service instances.
	if rows["tasks launched"] < 500 || rows["offers/s"] <= 0 || rows["declines/s"] <= 0 {
		t.Errorf("launched %v tasks, %v offers/s, %v declines/s; want at least 500 tasks, offers and declines:\n%s",
			rows["tasks launched"], rows["offers/s"], rows["declines/s"], &stdout)
	}
	if !strings.Contains(stderr.String(), "faults are not injected") {
		t.Errorf("no note about small's faults:\n%s", &stderr)
	}
}
