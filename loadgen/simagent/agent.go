package simagent

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"meseta/core"
	agentcore "meseta/core/agent"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

const version = "meseta-simagent"

// Agent modes.
const (
	modeUp int32 = iota
	modePartitioned
	modeDead
)

// agent is one simulated agent.
type agent struct {
	f        *Fleet
	idx      int
	hostname string
	total    core.Resources
	attrs    []mesos.Attribute

	mode atomic.Int32
	// epoch grows with every stream and every mode change; a queued call
	// of an older epoch is stale (see queued).
	epoch atomic.Uint64
	wake  chan struct{} // capacity 1: cut a backoff or a wait short

	// mu guards the fields below.
	mu         sync.Mutex
	id         string // "" until registered; kept across Kill
	registered bool   // on the current stream; counted in stats.registered
	cancel     context.CancelFunc
	streamTo   string // the master the current stream (cancel) goes to
	frameworks map[string]mesos.FrameworkInfo
	tasks      map[taskKey]*task
	updates    *agentcore.Updates
	pingTime   time.Time
	pingLimit  time.Duration
}

type taskKey struct{ framework, task string }

// task is a simulated task: a record, and at most one scheduler entry.
type task struct {
	key      taskKey
	info     mesos.TaskInfo
	role     string
	executor mesos.ExecutorInfo
	command  bool
	state    mesos.TaskState
	terminal bool // a terminal update was made (it may wait for its ack)
	live     bool // counted in stats.running
}

func newAgent(f *Fleet, idx int, hostname string, total core.Resources, attrs []mesos.Attribute) *agent {
	a := &agent{f: f, idx: idx, hostname: hostname, total: total, attrs: attrs, wake: make(chan struct{}, 1)}
	a.resetLocked()
	return a
}

// resetLocked forgets every task and update.
func (a *agent) resetLocked() {
	for _, t := range a.tasks {
		a.endLocked(t)
	}
	a.frameworks = map[string]mesos.FrameworkInfo{}
	a.tasks = map[taskKey]*task{}
	a.updates = agentcore.NewUpdates()
	a.updates.RetryMin = a.f.cfg.RetryInterval
}

// live reports whether a call queued at epoch may still be sent.
func (a *agent) live(epoch uint64) bool {
	return a.mode.Load() == modeUp && a.epoch.Load() == epoch
}

func (a *agent) setMode(m int32) {
	a.mode.Store(m)
	a.epoch.Add(1)
	notify(a.wake)
}

func (a *agent) kill() {
	a.setMode(modeDead)
	a.dropStream()
	a.mu.Lock()
	a.resetLocked()
	a.mu.Unlock()
}

// dropStream ends the current stream, if any.
func (a *agent) dropStream() {
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
}

// dropStreamUnless drops the agent's stream unless it goes to master
// already: a stream opened to a new leader between SetMaster's update of
// the address and its turn for this agent must stay, or the agent would
// re-register twice, and tasks launched on it in between would be
// reported lost.
func (a *agent) dropStreamUnless(master string) {
	a.mu.Lock()
	if a.cancel != nil && a.streamTo != master {
		a.cancel()
	}
	a.mu.Unlock()
}

func (a *agent) done() bool {
	select {
	case <-a.f.done:
		return true
	default:
		return false
	}
}

// loop keeps the agent subscribed while it is up, with agentd's
// randomized, doubling backoff between attempts.
func (a *agent) loop() {
	factor := a.f.cfg.Backoff
	backoff := factor
	// Spread the first registrations over the backoff too, as a fleet
	// starting at once would otherwise hit the master in one burst.
	wait := randomUpTo(factor / 4)
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-a.f.done:
				t.Stop()
				return
			case <-t.C:
			case <-a.wake:
				t.Stop()
			}
		}
		for a.mode.Load() != modeUp { // dead or partitioned: no new stream
			select {
			case <-a.f.done:
				return
			case <-a.wake:
			}
		}
		if a.done() {
			return
		}
		err := a.subscribeOnce()
		a.mu.Lock()
		was := a.registered
		if a.registered {
			a.registered = false
			a.f.stats.registered.Add(-1)
		}
		a.cancel = nil
		a.mu.Unlock()
		if a.done() {
			return
		}
		if was {
			backoff = factor
		}
		wait = randomUpTo(backoff)
		backoff = min(2*backoff, time.Minute)
		a.f.log.Debug("agent stream ended", "agent", a.hostname, "err", err, "retry_in", wait)
	}
}

