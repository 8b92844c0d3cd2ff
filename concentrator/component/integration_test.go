package component_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"
	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
	"github.com/xiot/xiot/sensors/sensordata"
)

// deadline bounds every wait; waits poll or select, so passing tests take
// far less.
const deadline = 15 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

// rig is a concentrator between a real mosquitto and a real Prosody, with
// simulated MQTT devices and XMPP users.
type rig struct {
	p    *testserver.Prosody
	m    *testserver.Mosquitto
	b    *mqttbridge.Bridge
	c    *component.Component
	pub  mqtt.Client // the simulated devices' publisher
	plug *killable   // plug1's own connection, with its will
	dir  string
	hist *history.Store // given to the component when set
}

// mappings: a plain-value thermometer, a Tasmota-like plug (JSON
// telemetry, a writable POWER with an LWT), a SenML meter and a device
// whose id needs escaping.
var mappings = []config.MQTTMapping{
	{Topic: "plain/{device}/{field}"},
	{Topic: "tele/{device}/SENSOR", Decoder: config.DecoderJSON, Path: "ENERGY.Power", Field: "Power", Unit: "W"},
	{Topic: "stat/{device}/POWER", Field: "Switch", Type: "boolean", CommandTopic: "cmnd/{device}/POWER",
		PayloadOn: "ON", PayloadOff: "OFF", AvailabilityTopic: "tele/{device}/LWT",
		PayloadAvailable: "Online", PayloadNotAvailable: "Offline"},
	{Topic: "senml/{device}", Decoder: config.DecoderSenMLJSON, Node: "meter"},
	{Topic: "senmlcbor/{device}", Decoder: config.DecoderSenMLCBOR},
}

// homieThermostat is a Homie v4 device: a sensor node and a switch node
// with settable properties.
var homieThermostat = [][2]string{
	{"homie/thermo/$homie", "4.0.0"},
	{"homie/thermo/$name", "Living room thermostat"},
	{"homie/thermo/$nodes", "sensor,switch"},
	{"homie/thermo/sensor/$properties", "temperature"},
	{"homie/thermo/sensor/temperature/$datatype", "float"},
	{"homie/thermo/sensor/temperature/$unit", "°C"},
	{"homie/thermo/sensor/temperature", "21.50"},
	{"homie/thermo/switch/$properties", "on"},
	{"homie/thermo/switch/on/$datatype", "boolean"},
	{"homie/thermo/switch/on/$settable", "true"},
	{"homie/thermo/switch/on", "false"},
	{"homie/thermo/$state", "ready"},
}

