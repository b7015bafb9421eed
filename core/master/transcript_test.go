package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// TestTranscripts runs the protocol traces in testdata/*.txt against the
// master state machine, with fake connections that record what the
// master sends and a clock the trace moves. Each command prints the
// events sent while it ran, one per line, named by the test's own names
// for frameworks, agents, tasks and offers. Rewrite expectations with
// `go test ./core/master -run TestTranscripts -rewrite`.
//
// Commands:
//
//	agent NAME [resources=TEXT] [rereg]     register (or re-register) an agent
//	subscribe FW [roles=a,b] [failover=SECS] [partition-aware] [suppressed=a,b]
//	accept FW OFFER... [tasks=ID:RES,...] [refuse=SECS]   launch command tasks; input lines are
//	                                        more operations in Mesos's JSON ($NAME is NAME's wire id)
//	operator KIND AGENT                     an operator's RESERVE, UNRESERVE, CREATE or DESTROY; input: the resources' JSON
//	ackop FW OP | reconcile-ops FW [OP@AGENT...]   operation status acknowledgement and reconciliation
//	resources AGENT                         the agent's total and the registry's record of its checkpointed resources
//	decline FW OFFER... [refuse=SECS]
//	update AGENT FW TASK STATE [latest=STATE] [retry]  a status update from the agent (uuids are counted;
//	                                        retry resends the task's previous uuid)
//	ack FW TASK [uuid=N]                    acknowledge (the latest update by default)
//	kill FW TASK | reconcile FW [TASK@AGENT...] | suppress FW | revive FW | teardown FW
//	disconnect FW | agent-disconnect AGENT | pong AGENT | tick DURATION [autopong] | state
//	stall FW | unstall FW                   FW's stream stops writing what is sent (it stays queued), or writes it all
//	restart [reregister-timeout=DURATION] [removal-limit=FRACTION]   a new master on the same registry (a failover)
//	metrics KEY...                          print these keys of Metrics
//	maintenance schedule|down|up | maintenance status   /maintenance/schedule, /machine/down and /machine/up
//	                                        (input: the JSON body), /maintenance/status
//	inverse FW accept|decline INVERSE... [refuse=SECS]  answer inverse offers
//
// tick stops at the first Housekeep error, which it prints: masterd
// exits on it. After every command the harness checks that the master's
// mirror of the registry (admitted, unreachable, gone) equals the
// registry, and that every agent it still expects back after a failover
// is admitted and not registered.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t, registry.NewMemory())
		datadriven.RunTest(t, path, h.run)
	})
}

type harness struct {
	t   *testing.T
	m   *Master
	reg registry.Store
	now time.Time

	fws    map[string]*fakeConn // by test name
	agents map[string]*fakeConn
	// names maps wire ids (framework, agent, offer) to test names.
	names   map[string]string
	ids     map[string]string // test name -> wire id
	offers  int
	inverse int // inverse offers seen
	uuid    byte
	latest  map[string][]byte // "fw/task" -> last uuid seen by the framework
	opUUIDs map[string][]byte // operation id -> uuid of its latest status seen
	streams map[string]string // framework name -> Mesos-Stream-Id
	stream  string            // a stream=ID argument of the current command
}

// fakeConn records events; it is both a Conn and an AgentConn.
// A framework's fakeConn is also a Backlog: its events count as written
// at once, unless stalled (the stall command), when they stay queued.
type fakeConn struct {
	name          string
	mu            sync.Mutex
	events        []string
	closed        bool
	h             *harness
	sent, written uint64
	stalled       bool
}

func (c *fakeConn) Send(ev *mesos.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.events = append(c.events, c.h.describe(ev))
	c.sent++
	if !c.stalled {
		c.written = c.sent
	}
	return true
}

func (c *fakeConn) Sent() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

func (c *fakeConn) Written() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}

// stall makes the events sent from now stay queued (on) or writes them
// all (off).
func (c *fakeConn) stall(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stalled = on
	if !on {
		c.written = c.sent
	}
}

func (c *fakeConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.events = append(c.events, "(closed)")
	}
	c.closed = true
}

type agentConn struct{ *fakeConn }

func (c agentConn) Send(ev *agentapi.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.events = append(c.events, c.h.describeAgent(ev))
	return true
}

