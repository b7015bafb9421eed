// Package recordio reads and writes Mesos's RecordIO framing, the stream
// format of the scheduler and executor event streams and of meseta's
// agent stream: each record is its length in bytes as decimal digits, a
// newline, then that many bytes.
//
// A Reader refuses records longer than its limit and malformed length
// lines with an error, so a hostile stream cannot make it allocate
// without bound.
package recordio
