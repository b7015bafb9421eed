package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"meseta/core"
	"meseta/core/mesos"
)

// The operator's /quota and /weights (issue 7), through the real
// daemons: a quota's limit measured in what a framework gets, before and
// after a failover, and every bad request answered 4xx with a JSON error
// and no change.

// do sends a request with an optional Content-Type and returns the status
// code, the Content-Type of the answer, and its body.
func do(t *testing.T, method, url, contentType, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// mustDo is do for a request that must answer 200.
func mustDo(t *testing.T, method, url, contentType, body string) []byte {
	t.Helper()
	code, _, b := do(t, method, url, contentType, body)
	if code != 200 {
		t.Fatalf("%s %s %s: %d %s", method, url, body, code, b)
	}
	return b
}

// quotaStatus is GET /quota's Mesos QuotaStatus, as a client reads it.
type quotaStatus struct {
	Infos []struct {
		Role      string `json:"role"`
		Guarantee []struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Scalar struct {
				Value float64 `json:"value"`
			} `json:"scalar"`
		} `json:"guarantee"`
	} `json:"infos"`
	Configs []struct {
		Role       string                        `json:"role"`
		Guarantees map[string]map[string]float64 `json:"guarantees"`
		Limits     map[string]map[string]float64 `json:"limits"`
	} `json:"configs"`
}

func getQuota(t *testing.T, addr string) quotaStatus {
	t.Helper()
	var st quotaStatus
	b := mustDo(t, "GET", "http://"+addr+"/quota", "", "")
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("GET /quota: %v: %s", err, b)
	}
	return st
}

// requireCPUQuota checks that GET /quota on addr shows role with cpus as
// its guarantee and its limit, in both of Mesos's forms.
func requireCPUQuota(t *testing.T, addr, role string, cpus float64) {
	t.Helper()
	st := getQuota(t, addr)
	if len(st.Infos) != 1 || st.Infos[0].Role != role || len(st.Infos[0].Guarantee) != 1 ||
		st.Infos[0].Guarantee[0].Name != "cpus" || st.Infos[0].Guarantee[0].Type != "SCALAR" || st.Infos[0].Guarantee[0].Scalar.Value != cpus {
		t.Fatalf("GET /quota infos on %s: %+v, want %s guaranteed cpus %v", addr, st.Infos, role, cpus)
	}
	if len(st.Configs) != 1 || st.Configs[0].Role != role || st.Configs[0].Guarantees["cpus"]["value"] != cpus ||
		st.Configs[0].Limits["cpus"]["value"] != cpus || len(st.Configs[0].Limits) != 1 {
		t.Fatalf("GET /quota configs on %s: %+v, want %s with guarantee and limit cpus %v", addr, st.Configs, role, cpus)
	}
}

func cpusOf(o mesos.Offer) core.Value { return o.Resources.Resources.ScalarValue("cpus") }

// takeCPUs is a greedy framework at work: it accepts every offer that has
// cpus, with one long task that uses them all, and declines for an hour
// those without, until it runs tasks of want cpus. No offer may take it
// past want (offered resources count towards a quota). It returns when
// every task runs.
func takeCPUs(f *framework, want core.Value, d time.Duration) {
	f.t.Helper()
	var held core.Value
	var tasks []string
	for held < want {
		for _, o := range f.nextOffers(d) {
			c := cpusOf(o)
			if c == 0 {
				f.decline([]mesos.Offer{o}, 3600)
				continue
			}
			if held+c > want {
				f.t.Fatalf("%s holds cpus %s and was offered %s more: past the limit %s", f, held, c, want)
			}
			id := fmt.Sprintf("greedy-%d", len(tasks))
			f.launch(o, []mesos.TaskInfo{commandTask(id, o, "cpus:"+c.String()+";mem:32", "sleep 600")}, 3600)
			tasks = append(tasks, id)
			held += c
		}
	}
	for _, id := range tasks {
		f.waitState(id, mesos.TaskRunning, d)
	}
}

