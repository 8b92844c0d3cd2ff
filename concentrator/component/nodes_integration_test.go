package component_test

import (
	"context"

	"encoding/json"
	"errors"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// eventUser is a logged-in XMPP client that records the XEP-0326 event
// messages it gets.
type eventUser struct {
	s  *xmpp.Session
	sd *sensordata.Client

	mu     sync.Mutex
	events []*xmpp.Element
}

func (r *rig) loginEvents(t *testing.T, name, resource string) *eventUser {
	t.Helper()
	mux := &xmpp.Mux{}
	u := &eventUser{sd: sensordata.NewClient(mux)}
	mux.Message(component.NSConcentrators, "", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, m *xmpp.Element) error {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.events = append(u.events, m.Children()...)
		return nil
	}))
	u.s = r.connect(t, name, resource, mux)
	return u
}

// waitEvent waits for an event named name about nodeId in sourceId.
func (u *eventUser) waitEvent(t *testing.T, name, source, nodeID string) *xmpp.Element {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		u.mu.Lock()
		for _, e := range u.events {
			if e.Name.Local == name && e.Get("sourceId") == source && e.Get("nodeId") == nodeID {
				u.mu.Unlock()
				return e
			}
		}
		u.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var got []string
	for _, e := range u.events {
		got = append(got, e.String())
	}
	t.Fatalf("no %s event for %s/%s; got %v", name, source, nodeID, got)
	return nil
}

// query sends a XEP-0326 request and returns its response element (also
// beside the error of a refusal).
func query(ctx context.Context, s *xmpp.Session, to, typ string, payload *xmpp.Element) (*xmpp.Element, error) {
	res, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", typ, "to", to).Add(payload))
	if res != nil {
		if r := res.Child(component.NSConcentrators, payload.Name.Local+"Response"); r != nil {
			return r, err
		}
	}
	return nil, err
}

// submitForm is a XEP-0004 submitted form of var/value pairs.
func submitForm(kv ...string) *xmpp.Element {
	x := xmpp.NewElement(iotcontrol.NSData, "x", "type", "submit")
	for i := 0; i+1 < len(kv); i += 2 {
		x.Add(xmpp.NewElement(iotcontrol.NSData, "field", "var", kv[i]).Add(xmpp.NewElement(iotcontrol.NSData, "value").AddText(kv[i+1])))
	}
	return x
}

// formErrors returns var → text of a FormError response.
func formErrors(res *xmpp.Element) map[string]string {
	out := map[string]string{}
	if res == nil {
		return out
	}
	for _, e := range res.Children() {
		if e.Name.Local == "error" {
			out[e.Get("var")] = e.Text()
		}
	}
	return out
}

