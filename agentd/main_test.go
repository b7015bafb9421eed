package main

import (
	"os"
	"testing"
)

// TestMain also makes the test binary the agent's built-in executors: the
// agent launches its own binary (os.Executable, here the test binary) as
// `executor --mode=command|default`, as the real agentd does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "executor" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
