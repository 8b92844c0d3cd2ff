//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/provisioning/registry"
)

const rulesUsage = `Usage: xiot rules list [flags] THING-JID
       xiot rules allow|deny [flags] THING-JID REQUESTER WHAT...
       xiot rules delete [flags] THING-JID REQUESTER

Governs who may befriend, read and control a thing you own, as its
provisioning server (the registry, XEP-0324) answers the thing's
questions. REQUESTER is a bare JID, a domain for everyone there, or
token:TOKEN for whoever presents that XEP-0324 token when reading or
controlling and answers the registry's challenge of it (see xiot token;
a JID's own rule wins, then a token's, then the domain's). WHAT is
friend, read, control or
all; other kinds of a rule stay as they were. "allow read" takes
--fields to allow only those fields, "allow control" --params to allow
only those parameters. Questions no rule answers are refused and sent to
you as a message. Changes reach the thing at once (clearCache), and
friend/unfriend recommendations follow friendship changes. Flags go
before the arguments.

Examples:
  xiot rules list --config owner.yaml --registry registry.example.org meter@example.org
  xiot rules allow --config owner.yaml meter@example.org alice@example.org friend read --fields Temperature,Humidity
  xiot rules deny --config owner.yaml meter@example.org example.net all
  xiot rules delete --config owner.yaml --node imc1 rack@example.org alice@example.org
`

// runRules implements "xiot rules".
func runRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rules", rulesUsage)
	var o ownerFlags
	o.register(fs, true)
	fields := fs.String("fields", "", "comma-separated `fields` read may read (allow read; empty: all)")
	params := fs.String("params", "", "comma-separated `parameters` control may set (allow control; empty: all)")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args, stdout, stderr); err != nil {
			return err
		}
		return usagef(fs, "want a subcommand: list, allow, deny or delete")
	}
	sub := args[0]
	if err := parseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	pos := fs.Args()
	var want int
	switch sub {
	case "list":
		want = 1
	case "delete":
		want = 2
	case "allow", "deny":
		want = 3
	default:
		return usagef(fs, "unknown subcommand %q: want list, allow, deny or delete", sub)
	}
	if len(pos) < want || (sub != "allow" && sub != "deny" && len(pos) != want) {
		return usagef(fs, "rules %s: wrong number of arguments", sub)
	}
	k, err := o.key(pos[0])
	if err != nil {
		return usagef(fs, "%v", err)
	}
	var requester string
	if len(pos) > 1 {
		if strings.HasPrefix(pos[1], registry.TokenPrefix) {
			requester = pos[1]
		} else if r, err := jid.Parse(pos[1]); err != nil || r.Resourcepart() != "" {
			return usagef(fs, "requester %q: want a bare JID, a domain or token:TOKEN", pos[1])
		} else {
			requester = r.String()
		}
	}
	var kinds []string
	if len(pos) > 2 {
		for _, w := range pos[2:] {
			switch w {
			case "friend", "read", "control":
				kinds = append(kinds, w)
			case "all":
				kinds = append(kinds, "friend", "read", "control")
			default:
				return usagef(fs, "unknown kind %q: want friend, read, control or all", w)
			}
		}
	}
	if (*fields != "" && (sub != "allow" || !slices.Contains(kinds, "read"))) || (*params != "" && (sub != "allow" || !slices.Contains(kinds, "control"))) {
		return usagef(fs, "--fields goes with allow read, --params with allow control")
	}

	lctx, cancel := context.WithTimeout(ctx, o.acct.timeout)
	defer cancel()
	owner, closeFn, err := o.connect(lctx, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	rules, err := owner.Rules(lctx, k)
	if err != nil {
		return explain(err)
	}
	switch sub {
	case "list":
		if len(rules) == 0 {
			_, err := fmt.Fprintf(stdout, "no rules for %s: only the owner is a friend and may read and control; others are asked about\n", describeKey(k))
			return err
		}
		for _, r := range rules {
			if _, err := fmt.Fprintln(stdout, formatRule(r)); err != nil {
				return err
			}
		}
		return nil
	case "delete":
		if err := owner.DeleteRule(lctx, k, requester); err != nil {
			return explain(err)
		}
		_, err := fmt.Fprintf(stdout, "deleted the rule of %s for %s\n", describeKey(k), requester)
		return err
	}
	r := registry.Rule{Thing: k, Requester: requester}
	for _, x := range rules {
		if x.Requester == requester {
			r = x
		}
	}
	d := registry.Deny
	if sub == "allow" {
		d = registry.Allow
	}
	for _, kind := range kinds {
		switch kind {
		case "friend":
			r.Friend = d
		case "read":
			r.Read, r.Fields = d, splitList(*fields)
		case "control":
			r.Control, r.Params = d, splitList(*params)
		}
	}
	if err := owner.SetRule(lctx, r); err != nil {
		return explain(err)
	}
	_, err = fmt.Fprintln(stdout, formatRule(r))
	return err
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// formatRule prints a rule on one line.
func formatRule(r registry.Rule) string {
	d := func(x registry.Decision) string {
		if x == registry.Unset {
			return "ask"
		}
		return string(x)
	}
	s := fmt.Sprintf("%s %s: friend=%s read=%s control=%s", describeKey(r.Thing), r.Requester, d(r.Friend), d(r.Read), d(r.Control))
	if len(r.Fields) > 0 {
		s += " fields=" + strings.Join(r.Fields, ",")
	}
	if len(r.Params) > 0 {
		s += " params=" + strings.Join(r.Params, ",")
	}
	return s
}
