package main

import "syscall"

// openFiles is the open-file limit loadgen asks for: every simulated
// agent holds a stream, in loadgen and in the masterd it starts (which
// inherits the limit), so 30,000 agents need more than the usual 20,000.
const openFiles = 1 << 20

// raiseOpenFiles raises RLIMIT_NOFILE, soft and hard, towards openFiles
// and returns the soft limit in force. Raising the hard limit needs
// privilege; without it the soft limit goes to the hard one.
func raiseOpenFiles() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	want := syscall.Rlimit{Cur: max(r.Cur, openFiles), Max: max(r.Max, openFiles)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		want = syscall.Rlimit{Cur: r.Max, Max: r.Max}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
			return r.Cur
		}
	}
	return want.Cur
}
