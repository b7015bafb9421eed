package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"meseta/core/election"
	"meseta/core/election/zkserver"
	"meseta/core/mesos"
)

// haSessionTimeout is the masters' --zk_session_timeout in an HA run: the
// failover target is measured from the old leader's session expiry, with
// the 2 s the issue sets.
const haSessionTimeout = 2 * time.Second

// cluster is what loadgen started: one master, or a ZooKeeper server and
// several masters that contend through it. It knows the leader.
type cluster struct {
	masters []*masterProc
	zk      *zkserver.Server // nil without ZooKeeper
	det     *election.Detector
	zkURL   string

	mu       sync.Mutex
	killed   []bool   // masters loadgen killed
	stopping bool     // loadgen is stopping the masters
	exits    []string // masters that exited by themselves, with their warnings
	warn     io.Writer
	// ctx ends when the run is interrupted: Ctrl-C reaches the masters
	// too (the same process group), and their exit is no failure then.
	ctx context.Context
}

// startCluster starts n masters from bin with flags; with zookeeper (n > 1
// needs it) it first starts a standalone ZooKeeper under dir and gives the
// masters --zk, and returns once one of them leads.
// A master that exits by itself is reported on warn at once, with the end
// of its log, and counted by unexpectedExits.
func startCluster(ctx context.Context, bin, dir string, n int, zookeeper bool, flags []string, warn io.Writer) (*cluster, error) {
	c := &cluster{killed: make([]bool, n), warn: warn, ctx: ctx}
	if zookeeper {
		zk, err := zkserver.StartStandalone(ctx, filepath.Join(dir, "zk"), zkserver.Options{})
		if err != nil {
			return nil, fmt.Errorf("start ZooKeeper: %w", err)
		}
		c.zk = zk
		c.zkURL = "zk://" + zk.Addr + "/meseta-loadgen"
		flags = append(append([]string(nil), flags...), "--zk="+c.zkURL,
			"--zk_session_timeout="+haSessionTimeout.String())
		det, err := election.NewDetector([]string{zk.Addr}, "/meseta-loadgen", haSessionTimeout, nil)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.det = det
	}
	for i := range n {
		f := flags
		if n > 1 {
			// Each master writes its own profiles.
			f = nil
			for _, fl := range flags {
				if strings.HasPrefix(fl, "--cpuprofile=") || strings.HasPrefix(fl, "--memprofile=") {
					fl += "." + strconv.Itoa(i)
				}
				f = append(f, fl)
			}
		}
		m, err := startMaster(bin, f)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.masters = append(c.masters, m)
		go c.watch(i, m)
	}
	if c.det != nil {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := c.det.Wait(wctx, nil); err != nil {
			c.stop()
			return nil, fmt.Errorf("no master leads within 30s: %w", err)
		}
	}
	return c, nil
}

// leader returns the leading master's index and host:port; ok is false
// while none leads.
func (c *cluster) leader() (int, string, bool) {
	if c.det == nil {
		return 0, c.masters[0].addr, true
	}
	data, _, ok := c.det.Leader()
	if !ok {
		return 0, "", false
	}
	var info mesos.MasterInfo
	if json.Unmarshal(data, &info) != nil {
		return 0, "", false
	}
	addr := info.HostPort()
	for i, m := range c.masters {
		if m.addr == addr {
			return i, addr, true
		}
	}
	return 0, "", false
}

// follow calls moved with the new leader's address every time the
// leadership moves to another master, until ctx ends.
func (c *cluster) follow(ctx context.Context, moved func(addr string)) {
	if c.det == nil {
		return
	}
	_, cur, _ := c.leader()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.det.Changes():
		}
		if _, addr, ok := c.leader(); ok && addr != cur {
			cur = addr
			moved(addr)
		}
	}
}

// killLeader sends SIGKILL to the leading master and returns its index.
func (c *cluster) killLeader() (int, error) {
	i, _, ok := c.leader()
	if !ok {
		return 0, fmt.Errorf("no master leads")
	}
	c.mu.Lock()
	c.killed[i] = true
	c.mu.Unlock()
	if err := c.masters[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return i, err
	}
	<-c.masters[i].done
	return i, nil
}

// watch reports master i if it exits while loadgen neither killed nor
// stopped it.
func (c *cluster) watch(i int, m *masterProc) {
	<-m.done
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[i] || c.stopping || c.ctx.Err() != nil {
		return
	}
	msg := fmt.Sprintf("masterd %d (%s) exited by itself (%s); its last warnings and errors:\n%s",
		i, m.addr, m.cmd.ProcessState, warnings(m.stderr(), 10))
	c.exits = append(c.exits, msg)
	fmt.Fprintf(c.warn, "loadgen: %s\n", msg)
}

// unexpectedExits lists the masters that exited by themselves.
func (c *cluster) unexpectedExits() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.exits)
}

// warnings is the last n lines of the log s at level WARN or ERROR (or
// that are not log records, such as a panic's).
func warnings(s string, n int) string {
	var out []string
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "time=") || strings.Contains(line, " level=WARN ") || strings.Contains(line, " level=ERROR ") {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// stop stops the masters loadgen did not kill, then ZooKeeper.
func (c *cluster) stop() {
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	for i, m := range c.masters {
		c.mu.Lock()
		k := c.killed[i]
		c.mu.Unlock()
		if !k {
			m.stop()
		}
	}
	if c.det != nil {
		c.det.Close()
	}
	if c.zk != nil {
		c.zk.Stop()
	}
}

// failover measures a leader kill: when loadgen killed the leader, when
// its detector saw another master lead, and when 99% of the agents were
// registered again (with the new leader: every stream to the old one
// broke with it).
type failover struct {
	agents int
	fleet  interface{ Registered() int64 }

	killed     atomic.Int64 // unix ns; 0 until a kill
	newLeader  atomic.Int64 // unix ns of the first leader change after it
	rereg99    atomic.Int64 // unix ns at 99% registered again
	lowestSeen atomic.Int64
}

// failoverResult is what a leader kill measured, relative to the kill.
type failoverResult struct {
	done      bool          // a leader was killed
	newLeader time.Duration // 0: no new leader seen
	rereg99   time.Duration // 0: 99% not reached
	lowest    int64         // fewest agents registered after the kill
}

func (f *failover) leaderMoved() {
	if f.killed.Load() != 0 {
		f.newLeader.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// measure records the kill and polls, every 10 ms for at most a minute,
// for 99% of the agents to be registered again.
func (f *failover) measure(ctx context.Context) {
	f.killed.Store(time.Now().UnixNano())
	want := int64(math.Ceil(0.99 * float64(f.agents)))
	lowest := int64(f.agents)
	dropped := false // registrations fell below the mark first
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := f.fleet.Registered()
		lowest = min(lowest, n)
		f.lowestSeen.Store(lowest)
		if n < want {
			dropped = true
		}
		if dropped && n >= want && f.newLeader.Load() != 0 {
			f.rereg99.Store(time.Now().UnixNano())
			return
		}
	}
}

func (f *failover) result() failoverResult {
	k := f.killed.Load()
	if k == 0 {
		return failoverResult{}
	}
	r := failoverResult{done: true, lowest: f.lowestSeen.Load()}
	if t := f.newLeader.Load(); t != 0 {
		r.newLeader = time.Duration(t - k)
	}
	if t := f.rereg99.Load(); t != 0 {
		r.rereg99 = time.Duration(t - k)
	}
	return r
}
