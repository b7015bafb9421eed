package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Mode is the cgroup layout a Manager drives.
type Mode string

const (
	ModeV1   Mode = "v1"
	ModeV2   Mode = "v2"
	ModeNone Mode = "none"
)

// Limits are the resource limits of one container. A zero field means no
// limit for that resource.
type Limits struct {
	CPUs        float64 // CPU time, in CPUs (1.5 = 150ms per 100ms period)
	MemoryBytes int64   // hard memory limit, no swap beyond it
	PIDs        int64   // maximum number of tasks (processes and threads)
}

func (l Limits) validate() error {
	if math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) || l.CPUs < 0 {
		return fmt.Errorf("cgroups: invalid CPUs limit %v", l.CPUs)
	}
	if l.MemoryBytes < 0 {
		return fmt.Errorf("cgroups: invalid memory limit %d", l.MemoryBytes)
	}
	if l.PIDs < 0 {
		return fmt.Errorf("cgroups: invalid pids limit %d", l.PIDs)
	}
	return nil
}

const (
	// CPUPeriod is the CFS period used for CPU quotas.
	CPUPeriod = 100 * time.Millisecond
	// MinCPUQuota is the smallest quota written (the kernel refuses less).
	MinCPUQuota = time.Millisecond
	// SharesPerCPU is the v1 cpu.shares of one CPU (the Mesos convention).
	SharesPerCPU = 1024
	// WeightPerCPU is the v2 cpu.weight of one CPU (the v2 default weight).
	WeightPerCPU = 100
	// KillTimeout bounds how long Kill (and so Destroy) waits for the
	// processes of a group to disappear.
	KillTimeout = 10 * time.Second
)

// cpuQuota returns the CFS quota in microseconds for a CPUs limit.
func cpuQuota(cpus float64) int64 {
	q := int64(math.Round(cpus * float64(CPUPeriod.Microseconds())))
	return max(q, MinCPUQuota.Microseconds())
}

func cpuShares(cpus float64) int64 {
	return min(max(int64(math.Round(cpus*SharesPerCPU)), 2), 262144)
}

func cpuWeight(cpus float64) int64 {
	return min(max(int64(math.Round(cpus*WeightPerCPU)), 1), 10000)
}

// Stats is the resource usage of a group. Fields the layout cannot report
// stay zero, with the matching Has flag false.
type Stats struct {
	MemoryBytes int64   // current memory usage, page cache included
	CPUSeconds  float64 // CPU time consumed (user + system) since creation
	OOMKills    int64   // processes killed by the OOM killer for this group
	HasMemory   bool    // MemoryBytes and OOMKills are meaningful
	HasCPU      bool    // CPUSeconds is meaningful
}

// ErrUnsupported is wrapped by the error of Create and Update when a limit
// asks for a controller the Manager does not have (e.g. PIDs without the
// pids controller).
var ErrUnsupported = errors.ErrUnsupported

// hierarchy is one cgroup hierarchy the Manager uses: one per v1 mount
// (memory, cpu, ...), or the single v2 one.
type hierarchy struct {
	ctrls  []string // v1 controllers of the hierarchy (sorted); v2: nil
	key    string   // the field identifying it in /proc/<pid>/cgroup; "" for v2
	mount  string   // mount point
	mroot  string   // cgroup path of the mount point
	parent string   // the Manager's parent group directory
	// verify is true when cgroup paths in /proc/<pid>/cgroup can be matched
	// against directories of this hierarchy (used to avoid signalling a
	// process whose pid was reused outside the group).
	verify bool
}

func (h *hierarchy) has(ctrl string) bool { return slices.Contains(h.ctrls, ctrl) }

// cgroupPath is the path /proc/<pid>/cgroup shows for a directory of h.
func (h *hierarchy) cgroupPath(dir string) string {
	rel, err := filepath.Rel(h.mount, dir)
	if err != nil {
		return ""
	}
	return path.Join(h.mroot, filepath.ToSlash(rel))
}

// Manager creates and opens the cgroups of containers under one parent
// group. Its methods are safe for concurrent use.
type Manager struct {
	mode   Mode
	reason string
	root   string
	hier   []*hierarchy    // v1: memory first; v2: one
	ctrls  map[string]bool // controllers usable for limits and stats
}

// New detects the cgroup layout and prepares the parent group root (a
// relative path such as "meseta" or "meseta/<agent-id>"). When no limits can
// be applied it returns a Manager in ModeNone whose Reason says why; it fails
// only on an invalid root or an unexpected fault.
func New(root string) (*Manager, error) {
	return newManager(root, "/proc/self/mountinfo", "/proc/self/cgroup")
}

