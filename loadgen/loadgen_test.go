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
		"submit→RUNNING p50/p99/max", "master CPU", "master peak RSS", "updates acknowledged",
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
		{[]string{"-profile", "failover"}, "not supported yet"},
		{[]string{"-profile", "small", "-master", "x:1", "-masterd", "y"}, "-master and -masterd"},
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
