package flagdoc

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Check compares the flags a binary's help lists (name -> default, from
// FlagenvHelp or GoFlagHelp) with the flag table under heading in the
// Markdown file at docPath, and reports on t every flag missing from the
// docs, every flag the docs list that the binary lacks, and every default
// that differs.
func Check(t testing.TB, binName string, help map[string]string, docPath, heading string) {
	t.Helper()
	docs := docFlags(t, docPath, heading)
	compareFlags(t, binName, help, docPath+" ("+heading+")", docs)
}

// FlagenvHelp reads the flag lines of a daemon's --help, as
// flagenv.Usage writes them ("  --name=default"), into name -> default.
func FlagenvHelp(help string) map[string]string {
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

// GoFlagHelp reads the usage text that the flag package prints for
// -h (FlagSet.PrintDefaults: "  -name type" then "    \tusage (default
// X)") into name -> default, as --name=value would spell it.
func GoFlagHelp(help string) map[string]string {
	out := map[string]string{}
	var name, typ string
	var usage []string
	flush := func() {
		if name != "" {
			out[name] = goFlagDefault(typ, strings.Join(usage, " "))
		}
	}
	for _, line := range strings.Split(help, "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			flush()
			head, u, _ := strings.Cut(rest, "\t") // one-letter flags keep their usage on this line
			f := strings.Fields(head)
			name, typ, usage = f[0], "", []string{u}
			if len(f) > 1 {
				typ = f[1]
			}
			continue
		}
		if u, ok := strings.CutPrefix(line, "    \t"); ok && name != "" {
			usage = append(usage, u)
		}
	}
	flush()
	return out
}

// defaultSuffix is the " (default X)" that PrintDefaults appends to the
// usage of a flag whose default is not its type's zero value; X is quoted
// for strings.
var defaultSuffix = regexp.MustCompile(`\(default ("(?:[^"\\]|\\.)*"|[^\s()"]+)\)$`)

// goFlagDefault is the default shown in a flag's usage, or the zero value
// of its type, which PrintDefaults does not show.
func goFlagDefault(typ, usage string) string {
	if m := defaultSuffix.FindStringSubmatch(strings.TrimSpace(usage)); m != nil {
		if v, err := strconv.Unquote(m[1]); err == nil {
			return v
		}
		return m[1]
	}
	switch typ {
	case "":
		return "false" // a bool flag has no type word
	case "int", "int64", "uint", "uint64", "float":
		return "0"
	case "duration":
		return "0s"
	}
	return ""
}

// docRow matches a flag row of a table in docs/operations.md:
// | `--name` | default | meaning |
var docRow = regexp.MustCompile("^\\|\\s*`--([a-z0-9_]+)`\\s*\\|")

// docFlags reads the flag table under heading in the docs file at path:
// every row whose first cell is `--name`, up to the next heading. The
// default cell is a code span (with `\|` for a literal |), or the word
// none for an empty default.
func docFlags(t testing.TB, path, heading string) map[string]string {
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
func compareFlags(t testing.TB, binName string, bin map[string]string, docsName string, docs map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(bin)) {
		def := bin[name]
		d, ok := docs[name]
		switch {
		case !ok:
			t.Errorf("flag --%s (default %q) of %s is missing from %s", name, def, binName, docsName)
		case d != def:
			t.Errorf("flag --%s: %s says default %q, %s says %q", name, docsName, d, binName, def)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		if _, ok := bin[name]; !ok {
			t.Errorf("%s lists flag --%s, which %s does not have", docsName, name, binName)
		}
	}
}
