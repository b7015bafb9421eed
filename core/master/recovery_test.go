package master

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/agentapi"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// TestRecoveryConfig: zero values mean Mesos's defaults (10 minutes,
// 100%), a limit of 0 is kept as 0, and limits outside [0, 1] are refused.
func TestRecoveryConfig(t *testing.T) {
	m := newTestMaster(t, Config{}, registry.NewMemory(), time.Unix(0, 0))
	if got := m.Config().AgentReregisterTimeout; got != 10*time.Minute {
		t.Errorf("default AgentReregisterTimeout = %v, want 10m", got)
	}
	if got := m.Config().RecoveryAgentRemovalLimit; got == nil || *got != 1 {
		t.Errorf("default RecoveryAgentRemovalLimit = %v, want 1.0", got)
	}

	zero := 0.0
	m = newTestMaster(t, Config{RecoveryAgentRemovalLimit: &zero}, registry.NewMemory(), time.Unix(0, 0))
	zero = 0.5 // New keeps its own copy
	if got := *m.Config().RecoveryAgentRemovalLimit; got != 0 {
		t.Errorf("RecoveryAgentRemovalLimit = %v, want 0", got)
	}

	for _, bad := range []float64{-0.1, 1.01, math.NaN(), math.Inf(1)} {
		_, err := New(Config{RecoveryAgentRemovalLimit: &bad}, registry.NewMemory(), newShardedAlloc, alloc.Options{Shards: 1}, time.Unix(0, 0))
		if err == nil {
			t.Errorf("limit %v accepted", bad)
		}
	}
}