func newHarness(t *testing.T, reg registry.Store) *harness {
	h := &harness{t: t, reg: reg, now: time.Unix(1_800_000_000, 0),
		fws: map[string]*fakeConn{}, agents: map[string]*fakeConn{},
		names: map[string]string{}, ids: map[string]string{}, latest: map[string][]byte{}, streams: map[string]string{},
		opUUIDs: map[string][]byte{}}
	if err := h.restart(nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// restart makes a new master on the harness's registry at the current
// time, with the settings d gives (d may be nil).
func (h *harness) restart(d *datadriven.TestData) error {
	cfg := Config{Info: mesos.MasterInfo{ID: "M", Hostname: "master"}, AgentPingTimeout: time.Second,
		MaxAgentPingTimeouts: 3}
	if d != nil {
		if v, ok := h.arg(d, "reregister-timeout"); ok {
			dur, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			cfg.AgentReregisterTimeout = dur
		}
		if v, ok := h.arg(d, "removal-limit"); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return err
			}
			cfg.RecoveryAgentRemovalLimit = &f
		}
	}
	m, err := New(cfg, h.reg, newShardedAlloc, alloc.Options{Shards: 1}, h.now)
	if err != nil {
		return err
	}
	h.m = m
	return nil
}

func (h *harness) name(wire string) string {
	if n, ok := h.names[wire]; ok {
		return n
	}
	return wire
}

func (h *harness) describe(ev *mesos.Event) string {
	switch ev.Type {
	case mesos.EventSubscribed:
		return "SUBSCRIBED"
	case mesos.EventOffers:
		var parts []string
		for _, o := range ev.Offers.Offers {
			h.offers++
			label := fmt.Sprintf("o%d", h.offers)
			h.names[o.ID.Value], h.ids[label] = label, o.ID.Value
			part := fmt.Sprintf("%s=%s:%s(%s)", label, h.name(o.AgentID.Value), o.Resources.Resources, o.AllocationInfo.Role)
			if u := o.Unavailability; u != nil {
				part += " " + h.unavailability(u)
			}
			parts = append(parts, part)
		}
		return "OFFERS " + strings.Join(parts, " ")
	case mesos.EventRescind:
		return "RESCIND " + h.name(ev.Rescind.OfferID.Value)
	case mesos.EventInverseOffers, mesos.EventRescindInverseOffer:
		return h.describeInverse(ev)
	case mesos.EventUpdate:
		s := ev.Update.Status
		out := fmt.Sprintf("UPDATE %s %s", s.TaskID.Value, s.State)
		if s.Reason != "" {
			out += " " + s.Reason
		}
		if len(s.UUID) > 0 {
			out += fmt.Sprintf(" uuid=%d", s.UUID[0])
		}
		if s.State == mesos.TaskError || s.Source == mesos.SourceMaster && s.Message != "" && s.State != mesos.TaskRunning {
			out += " (" + s.Message + ")"
		}
		return out
	case mesos.EventFailure:
		out := "FAILURE agent=" + h.name(ev.Failure.AgentID.Val())
		if ev.Failure.ExecutorID != nil {
			out += fmt.Sprintf(" executor=%s status=%d", ev.Failure.ExecutorID.Value, *ev.Failure.Status)
		}
		return out
	case mesos.EventError:
		return "ERROR " + ev.Error.Message
	case mesos.EventMessage:
		return "MESSAGE " + string(ev.Message.Data)
	case mesos.EventUpdateOperationStatus:
		s := ev.UpdateOperationStatus.Status
		out := fmt.Sprintf("OPERATION %s %s", s.OperationID.Val(), s.State)
		if s.UUID != nil {
			h.opUUIDs[s.OperationID.Val()] = s.UUID.Value
			out += " uuid"
		}
		if len(s.ConvertedResources) > 0 {
			out += " " + s.ConvertedResources.String()
		}
		if s.Message != "" {
			out += " (" + s.Message + ")"
		}
		return out
	}
	return ev.Type
}

