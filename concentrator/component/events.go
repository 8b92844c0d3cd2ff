package component

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/xmpp"
)

// Data source events (XEP-0326 §"Data Source Events"): subscribe and
// unsubscribe per data source and event type, events sent in message
// stanzas from the component domain. As the XEP says, subscriptions are
// not persisted and end when either side goes away: when the component
// reconnects, when the subscriber sends unavailable presence to the
// component, when an event bounces with an error, or when the subscriber
// no longer answers a XEP-0199 ping (every eventPingEvery). They also end after
// eventTTL (the XEP sets no limit; ours keeps a forgotten subscription
// from living for ever), and at most maxEventSubs JIDs subscribe at once.
//
// Device nodes are compared with what subscribers were last told after
// every change of the bridge's registry: a new device or field node gives
// nodeAdded, a changed name, type, ability or child list nodeUpdated, a
// change of availability nodeStatusChanged. New field values are no node
// change and give no event (read them, or subscribe to the device's
// presence). Mapping nodes give nodeAdded, nodeUpdated and nodeRemoved as
// they are created, edited and destroyed.

// Bounds of the event subscriptions.
const (
	maxEventSubs     = 64
	eventTTL         = 24 * time.Hour
	maxEventsPerMsg  = 100
	eventResyncEvery = 30 * time.Second
	// Subscribers are pinged this often; one that is gone (the server
	// answers for it, or nothing answers in eventPingTimeout) loses its
	// subscription. Events are plain messages, which servers deliver to
	// another resource or store offline rather than bounce.
	eventPingEvery   = 2 * time.Minute
	eventPingTimeout = 30 * time.Second
)

// Event types, as subscribe's attributes name them.
type evMask uint8

const (
	evAdded evMask = 1 << iota
	evUpdated
	evStatus
	evRemoved
	evMovedUp
	evMovedDown
)

var evNames = []struct {
	name string
	bit  evMask
}{{"nodeAdded", evAdded}, {"nodeUpdated", evUpdated}, {"nodeStatusChanged", evStatus},
	{"nodeRemoved", evRemoved}, {"nodeMovedUp", evMovedUp}, {"nodeMovedDown", evMovedDown}}

// eventSub is the subscription of one full JID.
type eventSub struct {
	masks  map[string]evMask // by source
	params map[string]bool   // by source: events carry node parameters
	since  time.Time
}

// nodeSnap is what subscribers were last told of a device node.
type nodeSnap struct {
	fingerprint, state string
}

// events holds the subscriptions and the device nodes' last state.
type events struct {
	t *tree

	mu    sync.Mutex
	subs  map[string]*eventSub
	known map[string]map[string]nodeSnap // device id → node id → snapshot, while somebody subscribes to SourceID
}

func newEvents(t *tree) *events {
	return &events{t: t, subs: map[string]*eventSub{}}
}

// masksOf reads the event type attributes of a (un)subscribe request.
func masksOf(req *xmpp.Element) evMask {
	var m evMask
	for _, e := range evNames {
		if boolAttr(req, e.name, true) {
			m |= e.bit
		}
	}
	return m
}

// subscribe answers subscribe.
func (ev *events) subscribe(from jid.JID, req *xmpp.Element) *nodeError {
	src := req.Get("sourceId")
	if !knownSource(src) {
		return errNodeNotFound("no data source " + strconv.Quote(src))
	}
	if req.Get("getEventsSince") != "" {
		// No event history: the XEP's answer, and no subscription.
		return &nodeError{"NotImplemented", "cancel", "feature-not-implemented", "no event history is kept; subscribe without getEventsSince and read the data source again", nil}
	}
	key := from.String()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.expireLocked(time.Now())
	s := ev.subs[key]
	if s == nil {
		if len(ev.subs) >= maxEventSubs {
			return &nodeError{"OtherError", "wait", "resource-constraint", "too many event subscriptions (limit " + strconv.Itoa(maxEventSubs) + ")", nil}
		}
		s = &eventSub{masks: map[string]evMask{}, params: map[string]bool{}, since: time.Now()}
		ev.subs[key] = s
	}
	s.masks[src] |= masksOf(req)
	s.params[src] = boolAttr(req, "parameters", false)
	if src == SourceID && ev.known == nil {
		ev.baselineLocked()
	}
	return nil
}

