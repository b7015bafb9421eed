package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"meseta/core/daemon/launch"
)

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devcluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workDir := fs.String("work_dir", ".meseta", "directory for the master's registry and the agents' sandboxes")
	masterPort := fs.Int("master_port", 5050, "the master's port (0: any free port)")
	agentPort := fs.Int("agent_port", 5051, "the first agent's port; the others follow (0: any free ports)")
	agents := fs.Int("agents", 3, "number of agents")
	binDir := fs.String("bin", "", "directory holding masterd and agentd (default: next to this program)")
	resources := fs.String("resources", "cpus:4;mem:4096;disk:8192;ports:[31000-32000]", "--resources of each agent")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *agents < 1 || *agents > 100 {
		fmt.Fprintf(stderr, "devcluster: invalid value %d for flag --agents: want 1 to 100\n", *agents)
		return 2
	}
	if *binDir == "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "devcluster: %v\n", err)
			return 1
		}
		*binDir = filepath.Dir(self)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := up(ctx, stdout, stderr, *workDir, *binDir, *resources, *masterPort, *agentPort, *agents); err != nil {
		fmt.Fprintf(stderr, "devcluster: %v\n", err)
		return 1
	}
	return 0
}

// child is one daemon.
type child struct {
	name string
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	// stopSig: SIGTERM for the master; SIGUSR1 for agents, which makes
	// an agent stop all its executors (SIGTERM leaves checkpointed ones
	// running for the next agent).
	stopSig syscall.Signal
}

func startChild(name, path string, log io.Writer, args ...string) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Stderr = log
	// Their own process group: a terminal's Ctrl-C reaches devcluster
	// only, which then stops agents (and their tasks) before the master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), stopSig: syscall.SIGTERM}
	addr := launch.Addr(out)
	go func() { _ = cmd.Wait(); close(c.done) }()
	select {
	case c.addr = <-addr:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s exited at start; see its log", name)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start within 30s", name)
	}
}

func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(c.stopSig)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func up(ctx context.Context, stdout, stderr io.Writer, workDir, binDir, resources string, masterPort, agentPort, agents int) error {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(workDir, "cluster.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	var children []*child
	defer func() {
		// Agents first, so their tasks stop, then the master.
		for i := len(children) - 1; i >= 0; i-- {
			children[i].stop()
		}
	}()
	master, err := startChild("masterd", filepath.Join(binDir, "masterd"), logf,
		"--ip=127.0.0.1", "--port="+strconv.Itoa(masterPort), "--registry=pebble",
		"--work_dir="+filepath.Join(workDir, "master"), "--cluster=meseta-dev")
	if err != nil {
		return err
	}
	children = append(children, master)
	for i := range agents {
		port := 0
		if agentPort != 0 {
			port = agentPort + i
		}
		a, err := startChild(fmt.Sprintf("agent%d", i), filepath.Join(binDir, "agentd"), logf,
			"--master="+master.addr, "--ip=127.0.0.1", "--port="+strconv.Itoa(port),
			"--work_dir="+filepath.Join(workDir, fmt.Sprintf("agent%d", i)), "--resources="+resources,
			fmt.Sprintf("--attributes=rack:r%d", i%2))
		if err != nil {
			return err
		}
		a.stopSig = syscall.SIGUSR1
		children = append(children, a)
	}
	if err := waitAgents(ctx, master.addr, agents); err != nil {
		return err
	}
	api := "http://" + master.addr
	fmt.Fprintf(stdout, `meseta is up: 1 master and %d agents (logs: %s)
  API:  %s/api/v1/scheduler   (Mesos v1 scheduler API, JSON)
  UI:   %s/
  try:  curl -s %s/master/state-summary
Press Ctrl-C to stop.
`, agents, logPath, api, api, api)

	died := make(chan *child, len(children))
	for _, c := range children {
		go func() { <-c.done; died <- c }()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping...")
		return nil
	case c := <-died:
		return fmt.Errorf("%s exited unexpectedly; see %s", c.name, logPath)
	}
}

func waitAgents(ctx context.Context, master string, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		resp, err := http.Get("http://" + master + "/master/state")
		if err == nil {
			var st struct {
				Active int `json:"activated_slaves"`
			}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil && st.Active == n {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%d agents did not register within 30s", n)
}
