package recordio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxRecord is the default limit on one record's size.
const DefaultMaxRecord = 64 << 20

// ErrTooLarge says a record's declared size is over the reader's limit.
var ErrTooLarge = errors.New("recordio: record too large")

// Append appends record to dst in RecordIO framing.
func Append(dst, record []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(record)), 10)
	dst = append(dst, '\n')
	return append(dst, record...)
}

// Reader reads records from a stream.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader with limit max bytes per record (0 means
// DefaultMaxRecord).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next record. The slice is valid until the next call.
// It returns io.EOF at a clean end of stream, and io.ErrUnexpectedEOF
// when the stream ends inside a record.
func (rd *Reader) Next() ([]byte, error) {
	n, err := rd.length()
	if err != nil {
		return nil, err
	}
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	rd.buf = rd.buf[:n]
	if _, err := io.ReadFull(rd.r, rd.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return rd.buf, nil
}

// length reads a length line. Empty lines between records are skipped,
// as Mesos's reference parser does.
func (rd *Reader) length() (int, error) {
	n, digits := 0, 0
	for {
		c, err := rd.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits > 19 {
				return 0, fmt.Errorf("recordio: length has too many digits")
			}
			n = n*10 + int(c-'0')
			if n > rd.max {
				return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, rd.max)
			}
		case c == '\n':
			if digits == 0 {
				continue
			}
			return n, nil
		default:
			return 0, fmt.Errorf("recordio: bad byte %q in record length", c)
		}
	}
}
