package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	zkclient "github.com/go-zookeeper/zk"

	"meseta/core/election"
	"meseta/core/election/zkserver"
	"meseta/core/mesos"
)

// zk is one 3-server ZooKeeper ensemble for the package, started by the
// first test that needs it and stopped by TestMain. Each HA cluster uses
// its own path under it.
var zk struct {
	once sync.Once
	dir  string
	e    *zkserver.Ensemble
	err  error
}

func zkEnsemble(t *testing.T) []string {
	t.Helper()
	zk.once.Do(func() {
		zk.dir, zk.err = os.MkdirTemp("", "meseta-e2e-zk-")
		if zk.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		zk.e, zk.err = zkserver.StartEnsemble(ctx, zk.dir, 3, zkserver.Options{})
		fmt.Fprintf(os.Stderr, "e2e: 3-server ZooKeeper ensemble up in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if zk.err != nil {
		t.Fatalf("ZooKeeper is required: %v", zk.err)
	}
	return zk.e.Addrs()
}

func stopZK() error {
	var err error
	if zk.e != nil {
		err = zk.e.Stop()
	}
	if zk.dir != "" {
		os.RemoveAll(zk.dir)
	}
	return err
}

// haCluster is masters contending through ZooKeeper, and agents that find
// the leader there.
type haCluster struct {
	t           *testing.T
	dir         string
	servers     []string
	path        string
	url         string // --zk and the agents' --master
	masters     []*proc
	agents      []*proc
	masterFlags []string
	det         *election.Detector
}

var clusterSeq atomic.Int64

func newHACluster(t *testing.T, masters, agents int, masterFlags ...string) *haCluster {
	t.Helper()
	servers := zkEnsemble(t)
	// A path of its own, also when a test runs more than once (-count).
	path := fmt.Sprintf("/meseta-e2e/%s-%d", t.Name(), clusterSeq.Add(1))
	c := &haCluster{t: t, dir: t.TempDir(), servers: servers, path: path, masterFlags: masterFlags}
	c.url = "zk://" + strings.Join(servers, ",") + c.path
	t.Cleanup(func() { (&cluster{t: t, dir: c.dir}).checkNoLeaks() })
	det, err := election.NewDetector(servers, c.path, 2*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { det.Close() })
	c.det = det
	for i := range masters {
		c.masters = append(c.masters, c.startMaster(i))
	}
	for i := range agents {
		c.agents = append(c.agents, c.startAgent(fmt.Sprintf("agent%d", i)))
	}
	return c
}

func (c *haCluster) startMaster(i int) *proc {
	args := append([]string{"--ip=127.0.0.1", "--port=0", "--work_dir=" + filepath.Join(c.dir, fmt.Sprintf("master%d", i)),
		"--zk=" + c.url, "--quorum=2", "--zk_session_timeout=2secs",
		"--allocation_interval=100ms", "--heartbeat_interval=300ms"}, c.masterFlags...)
	return start(c.t, fmt.Sprintf("master%d", i), bin.masterd, args...)
}

func (c *haCluster) startAgent(name string) *proc {
	return start(c.t, name, bin.agentd, "--master="+c.url, "--zk_session_timeout=2secs", "--ip=127.0.0.1", "--port=0",
		"--work_dir="+filepath.Join(c.dir, name), "--resources=cpus:4;mem:2048;disk:4096;ports:[31000-31100]",
		"--registration_backoff_factor=100ms", "--executor_shutdown_grace_period=1secs",
		"--status_update_retry_interval=1secs", "--attributes=rack:"+name)
}

// waitLeader waits until the election names a master other than those
// with the ids in not, and that master acts as the leader (it answers
// master/elected = 1). It returns the master's index and address.
func (c *haCluster) waitLeader(d time.Duration, not ...string) (int, string) {
	c.t.Helper()
	idx, addr := -1, ""
	eventually(c.t, d, "a leading master", func() bool {
		data, _, ok := c.det.Leader()
		if !ok {
			return false
		}
		var info mesos.MasterInfo
		if json.Unmarshal(data, &info) != nil || slices.Contains(not, info.ID) {
			return false
		}
		addr = info.HostPort()
		idx = slices.IndexFunc(c.masters, func(p *proc) bool { return p.addr == addr })
		if idx < 0 {
			return false
		}
		m, err := tryGetJSON("http://" + addr + "/metrics/snapshot")
		return err == nil && num(m["master/elected"]) == 1
	})
	return idx, addr
}

// masterID is the id the master at addr reports.
func (c *haCluster) masterID(addr string) string {
	return getJSON(c.t, "http://"+addr+"/master/state")["id"].(string)
}

// waitAgents waits until the master at addr has n active agents.
func (c *haCluster) waitAgents(addr string, n int, d time.Duration) {
	c.t.Helper()
	eventually(c.t, d, fmt.Sprintf("%d active agents on %s", n, addr), func() bool {
		st, err := tryGetJSON("http://" + addr + "/master/state")
		return err == nil && num(st["activated_slaves"]) == float64(n)
	})
}

// launchSleepers launches n long tasks ("sleep 600") from the offers that
// come, as many per offer as fit, and waits until all run. It returns
// the running statuses by task id.
func launchSleepers(f *framework, n int) map[string]mesos.TaskStatus {
	f.t.Helper()
	launched := 0
	for launched < n {
		for _, o := range f.nextOffers(20 * time.Second) {
			var cpus, mem float64
			for _, r := range o.Resources.Resources {
				switch r.Name {
				case "cpus":
					cpus += r.Scalar.Float()
				case "mem":
					mem += r.Scalar.Float()
				}
			}
			var tasks []mesos.TaskInfo
			for launched+len(tasks) < n && cpus >= 0.2 && mem >= 32 {
				id := fmt.Sprintf("sleeper-%02d", launched+len(tasks))
				tasks = append(tasks, commandTask(id, o, "cpus:0.2;mem:32", "sleep 600"))
				cpus -= 0.2
				mem -= 32
			}
			if len(tasks) > 0 {
				f.launch(o, tasks, 0)
				launched += len(tasks)
			} else {
				f.decline([]mesos.Offer{o}, 0)
			}
		}
	}
	running := map[string]mesos.TaskStatus{}
	for len(running) < n {
		ev := f.next(60*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventUpdate })
		s := ev.Update.Status
		f.ack(&s)
		if s.State == mesos.TaskRunning {
			running[s.TaskID.Value] = s
		} else if s.State.Terminal() {
			f.t.Fatalf("task %s: %s %s", s.TaskID.Value, s.State, s.Message)
		}
	}
	for id, st := range f.seen {
		if s, ok := st[mesos.TaskRunning]; ok {
			running[id] = s
		}
	}
	return running
}

// requireNoLoss fails the test if the framework ever saw a task leave the
// running states.
func requireNoLoss(f *framework) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range f.log {
		if ev.Type != mesos.EventUpdate {
			continue
		}
		switch s := ev.Update.Status; s.State {
		case mesos.TaskStaging, mesos.TaskStarting, mesos.TaskRunning:
		default:
			f.t.Errorf("task %s went %s (%s, %s)", s.TaskID.Value, s.State, s.Reason, s.Message)
		}
	}
}

