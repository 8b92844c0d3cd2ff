package component_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// startClient runs the concentrator in client mode on the account
// concentrator@<domain>/bridge (TLS verified, SCRAM, stream management),
// with owner@<domain> as its owner; online receives each OnOnline's
// resumed flag.
func (r *rig) startClient(t *testing.T, online chan bool) {
	t.Helper()
	if err := r.p.Register("concentrator", "concentrator-pass"); err != nil {
		t.Fatal(err)
	}
	cj := jid.MustParse("concentrator@" + r.p.Domain + "/bridge")
	owner := jid.MustParse("owner@" + r.p.Domain)
	c, err := component.New(component.Options{
		Session: xmpp.Config{JID: cj, Password: "concentrator-pass", Server: r.p.C2SAddr, TLS: r.p.TLSConfig(),
			StreamManagement: true, Keepalive: -1, ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second,
			Logger: testLogger(t), OnOnline: func(_ context.Context, resumed bool) {
				select {
				case online <- resumed:
				default:
				}
			}},
		Bridge: r.b, Owners: []jid.JID{owner}, StateDir: r.dir, Logger: testLogger(t), History: r.hist,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.ClientMode() {
		t.Fatal("a client session did not select client mode")
	}
	r.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	})
	select {
	case <-online:
	case err := <-done:
		t.Fatalf("concentrator: %v", err)
	case <-time.After(deadline):
		t.Fatal("concentrator not online")
	}
}