// collectCPUs waits until the framework's outstanding offers hold want
// cpus (rescinded ones do not count), and returns them.
func collectCPUs(f *framework, want core.Value, d time.Duration) []mesos.Offer {
	f.t.Helper()
	offers := map[string]mesos.Offer{}
	var sum core.Value
	deadline := time.Now().Add(d)
	for sum < want {
		ev := f.next(time.Until(deadline), func(e *mesos.Event) bool {
			return e.Type == mesos.EventOffers || e.Type == mesos.EventRescind
		})
		if ev.Type == mesos.EventRescind {
			if o, ok := offers[ev.Rescind.OfferID.Value]; ok {
				sum -= cpusOf(o)
				delete(offers, o.ID.Value)
			}
			continue
		}
		for _, o := range ev.Offers.Offers {
			offers[o.ID.Value] = o
			sum += cpusOf(o)
		}
	}
	if sum != want {
		f.t.Fatalf("%s was offered cpus %s, want %s", f, sum, want)
	}
	out := make([]mesos.Offer, 0, len(offers))
	for _, o := range offers {
		out = append(out, o)
	}
	return out
}

// frameworkCPUs is a framework's used and offered cpus in the master's
// /master/frameworks.
func frameworkCPUs(t *testing.T, addr, id string) (used, offered float64) {
	t.Helper()
	for _, f := range getJSON(t, "http://"+addr+"/master/frameworks")["frameworks"].([]any) {
		fm := f.(map[string]any)
		if fm["id"] == id {
			return num(fm["used_resources"].(map[string]any)["cpus"]), num(fm["offered_resources"].(map[string]any)["cpus"])
		}
	}
	t.Fatalf("framework %s is not in /master/frameworks of %s", id, addr)
	return 0, 0
}

// offeredCPUsSince sums the cpus of the offers the framework received
// after the first from events of its log.
func offeredCPUsSince(f *framework, from int) core.Value {
	f.mu.Lock()
	defer f.mu.Unlock()
	var sum core.Value
	for _, ev := range f.log[from:] {
		if ev.Type == mesos.EventOffers {
			for _, o := range ev.Offers.Offers {
				sum += cpusOf(o)
			}
		}
	}
	return sum
}

func logLen(f *framework) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.log)
}

// requireLimitHolds: other gives back every cpu it was offered, for an
// hour. Unlimited, the greedy framework in role limited would be offered
// them at once (the decline allocates them before the master answers it)
// or at a periodic allocation; with the limit it is offered none. The
// test waits for three periodic allocations on the master at addr, then
// checks the greedy framework's offers since mark and the master's view
// of it.
func requireLimitHolds(t *testing.T, addr string, greedy, other *framework, otherOffers []mesos.Offer, mark int, limit float64) {
	t.Helper()
	other.decline(otherOffers, 3600)
	runs := num(getJSON(t, "http://"+addr+"/metrics/snapshot")["allocator/mesos/allocation_runs"])
	eventually(t, 10*time.Second, "three allocation runs with the cpus free", func() bool {
		return num(getJSON(t, "http://"+addr+"/metrics/snapshot")["allocator/mesos/allocation_runs"]) >= runs+3
	})
	if got := offeredCPUsSince(greedy, mark); got != 0 {
		t.Fatalf("%s at its limit was offered cpus %s", greedy, got)
	}
	used, offered := frameworkCPUs(t, addr, greedy.id)
	if used != limit || offered != 0 {
		t.Fatalf("%s on %s uses cpus %v and is offered %v, want %v and 0", greedy, addr, used, offered, limit)
	}
}

