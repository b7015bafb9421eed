package fetcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// appEntries is the content of the test archives.
var appEntries = []entry{
	{name: "app/", dir: true, mode: 0o750},
	{name: "app/run.sh", body: "#!/bin/sh\necho hi\n", mode: 0o755},
	{name: "app/conf/settings.ini", body: "a=1\n", mode: 0o600},
	{name: "app/current", link: "conf/settings.ini"},
}

// newFileServer serves the test payloads on 127.0.0.1.
func newFileServer(t *testing.T) *httptest.Server {
	t.Helper()
	files := map[string][]byte{
		"/plain.txt":    []byte("hello\n"),
		"/app.tar.gz":   tarGzBytes(t, appEntries),
		"/app.zip":      zipBytes(t, appEntries),
		"/notes.txt.gz": gzipBytes(t, []byte("compressed notes\n")),
		"/tool":         []byte("#!/bin/sh\n"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/truncated.bin":
			// Promise more than is sent, then drop the connection.
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte("only a little"))
			panic(http.ErrAbortHandler)
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchHTTPPlainFile(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	err := Fetch(context.Background(), sb, []URI{{Value: srv.URL + "/plain.txt", Extract: true}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(sb, "plain.txt")); got != "hello\n" {
		t.Errorf("content = %q", got)
	}
	if got := fileMode(t, filepath.Join(sb, "plain.txt")); got != 0o644 {
		t.Errorf("mode = %v, want -rw-r--r--", got)
	}
	if got := listSandbox(t, sb); !slices.Equal(got, []string{"plain.txt"}) {
		t.Errorf("sandbox holds %q", got)
	}
}

func checkAppTree(t *testing.T, sb string) {
	t.Helper()
	if got := readFile(t, filepath.Join(sb, "app/run.sh")); !strings.HasPrefix(got, "#!/bin/sh") {
		t.Errorf("run.sh = %q", got)
	}
	if got := fileMode(t, filepath.Join(sb, "app/run.sh")); got != 0o755 {
		t.Errorf("run.sh mode = %v", got)
	}
	if got := fileMode(t, filepath.Join(sb, "app/conf/settings.ini")); got != 0o600 {
		t.Errorf("settings.ini mode = %v", got)
	}
	if got := readFile(t, filepath.Join(sb, "app/current")); got != "a=1\n" {
		t.Errorf("symlink app/current reads %q", got)
	}
	if got := fileMode(t, filepath.Join(sb, "app/current")); got&os.ModeSymlink == 0 {
		t.Errorf("app/current is %v, want a symlink", got)
	}
}

func TestFetchHTTPArchives(t *testing.T) {
	srv := newFileServer(t)
	for _, name := range []string{"app.tar.gz", "app.zip"} {
		t.Run(name, func(t *testing.T) {
			_, sb := newSandbox(t)
			err := Fetch(context.Background(), sb, []URI{{Value: srv.URL + "/" + name, Extract: true}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkAppTree(t, sb)
			if _, err := os.Stat(filepath.Join(sb, name)); err != nil {
				t.Errorf("archive not kept: %v", err)
			}
		})
	}
}

func TestFetchHTTPGzip(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	err := Fetch(context.Background(), sb, []URI{{Value: srv.URL + "/notes.txt.gz", Extract: true}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(sb, "notes.txt")); got != "compressed notes\n" {
		t.Errorf("notes.txt = %q", got)
	}
}

func TestFetchNoExtract(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	err := Fetch(context.Background(), sb, []URI{{Value: srv.URL + "/app.tar.gz", Extract: false}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := listSandbox(t, sb); !slices.Equal(got, []string{"app.tar.gz"}) {
		t.Errorf("sandbox holds %q, want only the archive", got)
	}
}

func TestFetchExecutable(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	uris := []URI{
		{Value: srv.URL + "/tool", Executable: true},
		// Executable wins over Extract: the archive stays packed.
		{Value: srv.URL + "/app.tar.gz", Executable: true, Extract: true},
	}
	if err := Fetch(context.Background(), sb, uris, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tool", "app.tar.gz"} {
		if got := fileMode(t, filepath.Join(sb, name)); got != 0o755 {
			t.Errorf("%s mode = %v, want -rwxr-xr-x", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(sb, "app")); !os.IsNotExist(err) {
		t.Errorf("executable archive was extracted (stat err %v)", err)
	}
}

func TestFetchHTTPNotFound(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	uri := srv.URL + "/missing.tgz"
	err := Fetch(context.Background(), sb, []URI{{Value: uri, Extract: true}}, Options{})
	want := fmt.Sprintf("fetcher: fetch %q: HTTP 404 Not Found", uri)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if got := listSandbox(t, sb); len(got) != 0 {
		t.Errorf("sandbox holds %q after failure", got)
	}
}

func TestFetchUnreachable(t *testing.T) {
	// Take a free port and release it so that nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, sb := newSandbox(t)
	uri := "http://" + addr + "/x.tgz"
	err = Fetch(context.Background(), sb, []URI{{Value: uri}}, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	prefix := fmt.Sprintf("fetcher: fetch %q: ", uri)
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %q, want prefix %q and 'connection refused'", err, prefix)
	}
}

func TestFetchTruncatedDownloadLeavesNothing(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	err := Fetch(context.Background(), sb, []URI{{Value: srv.URL + "/truncated.bin"}}, Options{})
	if err == nil {
		t.Fatal("no error for a truncated body")
	}
	if got := listSandbox(t, sb); len(got) != 0 {
		t.Errorf("sandbox holds %q after failure", got)
	}
}

func TestFetchMaxBytes(t *testing.T) {
	srv := newFileServer(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{srv.URL + "/plain.txt", big} {
		_, sb := newSandbox(t)
		err := Fetch(context.Background(), sb, []URI{{Value: uri}}, Options{MaxBytes: 5})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", uri, err)
		}
		if got := listSandbox(t, sb); len(got) != 0 {
			t.Errorf("%s: sandbox holds %q after failure", uri, got)
		}
	}
	// The limit also bounds what an archive unpacks to: a few hundred
	// compressed bytes that expand to 1 MiB.
	arch := filepath.Join(dir, "bomb.tar.gz")
	bomb := tarGzBytes(t, []entry{{name: "zeros", body: string(make([]byte, 1<<20))}})
	if err := os.WriteFile(arch, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, sb := newSandbox(t)
	err := Fetch(context.Background(), sb, []URI{{Value: arch, Extract: true}}, Options{MaxBytes: 64 << 10})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("archive: err = %v, want ErrTooLarge", err)
	}
	if got := listSandbox(t, sb); !slices.Equal(got, []string{"bomb.tar.gz"}) {
		t.Errorf("sandbox holds %q, want only the archive", got)
	}
}

func TestFetchLocal(t *testing.T) {
	src := t.TempDir()
	p := filepath.Join(src, "data.txt")
	if err := os.WriteFile(p, []byte("local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	arch := filepath.Join(src, "app.tgz")
	if err := os.WriteFile(arch, tarGzBytes(t, appEntries), 0o644); err != nil {
		t.Fatal(err)
	}
	_, sb := newSandbox(t)
	uris := []URI{
		{Value: p},
		{Value: "file://" + p, OutputFile: "copies/via-url.txt"},
		{Value: "file://localhost" + arch, Extract: true},
	}
	if err := Fetch(context.Background(), sb, uris, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data.txt", "copies/via-url.txt"} {
		if got := readFile(t, filepath.Join(sb, name)); got != "local\n" {
			t.Errorf("%s = %q", name, got)
		}
		if got := fileMode(t, filepath.Join(sb, name)); got != 0o644 {
			t.Errorf("%s mode = %v", name, got)
		}
	}
	checkAppTree(t, sb)
}

func TestFetchBadURIs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		uri  URI
		want string
	}{
		{URI{Value: ""}, "empty URI"},
		{URI{Value: "relative/path"}, "not an absolute path or URL"},
		{URI{Value: "ftp://example.com/x"}, `unsupported scheme "ftp"`},
		{URI{Value: "file://otherhost/x"}, "remote host"},
		{URI{Value: "http:///nohost"}, "no host"},
		{URI{Value: "http://127.0.0.1/"}, "cannot derive a file name"},
		{URI{Value: filepath.Join(dir, "missing")}, "no such file"},
		{URI{Value: dir}, "not a regular file"},
		{URI{Value: "/etc/hostname", OutputFile: "../escape"}, ErrUnsafePath.Error()},
		{URI{Value: "/etc/hostname", OutputFile: "/tmp/escape"}, ErrUnsafePath.Error()},
	}
	for _, tt := range tests {
		base, sb := newSandbox(t)
		err := Fetch(context.Background(), sb, []URI{tt.uri}, Options{})
		prefix := fmt.Sprintf("fetcher: fetch %q: ", tt.uri.Value)
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q containing %q", tt.uri, err, prefix, tt.want)
		}
		assertOnlySandbox(t, base)
	}
}

func TestFetchStopsAtFirstFailure(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	uris := []URI{
		{Value: srv.URL + "/plain.txt"},
		{Value: srv.URL + "/missing"},
		{Value: srv.URL + "/tool"},
	}
	err := Fetch(context.Background(), sb, uris, Options{})
	if err == nil || !strings.Contains(err.Error(), "/missing") {
		t.Fatalf("err = %v, want one naming /missing", err)
	}
	if got := listSandbox(t, sb); !slices.Equal(got, []string{"plain.txt"}) {
		t.Errorf("sandbox holds %q", got)
	}
}

func TestFetchCanceled(t *testing.T) {
	srv := newFileServer(t)
	_, sb := newSandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Fetch(ctx, sb, []URI{{Value: srv.URL + "/plain.txt"}}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestFetchMissingSandbox(t *testing.T) {
	err := Fetch(context.Background(), filepath.Join(t.TempDir(), "nope"), nil, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "fetcher: open sandbox") {
		t.Errorf("err = %v", err)
	}
}
