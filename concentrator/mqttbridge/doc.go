// Package mqttbridge is the MQTT side of the concentrator: it connects to
// a broker with paho (github.com/eclipse/paho.mqtt.golang), turns MQTT
// topics into devices and typed fields, tracks each device's availability,
// and sets writable fields by publishing commands and waiting for the
// device's state echo.
//
// # Connection
//
// New(cfg, opts) takes the mqtt: section of the configuration
// (config.MQTT): broker URLs (tcp://, ssl://, mqtts://, ws://…), TLS with a
// CA file, user name and password file, client id and a persistent session
// (clean_session: false by default, so QoS 1/2 messages sent while the
// bridge is away are delivered when it returns). Start connects; paho
// reconnects automatically with back-off, and after every connection the
// bridge subscribes again, which makes the broker resend its retained
// messages: retained state is the source of truth, on startup and after
// every outage. The registry is kept across outages.
//
// # Devices and fields
//
// Topic mappings (config.MQTTMapping) use MQTT filters whose levels may
// also be {device} or {field}, captured from the topic: with
// "tele/{device}/SENSOR" a message on tele/plug1/SENSOR belongs to device
// "plug1". Each mapping names a decoder of package payload (plain, json
// with a path, senml-json, senml-cbor), an optional node, field name, unit
// and value type. With homie.enabled, every Homie v4 device under
// homie/ is discovered from its $-attributes ($homie, $state, $name, and
// per property $datatype, $unit, $format, $settable): Homie nodes become
// field nodes, properties fields.
//
// Every field keeps its last value (sensors.Field with Node, Name, Value,
// Unit, Decimals, Timestamp, Types=Momentary, Writable). Timestamp is the
// payload's own time when it has one (SenML), else the time the message
// arrived.
//
// # Availability
//
// A device's source of availability is its mapping's availability_topic
// (an LWT such as Tasmota's tele/x/LWT Online/Offline) or its Homie $state
// (ready and alert are online; init, sleeping, disconnected and lost are
// offline). Device.Available is the effective availability to map to
// XMPP presence: the bridge is connected and the device has not reported
// itself offline. Devices without a source are available whenever the
// bridge is connected. While the broker is away every device is
// unavailable; they come back as the bridge reconnects.
//
// # API for the XMPP side
//
//	b, err := mqttbridge.New(cfg.MQTT, mqttbridge.Options{Logger: log})
//	err = b.Start(ctx)                 // first connection and subscriptions
//	defer b.Close()
//	devs := b.Devices()                // snapshot: []Device sorted by ID
//	d, ok := b.Device("plug1")         // one device: Fields, Available, Since, Name
//	f, ok := d.Field(node, name)       // one field (sensors.Field)
//	events, cancel := b.Subscribe(256) // EventField, EventAvailability, EventDevice
//	err = b.Publish(ctx, "plug1", "", "Power", sensors.Boolean(true))
//
// A XEP-0323 momentary readout of a device JID is Device(id).Fields
// (timestamps included); presence follows EventAvailability (or
// Device.Available); a XEP-0325 set of a field calls Publish and answers
// success only when it returns nil. Publish errors wrap ErrNoEcho (no
// echo within command_timeout), ErrNotConnected / ErrQueueFull /
// ErrQueueDeadline (broker away: with queue_size 0 a command fails at
// once, otherwise up to queue_size commands wait at most queue_deadline),
// ErrUnknownDevice, ErrUnknownField, ErrNotWritable or ErrValueType.
// Subscribers that fall behind lose events (Stats.EventsDropped) and
// should resynchronise from Devices.
//
// # Several brokers
//
// AddBroker connects to a further broker at run time (config.MQTTBroker:
// URL, credentials, CA file, Homie discovery), UpdateBroker changes one,
// RemoveBroker ends one that no mapping uses; Brokers lists them with
// their connection state. A run-time mapping subscribes on the broker its
// Broker key names ("" is mqtt.brokers). A device belongs to the broker
// that first reported it (Device.Broker): its availability follows that
// connection alone and its commands are published there; messages about
// the same device id from another broker are dropped and counted in
// Stats.DeviceConflicts. The devices of a removed broker stay, unavailable,
// until a broker reports them again and takes them over. The concentrator keeps run-time brokers as
// XEP-0326 nodes in its node store.
//
// Bad input (undecodable or oversized payloads, topic storms beyond
// max_devices) is counted in Stats and logged with its topic at most once
// a second; it never stops the bridge.
package mqttbridge
