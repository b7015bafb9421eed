package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const helperEnv = "MESETA_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hog":
		hog()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// hog waits for one byte on stdin (sent once it is in its group), then
// touches 256 MiB and reports that it survived.
func hog() {
	var b [1]byte
	if _, err := os.Stdin.Read(b[:]); err != nil {
		os.Exit(3)
	}
	var keep [][]byte
	for range 256 {
		c := make([]byte, 1<<20)
		for i := 0; i < len(c); i += 4096 {
			c[i] = 1
		}
		keep = append(keep, c)
	}
	fmt.Println("survived", len(keep))
	os.Exit(0)
}

const waitLimit = 20 * time.Second

// rootName is a parent group name unique to the test and the process.
func rootName(t *testing.T) string {
	n := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("meseta-test-%s-%d", n, os.Getpid())
}

// newManager creates a Manager with a unique root and removes the root when
// the test ends (after the groups, whose cleanups run first).
func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(rootName(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Logf("cgroup mode %q: %s", m.Mode(), m.Reason())
	t.Cleanup(func() {
		if err := m.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
		for _, p := range m.ParentPaths() {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("parent %s still there after Remove (%v)", p, err)
			}
		}
	})
	return m
}

func createGroup(t *testing.T, m *Manager, name string, l Limits) *Group {
	t.Helper()
	g, err := m.Create(name, l)
	if err != nil {
		t.Fatalf("Create(%q, %+v): %v", name, l, err)
	}
	t.Cleanup(func() {
		if err := g.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
	})
	return g
}

// proc is a started child whose Wait runs in the background.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(waitLimit):
			t.Errorf("pid %d did not exit", cmd.Process.Pid)
		}
	})
	return p
}

// wait returns the child's exit status, failing the test after waitLimit.
func (p *proc) wait(t *testing.T) syscall.WaitStatus {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatalf("pid %d still running after %v", p.cmd.Process.Pid, waitLimit)
	}
	return p.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func wantKilled(t *testing.T, ws syscall.WaitStatus) {
	t.Helper()
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child status %v (exit %d), want killed by SIGKILL", ws, ws.ExitStatus())
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	s, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func procsOf(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(readTrim(t, filepath.Join(dir, "cgroup.procs"))) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, n)
	}
	return pids
}

// assertNoop checks the ModeNone contract: Create, Update, Stats and
// Destroy do nothing, while Add, PIDs and Kill track the added processes.
func assertNoop(t *testing.T, m *Manager) {
	t.Helper()
	if m.Mode() != ModeNone {
		t.Fatalf("assertNoop in mode %q", m.Mode())
	}
	if m.Reason() == "" {
		t.Error("ModeNone without a Reason")
	}
	if len(m.ParentPaths()) != 0 || len(m.Controllers()) != 0 {
		t.Errorf("ModeNone has paths %v, controllers %v", m.ParentPaths(), m.Controllers())
	}
	g := createGroup(t, m, "noop", Limits{CPUs: 0.5, MemoryBytes: 32 << 20, PIDs: 10})
	if len(g.Paths()) != 0 {
		t.Errorf("ModeNone group has paths %v", g.Paths())
	}
	if err := g.Update(Limits{CPUs: 2}); err != nil {
		t.Errorf("Update: %v", err)
	}
	if st, err := g.Stats(); err != nil || st != (Stats{}) {
		t.Errorf("Stats = %+v, %v; want zero", st, err)
	}
	if pids, err := g.PIDs(); err != nil || len(pids) != 0 {
		t.Errorf("PIDs before Add = %v, %v", pids, err)
	}
	// A process group leader whose shell forks a child: Kill must take both.
	cmd, ready := gatedShell(t, true)
	p := start(t, cmd)
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	out := ready()
	if pids, err := g.PIDs(); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("PIDs = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	wantKilled(t, p.wait(t))
	waitEOF(t, out) // the forked sleep, holding stdout, is gone too
	if pids, err := g.PIDs(); err != nil || len(pids) != 0 {
		t.Errorf("PIDs after Kill = %v, %v", pids, err)
	}
	if err := g.Add(cmd.Process.Pid); err == nil {
		t.Error("Add of a reaped pid succeeded")
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if g2, err := m.Open("noop"); err != nil || g2 == nil {
		t.Errorf("Open in ModeNone = %v, %v", g2, err)
	}
	if names, err := m.List(); err != nil || len(names) != 0 {
		t.Errorf("List in ModeNone = %v, %v", names, err)
	}
}

// gatedShell returns a shell that waits for a line on stdin, then forks a
// background sleep (in a new session when escape is set, so that only its
// cgroup can find it... unless pgroup is set, in which case it stays in the
// shell's process group), prints "ready" and waits. ready() sends the line
// and returns stdout once "ready" was read; stdout reaches EOF only when
// both the shell and the sleep have exited.
func gatedShell(t *testing.T, pgroup bool) (*exec.Cmd, func() io.Reader) {
	t.Helper()
	script := "read x; setsid sleep 30 & echo ready; wait"
	if pgroup {
		script = "read x; sleep 30 & echo ready; wait"
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: pgroup}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	return cmd, func() io.Reader {
		t.Helper()
		if _, err := io.WriteString(stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("gated shell said %q, %v", line, err)
		}
		return r
	}
}

// waitEOF reads r to its end, failing after waitLimit.
func waitEOF(t *testing.T, r io.Reader) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read to EOF: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("a process still holds the pipe: a descendant survived Kill")
	}
}

