package sandbox

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// fixture is a work directory laid out like an agent's:
//
//	<dir>/slaves/S1/frameworks/F/executors/E/runs/R/
//	    stdout        "hello, sandbox\n"
//	    big           MaxReadLength+10 bytes
//	    sub/          with sub/nested.txt
//	    passwd        -> /etc/passwd
//	    escape        -> ../../../../../../../../secret.txt
//	    alias         -> stdout
//	<dir>/secret.txt  outside the root
//	<dir>/slaves-evil/x.txt  outside, sharing the root's name as a prefix
type fixture struct {
	dir, root, run string
	srv            *Server
	client         *fasthttp.HostClient
}

const (
	stdoutText = "hello, sandbox\n"
	secretText = "TOP-SECRET-CONTENT"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{dir: dir, root: filepath.Join(dir, "slaves")}
	fx.run = filepath.Join(fx.root, "S1/frameworks/F/executors/E/runs/R")
	mkdir(t, filepath.Join(fx.run, "sub"))
	mkdir(t, filepath.Join(dir, "slaves-evil"))
	write(t, filepath.Join(fx.run, "stdout"), stdoutText)
	write(t, filepath.Join(fx.run, "big"), strings.Repeat("x", MaxReadLength+10))
	write(t, filepath.Join(fx.run, "sub/nested.txt"), "nested")
	write(t, filepath.Join(dir, "secret.txt"), secretText)
	write(t, filepath.Join(dir, "slaves-evil/x.txt"), secretText)
	symlink(t, "/etc/passwd", filepath.Join(fx.run, "passwd"))
	symlink(t, "../../../../../../../../secret.txt", filepath.Join(fx.run, "escape"))
	symlink(t, "stdout", filepath.Join(fx.run, "alias"))
	fx.srv = &Server{Root: fx.root}
	fx.client = serve(t, fx.srv)
	return fx
}

// serve runs the handlers on an in-memory listener and returns a client
// connected to it.
func serve(t *testing.T, s *Server) *fasthttp.HostClient {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	server := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/files/browse":
			s.Browse(ctx)
		case "/files/read":
			s.Read(ctx)
		case "/files/download":
			s.Download(ctx)
		default:
			ctx.NotFound()
		}
	}}
	done := make(chan error, 1)
	go func() { done <- server.Serve(ln) }()
	t.Cleanup(func() {
		if err := server.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		// Shutdown only closes listeners Serve has registered; if Serve
		// has not started yet, closing ln is what makes it return.
		ln.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	})
	return &fasthttp.HostClient{
		Addr: "agent",
		Dial: func(string) (net.Conn, error) { return ln.Dial() },
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

type response struct {
	status      int
	contentType string
	body        []byte
}

// get issues GET endpoint?rawQuery and returns the response.
func (fx *fixture) get(t *testing.T, endpoint, rawQuery string) response {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://agent/files/" + endpoint + "?" + rawQuery)
	if err := fx.client.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("GET %s?%s: %v", endpoint, rawQuery, err)
	}
	return response{
		status:      resp.StatusCode(),
		contentType: string(resp.Header.ContentType()),
		body:        append([]byte(nil), resp.Body()...),
	}
}

// pathQuery returns "path=<p>" with p query-escaped, plus extra.
func pathQuery(p string, extra ...string) string {
	return strings.Join(append([]string{"path=" + url.QueryEscape(p)}, extra...), "&")
}

func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// wantError checks that r is a JSON error with the given status.
func wantError(t *testing.T, r response, status int, contains string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == "" {
		t.Errorf("body %q is not a JSON error (%v)", r.body, err)
	}
	if !strings.HasPrefix(body.Error, "sandbox: ") || !strings.Contains(body.Error, contains) {
		t.Errorf("error %q, want the sandbox prefix and %q", body.Error, contains)
	}
	if r.contentType != "application/json" {
		t.Errorf("content type %q", r.contentType)
	}
}

