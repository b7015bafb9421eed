package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Group is the cgroup of one container (one directory per hierarchy). Its
// methods are safe for concurrent use.
type Group struct {
	m    *Manager
	name string
	dirs []groupDir

	// ModeNone only: the processes given to Add.
	mu      sync.Mutex
	tracked map[int]*trackedProc
}

type groupDir struct {
	h    *hierarchy
	path string // directory
	cg   string // its path as /proc/<pid>/cgroup shows it
}

type trackedProc struct {
	p      *os.Process // holds a pidfd where the kernel has them: no pid reuse
	leader bool        // the process led its own process group when added
}

func (m *Manager) group(name string) *Group {
	g := &Group{m: m, name: name}
	for _, h := range m.hier {
		p := filepath.Join(h.parent, name)
		g.dirs = append(g.dirs, groupDir{h: h, path: p, cg: h.cgroupPath(p)})
	}
	if m.mode == ModeNone {
		g.tracked = map[int]*trackedProc{}
	}
	return g
}

// Name returns the container name of the group.
func (g *Group) Name() string { return g.name }

// Paths returns the group's directories, one per hierarchy; none in ModeNone.
func (g *Group) Paths() []string {
	var p []string
	for _, d := range g.dirs {
		p = append(p, d.path)
	}
	return p
}

// dir returns the directory of the hierarchy holding ctrl ("" if none).
// In v2 every controller lives in the one directory.
func (g *Group) dir(ctrl string) string {
	if g.m.mode == ModeV2 {
		if len(g.dirs) > 0 && g.m.ctrls[ctrl] {
			return g.dirs[0].path
		}
		return ""
	}
	for _, d := range g.dirs {
		if d.h.has(ctrl) {
			return d.path
		}
	}
	return ""
}

// Add moves process pid (with its threads) into the group. Processes it
// forks afterwards start in the group. In ModeNone it only records pid.
func (g *Group) Add(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroups: invalid pid %d", pid)
	}
	if g.m.mode == ModeNone {
		p, err := os.FindProcess(pid)
		if err != nil {
			return fmt.Errorf("cgroups: add %d: %w", pid, err)
		}
		if err := p.Signal(syscall.Signal(0)); err != nil {
			_ = p.Release()
			return fmt.Errorf("cgroups: add %d: %w", pid, err)
		}
		pgid, err := syscall.Getpgid(pid)
		t := &trackedProc{p: p, leader: err == nil && pgid == pid}
		g.mu.Lock()
		if old := g.tracked[pid]; old != nil {
			_ = old.p.Release()
		}
		g.tracked[pid] = t
		g.mu.Unlock()
		return nil
	}
	for _, d := range g.dirs {
		if err := writeFile(filepath.Join(d.path, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroups: add %d to %q: %w", pid, g.name, err)
		}
	}
	return nil
}

// PIDs returns the processes in the group and its descendant groups,
// sorted. A destroyed group has none. In ModeNone it returns the pids given
// to Add whose processes are still running (not exited, not zombies).
func (g *Group) PIDs() ([]int, error) {
	if g.m.mode == ModeNone {
		g.mu.Lock()
		defer g.mu.Unlock()
		var pids []int
		for pid, t := range g.tracked {
			if running(t.p) {
				pids = append(pids, pid)
			}
		}
		slices.Sort(pids)
		return pids, nil
	}
	set := map[int]struct{}{}
	for _, d := range g.dirs {
		if err := readProcs(d.path, set); err != nil {
			return nil, fmt.Errorf("cgroups: pids of %q: %w", g.name, err)
		}
	}
	pids := make([]int, 0, len(set))
	for pid := range set {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids, nil
}

// running reports whether p has neither exited nor become a zombie.
func running(p *os.Process) bool {
	if p.Signal(syscall.Signal(0)) != nil {
		return false
	}
	st, err := procState(p.Pid)
	return err == nil && st != 'Z' && st != 'X'
}

// Kill sends SIGKILL to every process in the group (and its descendant
// groups) and waits, at most KillTimeout, until none is left. Processes that
// fork meanwhile are killed in later rounds; on v2 cgroup.kill, where the
// kernel has it, kills the whole subtree at once. Exited processes that
// their parent has not reaped yet (zombies) are not in any group, so Kill
// does not wait for the parent to reap them.
//
// In ModeNone it kills the processes given to Add that are still running,
// and the process group of each that led one when added.
func (g *Group) Kill() error {
	if g.m.mode == ModeNone {
		return g.killTracked()
	}
	deadline := time.Now().Add(KillTimeout)
	useKill := g.m.mode == ModeV2 && exists(filepath.Join(g.dirs[0].path, "cgroup.kill"))
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if useKill {
			// Atomic against forks; if the kernel refuses it (threaded
			// groups), fall back to signalling pid by pid.
			useKill = writeFile(filepath.Join(g.dirs[0].path, "cgroup.kill"), "1") == nil
		}
		pids, err := g.PIDs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if !useKill {
			for _, pid := range pids {
				g.signal(pid, syscall.SIGKILL)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups: kill %q: %d processes left after %v: %v", g.name, len(pids), KillTimeout, pids)
		}
		time.Sleep(wait)
	}
}

// signal sends sig to pid if it is (still) a member of the group. The
// process is pinned (pidfd) before its membership is checked, so a pid that
// was reused by a process outside the group is never signalled.
func (g *Group) signal(pid int, sig syscall.Signal) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	defer p.Release()
	if !g.contains(pid) {
		return
	}
	_ = p.Signal(sig)
}

