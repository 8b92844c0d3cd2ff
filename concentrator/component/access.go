package component

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// errNotOwner refuses readouts, sets and node queries from anybody but
// the owners.
var errNotOwner = xmpp.NewStanzaError("auth", "forbidden", "Only the concentrator's owners may read and control its devices.")

// isOwner reports whether from (any resource) is one of the owners.
func (c *Component) isOwner(from jid.JID) bool { return c.owners[from.Bare().String()] }

// canRead is the XEP-0323 authorizer without provisioning: owners read
// everything.
func (c *Component) canRead(_ context.Context, from jid.JID, _, _ []string) ([]string, error) {
	if !c.isOwner(from) {
		return nil, errNotOwner
	}
	return nil, nil
}

// canControl is the XEP-0325 authorizer without provisioning: owners set
// everything.
func (c *Component) canControl(_ context.Context, from jid.JID, _ []string, params []string) ([]string, error) {
	if !c.isOwner(from) {
		return nil, errNotOwner
	}
	return params, nil
}

// trusts reports whether from is one of the concentrator's owners or the
// device's owner in the thing registry: they are served without asking.
func (d *device) trusts(from jid.JID) bool {
	return d.c.isOwner(from) || d.c.prov.owns(d, from)
}

// canRead is the XEP-0323 authorizer of the device's readouts: owners
// read everything; with provisioning, the provisioning server decides
// for everybody else (only the fields it allows; no decision refuses),
// and without, everybody else is refused.
func (d *device) canRead(ctx context.Context, from jid.JID, nodes, fields []string) ([]string, error) {
	p := d.c.prov
	if p == nil {
		return d.c.canRead(ctx, from, nodes, fields)
	}
	if d.trusts(from) {
		return nil, nil
	}
	return p.state(d, true).read(xmpp.WithFrom(ctx, d.jid), from, nodes, fields)
}

// canControl is the XEP-0325 authorizer of the device's sets and forms,
// as canRead for parameters.
func (d *device) canControl(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
	p := d.c.prov
	if p == nil {
		return d.c.canControl(ctx, from, nodes, params)
	}
	if d.trusts(from) {
		return params, nil
	}
	return p.state(d, true).control(xmpp.WithFrom(ctx, d.jid), from, nodes, params)
}
