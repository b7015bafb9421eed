package agentapi

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"meseta/core"
	"meseta/core/mesos"
)

// Paths on the master.
const (
	PathSubscribe = "/agent/v1/subscribe"
	PathCall      = "/agent/v1/call"
)

// Call types, agent to master.
const (
	CallRegister       = "REGISTER"
	CallReregister     = "REREGISTER"
	CallStatusUpdate   = "STATUS_UPDATE"
	CallPong           = "PONG"
	CallExecutorExited = "EXECUTOR_EXITED"
	CallMessage        = "MESSAGE"
)

// Call is one message from an agent to the master.
type Call struct {
	Type           string          `json:"type"`
	AgentID        *mesos.ID       `json:"agent_id,omitempty"`
	Register       *Register       `json:"register,omitempty"`
	StatusUpdate   *StatusUpdate   `json:"status_update,omitempty"`
	Pong           *Pong           `json:"pong,omitempty"`
	ExecutorExited *ExecutorExited `json:"executor_exited,omitempty"`
	Message        *Message        `json:"message,omitempty"`
}

// Batch is the body of POST /agent/v1/call.
type Batch struct {
	Calls []Call `json:"calls"`
}

// Register is the body of REGISTER and REREGISTER. A re-registering agent
// (after an agent restart, a lost stream or a master failover) sets
// AgentInfo.ID and lists what it runs, so the master can rebuild its view.
type Register struct {
	AgentInfo mesos.AgentInfo `json:"agent_info"`
	// Endpoint is host:port of the agent's HTTP server (executor API,
	// /files), for operators and the UI.
	Endpoint string `json:"endpoint"`
	Version  string `json:"version,omitempty"`
	// Checkpoint: the agent checkpoints, so it survives restarts.
	Checkpoint bool                  `json:"checkpoint,omitempty"`
	Frameworks []mesos.FrameworkInfo `json:"frameworks,omitempty"`
	Executors  []Executor            `json:"executors,omitempty"`
	Tasks      []Task                `json:"tasks,omitempty"`
	// CheckpointedResources are the agent's dynamic reservations and
	// persistent volumes, as it last checkpointed them. AgentInfo.Resources
	// stays what the agent's flags declare; its total is
	// core.ApplyCheckpointed of the two.
	CheckpointedResources core.Resources `json:"checkpointed_resources,omitempty"`
}

// Task is a task an agent runs, with the role its resources are
// allocated to.
type Task struct {
	mesos.Task
	Role string `json:"role"`
}

// Executor is one executor an agent runs.
type Executor struct {
	FrameworkID mesos.ID           `json:"framework_id"`
	Info        mesos.ExecutorInfo `json:"info"`
	// Command: the agent's built-in command executor for one task, whose
	// resources are the task's.
	Command   bool   `json:"command,omitempty"`
	Directory string `json:"directory,omitempty"`
	Role      string `json:"role"`
}

// StatusUpdate carries one task status (with its uuid) from the agent's
// status update manager. The agent resends it until the master forwards
// the framework's acknowledgement of that uuid.
type StatusUpdate struct {
	FrameworkID mesos.ID         `json:"framework_id"`
	Status      mesos.TaskStatus `json:"status"`
	// LatestState is the newest state the agent knows for the task, which
	// may be ahead of Status while earlier updates wait for their acks.
	LatestState mesos.TaskState `json:"latest_state,omitempty"`
}

// Pong answers a PING.
type Pong struct {
	Seq uint64 `json:"seq"`
}

// ExecutorExited says an executor process ended.
type ExecutorExited struct {
	FrameworkID mesos.ID `json:"framework_id"`
	ExecutorID  mesos.ID `json:"executor_id"`
	Status      int32    `json:"status"`
}

// Message carries executor data to the framework, or framework data to an
// executor.
type Message struct {
	FrameworkID mesos.ID `json:"framework_id"`
	ExecutorID  mesos.ID `json:"executor_id"`
	Data        []byte   `json:"data"`
}

// Event types, master to agent.
const (
	EventRegistered        = "REGISTERED"
	EventPing              = "PING"
	EventRunTask           = "RUN_TASK"
	EventRunTaskGroup      = "RUN_TASK_GROUP"
	EventKillTask          = "KILL_TASK"
	EventShutdownFramework = "SHUTDOWN_FRAMEWORK"
	EventShutdownExecutor  = "SHUTDOWN_EXECUTOR"
	EventAcknowledge       = "ACKNOWLEDGE"
	EventMessage           = "MESSAGE"
	EventUpdateFramework   = "UPDATE_FRAMEWORK"
	// EventCheckpointResources gives the agent its whole set of
	// checkpointed resources (dynamic reservations and persistent
	// volumes), after an operation changed it or when the agent's
	// differed from the master's at registration.
	EventCheckpointResources = "CHECKPOINT_RESOURCES"
	// EventShutdown: the master refuses or removed this agent. The agent
	// kills everything it runs, forgets its id and registers afresh.
	EventShutdown = "SHUTDOWN"
)

