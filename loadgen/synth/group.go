package synth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

const schedulerPath = "/api/v1/scheduler"

// errRedirected says the master answered 307: the group's master has
// moved and the session must start again, at once.
var errRedirected = errors.New("synth: redirected to another master")

// Group is what many frameworks in one process share: the master's
// address, the HTTP clients, and the list of frameworks.
type Group struct {
	calls  *fasthttp.Client
	stream *http.Client

	// mu guards the fields below it.
	// pipes are pipelined clients per master for acknowledgements, the
	// most frequent call: many in flight on a few connections, written and
	// answered in batches.
	pipes map[string]*fasthttp.PipelineClient

	mu     sync.Mutex
	master string
	// changed is closed (and replaced) whenever master changes: every
	// framework's session selects on it and re-subscribes.
	changed chan struct{}
	fws     []*Framework
}

// NewGroup returns a group whose frameworks talk to the master at
// host:port.
func NewGroup(master string) *Group {
	return &Group{
		calls: &fasthttp.Client{
			Name:                "meseta-synth",
			MaxConnsPerHost:     1024,
			MaxIdleConnDuration: time.Minute,
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        30 * time.Second,
		},
		stream: &http.Client{
			// A 307 from a standby must move the group, not be
			// followed silently.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 64,
				DisableCompression:  true,
			},
		},
		master:  master,
		changed: make(chan struct{}),
	}
}

// SetMaster points every framework of the group at the master at
// host:port; their streams to the old one are dropped and they
// re-subscribe with their framework ids.
func (g *Group) SetMaster(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setMasterLocked(addr)
}

func (g *Group) setMasterLocked(addr string) {
	if addr == g.master {
		return
	}
	g.master = addr
	close(g.changed)
	g.changed = make(chan struct{})
}

// Master returns the master's address.
func (g *Group) Master() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.master
}

func (g *Group) current() (string, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.master, g.changed
}

// redirect moves the group from master from to to, unless someone has
// already moved it elsewhere.
func (g *Group) redirect(from, to string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.master == from {
		g.setMasterLocked(to)
	}
}

// redirectTarget returns host:port of a Location header:
// "//host:port/api/v1/scheduler" (what masterd sends) or an absolute
// http URL.
func redirectTarget(loc string) (string, error) {
	s := loc
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+1:]
	}
	if !strings.HasPrefix(s, "//") {
		return "", fmt.Errorf("synth: redirect to %q: not a master address", loc)
	}
	s = s[2:]
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "", fmt.Errorf("synth: redirect to %q: no host", loc)
	}
	return s, nil
}

// Start subscribes a new framework and runs it until ctx ends, Stop or
// Teardown is called, or the master sends ERROR.
func (g *Group) Start(ctx context.Context, cfg Config) (*Framework, error) {
	f, err := newFramework(g, cfg)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.fws = append(g.fws, f)
	g.mu.Unlock()
	ctx, f.cancel = context.WithCancel(ctx)
	go f.run(ctx)
	return f, nil
}

// Frameworks returns the frameworks started in the group.
func (g *Group) Frameworks() []*Framework {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Framework(nil), g.fws...)
}

// Stats returns the sum of every framework's stats.
func (g *Group) Stats() Stats {
	var s Stats
	for _, f := range g.Frameworks() {
		s.Add(f.Stats())
	}
	return s
}

// Counters sums the frameworks' Counters (their stats without
// latencies).
func (g *Group) Counters() Stats {
	var s Stats
	for _, f := range g.Frameworks() {
		s.Add(f.Counters())
	}
	return s
}

// Progress sums the frameworks' Progress.
func (g *Group) Progress() Progress {
	var p Progress
	for _, f := range g.Frameworks() {
		p.Add(f.Progress())
	}
	return p
}

// Lost returns the sum of every framework's Lost.
func (g *Group) Lost() int {
	n := 0
	for _, f := range g.Frameworks() {
		n += f.Lost()
	}
	return n
}

// post sends one call body on the shared fasthttp client and requires
// 202. A 307 moves the group and returns errRedirected.
// doer is what post needs of a fasthttp client.
type doer interface {
	DoTimeout(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error
}

// pipe returns the pipelined client for master.
func (g *Group) pipe(master string) *fasthttp.PipelineClient {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pipes == nil {
		g.pipes = map[string]*fasthttp.PipelineClient{}
	}
	p := g.pipes[master]
	if p == nil {
		p = &fasthttp.PipelineClient{Addr: master, Name: "meseta-synth", MaxConns: 4, MaxPendingRequests: 8192,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, Logger: quiet{}}
		g.pipes[master] = p
	}
	return p
}

func (g *Group) post(master, streamID string, body []byte) error {
	return g.postWith(g.calls, master, streamID, body)
}

func (g *Group) postWith(c doer, master, streamID string, body []byte) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + master + schedulerPath)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Accept", "application/json")
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	req.SetBodyRaw(body)
	if err := c.DoTimeout(req, resp, 30*time.Second); err != nil {
		return fmt.Errorf("synth: call to %s: %w", master, err)
	}
	switch code := resp.StatusCode(); code {
	case fasthttp.StatusAccepted, fasthttp.StatusOK:
		return nil
	case fasthttp.StatusTemporaryRedirect:
		to, err := redirectTarget(string(resp.Header.Peek("Location")))
		if err != nil {
			return err
		}
		g.redirect(master, to)
		return errRedirected
	default:
		return fmt.Errorf("synth: call to %s: %d %s", master, code, resp.Body())
	}
}

// quiet drops fasthttp's own log lines: a call that fails is counted
// (CallErrors) and, for a dead master after a failover, expected.
type quiet struct{}

func (quiet) Printf(string, ...any) {}
