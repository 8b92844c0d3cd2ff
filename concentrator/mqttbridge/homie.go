package mqttbridge

import (
	"strings"
	"time"

	"github.com/xiot/xiot/concentrator/payload"
	"github.com/xiot/xiot/sensors"
)

// homieProp is what is known of one Homie property: its attributes and its
// last raw value (kept until $datatype arrives, since retained messages
// come in no particular order).
type homieProp struct {
	device, node, id string
	datatype, format string
	unit, name       string
	settable         bool
	hasDatatype      bool
	hasFormat        bool
	raw              []byte
	hasRaw           bool
	at               time.Time // when raw arrived
}

// setTopic returns the property's command topic.
func (h *homieProp) setTopic(base string) string {
	return base + h.device + "/" + h.node + "/" + h.id + "/set"
}

// homieState maps a Homie $state to an availability: ready and alert are
// online (alert: connected, but something needs attention), init, sleeping,
// disconnected and lost are offline.
func homieState(s string) Availability {
	switch s {
	case "ready", "alert":
		return AvailabilityOnline
	case "init", "sleeping", "disconnected", "lost":
		return AvailabilityOffline
	}
	return AvailabilityUnknown
}

// homieLocked handles a topic below the Homie base (rest is the topic
// without "homie/"); b.mu is held.
func (b *Bridge) homieLocked(cn *conn, rest string, p []byte) {
	levels := strings.Split(rest, "/")
	if len(levels) < 2 || levels[0] == "" || strings.HasPrefix(levels[0], "$") {
		return // broadcasts (homie/$broadcast/...) and malformed topics
	}
	dev := levels[0]
	topic := cn.homie + rest
	switch len(levels) {
	case 2: // homie/dev/$attr
		d := b.deviceLocked(cn, dev, topic)
		if d == nil {
			return
		}
		changed := !d.homie
		d.homie = true
		switch levels[1] {
		case "$state":
			d.homieState = string(p)
			b.setReportedLocked(d, homieState(d.homieState))
			changed = true
		case "$name":
			d.name, changed = string(p), true
		}
		if changed {
			b.emitLocked(Event{Kind: EventDevice, Device: dev})
		}
	case 3: // homie/dev/node/prop (a value) or homie/dev/node/$attr
		if strings.HasPrefix(levels[1], "$") || strings.HasPrefix(levels[2], "$") {
			return
		}
		h := b.homiePropLocked(cn, topic, dev, levels[1], levels[2])
		if h == nil {
			return
		}
		h.raw, h.hasRaw, h.at = append(h.raw[:0], p...), true, b.now()
		b.homieValueLocked(h, true)
	case 4: // homie/dev/node/prop/$attr; prop/set is a command, not state
		if !strings.HasPrefix(levels[3], "$") || strings.HasPrefix(levels[2], "$") || strings.HasPrefix(levels[1], "$") {
			return
		}
		h := b.homiePropLocked(cn, topic, dev, levels[1], levels[2])
		if h == nil {
			return
		}
		v := string(p)
		switch levels[3] {
		case "$datatype":
			h.datatype, h.hasDatatype = v, true
		case "$format":
			h.format, h.hasFormat = v, true
		case "$unit":
			h.unit = v
		case "$settable":
			h.settable = v == "true"
		case "$name":
			h.name = v
		default:
			return
		}
		b.homieValueLocked(h, false)
	}
}

// homiePropLocked returns (creating) the property record; b.mu is held.
func (b *Bridge) homiePropLocked(cn *conn, topic, dev, node, prop string) *homieProp {
	d := b.deviceLocked(cn, dev, topic)
	if d == nil {
		return nil
	}
	if !d.homie {
		d.homie = true
		b.emitLocked(Event{Kind: EventDevice, Device: dev})
	}
	if d.props == nil {
		d.props = map[fieldKey]*homieProp{}
	}
	k := fieldKey{node, prop}
	h, ok := d.props[k]
	if !ok {
		if len(d.props) >= maxFieldsPerDevice {
			b.stats.FieldsRefused++
			return nil
		}
		h = &homieProp{device: dev, node: node, id: prop}
		d.props[k] = h
	}
	return h
}

// homieValueLocked decodes the property's raw value once its datatype is
// known and records the field; only a new value (not a re-decode after an
// attribute changed) can complete a command. b.mu is held.
func (b *Bridge) homieValueLocked(h *homieProp, fresh bool) {
	if !h.hasRaw || !h.hasDatatype {
		return
	}
	if (h.datatype == payload.HomieEnum || h.datatype == payload.HomieColor) && !h.hasFormat {
		return // Homie requires $format for these; it is on its way
	}
	d := b.devices[h.device]
	topic := d.conn.homie + h.device + "/" + h.node + "/" + h.id
	if len(h.raw) == 0 && h.datatype != payload.HomieString {
		return // an empty retained message clears the value
	}
	f, err := payload.Homie(h.raw, h.datatype, h.format, b.cfg.MaxPayloadBytes)
	if err != nil {
		b.stats.DecodeErrors++
		b.warnLocked("homie property value not decoded", topic, err)
		return
	}
	f.Node, f.Name = h.node, h.id
	f.Timestamp = h.at
	f.Types = sensors.Momentary
	if f.Value.Kind() == sensors.KindNumeric {
		f.Unit = h.unit
	}
	f.Writable = h.settable
	b.stats.Decoded++
	b.setFieldLocked(d, f, command{homie: h}, fresh)
}