// contains reports whether /proc/<pid>/cgroup places pid in the group or
// below it, in a hierarchy whose paths can be matched; if no hierarchy can
// be matched it trusts cgroup.procs and reports true.
func (g *Group) contains(pid int) bool {
	s, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	lines := parseProcCgroup(string(s))
	checked := false
	for _, d := range g.dirs {
		if !d.h.verify || d.cg == "" {
			continue
		}
		for _, l := range lines {
			if l.key != d.h.key {
				continue
			}
			checked = true
			if l.path == d.cg || strings.HasPrefix(l.path, d.cg+"/") {
				return true
			}
		}
	}
	return !checked
}

func (g *Group) killTracked() error {
	g.mu.Lock()
	procs := make([]*trackedProc, 0, len(g.tracked))
	for _, t := range g.tracked {
		procs = append(procs, t)
	}
	g.mu.Unlock()
	for _, t := range procs {
		if !running(t.p) {
			continue
		}
		// The leader is pinned and alive, so its pid still names its group.
		if t.leader {
			_ = syscall.Kill(-t.p.Pid, syscall.SIGKILL)
		}
		_ = t.p.Signal(syscall.SIGKILL)
	}
	deadline := time.Now().Add(KillTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var left []int
		for _, t := range procs {
			if running(t.p) {
				left = append(left, t.p.Pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups: kill %q: %d processes left after %v: %v", g.name, len(left), KillTimeout, left)
		}
		time.Sleep(wait)
	}
}

// Destroy kills the group's processes and removes its directories
// (descendant groups included). Destroying a destroyed group does nothing.
func (g *Group) Destroy() error {
	if err := g.Kill(); err != nil {
		return err
	}
	if g.m.mode == ModeNone {
		g.mu.Lock()
		for pid, t := range g.tracked {
			_ = t.p.Release()
			delete(g.tracked, pid)
		}
		g.mu.Unlock()
		return nil
	}
	deadline := time.Now().Add(KillTimeout)
	var errs []error
	for _, d := range g.dirs {
		if err := rmTree(d.path, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cgroups: destroy %q: %w", g.name, err)
	}
	return nil
}

// rmTree removes a cgroup directory and its descendant groups, deepest
// first. A group whose last processes are still exiting refuses rmdir with
// EBUSY for a moment; that is retried until deadline.
func rmTree(dir string, deadline time.Time) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := rmTree(filepath.Join(dir, e.Name()), deadline); err != nil {
				return err
			}
		}
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := syscall.Rmdir(dir)
		if err == nil || err == syscall.ENOENT {
			return nil
		}
		if err != syscall.EBUSY || time.Now().After(deadline) {
			return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(wait)
	}
}

// Update changes the limits of the group; zero fields remove the limit.
// Lowering the memory limit below current usage may fail (EBUSY) when the
// kernel cannot reclaim enough. A no-op in ModeNone.
func (g *Group) Update(l Limits) error {
	if err := l.validate(); err != nil {
		return err
	}
	if g.m.mode == ModeNone {
		return nil
	}
	if err := g.m.supports(l); err != nil {
		return err
	}
	return g.apply(l, false)
}

func (g *Group) apply(l Limits, fresh bool) error {
	var err error
	if g.m.mode == ModeV2 {
		err = g.applyV2(l)
	} else {
		err = g.applyV1(l, fresh)
	}
	if err != nil {
		return fmt.Errorf("cgroups: limits of %q: %w", g.name, err)
	}
	return nil
}

func (g *Group) applyV1(l Limits, fresh bool) error {
	if d := g.dir("memory"); d != "" && (l.MemoryBytes > 0 || !fresh) {
		val := "-1"
		if l.MemoryBytes > 0 {
			val = strconv.FormatInt(l.MemoryBytes, 10)
		}
		limit := filepath.Join(d, "memory.limit_in_bytes")
		memsw := filepath.Join(d, "memory.memsw.limit_in_bytes")
		haveSw := exists(memsw)
		// memsw must stay >= limit: raising the limit above the current
		// memsw needs memsw raised first.
		err := writeFile(limit, val)
		if err != nil && errors.Is(err, syscall.EINVAL) && haveSw && writeFile(memsw, val) == nil {
			err = writeFile(limit, val)
		}
		if err != nil {
			return err
		}
		if haveSw {
			_ = writeFile(memsw, val) // optional: kernels without swap accounting refuse it
		}
	}
	if d := g.dir("cpu"); d != "" && (l.CPUs > 0 || !fresh) {
		quota, shares := "-1", strconv.Itoa(SharesPerCPU)
		if l.CPUs > 0 {
			quota = strconv.FormatInt(cpuQuota(l.CPUs), 10)
			shares = strconv.FormatInt(cpuShares(l.CPUs), 10)
		}
		if err := writeFile(filepath.Join(d, "cpu.cfs_period_us"), strconv.FormatInt(CPUPeriod.Microseconds(), 10)); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(d, "cpu.cfs_quota_us"), quota); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(d, "cpu.shares"), shares); err != nil {
			return err
		}
	}
	if d := g.dir("pids"); d != "" && (l.PIDs > 0 || !fresh) {
		if err := writeFile(filepath.Join(d, "pids.max"), maxOr(l.PIDs)); err != nil {
			return err
		}
	}
	return nil
}

