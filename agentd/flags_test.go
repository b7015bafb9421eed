package main

import (
	"runtime"
	"testing"

	"meseta/core"
)

// TestDefaultResources: without --resources the agent offers what the
// machine has plus ports:[31000-32000], as Mesos does; names that
// --resources leaves out are detected, and a name it gives is kept.
func TestDefaultResources(t *testing.T) {
	ports := core.MustParseResources("ports:[31000-32000]")
	for _, tc := range []struct {
		resources string
		want      core.Resources // must be contained in the total
		wantCPUs  float64
	}{
		{"", ports, float64(runtime.NumCPU())},
		{"cpus:2;mem:512", core.MustParseResources("cpus:2;mem:512;ports:[31000-32000]"), 2},
		{"ports:[8000-8001]", core.MustParseResources("ports:[8000-8001]"), float64(runtime.NumCPU())},
	} {
		args := []string{"--master=127.0.0.1:5050", "--work_dir=" + t.TempDir()}
		if tc.resources != "" {
			args = append(args, "--resources="+tc.resources)
		}
		cfg, err := parseFlags(args, func(string) string { return "" })
		if err != nil {
			t.Fatalf("--resources=%q: %v", tc.resources, err)
		}
		total, err := cfg.totalResources()
		if err != nil {
			t.Fatalf("--resources=%q: %v", tc.resources, err)
		}
		if !total.Contains(tc.want) || total.ScalarValue("cpus").Float() != tc.wantCPUs ||
			total.ScalarValue("mem").Float() <= 0 || total.ScalarValue("disk").Float() <= 0 {
			t.Errorf("--resources=%q: total %s, want cpus %v, mem and disk detected, and %s", tc.resources, total, tc.wantCPUs, tc.want)
		}
		if tc.resources == "ports:[8000-8001]" && total.Contains(ports) {
			t.Errorf("--resources=%q: total %s also has the default ports", tc.resources, total)
		}
	}
}
