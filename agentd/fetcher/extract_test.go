package fetcher

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fetchArchive writes data as base/src/name and fetches it with Extract
// into base/sandbox.
func fetchArchive(t *testing.T, name string, data []byte) (base, sb string, err error) {
	t.Helper()
	base, sb = newSandbox(t)
	src := filepath.Join(base, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(src, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = Fetch(context.Background(), sb, []URI{{Value: p, Extract: true}}, Options{})
	return base, sb, err
}

func TestExtractRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		zipOK   bool // not expressible in zip (hard links)
	}{
		{"dotdot file", []entry{{name: "../evil", body: "x"}}, true},
		{"nested dotdot", []entry{{name: "a/../../evil", body: "x"}}, true},
		{"dotdot dir", []entry{{name: "../evildir/", dir: true}}, true},
		{"absolute file", []entry{{name: "/tmp/evil", body: "x"}}, true},
		{"symlink dotdot", []entry{{name: "link", link: "../"}}, true},
		{"symlink deep dotdot", []entry{{name: "a/b/link", link: "../../../src"}}, true},
		{"symlink absolute", []entry{{name: "passwd", link: "/etc/passwd"}}, true},
		{"symlink climbs after descending", []entry{{name: "d/", dir: true}, {name: "link", link: "d/../.."}}, true},
		{
			// "l" points at the sandbox itself, so "l/x" really lives
			// at depth 0 and ".." from there is outside.
			"symlink through symlinked parent",
			[]entry{{name: "l", link: "."}, {name: "l/x", link: ".."}},
			true,
		},
		{
			// Write through a link: refused when the link is made.
			"write through symlink",
			[]entry{{name: "out", link: "../src"}, {name: "out/evil", body: "x"}},
			true,
		},
		{"hard link outside", []entry{{name: "h", hard: "../src/a.tar"}}, false},
		{"hard link absolute", []entry{{name: "h", hard: "/etc/passwd"}}, false},
		{
			// A hard link to an in-sandbox symlink would re-home it.
			"hard link to symlink",
			[]entry{{name: "a/b/", dir: true}, {name: "a/b/up", link: ".."}, {name: "h", hard: "a/b/up"}},
			false,
		},
	}
	for _, tt := range tests {
		t.Run("tar/"+tt.name, func(t *testing.T) {
			base, sb, err := fetchArchive(t, "a.tar", tarBytes(t, tt.entries))
			checkRefused(t, err, base, sb)
		})
		t.Run("tgz/"+tt.name, func(t *testing.T) {
			base, sb, err := fetchArchive(t, "a.tgz", tarGzBytes(t, tt.entries))
			checkRefused(t, err, base, sb)
		})
		if tt.zipOK {
			t.Run("zip/"+tt.name, func(t *testing.T) {
				base, sb, err := fetchArchive(t, "a.zip", zipBytes(t, tt.entries))
				checkRefused(t, err, base, sb)
			})
		}
	}
}

func checkRefused(t *testing.T, err error, base, sb string) {
	t.Helper()
	if err == nil {
		t.Fatal("extraction succeeded")
	}
	if !strings.HasPrefix(err.Error(), "fetcher: fetch ") || !strings.Contains(err.Error(), "extract ") {
		t.Errorf("err = %q, want a fetcher extract error", err)
	}
	if !errors.Is(err, ErrUnsafePath) {
		t.Errorf("err = %v, want ErrUnsafePath", err)
	}
	assertOnlySandbox(t, base, "src")
	if got, _ := os.ReadDir(filepath.Join(base, "src")); len(got) != 1 {
		t.Errorf("src directory changed: %v", got)
	}
	assertLinksInside(t, sb)
}

func TestExtractAllowsInsideLinks(t *testing.T) {
	entries := []entry{
		{name: "./a/b/", dir: true},
		{name: "a/b/file", body: "data"},
		{name: "a/b/up", link: "../../a/b/file"},
		{name: "a/self", link: "."},
		{name: "a/self/via-self", body: "through a link to its own dir"},
		{name: "a/b/h", hard: "a/b/file"},
		{name: "top", link: "a/b"},
		{name: "a/b/file", body: "replaced"}, // later entries win
	}
	_, sb, err := fetchArchive(t, "ok.tar", tarBytes(t, entries))
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(sb, "a/b/up")); got != "replaced" {
		t.Errorf("a/b/up reads %q", got)
	}
	if got := readFile(t, filepath.Join(sb, "top/h")); got != "data" {
		t.Errorf("top/h reads %q", got)
	}
	if got := readFile(t, filepath.Join(sb, "a/via-self")); !strings.HasPrefix(got, "through") {
		t.Errorf("a/via-self reads %q", got)
	}
	assertLinksInside(t, sb)
}

func TestExtractSkipsSpecialFiles(t *testing.T) {
	// The zip builder cannot express devices; use the mode bits instead.
	entries := []entry{{name: "fifo", mode: int64(os.ModeNamedPipe | 0o644)}, {name: "f", body: "x"}}
	_, sb, err := fetchArchive(t, "s.zip", zipBytes(t, entries))
	if err != nil {
		t.Fatal(err)
	}
	if got := listSandbox(t, sb); !slices.Equal(got, []string{"f", "s.zip"}) {
		t.Errorf("sandbox holds %q", got)
	}
}

func TestExtractCorruptArchive(t *testing.T) {
	for _, name := range []string{"bad.tgz", "bad.tar.bz2", "bad.zip", "bad.gz"} {
		_, _, err := fetchArchive(t, name, []byte("this is not an archive"))
		if err == nil || !strings.Contains(err.Error(), "extract "+name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestTargetInside(t *testing.T) {
	tests := []struct {
		target string
		depth  int
		want   bool
	}{
		{"file", 0, true},
		{".", 0, true},
		{"./a/./b", 0, true},
		{"..", 0, false},
		{"..", 1, true},
		{"../..", 1, false},
		{"../../x/y", 2, true},
		{"a/..", 3, false},
		{"a/../b", 3, false},
		{"/etc/passwd", 5, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		if got := targetInside(tt.target, tt.depth); got != tt.want {
			t.Errorf("targetInside(%q, %d) = %v, want %v", tt.target, tt.depth, got, tt.want)
		}
	}
}