func (h *harness) describeAgent(ev *agentapi.Event) string {
	switch ev.Type {
	case agentapi.EventRegistered:
		return "REGISTERED"
	case agentapi.EventPing:
		return fmt.Sprintf("PING %d", ev.Ping.Seq)
	case agentapi.EventRunTask:
		return fmt.Sprintf("RUN_TASK %s/%s %s", h.name(ev.RunTask.FrameworkInfo.ID.Val()), ev.RunTask.Task.TaskID.Value, ev.RunTask.Role)
	case agentapi.EventKillTask:
		return fmt.Sprintf("KILL_TASK %s/%s", h.name(ev.KillTask.FrameworkID.Value), ev.KillTask.TaskID.Value)
	case agentapi.EventAcknowledge:
		return fmt.Sprintf("ACKNOWLEDGE %s/%s uuid=%d", h.name(ev.Acknowledge.FrameworkID.Value), ev.Acknowledge.TaskID.Value, ev.Acknowledge.UUID[0])
	case agentapi.EventShutdownFramework:
		return "SHUTDOWN_FRAMEWORK " + h.name(ev.ShutdownFramework.FrameworkID.Value)
	case agentapi.EventShutdown:
		return "SHUTDOWN (" + ev.Shutdown.Message + ")"
	case agentapi.EventUpdateFramework:
		return "UPDATE_FRAMEWORK " + h.name(ev.UpdateFramework.ID.Val())
	case agentapi.EventMessage:
		return fmt.Sprintf("MESSAGE %s/%s %s", h.name(ev.Message.FrameworkID.Value), ev.Message.ExecutorID.Value, ev.Message.Data)
	case agentapi.EventShutdownExecutor:
		return fmt.Sprintf("SHUTDOWN_EXECUTOR %s/%s", h.name(ev.ShutdownExecutor.FrameworkID.Value), ev.ShutdownExecutor.ExecutorID.Value)
	case agentapi.EventCheckpointResources:
		return "CHECKPOINT_RESOURCES " + ev.CheckpointResources.Resources.String()
	}
	return ev.Type
}

// flush prints and clears what every connection received, frameworks
// first, each sorted by name.
func (h *harness) flush() string {
	var b strings.Builder
	for _, group := range []map[string]*fakeConn{h.fws, h.agents} {
		names := make([]string, 0, len(group))
		for n := range group {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := group[n]
			c.mu.Lock()
			for _, e := range c.events {
				fmt.Fprintf(&b, "%s <- %s\n", n, e)
			}
			c.events = nil
			c.mu.Unlock()
		}
	}
	return b.String()
}

func (h *harness) arg(d *datadriven.TestData, key string) (string, bool) {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			if len(a.Vals) == 0 {
				return "", true
			}
			return strings.Join(a.Vals, ","), true
		}
	}
	return "", false
}

