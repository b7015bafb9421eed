package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// AgentRecord is the agent's own identity, written when it registers.
type AgentRecord struct {
	AgentID string          `json:"agent_id"`
	Info    mesos.AgentInfo `json:"info"`
	// BootID is /proc/sys/kernel/random/boot_id when the agent
	// registered (see BootID): a different one at restart means the host
	// rebooted, so no executor survived.
	BootID     string    `json:"boot_id,omitempty"`
	Registered time.Time `json:"registered"`
}

// ResourcesRecord is the agent's checkpointed resources: its dynamic
// reservations and persistent volumes, as the master last gave them
// (CHECKPOINT_RESOURCES). They belong to the host rather than to an agent
// id (the volumes' data lives in the work_dir), so Reset keeps them.
type ResourcesRecord struct {
	// Resources is the whole set: every entry dynamically reserved or a
	// persistent volume, none revocable.
	Resources core.Resources `json:"resources,omitempty"`
	// Destroying holds the persistent volumes that the set no longer has
	// and whose directories agentd has not yet deleted: it writes them
	// here with the new set, deletes them, and writes the set again
	// without them, so that a crash in between leaves the deletion to
	// finish at recovery rather than the data behind for good.
	Destroying core.Resources `json:"destroying,omitempty"`
}

// FrameworkRecord is a framework with tasks on this agent. agentd records
// only frameworks with checkpoint: true.
type FrameworkRecord struct {
	Info mesos.FrameworkInfo `json:"info"`
}

// ExecutorRecord is an executor the agent launched: what it needs to find
// and reconnect to the process after a restart.
type ExecutorRecord struct {
	FrameworkID string             `json:"framework_id"`
	Info        mesos.ExecutorInfo `json:"info"`
	// Command: the agent's command executor for one task. Group: the
	// default executor of a task group.
	Command     bool      `json:"command,omitempty"`
	Group       bool      `json:"group,omitempty"`
	Role        string    `json:"role,omitempty"`
	Directory   string    `json:"directory,omitempty"`
	ContainerID string    `json:"container_id,omitempty"`
	PID         int       `json:"pid,omitempty"`
	Started     time.Time `json:"started"`
}

// TaskRecord is a task the agent runs (or ran: it stays until agentd
// removes it, usually once its terminal update is acknowledged).
type TaskRecord struct {
	FrameworkID string         `json:"framework_id"`
	ExecutorID  string         `json:"executor_id"`
	Role        string         `json:"role,omitempty"`
	Info        mesos.TaskInfo `json:"info"`
	// State is the task's latest state as agentd last recorded it; an
	// update appended after that may be newer.
	State mesos.TaskState `json:"state"`
	// Terminal: the task reached a terminal state on the agent (its
	// terminal update may still await acknowledgement).
	Terminal bool `json:"terminal,omitempty"`
}

// Each record kind has a key derived from its ids and a check that the
// store makes before writing it and Recover makes after reading it back,
// so that whatever the store writes, strict recovery reads.

func (r *AgentRecord) check() error {
	if err := checkID("agent id", r.AgentID); err != nil {
		return err
	}
	if id := r.Info.ID.Val(); id != "" && id != r.AgentID {
		return badRecord("agent id %q, but info.id %q", r.AgentID, id)
	}
	return nil
}

func (r *ResourcesRecord) check() error {
	if err := errors.Join(r.Resources.Validate(), r.Destroying.Validate()); err != nil {
		return badRecord("resources: %v", err)
	}
	for i := range r.Resources {
		res := &r.Resources[i]
		if res.Revocable || !res.IsDynamicallyReserved() && !res.IsPersistentVolume() {
			return badRecord("resources: %v is neither dynamically reserved nor a persistent volume", core.Resources{*res})
		}
	}
	for _, rs := range []core.Resources{r.Resources, r.Destroying} {
		for i := range rs {
			if rs[i].IsPersistentVolume() {
				if err := core.ValidatePersistenceID(rs[i].Disk.Persistence.ID); err != nil {
					return badRecord("resources: %v", err)
				}
			}
		}
	}
	for i := range r.Destroying {
		if !r.Destroying[i].IsPersistentVolume() {
			return badRecord("resources: destroying %v, which is not a persistent volume", core.Resources{r.Destroying[i]})
		}
	}
	return nil
}

