package main

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFlagsDocumented checks that docs/operations.md lists exactly the
// flags that `masterd --help` prints, each with the default --help shows.
// agentd, `agentd executor` and devcluster have the same test.
func TestFlagsDocumented(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("masterd --help exited %d: %s", code, stderr.String())
	}
	help := parseFlagenvHelp(stdout.String())

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

	docs := docFlags(t, "../docs/operations.md", "### masterd flags")
	compareFlags(t, "masterd --help", help, "docs/operations.md (### masterd flags)", docs)
}

// parseFlagenvHelp reads the flag lines of a daemon's --help, as
// flagenv.Usage writes them ("  --name=default"), into name -> default.
func parseFlagenvHelp(help string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(help, "\n") {
		rest, ok := strings.CutPrefix(line, "  --")
		if !ok {
			continue
		}
		name, def, _ := strings.Cut(rest, "=")
		out[name] = def
	}
	return out
}

// docRow matches a flag row of a table in docs/operations.md:
// | `--name` | default | meaning |
var docRow = regexp.MustCompile("^\\|\\s*`--([a-z0-9_]+)`\\s*\\|")

// docFlags reads the flag table under heading in the docs file at path:
// every row whose first cell is `--name`, up to the next heading. The
// default cell is a code span (with `\|` for a literal |), or the word
// none for an empty default.
func docFlags(t *testing.T, path, heading string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == heading {
			start = i + 1
			break
		}
	}
	if start < 0 {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	out := map[string]string{}
	for _, l := range lines[start:] {
		if strings.HasPrefix(l, "#") {
			break
		}
		m := docRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name := m[1]
		cells := splitRow(l)
		if len(cells) < 3 {
			t.Errorf("%s: the row of --%s has %d cells, want flag | default | meaning", path, name, len(cells))
			continue
		}
		def := strings.TrimSpace(cells[1])
		switch {
		case def == "none":
			def = ""
		case len(def) >= 2 && strings.HasPrefix(def, "`") && strings.HasSuffix(def, "`"):
			def = strings.ReplaceAll(def[1:len(def)-1], `\|`, "|")
		default:
			t.Errorf("%s: --%s: default cell %q is neither a `code span` nor none", path, name, def)
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("%s (%s): --%s is listed twice", path, heading, name)
		}
		out[name] = def
	}
	if len(out) == 0 {
		t.Fatalf("%s: no flag rows under %q", path, heading)
	}
	return out
}

// splitRow splits a Markdown table row into its cells, on the | that are
// not escaped as \|.
func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteString(`\|`)
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		cells = append(cells, cur.String())
	}
	return cells
}

// compareFlags reports every flag missing from docs, every flag docs
// list that the binary does not have, and every default that differs.
func compareFlags(t *testing.T, binName string, bin map[string]string, docsName string, docs map[string]string) {
	t.Helper()
	for _, name := range sortedNames(bin) {
		def := bin[name]
		d, ok := docs[name]
		switch {
		case !ok:
			t.Errorf("flag --%s (default %q) of %s is missing from %s", name, def, binName, docsName)
		case d != def:
			t.Errorf("flag --%s: %s says default %q, %s says %q", name, docsName, d, binName, def)
		}
	}
	for _, name := range sortedNames(docs) {
		if _, ok := bin[name]; !ok {
			t.Errorf("%s lists flag --%s, which %s does not have", docsName, name, binName)
		}
	}
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
