package agentapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"meseta/core"
	"meseta/core/mesos"
)

// The codec's contract, checked against encoding/json (and mesos.Decode,
// the master's slow path) on random and realistic messages: the
// appenders write json.Marshal's bytes, and the decoders return the slow
// path's value and error text for any input.

type gen struct{ rng *rand.Rand }

var oddStrings = []string{"", "a<b>&c", `q"b\s`, "tab\tnl\n", "\x00\x1f", "\u2028\u2029", "\xff", "é日本", "web/prod"}

func (g gen) str() string {
	if g.rng.IntN(5) == 0 {
		return oddStrings[g.rng.IntN(len(oddStrings))]
	}
	return fmt.Sprintf("s%d", g.rng.IntN(100000))
}

func (g gen) maybe() bool { return g.rng.IntN(2) == 0 }

func (g gen) bytes() []byte {
	switch g.rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, 1+g.rng.IntN(20))
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	return b
}

var floatEdges = []float64{0, math.Copysign(0, -1), 1, 1e-7, 1e21, 123456.789, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN()}

func (g gen) float() float64 {
	if g.maybe() {
		return floatEdges[g.rng.IntN(len(floatEdges))]
	}
	return g.rng.Float64() * 1e9
}

func (g gen) id() mesos.ID { return mesos.ID{Value: g.str()} }

func (g gen) idPtr() *mesos.ID {
	if g.rng.IntN(4) == 0 {
		return nil
	}
	id := g.id()
	return &id
}

func (g gen) labels() *mesos.Labels {
	switch g.rng.IntN(3) {
	case 0:
		return nil
	case 1:
		return &mesos.Labels{}
	}
	return &mesos.Labels{Labels: []mesos.Label{{Key: g.str(), Value: g.str()}, {Key: g.str()}}}
}

var states = []mesos.TaskState{mesos.TaskStaging, mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling, mesos.TaskFinished,
	mesos.TaskFailed, mesos.TaskKilled, mesos.TaskError, mesos.TaskLost, mesos.TaskDropped, mesos.TaskUnreachable,
	mesos.TaskGone, mesos.TaskGoneByOperator, mesos.TaskUnknown, "", "BOGUS"}

func (g gen) state() mesos.TaskState { return states[g.rng.IntN(len(states))] }

func (g gen) status() mesos.TaskStatus {
	s := mesos.TaskStatus{TaskID: g.id(), State: g.state(), UUID: g.bytes(), AgentID: g.idPtr(), ExecutorID: g.idPtr()}
	if g.maybe() {
		s.Message, s.Source, s.Reason = g.str(), mesos.SourceExecutor, mesos.ReasonExecutorTerminated
	}
	if g.maybe() {
		s.Timestamp = g.float()
	}
	if g.rng.IntN(4) == 0 {
		s.Data = g.bytes()
		h := g.maybe()
		s.Healthy = &h
		s.Labels = g.labels()
		s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: g.rng.Int64()}
	}
	return s
}

var resourceTexts = []string{"cpus:0.1;mem:32", "cpus:4;mem:4096;disk(eng):100;ports:[31000-32000]", "gpus:1;zones:{a,b}", ""}

func (g gen) taskInfo() mesos.TaskInfo {
	t := mesos.TaskInfo{Name: g.str(), TaskID: g.id(), AgentID: g.id(), Labels: g.labels(),
		Resources: core.MustParseResources(resourceTexts[g.rng.IntN(len(resourceTexts))])}
	if g.rng.IntN(5) > 0 {
		t.Command = &mesos.CommandInfo{Value: g.str()}
		if g.maybe() {
			b := g.maybe()
			t.Command.Shell = &b
			t.Command.URIs = []mesos.URI{{Value: g.str(), Extract: &b, Cache: true}}
			t.Command.Arguments = []string{g.str()}
		}
	}
	if g.rng.IntN(4) == 0 {
		t.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: 3e9}}
		t.Data = g.bytes()
	}
	if g.rng.IntN(10) == 0 {
		t.Executor = &mesos.ExecutorInfo{ExecutorID: g.id()}
	}
	return t
}

