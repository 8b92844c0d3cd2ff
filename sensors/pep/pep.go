// Package pep pushes sensor readings to subscribers without polling, through
// the XMPP server's own fan-out: the device publishes changed fields to a
// XEP-0163 Personal Eventing Protocol node of its account (XEP-0060
// publish-subscribe, served by Prosody's mod_pep), and the server notifies
// every subscriber.
//
// # Node and payload
//
// The node is named "urn:xmpp:iot:sensordata" (NodeName) on the device's
// bare JID. Each item holds one XEP-0323 fields element (seqnr 0,
// done='true') with the fields that changed enough since they were last
// published, and the fields whose maximum interval ran out, grouped by
// node and timestamp exactly as in a readout; the item id is the time of
// publication in RFC 3339 form. Subscribers either subscribe explicitly
// (XEP-0060 subscribe to the device's bare JID, see Subscribe; allowed by
// the node's access model, "presence" by default, "open" if configured)
// or, as contacts with a presence subscription, advertise the
// "urn:xmpp:iot:sensordata+notify" feature in their entity capabilities
// (XEP-0163 §4). Notifications arrive as messages from the device's bare
// JID carrying a pubsub#event items element; Listen decodes them.
//
// # When a field is published
//
// A Rule per field decides: a numeric, int or long value is published when
// it differs from the last published value by at least Threshold (0: any
// change), other values whenever they change; never more often than
// MinInterval (a change within it waits for the next Update after it);
// and at least every MaxInterval (0: no heartbeat), changed or not.
package pep

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Namespaces of XEP-0060 and XEP-0004 used here.
const (
	NSPubSub      = "http://jabber.org/protocol/pubsub"
	NSPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	NSData        = "jabber:x:data"
)

// NodeName is the PEP node readings are published to.
const NodeName = sensordata.NS

// NotifyFeature is the entity capabilities feature a contact advertises
// to receive notifications without an explicit subscription.
const NotifyFeature = NodeName + "+notify"

// Rule says when one field is published.
type Rule struct {
	// Threshold is the smallest change of a numeric, int or long value
	// that is published; 0 publishes any change.
	Threshold float64
	// MinInterval is the shortest time between two publications of the
	// field.
	MinInterval time.Duration
	// MaxInterval is the longest time without a publication of the field;
	// 0 means none.
	MaxInterval time.Duration
}

