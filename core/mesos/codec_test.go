package mesos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"meseta/core"
)

// The codec's contract, checked against encoding/json on random and
// realistic messages:
//   - AppendEvent writes exactly json.Marshal's bytes;
//   - whatever a fast decoder accepts, encoding/json decodes to a deeply
//     equal value;
//   - DecodeEvent and DecodeCall return what the slow path returns (value
//     and error text) for any input.

// gen builds random wire values. Strings are plain most of the time (so
// that decoding stays on the fast path) and sometimes need escapes.
type gen struct{ rng *rand.Rand }

var oddStrings = []string{"", "a<b>&c", `q"b\s`, "tab\tnl\n", "\x00\x1f", "\u2028\u2029", "\xff", "é日本", "web/prod", "*"}

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

var floatEdges = []float64{0, math.Copysign(0, -1), 1, 0.5, 1e-7, 1e-6, 1e20, 1e21, 123456.789, math.MaxFloat64, math.SmallestNonzeroFloat64, -3.25}

func (g gen) float() float64 {
	if g.maybe() {
		return floatEdges[g.rng.IntN(len(floatEdges))]
	}
	return g.rng.Float64() * math.Pow(10, float64(g.rng.IntN(30)-10))
}

func (g gen) id() ID { return ID{Value: g.str()} }

func (g gen) idPtr() *ID {
	if g.maybe() {
		return nil
	}
	id := g.id()
	return &id
}

func (g gen) labels() *Labels {
	switch g.rng.IntN(4) {
	case 0, 1:
		return nil
	case 2:
		return &Labels{}
	}
	l := &Labels{Labels: []Label{}}
	for range g.rng.IntN(3) {
		l.Labels = append(l.Labels, Label{Key: g.str(), Value: g.str()})
	}
	return l
}

var resourceTexts = []string{
	"cpus:1", "cpus:0.5;mem:128", "cpus:4;mem:4096;disk:100;ports:[31000-32000]",
	"cpus(eng):2;mem(eng/ml):64", "gpus:2;zones:{a,b}", "ports:[1-5,7-9,100-200]", "",
}

// resources returns realistic resources, sometimes with dynamic
// reservations, labels or revocable entries, and rarely an invalid one.
func (g gen) resources() core.Resources {
	rs := core.MustParseResources(resourceTexts[g.rng.IntN(len(resourceTexts))]).Clone()
	if len(rs) > 0 && g.rng.IntN(4) == 0 {
		rs[0].Reservations = append(rs[0].Reservations, core.Reservation{Type: core.Dynamic, Role: "dyn", Principal: g.str(),
			Labels: []core.Label{{Key: g.str(), Value: g.str()}}})
	}
	if len(rs) > 0 && g.rng.IntN(6) == 0 {
		rs[len(rs)-1].Revocable = true
	}
	if g.rng.IntN(20) == 0 {
		rs = append(rs, core.Resource{Name: "odd", Type: core.Text})
	}
	if g.rng.IntN(20) == 0 {
		rs = append(rs, core.Resource{Name: "disk", Type: core.Scalar, Scalar: 1000,
			Reservations: []core.Reservation{{Type: core.Static, Role: "r"}},
			Disk:         &core.DiskInfo{Persistence: &core.Persistence{ID: "v"}, Volume: &core.Volume{ContainerPath: "p", Mode: core.RW}}})
	}
	if g.rng.IntN(8) == 0 {
		return nil
	}
	return rs
}

var allStates = []TaskState{TaskStaging, TaskStarting, TaskRunning, TaskKilling, TaskFinished, TaskFailed, TaskKilled,
	TaskError, TaskLost, TaskDropped, TaskUnreachable, TaskGone, TaskGoneByOperator, TaskUnknown, "", "TASK_BOGUS"}

