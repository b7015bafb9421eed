package main

import (
	"github.com/valyala/fasthttp"

	"meseta/core/master"
)

// quotaWeights serves /quota and /weights; false when path is neither.
func (s *server) quotaWeights(ctx *fasthttp.RequestCtx, m *master.Master, path string) bool {
	return false
}
