package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"meseta/core"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// Kind is a framework's behaviour.
type Kind int

const (
	Greedy Kind = iota
	Service
	Picky
	Bursty
)

func (k Kind) String() string {
	switch k {
	case Greedy:
		return "greedy"
	case Service:
		return "service"
	case Picky:
		return "picky"
	case Bursty:
		return "bursty"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// DurationLabel is the task label holding the task's duration in seconds,
// as a decimal string, for loadgen/simagent.
const DurationLabel = "meseta.duration"

// Config describes one framework.
type Config struct {
	Kind Kind
	Name string // framework name and task id prefix (required)
	Role string // default "*"
	User string // default "root"

	// The task shape: resources per task, and each task's duration
	// (nil: 1 s).
	CPUs, Mem float64
	Duration  func() time.Duration

	// Total: Greedy and Picky launch this many tasks in all (Greedy: 0 is
	// no limit), plus what Submit adds; Bursty launches at most this many
	// per flood (0: no limit).
	Total int
	// Rate bounds Greedy's and Bursty's launches a second (0: none).
	Rate float64
	// Instances is how many tasks a Service keeps running.
	Instances int
	// Match says which offers Picky accepts (required for Picky).
	Match func(*mesos.Offer) bool
	// Idle and Flood are Bursty's phase lengths.
	Idle, Flood time.Duration

	// RefuseSeconds is the DECLINE filter (default 5).
	RefuseSeconds float64
	// FailoverTimeout is FrameworkInfo.failover_timeout (default 1 min).
	FailoverTimeout time.Duration
}

// Sentinel errors.
var (
	ErrConfig  = errors.New("synth: bad config")
	errStopped = errors.New("synth: framework stopped")
)

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Framework is one running synthetic scheduler.
type Framework struct {
	g      *Group
	cfg    Config
	res    core.Resources
	cancel context.CancelFunc
	submit chan int
	// teardown asks the loop to send TEARDOWN on its stream (the
	// master wants the stream id) and to stop.
	teardown chan chan error
	done     chan struct{}
	err      error // set before done is closed
	// draining is set by Drain: the framework launches nothing more.
	draining atomic.Bool
	// wanted is wants() as the event loop last computed it (at the end
	// of each event it handles), for Demand; math.MaxInt is no limit.
	wanted atomic.Int64

	// The fields below are the event loop's own.
	info      mesos.FrameworkInfo
	id        string
	master    string
	streamID  string
	enc       encoder
	buf       []byte
	seq       int
	launched  int // tasks launched in all
	active    int // launched, no terminal update yet
	queued    int // Total plus Submit: Greedy's and Picky's budget
	suppress  bool
	flood     bool
	phaseEnd  time.Time
	phaseLeft int // launches left in this flood; -1: no limit
	tokens    float64
	lastToken time.Time

	// mu guards stats and tasks: written by the event loop, read by
	// anyone.
	mu           sync.Mutex
	subscribedAt time.Time // the latest SUBSCRIBED; guarded by mu
	stats        Stats
	progress     Progress
	tasks        map[string]*Task
}

func newFramework(g *Group, cfg Config) (*Framework, error) {
	switch {
	case cfg.Name == "":
		return nil, fmt.Errorf("%w: no name", ErrConfig)
	case cfg.CPUs <= 0 && cfg.Mem <= 0:
		return nil, fmt.Errorf("%w: %s: task shape has no cpus or mem", ErrConfig, cfg.Name)
	case cfg.Kind == Picky && cfg.Match == nil:
		return nil, fmt.Errorf("%w: %s: picky framework without Match", ErrConfig, cfg.Name)
	case cfg.Kind == Bursty && (cfg.Idle <= 0 || cfg.Flood <= 0):
		return nil, fmt.Errorf("%w: %s: bursty framework needs Idle and Flood", ErrConfig, cfg.Name)
	case cfg.Kind == Service && cfg.Instances <= 0:
		return nil, fmt.Errorf("%w: %s: service without Instances", ErrConfig, cfg.Name)
	}
	if cfg.Role == "" {
		cfg.Role = "*"
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	if cfg.Duration == nil {
		cfg.Duration = func() time.Duration { return time.Second }
	}
	if cfg.RefuseSeconds <= 0 {
		cfg.RefuseSeconds = 5
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = time.Minute
	}
	f := &Framework{
		g: g, cfg: cfg, res: cfg.TaskResources(),
		submit:   make(chan int, 16),
		teardown: make(chan chan error),
		done:     make(chan struct{}),
		tasks:    map[string]*Task{},
		info: mesos.FrameworkInfo{
			User: cfg.User, Name: cfg.Name, FailoverTimeout: cfg.FailoverTimeout.Seconds(),
		},
		queued:    cfg.Total,
		phaseLeft: -1,
	}
	f.wanted.Store(int64(f.asks()))
	if cfg.Role != "*" {
		f.info.Roles = []string{cfg.Role}
		f.info.Capabilities = []mesos.Capability{{Type: mesos.CapMultiRole}}
	}
	return f, nil
}

// Config returns the framework's configuration (with defaults filled).
func (f *Framework) Config() Config { return f.cfg }

// Submit gives a Greedy or Picky framework n more tasks to launch.
func (f *Framework) Submit(n int) {
	select {
	case f.submit <- n:
	case <-f.done:
	}
}

// Drain stops the framework launching tasks (a Service relaunches
// nothing either); it stays subscribed, declines offers and acknowledges
// updates, so the tasks it has launched can finish. Picky and Bursty
// frameworks SUPPRESS at their next event.
func (f *Framework) Drain() { f.draining.Store(true) }

// Done is closed when the framework has stopped.
func (f *Framework) Done() <-chan struct{} { return f.done }

// Err returns why the framework stopped: the master's ERROR message, or
// nil after Stop, Teardown or the end of its context.
func (f *Framework) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Stop drops the framework's stream and waits for it to stop; the master
// keeps the framework for its failover timeout.
func (f *Framework) Stop() {
	f.cancel()
	<-f.done
}

// Teardown sends TEARDOWN on the framework's stream (the master kills its
// tasks and forgets it) and stops the framework. When the framework is
// not subscribed, it only stops it.
func (f *Framework) Teardown() error {
	reply := make(chan error, 1)
	select {
	case f.teardown <- reply:
		select {
		case err := <-reply:
			f.Stop()
			return err
		case <-f.done:
		}
	case <-f.done:
	}
	f.Stop()
	return nil
}

// ID returns the framework id, "" before the first SUBSCRIBED.
func (f *Framework) ID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats.frameworkID
}

// Stats returns a copy of the framework's stats.
func (f *Framework) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats.clone(true)
}

// Counters returns a copy of the framework's stats without Latencies:
// cheap enough to read every second.
func (f *Framework) Counters() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats.clone(false)
}

