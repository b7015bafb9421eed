// Command customexec is a minimal third-party executor written only
// against the documented Mesos v1 executor HTTP API and the standard
// library (it imports nothing from meseta), for end-to-end tests.
//
// At start it records its MESOS_* environment in
// $MESOS_SANDBOX/customexec.env (sorted NAME=value lines), for tests to
// check what the agent gave it. It subscribes to
// http://$MESOS_AGENT_ENDPOINT/api/v1/executor and reads the RecordIO
// event stream itself. On LAUNCH it writes the task id to
// $MESOS_SANDBOX/customexec.ran, sends TASK_RUNNING, runs command.value
// (or the task's data, since Mesos refuses a task with both an executor
// and a command) with /bin/sh -c in the sandbox and reports TASK_FINISHED
// (exit 0) or TASK_FAILED. KILL kills the task's process group and
// reports TASK_KILLED; SHUTDOWN kills everything and exits. It exits 0
// once every task has ended and every update was acknowledged, and 1 if
// the stream breaks.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type id struct {
	Value string `json:"value"`
}

type event struct {
	Type       string `json:"type"`
	Subscribed *struct {
		AgentInfo struct {
			ID *id `json:"id"`
		} `json:"agent_info"`
	} `json:"subscribed"`
	Launch *struct {
		Task struct {
			TaskID  id     `json:"task_id"`
			Command *id    `json:"command"` // CommandInfo: only its value
			Data    []byte `json:"data"`    // base64 in JSON
		} `json:"task"`
	} `json:"launch"`
	Kill *struct {
		TaskID id `json:"task_id"`
	} `json:"kill"`
	Acknowledged *struct {
		UUID string `json:"uuid"` // base64
	} `json:"acknowledged"`
}

type executor struct {
	url, frameworkID, executorID, sandbox string

	mu      sync.Mutex
	agentID string
	pending map[string]bool      // uuids sent, not yet acknowledged
	running map[string]*exec.Cmd // live tasks by id
	killed  map[string]bool
	started int
	sendMu  sync.Mutex // keeps each task's updates in order
}

func main() {
	e := &executor{
		url:         "http://" + os.Getenv("MESOS_AGENT_ENDPOINT") + "/api/v1/executor",
		frameworkID: os.Getenv("MESOS_FRAMEWORK_ID"),
		executorID:  os.Getenv("MESOS_EXECUTOR_ID"),
		sandbox:     os.Getenv("MESOS_SANDBOX"),
		pending:     map[string]bool{},
		running:     map[string]*exec.Cmd{},
		killed:      map[string]bool{},
	}
	if e.frameworkID == "" || e.executorID == "" || e.sandbox == "" || os.Getenv("MESOS_AGENT_ENDPOINT") == "" {
		fmt.Fprintln(os.Stderr, "customexec: MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID and MESOS_SANDBOX must be set")
		os.Exit(2)
	}
	if err := recordEnv(filepath.Join(e.sandbox, "customexec.env")); err != nil {
		fmt.Fprintln(os.Stderr, "customexec: record the environment:", err)
		os.Exit(2)
	}
	os.Exit(e.run())
}

// recordEnv writes the MESOS_* variables of the environment to path.
func recordEnv(path string) error {
	var lines []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MESOS_") {
			lines = append(lines, kv+"\n")
		}
	}
	sort.Strings(lines)
	return os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
}

// post sends one call; SUBSCRIBE's response body is the event stream.
func (e *executor) post(client *http.Client, typ string, body map[string]any) (*http.Response, error) {
	c := map[string]any{"type": typ, "framework_id": id{e.frameworkID}, "executor_id": id{e.executorID}}
	for k, v := range body {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return client.Do(req)
}

func (e *executor) run() int {
	resp, err := e.post(http.DefaultClient, "SUBSCRIBE", map[string]any{"subscribe": map[string]any{}})
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s", resp.Status)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "customexec: subscribe:", err)
		return 1
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	for {
		rec, err := readRecord(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, "customexec: event stream:", err)
			return 1
		}
		var ev event
		if err := json.Unmarshal(rec, &ev); err != nil {
			fmt.Fprintln(os.Stderr, "customexec: bad event:", err)
			return 1
		}
		if e.handle(&ev) {
			return 0
		}
	}
}

