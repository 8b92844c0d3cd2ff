package component

import (
	"context"

	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/sensordata"
)

// maxItems bounds the disco#items answer of the component domain.
const maxItems = 1000

// setupRoot registers the handlers of the component domain itself:
// service discovery (its items are the device JIDs) and ping; in client
// mode the agent answers those for the account. Then the XEP-0326 node
// tree and the readouts and sets by node, in either mode.
func (c *Component) setupRoot() {
	if !c.ClientMode() {
		xmpp.HandlePing(c.root)
		var ds disco.Server
		ds.SetInfo(disco.Info{
			Identities: []disco.Identity{{Category: "gateway", Type: "mqtt", Name: "xiot MQTT concentrator"}},
			Features:   []string{disco.NSInfo, disco.NSItems, xmpp.NSPing, NSConcentrators, sensordata.NS, iotcontrol.NS},
		})
		ds.Register(c.root)
		c.root.IQ("get", disco.NSItems, "query", xmpp.IQFunc(c.handleItems))
	}
	c.registerNodes()
	// Readouts and sets of many nodes at once (batch.go).
	c.root.IQ("get", sensordata.NS, "req", xmpp.HandlerFunc(c.handleRootReadout))
	c.root.IQ("get", sensordata.NS, "cancel", xmpp.HandlerFunc(c.handleRootCancel))
	c.root.IQ("set", iotcontrol.NS, "set", xmpp.HandlerFunc(c.handleRootSetIQ))
	c.root.IQ("get", iotcontrol.NS, "getForm", xmpp.HandlerFunc(c.handleRootGetForm))
	c.root.Message(iotcontrol.NS, "set", xmpp.HandlerFunc(c.handleRootSetMessage))
	// Data source events (events.go): bounces and departures end
	// subscriptions.
	c.root.Message(NSConcentrators, "", xmpp.HandlerFunc(c.handleEventBounce))
	c.root.Presence(xmpp.HandlerFunc(c.handleRootPresence))
}

// handleItems lists the device JIDs (up to maxItems).
func (c *Component) handleItems(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	if node := iq.FirstChild().Get("node"); node != "" {
		return nil, xmpp.ErrItemNotFound
	}
	q := xmpp.NewElement(disco.NSItems, "query")
	for i, dev := range c.b.Devices() {
		if i == maxItems {
			break
		}
		d := c.deviceByID(dev.ID)
		if d == nil {
			continue
		}
		name := dev.Name
		if name == "" {
			name = dev.ID
		}
		q.Add(xmpp.NewElement(disco.NSItems, "item", "jid", d.jid, "name", name))
	}
	return q, nil
}
