package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/agentapi"
	"meseta/core/daemon"
	"meseta/core/master"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

func (s *server) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if s.deposed.Load() {
		daemon.WriteError(ctx, 503, "this master is no longer the leader and is exiting")
		return
	}
	switch path {
	case "/master/health", "/health":
		ctx.SetStatusCode(200)
		return
	case "/master/flags":
		daemon.WriteJSON(ctx, 200, map[string]any{"flags": s.flags})
		return
	case "/version":
		daemon.WriteJSON(ctx, 200, map[string]string{"version": Version, "meseta_version": MesetaVersion})
		return
	case "/master/redirect":
		s.redirect(ctx)
		return
	}
	m := s.cur.Load()
	if m == nil {
		s.standby(ctx, path)
		return
	}
	if !s.stillLeading() {
		daemon.WriteError(ctx, 503, "this master is no longer the leader and is exiting")
		return
	}
	switch path {
	case "/api/v1/scheduler":
		s.scheduler(ctx, m)
	case agentapi.PathSubscribe:
		s.agentSubscribe(ctx, m)
	case agentapi.PathCall:
		s.agentCall(ctx, m)
	case "/master/state", "/master/state.json", "/state", "/state.json":
		daemon.WriteJSON(ctx, 200, m.State(s.flags))
	case "/master/state-summary":
		daemon.WriteJSON(ctx, 200, m.Summary())
	case "/master/frameworks":
		daemon.WriteJSON(ctx, 200, m.Frameworks())
	case "/master/slaves":
		daemon.WriteJSON(ctx, 200, m.Slaves())
	case "/master/tasks":
		s.tasks(ctx, m)
	case "/master/roles":
		daemon.WriteJSON(ctx, 200, m.Roles())
	case "/master/teardown":
		s.teardown(ctx, m)
	case "/metrics/snapshot":
		daemon.WriteJSON(ctx, 200, s.metrics(m))
	case "/metrics":
		s.prometheus(ctx, s.metrics(m))
	default:
		if !s.quotaWeights(ctx, m, path) && !s.operations(ctx, m, path) && !s.maintenance(ctx, m, path) && !s.ui(ctx, m, path) {
			daemon.WriteError(ctx, 404, fmt.Sprintf("no endpoint %s", path))
		}
	}
}

// leader returns the leading master's host:port: this master's own while
// it leads, else the one the election reports ("" when there is none).
func (s *server) leader() string {
	if s.cur.Load() != nil {
		return s.info.HostPort()
	}
	info, ok := s.leaderInfo()
	if !ok {
		return ""
	}
	return info.HostPort()
}

// leaderInfo is the MasterInfo of the leader the election reports, when a
// standby knows one. Its own znode, seen before it acts as the leader (or
// after it stopped), does not count: there is no one to send anyone to.
func (s *server) leaderInfo() (mesos.MasterInfo, bool) {
	if s.detector == nil {
		return mesos.MasterInfo{}, false
	}
	data, _, ok := s.detector.Leader()
	var info mesos.MasterInfo
	if !ok || json.Unmarshal(data, &info) != nil || info.ID == s.info.ID {
		return mesos.MasterInfo{}, false
	}
	return info, true
}

// standby answers a request while this master does not lead: the state
// and metrics endpoints describe the standby and name the leader; the
// scheduler API and everything else are redirected to the leader (307),
// or refused (503) while there is none.
func (s *server) standby(ctx *fasthttp.RequestCtx, path string) {
	switch path {
	case "/master/state", "/master/state.json", "/state", "/state.json":
		daemon.WriteJSON(ctx, 200, s.standbyState())
		return
	case "/metrics/snapshot":
		daemon.WriteJSON(ctx, 200, s.standbyMetrics())
		return
	case "/metrics":
		s.prometheus(ctx, s.standbyMetrics())
		return
	}
	if s.ui(ctx, nil, path) {
		return
	}
	leader := s.leader()
	if leader == "" {
		daemon.WriteError(ctx, 503, "no leading master elected yet; retry")
		return
	}
	loc := "//" + leader + path
	if q := ctx.QueryArgs().QueryString(); len(q) > 0 {
		loc += "?" + string(q)
	}
	ctx.Response.Header.Set("Location", loc)
	daemon.WriteError(ctx, 307, "not the leading master; the leader is at "+leader)
}