func randomUpTo(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d) + 1)) }

var errShutdown = errors.New("simagent: the master shut this agent down")

// subscribeOnce holds one stream until it breaks or is dropped.
func (a *agent) subscribeOnce() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.mu.Lock()
	a.cancel = cancel
	master := a.f.Master()
	a.streamTo = master
	body, err := json.Marshal(a.registerCallLocked())
	a.mu.Unlock()
	if err != nil {
		return err
	}
	epoch := a.epoch.Add(1)
	if a.mode.Load() != modeUp || a.done() { // killed or stopped meanwhile
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+master+agentapi.PathSubscribe, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.f.streams[a.idx%len(a.f.streams)].Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("simagent: master answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	rd := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := rd.Next()
		if err != nil {
			return err
		}
		if a.mode.Load() != modeUp {
			continue // partitioned: the event never arrives
		}
		var ev agentapi.Event
		if err := agentapi.DecodeEvent(rec, &ev); err != nil {
			return fmt.Errorf("simagent: bad event from the master: %w", err)
		}
		a.mu.Lock()
		out, end := a.handleLocked(&ev, epoch, time.Now())
		a.mu.Unlock()
		a.f.out.add(out...)
		if end {
			return errShutdown
		}
	}
}

// registerCallLocked is REGISTER, or REREGISTER with the agent's id and
// what it runs.
func (a *agent) registerCallLocked() *agentapi.Call {
	reg := &agentapi.Register{
		AgentInfo: mesos.AgentInfo{Hostname: a.hostname, Port: 5051, Resources: a.total, Attributes: a.attrs},
		Endpoint:  a.hostname + ":5051", Version: version, Checkpoint: true,
	}
	if a.id == "" {
		return &agentapi.Call{Type: agentapi.CallRegister, Register: reg}
	}
	reg.AgentInfo.ID = &mesos.ID{Value: a.id}
	for _, fi := range a.frameworks {
		reg.Frameworks = append(reg.Frameworks, fi)
	}
	type execKey struct{ framework, executor string }
	seen := map[execKey]bool{}
	for _, t := range a.tasks {
		k := execKey{t.key.framework, t.executor.ExecutorID.Value}
		if !t.terminal && !seen[k] {
			seen[k] = true
			reg.Executors = append(reg.Executors, agentapi.Executor{FrameworkID: mesos.ID{Value: t.key.framework},
				Info: t.executor, Command: t.command, Role: t.role})
		}
		reg.Tasks = append(reg.Tasks, agentapi.Task{Role: t.role, Task: mesos.Task{
			Name: t.info.Name, TaskID: t.info.TaskID, FrameworkID: mesos.ID{Value: t.key.framework},
			ExecutorID: &mesos.ID{Value: t.executor.ExecutorID.Value}, AgentID: mesos.ID{Value: a.id},
			State: t.state, Resources: t.info.Resources,
		}})
	}
	return &agentapi.Call{Type: agentapi.CallReregister, Register: reg}
}

