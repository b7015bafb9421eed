package synth

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"meseta/core/mesos"
)

// encoder writes the frequent calls of one subscribed framework from
// prefixes encoded once.
type encoder struct {
	ack     []byte // {"framework_id":{...},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":
	decline []byte // {"framework_id":{...},"type":"DECLINE","decline":{"offer_ids":[
	accept  []byte // {"framework_id":{...},"type":"ACCEPT","accept":{"offer_ids":[
}

func newEncoder(frameworkID string) encoder {
	fw := appendJSONString([]byte(`{"framework_id":{"value":`), frameworkID)
	fw = append(fw, `},"type":`...)
	return encoder{
		ack:     append(append([]byte(nil), fw...), `"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":`...),
		decline: append(append([]byte(nil), fw...), `"DECLINE","decline":{"offer_ids":[`...),
		accept:  append(append([]byte(nil), fw...), `"ACCEPT","accept":{"offer_ids":[`...),
	}
}

// appendAccept writes an ACCEPT of one offer that launches tasks, with a
// refuse_seconds 0 filter; ok is false if a task needs encoding/json
// (mesos.AppendTaskInfo's fast path does not take it).
func (e *encoder) appendAccept(dst []byte, offer string, tasks []mesos.TaskInfo) ([]byte, bool) {
	dst = append(dst, e.accept...)
	dst = append(dst, `{"value":`...)
	dst = appendJSONString(dst, offer)
	dst = append(dst, `}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[`...)
	for i := range tasks {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = mesos.AppendTaskInfo(dst, &tasks[i]); !ok {
			return dst, false
		}
	}
	return append(dst, `]}}],"filters":{"refuse_seconds":0}}}`...), true
}

func (e *encoder) appendAck(dst []byte, agentID, taskID string, uuid []byte) []byte {
	dst = append(dst, e.ack...)
	dst = appendJSONString(dst, agentID)
	dst = append(dst, `},"task_id":{"value":`...)
	dst = appendJSONString(dst, taskID)
	dst = append(dst, `},"uuid":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, uuid)
	return append(dst, `"}}`...)
}

func (e *encoder) appendDecline(dst []byte, offers []mesos.ID, refuseSeconds float64) []byte {
	dst = append(dst, e.decline...)
	for i, id := range offers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"value":`...)
		dst = appendJSONString(dst, id.Value)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"filters":{"refuse_seconds":`...)
	dst = strconv.AppendFloat(dst, refuseSeconds, 'g', -1, 64)
	return append(dst, `}}}`...)
}

// appendJSONString appends s as a JSON string: directly when it is plain
// printable ASCII (ids always are), else through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