func (g *Group) applyV2(l Limits) error {
	if d := g.dir("memory"); d != "" {
		if err := writeFile(filepath.Join(d, "memory.max"), maxOr(l.MemoryBytes)); err != nil {
			return err
		}
		if sw := filepath.Join(d, "memory.swap.max"); exists(sw) {
			val := "max"
			if l.MemoryBytes > 0 {
				val = "0"
			}
			_ = writeFile(sw, val) // optional, like v1 memsw
		}
	}
	if d := g.dir("cpu"); d != "" {
		quota, weight := "max", strconv.Itoa(WeightPerCPU)
		if l.CPUs > 0 {
			quota = strconv.FormatInt(cpuQuota(l.CPUs), 10)
			weight = strconv.FormatInt(cpuWeight(l.CPUs), 10)
		}
		if err := writeFile(filepath.Join(d, "cpu.max"), quota+" "+strconv.FormatInt(CPUPeriod.Microseconds(), 10)); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(d, "cpu.weight"), weight); err != nil {
			return err
		}
	}
	if d := g.dir("pids"); d != "" {
		if err := writeFile(filepath.Join(d, "pids.max"), maxOr(l.PIDs)); err != nil {
			return err
		}
	}
	return nil
}

func maxOr(n int64) string {
	if n > 0 {
		return strconv.FormatInt(n, 10)
	}
	return "max"
}

// Stats returns the group's resource usage. Zero in ModeNone.
func (g *Group) Stats() (Stats, error) {
	var st Stats
	switch g.m.mode {
	case ModeV1:
		if d := g.dir("memory"); d != "" {
			n, err := readInt(filepath.Join(d, "memory.usage_in_bytes"))
			if err != nil {
				return st, fmt.Errorf("cgroups: stats of %q: %w", g.name, err)
			}
			st.MemoryBytes, st.HasMemory = n, true
			st.OOMKills, _, _ = readKeyed(filepath.Join(d, "memory.oom_control"), "oom_kill")
		}
		if d := g.dir("cpuacct"); d != "" {
			ns, err := readInt(filepath.Join(d, "cpuacct.usage"))
			if err != nil {
				return st, fmt.Errorf("cgroups: stats of %q: %w", g.name, err)
			}
			st.CPUSeconds, st.HasCPU = float64(ns)/1e9, true
		}
	case ModeV2:
		d := g.dirs[0].path
		if g.dir("memory") != "" {
			n, err := readInt(filepath.Join(d, "memory.current"))
			if err != nil {
				return st, fmt.Errorf("cgroups: stats of %q: %w", g.name, err)
			}
			st.MemoryBytes, st.HasMemory = n, true
			st.OOMKills, _, _ = readKeyed(filepath.Join(d, "memory.events"), "oom_kill")
		}
		// cpu.stat's usage_usec is kept even without the cpu controller.
		us, ok, err := readKeyed(filepath.Join(d, "cpu.stat"), "usage_usec")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("cgroups: stats of %q: %w", g.name, err)
		}
		if ok {
			st.CPUSeconds, st.HasCPU = float64(us)/1e6, true
		}
	}
	return st, nil
}
