package simagent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/daemon/launch"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

var masterdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "simagent-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		masterdBin = filepath.Join(dir, "masterd")
		if err := launch.Build(masterdBin, "./masterd", launch.Race); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// startMaster runs masterd on a free port and returns its host:port; it
// is killed when the test ends.
func startMaster(t *testing.T, flags ...string) string {
	t.Helper()
	cmd := exec.Command(masterdBin, append([]string{"--ip=127.0.0.1", "--port=0", "--registry=in_memory", "--allocation_interval=100ms",
		"--work_dir=" + t.TempDir()}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	select {
	case a := <-launch.Addr(stdout):
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("masterd did not say where it listens")
		return ""
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

func masterState(t *testing.T, master string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + master + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// sched is a minimal v1 scheduler: it launches want tasks of taskRes on
// the offers it gets, acknowledges every update and counts states.
type sched struct {
	t        *testing.T
	ctx      context.Context // its end stops the scheduler; calls failing after it are not errors
	master   string
	id       string
	streamID string

	// mu guards states.
	mu     sync.Mutex
	states map[string]map[mesos.TaskState]int
}

func (s *sched) call(c *mesos.Call) {
	c.FrameworkID = &mesos.ID{Value: s.id}
	body, _ := json.Marshal(c)
	req, _ := http.NewRequest("POST", "http://"+s.master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Mesos-Stream-Id", s.streamID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if s.ctx.Err() == nil {
			s.t.Errorf("%s: %v", c.Type, err)
		}
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 && s.ctx.Err() == nil {
		s.t.Errorf("%s: %d %s", c.Type, resp.StatusCode, b)
	}
}

func (s *sched) finished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.states {
		if st[mesos.TaskFinished] > 0 {
			n++
		}
	}
	return n
}

// run subscribes and drives the framework until ctx ends.
func (s *sched) run(ctx context.Context, want int, per core.Resources, perCPU float64) error {
	info := mesos.FrameworkInfo{User: "root", Name: "simagent-test"}
	body, _ := json.Marshal(&mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: info}})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+s.master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("subscribe: %s", resp.Status)
	}
	s.streamID = resp.Header.Get("Mesos-Stream-Id")
	rd := recordio.NewReader(resp.Body, 0)
	launched := 0
	for {
		rec, err := rd.Next()
		if err != nil || ctx.Err() != nil {
			return err
		}
		var ev mesos.Event
		if err := json.Unmarshal(rec, &ev); err != nil {
			return err
		}
		switch ev.Type {
		case mesos.EventSubscribed:
			s.id = ev.Subscribed.FrameworkID.Value
		case mesos.EventOffers:
			refuse := 3600.0
			for _, o := range ev.Offers.Offers {
				n := min(int(o.Resources.Resources.ScalarValue("cpus").Float()/perCPU), want-launched)
				if n <= 0 {
					s.call(&mesos.Call{Type: mesos.CallDecline, Decline: &mesos.Decline{OfferIDs: []mesos.ID{o.ID},
						Filters: &mesos.Filters{RefuseSeconds: &refuse}}})
					continue
				}
				tasks := make([]mesos.TaskInfo, n)
				for i := range tasks {
					id := fmt.Sprintf("t%d", launched)
					launched++
					tasks[i] = mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID, Resources: per,
						Command: &mesos.CommandInfo{Value: "true"}}
				}
				s.call(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID},
					Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}},
					Filters:    &mesos.Filters{RefuseSeconds: &refuse}}})
			}
		case mesos.EventUpdate:
			st := ev.Update.Status
			s.mu.Lock()
			if s.states[st.TaskID.Value] == nil {
				s.states[st.TaskID.Value] = map[mesos.TaskState]int{}
			}
			s.states[st.TaskID.Value][st.State]++
			s.mu.Unlock()
			if len(st.UUID) > 0 {
				s.call(&mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
					AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}})
			}
		}
	}
}

