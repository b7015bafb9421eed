package main

import (
	"bytes"
	"flag"
	"testing"

	"meseta/core/daemon/flagdoc"
)

// TestFlagsDocumented checks that docs/operations.md lists exactly the
// flags that `masterd --help` prints, each with the default --help shows.
// agentd, `agentd executor` and devcluster have the same test.
func TestFlagsDocumented(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("masterd --help exited %d: %s", code, stderr.String())
	}
	help := flagdoc.FlagenvHelp(stdout.String())

	// The parse of --help must see every flag of the real flag set, so
	// that a change in the help's layout cannot make this test vacuous.
	cfg, err := parseFlags([]string{"--help"}, func(string) string { return "" })
	if err != errHelp {
		t.Fatalf("parseFlags(--help): %v", err)
	}
	cfg.fs.VisitAll(func(f *flag.Flag) {
		if def, ok := help[f.Name]; !ok || def != f.DefValue {
			t.Errorf("masterd --help: flag --%s shows default %q (listed: %v); its flag set says %q", f.Name, def, ok, f.DefValue)
		}
	})

	flagdoc.Check(t, "masterd --help", help, "../docs/operations.md", "### masterd flags")
}
