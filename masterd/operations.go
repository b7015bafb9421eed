package main

import (
	"github.com/valyala/fasthttp"

	"meseta/core/master"
)

// operations serves the operator's /master/reserve, /master/unreserve,
// /master/create-volumes and /master/destroy-volumes; false when path is
// none of them.
func (s *server) operations(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	return false
}
