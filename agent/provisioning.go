package agent

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Provision delegates the agent's trust decisions to the XEP-0324
// provisioning server behind c (created on the agent's session): owners
// stay friends without asking, everybody else is asked about; the
// server's friend and unfriend recommendations become subscription
// requests and removals. It returns the hooks for readouts and control,
// which pass the request's tokens and field types on to the server. Call
// it before Run, with c's Options.OnFriend and OnUnfriend set to the
// agent's Befriend and Unfriend.
func (a *Agent) Provision(c *provisioning.Client) (sensordata.Authorizer, iotcontrol.Authorizer) {
	c.Register(a.mux)
	a.mu.Lock()
	a.opts.Friend = func(ctx context.Context, from jid.JID) (bool, error) {
		if a.isOwner(from) {
			return true, nil
		}
		return c.IsFriend(ctx, from)
	}
	a.mu.Unlock()
	a.OnOnline(func(ctx context.Context, resumed bool) {
		if !resumed {
			if err := c.SubscribeToServer(ctx); err != nil {
				a.log.Warn("provisioning: subscription to the server", "err", err)
			}
		}
	})
	return thing.Authorizers(c)
}

// Befriend asks for a presence subscription to friend (a provisioning
// server's recommendation) and pre-approves the friend's own request.
func (a *Agent) Befriend(ctx context.Context, friend jid.JID) {
	to := friend.Bare().String()
	a.log.Info("befriending on the provisioning server's advice", "jid", to)
	_ = a.sess.SendAll(ctx,
		xmpp.NewElement("", "presence", "to", to, "type", "subscribed"),
		xmpp.NewElement("", "presence", "to", to, "type", "subscribe"))
}

// Unfriend ends the friendship with friend both ways.
func (a *Agent) Unfriend(ctx context.Context, friend jid.JID) {
	to := friend.Bare().String()
	a.log.Info("unfriending on the provisioning server's advice", "jid", to)
	_ = a.sess.SendAll(ctx,
		xmpp.NewElement("", "presence", "to", to, "type", "unsubscribed"),
		xmpp.NewElement("", "presence", "to", to, "type", "unsubscribe"))
}
