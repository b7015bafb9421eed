package executor

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"meseta/core/mesos"
	"meseta/core/recordio"
)

// shutdownSlack is how long past the longest kill grace period the
// executor waits for terminal updates to be acknowledged (SHUTDOWN) or
// for processes to die (lost agent) before it exits regardless.
const shutdownSlack = 5 * time.Second

// phase is the executor's stage of life. It only moves forward:
// active → shuttingDown → abandoning, possibly skipping shuttingDown.
type phase int

const (
	// active: running tasks; done when every launched task has an
	// acknowledged terminal update.
	active phase = iota
	// shuttingDown: after SHUTDOWN or a signal; all tasks are being
	// killed; done when their terminal updates are acknowledged, or at
	// the deadline. Exit code 0.
	shuttingDown
	// abandoning: the agent is lost for good (no checkpointing, or the
	// recovery timeout passed); all tasks are being killed; done when
	// their processes have exited, or at the deadline. Exit code 1.
	abandoning
)

// connState is the state of the subscription.
type connState int

const (
	disconnected connState = iota
	subscribing            // SUBSCRIBE sent, SUBSCRIBED not yet seen
	subscribed
)

// task is one task the executor was asked to run.
//
// Invariants: exited implies a terminal update was made (state is
// terminal); terminalAcked implies exited; killTimer != nil only while
// killed && !exited.
type task struct {
	info  mesos.TaskInfo
	group int // LAUNCH_GROUP number (default mode); 0 in command mode
	pid   int // process (and process group) id; 0 if never started
	state mesos.TaskState

	exited        bool   // process reaped, or never started
	acked         bool   // some update of the task was acknowledged
	terminalUUID  string // uuid of the terminal update
	terminalAcked bool

	killed       bool // a kill was decided: the end is TASK_KILLED
	killDeadline time.Time
	killTimer    *time.Timer
}

// pendingUpdate is an update the agent has not acknowledged yet.
type pendingUpdate struct {
	uuid   string
	update mesos.Update
}

// Events the run loop reacts to. Every goroutine other than the loop
// reaches the state only by sending one of these.
type (
	evAgent struct { // an event read from connection gen
		gen uint64
		ev  mesos.ExecutorEvent
	}
	evStreamEnd struct { // connection gen failed or ended
		gen uint64
		err error
	}
	evExited struct { // a task's process was reaped
		t     *task
		state *os.ProcessState
		err   error
	}
	evEscalate        struct{ t *task } // a kill grace period ran out
	evRetry           struct{}          // time to SUBSCRIBE again
	evRecoveryTimeout struct{ epoch int }
	evDeadline        struct{ seq int }
)

// executor is the state machine of one executor process plus the
// goroutines that feed it. All fields below the line are owned by the run
// goroutine; other goroutines talk to it through events.
type executor struct {
	cfg    config
	log    *slog.Logger
	client *agentClient
	out    *outbox
	// Where command-mode tasks write; default-mode tasks get files.
	stdout, stderr *os.File
	baseEnv        []string

	events chan any
	done   chan struct{} // closed when the loop has returned
	bg     context.Context
	wg     sync.WaitGroup // connection and outbox goroutines

	// ---- owned by the run goroutine ----

	phase       phase
	deadline    *time.Timer
	deadlineSeq int // identifies the armed deadline's evDeadline

	gen         uint64 // generation of the latest connection attempt
	conn        connState
	cancelConn  context.CancelFunc
	inSubscribe map[string]bool // uuids the latest SUBSCRIBE carried
	attempts    int             // failed attempts since last subscribed
	lostSince   time.Time       // zero while subscribed
	epoch       int             // counts disconnections, for evRecoveryTimeout
	retryTimer  *time.Timer
	recovery    *time.Timer

	agentID   *mesos.ID
	framework mesos.FrameworkInfo

	tasks   map[string]*task
	order   []*task // launch order
	groups  int
	unacked []pendingUpdate // in the order they were made
}

func newExecutor(cfg config, log *slog.Logger, stdout, stderr *os.File) *executor {
	client := newAgentClient(cfg.agentEndpoint, cfg.authToken)
	return &executor{
		cfg:     cfg,
		log:     log,
		client:  client,
		out:     newOutbox(client, log),
		stdout:  stdout,
		stderr:  stderr,
		baseEnv: os.Environ(),
		events:  make(chan any),
		done:    make(chan struct{}),
		tasks:   make(map[string]*task),
	}
}