func (g gen) status() TaskStatus {
	s := TaskStatus{TaskID: g.id(), State: allStates[g.rng.IntN(len(allStates))]}
	if g.maybe() {
		s.Message = g.str()
	}
	if g.maybe() {
		s.Source = SourceAgent
	}
	if g.maybe() {
		s.Reason = g.str()
	}
	s.Data = g.bytes()
	s.AgentID = g.idPtr()
	s.ExecutorID = g.idPtr()
	if g.maybe() {
		s.Timestamp = g.float()
	}
	s.UUID = g.bytes()
	if g.maybe() {
		h := g.maybe()
		s.Healthy = &h
	}
	s.Labels = g.labels()
	if g.rng.IntN(4) == 0 {
		s.UnreachableTime = &TimeInfo{Nanoseconds: g.rng.Int64() - math.MaxInt64/2}
	}
	return s
}

func (g gen) attribute() Attribute {
	a := Attribute{Name: g.str()}
	switch g.rng.IntN(5) {
	case 0:
		a.Type, a.Scalar = "SCALAR", &Scalar{Value: g.float()}
	case 1:
		a.Type, a.Ranges = "RANGES", &Ranges{}
		if g.maybe() {
			a.Ranges.Range = []Range{{1, 5}, {g.rng.Uint64(), math.MaxUint64}}
		}
	case 2:
		a.Type, a.Set = "SET", &Set{}
		if g.maybe() {
			a.Set.Item = []string{g.str(), g.str()}
		}
	case 3:
		a.Type, a.Text = "TEXT", &Text{Value: g.str()}
	}
	return a
}

func (g gen) offer() Offer {
	o := Offer{ID: g.id(), FrameworkID: g.id(), AgentID: g.id(), Hostname: g.str()}
	if g.rng.IntN(4) == 0 {
		o.URL = &URL{Scheme: "http", Address: Address{Hostname: g.str(), Port: int32(g.rng.IntN(65536))}, Path: "/slave(1)"}
		if g.maybe() {
			o.URL.Address.IP = "10.0.0.1"
		}
	}
	o.Resources = OfferResources{Resources: g.resources()}
	if g.rng.IntN(5) > 0 {
		o.Resources.Role = g.str()
	}
	for range g.rng.IntN(3) {
		o.Attributes = append(o.Attributes, g.attribute())
	}
	if g.rng.IntN(4) == 0 {
		o.ExecutorIDs = []ID{g.id()}
	}
	if g.maybe() {
		o.AllocationInfo = &AllocationInfo{Role: o.Resources.Role}
	}
	if g.rng.IntN(4) == 0 {
		o.Unavailability = &Unavailability{Start: TimeInfo{Nanoseconds: g.rng.Int64()}}
		if g.maybe() {
			o.Unavailability.Duration = &DurationInfo{Nanoseconds: g.rng.Int64() - g.rng.Int64()}
		}
	}
	return o
}

func (g gen) command() *CommandInfo {
	if g.rng.IntN(5) == 0 {
		return nil
	}
	c := &CommandInfo{Value: g.str()}
	if g.maybe() {
		b := g.maybe()
		c.Shell = &b
	}
	for range g.rng.IntN(3) {
		u := URI{Value: g.str(), Executable: g.maybe(), Cache: g.maybe()}
		if g.maybe() {
			b := g.maybe()
			u.Extract = &b
		}
		if g.maybe() {
			u.OutputFile = g.str()
		}
		c.URIs = append(c.URIs, u)
	}
	if g.rng.IntN(4) == 0 {
		c.Arguments = []string{g.str(), g.str()}
	}
	if g.rng.IntN(4) == 0 {
		c.User = g.str()
	}
	if g.rng.IntN(4) == 0 {
		c.Environment = &Environment{}
		if g.maybe() {
			c.Environment.Variables = []Variable{{Name: g.str(), Value: g.str()}, {Name: g.str(), Type: "SECRET"}}
		}
	}
	return c
}

func (g gen) taskInfo() TaskInfo {
	t := TaskInfo{Name: g.str(), TaskID: g.id(), AgentID: g.id(), Resources: g.resources(), Command: g.command(), Labels: g.labels()}
	if g.rng.IntN(4) == 0 {
		t.KillPolicy = &KillPolicy{}
		if g.maybe() {
			t.KillPolicy.GracePeriod = &DurationInfo{Nanoseconds: g.rng.Int64()}
		}
	}
	if g.rng.IntN(4) == 0 {
		t.Data = g.bytes()
	}
	if g.rng.IntN(10) == 0 {
		t.Executor = &ExecutorInfo{ExecutorID: g.id()}
	}
	return t
}

