package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// volumeFramework drives one framework in role db with principal p1,
// which reserves resources and keeps its data in the persistent volume
// "data".
type volumeFramework struct {
	*framework
	t   *testing.T
	dyn core.Reservation
	vol core.Resources
	n   int // tasks launched, for names
}

func newVolumeFramework(t *testing.T, master string) *volumeFramework {
	info := newFrameworkInfo("db")
	info.Role, info.Principal = "db", "p1"
	info.Checkpoint, info.FailoverTimeout = true, 3600
	v := &volumeFramework{framework: subscribe(t, master, info), t: t,
		dyn: core.Reservation{Type: core.Dynamic, Role: "db", Principal: "p1"}}
	v.vol = mustRes("disk:32").Reserve(v.dyn)
	v.vol[0].Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: "data", Principal: "p1"},
		Volume: &core.Volume{ContainerPath: "data", Mode: core.RW}}
	return v
}

// hasVolume reports whether the offer holds the volume.
func hasVolume(o mesos.Offer) bool {
	return slices.Contains(o.Resources.Resources.PersistenceIDs(), "data")
}

// operation waits for the status of operation id (any operation when
// id is "") and acknowledges it.
func (v *volumeFramework) operation(id string) mesos.OperationStatus {
	v.t.Helper()
	ev := v.next(30*time.Second, func(e *mesos.Event) bool {
		return e.Type == mesos.EventUpdateOperationStatus && (id == "" || e.UpdateOperationStatus.Status.OperationID.Val() == id)
	})
	s := ev.UpdateOperationStatus.Status
	if s.UUID != nil {
		v.mustCall(&mesos.Call{Type: mesos.CallAcknowledgeOpStatus, AcknowledgeOperationStatus: &mesos.AcknowledgeOperationStatus{
			AgentID: s.AgentID, OperationID: *s.OperationID, UUID: s.UUID.Value}})
	}
	return s
}

