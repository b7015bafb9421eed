package checkpoint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"meseta/core/mesos"
)

// childEnv, set to a directory, makes the test binary run crashChild
// instead of the tests (see TestMain).
const childEnv = "MESETA_CHECKPOINT_CRASH_CHILD_DIR"

// crashChild appends status updates to the store in dir forever (or
// until its stdout is closed), printing "appended <i>" after each
// AppendUpdate returned: a line means that update was synced.
func crashChild(dir string) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// PutFramework and PutTask are not synced; the synced PutExecutor and
	// the first AppendUpdate make them durable.
	for _, err := range []error{
		s.PutFramework(frameworkRec("f1")),
		s.PutExecutor(executorRec("f1", "e1")),
		s.PutTask(taskRec("f1", "e1", "t1", mesos.TaskRunning)),
	} {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	for i := range 100_000 {
		if err := s.AppendUpdate(update("f1", "t1", i, mesos.TaskRunning)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := fmt.Printf("appended %d\n", i); err != nil {
			return 1 // the parent is gone
		}
	}
	return 0
}

// TestCrashDurability: a child process appends updates; the parent
// SIGKILLs it once it has reported n synced appends, and finds at least
// those n, in order, in the store (recovered strictly: a torn write at the
// end of the WAL is not corruption).
func TestCrashDurability(t *testing.T) {
	const n = 100
	exe, err := os.Executable()
	must(t, err)
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())

	sc := bufio.NewScanner(out)
	seen := 0
	for seen < n && sc.Scan() {
		if want := fmt.Sprintf("appended %d", seen); sc.Text() != want {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q, want %q", sc.Text(), want)
		}
		seen++
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	if seen < n {
		t.Fatalf("child stopped after %d lines (%v, %v): %s", seen, sc.Err(), err, stderr.Bytes())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child was not killed by the signal: %v: %s", err, stderr.Bytes())
	}

	s := openStore(t, dir)
	st := recoverStrict(t, s)
	got := st.Updates[[2]string{"f1", "t1"}]
	if len(got) < n {
		t.Fatalf("%d updates survived the crash, the child reported %d synced", len(got), n)
	}
	for i, u := range got {
		if string(u.Status.UUID) != string(uuid(i)) {
			t.Fatalf("update %d has uuid %s, want %s", i, u.Status.UUID, uuid(i))
		}
	}
	t.Logf("%d updates reported, %d recovered", n, len(got))
}
