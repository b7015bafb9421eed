package jsonwire

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\`, "<a&b>", "\u2028\u2029", "\x00\x1f\b\f\n\r\t", "\xff\xfe", "é日本", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := String(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("String(%q) = %s, encoding/json %s", s, got, want)
		}
		// What the Reader takes back must be what encoding/json reads.
		r := NewReader(want)
		got := r.String()
		if r.End() == nil {
			var back string
			if err := json.Unmarshal(want, &back); err != nil || back != got {
				t.Fatalf("Reader read %q from %s, encoding/json %q (%v)", got, want, back, err)
			}
		}
	})
}

func FuzzFloat(f *testing.F) {
	for _, v := range []float64{0, -0.0, 1, 0.1, 1e-7, 1e-6, 123456789, 1e20, 1e21, 1.5e300, -2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		want, _ := json.Marshal(v)
		got := Float(nil, v)
		if !bytes.Equal(got, want) {
			t.Fatalf("Float(%v) = %s, encoding/json %s", v, got, want)
		}
		r := NewReader(got)
		if back := r.Float(); r.End() != nil || back != v {
			t.Fatalf("Reader read %v (%v) from %s", back, r.Err(), got)
		}
	})
}

// walk reads any document with the Reader into the values encoding/json
// makes of it (map[string]any, []any, float64, string, bool); it fails on
// null, as the codecs do.
func walk(r *Reader) any {
	switch r.peek() {
	case '{':
		m := map[string]any{}
		it := r.Object()
		for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
			if _, dup := m[string(k)]; dup {
				r.Fail()
				return nil
			}
			m[string(k)] = walk(r)
		}
		return m
	case '[':
		a := []any{}
		it := r.Array()
		for r.Elem(&it) {
			a = append(a, walk(r))
		}
		return a
	case '"':
		return r.String()
	case 't', 'f':
		return r.Bool()
	default:
		return r.Float()
	}
}

// FuzzReader: whatever the Reader accepts, encoding/json decodes to the
// same value.
func FuzzReader(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2.5,-3e2],"b":{"c":"d"},"e":true}`, `[1,]`, `{"a":1,}`, `{,"a":1}`,
		`[01]`, `{"a" : [ true , false ] }`, `"\u0041"`, `1.`, `-`, `{"a":1}x`, `[1e999]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		got := walk(r)
		if r.End() != nil {
			return
		}
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("Reader took %q, encoding/json refused it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Reader read %#v from %q, encoding/json %#v", got, data, want)
		}
	})
}

func TestReaderRefuses(t *testing.T) {
	for _, s := range []string{`{"a":null}`, `{"a\u0062":1}`, `{"a":"x\ny"}`, `[1,]`, `{"a":1,}`, `{,"a":1}`, `[01]`,
		`{"a":1} {}`, `"\xff"`, `{"a" 1}`, `[1 2]`} {
		r := NewReader([]byte(s))
		walk(r)
		if r.End() == nil {
			t.Errorf("Reader took %s", s)
		}
	}
	r := NewReader([]byte(`{"n":-12,"u":18446744073709551615,"big":256,"b64":"aGk="}`))
	it := r.Object()
	for k, ok := r.Field(&it); ok; k, ok = r.Field(&it) {
		switch string(k) {
		case "n":
			if v := r.Int(64); v != -12 {
				t.Errorf("n = %d", v)
			}
		case "u":
			if v := r.Uint(64); v != math.MaxUint64 {
				t.Errorf("u = %d", v)
			}
		case "big":
			r.Uint(8) // 256 overflows a uint8
			if r.Err() == nil {
				t.Error("256 read as a uint8")
			}
			return
		}
	}
	t.Error("did not reach big")
}

func TestWriters(t *testing.T) {
	b := []byte{'{'}
	b = Key(b, "a")
	b = Bytes(b, []byte("hi"))
	b = Key(b, "n")
	b = Bytes(b, nil)
	b = Key(b, "i")
	b = Int(b, -3)
	b = Key(b, "t")
	b = Bool(b, true)
	b = append(b, '}')
	if want := `{"a":"aGk=","n":null,"i":-3,"t":true}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