// positional returns the arguments without values, in order.
func positional(d *datadriven.TestData) []string {
	var out []string
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			out = append(out, a.Key)
		}
	}
	return out
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	defer h.checkLive(t, d)
	pos := positional(d)
	h.stream, _ = h.arg(d, "stream")
	var err error
	switch d.Cmd {
	case "agent":
		err = h.agent(d, pos[0])
	case "subscribe":
		err = h.subscribe(d, pos[0])
	case "accept":
		err = h.accept(d, pos[0], pos[1:])
	case "decline":
		ids := []mesos.ID{}
		for _, o := range pos[1:] {
			ids = append(ids, mesos.ID{Value: h.wireOffer(o)})
		}
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallDecline, Decline: &mesos.Decline{OfferIDs: ids, Filters: h.filters(d)}})
	case "update":
		err = h.update(d, pos)
	case "ack":
		err = h.ack(d, pos[0], pos[1])
	case "kill":
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: pos[1]}}})
	case "reconcile":
		r := &mesos.Reconcile{}
		for _, ta := range pos[1:] {
			task, ag, _ := strings.Cut(ta, "@")
			r.Tasks = append(r.Tasks, mesos.ReconcileTask{TaskID: mesos.ID{Value: task}, AgentID: mesos.NewID(h.wireName(ag))})
		}
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallReconcile, Reconcile: r})
	case "operator":
		err = h.operator(d, pos[0], pos[1])
	case "ackop":
		// ackop FW OPERATION: acknowledge the operation's latest status.
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallAcknowledgeOpStatus, AcknowledgeOperationStatus: &mesos.AcknowledgeOperationStatus{
			AgentID: &mesos.ID{Value: "a"}, OperationID: mesos.ID{Value: pos[1]}, UUID: h.opUUIDs[pos[1]]}})
	case "reconcile-ops":
		// reconcile-ops FW [OPERATION@AGENT ...]
		r := &mesos.ReconcileOperations{}
		for _, oa := range pos[1:] {
			op, ag, _ := strings.Cut(oa, "@")
			r.Operations = append(r.Operations, mesos.ReconcileOperation{OperationID: mesos.ID{Value: op}, AgentID: mesos.NewID(h.wireName(ag))})
		}
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallReconcileOperations, ReconcileOperations: r})
	case "resources":
		// resources AGENT: the agent's total and the registry's record.
		h.m.mu.Lock()
		total := h.m.agents[h.wireName(pos[0])].total
		h.m.mu.Unlock()
		rec := h.reg.State().Values["resources/"+h.wireName(pos[0])]
		return fmt.Sprintf("total %s\nrecorded %s\n", total, rec)
	case "suppress":
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallSuppress, Suppress: &mesos.RoleList{}})
	case "revive":
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallRevive, Revive: &mesos.RoleList{}})
	case "message":
		// message FW AGENT EXECUTOR DATA: scheduler to executor.
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallMessage, Message: &mesos.Message{
			AgentID: mesos.ID{Value: h.wireName(pos[1])}, ExecutorID: mesos.ID{Value: pos[2]}, Data: []byte(pos[3])}})
	case "exec-message":
		// exec-message AGENT FW EXECUTOR DATA: executor to scheduler.
		h.m.AgentCalls([]agentapi.Call{{Type: agentapi.CallMessage, AgentID: &mesos.ID{Value: h.wireName(pos[0])},
			Message: &agentapi.Message{FrameworkID: mesos.ID{Value: h.wireName(pos[1])}, ExecutorID: mesos.ID{Value: pos[2]},
				Data: []byte(pos[3])}}}, h.now)
	case "shutdown":
		// shutdown FW AGENT EXECUTOR
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallShutdown, Shutdown: &mesos.Shutdown{
			AgentID: mesos.ID{Value: h.wireName(pos[1])}, ExecutorID: mesos.ID{Value: pos[2]}}})
	case "executor-exited":
		// executor-exited AGENT FW EXECUTOR STATUS
		code, _ := strconv.Atoi(pos[3])
		h.m.AgentCalls([]agentapi.Call{{Type: agentapi.CallExecutorExited, AgentID: &mesos.ID{Value: h.wireName(pos[0])},
			ExecutorExited: &agentapi.ExecutorExited{FrameworkID: mesos.ID{Value: h.wireName(pos[1])},
				ExecutorID: mesos.ID{Value: pos[2]}, Status: int32(code)}}}, h.now)
	case "teardown":
		err = h.call(pos[0], &mesos.Call{Type: mesos.CallTeardown})
	case "stall", "unstall":
		h.fws[pos[0]].stall(d.Cmd == "stall")
	case "disconnect":
		c := h.fws[pos[0]]
		h.m.Disconnected(h.ids[pos[0]], c, h.now)
		delete(h.fws, pos[0])
	case "agent-disconnect":
		c := h.agents[pos[0]]
		h.m.AgentDisconnected(h.ids[pos[0]], agentConn{c}, h.now)
	case "pong":
		err = h.pong(pos[0])
	case "tick":
		dur, perr := time.ParseDuration(pos[0])
		if perr != nil {
			t.Fatal(perr)
		}
		// Step in quarter seconds, as masterd's housekeeping does. With
		// autopong every connected agent answers its PINGs, which are
		// then not printed.
		_, autopong := h.arg(d, "autopong")
		for end := h.now.Add(dur); h.now.Before(end); {
			h.now = h.now.Add(min(250*time.Millisecond, end.Sub(h.now)))
			hkErr := h.m.Housekeep(h.now)
			if hkErr == nil {
				h.m.Sweep(h.now)
			}
			if autopong {
				h.answerPings()
			}
			if hkErr != nil {
				err = hkErr
				break
			}
		}
	case "restart":
		if err = h.restart(d); err == nil {
			h.fws, h.agents = map[string]*fakeConn{}, map[string]*fakeConn{}
		}
	case "state":
		h.check(t, d)
		return h.state()
	case "maintenance":
		// maintenance schedule|down|up (input: the JSON body) | status
		if pos[0] == "status" {
			return h.maintenanceStatus()
		}
		err = h.maintenance(d, pos[0])
	case "inverse":
		// inverse FW accept|decline INVERSE... [refuse=SECS]
		err = h.answerInverse(d, pos[0], pos[1], pos[2:])
	case "metrics":
		ms := h.m.Metrics(h.now)
		var b strings.Builder
		for _, k := range pos {
			v, ok := ms[k]
			if !ok {
				t.Fatalf("%s: no metric %s", d.Pos, k)
			}
			fmt.Fprintf(&b, "%s=%v\n", k, v)
		}
		return b.String()
	default:
		t.Fatalf("unknown command %s", d.Cmd)
	}
	h.check(t, d)
	out := h.flush()
	if err != nil {
		out += "error: " + err.Error() + "\n"
	}
	return out
}

