package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"
)

// MaxReadLength caps the bytes returned by one /files/read request, with
// or without an explicit length.
const MaxReadLength = 1 << 20

// Entry is one element of a /files/browse listing.
type Entry struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Mode  string `json:"mode"`  // as ls -l shows it, e.g. "-rw-r--r--"
	MTime int64  `json:"mtime"` // seconds since the Unix epoch
	NLink uint64 `json:"nlink"`
	UID   string `json:"uid"` // user name, or the number if unknown
	GID   string `json:"gid"` // group name, or the number if unknown
}

// ReadResult is the body of a successful /files/read.
type ReadResult struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

// Browse handles GET /files/browse?path=DIR: a JSON array of the entries
// of DIR, sorted by path. Entries are described as they are, symbolic
// links included, without following them.
func (s *Server) Browse(ctx *fasthttp.RequestCtx) {
	if !allowMethod(ctx) {
		return
	}
	r, err := s.resolve(string(ctx.QueryArgs().Peek("path")))
	if err != nil {
		fail(ctx, err)
		return
	}
	root, err := os.OpenRoot(r.root)
	if err != nil {
		fail(ctx, fmt.Errorf("sandbox: %w", err))
		return
	}
	defer root.Close()
	dir, err := root.Open(r.rel)
	if err != nil {
		fail(ctx, fmt.Errorf("sandbox: %w", err))
		return
	}
	defer dir.Close()
	if info, err := dir.Stat(); err != nil {
		fail(ctx, fmt.Errorf("sandbox: %w", err))
		return
	} else if !info.IsDir() {
		fail(ctx, badRequest("sandbox: %q is not a directory", r.shown))
		return
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		fail(ctx, fmt.Errorf("sandbox: %w", err))
		return
	}
	slices.Sort(names)
	owners := newOwnerCache()
	entries := make([]Entry, 0, len(names))
	for _, name := range names {
		info, err := root.Lstat(filepath.Join(r.rel, name))
		if err != nil {
			continue // removed while listing
		}
		entries = append(entries, newEntry(filepath.Join(r.shown, name), info, owners))
	}
	writeJSON(ctx, fasthttp.StatusOK, entries)
}

// Read handles GET /files/read?path=FILE&offset=N&length=M, returning up
// to M bytes of FILE from offset N as {"data": ..., "offset": N}. An
// offset of -1, or none, asks for the file size: the reply is empty data
// at offset = size. Reading at or past the end returns empty data at the
// requested offset. A missing or -1 length, and any length over
// MaxReadLength, read MaxReadLength bytes. Bytes that are not valid UTF-8
// are replaced by U+FFFD in the JSON string.
func (s *Server) Read(ctx *fasthttp.RequestCtx) {
	if !allowMethod(ctx) {
		return
	}
	args := ctx.QueryArgs()
	offset, err := intParam(args, "offset")
	if err != nil {
		fail(ctx, err)
		return
	}
	length, err := intParam(args, "length")
	if err != nil {
		fail(ctx, err)
		return
	}
	if length < 0 || length > MaxReadLength {
		length = MaxReadLength
	}
	f, size, closeFile, err := s.openRegular(string(args.Peek("path")))
	if err != nil {
		fail(ctx, err)
		return
	}
	defer closeFile()
	if offset < 0 {
		writeJSON(ctx, fasthttp.StatusOK, ReadResult{Offset: size})
		return
	}
	if offset >= size {
		writeJSON(ctx, fasthttp.StatusOK, ReadResult{Offset: offset})
		return
	}
	buf := make([]byte, min(length, size-offset))
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: the file shrank
		fail(ctx, fmt.Errorf("sandbox: %w", err))
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, ReadResult{Data: string(buf[:n]), Offset: offset})
}

// Download handles GET /files/download?path=FILE, streaming the file as
// application/octet-stream.
func (s *Server) Download(ctx *fasthttp.RequestCtx) {
	if !allowMethod(ctx) {
		return
	}
	path := string(ctx.QueryArgs().Peek("path"))
	f, size, closeFile, err := s.openRegular(path)
	if err != nil {
		fail(ctx, err)
		return
	}
	ctx.SetContentType("application/octet-stream")
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(path)})
	if disposition != "" {
		ctx.Response.Header.Set("Content-Disposition", disposition)
	}
	// Send exactly the size measured now even if the file grows, and let
	// fasthttp close the file once the body is written.
	ctx.SetBodyStream(&fileStream{Reader: io.LimitReader(f, size), close: closeFile}, int(size))
}

