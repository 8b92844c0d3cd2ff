package mqttbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/sensors"
)

// decoderMappings map one device per decoder.
var decoderMappings = []config.MQTTMapping{
	{Topic: "plain/{device}/{field}", Unit: ""},
	{Topic: "tele/{device}/SENSOR", Decoder: config.DecoderJSON, Path: "DS18B20.Temperature", Field: "Temperature"},
	{Topic: "tele/{device}/SENSOR", Decoder: config.DecoderJSON, Path: "ENERGY.Power[0]", Field: "Power", Unit: "W", Type: "int"},
	{Topic: "senml/{device}", Decoder: config.DecoderSenMLJSON},
	{Topic: "senmlcbor/{device}", Decoder: config.DecoderSenMLCBOR, Node: "meter"},
}

// senmlCBOR encodes a SenML pack with integer labels.
func senmlCBOR(t *testing.T, recs ...map[int]any) []byte {
	t.Helper()
	p, err := cbor.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRetainedStateOnStartup(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	pub := testClient(t, m, "publisher", nil)
	publish(t, pub, "plain/kitchen/temperature", true, "21.5 °C")
	publish(t, pub, "plain/kitchen/door", true, "OFF")
	publish(t, pub, "tele/plug1/SENSOR", true, `{"DS18B20":{"Temperature":19.25},"ENERGY":{"Power":[40,0]}}`)
	publish(t, pub, "senml/meter1", true, `[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1.7e9,"n":"voltage","u":"V","v":230.1},{"n":"current","u":"A","t":1,"v":1.5}]`)
	publish(t, pub, "senmlcbor/meter2", true, senmlCBOR(t, map[int]any{-2: "m2:", 0: "energy", 1: "kWh", 2: 1234.5, 6: 1.7e9}))

	b := startBridge(t, bridgeConfig(t, m, decoderMappings...))

	f := waitField(t, b, "kitchen", "", "temperature", sensors.Numeric(21.5))
	if f.Unit != "°C" || f.Decimals != 1 || f.Types != sensors.Momentary || f.Timestamp.IsZero() || f.Writable {
		t.Errorf("kitchen temperature = %+v", f)
	}
	waitField(t, b, "kitchen", "", "door", sensors.Boolean(false))
	waitField(t, b, "plug1", "", "Temperature", sensors.Numeric(19.25))
	if f := waitField(t, b, "plug1", "", "Power", sensors.Int(40)); f.Unit != "" {
		t.Errorf("int field has unit %q (units are numeric-only)", f.Unit)
	}
	f = waitField(t, b, "meter1", "", "current", sensors.Numeric(1.5))
	if f.Unit != "A" || !f.Timestamp.Equal(time.Unix(1.7e9+1, 0)) {
		t.Errorf("meter1 current = %+v, want unit A at bt+1", f)
	}
	waitField(t, b, "meter1", "", "voltage", sensors.Numeric(230.1))
	f = waitField(t, b, "meter2", "meter", "energy", sensors.Numeric(1234.5))
	if f.Unit != "kWh" || !f.Timestamp.Equal(time.Unix(1.7e9, 0)) {
		t.Errorf("meter2 energy = %+v", f)
	}
	for _, d := range b.Devices() {
		if !d.Available || d.Reported != AvailabilityUnknown {
			t.Errorf("device %s: available %v reported %v, want available without a source", d.ID, d.Available, d.Reported)
		}
		for _, f := range d.Fields {
			if err := f.Validate(); err != nil {
				t.Errorf("device %s: %v", d.ID, err)
			}
		}
	}
	if n := len(b.Devices()); n != 4 {
		t.Errorf("%d devices, want 4", n)
	}
}

func TestLiveUpdates(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	cfg := bridgeConfig(t, m, decoderMappings...)
	cfg.MaxPayloadBytes = 1024
	b := startBridge(t, cfg)
	events, cancel := b.Subscribe(64)
	defer cancel()
	pub := testClient(t, m, "publisher", nil)

	publish(t, pub, "plain/kitchen/humidity", false, "45 %")
	if f := waitField(t, b, "kitchen", "", "humidity", sensors.Numeric(45)); f.Unit != "%" {
		t.Errorf("unit %q, want %%", f.Unit)
	}
	publish(t, pub, "plain/kitchen/humidity", false, "46")
	waitField(t, b, "kitchen", "", "humidity", sensors.Numeric(46))
	publish(t, pub, "tele/plug1/SENSOR", false, `{"DS18B20":{"Temperature":"22.5 °C"},"ENERGY":{"Power":[12,0]}}`)
	waitField(t, b, "plug1", "", "Temperature", sensors.Numeric(22.5))
	waitField(t, b, "plug1", "", "Power", sensors.Int(12))
	publish(t, pub, "senml/m", false, `[{"n":"open","vb":true},{"n":"tag","vs":"aa:bb"}]`)
	waitField(t, b, "m", "", "open", sensors.Boolean(true))
	waitField(t, b, "m", "", "tag", sensors.String("aa:bb"))
	publish(t, pub, "senmlcbor/c", false, senmlCBOR(t, map[int]any{0: "t", 1: "Cel", 2: 20.5}))
	if f := waitField(t, b, "c", "meter", "t", sensors.Numeric(20.5)); f.Unit != "°C" {
		t.Errorf("SenML Cel became %q, want °C", f.Unit)
	}

	// Bad input is counted, never fatal, and good messages still flow.
	before := b.Stats()
	publish(t, pub, "senml/m", false, `[{"n":"x","v":"not a number"}]`)
	publish(t, pub, "senmlcbor/c", false, []byte{0xff, 0x00})
	publish(t, pub, "tele/plug1/SENSOR", false, `{"DS18B20":`)
	publish(t, pub, "plain/kitchen/humidity", false, strings.Repeat("9", 2000))
	publish(t, pub, "plain/kitchen/humidity", false, make([]byte, 10<<20)) // 10 MB
	publish(t, pub, "plain/kitchen/humidity", false, "")                   // a cleared retained value: skipped
	publish(t, pub, "plain/kitchen/humidity", false, "47")
	waitField(t, b, "kitchen", "", "humidity", sensors.Numeric(47))
	s := b.Stats()
	// The broken JSON fails both json mappings of its topic.
	if s.DecodeErrors-before.DecodeErrors != 4 || s.Oversize-before.Oversize != 2 {
		t.Errorf("stats after bad input: %+v (before %+v), want 4 decode errors and 2 oversize", s, before)
	}

	// The subscription saw the updates in order.
	var seen []string
	for len(events) > 0 {
		e := <-events
		if e.Kind == EventField && e.Device == "kitchen" {
			seen = append(seen, e.Field.Text())
		}
	}
	if strings.Join(seen, ",") != "45,46,47" {
		t.Errorf("kitchen events %v, want 45,46,47", seen)
	}
}

// homieDevice publishes the retained $-topics of a Homie v4 device with a
// temperature sensor, a settable switch and a settable mode enum.
func homieDevice(t *testing.T, c mqtt.Client) {
	t.Helper()
	for _, kv := range [][2]string{
		{"homie/thermo/$homie", "4.0.0"},
		{"homie/thermo/$name", "Living room thermostat"},
		{"homie/thermo/$nodes", "sensor,switch"},
		{"homie/thermo/sensor/$name", "Sensor"},
		{"homie/thermo/sensor/$properties", "temperature"},
		{"homie/thermo/sensor/temperature", "21.50"}, // value before its $datatype
		{"homie/thermo/sensor/temperature/$name", "Temperature"},
		{"homie/thermo/sensor/temperature/$datatype", "float"},
		{"homie/thermo/sensor/temperature/$unit", "°C"},
		{"homie/thermo/switch/$properties", "on,mode"},
		{"homie/thermo/switch/on/$datatype", "boolean"},
		{"homie/thermo/switch/on/$settable", "true"},
		{"homie/thermo/switch/on", "false"},
		{"homie/thermo/switch/mode/$datatype", "enum"},
		{"homie/thermo/switch/mode/$format", "eco,comfort"},
		{"homie/thermo/switch/mode/$settable", "true"},
		{"homie/thermo/switch/mode", "eco"},
		{"homie/thermo/$state", "ready"},
	} {
		publish(t, c, kv[0], true, kv[1])
	}
}

func TestHomieDiscoveryAndSet(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	var k killableConn
	dev := testClient(t, m, "thermo", func(o *mqtt.ClientOptions) {
		o.SetWill("homie/thermo/$state", "lost", 1, true)
		o.SetAutoReconnect(false)
		o.SetCustomOpenConnectionFn(k.open)
	})
	homieDevice(t, dev)
	echoDevice(t, dev, "homie/thermo/+/+/set", func(topic string) string { return strings.TrimSuffix(topic, "/set") })

	cfg := bridgeConfig(t, m)
	cfg.Homie.Enabled = true
	b := startBridge(t, cfg)

	f := waitField(t, b, "thermo", "sensor", "temperature", sensors.Numeric(21.5))
	if f.Unit != "°C" || f.Decimals != 2 || f.Writable {
		t.Errorf("temperature = %+v", f)
	}
	if f := waitField(t, b, "thermo", "switch", "on", sensors.Boolean(false)); !f.Writable {
		t.Error("switch/on is $settable but not writable")
	}
	waitField(t, b, "thermo", "switch", "mode", sensors.Enum("eco", "eco,comfort"))
	waitAvailable(t, b, "thermo", true)
	waitFor(t, "thermo's $state", func() bool { return mustDevice(t, b, "thermo").HomieState == "ready" })
	d := mustDevice(t, b, "thermo")
	if s := b.Stats(); s.DecodeErrors != 0 {
		t.Errorf("%d decode errors while discovering (values before their $datatype or $format)", s.DecodeErrors)
	}
	if !d.Homie || d.Name != "Living room thermostat" || d.HomieState != "ready" || d.Reported != AvailabilityOnline {
		t.Errorf("device = %+v", d)
	}

	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := b.Publish(ctx, "thermo", "switch", "on", sensors.Boolean(true)); err != nil {
		t.Fatalf("set switch/on: %v", err)
	}
	if f, _ := mustDevice(t, b, "thermo").Field("switch", "on"); !f.Value.Equal(sensors.Boolean(true)) {
		t.Errorf("after the echo switch/on = %s", f.Text())
	}
	if err := b.Publish(ctx, "thermo", "switch", "mode", sensors.Enum("comfort", "")); err != nil {
		t.Fatalf("set switch/mode: %v", err)
	}
	if err := b.Publish(ctx, "thermo", "switch", "mode", sensors.Enum("turbo", "")); !errors.Is(err, ErrValueType) {
		t.Errorf("set mode turbo: %v, want ErrValueType", err)
	}
	if err := b.Publish(ctx, "thermo", "sensor", "temperature", sensors.Numeric(30)); !errors.Is(err, ErrNotWritable) {
		t.Errorf("set temperature: %v, want ErrNotWritable", err)
	}
	if err := b.Publish(ctx, "thermo", "switch", "on", sensors.Numeric(1)); !errors.Is(err, ErrValueType) {
		t.Errorf("set switch/on to a number: %v, want ErrValueType", err)
	}
	if err := b.Publish(ctx, "nobody", "", "x", sensors.Numeric(1)); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("set on an unknown device: %v, want ErrUnknownDevice", err)
	}

	publish(t, dev, "homie/thermo/$state", true, "sleeping")
	waitAvailable(t, b, "thermo", false)
	publish(t, dev, "homie/thermo/$state", true, "ready")
	waitAvailable(t, b, "thermo", true)

	// The device dies: its will sets $state to lost, so it is unavailable.
	k.kill()
	waitAvailable(t, b, "thermo", false)
	if d := mustDevice(t, b, "thermo"); d.HomieState != "lost" || d.Reported != AvailabilityOffline {
		t.Errorf("after the will: state %q reported %v", d.HomieState, d.Reported)
	}
}

