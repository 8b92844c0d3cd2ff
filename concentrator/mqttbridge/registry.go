package mqttbridge

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/xiot/xiot/sensors"
)

// maxFieldsPerDevice bounds one device's fields against topic storms.
const maxFieldsPerDevice = 1024

// Availability is what a device's own availability source last said.
type Availability uint8

// Availability values. AvailabilityUnknown means the device has no
// availability source (or it has not spoken yet): the device then counts as
// available while the bridge is connected.
const (
	AvailabilityUnknown Availability = iota
	AvailabilityOnline
	AvailabilityOffline
)

// String returns "unknown", "online" or "offline".
func (a Availability) String() string {
	switch a {
	case AvailabilityOnline:
		return "online"
	case AvailabilityOffline:
		return "offline"
	}
	return "unknown"
}

// Device is a snapshot of one bridged device.
type Device struct {
	// ID is the device id: the {device} capture of a mapping, a mapping's
	// fixed device, or the Homie device id.
	ID string
	// Name is the Homie $name, or "".
	Name string
	// Homie tells that the device was discovered through Homie.
	Homie bool
	// HomieState is the last Homie $state (init, ready, disconnected,
	// sleeping, lost, alert), or "".
	HomieState string
	// Reported is what the device's availability source last said.
	Reported Availability
	// Available is the effective availability, the one to map to presence:
	// the bridge is connected to the device's broker and Reported is not
	// offline.
	Available bool
	// Since is when Available last changed.
	Since time.Time
	// Broker is the id of the broker connection the device belongs to
	// (MainBrokerID for the configuration's).
	Broker string
	// Fields are the last value of every field, sorted by node and name.
	// Timestamp is the payload's time when it carries one (SenML), else
	// the time the message was received; Writable fields can be set with
	// Bridge.Publish.
	Fields []sensors.Field
}

// Field returns the field of the snapshot with that node and name.
func (d Device) Field(node, name string) (sensors.Field, bool) {
	for _, f := range d.Fields {
		if f.Node == node && f.Name == name {
			return f, true
		}
	}
	return sensors.Field{}, false
}

// EventKind says what changed.
type EventKind uint8

// Event kinds.
const (
	// EventField: a field got a value (new or repeated); Event.Field holds it.
	EventField EventKind = iota + 1
	// EventAvailability: the effective availability of a device changed;
	// Event.Available holds the new one.
	EventAvailability
	// EventDevice: a device appeared or its metadata (Homie $name, $state,
	// a property's unit or settable flag) changed.
	EventDevice
	// EventBroker: a broker connection came up (connected and subscribed)
	// or went down; Event.Broker names it, Event.Available holds the new
	// state. Device is "".
	EventBroker
)

// Event is one change in the registry. Consumers that fall behind lose
// events (counted in Stats.EventsDropped) and should resynchronise from
// Bridge.Devices.
type Event struct {
	Kind      EventKind
	Device    string
	Field     sensors.Field // EventField
	Available bool          // EventAvailability, EventBroker
	Broker    string        // EventBroker
}

// fieldKey identifies a field of a device.
type fieldKey struct{ node, name string }

// command is how a writable field is set.
type command struct {
	mapping *mapping   // a topic mapping, or
	homie   *homieProp // a Homie property
}

// fieldState is the last value of a field and how to set it.
type fieldState struct {
	f   sensors.Field
	cmd command
}

// device is the registry entry of one device.
type device struct {
	conn       *conn // the broker connection that first reported it
	id, name   string
	homie      bool
	homieState string
	reported   Availability
	available  bool
	since      time.Time
	fields     map[fieldKey]*fieldState
	props      map[fieldKey]*homieProp
}

// snapshot copies the device out of the registry.
func (d *device) snapshot() Device {
	s := Device{
		ID: d.id, Name: d.name, Homie: d.homie, HomieState: d.homieState,
		Reported: d.reported, Available: d.available, Since: d.since, Broker: d.conn.id,
		Fields: make([]sensors.Field, 0, len(d.fields)),
	}
	for _, fs := range d.fields {
		s.Fields = append(s.Fields, fs.f)
	}
	slices.SortFunc(s.Fields, func(a, b sensors.Field) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Name, b.Name))
	})
	return s
}

