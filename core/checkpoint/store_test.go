package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// TestRoundTrip: every record kind survives Close, Open and Recover.
func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "work", "meta") // Open creates it
	s := openStore(t, dir)
	populate(t, s)
	s = reopen(t, s)
	checkState(t, recoverStrict(t, s), populated())
}

func TestEmpty(t *testing.T) {
	s := openStore(t, t.TempDir())
	checkState(t, recoverStrict(t, s), State{
		Frameworks: map[string]FrameworkRecord{},
		Updates:    map[[2]string][]agentapi.StatusUpdate{},
	})
	if got := keys(t, s); !slices.Equal(got, []string{"meta/format"}) {
		t.Fatalf("keys of a new store: %q", got)
	}
}

// TestPutReplaces: a second Put of the same ids replaces the record.
func TestPutReplaces(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	a := agentRec("a1")
	a.BootID = "other"
	must(t, s.SetAgent(a))
	e := executorRec("f1", "e1")
	e.PID = 99
	must(t, s.PutExecutor(e))
	tk := taskRec("f1", "e1", "t2", mesos.TaskFinished)
	must(t, s.PutTask(tk))

	want := populated()
	want.Agent = &a
	want.Executors[0] = e
	want.Tasks[1] = tk
	checkState(t, recoverStrict(t, reopen(t, s)), want)
}

// TestUpdateStream: updates come back in append order; AckUpdate takes
// only the head.
func TestUpdateStream(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s) // t1 has u1, u2 pending
	must(t, s.AppendUpdate(update("f1", "t1", 3, mesos.TaskFinished)))
	must(t, s.AckUpdate("f1", "t1", uuid(1)))
	s = reopen(t, s)
	want := []agentapi.StatusUpdate{update("f1", "t1", 2, mesos.TaskRunning), update("f1", "t1", 3, mesos.TaskFinished)}
	if got := recoverStrict(t, s).Updates[[2]string{"f1", "t1"}]; !reflect.DeepEqual(got, want) {
		t.Fatalf("after one ack: %+v\nwant %+v", got, want)
	}

	before := keys(t, s)
	for _, c := range []struct {
		task string
		uuid []byte
	}{
		{"t1", uuid(3)}, // pending, but not the head
		{"t1", uuid(1)}, // already acknowledged
		{"t2", uuid(1)}, // a task without pending updates
		{"t9", uuid(1)}, // an unknown task
	} {
		err := s.AckUpdate("f1", c.task, c.uuid)
		if !errors.Is(err, ErrNotHead) {
			t.Fatalf("ack %s of %s: %v, want ErrNotHead", c.uuid, c.task, err)
		}
	}
	if after := keys(t, s); !slices.Equal(after, before) {
		t.Fatalf("refused acks changed the keys:\n%q\n%q", before, after)
	}

	// A duplicate append (same uuid pending) changes nothing.
	must(t, s.AppendUpdate(update("f1", "t1", 2, mesos.TaskRunning)))
	if after := keys(t, s); !slices.Equal(after, before) {
		t.Fatalf("a duplicate append changed the keys:\n%q\n%q", before, after)
	}

	// Emptying a stream and appending again restarts it.
	must(t, s.AckUpdate("f1", "t1", uuid(2)))
	must(t, s.AckUpdate("f1", "t1", uuid(3)))
	must(t, s.AppendUpdate(update("f1", "t1", 4, mesos.TaskKilled)))
	want = []agentapi.StatusUpdate{update("f1", "t1", 4, mesos.TaskKilled)}
	if got := recoverStrict(t, s).Updates[[2]string{"f1", "t1"}]; !reflect.DeepEqual(got, want) {
		t.Fatalf("after emptying and one append: %+v", got)
	}
}

// TestSequenceOrder: more than 16 updates (the sequence number's hex
// turns over a digit) and more than 256 stay in order.
func TestSequenceOrder(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	must(t, s.AckUpdate("f1", "t1", uuid(1)))
	must(t, s.AckUpdate("f1", "t1", uuid(2)))
	for i := range 300 {
		must(t, s.AppendUpdate(update("f1", "t2", i, mesos.TaskRunning)))
	}
	got := recoverStrict(t, reopen(t, s)).Updates[[2]string{"f1", "t2"}]
	if len(got) != 300 {
		t.Fatalf("%d updates, want 300", len(got))
	}
	for i, u := range got {
		if string(u.Status.UUID) != string(uuid(i)) {
			t.Fatalf("update %d has uuid %s", i, u.Status.UUID)
		}
	}
}

