package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/checkpoint"
	"meseta/core/mesos"
)

// Dynamic reservations and persistent volumes, the agent's side.
//
// The master decides them (RESERVE, UNRESERVE, CREATE, DESTROY) and gives
// the agent its whole set of checkpointed resources in CHECKPOINT_RESOURCES.
// The agent keeps the set in agent.checkpointed, durably in its checkpoint
// (checkpoint.ResourcesRecord), reports it in every REGISTER and
// REREGISTER, and shows core.ApplyCheckpointed(static, set) as its total.
//
// A persistent volume is a directory, <work_dir>/volumes/roles/<role>/<id>,
// where <role> is the role of the volume's reservation (the top of its
// stack) path-escaped, so that "a/b" is one component ("a%2Fb") that no
// other role escapes to, and <id> is its persistence id (one path
// component, core.ValidatePersistenceID). A task that uses a volume gets it
// as a symbolic link at <sandbox>/<container_path> (the task's own sandbox,
// <sandbox>/tasks/<task_id>, in a task group), as Mesos's posix isolation
// does: no mount namespace, so a volume of mode RO is writable all the
// same. The volumes live outside <work_dir>/slaves, so the sandbox
// browser (agentd/sandbox) does not serve them, and removing a sandbox
// (sandboxGC) removes the link, never what it points to.
//
// CHECKPOINT_RESOURCES is handled in three steps, ordered for crashes:
//
//  1. create the directory of every volume of the new set (with an fsync
//     of its parent). A crash here leaves the old set and, at worst, empty
//     directories that no set names; the master resends the new set when
//     the agent re-registers with the old one.
//  2. checkpoint the new set, synced, with the volumes it drops as
//     "destroying". From here the new set is what a restart recovers.
//  3. delete the dropped volumes' directories (those that no live task or
//     executor uses), then checkpoint the set again without them. A crash
//     before that second write leaves them listed, and recovery finishes
//     the deletion.
//
// So no crash loses a volume that the recovered set still has: its
// directory is made before the set is written and deleted only after a
// set without it is durable. Recovery makes the directory of every volume
// in the set that lacks one (empty: it was lost with the host's disk).
// Directories that no set names (step 1 before a crash, or a volume kept
// because it was in use) are left alone: deleting data on a guess is
// worse than keeping it.
//
// The set changes only here and in recovery, both on one goroutine (the
// master loop handles events one at a time; recovery runs before it
// starts), so the steps need not hold agent.mu across their I/O: no other
// CHECKPOINT_RESOURCES and no launch can come between them.

// volumeKey names a persistent volume on this agent: its role and
// persistence id, unique together (Mesos's rule).
type volumeKey struct{ role, id string }

func volumeKeyOf(r *core.Resource) volumeKey {
	return volumeKey{role: r.Role(), id: r.Disk.Persistence.ID}
}

// volumeRel is the volume's directory relative to <work_dir>/volumes. It
// checks the persistence id again (the master checked it too) and that
// the escaped role is one plain component.
func volumeRel(k volumeKey) (string, error) {
	if err := core.ValidatePersistenceID(k.id); err != nil {
		return "", err
	}
	role := url.PathEscape(k.role)
	if role == "" || role == "." || role == ".." || strings.Contains(role, "/") {
		return "", fmt.Errorf("agentd: role %q cannot name a volume directory", k.role)
	}
	return path.Join("roles", role, k.id), nil
}

// volumesDir is <work_dir>/volumes.
func (a *agent) volumesDir() string { return filepath.Join(a.cfg.workDir, "volumes") }

// volumesOf returns the persistent volumes of rs by key.
func volumesOf(rs core.Resources) map[volumeKey]*core.Resource {
	vs := map[volumeKey]*core.Resource{}
	for i := range rs {
		if rs[i].IsPersistentVolume() {
			vs[volumeKeyOf(&rs[i])] = &rs[i]
		}
	}
	return vs
}