// post hands ev to the loop, or drops it once the loop has returned.
func (e *executor) post(ev any) {
	select {
	case e.events <- ev:
	case <-e.done:
	}
}

func (e *executor) after(d time.Duration, ev any) *time.Timer {
	return time.AfterFunc(d, func() { e.post(ev) })
}

// run drives the executor until it is done and returns the exit code.
// Cancelling ctx abandons the tasks (kills them) as a lost agent would;
// a value on signals shuts down as SHUTDOWN would.
func (e *executor) run(ctx context.Context, signals <-chan os.Signal) int {
	bg, cancel := context.WithCancel(context.Background())
	e.bg = bg
	e.wg.Go(func() { e.out.run(bg) })
	defer func() {
		close(e.done)
		cancel()
		for _, t := range []*time.Timer{e.deadline, e.retryTimer, e.recovery} {
			if t != nil {
				t.Stop()
			}
		}
		for _, t := range e.order {
			if t.killTimer != nil {
				t.killTimer.Stop()
			}
		}
		e.wg.Wait()
	}()

	e.log.Info("executor starting", "mode", e.cfg.mode, "agent", e.cfg.agentEndpoint,
		"sandbox", e.cfg.sandbox, "checkpoint", e.cfg.checkpoint)
	e.subscribe()
	cancelled := ctx.Done()
	deadlinePassed := false
	for {
		select {
		case ev := <-e.events:
			if d, ok := ev.(evDeadline); ok {
				deadlinePassed = d.seq == e.deadlineSeq
			} else {
				e.handle(ev)
			}
		case <-cancelled:
			cancelled = nil
			e.abandon("cancelled")
		case sig := <-signals:
			e.shutdown("received signal " + sig.String())
		}
		if deadlinePassed || e.finished() {
			break
		}
	}
	code := 0
	if e.phase == abandoning {
		code = 1
	}
	if deadlinePassed {
		e.log.Warn("giving up waiting", "phase", e.phase, "exit_code", code)
	}
	e.log.Info("executor exiting", "exit_code", code)
	return code
}

// finished reports whether the executor may exit.
func (e *executor) finished() bool {
	switch e.phase {
	case active:
		if len(e.order) == 0 {
			return false
		}
		fallthrough
	case shuttingDown:
		for _, t := range e.order {
			if !t.terminalAcked {
				return false
			}
		}
		return true
	default: // abandoning
		for _, t := range e.order {
			if !t.exited {
				return false
			}
		}
		return true
	}
}

func (e *executor) handle(ev any) {
	switch ev := ev.(type) {
	case evAgent:
		if ev.gen == e.gen && e.conn != disconnected {
			e.agentEvent(ev.ev)
		}
	case evStreamEnd:
		if ev.gen == e.gen && e.conn != disconnected {
			e.disconnected(ev.err)
		}
	case evExited:
		e.exited(ev.t, ev.state, ev.err)
	case evEscalate:
		if t := ev.t; !t.exited && t.killTimer != nil {
			t.killTimer = nil
			e.log.Info("grace period over; sending SIGKILL", "task_id", t.info.TaskID.Value)
			e.signal(t, syscall.SIGKILL)
		}
	case evRetry:
		e.retryTimer = nil
		if e.conn == disconnected && e.phase != abandoning {
			e.subscribe()
		}
	case evRecoveryTimeout:
		if ev.epoch == e.epoch && e.conn != subscribed {
			e.abandon(fmt.Sprintf("could not subscribe again within the recovery timeout (%v)", e.cfg.recoveryTimeout))
		}
	default:
		panic(fmt.Sprintf("executor: unknown event %T", ev))
	}
}

// ---- connection ----

// subscribe starts a new connection attempt carrying every update and
// task the agent has not acknowledged.
func (e *executor) subscribe() {
	e.gen++
	sub := &mesos.ExecutorSubscribe{}
	e.inSubscribe = make(map[string]bool, len(e.unacked))
	for _, u := range e.unacked {
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, u.update)
		e.inSubscribe[u.uuid] = true
	}
	for _, t := range e.order {
		if !t.acked {
			sub.UnacknowledgedTasks = append(sub.UnacknowledgedTasks, t.info)
		}
	}
	body, err := json.Marshal(e.call(mesos.ExecCallSubscribe, func(c *mesos.ExecutorCall) { c.Subscribe = sub }))
	if err != nil {
		panic(fmt.Sprintf("executor: encoding SUBSCRIBE: %v", err)) // plain structs: cannot fail
	}
	ctx, cancel := context.WithCancel(e.bg)
	e.cancelConn = cancel
	e.conn = subscribing
	gen := e.gen
	e.log.Info("subscribing", "attempt", e.attempts+1,
		"unacknowledged_updates", len(sub.UnacknowledgedUpdates), "unacknowledged_tasks", len(sub.UnacknowledgedTasks))
	e.wg.Go(func() { e.stream(ctx, gen, body) })
}

