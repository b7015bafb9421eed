package mesos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FieldError is a decoding or validation failure that names the field, in
// the dotted form of the JSON path ("accept.operations[0].type").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return fmt.Sprintf("invalid field %q: %s", e.Field, e.Msg)
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Decode decodes one JSON object into v, turning encoding/json's errors
// into FieldErrors that name the field. Trailing data is an error.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Msg: "malformed JSON: trailing data after the object"}
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return &FieldError{Msg: fmt.Sprintf("malformed JSON: expected %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)}
		}
		return fieldErr(field, "expected %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return &FieldError{Msg: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Msg: "malformed JSON: unexpected end of body"}
	}
	// Errors from UnmarshalJSON methods (resources, base64) carry no path.
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return &FieldError{Msg: "malformed JSON: " + msg}
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "float64", "float32", "int", "int32", "int64", "uint", "uint32", "uint64", "uint8":
		return "number"
	case "bool":
		return "boolean"
	}
	return k
}

// DecodeCall decodes and validates a scheduler call. The hot calls
// (ACKNOWLEDGE, DECLINE, REVIVE, SUPPRESS, ACCEPT with LAUNCH operations)
// are read by a hand-written decoder (codec.go); whatever it does not take
// is decoded again with Decode, so results and errors are Decode's.
func DecodeCall(data []byte) (*Call, error) {
	var c Call
	if !decodeCallFast(data, &c) {
		c = Call{}
		if err := Decode(data, &c); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks what decoding cannot: the call type, that the body for
// the type is present, required IDs, and enum names.
func (c *Call) Validate() error {
	if c.Type == "" {
		return fieldErr("type", "required")
	}
	if !callTypes[c.Type] {
		return fieldErr("type", "unknown call type %q", c.Type)
	}
	if c.Type != CallSubscribe && c.FrameworkID.Val() == "" {
		return fieldErr("framework_id", "required for %s", c.Type)
	}
	switch c.Type {
	case CallSubscribe:
		if c.Subscribe == nil {
			return fieldErr("subscribe", "required for SUBSCRIBE")
		}
		return c.Subscribe.validate("subscribe")
	case CallUpdateFramework:
		if c.UpdateFramework == nil {
			return fieldErr("update_framework", "required for UPDATE_FRAMEWORK")
		}
		return c.UpdateFramework.validate("update_framework")
	case CallAccept:
		if c.Accept == nil {
			return fieldErr("accept", "required for ACCEPT")
		}
		if err := validateIDs("accept.offer_ids", c.Accept.OfferIDs); err != nil {
			return err
		}
		for i := range c.Accept.Operations {
			if err := c.Accept.Operations[i].validate(fmt.Sprintf("accept.operations[%d]", i)); err != nil {
				return err
			}
		}
		return c.Accept.Filters.validate("accept.filters")
	case CallDecline:
		if c.Decline == nil {
			return fieldErr("decline", "required for DECLINE")
		}
		if err := validateIDs("decline.offer_ids", c.Decline.OfferIDs); err != nil {
			return err
		}
		return c.Decline.Filters.validate("decline.filters")
	case CallKill:
		if c.Kill == nil {
			return fieldErr("kill", "required for KILL")
		}
		if c.Kill.TaskID.Value == "" {
			return fieldErr("kill.task_id", "required")
		}
	case CallShutdown:
		if c.Shutdown == nil {
			return fieldErr("shutdown", "required for SHUTDOWN")
		}
		if c.Shutdown.ExecutorID.Value == "" {
			return fieldErr("shutdown.executor_id", "required")
		}
		if c.Shutdown.AgentID.Value == "" {
			return fieldErr("shutdown.agent_id", "required")
		}
	case CallAcknowledge:
		a := c.Acknowledge
		if a == nil {
			return fieldErr("acknowledge", "required for ACKNOWLEDGE")
		}
		if a.AgentID.Value == "" {
			return fieldErr("acknowledge.agent_id", "required")
		}
		if a.TaskID.Value == "" {
			return fieldErr("acknowledge.task_id", "required")
		}
		if len(a.UUID) == 0 {
			return fieldErr("acknowledge.uuid", "required")
		}
	case CallAcknowledgeOpStatus:
		a := c.AcknowledgeOperationStatus
		if a == nil {
			return fieldErr("acknowledge_operation_status", "required for ACKNOWLEDGE_OPERATION_STATUS")
		}
		if a.AgentID.Val() == "" {
			return fieldErr("acknowledge_operation_status.agent_id", "required")
		}
		if a.OperationID.Value == "" {
			return fieldErr("acknowledge_operation_status.operation_id", "required")
		}
		if len(a.UUID) == 0 {
			return fieldErr("acknowledge_operation_status.uuid", "required")
		}
	case CallAcceptInverseOffers, CallDeclineInverseOffers:
		body, name := c.AcceptInverseOffers, "accept_inverse_offers"
		if c.Type == CallDeclineInverseOffers {
			body, name = c.DeclineInverseOffers, "decline_inverse_offers"
		}
		if body == nil {
			return fieldErr(name, "required for %s", c.Type)
		}
		if len(body.InverseOfferIDs) == 0 {
			return fieldErr(name+".inverse_offer_ids", "required")
		}
		if err := validateIDs(name+".inverse_offer_ids", body.InverseOfferIDs); err != nil {
			return err
		}
		return body.Filters.validate(name + ".filters")
	case CallReconcileOperations:
		if c.ReconcileOperations != nil {
			for i, o := range c.ReconcileOperations.Operations {
				if o.OperationID.Value == "" {
					return fieldErr(fmt.Sprintf("reconcile_operations.operations[%d].operation_id", i), "required")
				}
			}
		}
	case CallReconcile:
		if c.Reconcile != nil {
			for i, t := range c.Reconcile.Tasks {
				if t.TaskID.Value == "" {
					return fieldErr(fmt.Sprintf("reconcile.tasks[%d].task_id", i), "required")
				}
			}
		}
	case CallMessage:
		m := c.Message
		if m == nil {
			return fieldErr("message", "required for MESSAGE")
		}
		if m.AgentID.Value == "" {
			return fieldErr("message.agent_id", "required")
		}
		if m.ExecutorID.Value == "" {
			return fieldErr("message.executor_id", "required")
		}
	}
	return nil
}

func (s *Subscribe) validate(path string) error {
	fi := &s.FrameworkInfo
	if fi.Name == "" {
		return fieldErr(path+".framework_info.name", "required")
	}
	if fi.FailoverTimeout < 0 {
		return fieldErr(path+".framework_info.failover_timeout", "must not be negative")
	}
	for i, c := range fi.Capabilities {
		if !frameworkCapabilities[c.Type] {
			return fieldErr(fmt.Sprintf("%s.framework_info.capabilities[%d].type", path, i), "unknown capability %q", c.Type)
		}
	}
	if len(fi.Roles) > 0 && !fi.HasCapability(CapMultiRole) {
		return fieldErr(path+".framework_info.roles", "needs the MULTI_ROLE capability (use role for a single role)")
	}
	if fi.Role != "" && len(fi.Roles) > 0 {
		return fieldErr(path+".framework_info.role", "set role or roles, not both")
	}
	return nil
}

func (f *Filters) validate(path string) error {
	if f == nil || f.RefuseSeconds == nil {
		return nil
	}
	if v := *f.RefuseSeconds; v != v { // NaN
		return fieldErr(path+".refuse_seconds", "not a number")
	}
	return nil
}

func (o *Operation) validate(path string) error {
	if !operationTypes[o.Type] {
		return fieldErr(path+".type", "unknown operation type %q", o.Type)
	}
	switch o.Type {
	case OpLaunch:
		if o.Launch == nil {
			return fieldErr(path+".launch", "required for LAUNCH")
		}
	case OpLaunchGroup:
		if o.LaunchGroup == nil {
			return fieldErr(path+".launch_group", "required for LAUNCH_GROUP")
		}
	case OpReserve:
		if o.Reserve == nil {
			return fieldErr(path+".reserve", "required for RESERVE")
		}
	case OpUnreserve:
		if o.Unreserve == nil {
			return fieldErr(path+".unreserve", "required for UNRESERVE")
		}
	case OpCreate:
		if o.Create == nil {
			return fieldErr(path+".create", "required for CREATE")
		}
	case OpDestroy:
		if o.Destroy == nil {
			return fieldErr(path+".destroy", "required for DESTROY")
		}
	}
	if o.ID != nil && o.ID.Value == "" {
		return fieldErr(path+".id.value", "required when id is set")
	}
	return nil
}

func validateIDs(path string, ids []ID) error {
	for i, id := range ids {
		if id.Value == "" {
			return fieldErr(fmt.Sprintf("%s[%d].value", path, i), "required")
		}
	}
	return nil
}

// DecodeExecutorCall decodes and validates an executor call.
func DecodeExecutorCall(data []byte) (*ExecutorCall, error) {
	var c ExecutorCall
	if err := Decode(data, &c); err != nil {
		return nil, err
	}
	switch c.Type {
	case "":
		return nil, fieldErr("type", "required")
	case ExecCallSubscribe, ExecCallHeartbeat:
	case ExecCallUpdate:
		if c.Update == nil {
			return nil, fieldErr("update", "required for UPDATE")
		}
		if c.Update.Status.TaskID.Value == "" {
			return nil, fieldErr("update.status.task_id", "required")
		}
		if !c.Update.Status.State.Valid() {
			return nil, fieldErr("update.status.state", "unknown task state %q", c.Update.Status.State)
		}
	case ExecCallMessage:
		if c.Message == nil {
			return nil, fieldErr("message", "required for MESSAGE")
		}
	default:
		return nil, fieldErr("type", "unknown call type %q", c.Type)
	}
	if c.ExecutorID.Value == "" {
		return nil, fieldErr("executor_id", "required")
	}
	if c.FrameworkID.Value == "" {
		return nil, fieldErr("framework_id", "required")
	}
	return &c, nil
}
