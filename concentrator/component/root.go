package component

import (
	"context"

	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/xmpp"
)

// maxItems bounds the disco#items answer of the component domain.
const maxItems = 1000

// setupRoot registers the handlers of the component domain itself:
// service discovery (its items are the device JIDs) and ping.
func (c *Component) setupRoot() {
	xmpp.HandlePing(c.root)
	var ds disco.Server
	ds.SetInfo(disco.Info{
		Identities: []disco.Identity{{Category: "gateway", Type: "mqtt", Name: "xiot MQTT concentrator"}},
		Features:   []string{disco.NSInfo, disco.NSItems, xmpp.NSPing, NSConcentrators},
	})
	ds.Register(c.root)
	c.registerNodes()
	c.root.IQ("get", disco.NSItems, "query", xmpp.IQFunc(c.handleItems))
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
