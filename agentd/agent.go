package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"meseta/agentd/cgroups"
	"meseta/core"
	agentcore "meseta/core/agent"
	"meseta/core/agentapi"
	"meseta/core/checkpoint"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// agent is the agent's state. See the package doc for its lock.
type agent struct {
	cfg *config
	log *slog.Logger
	// static is the resources the flags declare (--resources, or what
	// the machine has): AgentInfo.Resources in every registration.
	static   core.Resources
	attrs    []mesos.Attribute
	endpoint string // our host:port
	self     string // the agentd binary, for the built-in executors
	cg       *cgroups.Manager
	ckpt     *checkpoint.Store // nil: nothing is checkpointed

	outbox *outbox

	// mu guards everything below.
	mu         sync.Mutex
	id         string // "" until registered
	registered bool
	frameworks map[string]*frameworkRun
	executors  map[execKey]*executorRun
	tasks      map[taskKey]*taskRun
	updates    *agentcore.Updates
	masterInfo mesos.MasterInfo // from the last REGISTERED
	// master is the leading master's host:port, the one the agent talks
	// to; "" while there is none. masterLoop sets it (setMaster).
	master    string
	pingTime  time.Time // last PING from the master
	pingLimit time.Duration
	// ended counts the tasks that reached each terminal state since the
	// process started (slave/tasks_finished and the like).
	ended map[mesos.TaskState]uint64
	// checkpointed is the agent's dynamic reservations and persistent
	// volumes as last checkpointed (volumes.go), and total is
	// core.ApplyCheckpointed(static, checkpointed), what /state and the
	// metrics show. Only CHECKPOINT_RESOURCES and recovery set them,
	// always together.
	checkpointed core.Resources
	total        core.Resources
}

type execKey struct{ framework, executor string }
type taskKey struct{ framework, task string }

type frameworkRun struct {
	info mesos.FrameworkInfo
}

// executorRun is one executor process and what it runs.
type executorRun struct {
	key       execKey
	info      mesos.ExecutorInfo
	command   bool // the built-in command executor for one task
	group     bool // the built-in default executor (task groups)
	role      string
	dir       string
	container string

	state   execState
	ready   bool // started and in its cgroup: tasks may be delivered
	pid     int
	group_  *cgroups.Group
	stream  *recordio.Stream // nil until subscribed, and after it drops
	queued  []*mesos.ExecutorEvent
	started time.Time
	// killing: the agent is shutting the executor down, so tasks it
	// leaves behind end TASK_KILLED rather than TASK_FAILED.
	killing bool
	// recovered: found in the checkpoint after an agent restart; not the
	// agent's child, so its end is found by polling (recovery.go).
	recovered bool
	tasks     map[string]*taskRun
}

type execState int

const (
	execLaunching execState = iota
	execRunning
	execTerminated
)

type taskRun struct {
	key      taskKey
	info     mesos.TaskInfo
	role     string
	exec     *executorRun
	state    mesos.TaskState
	terminal bool // a terminal update was made (it may wait for its ack)
}

func newAgent(cfg *config, log *slog.Logger, static core.Resources, attrs []mesos.Attribute, cg *cgroups.Manager) *agent {
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	u := agentcore.NewUpdates()
	u.RetryMin = cfg.statusRetryMin
	return &agent{
		cfg: cfg, log: log, static: static, total: static, attrs: attrs, self: self, cg: cg,
		frameworks: map[string]*frameworkRun{}, executors: map[execKey]*executorRun{},
		tasks: map[taskKey]*taskRun{}, updates: u,
	}
}

func newUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