// stream runs one connection: SUBSCRIBE, then every event to the loop,
// then evStreamEnd.
func (e *executor) stream(ctx context.Context, gen uint64, body []byte) {
	rc, err := e.client.subscribe(ctx, body)
	if err != nil {
		e.post(evStreamEnd{gen, fmt.Errorf("SUBSCRIBE: %w", err)})
		return
	}
	defer rc.Close()
	rd := recordio.NewReader(rc, 0)
	for {
		rec, err := rd.Next()
		if err != nil {
			e.post(evStreamEnd{gen, fmt.Errorf("event stream: %w", err)})
			return
		}
		var ev mesos.ExecutorEvent
		if err := mesos.Decode(rec, &ev); err != nil {
			e.post(evStreamEnd{gen, fmt.Errorf("decoding event: %w", err)})
			return
		}
		e.post(evAgent{gen, ev})
	}
}

// closeConn forgets the current connection.
func (e *executor) closeConn() {
	if e.cancelConn != nil {
		e.cancelConn()
		e.cancelConn = nil
	}
	e.conn = disconnected
	e.out.live.Store(0)
}

func (e *executor) disconnected(err error) {
	e.closeConn()
	e.log.Warn("disconnected from agent", "err", err)
	if e.phase == abandoning {
		return
	}
	if !e.cfg.checkpoint {
		e.abandon("lost the agent and framework checkpointing is disabled")
		return
	}
	if e.lostSince.IsZero() {
		e.lostSince = time.Now()
		e.epoch++
		e.recovery = e.after(e.cfg.recoveryTimeout, evRecoveryTimeout{e.epoch})
	}
	d := e.backoff()
	e.attempts++
	e.log.Info("will subscribe again", "in", d, "recovery_timeout", e.cfg.recoveryTimeout)
	e.retryTimer = e.after(d, evRetry{})
}

// backoff is the wait before the next SUBSCRIBE: exponential from 100ms
// with jitter, never above MESOS_SUBSCRIPTION_BACKOFF_MAX.
func (e *executor) backoff() time.Duration {
	ceil := e.cfg.backoffMax
	if e.attempts < 16 {
		ceil = min(ceil, 100*time.Millisecond<<e.attempts)
	}
	return ceil/2 + mathrand.N(ceil/2+1)
}

func (e *executor) agentEvent(ev mesos.ExecutorEvent) {
	switch ev.Type {
	case mesos.ExecEventSubscribed:
		if ev.Subscribed == nil {
			e.disconnected(errors.New("SUBSCRIBED without a body"))
			return
		}
		e.subscribedEvent(ev.Subscribed)
	case mesos.ExecEventLaunch:
		if ev.Launch == nil {
			e.log.Error("ignoring LAUNCH without a body")
			return
		}
		if fi := ev.Launch.FrameworkInfo; fi != nil {
			e.framework = *fi
		}
		e.launch(ev.Launch.Task)
	case mesos.ExecEventLaunchGroup:
		if ev.LaunchGroup == nil {
			e.log.Error("ignoring LAUNCH_GROUP without a body")
			return
		}
		e.launchGroup(ev.LaunchGroup.TaskGroup.Tasks)
	case mesos.ExecEventKill:
		if ev.Kill == nil {
			e.log.Error("ignoring KILL without a body")
			return
		}
		e.killEvent(ev.Kill)
	case mesos.ExecEventAcknowledged:
		if ev.Acknowledged == nil {
			e.log.Error("ignoring ACKNOWLEDGED without a body")
			return
		}
		e.acknowledged(ev.Acknowledged)
	case mesos.ExecEventShutdown:
		e.shutdown("SHUTDOWN from the agent")
	case mesos.ExecEventMessage:
		n := 0
		if ev.Message != nil {
			n = len(ev.Message.Data)
		}
		e.log.Info("ignoring MESSAGE from the framework", "bytes", n)
	case mesos.ExecEventHeartbeat:
	case mesos.ExecEventError:
		msg := ""
		if ev.Error != nil {
			msg = ev.Error.Message
		}
		e.disconnected(fmt.Errorf("ERROR event: %s", msg))
	default:
		e.log.Warn("ignoring unknown event", "type", ev.Type)
	}
}

