package mesos

import "meseta/core"

// Scheduler call types (scheduler.proto Call.Type).
const (
	CallSubscribe            = "SUBSCRIBE"
	CallTeardown             = "TEARDOWN"
	CallAccept               = "ACCEPT"
	CallDecline              = "DECLINE"
	CallAcceptInverseOffers  = "ACCEPT_INVERSE_OFFERS"
	CallDeclineInverseOffers = "DECLINE_INVERSE_OFFERS"
	CallRevive               = "REVIVE"
	CallKill                 = "KILL"
	CallShutdown             = "SHUTDOWN"
	CallAcknowledge          = "ACKNOWLEDGE"
	CallAcknowledgeOpStatus  = "ACKNOWLEDGE_OPERATION_STATUS"
	CallReconcile            = "RECONCILE"
	CallReconcileOperations  = "RECONCILE_OPERATIONS"
	CallMessage              = "MESSAGE"
	CallRequest              = "REQUEST"
	CallSuppress             = "SUPPRESS"
	CallUpdateFramework      = "UPDATE_FRAMEWORK"
)

var callTypes = map[string]bool{
	CallSubscribe: true, CallTeardown: true, CallAccept: true, CallDecline: true,
	CallAcceptInverseOffers: true, CallDeclineInverseOffers: true, CallRevive: true, CallKill: true,
	CallShutdown: true, CallAcknowledge: true, CallAcknowledgeOpStatus: true, CallReconcile: true,
	CallReconcileOperations: true, CallMessage: true, CallRequest: true, CallSuppress: true,
	CallUpdateFramework: true,
}

// Call is a scheduler call (scheduler.proto Call).
type Call struct {
	FrameworkID     *ID          `json:"framework_id,omitempty"`
	Type            string       `json:"type"`
	Subscribe       *Subscribe   `json:"subscribe,omitempty"`
	Accept          *Accept      `json:"accept,omitempty"`
	Decline         *Decline     `json:"decline,omitempty"`
	Revive          *RoleList    `json:"revive,omitempty"`
	Suppress        *RoleList    `json:"suppress,omitempty"`
	Kill            *Kill        `json:"kill,omitempty"`
	Shutdown        *Shutdown    `json:"shutdown,omitempty"`
	Acknowledge     *Acknowledge `json:"acknowledge,omitempty"`
	Reconcile       *Reconcile   `json:"reconcile,omitempty"`
	Message         *Message     `json:"message,omitempty"`
	UpdateFramework *Subscribe   `json:"update_framework,omitempty"`

	AcknowledgeOperationStatus *AcknowledgeOperationStatus `json:"acknowledge_operation_status,omitempty"`
	ReconcileOperations        *ReconcileOperations        `json:"reconcile_operations,omitempty"`
	AcceptInverseOffers        *InverseOfferResponse       `json:"accept_inverse_offers,omitempty"`
	DeclineInverseOffers       *InverseOfferResponse       `json:"decline_inverse_offers,omitempty"`
}

// Subscribe is SUBSCRIBE's (and UPDATE_FRAMEWORK's) body.
type Subscribe struct {
	FrameworkInfo   FrameworkInfo `json:"framework_info"`
	SuppressedRoles []string      `json:"suppressed_roles,omitempty"`
}

// Accept is ACCEPT's body.
type Accept struct {
	OfferIDs   []ID        `json:"offer_ids"`
	Operations []Operation `json:"operations,omitempty"`
	Filters    *Filters    `json:"filters,omitempty"`
}

// Decline is DECLINE's body.
type Decline struct {
	OfferIDs []ID     `json:"offer_ids"`
	Filters  *Filters `json:"filters,omitempty"`
}

// RoleList is REVIVE's and SUPPRESS's body.
type RoleList struct {
	Roles []string `json:"roles,omitempty"`
}

// Kill is KILL's body.
type Kill struct {
	TaskID     ID          `json:"task_id"`
	AgentID    *ID         `json:"agent_id,omitempty"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty"`
}

// Shutdown is SHUTDOWN's body.
type Shutdown struct {
	ExecutorID ID `json:"executor_id"`
	AgentID    ID `json:"agent_id"`
}

// Acknowledge is ACKNOWLEDGE's body.
type Acknowledge struct {
	AgentID ID     `json:"agent_id"`
	TaskID  ID     `json:"task_id"`
	UUID    []byte `json:"uuid"`
}

// ReconcileTask names one task to reconcile.
type ReconcileTask struct {
	TaskID  ID  `json:"task_id"`
	AgentID *ID `json:"agent_id,omitempty"`
}

// Reconcile is RECONCILE's body; no tasks means implicit reconciliation.
type Reconcile struct {
	Tasks []ReconcileTask `json:"tasks,omitempty"`
}

// AcknowledgeOperationStatus is ACKNOWLEDGE_OPERATION_STATUS's body.
type AcknowledgeOperationStatus struct {
	AgentID            *ID    `json:"agent_id,omitempty"`
	ResourceProviderID *ID    `json:"resource_provider_id,omitempty"`
	UUID               []byte `json:"uuid"`
	OperationID        ID     `json:"operation_id"`
}