// Progress returns the framework's task counts.
func (f *Framework) Progress() Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.progress
}

// Tasks returns a copy of the framework's task records.
func (f *Framework) Tasks() []Task {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Task, 0, len(f.tasks))
	for _, t := range f.tasks {
		c := *t
		c.seen = nil
		out = append(out, c)
	}
	return out
}

// Lost returns how many launched tasks have had no terminal update.
// Call it at the end of a run: before, running tasks count too.
func (f *Framework) Lost() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.progress.Launched - f.progress.Ended)
}

// Running returns how many tasks are TASK_RUNNING now (latest state).
func (f *Framework) Running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.progress.Running)
}

// Demand returns how many tasks the framework would have running if the
// master gave it everything it asks for now: its tasks launched and not
// ended, plus what it would launch (at most a full token bucket, Rate
// tasks, when it is rate-limited). Greedy and
// Picky: what is left of their budget; Service: Instances; Bursty: what
// its flood still wants, nothing more when idle; after Drain, nothing
// more. math.MaxInt means no limit (Greedy without a Total, Bursty
// without a per-flood Total). Cheap and safe to call from any goroutine;
// it is as fresh as the event loop's last event.
func (f *Framework) Demand() int {
	f.mu.Lock()
	running := int(f.progress.Launched - f.progress.Ended)
	f.mu.Unlock()
	if f.draining.Load() {
		return running
	}
	w := int(f.wanted.Load())
	if w > math.MaxInt-running {
		return math.MaxInt
	}
	return running + w
}