func newContainerID() string {
	b := newUUID()
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// setMaster records the master the agent talks to, for /state.
func (a *agent) setMaster(addr string) {
	a.mu.Lock()
	a.master = addr
	a.mu.Unlock()
}

// registerCall is the REGISTER or REREGISTER the agent sends when it
// (re)connects: with its checkpointed resources, and with its id and
// everything it runs once it has an id.
func (a *agent) registerCall() *agentapi.Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	reg := &agentapi.Register{
		AgentInfo: mesos.AgentInfo{Hostname: a.cfg.hostname, Port: int32(portOf(a.endpoint)),
			Resources: a.static, Attributes: a.attrs},
		Endpoint: a.endpoint, Version: versionString, Checkpoint: a.ckpt != nil,
		CheckpointedResources: a.checkpointed,
	}
	if a.id == "" {
		return &agentapi.Call{Type: agentapi.CallRegister, Register: reg}
	}
	reg.AgentInfo.ID = &mesos.ID{Value: a.id}
	fws := make([]string, 0, len(a.frameworks))
	for id := range a.frameworks {
		fws = append(fws, id)
	}
	sort.Strings(fws)
	for _, id := range fws {
		reg.Frameworks = append(reg.Frameworks, a.frameworks[id].info)
	}
	for _, ex := range a.executors {
		if ex.state == execTerminated {
			continue
		}
		reg.Executors = append(reg.Executors, agentapi.Executor{FrameworkID: mesos.ID{Value: ex.key.framework},
			Info: ex.info, Command: ex.command, Directory: ex.dir, Role: ex.role})
	}
	for _, t := range a.tasks {
		reg.Tasks = append(reg.Tasks, agentapi.Task{Role: t.role, Task: mesos.Task{
			Name: t.info.Name, TaskID: t.info.TaskID, FrameworkID: mesos.ID{Value: t.key.framework},
			ExecutorID: &mesos.ID{Value: t.exec.key.executor}, AgentID: mesos.ID{Value: a.id},
			State: t.state, Resources: t.info.Resources,
		}})
	}
	return &agentapi.Call{Type: agentapi.CallReregister, Register: reg}
}

// handleEvent applies one event from the master.
func (a *agent) handleEvent(ev *agentapi.Event, now time.Time) {
	switch ev.Type {
	case agentapi.EventRegistered:
		a.registeredWith(ev.Registered, now)
	case agentapi.EventPing:
		a.mu.Lock()
		a.pingTime = now
		id := a.id
		a.mu.Unlock()
		a.outbox.add(agentapi.Call{Type: agentapi.CallPong, AgentID: &mesos.ID{Value: id}, Pong: &agentapi.Pong{Seq: ev.Ping.Seq}})
	case agentapi.EventRunTask:
		a.runTask(ev.RunTask, now)
	case agentapi.EventRunTaskGroup:
		a.runTaskGroup(ev.RunTaskGroup, now)
	case agentapi.EventKillTask:
		a.killTask(ev.KillTask, now)
	case agentapi.EventShutdownFramework:
		a.shutdownFramework(ev.ShutdownFramework.FrameworkID.Value)
	case agentapi.EventShutdownExecutor:
		a.mu.Lock()
		ex := a.executors[execKey{ev.ShutdownExecutor.FrameworkID.Value, ev.ShutdownExecutor.ExecutorID.Value}]
		a.mu.Unlock()
		if ex != nil {
			a.shutdownExecutor(ex)
		}
	case agentapi.EventAcknowledge:
		a.acknowledge(ev.Acknowledge, now)
	case agentapi.EventMessage:
		a.mu.Lock()
		ex := a.executors[execKey{ev.Message.FrameworkID.Value, ev.Message.ExecutorID.Value}]
		if ex != nil && ex.stream != nil {
			ex.stream.SendJSON(&mesos.ExecutorEvent{Type: mesos.ExecEventMessage, Message: &mesos.ExecutorMessage{Data: ev.Message.Data}})
		}
		a.mu.Unlock()
	case agentapi.EventUpdateFramework:
		a.mu.Lock()
		if fi := ev.UpdateFramework; fi != nil && fi.ID.Val() != "" {
			a.frameworks[fi.ID.Value] = &frameworkRun{info: *fi}
		}
		a.mu.Unlock()
	case agentapi.EventCheckpointResources:
		a.checkpointResources(ev.CheckpointResources)
	case agentapi.EventShutdown:
		a.removedByMaster(ev.Shutdown.Message)
	default:
		a.log.Warn("unknown event from the master", "type", ev.Type)
	}
}

