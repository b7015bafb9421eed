package master

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// benchConn encodes every event to JSON, as masterd's streams do, and
// keeps the offers for the benchmark's framework.
type benchConn struct {
	mu     sync.Mutex
	offers []mesos.Offer
	bytes  int
}

func (c *benchConn) Send(ev *mesos.Event) bool {
	b, _ := json.Marshal(ev)
	c.mu.Lock()
	c.bytes += len(b)
	if ev.Offers != nil {
		c.offers = append(c.offers, ev.Offers.Offers...)
	}
	c.mu.Unlock()
	return true
}
func (c *benchConn) Close() {}

type benchAgentConn struct{ bytes int }

func (c *benchAgentConn) Send(ev *agentapi.Event) bool {
	b, _ := json.Marshal(ev)
	c.bytes += len(b)
	return true
}
func (c *benchAgentConn) Close() {}

// BenchmarkTaskLifecycle measures the master's own cost per task, with
// events encoded to JSON but no sockets: an offer is accepted with one
// task, the agent reports TASK_RUNNING and TASK_FINISHED, and the
// framework acknowledges both. The resources come back and are offered
// again, so the loop runs at steady state.
func BenchmarkTaskLifecycle(b *testing.B) {
	for _, agents := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			now := time.Unix(1_800_000_000, 0)
			m := newMasterAt(b, now)
			ac := &benchAgentConn{}
			res := core.MustParseResources("cpus:1;mem:128")
			for i := range agents {
				_, err := m.SubscribeAgent(ac, &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
					AgentInfo: mesos.AgentInfo{Hostname: fmt.Sprintf("h%d", i), Resources: res}, Endpoint: "127.0.0.1:1"}}, now)
				if err != nil {
					b.Fatal(err)
				}
			}
			fc := &benchConn{}
			sub, err := m.Subscribe(fc, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{
				FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: "bench"}}}, now)
			if err != nil {
				b.Fatal(err)
			}
			if len(fc.offers) != agents {
				b.Fatalf("%d offers for %d agents", len(fc.offers), agents)
			}
			fw := &mesos.ID{Value: sub.FrameworkID}
			zero := 0.0
			uuid := make([]byte, 16)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fc.mu.Lock()
				o := fc.offers[0]
				fc.offers = fc.offers[1:]
				fc.mu.Unlock()
				task := fmt.Sprintf("t%d", i)
				err := m.Call(&mesos.Call{FrameworkID: fw, Type: mesos.CallAccept, Accept: &mesos.Accept{
					OfferIDs: []mesos.ID{o.ID}, Filters: &mesos.Filters{RefuseSeconds: &zero},
					Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{{
						Name: task, TaskID: mesos.ID{Value: task}, AgentID: o.AgentID, Resources: res,
						Command: &mesos.CommandInfo{Value: "true"}}}}}}}}, sub.StreamID, now)
				if err != nil {
					b.Fatal(err)
				}
				for _, st := range []mesos.TaskState{mesos.TaskRunning, mesos.TaskFinished} {
					uuid[0], uuid[1] = byte(i), byte(st[5])
					u := append([]byte(nil), uuid...)
					m.AgentCalls([]agentapi.Call{{Type: agentapi.CallStatusUpdate, AgentID: &o.AgentID,
						StatusUpdate: &agentapi.StatusUpdate{FrameworkID: *fw, Status: mesos.TaskStatus{
							TaskID: mesos.ID{Value: task}, State: st, UUID: u}}}}, now)
					if err := m.Call(&mesos.Call{FrameworkID: fw, Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
						AgentID: o.AgentID, TaskID: mesos.ID{Value: task}, UUID: u}}, sub.StreamID, now); err != nil {
						b.Fatal(err)
					}
				}
				if len(fc.offers) == 0 {
					b.Fatalf("task %d: the agent's resources were not offered again", i)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}

// countConn keeps the offers and drops every other event unencoded: the
// memory benchmark measures what the master retains, not encoding.
type countConn struct {
	offers    []mesos.Offer
	rescinded map[string]bool
	bad       string // the first update other than TASK_RUNNING
}

func (c *countConn) Send(ev *mesos.Event) bool {
	if ev.Offers != nil {
		c.offers = append(c.offers, ev.Offers.Offers...)
	}
	if ev.Update != nil && ev.Update.Status.State != mesos.TaskRunning && c.bad == "" {
		c.bad = string(ev.Update.Status.State) + ": " + ev.Update.Status.Message
	}
	if ev.Rescind != nil {
		if c.rescinded == nil {
			c.rescinded = map[string]bool{}
		}
		c.rescinded[ev.Rescind.OfferID.Value] = true
	}
	return true
}