// TestRemove: each Remove takes everything under what it removes, and
// nothing else, even for ids that are prefixes of one another or hold a
// '/'.
func TestRemove(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	// Neighbours of f1 whose escaped ids share its prefix or sort next to it.
	for _, fw := range []string{"f1/x", "f10", "f1%", "f"} {
		must(t, s.PutFramework(frameworkRec(fw)))
		must(t, s.PutExecutor(executorRec(fw, "e1")))
		must(t, s.PutTask(taskRec(fw, "e1", "t1", mesos.TaskRunning)))
		must(t, s.AppendUpdate(update(fw, "t1", 1, mesos.TaskRunning)))
	}
	// A second executor of f1 with a task, for RemoveExecutor.
	must(t, s.PutExecutor(executorRec("f1", "e2")))
	must(t, s.PutTask(taskRec("f1", "e2", "t3", mesos.TaskRunning)))
	must(t, s.AppendUpdate(update("f1", "t3", 1, mesos.TaskRunning)))

	// RemoveTask: t1 and its two updates.
	must(t, s.RemoveTask("f1", "t1"))
	st := recoverStrict(t, s)
	if _, ok := st.Updates[[2]string{"f1", "t1"}]; ok || len(st.Tasks) != 2+4 {
		t.Fatalf("after RemoveTask: %d tasks, updates %v", len(st.Tasks), st.Updates)
	}

	// RemoveExecutor: e2 with t3 and its update; e1 and t2 stay.
	must(t, s.RemoveExecutor("f1", "e2"))
	st = recoverStrict(t, s)
	for _, tk := range st.Tasks {
		if tk.FrameworkID == "f1" && tk.Info.TaskID.Value != "t2" {
			t.Fatalf("after RemoveExecutor f1/e2: task %+v", tk)
		}
	}
	if _, ok := st.Updates[[2]string{"f1", "t3"}]; ok {
		t.Fatal("after RemoveExecutor f1/e2: t3's updates remain")
	}

	// RemoveFramework: nothing of f1 is left; the neighbours are whole.
	must(t, s.RemoveFramework("f1"))
	for _, k := range keys(t, s) {
		if k == "framework/f1" || strings.HasPrefix(k, "framework/f1/") {
			t.Fatalf("after RemoveFramework f1: key %q remains", k)
		}
	}
	s = reopen(t, s)
	st = recoverStrict(t, s)
	if len(st.Frameworks) != 4 || len(st.Executors) != 4 || len(st.Tasks) != 4 || len(st.Updates) != 4 {
		t.Fatalf("after RemoveFramework f1, the neighbours are not whole: %+v", st)
	}
	if _, ok := st.Frameworks["f1"]; ok {
		t.Fatal("f1 recovered")
	}

	// Removing what is not there is not an error.
	must(t, s.RemoveFramework("f1"))
	must(t, s.RemoveExecutor("nope", "nope"))
	must(t, s.RemoveTask("nope", "nope"))
}

// TestWriteChecks: the store refuses records that strict recovery would
// reject, and writes nothing for them.
func TestWriteChecks(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	before := keys(t, s)
	noUUID := update("f1", "t1", 1, mesos.TaskRunning)
	noUUID.Status.UUID = nil
	badState := taskRec("f1", "e1", "t3", "TASK_SLEEPING")
	otherFw := executorRec("f1", "e3")
	otherFw.Info.FrameworkID = mesos.NewID("f2")
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"agent without id", s.SetAgent(AgentRecord{}), ErrBadRecord},
		{"agent ids disagree", s.SetAgent(AgentRecord{AgentID: "a2", Info: agentRec("a1").Info}), ErrBadRecord},
		{"framework without id", s.PutFramework(FrameworkRecord{}), ErrBadRecord},
		{"executor without id", s.PutExecutor(ExecutorRecord{FrameworkID: "f1"}), ErrBadRecord},
		{"executor ids disagree", s.PutExecutor(otherFw), ErrBadRecord},
		{"executor of unknown framework", s.PutExecutor(executorRec("f2", "e1")), ErrUnknownFramework},
		{"task with a bad state", s.PutTask(badState), ErrBadRecord},
		{"task without executor id", s.PutTask(taskRec("f1", "", "t3", mesos.TaskRunning)), ErrBadRecord},
		{"task of unknown executor", s.PutTask(taskRec("f1", "e9", "t3", mesos.TaskRunning)), ErrUnknownExecutor},
		{"update without uuid", s.AppendUpdate(noUUID), ErrBadRecord},
		{"update of unknown task", s.AppendUpdate(update("f1", "t9", 1, mesos.TaskRunning)), ErrUnknownTask},
		// JSON would turn bytes that are not UTF-8 into U+FFFD.
		{"framework id not UTF-8", s.PutFramework(frameworkRec("f\xff")), ErrBadRecord},
		{"executor id not UTF-8", s.PutExecutor(executorRec("f1", "e\xff")), ErrBadRecord},
		{"task id not UTF-8", s.PutTask(taskRec("f1", "e1", "t\xff", mesos.TaskRunning)), ErrBadRecord},
		{"agent id not UTF-8", s.SetAgent(AgentRecord{AgentID: "a\xff"}), ErrBadRecord},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if after := keys(t, s); !slices.Equal(after, before) {
		t.Fatalf("refused writes changed the keys:\n%q\n%q", before, after)
	}
}