// checkCheckpointed checks a set of checkpointed resources against the
// agent's static resources and returns it normalized, with the agent's
// total. Every entry must be dynamically reserved or a persistent volume,
// the set must fit in static (core.ApplyCheckpointed), and every volume
// must have a valid persistence id and container path, a directory name,
// and a (role, id) of its own.
func checkCheckpointed(static, rs core.Resources) (set, total core.Resources, err error) {
	set, err = core.NewResources(rs...)
	if err != nil {
		return nil, nil, err
	}
	for i := range set {
		if set[i].Revocable {
			return nil, nil, fmt.Errorf("agentd: checkpointed %v is revocable", core.Resources{set[i]})
		}
	}
	total, err = core.ApplyCheckpointed(static, set)
	if err != nil {
		return nil, nil, err
	}
	seen := map[volumeKey]bool{}
	for i := range set {
		v := &set[i]
		if !v.IsPersistentVolume() {
			continue
		}
		k := volumeKeyOf(v)
		if _, err := volumeRel(k); err != nil {
			return nil, nil, err
		}
		if err := core.ValidateContainerPath(v.Disk.Volume.ContainerPath); err != nil {
			return nil, nil, err
		}
		if seen[k] {
			return nil, nil, fmt.Errorf("agentd: persistent volume %q of role %q is in the set twice", k.id, k.role)
		}
		seen[k] = true
	}
	return set, total, nil
}

// unchecked shows resources that failed validation, as JSON:
// core.Resources.String expects valid ones (it panics on a persistence
// without a volume).
func unchecked(rs core.Resources) string {
	b, err := json.Marshal(rs)
	if err != nil {
		return fmt.Sprintf("(%d resources that do not encode: %v)", len(rs), err)
	}
	return string(b)
}

// checkpointResources handles CHECKPOINT_RESOURCES: see the steps above.
// A set that is invalid or does not fit the static resources is refused
// and changes nothing.
func (a *agent) checkpointResources(cr *agentapi.CheckpointResources) {
	if cr == nil {
		a.log.Error("refusing CHECKPOINT_RESOURCES without a body")
		return
	}
	set, total, err := checkCheckpointed(a.static, cr.Resources)
	if err != nil {
		a.log.Error("refusing CHECKPOINT_RESOURCES: the set is invalid or does not fit the agent's resources; nothing changed",
			"resources", unchecked(cr.Resources), "static", a.static.String(), "err", err)
		return
	}
	a.mu.Lock()
	old := a.checkpointed
	a.mu.Unlock()
	if old.Equal(set) {
		return
	}

	// Step 1: the new set's directories.
	newVols, oldVols := volumesOf(set), volumesOf(old)
	for k := range newVols {
		if err := a.makeVolumeDir(k); err != nil {
			a.log.Error("refusing CHECKPOINT_RESOURCES: cannot create a volume's directory; the set stays as it was",
				"role", k.role, "persistence_id", k.id, "err", err)
			return
		}
	}
	// Step 2: the new set, and what it drops.
	var dropped core.Resources
	for k, v := range oldVols {
		if newVols[k] == nil {
			dropped = append(dropped, *v)
		}
	}
	if a.ckpt != nil {
		if err := a.ckpt.SetResources(checkpoint.ResourcesRecord{Resources: set, Destroying: dropped}); err != nil {
			a.log.Error("refusing CHECKPOINT_RESOURCES: cannot checkpoint it; the set stays as it was", "err", err)
			return
		}
	}
	a.mu.Lock()
	a.checkpointed, a.total = set, total
	a.mu.Unlock()
	a.log.Info("checkpointed resources", "resources", set.String(), "total", total.String())

	// Step 3: the destroyed volumes' data.
	if len(dropped) > 0 {
		a.destroyVolumes(dropped, set)
	}
}

// destroyVolumes deletes the directories of volumes that set no longer
// has, except those a live task or executor uses, and then checkpoints
// set without them listed as destroying. A volume kept because it is in
// use stays on disk, unlisted, for the operator.
func (a *agent) destroyVolumes(dropped, set core.Resources) {
	a.mu.Lock()
	users := a.volumeUsersLocked()
	a.mu.Unlock()
	for i := range dropped {
		k := volumeKeyOf(&dropped[i])
		if user := users[k]; user != "" {
			a.log.Error("not deleting a destroyed persistent volume: "+user+" still uses it; its data stays on disk",
				"role", k.role, "persistence_id", k.id, "dir", a.volumeDir(k))
			continue
		}
		if err := a.removeVolumeDir(k); err != nil {
			a.log.Error("could not delete a destroyed persistent volume", "role", k.role, "persistence_id", k.id, "err", err)
			continue
		}
		a.log.Info("deleted a destroyed persistent volume", "role", k.role, "persistence_id", k.id)
	}
	if a.ckpt != nil {
		a.ckptErr("resources", a.ckpt.SetResources(checkpoint.ResourcesRecord{Resources: set}))
	}
}

