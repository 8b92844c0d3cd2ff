package thing

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Authorizers returns the XEP-0323 readout and XEP-0325 control hooks
// that ask c, passing the request's tokens (and, for readouts, its field
// types) on to the provisioning server. They honour partial answers: only
// the fields or parameters the server allows are served.
func Authorizers(c *provisioning.Client) (sensordata.Authorizer, iotcontrol.Authorizer) {
	read := func(ctx context.Context, from jid.JID, nodes, fields []string) ([]string, error) {
		if r, ok := sensordata.RequestFromContext(ctx); ok {
			ctx = provisioning.WithTokens(ctx, provisioning.Tokens{Service: r.ServiceToken, Device: r.DeviceToken, User: r.UserToken})
			ctx = provisioning.WithReadoutTypes(ctx, r.Types)
		}
		return c.CanRead(ctx, from, nodes, fields)
	}
	control := func(ctx context.Context, from jid.JID, nodes, params []string) ([]string, error) {
		if t, ok := iotcontrol.TokensFrom(ctx); ok {
			ctx = provisioning.WithTokens(ctx, provisioning.Tokens(t))
		}
		return c.CanControl(ctx, from, nodes, params)
	}
	return read, control
}