// Options configure a Publisher.
type Options struct {
	// Rules by "node/field" or by field name; the first found applies, then
	// Default.
	Rules   map[string]Rule
	Default Rule
	// AccessModel is the node's pubsub#access_model: "presence" (contacts
	// only; the default), "open", "roster" or "whitelist".
	AccessModel string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// iqSender sends an IQ and waits for the answer; *xmpp.Session is one.
type iqSender interface {
	SendIQ(ctx context.Context, iq *xmpp.Element) (*xmpp.Element, error)
}

type state struct {
	last      sensors.Field // last published
	published time.Time     // when
}

// Publisher decides which readings to publish and publishes them. It is
// safe for concurrent use; Update blocks while it waits for the server.
type Publisher struct {
	s    iqSender
	opts Options

	mu    sync.Mutex
	state map[string]state // by node/field
}

// NewPublisher returns a Publisher sending through s.
func NewPublisher(s iqSender, opts Options) *Publisher {
	if opts.AccessModel == "" {
		opts.AccessModel = "presence"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Publisher{s: s, opts: opts, state: map[string]state{}}
}

func (p *Publisher) rule(f sensors.Field) Rule {
	if r, ok := p.opts.Rules[f.Node+"/"+f.Name]; ok {
		return r
	}
	if r, ok := p.opts.Rules[f.Name]; ok {
		return r
	}
	return p.opts.Default
}

// Due returns the fields of a new reading that are to be published now,
// without publishing them.
func (p *Publisher) Due(fields []sensors.Field) []sensors.Field {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.due(fields, p.opts.Now())
}

func (p *Publisher) due(fields []sensors.Field, now time.Time) []sensors.Field {
	var out []sensors.Field
	for _, f := range fields {
		st, seen := p.state[f.Node+"/"+f.Name]
		r := p.rule(f)
		since := now.Sub(st.published)
		switch {
		case !seen:
			out = append(out, f)
		case since < r.MinInterval:
		case r.MaxInterval > 0 && since >= r.MaxInterval:
			out = append(out, f)
		case changed(st.last, f, r.Threshold):
			out = append(out, f)
		}
	}
	return out
}

// changed reports whether f differs from last enough to publish.
func changed(last, f sensors.Field, threshold float64) bool {
	a, okA := last.Value.Float()
	b, okB := f.Value.Float()
	if okA && okB && last.Value.Kind() == f.Value.Kind() {
		if math.IsNaN(a) || math.IsNaN(b) {
			return math.IsNaN(a) != math.IsNaN(b)
		}
		d := math.Abs(b - a)
		if threshold <= 0 {
			return d > 0
		}
		return d >= threshold
	}
	return !last.Value.Equal(f.Value) || last.Value.DataType() != f.Value.DataType() || last.QoS != f.QoS
}

// Update takes a new reading and publishes the fields that are due, in one
// item. It returns the fields published (none when nothing is due).
func (p *Publisher) Update(ctx context.Context, fields []sensors.Field) ([]sensors.Field, error) {
	p.mu.Lock()
	now := p.opts.Now()
	due := p.due(fields, now)
	if len(due) == 0 {
		p.mu.Unlock()
		return nil, nil
	}
	// Record before sending, so that concurrent Updates do not publish the
	// same change twice; a failed publish is retried by the next Update
	// once MinInterval has passed, as the previous state is restored.
	prev := map[string]state{}
	for _, f := range due {
		k := f.Node + "/" + f.Name
		if st, ok := p.state[k]; ok {
			prev[k] = st
		}
		p.state[k] = state{last: f, published: now}
	}
	p.mu.Unlock()
	if err := p.publish(ctx, due, now); err != nil {
		p.mu.Lock()
		for _, f := range due {
			k := f.Node + "/" + f.Name
			if st, ok := prev[k]; ok {
				p.state[k] = st
			} else {
				delete(p.state, k)
			}
		}
		p.mu.Unlock()
		return nil, err
	}
	return due, nil
}

func (p *Publisher) publish(ctx context.Context, fields []sensors.Field, now time.Time) error {
	item := xmpp.NewElement(NSPubSub, "item", "id", now.UTC().Format(time.RFC3339Nano)).
		Add(sensordata.Fields{Done: true, Fields: fields}.Element())
	opts := xmpp.NewElement(NSPubSub, "publish-options").Add(
		xmpp.NewElement(NSData, "x", "type", "submit").Add(
			formField("FORM_TYPE", "hidden", "http://jabber.org/protocol/pubsub#publish-options"),
			formField("pubsub#access_model", "", p.opts.AccessModel),
		))
	iq := xmpp.NewElement("", "iq", "type", "set").Add(
		xmpp.NewElement(NSPubSub, "pubsub").Add(
			xmpp.NewElement(NSPubSub, "publish", "node", NodeName).Add(item),
			opts,
		))
	if _, err := p.s.SendIQ(ctx, iq); err != nil {
		return fmt.Errorf("pep: publishing %d fields to %s: %w", len(fields), NodeName, err)
	}
	return nil
}

func formField(v, typ, value string) *xmpp.Element {
	return xmpp.NewElement(NSData, "field", "var", v, "type", typ).Add(xmpp.NewElement(NSData, "value").AddText(value))
}

// Poll reads every sensor each interval and publishes what is due, until
// ctx ends. Read errors and publish errors go to onErr (nil: ignored) and
// do not stop polling.
func (p *Publisher) Poll(ctx context.Context, ss []sensors.Sensor, interval time.Duration, onErr func(error)) {
	if onErr == nil {
		onErr = func(error) {}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var all []sensors.Field
		for _, s := range ss {
			rctx, cancel := context.WithTimeout(ctx, interval)
			f, err := s.Read(rctx, sensors.AllTypes&^sensors.Historical)
			cancel()
			if err != nil {
				onErr(fmt.Errorf("pep: reading %s: %w", s, err))
				continue
			}
			all = append(all, f...)
		}
		if _, err := p.Update(ctx, all); err != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Subscribe subscribes s's account to the readings of the device at the
// bare JID device (XEP-0060 §6.1).
func Subscribe(ctx context.Context, s *xmpp.Session, device jid.JID) error {
	iq := xmpp.NewElement("", "iq", "type", "set", "to", device.Bare().String()).Add(
		xmpp.NewElement(NSPubSub, "pubsub").Add(
			xmpp.NewElement(NSPubSub, "subscribe", "node", NodeName, "jid", s.LocalJID().Bare().String())))
	if _, err := s.SendIQ(ctx, iq); err != nil {
		return fmt.Errorf("pep: subscribing to %s of %s: %w", NodeName, device.Bare(), err)
	}
	return nil
}

// ErrNotReadings is returned by ParseEvent for events of other nodes.
var ErrNotReadings = errors.New("pep: not a sensor data event")

// ParseEvent decodes the readings of a pubsub event message.
func ParseEvent(msg *xmpp.Element) ([]sensors.Field, error) {
	ev := msg.Child(NSPubSubEvent, "event")
	if ev == nil {
		return nil, ErrNotReadings
	}
	items := ev.Child(NSPubSubEvent, "items")
	if items == nil || items.Get("node") != NodeName {
		return nil, ErrNotReadings
	}
	var out []sensors.Field
	for _, it := range items.Children() {
		if it.Name.Local != "item" {
			continue
		}
		fe := it.Child(sensordata.NS, "fields")
		if fe == nil {
			continue
		}
		f, err := sensordata.ParseFields(fe)
		if err != nil {
			return out, fmt.Errorf("pep: event from %s: %w", msg.Get("from"), err)
		}
		out = append(out, f.Fields...)
	}
	return out, nil
}

// Listen registers on mux a handler that passes the readings of every
// notification to h, with the publisher's address. h runs on the
// session's reading goroutine and must not block.
func Listen(mux *xmpp.Mux, h func(from jid.JID, fields []sensors.Field)) {
	mux.Message(NSPubSubEvent, "event", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, msg *xmpp.Element) error {
		fields, err := ParseEvent(msg)
		if errors.Is(err, ErrNotReadings) {
			return nil
		}
		from, _ := jid.Parse(msg.Get("from"))
		if len(fields) > 0 {
			h(from, fields)
		}
		return err
	}))
}