// volumeUsersLocked returns, for every volume a task not yet terminal or
// an executor not terminated was given, who that is.
func (a *agent) volumeUsersLocked() map[volumeKey]string {
	users := map[volumeKey]string{}
	for _, ex := range a.executors {
		if ex.state == execTerminated {
			continue
		}
		for k := range volumesOf(ex.info.Resources) {
			users[k] = fmt.Sprintf("executor %q of framework %q", ex.key.executor, ex.key.framework)
		}
	}
	for _, t := range a.tasks {
		if t.terminal {
			continue
		}
		for k := range volumesOf(t.info.Resources) {
			users[k] = fmt.Sprintf("task %q of framework %q", t.key.task, t.key.framework)
		}
	}
	return users
}

// recoverResources restores the checkpointed set at start-up and makes
// sure every volume in it has its directory. A set that no longer fits
// the static resources (--resources changed) stops the agent: running
// without the reservations would hand the volumes' disk out again.
func (a *agent) recoverResources(rec checkpoint.ResourcesRecord) error {
	set, total, err := checkCheckpointed(a.static, rec.Resources)
	if err != nil {
		return fmt.Errorf("the checkpointed resources (dynamic reservations and persistent volumes) %s in %s "+
			"do not fit the agent's resources %s (was --resources changed?): %w", rec.Resources, a.ckpt.Dir(), a.static, err)
	}
	for k := range volumesOf(set) {
		if _, err := os.Lstat(a.volumeDir(k)); errors.Is(err, os.ErrNotExist) {
			a.log.Warn("a checkpointed persistent volume has no directory; creating it empty",
				"role", k.role, "persistence_id", k.id, "dir", a.volumeDir(k))
		}
		if err := a.makeVolumeDir(k); err != nil {
			return fmt.Errorf("create the directory of persistent volume %q of role %q: %w", k.id, k.role, err)
		}
	}
	a.mu.Lock()
	a.checkpointed, a.total = set, total
	a.mu.Unlock()
	if len(set) > 0 {
		a.log.Info("recovered the checkpointed resources", "resources", set.String())
	}
	return nil
}

// finishDestroying completes, at start-up once the tasks are recovered, a
// deletion that a crash interrupted (step 3). A volume the set has again
// (created anew after its destruction) is not touched.
func (a *agent) finishDestroying(rec checkpoint.ResourcesRecord) {
	if len(rec.Destroying) == 0 {
		return
	}
	a.mu.Lock()
	set := a.checkpointed
	a.mu.Unlock()
	live := volumesOf(set)
	var dropped core.Resources
	for i := range rec.Destroying {
		if live[volumeKeyOf(&rec.Destroying[i])] == nil {
			dropped = append(dropped, rec.Destroying[i])
		}
	}
	a.log.Info("finishing the deletion of destroyed persistent volumes", "volumes", core.Resources(dropped).String())
	a.destroyVolumes(dropped, set)
}

// volumeDir is the volume's directory; k must pass volumeRel.
func (a *agent) volumeDir(k volumeKey) string {
	rel, err := volumeRel(k)
	if err != nil {
		panic("agentd: volumeDir of an unchecked volume: " + err.Error())
	}
	return filepath.Join(a.volumesDir(), filepath.FromSlash(rel))
}

// makeVolumeDir creates a volume's directory if it does not exist, and
// then syncs its parent, so that the directory is durable before the set
// that names it is checkpointed. It works through an os.Root on
// <work_dir>/volumes, so that no symbolic link leads it elsewhere.
func (a *agent) makeVolumeDir(k volumeKey) error {
	rel, err := volumeRel(k)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.volumesDir(), 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(a.volumesDir())
	if err != nil {
		return err
	}
	defer root.Close()
	if fi, err := root.Lstat(rel); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", filepath.Join(a.volumesDir(), rel))
		}
		return nil
	}
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return err
	}
	parent, err := root.Open(path.Dir(rel))
	if err != nil {
		return err
	}
	defer parent.Close()
	return parent.Sync()
}

