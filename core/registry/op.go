package registry

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Errors returned by this package wrap them (test with
// errors.Is) and add what was wrong.
var (
	// ErrBadOp: the op is malformed (unknown kind, empty or non-UTF-8 id or
	// key, a field set that its kind does not use, a missing or
	// out-of-range time).
	ErrBadOp = errors.New("registry: bad op")
	// ErrGone: the agent was removed; it may never be admitted again.
	ErrGone = errors.New("registry: agent is gone")
	// ErrExists: the agent is already admitted or unreachable.
	ErrExists = errors.New("registry: agent already known")
	// ErrUnknownAgent: the op needs the agent in a state it is not in.
	ErrUnknownAgent = errors.New("registry: unknown agent")
	// ErrBadEncoding: UnmarshalOp (or Op.UnmarshalJSON) got bytes that are not
	// the encoding of an op.
	ErrBadEncoding = errors.New("registry: bad op encoding")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("registry: store is closed")
)

// OpKind says what an Op does. The numeric values are part of the binary
// encoding and must never be renumbered; new kinds get new numbers.
type OpKind uint8

const (
	AdmitAgent      OpKind = 1 // AgentID, Info: a new agent joins
	MarkUnreachable OpKind = 2 // AgentID, Time: an admitted agent is unreachable since Time
	MarkReachable   OpKind = 3 // AgentID, Info (optional): an unreachable agent comes back
	RemoveAgent     OpKind = 4 // AgentID, Time: an admitted or unreachable agent is gone for good
	SetValue        OpKind = 5 // Key, Info (the value)
	DeleteValue     OpKind = 6 // Key
	PruneAgents     OpKind = 7 // Time (cutoff, optional), Count (optional): forget old unreachable and gone agents

	maxKind = PruneAgents
)

var kindNames = [...]string{
	AdmitAgent:      "AdmitAgent",
	MarkUnreachable: "MarkUnreachable",
	MarkReachable:   "MarkReachable",
	RemoveAgent:     "RemoveAgent",
	SetValue:        "SetValue",
	DeleteValue:     "DeleteValue",
	PruneAgents:     "PruneAgents",
}

// Valid reports whether k is one of the kinds above.
func (k OpKind) Valid() bool { return k >= AdmitAgent && k <= maxKind }

func (k OpKind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText gives the kind's name (so JSON carries names, not numbers).
func (k OpKind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrBadEncoding, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText parses a kind's name.
func (k *OpKind) UnmarshalText(b []byte) error {
	for i := AdmitAgent; i <= maxKind; i++ {
		if string(b) == kindNames[i] {
			*k = i
			return nil
		}
	}
	return fmt.Errorf("%w: unknown kind %q", ErrBadEncoding, b)
}

// Op is one change to the registry. Every change goes through an Op so that
// a sequence of ops, replayed anywhere, rebuilds the same State.
//
// Each kind uses only some fields (see the OpKind constants); State.Apply
// rejects an op that sets a field its kind does not use, so an encoded op
// always means exactly one thing.
type Op struct {
	Kind    OpKind    `json:"kind"`
	AgentID string    `json:"agent_id,omitempty"`
	Info    []byte    `json:"info,omitempty"`  // AdmitAgent/MarkReachable: the master's encoded agent info (opaque here); SetValue: the value
	Key     string    `json:"key,omitempty"`   // SetValue/DeleteValue
	Time    time.Time `json:"time,omitzero"`   // MarkUnreachable/RemoveAgent: when; PruneAgents: cutoff
	Count   int       `json:"count,omitempty"` // PruneAgents: keep at most this many unreachable and this many gone entries (newest kept)
}

// The binary encoding, version 1 (all integers are Go varints, "uvarint" and
// "varint" as in encoding/binary):
//
//	byte     encoding version (1)
//	byte     kind
//	uvarint  len(AgentID), then its bytes
//	uvarint  len(Info), then its bytes
//	uvarint  len(Key), then its bytes
//	byte     0 if Time is zero; otherwise 1, then varint Unix seconds, uvarint nanoseconds
//	varint   Count
//
// The encoding is canonical: UnmarshalOp accepts only bytes that Marshal
// would produce, so equal ops have equal encodings.
const opEncodingVersion = 1

// Marshal returns the op's stable binary encoding.
func (op Op) Marshal() []byte {
	n := 2 + 3*binary.MaxVarintLen64 + len(op.AgentID) + len(op.Info) + len(op.Key) + 1 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen64
	b := make([]byte, 0, n)
	b = append(b, opEncodingVersion, byte(op.Kind))
	b = binary.AppendUvarint(b, uint64(len(op.AgentID)))
	b = append(b, op.AgentID...)
	b = binary.AppendUvarint(b, uint64(len(op.Info)))
	b = append(b, op.Info...)
	b = binary.AppendUvarint(b, uint64(len(op.Key)))
	b = append(b, op.Key...)
	if op.Time.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, op.Time.Unix())
		b = binary.AppendUvarint(b, uint64(op.Time.Nanosecond()))
	}
	b = binary.AppendVarint(b, int64(op.Count))
	return b
}

// UnmarshalOp decodes what Marshal produced. It never panics and never
// allocates more than len(b) bytes of payload; it rejects unknown versions
// and kinds, truncated or trailing bytes, ids and keys that are not UTF-8,
// times outside years 1..9999, and non-canonical encodings. The errors wrap
// ErrBadEncoding. Whether the op makes sense is State.Apply's business.
func UnmarshalOp(b []byte) (Op, error) {
	d := decoder{b: b}
	var op Op
	ver := d.byte("version")
	if d.err == nil && ver != opEncodingVersion {
		return Op{}, fmt.Errorf("%w: encoding version %d is not supported (this build reads version %d)", ErrBadEncoding, ver, opEncodingVersion)
	}
	kind := OpKind(d.byte("kind"))
	if d.err == nil && !kind.Valid() {
		return Op{}, fmt.Errorf("%w: unknown kind %d", ErrBadEncoding, uint8(kind))
	}
	op.Kind = kind
	op.AgentID = string(d.bytes("agent id"))
	op.Info = d.bytes("info")
	op.Key = string(d.bytes("key"))
	switch d.byte("time flag") {
	case 0:
	case 1:
		sec := d.varint("time seconds")
		nsec := d.uvarint("time nanoseconds")
		if d.err == nil {
			if nsec >= 1e9 {
				return Op{}, fmt.Errorf("%w: time nanoseconds %d out of range", ErrBadEncoding, nsec)
			}
			if sec < minUnix || sec > maxUnix {
				return Op{}, fmt.Errorf("%w: time (unix seconds %d) outside years 1..9999", ErrBadEncoding, sec)
			}
			op.Time = time.Unix(sec, int64(nsec)).UTC()
		}
	default:
		if d.err == nil {
			return Op{}, fmt.Errorf("%w: bad time flag", ErrBadEncoding)
		}
	}
	count := d.varint("count")
	if d.err != nil {
		return Op{}, d.err
	}
	if count < math.MinInt || count > math.MaxInt {
		return Op{}, fmt.Errorf("%w: count %d does not fit an int", ErrBadEncoding, count)
	}
	op.Count = int(count)
	if len(d.b) != 0 {
		return Op{}, fmt.Errorf("%w: %d trailing bytes", ErrBadEncoding, len(d.b))
	}
	if !utf8.ValidString(op.AgentID) || !utf8.ValidString(op.Key) {
		return Op{}, fmt.Errorf("%w: agent id or key is not valid UTF-8", ErrBadEncoding)
	}
	// Catches everything the checks above let through that Marshal would
	// not produce (over-long varints, a flagged zero time).
	if !bytes.Equal(op.Marshal(), b) {
		return Op{}, fmt.Errorf("%w: not in canonical form", ErrBadEncoding)
	}
	return op, nil
}

// Unix seconds of 0001-01-01T00:00:00Z (the zero time) and of
// 9999-12-31T23:59:59Z: the range in which times round-trip through both
// encodings (encoding/json refuses years past 9999).
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

func validTime(t time.Time) bool {
	s := t.Unix()
	return s >= minUnix && s <= maxUnix
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrBadEncoding, what)
	}
	d.b = nil
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed field; an empty field decodes as nil.
func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := bytes.Clone(d.b[:n])
	d.b = d.b[n:]
	return v
}

