package e2e

import (
	"strings"
	"testing"
	"time"

	"meseta/core/mesos"
)

// launchOne waits for an offer, launches task there, and declines the
// rest of what arrived.
func launchOne(f *framework, task func(o mesos.Offer) mesos.TaskInfo) mesos.Offer {
	f.t.Helper()
	offers := f.nextOffers(10 * time.Second)
	f.launch(offers[0], []mesos.TaskInfo{task(offers[0])}, 0)
	if len(offers) > 1 {
		f.decline(offers[1:], 0)
	}
	return offers[0]
}

// TestFailurePaths is acceptance 2.
func TestFailurePaths(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f := subscribe(t, c.master.addr, newFrameworkInfo("failures"))

	t.Run("kill", func(t *testing.T) {
		f.t = t
		o := launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("sleeper", o, "cpus:0.5;mem:32", "sleep 600") })
		f.waitState("sleeper", mesos.TaskRunning, 20*time.Second)
		f.mustCall(&mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "sleeper"}, AgentID: &o.AgentID}})
		f.waitState("sleeper", mesos.TaskKilled, 20*time.Second)
	})
	t.Run("unacknowledged-update-is-resent", func(t *testing.T) {
		f.t = t
		launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("needy", o, "cpus:0.5;mem:32", "sleep 600") })
		isNeedy := func(e *mesos.Event) bool {
			return e.Type == mesos.EventUpdate && e.Update.Status.TaskID.Value == "needy"
		}
		first := f.next(20*time.Second, isNeedy).Update.Status // not acknowledged
		again := f.next(20*time.Second, isNeedy).Update.Status
		if again.State != first.State || string(again.UUID) != string(first.UUID) {
			t.Fatalf("after no ack: %s %x, then %s %x; want the same update again", first.State, first.UUID, again.State, again.UUID)
		}
		f.ack(&again)
		f.waitState("needy", mesos.TaskRunning, 20*time.Second)
		f.mustCall(&mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "needy"}}})
		f.waitState("needy", mesos.TaskKilled, 20*time.Second)
	})
	t.Run("exit-3", func(t *testing.T) {
		f.t = t
		launchOne(f, func(o mesos.Offer) mesos.TaskInfo { return commandTask("three", o, "cpus:0.5;mem:32", "exit 3") })
		s := f.waitState("three", mesos.TaskFailed, 20*time.Second)
		if !strings.Contains(s.Message, "Command exited with status 3") {
			t.Errorf("TASK_FAILED message %q, want it to say \"Command exited with status 3\"", s.Message)
		}
	})
	t.Run("fetch-fails", func(t *testing.T) {
		f.t = t
		launchOne(f, func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("nofetch", o, "cpus:0.5;mem:32", "true")
			ti.Command.URIs = []mesos.URI{{Value: "http://127.0.0.1:1/missing.tar.gz"}}
			return ti
		})
		s := f.waitState("nofetch", mesos.TaskFailed, 20*time.Second)
		if !strings.Contains(s.Message, "127.0.0.1:1/missing.tar.gz") || !strings.Contains(strings.ToLower(s.Message), "fetch") {
			t.Errorf("TASK_FAILED message %q does not say which URI failed", s.Message)
		}
		if s.Reason != mesos.ReasonContainerLaunchFailed {
			t.Errorf("reason %q, want %s", s.Reason, mesos.ReasonContainerLaunchFailed)
		}
	})
}

// TestTaskGroupAndCustomExecutor is acceptance 3: LAUNCH_GROUP under the
// default executor, and a custom executor that uses only the documented
// executor API, both run to completion.
func TestTaskGroupAndCustomExecutor(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	f := subscribe(t, c.master.addr, newFrameworkInfo("groups"))

	t.Run("launch-group", func(t *testing.T) {
		f.t = t
		offers := f.nextOffers(10 * time.Second)
		o := offers[0]
		f.mustCall(&mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{
			OfferIDs: []mesos.ID{o.ID},
			Operations: []mesos.Operation{{Type: mesos.OpLaunchGroup, LaunchGroup: &mesos.LaunchGroup{
				Executor: mesos.ExecutorInfo{Type: mesos.ExecutorDefault, ExecutorID: mesos.ID{Value: "group-exec"},
					Resources: mustRes("cpus:0.1;mem:32")},
				TaskGroup: mesos.TaskGroupInfo{Tasks: []mesos.TaskInfo{
					commandTask("g1", o, "cpus:0.5;mem:32", "echo one"),
					commandTask("g2", o, "cpus:0.5;mem:32", "echo two"),
				}},
			}}},
		}})
		done := map[string]bool{}
		for len(done) < 2 {
			ev := f.next(30*time.Second, func(e *mesos.Event) bool { return e.Type == mesos.EventUpdate })
			s := ev.Update.Status
			f.ack(&s)
			if s.State.Terminal() {
				if s.State != mesos.TaskFinished {
					t.Fatalf("group task %s: %s %s", s.TaskID.Value, s.State, s.Message)
				}
				done[s.TaskID.Value] = true
			}
		}
	})
	t.Run("custom-executor", func(t *testing.T) {
		f.t = t
		launchOne(f, func(o mesos.Offer) mesos.TaskInfo {
			return mesos.TaskInfo{Name: "custom", TaskID: mesos.ID{Value: "custom"}, AgentID: o.AgentID,
				Resources: mustRes("cpus:0.5;mem:32"),
				Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "custom-exec"}, Name: "customexec",
					Command: &mesos.CommandInfo{Value: bin.customexec}, Resources: mustRes("cpus:0.1;mem:32")},
				// A task under a custom executor carries no command (Mesos
				// refuses both); customexec runs what data holds.
				Data: []byte("echo custom")}
		})
		f.waitState("custom", mesos.TaskFinished, 30*time.Second)
	})
}