// run subscribes and re-subscribes, with backoff, until ctx ends or the
// master sends ERROR.
func (f *Framework) run(ctx context.Context) {
	defer close(f.done)
	now := time.Now()
	f.lastToken = now
	if f.cfg.Kind == Bursty {
		f.startPhase(now, true)
	}
	f.wanted.Store(int64(f.asks()))
	backoff := minBackoff
	for {
		subscribed, err := f.session(ctx)
		if ctx.Err() != nil {
			return
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			f.err = fatal
			return
		}
		if subscribed {
			backoff = minBackoff
		}
		if errors.Is(err, errRedirected) || errors.Is(err, errMasterChanged) {
			continue
		}
		_, changed := f.g.current()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, maxBackoff)
	}
}

type fatalError struct{ msg string }

func (e *fatalError) Error() string { return "synth: master sent ERROR: " + e.msg }

var errMasterChanged = errors.New("synth: master changed")

type streamItem struct {
	ev  *mesos.Event
	err error
}

// session subscribes once and handles events until the stream ends. It
// reports whether SUBSCRIBED arrived.
func (f *Framework) session(ctx context.Context) (bool, error) {
	master, changed := f.g.current()
	f.master = master
	call := &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: f.info}}
	if f.id != "" {
		call.FrameworkID = &mesos.ID{Value: f.id}
		call.Subscribe.FrameworkInfo.ID = &mesos.ID{Value: f.id}
	}
	body, _ := json.Marshal(call)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, "POST", "http://"+master+schedulerPath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := f.g.stream.Do(req)
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusTemporaryRedirect:
		resp.Body.Close()
		to, err := redirectTarget(resp.Header.Get("Location"))
		if err != nil {
			return false, err
		}
		f.g.redirect(master, to)
		f.count(func(s *Stats) { s.Redirects++ })
		return false, errRedirected
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return false, fmt.Errorf("synth: subscribe to %s: %s: %s", master, resp.Status, b)
	}
	f.streamID = resp.Header.Get("Mesos-Stream-Id")
	acks := f.startAcks(sctx, master, f.streamID)
	defer acks.stop()
	items := make(chan streamItem, 64)
	go func() {
		defer resp.Body.Close()
		rd := recordio.NewReader(resp.Body, 0)
		for {
			rec, err := rd.Next()
			var it streamItem
			if err == nil {
				it.ev = new(mesos.Event)
				if err = mesos.DecodeEvent(rec, it.ev); err != nil {
					err = fmt.Errorf("synth: bad event: %w", err)
				}
			}
			it.err = err
			select {
			case items <- it:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	subscribed := false
	heartbeat := 15 * time.Second // until SUBSCRIBED says
	wake := time.NewTimer(f.nextWake(time.Now(), heartbeat))
	defer wake.Stop()
	lastEvent := time.Now()
	for {
		select {
		case <-ctx.Done():
			return subscribed, ctx.Err()
		case <-changed:
			return subscribed, errMasterChanged
		case <-acks.redirected:
			return subscribed, errRedirected
		case reply := <-f.teardown:
			if !subscribed {
				reply <- nil // not subscribed: nothing to tear down here
				continue
			}
			err := f.callJSON(&mesos.Call{Type: mesos.CallTeardown})
			reply <- err
			if err == nil {
				<-ctx.Done() // Teardown stops us next
				return subscribed, ctx.Err()
			}
		case n := <-f.submit:
			f.queued += n
			if subscribed {
				f.adjustSuppression()
			}
		case it := <-items:
			if it.err != nil {
				return subscribed, it.err
			}
			lastEvent = time.Now()
			ev := it.ev
			switch ev.Type {
			case mesos.EventSubscribed:
				subscribed = true
				f.subscribed(ev.Subscribed)
				if s := ev.Subscribed.HeartbeatIntervalSeconds; s > 0 {
					heartbeat = time.Duration(s * float64(time.Second))
				}
			case mesos.EventError:
				msg := ""
				if ev.Error != nil {
					msg = ev.Error.Message
				}
				return subscribed, &fatalError{msg}
			case mesos.EventHeartbeat:
				f.count(func(s *Stats) { s.Heartbeats++ })
			case mesos.EventOffers:
				if subscribed && ev.Offers != nil {
					if err := f.offers(ev.Offers.Offers); errors.Is(err, errRedirected) {
						return subscribed, err
					}
				}
			case mesos.EventRescind:
				f.count(func(s *Stats) { s.OffersRescinded++ })
			case mesos.EventUpdate:
				if subscribed && ev.Update != nil {
					f.update(&ev.Update.Status, acks)
				}
			}
		case <-wake.C:
		}
		now := time.Now()
		if now.Sub(lastEvent) > 3*heartbeat {
			return subscribed, fmt.Errorf("synth: no event from %s for %v", master, now.Sub(lastEvent))
		}
		if subscribed && f.cfg.Kind == Bursty && !now.Before(f.phaseEnd) {
			f.startPhase(now, !f.flood)
			f.adjustSuppression()
		}
		f.wanted.Store(int64(f.asks()))
		if !wake.Stop() {
			select {
			case <-wake.C:
			default:
			}
		}
		wake.Reset(min(f.nextWake(now, heartbeat), lastEvent.Add(3*heartbeat+time.Millisecond).Sub(now)))
	}
}

// nextWake is how long the loop may sleep without missing a phase change.
func (f *Framework) nextWake(now time.Time, heartbeat time.Duration) time.Duration {
	d := 3 * heartbeat
	if f.cfg.Kind == Bursty {
		d = min(d, max(f.phaseEnd.Sub(now), time.Millisecond))
	}
	return d
}

func (f *Framework) startPhase(now time.Time, flood bool) {
	f.flood = flood
	if flood {
		f.phaseEnd = now.Add(f.cfg.Flood)
		f.phaseLeft = -1
		if f.cfg.Total > 0 {
			f.phaseLeft = f.cfg.Total
		}
	} else {
		f.phaseEnd = now.Add(f.cfg.Idle)
	}
}

func (f *Framework) count(fn func(*Stats)) {
	f.mu.Lock()
	fn(&f.stats)
	f.mu.Unlock()
}

func (f *Framework) subscribed(s *mesos.Subscribed) {
	f.id = s.FrameworkID.Value
	f.enc = newEncoder(f.id)
	f.suppress = false // a SUBSCRIBE without suppressed_roles revives
	f.mu.Lock()
	f.stats.Subscribes++
	f.subscribedAt = time.Now()
	f.stats.frameworkID = f.id
	f.mu.Unlock()
	f.adjustSuppression()
}

// wants returns how many tasks the framework would launch now, ignoring
// the rate limit; math.MaxInt means no limit.
func (f *Framework) wants() int {
	if f.draining.Load() {
		return 0
	}
	switch f.cfg.Kind {
	case Greedy:
		if f.cfg.Total <= 0 && f.queued <= 0 {
			return math.MaxInt
		}
		return max(f.queued-f.launched, 0)
	case Service:
		return max(f.cfg.Instances-f.active, 0)
	case Picky:
		return max(f.queued-f.launched, 0)
	case Bursty:
		if !f.flood {
			return 0
		}
		if f.phaseLeft < 0 {
			return math.MaxInt
		}
		return f.phaseLeft
	}
	return 0
}

// asks is what the framework asks the master for now, for Demand: wants,
// and for a rate-limited kind no more than its token bucket holds (it
// cannot launch more at once, so a DRF share beyond that would not be
// its to take).
func (f *Framework) asks() int {
	w := f.wants()
	if f.cfg.Rate > 0 && (f.cfg.Kind == Greedy || f.cfg.Kind == Bursty) {
		w = min(w, int(math.Ceil(max(f.cfg.Rate, 1))))
	}
	return w
}

// budget is wants bounded by the rate limit's tokens.
func (f *Framework) budget(now time.Time) int {
	n := f.wants()
	if f.cfg.Rate > 0 && (f.cfg.Kind == Greedy || f.cfg.Kind == Bursty) {
		f.tokens = min(f.tokens+now.Sub(f.lastToken).Seconds()*f.cfg.Rate, max(f.cfg.Rate, 1))
		f.lastToken = now
		n = min(n, int(f.tokens))
	}
	return n
}

// adjustSuppression SUPPRESSes a Picky or Bursty framework with nothing
// to run and REVIVEs it when it has something.
func (f *Framework) adjustSuppression() {
	if f.cfg.Kind != Picky && f.cfg.Kind != Bursty {
		return
	}
	want := f.wants() > 0
	switch {
	case want && f.suppress:
		f.revive()
	case !want && !f.suppress:
		if f.callJSON(&mesos.Call{Type: mesos.CallSuppress, Suppress: &mesos.RoleList{Roles: []string{f.cfg.Role}}}) == nil {
			f.suppress = true
			f.count(func(s *Stats) { s.Suppresses++ })
		}
	}
}

func (f *Framework) revive() {
	if f.callJSON(&mesos.Call{Type: mesos.CallRevive, Revive: &mesos.RoleList{Roles: []string{f.cfg.Role}}}) == nil {
		f.suppress = false
		f.count(func(s *Stats) { s.Revives++ })
	}
}

func (f *Framework) callJSON(c *mesos.Call) error {
	c.FrameworkID = &mesos.ID{Value: f.id}
	body, _ := json.Marshal(c)
	return f.call(body)
}

func (f *Framework) call(body []byte) error {
	err := f.g.post(f.master, f.streamID, body)
	if err != nil {
		f.count(func(s *Stats) { s.callError(err) })
	}
	return err
}

// offers answers one OFFERS event: launches what fits and is wanted,
// declines the rest in one call.
func (f *Framework) offers(offers []mesos.Offer) error {
	now := time.Now()
	f.count(func(s *Stats) { s.OffersReceived += int64(len(offers)) })
	var declined []mesos.ID
	var firstErr error
	for i := range offers {
		o := &offers[i]
		n := f.budget(now)
		if n > 0 && f.cfg.Kind == Picky && !f.cfg.Match(o) {
			n = 0
		}
		if n > 0 {
			n = min(n, f.fits(o))
		}
		if n == 0 {
			declined = append(declined, o.ID)
			continue
		}
		if err := f.launch(o, n); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if len(declined) > 0 {
		f.buf = f.enc.appendDecline(f.buf[:0], declined, f.cfg.RefuseSeconds)
		if err := f.call(f.buf); err != nil {
			if firstErr == nil {
				firstErr = err
			}
		} else {
			f.count(func(s *Stats) { s.OffersDeclined += int64(len(declined)) })
		}
	}
	f.adjustSuppression()
	return firstErr
}

// fits returns how many tasks of the shape fit in o.
func (f *Framework) fits(o *mesos.Offer) int { return f.cfg.Fit(o.Resources.Resources) }

// Fit returns how many tasks of the config's shape fit in r.
func (c Config) Fit(r core.Resources) int {
	n := math.MaxInt
	if c.CPUs > 0 {
		n = min(n, int(r.ScalarValue("cpus").Float()/c.CPUs+1e-9))
	}
	if c.Mem > 0 {
		n = min(n, int(r.ScalarValue("mem").Float()/c.Mem+1e-9))
	}
	return n
}

// TaskResources returns one task's resources: the config's cpus and mem.
func (c Config) TaskResources() core.Resources {
	var rs core.Resources
	if c.CPUs > 0 {
		rs = append(rs, core.MustParseResources("cpus:"+strconv.FormatFloat(c.CPUs, 'f', -1, 64))...)
	}
	if c.Mem > 0 {
		rs = append(rs, core.MustParseResources("mem:"+strconv.FormatFloat(c.Mem, 'f', -1, 64))...)
	}
	return rs
}

func (f *Framework) launch(o *mesos.Offer, n int) error {
	tasks := make([]mesos.TaskInfo, n)
	for i := range tasks {
		f.seq++
		id := f.cfg.Name + "-" + strconv.Itoa(f.seq)
		secs := strconv.FormatFloat(f.cfg.Duration().Seconds(), 'f', -1, 64)
		tasks[i] = mesos.TaskInfo{
			Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID,
			Resources: f.res,
			Command:   &mesos.CommandInfo{Value: "sleep " + secs},
			Labels:    &mesos.Labels{Labels: []mesos.Label{{Key: DurationLabel, Value: secs}}},
		}
	}
	zero := 0.0
	c := &mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{
		OfferIDs:   []mesos.ID{o.ID},
		Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}},
		// The unused rest of the offer comes back at the next allocation.
		Filters: &mesos.Filters{RefuseSeconds: &zero},
	}}
	submitted := time.Now()
	var err error
	if body, ok := f.enc.appendAccept(f.buf[:0], o.ID.Value, tasks); ok {
		f.buf = body
		err = f.call(body)
	} else {
		err = f.callJSON(c)
	}
	if err != nil {
		return err
	}
	f.launched += n
	f.active += n
	if f.cfg.Kind == Bursty && f.phaseLeft > 0 {
		f.phaseLeft = max(f.phaseLeft-n, 0)
	}
	if f.cfg.Rate > 0 {
		f.tokens -= float64(n)
	}
	f.mu.Lock()
	f.stats.OffersAccepted++
	f.stats.TasksLaunched += int64(n)
	f.progress.Launched += int64(n)
	for i := range tasks {
		f.tasks[tasks[i].TaskID.Value] = &Task{ID: tasks[i].TaskID.Value, AgentID: o.AgentID.Value,
			Submitted: submitted, State: mesos.TaskStaging}
	}
	f.mu.Unlock()
	return nil
}

