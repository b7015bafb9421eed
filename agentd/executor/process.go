package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"meseta/core"
	"meseta/core/mesos"
)

// maxPortVars bounds the PORTn variables one task gets; a port range can
// hold no more distinct ports than this.
const maxPortVars = 1 << 16

// launchSpec is how to start one task's process.
type launchSpec struct {
	dir            string   // working directory
	env            []string // complete environment
	stdout, stderr *os.File
}

// buildCommand turns a task's CommandInfo into an exec.Cmd, as Mesos
// does: with shell (the default) `/bin/sh -c value`; without, value is
// the program, looked up in PATH when it has no slash, and arguments is
// the whole argv, argv[0] included (execvp(value, arguments)); an empty
// arguments list runs value with argv = [value]. The process leads its
// own process group so that a kill reaches everything it forked.
func buildCommand(ci *mesos.CommandInfo, spec launchSpec) (*exec.Cmd, error) {
	if ci == nil {
		return nil, errors.New("task has no command")
	}
	if ci.Value == "" {
		return nil, errors.New("task command has no value")
	}
	cmd := &exec.Cmd{
		Dir:         spec.dir,
		Env:         spec.env,
		Stdout:      spec.stdout,
		Stderr:      spec.stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if ci.IsShell() {
		cmd.Path = "/bin/sh"
		cmd.Args = []string{"sh", "-c", ci.Value}
		return cmd, nil
	}
	cmd.Path = ci.Value
	if !strings.Contains(ci.Value, "/") {
		p, err := exec.LookPath(ci.Value)
		if err != nil {
			return nil, err
		}
		cmd.Path = p
	}
	cmd.Args = ci.Arguments
	if len(cmd.Args) == 0 {
		cmd.Args = []string{ci.Value}
	}
	return cmd, nil
}

// taskEnv is the environment of a task's process: base (the executor's
// own, without its authentication token), then MESOS_TASK_ID, the
// variables of extra (in order, key=value), the port variables and last
// the CommandInfo's variables, so that what the framework asked for wins.
// Later entries override earlier ones with the same name.
//
// The port variables follow Marathon: PORT0, PORT1, ... are the task's
// ports in the order of its "ports" range resources, PORTS is the same
// list comma-separated and PORT equals PORT0. A task without ports gets
// none of them.
func taskEnv(base []string, task *mesos.TaskInfo, extra ...string) []string {
	env := make([]string, 0, len(base)+8)
	for _, kv := range base {
		if strings.HasPrefix(kv, EnvAuthToken+"=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, EnvTaskID+"="+task.TaskID.Value)
	env = append(env, extra...)
	ports := taskPorts(task.Resources)
	if len(ports) > 0 {
		list := make([]string, len(ports))
		for i, p := range ports {
			list[i] = strconv.FormatUint(p, 10)
			env = append(env, "PORT"+strconv.Itoa(i)+"="+list[i])
		}
		env = append(env, "PORTS="+strings.Join(list, ","), "PORT="+list[0])
	}
	if ci := task.Command; ci != nil && ci.Environment != nil {
		for _, v := range ci.Environment.Variables {
			if v.Type != "" && v.Type != "VALUE" {
				continue // SECRET variables are not supported
			}
			env = append(env, v.Name+"="+v.Value)
		}
	}
	return dedupEnv(env)
}

// dedupEnv keeps the last value of every name, at the position of the
// name's first appearance.
func dedupEnv(env []string) []string {
	idx := make(map[string]int, len(env))
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[name]; ok {
			out[i] = kv
			continue
		}
		idx[name] = len(out)
		out = append(out, kv)
	}
	return out
}

// taskPorts lists the ports of every "ports" range resource, in order.
func taskPorts(rs core.Resources) []uint64 {
	var ports []uint64
	for _, r := range rs {
		if r.Name != "ports" || r.Type != core.RangesType {
			continue
		}
		for _, rg := range r.Ranges {
			for p := rg.Begin; p <= rg.End && len(ports) < maxPortVars; p++ {
				ports = append(ports, p)
				if p == rg.End { // End may be MaxUint64
					break
				}
			}
		}
	}
	return ports
}

// checkTaskID refuses task IDs that cannot name a directory under
// <sandbox>/tasks/.
func checkTaskID(id string) error {
	switch {
	case id == "":
		return errors.New("task has no task_id")
	case id == "." || id == "..", strings.ContainsAny(id, "/\x00"):
		return fmt.Errorf("task_id %q cannot name a directory", id)
	}
	return nil
}

// openTaskDir creates dir and its stdout and stderr files (appending, so
// that nothing is lost if the directory already holds some).
func openTaskDir(dir string) (stdout, stderr *os.File, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	open := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	if stdout, err = open("stdout"); err != nil {
		return nil, nil, err
	}
	if stderr, err = open("stderr"); err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// exitOutcome is a task process's end, as Mesos's command executor
// reports it.
type exitOutcome struct {
	success bool   // exited with status 0
	message string // "Command exited with status N" / "Command terminated with signal Killed"
}

func describeExit(ps *os.ProcessState, waitErr error) exitOutcome {
	if ps == nil {
		return exitOutcome{message: fmt.Sprintf("Failed to wait for command: %v", waitErr)}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitOutcome{message: "Command terminated with signal " + signalName(ws.Signal())}
	}
	code := ps.ExitCode()
	return exitOutcome{success: code == 0, message: fmt.Sprintf("Command exited with status %d", code)}
}

// signalName is strsignal's text: "Killed", "Terminated", "Interrupt".
func signalName(sig syscall.Signal) string {
	s := sig.String()
	if s == "" || strings.HasPrefix(s, "signal ") {
		return "signal " + strconv.Itoa(int(sig))
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// signalGroup sends sig to the process group led by pid. A group that is
// already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("bad process group %d", pid)
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