func (g gen) frameworkInfo() mesos.FrameworkInfo {
	fi := mesos.FrameworkInfo{User: g.str(), Name: g.str(), ID: g.idPtr(), Checkpoint: g.maybe(), Labels: g.labels()}
	if g.maybe() {
		fi.FailoverTimeout = g.float()
	}
	if g.maybe() {
		fi.Roles = []string{g.str()}
		fi.Capabilities = []mesos.Capability{{Type: mesos.CapMultiRole}}
	} else {
		fi.Role = g.str()
	}
	return fi
}

func (g gen) call() Call {
	c := Call{AgentID: g.idPtr()}
	switch g.rng.IntN(7) {
	case 0, 1, 2:
		c.Type = CallStatusUpdate
		c.StatusUpdate = &StatusUpdate{FrameworkID: g.id(), Status: g.status()}
		if g.maybe() {
			c.StatusUpdate.LatestState = g.state()
		}
	case 3:
		c.Type = CallPong
		c.Pong = &Pong{Seq: g.rng.Uint64()}
	case 4:
		c.Type = CallExecutorExited
		c.ExecutorExited = &ExecutorExited{FrameworkID: g.id(), ExecutorID: g.id(), Status: g.rng.Int32() - math.MaxInt32/2}
	case 5:
		c.Type = CallMessage
		c.Message = &Message{FrameworkID: g.id(), ExecutorID: g.id(), Data: g.bytes()}
	case 6:
		c.Type = CallRegister
		c.Register = &Register{AgentInfo: mesos.AgentInfo{Hostname: g.str()}, Endpoint: g.str()}
	}
	return c
}

func (g gen) batch() *Batch {
	b := &Batch{}
	if g.rng.IntN(10) > 0 {
		b.Calls = []Call{}
	}
	for range g.rng.IntN(5) {
		b.Calls = append(b.Calls, g.call())
	}
	return b
}

func (g gen) event() *Event {
	ev := &Event{}
	switch g.rng.IntN(11) {
	case 0, 1, 2:
		ev.Type = EventRunTask
		ev.RunTask = &RunTask{FrameworkInfo: g.frameworkInfo(), Task: g.taskInfo(), Role: g.str()}
	case 3:
		ev.Type = EventPing
		ev.Ping = &Ping{Seq: g.rng.Uint64()}
	case 4:
		ev.Type = EventKillTask
		ev.KillTask = &KillTask{FrameworkID: g.id(), TaskID: g.id()}
		if g.maybe() {
			ev.KillTask.KillPolicy = &mesos.KillPolicy{}
		}
	case 5:
		ev.Type = EventAcknowledge
		ev.Acknowledge = &Acknowledge{FrameworkID: g.id(), TaskID: g.id(), UUID: g.bytes()}
	case 6:
		ev.Type = EventShutdownFramework
		ev.ShutdownFramework = &FrameworkRef{FrameworkID: g.id()}
	case 7:
		ev.Type = EventShutdownExecutor
		ev.ShutdownExecutor = &ExecutorRef{FrameworkID: g.id(), ExecutorID: g.id()}
	case 8:
		ev.Type = EventUpdateFramework
		fi := g.frameworkInfo()
		ev.UpdateFramework = &fi
	case 9:
		ev.Type = EventShutdown
		ev.Shutdown = &Shutdown{Message: g.str()}
	case 10:
		ev.Type = EventRegistered
		ev.Registered = &Registered{AgentID: g.id(), PingTimeoutSeconds: 15, MaxPingTimeouts: 5}
	}
	return ev
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func checkAppend(t *testing.T, v any, got []byte) []byte {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		want = nil
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("%T %+v\n got %s\nwant prefix%s (%v)", v, v, got, want, err)
	}
	return want
}