// TestRecoveryOneApply: the agents missing at the deadline are marked
// unreachable in a single all-or-nothing Apply; if the registry refuses
// it nothing changes, and the next Housekeep tries again.
func TestRecoveryOneApply(t *testing.T) {
	mem := registry.NewMemory()
	for _, id := range []string{"A", "B", "C"} {
		blob, _ := json.Marshal(&mesos.AgentInfo{Hostname: "host-" + id, ID: &mesos.ID{Value: id},
			Resources: core.MustParseResources("cpus:1;mem:64")})
		if err := mem.Apply(registry.Op{Kind: registry.AdmitAgent, AgentID: id, Info: blob}); err != nil {
			t.Fatal(err)
		}
	}
	store := &flakyStore{Store: mem, fail: 1}
	t0 := time.Unix(1_800_000_000, 0)
	m := newTestMaster(t, Config{AgentReregisterTimeout: time.Minute}, store, t0)

	st := m.State(nil)
	if len(st.RecoveredSlaves) != 3 || st.RecoveredSlaves[0].ID != "A" || st.RecoveredSlaves[0].Hostname != "host-A" ||
		st.RecoveredSlaves[0].Resources["cpus"] != 1.0 {
		t.Fatalf("RecoveredSlaves = %+v, want A, B, C with their registry info", st.RecoveredSlaves)
	}
	m.mu.Lock()
	m.reregisteredLocked("A") // as reregisterLocked does
	m.mu.Unlock()

	if err := m.Housekeep(t0.Add(time.Minute - time.Nanosecond)); err != nil || len(store.batches) != 0 {
		t.Fatalf("before the deadline: err %v, %d registry writes", err, len(store.batches))
	}
	// The registry refuses: nothing changes.
	if err := m.Housekeep(t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := len(mem.State().Unreachable); got != 0 || m.metrics.RecoveryAgentRemovals != 0 || len(m.recovering) != 2 {
		t.Fatalf("after a refused write: %d unreachable in the registry, %d counted, %d still expected",
			got, m.metrics.RecoveryAgentRemovals, len(m.recovering))
	}
	// The next Housekeep writes B and C in one batch.
	at := t0.Add(time.Minute + time.Second)
	if err := m.Housekeep(at); err != nil {
		t.Fatal(err)
	}
	if len(store.batches) != 2 || len(store.batches[1]) != 2 {
		t.Fatalf("registry writes %v, want one refused and then one of two ops", store.batches)
	}
	for i, id := range []string{"B", "C"} {
		if op := store.batches[1][i]; op.Kind != registry.MarkUnreachable || op.AgentID != id || !op.Time.Equal(at) {
			t.Errorf("op %d = %+v, want MarkUnreachable %s at %v", i, op, id, at)
		}
	}
	rs := mem.State()
	if len(rs.Admitted) != 1 || len(rs.Unreachable) != 2 || m.metrics.RecoveryAgentRemovals != 2 || len(m.recovering) != 0 {
		t.Errorf("registry admitted=%d unreachable=%d, %d counted, %d still expected; want 1, 2, 2, 0",
			len(rs.Admitted), len(rs.Unreachable), m.metrics.RecoveryAgentRemovals, len(m.recovering))
	}
	if got := m.Metrics(at)["master/recovery_slave_removals"]; got != 2 {
		t.Errorf("master/recovery_slave_removals = %v, want 2", got)
	}
	if err := m.Housekeep(at.Add(time.Hour)); err != nil || len(store.batches) != 2 {
		t.Errorf("after recovery: err %v, %d registry writes, want no more", err, len(store.batches))
	}
}

// TestRecoveryLimitError: over the limit, Housekeep's error wraps
// ErrRecoveryLimit and nothing is written.
func TestRecoveryLimitError(t *testing.T) {
	mem := registry.NewMemory()
	for _, id := range []string{"A", "B"} {
		if err := mem.Apply(registry.Op{Kind: registry.AdmitAgent, AgentID: id, Info: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	store := &flakyStore{Store: mem}
	limit := 0.0
	t0 := time.Unix(1_800_000_000, 0)
	m := newTestMaster(t, Config{RecoveryAgentRemovalLimit: &limit}, store, t0)
	err := m.Housekeep(t0.Add(10 * time.Minute))
	if !errors.Is(err, ErrRecoveryLimit) {
		t.Fatalf("Housekeep = %v, want ErrRecoveryLimit", err)
	}
	if len(store.batches) != 0 || len(mem.State().Admitted) != 2 {
		t.Errorf("the registry was written: %v", store.batches)
	}
}

func newShardedAlloc(o alloc.Options) (alloc.Allocator, error) { return alloc.NewSharded(o) }

// newMasterAt returns a master with the default configuration and
// allocator options (newTestMaster's allocator has one shard), an
// in-memory registry, started at now.
func newMasterAt(tb testing.TB, now time.Time) *Master {
	tb.Helper()
	m, err := New(Config{Info: mesos.MasterInfo{ID: "M"}}, registry.NewMemory(), newShardedAlloc, alloc.Options{}, now)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func newTestMaster(t *testing.T, cfg Config, reg registry.Store, now time.Time) *Master {
	t.Helper()
	m, err := New(cfg, reg, newShardedAlloc, alloc.Options{Shards: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// flakyStore records every Apply's ops and refuses the first fail of
// them.
type flakyStore struct {
	registry.Store
	fail    int
	batches [][]registry.Op
}

func (s *flakyStore) Apply(ops ...registry.Op) error {
	s.batches = append(s.batches, ops)
	if s.fail > 0 {
		s.fail--
		return errors.New("test: registry unavailable")
	}
	return s.Store.Apply(ops...)
}

// TestBackFromUnreachableExecutors: an agent back from unreachable
// reports a custom executor of plain, not partition-aware, and one of
// pa, partition-aware. plain's is refused: the master does not hold it,
// the allocator does not count it (the offer is the agent's total less
// pa's executor, cpus:2;mem:512 - cpus:0.5;mem:32), and its exit is not
// reported to plain and frees nothing; pa's is taken back, and its exit
// is reported and frees its resources as usual.
func TestBackFromUnreachableExecutors(t *testing.T) {
	mem := registry.NewMemory()
	t0 := time.Unix(1_800_000_000, 0)
	if err := mem.Apply(registry.Op{Kind: registry.AdmitAgent, AgentID: "A", Info: []byte("{}")},
		registry.Op{Kind: registry.MarkUnreachable, AgentID: "A", Time: t0}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, mem)
	for _, fw := range []struct {
		name string
		args []datadriven.CmdArg
	}{{"plain", nil}, {"pa", []datadriven.CmdArg{{Key: "partition-aware"}}}} {
		if err := h.subscribe(&datadriven.TestData{CmdArgs: fw.args}, fw.name); err != nil {
			t.Fatal(err)
		}
	}
	h.flush()
	executor := func(fw string) agentapi.Executor {
		return agentapi.Executor{FrameworkID: mesos.ID{Value: h.wireName(fw)}, Role: "*", Info: mesos.ExecutorInfo{
			ExecutorID: mesos.ID{Value: "x-" + fw}, Resources: core.MustParseResources("cpus:0.5;mem:32")}}
	}
	c := &fakeConn{name: "A", h: h}
	h.agents["A"], h.names["A"] = c, "A"
	reg := &agentapi.Register{AgentInfo: mesos.AgentInfo{Hostname: "A", ID: &mesos.ID{Value: "A"},
		Resources: core.MustParseResources("cpus:2;mem:512")},
		Executors: []agentapi.Executor{executor("plain"), executor("pa")}}
	if _, err := h.m.SubscribeAgent(agentConn{c}, &agentapi.Call{Type: agentapi.CallReregister, Register: reg}, h.now); err != nil {
		t.Fatal(err)
	}
	got := h.flush()
	for _, want := range []string{"A <- SHUTDOWN_FRAMEWORK plain\n", "A <- UPDATE_FRAMEWORK pa\n", "plain <- OFFERS o1=A:cpus:1.5;mem:480(*)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("after re-registering: no %q in\n%s", want, got)
		}
	}
	h.m.mu.Lock()
	ag := h.m.agents["A"]
	if ag.executors[h.wireName("plain")] != nil || ag.executors[h.wireName("pa")]["x-pa"] == nil {
		t.Errorf("the master holds executors %v, want pa's only", ag.executors)
	}
	h.m.mu.Unlock()

	for _, fw := range []string{"plain", "pa"} {
		h.m.AgentCalls([]agentapi.Call{{Type: agentapi.CallExecutorExited, AgentID: &mesos.ID{Value: "A"},
			ExecutorExited: &agentapi.ExecutorExited{FrameworkID: mesos.ID{Value: h.wireName(fw)},
				ExecutorID: mesos.ID{Value: "x-" + fw}, Status: 9}}}, h.now)
	}
	if got, want := h.flush(), "pa <- FAILURE agent=A executor=x-pa status=9\npa <- OFFERS o2=A:cpus:0.5;mem:32(*)\n"; got != want {
		t.Errorf("after both executors exit: got\n%swant\n%s", got, want)
	}
}
