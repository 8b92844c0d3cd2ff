package component

import (
	"context"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/sensordata"
)

// setup registers the device's handlers on its mux.
func (d *device) setup() {
	xmpp.HandlePing(d.mux)
	d.refreshInfo()
	// disco#info reflects the device as it is now (its fields and name
	// arrive after the JID exists).
	info := &xmpp.Mux{}
	d.disco.Register(info)
	d.mux.IQ("get", disco.NSInfo, "query", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		d.refreshInfo()
		return info.HandleStanza(ctx, s, iq)
	}))
	d.mux.IQ("get", disco.NSItems, "query", info)
	d.mux.Presence(xmpp.HandlerFunc(d.handlePresence))
	d.mux.IQ("get", sensordata.NS, "req", xmpp.HandlerFunc(d.handleReadout))
	d.mux.IQ("get", sensordata.NS, "cancel", xmpp.HandlerFunc(d.handleReadout))
	d.mux.IQ("set", iotcontrol.NS, "set", xmpp.HandlerFunc(d.handleSetIQ))
	d.mux.IQ("get", iotcontrol.NS, "getForm", xmpp.HandlerFunc(d.handleGetForm))
	d.mux.Message(iotcontrol.NS, "set", xmpp.HandlerFunc(d.handleSetMessage))
}

// snapshot returns the device's current state in the bridge.
func (d *device) snapshot() (mqttbridge.Device, bool) { return d.c.b.Device(d.id) }

// refreshInfo sets the device's disco#info from its current fields.
func (d *device) refreshInfo() {
	dev, _ := d.snapshot()
	name := dev.Name
	if name == "" {
		name = d.id
	}
	writable := false
	for _, f := range dev.Fields {
		writable = writable || f.Writable
	}
	features := []string{disco.NSInfo, disco.NSItems, xmpp.NSPing, sensordata.NS}
	if writable {
		features = append(features, iotcontrol.NS)
	}
	d.disco.SetInfo(disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "bot", Name: name + " (MQTT)"}},
		Features:   features,
	})
}