// update records a status update and, when it has a uuid, queues its
// acknowledgement.
func (f *Framework) update(s *mesos.TaskStatus, acks *ackQueue) {
	now := time.Now()
	ended, started := false, false
	f.mu.Lock()
	if f.stats.Updates == nil {
		f.stats.Updates = map[mesos.TaskState]int64{}
	}
	f.stats.Updates[s.State]++
	if s.State == mesos.TaskLost || s.State == mesos.TaskDropped || s.State == mesos.TaskError {
		if f.stats.Why == nil {
			f.stats.Why = map[mesos.TaskState]string{}
			f.stats.LostReasons = map[string]int64{}
		}
		if _, ok := f.stats.Why[s.State]; !ok {
			f.stats.Why[s.State] = s.Reason + ": " + s.Message
		}
		if s.State != mesos.TaskError {
			f.stats.LostReasons[s.Reason]++
		}
	}
	if t := f.tasks[s.TaskID.Value]; t != nil {
		dup := false
		if len(s.UUID) > 0 {
			sub := f.stats.Subscribes
			for i := range t.seen {
				if k := &t.seen[i]; k.state == s.State && k.uuid == string(s.UUID) {
					dup = true
					if k.sub == sub {
						f.stats.Duplicates++
						if len(f.stats.DuplicateSamples) < maxSamples {
							f.stats.DuplicateSamples = append(f.stats.DuplicateSamples, fmt.Sprintf(
								"framework %s task %s %s uuid %x on subscription %d (subscribed %s before), agent %s, %s after it was launched, %s after the first copy",
								f.id, s.TaskID.Value, s.State, s.UUID, sub, now.Sub(f.subscribedAt).Round(time.Millisecond),
								s.AgentID.Val(), now.Sub(t.Submitted).Round(time.Millisecond), now.Sub(k.at).Round(time.Millisecond)))
						}
					} else {
						f.stats.Redelivered++
						k.sub = sub
					}
					k.at = now
					break
				}
			}
			if !dup {
				t.seen = append(t.seen, stateUUID{s.State, string(s.UUID), sub, now})
			}
		}
		if !dup && t.Terminal == 0 {
			if t.State == mesos.TaskRunning {
				f.progress.Running--
			}
			t.State = s.State
			if s.State == mesos.TaskRunning {
				f.progress.Running++
				if t.Running.IsZero() {
					t.Running = now
					started = true
					f.stats.Latencies = append(f.stats.Latencies, now.Sub(t.Submitted))
				}
			}
			if s.State.Terminal() {
				t.Terminal++
				f.progress.Ended++
				ended = true
			}
		} else if !dup && s.State.Terminal() {
			t.Terminal++ // a second, different terminal update: a bug upstream
		}
	}
	f.mu.Unlock()
	if ended {
		f.active--
		if f.cfg.Kind == Service && f.active < f.cfg.Instances {
			// Clear our own decline filters: the relaunch should not
			// wait out refuse_seconds.
			f.revive()
		}
	}
	if len(s.UUID) == 0 || s.AgentID == nil {
		return
	}
	acks.push(ack{agentID: s.AgentID.Value, taskID: s.TaskID.Value, uuid: s.UUID, started: started})
}