// Devices returns a snapshot of every device, sorted by id.
func (b *Bridge) Devices() []Device {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Device, 0, len(b.devices))
	for _, d := range b.devices {
		out = append(out, d.snapshot())
	}
	slices.SortFunc(out, func(x, y Device) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Device returns a snapshot of one device.
func (b *Bridge) Device(id string) (Device, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.devices[id]
	if !ok {
		return Device{}, false
	}
	return d.snapshot(), true
}

// Subscribe returns a channel of registry changes with room for buffer
// events (at least 1) and a function that ends the subscription and closes
// the channel. Events are never blocked on: a full channel loses the event
// (counted in Stats.EventsDropped).
func (b *Bridge) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, max(buffer, 1))
	b.mu.Lock()
	id := b.nextSub
	b.nextSub++
	b.subs[id] = ch
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if c, ok := b.subs[id]; ok {
			delete(b.subs, id)
			close(c)
		}
	}
}

// emitLocked sends e to every subscriber without blocking; b.mu is held.
func (b *Bridge) emitLocked(e Event) {
	for _, ch := range b.subs {
		select {
		case ch <- e:
		default:
			b.stats.EventsDropped++
		}
	}
}

// deviceLocked returns the device with id for a message of cn on topic,
// creating it (and announcing it) unless the registry is full. A device
// of another connection is not cn's to change: nil, counted and logged;
// one whose connection was removed becomes cn's. b.mu is held.
func (b *Bridge) deviceLocked(cn *conn, id, topic string) *device {
	if d, ok := b.devices[id]; ok {
		if d.conn != cn && d.conn.removed {
			// Its broker was removed: the broker that reports it now
			// takes it over (e.g. a broker node destroyed and created
			// again with other settings).
			d.conn = cn
			b.refreshLocked(d)
		}
		if d.conn != cn {
			b.stats.DeviceConflicts++
			b.warnLocked("mqtt message about a device of another broker; dropped", topic,
				fmt.Errorf("device %q belongs to broker %s, the message came from %s", id, d.conn.name(), cn.name()))
			return nil
		}
		return d
	}
	if len(b.devices) >= b.cfg.MaxDevices {
		b.stats.DevicesRefused++
		return nil
	}
	d := &device{conn: cn, id: id, fields: map[fieldKey]*fieldState{}, since: b.now()}
	d.available = cn.connected
	b.devices[id] = d
	b.emitLocked(Event{Kind: EventDevice, Device: id})
	if d.available {
		b.emitLocked(Event{Kind: EventAvailability, Device: id, Available: true})
	}
	return d
}

// setFieldLocked records a field value, notifies subscribers and, for a
// freshly received value, completes the commands waiting for it; b.mu is
// held.
func (b *Bridge) setFieldLocked(d *device, f sensors.Field, cmd command, fresh bool) {
	k := fieldKey{f.Node, f.Name}
	fs, ok := d.fields[k]
	if !ok {
		if len(d.fields) >= maxFieldsPerDevice {
			b.stats.FieldsRefused++
			return
		}
		fs = &fieldState{}
		d.fields[k] = fs
	}
	fs.f, fs.cmd = f, cmd
	b.emitLocked(Event{Kind: EventField, Device: d.id, Field: f})
	if fresh {
		b.echoLocked(d.id, k, f.Value)
	}
}

// setReportedLocked records what a device's availability source said;
// b.mu is held.
func (b *Bridge) setReportedLocked(d *device, a Availability) {
	d.reported = a
	b.refreshLocked(d)
}

// refreshLocked recomputes a device's effective availability and announces
// a change; b.mu is held.
func (b *Bridge) refreshLocked(d *device) {
	avail := d.conn.connected && d.reported != AvailabilityOffline
	if avail == d.available {
		return
	}
	d.available, d.since = avail, b.now()
	b.emitLocked(Event{Kind: EventAvailability, Device: d.id, Available: avail})
}