func newManager(root, mountinfoPath, selfCgroupPath string) (*Manager, error) {
	if err := validateRoot(root); err != nil {
		return nil, err
	}
	m := &Manager{root: root, ctrls: map[string]bool{}}
	mi, err := os.ReadFile(mountinfoPath)
	if err != nil {
		m.setNone(fmt.Sprintf("cannot read %s: %v", mountinfoPath, unwrapPathErr(err)))
		return m, nil
	}
	self, _ := os.ReadFile(selfCgroupPath) // optional: without it groups go to the hierarchy roots
	mounts := parseMountinfo(string(mi))
	procs := parseProcCgroup(string(self))

	var notes []string
	if v2 := pickV2(mounts); v2 != nil {
		err := m.setupV2(v2)
		if err == nil {
			m.reason = "cgroup v2 at " + v2.point + " offers " + strings.Join(m.controllers(), ", ")
			return m, nil
		}
		if !unusable(err) {
			return nil, err
		}
		notes = append(notes, "cgroup v2: "+err.Error())
		m.reset()
	}
	if v1Mounted(mounts) {
		err := m.setupV1(mounts, procs)
		if err == nil {
			m.reason = "cgroup v1 hierarchies offer " + strings.Join(m.controllers(), ", ")
			if len(notes) > 0 {
				m.reason += " (" + strings.Join(notes, "; ") + ")"
			}
			return m, nil
		}
		if !unusable(err) {
			return nil, err
		}
		notes = append(notes, "cgroup v1: "+err.Error())
		m.reset()
	}
	if len(notes) == 0 {
		notes = append(notes, "no cgroup filesystem mounted")
	}
	m.setNone(strings.Join(notes, "; "))
	return m, nil
}

func (m *Manager) setNone(reason string) {
	m.reset()
	m.mode = ModeNone
	m.reason = reason
}

func (m *Manager) reset() {
	m.hier = nil
	m.ctrls = map[string]bool{}
}

func (m *Manager) controllers() []string {
	var c []string
	for k := range m.ctrls {
		c = append(c, k)
	}
	slices.Sort(c)
	return c
}

// unusableError marks a layout that is present but cannot be used (a
// missing controller, no permission, read-only, busy): New falls back to the
// next layout, finally to ModeNone, instead of failing.
type unusableError struct{ msg string }

func (e *unusableError) Error() string { return e.msg }

func unusable(err error) bool {
	var u *unusableError
	return errors.As(err, &u) ||
		errors.Is(err, fs.ErrPermission) || // EACCES, EPERM
		errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EBUSY) ||
		errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.ENOSPC) || // cgroup.max.descendants reached
		errors.Is(err, syscall.EAGAIN)
}

// Mode returns the layout the Manager drives.
func (m *Manager) Mode() Mode { return m.mode }

// Reason explains the Mode: in ModeNone why no limits can be applied, else
// which layout and controllers were found.
func (m *Manager) Reason() string { return m.reason }

// Root returns the parent group name given to New.
func (m *Manager) Root() string { return m.root }

// Controllers returns the controllers usable for limits and stats, sorted
// (e.g. cpu, cpuacct, memory, pids); none in ModeNone.
func (m *Manager) Controllers() []string { return m.controllers() }

// ParentPaths returns the parent group's directories (one per hierarchy);
// none in ModeNone.
func (m *Manager) ParentPaths() []string {
	var p []string
	for _, h := range m.hier {
		p = append(p, h.parent)
	}
	return p
}

// mkdirs creates base/rel one element at a time and returns the
// directories it created, deepest last.
func mkdirs(base, rel string) ([]string, error) {
	var created []string
	dir := base
	for _, el := range strings.Split(rel, "/") {
		dir = filepath.Join(dir, el)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			created = append(created, dir)
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			rmdirs(created)
			return nil, err
		}
	}
	return created, nil
}

// rmdirs removes directories deepest first, ignoring errors.
func rmdirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = syscall.Rmdir(dirs[i])
	}
}

// ---- v2 ----

// pickV2 returns the cgroup2 mount to use: /sys/fs/cgroup when it is one,
// else the first cgroup2 mount.
func pickV2(mounts []mount) *mount {
	var first *mount
	for i := range mounts {
		mt := &mounts[i]
		if mt.fstype != "cgroup2" {
			continue
		}
		if mt.point == "/sys/fs/cgroup" {
			return mt
		}
		if first == nil {
			first = mt
		}
	}
	return first
}