// unsubscribe answers unsubscribe; unsubscribing what was not subscribed
// is no error.
func (ev *events) unsubscribe(from jid.JID, req *xmpp.Element) *nodeError {
	src := req.Get("sourceId")
	if !knownSource(src) {
		return errNodeNotFound("no data source " + strconv.Quote(src))
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if s := ev.subs[from.String()]; s != nil {
		s.masks[src] &^= masksOf(req)
		if s.masks[src] == 0 {
			delete(s.masks, src)
		}
		if len(s.masks) == 0 {
			delete(ev.subs, from.String())
		}
	}
	ev.trimLocked()
	return nil
}

// drop ends the subscriptions of a JID (a bare JID: all its resources).
func (ev *events) drop(j jid.JID) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for k := range ev.subs {
		kj, err := jid.Parse(k)
		if err == nil && (kj.Equal(j) || (j.Resourcepart() == "" && kj.Bare().Equal(j))) {
			delete(ev.subs, k)
		}
	}
	ev.trimLocked()
}

// reset ends every subscription (the component reconnected).
func (ev *events) reset() {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	clear(ev.subs)
	ev.known = nil
}

// expireLocked ends subscriptions older than eventTTL.
func (ev *events) expireLocked(now time.Time) {
	for k, s := range ev.subs {
		if now.Sub(s.since) > eventTTL {
			delete(ev.subs, k)
		}
	}
	ev.trimLocked()
}

// trimLocked forgets the device snapshots when nobody subscribes to
// SourceID any more.
func (ev *events) trimLocked() {
	for _, s := range ev.subs {
		if s.masks[SourceID] != 0 {
			return
		}
	}
	ev.known = nil
}

// snapOf returns the snapshot of a node.
func (ev *events) snapOf(n treeNode) nodeSnap {
	c := ev.t.c
	r, w := n.abilities()
	fp := n.nodeType() + "\x00" + n.displayName(c) + "\x00" + strconv.FormatBool(n.hasChildren(c)) + "\x00" +
		strconv.FormatBool(r) + strconv.FormatBool(w) + strconv.FormatBool(len(n.commands()) > 0) + "\x00" + n.parentID()
	return nodeSnap{fingerprint: fp, state: n.state()}
}

// deviceSnaps returns the snapshots of a device and its field nodes.
func (ev *events) deviceSnaps(n treeNode) map[string]nodeSnap {
	out := map[string]nodeSnap{n.id(): ev.snapOf(n)}
	for _, ch := range ev.t.c.children(n) {
		out[ch.id()] = ev.snapOf(ch)
	}
	return out
}

// baselineLocked records the device nodes as they are: the first
// subscriber was told nothing yet, and reads the tree itself.
func (ev *events) baselineLocked() {
	ev.known = map[string]map[string]nodeSnap{}
	for _, n := range ev.t.c.rootNodes(SourceID) {
		ev.known[n.dev.ID] = ev.deviceSnaps(n)
	}
}

// pending is an event to send: its source, type and element.
type pending struct {
	src string
	bit evMask
	n   treeNode
}

// eventElement builds one event element for n.
func eventElement(c *Component, bit evMask, n treeNode, params bool) *xmpp.Element {
	name := ""
	for _, e := range evNames {
		if e.bit == bit {
			name = e.name
		}
	}
	el := xmpp.NewElement(NSConcentrators, name, "sourceId", n.src)
	switch bit {
	case evAdded, evUpdated:
		n.fill(c, el, params)
		// fill sets nodeId etc.; sourceId first for readability.
	case evStatus:
		el.Set("nodeId", n.id())
		el.Set("state", n.state())
	default:
		el.Set("nodeId", n.id())
	}
	return el
}

