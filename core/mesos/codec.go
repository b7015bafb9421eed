package mesos

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"meseta/core"
	"meseta/core/jsonwire"
)

// This file is the fast path of the scheduler API's hot messages (see
// package jsonwire and the package doc): UPDATE, OFFERS, HEARTBEAT and
// RESCIND events, and ACKNOWLEDGE, DECLINE, REVIVE, SUPPRESS and ACCEPT
// (with LAUNCH operations) calls.
//
// Appenders return ok = false for a value they do not write (a field the
// fast path leaves out, a float encoding/json refuses); the caller then
// encodes the whole message with encoding/json. Readers fail the Reader
// on anything but the members they know, each at most once and never
// null; the caller then decodes the whole message with encoding/json.

// names holds the protocol's enum names (task states, sources, reasons,
// call, event and operation types), so that ReadName returns the
// constant instead of allocating a copy.
var names = func() jsonwire.Names {
	m := jsonwire.Names{}
	for s := range taskStates {
		m[string(s)] = string(s)
	}
	for s := range callTypes {
		m[s] = s
	}
	for s := range operationTypes {
		m[s] = s
	}
	for _, s := range []string{
		SourceMaster, SourceAgent, SourceExecutor,
		ReasonCommandExecutorFailed, ReasonContainerLaunchFailed, ReasonContainerLimitationMemory,
		ReasonExecutorTerminated, ReasonExecutorRegistrationTimeout, ReasonFrameworkRemoved,
		ReasonInvalidOffers, ReasonReconciliation, ReasonAgentRemoved, ReasonAgentRestarted,
		ReasonAgentUnknown, ReasonTaskKilledDuringLaunch, ReasonTaskGroupInvalid, ReasonTaskInvalid,
		ReasonTaskUnknown, ReasonAgentRemovedByOperator,
		EventSubscribed, EventOffers, EventRescind, EventUpdate, EventMessage, EventFailure, EventError, EventHeartbeat,
		"*", "SCALAR", "RANGES", "SET", "TEXT",
	} {
		m[s] = s
	}
	return m
}()

// ReadName reads a string like String, but returns a shared copy of the
// protocol's enum names (TASK_RUNNING, SOURCE_EXECUTOR, UPDATE, ...)
// rather than allocating one.
func ReadName(r *jsonwire.Reader) string { return names.Read(r) }

// finite reports whether encoding/json can write f.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// AppendID appends id as {"value": ...}.
func AppendID(dst []byte, id ID) []byte {
	dst = append(dst, `{"value":`...)
	dst = jsonwire.String(dst, id.Value)
	return append(dst, '}')
}

// ReadID reads {"value": ...} into id.
func ReadID(r *jsonwire.Reader, id *ID) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "value" {
			r.Fail()
			return
		}
		f.Once(r, 0)
		id.Value = r.String()
	}
}

func readIDPtr(r *jsonwire.Reader) *ID {
	id := new(ID)
	ReadID(r, id)
	return id
}

// readIDs reads a list of IDs; [] is an empty, non-nil list.
func readIDs(r *jsonwire.Reader) []ID {
	ids := []ID{}
	it := r.Array()
	for r.Elem(&it) {
		ids = append(ids, ID{})
		ReadID(r, &ids[len(ids)-1])
	}
	return ids
}

func readStrings(r *jsonwire.Reader) []string {
	out := []string{}
	it := r.Array()
	for r.Elem(&it) {
		out = append(out, r.String())
	}
	return out
}

func appendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonwire.String(dst, s)
	}
	return append(dst, ']')
}