// onVolume runs cmd in a task on the volume and returns its terminal
// state. It waits for an offer that holds the volume, declining others;
// a launch that races with the agent going away (TASK_LOST, _DROPPED) is
// tried again.
func (v *volumeFramework) onVolume(cmd string, wait time.Duration) mesos.TaskState {
	v.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		for _, o := range v.nextOffers(time.Until(deadline)) {
			if !hasVolume(o) {
				v.decline([]mesos.Offer{o}, 0)
				continue
			}
			v.n++
			id := fmt.Sprintf("task%d", v.n)
			task := mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID,
				Resources: mustRes("cpus:0.5;mem:32").Reserve(v.dyn).Add(v.vol), Command: &mesos.CommandInfo{Value: cmd}}
			v.launch(o, []mesos.TaskInfo{task}, 0)
			ev := v.next(time.Until(deadline), func(e *mesos.Event) bool {
				if e.Type != mesos.EventUpdate || e.Update.Status.TaskID.Value != id {
					return false
				}
				v.ack(&e.Update.Status)
				return e.Update.Status.State.Terminal() || e.Update.Status.State == mesos.TaskRunning && strings.HasPrefix(cmd, "sleep")
			})
			switch s := ev.Update.Status; s.State {
			case mesos.TaskLost, mesos.TaskDropped:
				v.t.Logf("%s: %s (%s); trying again", id, s.State, s.Message)
				continue
			default:
				return s.State
			}
		}
	}
	v.t.Fatalf("no task ran on the volume within %v", wait)
	return ""
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPersistentVolume is issue 7's acceptance 1 and 3, with the bad
// requests of 6 that concern volumes and reservations. A framework
// reserves resources and creates a volume in one ACCEPT, with a task
// that writes a file into it. A second task reads the file back; so does
// one after the agent restarts, and one after the leading master is
// killed and another takes over through ZooKeeper. Then, on the new
// leader, DESTROY is refused while a task uses the volume and succeeds
// once it ended, and the volume's directory is gone.
func TestPersistentVolume(t *testing.T) {
	c := newHACluster(t, 2, 1)
	_, addr := c.waitLeader(30 * time.Second)
	c.waitAgents(addr, 1, 30*time.Second)
	v := newVolumeFramework(t, addr)
	volDir := filepath.Join(c.dir, "agent0", "volumes", "roles", "db", "data")

	o := v.nextOffers(30 * time.Second)[0]
	zero := 0.0
	// The bad requests first: each is refused on its own, and the rest
	// of the ACCEPT goes ahead.
	unreservedVol := v.vol.Unreserve()
	reserved := mustRes("cpus:1;mem:64;disk:64").Reserve(v.dyn)
	writer := mesos.TaskInfo{Name: "writer", TaskID: mesos.ID{Value: "writer"}, AgentID: o.AgentID,
		Resources: mustRes("cpus:0.5;mem:32").Reserve(v.dyn).Add(v.vol), Command: &mesos.CommandInfo{Value: "echo kept > data/f"}}
	v.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID}, Filters: &mesos.Filters{RefuseSeconds: &zero},
		Operations: []mesos.Operation{
			{Type: mesos.OpReserve, ID: mesos.NewID("too-much"), Reserve: &mesos.ResourceOp{Resources: mustRes("cpus:400").Reserve(v.dyn)}},
			{Type: mesos.OpCreate, ID: mesos.NewID("unreserved"), Create: &mesos.VolumeOp{Volumes: unreservedVol}},
			{Type: mesos.OpReserve, ID: mesos.NewID("reserve"), Reserve: &mesos.ResourceOp{Resources: reserved}},
			{Type: mesos.OpCreate, ID: mesos.NewID("create"), Create: &mesos.VolumeOp{Volumes: v.vol}},
			{Type: mesos.OpCreate, ID: mesos.NewID("again"), Create: &mesos.VolumeOp{Volumes: v.vol}},
			{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{writer}}},
		}}})
	want := map[string]mesos.OperationState{"too-much": mesos.OperationError, "unreserved": mesos.OperationError,
		"reserve": mesos.OperationFinished, "create": mesos.OperationFinished, "again": mesos.OperationError}
	for range want {
		s := v.operation("")
		if id := s.OperationID.Val(); s.State != want[id] {
			t.Fatalf("operation %s: %s (%s), want %s", id, s.State, s.Message, want[id])
		}
	}
	v.waitState("writer", mesos.TaskFinished, 60*time.Second)
	if b, err := os.ReadFile(filepath.Join(volDir, "f")); err != nil || string(b) != "kept\n" {
		t.Fatalf("the volume's file: %q, %v", b, err)
	}
	read := `test "$(cat data/f)" = kept`
	if st := v.onVolume(read, 60*time.Second); st != mesos.TaskFinished {
		t.Fatalf("reading the volume back: %s", st)
	}

	// The agent restarts: its checkpoint keeps the volume, and the master
	// its record.
	c.agents[0].kill()
	c.agents[0] = c.startAgent("agent0")
	if st := v.onVolume(read, 60*time.Second); st != mesos.TaskFinished {
		t.Fatalf("reading the volume after the agent restarted: %s", st)
	}

	// The leader dies; the new one has the record from the registry.
	oldID := c.masterID(addr)
	for i, m := range c.masters {
		if m.addr == addr {
			c.masters[i].kill()
		}
	}
	_, naddr := c.waitLeader(60*time.Second, oldID)
	v.failover(naddr, 30*time.Second)
	c.waitAgents(naddr, 1, 60*time.Second)
	if st := v.onVolume(read, 60*time.Second); st != mesos.TaskFinished {
		t.Fatalf("reading the volume after a leader failover: %s", st)
	}

	// DESTROY while a task uses the volume is refused.
	volJSON, _ := json.Marshal(v.vol)
	agentID := o.AgentID.Value
	form := url.Values{"slaveId": {agentID}, "volumes": {string(volJSON)}}
	if st := v.onVolume("sleep 600", 60*time.Second); st != mesos.TaskRunning {
		t.Fatalf("a long task on the volume: %s", st)
	}
	holder := fmt.Sprintf("task%d", v.n)
	if code, body := postForm(t, "http://"+naddr+"/master/destroy-volumes", form); code/100 != 4 || !strings.Contains(body, "in use") {
		t.Fatalf("destroy-volumes while in use: %d %s, want a 4xx saying it is in use", code, body)
	}
	if _, err := os.Stat(volDir); err != nil {
		t.Fatalf("the refused destroy touched the volume: %v", err)
	}
	v.mustCall(&mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: holder}}})
	v.waitState(holder, mesos.TaskKilled, 30*time.Second)
	// Once it ended, DESTROY succeeds (the volume may sit in an offer:
	// the master rescinds it) and the agent deletes the data.
	eventually(t, 30*time.Second, "destroy-volumes accepted", func() bool {
		code, body := postForm(t, "http://"+naddr+"/master/destroy-volumes", form)
		if code != 202 && !strings.Contains(body, "in use") {
			t.Fatalf("destroy-volumes: %d %s", code, body)
		}
		return code == 202
	})
	eventually(t, 30*time.Second, "the volume's directory deleted", func() bool {
		_, err := os.Stat(volDir)
		return os.IsNotExist(err)
	})

	// Bad operator requests get a 4xx with a JSON message.
	for name, f := range map[string]url.Values{
		"no agent":          {"volumes": {string(volJSON)}},
		"unknown agent":     {"slaveId": {"nope"}, "volumes": {string(volJSON)}},
		"not json":          {"slaveId": {agentID}, "volumes": {"[{"}},
		"unreserved volume": {"slaveId": {agentID}, "volumes": {mustJSON(unreservedVol)}},
	} {
		code, body := postForm(t, "http://"+naddr+"/master/create-volumes", f)
		if code/100 != 4 || !json.Valid([]byte(body)) {
			t.Errorf("create-volumes with %s: %d %s, want a 4xx with a JSON message", name, code, body)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