// standbyState is /master/state on a standby: Mesos's keys, no agents or
// frameworks, and the leader when one is known.
func (s *server) standbyState() master.State {
	st := master.State{
		Version: Version, StartTime: float64(s.start.UnixNano()) / 1e9, ID: s.info.ID, PID: s.info.PID,
		Hostname: s.info.Hostname, Cluster: s.cfg.cluster, Flags: s.flags,
		Slaves: []master.AgentJSON{}, Frameworks: []master.FrameworkJSON{}, CompletedFrameworks: []master.FrameworkJSON{},
		OrphanTasks: []master.TaskJSON{}, UnregisteredFrameworks: []string{},
	}
	if info, ok := s.leaderInfo(); ok {
		st.Leader, st.LeaderInfo = info.PID, info
	}
	return st
}

func (s *server) masterError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, master.ErrConflict):
		daemon.WriteError(ctx, 409, err.Error())
	case errors.Is(err, master.ErrForbidden):
		daemon.WriteError(ctx, 403, err.Error())
	case errors.Is(err, master.ErrBadRequest), errors.Is(err, master.ErrNotSupported):
		daemon.WriteError(ctx, 400, err.Error())
	default:
		daemon.WriteError(ctx, 500, err.Error())
	}
}

// acceptsJSON is false when the Accept header rules JSON out.
func acceptsJSON(ctx *fasthttp.RequestCtx) bool {
	acc := string(ctx.Request.Header.Peek("Accept"))
	if acc == "" {
		return true
	}
	for _, part := range strings.Split(acc, ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		switch mt {
		case "application/json", "*/*", "application/*", "application/recordio":
			return true
		}
	}
	return false
}

func (s *server) scheduler(ctx *fasthttp.RequestCtx, m *master.Master) {
	if !daemon.RequireJSONPost(ctx) {
		return
	}
	if !acceptsJSON(ctx) {
		daemon.WriteError(ctx, 406, "meseta answers in application/json only")
		return
	}
	call, err := mesos.DecodeCall(ctx.PostBody())
	if err != nil {
		daemon.WriteError(ctx, 400, "Failed to validate scheduler::Call: "+err.Error())
		return
	}
	now := time.Now()
	if call.Type != mesos.CallSubscribe {
		if err := m.Call(call, string(ctx.Request.Header.Peek("Mesos-Stream-Id")), now); err != nil {
			s.masterError(ctx, err)
			return
		}
		ctx.SetStatusCode(202)
		return
	}
	if len(ctx.Request.Header.Peek("Mesos-Stream-Id")) > 0 {
		daemon.WriteError(ctx, 400, "SUBSCRIBE calls must not carry a Mesos-Stream-Id header")
		return
	}
	st := recordio.NewStream(&mesos.Event{Type: mesos.EventHeartbeat})
	conn := frameworkConn{st}
	sub, err := m.Subscribe(conn, call, now)
	if err != nil {
		s.masterError(ctx, err)
		return
	}
	s.addStream(st)
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Mesos-Stream-Id", sub.StreamID)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	interval, done := s.cfg.heartbeatInterval, s.done
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		st.Run(w, interval, done)
		s.dropStream(st)
		m.Disconnected(sub.FrameworkID, conn, time.Now())
	})
}