func (a *agent) registeredWith(r *agentapi.Registered, now time.Time) {
	a.mu.Lock()
	first := a.id == ""
	a.id = r.AgentID.Value
	a.registered = true
	a.masterInfo = r.MasterInfo
	a.pingTime = now
	a.pingLimit = time.Duration(r.PingTimeoutSeconds*float64(time.Second)) * time.Duration(max(r.MaxPingTimeouts, 1))
	heads := a.updates.Heads(now)
	if a.ckpt != nil {
		boot, _ := checkpoint.BootID()
		a.ckptErr("agent", a.ckpt.SetAgent(checkpoint.AgentRecord{AgentID: a.id, BootID: boot, Registered: now,
			Info: mesos.AgentInfo{Hostname: a.cfg.hostname, Port: int32(portOf(a.endpoint)), Resources: a.static,
				Attributes: a.attrs, ID: &mesos.ID{Value: a.id}}}))
	}
	a.mu.Unlock()
	if first {
		a.log.Info("registered with the master", "agent", r.AgentID.Value, "master", r.MasterInfo.PID)
	} else {
		a.log.Info("re-registered with the master", "agent", r.AgentID.Value, "master", r.MasterInfo.PID)
	}
	a.sendUpdates(heads)
}

// removedByMaster: the master removed this agent. Kill everything, forget
// the id, and register afresh as a new agent.
func (a *agent) removedByMaster(msg string) {
	a.log.Warn("the master removed this agent; killing its tasks and registering as a new agent", "reason", msg)
	a.mu.Lock()
	var exs []*executorRun
	for _, ex := range a.executors {
		exs = append(exs, ex)
	}
	a.id = ""
	a.registered = false
	a.frameworks = map[string]*frameworkRun{}
	a.tasks = map[taskKey]*taskRun{}
	a.updates = agentcore.NewUpdates()
	a.updates.RetryMin = a.cfg.statusRetryMin
	for _, ex := range exs {
		ex.tasks = map[string]*taskRun{}
	}
	if a.ckpt != nil {
		a.ckptErr("reset", a.ckpt.Reset())
	}
	a.mu.Unlock()
	a.outbox.clear()
	for _, ex := range exs {
		a.destroyExecutor(ex)
	}
}

func (a *agent) sendUpdates(us []agentapi.StatusUpdate) {
	if len(us) == 0 {
		return
	}
	a.mu.Lock()
	id := a.id
	a.mu.Unlock()
	for i := range us {
		u := us[i]
		a.outbox.add(agentapi.Call{Type: agentapi.CallStatusUpdate, AgentID: &mesos.ID{Value: id}, StatusUpdate: &u})
	}
}

