package fetcher

import (
	"bytes"
	"os"
	"testing"
)

// FuzzExtractTar feeds arbitrary bytes through the .tar.gz extraction
// path, both as given and gzip-wrapped (so that the fuzzer also explores
// tar headers rather than only gzip framing). Extraction may fail, but it
// must not panic, write beside the sandbox, or leave a symbolic link that
// resolves outside it.
func FuzzExtractTar(f *testing.F) {
	seeds := [][]entry{
		appEntries,
		{{name: "../evil", body: "x"}},
		{{name: "/abs", body: "x"}},
		{{name: "l", link: "."}, {name: "l/x", link: ".."}},
		{{name: "a/b/", dir: true}, {name: "a/b/up", link: ".."}, {name: "h", hard: "a/b/up"}},
		{{name: "out", link: "../"}, {name: "out/evil", body: "x"}},
	}
	for _, s := range seeds {
		raw := tarBytes(f, s)
		f.Add(raw)
		f.Add(gzipBytes(f, raw))
	}
	// One base directory per fuzzing process; each run gets a fresh
	// sandbox in it and removes it afterwards, so the base must hold
	// exactly one entry after every extraction.
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, archive := range [][]byte{data, gzipBytes(t, data)} {
			sb, err := os.MkdirTemp(base, "sandbox")
			if err != nil {
				t.Fatal(err)
			}
			root, err := os.OpenRoot(sb)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := gunzipReader(bytes.NewReader(archive)); err == nil {
				_ = extractTar(root, r, 1<<20)
			}
			root.Close()
			if ents, err := os.ReadDir(base); err != nil || len(ents) != 1 {
				t.Errorf("base directory holds %v (err %v), want only the sandbox", ents, err)
			}
			assertLinksInside(t, sb)
			if err := os.RemoveAll(sb); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// fuzzBase returns a scratch directory for fuzzing, on the memory file
// system when there is one: each run creates and removes a few files, and
// on a slow disk the fuzzer would spend its time minimising inputs rather
// than exploring.
func fuzzBase(f *testing.F) string {
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "fetcher-fuzz-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return f.TempDir()
}