// ackWorkers is how many acknowledgements a framework has in flight: the
// event loop queues them and goes on, as a scheduler driver does, instead
// of waiting a round trip per update. They share the group's pipelined
// client, so many in flight cost few connections and few system calls.
const ackWorkers = 16

// ack is one acknowledgement to send; started marks the first
// TASK_RUNNING of its task.
type ack struct {
	agentID, taskID string
	uuid            []byte
	started         bool
}

// ackQueue sends one session's acknowledgements on ackWorkers goroutines.
// A redirect closes redirected, once; other failures are counted
// (CallErrors) and dropped: the agent resends an update it has no
// acknowledgement for.
type ackQueue struct {
	q          chan ack
	redirected chan struct{}
	once       sync.Once
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

func (f *Framework) startAcks(ctx context.Context, master, streamID string) *ackQueue {
	a := &ackQueue{q: make(chan ack, 1024), redirected: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(ctx)
	ctx = a.ctx
	pipe := f.g.pipe(master)
	for range ackWorkers {
		a.wg.Go(func() {
			var buf []byte
			for {
				var k ack
				select {
				case <-ctx.Done():
					return
				case k = <-a.q:
				}
				buf = f.enc.appendAck(buf[:0], k.agentID, k.taskID, k.uuid)
				err := f.g.postWith(pipe, master, streamID, buf)
				switch {
				case errors.Is(err, errRedirected):
					a.once.Do(func() { close(a.redirected) })
				case err != nil:
					f.count(func(s *Stats) { s.callError(err) })
				default:
					f.count(func(s *Stats) {
						s.Acks++
						if k.started {
							f.progress.Started++ // its TASK_RUNNING acknowledged
						}
					})
				}
			}
		})
	}
	return a
}

// push queues k, waiting while the queue is full.
func (a *ackQueue) push(k ack) {
	select {
	case a.q <- k:
	case <-a.redirected:
	case <-a.ctx.Done():
	}
}

// stop ends the workers, dropping what is queued, and waits for them.
func (a *ackQueue) stop() {
	a.cancel()
	a.wg.Wait()
}
