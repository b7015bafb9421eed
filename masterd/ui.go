package main

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"mime"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/daemon"
	"meseta/core/master"
	"meseta/core/mesos"
)

// The web UI: a single page of plain HTML, CSS and JavaScript embedded
// from ui/ (no build step, nothing fetched from the network), routed by
// the URL's hash, that polls small JSON views under /master/ui/ every
// second or two, only those the visible page needs:
//
//	GET /master/ui/overview                 counts, resources, counters, masters
//	GET /master/ui/frameworks?state=&q=&offset=&limit=
//	GET /master/ui/framework?id=            one framework and its offers
//	GET /master/ui/agents?state=&q=&offset=&limit=
//	GET /master/ui/agent?id=                one agent and its executors
//	GET /master/ui/tasks?id=&q=&state=&framework=&agent=&offset=&limit=
//	GET /master/ui/offers?framework=&agent=&q=&offset=&limit=
//	GET /master/ui/roles
//	GET /master/ui/agents/ID/state          the agent's /state, proxied
//	GET /master/ui/agents/ID/files/browse?path=
//	GET /master/ui/agents/ID/files/read?path=&offset=&length=
//
// The lists are filtered and paged by the master (core/master/views.go).
// The agent's /files API is proxied because a browser cannot rely on
// reaching agents, nor on their CORS headers: the master knows each
// agent's address, bounds the request (uiProxyTimeout) and the answer
// (uiProxyMaxBody, and reads of at most uiReadMax bytes).
//
// A standby serves the same page; every view answers
// {"standby": true, "leader": "host:port"} there, and the page shows a
// standby banner linking to the leader.

//go:embed ui
var uiFiles embed.FS

const (
	uiProxyTimeout = 3 * time.Second
	uiProxyMaxBody = 2 << 20
	uiReadMax      = 256 << 10
	uiMaxLimit     = 500
	// uiMaxOffset bounds how deep a list can be paged: a page costs the
	// master a heap of offset+limit rows under its lock. Deeper than
	// this, narrow the filter.
	uiMaxOffset = 100_000
)

var uiClient = &fasthttp.Client{
	Name:                "meseta-master-ui",
	MaxResponseBodySize: uiProxyMaxBody,
	ReadTimeout:         uiProxyTimeout,
	WriteTimeout:        uiProxyTimeout,
	MaxConnsPerHost:     8,
	MaxConnWaitTimeout:  uiProxyTimeout, // several tabs following output wait, not fail
}

// ui serves the web UI's pages, assets and data under path, and reports
// whether path was one of them. m is nil on a standby.
func (s *server) ui(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	switch {
	case path == "/" || path == "/index.html":
		s.uiAsset(ctx, "ui/index.html")
		return true
	case strings.HasPrefix(path, "/ui/"):
		s.uiAsset(ctx, path[1:])
		return true
	case !strings.HasPrefix(path, "/master/ui/"):
		return false
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if m == nil {
		daemon.WriteJSON(ctx, 200, map[string]any{"standby": true, "leader": s.leader(), "id": s.info.ID,
			"cluster": s.cfg.cluster, "masters": s.uiMasters()})
		return true
	}
	view := strings.TrimPrefix(path, "/master/ui/")
	if rest, ok := strings.CutPrefix(view, "agents/"); ok {
		s.uiAgentProxy(ctx, m, rest) // its offset is a file's, which may be -1
		return true
	}
	args := ctx.QueryArgs()
	arg := func(name string) string { return string(args.Peek(name)) }
	offset, err := uiInt(arg("offset"), 0, math.MaxInt)
	if err == nil && offset > uiMaxOffset {
		err = fmt.Errorf("at most %d: narrow the filter instead", uiMaxOffset)
	}
	if err != nil {
		daemon.WriteError(ctx, 400, "invalid query parameter \"offset\": "+err.Error())
		return true
	}
	limit, err := uiInt(arg("limit"), 50, uiMaxLimit)
	if err != nil {
		daemon.WriteError(ctx, 400, "invalid query parameter \"limit\": "+err.Error())
		return true
	}
	switch view {
	case "overview":
		daemon.WriteJSON(ctx, 200, struct {
			master.Overview
			MesetaVersion string          `json:"meseta_version"`
			Masters       []uiMasterEntry `json:"masters"`
		}{m.UIOverview(time.Now()), MesetaVersion, s.uiMasters()})
	case "frameworks":
		daemon.WriteJSON(ctx, 200, m.UIFrameworks(arg("state"), arg("q"), offset, limit))
	case "framework":
		d, ok := m.UIFramework(arg("id"))
		if !ok {
			daemon.WriteError(ctx, 404, "no framework "+arg("id"))
			return true
		}
		daemon.WriteJSON(ctx, 200, d)
	case "agents":
		daemon.WriteJSON(ctx, 200, m.UIAgents(arg("state"), arg("q"), offset, limit))
	case "agent":
		d, ok := m.UIAgent(arg("id"))
		if !ok {
			daemon.WriteError(ctx, 404, "no agent "+arg("id"))
			return true
		}
		daemon.WriteJSON(ctx, 200, d)
	case "tasks":
		f := master.TaskFilter{ID: arg("id"), Query: arg("q"), State: arg("state"), Framework: arg("framework"), Agent: arg("agent")}
		daemon.WriteJSON(ctx, 200, m.UITasks(f, offset, limit))
	case "offers":
		daemon.WriteJSON(ctx, 200, m.UIOffers(arg("framework"), arg("agent"), arg("q"), offset, limit))
	case "roles":
		daemon.WriteJSON(ctx, 200, map[string]any{"items": m.UIRoles()})
	default:
		daemon.WriteError(ctx, 404, "no UI view "+view)
	}
	return true
}

// uiInt parses a non-negative integer query parameter: def when absent,
// at most most.
func uiInt(v string, def, most int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("want a non-negative integer")
	}
	return min(n, most), nil
}

