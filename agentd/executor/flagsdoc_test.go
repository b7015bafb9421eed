package executor

import (
	"bytes"
	"context"
	"testing"

	"meseta/core/daemon/flagdoc"
)

// TestFlagsDocumented checks that docs/operations.md lists exactly the
// flags that `agentd executor -h` prints, each with the default it shows.
// masterd, agentd and devcluster have the same test.
func TestFlagsDocumented(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, func(string) string { return "" }, runOptions{stderr: &stderr}); code != exitOK {
		t.Fatalf("agentd executor -h exited %d: %s", code, stderr.String())
	}
	help := flagdoc.GoFlagHelp(stderr.String())
	if len(help) == 0 {
		t.Fatalf("agentd executor -h lists no flags:\n%s", stderr.String())
	}
	flagdoc.Check(t, "agentd executor -h", help, "../../docs/operations.md", "### agentd executor flags")
}
