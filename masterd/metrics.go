package main

import (
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/daemon"
	"meseta/core/master"
)

// metrics is /metrics/snapshot on the leading master: the master's own
// figures (Master.Metrics) and what only the daemon measures, under
// Mesos's key names:
//
//   - allocator/mesos/allocation_runs, allocation_run_ms (the latest
//     run) and its /count /min /max /p50 /p90 /p95 /p99 /p999 over the
//     last keptTimings runs, allocation_run_latency_ms (how late the
//     latest run started after its tick);
//   - registrar/state_store_ms (the latest registry write) and the same
//     percentiles over the last keptTimings writes;
//   - master/event_queue_messages: the events queued on every open event
//     stream (frameworks' and agents'), not yet written to its
//     connection. meseta has no actor queue: these queues are where a
//     slow client makes work pile up. Beside it, master/event_streams (how
//     many streams are open) and master/event_stream_backlog_max (the
//     longest queue of one stream: a single stuck client shows here while
//     the sum stays small).
//
// master/uptime_secs is the process's uptime, as in Mesos, where the
// master runs from process start whether it leads or not; a standby
// reports the same (standbyMetrics).
func (s *server) metrics(m *master.Master) map[string]float64 {
	now := time.Now()
	out := m.Metrics(now)
	out["master/uptime_secs"] = now.Sub(s.start).Seconds()
	count, last, pct := s.sweeps.snapshot()
	out["allocator/mesos/allocation_runs"] = float64(count)
	out["allocator/mesos/allocation_run_ms"] = last
	out["allocator/mesos/allocation_run_latency_ms"] = ms(time.Duration(s.sweepLatency.Load()))
	for k, v := range pct {
		out["allocator/mesos/allocation_run_ms/"+k] = v
	}
	st := m.Allocator().Stats()
	// The allocator is called synchronously: it has no queue of its own.
	out["allocator/mesos/event_queue_dispatches"] = 0
	out["allocator/mesos/resources/offers_outstanding"] = float64(st.OutstandingOffers)
	out["allocator/mesos/offer_filters/active"] = float64(st.FiltersActive)
	queued, streams, longest := s.streamBacklog()
	out["master/event_queue_messages"] = float64(queued)
	out["master/event_streams"] = float64(streams)
	out["master/event_stream_backlog_max"] = float64(longest)
	_, regLast, regPct := s.regWrites.times.snapshot()
	for k, v := range regPct {
		out["registrar/state_store_ms/"+k] = v
	}
	out["registrar/state_store_ms"] = regLast
	return out
}

// streamBacklog returns the events queued on all open event streams, how
// many streams are open, and the longest queue of one stream. It takes
// each stream's lock in turn, never the master's.
func (s *server) streamBacklog() (queued, streams, longest int) {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	for st := range s.streams {
		n := st.QueueLen()
		queued += n
		longest = max(longest, n)
	}
	return queued, len(s.streams), longest
}

// standbyMetrics is /metrics/snapshot on a master that does not lead.
func (s *server) standbyMetrics() map[string]float64 {
	return map[string]float64{
		"master/elected":     0,
		"master/uptime_secs": time.Since(s.start).Seconds(),
	}
}

// prometheus writes the figures of /metrics/snapshot in the Prometheus
// text exposition format, under the names daemon.PrometheusName gives
// (master/cpus_total is mesos_master_cpus_total).
func (s *server) prometheus(ctx *fasthttp.RequestCtx, figures map[string]float64) {
	daemon.WritePrometheus(ctx, figures)
}
