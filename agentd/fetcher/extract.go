package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLinkTarget bounds the target of a symbolic link read from a zip file.
const maxLinkTarget = 4096

// unpack post-processes the fetched file name inside root according to its
// suffix: tar and zip archives are extracted into root, a plain .gz file is
// decompressed next to itself, anything else is left alone. The fetched
// file itself is kept. At most limit bytes are written.
func unpack(root *os.Root, name string, limit int64) error {
	lower := strings.ToLower(name)
	var err error
	switch {
	case strings.HasSuffix(lower, ".tar"):
		err = extractTarFile(root, name, nil, limit)
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		err = extractTarFile(root, name, gunzipReader, limit)
	case strings.HasSuffix(lower, ".tar.bz2"), strings.HasSuffix(lower, ".tbz2"):
		err = extractTarFile(root, name, bunzipReader, limit)
	case strings.HasSuffix(lower, ".zip"):
		err = extractZipFile(root, name, limit)
	case strings.HasSuffix(lower, ".gz"):
		err = gunzipFile(root, name, limit)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	return nil
}

func gunzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }
func bunzipReader(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }

// extractTarFile opens the archive name inside root, wraps it with
// decompress (if not nil) and extracts it into root.
func extractTarFile(root *os.Root, name string, decompress func(io.Reader) (io.Reader, error), limit int64) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if decompress != nil {
		if r, err = decompress(f); err != nil {
			return err
		}
	}
	return extractTar(root, r, limit)
}

// extractTar extracts the uncompressed tar stream r into root. Regular
// files, directories, symbolic links and hard links are created; other
// entry types (devices, fifos) are skipped. It fails on the first entry
// that would escape root.
func extractTar(root *os.Root, r io.Reader, limit int64) error {
	x, err := newExtractor(root, limit)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		// ErrInsecurePath comes with a usable header; our own checks
		// below refuse such names with a clearer message.
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			return err
		}
		perm := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse:
			err = x.file(hdr.Name, perm, tr)
		case tar.TypeDir:
			err = x.dir(hdr.Name, perm)
		case tar.TypeSymlink:
			err = x.symlink(hdr.Name, hdr.Linkname)
		case tar.TypeLink:
			err = x.hardlink(hdr.Name, hdr.Linkname)
		default:
			continue
		}
		if err != nil {
			return err
		}
	}
}

// extractZipFile extracts the zip archive name inside root into root.
func extractZipFile(root *os.Root, name string, limit int64) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, info.Size())
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return err
	}
	x, err := newExtractor(root, limit)
	if err != nil {
		return err
	}
	for _, zf := range zr.File {
		if err := x.zipEntry(zf); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) zipEntry(zf *zip.File) error {
	mode := zf.Mode()
	switch {
	case mode.IsDir() || strings.HasSuffix(zf.Name, "/"):
		return x.dir(zf.Name, mode.Perm())
	case mode&fs.ModeSymlink != 0:
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("entry %q: %w", zf.Name, err)
		}
		defer rc.Close()
		target, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
		if err != nil {
			return fmt.Errorf("entry %q: %w", zf.Name, err)
		}
		if len(target) > maxLinkTarget {
			return fmt.Errorf("entry %q: symlink target too long", zf.Name)
		}
		return x.symlink(zf.Name, string(target))
	case mode.IsRegular():
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("entry %q: %w", zf.Name, err)
		}
		defer rc.Close()
		return x.file(zf.Name, mode.Perm(), rc)
	default:
		return nil // devices, fifos, sockets
	}
}

// gunzipFile decompresses name (ending in .gz) to the same name without
// the suffix.
func gunzipFile(root *os.Root, name string, limit int64) error {
	out := name[:len(name)-len(".gz")]
	if base := filepath.Base(out); base == "" || base == "." || strings.HasSuffix(out, string(filepath.Separator)) {
		return fmt.Errorf("cannot derive a name from %q", name)
	}
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	_, err = writeFile(root, out, zr, 0o644, limit)
	return err
}

