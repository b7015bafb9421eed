package main

import (
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/daemon"

	"meseta/core/master"
)

func (s *server) metrics(m *master.Master) map[string]float64 {
	now := time.Now()
	out := m.Metrics(now)
	count, last, pct := s.sweeps.snapshot()
	out["allocator/mesos/allocation_runs"] = float64(count)
	out["allocator/mesos/allocation_run_ms"] = last
	out["allocator/mesos/allocation_run_latency_ms"] = ms(time.Duration(s.sweepLatency.Load()))
	for k, v := range pct {
		out["allocator/mesos/allocation_run_ms/"+k] = v
	}
	st := m.Allocator().Stats()
	out["allocator/mesos/event_queue_dispatches"] = 0
	out["allocator/mesos/resources/offers_outstanding"] = float64(st.OutstandingOffers)
	out["allocator/mesos/offer_filters/active"] = float64(st.FiltersActive)
	out["master/event_queue_messages"] = float64(s.queuedEvents())
	_, _, regPct := s.regWrites.times.snapshot()
	for k, v := range regPct {
		out["registrar/state_store_ms/"+k] = v
	}
	out["registrar/state_store_ms"] = regPct["p50"]
	return out
}

// standbyMetrics is /metrics/snapshot on a master that does not lead.
func (s *server) standbyMetrics() map[string]float64 {
	return map[string]float64{
		"master/elected":     0,
		"master/uptime_secs": time.Since(s.start).Seconds(),
	}
}

// prometheus writes the figures of /metrics/snapshot in the Prometheus
// text exposition format.
func (s *server) prometheus(ctx *fasthttp.RequestCtx, figures map[string]float64) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	daemon.WriteError(ctx, 501, "not implemented yet") // TODO(issue 6)
	_ = figures
}