// handleLocked applies one event; it returns the calls to send, and end
// when the stream must close.
func (a *agent) handleLocked(ev *agentapi.Event, epoch uint64, now time.Time) (out []queued, end bool) {
	switch ev.Type {
	case agentapi.EventRegistered:
		a.id = ev.Registered.AgentID.Value
		if !a.registered {
			a.registered = true
			a.f.stats.registered.Add(1)
		}
		a.pingTime = now
		a.pingLimit = time.Duration(ev.Registered.PingTimeoutSeconds*float64(time.Second)) * time.Duration(max(ev.Registered.MaxPingTimeouts, 1))
		heads := a.updates.Heads(now)
		a.f.stats.resends.Add(int64(len(heads)))
		return a.callsLocked(heads, epoch), false
	case agentapi.EventPing:
		a.pingTime = now
		return []queued{{a: a, epoch: epoch, call: agentapi.Call{Type: agentapi.CallPong, AgentID: &mesos.ID{Value: a.id},
			Pong: &agentapi.Pong{Seq: ev.Ping.Seq}}}}, false
	case agentapi.EventRunTask:
		rt := ev.RunTask
		fid := rt.FrameworkInfo.ID.Val()
		a.frameworks[fid] = rt.FrameworkInfo
		ti := rt.Task
		var exec mesos.ExecutorInfo
		command := ti.Executor == nil
		if command {
			exec = mesos.ExecutorInfo{ExecutorID: ti.TaskID, FrameworkID: &mesos.ID{Value: fid},
				Name: "Command Executor (Task: " + ti.TaskID.Value + ")", Command: &mesos.CommandInfo{Value: "simagent"}}
		} else {
			exec = *ti.Executor
			exec.FrameworkID = &mesos.ID{Value: fid}
		}
		return a.callsLocked(a.launchLocked(fid, ti, rt.Role, exec, command, now), epoch), false
	case agentapi.EventRunTaskGroup:
		rg := ev.RunTaskGroup
		fid := rg.FrameworkInfo.ID.Val()
		a.frameworks[fid] = rg.FrameworkInfo
		exec := rg.Executor
		exec.FrameworkID = &mesos.ID{Value: fid}
		var us []agentapi.StatusUpdate
		for _, ti := range rg.TaskGroup.Tasks {
			us = append(us, a.launchLocked(fid, ti, rg.Role, exec, false, now)...)
		}
		return a.callsLocked(us, epoch), false
	case agentapi.EventKillTask:
		k := ev.KillTask
		key := taskKey{k.FrameworkID.Value, k.TaskID.Value}
		t := a.tasks[key]
		if t == nil {
			// As agentd: a kill for a task the agent does not know is lost.
			unknown := &task{key: key, executor: mesos.ExecutorInfo{ExecutorID: k.TaskID}}
			return a.callsLocked(a.statusLocked(unknown, mesos.TaskLost, mesos.SourceAgent, mesos.ReasonTaskUnknown,
				"Task is unknown to the agent", now), epoch), false
		}
		return a.callsLocked(a.statusLocked(t, mesos.TaskKilled, mesos.SourceExecutor, "", "Task killed", now), epoch), false
	case agentapi.EventShutdownFramework:
		fid := ev.ShutdownFramework.FrameworkID.Value
		for k, t := range a.tasks {
			if k.framework == fid {
				a.endLocked(t)
				delete(a.tasks, k)
			}
		}
		a.updates.DropFramework(fid)
		delete(a.frameworks, fid)
	case agentapi.EventShutdownExecutor:
		ref := ev.ShutdownExecutor
		var us []agentapi.StatusUpdate
		for k, t := range a.tasks {
			if k.framework == ref.FrameworkID.Value && t.executor.ExecutorID.Value == ref.ExecutorID.Value {
				us = append(us, a.statusLocked(t, mesos.TaskKilled, mesos.SourceAgent, "", "Executor shut down", now)...)
			}
		}
		return a.callsLocked(us, epoch), false
	case agentapi.EventAcknowledge:
		ack := ev.Acknowledge
		key := taskKey{ack.FrameworkID.Value, ack.TaskID.Value}
		next, ok := a.updates.Ack(key.framework, key.task, ack.UUID, now)
		if !ok {
			return nil, false
		}
		a.f.stats.acked.Add(1)
		if t := a.tasks[key]; t != nil && t.terminal && !a.updates.Pending(key.framework, key.task) {
			delete(a.tasks, key)
		}
		return a.callsLocked(next, epoch), false
	case agentapi.EventUpdateFramework:
		if fi := ev.UpdateFramework; fi != nil && fi.ID.Val() != "" {
			if _, ok := a.frameworks[fi.ID.Value]; ok {
				a.frameworks[fi.ID.Value] = *fi
			}
		}
	case agentapi.EventMessage:
		// No executor to deliver framework messages to.
	case agentapi.EventShutdown:
		// The master refused or removed this agent: forget everything and
		// register afresh, as agentd does.
		a.f.log.Warn("master shut the agent down; registering as a new agent", "agent", a.hostname, "id", a.id)
		a.id = ""
		a.resetLocked()
		return nil, true
	}
	return nil, false
}

