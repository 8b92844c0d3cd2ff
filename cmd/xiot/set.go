package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/xmpp"
)

const setUsage = `Usage: xiot set [flags] JID name=value[:type]...

Set control parameters of the device at JID (a full JID, e.g.
device@example.org/xiot) with XEP-0325. Each argument is name=value, with
an optional :type (boolean, color, date, dateTime, double, duration, int,
long, string, time). Without a type, the device's control form supplies
it; a device without a form gets a type guessed from the value (true is
boolean, 42 int, 2.5 double, PT5M duration, 08:00:00 time, …).

The set goes in an IQ and the device's answer is printed: what it applied,
or why it refused, parameter by parameter (exit status 1). With --message
it goes in a message instead: devices never answer those. With --for the
values are a timed override that the device undoes after that long.

Examples:
  xiot set --config client.yaml device@example.org/xiot Heater=true
  xiot set device@example.org/xiot Setpoint=21.5 --node thermostat
  xiot set device@example.org/xiot Heater=true --for 30m
  xiot set device@example.org/xiot Color=3399FF:color Alarm=07:30:00:time --message
`

// controlNodes collects repeated --node flags.
type controlNodes []string

func (n *controlNodes) String() string     { return strings.Join(*n, ",") }
func (n *controlNodes) Set(s string) error { *n = append(*n, s); return nil }

func (n controlNodes) refs() []iotcontrol.NodeRef {
	var out []iotcontrol.NodeRef
	for _, id := range n {
		out = append(out, iotcontrol.NodeRef{NodeID: id})
	}
	return out
}

// parseControlArgs parses flags and positional arguments in any order.
func parseControlArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, stdout, stderr); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// runSet implements "xiot set".
func runSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("set", setUsage)
	var acct accountFlags
	acct.register(fs)
	var nodes controlNodes
	fs.Var(&nodes, "node", "node id to control (repeatable; default the device itself)")
	message := fs.Bool("message", false, "send the set in a message: no answer, no error report")
	override := fs.Duration("for", 0, "make the set a timed override that reverts after this `duration`")
	pos, err := parseControlArgs(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef(fs, "want a JID and at least one name=value")
	}
	to := pos[0]
	var as []iotcontrol.Assignment
	for _, s := range pos[1:] {
		a, err := iotcontrol.ParseAssignment(s)
		if err != nil {
			return usagef(fs, "%v", err)
		}
		as = append(as, a)
	}
	if *override < 0 {
		return usagef(fs, "--for must not be negative")
	}
	ctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(ctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()

	var form *iotcontrol.Form
	if needsForm(as) {
		f, err := iotcontrol.FetchForm(ctx, s, to, nodes.refs()...)
		switch {
		case err == nil:
			form = &f
		case ctx.Err() != nil:
			return err
		default:
			// Older devices (slixmpp's plugin) have no form: guess.
			fmt.Fprintf(stderr, "xiot set: no control form from %s (%v); guessing types from the values\n", to, stanzaCondition(err))
		}
	}
	params, err := iotcontrol.TypedParams(as, form)
	if err != nil {
		return err
	}
	if *override > 0 {
		params = append(params, iotcontrol.Param{Type: control.TypeDuration, Name: iotcontrol.OverrideParam, Value: control.Duration(*override).String()})
	}
	req := iotcontrol.SetRequest{Nodes: nodes.refs(), Params: params}
	if *message {
		if err := iotcontrol.Send(ctx, s, to, req); err != nil {
			return err
		}
		// Make sure the message left before closing the stream.
		if _, err := xmpp.Ping(ctx, s, s.LocalJID().Domainpart()); err != nil {
			return fmt.Errorf("after sending the set: %w", err)
		}
		fmt.Fprintf(stdout, "sent %s to %s in a message (devices do not answer messages)\n", describeParams(params), to)
		return nil
	}
	resp, err := iotcontrol.Set(ctx, s, to, req)
	if err != nil {
		return err
	}
	if len(resp.Params) > 0 || len(resp.Nodes) > 0 {
		var ns []string
		for _, n := range resp.Nodes {
			ns = append(ns, n.NodeID)
		}
		fmt.Fprintf(stdout, "%s applied only part of the set: parameters %s", to, strings.Join(resp.Params, ", "))
		if len(ns) > 0 {
			fmt.Fprintf(stdout, " on nodes %s", strings.Join(ns, ", "))
		}
		fmt.Fprintln(stdout)
		return nil
	}
	fmt.Fprintf(stdout, "%s set %s\n", to, describeParams(params))
	if *override > 0 {
		fmt.Fprintf(stdout, "reverts at %s\n", time.Now().Add(*override).Format(time.RFC3339))
	}
	return nil
}

// needsForm reports whether any assignment lacks a type.
func needsForm(as []iotcontrol.Assignment) bool {
	for _, a := range as {
		if a.Type == control.TypeNone {
			return true
		}
	}
	return false
}

// describeParams lists parameters as name=value (type).
func describeParams(ps []iotcontrol.Param) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s=%s (%s)", p.Name, p.Value, p.Type))
	}
	return strings.Join(parts, ", ")
}

// stanzaCondition returns the stanza error condition of err, or err itself.
func stanzaCondition(err error) string {
	var se *xmpp.StanzaError
	if errors.As(err, &se) {
		return se.Condition
	}
	return err.Error()
}
