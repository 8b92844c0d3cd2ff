// Command demo shows xiot end to end on one machine: it starts a throwaway
// Prosody server on loopback, registers a device and a client account,
// starts "xiot agent" with the simulated board as the device, and queries it
// with "xiot disco" and "xiot ping" as the client.
//
// Run it with "make demo" or "go run ./internal/demo [--stay]". It needs
// Prosody (scripts/install-deps.sh installs it) and builds bin/xiot from
// ./cmd/xiot unless $XIOT_BIN names a binary. Everything it starts is
// stopped and its temporary files are removed when it ends, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// options are the demo's command-line flags.
type options struct {
	stay        bool
	stepTimeout time.Duration
	onlineWait  time.Duration
}

func main() {
	var opts options
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	fs.BoolVar(&opts.stay, "stay", false, "keep the server and the agent running until Ctrl-C")
	fs.DurationVar(&opts.stepTimeout, "timeout", 30*time.Second, "time limit of each client command and of the build")
	fs.DurationVar(&opts.onlineWait, "online-timeout", 30*time.Second, "how long to wait for the agent to come online")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./internal/demo [flags]\n\n"+
			"Starts a throwaway Prosody, an xiot agent on the sim board, and queries it.\n"+
			"Set XIOT_BIN to use an existing xiot binary instead of building bin/xiot.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}

	// Signals stay caught until run has cleaned up, so a second Ctrl-C
	// cannot interrupt the cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	out := newConsole(os.Stdout)
	err := run(ctx, out, opts)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		out.printf("\ninterrupted; everything stopped and cleaned up\n")
		os.Exit(130)
	default:
		out.printf("\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
}

// run performs the demo. Every resource it acquires is released before it
// returns, whatever the outcome.
func run(ctx context.Context, out *console, opts options) error {
	d := &demo{out: out, opts: opts}
	defer d.cleanup()
	if err := d.setup(ctx); err != nil {
		return err
	}
	if err := d.startAgent(ctx); err != nil {
		return err
	}
	results := d.queries(ctx)
	d.summary(results)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := results.err(); err != nil {
		return err
	}
	if opts.stay {
		d.stayHint()
		<-ctx.Done()
		return nil
	}
	return nil
}

// console serialises output from the demo and from the agent's log stream.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

func newConsole(w io.Writer) *console { return &console{w: w} }

// printf writes one formatted block atomically.
func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, format, args...)
}

// heading prints a section title.
func (c *console) heading(title string) {
	c.printf("\n== %s ==\n", title)
}
