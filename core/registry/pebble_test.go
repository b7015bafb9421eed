package registry

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func openPebble(t testing.TB, dir string) *Pebble {
	t.Helper()
	p, err := OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPebbleCreatesDir(t *testing.T) {
	dir := t.TempDir() + "/a/b/registry"
	p := openPebble(t, dir)
	checkState(t, p.State(), State{})
	if p.Dir() != dir {
		t.Fatalf("Dir() = %q", p.Dir())
	}
}

// TestPebbleLocked: the directory is locked while open.
func TestPebbleLocked(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, dir)
	if q, err := OpenPebble(dir); err == nil {
		q.Close()
		t.Fatal("second OpenPebble of an open directory succeeded")
	}
	p.Close()
	openPebble(t, dir)
}

// rawPebble opens dir as a bare Pebble database, to tamper with it.
func rawPebble(t *testing.T, dir string, f func(db *pebble.DB)) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	f(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPebbleRefuses(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(db *pebble.DB) error
		want   string
	}{
		{"unknown version", func(db *pebble.DB) error { return db.Set([]byte(keyFormat), []byte("2"), pebble.Sync) },
			`unsupported registry format version "2" (this build reads version "1")`},
		{"foreign database", func(db *pebble.DB) error {
			if err := db.Delete([]byte(keyFormat), pebble.Sync); err != nil {
				return err
			}
			return db.Set([]byte("something"), []byte("else"), pebble.Sync)
		}, "not a registry"},
		{"unknown key", func(db *pebble.DB) error { return db.Set([]byte("agent/other/x"), nil, pebble.Sync) },
			"not part of the registry layout"},
		{"bad applied", func(db *pebble.DB) error { return db.Set([]byte(keyApplied), []byte("x"), pebble.Sync) },
			"corrupt registry"},
		{"bad time", func(db *pebble.DB) error { return db.Set([]byte(prefixGone+"a1"), []byte("short"), pebble.Sync) },
			"corrupt registry"},
		{"broken invariant", func(db *pebble.DB) error {
			return db.Set([]byte(prefixGone+"a1"), appendTime(nil, at(1)), pebble.Sync) // a1 is also admitted
		}, "corrupt registry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := openPebble(t, dir)
			if err := p.Apply(admit("a1", "x")); err != nil {
				t.Fatal(err)
			}
			p.Close()
			rawPebble(t, dir, func(db *pebble.DB) {
				if err := c.tamper(db); err != nil {
					t.Fatal(err)
				}
			})
			q, err := OpenPebble(dir)
			if err == nil {
				q.Close()
				t.Fatal("OpenPebble succeeded")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "registry: open "+dir) {
				t.Fatalf("OpenPebble error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestPebbleLayout pins the on-disk layout written to doc.go.
func TestPebbleLayout(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, dir)
	if err := p.Apply(admit("a1", "i1"), admit("a2", "i2"), unreachable("a2", at(1)),
		admit("a3", ""), remove("a3", at(2)), setValue("k", "v")); err != nil {
		t.Fatal(err)
	}
	p.Close()
	var got []string
	rawPebble(t, dir, func(db *pebble.DB) {
		it, err := db.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			got = append(got, fmt.Sprintf("%s=%x", it.Key(), it.Value()))
		}
		it.Close()
	})
	tm := func(sec int) string { return fmt.Sprintf("%x", appendTime(nil, at(sec))) }
	want := []string{
		"agent/admitted/a1=" + fmt.Sprintf("%x", "i1"),
		"agent/gone/a3=" + tm(2),
		"agent/unreachable/a2=" + tm(1) + fmt.Sprintf("%x", "i2"),
		"meta/applied=0000000000000006",
		"meta/format=31",
		"value/k=76",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tm(1) != "0000000067c2f6c100000000" {
		t.Fatalf("time encoding changed: %s", tm(1))
	}
}

// crashBatch is the i'th batch the crash child applies.
func crashBatch(i int) []Op {
	id := "agent-" + strconv.Itoa(i)
	switch i % 3 {
	case 0:
		return []Op{admit(id, strings.Repeat("x", 100))}
	case 1:
		return []Op{admit(id, "y"), setValue("last", id), unreachable(id, at(i))}
	default:
		return []Op{setValue("k"+strconv.Itoa(i%7), id), remove("agent-"+strconv.Itoa(i-1), at(i))}
	}
}

const crashEnv = "MESETA_REGISTRY_CRASH_DIR"

// TestPebbleCrash: a child process applies batches and says "applied N"
// after each Apply returns; the parent SIGKILLs it after reading the line for
// the 20th batch, reopens the directory and finds every batch it was told
// about (and perhaps later ones, which the child may have applied before
// dying), each whole.
func TestPebbleCrash(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPebbleCrash$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 20
	var told uint64 // the last Applied the child reported
	sc := bufio.NewScanner(stdout)
	for batches := 0; batches < killAfter && sc.Scan(); {
		if n, ok := strings.CutPrefix(sc.Text(), "applied "); ok {
			if told, err = strconv.ParseUint(n, 10, 64); err != nil {
				t.Fatal(err)
			}
			batches++
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if told == 0 {
		t.Fatalf("child never applied anything: %v\n%s", werr, stderr.String())
	}
	if state := cmd.ProcessState; state == nil || state.Success() {
		t.Fatalf("child was not killed: %v", werr)
	}

	p := openPebble(t, dir)
	got := p.State()
	if got.Applied < told {
		t.Fatalf("reopened registry has Applied=%d, but the child had applied %d", got.Applied, told)
	}
	// It must be exactly the first k batches for some k.
	ref := NewMemory()
	for i := 0; ref.State().Applied < got.Applied; i++ {
		if err := ref.Apply(crashBatch(i)...); err != nil {
			t.Fatal(err)
		}
	}
	checkState(t, got, ref.State())
	t.Logf("child reported Applied=%d; after SIGKILL the registry holds Applied=%d", told, got.Applied)
}

func crashChild(dir string) {
	p, err := OpenPebble(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		if err := p.Apply(crashBatch(i)...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("applied %d\n", p.State().Applied)
	}
}

// TestPebbleSnapshotConsistent: a Snapshot taken while writers run is the
// state at one log position: replaying that many ops gives it.
func TestPebbleSnapshotConsistent(t *testing.T) {
	p := openPebble(t, t.TempDir())
	done := make(chan struct{})
	var batches [][]Op
	go func() {
		defer close(done)
		for i := range 60 {
			b := crashBatch(i)
			if err := p.Apply(b...); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 60 {
		batches = append(batches, crashBatch(i))
	}
	var snaps []State
	for {
		s, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	for _, s := range snaps {
		ref := NewMemory()
		for i := 0; ref.State().Applied < s.Applied; i++ {
			if err := ref.Apply(batches[i]...); err != nil {
				t.Fatal(err)
			}
		}
		checkState(t, s, ref.State())
	}
	t.Logf("%d snapshots checked", len(snaps))
}