func (g gen) frameworkInfo() FrameworkInfo {
	fi := FrameworkInfo{User: g.str(), Name: g.str(), ID: g.idPtr(), Checkpoint: g.maybe(), Labels: g.labels()}
	if g.maybe() {
		fi.FailoverTimeout = g.float()
	}
	if g.maybe() {
		fi.Role = g.str()
	} else if g.maybe() {
		fi.Roles = []string{g.str(), g.str()}
		fi.Capabilities = []Capability{{Type: CapMultiRole}}
	}
	if g.maybe() {
		fi.Hostname, fi.Principal, fi.WebUIURL = g.str(), g.str(), g.str()
	}
	return fi
}

func (g gen) event() *Event {
	ev := &Event{}
	switch g.rng.IntN(12) {
	case 0, 1, 2, 3:
		ev.Type = EventUpdate
		ev.Update = &Update{Status: g.status()}
	case 4, 5, 6:
		ev.Type = EventOffers
		ev.Offers = &Offers{}
		if g.rng.IntN(8) > 0 {
			ev.Offers.Offers = []Offer{}
		}
		for range g.rng.IntN(4) {
			ev.Offers.Offers = append(ev.Offers.Offers, g.offer())
		}
	case 7:
		ev.Type = EventHeartbeat
	case 8:
		ev.Type = EventRescind
		ev.Rescind = &Rescind{OfferID: g.id()}
	case 9:
		ev.Type = EventError
		ev.Error = &Error{Message: g.str()}
	case 10:
		ev.Type = EventSubscribed
		ev.Subscribed = &Subscribed{FrameworkID: g.id(), HeartbeatIntervalSeconds: 15}
	case 11:
		ev.Type = EventUpdate // with a stray body: the slow path writes it
		ev.Update = &Update{Status: g.status()}
		ev.Failure = &Failure{AgentID: g.idPtr()}
	}
	return ev
}

func (g gen) filters() *Filters {
	if g.maybe() {
		return nil
	}
	f := &Filters{}
	if g.maybe() {
		v := g.float()
		f.RefuseSeconds = &v
	}
	return f
}

func (g gen) call() *Call {
	c := &Call{FrameworkID: g.idPtr()}
	switch g.rng.IntN(7) {
	case 0, 1:
		c.Type = CallAcknowledge
		c.Acknowledge = &Acknowledge{AgentID: g.id(), TaskID: g.id(), UUID: g.bytes()}
	case 2:
		c.Type = CallDecline
		c.Decline = &Decline{OfferIDs: []ID{g.id(), g.id()}, Filters: g.filters()}
	case 3:
		c.Type = CallRevive
		c.Revive = &RoleList{Roles: []string{g.str()}}
	case 4:
		c.Type = CallSuppress
		c.Suppress = &RoleList{}
	case 5:
		c.Type = CallAccept
		c.Accept = &Accept{OfferIDs: []ID{g.id()}, Filters: g.filters()}
		for range g.rng.IntN(3) {
			op := Operation{Type: OpLaunch, Launch: &Launch{}}
			for range g.rng.IntN(4) {
				op.Launch.TaskInfos = append(op.Launch.TaskInfos, g.taskInfo())
			}
			if g.rng.IntN(6) == 0 {
				op = Operation{Type: OpReserve, Reserve: &ResourceOp{Resources: g.resources()}}
			}
			c.Accept.Operations = append(c.Accept.Operations, op)
		}
	case 6:
		c.Type = CallKill
		c.Kill = &Kill{TaskID: g.id()}
	}
	return c
}

// checkAppendEvent checks AppendEvent against json.Marshal.
func checkAppendEvent(t *testing.T, ev *Event) []byte {
	t.Helper()
	want, err := json.Marshal(ev)
	got := AppendEvent([]byte("prefix"), ev)
	if err != nil {
		want = nil
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendEvent(%+v)\n got %s\nwant %s (%v)", ev, got, want, err)
	}
	return want
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// checkDecodeEvent checks the event decoder's contract on data and
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
	got := Event{Type: "stale", Error: &Error{}}
	err := DecodeEvent(data, &got)
	if errText(err) != errText(wantErr) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
		t.Fatalf("DecodeEvent(%s) = %#v, %v\nencoding/json: %#v, %v", data, got, err, want, wantErr)
	}
	return ok
}

