package mesos

import (
	"encoding/binary"
	"net"
	"strconv"

	"meseta/core"
)

// ID is any Mesos identifier message (FrameworkID, AgentID, TaskID,
// ExecutorID, OfferID, ...): {"value": "..."}.
type ID struct {
	Value string `json:"value"`
}

// NewID returns a pointer to an ID holding v, or nil when v is empty.
func NewID(v string) *ID {
	if v == "" {
		return nil
	}
	return &ID{Value: v}
}

// Val returns the ID's value, or "" for a nil ID.
func (id *ID) Val() string {
	if id == nil {
		return ""
	}
	return id.Value
}

// Label is one key/value label.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Labels is Mesos's Labels message.
type Labels struct {
	Labels []Label `json:"labels"`
}

// Capability is one entry of FrameworkInfo.capabilities or
// AgentInfo.capabilities: {"type": "MULTI_ROLE"}.
type Capability struct {
	Type string `json:"type"`
}

// Framework capability names.
const (
	CapRevocableResources   = "REVOCABLE_RESOURCES"
	CapTaskKillingState     = "TASK_KILLING_STATE"
	CapGPUResources         = "GPU_RESOURCES"
	CapSharedResources      = "SHARED_RESOURCES"
	CapPartitionAware       = "PARTITION_AWARE"
	CapMultiRole            = "MULTI_ROLE"
	CapReservationRefinemnt = "RESERVATION_REFINEMENT"
	CapRegionAware          = "REGION_AWARE"
)

var frameworkCapabilities = map[string]bool{
	"UNKNOWN": true, CapRevocableResources: true, CapTaskKillingState: true, CapGPUResources: true,
	CapSharedResources: true, CapPartitionAware: true, CapMultiRole: true,
	CapReservationRefinemnt: true, CapRegionAware: true,
}

// FrameworkInfo describes a framework (mesos.proto FrameworkInfo).
type FrameworkInfo struct {
	User            string       `json:"user"`
	Name            string       `json:"name"`
	ID              *ID          `json:"id,omitempty"`
	FailoverTimeout float64      `json:"failover_timeout,omitempty"`
	Checkpoint      bool         `json:"checkpoint,omitempty"`
	Role            string       `json:"role,omitempty"` // deprecated single role
	Roles           []string     `json:"roles,omitempty"`
	Hostname        string       `json:"hostname,omitempty"`
	Principal       string       `json:"principal,omitempty"`
	WebUIURL        string       `json:"webui_url,omitempty"`
	Capabilities    []Capability `json:"capabilities,omitempty"`
	Labels          *Labels      `json:"labels,omitempty"`
}

// HasCapability reports whether the framework declared capability c.
func (fi *FrameworkInfo) HasCapability(c string) bool {
	for _, x := range fi.Capabilities {
		if x.Type == c {
			return true
		}
	}
	return false
}

// EffectiveRoles returns the framework's roles: Roles for MULTI_ROLE
// frameworks, else the single (deprecated) Role, "*" by default.
func (fi *FrameworkInfo) EffectiveRoles() []string {
	if fi.HasCapability(CapMultiRole) {
		return fi.Roles
	}
	if len(fi.Roles) > 0 {
		return fi.Roles
	}
	if fi.Role == "" {
		return []string{"*"}
	}
	return []string{fi.Role}
}

// DurationInfo and TimeInfo carry nanoseconds.
type DurationInfo struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// TimeInfo is a point in time in nanoseconds since the Unix epoch.
type TimeInfo struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// KillPolicy says how long to wait between SIGTERM and SIGKILL.
type KillPolicy struct {
	GracePeriod *DurationInfo `json:"grace_period,omitempty"`
}

// URI is one CommandInfo.URI to fetch into the sandbox.
type URI struct {
	Value      string `json:"value"`
	Executable bool   `json:"executable,omitempty"`
	Extract    *bool  `json:"extract,omitempty"` // default true
	Cache      bool   `json:"cache,omitempty"`
	OutputFile string `json:"output_file,omitempty"`
}

// ShouldExtract resolves the extract default (true).
func (u *URI) ShouldExtract() bool { return u.Extract == nil || *u.Extract }

