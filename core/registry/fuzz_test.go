package registry

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzUnmarshalOp: arbitrary bytes never panic, and whatever decodes
// re-encodes to the same bytes (the encoding is canonical), to JSON that
// decodes equal, and to an op that State.Apply can at least judge.
func FuzzUnmarshalOp(f *testing.F) {
	for _, op := range sampleOps() {
		f.Add(op.Marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 7, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := UnmarshalOp(b)
		if err != nil {
			if op.Kind != 0 || op.AgentID != "" || op.Info != nil {
				t.Fatalf("error %v with a non-zero op %+v", err, op)
			}
			return
		}
		enc := op.Marshal()
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, enc)
		}
		again, err := UnmarshalOp(enc)
		if err != nil || !reflect.DeepEqual(again, op) {
			t.Fatalf("re-encoded op decodes to %+v, %v; want %+v", again, err, op)
		}
		js, err := json.Marshal(op)
		if err != nil {
			t.Fatalf("JSON of decoded op %+v: %v", op, err)
		}
		var back Op
		if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(back, op) {
			t.Fatalf("JSON %s decodes to %+v, %v; want %+v", js, back, err, op)
		}
		var s State
		_ = s.Apply(op) // must not panic
		invariants(t, s)
	})
}

// FuzzApply applies ops decoded from the input (genOps) to a State one by
// one and, in batches, to a Memory store, checking after every step: the
// invariants hold (an agent id is in at most one of Admitted, Unreachable
// and Gone), a failed op or batch changes nothing, a valid op survives
// both encodings, Applied counts the accepted ops, and replaying the
// accepted ops on a fresh State gives the same State.
func FuzzApply(f *testing.F) {
	f.Add([]byte{
		1, 1, 0, 0, // admit a1
		2, 1, 5, 0, // unreachable a1 @5
		129, 1, 0, 2, // reachable a1, end batch
		4, 1, 9, 0, // remove a1
		1, 1, 0, 0, // admit a1: gone
		133, 0, 0, 1, // prune count 1, end batch
	})
	f.Add([]byte{
		1, 0, 0, 0, 1, 1, 0, 0, 1, 2, 0, 0, 2, 0, 1, 0, 2, 1, 2, 0, 130, 2, 3, 0,
		4, 0, 4, 0, 4, 1, 5, 0, 135, 0, 3, 6, 5, 0, 0, 0, 134, 0, 0, 0,
	})
	f.Add([]byte{7, 0, 0, 7, 8, 1, 1, 1, 0, 255, 0, 0, 2, 1, 1, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*128 {
			data = data[:4*128] // longer runs add little and slow the fuzzer
		}
		ops, ends := genOps(data)
		var single State // op by op
		var accepted []Op
		for _, op := range ops {
			before := single.Clone()
			err := single.Apply(op)
			invariants(t, single)
			if err != nil {
				if !single.Equal(before) {
					t.Fatalf("failed op %+v (%v) changed the state", op, err)
				}
				continue
			}
			if single.Applied != before.Applied+1 {
				t.Fatalf("Applied went from %d to %d", before.Applied, single.Applied)
			}
			dec, err := UnmarshalOp(op.Marshal())
			if err != nil {
				t.Fatalf("valid op %+v does not decode: %v", op, err)
			}
			js, err := json.Marshal(op)
			if err != nil {
				t.Fatal(err)
			}
			var fromJSON Op
			if err := json.Unmarshal(js, &fromJSON); err != nil {
				t.Fatal(err)
			}
			for _, o := range []Op{dec, fromJSON} {
				s := before.Clone()
				if err := s.Apply(o); err != nil || !reflect.DeepEqual(s, single.Clone()) {
					t.Fatalf("decoded op %+v applies differently (%v)", o, err)
				}
			}
		}

		m := NewMemory()
		var batch []Op
		for i, op := range ops {
			batch = append(batch, op)
			if !ends[i] && i != len(ops)-1 {
				continue
			}
			before := m.State()
			if err := m.Apply(batch...); err != nil {
				if got := m.State(); !reflect.DeepEqual(got, before) {
					t.Fatalf("failed batch (%v) changed the state", err)
				}
			} else {
				accepted = append(accepted, batch...)
			}
			invariants(t, m.State())
			batch = nil
		}
		var replay State
		for _, op := range accepted {
			if err := replay.Apply(op); err != nil {
				t.Fatalf("replaying accepted op %+v: %v", op, err)
			}
		}
		got := m.State()
		if got.Applied != uint64(len(accepted)) {
			t.Fatalf("Applied = %d, %d ops accepted", got.Applied, len(accepted))
		}
		if !reflect.DeepEqual(replay.Clone(), got) {
			t.Fatalf("replay differs:\n got %v\nwant %v", dump(replay), dump(got))
		}
	})
}