// slowDecodeCall is DecodeCall before the fast path.
func slowDecodeCall(data []byte) (*Call, error) {
	var c Call
	if err := Decode(data, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkDecodeCall checks DecodeCall's contract on data and reports
// whether the fast path took it.
func checkDecodeCall(t *testing.T, data []byte) bool {
	t.Helper()
	var want Call
	wantErr := Decode(data, &want)
	var fast Call
	ok := decodeCallFast(data, &fast)
	if ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
		t.Fatalf("fast path read %s as\n%#v\nDecode: %#v, %v", data, fast, want, wantErr)
	}
	got, err := DecodeCall(data)
	slow, slowErr := slowDecodeCall(data)
	if errText(err) != errText(slowErr) || !reflect.DeepEqual(got, slow) {
		t.Fatalf("DecodeCall(%s) = %#v, %v\nslow path: %#v, %v", data, got, err, slow, slowErr)
	}
	return ok
}

func TestAppendEventMatchesMarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 1))}
	for range 20000 {
		checkAppendEvent(t, g.event())
	}
	// Values encoding/json refuses leave dst as it was.
	nan := &Event{Type: EventUpdate, Update: &Update{Status: TaskStatus{Timestamp: math.NaN()}}}
	badRole := &Event{Type: EventOffers, Offers: &Offers{Offers: []Offer{{Resources: OfferResources{Role: "\x01", Resources: core.MustParseResources("cpus:1")}}}}}
	for _, ev := range []*Event{nan, badRole} {
		if got := AppendEvent([]byte("x"), ev); string(got) != "x" {
			t.Errorf("AppendEvent of an unencodable event = %q", got)
		}
	}
}

func TestDecodeEventMatchesUnmarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(2, 2))}
	fast := 0
	const n = 20000
	for range n {
		ev := g.event()
		data, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		if checkDecodeEvent(t, data) {
			fast++
		}
	}
	t.Logf("%d of %d random events on the fast path", fast, n)
	if fast < n/4 {
		t.Errorf("only %d of %d random events on the fast path", fast, n)
	}
	for _, s := range fuzzEventSeeds {
		checkDecodeEvent(t, []byte(s))
	}
}

func TestDecodeCallMatchesSlowPath(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 3))}
	fast := 0
	const n = 20000
	for range n {
		data, err := json.Marshal(g.call())
		if err != nil {
			continue
		}
		if checkDecodeCall(t, data) {
			fast++
		}
	}
	t.Logf("%d of %d random calls on the fast path", fast, n)
	if fast < n/4 {
		t.Errorf("only %d of %d random calls on the fast path", fast, n)
	}
	for _, s := range fuzzCallSeeds {
		checkDecodeCall(t, []byte(s))
	}
}

// Realistic messages, as the load generator and the master exchange them.

func realisticAck() []byte {
	return []byte(`{"framework_id":{"value":"b5b8c4a2-0c2e-4c57-9d25-3a4f3f1b2c00-0001"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"b5b8c4a2-S17"},"task_id":{"value":"task-000123"},"uuid":"3q2+7wABAgMEBQYHCAkKCw=="}}`)
}

func realisticAccept(tasks int) []byte {
	c := Call{FrameworkID: &ID{Value: "fw-0001"}, Type: CallAccept, Accept: &Accept{OfferIDs: []ID{{Value: "offer-17"}}}}
	shell := true
	op := Operation{Type: OpLaunch, Launch: &Launch{}}
	res := core.MustParseResources("cpus:0.1;mem:32")
	for i := range tasks {
		op.Launch.TaskInfos = append(op.Launch.TaskInfos, TaskInfo{
			Name: fmt.Sprintf("task-%d", i), TaskID: ID{Value: fmt.Sprintf("task-%06d", i)}, AgentID: ID{Value: "agent-S3"},
			Resources: res, Command: &CommandInfo{Value: "sleep 10", Shell: &shell},
			Labels: &Labels{Labels: []Label{{Key: "job", Value: "bench"}}},
		})
	}
	c.Accept.Operations = []Operation{op}
	refuse := 5.0
	c.Accept.Filters = &Filters{RefuseSeconds: &refuse}
	b, _ := json.Marshal(c)
	return b
}