// checkDecodeBatch checks DecodeBatch against mesos.Decode on data and
// reports whether the fast path took it.
func checkDecodeBatch(t *testing.T, data []byte) bool {
	t.Helper()
	var want Batch
	wantErr := mesos.Decode(data, &want)
	var fast Batch
	ok := decodeBatchFast(data, &fast)
	if ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
		t.Fatalf("fast path read %s as\n%#v\nmesos.Decode: %#v, %v", data, fast, want, wantErr)
	}
	got := Batch{Calls: []Call{{Type: "stale"}}}
	err := DecodeBatch(data, &got)
	if errText(err) != errText(wantErr) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
		t.Fatalf("DecodeBatch(%s) = %#v, %v\nmesos.Decode: %#v, %v", data, got, err, want, wantErr)
	}
	return ok
}

// checkDecodeEvent checks DecodeEvent against json.Unmarshal on data and
// reports whether the fast path took it.
func checkDecodeEvent(t *testing.T, data []byte) bool {
	t.Helper()
	var want Event
	wantErr := json.Unmarshal(data, &want)
	var fast Event
	ok := decodeEventFast(data, &fast)
	if ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
		t.Fatalf("fast path read %s as\n%#v\nencoding/json: %#v, %v", data, fast, want, wantErr)
	}
	got := Event{Type: "stale", Ping: &Ping{}}
	err := DecodeEvent(data, &got)
	if errText(err) != errText(wantErr) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
		t.Fatalf("DecodeEvent(%s) = %#v, %v\nencoding/json: %#v, %v", data, got, err, want, wantErr)
	}
	return ok
}

func TestBatchCodecMatchesEncodingJSON(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 1))}
	fast := 0
	const n = 20000
	for range n {
		b := g.batch()
		data := checkAppend(t, b, AppendBatch([]byte("prefix"), b))
		if data != nil && checkDecodeBatch(t, data) {
			fast++
		}
	}
	t.Logf("%d of %d random batches decoded on the fast path", fast, n)
	if fast < n/5 {
		t.Errorf("only %d of %d random batches on the fast path", fast, n)
	}
	for _, s := range batchSeeds {
		checkDecodeBatch(t, []byte(s))
	}
}

func TestEventCodecMatchesEncodingJSON(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(2, 2))}
	fast := 0
	const n = 20000
	for range n {
		ev := g.event()
		data := checkAppend(t, ev, AppendEvent([]byte("prefix"), ev))
		if data != nil && checkDecodeEvent(t, data) {
			fast++
		}
	}
	t.Logf("%d of %d random events decoded on the fast path", fast, n)
	if fast < n/4 {
		t.Errorf("only %d of %d random events on the fast path", fast, n)
	}
	for _, s := range eventSeeds {
		checkDecodeEvent(t, []byte(s))
	}
}

// Realistic messages, as simulated agents and the master exchange them.

func realisticBatch(n int) *Batch {
	b := &Batch{}
	for i := range n {
		b.Calls = append(b.Calls, Call{Type: CallStatusUpdate, AgentID: &mesos.ID{Value: fmt.Sprintf("agent-S%d", i%7)},
			StatusUpdate: &StatusUpdate{FrameworkID: mesos.ID{Value: "fw-0001"}, LatestState: mesos.TaskRunning, Status: mesos.TaskStatus{
				TaskID: mesos.ID{Value: fmt.Sprintf("task-%06d", i)}, State: mesos.TaskRunning, Source: mesos.SourceExecutor,
				AgentID: &mesos.ID{Value: fmt.Sprintf("agent-S%d", i%7)}, ExecutorID: &mesos.ID{Value: fmt.Sprintf("task-%06d", i)},
				Timestamp: 1.7e9 + float64(i)/1e3, UUID: []byte{0xde, 0xad, 0xbe, 0xef, byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
			}}})
	}
	b.Calls = append(b.Calls, Call{Type: CallPong, AgentID: &mesos.ID{Value: "agent-S0"}, Pong: &Pong{Seq: 42}})
	return b
}

func realisticRunTask() *Event {
	shell := true
	return &Event{Type: EventRunTask, RunTask: &RunTask{
		FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: "loadgen", ID: &mesos.ID{Value: "fw-0001"}, FailoverTimeout: 3600,
			Roles: []string{"web"}, Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}}},
		Task: mesos.TaskInfo{Name: "task-000123", TaskID: mesos.ID{Value: "task-000123"}, AgentID: mesos.ID{Value: "agent-S3"},
			Resources: core.MustParseResources("cpus:0.1;mem:32"), Command: &mesos.CommandInfo{Value: "sleep 10", Shell: &shell},
			Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "job", Value: "bench"}}}},
		Role: "web",
	}}
}

