package registry

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestBatchRoundTrip(t *testing.T) {
	ops := sampleOps()
	b := EncodeBatch(41, ops)
	pos, got, err := DecodeBatch(b)
	if err != nil || pos != 41 || !reflect.DeepEqual(got, ops) {
		t.Fatalf("DecodeBatch = %d, %+v, %v; want 41, %+v", pos, got, err, ops)
	}
	if _, _, err := DecodeBatch(append(b, 0)); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, _, err := DecodeBatch(b[:len(b)-1]); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("truncated: %v", err)
	}
	// A count the input cannot hold is refused before allocation.
	if _, _, err := DecodeBatch([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("huge count: %v", err)
	}
	// Non-canonical: an over-long varint for the position.
	long := append([]byte{1, 0x80 | 41, 0}, b[2:]...)
	if _, _, err := DecodeBatch(long); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("over-long position: %v", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	var s State
	for _, op := range []Op{
		admit("a1", "one"), admit("a2", "two"), admit("a3", ""), admit("a4", "four"),
		unreachable("a2", at(5)), remove("a3", at(7)), remove("a4", at(9)),
		setValue("weights", "{}"), setValue("quota", "q"),
	} {
		if err := s.Apply(op); err != nil {
			t.Fatal(err)
		}
	}
	s.Applied = 1234 // a snapshot keeps the log position, not the op count
	b := EncodeState(s)
	got, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, got, s)
	if got.Applied != 1234 {
		t.Fatalf("Applied = %d", got.Applied)
	}
	if !bytes.Equal(EncodeState(got), b) {
		t.Fatal("a decoded state encodes differently")
	}
	// Ops out of Rebuild's order are refused (one state, one encoding).
	ops := Rebuild(s)
	ops[0], ops[1] = ops[1], ops[0]
	if _, err := DecodeState(EncodeBatch(1234, ops)); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("out of order: %v", err)
	}
	// Ops that do not apply are refused.
	if _, err := DecodeState(EncodeBatch(1, []Op{unreachable("ghost", at(1))})); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("invalid op: %v", err)
	}
	var empty State
	if got, err := DecodeState(EncodeState(empty)); err != nil || len(got.Admitted)+len(got.Values) != 0 {
		t.Fatalf("empty state: %+v, %v", got, err)
	}
}

func TestCheckDoesNotApply(t *testing.T) {
	p, err := OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m := NewMemory()
	for _, st := range []interface {
		Store
		Check(...Op) error
		Applied() uint64
	}{p, m} {
		if err := st.Apply(admit("a1", "x")); err != nil {
			t.Fatal(err)
		}
		before := st.State()
		if err := st.Check(admit("a2", "y"), remove("a1", at(3))); err != nil {
			t.Fatalf("valid batch: %v", err)
		}
		if err := st.Check(admit("a2", "y"), admit("a1", "z")); !isOpError(err, 1, AdmitAgent) {
			t.Fatalf("invalid batch: %v", err)
		}
		checkState(t, st.State(), before)
		if st.Applied() != 1 {
			t.Fatalf("Applied = %d", st.Applied())
		}
	}
}

// FuzzDecodeBatch: arbitrary bytes never panic; what decodes re-encodes to
// the same bytes; and DecodeState accepts only what EncodeState makes.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(3, sampleOps()))
	f.Add(EncodeBatch(0, nil))
	var s State
	_ = s.Apply(admit("a", "i"))
	_ = s.Apply(admit("b", ""))
	_ = s.Apply(remove("b", at(1)))
	f.Add(EncodeState(s))
	f.Add([]byte{1, 0, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos, ops, err := DecodeBatch(b)
		if err == nil && !bytes.Equal(EncodeBatch(pos, ops), b) {
			t.Fatalf("batch re-encodes differently:\n in %x", b)
		}
		st, err := DecodeState(b)
		if err != nil {
			return
		}
		invariants(t, st)
		if !bytes.Equal(EncodeState(st), b) {
			t.Fatalf("state re-encodes differently:\n in %x", b)
		}
	})
}