// TestIDEscaping: ids with any bytes round-trip, and keys stay one
// component per id.
func TestIDEscaping(t *testing.T) {
	s := openStore(t, t.TempDir())
	ids := []string{"a/b", "100%", "spaces and\ttabs", "ünïcødé", "../..", "a%2Fb", "-._~:@+=,", "\x00\u00ff"}
	for _, id := range ids {
		must(t, s.PutFramework(frameworkRec(id)))
		must(t, s.PutExecutor(executorRec(id, id)))
		must(t, s.PutTask(taskRec(id, id, id, mesos.TaskRunning)))
		must(t, s.AppendUpdate(update(id, id, 1, mesos.TaskRunning)))
	}
	s = reopen(t, s)
	st := recoverStrict(t, s)
	if len(st.Frameworks) != len(ids) || len(st.Executors) != len(ids) || len(st.Tasks) != len(ids) || len(st.Updates) != len(ids) {
		t.Fatalf("recovered %d frameworks, %d executors, %d tasks, %d streams; want %d each",
			len(st.Frameworks), len(st.Executors), len(st.Tasks), len(st.Updates), len(ids))
	}
	for _, id := range ids {
		if _, ok := st.Updates[[2]string{id, id}]; !ok {
			t.Errorf("no updates for %q", id)
		}
	}
	for _, k := range keys(t, s) {
		if n := strings.Count(k, "/"); n > 5 {
			t.Errorf("key %q has %d slashes", k, n)
		}
	}
}

func TestParseKey(t *testing.T) {
	good := []string{
		"meta/format", "agent", "resources", "framework/f", "framework/a%2Fb", "framework/f/executor/e",
		"framework/f/task/t", "framework/f/task/t/update/00000000000000ff",
	}
	for _, k := range good {
		pk, err := parseKey(k)
		if err != nil {
			t.Errorf("parseKey(%q): %v", k, err)
		} else if pk.String() != k {
			t.Errorf("parseKey(%q).String() = %q", k, pk.String())
		}
	}
	bad := []string{
		"", "meta/other", "agent/x", "resources/x", "framework", "framework/", "framework/f/", "framework//executor/e",
		"framework/f/executor", "framework/f/job/j", "framework/f/executor/e/task/t",
		"framework/a%2fb", // lowercase hex
		"framework/a%41",  // needlessly escaped 'A'
		"framework/a%2",   // cut short
		"framework/a b",   // unescaped space
		"framework/f/task/t/update/ff", "framework/f/task/t/update/00000000000000FF",
		"framework/f/task/t/update/00000000000000fg", "framework/f/task/t/update/00000000000000ff/x",
	}
	for _, k := range bad {
		if pk, err := parseKey(k); err == nil {
			t.Errorf("parseKey(%q) = %+v, want an error", k, pk)
		}
	}
}

// TestReset: everything is gone but the format version; the store works
// on.
func TestReset(t *testing.T) {
	s := openStore(t, t.TempDir())
	must(t, s.Reset()) // of an empty store
	populate(t, s)
	setRaw(t, s, "zzz/garbage", []byte("x")) // past every layout key
	setRaw(t, s, "\x00first", []byte("x"))   // before them
	setRaw(t, s, "", []byte("x"))            // the empty key
	must(t, s.Reset())
	s = reopen(t, s)
	if got := keys(t, s); !slices.Equal(got, []string{"meta/format"}) {
		t.Fatalf("keys after Reset: %q", got)
	}
	if st := recoverStrict(t, s); st.Agent != nil || len(st.Frameworks)+len(st.Executors)+len(st.Tasks)+len(st.Updates) != 0 {
		t.Fatalf("state after Reset: %+v", st)
	}
	populate(t, s)
	checkState(t, recoverStrict(t, reopen(t, s)), populated())
}

