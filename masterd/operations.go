package main

import (
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core"
	"meseta/core/daemon"
	"meseta/core/master"
	"meseta/core/mesos"
)

// The operator's reservation and volume endpoints, as in Mesos: a POST
// with form fields slaveId and resources (reserve, unreserve) or volumes
// (create-volumes, destroy-volumes), each a JSON array of Mesos
// resources. 202 when done; 400 for a malformed request, an unknown
// agent or an invalid operation; 409 when what it needs is in use on the
// agent. Resources merely offered to frameworks count as free: those
// offers are rescinded.
var operatorOps = map[string]struct{ op, field string }{
	"/master/reserve":         {mesos.OpReserve, "resources"},
	"/master/unreserve":       {mesos.OpUnreserve, "resources"},
	"/master/create-volumes":  {mesos.OpCreate, "volumes"},
	"/master/destroy-volumes": {mesos.OpDestroy, "volumes"},
}

// operations serves the operator's /master/reserve, /master/unreserve,
// /master/create-volumes and /master/destroy-volumes; false when path is
// none of them.
func (s *server) operations(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	o, ok := operatorOps[path]
	if !ok {
		return false
	}
	if !ctx.IsPost() {
		daemon.WriteError(ctx, 405, "expecting POST")
		return true
	}
	args := ctx.PostArgs()
	agent := string(args.Peek("slaveId"))
	if agent == "" {
		agent = string(args.Peek("agentId"))
	}
	if agent == "" {
		daemon.WriteError(ctx, 400, "missing slaveId")
		return true
	}
	text := args.Peek(o.field)
	if len(text) == 0 {
		daemon.WriteError(ctx, 400, "missing "+o.field)
		return true
	}
	var res core.Resources
	if err := json.Unmarshal(text, &res); err != nil {
		daemon.WriteError(ctx, 400, o.field+": "+err.Error())
		return true
	}
	if err := m.OperatorOperation(o.op, agent, res, time.Now()); err != nil {
		s.masterError(ctx, err)
		return true
	}
	ctx.SetStatusCode(202)
	return true
}