func realisticUpdate() *Event {
	return &Event{Type: EventUpdate, Update: &Update{Status: TaskStatus{
		TaskID: ID{Value: "task-000123"}, State: TaskRunning, Source: SourceExecutor,
		AgentID: &ID{Value: "agent-S3"}, ExecutorID: &ID{Value: "task-000123"}, Timestamp: 1.7e9 + 0.123456,
		UUID: []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	}}}
}

func realisticOffers(n int) *Event {
	ev := &Event{Type: EventOffers, Offers: &Offers{}}
	for i := range n {
		ev.Offers.Offers = append(ev.Offers.Offers, Offer{
			ID: ID{Value: fmt.Sprintf("offer-%d", i)}, FrameworkID: ID{Value: "fw-0001"}, AgentID: ID{Value: fmt.Sprintf("agent-S%d", i)},
			Hostname:       fmt.Sprintf("host-%d.example.com", i),
			URL:            &URL{Scheme: "http", Address: Address{Hostname: "host", IP: "10.0.0.1", Port: 5051}, Path: "/slave(1)"},
			Resources:      OfferResources{Role: "web", Resources: core.MustParseResources("cpus:8;mem:16384;disk(web):1000;ports:[31000-32000]")},
			Attributes:     []Attribute{{Name: "rack", Type: "TEXT", Text: &Text{Value: "r1"}}},
			AllocationInfo: &AllocationInfo{Role: "web"},
		})
	}
	return ev
}

func TestRealisticMessagesTakeTheFastPath(t *testing.T) {
	for name, data := range map[string][]byte{"ack": realisticAck(), "accept-10": realisticAccept(10)} {
		var c Call
		if !decodeCallFast(data, &c) {
			t.Errorf("%s: DecodeCall left the fast path: %s", name, data)
		}
		checkDecodeCall(t, data)
	}
	for name, ev := range map[string]*Event{"update": realisticUpdate(), "offers-5": realisticOffers(5)} {
		if _, ok := appendEventFast(nil, ev); !ok {
			t.Errorf("%s: AppendEvent left the fast path", name)
		}
		data := checkAppendEvent(t, ev)
		if !checkDecodeEvent(t, data) {
			t.Errorf("%s: DecodeEvent left the fast path: %s", name, data)
		}
	}
}

var fuzzEventSeeds = []string{
	`{"type":"HEARTBEAT"}`,
	`{"type":"RESCIND","rescind":{"offer_id":{"value":"o"}}}`,
	`{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"AAEC","timestamp":1.5,"healthy":true}}}`,
	`{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":null}}}`,
	`{"type":"UPDATE","Update":{"status":{"task_id":{"value":"t"}}}}`,
	`{"type":"UPDATE","type":"OFFERS"}`,
	`{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o"},"framework_id":{"value":"f"},"agent_id":{"value":"a"},"hostname":"h","resources":[{"allocation_info":{"role":"r"},"role":"*","name":"cpus","type":"SCALAR","scalar":{"value":1}}],"attributes":[{"name":"n","type":"SCALAR","scalar":{"value":2}}]}]}}`,
	`{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}`,
	`{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"x","type":"BOGUS"}]}]}}`,
	`{"type":"OFFERS","offers":{"offers":[]}} `,
	`{"type":"OFFERS","offers":{"offers":[]}} x`,
}

var fuzzCallSeeds = []string{
	`{"type":"REVIVE","framework_id":{"value":"f"}}`,
	`{"type":"REVIVE","framework_id":{"value":"f"},"revive":{"roles":["a","b"]}}`,
	`{"type":"SUPPRESS","framework_id":{"value":"f"},"suppress":{}}`,
	`{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":[{"value":"o"}],"filters":{"refuse_seconds":1}}}`,
	`{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":[{"value":""}]}}`,
	`{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAEC"}}`,
	`{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"!!"}}`,
	`{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"x","shell":false,"uris":[{"value":"u","extract":false}]},"labels":{"labels":[{"key":"k"}]}}]}}]}}`,
	`{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"FLY"}]}}`,
	`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`,
	`{}`, `[]`, `{"type":"REVIVE"} {}`, `{"type":"REVIVE","framework_id":null}`,
}