// newBridge starts another bridge on the rig's broker, as a restarted
// concentrator would.
func (r *rig) newBridge(t *testing.T) *mqttbridge.Bridge {
	t.Helper()
	b, err := mqttbridge.New(config.MQTT{
		Brokers: []string{"tcp://" + r.m.Addr}, ClientID: "concentrator2-" + t.Name(),
		ReconnectMax: 200 * time.Millisecond, ConnectTimeout: 2 * time.Second, CommandTimeout: 500 * time.Millisecond,
		Mappings: mappings, Homie: config.MQTTHomie{Enabled: true},
	}, mqttbridge.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestNodeTree exercises the XEP-0326 node tree through Prosody: the two
// data sources, ancestors and inheritance, parameter forms, mappings
// created at run time (persisted across a restart), commands and data
// source events.
func TestNodeTree(t *testing.T) {
	r := startRig(t)
	stop := r.startComponent(t)
	r.waitBridged(t)
	dom := r.p.ComponentDomain
	ns := component.NSConcentrators
	ms := component.MappingsSourceID
	owner := r.loginEvents(t, "owner", "events")
	ctx, cancel := context.WithTimeout(context.Background(), 4*deadline)
	defer cancel()
	get := func(p *xmpp.Element) (*xmpp.Element, error) { return query(ctx, owner.s, dom, "get", p) }
	set := func(p *xmpp.Element) (*xmpp.Element, error) { return query(ctx, owner.s, dom, "set", p) }
	var se *xmpp.StanzaError

	t.Run("data sources and queries", func(t *testing.T) {
		res, err := get(xmpp.NewElement(ns, "getRootDataSources"))
		if err != nil {
			t.Fatal(err)
		}
		var srcs []string
		for _, d := range res.Children() {
			srcs = append(srcs, d.Get("sourceId"))
		}
		if !slices.Equal(srcs, []string{component.SourceID, ms, component.BrokersSourceID}) {
			t.Errorf("data sources %v", srcs)
		}
		res, err = get(xmpp.NewElement(ns, "getAncestors", "sourceId", component.SourceID, "nodeId", "thermo/switch"))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range res.Children() {
			ids = append(ids, n.Get("nodeId"))
		}
		if !slices.Equal(ids, []string{"thermo/switch", "thermo"}) {
			t.Errorf("ancestors %v", ids)
		}
		res, err = get(xmpp.NewElement(ns, "getNodeInheritance", "sourceId", component.SourceID, "nodeId", "thermo"))
		if err != nil {
			t.Fatal(err)
		}
		var bases, ifaces []string
		for _, v := range res.Child(ns, "baseClasses").Children() {
			bases = append(bases, v.Text())
		}
		if !slices.Equal(bases, []string{"xiot.mqtt.Device", "xiot.mqtt.Node"}) {
			t.Errorf("base classes of a Homie device %v", bases)
		}
		if res, err = get(xmpp.NewElement(ns, "getNodeInheritance", "sourceId", component.SourceID, "nodeId", "plug1")); err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Child(ns, "interfaces").Children() {
			ifaces = append(ifaces, v.Text())
		}
		if !slices.Equal(ifaces, []string{sensordata.NS, iotcontrol.NS}) {
			t.Errorf("interfaces of plug1 %v", ifaces)
		}
		res, err = get(xmpp.NewElement(ns, "getAllNodes", "sourceId", component.SourceID).Add(
			xmpp.NewElement(ns, "onlyIfDerivedFrom").AddText("xiot.mqtt.Device")))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Children()) != 7 {
			t.Errorf("nodes derived from xiot.mqtt.Device: %d, want the 7 devices: %v", len(res.Children()), res)
		}
		res, err = get(xmpp.NewElement(ns, "getChildNodes", "sourceId", ms, "nodeId", component.MappingsNodeID, "parameters", "true"))
		if err != nil || len(res.Children()) != len(mappings) || res.FirstChild().Get("nodeId") != "config-1" {
			t.Fatalf("mapping nodes: %v %v", res, err)
		}
	})
	t.Run("parameters", func(t *testing.T) {
		res, err := get(xmpp.NewElement(ns, "getNodeParametersForEdit", "sourceId", component.SourceID, "nodeId", "plug1"))
		if err != nil {
			t.Fatal(err)
		}
		form, err := iotcontrol.ParseForm(res.Child(iotcontrol.NSData, "x"))
		if err != nil || len(form.Fields) != 4 || form.Fields[3].Var != "name" {
			t.Fatalf("edit form of plug1: %+v %v", form, err)
		}
		res, err = set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", component.SourceID, "nodeId", "plug1").Add(submitForm("name", "Desk lamp")))
		if err != nil || res.Child(ns, "node").Get("displayName") != "Desk lamp" {
			t.Fatalf("set name: %v %v", res, err)
		}
		res, err = set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", component.SourceID, "nodeId", "plug1").Add(
			submitForm("name", "bad\tname", "id", "other", "color", "red")))
		fe := formErrors(res)
		if !errors.As(err, &se) || se.Condition != "bad-request" || res.Get("result") != "FormError" || fe["id"] == "" || fe["color"] == "" {
			t.Errorf("bad parameters: %v %v", res, err)
		}
		res, err = set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", component.SourceID, "nodeId", "plug1").Add(submitForm("name", strings.Repeat("x", 65))))
		if fe := formErrors(res); !errors.As(err, &se) || fe["name"] == "" {
			t.Errorf("long name: %v %v", res, err)
		}
		// Common parameters of two devices: no id, notSame where they differ.
		two := func(name string) *xmpp.Element {
			return xmpp.NewElement(ns, name).Add(
				xmpp.NewElement(ns, "node", "sourceId", component.SourceID, "nodeId", "thermo1"),
				xmpp.NewElement(ns, "node", "sourceId", component.SourceID, "nodeId", "meter1"))
		}
		res, err = get(two("getCommonNodeParametersForEdit"))
		if err != nil {
			t.Fatal(err)
		}
		notSame := map[string]bool{}
		var vars []string
		for _, f := range res.Child(iotcontrol.NSData, "x").Children() {
			if f.Name.Local == "field" {
				vars = append(vars, f.Get("var"))
				notSame[f.Get("var")] = f.Child(iotcontrol.NSDynamic, "notSame") != nil
			}
		}
		if !slices.Equal(vars, []string{"type", "jid", "name"}) || !notSame["jid"] || notSame["type"] || notSame["name"] {
			t.Errorf("common form fields %v, notSame %v", vars, notSame)
		}
		res, err = set(two("setCommonNodeParametersAfterEdit").Add(submitForm("name", "Cellar")))
		if err != nil || len(res.Children()) != 2 || res.FirstChild().Get("displayName") != "Cellar" {
			t.Fatalf("setCommonNodeParametersAfterEdit: %v %v", res, err)
		}
		res, err = set(two("setCommonNodeParametersAfterEdit").Add(submitForm("id", "x", "name", "y")))
		if fe := formErrors(res); !errors.As(err, &se) || fe["id"] == "" {
			t.Errorf("common set of the id: %v %v", res, err)
		}
		if res, err := get(xmpp.NewElement(ns, "getNode", "sourceId", component.SourceID, "nodeId", "meter1")); err != nil || res.Get("displayName") != "Cellar" {
			t.Errorf("meter1 after a refused common set: %v %v", res, err)
		}
		res, err = set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", ms, "nodeId", "config-2").Add(submitForm("unit", "kW")))
		if fe := formErrors(res); !errors.As(err, &se) || !strings.Contains(fe["unit"], "configuration file") {
			t.Errorf("editing a configured mapping: %v %v", res, err)
		}
	})
	t.Run("create mapping", func(t *testing.T) {
		res, err := get(xmpp.NewElement(ns, "getAddableNodeTypes", "sourceId", ms, "nodeId", component.MappingsNodeID))
		if err != nil || res.Child(ns, "nodeType").Get("type") != "xiot.mqtt.TopicMapping" {
			t.Fatalf("addable types: %v %v", res, err)
		}
		typ := "xiot.mqtt.TopicMapping"
		res, err = get(xmpp.NewElement(ns, "getParametersForNewNode", "sourceId", ms, "nodeId", component.MappingsNodeID, "type", typ))
		if err != nil {
			t.Fatal(err)
		}
		if form, err := iotcontrol.ParseForm(res.Child(iotcontrol.NSData, "x")); err != nil || form.Fields[0].Var != "id" || form.Fields[1].Var != "topic" {
			t.Fatalf("new node form: %+v %v", form, err)
		}
		if err := owner.s.Send(ctx, xmpp.NewElement("", "iq", "type", "set", "to", dom, "id", "sub1").Add(
			xmpp.NewElement(ns, "subscribe", "sourceId", ms))); err != nil {
			t.Fatal(err)
		}
		if _, err := set(xmpp.NewElement(ns, "subscribe", "sourceId", component.SourceID, "parameters", "true")); err != nil {
			t.Fatal(err)
		}
		publish(t, r.pub, "boiler/b1/temp", "61.5")
		create := func(kv ...string) (*xmpp.Element, error) {
			return set(xmpp.NewElement(ns, "createNewNode", "sourceId", ms, "nodeId", component.MappingsNodeID, "type", typ).Add(submitForm(kv...)))
		}
		res, err = create("id", "bad", "topic", "boiler/#/x", "decoder", "xml")
		if fe := formErrors(res); !errors.As(err, &se) || res.Get("result") != "FormError" || fe["topic"] == "" || fe["decoder"] == "" {
			t.Errorf("invalid mapping: %v %v", res, err)
		}
		res, err = create("id", "boiler", "topic", "boiler/{device}/temp", "field", "Temperature", "unit", "°C")
		if err != nil || res.Child(ns, "node").Get("nodeId") != "boiler" {
			t.Fatalf("createNewNode: %v %v", res, err)
		}
		owner.waitEvent(t, "nodeAdded", ms, "boiler")
		// The new mapping bridges the retained state at once: a new
		// device node, announced, readable through the concentrator.
		ev := owner.waitEvent(t, "nodeAdded", component.SourceID, "b1")
		if ev.Get("isReadable") != "true" || ev.Child(ns, "string") == nil {
			t.Errorf("nodeAdded of b1 %v", ev)
		}
		rd, err := owner.sd.Read(ctx, owner.s, dom, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "b1", SourceID: component.SourceID}}})
		if err != nil || len(rd.Fields) != 1 || !rd.Fields[0].Value.Equal(sensors.Numeric(61.5)) || rd.Fields[0].Unit != "°C" {
			t.Errorf("readout of b1: %v %v", rd.Fields, err)
		}
		if res, err = create("id", "boiler", "topic", "x/{device}"); formErrors(res)["id"] == "" {
			t.Errorf("duplicate id: %v %v", res, err)
		}
		data, err := os.ReadFile(filepath.Join(r.dir, component.NodesFile))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Version  int
			Mappings []struct{ ID string }
		}
		if err := json.Unmarshal(data, &f); err != nil || f.Version != 2 || len(f.Mappings) != 1 || f.Mappings[0].ID != "boiler" {
			t.Errorf("node store %s: %v", data, err)
		}
		if st, err := os.Stat(filepath.Join(r.dir, component.NodesFile)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("node store mode %v %v", st.Mode(), err)
		}
		// Availability: nodeStatusChanged.
		r.plug.kill()
		if ev := owner.waitEvent(t, "nodeStatusChanged", component.SourceID, "plug1"); ev.Get("state") != "ErrorUnsigned" {
			t.Errorf("status event %v", ev)
		}
		// A new display name: nodeUpdated, with the parameters asked for.
		if _, err := set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", component.SourceID, "nodeId", "thermo1").Add(submitForm("name", "Attic"))); err != nil {
			t.Fatal(err)
		}
		if ev := owner.waitEvent(t, "nodeUpdated", component.SourceID, "thermo1"); ev.Get("displayName") != "Attic" || ev.Child(ns, "string") == nil {
			t.Errorf("nodeUpdated %v", ev)
		}
	})
	t.Run("commands", func(t *testing.T) {
		res, err := get(xmpp.NewElement(ns, "getNodeCommands", "sourceId", ms, "nodeId", "boiler"))
		if err != nil || len(res.Children()) != 2 {
			t.Fatalf("commands: %v %v", res, err)
		}
		res, err = get(xmpp.NewElement(ns, "getCommandParameters", "sourceId", ms, "nodeId", "boiler", "command", "publishSample"))
		if err != nil || res.Child(iotcontrol.NSData, "x") == nil {
			t.Fatalf("command parameters: %v %v", res, err)
		}
		res, err = set(xmpp.NewElement(ns, "executeNodeCommand", "sourceId", ms, "nodeId", "boiler", "command", "publishSample").Add(
			submitForm("device", "b2", "payload", "70", "retain", "maybe")))
		if fe := formErrors(res); !errors.As(err, &se) || fe["retain"] == "" {
			t.Errorf("bad command parameters: %v %v", res, err)
		}
		if _, err = set(xmpp.NewElement(ns, "executeNodeCommand", "sourceId", ms, "nodeId", "boiler", "command", "publishSample").Add(
			submitForm("device", "b2", "payload", "70", "retain", "true"))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "b2 from the sample", func() bool {
			d, ok := r.b.Device("b2")
			return ok && len(d.Fields) == 1 && d.Fields[0].Value.Equal(sensors.Numeric(70))
		})
		if _, err = set(xmpp.NewElement(ns, "executeNodeCommand", "sourceId", ms, "nodeId", "boiler", "command", "resubscribe")); err != nil {
			t.Error(err)
		}
		// On several nodes: a partial failure gives one result per node.
		both := func(name string) *xmpp.Element {
			return xmpp.NewElement(ns, name, "command", "publishSample").Add(
				xmpp.NewElement(ns, "node", "sourceId", ms, "nodeId", "boiler"),
				xmpp.NewElement(ns, "node", "sourceId", ms, "nodeId", "config-1"))
		}
		res, err = get(both("getCommonNodeCommands"))
		if err != nil || len(res.Children()) != 2 {
			t.Errorf("common commands: %v %v", res, err)
		}
		res, err = get(both("getCommonCommandParameters"))
		if form, ferr := iotcontrol.ParseForm(res.Child(iotcontrol.NSData, "x")); err != nil || ferr != nil || len(form.Fields) != 4 {
			t.Errorf("common command parameters (device, field, payload, retain): %+v %v %v", form, err, ferr)
		}
		res, err = set(both("executeCommonNodeCommand").Add(submitForm("device", "b3", "payload", "3")))
		if err != nil {
			t.Fatal(err)
		}
		var results []string
		for _, r := range res.Children() {
			results = append(results, r.Text()+":"+r.Get("error"))
		}
		if len(results) != 2 || results[0] != "true:" || !strings.HasPrefix(results[1], "false:") || !strings.Contains(results[1], "field") {
			t.Errorf("common command results %v", results)
		}
		waitFor(t, "b3 from the common command", func() bool { _, ok := r.b.Device("b3"); return ok })
	})
	t.Run("destroy", func(t *testing.T) {
		res, err := set(xmpp.NewElement(ns, "destroyNode", "sourceId", ms, "nodeId", "config-1"))
		if !errors.As(err, &se) || res.Get("result") != "Locked" || !strings.Contains(se.Text, "configuration file") {
			t.Errorf("destroying a configured mapping: %v %v", res, err)
		}
		if _, err := set(xmpp.NewElement(ns, "createNewNode", "sourceId", ms, "nodeId", component.MappingsNodeID, "type", "xiot.mqtt.TopicMapping").Add(
			submitForm("id", "doomed", "topic", "doomed/{device}"))); err != nil {
			t.Fatal(err)
		}
		if _, err := set(xmpp.NewElement(ns, "destroyNode", "sourceId", ms, "nodeId", "doomed")); err != nil {
			t.Fatal(err)
		}
		owner.waitEvent(t, "nodeRemoved", ms, "doomed")
		if _, ok := r.b.Mapping("doomed"); ok {
			t.Error("destroyed mapping still in the bridge")
		}
		if _, err := set(xmpp.NewElement(ns, "unsubscribe", "sourceId", ms)); err != nil {
			t.Error(err)
		}
	})

	t.Run("subscriber leaves", func(t *testing.T) {
		n := r.c.EventSubscribers()
		w := r.loginEvents(t, "owner", "watcher")
		if err := w.s.Send(ctx, xmpp.NewElement("", "presence", "to", dom)); err != nil {
			t.Fatal(err)
		}
		if _, err := query(ctx, w.s, dom, "set", xmpp.NewElement(ns, "subscribe", "sourceId", component.SourceID)); err != nil {
			t.Fatal(err)
		}
		if got := r.c.EventSubscribers(); got != n+1 {
			t.Fatalf("subscribers %d, want %d", got, n+1)
		}
		// Its session ends: the server sends unavailable presence to the
		// component, which ends the subscription.
		w.s.Close()
		waitFor(t, "the subscription to end", func() bool { return r.c.EventSubscribers() == n })
		res, err := set(xmpp.NewElement(ns, "subscribe", "sourceId", component.SourceID, "getEventsSince", "2001-01-01T00:00:00"))
		if !errors.As(err, &se) || res.Get("result") != "NotImplemented" {
			t.Errorf("getEventsSince: %v %v", res, err)
		}
	})

	// A second broker, created at run time: its own mappings and devices.
	m2 := testserver.StartMosquitto(t, testserver.MosquittoOptions{Users: map[string]string{"site2": "s2-secret", "dev": "dev-pass"}})
	pub2 := mqttClient(t, m2, "site2-devices", func(o *mqtt.ClientOptions) { o.SetUsername("dev").SetPassword("dev-pass") })
	publish(t, pub2, "far/far1/temp", "12.5")
	bs := component.BrokersSourceID
	t.Run("brokers", func(t *testing.T) {
		if _, err := set(xmpp.NewElement(ns, "subscribe", "sourceId", bs)); err != nil {
			t.Fatal(err)
		}
		res, err := get(xmpp.NewElement(ns, "getChildNodes", "sourceId", bs, "nodeId", component.BrokersNodeID, "parameters", "true"))
		if err != nil || len(res.Children()) != 1 || res.FirstChild().Get("nodeId") != component.ConfigBrokerNodeID || res.FirstChild().Get("state") != "None" {
			t.Fatalf("broker nodes: %v %v", res, err)
		}
		res, err = get(xmpp.NewElement(ns, "getAddableNodeTypes", "sourceId", bs, "nodeId", component.BrokersNodeID))
		if err != nil || res.Child(ns, "nodeType").Get("type") != "xiot.mqtt.Broker" {
			t.Fatalf("addable types: %v %v", res, err)
		}
		res, err = get(xmpp.NewElement(ns, "getParametersForNewNode", "sourceId", bs, "nodeId", component.BrokersNodeID, "type", "xiot.mqtt.Broker"))
		if err != nil {
			t.Fatal(err)
		}
		form, err := iotcontrol.ParseForm(res.Child(iotcontrol.NSData, "x"))
		if err != nil || form.Fields[0].Var != "id" || form.Fields[1].Var != "url" || !slices.ContainsFunc(form.Fields, func(f iotcontrol.Field) bool { return f.Var == "password" && f.Type == "text-private" }) {
			t.Fatalf("new broker form: %+v %v", form, err)
		}
		create := func(kv ...string) (*xmpp.Element, error) {
			return set(xmpp.NewElement(ns, "createNewNode", "sourceId", bs, "nodeId", component.BrokersNodeID, "type", "xiot.mqtt.Broker").Add(submitForm(kv...)))
		}
		res, err = create("id", "config2", "url", "http://x", "homie", "perhaps")
		if fe := formErrors(res); !errors.As(err, &se) || fe["id"] == "" || fe["url"] == "" || fe["homie"] == "" {
			t.Errorf("invalid broker: %v %v", res, err)
		}
		res, err = create("id", "site2", "url", "tcp://"+m2.Addr, "username", "site2", "password", "s2-secret")
		if err != nil || res.Child(ns, "node").Get("nodeId") != "site2" {
			t.Fatalf("createNewNode: %v %v", res, err)
		}
		owner.waitEvent(t, "nodeAdded", bs, "site2")
		// It connects in the background: nodeStatusChanged.
		if ev := owner.waitEvent(t, "nodeStatusChanged", bs, "site2"); ev.Get("state") != "None" {
			t.Errorf("status of site2: %v", ev)
		}
		if res, err := get(xmpp.NewElement(ns, "getNode", "sourceId", bs, "nodeId", "site2")); err != nil || res.Get("state") != "None" {
			t.Errorf("site2 after connecting: %v %v", res, err)
		}
		// A mapping on it bridges its devices.
		res, err = set(xmpp.NewElement(ns, "createNewNode", "sourceId", ms, "nodeId", component.MappingsNodeID, "type", "xiot.mqtt.TopicMapping").Add(
			submitForm("id", "far", "topic", "far/{device}/temp", "field", "Temperature", "unit", "°C", "broker", "site2")))
		if err != nil {
			t.Fatalf("mapping on site2: %v %v", res, err)
		}
		ev := owner.waitEvent(t, "nodeAdded", component.SourceID, "far1")
		if p := ev.Child(ns, "string"); p == nil || !strings.Contains(ev.String(), `value="site2"`) {
			t.Errorf("nodeAdded of far1 does not name its broker: %v", ev)
		}
		rd, err := owner.sd.Read(ctx, owner.s, dom, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "far1", SourceID: component.SourceID}}})
		if err != nil || len(rd.Fields) != 1 || !rd.Fields[0].Value.Equal(sensors.Numeric(12.5)) || rd.Fields[0].Unit != "°C" {
			t.Errorf("readout of far1: %v %v", rd.Fields, err)
		}
		// The password is never shown.
		for _, q := range []*xmpp.Element{
			xmpp.NewElement(ns, "getNodeParametersForEdit", "sourceId", bs, "nodeId", "site2"),
			xmpp.NewElement(ns, "getNode", "sourceId", bs, "nodeId", "site2", "parameters", "true"),
		} {
			if res, err := get(q); err != nil || strings.Contains(res.String(), "s2-secret") || !strings.Contains(res.String(), m2.Addr) {
				t.Errorf("%s: %v %v", q.Name.Local, res, err)
			}
		}
		// An edit without a password keeps it: the broker connects again.
		if _, err := set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", bs, "nodeId", "site2").Add(submitForm("password", "", "clean_session", "true"))); err != nil {
			t.Fatal(err)
		}
		if b, ok := r.b.Broker("site2"); !ok || b.Config.Password != "s2-secret" || !b.Config.CleanSession {
			t.Errorf("site2 after the edit: %+v", b.Config)
		}
		if err := r.b.WaitBroker(ctx, "site2"); err != nil {
			t.Fatal(err)
		}
		res, err = set(xmpp.NewElement(ns, "destroyNode", "sourceId", bs, "nodeId", "site2"))
		if !errors.As(err, &se) || res.Get("result") != "Locked" || !strings.Contains(se.Text, "far") {
			t.Errorf("destroying a broker in use: %v %v", res, err)
		}
		res, err = set(xmpp.NewElement(ns, "destroyNode", "sourceId", bs, "nodeId", component.ConfigBrokerNodeID))
		if !errors.As(err, &se) || res.Get("result") != "Locked" {
			t.Errorf("destroying the configuration's broker: %v %v", res, err)
		}
		res, err = set(xmpp.NewElement(ns, "setNodeParametersAfterEdit", "sourceId", bs, "nodeId", component.ConfigBrokerNodeID).Add(submitForm("url", "tcp://elsewhere:1883")))
		if fe := formErrors(res); !errors.As(err, &se) || !strings.Contains(fe["url"], "configuration file") {
			t.Errorf("editing the configuration's broker: %v %v", res, err)
		}
		data, err := os.ReadFile(filepath.Join(r.dir, component.NodesFile))
		if err != nil || !strings.Contains(string(data), `"id": "site2"`) {
			t.Errorf("node store %s: %v", data, err)
		}
	})

	// Restart: a new bridge and component on the same state directory.
	stop()
	_ = r.b.Close()
	r.b = r.newBridge(t)
	r.startComponent(t)
	if err := r.b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	m, ok := r.b.Mapping("boiler")
	if !ok || !m.Runtime || m.Config.Unit != "°C" {
		t.Fatalf("created mapping after the restart: %+v %v", m, ok)
	}
	if _, ok := r.b.Mapping("doomed"); ok {
		t.Error("destroyed mapping back after the restart")
	}
	waitFor(t, "b1 after the restart", func() bool { d, ok := r.b.Device("b1"); return ok && len(d.Fields) == 1 })
	// The broker delivers the retained state in its own order: plug1 may
	// come after b1.
	waitFor(t, "plug1 after the restart", func() bool { _, ok := r.b.Device("plug1"); return ok })
	res, err := get(xmpp.NewElement(ns, "getNode", "sourceId", component.SourceID, "nodeId", "plug1"))
	if err != nil || res.Get("displayName") != "Desk lamp" {
		t.Errorf("display name after the restart: %v %v", res, err)
	}
	res, err = get(xmpp.NewElement(ns, "containsNode", "sourceId", ms, "nodeId", "boiler"))
	if err != nil || res.Text() != "true" {
		t.Errorf("containsNode boiler after the restart: %v %v", res, err)
	}
	// The created broker is back, with its password, and its devices.
	if err := r.b.WaitBroker(ctx, "site2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "far1 after the restart", func() bool { d, ok := r.b.Device("far1"); return ok && d.Broker == "site2" && len(d.Fields) == 1 })
	if _, err := set(xmpp.NewElement(ns, "destroyNode", "sourceId", ms, "nodeId", "far")); err != nil {
		t.Fatal(err)
	}
	if _, err := set(xmpp.NewElement(ns, "destroyNode", "sourceId", bs, "nodeId", "site2")); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.b.Broker("site2"); ok {
		t.Error("destroyed broker still in the bridge")
	}
}