// readRecord reads one RecordIO record: decimal length, '\n', data.
func readRecord(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseUint(line[:len(line)-1], 10, 31)
	if err != nil {
		return nil, fmt.Errorf("bad record length %q", line)
	}
	buf := make([]byte, n)
	_, err = io.ReadFull(r, buf)
	return buf, err
}

// handle processes one event and reports whether the executor is done.
func (e *executor) handle(ev *event) bool {
	switch ev.Type {
	case "SUBSCRIBED":
		if a := ev.Subscribed.AgentInfo.ID; a != nil {
			e.mu.Lock()
			e.agentID = a.Value
			e.mu.Unlock()
		}
	case "LAUNCH":
		script := string(ev.Launch.Task.Data)
		if c := ev.Launch.Task.Command; c != nil {
			script = c.Value
		}
		e.launch(ev.Launch.Task.TaskID.Value, script)
	case "KILL":
		e.mu.Lock()
		if cmd := e.running[ev.Kill.TaskID.Value]; cmd != nil {
			e.killed[ev.Kill.TaskID.Value] = true
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		e.mu.Unlock()
	case "ACKNOWLEDGED":
		e.mu.Lock()
		delete(e.pending, ev.Acknowledged.UUID)
		e.mu.Unlock()
	case "SHUTDOWN":
		e.mu.Lock()
		for _, cmd := range e.running {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		e.mu.Unlock()
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started > 0 && len(e.running) == 0 && len(e.pending) == 0
}

func (e *executor) launch(taskID, script string) {
	e.mu.Lock()
	e.started++
	e.mu.Unlock()
	err := os.WriteFile(filepath.Join(e.sandbox, "customexec.ran"), []byte(taskID+"\n"), 0o644)
	if err == nil && script == "" {
		err = fmt.Errorf("task has neither command nor data")
	}
	var cmd *exec.Cmd
	if err == nil {
		cmd = exec.Command("/bin/sh", "-c", script)
		cmd.Dir, cmd.Stdout, cmd.Stderr = e.sandbox, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so KILL reaches its children
		err = cmd.Start()
	}
	if err != nil {
		e.update(taskID, "TASK_FAILED", err.Error())
		return
	}
	e.mu.Lock()
	e.running[taskID] = cmd
	e.mu.Unlock()
	e.update(taskID, "TASK_RUNNING", "")
	go func() {
		err := cmd.Wait()
		e.mu.Lock()
		killed := e.killed[taskID]
		e.mu.Unlock()
		state := "TASK_FINISHED"
		switch {
		case killed:
			state = "TASK_KILLED"
		case err != nil:
			state = "TASK_FAILED"
		}
		msg := "Command exited with status 0"
		if err != nil {
			msg = err.Error()
		}
		e.update(taskID, state, msg)
	}()
}

// update sends a status update and remembers it until acknowledged; a
// terminal update also forgets the task's process, in the same critical
// section, so that the exit check never sees one without the other.
func (e *executor) update(taskID, state, msg string) {
	raw := make([]byte, 16)
	rand.Read(raw)
	uuid := base64.StdEncoding.EncodeToString(raw)
	e.mu.Lock()
	e.pending[uuid] = true
	if state != "TASK_RUNNING" {
		delete(e.running, taskID)
	}
	status := map[string]any{
		"task_id": id{taskID}, "state": state, "message": msg, "source": "SOURCE_EXECUTOR", "uuid": uuid,
		"executor_id": id{e.executorID}, "agent_id": id{e.agentID}, "timestamp": float64(time.Now().UnixNano()) / 1e9,
	}
	e.mu.Unlock()
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := e.post(client, "UPDATE", map[string]any{"update": map[string]any{"status": status}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "customexec: update:", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintln(os.Stderr, "customexec: update:", resp.Status)
	}
}