func (s *server) uiAsset(ctx *fasthttp.RequestCtx, name string) {
	b, err := fs.ReadFile(uiFiles, path.Clean(name))
	if err != nil {
		daemon.WriteError(ctx, 404, "no such file")
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	ctx.SetContentType(ctype)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetStatusCode(200)
	ctx.SetBody(b)
}

// uiAgentProxy forwards rest ("ID/state", "ID/files/browse" or
// "ID/files/read") to the agent, with the query parameters the agent's
// endpoint takes.
func (s *server) uiAgentProxy(ctx *fasthttp.RequestCtx, m *master.Master, rest string) {
	id, what, _ := strings.Cut(rest, "/")
	endpoint, ok := m.AgentEndpoint(id)
	if !ok {
		daemon.WriteError(ctx, 404, "no registered agent "+id)
		return
	}
	args := ctx.QueryArgs()
	q := url.Values{}
	switch what {
	case "state":
	case "files/browse":
		q.Set("path", string(args.Peek("path")))
	case "files/read":
		q.Set("path", string(args.Peek("path")))
		off, err := strconv.ParseInt(string(args.Peek("offset")), 10, 64)
		if err != nil || off < 0 {
			off = -1 // the agent answers the size
		}
		q.Set("offset", strconv.FormatInt(off, 10))
		length, err := uiInt(string(args.Peek("length")), uiReadMax, uiReadMax)
		if err != nil {
			daemon.WriteError(ctx, 400, "invalid query parameter \"length\": "+err.Error())
			return
		}
		q.Set("length", strconv.Itoa(length))
	default:
		daemon.WriteError(ctx, 404, "no agent view "+what)
		return
	}
	// endpoint is a plain host:port (agentapi checks it at registration)
	// and what one of the names above.
	u := (&url.URL{Scheme: "http", Host: endpoint, Path: "/" + what, RawQuery: q.Encode()}).String()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(u)
	req.Header.SetMethod("GET")
	if err := uiClient.DoTimeout(req, resp, uiProxyTimeout); err != nil {
		daemon.WriteError(ctx, 502, "agent "+id+" at "+endpoint+": "+err.Error())
		return
	}
	ctx.SetStatusCode(resp.StatusCode())
	ctx.SetContentType("application/json")
	ctx.SetBody(resp.Body())
}

// uiMasterEntry is one contender of the election: the leader and the
// standbys.
type uiMasterEntry struct {
	ID       string `json:"id"`
	HostPort string `json:"hostport"`
	Leader   bool   `json:"leader"`
}

// uiMasters lists the masters: this one alone without --zk, else every
// contender the election's detector has seen, the leader first.
func (s *server) uiMasters() []uiMasterEntry {
	if s.detector == nil {
		return []uiMasterEntry{{ID: s.info.ID, HostPort: s.info.HostPort(), Leader: s.cur.Load() != nil}}
	}
	out := []uiMasterEntry{}
	for _, data := range s.detector.Members() {
		var info mesos.MasterInfo
		if json.Unmarshal(data, &info) != nil {
			continue
		}
		out = append(out, uiMasterEntry{ID: info.ID, HostPort: info.HostPort(), Leader: len(out) == 0})
	}
	return out
}
