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

// startFresh makes a temporary directory, lets setup write the server's
// files into it and starts the process. Another process may take a port
// between picking and binding it; then it starts over with a new directory
// and fresh ports, up to three times. On failure the directory is removed.
func startFresh(ctx context.Context, prefix string, setup func(dir string) (*process, error)) error {
	for attempt := 1; ; attempt++ {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			return fmt.Errorf("testserver: temp dir: %w", err)
		}
		proc, err := setup(dir)
		if err == nil {
			err = proc.start(ctx)
		}
		if err == nil {
			return nil
		}
		os.RemoveAll(dir)
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return err
		}
	}
}

// process runs one server binary in the foreground and tracks its life. It
// is restartable: start may be called again after the process ended.
type process struct {
	name     string   // for messages: "prosody", "mosquitto"
	path     string   // binary
	args     []string // arguments
	dir      string   // working directory; also holds stdout.log
	pidfile  string   // removed before each start (stale after a kill)
	logFiles []string // server log files, shown by logTail
	ready    []string // addresses that must accept TCP before start returns
	// readyLog are lines that must appear in logFiles[0] (in what this start
	// wrote) before start returns: a TCP connect alone may reach another
	// process that took a port first.
	readyLog []string
	// failLog marks a failure in logFiles[0] that the server survives, such
	// as a port it could not bind; start then fails with errPortTaken.
	failLog string
	timeout time.Duration // start timeout

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
	var logStart int64
	if len(p.logFiles) > 0 {
		if fi, err := os.Stat(p.logFiles[0]); err == nil {
			logStart = fi.Size()
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

	if err := p.waitReady(ctx, done, logStart); err != nil {
		p.kill()
		return fmt.Errorf("%s: %w\n--- %s logs ---\n%s", p.name, err, p.name, p.logTail())
	}
	return nil
}

// waitReady polls the ready addresses and log lines until all are there,
// the process exits, the start timeout passes or ctx ends. logStart is the
// size of the main log before this start.
func (p *process) waitReady(ctx context.Context, done <-chan struct{}, logStart int64) error {
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
		if len(pending) > 0 && p.failLog != "" {
			// a port it could not bind is never dialled: look now
			if _, err := p.checkLog(logStart); err != nil {
				return err
			}
		}
		if len(pending) == 0 {
			missing, err := p.checkLog(logStart)
			if err != nil {
				return err
			}
			if missing == "" {
				return nil
			}
		}
		select {
		case <-done:
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			if _, logErr := p.checkLog(logStart); logErr != nil {
				return logErr
			}
			return fmt.Errorf("exited before it was ready: %v", err)
		case <-ctx.Done():
			what := "listening on " + strings.Join(pending, ", ")
			if len(pending) == 0 {
				missing, _ := p.checkLog(logStart)
				what = fmt.Sprintf("%q in its log", missing)
			}
			return fmt.Errorf("not %s after %v (a server started as root may hang instead of exiting): %w",
				what, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// errPortTaken reports that the server could not bind one of its ports,
// which another process took between freePorts and the server's start.
var errPortTaken = errors.New("port taken by another process")

// checkLog returns the first readyLog line not yet in what this start wrote
// to the main log, or errPortTaken if failLog is there.
func (p *process) checkLog(logStart int64) (string, error) {
	if len(p.readyLog) == 0 && p.failLog == "" {
		return "", nil
	}
	data, err := os.ReadFile(p.logFiles[0])
	if err != nil {
		return p.readyLog[0], nil // not created yet
	}
	if int64(len(data)) >= logStart {
		data = data[logStart:]
	}
	if p.failLog != "" && bytes.Contains(data, []byte(p.failLog)) {
		return "", fmt.Errorf("%w: log says %q", errPortTaken, p.failLog)
	}
	for _, l := range p.readyLog {
		if !bytes.Contains(data, []byte(l)) {
			return l, nil
		}
	}
	return "", nil
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
// pid returns the process ID of the running server, or 0.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.done == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

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
