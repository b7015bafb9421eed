package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
		root, err := moduleRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		bin.dir = dir
		bin.masterd = filepath.Join(dir, "masterd")
		bin.agentd = filepath.Join(dir, "agentd")
		bin.customexec = filepath.Join(dir, "customexec")
		for _, b := range []struct{ out, pkg string }{
			{bin.masterd, "./masterd"}, {bin.agentd, "./agentd"}, {bin.customexec, "./masterd/e2e/testdata/customexec"},
		} {
			args := []string{"build", "-o", b.out}
			if raceEnabled {
				args = append(args, "-race")
			}
			cmd := exec.Command("go", append(args, b.pkg)...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b.pkg, err, out)
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

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the meseta module")
	}
	return filepath.Dir(mod), nil
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
