package launch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ModuleRoot returns the directory of the meseta module the go command
// runs in.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the meseta module")
	}
	return filepath.Dir(mod), nil
}

// Build runs `go build -o out pkg` (pkg relative to the module root, e.g.
// "./masterd"), with -race when race is set.
func Build(out, pkg string, race bool) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

var listenRE = regexp.MustCompile(`listening on http://([0-9.:]+)`)

// Addr reads a daemon's stdout until its end and sends, once, the
// host:port of its "listening on http://ADDR" line. The channel is never
// closed: callers select on it with the process's exit and a deadline.
func Addr(stdout io.Reader) <-chan string {
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	return addr
}
