package flagdoc

import (
	"flag"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGoFlagHelp reads back the defaults the flag package prints, zero
// values (which it leaves out) included.
func TestGoFlagHelp(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("dir", ".meseta", "where")
	fs.String("empty", "", "nothing")
	fs.Int("n", 3, "count")
	fs.Int("zero", 0, "none")
	fs.Bool("v", false, "verbose")
	fs.Duration("wait", 2*time.Second, "how long")
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	got := GoFlagHelp(b.String())
	want := map[string]string{"dir": ".meseta", "empty": "", "n": "3", "zero": "0", "v": "false", "wait": "2s"}
	if !maps.Equal(got, want) {
		t.Fatalf("GoFlagHelp = %v, want %v\n%s", got, want, b.String())
	}
}

// TestSplitRow keeps an escaped \| inside its cell.
func TestSplitRow(t *testing.T) {
	got := splitRow("| `--resources` | `cpus:4\\|mem:8` | what it offers |")
	want := []string{" `--resources` ", " `cpus:4\\|mem:8` ", " what it offers "}
	if !slices.Equal(got, want) {
		t.Fatalf("splitRow = %q, want %q", got, want)
	}
}
