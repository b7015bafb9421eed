package master

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"meseta/alloc"
	"meseta/core"
	"meseta/core/mesos"
	"meseta/core/registry"
)

// Quota and weights at runtime: the operator's /quota and /weights
// (issue 7), with the JSON of Mesos 1.9 and later.
//
// # What a request does
//
// SetQuota, RemoveQuota and SetWeights check the request against the
// master's state, write the change to the registry (applyLocked), and only
// then give it to the allocator and record it in m.quotas and m.weights,
// which the roles pages read. A request the checks or the registry refuse
// changes nothing. The allocator applies a change at once: it allocates
// again, and rescinds the offers that a lowered limit no longer allows
// (alloc.Allocator.SetQuota); the master drains those decisions as for any
// call (enter).
//
// If the allocator refuses what the registry took (the checks here mirror
// the allocator's, so this is a fault, such as the allocator's table of
// resource names being full), the registry write is undone with a second
// write, so that a new leader does not apply what this one could not.
//
// # Mesos's legacy quota
//
// POST /quota takes Mesos's QuotaRequest, whose "guarantee" is, since
// Mesos 1.9, both the role's guarantee and its limit: the role is offered
// at least that much when it wants it (as far as the cluster has it), and
// never more. So a quota is stored and given to the allocator as
// alloc.Quota{Guarantee: g, Limit: g}. As in Mesos:
//
//   - A role that has a quota must have it removed (DELETE /quota/<role>)
//     before it is given another.
//   - Quota is for top-level roles only ("eng", not "eng/ml"), and not for
//     the default role "*".
//   - The guarantee lists scalar resources only, each once, unreserved,
//     without disk or revocable information; any scalar name goes,
//     custom ones too.
//   - Unless the request says "force": true, the sum of every role's
//     guarantee, this one's included, must fit in the cluster's capacity:
//     the non-revocable scalar resources of the agents registered with
//     this master, connected or not. Agents recovered from the registry
//     that have not re-registered after a failover do not count yet, as in
//     Mesos; force is how an operator sets quota for them anyway. The
//     check is on guarantees only: a role's current consumption may exceed
//     its new limit (its running tasks are not killed; its offers past the
//     limit are rescinded).
//
// meseta refuses a zero amount in a guarantee, which Mesos takes: with
// three decimals, zero means "a limit of none of it", which
// core.Quantities cannot hold (it drops zero entries), so the role would
// silently get no limit on that resource instead.
//
// # Roles
//
// meseta has no role whitelist (Mesos's --roles flag, deprecated; masterd
// has none): as in Mesos without one, every valid role name is known, so a
// quota or a weight may be set for a role that has no framework yet, which
// is how an operator prepares a role. "Unknown" then only arises where
// Mesos has it without a whitelist: removing the quota of a role that has
// none is a bad request.
//
// # Weights
//
// PUT /weights takes Mesos's list of WeightInfo and sets them all or none:
// one registry write holds every role's weight. A weight must be positive
// and at most 1e9 (the allocator's bound; Mesos has none). Unlike Mesos,
// which keeps the last, a list that names a role twice is refused. Mesos
// also rescinds every outstanding offer when a weight of a role that has
// frameworks changes; meseta does not: new weights order the next
// allocations, and offers come back through use, declines and the
// starvation rescinds of the periodic sweep.
//
// # Durability
//
// The registry holds "quota/<role>", Mesos's QuotaConfig in JSON
// ({"role", "guarantees", "limits"}), and "weight/<role>", Mesos's
// WeightInfo in JSON. recoverQuotaLocked loads them when a master becomes
// leader; see there.

// Registry keys of quotas and weights: the prefix, then the role.
const (
	quotaKeyPrefix  = "quota/"
	weightKeyPrefix = "weight/"
)

// maxWeight is the largest weight the allocator accepts
// (alloc.Allocator.SetWeight).
const maxWeight = 1e9

// ErrQuotaOvercommit: the quota guarantees would exceed the cluster's
// capacity and the request did not say "force". It is an ErrConflict
// (409, as Mesos answers), and such errors wrap ErrBadRequest too.
var ErrQuotaOvercommit = fmt.Errorf("%w: quota guarantees exceed the cluster's capacity", ErrConflict)

// QuotaRequest is the body of POST /quota: Mesos's quota.QuotaRequest.
type QuotaRequest struct {
	// Force skips the capacity check.
	Force bool   `json:"force,omitempty"`
	Role  string `json:"role"`
	// Guarantee is both the guarantee and the limit (Mesos 1.9+).
	Guarantee []core.Resource `json:"guarantee"`
}