// launchLocked starts a task: TASK_STARTING and TASK_RUNNING (as agentd's
// command executor reports), and TASK_FINISHED when its duration is up.
func (a *agent) launchLocked(fid string, ti mesos.TaskInfo, role string, exec mesos.ExecutorInfo, command bool, now time.Time) []agentapi.StatusUpdate {
	key := taskKey{fid, ti.TaskID.Value}
	if old := a.tasks[key]; old != nil && !old.terminal {
		return nil // a duplicate launch
	}
	t := &task{key: key, info: ti, role: role, executor: exec, command: command, state: mesos.TaskStaging, live: true}
	a.tasks[key] = t
	a.f.stats.running.Add(1)
	a.f.stats.launched.Add(1)
	us := a.statusLocked(t, mesos.TaskStarting, mesos.SourceExecutor, "", "", now)
	us = append(us, a.statusLocked(t, mesos.TaskRunning, mesos.SourceExecutor, "", "", now)...)
	if d := a.f.cfg.Duration(ti); d > 0 {
		a.f.sched.at(now.Add(d), func(now time.Time) { a.finish(t, now) })
	}
	return us
}

// finish ends a task whose time is up, unless it already ended or its
// agent died.
func (a *agent) finish(t *task, now time.Time) {
	a.mu.Lock()
	if a.tasks[t.key] != t || t.terminal {
		a.mu.Unlock()
		return
	}
	out := a.callsLocked(a.statusLocked(t, mesos.TaskFinished, mesos.SourceExecutor, "", "Command exited with status 0", now), a.epoch.Load())
	a.mu.Unlock()
	a.f.out.add(out...)
}

// statusLocked records a task's new state and hands the update to the
// status update manager; it returns what to send now.
func (a *agent) statusLocked(t *task, state mesos.TaskState, source, reason, msg string, now time.Time) []agentapi.StatusUpdate {
	if t.terminal {
		return nil
	}
	t.state = state
	if state.Terminal() {
		t.terminal = true
		a.endLocked(t)
	}
	s := mesos.TaskStatus{TaskID: mesos.ID{Value: t.key.task}, State: state, Source: source, Reason: reason, Message: msg,
		AgentID: mesos.NewID(a.id), ExecutorID: mesos.NewID(t.executor.ExecutorID.Value), UUID: newUUID(),
		Timestamp: float64(now.UnixNano()) / 1e9}
	return a.updates.Add(agentapi.StatusUpdate{FrameworkID: mesos.ID{Value: t.key.framework}, Status: s}, now)
}

// endLocked takes a task out of the running count.
func (a *agent) endLocked(t *task) {
	if t.live {
		t.live = false
		a.f.stats.running.Add(-1)
	}
}

func (a *agent) callsLocked(us []agentapi.StatusUpdate, epoch uint64) []queued {
	out := make([]queued, len(us))
	for i := range us {
		out[i] = queued{a: a, epoch: epoch, call: agentapi.Call{Type: agentapi.CallStatusUpdate,
			AgentID: &mesos.ID{Value: a.id}, StatusUpdate: &us[i]}}
	}
	return out
}

// tick resends due updates and drops a stream whose master stopped
// sending PINGs.
func (a *agent) tick(now time.Time) {
	if a.mode.Load() != modeUp {
		return
	}
	a.mu.Lock()
	if !a.registered {
		a.mu.Unlock()
		return
	}
	if a.pingLimit > 0 && now.Sub(a.pingTime) > a.pingLimit+5*time.Second {
		a.mu.Unlock()
		a.f.log.Warn("no PING from the master in time; reconnecting", "agent", a.hostname)
		a.dropStream()
		return
	}
	due := a.updates.Due(now)
	a.f.stats.resends.Add(int64(len(due)))
	out := a.callsLocked(due, a.epoch.Load())
	a.mu.Unlock()
	a.f.out.add(out...)
}

func newUUID() []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return b
}