func TestRealisticMessagesTakeTheFastPath(t *testing.T) {
	b := realisticBatch(20)
	if _, ok := appendBatchFast(nil, b); !ok {
		t.Error("STATUS_UPDATE batch: AppendBatch left the fast path")
	}
	if data := checkAppend(t, b, AppendBatch([]byte("prefix"), b)); !checkDecodeBatch(t, data) {
		t.Errorf("STATUS_UPDATE batch: DecodeBatch left the fast path: %s", data)
	}
	for _, ev := range []*Event{realisticRunTask(), {Type: EventPing, Ping: &Ping{Seq: 7}},
		{Type: EventAcknowledge, Acknowledge: &Acknowledge{FrameworkID: mesos.ID{Value: "f"}, TaskID: mesos.ID{Value: "t"}, UUID: []byte{1, 2, 3}}},
		{Type: EventKillTask, KillTask: &KillTask{FrameworkID: mesos.ID{Value: "f"}, TaskID: mesos.ID{Value: "t"}}}} {
		if _, ok := appendEventFast(nil, ev); !ok {
			t.Errorf("%s: AppendEvent left the fast path", ev.Type)
		}
		if data := checkAppend(t, ev, AppendEvent([]byte("prefix"), ev)); !checkDecodeEvent(t, data) {
			t.Errorf("%s: DecodeEvent left the fast path: %s", ev.Type, data)
		}
	}
}

var batchSeeds = []string{
	`{"calls":[{"type":"PONG","agent_id":{"value":"a"},"pong":{"seq":3}}]}`,
	`{"calls":[{"type":"STATUS_UPDATE","agent_id":{"value":"a"},"status_update":{"framework_id":{"value":"f"},"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"AQID"}}}]}`,
	`{"calls":[{"type":"REGISTER","register":{"agent_info":{"hostname":"h","resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]},"endpoint":"h:1"}}]}`,
	`{"calls":[{"type":"EXECUTOR_EXITED","agent_id":{"value":"a"},"executor_exited":{"framework_id":{"value":"f"},"executor_id":{"value":"e"},"status":-1}}]}`,
	`{"calls":[{"type":"PONG","pong":{"seq":-3}}]}`,
	`{"calls":[{"type":"PONG","pong":{"seq":3}}]} {}`,
	`{"calls":[{"type":"PONG","pong":null}]}`,
	`{"calls":null}`, `{}`, `[]`, ``,
}

var eventSeeds = []string{
	`{"type":"PING","ping":{"seq":1}}`,
	`{"type":"ACKNOWLEDGE","acknowledge":{"framework_id":{"value":"f"},"task_id":{"value":"t"},"uuid":"AQID"}}`,
	`{"type":"KILL_TASK","kill_task":{"framework_id":{"value":"f"},"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":5}}}}`,
	`{"type":"RUN_TASK","run_task":{"framework_info":{"user":"u","name":"n"},"task":{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"x"}},"role":"*"}}`,
	`{"type":"RUN_TASK","run_task":{"framework_info":{"user":"u","name":"n"},"task":{"name":"t","executor":{"executor_id":{"value":"e"}}},"role":"*"}}`,
	`{"type":"REGISTERED","registered":{"agent_id":{"value":"a"},"master_info":{"id":"m","ip":1,"port":5050}}}`,
	`{"type":"PING","ping":{"seq":1},"ping":{"seq":2}}`,
}

