package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"meseta/core/daemon/launch"
)

// bin holds the binaries built once for the whole run.
var bin struct {
	dir, masterd, agentd, customexec string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meseta-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		bin.dir = dir
		bin.masterd = filepath.Join(dir, "masterd")
		bin.agentd = filepath.Join(dir, "agentd")
		bin.customexec = filepath.Join(dir, "customexec")
		for _, b := range []struct{ out, pkg string }{
			{bin.masterd, "./masterd"}, {bin.agentd, "./agentd"}, {bin.customexec, "./masterd/e2e/testdata/customexec"},
		} {
			if err := launch.Build(b.out, b.pkg, launch.Race); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		code := m.Run()
		if err := stopZK(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		return code
	}()
	os.Exit(code)
}

// TestIsolationMode states which isolation mode the agents of this run
// use, as the issue asks the suite to say.
func TestIsolationMode(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	st := getJSON(t, "http://"+c.agents[0].addr+"/state")
	mode, _ := st["isolation"].(string)
	if mode == "" {
		t.Fatalf("agent /state has no isolation mode: %v", st)
	}
	t.Logf("agents run tasks with isolation mode %q (v1/v2: cgroup cpu and memory limits; none: no limits)", mode)
}
