package jsonwire

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrFallback is the Reader's error: the input is malformed, or valid
// but off the fast path. Either way the caller decodes it again with
// encoding/json, which gives the answer (or the error) to report.
var ErrFallback = errors.New("jsonwire: not on the fast path")

// Reader walks one JSON document held in memory. Its error is sticky:
// after the first failure every method returns a zero value, so a codec
// reads on and checks Err once at the end.
//
// A Reader takes only what encoding/json would decode to the same value
// without doubt: strings without escapes and in valid UTF-8, numbers as
// the JSON grammar writes them and in range. It has no null handling:
// codecs call Null and give up, since encoding/json's null rules depend
// on the target type.
type Reader struct {
	data []byte
	pos  int
	err  error
}

// NewReader returns a Reader of data. The strings it returns are copies;
// the byte slices from Key and RawString point into data.
func NewReader(data []byte) *Reader { return &Reader{data: data} }

// Reset makes r read data from the start, clearing its error.
func (r *Reader) Reset(data []byte) { *r = Reader{data: data} }

// Err returns ErrFallback after a failure, else nil.
func (r *Reader) Err() error { return r.err }

// Fail marks the document as off the fast path.
func (r *Reader) Fail() { r.err = ErrFallback }

// Iter is the state of an object or array being read.
type Iter struct{ started, done bool }

func (r *Reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end or after
// a failure.
func (r *Reader) peek() byte {
	if r.err != nil {
		return 0
	}
	r.ws()
	if r.pos >= len(r.data) {
		return 0
	}
	return r.data[r.pos]
}

func (r *Reader) expect(c byte) bool {
	if r.peek() != c {
		r.Fail()
		return false
	}
	r.pos++
	return true
}

// Null reports whether the next value is null (and does not consume it).
func (r *Reader) Null() bool {
	return r.peek() == 'n'
}

// Object starts reading an object; Field then returns its keys in turn.
func (r *Reader) Object() Iter {
	r.expect('{')
	return Iter{}
}

// Field returns the next key of the object it reads, having read the
// colon after it, or false at the end of the object (or on failure). A
// key with escapes fails: codecs only match plain keys.
func (r *Reader) Field(it *Iter) ([]byte, bool) {
	if it.done || r.err != nil {
		return nil, false
	}
	c := r.peek()
	if c == '}' {
		r.pos++
		it.done = true
		return nil, false
	}
	if it.started {
		if c != ',' {
			r.Fail()
			return nil, false
		}
		r.pos++
		c = r.peek()
	}
	it.started = true
	if c != '"' {
		r.Fail()
		return nil, false
	}
	k := r.rawString()
	if r.err != nil || !r.expect(':') {
		r.Fail()
		return nil, false
	}
	return k, true
}

// Array starts reading an array; Elem then reports whether another
// element follows.
func (r *Reader) Array() Iter {
	r.expect('[')
	return Iter{}
}

// Elem reports whether the array it reads has another element, reading
// the comma before it; false at the end of the array (or on failure).
func (r *Reader) Elem(it *Iter) bool {
	if it.done || r.err != nil {
		return false
	}
	c := r.peek()
	if c == ']' {
		r.pos++
		it.done = true
		return false
	}
	if it.started {
		if c != ',' {
			r.Fail()
			return false
		}
		r.pos++
		if r.peek() == ']' { // a trailing comma
			r.Fail()
			return false
		}
	}
	it.started = true
	return true
}

// rawString reads a string at r.pos (on its opening quote) and returns
// its contents, which must have no escapes, no control characters and be
// valid UTF-8.
func (r *Reader) rawString() []byte {
	r.pos++ // the opening quote
	start := r.pos
	ascii := true
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			s := r.data[start:r.pos]
			r.pos++
			if !ascii && !utf8.Valid(s) {
				r.Fail()
				return nil
			}
			return s
		case c == '\\' || c < 0x20:
			r.Fail()
			return nil
		case c >= utf8.RuneSelf:
			ascii = false
		}
		r.pos++
	}
	r.Fail()
	return nil
}