// diffDevice compares a device with the snapshots and returns the events;
// ev.mu is held and ev.known is set.
func (ev *events) diffDeviceLocked(id string, out []pending) []pending {
	c := ev.t.c
	old := ev.known[id]
	n, ok := c.lookupNode(SourceID, id)
	if !ok {
		for nid := range old {
			out = append(out, pending{src: SourceID, bit: evRemoved, n: treeNode{src: SourceID, dev: devWithID(nid)}})
		}
		delete(ev.known, id)
		return out
	}
	nodes := append([]treeNode{n}, c.children(n)...)
	cur := map[string]nodeSnap{}
	for _, x := range nodes {
		s := ev.snapOf(x)
		cur[x.id()] = s
		o, had := old[x.id()]
		switch {
		case !had:
			out = append(out, pending{src: SourceID, bit: evAdded, n: x})
		case o.fingerprint != s.fingerprint:
			out = append(out, pending{src: SourceID, bit: evUpdated, n: x})
		case o.state != s.state:
			out = append(out, pending{src: SourceID, bit: evStatus, n: x})
		}
	}
	for nid := range old {
		if _, ok := cur[nid]; !ok {
			out = append(out, pending{src: SourceID, bit: evRemoved, n: treeNode{src: SourceID, dev: devWithID(nid)}})
		}
	}
	ev.known[id] = cur
	return out
}

// send delivers events to the subscribers of their source and type, up
// to maxEventsPerMsg in one message.
func (ev *events) send(ctx context.Context, ps []pending) {
	if len(ps) == 0 {
		return
	}
	c := ev.t.c
	ev.mu.Lock()
	ev.expireLocked(time.Now())
	type target struct {
		to     string
		masks  map[string]evMask
		params map[string]bool
	}
	var ts []target
	for k, s := range ev.subs {
		ts = append(ts, target{k, cloneMasks(s.masks), maps.Clone(s.params)})
	}
	ev.mu.Unlock()
	for _, t := range ts {
		var msg *xmpp.Element
		n := 0
		flush := func() {
			if msg != nil {
				if err := c.sess.Send(ctx, msg); err != nil {
					c.log.Debug("data source event not sent", "to", t.to, "err", err)
				}
			}
			msg, n = nil, 0
		}
		for _, p := range ps {
			if t.masks[p.src]&p.bit == 0 {
				continue
			}
			if msg == nil {
				msg = xmpp.NewElement("", "message", "to", t.to)
				if !c.ClientMode() {
					// A client's server stamps its full JID itself.
					msg.Set("from", c.domain)
				}
			}
			msg.Add(eventElement(c, p.bit, p.n, t.params[p.src]))
			if n++; n == maxEventsPerMsg {
				flush()
			}
		}
		flush()
	}
}