// FuzzFastCall: DecodeCall's fast path agrees with the slow path.
func FuzzFastCall(f *testing.F) {
	for _, s := range fuzzCallSeeds {
		f.Add([]byte(s))
	}
	f.Add(realisticAck())
	f.Add(realisticAccept(2))
	g := gen{rand.New(rand.NewPCG(4, 4))}
	for range 20 {
		if b, err := json.Marshal(g.call()); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeCall(t, data)
	})
}

// FuzzFastEvent: DecodeEvent agrees with encoding/json, and what it
// decodes AppendEvent writes as json.Marshal does.
func FuzzFastEvent(f *testing.F) {
	for _, s := range fuzzEventSeeds {
		f.Add([]byte(s))
	}
	for _, ev := range []*Event{realisticUpdate(), realisticOffers(2)} {
		b, _ := json.Marshal(ev)
		f.Add(b)
	}
	g := gen{rand.New(rand.NewPCG(5, 5))}
	for range 20 {
		if b, err := json.Marshal(g.event()); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeEvent(t, data)
		var ev Event
		if json.Unmarshal(data, &ev) == nil {
			checkAppendEvent(t, &ev)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	bench := func(name string, data []byte, fast, slow func([]byte) error) {
		b.Run(name+"/impl=encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := slow(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/impl=fast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := fast(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	decodeCall := func(data []byte) error { _, err := DecodeCall(data); return err }
	for _, tc := range []struct {
		name string
		data []byte
	}{{"decode-call/ack", realisticAck()}, {"decode-call/accept-10", realisticAccept(10)}} {
		var c Call
		if !decodeCallFast(tc.data, &c) {
			b.Fatalf("%s is off the fast path", tc.name)
		}
		bench(tc.name, tc.data, decodeCall, func(data []byte) error { _, err := slowDecodeCall(data); return err })
	}
	for _, tc := range []struct {
		name string
		ev   *Event
	}{{"update", realisticUpdate()}, {"offers-5", realisticOffers(5)}} {
		if _, ok := appendEventFast(nil, tc.ev); !ok {
			b.Fatalf("%s is off the fast path", tc.name)
		}
		var buf []byte
		bench("encode-event/"+tc.name, nil,
			func([]byte) error { buf = AppendEvent(buf[:0], tc.ev); return nil },
			func([]byte) error { _, err := json.Marshal(tc.ev); return err })
		data, _ := json.Marshal(tc.ev)
		var ev Event
		bench("decode-event/"+tc.name, data,
			func(data []byte) error { return DecodeEvent(data, &ev) },
			func(data []byte) error { var ev Event; return json.Unmarshal(data, &ev) })
	}
}

// The pieces core/agentapi uses, on their own.
func TestAppendPiecesMatchMarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(6, 6))}
	check := func(v any, got []byte, ok bool) {
		t.Helper()
		want, err := json.Marshal(v)
		if err != nil || !ok {
			if ok {
				t.Fatalf("fast path wrote %s for %+v, which encoding/json refuses: %v", got, v, err)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%T\n got %s\nwant %s", v, got, want)
		}
	}
	fast := 0
	for range 5000 {
		ti := g.taskInfo()
		got, ok := AppendTaskInfo(nil, &ti)
		check(&ti, got, ok)
		if ok {
			fast++
		}
		fi := g.frameworkInfo()
		got, ok = AppendFrameworkInfo(nil, &fi)
		check(&fi, got, ok)
		s := g.status()
		got, ok = AppendTaskStatus(nil, &s)
		check(&s, got, ok)
		kp := KillPolicy{GracePeriod: &DurationInfo{Nanoseconds: g.rng.Int64()}}
		check(&kp, AppendKillPolicy(nil, &kp), true)
	}
	if fast < 4000 {
		t.Errorf("only %d of 5000 task infos on the fast path", fast)
	}
}
