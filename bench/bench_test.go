package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessEndToEnd runs the harness on a tiny profile (the shipped
// small one is too slow under -race) and checks the table has a row per
// scenario with figures for both engines.
func TestHarnessEndToEnd(t *testing.T) {
	profile := `{"name":"tiny","description":"test","cluster":{"agents":20,"agent_resources":"cpus:4;mem:1024;ports:[31000-31010]"},
	"frameworks":[{"kind":"greedy","count":2,"role":"q%d","guarantee":"cpus:2","limit":"cpus:8"}],
	"bench":{"scenarios":["decline","quota","incremental","churn","memory"],"grid":[{"agents":20,"frameworks":4}],
	"incremental":{"agents":20,"frameworks":4},"events":200,"memory_agents":100,"memory_frameworks":10}}`
	file := filepath.Join(t.TempDir(), "tiny.json")
	if err := os.WriteFile(file, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run([]string{"-profile", file, "-count", "1"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	table := out.String()
	for _, want := range []string{
		"decline first cycle agents=20/frameworks=4",
		"decline filtered cycle agents=20/frameworks=4",
		"quota first cycle agents=20/roles=2",
		"recovered-to-offered p99 agents=20/frameworks=4",
		"churn GOMAXPROCS=2",
		"memory per agent at 100 agents",
	} {
		line := ""
		for l := range strings.SplitSeq(table, "\n") {
			if strings.Contains(l, want) {
				line = l
			}
		}
		if line == "" {
			t.Errorf("no row %q in:\n%s", want, table)
			continue
		}
		if strings.Count(line, "|  -|") > 0 || strings.Contains(line, "skipped") {
			t.Errorf("row %q lacks a figure: %s", want, line)
		}
	}
}

func TestHarnessFlagErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-count", "0"}, "-count"},
		{[]string{"-impl", "fast"}, "-impl"},
		{[]string{"-profile", "nope"}, "-profile"},
		{[]string{"-bogus"}, "bogus"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var out, errs bytes.Buffer
		if code := run(tc.args, &out, &errs); code != 2 || !strings.Contains(errs.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and a message naming %q", tc.args, code, errs.String(), tc.want)
		}
	}
}