func TestLimitsAddKillDestroy(t *testing.T) {
	m := newTestManager(t)
	if m.Mode() == ModeNone {
		assertNoop(t, m)
		return
	}
	l := Limits{CPUs: 1.5, MemoryBytes: 64 << 20, PIDs: 100}
	g := createGroup(t, m, "c1", l)
	cmd := exec.Command("sleep", "30")
	p := start(t, cmd)
	pid := cmd.Process.Pid
	if err := g.Add(pid); err != nil {
		t.Fatalf("Add: %v", err)
	}

	want := map[string]string{}
	switch m.Mode() {
	case ModeV1:
		want["memory/memory.limit_in_bytes"] = strconv.Itoa(64 << 20)
		if exists(filepath.Join(g.dir("memory"), "memory.memsw.limit_in_bytes")) {
			want["memory/memory.memsw.limit_in_bytes"] = strconv.Itoa(64 << 20)
		}
		want["cpu/cpu.cfs_period_us"] = "100000"
		want["cpu/cpu.cfs_quota_us"] = "150000"
		want["cpu/cpu.shares"] = "1536"
		if m.ctrls["pids"] {
			want["pids/pids.max"] = "100"
		}
	case ModeV2:
		want["memory/memory.max"] = strconv.Itoa(64 << 20)
		want["cpu/cpu.max"] = "150000 100000"
		want["cpu/cpu.weight"] = "150"
		if m.ctrls["pids"] {
			want["pids/pids.max"] = "100"
		}
	}
	for k, v := range want {
		ctrl, file, _ := strings.Cut(k, "/")
		if got := readTrim(t, filepath.Join(g.dir(ctrl), file)); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		} else {
			t.Logf("%s/%s = %s", g.dir(ctrl), file, got)
		}
	}
	for _, d := range g.Paths() {
		if !slices.Contains(procsOf(t, d), pid) {
			t.Errorf("pid %d not in %s/cgroup.procs", pid, d)
		}
	}
	if pids, err := g.PIDs(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("PIDs = %v, %v; want [%d]", pids, err, pid)
	}
	// The check that guards Kill against reused pids tells members apart.
	if !g.contains(pid) || g.contains(os.Getpid()) {
		t.Errorf("contains(child) = %v, contains(self) = %v; want true, false", g.contains(pid), g.contains(os.Getpid()))
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if !st.HasMemory {
		t.Errorf("Stats has no memory: %+v", st)
	}
	t.Logf("stats: %+v", st)

	// Open sees the same group.
	g2, err := m.Open("c1")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if pids, err := g2.PIDs(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Open(c1).PIDs = %v, %v", pids, err)
	}
	if names, err := m.List(); err != nil || !slices.Equal(names, []string{"c1"}) {
		t.Errorf("List = %v, %v", names, err)
	}
	if err := m.Remove(); err == nil {
		t.Error("Remove succeeded with a group left")
	}

	if err := g.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	wantKilled(t, p.wait(t))
	if pids, err := g.PIDs(); err != nil || len(pids) != 0 {
		t.Errorf("PIDs after Kill = %v, %v", pids, err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for _, d := range g.Paths() {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after Destroy (%v)", d, err)
		}
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := g.Kill(); err != nil {
		t.Errorf("Kill after Destroy: %v", err)
	}
	if _, err := m.Open("c1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Destroy: %v, want ErrNotExist", err)
	}
}

func TestKillTakesDescendants(t *testing.T) {
	m := newTestManager(t)
	if m.Mode() == ModeNone {
		assertNoop(t, m)
		return
	}
	g := createGroup(t, m, "tree", Limits{})
	// The sleep moves to its own session: only the cgroup still knows it.
	cmd, ready := gatedShell(t, false)
	p := start(t, cmd)
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	out := ready()
	pids, err := g.PIDs()
	if err != nil || len(pids) < 2 {
		t.Fatalf("PIDs = %v, %v; want the shell and its sleep", pids, err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantKilled(t, p.wait(t))
	waitEOF(t, out)
}

func TestMemoryLimitEnforced(t *testing.T) {
	m := newTestManager(t)
	if m.Mode() == ModeNone {
		assertNoop(t, m)
		return
	}
	const limit = 32 << 20
	g := createGroup(t, m, "hog", Limits{MemoryBytes: limit})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=hog")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	p := start(t, cmd)
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if _, err := stdin.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	ws := p.wait(t)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("hog status %v (stdout %q), want killed by SIGKILL at the %d MiB limit", ws, out.String(), limit>>20)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	t.Logf("hog killed by %v; stats %+v", ws.Signal(), st)
	if st.OOMKills < 1 {
		t.Errorf("OOMKills = %d, want >= 1", st.OOMKills)
	}
	if st.MemoryBytes > limit {
		t.Errorf("memory usage %d above the limit %d", st.MemoryBytes, limit)
	}
}

func TestUpdate(t *testing.T) {
	m := newTestManager(t)
	if m.Mode() == ModeNone {
		assertNoop(t, m)
		return
	}
	g := createGroup(t, m, "u", Limits{CPUs: 0.25, MemoryBytes: 32 << 20})
	memFile, cpuFile := "memory.limit_in_bytes", "cpu.cfs_quota_us"
	if m.Mode() == ModeV2 {
		memFile, cpuFile = "memory.max", "cpu.max"
	}
	check := func(wantMem, wantCPU string) {
		t.Helper()
		if got := readTrim(t, filepath.Join(g.dir("memory"), memFile)); got != wantMem {
			t.Errorf("%s = %q, want %q", memFile, got, wantMem)
		}
		if got := readTrim(t, filepath.Join(g.dir("cpu"), cpuFile)); got != wantCPU {
			t.Errorf("%s = %q, want %q", cpuFile, got, wantCPU)
		}
	}
	if m.Mode() == ModeV1 {
		check(strconv.Itoa(32<<20), "25000")
		// Raising the limit above memsw needs memsw raised first.
		if err := g.Update(Limits{CPUs: 4, MemoryBytes: 96 << 20}); err != nil {
			t.Fatalf("Update up: %v", err)
		}
		check(strconv.Itoa(96<<20), "400000")
		if err := g.Update(Limits{CPUs: 0.001, MemoryBytes: 16 << 20}); err != nil {
			t.Fatalf("Update down: %v", err)
		}
		check(strconv.Itoa(16<<20), "1000") // quota floor 1ms
		if err := g.Update(Limits{}); err != nil {
			t.Fatalf("Update to unlimited: %v", err)
		}
		check(readTrim(t, filepath.Join(filepath.Dir(g.dir("memory")), memFile)), "-1")
		if got := readTrim(t, filepath.Join(g.dir("cpu"), "cpu.shares")); got != "1024" {
			t.Errorf("cpu.shares = %q, want 1024", got)
		}
	} else {
		check(strconv.Itoa(32<<20), "25000 100000")
		if err := g.Update(Limits{CPUs: 4, MemoryBytes: 96 << 20}); err != nil {
			t.Fatalf("Update up: %v", err)
		}
		check(strconv.Itoa(96<<20), "400000 100000")
		if err := g.Update(Limits{}); err != nil {
			t.Fatalf("Update to unlimited: %v", err)
		}
		check("max", "max 100000")
	}
}

func TestCreateErrors(t *testing.T) {
	m := newTestManager(t)
	for _, name := range []string{"", ".", "..", "a/b", "a..b", ".hidden", "x\n", "tab\tname", strings.Repeat("n", 256)} {
		if _, err := m.Create(name, Limits{}); err == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
		if _, err := m.Open(name); err == nil {
			t.Errorf("Open(%q) succeeded", name)
		}
	}
	for _, l := range []Limits{{CPUs: -1}, {MemoryBytes: -1}, {PIDs: -1}, {CPUs: math.Inf(1)}, {CPUs: math.NaN()}} {
		if _, err := m.Create("bad", l); err == nil {
			t.Errorf("Create with %+v succeeded", l)
		}
	}
	for _, root := range []string{"", "/abs", "a/../b", "a//b", "a/", "./a", "a/.."} {
		if _, err := New(root); err == nil {
			t.Errorf("New(%q) succeeded", root)
		}
	}
	if m.Mode() == ModeNone {
		assertNoop(t, m)
		return
	}
	createGroup(t, m, "dup", Limits{})
	if _, err := m.Create("dup", Limits{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create = %v, want ErrExist", err)
	}
	if _, err := m.Open("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	// A control file is not a group.
	if _, err := m.Open("cgroup.procs"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(cgroup.procs) = %v, want ErrNotExist", err)
	}
	if err := (&Group{m: m}).Add(0); err == nil {
		t.Error("Add(0) succeeded")
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "c-1", "0f8fad5b-d9cb-469f-a165-70867728950e", "exec.task_1:2", "name with space"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "/", "a..b", ".x", "a\x00b", "a\x7f"} {
		if err := ValidName(bad); err == nil {
			t.Errorf("ValidName(%q) = nil", bad)
		}
	}
}

func TestCPUConversions(t *testing.T) {
	for _, c := range []struct {
		cpus                  float64
		quota, shares, weight int64
	}{
		{0.001, 1000, 2, 1},
		{0.1, 10000, 102, 10},
		{1, 100000, 1024, 100},
		{1.5, 150000, 1536, 150},
		{64, 6400000, 65536, 6400},
		{1000, 100000000, 262144, 10000},
	} {
		if q, s, w := cpuQuota(c.cpus), cpuShares(c.cpus), cpuWeight(c.cpus); q != c.quota || s != c.shares || w != c.weight {
			t.Errorf("cpus %v: quota %d shares %d weight %d, want %d %d %d", c.cpus, q, s, w, c.quota, c.shares, c.weight)
		}
	}
}

const sampleMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /kube/pod1 /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
50 23 0:50 / /mnt/with\040space rw - cgroup2 cgroup2 rw
`

func TestParse(t *testing.T) {
	ms := parseMountinfo(sampleMountinfo)
	if len(ms) != 4 {
		t.Fatalf("parsed %d mounts: %+v", len(ms), ms)
	}
	if !slices.Equal(ms[0].ctrls, []string{"cpu", "cpuacct"}) || ms[0].point != "/sys/fs/cgroup/cpu,cpuacct" {
		t.Errorf("mount 0 = %+v", ms[0])
	}
	if ms[1].root != "/kube/pod1" || !slices.Equal(ms[1].ctrls, []string{"memory"}) {
		t.Errorf("mount 1 = %+v", ms[1])
	}
	if ms[2].fstype != "cgroup2" || ms[2].point != "/sys/fs/cgroup/unified" || ms[3].point != "/mnt/with space" {
		t.Errorf("v2 mounts = %+v %+v", ms[2], ms[3])
	}
	if v2 := pickV2(ms); v2 == nil || v2.point != "/sys/fs/cgroup/unified" {
		t.Errorf("pickV2 = %+v", v2)
	}
	pcs := parseProcCgroup("12:cpu,cpuacct:/a\n4:memory:/kube/pod1/x\n1:name=systemd:/\n0::/user.slice\n")
	if len(pcs) != 4 || pcs[0].key != "cpu,cpuacct" || pcs[3].key != "" || pcs[3].path != "/user.slice" {
		t.Errorf("parseProcCgroup = %+v", pcs)
	}
	if c := keyControllers("cpuacct,cpu"); !slices.Equal(c, []string{"cpu", "cpuacct"}) {
		t.Errorf("keyControllers = %v", c)
	}
	for _, c := range []struct {
		root, p, rel string
		ok           bool
	}{
		{"/", "/a/b", "/a/b", true},
		{"/kube/pod1", "/kube/pod1/x", "/x", true},
		{"/kube/pod1", "/kube/pod1", "", true},
		{"/kube/pod1", "/kube/pod10", "", false},
		{"/kube/pod1", "/other", "", false},
		{"/", "relative", "", false},
	} {
		if rel, ok := relCgroup(c.root, c.p); rel != c.rel || ok != c.ok {
			t.Errorf("relCgroup(%q, %q) = %q, %v", c.root, c.p, rel, ok)
		}
	}
	h := &hierarchy{mount: "/sys/fs/cgroup/memory", mroot: "/kube/pod1"}
	if p := h.cgroupPath("/sys/fs/cgroup/memory/meseta/c1"); p != "/kube/pod1/meseta/c1" {
		t.Errorf("cgroupPath = %q", p)
	}
}

// TestDetectNone drives New's fallbacks with fake /proc files: each layout
// that cannot be used ends in ModeNone with a Reason, and the resulting
// Manager keeps the no-op contract on every machine.
func TestDetectNone(t *testing.T) {
	dir := t.TempDir()
	fakeV2 := filepath.Join(dir, "v2")
	if err := os.Mkdir(fakeV2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fakeV2, "cgroup.controllers"), []byte("hugetlb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, mountinfo, want string }{
		{"nothing", "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n", "no cgroup filesystem mounted"},
		{"v1-no-memory", "32 31 0:29 / /nonexistent/cpu rw - cgroup cgroup rw,cpu\n", "cgroup v1: memory controller not mounted"},
		{"v2-no-controllers", "41 31 0:38 / " + fakeV2 + " rw - cgroup2 cgroup2 rw\n",
			`cgroup v2: controllers memory, cpu not offered in ` + fakeV2 + ` (cgroup.controllers: "hugetlb")`},
		{"hybrid", "32 31 0:29 / /nonexistent/pids rw - cgroup cgroup rw,pids\n41 31 0:38 / " + fakeV2 + " rw - cgroup2 cgroup2 rw\n",
			"cgroup v1: memory controller not mounted"},
		{"no-proc", "", "cannot read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mi := filepath.Join(dir, c.name+".mountinfo")
			if c.name != "no-proc" {
				if err := os.WriteFile(mi, []byte(c.mountinfo), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := newManager(rootName(t), mi, "/proc/self/cgroup")
			if err != nil {
				t.Fatalf("newManager: %v", err)
			}
			t.Logf("cgroup mode %q: %s", m.Mode(), m.Reason())
			if m.Mode() != ModeNone || !strings.Contains(m.Reason(), c.want) {
				t.Fatalf("mode %q reason %q, want none with %q", m.Mode(), m.Reason(), c.want)
			}
			if c.name == "nothing" {
				assertNoop(t, m)
			}
		})
	}
}

// TestV2Lifecycle runs the v2 code (cgroup.procs, cgroup.kill, rmdir) on a
// cgroup2 mount even where it has no controllers, as in the hybrid layout;
// where New already chose v2 the other tests cover it.
func TestV2Lifecycle(t *testing.T) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skipf("no mountinfo: %v", err)
	}
	mt := pickV2(parseMountinfo(string(mi)))
	if mt == nil {
		t.Skip("no cgroup2 mount on this machine")
	}
	m := &Manager{root: rootName(t), ctrls: map[string]bool{}}
	if err := m.setupV2At(mt, nil); err != nil {
		t.Skipf("cgroup2 mount %s not usable: %v", mt.point, err)
	}
	t.Logf("cgroup mode %q at %s (controllers %v)", m.Mode(), m.hier[0].parent, m.Controllers())
	t.Cleanup(func() {
		if err := m.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	if !m.ctrls["memory"] {
		if _, err := m.Create("mem", Limits{MemoryBytes: 1 << 20}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Create with memory limit and no memory controller = %v, want ErrUnsupported", err)
		}
	}
	g := createGroup(t, m, "v2c", Limits{})
	cmd, ready := gatedShell(t, false)
	p := start(t, cmd)
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	out := ready()
	if pids, err := g.PIDs(); err != nil || len(pids) < 2 || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("PIDs = %v, %v", pids, err)
	}
	st, err := g.Stats()
	if err != nil || !st.HasCPU {
		t.Errorf("Stats = %+v, %v; want cpu time from cpu.stat", st, err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantKilled(t, p.wait(t))
	waitEOF(t, out)
	if _, err := os.Stat(g.Paths()[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still there after Destroy (%v)", g.Paths()[0], err)
	}
}