// next returns the oldest offer not rescinded.
func (c *countConn) next() (mesos.Offer, bool) {
	for len(c.offers) > 0 {
		o := c.offers[0]
		c.offers = c.offers[1:]
		if !c.rescinded[o.ID.Value] {
			return o, true
		}
	}
	return mesos.Offer{}, false
}
func (c *countConn) Close() {}

type nopAgentConn struct{}

func (nopAgentConn) Send(*agentapi.Event) bool { return true }
func (nopAgentConn) Close()                    {}

// BenchmarkMasterMemory builds the memory target in one master:
// 30,000 agents (32 cpus, 256 GB) and 1,000,000 running tasks of 100
// frameworks, each task launched through an ACCEPT, reported
// TASK_RUNNING and acknowledged, shaped as loadgen's c1m tasks are. It
// reports the live heap after a collection, in all and per task. Run it
// with -benchtime 1x: one iteration builds the whole cluster.
func BenchmarkMasterMemory(b *testing.B) {
	const agents, frameworks, tasks = 30000, 100, 1_000_000
	for range b.N {
		now := time.Unix(1_800_000_000, 0)
		m := newMasterAt(b, now)
		res := core.MustParseResources("cpus:32;mem:262144;disk:1048576;ports:[31000-32000]")
		for i := range agents {
			_, err := m.SubscribeAgent(nopAgentConn{}, &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
				AgentInfo: mesos.AgentInfo{Hostname: fmt.Sprintf("agent-%05d.example.com", i), Resources: res,
					Attributes: []mesos.Attribute{{Name: "rack", Type: "TEXT", Text: &mesos.Text{Value: fmt.Sprintf("r%d", i%750)}}}},
				Endpoint: fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250)}}, now)
			if err != nil {
				b.Fatal(err)
			}
		}
		taskRes := core.MustParseResources("cpus:0.1;mem:32")
		type fwState struct {
			conn *countConn
			id   *mesos.ID
			sub  Subscribed
		}
		fws := make([]fwState, frameworks)
		for f := range fws {
			c := &countConn{}
			name := fmt.Sprintf("c1m%d", f)
			sub, err := m.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{
				FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: name, Roles: []string{name},
					Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}}}}}, now)
			if err != nil {
				b.Fatal(err)
			}
			fws[f] = fwState{conn: c, id: &mesos.ID{Value: sub.FrameworkID}, sub: sub}
		}
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		zero := 0.0
		launched := 0
		for launched < tasks {
			progress := false
			for f := range fws {
				fs := &fws[f]
				if launched >= tasks {
					continue
				}
				o, ok := fs.conn.next()
				if !ok {
					continue
				}
				// At most 40 tasks an offer, and what fits in it.
				n := min(tasks-launched, 40, int(o.Resources.Resources.ScalarValue("cpus").Float()*10+1e-9))
				if n == 0 {
					continue
				}
				infos := make([]mesos.TaskInfo, n)
				for i := range infos {
					id := fmt.Sprintf("%s-%d", fs.sub.FrameworkID, launched+i)
					infos[i] = mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID, Resources: taskRes,
						Command: &mesos.CommandInfo{Value: "sleep 300"},
						Labels:  &mesos.Labels{Labels: []mesos.Label{{Key: "meseta.duration", Value: "300"}}}}
				}
				if err := m.Call(&mesos.Call{FrameworkID: fs.id, Type: mesos.CallAccept, Accept: &mesos.Accept{
					OfferIDs: []mesos.ID{o.ID}, Filters: &mesos.Filters{RefuseSeconds: &zero},
					Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: infos}}}}}, fs.sub.StreamID, now); err != nil {
					b.Fatal(err)
				}
				for i := range infos {
					uuid := []byte(fmt.Sprintf("%016d", launched+i))
					m.AgentCalls([]agentapi.Call{{Type: agentapi.CallStatusUpdate, AgentID: &o.AgentID,
						StatusUpdate: &agentapi.StatusUpdate{FrameworkID: *fs.id, Status: mesos.TaskStatus{
							TaskID: infos[i].TaskID, State: mesos.TaskRunning, Source: mesos.SourceExecutor, UUID: uuid,
							AgentID: &o.AgentID, Timestamp: 1.8e9}}}}, now)
					if err := m.Call(&mesos.Call{FrameworkID: fs.id, Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
						AgentID: o.AgentID, TaskID: infos[i].TaskID, UUID: uuid}}, fs.sub.StreamID, now); err != nil {
						b.Fatal(err)
					}
				}
				launched += n
				progress = true
			}
			if !progress {
				now = now.Add(time.Second)
				m.Sweep(now)
			}
		}
		if got := m.Metrics(now)["master/tasks_running"]; got != tasks {
			for _, f := range fws {
				if f.conn.bad != "" {
					b.Log("first failed task: ", f.conn.bad)
					break
				}
			}
			b.Fatalf("%v tasks running, want %d", got, tasks)
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(float64(after.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(heap/tasks, "B/task")
		runtime.KeepAlive(m)
	}
}
