package agentapi

import (
	"encoding/json"

	"meseta/core/jsonwire"
	"meseta/core/mesos"
)

// This file is the fast path of the agent protocol's hot messages (see
// package jsonwire): batches of STATUS_UPDATE, PONG, EXECUTOR_EXITED and
// MESSAGE calls, and every event but REGISTERED, RUN_TASK_GROUP and
// CHECKPOINT_RESOURCES (RUN_TASK, ACKNOWLEDGE, PING and KILL_TASK are the hot ones). Encoders
// write exactly encoding/json's bytes or hand the whole message to
// encoding/json; decoders give up on anything unexpected (an unknown or
// repeated key, a null, an escaped string) and the message is decoded
// again the slow way, so values and errors are the slow path's.

// readName reads a string, returning the constant for the hot type
// names rather than allocating a copy.
func readName(r *jsonwire.Reader) string { return names.Read(r) }

var names = jsonwire.Names{}.Add(CallStatusUpdate, CallPong, CallExecutorExited,
	EventRunTask, EventPing, EventAcknowledge, EventKillTask)

// AppendBatch appends b exactly as json.Marshal(b) encodes it; calls
// other than REGISTER and REREGISTER are written by hand. A batch that
// json.Marshal refuses (a NaN timestamp) leaves dst unchanged.
func AppendBatch(dst []byte, b *Batch) []byte {
	n := len(dst)
	if out, ok := appendBatchFast(dst, b); ok {
		return out
	}
	enc, err := json.Marshal(b)
	if err != nil {
		return dst[:n]
	}
	return append(dst[:n], enc...)
}

func appendBatchFast(dst []byte, b *Batch) (_ []byte, ok bool) {
	if b.Calls == nil {
		return append(dst, `{"calls":null}`...), true
	}
	dst = append(dst, `{"calls":[`...)
	for i := range b.Calls {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, ok = appendCall(dst, &b.Calls[i]); !ok {
			return dst, false
		}
	}
	return append(dst, "]}"...), true
}

func appendCall(dst []byte, c *Call) (_ []byte, ok bool) {
	if c.Register != nil {
		return dst, false
	}
	dst = append(dst, `{"type":`...)
	dst = jsonwire.String(dst, c.Type)
	if c.AgentID != nil {
		dst = append(dst, `,"agent_id":`...)
		dst = mesos.AppendID(dst, *c.AgentID)
	}
	if u := c.StatusUpdate; u != nil {
		dst = append(dst, `,"status_update":{"framework_id":`...)
		dst = mesos.AppendID(dst, u.FrameworkID)
		dst = append(dst, `,"status":`...)
		if dst, ok = mesos.AppendTaskStatus(dst, &u.Status); !ok {
			return dst, false
		}
		if u.LatestState != "" {
			dst = append(dst, `,"latest_state":`...)
			dst = jsonwire.String(dst, string(u.LatestState))
		}
		dst = append(dst, '}')
	}
	if c.Pong != nil {
		dst = append(dst, `,"pong":{"seq":`...)
		dst = jsonwire.Uint(dst, c.Pong.Seq)
		dst = append(dst, '}')
	}
	if e := c.ExecutorExited; e != nil {
		dst = append(dst, `,"executor_exited":{"framework_id":`...)
		dst = mesos.AppendID(dst, e.FrameworkID)
		dst = append(dst, `,"executor_id":`...)
		dst = mesos.AppendID(dst, e.ExecutorID)
		dst = append(dst, `,"status":`...)
		dst = jsonwire.Int(dst, int64(e.Status))
		dst = append(dst, '}')
	}
	if c.Message != nil {
		dst = append(dst, `,"message":`...)
		dst = appendMessage(dst, c.Message)
	}
	return append(dst, '}'), true
}

func appendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"framework_id":`...)
	dst = mesos.AppendID(dst, m.FrameworkID)
	dst = append(dst, `,"executor_id":`...)
	dst = mesos.AppendID(dst, m.ExecutorID)
	dst = append(dst, `,"data":`...)
	dst = jsonwire.Bytes(dst, m.Data)
	return append(dst, '}')
}

// DecodeBatch decodes a batch of agent calls into b, which it resets
// first; the result and the error are those of mesos.Decode into a fresh
// Batch (the master's slow path). It does not validate the calls.
func DecodeBatch(data []byte, b *Batch) error {
	*b = Batch{}
	if decodeBatchFast(data, b) {
		return nil
	}
	*b = Batch{}
	return mesos.Decode(data, b)
}

func decodeBatchFast(data []byte, b *Batch) bool {
	var rd jsonwire.Reader
	rd.Reset(data)
	r := &rd
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "calls" {
			r.Fail()
			break
		}
		f.Once(r, 0)
		b.Calls = []Call{}
		ait := r.Array()
		for r.Elem(&ait) {
			b.Calls = append(b.Calls, Call{})
			readCall(r, &b.Calls[len(b.Calls)-1])
		}
	}
	return r.End() == nil
}

func readCall(r *jsonwire.Reader, c *Call) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "type":
			f.Once(r, 0)
			c.Type = readName(r)
		case "agent_id":
			f.Once(r, 1)
			c.AgentID = new(mesos.ID)
			mesos.ReadID(r, c.AgentID)
		case "status_update":
			f.Once(r, 2)
			c.StatusUpdate = readStatusUpdate(r)
		case "pong":
			f.Once(r, 3)
			c.Pong = &Pong{Seq: readSeq(r)}
		case "executor_exited":
			f.Once(r, 4)
			c.ExecutorExited = readExecutorExited(r)
		case "message":
			f.Once(r, 5)
			c.Message = readMessage(r)
		default:
			r.Fail()
		}
	}
}

func readStatusUpdate(r *jsonwire.Reader) *StatusUpdate {
	u := new(StatusUpdate)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_id":
			f.Once(r, 0)
			mesos.ReadID(r, &u.FrameworkID)
		case "status":
			f.Once(r, 1)
			mesos.ReadTaskStatus(r, &u.Status)
		case "latest_state":
			f.Once(r, 2)
			u.LatestState = mesos.TaskState(mesos.ReadName(r))
		default:
			r.Fail()
		}
	}
	return u
}

// readSeq reads {"seq": n} (Ping and Pong).
func readSeq(r *jsonwire.Reader) uint64 {
	var seq uint64
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "seq" {
			r.Fail()
			break
		}
		f.Once(r, 0)
		seq = r.Uint(64)
	}
	return seq
}

func readExecutorExited(r *jsonwire.Reader) *ExecutorExited {
	e := new(ExecutorExited)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_id":
			f.Once(r, 0)
			mesos.ReadID(r, &e.FrameworkID)
		case "executor_id":
			f.Once(r, 1)
			mesos.ReadID(r, &e.ExecutorID)
		case "status":
			f.Once(r, 2)
			e.Status = int32(r.Int(32))
		default:
			r.Fail()
		}
	}
	return e
}

func readMessage(r *jsonwire.Reader) *Message {
	m := new(Message)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_id":
			f.Once(r, 0)
			mesos.ReadID(r, &m.FrameworkID)
		case "executor_id":
			f.Once(r, 1)
			mesos.ReadID(r, &m.ExecutorID)
		case "data":
			f.Once(r, 2)
			m.Data = r.Base64()
		default:
			r.Fail()
		}
	}
	return m
}

// AppendEvent appends ev exactly as json.Marshal(ev) encodes it; events
// other than REGISTERED and RUN_TASK_GROUP are written by hand (a task
// with an executor goes to encoding/json too). An event that json.Marshal
// refuses (a NaN failover timeout) leaves dst unchanged.
func AppendEvent(dst []byte, ev *Event) []byte {
	n := len(dst)
	if out, ok := appendEventFast(dst, ev); ok {
		return out
	}
	enc, err := json.Marshal(ev)
	if err != nil {
		return dst[:n]
	}
	return append(dst[:n], enc...)
}

func appendEventFast(dst []byte, ev *Event) (_ []byte, ok bool) {
	if ev.Registered != nil || ev.RunTaskGroup != nil || ev.CheckpointResources != nil {
		return dst, false
	}
	dst = append(dst, `{"type":`...)
	dst = jsonwire.String(dst, ev.Type)
	if ev.Ping != nil {
		dst = append(dst, `,"ping":{"seq":`...)
		dst = jsonwire.Uint(dst, ev.Ping.Seq)
		dst = append(dst, '}')
	}
	if rt := ev.RunTask; rt != nil {
		dst = append(dst, `,"run_task":{"framework_info":`...)
		if dst, ok = mesos.AppendFrameworkInfo(dst, &rt.FrameworkInfo); !ok {
			return dst, false
		}
		dst = append(dst, `,"task":`...)
		if dst, ok = mesos.AppendTaskInfo(dst, &rt.Task); !ok {
			return dst, false
		}
		dst = append(dst, `,"role":`...)
		dst = jsonwire.String(dst, rt.Role)
		dst = append(dst, '}')
	}
	if kt := ev.KillTask; kt != nil {
		dst = append(dst, `,"kill_task":{"framework_id":`...)
		dst = mesos.AppendID(dst, kt.FrameworkID)
		dst = append(dst, `,"task_id":`...)
		dst = mesos.AppendID(dst, kt.TaskID)
		if kt.KillPolicy != nil {
			dst = append(dst, `,"kill_policy":`...)
			dst = mesos.AppendKillPolicy(dst, kt.KillPolicy)
		}
		dst = append(dst, '}')
	}
	if sf := ev.ShutdownFramework; sf != nil {
		dst = append(dst, `,"shutdown_framework":{"framework_id":`...)
		dst = mesos.AppendID(dst, sf.FrameworkID)
		dst = append(dst, '}')
	}
	if se := ev.ShutdownExecutor; se != nil {
		dst = append(dst, `,"shutdown_executor":{"framework_id":`...)
		dst = mesos.AppendID(dst, se.FrameworkID)
		dst = append(dst, `,"executor_id":`...)
		dst = mesos.AppendID(dst, se.ExecutorID)
		dst = append(dst, '}')
	}
	if a := ev.Acknowledge; a != nil {
		dst = append(dst, `,"acknowledge":{"framework_id":`...)
		dst = mesos.AppendID(dst, a.FrameworkID)
		dst = append(dst, `,"task_id":`...)
		dst = mesos.AppendID(dst, a.TaskID)
		dst = append(dst, `,"uuid":`...)
		dst = jsonwire.Bytes(dst, a.UUID)
		dst = append(dst, '}')
	}
	if ev.Message != nil {
		dst = append(dst, `,"message":`...)
		dst = appendMessage(dst, ev.Message)
	}
	if ev.UpdateFramework != nil {
		dst = append(dst, `,"update_framework":`...)
		if dst, ok = mesos.AppendFrameworkInfo(dst, ev.UpdateFramework); !ok {
			return dst, false
		}
	}
	if ev.Shutdown != nil {
		dst = append(dst, `,"shutdown":{"message":`...)
		dst = jsonwire.String(dst, ev.Shutdown.Message)
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// DecodeEvent decodes an event from the master into ev, which it resets
// first; the result and the error are json.Unmarshal's into a fresh
// Event.
func DecodeEvent(data []byte, ev *Event) error {
	*ev = Event{}
	if decodeEventFast(data, ev) {
		return nil
	}
	*ev = Event{}
	return json.Unmarshal(data, ev)
}

func decodeEventFast(data []byte, ev *Event) bool {
	var rd jsonwire.Reader
	rd.Reset(data)
	r := &rd
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "type":
			f.Once(r, 0)
			ev.Type = readName(r)
		case "ping":
			f.Once(r, 1)
			ev.Ping = &Ping{Seq: readSeq(r)}
		case "run_task":
			f.Once(r, 2)
			ev.RunTask = readRunTask(r)
		case "kill_task":
			f.Once(r, 3)
			ev.KillTask = readKillTask(r)
		case "shutdown_framework":
			f.Once(r, 4)
			ev.ShutdownFramework = new(FrameworkRef)
			readRefs(r, &ev.ShutdownFramework.FrameworkID, nil)
		case "shutdown_executor":
			f.Once(r, 5)
			ev.ShutdownExecutor = new(ExecutorRef)
			readRefs(r, &ev.ShutdownExecutor.FrameworkID, &ev.ShutdownExecutor.ExecutorID)
		case "acknowledge":
			f.Once(r, 6)
			ev.Acknowledge = readAcknowledge(r)
		case "message":
			f.Once(r, 7)
			ev.Message = readMessage(r)
		case "update_framework":
			f.Once(r, 8)
			ev.UpdateFramework = new(mesos.FrameworkInfo)
			mesos.ReadFrameworkInfo(r, ev.UpdateFramework)
		case "shutdown":
			f.Once(r, 9)
			ev.Shutdown = new(Shutdown)
			var sf jsonwire.Seen
			sit := r.Object()
			for k, ok := r.Field(&sit); ok; k, ok = r.Field(&sit) {
				if string(k) != "message" {
					r.Fail()
					break
				}
				sf.Once(r, 0)
				ev.Shutdown.Message = r.String()
			}
		default:
			r.Fail()
		}
	}
	return r.End() == nil
}

func readRunTask(r *jsonwire.Reader) *RunTask {
	rt := new(RunTask)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_info":
			f.Once(r, 0)
			mesos.ReadFrameworkInfo(r, &rt.FrameworkInfo)
		case "task":
			f.Once(r, 1)
			mesos.ReadTaskInfo(r, &rt.Task)
		case "role":
			f.Once(r, 2)
			rt.Role = r.String()
		default:
			r.Fail()
		}
	}
	return rt
}

func readKillTask(r *jsonwire.Reader) *KillTask {
	kt := new(KillTask)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_id":
			f.Once(r, 0)
			mesos.ReadID(r, &kt.FrameworkID)
		case "task_id":
			f.Once(r, 1)
			mesos.ReadID(r, &kt.TaskID)
		case "kill_policy":
			f.Once(r, 2)
			kt.KillPolicy = mesos.ReadKillPolicy(r)
		default:
			r.Fail()
		}
	}
	return kt
}

// readRefs reads {"framework_id": ..., "executor_id": ...}; executor_id
// only when exec is not nil.
func readRefs(r *jsonwire.Reader, fw, exec *mesos.ID) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch {
		case string(k) == "framework_id":
			f.Once(r, 0)
			mesos.ReadID(r, fw)
		case string(k) == "executor_id" && exec != nil:
			f.Once(r, 1)
			mesos.ReadID(r, exec)
		default:
			r.Fail()
		}
	}
}

func readAcknowledge(r *jsonwire.Reader) *Acknowledge {
	a := new(Acknowledge)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_id":
			f.Once(r, 0)
			mesos.ReadID(r, &a.FrameworkID)
		case "task_id":
			f.Once(r, 1)
			mesos.ReadID(r, &a.TaskID)
		case "uuid":
			f.Once(r, 2)
			a.UUID = r.Base64()
		default:
			r.Fail()
		}
	}
	return a
}