func startRig(t *testing.T, po ...testserver.ProsodyOptions) *rig {
	t.Helper()
	r := &rig{dir: t.TempDir()}
	r.p = testserver.StartProsody(t, append(po, testserver.ProsodyOptions{})[0])
	r.m = testserver.StartMosquitto(t, testserver.MosquittoOptions{Persistence: true})
	for _, u := range []string{"owner", "stranger"} {
		if err := r.p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	r.pub = mqttClient(t, r.m, "sim-devices", nil)
	r.plug = &killable{}
	plug := mqttClient(t, r.m, "sim-plug1", func(o *mqtt.ClientOptions) {
		o.SetWill("tele/plug1/LWT", "Offline", 1, true)
		o.SetAutoReconnect(false)
		o.SetCustomOpenConnectionFn(r.plug.open)
	})
	// Retained state before the bridge starts: it must come from the
	// broker's retained messages.
	publish(t, r.pub, "plain/thermo1/Temperature", "23.4 °C")
	publish(t, r.pub, "plain/Kitchen Sensor/Humidity", "41 %")
	publish(t, r.pub, "tele/plug1/SENSOR", `{"ENERGY":{"Power":12.5}}`)
	publish(t, plug, "tele/plug1/LWT", "Online")
	publish(t, plug, "stat/plug1/POWER", "OFF")
	publish(t, r.pub, "stat/dead/POWER", "OFF") // nobody echoes its commands
	publish(t, r.pub, "senml/meter1", `[{"bn":"meter1/","bt":1767225600,"n":"energy","u":"Wh","v":1500}]`)
	// SenML in CBOR with the RFC 8428 integer labels: bn, bt, n, u, v.
	pack, err := cbor.Marshal([]map[int]any{{-2: "m2:", -3: 1767225600, 0: "power", 1: "W", 2: 230.5}})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r.pub, "senmlcbor/meter2", string(pack))
	for _, kv := range homieThermostat {
		publish(t, r.pub, kv[0], kv[1])
	}
	// The Homie device echoes its settable properties.
	tok0 := r.pub.Subscribe("homie/thermo/+/+/set", 1, func(c mqtt.Client, msg mqtt.Message) {
		c.Publish(strings.TrimSuffix(msg.Topic(), "/set"), 1, true, msg.Payload())
	})
	if !tok0.WaitTimeout(deadline) || tok0.Error() != nil {
		t.Fatalf("subscribe: %v", tok0.Error())
	}
	// plug1 echoes its commands, as Tasmota does.
	tok := plug.Subscribe("cmnd/plug1/POWER", 1, func(c mqtt.Client, msg mqtt.Message) {
		c.Publish("stat/plug1/POWER", 1, true, msg.Payload())
	})
	if !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	r.b, err = mqttbridge.New(config.MQTT{
		Brokers: []string{"tcp://" + r.m.Addr}, ClientID: "concentrator-" + t.Name(),
		ReconnectMax: 200 * time.Millisecond, ConnectTimeout: 2 * time.Second, CommandTimeout: 500 * time.Millisecond,
		Mappings: mappings, Homie: config.MQTTHomie{Enabled: true},
	}, mqttbridge.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := r.b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// startComponent runs a component until the test ends or the returned
// function stops it.
func (r *rig) startComponent(t *testing.T) (stop func()) {
	t.Helper()
	cj, _ := jid.Parse(r.p.ComponentDomain)
	owner, _ := jid.Parse("owner@" + r.p.Domain)
	c, err := component.New(component.Options{
		Session: xmpp.Config{JID: cj, Password: r.p.ComponentSecret, Component: true, Server: r.p.ComponentAddr,
			NoTLS: true, ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second, Logger: testLogger(t)},
		Bridge: r.b, Owners: []jid.JID{owner}, StateDir: r.dir, Logger: testLogger(t), History: r.hist,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("component Run: %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-c.Online():
	case err := <-done:
		t.Fatalf("component: %v", err)
	case <-time.After(deadline):
		t.Fatal("component not online")
	}
	return stop
}

// user is a logged-in XMPP client with the readout client and a record of
// the presence it got.
type user struct {
	s  *xmpp.Session
	sd *sensordata.Client

	mu       sync.Mutex
	presence []*xmpp.Element
}

func (r *rig) login(t *testing.T, name string) *user {
	t.Helper()
	return r.loginAs(t, name, "test")
}

// connect logs in as name (password "<name>-pass") with resource, serving
// mux; the session is closed when the test ends.
func (r *rig) connect(t *testing.T, name, resource string, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	j, _ := jid.Parse(name + "@" + r.p.Domain + "/" + resource)
	s := xmpp.New(xmpp.Config{JID: j, Password: name + "-pass", Server: r.p.C2SAddr, TLS: r.p.TLSConfig(),
		Keepalive: -1, Logger: testLogger(t)}, mux)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (r *rig) loginAs(t *testing.T, name, resource string) *user {
	t.Helper()
	mux := &xmpp.Mux{}
	u := &user{sd: sensordata.NewClient(mux)}
	mux.Presence(xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		u.mu.Lock()
		u.presence = append(u.presence, st)
		u.mu.Unlock()
		return nil
	}))
	u.s = r.connect(t, name, resource, mux)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	// Roster and initial presence, so that the server delivers presence.
	if _, err := u.s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get").Add(xmpp.NewElement("jabber:iq:roster", "query"))); err != nil {
		t.Fatal(err)
	}
	if err := u.s.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitPresence waits for a presence from from of type typ ("" for
// available) that arrived after the first skip presences.
func (u *user) waitPresence(t *testing.T, from, typ string, skip int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		u.mu.Lock()
		for _, p := range u.presence[min(skip, len(u.presence)):] {
			if p.Get("from") == from && p.Get("type") == typ {
				u.mu.Unlock()
				return
			}
		}
		u.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var got []string
	for _, p := range u.presence {
		got = append(got, p.String())
	}
	t.Fatalf("no presence type %q from %s; got %v", typ, from, got)
}

func (u *user) presences() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.presence)
}

func TestConcentratorThroughProsody(t *testing.T) {
	r := startRig(t)
	r.startComponent(t)
	dom := r.p.ComponentDomain
	waitFor(t, "bridged devices", func() bool {
		d, ok := r.b.Device("meter1")
		p, ok2 := r.b.Device("plug1")
		_, ok3 := r.b.Device("Kitchen Sensor")
		_, ok4 := r.b.Device("thermo1")
		h, ok5 := r.b.Device("thermo")
		_, ok6 := r.b.Device("meter2")
		return ok && ok2 && ok3 && ok4 && ok5 && ok6 && len(d.Fields) > 0 && len(p.Fields) == 2 && p.Available && len(h.Fields) == 2 && h.Available
	})
	owner := r.login(t, "owner")
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()

	t.Run("readout plain", func(t *testing.T) {
		res, err := owner.sd.Read(ctx, owner.s, "thermo1@"+dom, sensordata.Request{Types: sensors.Momentary})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		want, _ := r.b.Device("thermo1")
		if len(res.Fields) != 1 {
			t.Fatalf("fields %v", res.Fields)
		}
		f := res.Fields[0]
		wf := want.Fields[0]
		if f.Name != "Temperature" || !f.Value.Equal(sensors.Numeric(23.4)) || f.Unit != "°C" {
			t.Errorf("got %v, want Temperature 23.4 °C", f)
		}
		if d := f.Timestamp.Sub(wf.Timestamp); d < -time.Second || d > time.Second {
			t.Errorf("timestamp %v, bridge has %v", f.Timestamp, wf.Timestamp)
		}
	})
	t.Run("readout JSON and SenML", func(t *testing.T) {
		res, err := owner.sd.Read(ctx, owner.s, "plug1@"+dom, sensordata.Request{})
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		var power, sw bool
		for _, f := range res.Fields {
			power = power || (f.Name == "Power" && f.Value.Equal(sensors.Numeric(12.5)) && f.Unit == "W")
			sw = sw || (f.Name == "Switch" && f.Value.Equal(sensors.Boolean(false)))
		}
		if !power || !sw {
			t.Errorf("plug1 fields %v, want Power 12.5 W and Switch false", res.Fields)
		}
		res, err = owner.sd.Read(ctx, owner.s, "meter1@"+dom, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "meter"}}})
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		if len(res.Fields) != 1 {
			t.Fatalf("meter1 fields %v", res.Fields)
		}
		f := res.Fields[0]
		if !f.Value.Equal(sensors.Numeric(1500)) || f.Unit != "Wh" || !f.Timestamp.Equal(time.Unix(1767225600, 0)) {
			t.Errorf("meter1 field %v (time %v), want 1500 Wh at the SenML time 2026-01-01", f, f.Timestamp.UTC())
		}
	})
	t.Run("Homie and SenML-CBOR", func(t *testing.T) {
		res, err := owner.sd.Read(ctx, owner.s, "meter2@"+dom, sensordata.Request{})
		if err != nil || res.Err() != nil || len(res.Fields) != 1 {
			t.Fatalf("meter2: %v %v %v", res.Fields, err, res.Err())
		}
		if f := res.Fields[0]; f.Name != "power" || !f.Value.Equal(sensors.Numeric(230.5)) || f.Unit != "W" || !f.Timestamp.Equal(time.Unix(1767225600, 0)) {
			t.Errorf("meter2 field %v at %v, want power 230.5 W at the SenML time", f, f.Timestamp.UTC())
		}
		res, err = owner.sd.Read(ctx, owner.s, "thermo@"+dom, sensordata.Request{})
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		got := map[string]sensors.Field{}
		for _, f := range res.Fields {
			got[f.Node+"/"+f.Name] = f
		}
		if f := got["sensor/temperature"]; !f.Value.Equal(sensors.Numeric(21.5)) || f.Unit != "°C" {
			t.Errorf("Homie temperature %v (all: %v)", f, res.Fields)
		}
		if f := got["switch/on"]; !f.Value.Equal(sensors.Boolean(false)) || !f.Writable {
			t.Errorf("Homie switch %v", f)
		}
		_, err = iotcontrol.Set(ctx, owner.s, "thermo@"+dom, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "switch"}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "on", Value: "true"}}})
		if err != nil {
			t.Fatalf("set switch/on: %v", err)
		}
		d, _ := r.b.Device("thermo")
		if f, _ := d.Field("switch", "on"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("switch/on after the set = %v", f.Value)
		}
	})
	t.Run("escaped id", func(t *testing.T) {
		j, ok := r.c.JID("Kitchen Sensor")
		if !ok || j != `kitchen\20sensor@`+dom {
			t.Fatalf("JID of \"Kitchen Sensor\" = %q, %v", j, ok)
		}
		res, err := owner.sd.Read(ctx, owner.s, j, sensordata.Request{})
		if err != nil || res.Err() != nil || len(res.Fields) != 1 || !res.Fields[0].Value.Equal(sensors.Numeric(41)) {
			t.Fatalf("read %s: %v %v %v", j, res.Fields, err, res.Err())
		}
	})
	t.Run("disco", func(t *testing.T) {
		info, err := disco.GetInfo(ctx, owner.s, "plug1@"+dom, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{sensordata.NS, iotcontrol.NS, xmpp.NSPing} {
			if !info.HasFeature(f) {
				t.Errorf("plug1 lacks feature %s: %v", f, info.Features)
			}
		}
		info, err = disco.GetInfo(ctx, owner.s, "thermo1@"+dom, "")
		if err != nil {
			t.Fatal(err)
		}
		if !info.HasFeature(sensordata.NS) || info.HasFeature(iotcontrol.NS) {
			t.Errorf("thermo1 (read-only) features %v", info.Features)
		}
		if len(info.Identities) != 1 || !strings.Contains(info.Identities[0].Name, "thermo1") {
			t.Errorf("thermo1 identities %v", info.Identities)
		}
		items, err := disco.GetItems(ctx, owner.s, dom, "")
		if err != nil {
			t.Fatal(err)
		}
		var jids []string
		for _, it := range items {
			jids = append(jids, it.JID)
		}
		if !slices.Contains(jids, "plug1@"+dom) || !slices.Contains(jids, "meter1@"+dom) {
			t.Errorf("component items %v", jids)
		}
		if _, err := disco.GetInfo(ctx, owner.s, "nosuchdevice@"+dom, ""); err == nil {
			t.Error("disco of an unknown device answered")
		}
	})
	t.Run("set with echo", func(t *testing.T) {
		cmds := make(chan string, 4)
		tok := r.pub.Subscribe("cmnd/plug1/POWER", 1, func(_ mqtt.Client, msg mqtt.Message) { cmds <- string(msg.Payload()) })
		if !tok.WaitTimeout(deadline) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		defer r.pub.Unsubscribe("cmnd/plug1/POWER")
		_, err := iotcontrol.Set(ctx, owner.s, "plug1@"+dom, iotcontrol.SetRequest{
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "true"}}})
		if err != nil {
			t.Fatalf("set Switch: %v", err)
		}
		// The set succeeded after the echo: the bridge already holds it.
		d, _ := r.b.Device("plug1")
		if f, _ := d.Field("", "Switch"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("Switch after the set = %v", f.Value)
		}
		select {
		case p := <-cmds:
			if p != "ON" {
				t.Errorf("command payload %q, want ON", p)
			}
		case <-time.After(deadline):
			t.Error("no command on cmnd/plug1/POWER")
		}
		form, err := iotcontrol.FetchForm(ctx, owner.s, "plug1@"+dom)
		if err != nil {
			t.Fatal(err)
		}
		if form.Title == "" {
			t.Errorf("form %+v", form)
		}
	})
	t.Run("set without echo", func(t *testing.T) {
		start := time.Now()
		_, err := iotcontrol.Set(ctx, owner.s, "dead@"+dom, iotcontrol.SetRequest{
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "true"}}})
		var se *xmpp.StanzaError
		if !errors.As(err, &se) || se.Condition != "remote-server-timeout" || !strings.Contains(se.Text, "cmnd/dead/POWER") {
			t.Fatalf("set on a silent device: %v, want remote-server-timeout naming the command topic", err)
		}
		if el := time.Since(start); el < 500*time.Millisecond {
			t.Errorf("refused after %v, before the command timeout", el)
		}
		_, err = iotcontrol.Set(ctx, owner.s, "plug1@"+dom, iotcontrol.SetRequest{
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Nope", Value: "true"}}})
		if !errors.As(err, &se) || se.Condition != "item-not-found" {
			t.Errorf("set of an unknown parameter: %v, want item-not-found", err)
		}
		_, err = iotcontrol.Set(ctx, owner.s, "plug1@"+dom, iotcontrol.SetRequest{Params: []iotcontrol.Param{
			{Type: control.TypeBoolean, Name: "Switch", Value: "true"}, {Type: control.TypeDuration, Name: iotcontrol.OverrideParam, Value: "PT1M"}}})
		if !errors.As(err, &se) || se.Condition != "feature-not-implemented" {
			t.Errorf("timed override: %v, want feature-not-implemented", err)
		}
	})
	stranger := r.login(t, "stranger")
	t.Run("XEP-0326", func(t *testing.T) {
		query := func(u *user, payload *xmpp.Element) (*xmpp.Element, error) {
			res, err := u.s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", dom).Add(payload))
			if res != nil {
				// The response element, also beside the error of a refusal.
				if r := res.Child(component.NSConcentrators, payload.Name.Local+"Response"); r != nil {
					return r, err
				}
			}
			return nil, err
		}
		ns := component.NSConcentrators
		res, err := query(owner, xmpp.NewElement(ns, "getCapabilities"))
		if err != nil || res.Get("result") != "OK" {
			t.Fatalf("getCapabilities: %v %v", res, err)
		}
		var caps []string
		for _, v := range res.Children() {
			caps = append(caps, v.Text())
		}
		if !slices.Contains(caps, "getRootNodes") || !slices.Contains(caps, "getChildNodes") || slices.Contains(caps, "moveNodeUp") {
			t.Errorf("capabilities %v", caps)
		}
		res, err = query(owner, xmpp.NewElement(ns, "getAllDataSources"))
		if err != nil || res.Child(ns, "dataSource").Get("sourceId") != component.SourceID {
			t.Fatalf("getAllDataSources: %v %v", res, err)
		}
		res, err = query(owner, xmpp.NewElement(ns, "getRootNodes", "sourceId", component.SourceID, "parameters", "true"))
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]*xmpp.Element{}
		for _, n := range res.Children() {
			nodes[n.Get("nodeId")] = n
		}
		plug, meter := nodes["plug1"], nodes["meter1"]
		if plug == nil || meter == nil || len(nodes) != 7 {
			t.Fatalf("root nodes %v", res)
		}
		if plug.Get("isControllable") != "true" || plug.Get("hasChildren") != "false" || meter.Get("hasChildren") != "true" || meter.Get("isControllable") != "false" {
			t.Errorf("plug1 %v, meter1 %v", plug, meter)
		}
		var jidParam string
		for _, p := range plug.Children() {
			if p.Get("id") == "jid" {
				jidParam = p.Get("value")
			}
		}
		if jidParam != "plug1@"+dom {
			t.Errorf("plug1's jid parameter %q", jidParam)
		}
		res, err = query(owner, xmpp.NewElement(ns, "getChildNodes", "sourceId", component.SourceID, "nodeId", "meter1"))
		if err != nil || len(res.Children()) != 1 || res.FirstChild().Get("nodeId") != "meter1/meter" || res.FirstChild().Get("parentId") != "meter1" {
			t.Fatalf("getChildNodes meter1: %v %v", res, err)
		}
		res, err = query(owner, xmpp.NewElement(ns, "containsNodes").Add(
			xmpp.NewElement(ns, "node", "sourceId", component.SourceID, "nodeId", "meter1/meter"),
			xmpp.NewElement(ns, "node", "sourceId", component.SourceID, "nodeId", "nope"),
			xmpp.NewElement(ns, "node", "sourceId", "Other", "nodeId", "plug1")))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range res.Children() {
			got = append(got, v.Text())
		}
		if !slices.Equal(got, []string{"true", "false", "false"}) {
			t.Errorf("containsNodes: %v", got)
		}
		var se *xmpp.StanzaError
		res, err = query(owner, xmpp.NewElement(ns, "getNode", "sourceId", component.SourceID, "nodeId", "nope"))
		if !errors.As(err, &se) || se.Condition != "item-not-found" || res == nil || res.Get("result") != "NotFound" {
			t.Errorf("getNode of an unknown node: %v %v", res, err)
		}
		for _, cmd := range []string{"moveNodeUp", "holabandola"} {
			res, err = query(owner, xmpp.NewElement(ns, cmd, "sourceId", component.SourceID))
			if !errors.As(err, &se) || se.Condition != "feature-not-implemented" || res == nil || res.Get("result") != "NotImplemented" {
				t.Errorf("%s: %v %v", cmd, res, err)
			}
		}
		if res, err = query(stranger, xmpp.NewElement(ns, "getRootNodes", "sourceId", component.SourceID)); !errors.As(err, &se) || se.Condition != "forbidden" || res == nil || res.Get("result") != "InsufficientPrivileges" {
			t.Errorf("stranger's getRootNodes: %v", err)
		}
	})
	t.Run("strangers", func(t *testing.T) {
		var se *xmpp.StanzaError
		_, err := stranger.sd.Read(ctx, stranger.s, "thermo1@"+dom, sensordata.Request{})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's readout: %v, want forbidden", err)
		}
		_, err = iotcontrol.Set(ctx, stranger.s, "plug1@"+dom, iotcontrol.SetRequest{
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "false"}}})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's set: %v, want forbidden", err)
		}
		d, _ := r.b.Device("plug1")
		if f, _ := d.Field("", "Switch"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("a stranger's set changed the plug: Switch = %v", f.Value)
		}
	})
	t.Run("subscriptions", func(t *testing.T) {
		n := stranger.presences()
		if err := stranger.s.Send(ctx, xmpp.NewElement("", "presence", "type", "subscribe", "to", "plug1@"+dom)); err != nil {
			t.Fatal(err)
		}
		stranger.waitPresence(t, "plug1@"+dom, "unsubscribed", n)

		n = owner.presences()
		if err := owner.s.Send(ctx, xmpp.NewElement("", "presence", "type", "subscribe", "to", "plug1@"+dom)); err != nil {
			t.Fatal(err)
		}
		owner.waitPresence(t, "plug1@"+dom, "subscribed", n)
		owner.waitPresence(t, "plug1@"+dom, "", n)
		data, err := os.ReadFile(r.dir + "/" + component.SubscriptionsFile)
		if err != nil || !strings.Contains(string(data), "owner@"+r.p.Domain) {
			t.Errorf("subscription store: %q, %v", data, err)
		}

		// The plug's LWT fires: its JID goes unavailable.
		n = owner.presences()
		r.plug.kill()
		owner.waitPresence(t, "plug1@"+dom, "unavailable", n)
		res, err := owner.sd.Read(ctx, owner.s, "plug1@"+dom, sensordata.Request{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Text, "offline") {
			t.Errorf("readout of an unavailable device: fields %v errors %v, want a failure", res.Fields, res.Errors)
		}
		// It comes back.
		n = owner.presences()
		publish(t, r.pub, "tele/plug1/LWT", "Online")
		owner.waitPresence(t, "plug1@"+dom, "", n)
		// Another session of the owner logs in: the server probes the
		// device, which answers with its presence.
		second := r.loginAs(t, "owner", "second")
		second.waitPresence(t, "plug1@"+dom, "", 0)
	})
}