// TestLeaderKilled is acceptance 1 of the HA issue: three masters, a
// 3-server ensemble, three agents and 50 long tasks of a checkpointing
// framework. The leader is killed with SIGKILL; a standby is elected and
// catches up with the registry, the agents and the framework re-register,
// and reconciliation answers RUNNING for all 50 tasks. No task is killed
// and no TASK_LOST is sent.
func TestLeaderKilled(t *testing.T) {
	c := newHACluster(t, 3, 3)
	li, addr := c.waitLeader(30 * time.Second)
	c.waitAgents(addr, 3, 30*time.Second)
	info := newFrameworkInfo("ha")
	info.Checkpoint = true
	info.FailoverTimeout = 3600
	f := subscribe(t, addr, info)
	running := launchSleepers(f, 50)

	oldID := c.masterID(addr)
	killed := time.Now()
	c.masters[li].kill()
	ni, naddr := c.waitLeader(60*time.Second, oldID)
	elected := time.Since(killed)
	f.failover(naddr, 30*time.Second)
	c.waitAgents(naddr, 3, 60*time.Second)
	back := time.Since(killed)
	t.Logf("leader master%d killed: master%d leads after %v; the framework and 3 agents are back after %v",
		li, ni, elected.Round(time.Millisecond), back.Round(time.Millisecond))

	var tasks []mesos.ReconcileTask
	for id, s := range running {
		tasks = append(tasks, mesos.ReconcileTask{TaskID: mesos.ID{Value: id}, AgentID: s.AgentID})
	}
	f.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: tasks}})
	got := map[string]mesos.TaskState{}
	for len(got) < len(running) {
		ev := f.next(30*time.Second, func(e *mesos.Event) bool {
			return e.Type == mesos.EventUpdate && e.Update.Status.Reason == mesos.ReasonReconciliation
		})
		got[ev.Update.Status.TaskID.Value] = ev.Update.Status.State
	}
	for id, st := range got {
		if st != mesos.TaskRunning {
			t.Errorf("reconciled %s as %s", id, st)
		}
	}
	requireNoLoss(f)
	st := getJSON(t, "http://"+naddr+"/master/state")
	n := 0
	for _, fw := range st["frameworks"].([]any) {
		for _, task := range fw.(map[string]any)["tasks"].([]any) {
			if task.(map[string]any)["state"] == "TASK_RUNNING" {
				n++
			}
		}
	}
	if n != 50 {
		t.Fatalf("the new leader's /master/state shows %d running tasks, want 50", n)
	}
}

