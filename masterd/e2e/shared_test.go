package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// TestSharedVolume runs tasks that share one persistent volume on a real
// agent. Two tasks of one ACCEPT wait for each other's file in the
// volume, so both finish only if they ran at once on the same directory.
// While a third task holds the volume, it is offered again and a fourth
// task reads everything the others wrote. DESTROY is refused while the
// third task runs, and succeeds, deleting the directory, once it is
// killed.
func TestSharedVolume(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	info := newFrameworkInfo("shared")
	info.Role, info.Principal = "db", "p1"
	info.Capabilities = append(info.Capabilities, mesos.Capability{Type: mesos.CapSharedResources})
	v := &volumeFramework{framework: subscribe(t, c.master.addr, info), t: t,
		dyn: core.Reservation{Type: core.Dynamic, Role: "db", Principal: "p1"}}
	v.vol = mustRes("disk:32").Reserve(v.dyn)
	v.vol[0].Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: "shared", Principal: "p1"},
		Volume: &core.Volume{ContainerPath: "shared", Mode: core.RW}}
	v.vol[0].Shared = true
	volDir := filepath.Join(c.dir, "agent0", "volumes", "roles", "db", "shared")
	zero := 0.0

	task := func(o mesos.Offer, id, cmd string) mesos.TaskInfo {
		return mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID,
			Resources: mustRes("cpus:0.25;mem:32").Reserve(v.dyn).Add(v.vol), Command: &mesos.CommandInfo{Value: cmd}}
	}
	// wait gives up after 30 s, so that a task never waits forever.
	wait := func(file string) string {
		return "i=0; while [ ! -e shared/" + file + " ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; test -e shared/" + file
	}
	withVolume := func() mesos.Offer {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			for _, o := range v.nextOffers(time.Until(deadline)) {
				if slices.Contains(o.Resources.Resources.PersistenceIDs(), "shared") {
					return o
				}
				v.decline([]mesos.Offer{o}, 0)
			}
		}
		t.Fatal("no offer with the shared volume")
		return mesos.Offer{}
	}

	o := v.nextOffers(30 * time.Second)[0]
	v.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID}, Operations: []mesos.Operation{
		{Type: mesos.OpReserve, ID: mesos.NewID("reserve"), Reserve: &mesos.ResourceOp{Resources: mustRes("cpus:2;mem:256;disk:64").Reserve(v.dyn)}},
		{Type: mesos.OpCreate, ID: mesos.NewID("create"), Create: &mesos.VolumeOp{Volumes: v.vol}},
		{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{
			task(o, "one", "echo one > shared/one && "+wait("two")),
			task(o, "two", "echo two > shared/two && "+wait("one")),
		}}},
	}, Filters: &mesos.Filters{RefuseSeconds: &zero}}})
	for _, id := range []string{"reserve", "create"} {
		if s := v.operation(id); s.State != mesos.OperationFinished {
			t.Fatalf("%s: %s %s", id, s.State, s.Message)
		}
	}
	v.waitState("one", mesos.TaskFinished, 60*time.Second)
	v.waitState("two", mesos.TaskFinished, 60*time.Second)

	o = withVolume()
	v.launch(o, []mesos.TaskInfo{task(o, "holder", "touch shared/three && sleep 600")}, 0)
	v.waitState("holder", mesos.TaskRunning, 30*time.Second)
	eventually(t, 10*time.Second, "the holder's file", func() bool {
		_, err := os.Stat(filepath.Join(volDir, "three"))
		return err == nil
	})

	// In use by the holder, and offered all the same.
	o = withVolume()
	v.launch(o, []mesos.TaskInfo{task(o, "reader", "test -e shared/one && test -e shared/two && test -e shared/three")}, 0)
	v.waitState("reader", mesos.TaskFinished, 30*time.Second)

	o = withVolume()
	v.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID}, Operations: []mesos.Operation{
		{Type: mesos.OpDestroy, ID: mesos.NewID("destroy-in-use"), Destroy: &mesos.VolumeOp{Volumes: v.vol}},
	}, Filters: &mesos.Filters{RefuseSeconds: &zero}}})
	if s := v.operation("destroy-in-use"); s.State != mesos.OperationError {
		t.Fatalf("DESTROY while the holder runs: %s %s", s.State, s.Message)
	}
	if _, err := os.Stat(volDir); err != nil {
		t.Fatalf("the volume after a refused DESTROY: %v", err)
	}

	v.mustCall(&mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "holder"}}})
	v.waitState("holder", mesos.TaskKilled, 30*time.Second)
	o = withVolume()
	v.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{o.ID}, Operations: []mesos.Operation{
		{Type: mesos.OpDestroy, ID: mesos.NewID("destroy"), Destroy: &mesos.VolumeOp{Volumes: v.vol}},
	}, Filters: &mesos.Filters{RefuseSeconds: &zero}}})
	if s := v.operation("destroy"); s.State != mesos.OperationFinished {
		t.Fatalf("DESTROY after the holder ended: %s %s", s.State, s.Message)
	}
	eventually(t, 20*time.Second, "the volume's directory deleted", func() bool {
		_, err := os.Stat(volDir)
		return os.IsNotExist(err)
	})
}
