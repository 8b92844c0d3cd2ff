package component_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// TestRootAccessPerDevice: with provisioning, the claimed owner of one
// device reads, sets and browses that device's nodes through the
// concentrator's own JID, and nothing else (the provisioning server, a
// registry that answers no questions, gives no decision for the other
// devices: they fail closed); the concentrator's owners keep everything;
// a stranger gets nothing.
func TestRootAccessPerDevice(t *testing.T) {
	const regDomain = "registry.localhost"
	regSecret := fmt.Sprintf("reg-%d", time.Now().UnixNano())
	r := startRig(t, testserver.ProsodyOptions{
		ExtraConfig: fmt.Sprintf("Component %q\n    component_secret = %q\n", regDomain, regSecret),
	})
	if err := r.p.Register("claimer", "claimer-pass"); err != nil {
		t.Fatal(err)
	}
	rp := &registryPeer{attempts: map[string][]time.Time{}}
	regMux := &xmpp.Mux{}
	regMux.IQ("set", thing.NS, "register", xmpp.HandlerFunc(rp.handle))
	rp.s = xmpp.New(xmpp.Config{JID: jid.MustParse(regDomain), Password: regSecret, Component: true,
		Server: r.p.ComponentAddr, NoTLS: true, Keepalive: -1, Logger: testLogger(t)}, regMux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*deadline)
	defer cancel()
	if err := rp.s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer rp.s.Close()
	r.waitBridged(t)
	dom := r.p.ComponentDomain
	c, err := component.New(component.Options{
		Session: xmpp.Config{JID: jid.MustParse(dom), Password: r.p.ComponentSecret, Component: true,
			Server: r.p.ComponentAddr, NoTLS: true, Logger: testLogger(t)},
		Bridge: r.b, Owners: []jid.JID{jid.MustParse("owner@" + r.p.Domain)}, StateDir: r.dir, Logger: testLogger(t),
		Provisioning: &component.Provisioning{Registry: jid.MustParse(regDomain), Timeout: 3 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	defer func() { stop(); <-done }()

	// thermo registers; the registry says claimer@ claimed it.
	thermo, ok := c.JID("thermo")
	if !ok {
		t.Fatal("thermo has no JID")
	}
	waitFor(t, "thermo's registration", func() bool {
		_, a := rp.snapshot()
		return len(a[thermo]) > 0
	})
	// A registry answers the registration before any claim: the claim is
	// sent again until it lands after that answer.
	waitFor(t, "thermo claimed", func() bool {
		claimed := xmpp.NewElement("", "iq", "type", "set", "to", thermo, "from", regDomain).Add(
			xmpp.NewElement(thing.NS, "claimed", "jid", "claimer@"+r.p.Domain))
		if _, err := rp.s.SendIQ(ctx, claimed); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		cs, _ := component.Claims(r.dir)
		return hasClaim(cs, thermo, "claimer@"+r.p.Domain)
	})
	owner := r.login(t, "owner")
	claimer := r.login(t, "claimer")
	stranger := r.login(t, "stranger")
	src := component.SourceID
	ns := component.NSConcentrators
	both := []sensordata.NodeRef{{NodeID: "thermo", SourceID: src}, {NodeID: "plug1", SourceID: src}}
	var se *xmpp.StanzaError

	t.Run("readouts", func(t *testing.T) {
		res, err := claimer.sd.Read(ctx, claimer.s, dom, sensordata.Request{Types: sensors.Momentary, Nodes: both})
		if err != nil {
			t.Fatalf("claimer's readout: %v", err)
		}
		var got []string
		for _, f := range res.Fields {
			got = append(got, f.Node+"|"+f.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"thermo/sensor|temperature", "thermo/switch|on"}) {
			t.Errorf("claimer read %v, want thermo's fields only", got)
		}
		failed := false
		for _, e := range res.Errors {
			failed = failed || (e.Node.NodeID == "plug1" && strings.Contains(e.Text, "InsufficientPrivileges"))
		}
		if !failed {
			t.Errorf("no InsufficientPrivileges failure for plug1: %v", res.Errors)
		}
		res, err = owner.sd.Read(ctx, owner.s, dom, sensordata.Request{Types: sensors.Momentary, Nodes: both})
		if err != nil || len(res.Fields) != 4 || len(res.Errors) != 0 {
			t.Errorf("owner's readout: %v fields, errors %v, %v; want 4 fields", len(res.Fields), res.Errors, err)
		}
		_, err = stranger.sd.Read(ctx, stranger.s, dom, sensordata.Request{Nodes: both[:1]})
		if !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's readout: %v, want forbidden", err)
		}
	})
	t.Run("sets", func(t *testing.T) {
		set := func(u *user, node, name, v string) error {
			_, err := iotcontrol.Set(ctx, u.s, dom, iotcontrol.SetRequest{
				Nodes:  []iotcontrol.NodeRef{{NodeID: node, SourceID: src}},
				Params: []iotcontrol.Param{{Type: control.TypeBoolean, Name: name, Value: v}}})
			return err
		}
		if err := set(claimer, "thermo/switch", "on", "true"); err != nil {
			t.Errorf("claimer's set of thermo: %v", err)
		}
		if d, _ := r.b.Device("thermo"); !fieldIs(d.Fields, "switch", "on", sensors.Boolean(true)) {
			t.Errorf("thermo after the claimer's set: %v", d.Fields)
		}
		if err := set(claimer, "plug1", "Switch", "true"); !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("claimer's set of plug1: %v, want forbidden", err)
		}
		if err := set(stranger, "thermo/switch", "on", "false"); !errors.As(err, &se) || se.Condition != "forbidden" {
			t.Errorf("stranger's set of thermo: %v, want forbidden", err)
		}
		if p, _ := r.b.Device("plug1"); !fieldIs(p.Fields, "", "Switch", sensors.Boolean(false)) {
			t.Errorf("plug1 changed by refused sets: %v", p.Fields)
		}
		if err := set(owner, "plug1", "Switch", "true"); err != nil {
			t.Errorf("owner's set of plug1: %v", err)
		}
		f, err := iotcontrol.FetchForm(ctx, claimer.s, dom, iotcontrol.NodeRef{NodeID: "thermo/switch", SourceID: src})
		if err != nil || !slices.ContainsFunc(f.Fields, func(f iotcontrol.Field) bool { return f.Var == "on" }) {
			t.Errorf("claimer's form of thermo/switch: %+v %v", f, err)
		}
		// The provisioning server is asked off the session's reading
		// goroutine, which delivers its answer: no wait for the timeout.
		start := time.Now()
		if _, err := iotcontrol.FetchForm(ctx, claimer.s, dom, iotcontrol.NodeRef{NodeID: "plug1", SourceID: src}); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("claimer's form of plug1: %v, want forbidden", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the refused form took %v: the provisioning answer waited for its timeout", took)
		}
	})
	t.Run("node tree", func(t *testing.T) {
		ids := func(res *xmpp.Element) []string {
			var out []string
			for _, n := range res.Children() {
				out = append(out, n.Get("nodeId")+n.Get("sourceId"))
			}
			slices.Sort(out)
			return out
		}
		res, err := query(ctx, claimer.s, dom, "get", xmpp.NewElement(ns, "getRootNodes", "sourceId", src))
		if err != nil || !slices.Equal(ids(res), []string{"thermo"}) {
			t.Errorf("claimer's root nodes: %v %v, want thermo only", res, err)
		}
		res, err = query(ctx, claimer.s, dom, "get", xmpp.NewElement(ns, "getChildNodes", "sourceId", src, "nodeId", "thermo"))
		if err != nil || !slices.Equal(ids(res), []string{"thermo/sensor", "thermo/switch"}) {
			t.Errorf("claimer's children of thermo: %v %v", res, err)
		}
		res, err = query(ctx, claimer.s, dom, "get", xmpp.NewElement(ns, "getRootDataSources"))
		if err != nil || !slices.Equal(ids(res), []string{src}) {
			t.Errorf("claimer's data sources: %v %v, want %s only", res, err, src)
		}
		for _, req := range []*xmpp.Element{
			xmpp.NewElement(ns, "getNode", "sourceId", src, "nodeId", "plug1"),
			xmpp.NewElement(ns, "getNodeParametersForEdit", "sourceId", src, "nodeId", "thermo"),
			xmpp.NewElement(ns, "getRootNodes", "sourceId", component.MappingsSourceID),
		} {
			res, err := query(ctx, claimer.s, dom, "get", req)
			if !errors.As(err, &se) || res == nil || res.Get("result") != "InsufficientPrivileges" {
				t.Errorf("claimer's %s: %v %v, want InsufficientPrivileges", req, res, err)
			}
		}
		res, err = query(ctx, stranger.s, dom, "get", xmpp.NewElement(ns, "getRootNodes", "sourceId", src))
		if !errors.As(err, &se) || res == nil || res.Get("result") != "InsufficientPrivileges" {
			t.Errorf("stranger's getRootNodes: %v %v, want InsufficientPrivileges", res, err)
		}
		res, err = query(ctx, owner.s, dom, "get", xmpp.NewElement(ns, "getRootNodes", "sourceId", src))
		if err != nil || len(res.Children()) != 7 {
			t.Errorf("owner's root nodes: %v %v, want all 7", res, err)
		}
	})
}
