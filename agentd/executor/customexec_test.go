package executor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"meseta/core/mesos"
)

// TestCustomExecutor builds masterd/e2e/testdata/customexec, a
// third-party executor that uses nothing but the documented HTTP API, and
// runs it against the same fake agent as the built-in executors: what
// the fake agent accepts, a real agent should accept too.
func TestCustomExecutor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	// The module root, from the package directory go test runs us in.
	// (./... skips testdata directories; an explicit path builds.)
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD: %q, %v", gomod, err)
	}
	bin := filepath.Join(t.TempDir(), "customexec")
	build := exec.Command(goTool, "build", "-o", bin, "./masterd/e2e/testdata/customexec")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// runExec starts the binary against fa and returns a wait function.
	runExec := func(t *testing.T, fa *fakeAgent) (sandbox string, wait func() int) {
		sandbox = t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = append(os.Environ(),
			EnvAgentEndpoint+"="+fa.endpoint(), EnvFrameworkID+"=fw-1", EnvExecutorID+"=custom-1", EnvSandbox+"="+sandbox)
		// A file, not a pipe: Wait must not wait for task processes
		// that inherited the executor's output.
		logPath := filepath.Join(t.TempDir(), "customexec.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer logFile.Close()
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cancel()
			<-done
			if t.Failed() {
				out, _ := os.ReadFile(logPath)
				t.Logf("customexec output:\n%s", out)
			}
		})
		return sandbox, func() int {
			select {
			case <-done:
				return cmd.ProcessState.ExitCode()
			case <-ctx.Done():
				t.Fatal("customexec did not exit")
				return -1
			}
		}
	}

	t.Run("finishes", func(t *testing.T) {
		t.Parallel()
		fa := newFakeAgent(t)
		sandbox, wait := runExec(t, fa)
		fa.push(t, launch(shellTask("custom-task", "echo hi > out.txt")))
		fa.waitState(t, "custom-task", mesos.TaskFinished)
		if code := wait(); code != 0 {
			t.Fatalf("exit code %d, want 0", code)
		}
		wantStates(t, fa, "custom-task", mesos.TaskRunning, mesos.TaskFinished)
		for _, u := range fa.allUpdates() {
			if len(u.UUID) != 16 || u.Source != mesos.SourceExecutor {
				t.Errorf("%s: uuid %x source %q", u.State, u.UUID, u.Source)
			}
		}
		for name, want := range map[string]string{"customexec.ran": "custom-task\n", "out.txt": "hi\n"} {
			if b, err := os.ReadFile(filepath.Join(sandbox, name)); string(b) != want {
				t.Errorf("%s: %q (%v), want %q", name, b, err, want)
			}
		}
	})

	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		fa := newFakeAgent(t)
		_, wait := runExec(t, fa)
		// Under a custom executor a task has no command; customexec runs
		// what its data holds, as the end-to-end tests use it.
		task := shellTask("custom-task", "")
		task.Command, task.Data = nil, []byte("sleep 100")
		fa.push(t, launch(task))
		fa.waitState(t, "custom-task", mesos.TaskRunning)
		fa.push(t, kill("custom-task"))
		fa.waitState(t, "custom-task", mesos.TaskKilled)
		if code := wait(); code != 0 {
			t.Fatalf("exit code %d, want 0", code)
		}
	})
}
