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

// canRead is the XEP-0323 authorizer: owners read everything.
func (c *Component) canRead(_ context.Context, from jid.JID, _, _ []string) ([]string, error) {
	if !c.isOwner(from) {
		return nil, errNotOwner
	}
	return nil, nil
}

// canControl is the XEP-0325 authorizer: owners set everything.
func (c *Component) canControl(_ context.Context, from jid.JID, _ []string, params []string) ([]string, error) {
	if !c.isOwner(from) {
		return nil, errNotOwner
	}
	return params, nil
}

// canRead is the XEP-0323 authorizer of the device's readouts.
func (d *device) canRead(ctx context.Context, from jid.JID, nodes, fields []string) ([]string, error) {
	return d.c.canRead(ctx, from, nodes, fields)
}

// canControl is the XEP-0325 authorizer of the device's sets and forms.
func (d *device) canControl(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
	return d.c.canControl(ctx, from, nodes, params)
}