func (e *executor) subscribedEvent(s *mesos.ExecutorSubscribed) {
	e.conn = subscribed
	e.attempts = 0
	e.lostSince = time.Time{}
	if e.recovery != nil {
		e.recovery.Stop()
		e.recovery = nil
	}
	if s.AgentInfo.ID != nil {
		e.agentID = s.AgentInfo.ID
	}
	e.framework = s.FrameworkInfo
	e.out.live.Store(e.gen)
	e.log.Info("subscribed", "agent_id", e.agentID.Val(), "agent_host", s.AgentInfo.Hostname)
	// Updates made since the SUBSCRIBE went out are sent now.
	for _, u := range e.unacked {
		if !e.inSubscribe[u.uuid] {
			e.send(u.update)
		}
	}
}

// ---- tasks ----

// launch handles LAUNCH: the command executor runs exactly one task.
func (e *executor) launch(info mesos.TaskInfo) {
	if e.cfg.mode != ModeCommand {
		e.reject(info, "LAUNCH is not supported by the default executor; use LAUNCH_GROUP", mesos.ReasonTaskInvalid)
		return
	}
	if len(e.order) > 0 {
		e.reject(info, `Attempted to run multiple tasks using a "command" executor`, mesos.ReasonCommandExecutorFailed)
		return
	}
	t := e.addTask(info, 0)
	if t == nil {
		return
	}
	e.update(t, mesos.TaskStarting, "", "")
	e.start(t, launchSpec{dir: e.cfg.sandbox, env: taskEnv(e.baseEnv, &t.info), stdout: e.stdout, stderr: e.stderr})
}

// launchGroup handles LAUNCH_GROUP: every task of the group starts; if
// one cannot, the others are killed.
func (e *executor) launchGroup(infos []mesos.TaskInfo) {
	if e.cfg.mode != ModeDefault {
		for _, info := range infos {
			e.reject(info, "LAUNCH_GROUP is not supported by the command executor", mesos.ReasonTaskInvalid)
		}
		return
	}
	e.groups++
	var group []*task
	for _, info := range infos {
		if t := e.addTask(info, e.groups); t != nil {
			group = append(group, t)
			e.update(t, mesos.TaskStarting, "", "")
		}
	}
	e.log.Info("launching task group", "group", e.groups, "tasks", len(group))
	for _, t := range group {
		if t.killed {
			continue // a sibling failed to start
		}
		id := t.info.TaskID.Value
		if err := checkTaskID(id); err != nil {
			e.failStart(t, err)
			continue
		}
		dir := filepath.Join(e.cfg.sandbox, "tasks", id)
		stdout, stderr, err := openTaskDir(dir)
		if err != nil {
			e.failStart(t, err)
			continue
		}
		env := taskEnv(e.baseEnv, &t.info, EnvSandbox+"="+dir)
		e.start(t, launchSpec{dir: dir, env: env, stdout: stdout, stderr: stderr})
		stdout.Close()
		stderr.Close()
	}
	// Tasks that never started (a sibling failed first) end here.
	for _, t := range group {
		if !t.exited && t.pid == 0 {
			t.exited = true
			e.update(t, mesos.TaskKilled, "Task group member failed to launch", "")
		}
	}
}

// addTask records a new task, or returns nil for a duplicate or when the
// executor is no longer taking tasks.
func (e *executor) addTask(info mesos.TaskInfo, group int) *task {
	id := info.TaskID.Value
	if e.phase != active {
		e.log.Warn("ignoring launch: executor is shutting down", "task_id", id)
		return nil
	}
	if _, dup := e.tasks[id]; dup {
		e.log.Error("ignoring launch of a task id already launched", "task_id", id)
		return nil
	}
	t := &task{info: info, group: group, state: mesos.TaskStaging}
	e.tasks[id] = t
	e.order = append(e.order, t)
	return t
}

// reject ends a task that cannot be taken with TASK_FAILED.
func (e *executor) reject(info mesos.TaskInfo, msg, reason string) {
	if t := e.addTask(info, 0); t != nil {
		e.log.Error("rejecting task", "task_id", info.TaskID.Value, "reason", msg)
		t.exited = true
		e.update(t, mesos.TaskFailed, msg, reason)
	}
}