// TestLeaderStopped is acceptance 2: the leader is stopped (SIGSTOP) past
// its ZooKeeper session timeout, which is how a partition from ZooKeeper
// looks from outside. The standby is elected and the agent moves to it;
// once resumed, the old leader steps down and exits without acting as the
// leader (no agent removals, no registry writes).
func TestLeaderStopped(t *testing.T) {
	c := newHACluster(t, 2, 1, "--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2")
	li, addr := c.waitLeader(30 * time.Second)
	c.waitAgents(addr, 1, 30*time.Second)
	oldID := c.masterID(addr)
	old := c.masters[li]

	old.signal(syscall.SIGSTOP)
	stopped := time.Now()
	ni, naddr := c.waitLeader(30*time.Second, oldID)
	t.Logf("master%d stopped: master%d leads after %v", li, ni, time.Since(stopped).Round(time.Millisecond))
	c.waitAgents(naddr, 1, 30*time.Second)
	// Well past the old leader's agent ping timeouts: had it acted on its
	// clocks when resumed, it would remove the agent.
	old.signal(syscall.SIGCONT)
	select {
	case <-old.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the resumed old leader did not exit")
	}
	if code := old.cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatalf("the old leader exited with status 0 after losing leadership")
	}
	b, _ := os.ReadFile(old.log)
	logText := string(b)
	if !strings.Contains(logText, "lost leadership") {
		t.Fatalf("the old leader's log does not say it lost leadership:\n%s", tail(b, 3000))
	}
	for _, bad := range []string{"removing agent", "registry refused"} {
		if strings.Contains(logText, bad) {
			t.Fatalf("the deposed leader acted (%q) after it was resumed:\n%s", bad, tail(b, 3000))
		}
	}
	// The agent stays with the new leader, under the same id.
	c.waitAgents(naddr, 1, 10*time.Second)
	if st := getJSON(t, "http://"+naddr+"/master/state"); len(st["slaves"].([]any)) != 1 {
		t.Fatalf("new leader's agents: %v", st["slaves"])
	}
}

// TestStandbyEndpoints: a standby names the leader in /master/state,
// redirects /master/redirect and scheduler calls to it with 307, and
// answers master/elected = 0.
func TestStandbyEndpoints(t *testing.T) {
	c := newHACluster(t, 2, 0)
	li, addr := c.waitLeader(30 * time.Second)
	standby := c.masters[1-li].addr
	leaderID := c.masterID(addr)
	eventually(t, 10*time.Second, "the standby to name the leader", func() bool {
		st, err := tryGetJSON("http://" + standby + "/master/state")
		return err == nil && st["leader_info"].(map[string]any)["id"] == leaderID
	})
	st := getJSON(t, "http://"+standby+"/master/state")
	if st["id"] == leaderID || !strings.HasPrefix(st["leader"].(string), "master@") {
		t.Fatalf("standby state: id %v leader %v", st["id"], st["leader"])
	}
	if m := getJSON(t, "http://"+standby+"/metrics/snapshot"); num(m["master/elected"]) != 0 {
		t.Fatalf("standby metrics: %v", m)
	}
	code, loc := noRedirect(t, "GET", "http://"+standby+"/master/redirect", "")
	if code != 307 || loc != "//"+addr {
		t.Fatalf("/master/redirect: %d %q, want 307 //%s", code, loc, addr)
	}
	code, loc = noRedirect(t, "POST", "http://"+standby+"/api/v1/scheduler", `{"type":"SUBSCRIBE"}`)
	if code != 307 || loc != "//"+addr+"/api/v1/scheduler" {
		t.Fatalf("scheduler call to the standby: %d %q", code, loc)
	}
	// Stopping the leader cleanly hands over at once (it deletes its
	// znode): the standby leads, and answers for itself.
	stopped := time.Now()
	c.masters[li].stop()
	_, naddr := c.waitLeader(15*time.Second, leaderID)
	if naddr != standby {
		t.Fatalf("new leader %s, want the standby %s", naddr, standby)
	}
	t.Logf("clean hand-over in %v", time.Since(stopped).Round(time.Millisecond))
}