// fileStream is a response body that closes its file when fasthttp is
// done with it.
type fileStream struct {
	io.Reader
	close func() error
}

func (s *fileStream) Close() error { return s.close() }

// openRegular resolves path and opens it, which must be a regular file. It
// returns the file, its size and a function closing it.
func (s *Server) openRegular(path string) (*os.File, int64, func() error, error) {
	r, err := s.resolve(path)
	if err != nil {
		return nil, 0, nil, err
	}
	root, err := os.OpenRoot(r.root)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("sandbox: %w", err)
	}
	defer root.Close() // an open file outlives its root
	// Check before opening: opening a fifo for reading would block.
	info, err := root.Stat(r.rel)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := checkRegular(r.shown, info); err != nil {
		return nil, 0, nil, err
	}
	f, err := root.OpenFile(r.rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("sandbox: %w", err)
	}
	// Check again what was actually opened.
	if info, err = f.Stat(); err == nil {
		err = checkRegular(r.shown, info)
	}
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, info.Size(), f.Close, nil
}

func checkRegular(shown string, info fs.FileInfo) error {
	switch {
	case info.IsDir():
		return badRequest("sandbox: %q is a directory", shown)
	case !info.Mode().IsRegular():
		return badRequest("sandbox: %q is not a regular file", shown)
	}
	return nil
}

// intParam parses the optional integer query parameter name. A missing or
// empty value is -1; values below -1 are refused.
func intParam(args *fasthttp.Args, name string) (int64, error) {
	raw := args.Peek(name)
	if len(raw) == 0 {
		return -1, nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < -1 {
		return 0, badRequest("sandbox: invalid %s %q: want an integer of at least -1", name, raw)
	}
	return v, nil
}

// requestError is a failure caused by the request itself (status 400).
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error from this package to an HTTP status.
func statusOf(err error) int {
	var re *requestError
	switch {
	case errors.As(err, &re), errors.Is(err, ErrInvalidPath):
		return fasthttp.StatusBadRequest
	case errors.Is(err, ErrOutsideRoot), errors.Is(err, fs.ErrPermission):
		return fasthttp.StatusForbidden
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fasthttp.StatusNotFound
	default:
		return fasthttp.StatusInternalServerError
	}
}

func allowMethod(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	writeJSON(ctx, fasthttp.StatusMethodNotAllowed, map[string]string{
		"error": fmt.Sprintf("sandbox: method %s not allowed", ctx.Method()),
	})
	return false
}

func fail(ctx *fasthttp.RequestCtx, err error) {
	writeJSON(ctx, statusOf(err), map[string]string{"error": err.Error()})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = fasthttp.StatusInternalServerError
		body = []byte(`{"error":"sandbox: encoding the response failed"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// modeString renders m the way ls -l does, e.g. "drwxr-xr-x" or
// "-rwsr-xr-x".
func modeString(m fs.FileMode) string {
	var b strings.Builder
	switch {
	case m&fs.ModeDir != 0:
		b.WriteByte('d')
	case m&fs.ModeSymlink != 0:
		b.WriteByte('l')
	case m&fs.ModeNamedPipe != 0:
		b.WriteByte('p')
	case m&fs.ModeSocket != 0:
		b.WriteByte('s')
	case m&fs.ModeCharDevice != 0:
		b.WriteByte('c')
	case m&fs.ModeDevice != 0:
		b.WriteByte('b')
	default:
		b.WriteByte('-')
	}
	// Each class: read, write, then execute merged with its special bit.
	classes := []struct {
		shift   uint
		special fs.FileMode
		set     byte // special and executable
		setOnly byte // special, not executable
	}{
		{6, fs.ModeSetuid, 's', 'S'},
		{3, fs.ModeSetgid, 's', 'S'},
		{0, fs.ModeSticky, 't', 'T'},
	}
	for _, c := range classes {
		bits := (m.Perm() >> c.shift) & 7
		b.WriteByte(pick(bits&4 != 0, 'r', '-'))
		b.WriteByte(pick(bits&2 != 0, 'w', '-'))
		exec := bits&1 != 0
		switch {
		case m&c.special != 0 && exec:
			b.WriteByte(c.set)
		case m&c.special != 0:
			b.WriteByte(c.setOnly)
		default:
			b.WriteByte(pick(exec, 'x', '-'))
		}
	}
	return b.String()
}

func pick(cond bool, yes, no byte) byte {
	if cond {
		return yes
	}
	return no
}