// WeightInfo is one role's weight: an entry of /weights (Mesos's
// WeightInfo).
type WeightInfo struct {
	Role   string  `json:"role"`
	Weight float64 `json:"weight"`
}

// QuotaStatus is GET /quota: Mesos's quota.QuotaStatus. Infos is the
// legacy form (guarantees only), Configs the form of Mesos 1.9 (guarantees
// and limits); both list every role that has a quota, by role.
type QuotaStatus struct {
	Infos   []QuotaInfo   `json:"infos"`
	Configs []QuotaConfig `json:"configs"`
}

// QuotaInfo is Mesos's legacy quota.QuotaInfo.
type QuotaInfo struct {
	Role      string          `json:"role"`
	Guarantee []core.Resource `json:"guarantee"`
}

// QuotaConfig is Mesos's quota.QuotaConfig: amounts by resource name. It
// is also what the registry holds under "quota/<role>".
type QuotaConfig struct {
	Role       string                 `json:"role"`
	Guarantees map[string]ScalarValue `json:"guarantees,omitempty"`
	Limits     map[string]ScalarValue `json:"limits,omitempty"`
}

// ScalarValue is Mesos's Value.Scalar.
type ScalarValue struct {
	Value float64 `json:"value"`
}

// DecodeQuotaRequest decodes and checks the body of POST /quota. Errors
// wrap ErrBadRequest and name the problem.
func DecodeQuotaRequest(body []byte) (QuotaRequest, error) {
	var req QuotaRequest
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return req, badRequest("malformed JSON: want a QuotaRequest object, {\"role\": ..., \"guarantee\": [...]}")
	}
	if err := mesos.Decode(body, &req); err != nil {
		return QuotaRequest{}, badRequest("%v", err)
	}
	if _, _, err := checkQuotaRequest(req); err != nil {
		return QuotaRequest{}, err
	}
	return req, nil
}