func (r *FrameworkRecord) check() error {
	return checkID("framework info.id", r.Info.ID.Val())
}

func (r *FrameworkRecord) key() key { return frameworkKey(r.Info.ID.Val()) }

func (r *ExecutorRecord) check() error {
	if err := errors.Join(checkID("executor framework id", r.FrameworkID),
		checkID("executor info.executor_id", r.Info.ExecutorID.Value)); err != nil {
		return err
	}
	switch {
	case r.Info.FrameworkID.Val() != "" && r.Info.FrameworkID.Val() != r.FrameworkID:
		return badRecord("executor of framework %q, but info.framework_id %q", r.FrameworkID, r.Info.FrameworkID.Val())
	}
	return nil
}

func (r *ExecutorRecord) key() key { return executorKey(r.FrameworkID, r.Info.ExecutorID.Value) }

func (r *TaskRecord) check() error {
	if err := errors.Join(checkID("task framework id", r.FrameworkID), checkID("task executor id", r.ExecutorID),
		checkID("task info.task_id", r.Info.TaskID.Value)); err != nil {
		return err
	}
	if !r.State.Valid() {
		return badRecord("task state %q is not a task state", r.State)
	}
	return nil
}

func (r *TaskRecord) key() key { return taskKey(r.FrameworkID, r.Info.TaskID.Value) }

// checkUpdate is the check for status updates, which are agentapi's type.
func checkUpdate(u *agentapi.StatusUpdate) error {
	if err := errors.Join(checkID("status update framework_id", u.FrameworkID.Value),
		checkID("status update status.task_id", u.Status.TaskID.Value)); err != nil {
		return err
	}
	if len(u.Status.UUID) == 0 {
		return badRecord("status update without status.uuid (it could never be acknowledged)")
	}
	return nil
}

// checkID: ids are non-empty and UTF-8 (JSON would replace other bytes
// with U+FFFD, and the record would not come back under its key).
func checkID(what, id string) error {
	switch {
	case id == "":
		return badRecord("empty %s", what)
	case !utf8.ValidString(id):
		return badRecord("%s %q is not UTF-8", what, id)
	}
	return nil
}

func badRecord(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRecord, fmt.Sprintf(format, args...))
}

// The record decoders: one JSON value, nothing after it, passing the
// record's check. FuzzDecodeRecord feeds them arbitrary bytes.

func decodeAgent(b []byte) (AgentRecord, error) {
	var r AgentRecord
	if err := decodeChecked(b, &r, r.check); err != nil {
		return AgentRecord{}, err
	}
	return r, nil
}

func decodeResources(b []byte) (ResourcesRecord, error) {
	var r ResourcesRecord
	if err := decodeChecked(b, &r, r.check); err != nil {
		return ResourcesRecord{}, err
	}
	return r, nil
}

func decodeFramework(b []byte) (FrameworkRecord, error) {
	var r FrameworkRecord
	if err := decodeChecked(b, &r, r.check); err != nil {
		return FrameworkRecord{}, err
	}
	return r, nil
}

func decodeExecutor(b []byte) (ExecutorRecord, error) {
	var r ExecutorRecord
	if err := decodeChecked(b, &r, r.check); err != nil {
		return ExecutorRecord{}, err
	}
	return r, nil
}

func decodeTask(b []byte) (TaskRecord, error) {
	var r TaskRecord
	if err := decodeChecked(b, &r, r.check); err != nil {
		return TaskRecord{}, err
	}
	return r, nil
}

func decodeUpdate(b []byte) (agentapi.StatusUpdate, error) {
	var u agentapi.StatusUpdate
	if err := decodeChecked(b, &u, func() error { return checkUpdate(&u) }); err != nil {
		return agentapi.StatusUpdate{}, err
	}
	return u, nil
}

// decodeChecked decodes b into v (a pointer) and runs check, which looks
// at the decoded value (the method values above are bound to the same
// variable v points to).
func decodeChecked(b []byte, v any, check func() error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("bad JSON: data after the value")
	}
	return check()
}

// encode is the JSON of a record. It fails only for values that cannot
// encode themselves (such as a malformed resource).
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrBadRecord, err)
	}
	return b, nil
}
