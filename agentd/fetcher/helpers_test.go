package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry describes one archive member for the test archive builders.
type entry struct {
	name string
	body string
	mode int64
	dir  bool
	link string // symlink target
	hard string // hard link target (tar only)
}

func tarBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		case e.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, e.link, 0
		case e.hard != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, e.hard, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGzBytes(t testing.TB, entries []entry) []byte {
	return gzipBytes(t, tarBytes(t, entries))
}

func zipBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := fs.FileMode(e.mode)
		if mode == 0 {
			mode = 0o644
		}
		body := e.body
		switch {
		case e.dir:
			if !strings.HasSuffix(fh.Name, "/") {
				fh.Name += "/"
			}
			mode |= fs.ModeDir
		case e.link != "":
			mode |= fs.ModeSymlink
			body = e.link
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newSandbox returns a sandbox directory inside a fresh temporary base
// directory, so that tests can check nothing was written beside it.
func newSandbox(t testing.TB) (base, sandbox string) {
	t.Helper()
	base = t.TempDir()
	sandbox = filepath.Join(base, "sandbox")
	if err := os.Mkdir(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	return base, sandbox
}

// assertOnlySandbox fails if base holds anything but the sandbox and the
// names in extra.
func assertOnlySandbox(t testing.TB, base string, extra ...string) {
	t.Helper()
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"sandbox": true}
	for _, e := range extra {
		allowed[e] = true
	}
	for _, e := range ents {
		if !allowed[e.Name()] {
			t.Errorf("unexpected %q written beside the sandbox", e.Name())
		}
	}
}

// assertLinksInside fails if any symbolic link in sandbox resolves to a
// path outside it.
func assertLinksInside(t testing.TB, sandbox string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling or looping: points nowhere
		}
		if rel, err := filepath.Rel(real, target); err != nil || (rel != "." && !filepath.IsLocal(rel)) {
			t.Errorf("symlink %s resolves outside the sandbox to %s", p, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listSandbox returns the sandbox-relative names of everything in sandbox.
func listSandbox(t testing.TB, sandbox string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != sandbox {
			rel, _ := filepath.Rel(sandbox, p)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fileMode(t testing.TB, p string) fs.FileMode {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}