func (h *harness) wireName(n string) string {
	if id, ok := h.ids[n]; ok {
		return id
	}
	return n
}

func (h *harness) wireOffer(label string) string { return h.wireName(label) }

func (h *harness) filters(d *datadriven.TestData) *mesos.Filters {
	v, ok := h.arg(d, "refuse")
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		h.t.Fatal(err)
	}
	return &mesos.Filters{RefuseSeconds: &f}
}

func (h *harness) agent(d *datadriven.TestData, name string) error {
	res := "cpus:4;mem:1024"
	if v, ok := h.arg(d, "resources"); ok {
		res = strings.ReplaceAll(v, ",", ";")
	}
	c := &fakeConn{name: name, h: h}
	h.agents[name] = c
	call := &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
		AgentInfo: mesos.AgentInfo{Hostname: name, Resources: core.MustParseResources(res)}, Endpoint: "127.0.0.1:5051"}}
	if _, ok := h.arg(d, "rereg"); ok {
		call.Type = agentapi.CallReregister
		call.Register.AgentInfo.ID = &mesos.ID{Value: h.ids[name]}
		if v, ok := h.arg(d, "tasks"); ok {
			for _, ft := range strings.Split(v, ",") {
				fw, task, _ := strings.Cut(ft, "/")
				// A command task: its executor has the task's id, as
				// agentd's command executors do.
				call.Register.Tasks = append(call.Register.Tasks, agentapi.Task{Role: "*", Task: mesos.Task{
					Name: task, TaskID: mesos.ID{Value: task}, FrameworkID: mesos.ID{Value: h.wireName(fw)},
					ExecutorID: &mesos.ID{Value: task}, State: mesos.TaskRunning,
					Resources: core.MustParseResources("cpus:1;mem:32")}})
			}
		}
	}
	id, err := h.m.SubscribeAgent(agentConn{c}, call, h.now)
	if id != "" {
		h.ids[name], h.names[id] = id, name
	}
	return err
}

func (h *harness) subscribe(d *datadriven.TestData, name string) error {
	fi := mesos.FrameworkInfo{User: "u", Name: name}
	if v, ok := h.arg(d, "roles"); ok {
		fi.Roles = strings.Split(v, ",")
		fi.Capabilities = append(fi.Capabilities, mesos.Capability{Type: mesos.CapMultiRole})
	}
	if v, ok := h.arg(d, "failover"); ok {
		fi.FailoverTimeout, _ = strconv.ParseFloat(v, 64)
	}
	if _, ok := h.arg(d, "partition-aware"); ok {
		fi.Capabilities = append(fi.Capabilities, mesos.Capability{Type: mesos.CapPartitionAware})
	}
	if _, ok := h.arg(d, "shared"); ok {
		fi.Capabilities = append(fi.Capabilities, mesos.Capability{Type: mesos.CapSharedResources})
	}
	if id, ok := h.ids[name]; ok {
		fi.ID = &mesos.ID{Value: id}
	}
	var suppressed []string
	if v, ok := h.arg(d, "suppressed"); ok {
		suppressed = strings.Split(v, ",")
	}
	c := &fakeConn{name: name, h: h}
	if old := h.fws[name]; old != nil {
		h.fws[name+"(old)"] = old // to show what the replaced stream got
	}
	h.fws[name] = c
	sub, err := h.m.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: fi, SuppressedRoles: suppressed}}, h.now)
	if err == nil {
		h.ids[name], h.names[sub.FrameworkID] = sub.FrameworkID, name
		h.streams[name] = sub.StreamID
	}
	return err
}

func (h *harness) call(fw string, c *mesos.Call) error {
	c.FrameworkID = &mesos.ID{Value: h.wireName(fw)}
	if err := c.Validate(); err != nil {
		return err
	}
	stream := h.streams[fw]
	if h.stream != "" {
		stream = h.stream
	}
	return h.m.Call(c, stream, h.now)
}

