package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/checkpoint"
	"meseta/core/mesos"
)

// Dynamic reservations and persistent volumes on a whole agent (serve)
// against the fake master, with real tasks run by the built-in executors
// (the test binary; see TestMain). The agent's static resources are
// parse's: cpus:1;mem:256;disk:256;ports:[31000-31001].

var testStatic = core.MustParseResources("cpus:1;mem:256;disk:256;ports:[31000-31001]")

// reserved is text dynamically reserved for role.
func reserved(role, text string) core.Resources {
	return core.MustParseResources(text).Reserve(core.Reservation{Type: core.Dynamic, Role: role, Principal: "ops"})
}

// volume is an RW persistent volume of mb MB on disk reserved for role.
func volume(role, id, containerPath string, mb int) core.Resource {
	v := reserved(role, fmt.Sprintf("disk:%d", mb))[0]
	v.Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: id, Principal: "ops"},
		Volume: &core.Volume{ContainerPath: containerPath, Mode: core.RW}}
	return v
}

// resources normalizes a list of resources.
func resources(t *testing.T, list ...core.Resource) core.Resources {
	t.Helper()
	rs, err := core.NewResources(list...)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func checkpointEvent(rs core.Resources) agentapi.Event {
	return agentapi.Event{Type: agentapi.EventCheckpointResources,
		CheckpointResources: &agentapi.CheckpointResources{Resources: rs}}
}

// runTaskEvent launches a command task of framework fw running cmd in
// its sandbox.
func runTaskEvent(fw string, checkpoint bool, id, cmd string, res core.Resources) agentapi.Event {
	return agentapi.Event{Type: agentapi.EventRunTask, RunTask: &agentapi.RunTask{
		FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: fw, ID: &mesos.ID{Value: fw}, Checkpoint: checkpoint},
		Task: mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: "agent-1"},
			Resources: res, Command: &mesos.CommandInfo{Value: cmd}},
		Role: "db/ml"}}
}

// taskResources is a small task's resources with the given volumes.
func taskResources(t *testing.T, vols ...core.Resource) core.Resources {
	return resources(t, append(core.MustParseResources("cpus:0.1;mem:32"), vols...)...)
}

// volumeAgent starts an agent on workDir with m as its master, which
// removes sandboxes as soon as it forgets their executors, and waits for
// it to register (its stream-th stream to m) as agent-1; it returns the
// agent and its subscription. args are more flags.
func volumeAgent(t *testing.T, m *fakeMaster, workDir string, stream int, args ...string) (*testAgent, agentapi.Call) {
	t.Helper()
	a := startAgentWith(t, func(c *config) { c.gcDelay = 0 }, append([]string{"--master=" + m.addr, "--work_dir=" + workDir}, args...)...)
	c := m.nextSubscribe(t)
	m.awaitPong(t, stream, "agent-1")
	return a, c
}

// eventually waits up to within for cond, checking every 10ms.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		<-tick.C
	}
}

// awaitStatus reads m's calls until a status update of task in state, and
// fails on a terminal update of the task in another state.
func (m *fakeMaster) awaitStatus(t *testing.T, task string, state mesos.TaskState) mesos.TaskStatus {
	t.Helper()
	return m.awaitStatuses(t, state, task)[task]
}

// awaitStatuses is awaitStatus for several tasks at once, whose updates
// may come in any order.
func (m *fakeMaster) awaitStatuses(t *testing.T, state mesos.TaskState, tasks ...string) map[string]mesos.TaskStatus {
	t.Helper()
	got := map[string]mesos.TaskStatus{}
	deadline := time.After(within)
	for len(got) < len(tasks) {
		select {
		case c := <-m.calls:
			if c.Type != agentapi.CallStatusUpdate || !slices.Contains(tasks, c.StatusUpdate.Status.TaskID.Value) {
				continue
			}
			s := c.StatusUpdate.Status
			if s.State == state {
				got[s.TaskID.Value] = s
			} else if s.State.Terminal() {
				t.Fatalf("task %s: %s (%s: %s), want %s", s.TaskID.Value, s.State, s.Reason, s.Message, state)
			}
		case <-deadline:
			t.Fatalf("tasks %q: %d of them %s within %v", tasks, len(got), state, within)
		}
	}
	return got
}

