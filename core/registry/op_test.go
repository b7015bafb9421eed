package registry

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleOps has one op per kind, with every field its kind uses set.
func sampleOps() []Op {
	when := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	return []Op{
		{Kind: AdmitAgent, AgentID: "20250301-S1", Info: []byte{0, 1, 2, 0xff}},
		{Kind: MarkUnreachable, AgentID: "20250301-S1", Time: when},
		{Kind: MarkReachable, AgentID: "20250301-S1", Info: []byte("new info")},
		{Kind: RemoveAgent, AgentID: "20250301-S1", Time: when},
		{Kind: SetValue, Key: "weights/eng", Info: []byte("2.5")},
		{Kind: DeleteValue, Key: "weights/eng"},
		{Kind: PruneAgents, Time: when, Count: 1000},
		{Kind: PruneAgents, Count: -1},
		{Kind: AdmitAgent, AgentID: "ünïcode"},
	}
}

func TestOpRoundTrip(t *testing.T) {
	for _, op := range sampleOps() {
		t.Run(op.Kind.String(), func(t *testing.T) {
			if err := (&State{}).Apply(op); op.Kind == AdmitAgent || op.Kind == SetValue || op.Kind == DeleteValue || op.Kind == PruneAgents {
				if err != nil {
					t.Fatalf("sample op is not valid: %v", err)
				}
			}
			got, err := UnmarshalOp(op.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, op) {
				t.Fatalf("binary round trip:\n got %#v\nwant %#v", got, op)
			}
			js, err := json.Marshal(op)
			if err != nil {
				t.Fatal(err)
			}
			var back Op
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, op) {
				t.Fatalf("JSON round trip via %s:\n got %#v\nwant %#v", js, back, op)
			}
		})
	}
}

// TestOpTimeNormalized: a time's zone and monotonic reading do not survive
// encoding, and do not reach the State either.
func TestOpTimeNormalized(t *testing.T) {
	local := time.Now().In(time.FixedZone("X", 3*3600)) // has a monotonic reading
	op := Op{Kind: RemoveAgent, AgentID: "a", Time: local}
	got, err := UnmarshalOp(op.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(local) || got.Time.Location() != time.UTC {
		t.Fatalf("time %v came back as %v", local, got.Time)
	}
	var s State
	if err := s.Apply(Op{Kind: AdmitAgent, AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(op); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Gone["a"], got.Time) {
		t.Fatalf("State holds %#v, want the UTC form %#v", s.Gone["a"], got.Time)
	}
	var fromJSON Op
	if err := json.Unmarshal([]byte(`{"kind":"RemoveAgent","agent_id":"a","time":"2025-03-01T15:00:00+03:00"}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC); fromJSON.Time != want {
		t.Fatalf("JSON time = %#v, want %#v", fromJSON.Time, want)
	}
}

// TestOpGolden pins both encodings: changing them breaks every log
// written so far.
func TestOpGolden(t *testing.T) {
	cases := []struct {
		op      Op
		bin, js string
	}{
		{Op{Kind: AdmitAgent, AgentID: "S1", Info: []byte("hi")},
			"0101" + "025331" + "026869" + "00" + "00" + "00",
			`{"kind":"AdmitAgent","agent_id":"S1","info":"aGk="}`},
		{Op{Kind: RemoveAgent, AgentID: "S1", Time: time.Unix(1, 5).UTC()},
			"0104" + "025331" + "00" + "00" + "01" + "02" + "05" + "00",
			`{"kind":"RemoveAgent","agent_id":"S1","time":"1970-01-01T00:00:01.000000005Z"}`},
		{Op{Kind: PruneAgents, Count: 300},
			"0107" + "00" + "00" + "00" + "00" + "d804",
			`{"kind":"PruneAgents","count":300}`},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.op.Marshal()); got != c.bin {
			t.Errorf("%s: binary %s, want %s", c.op.Kind, got, c.bin)
		}
		js, err := json.Marshal(c.op)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) != c.js {
			t.Errorf("%s: JSON %s, want %s", c.op.Kind, js, c.js)
		}
	}
	names := []string{"OpKind(0)", "AdmitAgent", "MarkUnreachable", "MarkReachable", "RemoveAgent", "SetValue", "DeleteValue", "PruneAgents", "OpKind(8)"}
	for k, name := range names {
		if got := OpKind(k).String(); got != name {
			t.Errorf("OpKind(%d).String() = %q, want %q", k, got, name)
		}
	}
}

func TestUnmarshalOpErrors(t *testing.T) {
	good := Op{Kind: RemoveAgent, AgentID: "S1", Time: time.Unix(1, 5)}.Marshal()
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated or malformed version"},
		{"version", mod(func(b []byte) []byte { b[0] = 2; return b }), "encoding version 2 is not supported"},
		{"kind", mod(func(b []byte) []byte { b[1] = 0; return b }), "unknown kind 0"},
		{"kind 8", mod(func(b []byte) []byte { b[1] = 8; return b }), "unknown kind 8"},
		{"truncated id", good[:4], "truncated or malformed agent id"},
		{"truncated time", good[:len(good)-2], "truncated or malformed time nanoseconds"},
		{"truncated count", good[:len(good)-1], "truncated or malformed count"},
		{"trailing", append(mod(func(b []byte) []byte { return b }), 0), "1 trailing bytes"},
		{"huge length", []byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, "truncated or malformed agent id"},
		{"bad time flag", mod(func(b []byte) []byte { b[7] = 7; return b }), "bad time flag"},
		{"nanoseconds", hexBytes("0104025331000001" + "02" + "8094ebdc03" + "00"), "nanoseconds 1000000000 out of range"},
		{"year 10000", hexBytes("0104025331000001" + "8086a2ffdf0e" + "00" + "00"), "outside years 1..9999"},
		{"flagged zero time", hexBytes("0104025331000001" + "ffdb8ff9ce03" + "00" + "00"), "not in canonical form"},
		{"long varint", hexBytes("01018200533100000000"), "not in canonical form"},
		{"not UTF-8", hexBytes("010102ff31000000" + "00"), "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := UnmarshalOp(c.in)
			if err == nil {
				t.Fatalf("UnmarshalOp(%x) = %+v, want an error", c.in, op)
			}
			if !errors.Is(err, ErrBadEncoding) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("UnmarshalOp(%x) = %v, want ErrBadEncoding containing %q", c.in, err, c.want)
			}
		})
	}
	for _, js := range []string{`{}`, `{"kind":"Bogus"}`, `{"kind":3.5}`, `[]`, `{"kind":"AdmitAgent","info":"!!"}`} {
		var op Op
		if err := json.Unmarshal([]byte(js), &op); !errors.Is(err, ErrBadEncoding) {
			t.Errorf("json.Unmarshal(%s) = %v, want ErrBadEncoding", js, err)
		}
	}
}

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