func (h *harness) accept(d *datadriven.TestData, fw string, offers []string) error {
	a := &mesos.Accept{Filters: h.filters(d)}
	agentID := ""
	for _, o := range offers {
		a.OfferIDs = append(a.OfferIDs, mesos.ID{Value: h.wireOffer(o)})
	}
	if v, ok := h.arg(d, "agent"); ok {
		agentID = h.wireName(v)
	} else if len(offers) > 0 {
		h.m.mu.Lock()
		if id, ok := h.m.parseOfferID(h.wireOffer(offers[0])); ok && h.m.offers[id] != nil {
			agentID = string(h.m.offers[id].Agent)
		}
		h.m.mu.Unlock()
	}
	if v, ok := h.arg(d, "tasks"); ok {
		var tasks []mesos.TaskInfo
		for _, spec := range strings.Split(v, ",") {
			// ID:RES or ID:RES@EXECUTOR (a custom executor with cpus:0.1)
			id, res, _ := strings.Cut(spec, ":")
			res, exec, custom := strings.Cut(res, "@")
			ti := mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: agentID},
				Resources: core.MustParseResources(strings.ReplaceAll(strings.ReplaceAll(res, "+", ";"), "=", ":"))}
			if custom {
				ti.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: exec}, Command: &mesos.CommandInfo{Value: "./exec"},
					Resources: core.MustParseResources("cpus:0.1")}
			} else {
				ti.Command = &mesos.CommandInfo{Value: "true"}
			}
			tasks = append(tasks, ti)
		}
		a.Operations = []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}}
	}
	// Each input line is an operation in Mesos's JSON, where $NAME is
	// the wire id of agent or framework NAME.
	for line := range strings.Lines(d.Input) {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var op mesos.Operation
		if err := json.Unmarshal([]byte(h.expand(line)), &op); err != nil {
			return err
		}
		a.Operations = append(a.Operations, op)
	}
	return h.call(fw, &mesos.Call{Type: mesos.CallAccept, Accept: a})
}

// expand replaces each $NAME in s by the wire id of agent or framework
// NAME.
func (h *harness) expand(s string) string {
	return os.Expand(s, func(name string) string { return h.wireName(name) })
}

// operator runs an operator operation: operator KIND AGENT, the
// resources (Mesos's JSON) as input.
func (h *harness) operator(d *datadriven.TestData, kind, agent string) error {
	var res core.Resources
	if err := json.Unmarshal([]byte(h.expand(d.Input)), &res); err != nil {
		return err
	}
	return h.m.OperatorOperation(kind, h.wireName(agent), res, h.now)
}

func (h *harness) update(d *datadriven.TestData, pos []string) error {
	ag, fw, task, state := pos[0], pos[1], pos[2], mesos.TaskState(pos[3])
	uuid := h.latest[fw+"/"+task]
	if !d.HasArg("retry") || uuid == nil {
		h.uuid++
		uuid = []byte{h.uuid}
	}
	su := &agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: h.wireName(fw)}, Status: mesos.TaskStatus{
		TaskID: mesos.ID{Value: task}, State: state, Source: mesos.SourceExecutor, UUID: uuid}}
	if v, ok := h.arg(d, "latest"); ok {
		su.LatestState = mesos.TaskState(v)
	}
	h.latest[fw+"/"+task] = uuid
	call := agentapi.Call{Type: agentapi.CallStatusUpdate, AgentID: &mesos.ID{Value: h.wireName(ag)}, StatusUpdate: su}
	if err := call.Validate(); err != nil {
		return err
	}
	h.m.AgentCalls([]agentapi.Call{call}, h.now)
	return nil
}

func (h *harness) ack(d *datadriven.TestData, fw, task string) error {
	uuid := h.latest[fw+"/"+task]
	if v, ok := h.arg(d, "uuid"); ok {
		n, _ := strconv.Atoi(v)
		uuid = []byte{byte(n)}
	}
	h.m.mu.Lock()
	agent := ""
	if f := h.m.frameworks[h.wireName(fw)]; f != nil {
		if t := f.tasks[task]; t != nil {
			agent = t.agent
		}
	}
	h.m.mu.Unlock()
	return h.call(fw, &mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
		AgentID: mesos.ID{Value: agent}, TaskID: mesos.ID{Value: task}, UUID: uuid}})
}

