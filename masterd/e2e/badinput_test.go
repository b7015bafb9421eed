package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
		{"grow volume not supported", `{"type":"ACCEPT","framework_id":{"value":"` + owner.id + `"},"accept":{"offer_ids":[{"value":"` + offers[0].ID.Value + `"}],"operations":[{"type":"GROW_VOLUME"}]}}`,
			"application/json", owner.streamID, 400, "GROW_VOLUME is not supported"},
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
	// The offer still works for its owner. Its task leaves a symbolic
	// link out of its sandbox, to a file that exists.
	secret := filepath.Join(c.dir, "secret")
	if err := os.WriteFile(secret, []byte("not for tasks' eyes"), 0o644); err != nil {
		t.Fatal(err)
	}
	owner.launch(offers[0], []mesos.TaskInfo{commandTask("ok", offers[0], "cpus:0.5;mem:32", "ln -s "+secret+" escape && echo fine")}, 0)
	owner.waitState("ok", mesos.TaskFinished, 30*time.Second)
	runs, _ := filepath.Glob(filepath.Join(c.dir, "agent0/slaves/*/frameworks", owner.id, "executors/ok/runs/*"))
	runs = slices.DeleteFunc(runs, func(p string) bool { return filepath.Base(p) == "latest" })
	if len(runs) != 1 {
		t.Fatalf("the task's sandbox: %v, want one run directory", runs)
	}
	sandbox := runs[0]
	rel, err := filepath.Rel(sandbox, secret)
	if err != nil || !strings.HasPrefix(rel, "../") {
		t.Fatalf("relative path from the sandbox to %s: %q, %v", secret, rel, err)
	}

	// /files/read serves the sandbox, and refuses hostile paths with the
	// status the sandbox package documents: 403 for a path that is, or
	// resolves to, a place outside the sandboxes (each of these names a
	// file that exists, so a missing check cannot hide behind 404), 400
	// for a relative one.
	read := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + c.agents[0].addr + "/files/read?offset=0&path=" + url.QueryEscape(p))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := read(sandbox + "/stdout"); code != 200 || !strings.Contains(body, "fine") {
		t.Fatalf("/files/read of the task's stdout: %d %s", code, body)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/etc/passwd", 403},
		{secret, 403},
		{sandbox + "/" + rel, 403}, // .. up and out, to the secret
		{sandbox + "/escape", 403}, // the symbolic link to the secret
		{"../../etc/passwd", 400},
	} {
		if code, body := read(tc.path); code != tc.code || strings.Contains(body, "not for tasks") {
			t.Errorf("/files/read of %q answered %d %s, want %d", tc.path, code, body, tc.code)
		}
	}
}
