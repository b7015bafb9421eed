package mesos

// Executor call types (executor.proto Call.Type).
const (
	ExecCallSubscribe = "SUBSCRIBE"
	ExecCallUpdate    = "UPDATE"
	ExecCallMessage   = "MESSAGE"
	ExecCallHeartbeat = "HEARTBEAT"
)

// ExecutorCall is an executor call (executor.proto Call).
type ExecutorCall struct {
	ExecutorID  ID                 `json:"executor_id"`
	FrameworkID ID                 `json:"framework_id"`
	Type        string             `json:"type"`
	Subscribe   *ExecutorSubscribe `json:"subscribe,omitempty"`
	Update      *Update            `json:"update,omitempty"`
	Message     *ExecutorMessage   `json:"message,omitempty"`
}

// ExecutorSubscribe is the executor's SUBSCRIBE body: what it still holds
// unacknowledged after a disconnection.
type ExecutorSubscribe struct {
	UnacknowledgedTasks   []TaskInfo `json:"unacknowledged_tasks,omitempty"`
	UnacknowledgedUpdates []Update   `json:"unacknowledged_updates,omitempty"`
}

// ExecutorMessage carries opaque data.
type ExecutorMessage struct {
	Data []byte `json:"data"`
}

// Executor event types (executor.proto Event.Type).
const (
	ExecEventSubscribed   = "SUBSCRIBED"
	ExecEventLaunch       = "LAUNCH"
	ExecEventLaunchGroup  = "LAUNCH_GROUP"
	ExecEventKill         = "KILL"
	ExecEventAcknowledged = "ACKNOWLEDGED"
	ExecEventMessage      = "MESSAGE"
	ExecEventError        = "ERROR"
	ExecEventShutdown     = "SHUTDOWN"
	ExecEventHeartbeat    = "HEARTBEAT"
)

// ExecutorEvent is an executor event (executor.proto Event).
type ExecutorEvent struct {
	Type         string               `json:"type"`
	Subscribed   *ExecutorSubscribed  `json:"subscribed,omitempty"`
	Acknowledged *Acknowledged        `json:"acknowledged,omitempty"`
	Launch       *ExecutorLaunch      `json:"launch,omitempty"`
	LaunchGroup  *ExecutorLaunchGroup `json:"launch_group,omitempty"`
	Kill         *ExecutorKill        `json:"kill,omitempty"`
	Message      *ExecutorMessage     `json:"message,omitempty"`
	Error        *Error               `json:"error,omitempty"`
}

// ExecutorSubscribed is the executor's SUBSCRIBED body.
type ExecutorSubscribed struct {
	ExecutorInfo  ExecutorInfo  `json:"executor_info"`
	FrameworkInfo FrameworkInfo `json:"framework_info"`
	AgentInfo     AgentInfo     `json:"agent_info"`
	ContainerID   *ID           `json:"container_id,omitempty"`
}

// Acknowledged tells the executor the agent has an update.
type Acknowledged struct {
	TaskID ID     `json:"task_id"`
	UUID   []byte `json:"uuid"`
}

// ExecutorLaunch is LAUNCH's body.
type ExecutorLaunch struct {
	FrameworkInfo *FrameworkInfo `json:"framework_info,omitempty"`
	Task          TaskInfo       `json:"task"`
}

// ExecutorLaunchGroup is LAUNCH_GROUP's body.
type ExecutorLaunchGroup struct {
	TaskGroup TaskGroupInfo `json:"task_group"`
}

// ExecutorKill is KILL's body.
type ExecutorKill struct {
	TaskID     ID          `json:"task_id"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty"`
}
