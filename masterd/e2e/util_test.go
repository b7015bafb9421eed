package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"meseta/core/mesos"
)

// alive reports whether a process exists (and is not a zombie of ours).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// postSubscribe sends a SUBSCRIBE and returns the status code and, for
// errors, the body; a 200 stream is closed at once.
func postSubscribe(t *testing.T, master string, info mesos.FrameworkInfo, id string) (int, string) {
	t.Helper()
	if id != "" {
		info.ID = &mesos.ID{Value: id}
	}
	body, _ := json.Marshal(&mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: info}})
	req, _ := http.NewRequest("POST", "http://"+master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		return 200, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getJSONList(t *testing.T, url string) []any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
	return out
}

// processesWith lists the pids of live processes whose command line
// contains s.
func processesWith(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) && !isZombie(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// requireOwnSession fails the test unless the executor with this pid
// leads its own session and process group, apart from its agent's: an
// agent crash (or a signal to the agent's group) must not reach it.
func requireOwnSession(t *testing.T, pid int, agent *proc) {
	t.Helper()
	// getsid(2); the syscall package has no wrapper for it on Linux.
	r, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		t.Fatalf("getsid(%d): %v", pid, errno)
	}
	sid := int(r)
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatalf("getpgid(%d): %v", pid, err)
	}
	agentPgid, err := syscall.Getpgid(agent.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("getpgid(%s): %v", agent.name, err)
	}
	if sid != pid || pgid != pid || pgid == agentPgid {
		t.Fatalf("executor %d: session %d, process group %d (the agent's group %d); want its own session and group",
			pid, sid, pgid, agentPgid)
	}
}
