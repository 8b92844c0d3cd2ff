package component

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/sensordata"
)

// deviceFunc handles a stanza addressed to a device JID (a method
// expression of device).
type deviceFunc func(d *device, ctx context.Context, s *xmpp.Session, st *xmpp.Element) error

// onDevice adapts f to a handler of the device mux: it finds the device
// the stanza is addressed to.
func (c *Component) onDevice(f deviceFunc) xmpp.Handler {
	return xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
		to, err := jid.Parse(st.Get("to"))
		if err != nil {
			return xmpp.ErrServiceUnavailable
		}
		d := c.deviceByLocal(to.Localpart())
		if d == nil {
			return xmpp.ErrServiceUnavailable
		}
		return f(d, ctx, s, st)
	})
}

// setupDevices registers the handlers of the device JIDs. All device JIDs
// share one mux (Route hands it every stanza to a device JID, and stamps
// what its handlers send with that JID): a mux per device would cost
// about 3 KB per device, most of the 4 KB budget at 10,000 devices.
func (c *Component) setupDevices() {
	m := c.devMux
	xmpp.HandlePing(m)
	m.IQ("get", disco.NSInfo, "query", c.onDevice((*device).handleInfo))
	m.IQ("get", disco.NSItems, "query", c.onDevice((*device).handleItems))
	m.Presence(c.onDevice((*device).handlePresence))
	m.IQ("get", sensordata.NS, "req", c.onDevice((*device).handleReadout))
	m.IQ("get", sensordata.NS, "cancel", c.onDevice((*device).handleReadout))
	m.IQ("set", iotcontrol.NS, "set", c.onDevice((*device).handleSetIQ))
	m.IQ("get", iotcontrol.NS, "getForm", c.onDevice((*device).handleGetForm))
	m.Message(iotcontrol.NS, "set", c.onDevice((*device).handleSetMessage))
}

// snapshot returns the device's current state in the bridge.
func (d *device) snapshot() (mqttbridge.Device, bool) { return d.c.b.Device(d.id) }

// info returns the device's disco#info from its current fields: the
// control feature only when it has writable fields.
func (d *device) info() disco.Info {
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
	return disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "bot", Name: name + " (MQTT)"}},
		Features:   features,
	}
}

// handleInfo answers disco#info of a device (no nodes).
func (d *device) handleInfo(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	if iq.FirstChild().Get("node") != "" {
		return xmpp.ErrItemNotFound
	}
	info := d.info()
	return s.Send(ctx, xmpp.ResultIQ(iq, info.Element("")))
}

// handleItems answers disco#items of a device: it has none.
func (d *device) handleItems(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	if iq.FirstChild().Get("node") != "" {
		return xmpp.ErrItemNotFound
	}
	return s.Send(ctx, xmpp.ResultIQ(iq, xmpp.NewElement(disco.NSItems, "query")))
}
