package core

import (
	"encoding/json"
	"testing"
)

// FuzzParseText: the text parser never panics, accepts only valid
// resources, and what it prints of a parse it reads back to the same value.
func FuzzParseText(f *testing.F) {
	for _, seed := range []string{
		"cpus:24;mem:4096;disk(eng):100;ports:[31000-32000]",
		"cpus(*):1.5;gpus:2;zones:{a,b}",
		"ports:[1-5,7-9]", "cpus:-1", "cpus:nan", "ports:[5-1]", "x(a/b):3", "", ";;", "cpus:1e400",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseResources(s)
		if err != nil {
			return
		}
		if err := rs.Validate(); err != nil {
			t.Fatalf("ParseResources(%q) = %s, which is invalid: %v", s, rs, err)
		}
		simple := true
		for _, r := range rs {
			if len(r.Reservations) > 1 || (r.IsReserved() && r.Reservations[0].Type != Static) || r.Disk != nil || r.Revocable || r.Shared {
				simple = false
			}
		}
		if !simple {
			return
		}
		back, err := ParseResources(rs.String())
		if err != nil || !back.Equal(rs) {
			t.Fatalf("ParseResources(%q) = %s; reparsing its text gives %s, %v", s, rs, back, err)
		}
	})
}

// FuzzParseJSON: the JSON parser never panics, accepts only valid
// resources, and marshalling what it accepted round-trips exactly.
func FuzzParseJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5}}]`,
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]}}]`,
		`[{"name":"s","type":"SET","set":{"item":["a"]}}]`,
		`[{"name":"mem","type":"SCALAR","scalar":{"value":1},"role":"eng","reservation":{"principal":"p"}}]`,
		`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a","principal":"p"}],"disk":{"persistence":{"id":"v"},"volume":{"container_path":"d","mode":"RO"}},"shared":{}}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, `[`, `{}`, `[{}]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseResourcesJSON(data)
		if err != nil {
			return
		}
		if err := rs.Validate(); err != nil {
			t.Fatalf("ParseResourcesJSON(%q) = %s, which is invalid: %v", data, rs, err)
		}
		out, err := json.Marshal(rs)
		if err != nil {
			t.Fatalf("Marshal(%s): %v", rs, err)
		}
		back, err := ParseResourcesJSON(out)
		if err != nil || !back.Equal(rs) {
			t.Fatalf("round trip of %s through %s gives %s, %v", rs, out, back, err)
		}
	})
}
