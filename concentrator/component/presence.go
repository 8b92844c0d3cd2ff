package component

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/xmpp"
)

// resyncEvery is how often the watcher checks whether the bridge dropped
// events, in which case it compares every device with what subscribers
// were last told.
const resyncEvery = 5 * time.Second

// handlePresence answers subscription requests, unsubscriptions and
// probes addressed to the device.
func (d *device) handlePresence(ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
	from, err := jid.Parse(st.Get("from"))
	if err != nil {
		return nil
	}
	bare := from.Bare().String()
	c := d.c
	switch st.Get("type") {
	case "subscribe":
		if d.trusts(from) {
			return d.acceptSubscription(ctx, s, st, bare)
		}
		if c.prov == nil {
			c.log.Info("presence subscription refused: not an owner", "device", d.id, "from", bare)
			return d.refuseSubscription(ctx, s, bare)
		}
		// isFriend waits for the provisioning server's answer, which this
		// (reading) goroutine delivers: ask on another.
		select {
		case c.prov.asking <- struct{}{}:
		default:
			c.log.Warn("presence subscription refused: too many waiting for the provisioning server", "device", d.id, "from", bare)
			return d.refuseSubscription(ctx, s, bare)
		}
		go func() {
			defer func() { <-c.prov.asking }()
			actx := context.WithoutCancel(ctx)
			ok, err := c.prov.isFriend(actx, d, from)
			switch {
			case err != nil:
				c.log.Info("presence subscription refused: no decision from the provisioning server", "device", d.id, "from", bare, "err", err)
			case !ok:
				c.log.Info("presence subscription refused by the provisioning server", "device", d.id, "from", bare)
			default:
				if err := d.acceptSubscription(actx, s, st, bare); err != nil {
					c.log.Warn("accepting a presence subscription", "device", d.id, "from", bare, "err", err)
				}
				return
			}
			if err := d.refuseSubscription(actx, s, bare); err != nil {
				c.log.Warn("refusing a presence subscription", "device", d.id, "from", bare, "err", err)
			}
		}()
		return nil
	case "unsubscribe":
		if err := c.subs.remove(d.id, bare); err != nil {
			c.log.Error("presence unsubscription not saved", "device", d.id, "from", bare, "err", err)
		}
		c.log.Info("presence subscription cancelled", "device", d.id, "from", bare)
		return s.Send(ctx, xmpp.NewElement("", "presence", "type", "unavailable", "to", bare))
	case "probe":
		if !c.subs.has(d.id, bare) {
			return s.Send(ctx, xmpp.NewElement("", "presence", "type", "unsubscribed", "to", bare))
		}
		return s.Send(ctx, d.presence(bare))
	}
	return nil
}

// acceptSubscription remembers bare as a subscriber and tells it so, with
// the device's current presence.
func (d *device) acceptSubscription(ctx context.Context, s *xmpp.Session, st *xmpp.Element, bare string) error {
	c := d.c
	if err := c.subs.add(d.id, bare); err != nil {
		c.log.Error("presence subscription not saved", "device", d.id, "from", bare, "err", err)
		return s.Send(ctx, xmpp.ErrorReply(st, xmpp.NewStanzaError("wait", "internal-server-error", "subscription not saved")))
	}
	c.log.Info("presence subscription accepted", "device", d.id, "from", bare)
	return s.SendAll(ctx, xmpp.NewElement("", "presence", "type", "subscribed", "from", d.jid, "to", bare), d.presence(bare))
}

// refuseSubscription refuses bare's subscription request.
func (d *device) refuseSubscription(ctx context.Context, s *xmpp.Session, bare string) error {
	return s.Send(ctx, xmpp.NewElement("", "presence", "type", "unsubscribed", "from", d.jid, "to", bare))
}

// presence returns the device's current presence addressed to to, with
// 'from' set, so that it can be sent outside a handler too.
func (d *device) presence(to string) *xmpp.Element {
	dev, ok := d.snapshot()
	return presenceOf(d.jid, to, ok && dev.Available, dev)
}

// presenceOf builds the presence of a device JID.
func presenceOf(from, to string, available bool, dev mqttbridge.Device) *xmpp.Element {
	p := xmpp.NewElement("", "presence", "from", from, "to", to)
	if !available {
		p.Set("type", "unavailable")
		if dev.ID != "" && dev.Reported == mqttbridge.AvailabilityOffline {
			p.Add(xmpp.NewElement("", "status").AddText("offline (reported by the device)"))
		} else {
			p.Add(xmpp.NewElement("", "status").AddText("not reachable over MQTT"))
		}
	}
	return p
}