// extractor writes archive entries into a root, keeping every entry and
// every symbolic link inside it and the total size under a limit.
type extractor struct {
	root *os.Root
	real string // the root directory with symlinks resolved
	left int64  // bytes that may still be written
}

func newExtractor(root *os.Root, limit int64) (*extractor, error) {
	real, err := filepath.EvalSymlinks(root.Name())
	if err != nil {
		return nil, err
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, err
	}
	return &extractor{root: root, real: real, left: limit}, nil
}

// entryName validates an archive entry name and returns it cleaned and
// relative to the root. The result may be "." for the root itself.
func entryName(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("entry with empty name")
	}
	if strings.HasPrefix(raw, "/") || filepath.IsAbs(raw) {
		return "", fmt.Errorf("entry %q: absolute path: %w", raw, ErrUnsafePath)
	}
	name := filepath.Clean(raw)
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("entry %q: %w", raw, ErrUnsafePath)
	}
	return name, nil
}

// fileName is entryName for entries that must name something other than
// the root itself.
func fileName(raw string) (string, error) {
	name, err := entryName(raw)
	if err == nil && name == "." {
		err = fmt.Errorf("entry %q: not a file name", raw)
	}
	return name, err
}

func (x *extractor) dir(raw string, perm os.FileMode) error {
	name, err := entryName(raw)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if err := x.root.MkdirAll(name, 0o755); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	// Keep the archive's mode, but let the owner always fill and clean
	// the directory.
	if err := x.root.Chmod(name, perm|0o700); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	return nil
}

func (x *extractor) file(raw string, perm os.FileMode, r io.Reader) error {
	name, err := fileName(raw)
	if err != nil {
		return err
	}
	n, err := writeFile(x.root, name, r, perm, x.left)
	if err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	x.left -= n
	return nil
}

func (x *extractor) symlink(raw, target string) error {
	name, err := fileName(raw)
	if err != nil {
		return err
	}
	dir := filepath.Dir(name)
	if err := x.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	depth, err := x.depth(dir)
	if err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	if !targetInside(target, depth) {
		return fmt.Errorf("entry %q: symlink to %q: %w", raw, target, ErrUnsafePath)
	}
	if err := removeNonDir(x.root, name); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	return nil
}

func (x *extractor) hardlink(raw, target string) error {
	name, err := fileName(raw)
	if err != nil {
		return err
	}
	old, err := fileName(target)
	if err != nil {
		return fmt.Errorf("entry %q: link target: %w", raw, err)
	}
	// Only regular files: a hard link to a symbolic link would move the
	// link to a directory where its target may resolve elsewhere.
	info, err := x.root.Lstat(old)
	if err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("entry %q: hard link to non-regular file %q: %w", raw, target, ErrUnsafePath)
	}
	if err := x.root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	if err := removeNonDir(x.root, name); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	if err := x.root.Link(old, name); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	return nil
}

// depth returns how many directories below the root the existing
// directory dir really is, after resolving symbolic links on the way.
func (x *extractor) depth(dir string) (int, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(x.real, dir))
	if err != nil {
		return 0, err
	}
	rel, err := filepath.Rel(x.real, real)
	if err != nil {
		return 0, err
	}
	if rel == "." {
		return 0, nil
	}
	if !filepath.IsLocal(rel) {
		return 0, ErrUnsafePath
	}
	return len(strings.Split(rel, string(filepath.Separator))), nil
}

// targetInside reports whether a symbolic link with the given target,
// placed in a directory depth levels below the root, stays inside the
// root. The target must be relative and may only climb ("..") at its
// start, and no higher than depth; after that it may only descend. Every
// link in the root obeys this rule, so following any chain of links from
// inside the root never leaves it, whatever is created later.
func targetInside(target string, depth int) bool {
	if target == "" || strings.HasPrefix(target, "/") || filepath.IsAbs(target) {
		return false
	}
	ups, descended := 0, false
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			if descended {
				return false
			}
			ups++
		default:
			descended = true
		}
	}
	return ups <= depth
}
