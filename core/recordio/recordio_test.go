package recordio

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	records := []string{`{"type":"SUBSCRIBED"}`, "", "x", strings.Repeat("y", 100000)}
	var buf []byte
	for _, r := range records {
		buf = Append(buf, []byte(r))
	}
	rd := NewReader(bytes.NewReader(buf), 0)
	for i, want := range records {
		got, err := rd.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if string(got) != want {
			t.Fatalf("record %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("end: got %v, want EOF", err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"5\nabc", "unexpected EOF"},
		{"12", "unexpected EOF"},
		{"1x\n", "bad byte"},
		{"99999999999\n", "too large"},
		{"12345678901234567890\n", "too large"},
	} {
		_, err := NewReader(strings.NewReader(tc.in), 1<<20).Next()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
	_, err := NewReader(strings.NewReader("9999999\n"), 10).Next()
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit: got %v", err)
	}
}

// FuzzReader feeds arbitrary streams: the reader never panics, never
// returns a record over its limit, and what it reads re-encodes to a
// stream that reads back the same records.
func FuzzReader(f *testing.F) {
	f.Add([]byte("3\nabc2\nde"))
	f.Add([]byte("\n\n1\nx"))
	f.Add([]byte("18446744073709551616\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := NewReader(bytes.NewReader(data), 1024)
		var got [][]byte
		for {
			rec, err := rd.Next()
			if err != nil {
				break
			}
			if len(rec) > 1024 {
				t.Fatalf("record of %d bytes over the limit", len(rec))
			}
			got = append(got, bytes.Clone(rec))
		}
		var enc []byte
		for _, r := range got {
			enc = Append(enc, r)
		}
		rd2 := NewReader(bytes.NewReader(enc), 1024)
		for i, want := range got {
			rec, err := rd2.Next()
			if err != nil || !bytes.Equal(rec, want) {
				t.Fatalf("record %d: re-read %q, %v; want %q", i, rec, err, want)
			}
		}
	})
}