// answerPings answers every PING a connected agent got, and forgets it.
func (h *harness) answerPings() {
	for name, c := range h.agents {
		c.mu.Lock()
		kept, pinged := c.events[:0], false
		for _, e := range c.events {
			if strings.HasPrefix(e, "PING ") {
				pinged = true
				continue
			}
			kept = append(kept, e)
		}
		c.events = kept
		closed := c.closed
		c.mu.Unlock()
		if pinged && !closed {
			_ = h.pong(name)
		}
	}
}

func (h *harness) pong(name string) error {
	h.m.mu.Lock()
	ag := h.m.agents[h.wireName(name)]
	seq := uint64(0)
	if ag != nil {
		seq = ag.pingSeq
	}
	h.m.mu.Unlock()
	if ag == nil {
		return errors.New("unknown agent")
	}
	h.m.AgentCalls([]agentapi.Call{{Type: agentapi.CallPong, AgentID: &mesos.ID{Value: h.wireName(name)},
		Pong: &agentapi.Pong{Seq: seq}}}, h.now)
	return nil
}

// state prints the master's view: frameworks with their tasks, agents
// with what is used on them and the tasks refused when they came back
// from unreachable, and the registry.
func (h *harness) state() string {
	var b strings.Builder
	st := h.m.State(nil)
	for _, fw := range st.Frameworks {
		fmt.Fprintf(&b, "framework %s active=%v used=%v\n", h.name(fw.ID), fw.Active, fw.UsedResources["cpus"])
		for _, t := range fw.Tasks {
			fmt.Fprintf(&b, "  task %s %s on %s\n", t.ID, t.State, h.name(t.SlaveID))
		}
		for _, t := range fw.CompletedTasks {
			fmt.Fprintf(&b, "  completed %s %s\n", t.ID, t.State)
		}
		for _, t := range fw.UnreachableTasks {
			fmt.Fprintf(&b, "  unreachable %s %s\n", t.ID, t.State)
		}
	}
	for _, fw := range st.CompletedFrameworks {
		fmt.Fprintf(&b, "completed framework %s\n", h.name(fw.ID))
		for _, t := range fw.CompletedTasks {
			fmt.Fprintf(&b, "  completed %s %s\n", t.ID, t.State)
		}
	}
	for _, a := range st.Slaves {
		fmt.Fprintf(&b, "agent %s active=%v used cpus=%v offered cpus=%v\n", h.name(a.ID), a.Active, a.UsedResources["cpus"], a.OfferedResources["cpus"])
		h.m.mu.Lock()
		var refused []string
		for k := range h.m.agents[a.ID].refusedTasks {
			refused = append(refused, h.name(k.framework)+"/"+k.task)
		}
		h.m.mu.Unlock()
		if len(refused) > 0 {
			slices.Sort(refused)
			fmt.Fprintf(&b, "  refused %s\n", strings.Join(refused, " "))
		}
	}
	for _, a := range st.RecoveredSlaves {
		fmt.Fprintf(&b, "recovered agent %s (expected back)\n", h.name(a.ID))
	}
	rs := h.reg.State()
	fmt.Fprintf(&b, "registry admitted=%d unreachable=%d gone=%d\n", len(rs.Admitted), len(rs.Unreachable), len(rs.Gone))
	return b.String()
}

