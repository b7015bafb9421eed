package zkserver

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

const (
	// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// reapWait bounds the wait for a child to be reaped after SIGKILL.
	reapWait = 10 * time.Second
)

// process is one started child.
type process struct {
	pid  int
	proc *os.Process
	done chan struct{} // closed once the child has been reaped
	err  error         // cmd.Wait's result; read only after done is closed
}

// startProcess starts cmd so that it is killed when this Go process dies.
//
// Pdeathsig is delivered when the thread that forked the child exits, not
// when the process does, and the Go runtime may end threads. So one
// goroutine locked to its thread starts the child and stays there, blocked
// in Wait, until the child has been reaped. after runs on that goroutine once
// the child is gone (closing its log file).
func startProcess(cmd *exec.Cmd, after func()) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			after()
			return
		}
		p.pid, p.proc = cmd.Process.Pid, cmd.Process
		started <- nil
		p.err = cmd.Wait()
		after()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// exited reports whether the child has been reaped, and Wait's result.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM, waits up to grace, then kills.
func (p *process) stop(grace time.Duration) error {
	if done, _ := p.exited(); done {
		return nil
	}
	// os.Process.Signal is safe against pid reuse (it knows when Wait has
	// reaped the child); a "process already finished" error is no failure.
	_ = p.proc.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	return p.kill()
}

// kill sends SIGKILL and waits, bounded, until the child has been reaped.
func (p *process) kill() error {
	if done, _ := p.exited(); done {
		return nil
	}
	_ = p.proc.Signal(syscall.SIGKILL)
	t := time.NewTimer(reapWait)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("zkserver: pid %d still running %v after SIGKILL", p.pid, reapWait)
	}
}

// prefixWriter writes whole lines, each prefixed, to w under mu. mu is shared
// by the servers of one start so that one writer can take a whole ensemble's
// output.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	part   []byte // an unfinished line; owned by the writer's single caller
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	p.part = append(p.part, b...)
	i := bytes.LastIndexByte(p.part, '\n')
	if i < 0 {
		return n, nil
	}
	var out []byte
	for line := range bytes.Lines(p.part[:i+1]) {
		out = append(out, p.prefix...)
		out = append(out, line...)
	}
	p.part = append(p.part[:0], p.part[i+1:]...)
	p.mu.Lock()
	defer p.mu.Unlock()
	// The copy is best effort: an error here must not break the server's
	// stdout (it would die of EPIPE), and zookeeper.log has every line.
	_, _ = p.w.Write(out)
	return n, nil
}

// flush writes an unfinished last line, if any.
func (p *prefixWriter) flush() {
	if len(p.part) == 0 {
		return
	}
	p.part = append(p.part, '\n')
	_, _ = p.Write(nil)
}

// tail returns the last lines of the file at path from offset on, at most
// max bytes, for error messages.
func tail(path string, offset int64, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if st.Size()-offset > max {
		offset = st.Size() - max
	}
	b := make([]byte, st.Size()-offset)
	n, _ := f.ReadAt(b, offset)
	b = b[:n]
	if len(b) == 0 {
		return "(log is empty)"
	}
	if int64(n) == max { // drop the partial first line
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(bytes.TrimRight(b, "\n"))
}
