package main

import (
	"fmt"
	"html"

	"github.com/valyala/fasthttp"

	"meseta/core/master"
)

func (s *server) standbyIndex(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/html; charset=utf-8")
	leader := s.leader()
	link := "no leader is elected yet"
	if leader != "" {
		link = fmt.Sprintf(`the leader is <a href="//%s/">%s</a>`, html.EscapeString(leader), html.EscapeString(leader))
	}
	fmt.Fprintf(ctx, `<!doctype html><title>meseta master (standby)</title><h1>meseta master %s: standby</h1><p>This master is a standby; %s.</p>`,
		html.EscapeString(s.info.ID), link)
}

func (s *server) index(ctx *fasthttp.RequestCtx, m *master.Master) {
	ctx.SetContentType("text/html; charset=utf-8")
	info := m.Info()
	fmt.Fprintf(ctx, `<!doctype html><title>meseta master</title><h1>meseta master %s</h1>
<p>The web UI arrives with a later release. Endpoints:</p><ul>
<li><a href="/master/state">/master/state</a></li><li><a href="/master/state-summary">/master/state-summary</a></li>
<li><a href="/master/frameworks">/master/frameworks</a></li><li><a href="/master/slaves">/master/slaves</a></li>
<li><a href="/master/tasks">/master/tasks</a></li><li><a href="/master/roles">/master/roles</a></li>
<li><a href="/master/flags">/master/flags</a></li><li><a href="/metrics/snapshot">/metrics/snapshot</a></li>
<li>POST /api/v1/scheduler (Mesos v1 scheduler API, JSON)</li></ul>`, info.ID)
}

// ui serves the web UI's pages, assets and data under path, and reports
// whether path was one of them. m is nil on a standby.
func (s *server) ui(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	if path != "/" {
		return false
	}
	if m == nil {
		s.standbyIndex(ctx)
	} else {
		s.index(ctx, m)
	}
	return true
}
