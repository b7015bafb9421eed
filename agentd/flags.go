package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"meseta/core"
	"meseta/core/election"
	"meseta/core/flagenv"
	"meseta/core/mesos"
)

// config is agentd's flags, with Mesos's names and defaults.
type config struct {
	master, ip, hostname, workDir, resources, attributes string
	port                                                 int
	shutdownGrace, registrationBackoff                   time.Duration
	executorRegistrationTimeout, recoveryTimeout         time.Duration
	statusRetryMin                                       time.Duration
	isolation, logLevel                                  string
	recoverMode                                          string
	strict                                               bool
	executorReregistrationTimeout                        time.Duration
	zkSessionTimeout                                     time.Duration
	// gcDelay is how long a sandbox stays after the agent forgot its
	// executor (sandboxgc.go).
	gcDelay time.Duration

	// zkServers and zkPath are --master=zk://servers/path parsed; zkServers
	// is nil when --master is one host:port.
	zkServers []string
	zkPath    string

	fs *flag.FlagSet
}

var errHelp = errors.New("help requested")

func parseFlags(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("agentd", flag.ContinueOnError)
	fs.StringVar(&c.master, "master", "",
		"the master: host:port, or zk://host1:port1,host2:port2/path to follow the leading master of a ZooKeeper election (required)")
	fs.StringVar(&c.ip, "ip", "127.0.0.1", "IP address to listen on and advertise")
	fs.IntVar(&c.port, "port", 5051, "port to listen on (0: any free port)")
	fs.StringVar(&c.hostname, "hostname", "", "hostname to advertise (default: the machine's hostname)")
	fs.StringVar(&c.workDir, "work_dir", "", "directory for sandboxes and agent state (required)")
	fs.StringVar(&c.resources, "resources", "", "total resources, e.g. cpus:4;mem:8192;disk:10000;ports:[31000-32000] (default: detected)")
	fs.StringVar(&c.attributes, "attributes", "", "attributes, e.g. rack:r1;zone:z2")
	flagenv.DurationVar(fs, &c.shutdownGrace, "executor_shutdown_grace_period", 5*time.Second,
		"time between SIGTERM and SIGKILL when killing tasks and executors")
	flagenv.DurationVar(fs, &c.registrationBackoff, "registration_backoff_factor", time.Second,
		"initial backoff between attempts to (re-)register with the master; doubles up to 1mins")
	flagenv.DurationVar(fs, &c.executorRegistrationTimeout, "executor_registration_timeout", time.Minute,
		"time an executor has to subscribe before it is killed")
	flagenv.DurationVar(fs, &c.recoveryTimeout, "recovery_timeout", 15*time.Minute,
		"time a disconnected executor of a checkpointing framework keeps retrying")
	flagenv.DurationVar(fs, &c.statusRetryMin, "status_update_retry_interval", 10*time.Second,
		"first retry interval of unacknowledged status updates; doubles up to 10mins (meseta)")
	fs.StringVar(&c.recoverMode, "recover", "reconnect",
		"after a restart: reconnect to live executors, or cleanup (kill them, report their tasks, and exit)")
	fs.BoolVar(&c.strict, "strict", true, "any checkpoint error at start-up is fatal; false recovers what it can")
	flagenv.DurationVar(fs, &c.executorReregistrationTimeout, "executor_reregistration_timeout", 2*time.Second,
		"time a live executor has to re-subscribe after an agent restart")
	flagenv.DurationVar(fs, &c.gcDelay, "gc_delay", 7*24*time.Hour,
		"how long an executor's sandbox stays after the executor ended")
	flagenv.DurationVar(fs, &c.zkSessionTimeout, "zk_session_timeout", 10*time.Second,
		"ZooKeeper session timeout, with --master=zk://")
	fs.StringVar(&c.isolation, "isolation", "auto", "task limits: auto (cgroups when available), cgroups (required) or none")
	fs.StringVar(&c.logLevel, "log_level", "info", "debug, info, warn or error")
	c.fs = fs
	if err := flagenv.Parse(fs, args, getenv, "MESETA_"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return nil, err
	}
	switch {
	case c.master == "":
		return nil, fmt.Errorf("flag --master is required (host:port of the master, or zk://host1:port1,host2:port2/path)")
	case c.workDir == "":
		return nil, fmt.Errorf("flag --work_dir is required")
	case c.port < 0 || c.port > 65535:
		return nil, fmt.Errorf("invalid value %d for flag --port: want 0 to 65535", c.port)
	case c.isolation != "auto" && c.isolation != "cgroups" && c.isolation != "none":
		return nil, fmt.Errorf("invalid value %q for flag --isolation: want auto, cgroups or none", c.isolation)
	case c.recoverMode != "reconnect" && c.recoverMode != "cleanup":
		return nil, fmt.Errorf("invalid value %q for flag --recover: want reconnect or cleanup", c.recoverMode)
	case c.statusRetryMin <= 0:
		return nil, fmt.Errorf("invalid value for flag --status_update_retry_interval: must be positive")
	case c.zkSessionTimeout <= 0:
		return nil, fmt.Errorf("invalid value for flag --zk_session_timeout: must be positive")
	case c.gcDelay < 0:
		return nil, fmt.Errorf("invalid value for flag --gc_delay: must not be negative")
	}
	// The sandboxes' paths are made from the work_dir and used as working
	// directories by the executors, which resolve them again from there:
	// they must be absolute.
	abs, err := filepath.Abs(c.workDir)
	if err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --work_dir: %w", c.workDir, err)
	}
	c.workDir = abs
	if strings.Contains(c.master, "://") {
		servers, path, err := election.ParseURL(c.master)
		if err != nil {
			return nil, fmt.Errorf("invalid value %q for flag --master: %w", c.master, err)
		}
		c.zkServers, c.zkPath = servers, path
	} else if _, _, err := net.SplitHostPort(c.master); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --master: want host:port or zk://host1:port1,host2:port2/path", c.master)
	}
	if c.hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			h = c.ip
		}
		c.hostname = h
	}
	if _, err := c.totalResources(); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --resources: %v", c.resources, err)
	}
	if _, err := mesos.ParseAttributes(c.attributes); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --attributes: %v", c.attributes, err)
	}
	return c, nil
}