// Variable is one environment variable.
type Variable struct {
	Name  string `json:"name"`
	Type  string `json:"type,omitempty"`
	Value string `json:"value,omitempty"`
}

// Environment is a list of variables.
type Environment struct {
	Variables []Variable `json:"variables"`
}

// CommandInfo is a command to run: `/bin/sh -c value` when Shell (the
// default), else value as the program with arguments.
type CommandInfo struct {
	URIs        []URI        `json:"uris,omitempty"`
	Environment *Environment `json:"environment,omitempty"`
	Shell       *bool        `json:"shell,omitempty"` // default true
	Value       string       `json:"value,omitempty"`
	Arguments   []string     `json:"arguments,omitempty"`
	User        string       `json:"user,omitempty"`
}

// IsShell resolves the shell default (true).
func (c *CommandInfo) IsShell() bool { return c.Shell == nil || *c.Shell }

// Executor types.
const (
	ExecutorDefault = "DEFAULT"
	ExecutorCustom  = "CUSTOM"
)

// ExecutorInfo describes an executor.
type ExecutorInfo struct {
	Type                string         `json:"type,omitempty"`
	ExecutorID          ID             `json:"executor_id"`
	FrameworkID         *ID            `json:"framework_id,omitempty"`
	Command             *CommandInfo   `json:"command,omitempty"`
	Resources           core.Resources `json:"resources,omitempty"`
	Name                string         `json:"name,omitempty"`
	Data                []byte         `json:"data,omitempty"`
	ShutdownGracePeriod *DurationInfo  `json:"shutdown_grace_period,omitempty"`
	Labels              *Labels        `json:"labels,omitempty"`
}

// TaskInfo describes a task to launch.
type TaskInfo struct {
	Name       string         `json:"name"`
	TaskID     ID             `json:"task_id"`
	AgentID    ID             `json:"agent_id"`
	Resources  core.Resources `json:"resources,omitempty"`
	Executor   *ExecutorInfo  `json:"executor,omitempty"`
	Command    *CommandInfo   `json:"command,omitempty"`
	KillPolicy *KillPolicy    `json:"kill_policy,omitempty"`
	Data       []byte         `json:"data,omitempty"`
	Labels     *Labels        `json:"labels,omitempty"`
}

// TaskGroupInfo is a group of tasks launched together under one executor.
type TaskGroupInfo struct {
	Tasks []TaskInfo `json:"tasks"`
}

// TaskState is a task's state name (mesos.proto TaskState).
type TaskState string

// Task states.
const (
	TaskStaging        TaskState = "TASK_STAGING"
	TaskStarting       TaskState = "TASK_STARTING"
	TaskRunning        TaskState = "TASK_RUNNING"
	TaskKilling        TaskState = "TASK_KILLING"
	TaskFinished       TaskState = "TASK_FINISHED"
	TaskFailed         TaskState = "TASK_FAILED"
	TaskKilled         TaskState = "TASK_KILLED"
	TaskError          TaskState = "TASK_ERROR"
	TaskLost           TaskState = "TASK_LOST"
	TaskDropped        TaskState = "TASK_DROPPED"
	TaskUnreachable    TaskState = "TASK_UNREACHABLE"
	TaskGone           TaskState = "TASK_GONE"
	TaskGoneByOperator TaskState = "TASK_GONE_BY_OPERATOR"
	TaskUnknown        TaskState = "TASK_UNKNOWN"
)

var taskStates = map[TaskState]bool{
	TaskStaging: false, TaskStarting: false, TaskRunning: false, TaskKilling: false,
	TaskFinished: true, TaskFailed: true, TaskKilled: true, TaskError: true, TaskLost: true,
	TaskDropped: true, TaskUnreachable: false, TaskGone: true, TaskGoneByOperator: true, TaskUnknown: false,
}

// Valid reports whether s is a known state name.
func (s TaskState) Valid() bool { _, ok := taskStates[s]; return ok }

// Terminal reports whether s is a terminal state (as Mesos's
// protobuf::isTerminalState: FINISHED, FAILED, KILLED, ERROR, LOST,
// DROPPED, GONE, GONE_BY_OPERATOR).
func (s TaskState) Terminal() bool { return taskStates[s] }