func TestBrowse(t *testing.T) {
	fx := newFixture(t)
	r := fx.get(t, "browse", pathQuery(fx.run))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var entries []map[string]any
	decode(t, r, &entries)
	var got []string
	byName := map[string]map[string]any{}
	for _, e := range entries {
		name := filepath.Base(e["path"].(string))
		got = append(got, name)
		byName[name] = e
		if dir := filepath.Dir(e["path"].(string)); dir != fx.run {
			t.Errorf("entry path %q is not in %q", e["path"], fx.run)
		}
		for _, key := range []string{"path", "size", "mode", "mtime", "nlink", "uid", "gid"} {
			if _, ok := e[key]; !ok {
				t.Errorf("entry %s lacks %q", name, key)
			}
		}
	}
	if want := "alias big escape passwd stdout sub"; strings.Join(got, " ") != want {
		t.Errorf("names = %v, want %s", got, want)
	}

	stdout := byName["stdout"]
	if stdout["size"] != float64(len(stdoutText)) || stdout["mode"] != "-rw-r--r--" {
		t.Errorf("stdout entry = %v", stdout)
	}
	info, err := os.Stat(filepath.Join(fx.run, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout["mtime"] != float64(info.ModTime().Unix()) {
		t.Errorf("mtime %v, want %d", stdout["mtime"], info.ModTime().Unix())
	}
	if uid, _ := stdout["uid"].(string); uid == "" {
		t.Errorf("uid %v, want a non-empty string", stdout["uid"])
	}
	if gid, _ := stdout["gid"].(string); gid == "" {
		t.Errorf("gid %v, want a non-empty string", stdout["gid"])
	}
	if stdout["nlink"] != float64(1) {
		t.Errorf("nlink %v", stdout["nlink"])
	}
	if mode := byName["sub"]["mode"]; mode != "drwxr-xr-x" {
		t.Errorf("sub mode %v", mode)
	}
	// Links are listed as links, even those pointing outside.
	if mode, _ := byName["passwd"]["mode"].(string); !strings.HasPrefix(mode, "l") {
		t.Errorf("passwd mode %v, want a symlink", mode)
	}
}

func TestBrowseNotADirectory(t *testing.T) {
	fx := newFixture(t)
	wantError(t, fx.get(t, "browse", pathQuery(filepath.Join(fx.run, "stdout"))), 400, "not a directory")
}

func TestBrowseRoot(t *testing.T) {
	fx := newFixture(t)
	r := fx.get(t, "browse", pathQuery(fx.root))
	var entries []Entry
	decode(t, r, &entries)
	if r.status != 200 || len(entries) != 1 || entries[0].Path != filepath.Join(fx.root, "S1") {
		t.Errorf("status %d, entries %+v", r.status, entries)
	}
}

func TestRead(t *testing.T) {
	fx := newFixture(t)
	stdout := filepath.Join(fx.run, "stdout")
	size := int64(len(stdoutText))
	tests := []struct {
		query string
		want  ReadResult
	}{
		{"offset=0", ReadResult{stdoutText, 0}},
		{"offset=0&length=5", ReadResult{"hello", 0}},
		{"offset=7&length=7", ReadResult{"sandbox", 7}},
		{"offset=7&length=1000", ReadResult{"sandbox\n", 7}},
		{"offset=3&length=0", ReadResult{"", 3}},
		{"offset=0&length=-1", ReadResult{stdoutText, 0}},
		{"offset=" + itoa(size), ReadResult{"", size}},
		{"offset=1000&length=10", ReadResult{"", 1000}},
		// The size query.
		{"offset=-1", ReadResult{"", size}},
		{"", ReadResult{"", size}},
		{"offset=&length=", ReadResult{"", size}},
	}
	for _, tt := range tests {
		r := fx.get(t, "read", pathQuery(stdout, tt.query))
		var got ReadResult
		decode(t, r, &got)
		if r.status != 200 || got != tt.want {
			t.Errorf("%s: status %d, got %+v, want %+v", tt.query, r.status, got, tt.want)
		}
		if r.contentType != "application/json" {
			t.Errorf("%s: content type %q", tt.query, r.contentType)
		}
	}
	// A link inside the sandbox to a file inside it is followed.
	r := fx.get(t, "read", pathQuery(filepath.Join(fx.run, "alias"), "offset=0"))
	var got ReadResult
	decode(t, r, &got)
	if got.Data != stdoutText {
		t.Errorf("alias: %+v", got)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestReadCap(t *testing.T) {
	fx := newFixture(t)
	big := filepath.Join(fx.run, "big")
	for _, q := range []string{"offset=0", "offset=0&length=5000000"} {
		var got ReadResult
		decode(t, fx.get(t, "read", pathQuery(big, q)), &got)
		if len(got.Data) != MaxReadLength || got.Offset != 0 {
			t.Errorf("%s: read %d bytes at %d, want %d at 0", q, len(got.Data), got.Offset, MaxReadLength)
		}
	}
	var tail ReadResult
	decode(t, fx.get(t, "read", pathQuery(big, "offset="+itoa(MaxReadLength))), &tail)
	if tail.Data != strings.Repeat("x", 10) {
		t.Errorf("tail = %q", tail.Data)
	}
}

func TestReadBadRequests(t *testing.T) {
	fx := newFixture(t)
	stdout := filepath.Join(fx.run, "stdout")
	tests := []struct{ query, contains string }{
		{pathQuery(stdout, "offset=abc"), "offset"},
		{pathQuery(stdout, "offset=-2"), "offset"},
		{pathQuery(stdout, "offset=0&length=1.5"), "length"},
		{pathQuery(stdout, "offset=0&length=-7"), "length"},
		{pathQuery(stdout, "offset=99999999999999999999"), "offset"},
		{pathQuery(fx.run, "offset=0"), "is a directory"},
		{"offset=0", "path is required"},
	}
	for _, tt := range tests {
		wantError(t, fx.get(t, "read", tt.query), 400, tt.contains)
	}
}

func TestDownload(t *testing.T) {
	fx := newFixture(t)
	r := fx.get(t, "download", pathQuery(filepath.Join(fx.run, "big")))
	if r.status != 200 || r.contentType != "application/octet-stream" {
		t.Fatalf("status %d, content type %q", r.status, r.contentType)
	}
	if len(r.body) != MaxReadLength+10 || strings.Trim(string(r.body), "x") != "" {
		t.Errorf("body of %d bytes, want %d x's", len(r.body), MaxReadLength+10)
	}
	wantError(t, fx.get(t, "download", pathQuery(fx.run)), 400, "is a directory")
}

func TestMethodNotAllowed(t *testing.T) {
	fx := newFixture(t)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://agent/files/read?" + pathQuery(filepath.Join(fx.run, "stdout")))
	if err := fx.client.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 405 {
		t.Errorf("status %d, want 405", resp.StatusCode())
	}
}

// TestRefused sends every escape attempt to every endpoint.
func TestRefused(t *testing.T) {
	fx := newFixture(t)
	esc := url.QueryEscape
	tests := []struct {
		name     string
		query    string // raw query string
		status   int
		contains string
	}{
		{"dotdot", pathQuery(fx.run + strings.Repeat("/..", 8) + "/secret.txt"), 403, "outside"},
		{"dotdot to prefix sibling", pathQuery(fx.root + "/../slaves-evil/x.txt"), 403, "outside"},
		{"prefix sibling", pathQuery(filepath.Join(fx.dir, "slaves-evil/x.txt")), 403, "outside"},
		{"encoded dotdot", "path=" + esc(fx.root) + "/%2e%2e/secret.txt", 403, "outside"},
		{"encoded dotdot and slash", "path=" + esc(fx.root) + "%2F%2E%2E%2Fsecret.txt", 403, "outside"},
		{"absolute outside", pathQuery("/etc/passwd"), 403, "outside"},
		{"root's parent", pathQuery(fx.dir), 403, "outside"},
		{"symlink to /etc/passwd", pathQuery(filepath.Join(fx.run, "passwd")), 403, "outside"},
		{"symlink climbing out", pathQuery(filepath.Join(fx.run, "escape")), 403, "outside"},
		{"relative", pathQuery("slaves/S1"), 400, "not absolute"},
		{"relative dotdot", pathQuery("../secret.txt"), 400, "not absolute"},
		{"empty", "path=", 400, "required"},
		{"NUL", "path=" + esc(fx.run) + "%00/stdout", 400, "NUL"},
		{"missing", pathQuery(filepath.Join(fx.run, "nope")), 404, "no such file"},
		{"under a file", pathQuery(filepath.Join(fx.run, "stdout/x")), 404, "not a directory"},
	}
	for _, endpoint := range []string{"browse", "read", "download"} {
		for _, tt := range tests {
			t.Run(endpoint+"/"+tt.name, func(t *testing.T) {
				r := fx.get(t, endpoint, tt.query)
				wantError(t, r, tt.status, tt.contains)
				if strings.Contains(string(r.body), secretText) {
					t.Errorf("body leaks file content: %s", r.body)
				}
				if strings.Contains(string(r.body), "root:") {
					t.Errorf("body leaks /etc/passwd: %s", r.body)
				}
			})
		}
	}
}
