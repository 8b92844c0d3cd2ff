package agent_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func account(t testing.TB, p *testserver.Prosody, user, resource string) xmpp.Config {
	t.Helper()
	if err := p.Register(user, user+"-pass"); err != nil {
		t.Fatal(err)
	}
	j := jid.MustParse(user + "@" + p.Domain + "/" + resource)
	return xmpp.Config{
		JID: j, Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(),
		StreamManagement: true, ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second,
		Logger: testLogger(t),
	}
}

// presences collects the presence stanzas a client receives.
func presences(mux *xmpp.Mux) <-chan *xmpp.Element {
	ch := make(chan *xmpp.Element, 64)
	mux.Presence(xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, p *xmpp.Element) error {
		ch <- p
		return nil
	}))
	return ch
}

func waitPresence(t *testing.T, ch <-chan *xmpp.Element, what string, ok func(*xmpp.Element) bool) *xmpp.Element {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-ch:
			if ok(p) {
				return p
			}
			t.Logf("waiting for %s, skipping %v", what, p)
		case <-timeout:
			t.Fatalf("no %s within 10 s", what)
			return nil
		}
	}
}

func connect(t *testing.T, cfg xmpp.Config, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	s := xmpp.New(cfg, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", cfg.JID, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAgentPresenceSubscriptionDiscoAndShutdown(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	devCfg := account(t, p, "device", "agent")
	ownerCfg := account(t, p, "owner", "phone")
	strangerCfg := account(t, p, "stranger", "pc")

	a, err := agent.New(agent.Options{
		Session:  devCfg,
		Priority: 5,
		Owners:   []jid.JID{jid.MustParse("owner@localhost")},
		Board:    "sim",
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.AddFeatures("urn:example:extra")
	online := make(chan bool, 4)
	a.OnOnline(func(_ context.Context, resumed bool) { online <- resumed })
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	defer cancel()
	select {
	case <-online:
	case <-time.After(20 * time.Second):
		t.Fatal("agent not online after 20 s")
	}

	ownerMux := &xmpp.Mux{}
	ownerPres := presences(ownerMux)
	owner := connect(t, ownerCfg, ownerMux)
	stranger := connect(t, strangerCfg, nil)
	// Both clients send initial presence so that they receive presence.
	for _, s := range []*xmpp.Session{owner, stranger} {
		if err := s.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
			t.Fatal(err)
		}
	}

	// The owner's subscription request is approved (Prosody turns the
	// approval into a roster push to the owner), and the device's available
	// presence follows, with priority and capabilities.
	if err := owner.Send(ctx, xmpp.NewElement("", "presence", "to", "device@localhost", "type", "subscribe")); err != nil {
		t.Fatal(err)
	}
	avail := waitPresence(t, ownerPres, "available presence of the device", func(p *xmpp.Element) bool {
		return p.Get("type") == "" && p.Get("from") == "device@localhost/agent"
	})
	if got := avail.Child(xmpp.NSClient, "priority"); got == nil || got.Text() != "5" {
		t.Errorf("priority in presence: %v", avail)
	}
	caps := avail.Child(disco.NSCaps, "c")
	if caps == nil || caps.Get("node") != agent.CapsNode || caps.Get("hash") != "sha-1" {
		t.Fatalf("no XEP-0115 caps in presence: %v", avail)
	}

	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	ros, err := owner.SendIQ(rctx, xmpp.NewElement("", "iq", "type", "get").Add(xmpp.NewElement(agent.NSRoster, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if item := ros.Child(agent.NSRoster, "query").Child(agent.NSRoster, "item"); item == nil || item.Get("jid") != "device@localhost" || item.Get("subscription") != "to" {
		t.Errorf("owner's roster after approval: %v", ros)
	}

	// The stranger is refused.
	if err := stranger.Send(ctx, xmpp.NewElement("", "presence", "to", "device@localhost", "type", "subscribe")); err != nil {
		t.Fatal(err)
	}
	// Prosody turns the refusal into a roster push: the pending request
	// disappears and the subscription stays none.
	for deadline := time.Now().Add(10 * time.Second); ; {
		ros, err := stranger.SendIQ(rctx, xmpp.NewElement("", "iq", "type", "get").Add(xmpp.NewElement(agent.NSRoster, "query")))
		if err != nil {
			t.Fatal(err)
		}
		item := ros.Child(agent.NSRoster, "query").Child(agent.NSRoster, "item")
		if item != nil && item.Get("subscription") == "none" && item.Get("ask") == "" {
			break
		}
		if item != nil && item.Get("subscription") != "none" {
			t.Fatalf("stranger's roster: %v", ros)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stranger's request still pending: %v", ros)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Disco of the device, and the caps hash verified against it (XEP-0115 §5.4).
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	defer qcancel()
	info, err := disco.GetInfo(qctx, owner, "device@localhost/agent", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{disco.NSInfo, disco.NSItems, xmpp.NSPing, agent.NSVersion, "urn:example:extra"} {
		if !info.HasFeature(f) {
			t.Errorf("disco#info lacks %s: %v", f, info.Features)
		}
	}
	if len(info.Identities) != 1 || info.Identities[0].Category != "client" || info.Identities[0].Type != "bot" || !strings.Contains(info.Identities[0].Name, "sim") {
		t.Errorf("identities %+v", info.Identities)
	}
	if ver := disco.Ver(info); ver != caps.Get("ver") {
		t.Errorf("caps ver %q does not verify against disco#info (%q)", caps.Get("ver"), ver)
	}
	capsInfo, err := disco.GetInfo(qctx, owner, "device@localhost/agent", caps.Get("node")+"#"+caps.Get("ver"))
	if err != nil || disco.Ver(capsInfo) != caps.Get("ver") {
		t.Errorf("caps node query: %v", err)
	}

	// Software version (XEP-0092).
	res, err := owner.SendIQ(qctx, xmpp.NewElement("", "iq", "type", "get", "to", "device@localhost/agent").Add(xmpp.NewElement(agent.NSVersion, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if name := res.Child(agent.NSVersion, "query").Child(agent.NSVersion, "name"); name == nil || name.Text() != "xiot" {
		t.Errorf("version reply %v", res)
	}
	// Ping.
	if _, err := xmpp.Ping(qctx, owner, "device@localhost/agent"); err != nil {
		t.Errorf("ping: %v", err)
	}

	// The roster push for the approved owner reached the agent.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sub string
		for _, it := range a.Roster() {
			if it.JID.String() == "owner@localhost" {
				sub = it.Subscription
			}
		}
		if sub == "from" || sub == "both" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster after approval: %+v", a.Roster())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, it := range a.Roster() {
		if it.JID.String() == "stranger@localhost" && (it.Subscription == "from" || it.Subscription == "both") {
			t.Errorf("stranger got a subscription: %+v", it)
		}
	}

	// Shutdown: the owner sees the device go unavailable, and Run returns.
	cancel()
	waitPresence(t, ownerPres, "unavailable presence of the device", func(p *xmpp.Element) bool {
		return p.Get("type") == "unavailable" && p.Get("from") == "device@localhost/agent"
	})
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
}

func TestAgentReconnectsAndAnnouncesAgain(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	devCfg := account(t, p, "device", "agent")
	cliCfg := account(t, p, "client", "c")
	a, err := agent.New(agent.Options{Session: devCfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	online := make(chan bool, 4)
	a.OnOnline(func(_ context.Context, resumed bool) { online <- resumed })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	select {
	case <-online:
	case <-time.After(20 * time.Second):
		t.Fatal("agent not online")
	}
	// A cut link is resumed (XEP-0198): no new presence needed.
	a.Session().CutConnection()
	select {
	case resumed := <-online:
		if !resumed {
			t.Error("after a cut link the stream was not resumed")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not come back after a cut")
	}
	// A server restart loses the stream: a new session with presence.
	p.Restart()
	select {
	case resumed := <-online:
		if resumed {
			t.Error("resumed a stream across a server restart")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not come back after a server restart")
	}
	cli := connect(t, cliCfg, nil)
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if _, err := xmpp.Ping(pctx, cli, "device@localhost/agent"); err != nil {
		t.Fatalf("ping after the restart: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := agent.New(agent.Options{Priority: 200}); err == nil {
		t.Error("priority 200 accepted")
	}
	if _, err := agent.New(agent.Options{Session: xmpp.Config{Component: true}}); err == nil {
		t.Error("component session accepted")
	}
}