// TestFleetRunsTasks: 200 agents of cpus:4;mem:4096 register; a framework
// launches 500 tasks of cpus:0.5;mem:128 (8 fit on an agent, so 1,600
// slots: one round of offers is enough) lasting 200 ms; every task
// finishes exactly once at the framework, and every update is acked.
func TestFleetRunsTasks(t *testing.T) {
	const agents, tasks = 200, 500
	master := startMaster(t)
	specs := make([]AgentSpec, agents)
	for i := range specs {
		specs[i] = AgentSpec{Hostname: fmt.Sprintf("sim%03d", i), Resources: "cpus:4;mem:4096", Attributes: fmt.Sprintf("rack:r%d", i%10)}
	}
	f, err := Start(Config{Master: master, Agents: specs, Backoff: 200 * time.Millisecond, RetryInterval: 5 * time.Second,
		Duration: func(mesos.TaskInfo) time.Duration { return 200 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	waitFor(t, 30*time.Second, "200 activated agents", func() bool {
		st := masterState(t, master)
		n, _ := st["activated_slaves"].(float64)
		return int(n) == agents
	})
	st := masterState(t, master)
	var cpus, mem float64
	for _, s := range st["slaves"].([]any) {
		res := s.(map[string]any)["resources"].(map[string]any)
		cpus += res["cpus"].(float64)
		mem += res["mem"].(float64)
	}
	// 200 agents × 4 cpus = 800; × 4096 MB = 819,200.
	if cpus != 800 || mem != 819200 {
		t.Fatalf("total resources cpus %v mem %v, want 800 and 819200", cpus, mem)
	}
	if got := f.Stats().Registered; got != agents {
		t.Fatalf("fleet counts %d registered agents, want %d", got, agents)
	}

	per, err := core.ParseResources("cpus:0.5;mem:128")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &sched{t: t, ctx: ctx, master: master, states: map[string]map[mesos.TaskState]int{}}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, tasks, per, 0.5) }()
	defer func() { cancel(); <-done }()

	waitFor(t, 60*time.Second, "every task finished", func() bool { return s.finished() == tasks })
	waitFor(t, 30*time.Second, "pending updates drained", func() bool {
		st := f.Stats()
		return st.UpdatesPending == 0 && st.TasksRunning == 0
	})
	s.mu.Lock()
	for id, states := range s.states {
		if states[mesos.TaskFinished] != 1 {
			t.Errorf("task %s: TASK_FINISHED %d times (%v)", id, states[mesos.TaskFinished], states)
		}
		for state, n := range states {
			if state.Terminal() && state != mesos.TaskFinished {
				t.Errorf("task %s reached %s %d times", id, state, n)
			}
		}
	}
	if len(s.states) != tasks {
		t.Errorf("framework saw %d tasks, want %d", len(s.states), tasks)
	}
	s.mu.Unlock()
	fs := f.Stats()
	// Each task: STARTING, RUNNING, FINISHED, each acknowledged once.
	if fs.Launched != tasks || fs.UpdatesAcked != 3*tasks {
		t.Errorf("launched %d acked %d, want %d and %d", fs.Launched, fs.UpdatesAcked, tasks, 3*tasks)
	}
	t.Logf("fleet stats: %+v", fs)
}

// TestKillRestartPartitionHeal: a killed agent is deactivated and comes
// back with the same id; a partitioned one keeps its stream, a healed one
// re-registers with the same id.
func TestKillRestartPartitionHeal(t *testing.T) {
	// The master notices a closed stream when it next writes to it: a
	// PING every second makes that quick.
	master := startMaster(t, "--agent_ping_timeout=1s")
	specs := []AgentSpec{{Hostname: "a0", Resources: "cpus:1;mem:512"}, {Hostname: "a1", Resources: "cpus:1;mem:512"}}
	f, err := Start(Config{Master: master, Agents: specs, Backoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	activated := func(n int) func() bool {
		return func() bool {
			v, _ := masterState(t, master)["activated_slaves"].(float64)
			return int(v) == n
		}
	}
	waitFor(t, 10*time.Second, "2 activated agents", activated(2))
	id := f.AgentID(0)
	f.Kill(0)
	waitFor(t, 10*time.Second, "1 activated agent after Kill", activated(1))
	f.Restart(0)
	waitFor(t, 10*time.Second, "2 activated agents after Restart", activated(2))
	if got := f.AgentID(0); got != id {
		t.Fatalf("restarted agent has id %q, want %q", got, id)
	}
	f.Partition(1)
	id1 := f.AgentID(1)
	f.Heal(1)
	waitFor(t, 10*time.Second, "agent 1 registered again", func() bool { return f.Stats().Registered == 2 })
	waitFor(t, 10*time.Second, "2 activated agents after Heal", activated(2))
	if got := f.AgentID(1); got != id1 {
		t.Fatalf("healed agent has id %q, want %q", got, id1)
	}
}
