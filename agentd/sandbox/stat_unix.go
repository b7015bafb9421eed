//go:build unix

package sandbox

import (
	"io/fs"
	"syscall"
)

// openFlags are added when opening a file to serve: never block on a
// fifo that replaced a regular file after it was checked.
const openFlags = syscall.O_NONBLOCK

// ownership extracts owner and link count from info.
func ownership(info fs.FileInfo) (owner, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{uid: st.Uid, gid: st.Gid, nlink: uint64(st.Nlink)}, true
}
