package main

import (
	"bufio"
	"time"

	"github.com/valyala/fasthttp"

	"meseta/core/agentapi"
	"meseta/core/daemon"
	"meseta/core/mesos"
	"meseta/core/recordio"
)

// executorAPI serves POST /api/v1/executor, the v1 executor HTTP API.
func (s *server) executorAPI(ctx *fasthttp.RequestCtx) {
	if !daemon.RequireJSONPost(ctx) {
		return
	}
	call, err := mesos.DecodeExecutorCall(ctx.PostBody())
	if err != nil {
		daemon.WriteError(ctx, 400, "Failed to validate executor::Call: "+err.Error())
		return
	}
	a := s.agent
	key := execKey{call.FrameworkID.Value, call.ExecutorID.Value}
	now := time.Now()
	switch call.Type {
	case mesos.ExecCallSubscribe:
		st := recordio.NewStream(&mesos.ExecutorEvent{Type: mesos.ExecEventHeartbeat})
		a.mu.Lock()
		ex := a.executors[key]
		if ex == nil || ex.state == execTerminated {
			a.mu.Unlock()
			daemon.WriteError(ctx, 400, "Executor "+key.executor+" of framework "+key.framework+" is not known to this agent")
			return
		}
		if ex.stream != nil {
			ex.stream.Close()
		}
		ex.stream = st
		ex.state = execRunning
		fw := a.frameworks[key.framework]
		sub := &mesos.ExecutorSubscribed{ExecutorInfo: ex.info, AgentInfo: mesos.AgentInfo{
			Hostname: a.cfg.hostname, Port: int32(portOf(a.endpoint)), ID: &mesos.ID{Value: a.id}, Resources: a.static},
			ContainerID: &mesos.ID{Value: ex.container}}
		if fw != nil {
			sub.FrameworkInfo = fw.info
		}
		st.SendJSON(&mesos.ExecutorEvent{Type: mesos.ExecEventSubscribed, Subscribed: sub})
		if ex.ready {
			for _, ev := range ex.queued {
				st.SendJSON(ev)
			}
			ex.queued = nil
		}
		// Updates the executor still holds unacknowledged after a
		// disconnection: take them (duplicates are dropped by uuid).
		var out []agentapi.StatusUpdate
		if call.Subscribe != nil {
			for _, u := range call.Subscribe.UnacknowledgedUpdates {
				if t := a.tasks[taskKey{key.framework, u.Status.TaskID.Value}]; t != nil && len(u.Status.UUID) > 0 {
					out = append(out, a.updateLocked(t, u.Status, now)...)
					st.SendJSON(&mesos.ExecutorEvent{Type: mesos.ExecEventAcknowledged,
						Acknowledged: &mesos.Acknowledged{TaskID: u.Status.TaskID, UUID: u.Status.UUID}})
				}
			}
		}
		a.mu.Unlock()
		a.sendUpdates(out)
		s.addStream(st)
		ctx.SetStatusCode(200)
		ctx.SetContentType("application/json")
		done := s.done
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			st.Run(w, 30*time.Second, done)
			s.dropStream(st)
			a.mu.Lock()
			if ex.stream == st {
				ex.stream = nil
			}
			a.mu.Unlock()
		})
	case mesos.ExecCallUpdate:
		status := call.Update.Status
		if len(status.UUID) == 0 {
			daemon.WriteError(ctx, 400, `invalid field "update.status.uuid": required`)
			return
		}
		if status.State == mesos.TaskStaging {
			daemon.WriteError(ctx, 400, `invalid field "update.status.state": executors may not send TASK_STAGING`)
			return
		}
		a.mu.Lock()
		ex := a.executors[key]
		t := a.tasks[taskKey{key.framework, status.TaskID.Value}]
		if ex == nil || t == nil || t.exec != ex {
			a.mu.Unlock()
			daemon.WriteError(ctx, 400, "Task "+status.TaskID.Value+" is not known to executor "+key.executor)
			return
		}
		status.Source = mesos.SourceExecutor
		status.ExecutorID = &mesos.ID{Value: key.executor}
		out := a.updateLocked(t, status, now)
		if ex.stream != nil {
			ex.stream.SendJSON(&mesos.ExecutorEvent{Type: mesos.ExecEventAcknowledged,
				Acknowledged: &mesos.Acknowledged{TaskID: status.TaskID, UUID: status.UUID}})
		}
		a.mu.Unlock()
		a.sendUpdates(out)
		ctx.SetStatusCode(202)
	case mesos.ExecCallMessage:
		a.mu.Lock()
		id := a.id
		a.mu.Unlock()
		a.outbox.add(agentapi.Call{Type: agentapi.CallMessage, AgentID: &mesos.ID{Value: id}, Message: &agentapi.Message{
			FrameworkID: call.FrameworkID, ExecutorID: call.ExecutorID, Data: call.Message.Data}})
		ctx.SetStatusCode(202)
	case mesos.ExecCallHeartbeat:
		ctx.SetStatusCode(202)
	}
}
