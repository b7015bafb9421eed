package master

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// quotaMaster builds a master on reg with agents agents of
// cpus:4;mem:1024, so a capacity of cpus:4n;mem:1024n.
func quotaMaster(t *testing.T, reg registry.Store, agents int, now time.Time) *Master {
	t.Helper()
	m := newTestMaster(t, Config{Info: mesos.MasterInfo{ID: "M"}}, reg, now)
	for i := range agents {
		addQuotaAgent(t, m, fmt.Sprintf("agent-%d", i), "cpus:4;mem:1024", now)
	}
	return m
}

func addQuotaAgent(t *testing.T, m *Master, host, res string, now time.Time) {
	t.Helper()
	if _, err := m.SubscribeAgent(nopAgentConn{}, &agentapi.Call{Type: agentapi.CallRegister, Register: &agentapi.Register{
		AgentInfo: mesos.AgentInfo{Hostname: host, Resources: core.MustParseResources(res)},
		Endpoint:  host + ":5051"}}, now); err != nil {
		t.Fatal(err)
	}
}

// quotaState is everything a quota or weights request may change.
type quotaState struct {
	registry    registry.State
	quotas      map[string]alloc.Quota
	weights     map[string]float64
	allocQuotas map[string]alloc.Quota
	allocWeight map[string]float64
}

func stateOf(m *Master) quotaState {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := m.alloc.Snapshot()
	clone := func(q map[string]alloc.Quota) map[string]alloc.Quota {
		out := map[string]alloc.Quota{}
		for k, v := range q {
			out[k] = alloc.Quota{Guarantee: v.Guarantee.Clone(), Limit: v.Limit.Clone()}
		}
		return out
	}
	weights := map[string]float64{}
	for k, v := range m.weights {
		weights[k] = v
	}
	allocWeights := map[string]float64{}
	for k, v := range snap.Weights {
		allocWeights[k] = v
	}
	return quotaState{registry: m.reg.State(), quotas: clone(m.quotas), weights: weights,
		allocQuotas: clone(snap.Quotas), allocWeight: allocWeights}
}

