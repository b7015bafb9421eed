package recordio

import (
	"bufio"
	"io"
	"testing"
	"time"
)

// TestStreamWritten: Sent counts what is queued at once; Written only
// what Run has written out, so an event held up behind a reader that
// does not read is not counted.
func TestStreamWritten(t *testing.T) {
	s := NewStream(nil)
	for range 3 {
		if !s.Send([]byte(`{"type":"X"}`)) {
			t.Fatal("Send on an open stream reported false")
		}
	}
	if s.Sent() != 3 || s.Written() != 0 {
		t.Fatalf("before Run: sent %d written %d, want 3 and 0", s.Sent(), s.Written())
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() { defer close(done); s.Run(bufio.NewWriterSize(pw, 16), 0, stop) }()
	// Nothing reads yet: the first write blocks, nothing is written.
	time.Sleep(10 * time.Millisecond) // only to give Run a chance to go wrong
	if n := s.Written(); n != 0 {
		t.Fatalf("written %d with no reader, want 0", n)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.Written() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("written %d after 5s, want 3", s.Written())
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-done
	pw.Close()
}
