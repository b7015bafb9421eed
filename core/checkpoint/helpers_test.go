package checkpoint

import (
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
)

// TestMain also runs the crash child (crash_test.go) when the test binary
// is re-executed with childEnv set.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// openStore opens a store in dir, closed at the end of the test.
func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen closes s and opens its directory again.
func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openStore(t, s.Dir())
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func recoverStrict(t testing.TB, s *Store) State {
	t.Helper()
	st, err := s.Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Builders: records with every kind of field filled, named by their ids.

func agentRec(id string) AgentRecord {
	return AgentRecord{
		AgentID: id,
		Info: mesos.AgentInfo{Hostname: "host1", Port: 5051, ID: mesos.NewID(id),
			Resources: core.MustParseResources("cpus:4;mem:1024;ports:[31000-32000]")},
		BootID:     "0e6a6bd5-8c0b-4f38-9a1e-3f1d1d6d7c11",
		Registered: t0,
	}
}

func frameworkRec(id string) FrameworkRecord {
	return FrameworkRecord{Info: mesos.FrameworkInfo{
		User: "alice", Name: "fw " + id, ID: mesos.NewID(id), Checkpoint: true,
		FailoverTimeout: 3600, Roles: []string{"web"},
		Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}},
	}}
}

func executorRec(fw, id string) ExecutorRecord {
	return ExecutorRecord{
		FrameworkID: fw,
		Info: mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: id}, FrameworkID: mesos.NewID(fw),
			Command:   &mesos.CommandInfo{Value: "./executor --flag"},
			Resources: core.MustParseResources("cpus:0.1;mem:32"), Data: []byte{0, 1, 2}},
		Role: "web", Directory: "/var/lib/agent/slaves/a/frameworks/" + fw + "/executors/" + id,
		ContainerID: "c-" + id, PID: 4242, Started: t0.Add(time.Second),
	}
}

func taskRec(fw, ex, id string, state mesos.TaskState) TaskRecord {
	return TaskRecord{
		FrameworkID: fw, ExecutorID: ex, Role: "web",
		Info: mesos.TaskInfo{Name: "task " + id, TaskID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: "a1"},
			Resources: core.MustParseResources("cpus:1;mem:128"), Data: []byte("payload")},
		State: state, Terminal: state.Terminal(),
	}
}

// resourcesRec is a checkpointed set with every kind of entry: cpus:1
// reserved for the hierarchical role "db/ml" (with a principal and
// labels), a 64 MB RW volume "data" and a shared RO volume "logs" on disk
// reserved the same way, and a volume "old" being destroyed.
func resourcesRec() ResourcesRecord {
	reserve := func(text string) core.Resources {
		return core.MustParseResources(text).Reserve(core.Reservation{Type: core.Dynamic, Role: "db/ml", Principal: "ops",
			Labels: []core.Label{{Key: "k", Value: "v"}}})
	}
	volume := func(id, path string, mode core.VolumeMode, shared bool) core.Resource {
		v := reserve("disk:64")[0]
		v.Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: id, Principal: "ops"},
			Volume: &core.Volume{ContainerPath: path, Mode: mode}}
		v.Shared = shared
		return v
	}
	res, err := core.NewResources(append(reserve("cpus:1"), volume("data", "data", core.RW, false),
		volume("logs", "var/log", core.RO, true))...)
	if err != nil {
		panic(err)
	}
	return ResourcesRecord{Resources: res, Destroying: core.Resources{volume("old", "old", core.RW, false)}}
}

// update is the n-th update of a task; its uuid is "u<n>".
func update(fw, task string, n int, state mesos.TaskState) agentapi.StatusUpdate {
	return agentapi.StatusUpdate{
		FrameworkID: mesos.ID{Value: fw},
		Status: mesos.TaskStatus{TaskID: mesos.ID{Value: task}, State: state, Source: mesos.SourceExecutor,
			ExecutorID: mesos.NewID("e1"), UUID: uuid(n), Timestamp: 1740830400.5},
		LatestState: state,
	}
}

func uuid(n int) []byte { return []byte("u" + strconv.Itoa(n)) }

// populate writes one framework f1 with executor e1, tasks t1 and t2, and
// two pending updates for t1.
func populate(t testing.TB, s *Store) {
	t.Helper()
	must(t, s.SetAgent(agentRec("a1")))
	must(t, s.PutFramework(frameworkRec("f1")))
	must(t, s.PutExecutor(executorRec("f1", "e1")))
	must(t, s.PutTask(taskRec("f1", "e1", "t1", mesos.TaskRunning)))
	must(t, s.PutTask(taskRec("f1", "e1", "t2", mesos.TaskStaging)))
	must(t, s.AppendUpdate(update("f1", "t1", 1, mesos.TaskStarting)))
	must(t, s.AppendUpdate(update("f1", "t1", 2, mesos.TaskRunning)))
}

// populated is the State populate writes.
func populated() State {
	a := agentRec("a1")
	return State{
		Agent:      &a,
		Frameworks: map[string]FrameworkRecord{"f1": frameworkRec("f1")},
		Executors:  []ExecutorRecord{executorRec("f1", "e1")},
		Tasks:      []TaskRecord{taskRec("f1", "e1", "t1", mesos.TaskRunning), taskRec("f1", "e1", "t2", mesos.TaskStaging)},
		Updates: map[[2]string][]agentapi.StatusUpdate{
			{"f1", "t1"}: {update("f1", "t1", 1, mesos.TaskStarting), update("f1", "t1", 2, mesos.TaskRunning)},
		},
	}
}

func checkState(t testing.TB, got, want State) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recovered state differs\n got: %+v\nwant: %+v", got, want)
	}
}

// setRaw writes a key directly through Pebble, past every check of the
// store: the way to corrupt a record in a test.
func setRaw(t testing.TB, s *Store, key string, val []byte) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	must(t, s.db.Set([]byte(key), val, pebble.Sync))
}

func keys(t testing.TB, s *Store) []string {
	t.Helper()
	ks, err := s.Keys()
	must(t, err)
	return ks
}
