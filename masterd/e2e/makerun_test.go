package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meseta/core/daemon/launch"
	"meseta/core/mesos"
)

// TestMakeRun is acceptance 8: `make run`, as the README gives it, brings
// up a master and three agents, prints the API and UI addresses and an
// example curl, and stops everything on Ctrl-C (SIGINT to its process
// group, as a terminal sends it).
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemons with make; skipped with -short")
	}
	root, err := launch.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil || !strings.Contains(string(readme), "make run") {
		t.Fatalf("README.md does not give `make run`: %v", err)
	}
	work := t.TempDir()
	// The README's make run uses a relative work dir (.meseta): give a
	// relative one too, as command tasks once failed to start from one.
	rel, err := filepath.Rel(root, work)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "run", "RUNFLAGS=--work_dir="+rel+" --master_port=0 --agent_port=0")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		// The daemons run in their own process groups: after a failure
		// before Ctrl-C, find them by their work directory as their
		// command lines give it.
		for _, pid := range processesWith(rel) {
			if n, err := strconv.Atoi(pid); err == nil {
				_ = syscall.Kill(n, syscall.SIGKILL)
			}
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	apiRE := regexp.MustCompile(`API:\s+http://([0-9.:]+)/api/v1/scheduler`)
	var api string
	var sawUI, sawCurl bool
	deadline := time.After(5 * time.Minute) // a cold build of the daemons takes a while
	for api == "" || !sawUI || !sawCurl {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("make run ended before printing the API address")
			}
			if m := apiRE.FindStringSubmatch(l); m != nil {
				api = m[1]
			}
			sawUI = sawUI || strings.Contains(l, "UI:")
			sawCurl = sawCurl || strings.Contains(l, "curl")
		case <-deadline:
			t.Fatal("make run printed no API address within 5 minutes")
		}
	}
	st := getJSON(t, "http://"+api+"/master/state")
	if n := num(st["activated_slaves"]); n != 3 {
		t.Fatalf("make run: %v active agents, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(work, "master", "registry")); err != nil {
		t.Fatalf("no Pebble registry under the work dir: %v", err)
	}
	// The tour's task: a command task runs to completion.
	f := subscribe(t, api, newFrameworkInfo("makerun"))
	offers := f.nextOffers(30 * time.Second)
	f.launch(offers[0], []mesos.TaskInfo{commandTask("hello", offers[0], "cpus:0.1;mem:32", "echo hello")}, 0)
	f.waitState("hello", mesos.TaskFinished, 30*time.Second)
	f.close()
	// The daemons are found by their work directory (so that the check
	// after Ctrl-C means something): a master and three agents.
	if n := len(processesWith(rel)); n < 4 {
		t.Fatalf("%d processes name %s on their command line, want the master and 3 agents", n, rel)
	}
	// Ctrl-C: everything stops, cleanly and in time.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("make run did not stop within 30s of Ctrl-C")
	}
	if err := syscall.Kill(-cmd.Process.Pid, 0); err == nil {
		t.Fatal("processes of make run are still alive after Ctrl-C")
	}
	// The daemons run in their own process groups: find them by their
	// work directory on the command line (relative, as given).
	eventually(t, 20*time.Second, "the daemons of make run gone", func() bool {
		return len(processesWith(rel)) == 0
	})
}