// tryGetJSON is getJSON for a server that may be down or not ready.
func tryGetJSON(url string) (map[string]any, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var m map[string]any
	err = json.NewDecoder(resp.Body).Decode(&m)
	return m, err
}

// noRedirect sends a request without following redirects and returns the
// status code and Location.
func noRedirect(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestRegistryKeepsTasks shows the registry preventing Mesos's old
// failover inconsistency. An agent is stopped while the leader is killed,
// so it has not re-registered when the framework reconciles with the new
// leader. The new master knows from the registry that the agent was
// admitted: it answers nothing for the task there (neither a RUNNING it
// cannot vouch for nor a TASK_LOST for a task that runs), and when the
// agent comes back it is taken back under its old id with its task, which
// reconciliation then reports RUNNING. Nothing is lost or killed.
func TestRegistryKeepsTasks(t *testing.T) {
	c := newHACluster(t, 2, 2)
	li, addr := c.waitLeader(30 * time.Second)
	c.waitAgents(addr, 2, 30*time.Second)
	info := newFrameworkInfo("keeper")
	info.Checkpoint = true
	info.FailoverTimeout = 3600
	f := subscribe(t, addr, info)

	// One task on each agent.
	taskOn := map[string]string{} // agent id -> task id
	for len(taskOn) < 2 {
		for _, o := range f.nextOffers(20 * time.Second) {
			if _, ok := taskOn[o.AgentID.Value]; ok {
				f.decline([]mesos.Offer{o}, 0)
				continue
			}
			id := fmt.Sprintf("task-%d", len(taskOn))
			taskOn[o.AgentID.Value] = id
			f.launch(o, []mesos.TaskInfo{commandTask(id, o, "cpus:0.5;mem:32", "sleep 600")}, 0)
		}
	}
	for _, id := range taskOn {
		f.waitState(id, mesos.TaskRunning, 30*time.Second)
	}
	// The agent process behind each id.
	procOf := map[string]*proc{}
	for _, p := range c.agents {
		procOf[getJSON(t, "http://"+p.addr+"/state")["id"].(string)] = p
	}
	var stoppedID string
	for id := range taskOn {
		stoppedID = id
		break
	}
	stoppedTask := taskOn[stoppedID]
	var otherID string
	for id := range taskOn {
		if id != stoppedID {
			otherID = id
		}
	}
	otherTask := taskOn[otherID]

	procOf[stoppedID].signal(syscall.SIGSTOP)
	oldID := c.masterID(addr)
	c.masters[li].kill()
	_, naddr := c.waitLeader(60*time.Second, oldID)
	f.failover(naddr, 30*time.Second)
	c.waitAgents(naddr, 1, 30*time.Second)
	st := getJSON(t, "http://"+naddr+"/master/state")
	recovered := st["recovered_slaves"].([]any)
	if len(recovered) != 1 || recovered[0].(map[string]any)["id"] != stoppedID {
		t.Fatalf("recovered_slaves %v, want only the stopped agent %s", recovered, stoppedID)
	}

	// Reconcile the task on the missing agent, then the other one. Events
	// keep the order of the calls, so if the other task's answer comes
	// first, none was sent for the missing agent's task.
	reconcile := func(task, agent string) {
		f.mustCall(&mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: []mesos.ReconcileTask{
			{TaskID: mesos.ID{Value: task}, AgentID: &mesos.ID{Value: agent}}}}})
	}
	reconcile(stoppedTask, stoppedID)
	reconcile(otherTask, otherID)
	ev := f.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.Reason == mesos.ReasonReconciliation &&
			(e.Update.Status.TaskID.Value == stoppedTask || e.Update.Status.TaskID.Value == otherTask)
	})
	if s := ev.Update.Status; s.TaskID.Value != otherTask || s.State != mesos.TaskRunning {
		t.Fatalf("reconciliation with an admitted agent missing answered %s %s, want nothing for %s and RUNNING for %s",
			s.TaskID.Value, s.State, stoppedTask, otherTask)
	}

	// The agent comes back: same id, with its task.
	procOf[stoppedID].signal(syscall.SIGCONT)
	c.waitAgents(naddr, 2, 30*time.Second)
	ids := []string{}
	for _, s := range getJSON(t, "http://"+naddr+"/master/slaves")["slaves"].([]any) {
		ids = append(ids, s.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	want := []string{stoppedID, otherID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("agents after the failover %v, want the same ids %v", ids, want)
	}
	reconcile(stoppedTask, stoppedID)
	ev = f.next(20*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == stoppedTask && e.Update.Status.Reason == mesos.ReasonReconciliation
	})
	if ev.Update.Status.State != mesos.TaskRunning {
		t.Fatalf("the returned agent's task reconciles as %s", ev.Update.Status.State)
	}
	requireNoLoss(f)
}