// DecodeWeights decodes and checks the body of PUT /weights, a JSON list
// of WeightInfo. Roles are trimmed of surrounding whitespace, as in Mesos.
// Errors wrap ErrBadRequest and name the problem.
func DecodeWeights(body []byte) ([]WeightInfo, error) {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '[' {
		return nil, badRequest("malformed JSON: want a list of WeightInfo, [{\"role\": ..., \"weight\": ...}]")
	}
	// The weight is a pointer so that a missing one is told apart from 0.
	var list []struct {
		Role   string   `json:"role"`
		Weight *float64 `json:"weight"`
	}
	if err := mesos.Decode(body, &list); err != nil {
		return nil, badRequest("%v", err)
	}
	out := make([]WeightInfo, len(list))
	for i, w := range list {
		if w.Weight == nil {
			return nil, badRequest("weights[%d]: missing \"weight\"", i)
		}
		out[i] = WeightInfo{Role: strings.TrimSpace(w.Role), Weight: *w.Weight}
	}
	if err := checkWeights(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkRoleName checks a role name by Mesos's rules (core.ValidateRole),
// and that it is valid UTF-8, as registry keys must be. Callers wrap the
// error in ErrBadRequest.
func checkRoleName(role string) error {
	if !utf8.ValidString(role) {
		return fmt.Errorf("role %q is not valid UTF-8", role)
	}
	if err := core.ValidateRole(role); err != nil {
		return fmt.Errorf("invalid role: %w", err)
	}
	return nil
}

// checkQuotaRole checks that role may have a quota: a valid top-level
// role other than "*".
func checkQuotaRole(role string) error {
	if err := checkRoleName(role); err != nil {
		return badRequest("%v", err)
	}
	if role == core.DefaultRole {
		return badRequest("quota cannot be set for the default role %q", role)
	}
	if strings.Contains(role, "/") {
		return badRequest("quota on the nested role %q is not supported: set it on a top-level role", role)
	}
	return nil
}

// checkQuotaRequest checks a QuotaRequest on its own (not against the
// master's state) and returns its role and quota.
func checkQuotaRequest(req QuotaRequest) (string, alloc.Quota, error) {
	if err := checkQuotaRole(req.Role); err != nil {
		return "", alloc.Quota{}, err
	}
	if len(req.Guarantee) == 0 {
		return "", alloc.Quota{}, badRequest("the quota of role %q has an empty \"guarantee\"", req.Role)
	}
	var g core.Quantities
	for i := range req.Guarantee {
		r := &req.Guarantee[i]
		bad := func(format string, args ...any) error {
			return badRequest("guarantee[%d] (%q): %s", i, r.Name, fmt.Sprintf(format, args...))
		}
		switch {
		case r.Name == "":
			return "", alloc.Quota{}, bad("missing name")
		case r.Type != core.Scalar:
			return "", alloc.Quota{}, bad("quota takes scalar resources only, not %s", r.Type)
		case r.IsReserved():
			return "", alloc.Quota{}, bad("quota takes unreserved resources only")
		case r.Disk != nil:
			return "", alloc.Quota{}, bad("quota takes no disk information")
		case r.Revocable:
			return "", alloc.Quota{}, bad("quota takes no revocable resources")
		case r.Shared:
			return "", alloc.Quota{}, bad("quota takes no shared resources")
		case r.Scalar <= 0 || r.Scalar > core.MaxValue:
			// Decoding refuses negative and huge values; a zero, or an
			// amount under 0.0005 that rounds to zero, is refused here.
			return "", alloc.Quota{}, bad("amount %s must be positive (meseta keeps three decimals)", r.Scalar)
		case g.Get(r.Name) != 0:
			return "", alloc.Quota{}, bad("resource %q is listed twice", r.Name)
		}
		if err := r.Validate(); err != nil {
			return "", alloc.Quota{}, bad("%v", err)
		}
		g = g.Add(core.QuantitiesOf(core.Quantity{Name: r.Name, Value: r.Scalar}))
	}
	return req.Role, alloc.Quota{Guarantee: g, Limit: g.Clone()}, nil
}

// checkWeights checks a list of weights on its own.
func checkWeights(ws []WeightInfo) error {
	seen := make(map[string]bool, len(ws))
	for i, w := range ws {
		if err := checkRoleName(w.Role); err != nil {
			return badRequest("weights[%d]: %v", i, err)
		}
		if !(w.Weight > 0) || w.Weight > maxWeight { // also NaN and +Inf
			return badRequest("weights[%d]: invalid weight %v for role %q: a weight must be positive and at most %g",
				i, w.Weight, w.Role, float64(maxWeight))
		}
		if seen[w.Role] {
			return badRequest("weights[%d]: role %q is listed twice", i, w.Role)
		}
		seen[w.Role] = true
	}
	return nil
}

// SetQuota is POST /quota: it gives req.Role the quota req.Guarantee, as
// both guarantee and limit (see the comment at the top of this file).
// Errors wrap ErrBadRequest (and ErrQuotaOvercommit for the capacity
// check) when the request is refused; other errors are the registry's or
// the allocator's, and then too nothing changed.
func (m *Master) SetQuota(req QuotaRequest, now time.Time) error {
	role, q, err := checkQuotaRequest(req)
	if err != nil {
		return err
	}
	defer m.enter(now)()
	if _, ok := m.quotas[role]; ok {
		return badRequest("role %q already has a quota: remove it first (DELETE /quota/%s)", role, role)
	}
	if !req.Force {
		if err := m.checkCapacityLocked(role, q.Guarantee); err != nil {
			return err
		}
	}
	key := quotaKeyPrefix + role
	if err := m.applyLocked(registry.Op{Kind: registry.SetValue, Key: key, Info: encodeQuota(role, q)}); err != nil {
		return fmt.Errorf("master: the registry refused the quota of role %q: %w", role, err)
	}
	if err := m.alloc.SetQuota(role, q); err != nil {
		m.undoLocked(registry.Op{Kind: registry.DeleteValue, Key: key})
		return fmt.Errorf("master: the allocator refused the quota of role %q: %w", role, err)
	}
	m.quotaMapsLocked()
	m.quotas[role] = q
	m.log.Info("quota set", "role", role, "guarantee", q.Guarantee, "limit", q.Limit, "force", req.Force)
	return nil
}

// RemoveQuota is DELETE /quota/<role>. Removing the quota of a role that
// has none is a bad request, as in Mesos.
func (m *Master) RemoveQuota(role string, now time.Time) error {
	if err := checkRoleName(role); err != nil {
		return badRequest("%v", err)
	}
	defer m.enter(now)()
	old, ok := m.quotas[role]
	if !ok {
		return badRequest("role %q has no quota to remove", role)
	}
	key := quotaKeyPrefix + role
	if err := m.applyLocked(registry.Op{Kind: registry.DeleteValue, Key: key}); err != nil {
		return fmt.Errorf("master: the registry refused to remove the quota of role %q: %w", role, err)
	}
	if err := m.alloc.SetQuota(role, alloc.Quota{}); err != nil {
		m.undoLocked(registry.Op{Kind: registry.SetValue, Key: key, Info: encodeQuota(role, old)})
		return fmt.Errorf("master: the allocator refused to remove the quota of role %q: %w", role, err)
	}
	delete(m.quotas, role)
	m.log.Info("quota removed", "role", role)
	return nil
}

// Quotas is GET /quota.
func (m *Master) Quotas() QuotaStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := QuotaStatus{Infos: []QuotaInfo{}, Configs: []QuotaConfig{}}
	for _, role := range slices.Sorted(maps.Keys(m.quotas)) {
		q := m.quotas[role]
		info := QuotaInfo{Role: role, Guarantee: []core.Resource{}}
		for _, e := range q.Guarantee {
			info.Guarantee = append(info.Guarantee, core.Resource{Name: e.Name, Type: core.Scalar, Scalar: e.Value})
		}
		st.Infos = append(st.Infos, info)
		st.Configs = append(st.Configs, quotaConfig(role, q))
	}
	return st
}

// SetWeights is PUT /weights: it sets every listed role's weight, all or
// none. Errors wrap ErrBadRequest when the request is refused; other
// errors are the registry's or the allocator's, and then too nothing
// changed.
func (m *Master) SetWeights(ws []WeightInfo, now time.Time) error {
	if err := checkWeights(ws); err != nil {
		return err
	}
	if len(ws) == 0 {
		return nil
	}
	defer m.enter(now)()
	ops := make([]registry.Op, len(ws))
	undo := make([]registry.Op, len(ws))
	for i, w := range ws {
		key := weightKeyPrefix + w.Role
		ops[i] = registry.Op{Kind: registry.SetValue, Key: key, Info: encodeWeight(w)}
		if old, ok := m.weights[w.Role]; ok {
			undo[i] = registry.Op{Kind: registry.SetValue, Key: key, Info: encodeWeight(WeightInfo{Role: w.Role, Weight: old})}
		} else {
			undo[i] = registry.Op{Kind: registry.DeleteValue, Key: key}
		}
	}
	if err := m.applyLocked(ops...); err != nil {
		return fmt.Errorf("master: the registry refused the weights: %w", err)
	}
	for i, w := range ws {
		if err := m.alloc.SetWeight(w.Role, w.Weight); err != nil {
			// Give the roles already set their old weight back (1, the
			// default, for those that had none).
			for _, done := range ws[:i] {
				old, ok := m.weights[done.Role]
				if !ok {
					old = 1
				}
				_ = m.alloc.SetWeight(done.Role, old)
			}
			m.undoLocked(undo...)
			return fmt.Errorf("master: the allocator refused the weight of role %q: %w", w.Role, err)
		}
	}
	m.quotaMapsLocked()
	for _, w := range ws {
		m.weights[w.Role] = w.Weight
	}
	m.log.Info("weights set", "weights", ws)
	return nil
}

// Weights is GET /weights: the weights set, by role. Roles not listed
// have weight 1.
func (m *Master) Weights() []WeightInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WeightInfo, 0, len(m.weights))
	for _, role := range slices.Sorted(maps.Keys(m.weights)) {
		out = append(out, WeightInfo{Role: role, Weight: m.weights[role]})
	}
	return out
}