func (m *Manager) setupV2(mt *mount) error {
	return m.setupV2At(mt, []string{"memory", "cpu"})
}

// setupV2At prepares the parent group in the cgroup2 mount mt, requiring
// the given controllers.
func (m *Manager) setupV2At(mt *mount, required []string) error {
	base := mt.point
	s, err := readFile(filepath.Join(base, "cgroup.controllers"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &unusableError{fmt.Sprintf("%s has no cgroup.controllers", base)}
		}
		return err
	}
	offered := strings.Fields(s)
	var missing []string
	for _, c := range required {
		if !slices.Contains(offered, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return &unusableError{fmt.Sprintf("controllers %s not offered in %s (cgroup.controllers: %q)",
			strings.Join(missing, ", "), base, s)}
	}
	want := []string{}
	for _, c := range []string{"memory", "cpu", "pids"} {
		if slices.Contains(offered, c) {
			want = append(want, c)
		}
	}
	created, err := mkdirs(base, m.root)
	if err != nil {
		return fmt.Errorf("create parent group: %w", err)
	}
	enabled := map[string]bool{}
	for _, c := range want {
		enabled[c] = true
	}
	// Enable the controllers from the hierarchy root down to the parent,
	// so that every container group below the parent has them.
	dirs := []string{base}
	dir := base
	for _, el := range strings.Split(m.root, "/") {
		dir = filepath.Join(dir, el)
		dirs = append(dirs, dir)
	}
	for _, d := range dirs {
		for _, c := range want {
			if !enabled[c] {
				continue
			}
			if err := enableController(d, c); err != nil {
				if slices.Contains(required, c) {
					rmdirs(created)
					if errors.Is(err, syscall.EBUSY) {
						return &unusableError{fmt.Sprintf("%v (the group holds processes, and v2 allows no controllers below such a group)", err)}
					}
					return fmt.Errorf("enable %s controller: %w", c, err)
				}
				enabled[c] = false // optional controller (pids): do without
			}
		}
	}
	m.mode = ModeV2
	m.hier = []*hierarchy{{
		key: "", mount: mt.point, mroot: mt.root, parent: dir, verify: true,
	}}
	for c, ok := range enabled {
		if ok {
			m.ctrls[c] = true
		}
	}
	return nil
}

// enableController turns ctrl on in dir/cgroup.subtree_control unless it is
// on already.
func enableController(dir, ctrl string) error {
	p := filepath.Join(dir, "cgroup.subtree_control")
	s, err := readFile(p)
	if err != nil {
		return err
	}
	if slices.Contains(strings.Fields(s), ctrl) {
		return nil
	}
	return writeFile(p, "+"+ctrl)
}

// ---- v1 ----

// v1Wanted are the v1 controllers a Manager uses, the first one being
// where groups are listed and looked up.
var v1Wanted = []string{"memory", "cpu", "cpuacct", "pids"}

func v1Mounted(mounts []mount) bool {
	for _, mt := range mounts {
		if mt.fstype == "cgroup" {
			return true
		}
	}
	return false
}

func (m *Manager) setupV1(mounts []mount, procs []procCgroup) error {
	var hs []*hierarchy
	var bases []string
	found := map[string]bool{}
	for _, c := range v1Wanted {
		if found[c] {
			continue // co-mounted with an earlier one
		}
		var mt *mount
		for i := range mounts {
			if mounts[i].fstype == "cgroup" && slices.Contains(mounts[i].ctrls, c) {
				if mt == nil || (mt.root != "/" && mounts[i].root == "/") {
					mt = &mounts[i]
				}
			}
		}
		if mt == nil {
			continue
		}
		for _, cc := range mt.ctrls {
			found[cc] = true
		}
		h := &hierarchy{ctrls: mt.ctrls, key: strings.Join(mt.ctrls, ","), mount: mt.point, mroot: mt.root}
		// Place the parent inside the agent's own cgroup of this hierarchy
		// when that cgroup is visible below the mount; else at the mount.
		base := mt.point
		for _, pc := range procs {
			if !slices.Equal(keyControllers(pc.key), mt.ctrls) {
				continue
			}
			h.key = pc.key
			if rel, ok := relCgroup(mt.root, pc.path); ok {
				if d := filepath.Join(mt.point, rel); isDir(d) {
					base, h.verify = d, true
				}
			}
			break
		}
		h.parent = filepath.Join(base, m.root)
		hs = append(hs, h)
		bases = append(bases, base)
	}
	for _, c := range []string{"memory", "cpu"} {
		if !found[c] {
			return &unusableError{fmt.Sprintf("%s controller not mounted", c)}
		}
	}
	var created []string
	for _, base := range bases {
		c, err := mkdirs(base, m.root)
		if err != nil {
			rmdirs(created)
			return fmt.Errorf("create parent group: %w", err)
		}
		created = append(created, c...)
	}
	m.mode = ModeV1
	m.hier = hs
	for _, h := range hs {
		for _, c := range h.ctrls {
			if slices.Contains(v1Wanted, c) {
				m.ctrls[c] = true
			}
		}
	}
	return nil
}

// relCgroup returns cgroup path p relative to mountRoot (the cgroup path of
// a mount point), if p lies at or below it.
func relCgroup(mountRoot, p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	if mountRoot == "/" {
		return p, true
	}
	rel, ok := strings.CutPrefix(p, mountRoot)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", false
	}
	return rel, true
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// ---- names ----

// ValidName reports whether name may be used as a container group name.
func ValidName(name string) error {
	if name == "" {
		return errors.New("cgroups: empty group name")
	}
	if len(name) > 255 {
		return fmt.Errorf("cgroups: group name longer than 255 bytes")
	}
	if strings.Contains(name, "/") || strings.Contains(name, "..") {
		return fmt.Errorf("cgroups: group name %q contains '/' or '..'", name)
	}
	if name[0] == '.' {
		return fmt.Errorf("cgroups: group name %q starts with '.'", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("cgroups: group name %q contains a control character", name)
		}
	}
	return nil
}

func validateRoot(root string) error {
	if root == "" || strings.HasPrefix(root, "/") || path.Clean(root) != root {
		return fmt.Errorf("cgroups: root %q must be a clean relative path", root)
	}
	for _, el := range strings.Split(root, "/") {
		if err := ValidName(el); err != nil {
			return fmt.Errorf("cgroups: invalid root %q: %w", root, err)
		}
	}
	return nil
}

// ---- groups ----

// Create creates the group of container name with limits l. It fails with
// an error wrapping fs.ErrExist if the group exists already, and with one
// wrapping ErrUnsupported if l needs a controller the Manager lacks. In
// ModeNone it only validates its arguments.
func (m *Manager) Create(name string, l Limits) (*Group, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	g := m.group(name)
	if m.mode == ModeNone {
		return g, nil
	}
	if err := m.supports(l); err != nil {
		return nil, err
	}
	var created []string
	for _, d := range g.dirs {
		if err := os.Mkdir(d.path, 0o755); err != nil {
			rmdirs(created)
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("cgroups: group %q already exists: %w", name, fs.ErrExist)
			}
			return nil, fmt.Errorf("cgroups: create group %q: %w", name, err)
		}
		created = append(created, d.path)
	}
	if err := g.apply(l, true); err != nil {
		rmdirs(created)
		return nil, err
	}
	return g, nil
}