// ReconcileOperations is RECONCILE_OPERATIONS's body; no operations
// means all of the framework's that the master knows.
type ReconcileOperations struct {
	Operations []ReconcileOperation `json:"operations,omitempty"`
}

// ReconcileOperation names one operation to reconcile.
type ReconcileOperation struct {
	OperationID        ID  `json:"operation_id"`
	AgentID            *ID `json:"agent_id,omitempty"`
	ResourceProviderID *ID `json:"resource_provider_id,omitempty"`
}

// Message carries framework data between scheduler and executor.
type Message struct {
	AgentID    ID     `json:"agent_id"`
	ExecutorID ID     `json:"executor_id"`
	Data       []byte `json:"data"`
}

// Scheduler event types (scheduler.proto Event.Type).
const (
	EventSubscribed = "SUBSCRIBED"
	EventOffers     = "OFFERS"
	EventRescind    = "RESCIND"
	EventUpdate     = "UPDATE"
	EventMessage    = "MESSAGE"
	EventFailure    = "FAILURE"
	EventError      = "ERROR"
	EventHeartbeat  = "HEARTBEAT"

	EventUpdateOperationStatus = "UPDATE_OPERATION_STATUS"
	EventInverseOffers         = "INVERSE_OFFERS"
	EventRescindInverseOffer   = "RESCIND_INVERSE_OFFER"
)

// Event is a scheduler event (scheduler.proto Event).
type Event struct {
	Type       string      `json:"type"`
	Subscribed *Subscribed `json:"subscribed,omitempty"`
	Offers     *Offers     `json:"offers,omitempty"`
	Rescind    *Rescind    `json:"rescind,omitempty"`
	Update     *Update     `json:"update,omitempty"`
	Message    *Message    `json:"message,omitempty"`
	Failure    *Failure    `json:"failure,omitempty"`
	Error      *Error      `json:"error,omitempty"`

	UpdateOperationStatus *UpdateOperationStatus `json:"update_operation_status,omitempty"`
	InverseOffers         *InverseOffers         `json:"inverse_offers,omitempty"`
	RescindInverseOffer   *RescindInverseOffer   `json:"rescind_inverse_offer,omitempty"`
}

// UpdateOperationStatus is UPDATE_OPERATION_STATUS's body.
type UpdateOperationStatus struct {
	Status OperationStatus `json:"status"`
}

// OperationState is an operation's state name (mesos.proto
// OperationState).
type OperationState string

// Operation states.
const (
	OperationPending        OperationState = "OPERATION_PENDING"
	OperationFinished       OperationState = "OPERATION_FINISHED"
	OperationFailed         OperationState = "OPERATION_FAILED"
	OperationError          OperationState = "OPERATION_ERROR"
	OperationDropped        OperationState = "OPERATION_DROPPED"
	OperationUnreachable    OperationState = "OPERATION_UNREACHABLE"
	OperationGoneByOperator OperationState = "OPERATION_GONE_BY_OPERATOR"
	OperationRecovering     OperationState = "OPERATION_RECOVERING"
	OperationUnknown        OperationState = "OPERATION_UNKNOWN"
)

// OperationStatus is the state of an offer operation that named an id
// (mesos.proto OperationStatus). A status with a UUID must be
// acknowledged (ACKNOWLEDGE_OPERATION_STATUS) and is sent again until it
// is.
type OperationStatus struct {
	OperationID        *ID            `json:"operation_id,omitempty"`
	State              OperationState `json:"state"`
	Message            string         `json:"message,omitempty"`
	ConvertedResources core.Resources `json:"converted_resources,omitempty"`
	UUID               *UUID          `json:"uuid,omitempty"`
	AgentID            *ID            `json:"agent_id,omitempty"`
}

// UUID is mesos.proto's UUID message: raw bytes, base64 in JSON.
type UUID struct {
	Value []byte `json:"value"`
}

// Subscribed is SUBSCRIBED's body.
type Subscribed struct {
	FrameworkID              ID          `json:"framework_id"`
	HeartbeatIntervalSeconds float64     `json:"heartbeat_interval_seconds,omitempty"`
	MasterInfo               *MasterInfo `json:"master_info,omitempty"`
}

// Offers is OFFERS's body.
type Offers struct {
	Offers []Offer `json:"offers"`
}

// Rescind is RESCIND's body.
type Rescind struct {
	OfferID ID `json:"offer_id"`
}

// Update is UPDATE's body (and the executor's UPDATE call body).
type Update struct {
	Status TaskStatus `json:"status"`
}

// Failure is FAILURE's body: an agent was removed (no executor id) or an
// executor terminated (with its exit status).
type Failure struct {
	AgentID    *ID    `json:"agent_id,omitempty"`
	ExecutorID *ID    `json:"executor_id,omitempty"`
	Status     *int32 `json:"status,omitempty"`
}

// Error is ERROR's body.
type Error struct {
	Message string `json:"message"`
}