// watch follows the bridge's events and sends presence to subscribers when
// a device's availability changes, and again after every (re)connection.
// Events that are already waiting are handled together and their presence
// sent in one write.
func (c *Component) watch(ctx context.Context) {
	events, cancel := c.b.Subscribe(4096)
	defer cancel()
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	dropped := c.b.Stats().EventsDropped
	var out []any
	for {
		out = out[:0]
		select {
		case <-ctx.Done():
			return
		case <-c.onlineC:
			c.mu.Lock()
			clear(c.sent)
			c.mu.Unlock()
			out = c.syncAll(out)
		case e := <-events:
			out = c.syncEvent(out, e)
			// A lone event is answered at once. In a burst (another
			// event already waiting), the batch waits up to batchLinger
			// for more, so that the server reads few large writes.
			var linger <-chan time.Time
		drain:
			for len(out) < maxBatch {
				select {
				case e := <-events:
					out = c.syncEvent(out, e)
					if linger == nil {
						linger = time.After(batchLinger)
					}
					continue
				default:
				}
				if linger == nil {
					break
				}
				select {
				case e := <-events:
					out = c.syncEvent(out, e)
				case <-linger:
					break drain
				}
			}
		case <-tick.C:
			if n := c.b.Stats().EventsDropped; n != dropped {
				dropped = n
				out = c.syncAll(out)
			}
		}
		for len(out) > 0 {
			n := min(len(out), maxBatch)
			if err := c.sess.SendAll(ctx, out[:n]...); err != nil {
				c.log.Warn("sending presence", "stanzas", n, "err", err)
			}
			out = out[n:]
		}
	}
}

// maxBatch bounds the presence stanzas sent in one write.
const maxBatch = 256

// batchLinger is how long, in a burst of events, their presence waits for
// more to share a write: Prosody (like any server) reads and routes a few
// large writes faster than many small ones.
const batchLinger = 5 * time.Millisecond

// syncEvent appends the presence an availability event calls for.
func (c *Component) syncEvent(out []any, e mqttbridge.Event) []any {
	if e.Kind != mqttbridge.EventAvailability && e.Kind != mqttbridge.EventDevice {
		return out
	}
	dev, ok := c.b.Device(e.Device)
	if !ok {
		return out
	}
	return c.sync(out, dev)
}

// syncAll appends the presence of every device whose subscribers were not
// told its availability.
func (c *Component) syncAll(out []any) []any {
	for _, dev := range c.b.Devices() {
		out = c.sync(out, dev)
	}
	return out
}

// sync appends the device's presence for each subscriber when its
// availability differs from what they were last sent.
func (c *Component) sync(out []any, dev mqttbridge.Device) []any {
	subs := c.subs.subscribers(dev.ID)
	if len(subs) == 0 {
		return out
	}
	c.mu.Lock()
	last, known := c.sent[dev.ID]
	c.sent[dev.ID] = dev.Available
	c.mu.Unlock()
	if known && last == dev.Available {
		return out
	}
	d := c.deviceByID(dev.ID)
	if d == nil {
		return out
	}
	c.log.Debug("device presence", "device", dev.ID, "jid", d.jid, "available", dev.Available, "subscribers", len(subs))
	for _, to := range subs {
		out = append(out, presenceOf(d.jid, to, dev.Available, dev))
	}
	return out
}

// goodbye tells every subscriber of a device that may have been announced
// available that it is gone, before the component disconnects.
func (c *Component) goodbye() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []any
	for _, id := range c.subs.devices() {
		c.mu.Lock()
		sent := c.sent[id]
		c.mu.Unlock()
		if dev, ok := c.b.Device(id); !sent && (!ok || !dev.Available) {
			continue
		}
		d := c.deviceByID(id)
		if d == nil {
			continue
		}
		for _, to := range c.subs.subscribers(id) {
			out = append(out, presenceOf(d.jid, to, false, mqttbridge.Device{}))
		}
	}
	for len(out) > 0 {
		n := min(len(out), maxBatch)
		if err := c.sess.SendAll(ctx, out[:n]...); err != nil {
			c.log.Warn("sending unavailable presence on shutdown", "err", err)
			return
		}
		out = out[n:]
	}
}
