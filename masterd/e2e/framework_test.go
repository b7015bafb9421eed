package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"meseta/core/mesos"
	"meseta/core/recordio"
)

// framework is a test scheduler: a plain HTTP client of the v1 API. It
// reads its event stream on a goroutine into events.
type framework struct {
	t        *testing.T
	master   string
	info     mesos.FrameworkInfo
	id       string
	streamID string
	cancel   context.CancelFunc
	events   chan *mesos.Event
	closed   chan struct{}

	// subscribed is the body of the last SUBSCRIBED.
	subscribed mesos.Subscribed

	// mu guards log: every event received, for assertions.
	mu  sync.Mutex
	log []*mesos.Event

	// skipped holds OFFERS events that next passed over while waiting for
	// something else; nextOffers returns them first, so no offer is lost
	// to the test's own bookkeeping.
	skipped []*mesos.Event
	// seen records every task update next passed over, so that
	// waitState finds a state that arrived while waiting for another.
	seen map[string]map[mesos.TaskState]mesos.TaskStatus
}

func newFrameworkInfo(name string) mesos.FrameworkInfo {
	return mesos.FrameworkInfo{User: "root", Name: name}
}

// subscribe opens a stream and waits for SUBSCRIBED.
func subscribe(t *testing.T, master string, info mesos.FrameworkInfo, suppressed ...string) *framework {
	t.Helper()
	f := &framework{t: t, master: master, info: info}
	f.open(suppressed)
	t.Cleanup(f.close)
	return f
}

func (f *framework) open(suppressed []string) {
	f.t.Helper()
	if err := f.tryOpen(suppressed, 10*time.Second); err != nil {
		f.t.Fatalf("subscribe: %v", err)
	}
}

// tryOpen subscribes (again, with the framework's id once it has one) and
// waits up to d for SUBSCRIBED.
func (f *framework) tryOpen(suppressed []string, d time.Duration) error {
	call := &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: f.info, SuppressedRoles: suppressed}}
	if f.id != "" {
		call.FrameworkID = &mesos.ID{Value: f.id}
		call.Subscribe.FrameworkInfo.ID = &mesos.ID{Value: f.id}
	}
	body, _ := json.Marshal(call)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+f.master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		cancel()
		f.t.Fatalf("subscribe: Content-Type %q, want exactly application/json", ct)
	}
	f.streamID = resp.Header.Get("Mesos-Stream-Id")
	if f.streamID == "" {
		cancel()
		f.t.Fatal("subscribe: no Mesos-Stream-Id header")
	}
	f.cancel = cancel
	f.events = make(chan *mesos.Event, 100000)
	f.closed = make(chan struct{})
	events, closed := f.events, f.closed
	go func() {
		defer close(closed)
		defer resp.Body.Close()
		rd := recordio.NewReader(resp.Body, 0)
		for {
			rec, err := rd.Next()
			if err != nil {
				return
			}
			var ev mesos.Event
			if err := json.Unmarshal(rec, &ev); err != nil {
				f.t.Errorf("bad event %q: %v", rec, err)
				return
			}
			f.mu.Lock()
			f.log = append(f.log, &ev)
			f.mu.Unlock()
			events <- &ev
		}
	}()
	ev := f.next(d, func(e *mesos.Event) bool { return e.Type == mesos.EventSubscribed || e.Type == mesos.EventError })
	if ev.Type == mesos.EventError {
		f.close()
		return fmt.Errorf("ERROR %s", ev.Error.Message)
	}
	f.id = ev.Subscribed.FrameworkID.Value
	f.subscribed = *ev.Subscribed
	return nil
}

// failover re-subscribes, with the framework's id, to the master at addr
// (a new leader), retrying with backoff until d has passed: the new leader
// may still be catching up with the registry.
func (f *framework) failover(addr string, d time.Duration) {
	f.t.Helper()
	f.close()
	f.master = addr
	deadline := time.Now().Add(d)
	backoff := 50 * time.Millisecond
	for {
		err := f.tryOpen(nil, 10*time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("re-subscribe to %s: %v", addr, err)
		}
		time.Sleep(backoff) // a retry pause, not a synchronisation
		backoff = min(2*backoff, time.Second)
	}
}

// close drops the stream (the master sees a disconnection).
func (f *framework) close() {
	if f.cancel != nil {
		f.cancel()
		<-f.closed
		f.cancel = nil
	}
}