// total is the agent's total resources as /state shows them.
func (a *testAgent) total(t *testing.T) core.Resources {
	t.Helper()
	b, err := json.Marshal(a.state(t)["resources"])
	if err != nil {
		t.Fatal(err)
	}
	rs, err := core.ParseResourcesJSON(b)
	if err != nil {
		t.Fatalf("/state resources %s: %v", b, err)
	}
	return rs
}

// awaitTotal waits until the agent's total is static with set applied:
// the agent has handled the CHECKPOINT_RESOURCES of set, and every event
// before it.
func (a *testAgent) awaitTotal(t *testing.T, set core.Resources) {
	t.Helper()
	want, err := core.ApplyCheckpointed(testStatic, set)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the agent's total becomes "+want.String(), func() bool { return a.total(t).Equal(want) })
}

func volumeDir(workDir, escapedRole, id string) string {
	return filepath.Join(workDir, "volumes", "roles", escapedRole, id)
}

// volumeDirs lists <role>/<id> of every volume directory.
func volumeDirs(t *testing.T, workDir string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(workDir, "volumes", "roles", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.ToSlash(strings.TrimPrefix(d, filepath.Join(workDir, "volumes", "roles")+"/"))
	}
	slices.Sort(dirs)
	return dirs
}

// sandboxes lists the run directories of an executor.
func sandboxes(t *testing.T, workDir, fw, executor string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(workDir, "slaves", "agent-1", "frameworks", fw, "executors", executor, "runs", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recoverResources reads the checkpointed resources of a stopped agent.
func recoverResources(t *testing.T, workDir string) checkpoint.ResourcesRecord {
	t.Helper()
	s, err := checkpoint.Open(filepath.Join(workDir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	return st.Resources
}

// TestVolumeLifecycle: a volume's life on one agent. CHECKPOINT_RESOURCES
// creates its directory under the role's escaped name, and the next
// REREGISTER carries the set. A task writes a file through the link in its
// sandbox and ends; its sandbox is removed, the file is not; a second
// task reads it back. A set without the volume deletes its directory, and
// the checkpoint then lists nothing left to delete.
func TestVolumeLifecycle(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	m.autoAck = true
	work := t.TempDir()
	a, c := volumeAgent(t, m, work, 1)
	if c.Type != agentapi.CallRegister || len(c.Register.CheckpointedResources) != 0 {
		t.Fatalf("first subscription: %s with checkpointed resources %v, want REGISTER with none", c.Type, c.Register.CheckpointedResources)
	}

	v1 := volume("db/ml", "v1", "data", 64)
	set := resources(t, append(reserved("db/ml", "cpus:0.5"), v1)...)
	m.events <- checkpointEvent(set)
	a.awaitTotal(t, set)
	dir := volumeDir(work, "db%2Fml", "v1")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("volume directory %s: %v", dir, err)
	}
	if byRole, _ := a.state(t)["reserved_resources_full"].(map[string]any); len(byRole) != 1 || byRole["db/ml"] == nil {
		t.Fatalf("/state reserved_resources_full: %v, want the set under db/ml", byRole)
	}

	m.hangUp <- struct{}{}
	c = m.nextSubscribe(t)
	if c.Type != agentapi.CallReregister || !c.Register.CheckpointedResources.Equal(set) {
		t.Fatalf("after the stream ended: %s with checkpointed resources %v, want REREGISTER with %v",
			c.Type, c.Register.CheckpointedResources, set)
	}
	if !c.Register.AgentInfo.Resources.Equal(testStatic) {
		t.Fatalf("REREGISTER agent_info.resources %v, want the static %v", c.Register.AgentInfo.Resources, testStatic)
	}
	m.awaitPong(t, 2, "agent-1")

	m.events <- runTaskEvent("fw1", true, "writer", "echo hello > data/file", taskResources(t, v1))
	m.awaitStatus(t, "writer", mesos.TaskFinished)
	eventually(t, "the writer's sandbox is removed", func() bool { return len(sandboxes(t, work, "fw1", "writer")) == 0 })
	if got := readFile(t, filepath.Join(dir, "file")); got != "hello\n" {
		t.Fatalf("the volume's file after the writer's sandbox went: %q", got)
	}

	m.events <- runTaskEvent("fw1", true, "reader", `test "$(cat data/file)" = hello && echo again >> data/file`, taskResources(t, v1))
	m.awaitStatus(t, "reader", mesos.TaskFinished)
	eventually(t, "the reader's sandbox is removed", func() bool { return len(sandboxes(t, work, "fw1", "reader")) == 0 })
	if got := readFile(t, filepath.Join(dir, "file")); got != "hello\nagain\n" {
		t.Fatalf("the volume's file after the reader: %q", got)
	}

	// DESTROY: the disk stays reserved, the volume goes.
	destroyed := resources(t, append(reserved("db/ml", "cpus:0.5"), reserved("db/ml", "disk:64")...)...)
	m.events <- checkpointEvent(destroyed)
	a.awaitTotal(t, destroyed)
	if exists(dir) {
		t.Fatalf("volume directory %s outlived the volume", dir)
	}
	a.stop()
	if rec := recoverResources(t, work); !rec.Resources.Equal(destroyed) || len(rec.Destroying) != 0 {
		t.Fatalf("checkpoint after DESTROY: %+v, want %v and nothing destroying", rec, destroyed)
	}
}

// TestVolumeRecovery: a restarted agent recovers its checkpointed set,
// re-registers with it, makes the directory of a volume that lost its
// own, and finishes the deletion of a volume that a crash interrupted (a
// set written with it as destroying, its directory still there).
func TestVolumeRecovery(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	work := t.TempDir()
	a, _ := volumeAgent(t, m, work, 1)
	v1, v2 := volume("db/ml", "v1", "data", 64), volume("db", "v2", "logs", 32)
	set := resources(t, append(reserved("db", "cpus:0.5"), v1, v2)...)
	m.events <- checkpointEvent(set)
	a.awaitTotal(t, set)
	a.stop()

	// The crash: v2 destroyed, its set checkpointed, its data still there;
	// and v1's directory lost.
	after := resources(t, append(reserved("db", "cpus:0.5"), v1, reserved("db", "disk:32")[0])...)
	s, err := checkpoint.Open(filepath.Join(work, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetResources(checkpoint.ResourcesRecord{Resources: after, Destroying: core.Resources{v2}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(volumeDir(work, "db", "v2"), "old"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(volumeDir(work, "db%2Fml", "v1")); err != nil {
		t.Fatal(err)
	}

	a, c := volumeAgent(t, m, work, 2)
	if c.Type != agentapi.CallReregister || c.Register.AgentInfo.ID.Val() != "agent-1" || !c.Register.CheckpointedResources.Equal(after) {
		t.Fatalf("after the restart: %s of %q with checkpointed resources %v, want REREGISTER of agent-1 with %v",
			c.Type, c.Register.AgentInfo.ID.Val(), c.Register.CheckpointedResources, after)
	}
	a.awaitTotal(t, after)
	if got, want := volumeDirs(t, work), []string{"db%2Fml/v1"}; !slices.Equal(got, want) {
		t.Fatalf("volume directories after recovery: %q, want %q", got, want)
	}
	a.stop()
	if rec := recoverResources(t, work); !rec.Resources.Equal(after) || len(rec.Destroying) != 0 {
		t.Fatalf("checkpoint after recovery: %+v, want %v and nothing destroying", rec, after)
	}
}

// TestVolumeRecoveryDoesNotFit: an agent whose checkpointed set no longer
// fits its --resources refuses to start, naming the problem, rather than
// hand the reserved disk out again.
func TestVolumeRecoveryDoesNotFit(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	work := t.TempDir()
	a, _ := volumeAgent(t, m, work, 1)
	set := resources(t, volume("db", "v1", "data", 200))
	m.events <- checkpointEvent(set)
	a.awaitTotal(t, set)
	a.stop()

	cfg, err := parse(t, nil, "--master="+m.addr, "--work_dir="+work, "--ip=127.0.0.1", "--port=0", "--isolation=none",
		"--resources=cpus:1;mem:256;disk:100")
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), cfg, testLogger(t), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Fatalf("serve with too little disk for the volume: %v, want an error saying the resources do not fit", err)
	}
	if !exists(volumeDir(work, "db", "v1")) {
		t.Fatal("the refused start removed the volume")
	}
}

// TestVolumeInUse: a set without a volume that a running task uses
// applies, but the volume's directory stays. The framework's shutdown
// then removes the task's sandbox, not the volume's data.
func TestVolumeInUse(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	m.autoAck = true
	work := t.TempDir()
	// The task's last update is never acknowledged once its framework is
	// gone, so the executor waits for the agent to kill it after the
	// grace period (and 2s more).
	a, _ := volumeAgent(t, m, work, 1, "--executor_shutdown_grace_period=100ms")
	v1 := volume("db/ml", "v1", "data", 64)
	m.events <- checkpointEvent(resources(t, v1))
	a.awaitTotal(t, resources(t, v1))
	dir := volumeDir(work, "db%2Fml", "v1")

	m.events <- runTaskEvent("fw1", false, "busy", "echo x > data/f && exec sleep 100", taskResources(t, v1))
	m.awaitStatus(t, "busy", mesos.TaskRunning)
	eventually(t, "the task writes into the volume", func() bool { return exists(filepath.Join(dir, "f")) })

	without := reserved("db/ml", "disk:64")
	m.events <- checkpointEvent(without)
	a.awaitTotal(t, without)
	if !exists(filepath.Join(dir, "f")) {
		t.Fatal("the agent deleted a volume that a running task uses")
	}

	m.events <- agentapi.Event{Type: agentapi.EventShutdownFramework, ShutdownFramework: &agentapi.FrameworkRef{FrameworkID: mesos.ID{Value: "fw1"}}}
	eventually(t, "the task's sandbox is removed after the framework's shutdown",
		func() bool { return len(sandboxes(t, work, "fw1", "busy")) == 0 })
	if got := readFile(t, filepath.Join(dir, "f")); got != "x\n" {
		t.Fatalf("the volume's file after the sandbox went: %q", got)
	}
}

// TestCheckpointResourcesRefused: a set that does not fit the static
// resources, or is invalid, changes nothing: no directory made or
// deleted, the total and the checkpointed set as they were. Each refused
// set drops v1 and brings a volume of its own, so that applying any of
// them would show. A valid set sent last marks where the agent has
// handled them all.
func TestCheckpointResourcesRefused(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	work := t.TempDir()
	a, _ := volumeAgent(t, m, work, 1)
	v1 := volume("db/ml", "v1", "data", 64)
	m.events <- checkpointEvent(resources(t, v1))
	a.awaitTotal(t, resources(t, v1))

	noVolume := volume("db", "novolume", "x", 8)
	noVolume.Disk = &core.DiskInfo{Persistence: noVolume.Disk.Persistence}
	dup1, dup2 := volume("db", "dup", "a", 8), volume("db", "dup", "b", 8)
	for _, rs := range []core.Resources{
		{volume("db", "huge", "huge", 1000)},                                                       // more disk than the agent has
		append(core.MustParseResources("cpus:0.25"), volume("db", "u", "u", 8)),                    // unreserved cpus
		core.MustParseResources("cpus:1").Reserve(core.Reservation{Type: core.Static, Role: "db"}), // static
		{volume("db", "..", "dots", 8)},                                                            // not a directory name
		{volume("db", "abs", "/abs", 8)},                                                           // container path outside the sandbox
		{dup1, dup2},                                                                               // one id twice
		{noVolume},                                                                                 // persistence without a volume
	} {
		m.events <- checkpointEvent(rs)
	}
	m.events <- agentapi.Event{Type: agentapi.EventCheckpointResources} // no body

	v2 := volume("db/ml", "v2", "v2", 8)
	last := resources(t, v1, v2)
	m.events <- checkpointEvent(last)
	a.awaitTotal(t, last)
	if got, want := volumeDirs(t, work), []string{"db%2Fml/v1", "db%2Fml/v2"}; !slices.Equal(got, want) {
		t.Fatalf("volume directories: %q, want %q", got, want)
	}
	a.stop()
	if rec := recoverResources(t, work); !rec.Resources.Equal(last) {
		t.Fatalf("checkpointed: %v, want %v", rec.Resources, last)
	}
}

// TestLaunchUnknownVolume: a task, or a task group, that uses a volume the
// agent has not checkpointed fails with a message naming it, and no
// directory is made for it. A volume the agent has, but at another
// container path than the one it was created with, is not the same
// volume.
func TestLaunchUnknownVolume(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	m.autoAck = true
	work := t.TempDir()
	a, _ := volumeAgent(t, m, work, 1)
	v1 := volume("db/ml", "v1", "data", 64)
	m.events <- checkpointEvent(resources(t, v1))
	a.awaitTotal(t, resources(t, v1))

	check := func(s mesos.TaskStatus, id string) {
		t.Helper()
		if s.Source != mesos.SourceAgent || s.Reason != mesos.ReasonContainerLaunchFailed ||
			!strings.Contains(s.Message, fmt.Sprintf("persistent volume %q", id)) ||
			!strings.Contains(s.Message, "not among this agent's checkpointed resources") {
			t.Fatalf("status %s from %s (%s): %q; want the agent to name volume %q as unknown", s.State, s.Source, s.Reason, s.Message, id)
		}
	}
	m.events <- runTaskEvent("fw1", true, "t1", "true", taskResources(t, volume("db/ml", "v9", "data", 8)))
	check(m.awaitStatus(t, "t1", mesos.TaskFailed), "v9")
	m.events <- runTaskEvent("fw1", true, "t2", "true", taskResources(t, volume("db/ml", "v1", "elsewhere", 64)))
	check(m.awaitStatus(t, "t2", mesos.TaskFailed), "v1")

	group := agentapi.Event{Type: agentapi.EventRunTaskGroup, RunTaskGroup: &agentapi.RunTaskGroup{
		FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: "fw1", ID: &mesos.ID{Value: "fw1"}, Checkpoint: true},
		Executor:      mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "group"}, Type: mesos.ExecutorDefault},
		TaskGroup: mesos.TaskGroupInfo{Tasks: []mesos.TaskInfo{
			{Name: "g1", TaskID: mesos.ID{Value: "g1"}, Resources: taskResources(t, v1), Command: &mesos.CommandInfo{Value: "true"}},
			{Name: "g2", TaskID: mesos.ID{Value: "g2"}, Resources: taskResources(t, volume("db", "v8", "data", 8)),
				Command: &mesos.CommandInfo{Value: "true"}},
		}},
		Role: "db/ml"}}
	m.events <- group
	for _, s := range m.awaitStatuses(t, mesos.TaskFailed, "g1", "g2") {
		check(s, "v8")
	}
	if got, want := volumeDirs(t, work), []string{"db%2Fml/v1"}; !slices.Equal(got, want) {
		t.Fatalf("volume directories: %q, want %q", got, want)
	}
	for _, ex := range []string{"t1", "t2", "group"} {
		if dirs := sandboxes(t, work, "fw1", ex); len(dirs) != 0 {
			t.Fatalf("a refused launch left sandboxes %q", dirs)
		}
	}
}

// TestVolumeTaskGroup: in a task group, a task's volume is linked in the
// task's own sandbox (<sandbox>/tasks/<task_id>), where the default
// executor runs it, and a shared volume in two tasks at once.
func TestVolumeTaskGroup(t *testing.T) {
	m := newFakeMaster(t, "m1", "agent-1")
	m.autoAck = true
	work := t.TempDir()
	a, _ := volumeAgent(t, m, work, 1)
	shared := volume("db", "shared", "data", 64)
	shared.Shared = true
	m.events <- checkpointEvent(resources(t, shared))
	a.awaitTotal(t, resources(t, shared))

	task := func(id string) mesos.TaskInfo {
		return mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, Resources: taskResources(t, shared),
			Command: &mesos.CommandInfo{Value: "echo " + id + " > data/" + id + " && test -f ./stdout"}}
	}
	m.events <- agentapi.Event{Type: agentapi.EventRunTaskGroup, RunTaskGroup: &agentapi.RunTaskGroup{
		FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: "fw1", ID: &mesos.ID{Value: "fw1"}, Checkpoint: true},
		Executor:      mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "group"}, Type: mesos.ExecutorDefault},
		TaskGroup:     mesos.TaskGroupInfo{Tasks: []mesos.TaskInfo{task("g1"), task("g2")}},
		Role:          "db"}}
	m.awaitStatuses(t, mesos.TaskFinished, "g1", "g2")
	dir := volumeDir(work, "db", "shared")
	for _, id := range []string{"g1", "g2"} {
		if got := readFile(t, filepath.Join(dir, id)); got != id+"\n" {
			t.Fatalf("file %s in the shared volume: %q", id, got)
		}
	}
	eventually(t, "the group's sandbox is removed", func() bool { return len(sandboxes(t, work, "fw1", "group")) == 0 })
	if !exists(filepath.Join(dir, "g1")) {
		t.Fatal("removing the group's sandbox removed the volume's data")
	}
}

