package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// TestAgentProvisioning: the agent delegates friendship and readout
// decisions to a provisioning server (a scripted peer playing the XEP-0324
// server role on a second account), on its own session: friend@ becomes a
// friend and may read the Temperature only, stranger@ is refused both.
func TestAgentProvisioning(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	devCfg := account(t, p, "device", "agent")
	provCfg := account(t, p, "prov", "server")
	friendCfg := account(t, p, "friend", "phone")
	strangerCfg := account(t, p, "stranger", "pc")

	// The provisioning server: friends and read rights by bare JID.
	provMux := &xmpp.Mux{}
	asked := make(chan string, 16)
	provMux.IQ("get", provisioning.NS, "isFriend", xmpp.IQFunc(func(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
		j := iq.FirstChild().Get("jid")
		asked <- "isFriend " + j
		return provisioning.IsFriendResponse{JID: j, Result: j == "friend@localhost"}.Element(), nil
	}))
	provMux.IQ("get", provisioning.NS, "canRead", xmpp.IQFunc(func(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
		j := iq.FirstChild().Get("jid")
		asked <- "canRead " + j
		if j != "friend@localhost" {
			return provisioning.CanReadResponse{JID: j, Result: false}.Element(), nil
		}
		return provisioning.CanReadResponse{JID: j, Result: true, Types: sensors.Momentary, Fields: []string{"Temperature"}}.Element(), nil
	}))
	connect(t, provCfg, provMux)

	a, err := agent.New(agent.Options{Session: devCfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	prov := provisioning.New(a.Session(), jid.MustParse("prov@localhost/server"), provisioning.Options{
		Timeout: 5 * time.Second, OnFriend: a.Befriend, OnUnfriend: a.Unfriend,
	})
	canRead, _ := a.Provision(prov)
	board := sim.New(nil)
	ss, err := board.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range ss {
			s.Halt()
		}
	}()
	srv := a.ServeSensors(ss[:1], nil, sensordata.Options{CanRead: canRead})
	defer srv.Close()
	online := make(chan bool, 4)
	a.OnOnline(func(context.Context, bool) { online <- true })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	select {
	case <-online:
	case <-time.After(20 * time.Second):
		t.Fatal("agent not online")
	}

	friendMux := &xmpp.Mux{}
	friendPres := presences(friendMux)
	friendRead := sensordata.NewClient(friendMux)
	friend := connect(t, friendCfg, friendMux)
	strangerMux := &xmpp.Mux{}
	strangerRead := sensordata.NewClient(strangerMux)
	stranger := connect(t, strangerCfg, strangerMux)
	for _, s := range []*xmpp.Session{friend, stranger} {
		if err := s.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(ctx, xmpp.NewElement("", "presence", "to", "device@localhost", "type", "subscribe")); err != nil {
			t.Fatal(err)
		}
	}
	// The friend's request is approved after asking the server: the
	// device's presence reaches the friend.
	waitPresence(t, friendPres, "the device's presence after approval", func(p *xmpp.Element) bool {
		return p.Get("type") == "" && p.Get("from") == "device@localhost/agent"
	})
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var sub string
		for _, it := range a.Roster() {
			if it.JID.String() == "stranger@localhost" {
				sub = it.Subscription
			}
		}
		if sub == "from" || sub == "both" {
			t.Fatal("the stranger became a friend")
		}
		seen := false
		for len(asked) > 0 {
			if q := <-asked; q == "isFriend stranger@localhost" {
				seen = true
			}
		}
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server was never asked about the stranger")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Readouts: the friend gets the Temperature only; the stranger is
	// refused.
	res, err := friendRead.Read(rctx, friend, "device@localhost/agent", sensordata.Request{Types: sensors.Momentary})
	if err != nil {
		t.Fatalf("friend's readout: %v", err)
	}
	if len(res.Fields) == 0 {
		t.Fatal("friend got no fields")
	}
	for _, f := range res.Fields {
		if f.Name != "Temperature" {
			t.Errorf("friend got %s, which the server did not allow", f.Name)
		}
	}
	_, err = strangerRead.Read(rctx, stranger, "device@localhost/agent", sensordata.Request{Types: sensors.Momentary})
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "forbidden" {
		t.Errorf("stranger's readout: %v, want forbidden", err)
	}
}
