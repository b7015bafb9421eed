package main

import (
	"mime"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/daemon"
	"meseta/core/master"
)

// quotaWeights serves /quota and /weights; false when path is neither.
//
// The paths are Mesos's, with and without its "/master" prefix (Mesos
// serves both): GET and POST /quota, DELETE /quota/<role> (the role may
// hold slashes, and is URL-decoded), GET and PUT /weights. As Mesos's
// endpoints and the curl lines of its documentation, they read the body
// as JSON whatever its Content-Type says (curl -d sends
// application/x-www-form-urlencoded), except protobuf, which meseta does
// not speak. Success is 200 with an empty body; errors are JSON
// ({"error": ...}): 400 for a bad request, 409 for quota guarantees that
// exceed the cluster's capacity without "force", 405 for another method.
// The master's side, and what each request checks, is in
// core/master/quota.go.
func (s *server) quotaWeights(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	path = strings.TrimPrefix(path, "/master")
	switch {
	case path == "/quota":
		switch {
		case ctx.IsGet():
			daemon.WriteJSON(ctx, 200, m.Quotas())
		case ctx.IsPost():
			s.setQuota(ctx, m)
		case ctx.IsDelete():
			daemon.WriteError(ctx, 400, "DELETE needs the role in the path: DELETE /quota/<role>")
		default:
			methodNotAllowed(ctx, "GET, POST")
		}
	case strings.HasPrefix(path, "/quota/"):
		if !ctx.IsDelete() {
			methodNotAllowed(ctx, "DELETE")
			return true
		}
		if err := m.RemoveQuota(path[len("/quota/"):], time.Now()); err != nil {
			s.masterError(ctx, err)
			return true
		}
		ctx.SetStatusCode(200)
	case path == "/weights":
		switch {
		case ctx.IsGet():
			daemon.WriteJSON(ctx, 200, m.Weights())
		case ctx.IsPut():
			s.setWeights(ctx, m)
		default:
			methodNotAllowed(ctx, "GET, PUT")
		}
	default:
		return false
	}
	return true
}

func (s *server) setQuota(ctx *fasthttp.RequestCtx, m *master.Master) {
	if !jsonBody(ctx) {
		return
	}
	req, err := master.DecodeQuotaRequest(ctx.PostBody())
	if err == nil {
		err = m.SetQuota(req, time.Now())
	}
	if err != nil {
		s.masterError(ctx, err)
		return
	}
	ctx.SetStatusCode(200)
}

func (s *server) setWeights(ctx *fasthttp.RequestCtx, m *master.Master) {
	if !jsonBody(ctx) {
		return
	}
	ws, err := master.DecodeWeights(ctx.PostBody())
	if err == nil {
		err = m.SetWeights(ws, time.Now())
	}
	if err != nil {
		s.masterError(ctx, err)
		return
	}
	ctx.SetStatusCode(200)
}

// jsonBody refuses a protobuf body (415), the one Content-Type meseta
// cannot read; any other is read as JSON (see quotaWeights).
func jsonBody(ctx *fasthttp.RequestCtx) bool {
	ct, _, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if ct == "application/x-protobuf" {
		daemon.WriteError(ctx, 415, "Content-Type application/x-protobuf is not supported: send the body in JSON")
		return false
	}
	return true
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	daemon.WriteError(ctx, 405, "expecting "+allow)
}