// removeVolumeDir deletes a volume's directory and everything in it,
// through an os.Root on <work_dir>/volumes: RemoveAll removes symbolic
// links it meets rather than following them, and the root keeps a link in
// the path from leading it out.
func (a *agent) removeVolumeDir(k volumeKey) error {
	rel, err := volumeRel(k)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(a.volumesDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	return root.RemoveAll(rel)
}

// volumeLink is one persistent volume to link into a sandbox.
type volumeLink struct {
	containerPath string // relative to the sandbox, checked
	target        string // the volume's directory
}

// volumeLinksLocked returns the links that rs's persistent volumes need,
// or an error (the launch fails) when one is not in the agent's
// checkpointed set: the master's CHECKPOINT_RESOURCES has not arrived, or
// the volume was destroyed. No directory is made for such a volume.
func (a *agent) volumeLinksLocked(rs core.Resources) ([]volumeLink, error) {
	var links []volumeLink
	for i := range rs {
		v := &rs[i]
		if !v.IsPersistentVolume() {
			continue
		}
		k := volumeKeyOf(v)
		if _, err := volumeRel(k); err != nil {
			return nil, err
		}
		if v.Disk.Volume == nil {
			return nil, fmt.Errorf("persistent volume %q of role %q has no container path", k.id, k.role)
		}
		p := v.Disk.Volume.ContainerPath
		if err := core.ValidateContainerPath(p); err != nil {
			return nil, err
		}
		if !a.checkpointed.Contains(core.Resources{*v}) {
			return nil, fmt.Errorf("persistent volume %q of role %q (container path %q) is not among this agent's "+
				"checkpointed resources: it was never created here, was destroyed, or the master's "+
				"CHECKPOINT_RESOURCES for it has not arrived", k.id, k.role, p)
		}
		links = append(links, volumeLink{containerPath: path.Clean(p), target: a.volumeDir(k)})
	}
	return links, nil
}

// volumeUse is resources of a launch and the sandbox their persistent
// volumes go in.
type volumeUse struct {
	sandbox string // "": the task id cannot name a directory
	res     core.Resources
}

// taskSandbox is the sandbox of a task of a task group, where the
// default executor runs it, or "" for a task id that cannot name a
// directory (the executor refuses such a task too).
func taskSandbox(dir, taskID string) string {
	if taskID == "" || taskID == "." || taskID == ".." || strings.ContainsAny(taskID, "/\x00") {
		return ""
	}
	return filepath.Join(dir, "tasks", taskID)
}

// prepareVolumesLocked checks every persistent volume a launch uses
// and then links each into its sandbox, so that nothing is linked for a
// launch that fails the check. The links are a few local file system
// calls, made under a.mu (as the checkpoint writes are) so that they are
// in place before the launch is queued for the executor.
func (a *agent) prepareVolumesLocked(uses []volumeUse) error {
	links := make([][]volumeLink, len(uses))
	for i, u := range uses {
		l, err := a.volumeLinksLocked(u.res)
		if err != nil {
			return err
		}
		if len(l) > 0 && u.sandbox == "" {
			return errors.New("the task id cannot name a sandbox directory")
		}
		links[i] = l
	}
	for i, u := range uses {
		if err := linkVolumes(u.sandbox, links[i]); err != nil {
			return err
		}
	}
	return nil
}

// linkVolumes makes each link's container path in sandbox (creating the
// sandbox and the path's parents) a symbolic link to its volume. A link
// already there to the same volume is kept (a second task of an executor,
// or a shared volume); anything else at that path is an error. It works
// through an os.Root on the sandbox, so a container path cannot lead
// through another link (into another volume, say) or out of the sandbox.
func linkVolumes(sandbox string, links []volumeLink) error {
	if len(links) == 0 {
		return nil
	}
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		return fmt.Errorf("create the sandbox: %w", err)
	}
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, l := range links {
		if dir := path.Dir(l.containerPath); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("link the volume at container path %q: %w", l.containerPath, err)
			}
		}
		if target, err := root.Readlink(l.containerPath); err == nil && target == l.target {
			continue
		}
		if err := root.Symlink(l.target, l.containerPath); err != nil {
			return fmt.Errorf("link the volume at container path %q: %w", l.containerPath, err)
		}
	}
	return nil
}

// failLaunchLocked fails tasks whose persistent volumes could not be
// prepared, before any executor takes them: TASK_FAILED from the agent,
// with REASON_CONTAINER_LAUNCH_FAILED, as for an executor that could not
// start. They
// are not recorded as the agent's tasks (as for a kill of an unknown
// task); the status update manager alone keeps their update until it is
// acknowledged.
func (a *agent) failLaunchLocked(fid, executorID string, tasks []mesos.TaskInfo, err error, now time.Time) []agentapi.StatusUpdate {
	msg := "Failed to prepare persistent volumes: " + err.Error()
	ex := &executorRun{key: execKey{fid, executorID}, tasks: map[string]*taskRun{}}
	var out []agentapi.StatusUpdate
	for _, ti := range tasks {
		a.log.Warn("task launch refused", "framework", fid, "task", ti.TaskID.Value, "reason", msg)
		t := &taskRun{key: taskKey{fid, ti.TaskID.Value}, info: ti, exec: ex, state: mesos.TaskStaging}
		out = append(out, a.agentStatusLocked(t, mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, msg, now)...)
	}
	return out
}
