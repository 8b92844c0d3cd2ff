package testserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for starting and stopping a server process.
const (
	defaultStartTimeout = 15 * time.Second
	stopGrace           = 5 * time.Second
	logTailLines        = 40
)

// ErrNotInstalled is returned when a server binary is missing from $PATH.
var ErrNotInstalled = errors.New("not installed: run scripts/install-deps.sh as root (Debian packages prosody, mosquitto, mosquitto-clients, python3-slixmpp)")

// lookBinary finds a server binary or explains how to install it.
func lookBinary(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("testserver: %s %w", name, ErrNotInstalled)
	}
	return path, nil
}

// process runs one server binary in the foreground and tracks its life. It
// is restartable: start may be called again after the process ended.
type process struct {
	name     string        // for messages: "prosody", "mosquitto"
	path     string        // binary
	args     []string      // arguments
	dir      string        // working directory; also holds stdout.log
	pidfile  string        // removed before each start (stale after a kill)
	logFiles []string      // server log files, shown by logTail
	ready    []string      // addresses that must accept TCP before start returns
	timeout  time.Duration // start timeout

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	err  error         // cmd.Wait result, valid after done
}

// stdoutPath is where the server's own stdout and stderr go.
func (p *process) stdoutPath() string { return filepath.Join(p.dir, "stdout.log") }

// start launches the process and waits until every ready address accepts a
// TCP connection. On failure the process is killed and the error carries the
// end of its logs.
func (p *process) start(ctx context.Context) error {
	p.mu.Lock()
	if p.done != nil && !isClosed(p.done) {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.name)
	}
	if p.pidfile != "" {
		if err := os.Remove(p.pidfile); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.mu.Unlock()
			return fmt.Errorf("%s: remove stale pid file: %w", p.name, err)
		}
	}
	out, err := os.OpenFile(p.stdoutPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: open stdout log: %w", p.name, err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		p.mu.Unlock()
		return fmt.Errorf("%s: start %s: %w", p.name, p.path, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()

	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()

	if err := p.waitReady(ctx, done); err != nil {
		p.kill()
		return fmt.Errorf("%s: %w\n--- %s logs ---\n%s", p.name, err, p.name, p.logTail())
	}
	return nil
}

// waitReady polls the ready addresses until all accept connections, the
// process exits, the start timeout passes or ctx ends.
func (p *process) waitReady(ctx context.Context, done <-chan struct{}) error {
	timeout := p.timeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := append([]string(nil), p.ready...)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for len(pending) > 0 && dialOnce(ctx, pending[0]) {
			pending = pending[1:]
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-done:
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			return fmt.Errorf("exited before listening on %s: %v", pending[0], err)
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s after %v (a server started as root may hang instead of exiting): %w",
				pending[0], timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// running reports whether the process is alive.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done != nil && !isClosed(p.done)
}

// signal sends sig to the process and waits up to wait for it to end. It
// reports whether the process has ended.
func (p *process) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if done == nil || isClosed(done) {
		return true
	}
	// The process may end between the check and the signal; then Signal
	// fails with os.ErrProcessDone and done closes shortly.
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// stop ends the process with SIGTERM, falling back to SIGKILL when it does
// not exit within the grace period. It returns an error only if the process
// outlives SIGKILL.
func (p *process) stop() error {
	if p.signal(syscall.SIGTERM, stopGrace) {
		return nil
	}
	return p.kill()
}

// kill ends the process with SIGKILL, as a crash would.
func (p *process) kill() error {
	if p.signal(syscall.SIGKILL, stopGrace) {
		return nil
	}
	return fmt.Errorf("%s: still running %v after SIGKILL", p.name, stopGrace)
}

// logTail returns the last lines of the server's log files and its stdout.
func (p *process) logTail() string {
	var b strings.Builder
	for _, f := range append(append([]string(nil), p.logFiles...), p.stdoutPath()) {
		data, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", filepath.Base(f), lastLines(data, logTailLines))
	}
	return b.String()
}

// lastLines returns at most n trailing lines of data.
func lastLines(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