// checkCapacityLocked is Mesos's capacity heuristic: the guarantees of
// every role, with role's replaced by g, must fit in the non-revocable
// scalar resources of the registered agents.
func (m *Master) checkCapacityLocked(role string, g core.Quantities) error {
	total := g
	for r, q := range m.quotas {
		if r != role {
			total = total.Add(q.Guarantee)
		}
	}
	var capacity core.Quantities
	for _, ag := range m.agents {
		capacity = capacity.Add(ag.total.NonRevocable().Quantities())
	}
	if !capacity.Contains(total) {
		return fmt.Errorf("%w: %w: guarantees %q, capacity %q (use \"force\": true to bypass this check)",
			ErrBadRequest, ErrQuotaOvercommit, total.String(), capacity.String())
	}
	return nil
}

// undoLocked writes ops that take back a registry write whose change the
// allocator refused. If the registry refuses them too, the registry keeps
// what this master does not apply, and a new leader will apply it; this is
// logged, and the caller's error stands.
func (m *Master) undoLocked(ops ...registry.Op) {
	if err := m.applyLocked(ops...); err != nil {
		m.log.Error("registry refused to undo a write the allocator refused; a new leader will apply it", "err", err)
	}
}

// quotaMapsLocked makes m.quotas and m.weights, which New leaves nil.
func (m *Master) quotaMapsLocked() {
	if m.quotas == nil {
		m.quotas = map[string]alloc.Quota{}
	}
	if m.weights == nil {
		m.weights = map[string]float64{}
	}
}

