package main

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/daemon"
	"meseta/core/master"
	"meseta/core/mesos"
)

// maintenance serves Mesos's maintenance endpoints; false when path is
// none of them. As /quota, they answer with and without the "/master"
// prefix and read the body as JSON whatever its Content-Type says:
//
//	GET  /maintenance/schedule   the schedule (maintenance.proto Schedule)
//	POST /maintenance/schedule   replace it; 200 with an empty body
//	GET  /maintenance/status     draining and down machines (ClusterStatus)
//	POST /machine/down           a JSON list of MachineIDs to take down
//	POST /machine/up             a JSON list of MachineIDs to bring up
//
// A malformed or invalid body is 400 with a JSON message, and changes
// nothing; another method is 405. The master's side is in
// core/master/maintenance.go.
func (s *server) maintenance(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	path = strings.TrimPrefix(path, "/master")
	switch path {
	case "/maintenance/schedule":
		switch {
		case ctx.IsGet():
			daemon.WriteJSON(ctx, 200, m.MaintenanceSchedule())
		case ctx.IsPost():
			var sched mesos.MaintenanceSchedule
			if s.decodeBody(ctx, &sched) {
				s.maintenanceDone(ctx, m.SetMaintenanceSchedule(sched, time.Now()))
			}
		default:
			methodNotAllowed(ctx, "GET, POST")
		}
	case "/maintenance/status":
		if !ctx.IsGet() {
			methodNotAllowed(ctx, "GET")
			return true
		}
		daemon.WriteJSON(ctx, 200, m.MaintenanceStatus())
	case "/machine/down", "/machine/up":
		if !ctx.IsPost() {
			methodNotAllowed(ctx, "POST")
			return true
		}
		var ids []mesos.MachineID
		if !s.decodeBody(ctx, &ids) {
			return true
		}
		if path == "/machine/down" {
			s.maintenanceDone(ctx, m.MachinesDown(ids, time.Now()))
		} else {
			s.maintenanceDone(ctx, m.MachinesUp(ids, time.Now()))
		}
	default:
		return false
	}
	return true
}

// decodeBody reads a JSON body into v, or answers 400 (415 for protobuf).
func (s *server) decodeBody(ctx *fasthttp.RequestCtx, v any) bool {
	if !jsonBody(ctx) {
		return false
	}
	if err := mesos.Decode(ctx.PostBody(), v); err != nil {
		daemon.WriteError(ctx, 400, err.Error())
		return false
	}
	return true
}

func (s *server) maintenanceDone(ctx *fasthttp.RequestCtx, err error) {
	if err != nil {
		s.masterError(ctx, err)
		return
	}
	ctx.SetStatusCode(200)
}