func (e *executor) failStart(t *task, err error) {
	e.log.Error("task failed to start", "task_id", t.info.TaskID.Value, "err", err)
	t.exited = true
	e.update(t, mesos.TaskFailed, fmt.Sprintf("Failed to launch task: %v", err), mesos.ReasonCommandExecutorFailed)
	e.groupPolicy(t)
}

// start starts t's process and, on success, reports TASK_RUNNING.
func (e *executor) start(t *task, spec launchSpec) {
	cmd, err := buildCommand(t.info.Command, spec)
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		e.failStart(t, err)
		return
	}
	t.pid = cmd.Process.Pid
	e.log.Info("task started", "task_id", t.info.TaskID.Value, "pid", t.pid, "dir", spec.dir)
	e.update(t, mesos.TaskRunning, "", "")
	// The waiter is not in e.wg: an unkillable process may outlive run.
	go func() {
		err := cmd.Wait()
		// The task is over: whatever it left in its process group goes
		// too (Mesos destroys the container for the same effect).
		_ = signalGroup(cmd.Process.Pid, syscall.SIGKILL)
		e.post(evExited{t: t, state: cmd.ProcessState, err: err})
	}()
}

func (e *executor) exited(t *task, ps *os.ProcessState, waitErr error) {
	t.exited = true
	if t.killTimer != nil {
		t.killTimer.Stop()
		t.killTimer = nil
	}
	out := describeExit(ps, waitErr)
	state := mesos.TaskFailed
	switch {
	case t.killed:
		state = mesos.TaskKilled
	case out.success:
		state = mesos.TaskFinished
	}
	e.log.Info("task process exited", "task_id", t.info.TaskID.Value, "state", state, "message", out.message)
	e.update(t, state, out.message, "")
	e.groupPolicy(t)
}

// groupPolicy applies the default executor's rule: when a task of a
// group fails or is killed, the rest of its group is killed.
func (e *executor) groupPolicy(t *task) {
	if e.cfg.mode != ModeDefault || (t.state != mesos.TaskFailed && t.state != mesos.TaskKilled) {
		return
	}
	for _, o := range e.order {
		if o != t && o.group == t.group && !o.exited && !o.killed {
			e.log.Info("killing task group member", "task_id", o.info.TaskID.Value, "because", t.info.TaskID.Value, "state", t.state)
			if o.pid == 0 {
				o.killed = true // not started yet; launchGroup ends it
				continue
			}
			e.kill(o, e.gracePeriod(nil, o))
		}
	}
}

func (e *executor) killEvent(k *mesos.ExecutorKill) {
	id := k.TaskID.Value
	t := e.tasks[id]
	switch {
	case t == nil:
		e.log.Warn("ignoring KILL for an unknown task", "task_id", id)
	case t.exited:
		e.log.Info("ignoring KILL for a task that already ended", "task_id", id, "state", t.state)
	default:
		e.log.Info("KILL", "task_id", id)
		e.kill(t, e.gracePeriod(k.KillPolicy, t))
	}
}

// gracePeriod picks the time between SIGTERM and SIGKILL: the KILL
// event's kill policy, else the task's, else the executor's shutdown
// grace period.
func (e *executor) gracePeriod(kp *mesos.KillPolicy, t *task) time.Duration {
	for _, p := range []*mesos.KillPolicy{kp, t.info.KillPolicy} {
		if p != nil && p.GracePeriod != nil && p.GracePeriod.Nanoseconds >= 0 {
			return time.Duration(p.GracePeriod.Nanoseconds)
		}
	}
	return e.cfg.shutdownGrace
}

// kill starts (or hastens) killing t: TASK_KILLING if the framework
// understands it, SIGTERM to the process group, SIGKILL after grace.
func (e *executor) kill(t *task, grace time.Duration) {
	if t.exited {
		return
	}
	deadline := time.Now().Add(grace)
	if t.killed {
		// Already being killed: a shorter grace period wins.
		if t.killTimer != nil && deadline.Before(t.killDeadline) {
			t.killTimer.Stop()
			t.killDeadline = deadline
			t.killTimer = e.after(grace, evEscalate{t})
		}
		return
	}
	t.killed = true
	t.killDeadline = deadline
	if e.framework.HasCapability(mesos.CapTaskKillingState) {
		e.update(t, mesos.TaskKilling, "", "")
	}
	e.log.Info("sending SIGTERM", "task_id", t.info.TaskID.Value, "pid", t.pid, "grace_period", grace)
	e.signal(t, syscall.SIGTERM)
	t.killTimer = e.after(grace, evEscalate{t})
}