// Event is one message from the master to an agent.
type Event struct {
	Type              string               `json:"type"`
	Registered        *Registered          `json:"registered,omitempty"`
	Ping              *Ping                `json:"ping,omitempty"`
	RunTask           *RunTask             `json:"run_task,omitempty"`
	RunTaskGroup      *RunTaskGroup        `json:"run_task_group,omitempty"`
	KillTask          *KillTask            `json:"kill_task,omitempty"`
	ShutdownFramework *FrameworkRef        `json:"shutdown_framework,omitempty"`
	ShutdownExecutor  *ExecutorRef         `json:"shutdown_executor,omitempty"`
	Acknowledge       *Acknowledge         `json:"acknowledge,omitempty"`
	Message           *Message             `json:"message,omitempty"`
	UpdateFramework   *mesos.FrameworkInfo `json:"update_framework,omitempty"`
	Shutdown          *Shutdown            `json:"shutdown,omitempty"`
	// CheckpointResources is the body of CHECKPOINT_RESOURCES.
	CheckpointResources *CheckpointResources `json:"checkpoint_resources,omitempty"`
}

// CheckpointResources is an agent's whole set of checkpointed resources.
// The agent checkpoints it, makes the directory of every persistent
// volume new to it, and deletes the directory (the data) of every volume
// it held that the set no longer has: that volume was destroyed.
type CheckpointResources struct {
	Resources core.Resources `json:"resources"`
}

// Registered is the first event on an agent stream.
type Registered struct {
	AgentID    mesos.ID         `json:"agent_id"`
	MasterInfo mesos.MasterInfo `json:"master_info"`
	// PingTimeoutSeconds is the master's agent_ping_timeout: an agent that
	// hears no PING for MaxPingTimeouts of these re-registers.
	PingTimeoutSeconds float64 `json:"ping_timeout_seconds"`
	MaxPingTimeouts    int     `json:"max_ping_timeouts"`
}

// Ping asks for a PONG with the same sequence number.
type Ping struct {
	Seq uint64 `json:"seq"`
}

// RunTask launches one task. Executor is nil for a command task, which
// runs under the agent's command executor.
type RunTask struct {
	FrameworkInfo mesos.FrameworkInfo `json:"framework_info"`
	Task          mesos.TaskInfo      `json:"task"`
	Role          string              `json:"role"`
}

// RunTaskGroup launches a task group under one executor.
type RunTaskGroup struct {
	FrameworkInfo mesos.FrameworkInfo `json:"framework_info"`
	Executor      mesos.ExecutorInfo  `json:"executor"`
	TaskGroup     mesos.TaskGroupInfo `json:"task_group"`
	Role          string              `json:"role"`
}

// KillTask asks the agent to kill a task.
type KillTask struct {
	FrameworkID mesos.ID          `json:"framework_id"`
	TaskID      mesos.ID          `json:"task_id"`
	KillPolicy  *mesos.KillPolicy `json:"kill_policy,omitempty"`
}

// FrameworkRef names a framework.
type FrameworkRef struct {
	FrameworkID mesos.ID `json:"framework_id"`
}

// ExecutorRef names an executor of a framework.
type ExecutorRef struct {
	FrameworkID mesos.ID `json:"framework_id"`
	ExecutorID  mesos.ID `json:"executor_id"`
}

// Acknowledge forwards a framework's acknowledgement of a status update.
type Acknowledge struct {
	FrameworkID mesos.ID `json:"framework_id"`
	TaskID      mesos.ID `json:"task_id"`
	UUID        []byte   `json:"uuid"`
}

// Shutdown says why the agent must stop.
type Shutdown struct {
	Message string `json:"message"`
}

// Validate checks a call's required fields.
func (c *Call) Validate() error {
	need := func(ok bool, field string) error {
		if !ok {
			return &mesos.FieldError{Field: field, Msg: "required for " + c.Type}
		}
		return nil
	}
	switch c.Type {
	case CallRegister, CallReregister:
		if err := need(c.Register != nil, "register"); err != nil {
			return err
		}
		if c.Register.AgentInfo.Hostname == "" {
			return &mesos.FieldError{Field: "register.agent_info.hostname", Msg: "required"}
		}
		if e := c.Register.Endpoint; e != "" && !validEndpoint(e) {
			return &mesos.FieldError{Field: "register.endpoint", Msg: fmt.Sprintf("want host:port, got %q", e)}
		}
		if c.Type == CallReregister {
			return need(c.Register.AgentInfo.ID.Val() != "", "register.agent_info.id")
		}
		return nil
	}
	if err := need(c.AgentID.Val() != "", "agent_id"); err != nil {
		return err
	}
	switch c.Type {
	case CallStatusUpdate:
		if err := need(c.StatusUpdate != nil, "status_update"); err != nil {
			return err
		}
		s := &c.StatusUpdate.Status
		if !s.State.Valid() {
			return &mesos.FieldError{Field: "status_update.status.state", Msg: fmt.Sprintf("unknown state %q", s.State)}
		}
		return need(len(s.UUID) > 0, "status_update.status.uuid")
	case CallPong:
		return need(c.Pong != nil, "pong")
	case CallExecutorExited:
		return need(c.ExecutorExited != nil, "executor_exited")
	case CallMessage:
		return need(c.Message != nil, "message")
	}
	return &mesos.FieldError{Field: "type", Msg: fmt.Sprintf("unknown call type %q", c.Type)}
}

// validEndpoint reports whether e is a plain host:port (the master builds
// URLs from it, so nothing that would change their meaning).
func validEndpoint(e string) bool {
	host, port, err := net.SplitHostPort(e)
	if err != nil || host == "" || strings.ContainsAny(host, "/?#@ %\\") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n <= 65535
}