// TestRecoveryRemovalLimit: after a failover, when more of the admitted
// agents than --recovery_agent_removal_limit fail to re-register within
// --agent_reregister_timeout, the new leader marks none of them
// unreachable and fails over instead (exits non-zero), as Mesos does.
func TestRecoveryRemovalLimit(t *testing.T) {
	c := newHACluster(t, 2, 2, "--agent_reregister_timeout=2secs", "--recovery_agent_removal_limit=40%")
	li, addr := c.waitLeader(30 * time.Second)
	c.waitAgents(addr, 2, 30*time.Second)
	for _, a := range c.agents {
		a.signal(syscall.SIGSTOP)
	}
	oldID := c.masterID(addr)
	c.masters[li].kill()
	ni, naddr := c.waitLeader(30*time.Second, oldID)
	if st := getJSON(t, "http://"+naddr+"/master/state"); len(st["recovered_slaves"].([]any)) != 2 {
		t.Fatalf("the new leader expects %v, want both agents", st["recovered_slaves"])
	}
	next := c.masters[ni]
	select {
	case <-next.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the new leader did not fail over with 2 of 2 agents missing and a 40% limit")
	}
	if code := next.cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatal("the leader that failed over exited with status 0")
	}
	b, _ := os.ReadFile(next.log)
	if !strings.Contains(string(b), "recovery agent removal limit exceeded") {
		t.Fatalf("its log does not name the limit:\n%s", tail(b, 3000))
	}
	for _, a := range c.agents {
		a.signal(syscall.SIGCONT)
	}
}

// TestStandbyRecontends: a standby whose ZooKeeper session expires (it was
// stopped past the session timeout) does not exit: it contends again with
// a new session, stays a standby while the leader lives, and takes over
// when the leader goes.
func TestStandbyRecontends(t *testing.T) {
	c := newHACluster(t, 2, 0)
	li, addr := c.waitLeader(30 * time.Second)
	standby := c.masters[1-li]
	leaderID := c.masterID(addr)
	// Stop it only once it is a standby in full: contending, and following
	// the registry with that session.
	eventually(t, 20*time.Second, "the standby to contend", func() bool {
		b, _ := os.ReadFile(standby.log)
		return strings.Contains(string(b), "contending for leadership")
	})
	standby.signal(syscall.SIGSTOP)
	// The standby's session expires while it is stopped: wait until its
	// znode is gone, as the leader's own listing shows it.
	eventually(t, 20*time.Second, "the stopped standby's znode to expire", func() bool {
		children, err := c.electionChildren()
		return err == nil && len(children) == 1
	})
	standby.signal(syscall.SIGCONT)
	eventually(t, 20*time.Second, "the standby to contend again", func() bool {
		children, err := c.electionChildren()
		return err == nil && len(children) == 2
	})
	select {
	case <-standby.done:
		t.Fatal("the standby exited after losing its session")
	default:
	}
	b, _ := os.ReadFile(standby.log)
	if !strings.Contains(string(b), "standby lost its ZooKeeper session; contending again") {
		t.Fatalf("the standby's log does not say it contended again:\n%s", tail(b, 3000))
	}
	if m := getJSON(t, "http://"+standby.addr+"/metrics/snapshot"); num(m["master/elected"]) != 0 {
		t.Fatal("the resumed standby acts as the leader while the leader lives")
	}
	c.masters[li].kill()
	_, naddr := c.waitLeader(30*time.Second, leaderID)
	if naddr != standby.addr {
		t.Fatalf("new leader %s, want the re-contended standby %s", naddr, standby.addr)
	}
}

// electionChildren lists the contenders' znodes of the cluster's path.
func (c *haCluster) electionChildren() ([]string, error) {
	conn, _, err := zkclient.Connect(c.servers, 2*time.Second, zkclient.WithLogger(quietZK{}))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	children, _, err := conn.Children(c.path)
	var out []string
	for _, ch := range children {
		if strings.HasPrefix(ch, "json.info_") {
			out = append(out, ch)
		}
	}
	return out, err
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}
