package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"meseta/core/daemon/launch"
)

// masterdFlags are the flags of the masterd loadgen starts: an in-memory
// registry (nothing to clean up), a one-second allocation sweep, and the
// profile's health check (run.agent_ping_timeout and
// max_agent_ping_timeouts: how soon killed and partitioned agents are
// removed and their tasks reported lost). cpuProfile and memProfile, if
// set, are passed on as --cpuprofile and --memprofile.
func masterdFlags(pl *plan, cpuProfile, memProfile string) []string {
	ping, pings := pl.profile.Run.PingTimeouts()
	flags := []string{"--ip=127.0.0.1", "--port=0", "--registry=in_memory", "--allocation_interval=1secs",
		"--agent_ping_timeout=" + ping.String(), "--max_agent_ping_timeouts=" + strconv.Itoa(pings)}
	if cpuProfile != "" {
		flags = append(flags, "--cpuprofile="+cpuProfile)
	}
	if memProfile != "" {
		flags = append(flags, "--memprofile="+memProfile)
	}
	return flags
}

// masterProc is a masterd that loadgen started and stops.
type masterProc struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer // its stderr, shown when it fails
	done chan struct{}
}

// buildMasterd builds ./masterd of the module loadgen runs in into dir.
func buildMasterd(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "masterd")
	if err := launch.Build(bin, "./masterd", race); err != nil {
		return "", fmt.Errorf("%w (give -masterd or -master)", err)
	}
	return bin, nil
}

// startMaster runs path with flags and waits (30 s at most) for its
// "listening on" line.
func startMaster(path string, flags []string) (*masterProc, error) {
	m := &masterProc{cmd: exec.Command(path, flags...), log: new(bytes.Buffer), done: make(chan struct{})}
	m.cmd.Stderr = &lockedWriter{w: m.log}
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	addrc := launch.Addr(out)
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	select {
	case m.addr = <-addrc:
		return m, nil
	case <-m.done:
		return nil, fmt.Errorf("%s exited before listening:\n%s", path, m.stderr())
	case <-time.After(30 * time.Second):
		m.stop()
		return nil, fmt.Errorf("%s did not start listening within 30s", path)
	}
}

func (m *masterProc) stderr() string {
	lw := m.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return m.log.String()
}

// raced reports whether the masterd (built with -race) reported a data
// race other than a known one of a library (launch.RaceReports). A
// report the kept log no longer holds counts as a race.
func (m *masterProc) raced() bool {
	lw := m.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if !lw.race {
		return false
	}
	reports, unknown := launch.RaceReports(lw.w.Bytes())
	return unknown > 0 || reports == 0
}

// stop sends SIGTERM and waits 10 s before SIGKILL.
func (m *masterProc) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// procSample is a process's CPU time and resident memory, from /proc.
type procSample struct {
	cpu time.Duration
	rss int64 // bytes
}

// clockTick is USER_HZ, 100 on every Linux loadgen runs on.
const clockTick = 100

// sampleProc reads /proc/<pid>/stat (utime, stime) and /proc/<pid>/status
// (VmRSS).
func sampleProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces; the fields after it start at ")".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, errors.New("short /proc stat")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = time.Duration(ut+st) * time.Second / clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			s.rss = kb << 10
		}
	}
	return s, nil
}

// lockedWriter serialises writes to w (the masterd's stderr, copied by
// exec's goroutine) with readers holding mu. It keeps the last 1 MiB or
// so: enough for an error and a race report, bounded over a long run.
type lockedWriter struct {
	mu   sync.Mutex
	w    *bytes.Buffer
	race bool // a data race report went by (see raced)
}

const keepLog = 1 << 20

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.Contains(p, []byte("WARNING: DATA RACE")) {
		l.race = true
	}
	if l.w.Len() > 2*keepLog {
		tail := bytes.Clone(l.w.Bytes()[l.w.Len()-keepLog:])
		l.w.Reset()
		l.w.Write(tail)
	}
	return l.w.Write(p)
}
