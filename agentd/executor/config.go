package executor

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"meseta/core"
	"net"
	"strconv"
	"strings"
	"time"
)

// Environment variables the agent sets for an executor, as Mesos names
// them.
const (
	EnvFrameworkID            = "MESOS_FRAMEWORK_ID"
	EnvExecutorID             = "MESOS_EXECUTOR_ID"
	EnvDirectory              = "MESOS_DIRECTORY"
	EnvSandbox                = "MESOS_SANDBOX"
	EnvAgentEndpoint          = "MESOS_AGENT_ENDPOINT"
	EnvCheckpoint             = "MESOS_CHECKPOINT"
	EnvRecoveryTimeout        = "MESOS_RECOVERY_TIMEOUT"
	EnvSubscriptionBackoffMax = "MESOS_SUBSCRIPTION_BACKOFF_MAX"
	EnvShutdownGracePeriod    = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"
	EnvAuthToken              = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"
)

// Environment variables the executors set for a task.
const (
	EnvTaskID = "MESOS_TASK_ID"
)

// DefaultShutdownGracePeriod is the kill grace period used when neither
// the KILL event, the task nor the environment gives one; it is Mesos's
// default for --executor_shutdown_grace_period.
const DefaultShutdownGracePeriod = 5 * time.Second

// Mode selects which of the built-in executors runs.
type Mode string

const (
	// ModeCommand is the Mesos command executor: one task from LAUNCH,
	// run from its CommandInfo in the executor's sandbox.
	ModeCommand Mode = "command"
	// ModeDefault is the Mesos default executor: task groups from
	// LAUNCH_GROUP, each task in <sandbox>/tasks/<task_id>/.
	ModeDefault Mode = "default"
)

// config is everything Main reads from its flags and environment.
type config struct {
	mode          Mode
	frameworkID   string
	executorID    string
	sandbox       string // MESOS_SANDBOX, else MESOS_DIRECTORY
	agentEndpoint string // host:port
	authToken     string

	checkpoint      bool
	recoveryTimeout time.Duration // only when checkpoint
	backoffMax      time.Duration // only when checkpoint
	shutdownGrace   time.Duration
}

// errHelp is parseConfig's answer to -h: print usage, exit 0.
var errHelp = flag.ErrHelp

// parseConfig reads the flags after "executor" and the environment.
// Errors name the flag or variable at fault; usage text for flag errors
// goes to usage.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("agentd executor", flag.ContinueOnError)
	fs.SetOutput(usage)
	mode := fs.String("mode", "", "which executor to run: command (one CommandInfo task) or default (LAUNCH_GROUP task groups)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch m := Mode(*mode); m {
	case ModeCommand, ModeDefault:
		c.mode = m
	case "":
		return c, errors.New("--mode is required (command or default)")
	default:
		return c, fmt.Errorf("--mode=%q: want command or default", *mode)
	}

	required := func(name string) (string, error) {
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("%s is not set", name)
		}
		return v, nil
	}
	var err error
	if c.frameworkID, err = required(EnvFrameworkID); err != nil {
		return c, err
	}
	if c.executorID, err = required(EnvExecutorID); err != nil {
		return c, err
	}
	if c.agentEndpoint, err = required(EnvAgentEndpoint); err != nil {
		return c, err
	}
	host, port, err := net.SplitHostPort(c.agentEndpoint)
	if err != nil || host == "" || strings.Contains(c.agentEndpoint, "/") {
		return c, fmt.Errorf("%s=%q: want host:port", EnvAgentEndpoint, c.agentEndpoint)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return c, fmt.Errorf("%s=%q: bad port %q", EnvAgentEndpoint, c.agentEndpoint, port)
	}
	c.sandbox = getenv(EnvSandbox)
	if c.sandbox == "" {
		c.sandbox = getenv(EnvDirectory)
	}
	if c.sandbox == "" {
		return c, fmt.Errorf("%s (or %s) is not set", EnvSandbox, EnvDirectory)
	}
	c.authToken = getenv(EnvAuthToken)

	switch v := getenv(EnvCheckpoint); v {
	case "1", "true":
		c.checkpoint = true
	case "", "0", "false":
	default:
		return c, fmt.Errorf("%s=%q: want 1, true, 0 or false", EnvCheckpoint, v)
	}

	duration := func(name string, def time.Duration, need bool) (time.Duration, error) {
		v := getenv(name)
		if v == "" {
			if need {
				return 0, fmt.Errorf("%s is not set (required when %s is set)", name, EnvCheckpoint)
			}
			return def, nil
		}
		d, err := core.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return d, nil
	}
	if c.shutdownGrace, err = duration(EnvShutdownGracePeriod, DefaultShutdownGracePeriod, false); err != nil {
		return c, err
	}
	// The recovery variables are only set, and only needed, with
	// checkpointing; when present without it they are still checked.
	if c.recoveryTimeout, err = duration(EnvRecoveryTimeout, 0, c.checkpoint); err != nil {
		return c, err
	}
	if c.backoffMax, err = duration(EnvSubscriptionBackoffMax, 0, c.checkpoint); err != nil {
		return c, err
	}
	if c.checkpoint && c.backoffMax <= 0 {
		return c, fmt.Errorf("%s must be positive", EnvSubscriptionBackoffMax)
	}
	return c, nil
}