// FuzzFastAgentBatch: DecodeBatch agrees with mesos.Decode, and what it
// decodes AppendBatch writes as json.Marshal does.
func FuzzFastAgentBatch(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	b, _ := json.Marshal(realisticBatch(3))
	f.Add(b)
	g := gen{rand.New(rand.NewPCG(3, 3))}
	for range 20 {
		if b, err := json.Marshal(g.batch()); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeBatch(t, data)
		var b Batch
		if mesos.Decode(data, &b) == nil {
			checkAppend(t, &b, AppendBatch([]byte("prefix"), &b))
		}
	})
}

// FuzzFastAgentEvent: DecodeEvent agrees with json.Unmarshal, and what it
// decodes AppendEvent writes as json.Marshal does.
func FuzzFastAgentEvent(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	b, _ := json.Marshal(realisticRunTask())
	f.Add(b)
	g := gen{rand.New(rand.NewPCG(4, 4))}
	for range 20 {
		if b, err := json.Marshal(g.event()); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeEvent(t, data)
		var ev Event
		if json.Unmarshal(data, &ev) == nil {
			checkAppend(t, &ev, AppendEvent([]byte("prefix"), &ev))
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	bench := func(name string, size int, fast, slow func() error) {
		for _, impl := range []struct {
			name string
			run  func() error
		}{{"encoding-json", slow}, {"fast", fast}} {
			b.Run(name+"/impl="+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if err := impl.run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	batch := realisticBatch(20)
	if _, ok := appendBatchFast(nil, batch); !ok {
		b.Fatal("the batch is off the fast path")
	}
	batchJSON, _ := json.Marshal(batch)
	var buf []byte
	bench("encode-batch/status-updates=20", len(batchJSON),
		func() error { buf = AppendBatch(buf[:0], batch); return nil },
		func() error { _, err := json.Marshal(batch); return err })
	var got Batch
	bench("decode-batch/status-updates=20", len(batchJSON),
		func() error { return DecodeBatch(batchJSON, &got) },
		func() error { var b Batch; return mesos.Decode(batchJSON, &b) })

	ev := realisticRunTask()
	if _, ok := appendEventFast(nil, ev); !ok {
		b.Fatal("RUN_TASK is off the fast path")
	}
	evJSON, _ := json.Marshal(ev)
	bench("encode-event/run-task", len(evJSON),
		func() error { buf = AppendEvent(buf[:0], ev); return nil },
		func() error { _, err := json.Marshal(ev); return err })
	var gotEv Event
	bench("decode-event/run-task", len(evJSON),
		func() error { return DecodeEvent(evJSON, &gotEv) },
		func() error { var ev Event; return json.Unmarshal(evJSON, &ev) })
}

// TestCheckpointResourcesRoundTrip: CHECKPOINT_RESOURCES, which takes the
// slow path both ways, keeps reservations, labels and volumes.
func TestCheckpointResourcesRoundTrip(t *testing.T) {
	res := core.MustParseResources("cpus:1;disk:64").Reserve(core.Reservation{Type: core.Dynamic, Role: "db", Principal: "ops",
		Labels: []core.Label{{Key: "k", Value: "v"}}})
	res[1].Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: "data", Principal: "ops"},
		Volume: &core.Volume{ContainerPath: "data", Mode: core.RO}}
	ev := &Event{Type: EventCheckpointResources, CheckpointResources: &CheckpointResources{Resources: res}}
	var got Event
	if err := DecodeEvent(AppendEvent(nil, ev), &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != ev.Type || got.CheckpointResources == nil || !got.CheckpointResources.Resources.Equal(res) {
		t.Fatalf("round trip: %+v, want %+v", got.CheckpointResources, ev.CheckpointResources)
	}
}
