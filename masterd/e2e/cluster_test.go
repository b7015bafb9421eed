package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meseta/core/daemon/launch"
)

// proc is a daemon started by a test.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	addr string // host:port it printed
	log  string // its stderr file
	done chan struct{}
	// stopSig is what stop sends first.
	stopSig syscall.Signal
}

// start runs a daemon, waits (bounded) for its "listening on" line, and
// stops it when the test ends. Its stderr is kept in a file and shown
// when the test fails.
func start(t *testing.T, name, path string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{}), stopSig: syscall.SIGTERM}
	if path == bin.agentd {
		// A full stop: SIGTERM would leave checkpointed executors running.
		p.stopSig = syscall.SIGUSR1
	}
	addrc := launch.Addr(out)
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("MESETA_E2E_DUMP") != "" {
			// Debugging aid: a goroutine dump of every daemon into its log.
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		p.stop()
		// The daemons are built with -race when the tests are: a race
		// report in their logs fails the test, unless it is a known race
		// inside a library (launch.RaceReports).
		if b, err := os.ReadFile(logPath); err == nil {
			if reports, unknown := launch.RaceReports(b); unknown > 0 {
				t.Errorf("%s reported a data race; see its log", name)
			} else if reports > 0 {
				t.Logf("%s reported %d known library data races (launch.RaceReports)", name, reports)
			}
		}
		if dir := os.Getenv("MESETA_E2E_DUMP"); t.Failed() && dir != "" {
			b, _ := os.ReadFile(logPath)
			_ = os.WriteFile(filepath.Join(dir, t.Name()+"-"+name+".log"), b, 0o644)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log (last 6000 bytes) ---\n%s", name, tail(b, 6000))
		}
	})
	select {
	case p.addr = <-addrc:
	case <-p.done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s exited before listening:\n%s", name, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start listening within 30s", name)
	}
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// stop sends SIGTERM and waits; SIGKILL after 10 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s: %v", p.name, err)
	}
}

type clusterOpts struct {
	agents      int
	agentRes    string // --resources of every agent
	masterFlags []string
	agentFlags  []string
}

// cluster is a master and its agents.
type cluster struct {
	t       *testing.T
	dir     string
	master  *proc
	agents  []*proc
	opts    clusterOpts
	masterW string
}

func newCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	if o.agentRes == "" {
		o.agentRes = "cpus:4;mem:2048;disk:4096;ports:[31000-31100]"
	}
	c := &cluster{t: t, dir: t.TempDir(), opts: o}
	c.masterW = filepath.Join(c.dir, "master")
	// Registered before the daemons', so it runs after they stopped:
	// no executor or task of this cluster may outlive its agents. On
	// failure, the executors' stderr files are shown too.
	t.Cleanup(func() {
		c.checkNoLeaks()
		if t.Failed() {
			_ = filepath.Walk(c.dir, func(path string, info os.FileInfo, err error) error {
				if err == nil && info.Name() == "stderr" && info.Size() > 0 {
					b, _ := os.ReadFile(path)
					t.Logf("--- %s ---\n%s", path[len(c.dir):], tail(b, 2000))
				}
				return nil
			})
		}
	})
	c.startMaster("0")
	for i := range o.agents {
		c.addAgent(fmt.Sprintf("agent%d", i))
	}
	c.waitAgents(o.agents)
	return c
}

func (c *cluster) startMaster(port string) {
	args := append([]string{"--ip=127.0.0.1", "--port=" + port, "--work_dir=" + c.masterW,
		"--allocation_interval=100ms", "--heartbeat_interval=300ms"}, c.opts.masterFlags...)
	c.master = start(c.t, "masterd", bin.masterd, args...)
}

func (c *cluster) addAgent(name string) *proc {
	return c.startAgent(name, "0")
}

// restartAgent starts agent i again, on its old port and work dir (its
// executors find it at the address they were given), after the test
// killed or stopped it.
func (c *cluster) restartAgent(i int, extra ...string) *proc {
	old := c.agents[i]
	port := old.addr[strings.LastIndex(old.addr, ":")+1:]
	p := c.startAgent(old.name, port, extra...)
	c.agents[i] = p
	return p
}

func (c *cluster) startAgent(name, port string, extra ...string) *proc {
	args := append([]string{"--master=" + c.master.addr, "--ip=127.0.0.1", "--port=" + port,
		"--work_dir=" + filepath.Join(c.dir, name), "--resources=" + c.opts.agentRes,
		"--registration_backoff_factor=100ms", "--executor_shutdown_grace_period=1secs",
		"--status_update_retry_interval=1secs", "--attributes=rack:" + name}, c.opts.agentFlags...)
	p := start(c.t, name, bin.agentd, append(args, extra...)...)
	if port == "0" {
		c.agents = append(c.agents, p)
	}
	return p
}

func (c *cluster) url(path string) string { return "http://" + c.master.addr + path }

// waitAgents waits until n agents are registered and active.
func (c *cluster) waitAgents(n int) {
	c.t.Helper()
	eventually(c.t, 20*time.Second, fmt.Sprintf("%d active agents", n), func() bool {
		st := getJSON(c.t, c.url("/master/state"))
		return num(st["activated_slaves"]) == float64(n)
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
	return out
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// frameworkState returns the framework's entry in /master/frameworks.
func (c *cluster) frameworkState(id string) map[string]any {
	st := getJSON(c.t, c.url("/master/frameworks"))
	for _, key := range []string{"frameworks", "completed_frameworks"} {
		list, _ := st[key].([]any)
		for _, f := range list {
			fm := f.(map[string]any)
			if fm["id"] == id {
				return fm
			}
		}
	}
	return nil
}

// checkNoLeaks fails the test if any process whose environment places it
// in this cluster's sandboxes is still alive (bounded wait: the agents
// kill their executors as they stop).
func (c *cluster) checkNoLeaks() {
	var left []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		left = left[:0]
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err != nil {
				continue
			}
			for _, kv := range strings.Split(string(b), "\x00") {
				if strings.HasPrefix(kv, "MESOS_DIRECTORY="+c.dir) && !isZombie(e.Name()) {
					left = append(left, e.Name())
				}
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		c.t.Errorf("processes of this cluster's tasks outlived its agents: pids %v", left)
		for _, pid := range left {
			if n, err := strconv.Atoi(pid); err == nil {
				_ = syscall.Kill(n, syscall.SIGKILL)
			}
		}
	}
}

func isZombie(pid string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
