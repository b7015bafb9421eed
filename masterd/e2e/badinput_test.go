package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"meseta/core/mesos"
)

// TestBadInput is acceptance 6: malformed calls get a clear 4xx naming
// the problem and change nothing in the master; hostile sandbox paths are
// refused.
func TestBadInput(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	owner := subscribe(t, c.master.addr, newFrameworkInfo("owner"))
	offers := owner.nextOffers(10 * time.Second)
	other := subscribe(t, c.master.addr, newFrameworkInfo("other"))
	before := getJSON(t, c.url("/master/state"))

	for _, tc := range []struct {
		name, body, ctype, stream string
		code                      int
		want                      string
	}{
		{"bad json", `{"type": "DECLINE", `, "application/json", other.streamID, 400, "malformed JSON"},
		{"wrong type", `{"type":"DECLINE","framework_id":{"value":"` + other.id + `"},"decline":{"offer_ids":"O1"}}`,
			"application/json", other.streamID, 400, `"decline.offer_ids"`},
		{"wrong type deep", `{"type":"DECLINE","framework_id":{"value":"` + other.id + `"},"decline":{"offer_ids":[{"value":"x"}],"filters":{"refuse_seconds":"soon"}}}`,
			"application/json", other.streamID, 400, `"decline.filters.refuse_seconds"`},
		{"unknown type", `{"type":"LAUNCH_ROCKETS","framework_id":{"value":"` + other.id + `"}}`,
			"application/json", other.streamID, 400, `"type"`},
		{"foreign offer", `{"type":"DECLINE","framework_id":{"value":"` + other.id + `"},"decline":{"offer_ids":[{"value":"` + offers[0].ID.Value + `"}]}}`,
			"application/json", other.streamID, 400, "belongs to another framework"},
		{"foreign offer accept", `{"type":"ACCEPT","framework_id":{"value":"` + other.id + `"},"accept":{"offer_ids":[{"value":"` + offers[0].ID.Value + `"}],"operations":[]}}`,
			"application/json", other.streamID, 400, "belongs to another framework"},
		{"reserve not supported", `{"type":"ACCEPT","framework_id":{"value":"` + owner.id + `"},"accept":{"offer_ids":[{"value":"` + offers[0].ID.Value + `"}],"operations":[{"type":"RESERVE","reserve":{"resources":[]}}]}}`,
			"application/json", owner.streamID, 400, "not supported yet"},
		{"protobuf", "\x08\x02", "application/x-protobuf", other.streamID, 415, "application/x-protobuf"},
		{"not subscribed", `{"type":"REVIVE","framework_id":{"value":"nobody"}}`, "application/json", "x", 403, "not subscribed"},
		{"wrong stream", `{"type":"REVIVE","framework_id":{"value":"` + other.id + `"}}`, "application/json", "stale", 400, "Mesos-Stream-Id"},
		{"no stream", `{"type":"REVIVE","framework_id":{"value":"` + other.id + `"}}`, "application/json", "", 400, "Mesos-Stream-Id"},
	} {
		code, body := other.post([]byte(tc.body), tc.ctype, tc.stream)
		var msg map[string]string
		if err := json.Unmarshal([]byte(body), &msg); err != nil || msg["error"] == "" {
			t.Errorf("%s: %d, body %q is not a JSON error message", tc.name, code, body)
			continue
		}
		if code != tc.code || !strings.Contains(msg["error"], tc.want) {
			t.Errorf("%s: got %d %q, want %d with %q", tc.name, code, msg["error"], tc.code, tc.want)
		}
	}

	// Nothing changed: the owner's offer is still outstanding and still
	// its own; no framework, agent or task moved.
	after := getJSON(t, c.url("/master/state"))
	for _, key := range []string{"activated_slaves", "deactivated_slaves"} {
		if before[key] != after[key] {
			t.Errorf("%s changed: %v -> %v", key, before[key], after[key])
		}
	}
	fw := c.frameworkState(owner.id)
	outstanding, _ := fw["offers"].([]any)
	if len(outstanding) != 1 || outstanding[0].(map[string]any)["id"] != offers[0].ID.Value {
		t.Errorf("owner's offers after the bad calls: %v", fw["offers"])
	}
	if n := num(getJSON(t, c.url("/metrics/snapshot"))["master/tasks_launched"]); n != 0 {
		t.Errorf("%v tasks launched by bad calls", n)
	}
	// The offer still works for its owner.
	owner.launch(offers[0], []mesos.TaskInfo{commandTask("ok", offers[0], "cpus:0.5;mem:32", "true")}, 0)
	owner.waitState("ok", mesos.TaskFinished, 30*time.Second)

	// Hostile sandbox paths for /files/read are refused.
	agent := "http://" + c.agents[0].addr
	for _, p := range []string{"/etc/passwd", c.dir + "/agent0/slaves/../../../../etc/passwd", "../../etc/shadow"} {
		resp, err := http.Get(agent + "/files/read?offset=0&path=" + url.QueryEscape(p))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 && resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("/files/read of %q answered %d", p, resp.StatusCode)
		}
	}
}
