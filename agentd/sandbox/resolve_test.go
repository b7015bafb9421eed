package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "real-slaves")
	mkdir(t, filepath.Join(real, "S1/run"))
	write(t, filepath.Join(real, "S1/run/stdout"), "x")
	symlink(t, "stdout", filepath.Join(real, "S1/run/alias"))
	// The configured root is itself a link, as /tmp is on some systems.
	linked := filepath.Join(dir, "slaves")
	symlink(t, "real-slaves", linked)
	s := &Server{Root: linked}

	tests := []struct {
		path string
		want string // "" when an error is expected
		err  error
	}{
		{linked + "/S1/run/stdout", real + "/S1/run/stdout", nil},
		{real + "/S1/run/stdout", real + "/S1/run/stdout", nil}, // named by its real path
		{linked + "/S1/run/alias", real + "/S1/run/stdout", nil},
		{linked + "/S1/./run//stdout", real + "/S1/run/stdout", nil},
		{linked + "/S1/../S1/run", real + "/S1/run", nil}, // ".." that stays inside
		{linked, real, nil},
		{linked + "/..", "", ErrOutsideRoot},
		{linked + "/../real-slaves/S1", real + "/S1", nil}, // the real root, lexically
		{dir, "", ErrOutsideRoot},
		{"/", "", ErrOutsideRoot},
		{linked + "/S1/nope", "", fs.ErrNotExist},
		{"S1/run", "", ErrInvalidPath},
		{"", "", ErrInvalidPath},
	}
	for _, tt := range tests {
		got, err := s.Resolve(tt.path)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tt.path, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "sandbox: ") {
			t.Errorf("Resolve(%q) error %q lacks the package prefix", tt.path, err)
		}
	}
}

func TestResolveWithoutRoot(t *testing.T) {
	for _, s := range []*Server{{}, {Root: filepath.Join(t.TempDir(), "missing")}} {
		if _, err := s.Resolve("/tmp"); err == nil || !strings.HasPrefix(err.Error(), "sandbox: ") {
			t.Errorf("Root %q: err = %v", s.Root, err)
		}
	}
}

func TestModeString(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		want string
	}{
		{0o644, "-rw-r--r--"},
		{fs.ModeDir | 0o755, "drwxr-xr-x"},
		{fs.ModeSymlink | 0o777, "lrwxrwxrwx"},
		{fs.ModeNamedPipe | 0o600, "prw-------"},
		{fs.ModeSocket | 0o755, "srwxr-xr-x"},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, "crw-rw-rw-"},
		{fs.ModeDevice | 0o660, "brw-rw----"},
		{fs.ModeSetuid | 0o755, "-rwsr-xr-x"},
		{fs.ModeSetuid | 0o644, "-rwSr--r--"},
		{fs.ModeSetgid | 0o2755, "-rwxr-sr-x"},
		{fs.ModeDir | fs.ModeSticky | 0o777, "drwxrwxrwt"},
		{fs.ModeDir | fs.ModeSticky | 0o776, "drwxrwxrwT"},
		{0, "----------"},
	}
	for _, tt := range tests {
		if got := modeString(tt.mode); got != tt.want {
			t.Errorf("modeString(%v) = %q, want %q", tt.mode, got, tt.want)
		}
	}
}

func TestBrowseOwnerNames(t *testing.T) {
	fx := newFixture(t)
	info, err := os.Lstat(filepath.Join(fx.run, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := ownership(info)
	if !ok {
		t.Skip("no ownership information on this platform")
	}
	e := newEntry("x", info, newOwnerCache())
	if st.uid == 0 && e.UID != "root" {
		t.Errorf("uid 0 shown as %q, want root", e.UID)
	}
	// An id with no name is shown as its number.
	if got := newOwnerCache().user(4000000000); got != "4000000000" {
		t.Errorf("unknown uid shown as %q", got)
	}
	if got := newOwnerCache().group(4000000000); got != "4000000000" {
		t.Errorf("unknown gid shown as %q", got)
	}
}
