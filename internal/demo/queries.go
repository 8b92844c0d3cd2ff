package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// result is the outcome of one xiot client command.
type result struct {
	title    string
	bin      string
	args     []string
	output   string
	err      error
	duration time.Duration
	refused  bool // refused by the device, as the step expected
}

// report describes the command, its status and its output.
func (r result) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ %s %s\n", r.bin, strings.Join(r.args, " "))
	b.WriteString(indent(r.output))
	if r.err != nil {
		fmt.Fprintf(&b, "FAILED after %v: %v\n", r.duration.Round(time.Millisecond), r.err)
	} else if r.refused {
		fmt.Fprintf(&b, "ok: refused, as it should be (%v)\n", r.duration.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "ok (%v)\n", r.duration.Round(time.Millisecond))
	}
	return b.String()
}

// results are the demo's queries in order.
type results []result

// err reports the failed commands, if any.
func (rs results) err() error {
	var errs []error
	for _, r := range rs {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("xiot %s: %w", strings.Join(r.args, " "), r.err))
		}
	}
	return errors.Join(errs...)
}

// runClient runs "xiot <sub> <account flags> <target>" as the client.
func (d *demo) runClient(ctx context.Context, sub []string, target string, after ...string) result {
	ctx, cancel := context.WithTimeout(ctx, d.opts.stepTimeout)
	defer cancel()
	args := append(append(append(append([]string{}, sub...), d.accountFlags(d.clientJID, d.clientPass)...), target), after...)
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.WaitDelay = time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	return result{bin: d.bin, args: args, output: string(out), err: err, duration: time.Since(start)}
}

// queries asks the agent what it supports and pings it.
func (d *demo) queries(ctx context.Context) results {
	target := d.deviceJID + "/" + resource
	steps := []struct {
		title string
		sub   []string
		after []string // arguments after the JID
		// refused: the device is expected to refuse (exit status 1).
		refused bool
	}{
		{"Service discovery (XEP-0030): what the device supports", []string{"disco"}, nil, false},
		{"Sensor data (XEP-0323): a momentary and status readout of the simulated board", []string{"read", "--types", "momentary,status"}, nil, false},
		{"Control (XEP-0325): raise the thermostat's setpoint", []string{"set", "--node", "thermostat"}, []string{"Setpoint=22.5"}, false},
		{"Control safety: a setpoint outside its bounds (5..30) is refused and nothing changes", []string{"set", "--node", "thermostat"}, []string{"Setpoint=80"}, true},
		{"Control form (XEP-0325): what can be set", []string{"form"}, nil, false},
		{"Sensor data again: the setpoint as set, the relay unchanged (writable fields)", []string{"read", "--types", "status", "--node", "thermostat"}, nil, false},
		{"Ping (XEP-0199): round trip through Prosody", []string{"ping"}, nil, false},
	}
	var rs results
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		d.out.heading(s.title)
		r := d.runClient(ctx, s.sub, target, s.after...)
		r.title = s.title
		if s.refused {
			r.refused = r.err != nil
			if r.err == nil {
				r.err = errors.New("the device accepted what it should have refused")
			} else {
				r.err = nil
			}
		}
		d.out.printf("%s", r.report())
		rs = append(rs, r)
	}
	return rs
}

// summary prints one line per query.
func (d *demo) summary(rs results) {
	d.out.heading("Result")
	for _, r := range rs {
		status := "ok"
		if r.err != nil {
			status = "FAILED"
		}
		d.out.printf("  %-7s %-14s %s\n", status, "xiot "+r.args[0], r.title)
	}
}

// stayHint prints how to query the running demo by hand.
func (d *demo) stayHint() {
	d.out.heading("Running until Ctrl-C")
	d.out.printf("Query the agent from another terminal, for example:\n  %s %s %s/%s\n",
		d.bin, strings.Join(append([]string{"disco"}, d.accountFlags(d.clientJID, d.clientPass)...), " "),
		d.deviceJID, resource)
}