// updateLocked records a task status and hands it to the status update
// manager; it returns what to send to the master now.
func (a *agent) updateLocked(t *taskRun, s mesos.TaskStatus, now time.Time) []agentapi.StatusUpdate {
	if t.terminal {
		return nil // a terminal state is final
	}
	t.state = s.State
	t.terminal = s.State.Terminal()
	if t.terminal {
		if a.ended == nil {
			a.ended = map[mesos.TaskState]uint64{}
		}
		a.ended[s.State]++
	}
	if s.AgentID == nil {
		s.AgentID = &mesos.ID{Value: a.id}
	}
	if s.ExecutorID == nil {
		s.ExecutorID = &mesos.ID{Value: t.exec.key.executor}
	}
	if len(s.UUID) == 0 {
		s.UUID = newUUID()
	}
	if s.Timestamp == 0 {
		s.Timestamp = float64(now.UnixNano()) / 1e9
	}
	su := agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: t.key.framework}, Status: s}
	if a.checkpointingLocked(t.key.framework) && a.tasks[t.key] == t {
		// Synced before the executor hears ACKNOWLEDGED: an update the
		// agent took survives its crash. The task record follows, so a
		// restarted agent reports the task's latest state.
		a.ckptErr("status update", a.ckpt.AppendUpdate(su))
		a.ckptErr("task", a.ckpt.PutTask(checkpoint.TaskRecord{FrameworkID: t.key.framework, ExecutorID: t.exec.key.executor,
			Role: t.role, Info: t.info, State: t.state, Terminal: t.terminal}))
	}
	send := a.updates.Add(su, now)
	if !a.registered {
		// registeredWith sends every task's head update once the agent is
		// (re-)registered, this one included: sending it now too would
		// deliver it twice. Deciding under a.mu, which registeredWith
		// holds while it reads the heads, leaves no window between.
		return nil
	}
	return send
}

// agentStatusLocked makes an agent-sourced update for a task.
func (a *agent) agentStatusLocked(t *taskRun, state mesos.TaskState, reason, msg string, now time.Time) []agentapi.StatusUpdate {
	return a.updateLocked(t, agentcore.Status(t.key.task, a.id, t.exec.key.executor, state, reason, msg, newUUID(), now), now)
}

func (a *agent) acknowledge(ack *agentapi.Acknowledge, now time.Time) {
	a.mu.Lock()
	key := taskKey{ack.FrameworkID.Value, ack.TaskID.Value}
	next, ok := a.updates.Ack(key.framework, key.task, ack.UUID, now)
	var gone *executorRun // forgotten: its sandbox goes to the GC
	if ok {
		ckpt := a.checkpointingLocked(key.framework)
		if ckpt {
			a.ckptErr("ack", a.ckpt.AckUpdate(key.framework, key.task, ack.UUID))
		}
		if t := a.tasks[key]; t != nil && t.terminal && !a.updates.Pending(key.framework, key.task) {
			delete(a.tasks, key)
			delete(t.exec.tasks, key.task)
			if ckpt {
				a.ckptErr("remove task", a.ckpt.RemoveTask(key.framework, key.task))
			}
			if t.exec.state == execTerminated && len(t.exec.tasks) == 0 {
				gone = t.exec
				if ckpt {
					a.ckptErr("remove executor", a.ckpt.RemoveExecutor(key.framework, t.exec.key.executor))
				}
			}
		}
	}
	a.mu.Unlock()
	a.sendUpdates(next)
	if gone != nil {
		a.gcSandbox(gone.dir)
	}
}

// retryUpdates resends updates whose retry time has come.
func (a *agent) retryUpdates(now time.Time) {
	a.mu.Lock()
	if !a.registered {
		a.mu.Unlock()
		return
	}
	due := a.updates.Due(now)
	a.mu.Unlock()
	a.sendUpdates(due)
}