func (s *server) agentSubscribe(ctx *fasthttp.RequestCtx, m *master.Master) {
	if !daemon.RequireJSONPost(ctx) {
		return
	}
	select {
	case s.registering <- struct{}{}:
	case <-s.done:
		daemon.WriteError(ctx, 503, "this master is shutting down")
		return
	}
	st, id, conn, ok := s.registerAgent(ctx, m)
	<-s.registering
	if !ok {
		return
	}
	// A refused agent still gets its stream: it carries the SHUTDOWN.
	s.addStream(st)
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/json")
	done := s.done
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		st.Run(w, 0, done)
		s.dropStream(st)
		if id != "" {
			m.AgentDisconnected(id, conn, time.Now())
		}
	})
}

// registerAgent decodes a REGISTER or REREGISTER and hands it to the
// master with a new stream; on failure it has answered.
func (s *server) registerAgent(ctx *fasthttp.RequestCtx, m *master.Master) (*recordio.Stream, string, agentConn, bool) {
	var call agentapi.Call
	if err := mesos.Decode(ctx.PostBody(), &call); err != nil {
		daemon.WriteError(ctx, 400, err.Error())
		return nil, "", agentConn{}, false
	}
	if call.Type != agentapi.CallRegister && call.Type != agentapi.CallReregister {
		daemon.WriteError(ctx, 400, fmt.Sprintf("invalid field \"type\": want REGISTER or REREGISTER, got %q", call.Type))
		return nil, "", agentConn{}, false
	}
	if err := call.Validate(); err != nil {
		daemon.WriteError(ctx, 400, err.Error())
		return nil, "", agentConn{}, false
	}
	st := recordio.NewStream(nil)
	conn := agentConn{st}
	id, err := m.SubscribeAgent(conn, &call, time.Now())
	if err != nil && !errors.Is(err, master.ErrForbidden) {
		s.masterError(ctx, err)
		return nil, "", agentConn{}, false
	}
	return st, id, conn, true
}

func (s *server) agentCall(ctx *fasthttp.RequestCtx, m *master.Master) {
	if !daemon.RequireJSONPost(ctx) {
		return
	}
	var batch agentapi.Batch
	if err := agentapi.DecodeBatch(ctx.PostBody(), &batch); err != nil {
		daemon.WriteError(ctx, 400, err.Error())
		return
	}
	for i := range batch.Calls {
		if err := batch.Calls[i].Validate(); err != nil {
			daemon.WriteError(ctx, 400, fmt.Sprintf("calls[%d]: %v", i, err))
			return
		}
	}
	m.AgentCalls(batch.Calls, time.Now())
	ctx.SetStatusCode(202)
}

func (s *server) tasks(ctx *fasthttp.RequestCtx, m *master.Master) {
	args := ctx.QueryArgs()
	num := func(name string, def int) (int, bool) {
		v := args.Peek(name)
		if len(v) == 0 {
			return def, true
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 {
			daemon.WriteError(ctx, 400, fmt.Sprintf("invalid query parameter %q: want a non-negative integer", name))
			return 0, false
		}
		return n, true
	}
	offset, ok := num("offset", 0)
	if !ok {
		return
	}
	limit, ok := num("limit", 100)
	if !ok {
		return
	}
	daemon.WriteJSON(ctx, 200, m.Tasks(string(args.Peek("framework_id")), string(args.Peek("task_id")), offset, limit))
}

func (s *server) redirect(ctx *fasthttp.RequestCtx) {
	leader := s.leader()
	if leader == "" {
		daemon.WriteError(ctx, 503, "no leading master")
		return
	}
	ctx.Response.Header.Set("Location", "//"+leader)
	ctx.SetStatusCode(307)
}

func (s *server) teardown(ctx *fasthttp.RequestCtx, m *master.Master) {
	if !ctx.IsPost() {
		daemon.WriteError(ctx, 405, "expecting POST")
		return
	}
	id := string(ctx.PostArgs().Peek("frameworkId"))
	if id == "" {
		id = string(ctx.QueryArgs().Peek("frameworkId"))
	}
	if id == "" {
		daemon.WriteError(ctx, 400, "missing frameworkId")
		return
	}
	if err := m.Teardown(id, time.Now()); err != nil {
		s.masterError(ctx, err)
		return
	}
	ctx.SetStatusCode(200)
}