// mustDevice returns a device snapshot or fails.
func mustDevice(t *testing.T, b *Bridge, id string) Device {
	t.Helper()
	d, ok := b.Device(id)
	if !ok {
		t.Fatalf("no device %s", id)
	}
	return d
}

func TestAvailabilityLWT(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	cfg := bridgeConfig(t, m, config.MQTTMapping{
		Topic: "stat/{device}/POWER", Field: "Power", Type: "boolean",
		AvailabilityTopic: "tele/{device}/LWT", PayloadAvailable: "Online", PayloadNotAvailable: "Offline",
	})
	b := startBridge(t, cfg)
	events, cancel := b.Subscribe(64)
	defer cancel()

	var k killableConn
	plug := testClient(t, m, "plug1", func(o *mqtt.ClientOptions) {
		o.SetWill("tele/plug1/LWT", "Offline", 1, true)
		o.SetAutoReconnect(false)
		o.SetCustomOpenConnectionFn(k.open)
	})
	publish(t, plug, "tele/plug1/LWT", true, "Online")
	publish(t, plug, "stat/plug1/POWER", true, "ON")
	waitField(t, b, "plug1", "", "Power", sensors.Boolean(true))
	waitAvailable(t, b, "plug1", true)
	if d := mustDevice(t, b, "plug1"); d.Reported != AvailabilityOnline {
		t.Errorf("reported %v, want online", d.Reported)
	}

	k.kill() // no DISCONNECT: the broker publishes the will
	waitAvailable(t, b, "plug1", false)
	timeout := time.After(deadline)
	for done := false; !done; {
		select {
		case e := <-events:
			done = e.Kind == EventAvailability && e.Device == "plug1" && !e.Available
		case <-timeout:
			t.Fatal("no EventAvailability(false) for plug1")
		}
	}
	// zigbee2mqtt's JSON availability payloads.
	z := bridgeConfig(t, m, config.MQTTMapping{Topic: "z2m/{device}", Decoder: config.DecoderJSON, Path: "temperature",
		AvailabilityTopic: "z2m/{device}/availability"})
	z.ClientID += "-z2m"
	zb := startBridge(t, z)
	pub := testClient(t, m, "z2m", nil)
	publish(t, pub, "z2m/sensor1", true, `{"temperature":20.5,"linkquality":80}`)
	publish(t, pub, "z2m/sensor1/availability", true, `{"state":"offline"}`)
	waitField(t, zb, "sensor1", "", "temperature", sensors.Numeric(20.5))
	waitAvailable(t, zb, "sensor1", false)
	publish(t, pub, "z2m/sensor1/availability", true, `{"state":"online"}`)
	waitAvailable(t, zb, "sensor1", true)

	// The last value stays readable while the device is away.
	if f, ok := mustDevice(t, b, "plug1").Field("", "Power"); !ok || !f.Value.Equal(sensors.Boolean(true)) {
		t.Errorf("last value lost: %+v", f)
	}
}