func cloneMasks(m map[string]evMask) map[string]evMask {
	out := make(map[string]evMask, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// added, changed and removed report changes made through XEP-0326.
func (ev *events) added(n treeNode)             { ev.report(n, evAdded) }
func (ev *events) changed(n treeNode, _ string) { ev.report(n, evUpdated) }
func (ev *events) removed(n treeNode)           { ev.report(n, evRemoved) }

// report sends one event about n (and, for a device node, records it so
// that the registry watch does not send it again).
func (ev *events) report(n treeNode, bit evMask) {
	ev.mu.Lock()
	if n.src == SourceID && ev.known != nil {
		if m := ev.known[n.dev.ID]; m != nil {
			m[n.id()] = ev.snapOf(n)
		}
	}
	ev.mu.Unlock()
	ev.send(context.Background(), []pending{{src: n.src, bit: bit, n: n}})
}

// run follows the bridge's registry until ctx ends, sending device node
// events to subscribers.
func (ev *events) run(ctx context.Context) {
	c := ev.t.c
	ch, cancel := c.b.Subscribe(1024)
	defer cancel()
	tick := time.NewTicker(eventResyncEvery)
	defer tick.Stop()
	pings := time.NewTicker(eventPingEvery)
	defer pings.Stop()
	var pingWG sync.WaitGroup
	defer pingWG.Wait()
	dropped := c.b.Stats().EventsDropped
	for {
		dirty := map[string]bool{}
		brokers := map[string]bool{} // broker connections that went up or down
		take := func(e mqttbridge.Event) {
			if e.Kind == mqttbridge.EventBroker {
				brokers[e.Broker] = true
			} else {
				dirty[e.Device] = true
			}
		}
		all := false
		select {
		case <-ctx.Done():
			return
		case <-pings.C:
			ev.pingAll(ctx, &pingWG)
			continue
		case e, ok := <-ch:
			if !ok {
				return
			}
			take(e)
		drain:
			for len(dirty) < maxNodes {
				select {
				case e, ok := <-ch:
					if !ok {
						break drain
					}
					take(e)
				default:
					break drain
				}
			}
		case <-tick.C:
			if n := c.b.Stats().EventsDropped; n != dropped {
				dropped, all = n, true
			}
		}
		var ps []pending
		for id := range brokers {
			if br, ok := c.b.Broker(id); ok {
				ps = append(ps, pending{src: BrokersSourceID, bit: evStatus, n: treeNode{src: BrokersSourceID, br: &br}})
			}
		}
		ev.mu.Lock()
		if ev.known != nil { // someone subscribed to the devices
			if all {
				for id := range ev.known {
					dirty[id] = true
				}
				for _, d := range c.b.Devices() {
					dirty[d.ID] = true
				}
			}
			for id := range dirty {
				ps = ev.diffDeviceLocked(id, ps)
			}
		}
		ev.mu.Unlock()
		if len(ps) == 0 {
			continue
		}
		ev.send(ctx, ps)
	}
}

// pingAll pings every subscriber on goroutines of their own (at most
// maxEventSubs) and ends the subscriptions of those that are gone.
func (ev *events) pingAll(ctx context.Context, wg *sync.WaitGroup) {
	ev.mu.Lock()
	keys := make([]string, 0, len(ev.subs))
	for k := range ev.subs {
		keys = append(keys, k)
	}
	ev.mu.Unlock()
	c := ev.t.c
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, eventPingTimeout)
			defer cancel()
			_, err := xmpp.Ping(pctx, c.sess, k)
			var se *xmpp.StanzaError
			gone := errors.Is(err, context.DeadlineExceeded) ||
				(errors.As(err, &se) && (se.Condition == "service-unavailable" || se.Condition == "recipient-unavailable" || se.Condition == "item-not-found"))
			if gone && ctx.Err() == nil {
				if j, err := jid.Parse(k); err == nil {
					c.log.Info("event subscriber gone", "jid", k)
					ev.drop(j)
				}
			}
		}()
	}
}

// count returns the number of subscribed JIDs.
func (ev *events) count() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.subs)
}

// EventSubscribers returns the number of JIDs subscribed to XEP-0326
// data source events, for status pages and metrics.
func (c *Component) EventSubscribers() int { return c.tree.events.count() }

// devWithID is a device value carrying only its id, for removed nodes.
func devWithID(nodeID string) (d mqttbridge.Device) {
	d.ID = nodeID
	return d
}

// handleEventBounce ends the subscription of a JID whose events bounce.
func (c *Component) handleEventBounce(_ context.Context, _ *xmpp.Session, msg *xmpp.Element) error {
	if msg.Get("type") != "error" {
		return nil // the XEP: other messages are ignored
	}
	if j, err := jid.Parse(msg.Get("from")); err == nil {
		c.tree.events.drop(j)
	}
	return nil
}

// handleRootPresence ends the subscriptions of a JID that goes away.
func (c *Component) handleRootPresence(_ context.Context, _ *xmpp.Session, p *xmpp.Element) error {
	if t := p.Get("type"); t == "unavailable" || t == "error" {
		if j, err := jid.Parse(p.Get("from")); err == nil {
			c.tree.events.drop(j)
		}
	}
	return nil
}