// TestClientMode: the concentrator on a plain client account serves the
// bridged devices as nodes of its one JID: disco with the features,
// readouts and sets by node id, the node tree, presence subscriptions
// from the owner (a stranger's refused), refusals for strangers, and a
// cut link resumed.
func TestClientMode(t *testing.T) {
	r := startRig(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	online := make(chan bool, 4)
	r.startClient(t, online)
	r.waitBridged(t)
	full := "concentrator@" + r.p.Domain + "/bridge"
	bare := "concentrator@" + r.p.Domain
	owner := r.login(t, "owner")
	stranger := r.login(t, "stranger")
	ctx, cancel := context.WithTimeout(context.Background(), 4*deadline)
	defer cancel()
	src := component.SourceID
	ns := component.NSConcentrators

	t.Run("disco", func(t *testing.T) {
		info, err := disco.GetInfo(ctx, owner.s, full, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{component.NSConcentrators, sensordata.NS, iotcontrol.NS, xmpp.NSPing, agent.NSVersion, disco.NSCaps} {
			if !info.HasFeature(f) {
				t.Errorf("lacks feature %s: %v", f, info.Features)
			}
		}
		if _, err := xmpp.Ping(ctx, stranger.s, full); err != nil {
			t.Errorf("ping from a stranger: %v", err)
		}
	})
	t.Run("presence", func(t *testing.T) {
		skip := owner.presences()
		if err := owner.s.Send(ctx, xmpp.NewElement("", "presence", "to", bare, "type", "subscribe")); err != nil {
			t.Fatal(err)
		}
		owner.waitPresence(t, bare, "subscribed", skip)
		owner.waitPresence(t, full, "", skip)
		skip = stranger.presences()
		if err := stranger.s.Send(ctx, xmpp.NewElement("", "presence", "to", bare, "type", "subscribe")); err != nil {
			t.Fatal(err)
		}
		stranger.waitPresence(t, bare, "unsubscribed", skip)
	})
	t.Run("readout of devices as nodes", func(t *testing.T) {
		res, err := owner.sd.Read(ctx, owner.s, full, sensordata.Request{Types: sensors.Momentary, Nodes: []sensordata.NodeRef{
			{NodeID: "thermo1", SourceID: src}, {NodeID: "plug1", SourceID: src}, {NodeID: "thermo/sensor", SourceID: src},
			{NodeID: "nope", SourceID: src},
		}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]sensors.Value{}
		for _, f := range res.Fields {
			got[f.Node+"|"+f.Name] = f.Value
		}
		for key, want := range map[string]sensors.Value{
			"thermo1|Temperature":       sensors.Numeric(23.4),
			"plug1|Power":               sensors.Numeric(12.5),
			"plug1|Switch":              sensors.Boolean(false),
			"thermo/sensor|temperature": sensors.Numeric(21.5),
		} {
			if v, ok := got[key]; !ok || !v.Equal(want) {
				t.Errorf("field %s = %v (present %v), want %v", key, v, ok, want)
			}
		}
		if len(res.Errors) != 1 || res.Errors[0].Node.NodeID != "nope" {
			t.Errorf("errors %v, want one for nope", res.Errors)
		}
	})
	t.Run("set with the echo", func(t *testing.T) {
		_, err := iotcontrol.Set(ctx, owner.s, full, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "plug1", SourceID: src}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "true"}}})
		if err != nil {
			t.Fatalf("set plug1 Switch: %v", err)
		}
		// The set succeeds only after the echo: the bridge has it now.
		if p, _ := r.b.Device("plug1"); !fieldIs(p.Fields, "", "Switch", sensors.Boolean(true)) {
			t.Errorf("plug1 after the set: %v", p.Fields)
		}
	})
	t.Run("node tree", func(t *testing.T) {
		res, err := query(ctx, owner.s, full, "get", xmpp.NewElement(ns, "getRootNodes", "sourceId", src))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range res.Children() {
			ids = append(ids, n.Get("nodeId"))
		}
		for _, want := range []string{"thermo1", "plug1", "thermo", "meter1"} {
			if !slices.Contains(ids, want) {
				t.Errorf("root nodes %v lack %s", ids, want)
			}
		}
		res, err = query(ctx, owner.s, full, "get", xmpp.NewElement(ns, "getChildNodes", "sourceId", src, "nodeId", "thermo", "parameters", "true"))
		if err != nil {
			t.Fatal(err)
		}
		ids = nil
		for _, n := range res.Children() {
			ids = append(ids, n.Get("nodeId"))
			for _, p := range n.Children() {
				if p.Get("id") == "jid" {
					t.Errorf("node %s has a JID parameter in client mode: %s", n.Get("nodeId"), p.Get("value"))
				}
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"thermo/sensor", "thermo/switch"}) {
			t.Errorf("children of thermo %v", ids)
		}
	})
	t.Run("stranger refused", func(t *testing.T) {
		var se *xmpp.StanzaError
		_, err := stranger.sd.Read(ctx, stranger.s, full, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "thermo1"}}})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's readout: %v, want forbidden", err)
		}
		_, err = iotcontrol.Set(ctx, stranger.s, full, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "plug1", SourceID: src}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "false"}}})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's set: %v, want forbidden", err)
		}
		res, err := query(ctx, stranger.s, full, "get", xmpp.NewElement(ns, "getRootNodes", "sourceId", src))
		if !errors.As(err, &se) || se.Condition != "forbidden" || res == nil || res.Get("result") != "InsufficientPrivileges" {
			t.Errorf("stranger's getRootNodes: %v %v, want InsufficientPrivileges", res, err)
		}
		if p, _ := r.b.Device("plug1"); !fieldIs(p.Fields, "", "Switch", sensors.Boolean(true)) {
			t.Errorf("plug1 changed by a refused set: %v", p.Fields)
		}
	})
	t.Run("availability as node state and events", func(t *testing.T) {
		ev := r.loginEvents(t, "owner", "events")
		if _, err := query(ctx, ev.s, full, "set", xmpp.NewElement(ns, "subscribe", "sourceId", src)); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		r.plug.kill()
		if e := ev.waitEvent(t, "nodeStatusChanged", src, "plug1"); e.Get("state") != "ErrorUnsigned" {
			t.Errorf("status event %v", e)
		}
		res, err := query(ctx, owner.s, full, "get", xmpp.NewElement(ns, "getNode", "sourceId", src, "nodeId", "plug1"))
		if err != nil || res.Get("state") != "ErrorUnsigned" {
			t.Errorf("plug1 after its LWT: %v %v, want state ErrorUnsigned", res, err)
		}
	})
	t.Run("cut link resumed", func(t *testing.T) {
		r.c.Session().CutConnection()
		select {
		case resumed := <-online:
			if !resumed {
				t.Error("the stream was not resumed after a cut")
			}
		case <-time.After(deadline):
			t.Fatal("no reconnection after a cut")
		}
		res, err := owner.sd.Read(ctx, owner.s, full, sensordata.Request{Types: sensors.Momentary, Nodes: []sensordata.NodeRef{{NodeID: "thermo1", SourceID: src}}})
		if err != nil || len(res.Fields) != 1 || !strings.EqualFold(res.Fields[0].Name, "temperature") {
			t.Errorf("readout after the cut: %v %v", res, err)
		}
		if n := r.c.Session().Reconnects(); n < 1 {
			t.Errorf("%d reconnects counted", n)
		}
	})
}

// fieldIs reports whether fs holds node/name with value v.
func fieldIs(fs []sensors.Field, node, name string, v sensors.Value) bool {
	for _, f := range fs {
		if f.Node == node && f.Name == name {
			return f.Value.Equal(v)
		}
	}
	return false
}

// TestClientModeRefusesBadOptions: client mode needs an account JID and
// has no device JIDs to provision.
func TestClientModeRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts component.Options
		want string
	}{
		{"domain only", component.Options{Session: xmpp.Config{JID: jid.MustParse("example.org")}}, "account JID"},
		{"provisioning", component.Options{Session: xmpp.Config{JID: jid.MustParse("c@example.org")},
			Provisioning: &component.Provisioning{Server: jid.MustParse("prov.example.org")}}, "provisioning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := mqttbridge.New(config.MQTT{Brokers: []string{"tcp://127.0.0.1:1"}}, mqttbridge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			tc.opts.Bridge = b
			_, err = component.New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error about %s", err, tc.want)
			}
		})
	}
}
