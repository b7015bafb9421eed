package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of Main.
const (
	exitOK    = 0 // every task ended and was acknowledged, or SHUTDOWN done
	exitLost  = 1 // the agent was lost; tasks were killed
	exitUsage = 2 // bad flags or environment
)

// Main runs an executor; args are the flags after "executor"
// (--mode=command|default), getenv reads the environment. It returns the
// process exit code: 0 when every launched task has an acknowledged
// terminal update (or after SHUTDOWN), 1 when the agent was lost and the
// tasks were killed, 2 for bad flags or environment. Tasks of the command
// executor write to the executor's own stdout and stderr. SIGTERM and
// SIGINT shut the executor down as SHUTDOWN does.
func Main(args []string, getenv func(string) string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return run(context.Background(), args, getenv, runOptions{
		stderr:     os.Stderr,
		taskStdout: os.Stdout,
		taskStderr: os.Stderr,
		signals:    sigs,
	})
}

// runOptions are Main's connections to the process, replaceable in tests.
type runOptions struct {
	stderr                 io.Writer // errors and logs
	taskStdout, taskStderr *os.File  // command-mode task output
	signals                <-chan os.Signal
}

func run(ctx context.Context, args []string, getenv func(string) string, o runOptions) int {
	cfg, err := parseConfig(args, getenv, o.stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "agentd executor: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(o.stderr, nil)).With(
		"executor_id", cfg.executorID, "framework_id", cfg.frameworkID)
	return newExecutor(cfg, log, o.taskStdout, o.taskStderr).run(ctx, o.signals)
}
