package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Errors that callers may want to tell apart with errors.Is.
var (
	// ErrInvalidPath reports a missing, relative or malformed path.
	ErrInvalidPath = errors.New("invalid path")
	// ErrOutsideRoot reports a path that is, or resolves to, a place
	// outside Server.Root.
	ErrOutsideRoot = errors.New("path is outside the sandbox root")
)

// Server serves sandbox files for one agent.
type Server struct {
	// Root is the agent directory holding every sandbox, for example
	// <work_dir>/slaves. Nothing outside it is ever served.
	Root string
}

// resolved is a requested path that passed the checks of resolve.
type resolved struct {
	shown string // the request path, cleaned: what listings show
	root  string // Root with symbolic links resolved
	rel   string // the target relative to root, for os.Root
}

// Resolve checks that path is an absolute path under s.Root that exists
// and whose symbolic links, once resolved, keep it under s.Root. It
// returns the resolved host path. Errors wrap ErrInvalidPath,
// ErrOutsideRoot or the file system error (such as fs.ErrNotExist).
func (s *Server) Resolve(path string) (string, error) {
	r, err := s.resolve(path)
	if err != nil {
		return "", err
	}
	return filepath.Join(r.root, r.rel), nil
}

func (s *Server) resolve(path string) (resolved, error) {
	switch {
	case path == "":
		return resolved{}, fmt.Errorf("sandbox: path is required: %w", ErrInvalidPath)
	case strings.IndexByte(path, 0) >= 0:
		return resolved{}, fmt.Errorf("sandbox: path %q contains NUL: %w", path, ErrInvalidPath)
	case !filepath.IsAbs(path):
		return resolved{}, fmt.Errorf("sandbox: path %q is not absolute: %w", path, ErrInvalidPath)
	}
	rootClean, rootReal, err := s.roots()
	if err != nil {
		return resolved{}, err
	}
	// First lexically, so that nothing outside the root is even looked
	// at; the root may be named either as configured or resolved.
	shown := filepath.Clean(path)
	if !within(rootClean, shown) && !within(rootReal, shown) {
		return resolved{}, fmt.Errorf("sandbox: path %q: %w", path, ErrOutsideRoot)
	}
	real, err := filepath.EvalSymlinks(shown)
	if err != nil {
		return resolved{}, fmt.Errorf("sandbox: path %q: %w", path, err)
	}
	if !within(rootReal, real) {
		return resolved{}, fmt.Errorf("sandbox: path %q: %w", path, ErrOutsideRoot)
	}
	rel, err := filepath.Rel(rootReal, real)
	if err != nil {
		return resolved{}, fmt.Errorf("sandbox: path %q: %w", path, err)
	}
	return resolved{shown: shown, root: rootReal, rel: rel}, nil
}

// roots returns s.Root made absolute and cleaned, and the same with
// symbolic links resolved.
func (s *Server) roots() (clean, real string, err error) {
	if s.Root == "" {
		return "", "", errors.New("sandbox: no root directory configured")
	}
	if clean, err = filepath.Abs(s.Root); err != nil {
		return "", "", fmt.Errorf("sandbox: root: %w", err)
	}
	if real, err = filepath.EvalSymlinks(clean); err != nil {
		return "", "", fmt.Errorf("sandbox: root: %w", err)
	}
	return clean, real, nil
}

// within reports whether the clean absolute path p is root or lies
// below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}