// runTask handles RUN_TASK: the task runs under its custom executor, or
// under a new built-in command executor.
func (a *agent) runTask(rt *agentapi.RunTask, now time.Time) {
	ti := rt.Task
	fid := rt.FrameworkInfo.ID.Val()
	a.mu.Lock()
	a.frameworks[fid] = &frameworkRun{info: rt.FrameworkInfo}
	var exInfo mesos.ExecutorInfo
	command := ti.Executor == nil
	if command {
		exInfo = mesos.ExecutorInfo{
			ExecutorID:  ti.TaskID,
			FrameworkID: &mesos.ID{Value: fid},
			Name:        "Command Executor (Task: " + ti.TaskID.Value + ")",
			Command:     &mesos.CommandInfo{Value: a.self, Arguments: []string{a.self, "executor", "--mode=command"}, Shell: boolp(false)},
		}
	} else {
		exInfo = *ti.Executor
		exInfo.FrameworkID = &mesos.ID{Value: fid}
	}
	key := execKey{fid, exInfo.ExecutorID.Value}
	ex := a.executors[key]
	launch := ex == nil || ex.state == execTerminated
	if launch {
		ex = a.newExecutorLocked(key, exInfo, rt.Role, command, false)
	}
	// The task's persistent volumes, and a new custom executor's, go in
	// the executor's sandbox, where its tasks run.
	uses := []volumeUse{{ex.dir, ti.Resources}}
	if launch && !command {
		uses = append(uses, volumeUse{ex.dir, exInfo.Resources})
	}
	if err := a.prepareVolumesLocked(uses); err != nil {
		out := a.failLaunchLocked(fid, key.executor, []mesos.TaskInfo{ti}, err, now)
		a.mu.Unlock()
		a.sendUpdates(out)
		if launch {
			a.gcSandbox(ex.dir) // links made before the one that failed
		}
		return
	}
	if launch {
		a.executors[key] = ex
	}
	t := &taskRun{key: taskKey{fid, ti.TaskID.Value}, info: ti, role: rt.Role, exec: ex, state: mesos.TaskStaging}
	a.tasks[t.key] = t
	ex.tasks[ti.TaskID.Value] = t
	a.recordLaunchLocked(t)
	fi := rt.FrameworkInfo
	a.deliverLocked(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventLaunch, Launch: &mesos.ExecutorLaunch{FrameworkInfo: &fi, Task: ti}})
	a.mu.Unlock()
	if launch {
		go a.launchExecutor(ex, now)
	}
}

func boolp(b bool) *bool { return &b }

// runTaskGroup handles RUN_TASK_GROUP under the built-in default
// executor.
func (a *agent) runTaskGroup(rg *agentapi.RunTaskGroup, now time.Time) {
	fid := rg.FrameworkInfo.ID.Val()
	a.mu.Lock()
	a.frameworks[fid] = &frameworkRun{info: rg.FrameworkInfo}
	exInfo := rg.Executor
	exInfo.FrameworkID = &mesos.ID{Value: fid}
	key := execKey{fid, exInfo.ExecutorID.Value}
	ex := a.executors[key]
	launch := ex == nil || ex.state == execTerminated
	if launch {
		ex = a.newExecutorLocked(key, exInfo, rg.Role, false, true)
	}
	// The executor's volumes go in its sandbox; each task's in the task's
	// own, <sandbox>/tasks/<task_id>, where the default executor runs it.
	// One task's unknown volume fails the whole group, which launches
	// together or not at all.
	var uses []volumeUse
	if launch {
		uses = append(uses, volumeUse{ex.dir, exInfo.Resources})
	}
	for _, ti := range rg.TaskGroup.Tasks {
		uses = append(uses, volumeUse{taskSandbox(ex.dir, ti.TaskID.Value), ti.Resources})
	}
	if err := a.prepareVolumesLocked(uses); err != nil {
		out := a.failLaunchLocked(fid, key.executor, rg.TaskGroup.Tasks, err, now)
		a.mu.Unlock()
		a.sendUpdates(out)
		if launch {
			a.gcSandbox(ex.dir)
		}
		return
	}
	if launch {
		a.executors[key] = ex
	}
	for _, ti := range rg.TaskGroup.Tasks {
		t := &taskRun{key: taskKey{fid, ti.TaskID.Value}, info: ti, role: rg.Role, exec: ex, state: mesos.TaskStaging}
		a.tasks[t.key] = t
		ex.tasks[ti.TaskID.Value] = t
		a.recordLaunchLocked(t)
	}
	a.deliverLocked(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventLaunchGroup, LaunchGroup: &mesos.ExecutorLaunchGroup{TaskGroup: rg.TaskGroup}})
	a.mu.Unlock()
	if launch {
		go a.launchExecutor(ex, now)
	}
}

