package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"meseta/core/daemon/launch"
)

// bin holds the daemons built once for the run (with -race when the
// tests have it).
var bin struct{ masterd, agentd string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meseta-synth-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		bin.masterd, bin.agentd = filepath.Join(dir, "masterd"), filepath.Join(dir, "agentd")
		for _, b := range []struct{ out, pkg string }{{bin.masterd, "./masterd"}, {bin.agentd, "./agentd"}} {
			if err := launch.Build(b.out, b.pkg, launch.Race); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// daemon starts path, waits for its "listening on" line and stops it
// with stopSig when the test ends; its stderr is shown on failure.
func daemon(t *testing.T, name, path string, stopSig syscall.Signal, args ...string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	addrc := launch.Addr(out)
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(stopSig)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		b, _ := os.ReadFile(logPath)
		if _, unknown := launch.RaceReports(b); unknown > 0 {
			t.Errorf("%s reported a data race", name)
		}
		if t.Failed() {
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- %s log ---\n%s", name, b)
		}
	})
	select {
	case addr := <-addrc:
		return addr
	case <-done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s exited before listening:\n%s", name, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s", name)
	}
	return ""
}

// cluster starts a masterd and n agentd (rack:r0, rack:r1, ...) and
// returns the master's address and the agents' ids by rack.
func cluster(t *testing.T, n int) (string, map[string]string) {
	t.Helper()
	master := daemon(t, "masterd", bin.masterd, syscall.SIGTERM,
		"--ip=127.0.0.1", "--port=0", "--registry=in_memory", "--allocation_interval=100ms", "--heartbeat_interval=1secs")
	for i := range n {
		// SIGUSR1: a full stop that kills the agent's executors too.
		daemon(t, fmt.Sprintf("agent%d", i), bin.agentd, syscall.SIGUSR1,
			"--master="+master, "--ip=127.0.0.1", "--port=0", "--work_dir="+t.TempDir(),
			"--resources=cpus:4;mem:2048", "--isolation=none", fmt.Sprintf("--attributes=rack:r%d", i),
			"--registration_backoff_factor=100ms", "--executor_shutdown_grace_period=1secs")
	}
	racks := map[string]string{}
	eventually(t, 20*time.Second, fmt.Sprintf("%d agents registered", n), func() bool {
		var st struct {
			Slaves []struct {
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"slaves"`
		}
		if getJSON("http://"+master+"/master/state", &st) != nil || len(st.Slaves) != n {
			return false
		}
		for _, s := range st.Slaves {
			racks[fmt.Sprint(s.Attributes["rack"])] = s.ID
		}
		return true
	})
	return master, racks
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func metric(t *testing.T, master, key string) float64 {
	t.Helper()
	var m map[string]float64
	if err := getJSON("http://"+master+"/metrics/snapshot", &m); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return m[key]
}