// recoverQuotaLocked loads the quotas and weights the registry holds
// (values under "quota/" and "weight/") into the master and the allocator.
//
// New calls it (through recoverRegistry) after it has made the allocator
// and before the master is shared, so the allocator can be called here at
// once, and mu need not be held: nothing else can reach the master yet.
// No agent or framework is in the allocator yet, so nothing is offered
// before the quotas hold: the first offers after a failover already
// respect them.
//
// A value that does not decode, or that the allocator refuses, is an
// error, and New fails: a registry written by this code always decodes,
// so it is damaged or was written by an incompatible version, and leading
// without a limit the operator set would be worse than not leading.
func (m *Master) recoverQuotaLocked(values map[string][]byte) error {
	m.quotaMapsLocked()
	for _, key := range slices.Sorted(maps.Keys(values)) {
		switch {
		case strings.HasPrefix(key, quotaKeyPrefix):
			role := key[len(quotaKeyPrefix):]
			q, err := decodeQuota(role, values[key])
			if err != nil {
				return fmt.Errorf("master: registry value %q: %w", key, err)
			}
			if err := m.alloc.SetQuota(role, q); err != nil {
				return fmt.Errorf("master: registry value %q: %w", key, err)
			}
			m.quotas[role] = q
		case strings.HasPrefix(key, weightKeyPrefix):
			role := key[len(weightKeyPrefix):]
			w, err := decodeWeight(role, values[key])
			if err != nil {
				return fmt.Errorf("master: registry value %q: %w", key, err)
			}
			if err := m.alloc.SetWeight(role, w); err != nil {
				return fmt.Errorf("master: registry value %q: %w", key, err)
			}
			m.weights[role] = w
		}
	}
	if len(m.quotas)+len(m.weights) > 0 {
		m.log.Info("quotas and weights recovered", "quotas", len(m.quotas), "weights", len(m.weights))
	}
	return nil
}

// quotaConfig is q in Mesos's QuotaConfig form.
func quotaConfig(role string, q alloc.Quota) QuotaConfig {
	c := QuotaConfig{Role: role}
	toMap := func(qs core.Quantities) map[string]ScalarValue {
		if len(qs) == 0 {
			return nil
		}
		out := make(map[string]ScalarValue, len(qs))
		for _, e := range qs {
			out[e.Name] = ScalarValue{Value: e.Value.Float()}
		}
		return out
	}
	c.Guarantees, c.Limits = toMap(q.Guarantee), toMap(q.Limit)
	return c
}

// encodeQuota is the registry's value for a quota: its QuotaConfig.
func encodeQuota(role string, q alloc.Quota) []byte {
	b, _ := json.Marshal(quotaConfig(role, q)) // plain strings and finite floats: cannot fail
	return b
}

// decodeQuota reads a registry value written by encodeQuota under
// "quota/<role>".
func decodeQuota(role string, b []byte) (alloc.Quota, error) {
	var c QuotaConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return alloc.Quota{}, err
	}
	if c.Role != role {
		return alloc.Quota{}, fmt.Errorf("holds the quota of role %q", c.Role)
	}
	fromMap := func(what string, m map[string]ScalarValue) (core.Quantities, error) {
		var qs core.Quantities
		for name, s := range m {
			v, err := core.ValueOf(s.Value)
			if err != nil {
				return nil, fmt.Errorf("%s of %q: %w", what, name, err)
			}
			qs = qs.Add(core.QuantitiesOf(core.Quantity{Name: name, Value: v}))
		}
		return qs, nil
	}
	g, err := fromMap("guarantee", c.Guarantees)
	if err != nil {
		return alloc.Quota{}, err
	}
	l, err := fromMap("limit", c.Limits)
	if err != nil {
		return alloc.Quota{}, err
	}
	if g.IsEmpty() && l.IsEmpty() {
		return alloc.Quota{}, errors.New("holds an empty quota")
	}
	return alloc.Quota{Guarantee: g, Limit: l}, nil
}

// encodeWeight is the registry's value for a weight: its WeightInfo.
func encodeWeight(w WeightInfo) []byte {
	b, _ := json.Marshal(w) // a string and a finite float: cannot fail
	return b
}

// decodeWeight reads a registry value written by encodeWeight under
// "weight/<role>".
func decodeWeight(role string, b []byte) (float64, error) {
	var w WeightInfo
	if err := json.Unmarshal(b, &w); err != nil {
		return 0, err
	}
	if w.Role != role {
		return 0, fmt.Errorf("holds the weight of role %q", w.Role)
	}
	return w.Weight, nil
}
