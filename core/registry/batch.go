package registry

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// The batch encoding carries a batch of ops together with the log position
// it starts at. The replicated log stores one batch per entry, and a
// snapshot is the batch of ops that rebuilds a State from nothing, with
// the State's Applied as its position. Version 1:
//
//	byte     encoding version (1)
//	uvarint  position
//	uvarint  number of ops
//	then for each op: uvarint length, then Op.Marshal
//
// Like the op encoding it is canonical, and DecodeBatch never allocates
// more than len(b) bytes of payload.
const batchEncodingVersion = 1

// EncodeBatch returns the encoding of ops at position pos.
func EncodeBatch(pos uint64, ops []Op) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(ops)*64)
	b = append(b, batchEncodingVersion)
	b = binary.AppendUvarint(b, pos)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, op := range ops {
		e := op.Marshal()
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// DecodeBatch decodes what EncodeBatch produced. Errors wrap
// ErrBadEncoding and name the op that failed to decode.
func DecodeBatch(b []byte) (pos uint64, ops []Op, err error) {
	d := decoder{b: b}
	ver := d.byte("batch version")
	if d.err == nil && ver != batchEncodingVersion {
		return 0, nil, fmt.Errorf("%w: batch encoding version %d is not supported (this build reads version %d)", ErrBadEncoding, ver, batchEncodingVersion)
	}
	pos = d.uvarint("batch position")
	n := d.uvarint("batch length")
	if d.err != nil {
		return 0, nil, d.err
	}
	// Every op takes at least 2 bytes (its length and more): a count the
	// input cannot hold is refused before anything is allocated for it.
	if n > uint64(len(d.b)/2) {
		return 0, nil, fmt.Errorf("%w: batch claims %d ops in %d bytes", ErrBadEncoding, n, len(d.b))
	}
	ops = make([]Op, 0, n)
	for i := range n {
		e := d.bytes("op")
		if d.err != nil {
			return 0, nil, fmt.Errorf("op %d: %w", i, d.err)
		}
		op, err := UnmarshalOp(e)
		if err != nil {
			return 0, nil, fmt.Errorf("op %d: %w", i, err)
		}
		ops = append(ops, op)
	}
	if len(d.b) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes after the batch", ErrBadEncoding, len(d.b))
	}
	// The ops are canonical each; this catches over-long varints around them.
	if !bytes.Equal(EncodeBatch(pos, ops), b) {
		return 0, nil, fmt.Errorf("%w: batch not in canonical form", ErrBadEncoding)
	}
	return pos, ops, nil
}

// Rebuild returns the ops that build s from an empty State, in a canonical
// order (agents by id, then values by key): an unreachable agent is
// admitted and then marked unreachable, a gone one admitted and removed.
func Rebuild(s State) []Op {
	ops := make([]Op, 0, len(s.Admitted)+2*len(s.Unreachable)+2*len(s.Gone)+len(s.Values))
	ids := make([]string, 0, len(s.Admitted)+len(s.Unreachable)+len(s.Gone))
	for id := range s.Admitted {
		ids = append(ids, id)
	}
	for id := range s.Unreachable {
		ids = append(ids, id)
	}
	for id := range s.Gone {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if info, ok := s.Admitted[id]; ok {
			ops = append(ops, Op{Kind: AdmitAgent, AgentID: id, Info: info})
		} else if e, ok := s.Unreachable[id]; ok {
			ops = append(ops, Op{Kind: AdmitAgent, AgentID: id, Info: e.Info}, Op{Kind: MarkUnreachable, AgentID: id, Time: e.Time})
		} else {
			ops = append(ops, Op{Kind: AdmitAgent, AgentID: id}, Op{Kind: RemoveAgent, AgentID: id, Time: s.Gone[id]})
		}
	}
	keys := make([]string, 0, len(s.Values))
	for k := range s.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ops = append(ops, Op{Kind: SetValue, Key: k, Info: s.Values[k]})
	}
	return ops
}

// EncodeState returns the encoding of s as a batch: Rebuild(s) at position
// s.Applied.
func EncodeState(s State) []byte { return EncodeBatch(s.Applied, Rebuild(s)) }

// DecodeState decodes what EncodeState produced. It refuses a batch whose
// ops do not build a valid State, and one that is not in Rebuild's order
// (so that a State has one encoding).
func DecodeState(b []byte) (State, error) {
	pos, ops, err := DecodeBatch(b)
	if err != nil {
		return State{}, err
	}
	var s State
	s.init()
	for i, op := range ops {
		if err := s.Apply(op); err != nil {
			return State{}, fmt.Errorf("%w: state op %d: %w", ErrBadEncoding, i, err)
		}
	}
	s.Applied = pos
	if err := s.Check(); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrBadEncoding, err)
	}
	if !slices.EqualFunc(ops, Rebuild(s), opEqual) {
		return State{}, fmt.Errorf("%w: state ops not in canonical order", ErrBadEncoding)
	}
	return s, nil
}

func opEqual(a, b Op) bool {
	return a.Kind == b.Kind && a.AgentID == b.AgentID && string(a.Info) == string(b.Info) &&
		a.Key == b.Key && a.Time.Equal(b.Time) && a.Count == b.Count
}
