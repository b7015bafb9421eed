package master

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
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
			m, err := New(Config{Info: mesos.MasterInfo{ID: "M"}}, registry.NewMemory(),
				func(o alloc.Options) (alloc.Allocator, error) { return alloc.NewSharded(o) }, alloc.Options{}, now)
			if err != nil {
				b.Fatal(err)
			}
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
