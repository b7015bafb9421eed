package fetcher

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFile copies r into name inside root with mode perm, refusing more
// than limit bytes. The data goes to a temporary file in the same
// directory that is renamed over name only once complete, so on failure
// nothing partial remains and an existing name is left untouched. Missing
// parent directories are created. It returns the number of bytes written.
func writeFile(root *os.Root, name string, r io.Reader, perm os.FileMode, limit int64) (int64, error) {
	dir := filepath.Dir(name)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(name)+".fetch-"+rand.Text())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)
	}
	if err == nil {
		// Chmod on the open file is exact; the create mode is subject
		// to the umask.
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// removeNonDir deletes name inside root unless it is a directory, so that a
// link can be created in its place. A missing name is not an error.
func removeNonDir(root *os.Root, name string) error {
	info, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.IsDir() {
		return fmt.Errorf("%q exists as a directory", name)
	}
	return root.Remove(name)
}
