package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Sandbox garbage collection. The agent removes an executor's sandbox
// (its run directory, <work_dir>/slaves/<agent>/frameworks/<fw>/executors/
// <executor>/runs/<container>) cfg.gcDelay after it forgets the executor:
// the executor has exited and its tasks' last updates are acknowledged,
// its framework was shut down, or the master removed the agent. The
// delay is --gc_delay, a week by default as in Mesos, so that operators and
// frameworks can still read a finished task's output; the timers are not
// checkpointed, so a sandbox whose timer an agent restart lost stays until
// an operator removes it, as every sandbox did before.
//
// Removal never follows a symbolic link: a sandbox holds links to
// persistent volumes (volumes.go), whose data must outlive the task.
// removeSandbox works through an os.Root on <work_dir>/slaves, whose
// RemoveAll unlinks the links it meets and which refuses any path that
// leads out of the root, and it removes only directories that lie inside
// it (a recovered executor record names its own).

// gcSandbox removes dir after cfg.gcDelay; "" is nothing to remove.
func (a *agent) gcSandbox(dir string) {
	if dir == "" {
		return
	}
	time.AfterFunc(a.cfg.gcDelay, func() {
		if err := removeSandbox(filepath.Join(a.cfg.workDir, "slaves"), dir); err != nil {
			a.log.Warn("could not remove a sandbox", "dir", dir, "err", err)
			return
		}
		a.log.Debug("removed a sandbox", "dir", dir)
	})
}

// removeSandbox removes dir, which must lie strictly below root, and
// everything in it, without following symbolic links.
func removeSandbox(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return fmt.Errorf("agentd: sandbox %s is not under %s", dir, root)
	}
	r, err := os.OpenRoot(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return r.RemoveAll(rel)
}