func appendLabels(dst []byte, l *Labels) []byte {
	dst = append(dst, `{"labels":`...)
	if l.Labels == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, x := range l.Labels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"key":`...)
			dst = jsonwire.String(dst, x.Key)
			if x.Value != "" {
				dst = append(dst, `,"value":`...)
				dst = jsonwire.String(dst, x.Value)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func readLabels(r *jsonwire.Reader) *Labels {
	l := new(Labels)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "labels" {
			r.Fail()
			return l
		}
		f.Once(r, 0)
		l.Labels = []Label{}
		ait := r.Array()
		for r.Elem(&ait) {
			var x Label
			var lf jsonwire.Seen
			lit := r.Object()
			for k, ok := r.Field(&lit); ok; k, ok = r.Field(&lit) {
				switch string(k) {
				case "key":
					lf.Once(r, 0)
					x.Key = r.String()
				case "value":
					lf.Once(r, 1)
					x.Value = r.String()
				default:
					r.Fail()
				}
			}
			l.Labels = append(l.Labels, x)
		}
	}
	return l
}

// AppendTaskStatus appends s as encoding/json writes it; ok is false when
// its timestamp is not finite (encoding/json refuses it).
func AppendTaskStatus(dst []byte, s *TaskStatus) ([]byte, bool) {
	if !finite(s.Timestamp) {
		return dst, false
	}
	dst = append(dst, `{"task_id":`...)
	dst = AppendID(dst, s.TaskID)
	dst = append(dst, `,"state":`...)
	dst = jsonwire.String(dst, string(s.State))
	if s.Message != "" {
		dst = append(dst, `,"message":`...)
		dst = jsonwire.String(dst, s.Message)
	}
	if s.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = jsonwire.String(dst, s.Source)
	}
	if s.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = jsonwire.String(dst, s.Reason)
	}
	if len(s.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = jsonwire.Bytes(dst, s.Data)
	}
	if s.AgentID != nil {
		dst = append(dst, `,"agent_id":`...)
		dst = AppendID(dst, *s.AgentID)
	}
	if s.ExecutorID != nil {
		dst = append(dst, `,"executor_id":`...)
		dst = AppendID(dst, *s.ExecutorID)
	}
	if s.Timestamp != 0 {
		dst = append(dst, `,"timestamp":`...)
		dst = jsonwire.Float(dst, s.Timestamp)
	}
	if len(s.UUID) > 0 {
		dst = append(dst, `,"uuid":`...)
		dst = jsonwire.Bytes(dst, s.UUID)
	}
	if s.Healthy != nil {
		dst = append(dst, `,"healthy":`...)
		dst = jsonwire.Bool(dst, *s.Healthy)
	}
	if s.Labels != nil {
		dst = append(dst, `,"labels":`...)
		dst = appendLabels(dst, s.Labels)
	}
	if s.UnreachableTime != nil {
		dst = append(dst, `,"unreachable_time":{"nanoseconds":`...)
		dst = jsonwire.Int(dst, s.UnreachableTime.Nanoseconds)
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// ReadTaskStatus reads a TaskStatus object into s (all its members).
func ReadTaskStatus(r *jsonwire.Reader, s *TaskStatus) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "task_id":
			f.Once(r, 0)
			ReadID(r, &s.TaskID)
		case "state":
			f.Once(r, 1)
			s.State = TaskState(ReadName(r))
		case "message":
			f.Once(r, 2)
			s.Message = r.String()
		case "source":
			f.Once(r, 3)
			s.Source = ReadName(r)
		case "reason":
			f.Once(r, 4)
			s.Reason = ReadName(r)
		case "data":
			f.Once(r, 5)
			s.Data = r.Base64()
		case "agent_id":
			f.Once(r, 6)
			s.AgentID = readIDPtr(r)
		case "executor_id":
			f.Once(r, 7)
			s.ExecutorID = readIDPtr(r)
		case "timestamp":
			f.Once(r, 8)
			s.Timestamp = r.Float()
		case "uuid":
			f.Once(r, 9)
			s.UUID = r.Base64()
		case "healthy":
			f.Once(r, 10)
			h := r.Bool()
			s.Healthy = &h
		case "labels":
			f.Once(r, 11)
			s.Labels = readLabels(r)
		case "unreachable_time":
			f.Once(r, 12)
			s.UnreachableTime = &TimeInfo{Nanoseconds: readNanoseconds(r)}
		default:
			r.Fail()
		}
	}
}

// readNanoseconds reads {"nanoseconds": n} (DurationInfo and TimeInfo).
func readNanoseconds(r *jsonwire.Reader) int64 {
	var n int64
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "nanoseconds" {
			r.Fail()
			return 0
		}
		f.Once(r, 0)
		n = r.Int(64)
	}
	return n
}

// AppendKillPolicy appends p as encoding/json writes it.
func AppendKillPolicy(dst []byte, p *KillPolicy) []byte {
	dst = append(dst, '{')
	if p.GracePeriod != nil {
		dst = append(dst, `"grace_period":{"nanoseconds":`...)
		dst = jsonwire.Int(dst, p.GracePeriod.Nanoseconds)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// ReadKillPolicy reads a KillPolicy object.
func ReadKillPolicy(r *jsonwire.Reader) *KillPolicy {
	p := new(KillPolicy)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "grace_period" {
			r.Fail()
			return p
		}
		f.Once(r, 0)
		p.GracePeriod = &DurationInfo{Nanoseconds: readNanoseconds(r)}
	}
	return p
}

// AppendTaskInfo appends t as encoding/json writes it; ok is false for a
// task with an executor (which the fast path does not write).
func AppendTaskInfo(dst []byte, t *TaskInfo) ([]byte, bool) {
	if t.Executor != nil {
		return dst, false
	}
	dst = append(dst, `{"name":`...)
	dst = jsonwire.String(dst, t.Name)
	dst = append(dst, `,"task_id":`...)
	dst = AppendID(dst, t.TaskID)
	dst = append(dst, `,"agent_id":`...)
	dst = AppendID(dst, t.AgentID)
	if len(t.Resources) > 0 {
		dst = append(dst, `,"resources":[`...)
		for i := range t.Resources {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = core.AppendResourceJSON(dst, t.Resources[i])
		}
		dst = append(dst, ']')
	}
	if t.Command != nil {
		dst = append(dst, `,"command":`...)
		dst = appendCommand(dst, t.Command)
	}
	if t.KillPolicy != nil {
		dst = append(dst, `,"kill_policy":`...)
		dst = AppendKillPolicy(dst, t.KillPolicy)
	}
	if len(t.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = jsonwire.Bytes(dst, t.Data)
	}
	if t.Labels != nil {
		dst = append(dst, `,"labels":`...)
		dst = appendLabels(dst, t.Labels)
	}
	return append(dst, '}'), true
}

// ReadTaskInfo reads a TaskInfo object into t; an executor fails r.
func ReadTaskInfo(r *jsonwire.Reader, t *TaskInfo) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "name":
			f.Once(r, 0)
			t.Name = r.String()
		case "task_id":
			f.Once(r, 1)
			ReadID(r, &t.TaskID)
		case "agent_id":
			f.Once(r, 2)
			ReadID(r, &t.AgentID)
		case "resources":
			f.Once(r, 3)
			t.Resources = core.ReadResourcesJSON(r)
		case "command":
			f.Once(r, 4)
			t.Command = readCommand(r)
		case "kill_policy":
			f.Once(r, 5)
			t.KillPolicy = ReadKillPolicy(r)
		case "data":
			f.Once(r, 6)
			t.Data = r.Base64()
		case "labels":
			f.Once(r, 7)
			t.Labels = readLabels(r)
		default:
			r.Fail()
		}
	}
}

func appendCommand(dst []byte, c *CommandInfo) []byte {
	dst = append(dst, '{')
	if len(c.URIs) > 0 {
		dst = append(dst, `"uris":[`...)
		for i := range c.URIs {
			u := &c.URIs[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"value":`...)
			dst = jsonwire.String(dst, u.Value)
			if u.Executable {
				dst = append(dst, `,"executable":true`...)
			}
			if u.Extract != nil {
				dst = append(dst, `,"extract":`...)
				dst = jsonwire.Bool(dst, *u.Extract)
			}
			if u.Cache {
				dst = append(dst, `,"cache":true`...)
			}
			if u.OutputFile != "" {
				dst = append(dst, `,"output_file":`...)
				dst = jsonwire.String(dst, u.OutputFile)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if e := c.Environment; e != nil {
		dst = jsonwire.Key(dst, "environment")
		dst = append(dst, `{"variables":`...)
		if e.Variables == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for i, v := range e.Variables {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"name":`...)
				dst = jsonwire.String(dst, v.Name)
				if v.Type != "" {
					dst = append(dst, `,"type":`...)
					dst = jsonwire.String(dst, v.Type)
				}
				if v.Value != "" {
					dst = append(dst, `,"value":`...)
					dst = jsonwire.String(dst, v.Value)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	if c.Shell != nil {
		dst = jsonwire.Key(dst, "shell")
		dst = jsonwire.Bool(dst, *c.Shell)
	}
	if c.Value != "" {
		dst = jsonwire.Key(dst, "value")
		dst = jsonwire.String(dst, c.Value)
	}
	if len(c.Arguments) > 0 {
		dst = jsonwire.Key(dst, "arguments")
		dst = appendStrings(dst, c.Arguments)
	}
	if c.User != "" {
		dst = jsonwire.Key(dst, "user")
		dst = jsonwire.String(dst, c.User)
	}
	return append(dst, '}')
}

func readCommand(r *jsonwire.Reader) *CommandInfo {
	c := new(CommandInfo)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "uris":
			f.Once(r, 0)
			c.URIs = []URI{}
			ait := r.Array()
			for r.Elem(&ait) {
				c.URIs = append(c.URIs, URI{})
				readURI(r, &c.URIs[len(c.URIs)-1])
			}
		case "environment":
			f.Once(r, 1)
			c.Environment = readEnvironment(r)
		case "shell":
			f.Once(r, 2)
			b := r.Bool()
			c.Shell = &b
		case "value":
			f.Once(r, 3)
			c.Value = r.String()
		case "arguments":
			f.Once(r, 4)
			c.Arguments = readStrings(r)
		case "user":
			f.Once(r, 5)
			c.User = r.String()
		default:
			r.Fail()
		}
	}
	return c
}

func readURI(r *jsonwire.Reader, u *URI) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "value":
			f.Once(r, 0)
			u.Value = r.String()
		case "executable":
			f.Once(r, 1)
			u.Executable = r.Bool()
		case "extract":
			f.Once(r, 2)
			b := r.Bool()
			u.Extract = &b
		case "cache":
			f.Once(r, 3)
			u.Cache = r.Bool()
		case "output_file":
			f.Once(r, 4)
			u.OutputFile = r.String()
		default:
			r.Fail()
		}
	}
}

func readEnvironment(r *jsonwire.Reader) *Environment {
	e := new(Environment)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != "variables" {
			r.Fail()
			return e
		}
		f.Once(r, 0)
		e.Variables = []Variable{}
		ait := r.Array()
		for r.Elem(&ait) {
			var v Variable
			var vf jsonwire.Seen
			vit := r.Object()
			for k, ok := r.Field(&vit); ok; k, ok = r.Field(&vit) {
				switch string(k) {
				case "name":
					vf.Once(r, 0)
					v.Name = r.String()
				case "type":
					vf.Once(r, 1)
					v.Type = r.String()
				case "value":
					vf.Once(r, 2)
					v.Value = r.String()
				default:
					r.Fail()
				}
			}
			e.Variables = append(e.Variables, v)
		}
	}
	return e
}

// AppendFrameworkInfo appends fi as encoding/json writes it; ok is false
// when its failover timeout is not finite.
func AppendFrameworkInfo(dst []byte, fi *FrameworkInfo) ([]byte, bool) {
	if !finite(fi.FailoverTimeout) {
		return dst, false
	}
	dst = append(dst, `{"user":`...)
	dst = jsonwire.String(dst, fi.User)
	dst = append(dst, `,"name":`...)
	dst = jsonwire.String(dst, fi.Name)
	if fi.ID != nil {
		dst = append(dst, `,"id":`...)
		dst = AppendID(dst, *fi.ID)
	}
	if fi.FailoverTimeout != 0 {
		dst = append(dst, `,"failover_timeout":`...)
		dst = jsonwire.Float(dst, fi.FailoverTimeout)
	}
	if fi.Checkpoint {
		dst = append(dst, `,"checkpoint":true`...)
	}
	if fi.Role != "" {
		dst = append(dst, `,"role":`...)
		dst = jsonwire.String(dst, fi.Role)
	}
	if len(fi.Roles) > 0 {
		dst = append(dst, `,"roles":`...)
		dst = appendStrings(dst, fi.Roles)
	}
	if fi.Hostname != "" {
		dst = append(dst, `,"hostname":`...)
		dst = jsonwire.String(dst, fi.Hostname)
	}
	if fi.Principal != "" {
		dst = append(dst, `,"principal":`...)
		dst = jsonwire.String(dst, fi.Principal)
	}
	if fi.WebUIURL != "" {
		dst = append(dst, `,"webui_url":`...)
		dst = jsonwire.String(dst, fi.WebUIURL)
	}
	if len(fi.Capabilities) > 0 {
		dst = append(dst, `,"capabilities":[`...)
		for i, c := range fi.Capabilities {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"type":`...)
			dst = jsonwire.String(dst, c.Type)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if fi.Labels != nil {
		dst = append(dst, `,"labels":`...)
		dst = appendLabels(dst, fi.Labels)
	}
	return append(dst, '}'), true
}

// ReadFrameworkInfo reads a FrameworkInfo object into fi (all its
// members).
func ReadFrameworkInfo(r *jsonwire.Reader, fi *FrameworkInfo) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "user":
			f.Once(r, 0)
			fi.User = r.String()
		case "name":
			f.Once(r, 1)
			fi.Name = r.String()
		case "id":
			f.Once(r, 2)
			fi.ID = readIDPtr(r)
		case "failover_timeout":
			f.Once(r, 3)
			fi.FailoverTimeout = r.Float()
		case "checkpoint":
			f.Once(r, 4)
			fi.Checkpoint = r.Bool()
		case "role":
			f.Once(r, 5)
			fi.Role = r.String()
		case "roles":
			f.Once(r, 6)
			fi.Roles = readStrings(r)
		case "hostname":
			f.Once(r, 7)
			fi.Hostname = r.String()
		case "principal":
			f.Once(r, 8)
			fi.Principal = r.String()
		case "webui_url":
			f.Once(r, 9)
			fi.WebUIURL = r.String()
		case "capabilities":
			f.Once(r, 10)
			fi.Capabilities = []Capability{}
			ait := r.Array()
			for r.Elem(&ait) {
				var c Capability
				var cf jsonwire.Seen
				cit := r.Object()
				for k, ok := r.Field(&cit); ok; k, ok = r.Field(&cit) {
					if string(k) != "type" {
						r.Fail()
						break
					}
					cf.Once(r, 0)
					c.Type = ReadName(r)
				}
				fi.Capabilities = append(fi.Capabilities, c)
			}
		case "labels":
			f.Once(r, 11)
			fi.Labels = readLabels(r)
		default:
			r.Fail()
		}
	}
}

// quoteSafe reports whether the role that OfferResources.MarshalJSON
// writes with strconv.Quote comes out, once encoding/json has compacted
// it, as jsonwire.String writes it: true when every rune is printable
// (Quote writes it as is, or \" and \\ as JSON does, and compacting
// escapes <, > and & as jsonwire does). Other roles make Quote write Go
// escapes, some of which are not JSON, so they take the slow path.
func quoteSafe(s string) bool {
	for _, c := range s {
		if c == utf8.RuneError || !strconv.IsPrint(c) {
			return false
		}
	}
	return true
}

// appendOfferResources appends o as OfferResources.MarshalJSON writes it
// (after encoding/json compacts it).
func appendOfferResources(dst []byte, o *OfferResources) ([]byte, bool) {
	if o.Role != "" && !quoteSafe(o.Role) {
		return dst, false
	}
	dst = append(dst, '[')
	for i := range o.Resources {
		r := &o.Resources[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if o.Role != "" {
			dst = append(dst, `"allocation_info":{"role":`...)
			dst = jsonwire.String(dst, o.Role)
			dst = append(dst, '}')
		}
		if !r.IsReserved() {
			dst = jsonwire.Key(dst, "role")
			dst = append(dst, `"*"`...)
		}
		dst = core.AppendResourceFields(dst, *r)
		dst = append(dst, '}')
	}
	return append(dst, ']'), true
}

func appendAttribute(dst []byte, a *Attribute) ([]byte, bool) {
	dst = append(dst, `{"name":`...)
	dst = jsonwire.String(dst, a.Name)
	dst = append(dst, `,"type":`...)
	dst = jsonwire.String(dst, a.Type)
	if a.Scalar != nil {
		if !finite(a.Scalar.Value) {
			return dst, false
		}
		dst = append(dst, `,"scalar":{"value":`...)
		dst = jsonwire.Float(dst, a.Scalar.Value)
		dst = append(dst, '}')
	}
	if a.Ranges != nil {
		dst = append(dst, `,"ranges":{"range":`...)
		if a.Ranges.Range == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for i, rg := range a.Ranges.Range {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"begin":`...)
				dst = jsonwire.Uint(dst, rg.Begin)
				dst = append(dst, `,"end":`...)
				dst = jsonwire.Uint(dst, rg.End)
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	if a.Set != nil {
		dst = append(dst, `,"set":{"item":`...)
		dst = appendStrings(dst, a.Set.Item)
		dst = append(dst, '}')
	}
	if a.Text != nil {
		dst = append(dst, `,"text":{"value":`...)
		dst = jsonwire.String(dst, a.Text.Value)
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

func readAttribute(r *jsonwire.Reader, a *Attribute) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "name":
			f.Once(r, 0)
			a.Name = r.String()
		case "type":
			f.Once(r, 1)
			a.Type = ReadName(r)
		case "scalar":
			f.Once(r, 2)
			a.Scalar = new(Scalar)
			readSingle(r, "value", func() { a.Scalar.Value = r.Float() })
		case "ranges":
			f.Once(r, 3)
			a.Ranges = new(Ranges)
			readSingle(r, "range", func() {
				a.Ranges.Range = []Range{}
				ait := r.Array()
				for r.Elem(&ait) {
					var rg Range
					var rf jsonwire.Seen
					rit := r.Object()
					for k, ok := r.Field(&rit); ok; k, ok = r.Field(&rit) {
						switch string(k) {
						case "begin":
							rf.Once(r, 0)
							rg.Begin = r.Uint(64)
						case "end":
							rf.Once(r, 1)
							rg.End = r.Uint(64)
						default:
							r.Fail()
						}
					}
					a.Ranges.Range = append(a.Ranges.Range, rg)
				}
			})
		case "set":
			f.Once(r, 4)
			a.Set = new(Set)
			readSingle(r, "item", func() { a.Set.Item = readStrings(r) })
		case "text":
			f.Once(r, 5)
			a.Text = new(Text)
			readSingle(r, "value", func() { a.Text.Value = r.String() })
		default:
			r.Fail()
		}
	}
}

// readSingle reads an object whose only known member is key, reading
// its value with read.
func readSingle(r *jsonwire.Reader, key string, read func()) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		if string(k) != key {
			r.Fail()
			return
		}
		f.Once(r, 0)
		read()
	}
}

func appendOffer(dst []byte, o *Offer) ([]byte, bool) {
	ok := true
	dst = append(dst, `{"id":`...)
	dst = AppendID(dst, o.ID)
	dst = append(dst, `,"framework_id":`...)
	dst = AppendID(dst, o.FrameworkID)
	dst = append(dst, `,"agent_id":`...)
	dst = AppendID(dst, o.AgentID)
	dst = append(dst, `,"hostname":`...)
	dst = jsonwire.String(dst, o.Hostname)
	if u := o.URL; u != nil {
		dst = append(dst, `,"url":{"scheme":`...)
		dst = jsonwire.String(dst, u.Scheme)
		dst = append(dst, `,"address":{`...)
		if u.Address.Hostname != "" {
			dst = append(dst, `"hostname":`...)
			dst = jsonwire.String(dst, u.Address.Hostname)
		}
		if u.Address.IP != "" {
			dst = jsonwire.Key(dst, "ip")
			dst = jsonwire.String(dst, u.Address.IP)
		}
		dst = jsonwire.Key(dst, "port")
		dst = jsonwire.Int(dst, int64(u.Address.Port))
		dst = append(dst, '}')
		if u.Path != "" {
			dst = append(dst, `,"path":`...)
			dst = jsonwire.String(dst, u.Path)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"resources":`...)
	if dst, ok = appendOfferResources(dst, &o.Resources); !ok {
		return dst, false
	}
	if len(o.Attributes) > 0 {
		dst = append(dst, `,"attributes":[`...)
		for i := range o.Attributes {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = appendAttribute(dst, &o.Attributes[i]); !ok {
				return dst, false
			}
		}
		dst = append(dst, ']')
	}
	if len(o.ExecutorIDs) > 0 {
		dst = append(dst, `,"executor_ids":[`...)
		for i, id := range o.ExecutorIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendID(dst, id)
		}
		dst = append(dst, ']')
	}
	if o.AllocationInfo != nil {
		dst = append(dst, `,"allocation_info":{"role":`...)
		dst = jsonwire.String(dst, o.AllocationInfo.Role)
		dst = append(dst, '}')
	}
	if u := o.Unavailability; u != nil {
		dst = append(dst, `,"unavailability":{"start":{"nanoseconds":`...)
		dst = jsonwire.Int(dst, u.Start.Nanoseconds)
		dst = append(dst, '}')
		if u.Duration != nil {
			dst = append(dst, `,"duration":{"nanoseconds":`...)
			dst = jsonwire.Int(dst, u.Duration.Nanoseconds)
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

func readOffer(r *jsonwire.Reader, o *Offer) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "id":
			f.Once(r, 0)
			ReadID(r, &o.ID)
		case "framework_id":
			f.Once(r, 1)
			ReadID(r, &o.FrameworkID)
		case "agent_id":
			f.Once(r, 2)
			ReadID(r, &o.AgentID)
		case "hostname":
			f.Once(r, 3)
			o.Hostname = r.String()
		case "url":
			f.Once(r, 4)
			o.URL = readURL(r)
		case "resources":
			f.Once(r, 5)
			// OfferResources.UnmarshalJSON: the list, allocation_info
			// ignored, Role left alone.
			o.Resources.Resources = core.ReadResourcesJSON(r)
		case "attributes":
			f.Once(r, 6)
			o.Attributes = []Attribute{}
			ait := r.Array()
			for r.Elem(&ait) {
				o.Attributes = append(o.Attributes, Attribute{})
				readAttribute(r, &o.Attributes[len(o.Attributes)-1])
			}
		case "executor_ids":
			f.Once(r, 7)
			o.ExecutorIDs = readIDs(r)
		case "allocation_info":
			f.Once(r, 8)
			o.AllocationInfo = new(AllocationInfo)
			readSingle(r, "role", func() { o.AllocationInfo.Role = r.String() })
		case "unavailability":
			f.Once(r, 9)
			o.Unavailability = readUnavailability(r)
		default:
			r.Fail()
		}
	}
}

func readUnavailability(r *jsonwire.Reader) *Unavailability {
	u := new(Unavailability)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "start":
			f.Once(r, 0)
			u.Start.Nanoseconds = readNanoseconds(r)
		case "duration":
			f.Once(r, 1)
			u.Duration = &DurationInfo{Nanoseconds: readNanoseconds(r)}
		default:
			r.Fail()
		}
	}
	return u
}

func readURL(r *jsonwire.Reader) *URL {
	u := new(URL)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "scheme":
			f.Once(r, 0)
			u.Scheme = r.String()
		case "address":
			f.Once(r, 1)
			var af jsonwire.Seen
			ait := r.Object()
			for k, ok := r.Field(&ait); ok; k, ok = r.Field(&ait) {
				switch string(k) {
				case "hostname":
					af.Once(r, 0)
					u.Address.Hostname = r.String()
				case "ip":
					af.Once(r, 1)
					u.Address.IP = r.String()
				case "port":
					af.Once(r, 2)
					u.Address.Port = int32(r.Int(32))
				default:
					r.Fail()
				}
			}
		case "path":
			f.Once(r, 2)
			u.Path = r.String()
		default:
			r.Fail()
		}
	}
	return u
}

// fastEvent reports whether AppendEvent writes ev itself: the hot event
// types, with no body the fast path does not write.
func fastEvent(ev *Event) bool {
	switch ev.Type {
	case EventUpdate, EventOffers, EventHeartbeat, EventRescind:
	default:
		return false
	}
	return ev.Subscribed == nil && ev.Message == nil && ev.Failure == nil && ev.Error == nil
}

// appendEventFast is AppendEvent's fast path; ok is false when ev is off
// it.
func appendEventFast(dst []byte, ev *Event) (_ []byte, ok bool) {
	if !fastEvent(ev) {
		return dst, false
	}
	dst = append(dst, `{"type":`...)
	dst = jsonwire.String(dst, ev.Type)
	if o := ev.Offers; o != nil {
		dst = append(dst, `,"offers":{"offers":`...)
		if o.Offers == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for i := range o.Offers {
				if i > 0 {
					dst = append(dst, ',')
				}
				if dst, ok = appendOffer(dst, &o.Offers[i]); !ok {
					return dst, false
				}
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	if ev.Rescind != nil {
		dst = append(dst, `,"rescind":{"offer_id":`...)
		dst = AppendID(dst, ev.Rescind.OfferID)
		dst = append(dst, '}')
	}
	if ev.Update != nil {
		dst = append(dst, `,"update":{"status":`...)
		if dst, ok = AppendTaskStatus(dst, &ev.Update.Status); !ok {
			return dst, false
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// AppendEvent appends ev exactly as json.Marshal(ev) encodes it: by hand
// for UPDATE, OFFERS, HEARTBEAT and RESCIND events, with encoding/json
// for the rest. A value that json.Marshal refuses (a NaN timestamp, an
// offer role that strconv.Quote does not write as JSON) leaves dst
// unchanged; meseta never builds one.
func AppendEvent(dst []byte, ev *Event) []byte {
	n := len(dst)
	if out, ok := appendEventFast(dst, ev); ok {
		return out
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return dst[:n]
	}
	return append(dst[:n], b...)
}

// decodeEventFast is DecodeEvent's fast path into a zero ev; false when
// data is off it (ev is then garbage).
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
			ev.Type = ReadName(r)
		case "offers":
			f.Once(r, 1)
			ev.Offers = new(Offers)
			readSingle(r, "offers", func() {
				ev.Offers.Offers = []Offer{}
				ait := r.Array()
				for r.Elem(&ait) {
					ev.Offers.Offers = append(ev.Offers.Offers, Offer{})
					readOffer(r, &ev.Offers.Offers[len(ev.Offers.Offers)-1])
				}
			})
		case "rescind":
			f.Once(r, 2)
			ev.Rescind = new(Rescind)
			readSingle(r, "offer_id", func() { ReadID(r, &ev.Rescind.OfferID) })
		case "update":
			f.Once(r, 3)
			ev.Update = new(Update)
			readSingle(r, "status", func() { ReadTaskStatus(r, &ev.Update.Status) })
		default:
			r.Fail()
		}
	}
	return r.End() == nil
}

// DecodeEvent decodes a scheduler event into ev, which it resets first:
// the result and the error are json.Unmarshal's into a fresh Event. The
// members of UPDATE, OFFERS, HEARTBEAT and RESCIND events are read by
// hand; any other member, a repeated key or a null sends the whole event
// through encoding/json.
func DecodeEvent(data []byte, ev *Event) error {
	*ev = Event{}
	if decodeEventFast(data, ev) {
		return nil
	}
	*ev = Event{}
	return json.Unmarshal(data, ev)
}

// decodeCallFast is DecodeCall's fast path into a zero c; false when
// data is off it. It reads ACKNOWLEDGE, DECLINE, REVIVE, SUPPRESS and
// ACCEPT bodies (LAUNCH operations only) and does not validate.
func decodeCallFast(data []byte, c *Call) bool {
	var rd jsonwire.Reader
	rd.Reset(data)
	r := &rd
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "framework_id":
			f.Once(r, 0)
			c.FrameworkID = readIDPtr(r)
		case "type":
			f.Once(r, 1)
			c.Type = ReadName(r)
		case "accept":
			f.Once(r, 2)
			c.Accept = readAccept(r)
		case "decline":
			f.Once(r, 3)
			c.Decline = readDecline(r)
		case "revive":
			f.Once(r, 4)
			c.Revive = readRoleList(r)
		case "suppress":
			f.Once(r, 5)
			c.Suppress = readRoleList(r)
		case "acknowledge":
			f.Once(r, 6)
			c.Acknowledge = readAcknowledge(r)
		default:
			r.Fail()
		}
	}
	return r.End() == nil
}

func readAccept(r *jsonwire.Reader) *Accept {
	a := new(Accept)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "offer_ids":
			f.Once(r, 0)
			a.OfferIDs = readIDs(r)
		case "operations":
			f.Once(r, 1)
			a.Operations = []Operation{}
			ait := r.Array()
			for r.Elem(&ait) {
				a.Operations = append(a.Operations, Operation{})
				readOperation(r, &a.Operations[len(a.Operations)-1])
			}
		case "filters":
			f.Once(r, 2)
			a.Filters = readFilters(r)
		default:
			r.Fail()
		}
	}
	return a
}

// readOperation reads a LAUNCH operation (type, id, launch); any other
// body fails r.
func readOperation(r *jsonwire.Reader, op *Operation) {
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "type":
			f.Once(r, 0)
			op.Type = ReadName(r)
		case "id":
			f.Once(r, 1)
			op.ID = readIDPtr(r)
		case "launch":
			f.Once(r, 2)
			op.Launch = new(Launch)
			readSingle(r, "task_infos", func() {
				op.Launch.TaskInfos = []TaskInfo{}
				ait := r.Array()
				for r.Elem(&ait) {
					op.Launch.TaskInfos = append(op.Launch.TaskInfos, TaskInfo{})
					ReadTaskInfo(r, &op.Launch.TaskInfos[len(op.Launch.TaskInfos)-1])
				}
			})
		default:
			r.Fail()
		}
	}
}

func readFilters(r *jsonwire.Reader) *Filters {
	fl := new(Filters)
	readSingle(r, "refuse_seconds", func() {
		v := r.Float()
		fl.RefuseSeconds = &v
	})
	return fl
}

func readDecline(r *jsonwire.Reader) *Decline {
	d := new(Decline)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "offer_ids":
			f.Once(r, 0)
			d.OfferIDs = readIDs(r)
		case "filters":
			f.Once(r, 1)
			d.Filters = readFilters(r)
		default:
			r.Fail()
		}
	}
	return d
}

func readRoleList(r *jsonwire.Reader) *RoleList {
	l := new(RoleList)
	readSingle(r, "roles", func() { l.Roles = readStrings(r) })
	return l
}

func readAcknowledge(r *jsonwire.Reader) *Acknowledge {
	a := new(Acknowledge)
	var f jsonwire.Seen
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "agent_id":
			f.Once(r, 0)
			ReadID(r, &a.AgentID)
		case "task_id":
			f.Once(r, 1)
			ReadID(r, &a.TaskID)
		case "uuid":
			f.Once(r, 2)
			a.UUID = r.Base64()
		default:
			r.Fail()
		}
	}
	return a
}
