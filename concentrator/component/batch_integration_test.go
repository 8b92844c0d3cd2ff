package component_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// waitBridged waits until the rig's devices are in the bridge.
func (r *rig) waitBridged(t *testing.T) {
	t.Helper()
	waitFor(t, "bridged devices", func() bool {
		for _, id := range []string{"meter1", "meter2", "thermo1", "Kitchen Sensor"} {
			if d, ok := r.b.Device(id); !ok || len(d.Fields) == 0 {
				return false
			}
		}
		p, ok := r.b.Device("plug1")
		h, ok2 := r.b.Device("thermo")
		return ok && ok2 && len(p.Fields) == 2 && p.Available && len(h.Fields) == 2 && h.Available
	})
}

// TestConcentratorBatch reads and sets many nodes in one request sent to
// the concentrator's own JID (XEP-0326 with XEP-0323 and XEP-0325).
func TestConcentratorBatch(t *testing.T) {
	r := startRig(t)
	r.startComponent(t)
	r.waitBridged(t)
	dom := r.p.ComponentDomain
	owner := r.login(t, "owner")
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()
	src := component.SourceID

	t.Run("disco", func(t *testing.T) {
		info, err := disco.GetInfo(ctx, owner.s, dom, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{component.NSConcentrators, sensordata.NS, iotcontrol.NS} {
			if !info.HasFeature(f) {
				t.Errorf("concentrator lacks feature %s: %v", f, info.Features)
			}
		}
	})
	t.Run("readout of many nodes", func(t *testing.T) {
		res, err := owner.sd.Read(ctx, owner.s, dom, sensordata.Request{Types: sensors.Momentary, Nodes: []sensordata.NodeRef{
			{NodeID: "thermo1", SourceID: src}, {NodeID: "plug1", SourceID: src}, {NodeID: "meter1", SourceID: src},
			{NodeID: "meter2"}, {NodeID: "thermo", SourceID: src}, {NodeID: "nope", SourceID: src},
			{NodeID: "plug1", SourceID: "Other"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]sensors.Field{}
		for _, f := range res.Fields {
			got[f.Node+"|"+f.Name] = f
		}
		for key, want := range map[string]sensors.Value{
			"thermo1|Temperature":       sensors.Numeric(23.4),
			"plug1|Power":               sensors.Numeric(12.5),
			"plug1|Switch":              sensors.Boolean(false),
			"meter1/meter|energy":       sensors.Numeric(1500),
			"meter2|power":              sensors.Numeric(230.5),
			"thermo/sensor|temperature": sensors.Numeric(21.5),
			"thermo/switch|on":          sensors.Boolean(false),
		} {
			if f, ok := got[key]; !ok || !f.Value.Equal(want) {
				t.Errorf("field %s = %v (present %v), want %v; all: %v", key, f.Value, ok, want, res.Fields)
			}
		}
		if len(res.Fields) != 7 {
			t.Errorf("%d fields, want 7: %v", len(res.Fields), res.Fields)
		}
		// The unknown node, and the known node in an unknown source, fail
		// on their own.
		if len(res.Errors) != 1 || res.Errors[0].Node.NodeID != "nope" || res.Errors[0].Node.SourceID != src || !strings.Contains(res.Errors[0].Text, "NotFound") {
			t.Errorf("errors %v, want one NotFound for nope", res.Errors)
		}
	})
	t.Run("set of many nodes", func(t *testing.T) {
		_, err := iotcontrol.Set(ctx, owner.s, dom, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "thermo/switch", SourceID: src}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "on", Value: "true"}}})
		if err != nil {
			t.Fatalf("set thermo/switch on: %v", err)
		}
		d, _ := r.b.Device("thermo")
		if f, _ := d.Field("switch", "on"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("switch/on after the set = %v", f.Value)
		}
		// Two devices, one set: plug1's Switch and thermo1 has none.
		_, err = iotcontrol.Set(ctx, owner.s, dom, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "plug1", SourceID: src}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "true"}}})
		if err != nil {
			t.Fatalf("set plug1 Switch: %v", err)
		}
		p, _ := r.b.Device("plug1")
		if f, _ := p.Field("", "Switch"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("plug1 Switch after the set = %v", f.Value)
		}
		var se *xmpp.StanzaError
		_, err = iotcontrol.Set(ctx, owner.s, dom, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "plug1", SourceID: src}, {NodeID: "nope", SourceID: src}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "false"}}})
		if !errors.As(err, &se) || se.Condition != "item-not-found" || !strings.Contains(se.Text, "nope") {
			t.Errorf("set naming an unknown node: %v, want item-not-found", err)
		}
		_, err = iotcontrol.Set(ctx, owner.s, dom, iotcontrol.SetRequest{
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "false"}}})
		if !errors.As(err, &se) || se.Condition != "bad-request" {
			t.Errorf("set without nodes: %v, want bad-request", err)
		}
		if f, _ := p.Field("", "Switch"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("a refused set changed plug1: %v", f.Value)
		}
		form, err := iotcontrol.FetchForm(ctx, owner.s, dom, iotcontrol.NodeRef{NodeID: "plug1", SourceID: src})
		if err != nil {
			t.Fatal(err)
		}
		if len(form.Fields) == 0 || form.Fields[0].Var != "Switch" {
			t.Errorf("form of plug1: %+v", form)
		}
	})
	t.Run("strangers", func(t *testing.T) {
		stranger := r.login(t, "stranger")
		var se *xmpp.StanzaError
		_, err := stranger.sd.Read(ctx, stranger.s, dom, sensordata.Request{Nodes: []sensordata.NodeRef{{NodeID: "thermo1", SourceID: src}}})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's readout: %v, want forbidden", err)
		}
		_, err = iotcontrol.Set(ctx, stranger.s, dom, iotcontrol.SetRequest{
			Nodes:  []iotcontrol.NodeRef{{NodeID: "plug1", SourceID: src}},
			Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: "Switch", Value: "false"}}})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's set: %v, want forbidden", err)
		}
	})
}