// TestQuotaLimitFailover: two agents of 4 cpus, a quota of cpus:3 for
// role limited, and a framework in that role that would take every cpu.
// It gets 3, while a framework of another role is offered the other 5;
// when those 5 are free again the limited framework is still offered
// none. The leader is then killed: the new leader's GET /quota has the
// quota, and the limit holds for the new leader's offers.
func TestQuotaLimitFailover(t *testing.T) {
	c := newHACluster(t, 2, 2)
	li, addr := c.waitLeader(30 * time.Second)
	c.waitAgents(addr, 2, 30*time.Second)

	// As Mesos's documentation sets it: curl -d, so a form Content-Type.
	mustDo(t, "POST", "http://"+addr+"/quota", "application/x-www-form-urlencoded",
		`{"role": "limited", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 3}}]}`)
	requireCPUQuota(t, addr, "limited", 3)

	info := func(name, role string) mesos.FrameworkInfo {
		fi := newFrameworkInfo(name)
		fi.Role, fi.Checkpoint, fi.FailoverTimeout = role, true, 3600
		return fi
	}
	greedy := subscribe(t, addr, info("greedy", "limited"))
	takeCPUs(greedy, core.Units(3), 30*time.Second)
	mark := logLen(greedy)
	other := subscribe(t, addr, info("other", "other"))
	otherOffers := collectCPUs(other, core.Units(5), 20*time.Second)
	requireLimitHolds(t, addr, greedy, other, otherOffers, mark, 3)

	oldID := c.masterID(addr)
	killed := time.Now()
	c.masters[li].kill()
	_, naddr := c.waitLeader(30*time.Second, oldID)
	requireCPUQuota(t, naddr, "limited", 3)
	// The agents first, with the greedy framework's tasks: until they are
	// back, no master can know what the role consumes (Mesos holds its
	// allocator back for a while after a failover for this reason).
	c.waitAgents(naddr, 2, 30*time.Second)
	other.failover(naddr, 20*time.Second)
	otherOffers = collectCPUs(other, core.Units(5), 20*time.Second)
	mark = logLen(greedy)
	greedy.failover(naddr, 20*time.Second)
	requireLimitHolds(t, naddr, greedy, other, otherOffers, mark, 3)
	// Now the greedy framework has been offered what the limit allows:
	// memory, and no cpus.
	if got := offeredCPUsSince(greedy, mark); got != 0 {
		t.Fatalf("%s was offered cpus %s by the new leader", greedy, got)
	}
	t.Logf("the new leader %s kept the quota; %v from the kill to the end of the checks", naddr, time.Since(killed).Round(time.Millisecond))
}

// TestQuotaBadRequests: each bad request to /quota and /weights is
// answered 4xx with a JSON error that names the problem, and GET /quota
// and GET /weights answer the same afterwards.
func TestQuotaBadRequests(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1}) // cpus:4
	mustDo(t, "POST", c.url("/quota"), "application/json",
		`{"role": "eng", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}`)
	mustDo(t, "PUT", c.url("/master/weights"), "", `[{"role": "eng", "weight": 2}]`)
	quotaBefore := mustDo(t, "GET", c.url("/quota"), "", "")
	weightsBefore := mustDo(t, "GET", c.url("/weights"), "", "")

	cpus := func(role, v string) string {
		return `{"role": "` + role + `", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": ` + v + `}}]}`
	}
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		says                                  string // a part of the error
	}{
		{"malformed JSON", "POST", "/quota", "application/json", `{"role": "dev"`, 400, "malformed JSON"},
		{"invalid role", "POST", "/quota", "application/json", cpus("-dev", "1"), 400, "invalid role"},
		{"default role", "POST", "/quota", "application/json", cpus("*", "1"), 400, "default role"},
		{"nested role", "POST", "/quota", "application/json", cpus("dev/ml", "1"), 400, "nested role"},
		{"existing quota", "POST", "/quota", "application/json", cpus("eng", "1"), 400, "already has a quota"},
		{"over capacity", "POST", "/quota", "application/json", cpus("dev", "3.5"), 409, "force"},
		{"over capacity, force false", "POST", "/master/quota", "", `{"force": false, "role": "dev", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}}]}`, 409, "capacity"},
		{"non-scalar", "POST", "/quota", "application/json",
			`{"role": "dev", "guarantee": [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31001}]}}]}`, 400, "scalar"},
		{"zero guarantee", "POST", "/quota", "application/json", cpus("dev", "0"), 400, "positive"},
		{"negative guarantee", "POST", "/quota", "application/json", cpus("dev", "-1"), 400, "negative"},
		{"empty guarantee", "POST", "/quota", "application/json", `{"role": "dev", "guarantee": []}`, 400, "empty"},
		{"protobuf", "POST", "/quota", "application/x-protobuf", "\x0a\x03dev", 415, "protobuf"},
		{"remove a quota that does not exist", "DELETE", "/quota/dev", "", "", 400, "has no quota"},
		{"remove without a role", "DELETE", "/quota", "", "", 400, "/quota/<role>"},
		{"remove an invalid role", "DELETE", "/master/quota/a%20b", "", "", 400, "invalid role"},
		{"PUT /quota", "PUT", "/quota", "application/json", cpus("dev", "1"), 405, "GET, POST"},
		{"GET /quota/eng", "GET", "/quota/eng", "", "", 405, "DELETE"},
		{"POST /weights", "POST", "/weights", "application/json", `[{"role": "eng", "weight": 3}]`, 405, "GET, PUT"},
		{"malformed weights", "PUT", "/weights", "application/json", `[{"role": "eng", "weight": 3}`, 400, "malformed JSON"},
		{"weights not a list", "PUT", "/weights", "application/json", `{"role": "eng", "weight": 3}`, 400, "list"},
		{"negative weight", "PUT", "/weights", "application/json", `[{"role": "eng", "weight": -1}]`, 400, "positive"},
		{"zero weight", "PUT", "/weights", "application/json", `[{"role": "eng", "weight": 0}]`, 400, "positive"},
		{"non-finite weight", "PUT", "/weights", "application/json", `[{"role": "eng", "weight": 1e999}]`, 400, "weight"},
		{"NaN weight", "PUT", "/weights", "application/json", `[{"role": "eng", "weight": NaN}]`, 400, "malformed JSON"},
		{"missing weight", "PUT", "/weights", "application/json", `[{"role": "eng"}]`, 400, "missing"},
		{"invalid role weight", "PUT", "/weights", "application/json", `[{"role": "a b", "weight": 3}]`, 400, "invalid role"},
		{"one bad weight among good", "PUT", "/weights", "application/json", `[{"role": "eng", "weight": 3}, {"role": "x", "weight": 0}]`, 400, "weights[1]"},
	}
	for _, tc := range cases {
		code, ct, body := do(t, tc.method, c.url(tc.path), tc.contentType, tc.body)
		var e struct {
			Error string `json:"error"`
		}
		if code != tc.code || ct != "application/json" || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: %s %s: %d %q %s; want %d with a JSON error saying %q", tc.name, tc.method, tc.path, code, ct, body, tc.code, tc.says)
		}
		if q := mustDo(t, "GET", c.url("/quota"), "", ""); string(q) != string(quotaBefore) {
			t.Fatalf("%s changed GET /quota: %s, was %s", tc.name, q, quotaBefore)
		}
		if w := mustDo(t, "GET", c.url("/weights"), "", ""); string(w) != string(weightsBefore) {
			t.Fatalf("%s changed GET /weights: %s, was %s", tc.name, w, weightsBefore)
		}
	}

	// Mesos's form of removal, and what is left.
	mustDo(t, "DELETE", c.url("/quota/eng"), "", "")
	if st := getQuota(t, c.master.addr); len(st.Infos) != 0 || len(st.Configs) != 0 {
		t.Fatalf("GET /quota after DELETE: %+v", st)
	}
}

