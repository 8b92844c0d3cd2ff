package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
)

const pingUsage = `Usage: xiot ping [flags] JID

Sends XEP-0199 pings to JID through the XMPP server and prints each round
trip, then the minimum, median and maximum. A JID that answers with an
error (service-unavailable: it does not support ping, or it is offline)
is reported as such; the exit status is 1 when no ping succeeded.

Examples:
  xiot ping --config client.yaml device@example.org/agent
  xiot ping --count 10 --interval 200ms device@example.org/agent
`

// runPing implements "xiot ping".
func runPing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ping", pingUsage)
	var acct accountFlags
	acct.register(fs)
	count := fs.Int("count", 3, "number of pings")
	interval := fs.Duration("interval", time.Second, "pause between pings")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "want exactly one JID, got %d arguments", fs.NArg())
	}
	if *count < 1 {
		return usagef(fs, "--count must be at least 1")
	}
	target := fs.Arg(0)
	lctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(lctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	var rtts []time.Duration
	var lastErr error
	for i := 0; i < *count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(*interval):
			}
		}
		pctx, pcancel := context.WithTimeout(ctx, acct.timeout)
		rtt, err := xmpp.Ping(pctx, s, target)
		pcancel()
		if err != nil {
			lastErr = err
			var se *xmpp.StanzaError
			if errors.As(err, &se) {
				fmt.Fprintf(stdout, "ping %d: %s answered with an error: %s\n", i+1, target, se.Condition)
			} else {
				fmt.Fprintf(stdout, "ping %d: %v\n", i+1, err)
			}
			continue
		}
		rtts = append(rtts, rtt)
		fmt.Fprintf(stdout, "ping %d: reply from %s in %v\n", i+1, target, rtt.Round(time.Microsecond))
	}
	if len(rtts) == 0 {
		return fmt.Errorf("no reply from %s: %w", target, lastErr)
	}
	slices.Sort(rtts)
	fmt.Fprintf(stdout, "%d/%d replies; round trip min %v, median %v, max %v\n", len(rtts), *count,
		rtts[0].Round(time.Microsecond), rtts[len(rtts)/2].Round(time.Microsecond), rtts[len(rtts)-1].Round(time.Microsecond))
	return nil
}