// killable lets a test drop an MQTT client's connection without a
// DISCONNECT, so that the broker publishes its will.
type killable struct {
	mu   sync.Mutex
	conn interface{ Close() error }
}

// TestRestarts restarts the broker (devices go unavailable and come back)
// and the component (subscriptions survive in the state directory).
func TestRestarts(t *testing.T) {
	r := startRig(t)
	stop := r.startComponent(t)
	dom := r.p.ComponentDomain
	waitFor(t, "thermo1", func() bool { d, ok := r.b.Device("thermo1"); return ok && d.Available })
	owner := r.login(t, "owner")
	ctx := t.Context()
	n := owner.presences()
	if err := owner.s.Send(ctx, xmpp.NewElement("", "presence", "type", "subscribe", "to", "thermo1@"+dom)); err != nil {
		t.Fatal(err)
	}
	owner.waitPresence(t, "thermo1@"+dom, "", n)

	n = owner.presences()
	if err := r.m.Stop(); err != nil {
		t.Fatal(err)
	}
	owner.waitPresence(t, "thermo1@"+dom, "unavailable", n)
	n = owner.presences()
	if err := r.m.Restart(); err != nil {
		t.Fatal(err)
	}
	owner.waitPresence(t, "thermo1@"+dom, "", n)

	// The component stops: unavailable; a new one with the same state
	// directory knows the subscriber and tells it the device is back.
	n = owner.presences()
	stop()
	owner.waitPresence(t, "thermo1@"+dom, "unavailable", n)
	n = owner.presences()
	r.startComponent(t)
	owner.waitPresence(t, "thermo1@"+dom, "", n)
	res, err := owner.sd.Read(ctx, owner.s, "thermo1@"+dom, sensordata.Request{})
	if err != nil || res.Err() != nil || len(res.Fields) != 1 || !res.Fields[0].Value.Equal(sensors.Numeric(23.4)) {
		t.Fatalf("readout after the restarts: %v %v %v", res.Fields, err, res.Err())
	}
}