// Status update sources.
const (
	SourceMaster   = "SOURCE_MASTER"
	SourceAgent    = "SOURCE_AGENT"
	SourceExecutor = "SOURCE_EXECUTOR"
)

// Reasons used by meseta (mesos.proto TaskStatus.Reason).
const (
	ReasonCommandExecutorFailed       = "REASON_COMMAND_EXECUTOR_FAILED"
	ReasonContainerLaunchFailed       = "REASON_CONTAINER_LAUNCH_FAILED"
	ReasonContainerLimitationMemory   = "REASON_CONTAINER_LIMITATION_MEMORY"
	ReasonExecutorTerminated          = "REASON_EXECUTOR_TERMINATED"
	ReasonExecutorRegistrationTimeout = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
	ReasonFrameworkRemoved            = "REASON_FRAMEWORK_REMOVED"
	ReasonInvalidOffers               = "REASON_INVALID_OFFERS"
	ReasonReconciliation              = "REASON_RECONCILIATION"
	ReasonAgentRemoved                = "REASON_AGENT_REMOVED"
	ReasonAgentRemovedByOperator      = "REASON_AGENT_REMOVED_BY_OPERATOR"
	ReasonAgentRestarted              = "REASON_AGENT_RESTARTED"
	ReasonAgentUnknown                = "REASON_AGENT_UNKNOWN"
	ReasonTaskKilledDuringLaunch      = "REASON_TASK_KILLED_DURING_LAUNCH"
	ReasonTaskGroupInvalid            = "REASON_TASK_GROUP_INVALID"
	ReasonTaskInvalid                 = "REASON_TASK_INVALID"
	ReasonTaskUnknown                 = "REASON_TASK_UNKNOWN"
)

// TaskStatus is one status of a task.
type TaskStatus struct {
	TaskID          ID        `json:"task_id"`
	State           TaskState `json:"state"`
	Message         string    `json:"message,omitempty"`
	Source          string    `json:"source,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	Data            []byte    `json:"data,omitempty"`
	AgentID         *ID       `json:"agent_id,omitempty"`
	ExecutorID      *ID       `json:"executor_id,omitempty"`
	Timestamp       float64   `json:"timestamp,omitempty"`
	UUID            []byte    `json:"uuid,omitempty"`
	Healthy         *bool     `json:"healthy,omitempty"`
	Labels          *Labels   `json:"labels,omitempty"`
	UnreachableTime *TimeInfo `json:"unreachable_time,omitempty"`
}

// Filters is an ACCEPT or DECLINE filter.
type Filters struct {
	RefuseSeconds *float64 `json:"refuse_seconds,omitempty"` // default 5
}

// Scalar, Range, Ranges, Set and Text are Value's parts, used by Attribute.
type (
	Scalar struct {
		Value float64 `json:"value"`
	}
	Range struct {
		Begin uint64 `json:"begin"`
		End   uint64 `json:"end"`
	}
	Ranges struct {
		Range []Range `json:"range"`
	}
	Set struct {
		Item []string `json:"item"`
	}
	Text struct {
		Value string `json:"value"`
	}
)

// Attribute is an agent attribute.
type Attribute struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Scalar *Scalar `json:"scalar,omitempty"`
	Ranges *Ranges `json:"ranges,omitempty"`
	Set    *Set    `json:"set,omitempty"`
	Text   *Text   `json:"text,omitempty"`
}

// Address is a host address.
type Address struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int32  `json:"port"`
}

// URL points at an agent or master endpoint.
type URL struct {
	Scheme  string  `json:"scheme"`
	Address Address `json:"address"`
	Path    string  `json:"path,omitempty"`
}

// MasterInfo describes a master.
type MasterInfo struct {
	ID       string   `json:"id"`
	IP       uint32   `json:"ip"`
	Port     uint32   `json:"port"`
	PID      string   `json:"pid,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Version  string   `json:"version,omitempty"`
	Address  *Address `json:"address,omitempty"`
}

