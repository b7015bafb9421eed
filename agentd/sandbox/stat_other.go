//go:build !unix

package sandbox

import "io/fs"

// openFlags are added when opening a file to serve.
const openFlags = 0

// ownership is not available on this platform.
func ownership(fs.FileInfo) (owner, bool) { return owner{}, false }
