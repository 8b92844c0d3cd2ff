//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
)

const claimUsage = `Usage: xiot claim [flags] CLAIM-TEXT

Claims a thing in the thing registry (XEP-0347) as the owner account of
--config: CLAIM-TEXT is what the thing printed at its first boot, as text
or read from its QR code ("IoTDisco;SN:…;KEY:…"); quote it for the shell.
The registry then tells the thing, and becomes its provisioning server:
"xiot rules" decides who else may befriend, read and control it.

The registry is --registry, else the configuration's provisioning.server.

Examples:
  xiot claim --config owner.yaml --registry registry.example.org 'IoTDisco;MODEL:xiot;KEY:…'
  xiot claim --config owner.yaml --private 'IoTDisco;…'
`

const disownUsage = `Usage: xiot disown [flags] THING-JID

Gives up the ownership of a thing: the registry asks the thing to
acknowledge (it must be online), forgets its tags and rules, and the thing
registers again to be claimed anew.

Examples:
  xiot disown --config owner.yaml --registry registry.example.org meter@example.org
  xiot disown --config owner.yaml --node imc1 rack@example.org
`

// ownerFlags are the flags of the owner commands: the account, the
// registry and a node behind a concentrator.
type ownerFlags struct {
	acct                   accountFlags
	registry               string
	node, source, cacheTyp string
}

func (o *ownerFlags) register(fs *flag.FlagSet, node bool) {
	o.acct.register(fs)
	fs.StringVar(&o.registry, "registry", "", "the registry's `JID` (default: provisioning.server of the configuration)")
	if node {
		fs.StringVar(&o.node, "node", "", "node `id` of a thing behind a concentrator")
		fs.StringVar(&o.source, "source", "", "data `source` of the node")
		fs.StringVar(&o.cacheTyp, "cache-type", "", "cache `type` of the node")
	}
}

// key returns the key of the thing at the JID j and the node flags.
func (o *ownerFlags) key(j string) (registry.Key, error) {
	p, err := jid.Parse(j)
	if err != nil {
		return registry.Key{}, fmt.Errorf("thing %q: %w", j, err)
	}
	return registry.Key{JID: p.Bare().String(), NodeID: o.node, SourceID: o.source, CacheType: o.cacheTyp}, nil
}

// connect logs in as the owner and returns the registry client.
func (o *ownerFlags) connect(ctx context.Context, stderr io.Writer) (registry.Owner, func(), error) {
	cfg, err := o.acct.load()
	if err != nil {
		return registry.Owner{}, nil, err
	}
	reg := o.registry
	if reg == "" {
		reg = cfg.Provisioning.Server.String()
	}
	if reg == "" {
		return registry.Owner{}, nil, errors.New("no registry: give --registry or provisioning.server")
	}
	if _, err := jid.Parse(reg); err != nil {
		return registry.Owner{}, nil, fmt.Errorf("--registry %q: %w", reg, err)
	}
	s, err := o.acct.connect(ctx, stderr, nil)
	if err != nil {
		return registry.Owner{}, nil, err
	}
	return registry.Owner{Session: s, Registry: reg}, func() { s.Close() }, nil
}

// explain turns the registry's stanza errors into advice.
func explain(err error) error {
	var se *xmpp.StanzaError
	if !errors.As(err, &se) {
		return err
	}
	switch se.Condition {
	case "item-not-found":
		return fmt.Errorf("%w (no such thing of yours; a claim needs exactly the registered tags)", err)
	case "resource-constraint":
		return fmt.Errorf("%w (too many requests; wait and retry)", err)
	case "service-unavailable", "remote-server-not-found", "remote-server-timeout":
		return fmt.Errorf("%w (is the registry running at this address?)", err)
	}
	return err
}

func describeKey(k registry.Key) string {
	s := k.JID
	if k.NodeID != "" {
		s += " node " + k.NodeID
		if k.SourceID != "" {
			s += " (source " + k.SourceID + ")"
		}
	}
	return s
}

// runClaim implements "xiot claim".
func runClaim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("claim", claimUsage)
	var o ownerFlags
	o.register(fs, false)
	private := fs.Bool("private", false, "claim as a private thing, never found by searches")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "want exactly one claim text, got %d arguments", fs.NArg())
	}
	tags, err := registry.ParseClaimURI(fs.Arg(0))
	if err != nil {
		return usagef(fs, "%v", err)
	}
	lctx, cancel := context.WithTimeout(ctx, o.acct.timeout)
	defer cancel()
	owner, closeFn, err := o.connect(lctx, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	k, err := owner.Claim(lctx, tags, !*private)
	if err != nil {
		return explain(err)
	}
	_, err = fmt.Fprintf(stdout, "claimed %s\n", describeKey(k))
	return err
}

// runDisown implements "xiot disown".
func runDisown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("disown", disownUsage)
	var o ownerFlags
	o.register(fs, true)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "want exactly one thing JID, got %d arguments", fs.NArg())
	}
	k, err := o.key(fs.Arg(0))
	if err != nil {
		return usagef(fs, "%v", err)
	}
	lctx, cancel := context.WithTimeout(ctx, o.acct.timeout)
	defer cancel()
	owner, closeFn, err := o.connect(lctx, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := owner.Disown(lctx, k); err != nil {
		var se *xmpp.StanzaError
		if errors.As(err, &se) && se.Condition == "not-allowed" {
			return fmt.Errorf("%w (the thing must be online to acknowledge)", err)
		}
		return explain(err)
	}
	_, err = fmt.Fprintf(stdout, "disowned %s\n", describeKey(k))
	return err
}

// formatThing prints a thing on one line: JID, node, owner, flags, tags.
func formatThing(t registry.Thing) string {
	var b strings.Builder
	b.WriteString(describeKey(t.Key))
	if t.Owner != "" {
		fmt.Fprintf(&b, " owner=%s", t.Owner)
	}
	if !t.Public {
		b.WriteString(" private")
	}
	if t.Removed {
		b.WriteString(" removed")
	}
	for _, g := range t.Tags {
		if g.Numeric {
			fmt.Fprintf(&b, " %s=%g", g.Name, g.Num)
		} else {
			fmt.Fprintf(&b, " %s=%q", g.Name, g.Value)
		}
	}
	return b.String()
}
