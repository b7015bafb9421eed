package cgroups

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// mount is one cgroup line of /proc/self/mountinfo.
type mount struct {
	root   string   // cgroup path of the mount point (field 4)
	point  string   // mount point (field 5)
	fstype string   // "cgroup" or "cgroup2"
	ctrls  []string // v1: the controllers of the hierarchy, sorted; v2: nil
}

// knownV1 are the v1 controller names that may appear in a cgroup mount's
// super options; anything else there (rw, xattr, name=...) is not one.
var knownV1 = []string{
	"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb",
	"memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma",
}

// parseMountinfo returns the cgroup and cgroup2 mounts in a mountinfo text.
func parseMountinfo(data string) []mount {
	var out []mount
	for line := range strings.Lines(data) {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+4 {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := mount{root: unescapeOctal(f[3]), point: unescapeOctal(f[4]), fstype: fstype}
		if fstype == "cgroup" {
			for _, o := range strings.Split(f[sep+3], ",") {
				if slices.Contains(knownV1, o) {
					m.ctrls = append(m.ctrls, o)
				}
			}
			if len(m.ctrls) == 0 {
				continue // a named hierarchy such as name=systemd
			}
			slices.Sort(m.ctrls)
		}
		out = append(out, m)
	}
	return out
}

// unescapeOctal undoes the \ooo escaping of mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procCgroup is one line of /proc/<pid>/cgroup.
type procCgroup struct {
	key  string // the controller list ("cpu,cpuacct", "name=systemd"), "" for v2
	path string
}

func parseProcCgroup(data string) []procCgroup {
	var out []procCgroup
	for line := range strings.Lines(data) {
		parts := strings.SplitN(strings.TrimRight(line, "\n"), ":", 3)
		if len(parts) != 3 {
			continue
		}
		out = append(out, procCgroup{key: parts[1], path: parts[2]})
	}
	return out
}

// keyControllers returns the sorted controllers named by a /proc/<pid>/cgroup key.
func keyControllers(key string) []string {
	var c []string
	for _, s := range strings.Split(key, ",") {
		if slices.Contains(knownV1, s) {
			c = append(c, s)
		}
	}
	slices.Sort(c)
	return c
}

// readFile reads a small control file and trims the trailing newline.
func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// writeFile writes one value to an existing control file in a single write.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write " + strconv.Quote(value), Path: path, Err: unwrapPathErr(err)}
	}
	return nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readInt reads a control file holding one integer.
func readInt(path string) (int64, error) {
	s, err := readFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// readKeyed returns the value of key in a "key value" per line file
// (memory.events, cpu.stat, memory.oom_control).
func readKeyed(path, key string) (int64, bool, error) {
	s, err := readFile(path)
	if err != nil {
		return 0, false, err
	}
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil, err
		}
	}
	return 0, false, nil
}

// readProcs appends the pids in dir/cgroup.procs and in every descendant
// group. A group that vanished meanwhile contributes nothing.
func readProcs(dir string, into map[int]struct{}) error {
	s, err := readFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			return nil
		}
		return err
	}
	for _, f := range strings.Fields(s) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			into[pid] = struct{}{}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := readProcs(filepath.Join(dir, e.Name()), into); err != nil {
				return err
			}
		}
	}
	return nil
}

// procState returns the state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0, errors.New("cgroups: malformed /proc stat")
	}
	return b[i+2], nil
}