// next returns the next event that matches, skipping others; it fails
// the test at the deadline.
func (f *framework) next(d time.Duration, match func(*mesos.Event) bool) *mesos.Event {
	f.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-f.events:
			if match(ev) {
				return ev
			}
			if ev.Type == mesos.EventOffers {
				f.skipped = append(f.skipped, ev)
			}
			if ev.Type == mesos.EventUpdate {
				s := ev.Update.Status
				if f.seen == nil {
					f.seen = map[string]map[mesos.TaskState]mesos.TaskStatus{}
				}
				if f.seen[s.TaskID.Value] == nil {
					f.seen[s.TaskID.Value] = map[mesos.TaskState]mesos.TaskStatus{}
				}
				f.seen[s.TaskID.Value][s.State] = s
			}
		case <-f.closed:
			// Drain what arrived before the close.
			select {
			case ev := <-f.events:
				if match(ev) {
					return ev
				}
				continue
			default:
			}
			f.t.Fatalf("framework %s: stream closed while waiting", f.info.Name)
		case <-timer.C:
			f.t.Fatalf("framework %s: no matching event within %v", f.info.Name, d)
		}
	}
}

// call posts a call with the framework's id and stream id; it returns the
// status code and body.
func (f *framework) call(c *mesos.Call) (int, string) {
	f.t.Helper()
	c.FrameworkID = &mesos.ID{Value: f.id}
	body, _ := json.Marshal(c)
	return f.post(body, "application/json", f.streamID)
}

func (f *framework) post(body []byte, contentType, streamID string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+f.master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("call: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mustCall posts a call and requires 202.
func (f *framework) mustCall(c *mesos.Call) {
	f.t.Helper()
	if code, body := f.call(c); code != 202 {
		f.t.Fatalf("%s: %d %s", c.Type, code, body)
	}
}

// ack acknowledges an update that carries a uuid.
func (f *framework) ack(s *mesos.TaskStatus) {
	f.t.Helper()
	if len(s.UUID) == 0 {
		return
	}
	f.mustCall(&mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
		AgentID: *s.AgentID, TaskID: s.TaskID, UUID: s.UUID}})
}

func (f *framework) decline(offers []mesos.Offer, refuse float64) {
	f.t.Helper()
	ids := make([]mesos.ID, len(offers))
	for i := range offers {
		ids[i] = offers[i].ID
	}
	f.mustCall(&mesos.Call{Type: mesos.CallDecline, Decline: &mesos.Decline{OfferIDs: ids, Filters: &mesos.Filters{RefuseSeconds: &refuse}}})
}

func (f *framework) launch(offer mesos.Offer, tasks []mesos.TaskInfo, refuse float64) {
	f.t.Helper()
	f.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{
		OfferIDs:   []mesos.ID{offer.ID},
		Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}},
		Filters:    &mesos.Filters{RefuseSeconds: &refuse},
	}})
}

// nextOffers waits for an OFFERS event.
func (f *framework) nextOffers(d time.Duration) []mesos.Offer {
	f.t.Helper()
	if len(f.skipped) > 0 {
		ev := f.skipped[0]
		f.skipped = f.skipped[1:]
		return ev.Offers.Offers
	}
	return f.next(d, func(e *mesos.Event) bool { return e.Type == mesos.EventOffers }).Offers.Offers
}

// waitState waits for an UPDATE of task to state, acknowledging every
// update it sees on the way. It returns the status.
func (f *framework) waitState(task string, state mesos.TaskState, d time.Duration) mesos.TaskStatus {
	f.t.Helper()
	if s, ok := f.seen[task][state]; ok {
		return s // it arrived (and was acknowledged) while waiting for something else
	}
	ev := f.next(d, func(e *mesos.Event) bool {
		if e.Type != mesos.EventUpdate {
			return false
		}
		f.ack(&e.Update.Status)
		if e.Update.Status.TaskID.Value == task && e.Update.Status.State != state && e.Update.Status.State.Terminal() {
			f.t.Fatalf("task %s ended %s (%s), want %s", task, e.Update.Status.State, e.Update.Status.Message, state)
		}
		return e.Update.Status.TaskID.Value == task && e.Update.Status.State == state
	})
	return ev.Update.Status
}

// commandTask builds a CommandInfo task for an offer.
func commandTask(id string, offer mesos.Offer, res string, cmd string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name: id, TaskID: mesos.ID{Value: id}, AgentID: offer.AgentID,
		Resources: mustRes(res), Command: &mesos.CommandInfo{Value: cmd},
	}
}

func (f *framework) String() string { return fmt.Sprintf("framework %s (%s)", f.info.Name, f.id) }