// TestWeightsEndpoint: PUT /weights (as Mesos's documentation sends it,
// curl -d -X PUT) sets the weights all at once; GET /weights lists them by
// role and the UI's roles page shows them; a later PUT changes only what
// it names; a restarted master has them from the registry.
func TestWeightsEndpoint(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 1})
	if got := string(mustDo(t, "GET", c.url("/weights"), "", "")); got != "[]" {
		t.Fatalf("GET /weights on a new cluster: %s, want []", got)
	}
	mustDo(t, "PUT", c.url("/weights"), "application/x-www-form-urlencoded",
		`[{"role": "role1", "weight": 2.0}, {"role": "role2", "weight": 3.5}]`)
	mustDo(t, "PUT", c.url("/weights"), "application/json", `[{"role": "role1", "weight": 0.5}]`)
	want := `[{"role":"role1","weight":0.5},{"role":"role2","weight":3.5}]`
	for _, p := range []string{"/weights", "/master/weights"} {
		if got := string(mustDo(t, "GET", c.url(p), "", "")); got != want {
			t.Errorf("GET %s: %s, want %s", p, got, want)
		}
	}
	weights := map[string]float64{}
	for _, r := range getJSON(t, c.url("/master/ui/roles"))["items"].([]any) {
		rm := r.(map[string]any)
		weights[rm["name"].(string)] = num(rm["weight"])
	}
	if weights["role1"] != 0.5 || weights["role2"] != 3.5 {
		t.Errorf("/master/ui/roles weights: %v, want role1 0.5 and role2 3.5", weights)
	}
	// The registry has them: a restarted master (same --work_dir) too.
	c.master.stop()
	c.startMaster("0")
	if got := string(mustDo(t, "GET", c.url("/weights"), "", "")); got != want {
		t.Errorf("GET /weights after a restart: %s, want %s", got, want)
	}
}
