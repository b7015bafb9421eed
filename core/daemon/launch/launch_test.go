package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAddr(t *testing.T) {
	out := "starting\nmasterd 0.3.0 listening on http://127.0.0.1:5050 (id x)\nagain listening on http://127.0.0.1:1\n"
	select {
	case a := <-Addr(strings.NewReader(out)):
		if a != "127.0.0.1:5050" {
			t.Fatalf("Addr = %q", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no address")
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("ModuleRoot %s: %v", root, err)
	}
}
