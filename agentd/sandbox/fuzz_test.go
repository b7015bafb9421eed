package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzResolve checks that no path string, however odd, makes Resolve
// panic or return a path outside the root. Each input is tried as given
// and appended to the root, so that the fuzzer works inside the tree,
// which holds links pointing both inside and outside.
func FuzzResolve(f *testing.F) {
	dir, err := filepath.EvalSymlinks(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	root := filepath.Join(dir, "slaves")
	run := filepath.Join(root, "S1/frameworks/F/executors/E/runs/R")
	for _, d := range []string{run, filepath.Join(dir, "slaves-evil")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		filepath.Join(run, "stdout"):            "out",
		filepath.Join(dir, "secret.txt"):        "secret",
		filepath.Join(dir, "slaves-evil/x.txt"): "evil",
	} {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(run, "passwd"): "/etc/passwd",
		filepath.Join(run, "up"):     strings.Repeat("../", 8),
		filepath.Join(run, "alias"):  "stdout",
		filepath.Join(root, "R"):     "S1/frameworks/F/executors/E/runs/R",
		filepath.Join(run, "loop"):   "loop",
	} {
		if err := os.Symlink(target, link); err != nil {
			f.Fatal(err)
		}
	}
	s := &Server{Root: root}

	for _, seed := range []string{
		"", "/", ".", "..", "/etc/passwd", "S1/frameworks/F/executors/E/runs/R/stdout",
		"R/up/secret.txt", "R/passwd", "../slaves-evil/x.txt", "R/../..", "R/loop",
		"%2e%2e", "\x00", "R//./alias",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, candidate := range []string{p, root + "/" + p, root + p} {
			got, err := s.Resolve(candidate)
			if err != nil {
				if got != "" {
					t.Errorf("Resolve(%q) = %q with error %v", candidate, got, err)
				}
				continue
			}
			if got != root && !strings.HasPrefix(got, root+string(filepath.Separator)) {
				t.Errorf("Resolve(%q) = %q, outside %q", candidate, got, root)
			}
			if _, err := os.Lstat(got); err != nil {
				t.Errorf("Resolve(%q) = %q, which does not exist: %v", candidate, got, err)
			}
		}
	})
}