func TestSetEcho(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	cfg := bridgeConfig(t, m, config.MQTTMapping{
		Topic: "stat/{device}/POWER", Field: "Power", Type: "boolean",
		CommandTopic: "cmnd/{device}/POWER", PayloadOn: "ON", PayloadOff: "OFF",
	}, config.MQTTMapping{
		Topic: "stat/{device}/DIMMER", Field: "Dimmer", Decoder: config.DecoderJSON, Path: "Dimmer", Unit: "%",
		CommandTopic: "cmnd/{device}/DIMMER", CommandPayload: `{"Dimmer":{value}}`,
	})
	cfg.CommandTimeout = 300 * time.Millisecond
	b := startBridge(t, cfg)

	dev := testClient(t, m, "plugs", nil)
	publish(t, dev, "stat/plug1/POWER", true, "OFF")
	publish(t, dev, "stat/plug1/DIMMER", true, `{"Dimmer":10}`)
	publish(t, dev, "stat/dead/POWER", true, "OFF") // nobody answers for it
	echoDevice(t, dev, "cmnd/plug1/+", func(topic string) string { return "stat/plug1/" + lastLevel(topic) })
	waitField(t, b, "plug1", "", "Power", sensors.Boolean(false))
	waitField(t, b, "plug1", "", "Dimmer", sensors.Numeric(10))
	waitField(t, b, "dead", "", "Power", sensors.Boolean(false))

	ctx := t.Context()
	t.Run("echo", func(t *testing.T) {
		if err := b.Publish(ctx, "plug1", "", "Power", sensors.Boolean(true)); err != nil {
			t.Fatalf("set Power: %v", err)
		}
		if f, _ := mustDevice(t, b, "plug1").Field("", "Power"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("Power after the echo = %s", f.Text())
		}
		if err := b.Publish(ctx, "plug1", "", "Dimmer", sensors.Long(55)); err != nil {
			t.Fatalf("set Dimmer (templated JSON payload): %v", err)
		}
		waitField(t, b, "plug1", "", "Dimmer", sensors.Numeric(55))
	})
	t.Run("no echo", func(t *testing.T) {
		start := time.Now()
		err := b.Publish(ctx, "dead", "", "Power", sensors.Boolean(true))
		if !errors.Is(err, ErrNoEcho) {
			t.Fatalf("set on a silent device: %v, want ErrNoEcho", err)
		}
		if el := time.Since(start); el < cfg.CommandTimeout || el > cfg.CommandTimeout+2*time.Second {
			t.Errorf("failed after %v, want about %v", el, cfg.CommandTimeout)
		}
		if !strings.Contains(err.Error(), "cmnd/dead/POWER") {
			t.Errorf("error does not name the command topic: %v", err)
		}
	})
	t.Run("wrong echo", func(t *testing.T) {
		// A device that reports another state than the one asked for.
		sub := dev.Subscribe("cmnd/dead/POWER", 1, func(c mqtt.Client, _ mqtt.Message) {
			c.Publish("stat/dead/POWER", 1, true, "OFF")
		})
		if !sub.WaitTimeout(deadline) || sub.Error() != nil {
			t.Fatal(sub.Error())
		}
		err := b.Publish(ctx, "dead", "", "Power", sensors.Boolean(true))
		if !errors.Is(err, ErrNoEcho) || !strings.Contains(err.Error(), "last state false") {
			t.Fatalf("set answered with the old state: %v, want ErrNoEcho naming the last state", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := b.Publish(c, "plug1", "", "Power", sensors.Boolean(true))
		// The echo device may answer within 50 ms; otherwise the context
		// error is reported.
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("set with a short context: %v", err)
		}
	})
	if s := b.Stats(); s.Commands < 2 || s.CommandErrors < 2 {
		t.Errorf("stats %+v, want at least 2 commands and 2 errors", s)
	}
}

func TestTopicStorm(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	cfg := bridgeConfig(t, m, config.MQTTMapping{Topic: "storm/{device}/{field}"})
	cfg.MaxDevices = 5
	b := startBridge(t, cfg)
	pub := testClient(t, m, "storm", nil)
	for i := range 200 {
		pub.Publish(fmt.Sprintf("storm/d%d/x", i), 0, false, "1")
	}
	publish(t, pub, "storm/d0/last", false, "2") // QoS 1: after the storm
	waitField(t, b, "d0", "", "last", sensors.Numeric(2))
	if n := len(b.Devices()); n != 5 {
		t.Errorf("%d devices, want the bound 5", n)
	}
	if s := b.Stats(); s.DevicesRefused == 0 {
		t.Errorf("stats %+v: no refused device counted", s)
	}
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]config.MQTT{
		"no broker":   {},
		"bad scheme":  {Brokers: []string{"http://x"}},
		"bad mapping": {Brokers: []string{"tcp://x:1"}, Mappings: []config.MQTTMapping{{Topic: "a/#/b", Device: "d"}}},
	} {
		if _, err := New(cfg, Options{}); err == nil {
			t.Errorf("%s: New accepted the configuration", name)
		}
	}
}