func (e *executor) signal(t *task, sig syscall.Signal) {
	if err := signalGroup(t.pid, sig); err != nil {
		e.log.Error("signalling task", "task_id", t.info.TaskID.Value, "signal", sig, "err", err)
	}
}

// killAll kills every live task with its grace period capped at the
// executor's shutdown grace period (the agent destroys the executor after
// that anyway) and arms the deadline to exit regardless.
func (e *executor) killAll() {
	longest := time.Duration(0)
	for _, t := range e.order {
		if t.exited {
			continue
		}
		g := min(e.gracePeriod(nil, t), e.cfg.shutdownGrace)
		longest = max(longest, g)
		e.kill(t, g)
	}
	if e.deadline != nil {
		e.deadline.Stop()
	}
	e.deadlineSeq++
	e.deadline = e.after(longest+shutdownSlack, evDeadline{e.deadlineSeq})
}

func (e *executor) shutdown(why string) {
	if e.phase != active {
		return
	}
	e.log.Info("shutting down", "why", why)
	e.phase = shuttingDown
	e.killAll()
}

// abandon gives up on the agent: kill everything, exit 1 once the
// processes are gone.
func (e *executor) abandon(why string) {
	if e.phase == abandoning {
		return
	}
	e.log.Error("abandoning tasks", "why", why)
	e.phase = abandoning
	e.closeConn()
	for _, tm := range []**time.Timer{&e.retryTimer, &e.recovery} {
		if *tm != nil {
			(*tm).Stop()
			*tm = nil
		}
	}
	e.killAll()
}

// ---- updates ----

func (e *executor) call(typ string, fill func(*mesos.ExecutorCall)) *mesos.ExecutorCall {
	c := &mesos.ExecutorCall{
		ExecutorID:  mesos.ID{Value: e.cfg.executorID},
		FrameworkID: mesos.ID{Value: e.cfg.frameworkID},
		Type:        typ,
	}
	fill(c)
	return c
}

// update records a new status of t as unacknowledged and sends it if
// subscribed.
func (e *executor) update(t *task, state mesos.TaskState, msg, reason string) {
	uuid := newUUID()
	agentID := e.agentID
	if agentID == nil && t.info.AgentID.Value != "" {
		agentID = &mesos.ID{Value: t.info.AgentID.Value}
	}
	now := time.Now()
	u := mesos.Update{Status: mesos.TaskStatus{
		TaskID:     t.info.TaskID,
		State:      state,
		Message:    msg,
		Source:     mesos.SourceExecutor,
		Reason:     reason,
		AgentID:    agentID,
		ExecutorID: &mesos.ID{Value: e.cfg.executorID},
		Timestamp:  float64(now.UnixNano()) / 1e9,
		UUID:       uuid,
	}}
	t.state = state
	if state.Terminal() {
		t.terminalUUID = string(uuid)
	}
	e.unacked = append(e.unacked, pendingUpdate{uuid: string(uuid), update: u})
	e.log.Info("status update", "task_id", t.info.TaskID.Value, "state", state, "message", msg)
	if e.conn == subscribed {
		e.send(u)
	}
}

func (e *executor) send(u mesos.Update) {
	body, err := json.Marshal(e.call(mesos.ExecCallUpdate, func(c *mesos.ExecutorCall) { c.Update = &u }))
	if err != nil {
		panic(fmt.Sprintf("executor: encoding UPDATE: %v", err))
	}
	e.out.push(outCall{
		gen:  e.gen,
		what: fmt.Sprintf("UPDATE %s for task %s", u.Status.State, u.Status.TaskID.Value),
		body: body,
	})
}

func (e *executor) acknowledged(a *mesos.Acknowledged) {
	uuid := string(a.UUID)
	i := -1
	for j, u := range e.unacked {
		if u.uuid == uuid {
			i = j
			break
		}
	}
	if i < 0 {
		e.log.Warn("ignoring ACKNOWLEDGED for an unknown update", "task_id", a.TaskID.Value)
		return
	}
	t := e.tasks[e.unacked[i].update.Status.TaskID.Value]
	e.unacked = append(e.unacked[:i], e.unacked[i+1:]...)
	t.acked = true
	if uuid == t.terminalUUID {
		t.terminalAcked = true
	}
}

// newUUID returns a random (version 4) UUID's 16 bytes.
func newUUID() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("executor: reading random bytes: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}