// check compares the master's mirror of the registry with the registry,
// and checks the invariant on Master.recovering.
func (h *harness) check(t *testing.T, d *datadriven.TestData) {
	if err := h.checkMaintenance(); err != nil {
		t.Errorf("%s: %v", d.Pos, err)
	}
	rs := h.reg.State()
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	if got, want := slices.Sorted(maps.Keys(h.m.admitted)), slices.Sorted(maps.Keys(rs.Admitted)); !slices.Equal(got, want) {
		t.Errorf("%s: master's admitted agents %v, registry's %v", d.Pos, got, want)
	}
	for id, e := range rs.Unreachable {
		if since, ok := h.m.unreachable[id]; !ok || !since.Equal(e.Time) {
			t.Errorf("%s: registry has %s unreachable since %v, the master %v (%v)", d.Pos, id, e.Time, since, ok)
		}
	}
	if len(h.m.unreachable) != len(rs.Unreachable) || len(h.m.gone) != len(rs.Gone) {
		t.Errorf("%s: master has %d unreachable and %d gone agents, the registry %d and %d", d.Pos,
			len(h.m.unreachable), len(h.m.gone), len(rs.Unreachable), len(rs.Gone))
	}
	for k, v := range rs.Values {
		if id, ok := strings.CutPrefix(k, resourcesKey); ok {
			var rec core.Resources
			if err := json.Unmarshal(v, &rec); err != nil || !rec.Equal(h.m.resources[id]) {
				t.Errorf("%s: registry records %s for agent %s, the master %v", d.Pos, v, id, h.m.resources[id])
			}
			if ag := h.m.agents[id]; ag != nil && !ag.total.Checkpointed().Equal(rec) {
				t.Errorf("%s: agent %s's total %v does not hold the recorded %v", d.Pos, id, ag.total, rec)
			}
		}
		if key, ok := strings.CutPrefix(k, operationsKey); ok {
			fw, op, _ := strings.Cut(key, "/")
			if h.m.operations[fw][op] == nil {
				t.Errorf("%s: registry holds operation %s, the master does not", d.Pos, key)
			}
		}
	}
	for fw, ops := range h.m.operations {
		for op := range ops {
			if rs.Values[operationsKey+fw+"/"+op] == nil {
				t.Errorf("%s: master holds operation %s/%s, the registry does not", d.Pos, fw, op)
			}
		}
	}
	for id := range h.m.recovering {
		if !h.m.admitted[id] || h.m.agents[id] != nil {
			t.Errorf("%s: agent %s is expected back but admitted=%v registered=%v", d.Pos, id, h.m.admitted[id], h.m.agents[id] != nil)
		}
	}
}

// checkLive compares the master's running task counts (Master.live) with
// a walk over every framework's tasks, after each command.
func (h *harness) checkLive(t *testing.T, d *datadriven.TestData) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	want := liveTasks{states: map[mesos.TaskState]int{}}
	for _, fw := range m.frameworks {
		for _, tk := range fw.tasks {
			if !tk.tracked {
				t.Fatalf("%s: task %s is in its framework's tasks but not tracked", d.Pos, tk.id)
			}
			want.count(tk, 1)
		}
	}
	if !maps.Equal(want.states, m.live.states) || want.used != m.live.used {
		t.Fatalf("%s: live task counts %v used %v, a walk finds %v used %v", d.Pos, m.live.states, m.live.used, want.states, want.used)
	}
	same := func(a, b *liveUse) bool { return *a == *b }
	if !maps.EqualFunc(want.frameworks, m.live.frameworks, same) || !maps.EqualFunc(want.roles, m.live.roles, same) {
		t.Fatalf("%s: live counts by framework %v and role %v differ from a walk's", d.Pos, m.live.frameworks, m.live.roles)
	}
	checkIndex(t, d, m)
}

// checkIndex compares the tasks page's index (Master.tasks) with a walk
// over every framework's tasks and completed tasks.
func checkIndex(t *testing.T, d *datadriven.TestData, m *Master) {
	walked := map[*task]bool{}
	counts := map[indexCount]int{}
	visit := func(fw *framework, tk *task) {
		if !tk.indexed || tk.rank != stateRank(tk.state) || tk.fwOrd != fw.ord || walked[tk] {
			t.Fatalf("%s: task %s of %s (%s) is not indexed as it should be: indexed %v rank %d fw %d",
				d.Pos, tk.id, fw.id, tk.state, tk.indexed, tk.rank, tk.fwOrd)
		}
		walked[tk] = true
		counts[indexCount{fw.ord, tk.rank}]++
	}
	for _, fw := range append(slices.Collect(maps.Values(m.frameworks)), m.completed...) {
		for _, tk := range fw.tasks {
			visit(fw, tk)
		}
		for _, tk := range fw.completed {
			visit(fw, tk)
		}
	}
	if m.tasks.tree.Len() != len(walked) || !maps.Equal(counts, m.tasks.counts) {
		t.Fatalf("%s: the task index has %d entries, counts %v; a walk finds %d, counts %v",
			d.Pos, m.tasks.tree.Len(), m.tasks.counts, len(walked), counts)
	}
	m.tasks.tree.Ascend(func(tk *task) bool {
		if !walked[tk] {
			t.Fatalf("%s: the task index holds task %s of %s, which no framework lists", d.Pos, tk.id, tk.framework)
		}
		return true
	})
}