// RawString reads a string and returns its bytes, pointing into the
// input.
func (r *Reader) RawString() []byte {
	if r.peek() != '"' {
		r.Fail()
		return nil
	}
	return r.rawString()
}

// String reads a string.
func (r *Reader) String() string {
	b := r.RawString()
	if r.err != nil {
		return ""
	}
	return string(b)
}

// Base64 reads a string of standard base64, as encoding/json decodes a
// []byte.
func (r *Reader) Base64() []byte {
	s := r.RawString()
	if r.err != nil {
		return nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		r.Fail()
		return nil
	}
	return out[:n]
}

// Bool reads true or false.
func (r *Reader) Bool() bool {
	switch r.peek() {
	case 't':
		if r.literal("true") {
			return true
		}
	case 'f':
		if r.literal("false") {
			return false
		}
	}
	r.Fail()
	return false
}

func (r *Reader) literal(w string) bool {
	if len(r.data)-r.pos >= len(w) && string(r.data[r.pos:r.pos+len(w)]) == w {
		r.pos += len(w)
		return true
	}
	r.Fail()
	return false
}

// number reads a number literal by the JSON grammar; integer says it had
// no fraction or exponent.
func (r *Reader) number() (lit []byte, integer bool) {
	if r.peek() == 0 {
		r.Fail()
		return nil, false
	}
	d := r.data
	start, i := r.pos, r.pos
	digits := func() bool {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		r.Fail()
		return nil, false
	}
	integer = true
	if i < len(d) && d[i] == '.' {
		i++
		integer = false
		if !digits() {
			r.Fail()
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		integer = false
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			r.Fail()
			return nil, false
		}
	}
	r.pos = i
	return d[start:i], integer
}

// Float reads a number as a float64.
func (r *Reader) Float() float64 {
	lit, _ := r.number()
	if r.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		r.Fail()
		return 0
	}
	return f
}

// Int reads an integer of the given bit size; a fraction, an exponent or
// a value out of range fails, as encoding/json refuses them.
func (r *Reader) Int(bits int) int64 {
	lit, integer := r.number()
	if r.err != nil || !integer {
		r.Fail()
		return 0
	}
	i, err := strconv.ParseInt(string(lit), 10, bits)
	if err != nil {
		r.Fail()
		return 0
	}
	return i
}

// Uint reads an unsigned integer of the given bit size.
func (r *Reader) Uint(bits int) uint64 {
	lit, integer := r.number()
	if r.err != nil || !integer {
		r.Fail()
		return 0
	}
	u, err := strconv.ParseUint(string(lit), 10, bits)
	if err != nil {
		r.Fail()
		return 0
	}
	return u
}

// End checks that nothing but white space follows the document, and
// returns Err.
func (r *Reader) End() error {
	if r.err == nil {
		r.ws()
		if r.pos != len(r.data) {
			r.Fail()
		}
	}
	return r.err
}

// Seen records which members of one object a codec has read, so that it
// refuses a repeated key (encoding/json merges or overwrites repeated
// keys; the fast path leaves them to it). Bits are the codec's own
// numbering of the members, below 64.
type Seen uint64

// Once fails r if member bit was read before in this object, and marks
// it read.
func (s *Seen) Once(r *Reader, bit uint) {
	if *s&(1<<bit) != 0 {
		r.Fail()
	}
	*s |= 1 << bit
}

// Names interns a protocol's enum names (states, types, reasons): Read
// returns the shared copy of a known name rather than allocating one.
type Names map[string]string

// Add adds names to n and returns n.
func (n Names) Add(names ...string) Names {
	for _, s := range names {
		n[s] = s
	}
	return n
}

// Read reads a string like Reader.String, returning the shared copy when
// it is one of n.
func (n Names) Read(r *Reader) string {
	b := r.RawString()
	if s, ok := n[string(b)]; ok {
		return s
	}
	return string(b)
}
