package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts of the agent connection.
const (
	dialTimeout   = 10 * time.Second
	headerTimeout = 30 * time.Second // SUBSCRIBE answers with headers at once
	callTimeout   = 10 * time.Second // one UPDATE or MESSAGE exchange
	maxErrorBody  = 4 << 10
)

// agentClient speaks HTTP to the agent's /api/v1/executor endpoint. It is
// safe for concurrent use.
type agentClient struct {
	url   string
	token string
	http  *http.Client
}

func newAgentClient(endpoint, token string) *agentClient {
	tr := &http.Transport{
		// The agent is addressed directly: proxy variables inherited
		// from the agent's environment must not apply.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}).DialContext,
		ResponseHeaderTimeout: headerTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       time.Minute,
	}
	return &agentClient{
		url:   "http://" + endpoint + "/api/v1/executor",
		token: token,
		http:  &http.Client{Transport: tr},
	}
}

// statusError is a call answered with an unexpected HTTP status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("agent answered %d %s", e.code, http.StatusText(e.code))
	}
	return fmt.Sprintf("agent answered %d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

func (c *agentClient) request(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.http.Do(req)
}

func errorBody(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return string(bytes.TrimSpace(b))
}

// subscribe sends SUBSCRIBE and returns the event stream. The stream lives
// until ctx is cancelled or the agent ends it.
func (c *agentClient) subscribe(ctx context.Context, body []byte) (io.ReadCloser, error) {
	resp, err := c.request(ctx, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, &statusError{code: resp.StatusCode, msg: errorBody(resp)}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			resp.Body.Close()
			return nil, fmt.Errorf("agent streams %q, want application/json", ct)
		}
	}
	return resp.Body, nil
}

// call sends one non-subscribe call on its own request and expects 202
// Accepted (200 is tolerated).
func (c *agentClient) call(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.request(ctx, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return &statusError{code: resp.StatusCode, msg: errorBody(resp)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

// outCall is one call waiting in the outbox, tagged with the connection
// generation it was made for.
type outCall struct {
	gen  uint64
	what string // for logs: "UPDATE TASK_RUNNING for task x"
	body []byte
}

// outbox delivers non-subscribe calls one at a time, in the order they
// were pushed, so that a task's updates reach the agent in order. A call
// that fails for a transport error or a 5xx is retried with backoff while
// its connection generation is still live; a call for a generation that
// is no longer live is dropped, since whatever it carried is still
// unacknowledged and travels in the next SUBSCRIBE.
type outbox struct {
	client *agentClient
	log    *slog.Logger
	// live is the generation of the subscribed connection; 0 while
	// disconnected.
	live atomic.Uint64
	wake chan struct{} // capacity 1: "the queue may be non-empty"

	mu    sync.Mutex
	queue []outCall // guarded by mu
}

func newOutbox(client *agentClient, log *slog.Logger) *outbox {
	return &outbox{client: client, log: log, wake: make(chan struct{}, 1)}
}

func (o *outbox) push(c outCall) {
	o.mu.Lock()
	o.queue = append(o.queue, c)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) pop() (outCall, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return outCall{}, false
	}
	c := o.queue[0]
	o.queue[0] = outCall{}
	o.queue = o.queue[1:]
	return c, true
}

// run delivers calls until ctx is done.
func (o *outbox) run(ctx context.Context) {
	for {
		c, ok := o.pop()
		if !ok {
			select {
			case <-o.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		o.deliver(ctx, c)
	}
}

func (o *outbox) deliver(ctx context.Context, c outCall) {
	const maxDelay = 2 * time.Second
	delay := 100 * time.Millisecond
	for {
		if c.gen != o.live.Load() {
			o.log.Info("not sending on a closed connection; it goes with the next SUBSCRIBE", "call", c.what)
			return
		}
		err := o.client.call(ctx, c.body)
		if err == nil || ctx.Err() != nil {
			return
		}
		if se := (*statusError)(nil); errors.As(err, &se) && se.code < 500 {
			o.log.Error("agent refused call", "call", c.what, "err", err)
			return
		}
		o.log.Warn("call failed; retrying", "call", c.what, "err", err, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		delay = min(2*delay, maxDelay)
	}
}