func requireSameState(t *testing.T, what string, before, after quotaState) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Errorf("%s changed the state:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

func qty(s string) core.Quantities { return core.MustParseResources(s).Quantities() }

// TestQuotaSetGetRemove: POST /quota sets the guarantee as both guarantee
// and limit (Mesos 1.9+) in the registry, the allocator and the master's
// map; GET /quota shows it in both of Mesos's forms; DELETE removes it
// everywhere.
func TestQuotaSetGetRemove(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := quotaMaster(t, registry.NewMemory(), 2, now) // capacity cpus:8;mem:2048
	req, err := DecodeQuotaRequest([]byte(`{"role": "eng", "guarantee": [
		{"name": "cpus", "type": "SCALAR", "scalar": {"value": 3}},
		{"name": "mem", "type": "SCALAR", "scalar": {"value": 512.5}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetQuota(req, now); err != nil {
		t.Fatal(err)
	}
	want := alloc.Quota{Guarantee: qty("cpus:3;mem:512.5"), Limit: qty("cpus:3;mem:512.5")}
	st := stateOf(m)
	if !reflect.DeepEqual(st.quotas["eng"], want) || !reflect.DeepEqual(st.allocQuotas["eng"], want) {
		t.Fatalf("quota of eng: master %+v, allocator %+v, want %+v", st.quotas["eng"], st.allocQuotas["eng"], want)
	}
	if q, err := decodeQuota("eng", st.registry.Values["quota/eng"]); err != nil || !reflect.DeepEqual(q, want) {
		t.Fatalf("registry quota/eng = %s (%+v, %v), want %+v", st.registry.Values["quota/eng"], q, err, want)
	}
	got := m.Quotas()
	wantStatus := QuotaStatus{
		Infos: []QuotaInfo{{Role: "eng", Guarantee: core.MustParseResources("cpus:3;mem:512.5")}},
		Configs: []QuotaConfig{{Role: "eng",
			Guarantees: map[string]ScalarValue{"cpus": {3}, "mem": {512.5}},
			Limits:     map[string]ScalarValue{"cpus": {3}, "mem": {512.5}}}},
	}
	if !reflect.DeepEqual(got, wantStatus) {
		t.Fatalf("Quotas() = %+v, want %+v", got, wantStatus)
	}
	// The roles page reads the master's map.
	rows := m.UIRoles()
	if len(rows) != 1 || rows[0].Name != "eng" || rows[0].Guarantee.CPUs != 3 || rows[0].Limit == nil || rows[0].Limit.Mem != 512.5 {
		t.Fatalf("UIRoles() = %+v, want eng with guarantee and limit cpus 3, mem 512.5", rows)
	}

	if err := m.RemoveQuota("eng", now); err != nil {
		t.Fatal(err)
	}
	st = stateOf(m)
	if _, ok := st.registry.Values["quota/eng"]; ok || len(st.quotas) != 0 || len(st.allocQuotas) != 0 {
		t.Fatalf("after removal: master %v, allocator %v, registry %q; want nothing", st.quotas, st.allocQuotas, st.registry.Values["quota/eng"])
	}
	if got := m.Quotas(); len(got.Infos) != 0 || len(got.Configs) != 0 || got.Infos == nil || got.Configs == nil {
		t.Fatalf("Quotas() after removal = %#v, want empty lists", got)
	}
}

// TestQuotaLimitsOffers shows the limit at work: one agent of cpus:8, a
// framework in role eng with a quota of cpus:3. Unlimited it would be
// offered all 8 cpus; it is offered 3 (and all the memory, which the
// quota does not name). Removing the quota offers it the other 5.
func TestQuotaLimitsOffers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := quotaMaster(t, registry.NewMemory(), 0, now)
	addQuotaAgent(t, m, "big", "cpus:8;mem:4096", now)
	if err := m.SetQuota(QuotaRequest{Role: "eng", Guarantee: core.MustParseResources("cpus:3")}, now); err != nil {
		t.Fatal(err)
	}
	c := &countConn{}
	if _, err := m.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{
		FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: "eng", Role: "eng"}}}, now); err != nil {
		t.Fatal(err)
	}
	o, ok := c.next()
	if !ok {
		t.Fatal("no offer")
	}
	res := core.Resources(o.Resources.Resources)
	if cpus, mem := res.ScalarValue("cpus"), res.ScalarValue("mem"); cpus != core.Units(3) || mem != core.Units(4096) {
		t.Fatalf("offer cpus %s mem %s, want cpus 3 (the limit) and mem 4096", cpus, mem)
	}
	if err := m.RemoveQuota("eng", now); err != nil {
		t.Fatal(err)
	}
	m.Sweep(now.Add(time.Second))
	var cpus core.Value
	for o, ok := c.next(); ok; o, ok = c.next() {
		cpus += core.Resources(o.Resources.Resources).ScalarValue("cpus")
	}
	if cpus != core.Units(5) {
		t.Fatalf("after removing the quota the framework was offered %s more cpus, want 5", cpus)
	}
}

// TestWeightsSetGet: PUT /weights sets every listed role's weight in the
// registry, the allocator and the master's map, and GET lists them by
// role; a later PUT changes only the roles it lists.
func TestWeightsSetGet(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := quotaMaster(t, registry.NewMemory(), 1, now)
	ws, err := DecodeWeights([]byte(`[{"role": " b ", "weight": 0.5}, {"role": "a", "weight": 2}, {"role": "eng/ml", "weight": 3}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetWeights(ws, now); err != nil {
		t.Fatal(err)
	}
	if err := m.SetWeights([]WeightInfo{{Role: "a", Weight: 4}}, now); err != nil {
		t.Fatal(err)
	}
	want := []WeightInfo{{"a", 4}, {"b", 0.5}, {"eng/ml", 3}}
	if got := m.Weights(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Weights() = %v, want %v", got, want)
	}
	st := stateOf(m)
	wantMap := map[string]float64{"a": 4, "b": 0.5, "eng/ml": 3}
	if !reflect.DeepEqual(st.weights, wantMap) || !reflect.DeepEqual(st.allocWeight, wantMap) {
		t.Fatalf("weights: master %v, allocator %v, want %v", st.weights, st.allocWeight, wantMap)
	}
	for role, w := range wantMap {
		if got, err := decodeWeight(role, st.registry.Values["weight/"+role]); err != nil || got != w {
			t.Errorf("registry weight/%s = %s (%v, %v), want %v", role, st.registry.Values["weight/"+role], got, err, w)
		}
	}
	if err := m.SetWeights(nil, now); err != nil {
		t.Fatalf("an empty list: %v", err)
	}
	if got := stateOf(m); got.registry.Applied != st.registry.Applied {
		t.Errorf("an empty list wrote to the registry")
	}
}

// TestQuotaBadRequests: every refused request is an ErrBadRequest and
// changes nothing: not the registry, the master's maps, nor the
// allocator's quotas and weights.
func TestQuotaBadRequests(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := quotaMaster(t, registry.NewMemory(), 2, now) // capacity cpus:8;mem:2048
	// Existing state the bad requests must leave as it is: eng has
	// cpus:5 of the 8 guaranteed.
	if err := m.SetQuota(QuotaRequest{Role: "eng", Guarantee: core.MustParseResources("cpus:5")}, now); err != nil {
		t.Fatal(err)
	}
	if err := m.SetWeights([]WeightInfo{{"eng", 2}}, now); err != nil {
		t.Fatal(err)
	}
	cpus := func(v string) string { return `{"name": "cpus", "type": "SCALAR", "scalar": {"value": ` + v + `}}` }
	quotaCases := []struct{ name, body string }{
		{"malformed JSON", `{"role": "dev", "guarantee": [`},
		{"not an object", `[{"role": "dev"}]`},
		{"empty body", ``},
		{"trailing data", `{"role": "dev", "guarantee": [` + cpus("1") + `]} {}`},
		{"wrong type", `{"role": 5, "guarantee": [` + cpus("1") + `]}`},
		{"no role", `{"guarantee": [` + cpus("1") + `]}`},
		{"invalid role", `{"role": "-dev", "guarantee": [` + cpus("1") + `]}`},
		{"role with a space", `{"role": "de v", "guarantee": [` + cpus("1") + `]}`},
		{"role ..", `{"role": "..", "guarantee": [` + cpus("1") + `]}`},
		{"default role", `{"role": "*", "guarantee": [` + cpus("1") + `]}`},
		{"nested role", `{"role": "dev/ml", "guarantee": [` + cpus("1") + `]}`},
		{"no guarantee", `{"role": "dev"}`},
		{"empty guarantee", `{"role": "dev", "guarantee": []}`},
		{"ranges", `{"role": "dev", "guarantee": [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]}}]}`},
		{"set", `{"role": "dev", "guarantee": [{"name": "gpus_set", "type": "SET", "set": {"item": ["a"]}}]}`},
		{"reserved (legacy role)", `{"role": "dev", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "dev"}]}`},
		{"reserved", `{"role": "dev", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "reservations": [{"type": "DYNAMIC", "role": "dev"}]}]}`},
		{"revocable", `{"role": "dev", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "revocable": {}}]}`},
		{"disk info", `{"role": "dev", "guarantee": [{"name": "disk", "type": "SCALAR", "scalar": {"value": 1}, "disk": {"persistence": {"id": "v"}}}]}`},
		{"zero", `{"role": "dev", "guarantee": [` + cpus("0") + `]}`},
		{"rounds to zero", `{"role": "dev", "guarantee": [` + cpus("0.0001") + `]}`},
		{"negative", `{"role": "dev", "guarantee": [` + cpus("-1") + `]}`},
		{"too large", `{"role": "dev", "guarantee": [` + cpus("1e300") + `]}`},
		{"not a number", `{"role": "dev", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "1"}}]}`},
		{"no name", `{"role": "dev", "guarantee": [{"type": "SCALAR", "scalar": {"value": 1}}]}`},
		{"twice", `{"role": "dev", "guarantee": [` + cpus("1") + `, ` + cpus("1") + `]}`},
		{"already has a quota", `{"role": "eng", "guarantee": [` + cpus("1") + `]}`},
		// 5 of eng plus 4 is over the 8 cpus there are.
		{"over capacity", `{"role": "dev", "guarantee": [` + cpus("4") + `]}`},
		{"unknown resource over capacity", `{"role": "dev", "guarantee": [{"name": "fpgas", "type": "SCALAR", "scalar": {"value": 1}}]}`},
		{"over capacity, force false", `{"force": false, "role": "dev", "guarantee": [` + cpus("3.001") + `]}`},
	}
	for _, tc := range quotaCases {
		before := stateOf(m)
		req, err := DecodeQuotaRequest([]byte(tc.body))
		if err == nil {
			err = m.SetQuota(req, now)
		}
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err %v, want ErrBadRequest", tc.name, err)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		requireSameState(t, tc.name, before, stateOf(m))
	}
	// The overcommit is told apart (masterd answers it 409).
	req, _ := DecodeQuotaRequest([]byte(`{"role": "dev", "guarantee": [` + cpus("4") + `]}`))
	if err := m.SetQuota(req, now); !errors.Is(err, ErrQuotaOvercommit) {
		t.Errorf("over capacity: %v, want ErrQuotaOvercommit", err)
	}

	for _, role := range []string{"dev", "*", "", "-x", "eng/ml"} {
		before := stateOf(m)
		if err := m.RemoveQuota(role, now); !errors.Is(err, ErrBadRequest) {
			t.Errorf("removing the quota of %q: err %v, want ErrBadRequest", role, err)
		}
		requireSameState(t, "removing the quota of "+role, before, stateOf(m))
	}

	weightCases := []struct{ name, body string }{
		{"malformed JSON", `[{"role": "a", "weight": 2}`},
		{"not a list", `{"role": "a", "weight": 2}`},
		{"empty body", ``},
		{"no weight", `[{"role": "a"}]`},
		{"null weight", `[{"role": "a", "weight": null}]`},
		{"zero", `[{"role": "a", "weight": 0}]`},
		{"negative", `[{"role": "a", "weight": -1}]`},
		{"too large", `[{"role": "a", "weight": 1e10}]`},
		{"out of float range", `[{"role": "a", "weight": 1e400}]`},
		{"a string", `[{"role": "a", "weight": "2"}]`},
		{"invalid role", `[{"role": "a b", "weight": 2}]`},
		{"empty role", `[{"weight": 2}]`},
		{"one bad among good", `[{"role": "a", "weight": 2}, {"role": "b", "weight": 0}]`},
		{"twice", `[{"role": "a", "weight": 2}, {"role": "a", "weight": 3}]`},
	}
	for _, tc := range weightCases {
		before := stateOf(m)
		ws, err := DecodeWeights([]byte(tc.body))
		if err == nil {
			err = m.SetWeights(ws, now)
		}
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("weights %s: err %v, want ErrBadRequest", tc.name, err)
			continue
		}
		t.Logf("weights %s: %v", tc.name, err)
		requireSameState(t, "weights "+tc.name, before, stateOf(m))
	}
	// What JSON cannot carry, a caller in Go can.
	for _, w := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		before := stateOf(m)
		if err := m.SetWeights([]WeightInfo{{"a", w}}, now); !errors.Is(err, ErrBadRequest) {
			t.Errorf("weight %v: err %v, want ErrBadRequest", w, err)
		}
		requireSameState(t, fmt.Sprint("weight ", w), before, stateOf(m))
	}
	before := stateOf(m)
	if err := m.SetQuota(QuotaRequest{Role: "a\xff", Guarantee: core.MustParseResources("cpus:1")}, now); !errors.Is(err, ErrBadRequest) {
		t.Errorf("a role that is not UTF-8: err %v, want ErrBadRequest", err)
	}
	requireSameState(t, "a role that is not UTF-8", before, stateOf(m))
}

// TestQuotaForce: "force" skips the capacity check, and only it.
func TestQuotaForce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := quotaMaster(t, registry.NewMemory(), 1, now) // cpus:4
	req, err := DecodeQuotaRequest([]byte(`{"force": true, "role": "dev", "guarantee": [
		{"name": "cpus", "type": "SCALAR", "scalar": {"value": 100}},
		{"name": "fpgas", "type": "SCALAR", "scalar": {"value": 2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetQuota(req, now); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(m).allocQuotas["dev"].Limit; !reflect.DeepEqual(got, qty("cpus:100;fpgas:2")) {
		t.Fatalf("allocator limit %v", got)
	}
	if _, err := DecodeQuotaRequest([]byte(`{"force": true, "role": "*", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}`)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("force with the default role: %v", err)
	}
}

// TestQuotaRegistryRefuses: when the registry refuses the write, the
// error is not a bad request (masterd answers 500) and nothing changes.
func TestQuotaRegistryRefuses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	store := &flakyStore{Store: registry.NewMemory()}
	m := quotaMaster(t, store, 1, now)
	if err := m.SetQuota(QuotaRequest{Role: "old", Guarantee: core.MustParseResources("cpus:1")}, now); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		do   func() error
	}{
		{"set quota", func() error {
			return m.SetQuota(QuotaRequest{Role: "dev", Guarantee: core.MustParseResources("cpus:1")}, now)
		}},
		{"remove quota", func() error { return m.RemoveQuota("old", now) }},
		{"set weights", func() error { return m.SetWeights([]WeightInfo{{"dev", 2}, {"old", 3}}, now) }},
	}
	for _, c := range calls {
		before := stateOf(m)
		store.fail = 1
		err := c.do()
		if err == nil || errors.Is(err, ErrBadRequest) {
			t.Errorf("%s with the registry refusing: err %v, want a registry error", c.name, err)
		}
		requireSameState(t, c.name+" refused by the registry", before, stateOf(m))
	}
}

// TestQuotaRecovery: a new master on the same registry (a new leader)
// has the quotas and weights, in its maps and in its allocator, before
// any agent or framework is back; and the limit holds for its first
// offers.
func TestQuotaRecovery(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	mem := registry.NewMemory()
	m := quotaMaster(t, mem, 2, now)
	if err := m.SetQuota(QuotaRequest{Role: "eng", Guarantee: core.MustParseResources("cpus:3;mem:100")}, now); err != nil {
		t.Fatal(err)
	}
	if err := m.SetQuota(QuotaRequest{Role: "ops", Guarantee: core.MustParseResources("cpus:1")}, now); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveQuota("ops", now); err != nil {
		t.Fatal(err)
	}
	if err := m.SetWeights([]WeightInfo{{"eng", 2.5}, {"*", 0.5}}, now); err != nil {
		t.Fatal(err)
	}
	old := stateOf(m)
	oldStatus, oldWeights := m.Quotas(), m.Weights()

	later := now.Add(time.Hour)
	n := newTestMaster(t, Config{Info: mesos.MasterInfo{ID: "N"}}, mem, later)
	st := stateOf(n)
	if !reflect.DeepEqual(st.quotas, old.quotas) || !reflect.DeepEqual(st.allocQuotas, old.quotas) {
		t.Fatalf("recovered quotas: master %v, allocator %v; want %v", st.quotas, st.allocQuotas, old.quotas)
	}
	if !reflect.DeepEqual(st.weights, old.weights) || !reflect.DeepEqual(st.allocWeight, old.weights) {
		t.Fatalf("recovered weights: master %v, allocator %v; want %v", st.weights, st.allocWeight, old.weights)
	}
	if got := n.Quotas(); !reflect.DeepEqual(got, oldStatus) {
		t.Fatalf("recovered Quotas() = %+v, want %+v", got, oldStatus)
	}
	if got := n.Weights(); !reflect.DeepEqual(got, oldWeights) {
		t.Fatalf("recovered Weights() = %+v, want %+v", got, oldWeights)
	}

	addQuotaAgent(t, n, "big", "cpus:8;mem:4096", later)
	c := &countConn{}
	if _, err := n.Subscribe(c, &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{
		FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: "eng", Role: "eng"}}}, later); err != nil {
		t.Fatal(err)
	}
	o, ok := c.next()
	if !ok {
		t.Fatal("no offer from the new master")
	}
	res := core.Resources(o.Resources.Resources)
	if cpus, mem := res.ScalarValue("cpus"), res.ScalarValue("mem"); cpus != core.Units(3) || mem != core.Units(100) {
		t.Fatalf("the new master offered cpus %s mem %s, want the limits cpus 3, mem 100", cpus, mem)
	}
}

// TestQuotaRecoveryDamaged: a registry value that does not decode fails
// New rather than lead without the limit.
func TestQuotaRecoveryDamaged(t *testing.T) {
	for _, v := range []struct{ key, value string }{
		{"quota/eng", `{"role": "eng", "guarantees": {"cpus": {"value": 1}}`},
		{"quota/eng", `{"role": "ops", "guarantees": {"cpus": {"value": 1}}}`},
		{"quota/eng", `{"role": "eng"}`},
		{"quota/eng", `{"role": "eng", "guarantees": {"cpus": {"value": 2}}, "limits": {"cpus": {"value": 1}}}`},
		{"weight/eng", `{"role": "eng", "weight": 0}`},
		{"weight/eng", `[]`},
	} {
		mem := registry.NewMemory()
		if err := mem.Apply(registry.Op{Kind: registry.SetValue, Key: v.key, Info: []byte(v.value)}); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Config{}, mem, newShardedAlloc, alloc.Options{Shards: 1}, time.Unix(0, 0)); err == nil {
			t.Errorf("New accepted %s = %s", v.key, v.value)
		}
	}
}
