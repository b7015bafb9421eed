package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKillSession: a process that left its parent's process group (as a
// task does) is still killed through the session.
func TestKillSession(t *testing.T) {
	// An orphan (reparented away from the shell) and a grandchild: both
	// stay in the session. (A "setsid -f" child would leave it, and
	// outlive the test.)
	cmd := exec.Command("/bin/sh", "-c", "(sleep 100 &); sh -c 'sleep 100' & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for countSession(sid) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("session %d never had its children", sid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killSession(sid)
	_ = cmd.Wait()
	for countSession(sid) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("session %d still has %d processes", sid, countSession(sid))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countSession(sid int) int {
	n := 0
	for pid := 2; pid < 1<<22; pid++ {
		if s, ok := sessionOf(pid); ok && s == sid {
			n++
		}
		if pid > 100000 {
			break
		}
	}
	return n
}
