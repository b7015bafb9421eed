package synth

import (
	"encoding/json"
	"reflect"
	"testing"

	"meseta/core"
	"meseta/core/mesos"
)

// The hand-written calls decode to what encoding/json would have sent.
func TestEncoderMatchesJSON(t *testing.T) {
	e := newEncoder("fw-1")
	var got mesos.Call
	b := e.appendAck(nil, "agent-1", `task "odd"`, []byte{0, 1, 2, 250})
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("ack %s: %v", b, err)
	}
	want := mesos.Call{FrameworkID: &mesos.ID{Value: "fw-1"}, Type: mesos.CallAcknowledge,
		Acknowledge: &mesos.Acknowledge{AgentID: mesos.ID{Value: "agent-1"}, TaskID: mesos.ID{Value: `task "odd"`}, UUID: []byte{0, 1, 2, 250}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ack: got %+v, want %+v", got, want)
	}
	got = mesos.Call{}
	b = e.appendDecline(nil, []mesos.ID{{Value: "o1"}, {Value: "o2"}}, 2.5)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decline %s: %v", b, err)
	}
	r := 2.5
	want = mesos.Call{FrameworkID: &mesos.ID{Value: "fw-1"}, Type: mesos.CallDecline,
		Decline: &mesos.Decline{OfferIDs: []mesos.ID{{Value: "o1"}, {Value: "o2"}}, Filters: &mesos.Filters{RefuseSeconds: &r}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decline: got %+v, want %+v", got, want)
	}
	got = mesos.Call{}
	tasks := []mesos.TaskInfo{{Name: "t<1>", TaskID: mesos.ID{Value: "t<1>"}, AgentID: mesos.ID{Value: "a1"},
		Resources: core.MustParseResources("cpus:0.1;mem:32"), Command: &mesos.CommandInfo{Value: "sleep 1"},
		Labels: &mesos.Labels{Labels: []mesos.Label{{Key: DurationLabel, Value: "1"}}}}}
	b, ok := e.appendAccept(nil, "o3", tasks)
	if !ok {
		t.Fatal("appendAccept refused a plain task")
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("accept %s: %v", b, err)
	}
	zero := 0.0
	want = mesos.Call{FrameworkID: &mesos.ID{Value: "fw-1"}, Type: mesos.CallAccept, Accept: &mesos.Accept{
		OfferIDs:   []mesos.ID{{Value: "o3"}},
		Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}},
		Filters:    &mesos.Filters{RefuseSeconds: &zero}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accept: got %+v, want %+v", got, want)
	}
	if c, err := mesos.DecodeCall(b); err != nil || !reflect.DeepEqual(*c, want) {
		t.Errorf("the master decodes the accept as %+v, %v", c, err)
	}
}

func TestRedirectTarget(t *testing.T) {
	for loc, want := range map[string]string{
		"//10.0.0.2:5050/api/v1/scheduler":      "10.0.0.2:5050",
		"http://10.0.0.2:5050/api/v1/scheduler": "10.0.0.2:5050",
		"//127.0.0.1:41000":                     "127.0.0.1:41000",
	} {
		if got, err := redirectTarget(loc); err != nil || got != want {
			t.Errorf("redirectTarget(%q) = %q, %v; want %q", loc, got, err, want)
		}
	}
	if _, err := redirectTarget("/api/v1/scheduler"); err == nil {
		t.Errorf("a path-only Location was accepted")
	}
}
