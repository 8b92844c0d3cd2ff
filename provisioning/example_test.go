package provisioning_test

import (
	"context"
	"log"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Example wires a provisioning client into a device: the agent's
// friendship hook and the authorisation hooks of sensor data (XEP-0323)
// and control (XEP-0325). The agent creates the session, so the friendship
// hook reaches the client through a closure.
func Example() {
	var prov *provisioning.Client
	a, err := agent.New(agent.Options{
		Friend: func(ctx context.Context, from jid.JID) (bool, error) { return prov.IsFriend(ctx, from) },
	})
	if err != nil {
		log.Fatal(err)
	}
	prov = provisioning.New(a.Session(), jid.MustParse("provisioning.example.org"), provisioning.Options{
		OnFriend:   func(ctx context.Context, j jid.JID) { log.Printf("recommended friend %s: subscribe", j) },
		OnUnfriend: func(ctx context.Context, j jid.JID) { log.Printf("unfriend %s: remove from roster", j) },
	})
	prov.Register(a.Mux())

	_ = sensordata.Options{CanRead: prov.CanRead}
	_ = iotcontrol.ServerOptions{CanControl: prov.CanControl}
}
