package core

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"meseta/core/jsonwire"
)

// codecStrings are strings that exercise the escaper: HTML characters,
// quotes, control characters, U+2028, invalid UTF-8 and plain unicode.
var codecStrings = []string{"", "cpus", "a<b>&c", `q"b\s`, "tab\tnl\n", "\x00\x1f", "\u2028\u2029", "\xff", "é日本", "eng/ml", "*"}

func randCodecString(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return codecStrings[rng.IntN(len(codecStrings))]
	}
	b := make([]byte, rng.IntN(8))
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// randResource returns a resource of any shape, valid or not: the
// encoder must match MarshalJSON on every value.
func randResource(rng *rand.Rand) Resource {
	r := Resource{Name: randCodecString(rng), Type: ValueType(rng.IntN(5))}
	switch rng.IntN(6) {
	case 0:
		r.Scalar = Value(rng.Int64N(1 << 50))
	case 1:
		r.Scalar = Value(rng.IntN(10000))
	case 2:
		r.Scalar = MaxValue
	}
	if rng.IntN(3) > 0 {
		r.Ranges = Ranges{}
		for range rng.IntN(4) {
			b := rng.Uint64N(100000)
			r.Ranges = append(r.Ranges, Range{b, b + rng.Uint64N(10)})
		}
		if rng.IntN(8) == 0 {
			r.Ranges = append(r.Ranges, Range{math.MaxUint64 - 1, math.MaxUint64})
		}
	}
	if rng.IntN(3) > 0 {
		r.Set = Set{}
		for range rng.IntN(4) {
			r.Set = append(r.Set, randCodecString(rng))
		}
	}
	for range rng.IntN(4) - 1 {
		res := Reservation{Type: ReservationType(rng.IntN(4)), Role: randCodecString(rng)}
		if rng.IntN(2) == 0 {
			res.Principal = randCodecString(rng)
		}
		for range rng.IntN(3) {
			res.Labels = append(res.Labels, Label{randCodecString(rng), randCodecString(rng)})
		}
		r.Reservations = append(r.Reservations, res)
	}
	if rng.IntN(6) == 0 {
		r.Disk = &DiskInfo{}
		if rng.IntN(2) == 0 {
			r.Disk.Persistence = &Persistence{ID: randCodecString(rng), Principal: randCodecString(rng)}
		}
		if rng.IntN(2) == 0 {
			r.Disk.Volume = &Volume{ContainerPath: randCodecString(rng), Mode: VolumeMode(rng.IntN(4))}
		}
	}
	r.Revocable = rng.IntN(4) == 0
	r.Shared = rng.IntN(4) == 0
	return r
}

func TestAppendResourceJSONMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		r := randResource(rng)
		want, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendResourceJSON(nil, r); !bytes.Equal(got, want) {
			t.Fatalf("AppendResourceJSON(%#v)\n got %s\nwant %s", r, got, want)
		}
	}
}

// checkReadResources is the decoder's contract: whatever the fast reader
// accepts, encoding/json decodes to a deeply equal value.
func checkReadResources(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	r := jsonwire.NewReader(data)
	got := ReadResourcesJSON(r)
	if r.End() != nil {
		return false
	}
	var want Resources
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("fast reader took %s, encoding/json refused it: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast reader read %s as\n%#v\nencoding/json\n%#v", data, got, want)
	}
	return true
}

func TestReadResourcesJSONMatchesUnmarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fast := 0
	const n = 5000
	for range n {
		var list Resources
		for range rng.IntN(4) {
			list = append(list, randResource(rng))
		}
		data, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 {
			data = []byte("[]")
		}
		if checkReadResources(t, data) {
			fast++
		}
	}
	// Valid resources without disk info must take the fast path.
	for _, s := range []string{
		`[]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5}}]`,
		`[{"allocation_info":{"role":"web"},"role":"*","name":"cpus","type":"SCALAR","scalar":{"value":0.0015}}]`,
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":5,"end":9},{"begin":1,"end":4}]}}]`,
		`[{"name":"ports","type":"RANGES","ranges":{"range":[]}},{"name":"p","type":"RANGES","ranges":{}}]`,
		`[{"name":"z","type":"SET","set":{"item":["b","a"]}},{"name":"y","type":"SET","set":{"item":[]}},{"name":"x","type":"SET","set":{}}]`,
		`[{"name":"mem","type":"SCALAR","scalar":{"value":1},"role":"eng"}]`,
		`[{"name":"mem","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a","principal":"p","labels":{"labels":[{"key":"k","value":"v"},{"key":"e"}]}},{"type":"STATIC","role":"a/b","labels":{"labels":[]}}],"revocable":{},"shared":{}}]`,
		` [ { "name" : "cpus" , "type" : "SCALAR" , "scalar" : { "value" : 1e2 } } ] `,
	} {
		if !checkReadResources(t, []byte(s)) {
			t.Errorf("%s: not on the fast path", s)
		}
	}
	// Off the fast path (the slow path ignores, merges or refuses these).
	for _, s := range []string{
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"bogus":1}]`,
		`[{"name":"cpus","name":"mem","type":"SCALAR","scalar":{"value":1}}]`,
		`[{"Name":"cpus","type":"SCALAR","scalar":{"value":1}}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{}}]`,
		`[{"name":"cpus","type":"SCALAR"}]`,
		`[{"name":"cpus","type":"TEXT","scalar":{"value":1}}]`,
		`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1}]}}]`,
		`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1,"end":5},{"begin":3,"end":8}]}}]`,
		`[{"name":"s","type":"SET","set":{"item":["a","a"]}}]`,
		`[{"name":"m","type":"SCALAR","scalar":{"value":1},"role":"r","reservations":[{"type":"STATIC","role":"r"}]}]`,
		`[{"name":"m","type":"SCALAR","scalar":{"value":1},"reservations":[{"role":"r"}]}]`,
		`[{"name":"m","type":"SCALAR","scalar":{"value":1},"revocable":{"x":1}}]`,
		`[null]`, `null`,
	} {
		if checkReadResources(t, []byte(s)) {
			t.Errorf("%s: took the fast path", s)
		}
	}
	t.Logf("%d of %d random lists on the fast path", fast, n)
}

// FuzzFastResources: the fast resource reader agrees with encoding/json.
func FuzzFastResources(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		data, _ := json.Marshal(Resources{randResource(rng), randResource(rng)})
		f.Add(data)
	}
	f.Add([]byte(`[{"allocation_info":{"role":"web"},"role":"*","name":"cpus","type":"SCALAR","scalar":{"value":1}}]`))
	f.Add([]byte(`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":5,"end":9},{"begin":1,"end":4}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReadResources(t, data)
	})
}

func BenchmarkResourceCodec(b *testing.B) {
	rs := MustParseResources("cpus:4;mem:4096;disk(eng):100;ports:[31000-32000]")
	data, _ := json.Marshal(rs)
	var buf []byte
	for _, bc := range []struct {
		name string
		run  func() error
	}{
		{"encode/impl=encoding-json", func() error { _, err := json.Marshal(rs); return err }},
		{"encode/impl=fast", func() error {
			buf = append(buf[:0], '[')
			for i, r := range rs {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = AppendResourceJSON(buf, r)
			}
			buf = append(buf, ']')
			return nil
		}},
		{"decode/impl=encoding-json", func() error { var got Resources; return json.Unmarshal(data, &got) }},
		{"decode/impl=fast", func() error {
			r := jsonwire.NewReader(data)
			ReadResourcesJSON(r)
			return r.End()
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := bc.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
