package alloc

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"meseta/core"
)

// TestTranscripts runs the protocol traces in testdata/*.txt against the
// sharded engine with one shard (so that output order is deterministic).
// Each command prints what the allocator emitted while it ran; after every
// command the invariants are checked. Rewrite expectations with
// `go test ./alloc -run TestTranscripts -rewrite`.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newTranscript(t)
		datadriven.RunTest(t, path, h.run)
	})
}

type transcript struct {
	t      *testing.T
	clock  *fakeClock
	a      Allocator
	opts   Options
	mu     sync.Mutex
	out    []Output
	labels map[OfferID]string
	ids    map[string]OfferID
}

func newTranscript(t *testing.T) *transcript {
	h := &transcript{
		t:      t,
		clock:  newFakeClock(),
		labels: map[OfferID]string{},
		ids:    map[string]OfferID{},
	}
	h.opts = Options{Clock: h.clock, Shards: 1, Sink: h.sink}
	h.rebuild()
	return h
}

func (h *transcript) rebuild() {
	h.labels, h.ids = map[OfferID]string{}, map[string]OfferID{}
	a, err := NewSharded(h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.a = a
}

func (h *transcript) sink(o Output) {
	h.mu.Lock()
	h.out = append(h.out, o.Clone())
	h.mu.Unlock()
}

func (h *transcript) label(id OfferID) string {
	if l, ok := h.labels[id]; ok {
		return l
	}
	l := "o" + strconv.Itoa(len(h.labels)+1)
	h.labels[id] = l
	h.ids[l] = id
	return l
}

func (h *transcript) run(t *testing.T, d *datadriven.TestData) string {
	h.out = nil
	res, err := h.exec(t, d)
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	b.WriteString(h.drain())
	b.WriteString(res)
	if err := CheckInvariants(h.a.Snapshot(), h.opts.OfferGPUsToAll); err != nil {
		t.Fatalf("%s: invariants broken after %q:\n%v", d.Pos, d.Cmd, err)
	}
	if err := h.a.(*Sharded).checkAccounting(); err != nil {
		t.Fatalf("%s: accounting broken after %q:\n%v", d.Pos, d.Cmd, err)
	}
	if b.Len() == 0 {
		return "ok\n"
	}
	return b.String()
}

// drain prints what the allocator emitted during the command.
func (h *transcript) drain() string {
	h.mu.Lock()
	outs := h.out
	h.out = nil
	h.mu.Unlock()
	var lines []string
	for _, o := range outs {
		for _, r := range o.Rescinds {
			lines = append(lines, fmt.Sprintf("rescind %s (%s)", h.label(r.Offer.ID), r.Reason))
		}
		for _, r := range o.Revocations {
			lines = append(lines, fmt.Sprintf("revoke %s/%s on %s: %s", r.Framework, r.Role, r.Agent, r.Resources))
		}
		for _, of := range o.Offers {
			lines = append(lines, fmt.Sprintf("offer %s: %s/%s on %s: %s", h.label(of.ID), of.Framework, of.Role, of.Agent, of.Resources))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func (h *transcript) exec(t *testing.T, d *datadriven.TestData) (string, error) {
	args := map[string]string{}
	var flags []string
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			flags = append(flags, a.Key)
			continue
		}
		args[a.Key] = strings.Join(a.Vals, ",")
	}
	has := func(f string) bool { return slices.Contains(flags, f) }
	res := func(key string) core.Resources {
		r, err := parseTranscriptResources(args[key])
		if err != nil {
			t.Fatalf("%s: %s=%q: %v", d.Pos, key, args[key], err)
		}
		return r
	}
	quant := func(key string) core.Quantities {
		if args[key] == "" {
			return nil
		}
		q, err := core.ParseQuantities(args[key])
		if err != nil {
			t.Fatalf("%s: %s: %v", d.Pos, key, err)
		}
		return q
	}
	dur := func(key string) time.Duration {
		if args[key] == "" {
			return 0
		}
		if args[key] == "inf" {
			return MaxRefuse
		}
		v, err := time.ParseDuration(args[key])
		if err != nil {
			t.Fatalf("%s: %s: %v", d.Pos, key, err)
		}
		return v
	}
	list := func(key string) []string {
		if args[key] == "" {
			return nil
		}
		return strings.Split(args[key], ",")
	}
	offer := func() OfferID {
		id, ok := h.ids[args["offer"]]
		if !ok {
			return OfferID(1<<62 + 7) // never issued
		}
		return id
	}
	agentID, fwID := AgentID(args["agent"]), FrameworkID(args["fw"])

	switch d.Cmd {
	case "options":
		// Must come first in a file: rebuilds the allocator.
		h.opts.DisableIncremental = has("no-incremental")
		h.opts.OfferTimeout = dur("offer-timeout")
		h.opts.OfferGPUsToAll = has("gpus-to-all")
		if v, ok := args["starvation-rescinds"]; ok {
			n, _ := strconv.Atoi(v)
			h.opts.MaxStarvationRescinds = n
		}
		if v, ok := args["min-allocatable"]; ok {
			m, err := core.ParseMinAllocatable(v)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			h.opts.MinAllocatable = m
		}
		h.opts.ExcludedFromShares = list("exclude")
		h.rebuild()
		return "", nil
	case "add-agent":
		info := AgentInfo{ID: agentID, Total: res("resources"), Checkpoint: !has("no-checkpoint")}
		if args["oversubscribed"] != "" {
			info.Oversubscribed = res("oversubscribed")
		}
		for _, u := range list("used") {
			// fw/role/resources
			parts := strings.SplitN(u, "/", 3)
			r, err := core.ParseResources(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			info.Used = append(info.Used, Allocation{Framework: FrameworkID(parts[0]), Role: parts[1], Resources: r})
		}
		return "", h.a.AddAgent(info)
	case "update-total":
		return "", h.a.UpdateAgentTotal(agentID, res("resources"))
	case "update-oversubscribed":
		return "", h.a.UpdateOversubscribed(agentID, res("resources"))
	case "activate-agent":
		return "", h.a.ActivateAgent(agentID)
	case "deactivate-agent":
		return "", h.a.DeactivateAgent(agentID)
	case "remove-agent":
		return "", h.a.RemoveAgent(agentID)
	case "add-framework", "update-framework":
		info := FrameworkInfo{ID: fwID, Roles: list("roles"), Suppressed: list("suppressed"), Checkpoint: has("checkpoint")}
		if len(info.Roles) == 0 {
			info.Roles = []string{core.DefaultRole}
		}
		for _, c := range list("caps") {
			switch c {
			case "multi":
				info.Capabilities |= MultiRole
			case "revocable":
				info.Capabilities |= RevocableResources
			case "gpu":
				info.Capabilities |= GPUResources
			case "partition":
				info.Capabilities |= PartitionAware
			case "shared":
				info.Capabilities |= SharedResources
			default:
				t.Fatalf("%s: unknown capability %q", d.Pos, c)
			}
		}
		if len(info.Roles) > 1 {
			info.Capabilities |= MultiRole
		}
		if m := args["min"]; m != "" {
			// role:alternatives
			role, alts, _ := strings.Cut(m, "=")
			q, err := core.ParseMinAllocatable(alts)
			if err != nil {
				t.Fatal(err)
			}
			info.MinAllocatable = map[string][]core.Quantities{role: q}
		}
		if d.Cmd == "add-framework" {
			return "", h.a.AddFramework(info)
		}
		return "", h.a.UpdateFramework(info)
	case "remove-framework":
		return "", h.a.RemoveFramework(fwID)
	case "activate-framework":
		return "", h.a.ActivateFramework(fwID)
	case "deactivate-framework":
		return "", h.a.DeactivateFramework(fwID)
	case "suppress":
		return "", h.a.Suppress(fwID, list("roles"))
	case "revive":
		return "", h.a.Revive(fwID, list("roles"))
	case "accept":
		return "", h.a.Accept(offer())
	case "decline":
		refuse := DefaultRefuse
		if _, ok := args["refuse"]; ok {
			refuse = dur("refuse")
		}
		return "", h.a.Decline(offer(), refuse)
	case "recover":
		return "", h.a.Recover(fwID, agentID, args["role"], res("resources"), dur("refuse"))
	case "update-allocation":
		return "", h.a.UpdateAllocation(fwID, agentID, args["role"], res("from"), res("to"))
	case "weight":
		w, err := strconv.ParseFloat(args["weight"], 64)
		if err != nil {
			t.Fatal(err)
		}
		return "", h.a.SetWeight(args["role"], w)
	case "quota":
		return "", h.a.SetQuota(args["role"], Quota{Guarantee: quant("guarantee"), Limit: quant("limit")})
	case "tick":
		h.clock.Advance(dur("by"))
		return "", nil
	case "sweep":
		h.a.Sweep()
		return "", nil
	case "state":
		return h.state(), nil
	case "shares":
		return h.shares(), nil
	case "stats":
		st := h.a.Stats()
		return fmt.Sprintf("agents=%d frameworks=%d outstanding=%d offers=%d rescinds=%d revocations=%d\n",
			st.Agents, st.Frameworks, st.OutstandingOffers, st.Offers, st.Rescinds, st.Revocations), nil
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return "", errors.New("unreachable")
}

// state prints each agent's allocations, offers and filters.
func (h *transcript) state() string {
	snap := h.a.Snapshot()
	var b strings.Builder
	for _, a := range snap.Agents {
		fmt.Fprintf(&b, "%s", a.Info.ID)
		if !a.Active {
			b.WriteString(" (inactive)")
		}
		fmt.Fprintf(&b, ": total %s\n", a.Total)
		for _, al := range a.Allocations {
			fmt.Fprintf(&b, "  allocated %s/%s: %s\n", al.Framework, al.Role, al.Resources)
		}
		for _, o := range a.Offers {
			fmt.Fprintf(&b, "  offered %s %s/%s: %s\n", h.label(o.ID), o.Framework, o.Role, o.Resources)
		}
		for _, f := range a.Filters {
			fmt.Fprintf(&b, "  filter %s/%s: %s for %s\n", f.Framework, f.Role, f.Resources, f.Expires.Sub(h.clock.Now()))
		}
	}
	return b.String()
}

// shares prints every framework-role's dominant share computed from the
// snapshot (offers included), against the cluster's non-revocable totals.
func (h *transcript) shares() string {
	snap := h.a.Snapshot()
	return formatShares(snapshotShares(snap, h.opts.ExcludedFromShares))
}

// snapshotShares computes, from a snapshot, each framework-role's dominant
// share (offers count as allocated; revocable resources do not count).
func snapshotShares(snap Snapshot, excluded []string) map[string]float64 {
	var totals core.Quantities
	alloc := map[string]core.Quantities{}
	for _, a := range snap.Agents {
		totals = totals.Add(quotaCounted(a.Info.Total))
		for _, al := range a.Allocations {
			k := string(al.Framework) + "/" + al.Role
			alloc[k] = alloc[k].Add(quotaCounted(al.Resources))
		}
		for _, o := range a.Offers {
			k := string(o.Framework) + "/" + o.Role
			alloc[k] = alloc[k].Add(quotaCounted(o.Resources))
		}
	}
	for _, f := range snap.Frameworks {
		for _, r := range f.Info.Roles {
			k := string(f.Info.ID) + "/" + r
			if _, ok := alloc[k]; !ok {
				alloc[k] = nil
			}
		}
	}
	out := map[string]float64{}
	for k, q := range alloc {
		out[k] = dominantShare(q, totals, excluded, 1)
	}
	return out
}

func formatShares(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %.4f\n", k, m[k])
	}
	return b.String()
}

// parseTranscriptResources is core.ParseResources that also reads
// persistent volumes as they print, statically reserved:
// disk(eng)[v1:data]<SHARED>:64 (the text form has no volumes).
func parseTranscriptResources(text string) (core.Resources, error) {
	var plain []string
	var vols []core.Resource
	for entry := range strings.SplitSeq(text, ";") {
		i, j := strings.IndexByte(entry, '['), strings.IndexByte(entry, ']')
		if i < 0 || j < i || i > strings.IndexByte(entry, ':') { // ports:[...] is not a volume
			plain = append(plain, entry)
			continue
		}
		// name(role)[id:path]<SHARED>:value
		name, role, _ := strings.Cut(entry[:i], "(")
		id, path, _ := strings.Cut(entry[i+1:j], ":")
		rest := entry[j+1:]
		shared := strings.HasPrefix(rest, "<SHARED>")
		rest = strings.TrimPrefix(rest, "<SHARED>")
		v, err := core.ParseResources(name + ":" + strings.TrimPrefix(rest, ":"))
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("volume %q: %v", entry, err)
		}
		r := v[0]
		r.Reservations = []core.Reservation{{Type: core.Static, Role: strings.TrimSuffix(role, ")")}}
		r.Disk = &core.DiskInfo{Persistence: &core.Persistence{ID: id}, Volume: &core.Volume{ContainerPath: path, Mode: core.RW}}
		r.Shared = shared
		vols = append(vols, r)
	}
	rs, err := core.ParseResources(strings.Join(plain, ";"))
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		if err := v.Validate(); err != nil {
			return nil, err
		}
		rs = rs.Add(core.Resources{v})
	}
	return rs, nil
}