// opJSON has Op's fields without its methods.
type opJSON Op

// UnmarshalJSON decodes the JSON form (the struct tags on Op: kind by name,
// info as base64, time as RFC 3339). Times are converted to UTC and empty
// info decodes as nil, as in the binary form.
func (op *Op) UnmarshalJSON(b []byte) error {
	var v opJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadEncoding, err)
	}
	if !v.Kind.Valid() {
		return fmt.Errorf("%w: missing kind", ErrBadEncoding)
	}
	if len(v.Info) == 0 {
		v.Info = nil
	}
	v.Time = v.Time.UTC()
	*op = Op(v)
	return nil
}

// check validates the op on its own (not against a state): ErrBadOp.
func (op Op) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadOp, op.Kind, fmt.Sprintf(format, args...))
	}
	if !op.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %d", ErrBadOp, uint8(op.Kind))
	}
	var usesID, usesInfo, usesKey, usesTime, needsTime, usesCount bool
	switch op.Kind {
	case AdmitAgent, MarkReachable:
		usesID, usesInfo = true, true
	case MarkUnreachable, RemoveAgent:
		usesID, usesTime, needsTime = true, true, true
	case SetValue:
		usesKey, usesInfo = true, true
	case DeleteValue:
		usesKey = true
	case PruneAgents:
		usesTime, usesCount = true, true
	}
	switch {
	case usesID && op.AgentID == "":
		return bad("empty agent id")
	case usesID && !utf8.ValidString(op.AgentID):
		return bad("agent id %q is not valid UTF-8", op.AgentID)
	case !usesID && op.AgentID != "":
		return bad("agent id %q set but not used", op.AgentID)
	case usesKey && op.Key == "":
		return bad("empty key")
	case usesKey && !utf8.ValidString(op.Key):
		return bad("key %q is not valid UTF-8", op.Key)
	case !usesKey && op.Key != "":
		return bad("key %q set but not used", op.Key)
	case !usesInfo && len(op.Info) != 0:
		return bad("info set but not used")
	case !usesTime && !op.Time.IsZero():
		return bad("time set but not used")
	case needsTime && op.Time.IsZero():
		return bad("missing time")
	case !validTime(op.Time):
		return bad("time %v outside years 1..9999", op.Time)
	case !usesCount && op.Count != 0:
		return bad("count set but not used")
	}
	return nil
}