// TestVolumeRel: a hierarchical role's volumes cannot collide with those
// of a role whose name is the escaped form.
func TestVolumeRel(t *testing.T) {
	for _, c := range []struct {
		role, id, want string
	}{
		{"db", "v1", "roles/db/v1"},
		{"a/b", "v1", "roles/a%2Fb/v1"},
		{"a%2Fb", "v1", "roles/a%252Fb/v1"},
		{"a b", "v 1", "roles/a%20b/v 1"},
	} {
		if got, err := volumeRel(volumeKey{c.role, c.id}); err != nil || got != c.want {
			t.Errorf("volumeRel(%q, %q) = %q, %v; want %q", c.role, c.id, got, err, c.want)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "a\x00b"} {
		if got, err := volumeRel(volumeKey{"db", id}); err == nil {
			t.Errorf("volumeRel(db, %q) = %q, want an error", id, got)
		}
	}
}

// TestRemoveSandbox: removing a sandbox removes the links in it, not what
// they point to, and nothing outside the sandboxes' root is removed.
func TestRemoveSandbox(t *testing.T) {
	work := t.TempDir()
	root := filepath.Join(work, "slaves")
	sandbox := filepath.Join(root, "a1", "frameworks", "f", "executors", "e", "runs", "c1")
	vol := filepath.Join(work, "volumes", "roles", "db", "v1")
	for _, d := range []string{filepath.Join(sandbox, "sub"), vol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(vol, "data"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{filepath.Join(sandbox, "vol"), filepath.Join(sandbox, "sub", "vol")} {
		if err := os.Symlink(vol, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeSandbox(root, sandbox); err != nil {
		t.Fatal(err)
	}
	if exists(sandbox) || readFile(t, filepath.Join(vol, "data")) != "keep" {
		t.Fatalf("after removeSandbox: sandbox there %v, volume's file %q", exists(sandbox), readFile(t, filepath.Join(vol, "data")))
	}
	for _, dir := range []string{root, work, vol, filepath.Join(root, "..", "volumes")} {
		if err := removeSandbox(root, dir); err == nil {
			t.Errorf("removeSandbox(%s) succeeded", dir)
		}
	}
	if !exists(vol) {
		t.Fatal("a refused removal removed the volume")
	}
}

// TestVolumeLinks: linking is idempotent for the same volume (a shared
// volume, or a second task of an executor), refuses a path taken by
// anything else, and does not follow one volume's link into another.
func TestVolumeLinks(t *testing.T) {
	cfg, err := parse(t, nil, "--master=127.0.0.1:5050")
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(cfg, slog.New(slog.DiscardHandler), testStatic, nil, nil)
	shared := volume("db", "s", "data", 64)
	shared.Shared = true
	set, total, err := checkCheckpointed(testStatic, resources(t, shared, volume("db", "inner", "data/inner", 8)))
	if err != nil {
		t.Fatal(err)
	}
	a.checkpointed, a.total = set, total
	for _, k := range []volumeKey{{"db", "s"}, {"db", "inner"}} {
		if err := a.makeVolumeDir(k); err != nil {
			t.Fatal(err)
		}
	}

	links, err := a.volumeLinksLocked(taskResources(t, shared))
	if err != nil {
		t.Fatal(err)
	}
	sb1, sb2 := filepath.Join(cfg.workDir, "sb1"), filepath.Join(cfg.workDir, "sb2")
	for _, sb := range []string{sb1, sb2, sb1} {
		if err := linkVolumes(sb, links); err != nil {
			t.Fatalf("link the shared volume into %s: %v", sb, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(sb2, "data")); err != nil || target != a.volumeDir(volumeKey{"db", "s"}) {
		t.Fatalf("link in %s: %q, %v", sb2, target, err)
	}

	inner, err := a.volumeLinksLocked(taskResources(t, volume("db", "inner", "data/inner", 8)))
	if err != nil {
		t.Fatal(err)
	}
	if err := linkVolumes(sb1, inner); err == nil {
		t.Fatal("a link made through another volume's link")
	}
	if exists(filepath.Join(a.volumeDir(volumeKey{"db", "s"}), "inner")) {
		t.Fatal("a link was made inside another volume")
	}
	if err := os.WriteFile(filepath.Join(sb2, "taken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	taken := []volumeLink{{containerPath: "taken", target: a.volumeDir(volumeKey{"db", "s"})}}
	if err := linkVolumes(sb2, taken); err == nil {
		t.Fatal("a link replaced a file of the sandbox")
	}
}
