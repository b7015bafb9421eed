package main

import (
	"bytes"
	"testing"

	"meseta/core/daemon/flagdoc"
)

// TestFlagsDocumented checks that docs/operations.md lists exactly the
// flags that `devcluster --help` (what `make run` runs) prints, each with
// the default it shows. masterd, agentd and `agentd executor` have the
// same test.
func TestFlagsDocumented(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr) // the flag package prints the usage to stderr
	help := flagdoc.GoFlagHelp(stderr.String())
	if len(help) == 0 {
		t.Fatalf("devcluster --help lists no flags:\n%s", stderr.String())
	}
	flagdoc.Check(t, "devcluster --help", help, "../../docs/operations.md", "### devcluster flags")
}
