package core

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseResourcesText(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"cpus:24;mem:4096;disk(eng):100;ports:[31000-32000]", "cpus:24;mem:4096;disk(eng):100;ports:[31000-32000]"},
		{" cpus : 1.5 ; cpus:0.5 ", "cpus:2"},                                // same class merges
		{"cpus(*):1;cpus(eng):1", "cpus:1;cpus(eng):1"},                      // '*' is unreserved
		{"ports:[1-5, 3-3]", ""},                                             // overlap: error
		{"ports:[10-20,21-30]", "ports:[10-30]"},                             // adjacent ranges merge
		{"zones:{b,a}", "zones:{a,b}"},                                       // sets sort
		{"cpus:1.5123", "cpus:1.512"},                                        // three decimals
		{"", ""},                                                             // empty is fine
		{"gpus:2;mem(eng/ml):64", "gpus:2;mem(eng/ml):64"},                   // nested role
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]`, "cpus:2"}, // JSON form
	} {
		got, err := ParseResources(tc.in)
		if tc.want == "" && tc.in != "" {
			if err == nil {
				t.Errorf("ParseResources(%q) = %s, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseResources(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseResources(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseResourcesErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cpus:-1", "negative"},
		{"cpus:nan", "not a finite number"},
		{"cpus:inf", "not a finite number"},
		{"cpus:1e300", "too large"},
		{"cpus", "missing ':'"},
		{":1", "empty name"},
		{"ports:[5-1]", "inverted"},
		{"ports:[1-5,4-8]", "overlaps"},
		{"ports:[1-x]", "not two non-negative integers"},
		{"ports:[1-5", "unclosed"},
		{"s:{a,a}", "duplicate set item"},
		{"cpus(a b):1", "whitespace"},
		{"cpus(-x):1", "starts with '-'"},
		{"cpus(..):1", "not allowed"},
		{"cpus(eng:1", "unclosed '('"},
		{"cpus:1;cpus:[1-2]", "used as both"},
		{"gpus:1.5", "whole number"},
		{"cpus:abc", "not a number"},
	} {
		_, err := ParseResources(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseResources(%q): error %v, want one containing %q", tc.in, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrBadResource) {
			t.Errorf("ParseResources(%q): error %v does not wrap ErrBadResource", tc.in, err)
		}
	}
}

func TestParseQuantitiesAndMinAllocatable(t *testing.T) {
	q, err := ParseQuantities("mem:32;cpus:0.01")
	if err != nil || q.String() != "cpus:0.01;mem:32" {
		t.Fatalf("ParseQuantities = %v, %v", q, err)
	}
	alts, err := ParseMinAllocatable("disk:1|cpus:1;mem:32;ports:1")
	if err != nil || len(alts) != 2 || alts[1].Get("ports") != Units(1) {
		t.Fatalf("ParseMinAllocatable = %v, %v", alts, err)
	}
	for _, bad := range []string{"cpus", "cpus:x", "cpus:1;cpus:2", "cpus:1||mem:2", "cpus(r):1"} {
		if _, err := ParseMinAllocatable(bad); err == nil {
			t.Errorf("ParseMinAllocatable(%q) succeeded", bad)
		}
	}
}

func TestJSONForms(t *testing.T) {
	in := `[
	  {"name":"cpus","type":"SCALAR","scalar":{"value":1.5},"allocation_info":{"role":"x"}},
	  {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31005}]}},
	  {"name":"zones","type":"SET","set":{"item":["b","a"]}},
	  {"name":"mem","type":"SCALAR","scalar":{"value":64},"role":"eng","reservation":{"principal":"alice"}},
	  {"name":"disk","type":"SCALAR","scalar":{"value":10},
	   "reservations":[{"type":"STATIC","role":"eng"},{"type":"DYNAMIC","role":"eng/db","principal":"bob","labels":{"labels":[{"key":"k","value":"v"}]}}],
	   "disk":{"persistence":{"id":"vol1","principal":"bob"},"volume":{"container_path":"data","mode":"RW"}},"shared":{}},
	  {"name":"cpus","type":"SCALAR","scalar":{"value":2},"revocable":{}}
	]`
	rs, err := ParseResourcesJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 6 {
		t.Fatalf("got %d entries: %s", len(rs), rs)
	}
	mem := rs.Filter(func(r *Resource) bool { return r.Name == Mem })[0]
	if want := []Reservation{{Type: Dynamic, Role: "eng", Principal: "alice"}}; !reflect.DeepEqual(mem.Reservations, want) {
		t.Errorf("legacy reservation decoded as %+v", mem.Reservations)
	}
	disk := rs.Filter(func(r *Resource) bool { return r.Name == Disk })[0]
	if !disk.IsPersistentVolume() || !disk.Shared || disk.Role() != "eng/db" || disk.Reservations[1].Labels[0] != (Label{"k", "v"}) {
		t.Errorf("volume decoded as %+v", disk)
	}
	// Round trip through Marshal.
	data, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseResourcesJSON(data)
	if err != nil || !back.Equal(rs) {
		t.Fatalf("round trip: %s, %v; want %s", back, err, rs)
	}
	for _, tc := range []struct{ in, want string }{
		{`[{"name":"cpus","type":"SCALAR"}]`, `needs exactly the "scalar" field`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{}}]`, "scalar.value is missing"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":"x"}}]`, "cannot unmarshal"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, "negative"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1e300}}]`, "too large"},
		{`[{"name":"cpus","type":"TEXT","scalar":{"value":1}}]`, "is not SCALAR, RANGES or SET"},
		{`[{"name":"cpus","type":"FOO"}]`, "is not SCALAR"},
		{`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":5,"end":1}]}}]`, "inverted"},
		{`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":5}]}}]`, "needs begin and end"},
		{`[{"name":"p","type":"RANGES","scalar":{"value":1},"ranges":{"range":[]}}]`, "needs exactly"},
		{`[{"name":"c","type":"SCALAR","scalar":{"value":1},"role":"a","reservations":[{"type":"STATIC","role":"a"}]}]`, "both the legacy role"},
		{`[{"name":"c","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"LOUD","role":"a"}]}]`, "not STATIC or DYNAMIC"},
		{`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"disk":{"volume":{"container_path":"d","mode":"XX"}}}]`, "not RW or RO"},
		{`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"disk":{"persistence":{"id":"v"},"volume":{"container_path":"d","mode":"RW"}}}]`, "unreserved disk"},
		{`{"name":"cpus"}`, "want a JSON array"},
		{`[`, "unexpected end"},
	} {
		_, err := ParseResourcesJSON([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseResourcesJSON(%s): error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, ok := range []string{"*", "eng", "eng/ml", "a.b", "a-b", "x/y/z"} {
		if err := ValidateRole(ok); err != nil {
			t.Errorf("ValidateRole(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "-x", "a b", "a/", "/a", "a//b", "eng/*", "eng/..", "a\tb", "a\bb", "a\nb"} {
		if err := ValidateRole(bad); !errors.Is(err, ErrBadRole) {
			t.Errorf("ValidateRole(%q) = %v, want ErrBadRole", bad, err)
		}
	}
	if !IsSubRoleOf("eng/ml", "eng") || !IsSubRoleOf("eng", "eng") || IsSubRoleOf("engine", "eng") || IsSubRoleOf("eng", "eng/ml") {
		t.Error("IsSubRoleOf is wrong")
	}
	if p, ok := ParentRole("a/b/c"); !ok || p != "a/b" {
		t.Errorf("ParentRole(a/b/c) = %q, %v", p, ok)
	}
	if _, ok := ParentRole("a"); ok {
		t.Error("ParentRole(a) has a parent")
	}
}

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{{1.5123, "1.512"}, {1.5126, "1.513"}, {0.001, "0.001"}, {24, "24"}, {0.1 + 0.2, "0.3"}} {
		v, err := ValueOf(tc.f)
		if err != nil || v.String() != tc.want {
			t.Errorf("ValueOf(%v) = %s, %v; want %s", tc.f, v, err, tc.want)
		}
	}
	for _, bad := range []float64{-1, 1e300} {
		if _, err := ValueOf(bad); !errors.Is(err, ErrBadScalar) {
			t.Errorf("ValueOf(%v) = %v, want ErrBadScalar", bad, err)
		}
	}
	// Adding 0.1 ten thousand times gives exactly 1000: fixed point does
	// not drift.
	var sum Value
	tenth, _ := ValueOf(0.1)
	for range 10000 {
		sum += tenth
	}
	if sum != Units(1000) {
		t.Fatalf("sum of 10000 × 0.1 = %s", sum)
	}
}

func TestRangesAndSets(t *testing.T) {
	a := Ranges{{1, 10}, {20, 30}}
	if got := a.Difference(Ranges{{5, 22}}); !reflect.DeepEqual(got, Ranges{{1, 4}, {23, 30}}) {
		t.Errorf("Difference = %v", got)
	}
	if got := a.Union(Ranges{{11, 19}}); !reflect.DeepEqual(got, Ranges{{1, 30}}) {
		t.Errorf("Union = %v", got)
	}
	if !a.Contains(Ranges{{2, 3}, {25, 30}}) || a.Contains(Ranges{{9, 21}}) {
		t.Error("Contains is wrong")
	}
	top := Ranges{{1<<64 - 2, 1<<64 - 1}}
	if got := top.Union(Ranges{{0, 0}}); got.Count() != 3 {
		t.Errorf("Union near MaxUint64 = %v", got)
	}
	s := Set{"a", "c"}
	if !reflect.DeepEqual(s.Union(Set{"b"}), Set{"a", "b", "c"}) || !reflect.DeepEqual(s.Difference(Set{"a"}), Set{"c"}) || s.Contains(Set{"b"}) {
		t.Error("Set arithmetic is wrong")
	}
}

// randomResources makes a random valid Resources: unreserved and reserved
// (static, dynamic, refined) scalars, ports, sets, revocable entries and
// persistent volumes, some of them shared.
func randomResources(r *rand.Rand) Resources {
	var list []Resource
	roles := []string{"eng", "eng/ml", "ops"}
	for range r.IntN(6) {
		res := Resource{Name: []string{CPUs, Mem, Disk, GPUs}[r.IntN(4)], Scalar: Value(r.IntN(5000) + 1)}
		if res.Name == GPUs {
			res.Scalar = Units(int64(r.IntN(4) + 1))
		}
		switch r.IntN(4) {
		case 1:
			res.Reservations = []Reservation{{Type: Static, Role: roles[r.IntN(3)]}}
		case 2:
			res.Reservations = []Reservation{{Type: Dynamic, Role: "eng", Principal: "p"}, {Type: Dynamic, Role: "eng/ml", Principal: "q", Labels: []Label{{"k", "v"}}}}
		case 3:
			res.Revocable = true
		}
		if res.Name == Disk && res.IsReserved() && r.IntN(2) == 0 {
			res.Disk = &DiskInfo{Persistence: &Persistence{ID: []string{"v1", "v2"}[r.IntN(2)]}, Volume: &Volume{ContainerPath: "data", Mode: RW}}
			res.Shared = r.IntN(2) == 0
			res.Revocable = false
		}
		list = append(list, res)
	}
	if r.IntN(2) == 0 {
		b := uint64(r.IntN(100))
		list = append(list, Resource{Name: Ports, Type: RangesType, Ranges: Ranges{{b, b + uint64(r.IntN(20))}}})
	}
	if r.IntN(3) == 0 {
		list = append(list, Resource{Name: "zones", Type: SetType, Set: Set{[]string{"a", "b", "c"}[r.IntN(3)]}})
	}
	rs, err := NewResources(list...)
	if err != nil {
		panic(err)
	}
	return rs
}

// TestArithmeticProperties checks the laws the allocator relies on over
// random resources: (a+b)-b == a (for disjoint ranges and sets), a+b
// contains a and b, Contains agrees
// with Sub, Add commutes, quantities add up, results are valid and inputs
// are never modified.
func TestArithmeticProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		a, b := randomResources(r), randomResources(r)
		a0, b0 := a.Clone(), b.Clone()
		sum := a.Add(b)
		if err := sum.Validate(); err != nil {
			t.Fatalf("%d: a+b invalid: %v (a=%s b=%s)", i, err, a, b)
		}
		if !sum.Contains(a) || !sum.Contains(b) {
			t.Fatalf("%d: a+b=%s does not contain a=%s and b=%s", i, sum, a, b)
		}
		// Ranges and sets add as unions, so subtraction undoes addition
		// only when a and b share no member (as an agent's ports never do).
		disjoint := slices.Equal(sum.CountQuantities(), a.CountQuantities().Add(b.CountQuantities()))
		if back := sum.Sub(b); disjoint && !back.Equal(a) {
			t.Fatalf("%d: (a+b)-b = %s, want a = %s (b = %s)", i, back, a, b)
		}
		if !sum.Equal(b.Add(a)) {
			t.Fatalf("%d: a+b != b+a: %s vs %s", i, sum, b.Add(a))
		}
		if !slices.Equal(sum.Quantities(), a.Quantities().Add(b.Quantities())) {
			t.Fatalf("%d: quantities of a+b = %s, want %s", i, sum.Quantities(), a.Quantities().Add(b.Quantities()))
		}
		if a.Contains(b) {
			if got := a.Sub(b).Add(b); !got.Equal(a) {
				t.Fatalf("%d: a contains b but (a-b)+b = %s, want %s", i, got, a)
			}
		}
		if !a.Contains(a) || !a.Contains(nil) {
			t.Fatalf("%d: a does not contain itself or nothing", i)
		}
		if !reflect.DeepEqual(a, a0) || !reflect.DeepEqual(b, b0) {
			t.Fatalf("%d: inputs modified", i)
		}
	}
}

// TestSharedSplit checks that Shared and NonShared split a collection:
// together they are the whole, each copy of a shared entry on the shared
// side, and HasShared says whether that side is empty.
func TestSharedSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 2000 {
		rs := randomResources(r)
		rs = rs.Add(rs.Shared()) // a second copy of every shared entry
		sh, non := rs.Shared(), rs.NonShared()
		if !sh.Add(non).Equal(rs) {
			t.Fatalf("%s: shared %s + non-shared %s is not the whole", rs, sh, non)
		}
		if rs.HasShared() != !sh.IsEmpty() {
			t.Fatalf("%s: HasShared %v with shared part %s", rs, rs.HasShared(), sh)
		}
		for i := range sh {
			if !sh[i].Shared {
				t.Fatalf("%s: %s on the shared side", rs, sh[i].Name)
			}
		}
		for i := range non {
			if non[i].Shared {
				t.Fatalf("%s: shared %s on the non-shared side", rs, non[i].Name)
			}
		}
	}
}
