package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// killSession sends SIGKILL to every process in session sid. Executors
// run in their own session (setsid), and task processes stay in it even
// when they make their own process groups, so this reaches a whole
// container's tree without cgroups. It returns how many it signalled.
func killSession(sid int) int {
	if sid <= 1 {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := sessionOf(pid); ok && s == sid {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

// sessionOf reads a process's session id from /proc/PID/stat: the sixth
// field, counted after the command name in parentheses (which may hold
// spaces).
func sessionOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] state, f[1] ppid, f[2] pgrp, f[3] session
	if len(f) < 4 {
		return 0, false
	}
	s, err := strconv.Atoi(string(f[3]))
	return s, err == nil
}
