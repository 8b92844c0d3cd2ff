package main

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

// agent is the background "xiot agent" process.
type agent struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait result, valid after done
	log  *prefixWriter
}

// startAgent starts the agent as the device and waits until it is online:
// Prosody has authenticated it and it answers a ping from the client.
func (d *demo) startAgent(ctx context.Context) error {
	d.out.heading("Agent")
	full := d.deviceJID + "/" + resource
	args := append([]string{"agent", "--board", "sim", "--state-dir", filepath.Join(d.dir, "state")}, d.accountFlags(full, d.devicePass)...)
	d.out.printf("$ %s %s\n", d.bin, strings.Join(args, " "))
	a := &agent{done: make(chan struct{}), log: &prefixWriter{out: d.out, prefix: "  [agent] "}}
	a.cmd = exec.Command(d.bin, args...)
	a.cmd.Stdout = a.log
	a.cmd.Stderr = a.log
	a.cmd.SysProcAttr = sysProcAttr()
	a.cmd.WaitDelay = 2 * time.Second
	if err := a.cmd.Start(); err != nil {
		return fmt.Errorf("start %s agent: %w", d.bin, err)
	}
	d.agent = a
	go func() {
		a.err = a.cmd.Wait()
		a.log.flush()
		close(a.done)
	}()

	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d.opts.onlineWait)
	defer cancel()
	if err := d.waitAuthenticated(ctx, a); err != nil {
		return err
	}
	d.out.printf("  -> %s authenticated with Prosody after %v\n", d.deviceJID, time.Since(start).Round(time.Millisecond))
	var last result
	for {
		last = d.runClient(ctx, []string{"ping", "--count", "1"}, full)
		if last.err == nil {
			d.out.printf("  -> %s answers ping: online after %v\n", full, time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-a.done:
			return fmt.Errorf("the agent exited (%v) before answering a ping", a.err)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the agent authenticated but did not answer a ping within %v; last attempt:\n%s",
					d.opts.onlineWait, last.report())
			}
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// waitAuthenticated waits until Prosody's log shows the device logging in.
func (d *demo) waitAuthenticated(ctx context.Context, a *agent) error {
	want := []byte("Authenticated as " + d.deviceJID)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(d.prosody.LogFile); err == nil && bytes.Contains(data, want) {
			return nil
		}
		select {
		case <-a.done:
			return fmt.Errorf("the agent exited (%v) before logging in; see its [agent] log above", a.err)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the agent did not log in to Prosody within %v; Prosody's log:\n%s",
					d.opts.onlineWait, indent(d.prosody.LogTail()))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop ends the agent with SIGTERM, then SIGKILL after 5 s.
func (a *agent) stop() error {
	select {
	case <-a.done:
		return nil
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = a.cmd.Process.Kill()
	select {
	case <-a.done:
		return errors.New("agent: killed after ignoring SIGTERM for 5 s")
	case <-time.After(5 * time.Second):
		return errors.New("agent: still running after SIGKILL")
	}
}

// prefixWriter prints each complete line written to it with a prefix.
type prefixWriter struct {
	out    *console
	prefix string
	mu     sync.Mutex
	buf    []byte
}

// Write implements io.Writer.
func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.out.printf("%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// flush prints a last unterminated line.
func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.out.printf("%s%s\n", w.prefix, w.buf)
		w.buf = nil
	}
}