// Open returns the existing group of container name, e.g. after an agent
// restart. It fails with an error wrapping fs.ErrNotExist if there is none.
// In ModeNone the group returned knows no processes until Add is called.
func (m *Manager) Open(name string) (*Group, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	g := m.group(name)
	if m.mode == ModeNone {
		return g, nil
	}
	dirs := g.dirs[:0]
	for _, d := range g.dirs {
		if isDir(d.path) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("cgroups: group %q: %w", name, fs.ErrNotExist)
	}
	g.dirs = dirs
	return g, nil
}

// List returns the names of the groups under the parent, sorted; none in
// ModeNone.
func (m *Manager) List() ([]string, error) {
	if m.mode == ModeNone {
		return nil, nil
	}
	ents, err := os.ReadDir(m.hier[0].parent)
	if err != nil {
		return nil, fmt.Errorf("cgroups: list: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Remove removes the parent group (and the elements of root above it when
// they become empty). It fails if groups remain; Destroy them first. The
// Manager must not be used afterwards.
func (m *Manager) Remove() error {
	var errs []error
	for _, h := range m.hier {
		dir := h.parent
		for range strings.Split(m.root, "/") {
			err := syscall.Rmdir(dir)
			if err != nil && err != syscall.ENOENT {
				if dir == h.parent {
					errs = append(errs, &fs.PathError{Op: "rmdir", Path: dir, Err: err})
				}
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) supports(l Limits) error {
	need := func(c string, want bool) error {
		if want && !m.ctrls[c] {
			return fmt.Errorf("cgroups: %s limit needs the %s controller: %w", c, c, ErrUnsupported)
		}
		return nil
	}
	return errors.Join(need("memory", l.MemoryBytes > 0), need("cpu", l.CPUs > 0), need("pids", l.PIDs > 0))
}