// AgentInfo describes an agent.
type AgentInfo struct {
	Hostname     string         `json:"hostname"`
	Port         int32          `json:"port,omitempty"`
	Resources    core.Resources `json:"resources,omitempty"`
	Attributes   []Attribute    `json:"attributes,omitempty"`
	ID           *ID            `json:"id,omitempty"`
	Capabilities []Capability   `json:"capabilities,omitempty"`
}

// AllocationInfo names the role an offered resource is allocated to.
type AllocationInfo struct {
	Role string `json:"role"`
}

// Offer is resources on one agent offered to a framework for one role.
type Offer struct {
	ID             ID              `json:"id"`
	FrameworkID    ID              `json:"framework_id"`
	AgentID        ID              `json:"agent_id"`
	Hostname       string          `json:"hostname"`
	URL            *URL            `json:"url,omitempty"`
	Resources      OfferResources  `json:"resources"`
	Attributes     []Attribute     `json:"attributes,omitempty"`
	ExecutorIDs    []ID            `json:"executor_ids,omitempty"`
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty"`
	// Unavailability is set on offers from machines in a maintenance
	// schedule.
	Unavailability *Unavailability `json:"unavailability,omitempty"`
}

// Operation types.
const (
	OpLaunch      = "LAUNCH"
	OpLaunchGroup = "LAUNCH_GROUP"
	OpReserve     = "RESERVE"
	OpUnreserve   = "UNRESERVE"
	OpCreate      = "CREATE"
	OpDestroy     = "DESTROY"
)

var operationTypes = map[string]bool{
	OpLaunch: true, OpLaunchGroup: true, OpReserve: true, OpUnreserve: true, OpCreate: true,
	OpDestroy: true, "GROW_VOLUME": true, "SHRINK_VOLUME": true, "CREATE_DISK": true, "DESTROY_DISK": true,
}

// Operation is one Offer.Operation of an ACCEPT call.
type Operation struct {
	Type        string       `json:"type"`
	ID          *ID          `json:"id,omitempty"`
	Launch      *Launch      `json:"launch,omitempty"`
	LaunchGroup *LaunchGroup `json:"launch_group,omitempty"`
	Reserve     *ResourceOp  `json:"reserve,omitempty"`
	Unreserve   *ResourceOp  `json:"unreserve,omitempty"`
	Create      *VolumeOp    `json:"create,omitempty"`
	Destroy     *VolumeOp    `json:"destroy,omitempty"`
}

// Launch is the LAUNCH operation.
type Launch struct {
	TaskInfos []TaskInfo `json:"task_infos"`
}

// LaunchGroup is the LAUNCH_GROUP operation.
type LaunchGroup struct {
	Executor  ExecutorInfo  `json:"executor"`
	TaskGroup TaskGroupInfo `json:"task_group"`
}

// ResourceOp is RESERVE or UNRESERVE.
type ResourceOp struct {
	Source    core.Resources `json:"source,omitempty"`
	Resources core.Resources `json:"resources"`
}

// VolumeOp is CREATE or DESTROY.
type VolumeOp struct {
	Volumes core.Resources `json:"volumes"`
}

// Task is the master's view of a task, as /master/state and
// reconciliation show it.
type Task struct {
	Name        string         `json:"name"`
	TaskID      ID             `json:"task_id"`
	FrameworkID ID             `json:"framework_id"`
	ExecutorID  *ID            `json:"executor_id,omitempty"`
	AgentID     ID             `json:"agent_id"`
	State       TaskState      `json:"state"`
	Resources   core.Resources `json:"resources"`
	Statuses    []TaskStatus   `json:"statuses"`
}

// HostPort returns the master's address as host:port: from Address when it
// has one, else from the ip (network byte order, as Mesos encodes it) or
// hostname and port fields. It returns "" when the info names no port.
func (m MasterInfo) HostPort() string {
	if a := m.Address; a != nil && a.Port > 0 {
		host := a.IP
		if host == "" {
			host = a.Hostname
		}
		if host != "" {
			return net.JoinHostPort(host, strconv.Itoa(int(a.Port)))
		}
	}
	if m.Port == 0 || m.Port > 65535 {
		return ""
	}
	host := m.Hostname
	if m.IP != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], m.IP)
		host = net.IP(b[:]).String()
	}
	if host == "" {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(int(m.Port)))
}
