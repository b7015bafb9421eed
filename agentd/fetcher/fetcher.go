package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Defaults applied by Fetch to zero fields of Options.
const (
	// DefaultHTTPTimeout bounds one whole HTTP exchange, body included.
	DefaultHTTPTimeout = 5 * time.Minute
	// DefaultMaxBytes bounds the size of one fetched file and the total
	// number of bytes unpacked from one archive.
	DefaultMaxBytes int64 = 4 << 30
)

// Errors that callers may want to tell apart with errors.Is.
var (
	// ErrUnsafePath reports a destination or archive entry that would
	// land outside the sandbox, or a symbolic link pointing outside it.
	ErrUnsafePath = errors.New("path escapes sandbox")
	// ErrTooLarge reports a download or archive larger than MaxBytes.
	ErrTooLarge = errors.New("size limit exceeded")
)

// URI is one entry of a task's CommandInfo.uris.
type URI struct {
	// Value is the location: http://, https://, file:// or an absolute
	// host path.
	Value string
	// Executable marks the fetched file 0755; such a file is never
	// extracted.
	Executable bool
	// Extract unpacks a recognised archive into the sandbox. Mesos
	// defaults this to true when unset; the caller passes the resolved
	// value.
	Extract bool
	// Cache asks for the fetcher cache, which is not implemented: the
	// URI is fetched directly.
	Cache bool
	// OutputFile, if set, is the destination relative to the sandbox;
	// otherwise the base name of the URI path is used.
	OutputFile string
}

// Options tunes Fetch. Zero fields take the package defaults.
type Options struct {
	// HTTPTimeout bounds each HTTP request, including reading the body.
	HTTPTimeout time.Duration
	// MaxBytes bounds each fetched file and the bytes unpacked from each
	// archive.
	MaxBytes int64
}

func (o Options) withDefaults() Options {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return o
}

// Fetch retrieves uris, in order, into the existing directory sandbox.
// It stops at the first failure and returns an error naming that URI.
// Files fetched before the failure are left in place.
func Fetch(ctx context.Context, sandbox string, uris []URI, opts Options) error {
	opts = opts.withDefaults()
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return fmt.Errorf("fetcher: open sandbox: %w", err)
	}
	defer root.Close()

	f := &fetcher{
		root:   root,
		opts:   opts,
		client: &http.Client{Timeout: opts.HTTPTimeout},
	}
	for _, u := range uris {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fetcher: fetch %q: %w", u.Value, err)
		}
		if err := f.fetch(ctx, u); err != nil {
			return fmt.Errorf("fetcher: fetch %q: %w", u.Value, err)
		}
	}
	return nil
}

type fetcher struct {
	root   *os.Root
	opts   Options
	client *http.Client
}

// fetch retrieves one URI and post-processes it. Errors are not yet
// prefixed with the URI; Fetch does that.
func (f *fetcher) fetch(ctx context.Context, u URI) error {
	src, err := parseSource(u.Value)
	if err != nil {
		return err
	}
	name, err := destination(u, src)
	if err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if u.Executable {
		perm = 0o755
	}
	if src.local != "" {
		err = f.copyLocal(ctx, src.local, name, perm)
	} else {
		err = f.download(ctx, src.url, name, perm)
	}
	if err != nil {
		return err
	}
	if u.Executable || !u.Extract {
		return nil
	}
	return unpack(f.root, name, f.opts.MaxBytes)
}

// source is a parsed URI value: either a local host path or a URL to GET.
type source struct {
	local string   // absolute host path, for file:// and bare paths
	url   *url.URL // http or https URL
}

func parseSource(value string) (source, error) {
	if value == "" {
		return source{}, errors.New("empty URI")
	}
	if strings.HasPrefix(value, "/") {
		return source{local: filepath.Clean(value)}, nil
	}
	u, err := url.Parse(value)
	if err != nil {
		return source{}, err
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return source{}, errors.New("URL has no host")
		}
		return source{url: u}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return source{}, fmt.Errorf("file URI with remote host %q", u.Host)
		}
		if !path.IsAbs(u.Path) {
			return source{}, errors.New("file URI path is not absolute")
		}
		return source{local: filepath.Clean(u.Path)}, nil
	case "":
		return source{}, errors.New("not an absolute path or URL")
	default:
		return source{}, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
}

// destination picks the sandbox-relative file name for u: OutputFile if
// set, else the last element of the source path.
func destination(u URI, src source) (string, error) {
	if u.OutputFile != "" {
		name := filepath.Clean(u.OutputFile)
		if filepath.IsAbs(u.OutputFile) || !filepath.IsLocal(name) || name == "." {
			return "", fmt.Errorf("output file %q: %w", u.OutputFile, ErrUnsafePath)
		}
		return name, nil
	}
	p := src.local
	if src.url != nil {
		p = src.url.Path
	}
	base := path.Base(p)
	if base == "/" || base == "." || base == ".." || !filepath.IsLocal(base) {
		return "", errors.New("cannot derive a file name from the URI; set OutputFile")
	}
	return base, nil
}

// copyLocal copies the host file at src into the sandbox as name.
func (f *fetcher) copyLocal(ctx context.Context, src, name string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	if info.Size() > f.opts.MaxBytes {
		return fmt.Errorf("file is %d bytes, over the %d byte limit: %w", info.Size(), f.opts.MaxBytes, ErrTooLarge)
	}
	_, err = writeFile(f.root, name, ctxReader{ctx, in}, perm, f.opts.MaxBytes)
	return err
}

// download GETs u into the sandbox as name.
func (f *fetcher) download(ctx context.Context, u *url.URL, name string, perm os.FileMode) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		// The URL is already in the caller's message; keep the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return fmt.Errorf("response is %d bytes, over the %d byte limit: %w", resp.ContentLength, f.opts.MaxBytes, ErrTooLarge)
	}
	_, err = writeFile(f.root, name, resp.Body, perm, f.opts.MaxBytes)
	return err
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