// totalResources is --resources, or what the machine has: all CPUs, the
// memory less 1 GiB (half when under 2 GiB), the work_dir's free disk
// less 5 GiB (half when under 10 GiB), and ports 31000-32000, as Mesos
// detects them. Names the flag leaves out are detected too.
func (c *config) totalResources() (core.Resources, error) {
	given, err := core.ParseResources(c.resources)
	if err != nil {
		return nil, err
	}
	var detected []string
	if !given.Has("cpus") {
		detected = append(detected, fmt.Sprintf("cpus:%d", runtime.NumCPU()))
	}
	if !given.Has("mem") {
		detected = append(detected, fmt.Sprintf("mem:%d", detectMemMB()))
	}
	if !given.Has("disk") {
		detected = append(detected, fmt.Sprintf("disk:%d", detectDiskMB(c.workDir)))
	}
	if !given.Has("ports") {
		detected = append(detected, "ports:[31000-32000]")
	}
	for _, d := range detected {
		given = given.Add(core.MustParseResources(d))
	}
	return given, nil
}

func detectMemMB() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 1024
	}
	total := int64(si.Totalram) * int64(si.Unit) >> 20
	if total >= 2048 {
		return total - 1024
	}
	return total / 2
}

func detectDiskMB(dir string) int64 {
	var st syscall.Statfs_t
	for d := dir; ; d = parentDir(d) {
		if err := syscall.Statfs(d, &st); err == nil {
			break
		}
		if d == "/" || d == "." || d == "" {
			return 1024
		}
	}
	total := int64(st.Bavail) * st.Bsize >> 20
	if total >= 10240 {
		return total - 5120
	}
	return total / 2
}

func parentDir(d string) string {
	for i := len(d) - 1; i > 0; i-- {
		if d[i] == '/' {
			return d[:i]
		}
	}
	return "/"
}