// newExecutorLocked makes a new executor run with its own container id
// and sandbox. The caller adds it to a.executors once the launch is
// going ahead.
func (a *agent) newExecutorLocked(key execKey, info mesos.ExecutorInfo, role string, command, group bool) *executorRun {
	container := newContainerID()
	ex := &executorRun{
		key: key, info: info, command: command, group: group, role: role, container: container,
		dir: filepath.Join(a.cfg.workDir, "slaves", a.id, "frameworks", key.framework, "executors", key.executor,
			"runs", container),
		tasks: map[string]*taskRun{},
	}
	return ex
}

// deliverLocked sends an event to the executor, or queues it until the
// executor subscribes.
func (a *agent) deliverLocked(ex *executorRun, ev *mesos.ExecutorEvent) {
	if ex.ready && ex.stream != nil && ex.stream.SendJSON(ev) {
		return
	}
	ex.queued = append(ex.queued, ev)
}

// killTask handles KILL_TASK. A task whose executor has not subscribed
// yet is killed before it starts; one the agent does not know is lost.
func (a *agent) killTask(k *agentapi.KillTask, now time.Time) {
	a.mu.Lock()
	key := taskKey{k.FrameworkID.Value, k.TaskID.Value}
	t := a.tasks[key]
	var out []agentapi.StatusUpdate
	var shutdown *executorRun
	switch {
	case t == nil:
		a.mu.Unlock()
		id := a.id
		a.log.Info("kill for an unknown task", "framework", key.framework, "task", key.task)
		a.mu.Lock()
		unknown := &taskRun{key: key, exec: &executorRun{key: execKey{key.framework, key.task}}}
		out = a.updateLocked(unknown, agentcore.Status(key.task, id, "", mesos.TaskLost, mesos.ReasonTaskUnknown,
			"Task is unknown to the agent", newUUID(), now), now)
	case t.terminal:
	case t.exec.stream == nil || !t.exec.ready:
		// Not yet handed to the executor: drop its launch and report it
		// killed, as Mesos does for a kill during launch.
		ex := t.exec
		kept := ex.queued[:0]
		for _, ev := range ex.queued {
			if ev.Launch != nil && ev.Launch.Task.TaskID.Value == key.task {
				continue
			}
			kept = append(kept, ev)
		}
		ex.queued = kept
		out = a.agentStatusLocked(t, mesos.TaskKilled, mesos.ReasonTaskKilledDuringLaunch, "Task killed before it was delivered to the executor", now)
		if ex.liveTasks() == 0 {
			shutdown = ex
		}
	default:
		t.exec.stream.SendJSON(&mesos.ExecutorEvent{Type: mesos.ExecEventKill, Kill: &mesos.ExecutorKill{TaskID: k.TaskID, KillPolicy: k.KillPolicy}})
	}
	a.mu.Unlock()
	a.sendUpdates(out)
	if shutdown != nil {
		a.shutdownExecutor(shutdown)
	}
}

func (ex *executorRun) liveTasks() int {
	n := 0
	for _, t := range ex.tasks {
		if !t.terminal {
			n++
		}
	}
	return n
}

func (a *agent) shutdownFramework(fid string) {
	a.mu.Lock()
	var exs []*executorRun
	for k, ex := range a.executors {
		if k.framework == fid {
			exs = append(exs, ex)
		}
	}
	for k := range a.tasks {
		if k.framework == fid {
			delete(a.tasks, k)
		}
	}
	a.updates.DropFramework(fid)
	if a.checkpointingLocked(fid) {
		a.ckptErr("remove framework", a.ckpt.RemoveFramework(fid))
	}
	delete(a.frameworks, fid)
	a.mu.Unlock()
	for _, ex := range exs {
		a.shutdownExecutor(ex)
	}
}

// portOf returns the port of host:port, or 0.
func portOf(hostport string) int {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
