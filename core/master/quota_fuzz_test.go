package master

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeQuotaRequest: the body of POST /quota never panics the
// decoder; a refusal is an ErrBadRequest; an accepted request has a valid
// top-level role and a guarantee of positive, distinct, unreserved
// scalars that is also its limit, and reads the same once encoded again.
func FuzzDecodeQuotaRequest(f *testing.F) {
	for _, s := range []string{
		`{"role": "eng", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 3}}]}`,
		`{"force": true, "role": "eng", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}},
		  {"name": "mem", "type": "SCALAR", "scalar": {"value": 512}, "role": "*"}]}`,
		`{"role": "*", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}`,
		`{"role": "a/b", "guarantee": []}`,
		`{"role": "eng", "guarantee": [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]}}]}`,
		`{"role": "eng", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0}}]}`,
		`{"role": "eng", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "revocable": {}}]}`,
		`{"role": "eng"`, `[]`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeQuotaRequest(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		role, q, err := checkQuotaRequest(req)
		if err != nil {
			t.Fatalf("accepted %s, but it does not check: %v", body, err)
		}
		if role == "*" || strings.Contains(role, "/") || q.Guarantee.IsEmpty() || !reflect.DeepEqual(q.Guarantee, q.Limit) {
			t.Fatalf("accepted %s as role %q, quota %+v", body, role, q)
		}
		for _, e := range q.Guarantee {
			if e.Value <= 0 {
				t.Fatalf("accepted %s with %s:%s", body, e.Name, e.Value)
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := DecodeQuotaRequest(again)
		if err != nil {
			t.Fatalf("%s re-encoded as %s does not decode: %v", body, again, err)
		}
		if role2, q2, _ := checkQuotaRequest(req2); role2 != role || req2.Force != req.Force || !reflect.DeepEqual(q2, q) {
			t.Fatalf("%s re-encoded as %s reads as %q %+v, want %q %+v", body, again, role2, q2, role, q)
		}
	})
}

// FuzzDecodeWeights: the body of PUT /weights never panics the decoder;
// a refusal is an ErrBadRequest; accepted weights have valid, distinct
// roles and weights in (0, 1e9], and read the same once encoded again.
func FuzzDecodeWeights(f *testing.F) {
	for _, s := range []string{
		`[{"role": "role1", "weight": 2.0}, {"role": "role2", "weight": 3.5}]`,
		`[{"role": " padded ", "weight": 1}]`,
		`[{"role": "*", "weight": 0.25}, {"role": "eng/ml", "weight": 1e9}]`,
		`[]`, `[{"role": "a"}]`, `[{"role": "a", "weight": 0}]`, `[{"role": "a", "weight": 1e400}]`,
		`{"role": "a", "weight": 1}`, `[{"role": "a", "weight": 1}, {"role": "a", "weight": 2}]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ws, err := DecodeWeights(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if err := checkWeights(ws); err != nil {
			t.Fatalf("accepted %s, but it does not check: %v", body, err)
		}
		for _, w := range ws {
			if !(w.Weight > 0 && w.Weight <= maxWeight) || w.Role != strings.TrimSpace(w.Role) {
				t.Fatalf("accepted %s with %+v", body, w)
			}
		}
		again, err := json.Marshal(ws)
		if err != nil {
			t.Fatal(err)
		}
		ws2, err := DecodeWeights(again)
		if err != nil || !reflect.DeepEqual(ws2, ws) {
			t.Fatalf("%s re-encoded as %s reads as %+v (%v), want %+v", body, again, ws2, err, ws)
		}
	})
}