// TestFormatVersion: another version, or none in a non-empty database, is
// refused by Recover (strict or not) and by writes; Reset makes the
// store usable again.
func TestFormatVersion(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(s *Store)
		want   string
	}{
		{"version 3", func(s *Store) { setRaw(t, s, keyFormat, []byte("3")) },
			`holds checkpoint format version "3"; this build reads versions "1" and "2"`},
		{"no version", func(s *Store) {
			s.mu.Lock()
			defer s.mu.Unlock()
			must(t, s.db.Delete([]byte(keyFormat), nil))
		}, `has no "meta/format" key: not a checkpoint`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			populate(t, s)
			c.tamper(s)
			s = reopen(t, s)
			for _, strict := range []bool{true, false} {
				_, err := s.Recover(strict)
				if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Recover(%v): %v, want ErrFormat with %q", strict, err, c.want)
				}
			}
			if err := s.PutFramework(frameworkRec("f2")); !errors.Is(err, ErrFormat) {
				t.Fatalf("PutFramework: %v, want ErrFormat", err)
			}
			if err := s.AckUpdate("f1", "t1", uuid(1)); !errors.Is(err, ErrFormat) {
				t.Fatalf("AckUpdate: %v, want ErrFormat", err)
			}
			if len(keys(t, s)) < 2 {
				t.Fatal("Keys does not list the foreign database")
			}
			must(t, s.Reset())
			populate(t, s)
			checkState(t, recoverStrict(t, reopen(t, s)), populated())
		})
	}
}

func TestClosed(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	must(t, s.Close())
	must(t, s.Close())
	_, rerr := s.Recover(false)
	_, kerr := s.Keys()
	for i, err := range []error{
		s.SetAgent(agentRec("a1")), s.PutFramework(frameworkRec("f1")), s.RemoveFramework("f1"),
		s.PutExecutor(executorRec("f1", "e1")), s.RemoveExecutor("f1", "e1"),
		s.PutTask(taskRec("f1", "e1", "t1", mesos.TaskRunning)), s.RemoveTask("f1", "t1"),
		s.AppendUpdate(update("f1", "t1", 3, mesos.TaskRunning)), s.AckUpdate("f1", "t1", uuid(1)),
		s.Reset(), rerr, kerr,
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
		}
	}
}

// TestLocked: Pebble locks the directory while a store has it open.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("a second Open of an open directory succeeded")
	}
	must(t, s.Close())
	openStore(t, dir)
}

// TestConcurrent: goroutines appending and acknowledging on their own
// tasks, and one recovering meanwhile (run it with -race). Every stream
// ends with exactly its unacknowledged updates, in order.
func TestConcurrent(t *testing.T) {
	s := openStore(t, t.TempDir())
	must(t, s.PutFramework(frameworkRec("f1")))
	must(t, s.PutExecutor(executorRec("f1", "e1")))
	const workers, perWorker = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		task := fmt.Sprintf("t%d", w)
		must(t, s.PutTask(taskRec("f1", "e1", task, mesos.TaskRunning)))
		wg.Go(func() {
			for i := range perWorker {
				if err := s.AppendUpdate(update("f1", task, i, mesos.TaskRunning)); err != nil {
					errs <- err
					return
				}
				if i%2 == 1 { // ack the head: u0 after u1 is appended, u1 after u3, ...
					if err := s.AckUpdate("f1", task, uuid((i-1)/2)); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := s.Recover(true); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := recoverStrict(t, reopen(t, s))
	for w := range workers {
		got := st.Updates[[2]string{"f1", fmt.Sprintf("t%d", w)}]
		if len(got) != perWorker/2 {
			t.Fatalf("worker %d: %d updates left, want %d", w, len(got), perWorker/2)
		}
		for j, u := range got {
			if want := uuid(perWorker/2 + j); string(u.Status.UUID) != string(want) {
				t.Fatalf("worker %d: update %d is %s, want %s", w, j, u.Status.UUID, want)
			}
		}
	}
}

func TestBootID(t *testing.T) {
	if _, err := os.Stat(bootIDPath); err != nil {
		t.Skip("no", bootIDPath)
	}
	id, err := BootID()
	must(t, err)
	again, err := BootID()
	must(t, err)
	if len(id) != 36 || id != again {
		t.Fatalf("BootID() = %q, then %q", id, again)
	}
	empty := filepath.Join(t.TempDir(), "boot_id")
	must(t, os.WriteFile(empty, []byte("\n"), 0o644))
	if _, err := readBootID(empty); err == nil {
		t.Fatal("an empty boot id file gave no error")
	}
}
