package registry_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
)

// device is a thing's session with a provisioning client asking the
// registry; events records what the registry told it.
type device struct {
	sess   *xmpp.Session
	client *provisioning.Client
	events chan string
}

func newDevice(t *testing.T, p *testserver.Prosody, user, resource string) *device {
	t.Helper()
	d := &device{events: make(chan string, 32)}
	mux := &xmpp.Mux{}
	for _, n := range []string{"claimed", "removed", "disowned"} {
		mux.IQ("set", registry.NS, n, xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
			d.events <- n + " " + iq.FirstChild().Get("jid") + " " + iq.FirstChild().Get("nodeId")
			return s.Send(ctx, xmpp.ResultIQ(iq, nil))
		}))
	}
	d.sess = xmpp.New(clientConfig(t, p, user, resource), mux)
	d.client = provisioning.New(d.sess, jid.MustParse(p.ComponentDomain), provisioning.Options{
		Timeout:      5 * time.Second,
		OnClearCache: func(context.Context) { d.events <- "clearCache" },
	})
	d.client.Register(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.sess.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.sess.Close() })
	return d
}

func (d *device) want(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-d.events:
		if got != want {
			t.Fatalf("device event %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no device event %q", want)
	}
}

func startProsody(t *testing.T, users ...string) *testserver.Prosody {
	t.Helper()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range users {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestClearCacheWhenBackOnline: a rule changed while the thing is offline
// is followed by clearCache as soon as the thing is seen again (XEP-0324
// §5.2), also after a registry restart.
func TestClearCacheWhenBackOnline(t *testing.T) {
	p := startProsody(t, "device", "owner")
	path := filepath.Join(t.TempDir(), "registry.db")
	r := startRegistry(t, p, path)
	domain := p.ComponentDomain
	dev := newDevice(t, p, "device", "dev")
	owner := connect(t, clientConfig(t, p, "owner", "o"), nil)
	if _, err := request(t, dev.sess, domain, "set", `<register xmlns='urn:xmpp:iot:discovery'>`+tags+`</register>`); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, owner, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery'>`+tags+`</mine>`); err != nil {
		t.Fatal(err)
	}
	dev.want(t, "claimed owner@"+p.Domain+" ")
	dev.sess.Close()

	rule := `<rule xmlns='urn:xiot:registry' jid='device@` + p.Domain + `' requester='` + p.Domain + `' read='allow'/>`
	if _, err := request(t, owner, domain, "set", rule); err != nil {
		t.Fatal(err)
	}
	// An offline thing cannot acknowledge being disowned: refused.
	if _, err := request(t, owner, domain, "set", `<disown xmlns='urn:xmpp:iot:discovery' jid='device@`+p.Domain+`'/>`); condition(err) != "not-allowed" {
		t.Fatalf("disown of an offline thing: %v", err)
	}
	// Let the failed delivery be recorded, then restart the registry.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.stop()
		th, err := func() (registry.Thing, error) {
			r = startRegistry(t, p, path)
			return r.store.Thing(context.Background(), registry.Key{JID: "device@" + p.Domain})
		}()
		if err != nil {
			t.Fatal(err)
		}
		if th.ClearCache {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the undelivered clearCache was not recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}

	dev = newDevice(t, p, "device", "dev2")
	// Befriending the registry is accepted.
	subscribed := make(chan string, 4)
	pmux := &xmpp.Mux{}
	pmux.Presence(xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		subscribed <- st.Get("type") + " " + st.Get("from")
		return nil
	}))
	friend := connect(t, clientConfig(t, p, "owner", "friend"), pmux)
	// Asking for the roster makes the resource "interested" in
	// subscription stanzas (RFC 6121 §2.1.6).
	if _, err := request(t, friend, "", "get", `<query xmlns='jabber:iq:roster'/>`); err != nil {
		t.Fatal(err)
	}
	if err := friend.Send(context.Background(), xmpp.NewElement("", "presence", "to", domain, "type", "subscribe")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-subscribed:
		if got != "subscribed "+domain {
			t.Fatalf("answer to subscribe: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription to the registry not answered")
	}
	if err := dev.sess.Send(context.Background(), xmpp.NewElement("", "presence", "to", domain)); err != nil {
		t.Fatal(err)
	}
	dev.want(t, "clearCache")
	// The rule for the whole domain holds for anyone there, without
	// restriction (nil).
	got, err := dev.client.CanRead(context.Background(), jid.MustParse("anyone@"+p.Domain+"/x"), nil, []string{"a"})
	if err != nil || got != nil {
		t.Fatalf("CanRead by domain rule = %#v, %v", got, err)
	}
}

// TestNodesBehindConcentrator: nodes registered by a concentrator are
// claimed, searched and governed one by one.
func TestNodesBehindConcentrator(t *testing.T) {
	p := startProsody(t, "rack", "owner", "alice")
	r := startRegistry(t, p, filepath.Join(t.TempDir(), "registry.db"))
	_ = r
	domain := p.ComponentDomain
	rack := newDevice(t, p, "rack", "plcs")
	owner := connect(t, clientConfig(t, p, "owner", "o"), nil)
	alice := connect(t, clientConfig(t, p, "alice", "a"), nil)
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		if _, err := request(t, rack.sess, domain, "set", `<register xmlns='urn:xmpp:iot:discovery' nodeId='`+n+`' sourceId='MeteringTopology'><str name='MODEL' value='IMC'/><str name='KEY' value='key-`+n+`'/></register>`); err != nil {
			t.Fatal(err)
		}
	}
	res, err := request(t, owner, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery'><str name='MODEL' value='IMC'/><str name='KEY' value='key-n1'/></mine>`)
	if err != nil || res.Get("jid") != "rack@"+p.Domain || res.Get("nodeId") != "n1" || res.Get("sourceId") != "MeteringTopology" {
		t.Fatalf("claim of n1: %v, %v", res, err)
	}
	rack.want(t, "claimed owner@"+p.Domain+" n1")
	res, err = request(t, alice, domain, "get", `<search xmlns='urn:xmpp:iot:discovery'><strEq name='MODEL' value='IMC'/></search>`)
	if err != nil || len(res.Children()) != 1 || res.Children()[0].Get("nodeId") != "n1" {
		t.Fatalf("search: %v, %v", res, err)
	}
	rule := `<rule xmlns='urn:xiot:registry' jid='rack@` + p.Domain + `' nodeId='n1' sourceId='MeteringTopology' requester='alice@` + p.Domain + `' read='allow'><field name='Energy'/></rule>`
	if _, err := request(t, owner, domain, "set", rule); err != nil {
		t.Fatal(err)
	}
	rack.want(t, "clearCache")
	aliceJID := jid.MustParse("alice@" + p.Domain + "/a")
	n1 := provisioning.NodeRef{NodeID: "n1", SourceID: "MeteringTopology"}
	n2 := provisioning.NodeRef{NodeID: "n2", SourceID: "MeteringTopology"}
	ans, err := rack.client.AskRead(ctx, provisioning.CanRead{JID: aliceJID.String(), Nodes: []provisioning.NodeRef{n1, n2}})
	if err != nil || !ans.Result || !reflect.DeepEqual(ans.Nodes, []provisioning.NodeRef{n1}) || !reflect.DeepEqual(ans.Fields, []string{"Energy"}) {
		t.Fatalf("AskRead(n1, n2) = %+v, %v", ans, err)
	}
	ans, err = rack.client.AskRead(ctx, provisioning.CanRead{JID: aliceJID.String(), Nodes: []provisioning.NodeRef{n2}})
	if err != nil || ans.Result {
		t.Fatalf("AskRead(n2, unclaimed) = %+v, %v", ans, err)
	}
	// A rule about a token holds only for whoever proves holding it (see
	// TestTokens): a token this registry never issued is unverifiable,
	// and its rule does not apply.
	tokRule := `<rule xmlns='urn:xiot:registry' jid='rack@` + p.Domain + `' nodeId='n1' sourceId='MeteringTopology' requester='token:USERTOK1' read='allow'/>`
	if _, err := request(t, owner, domain, "set", tokRule); err != nil {
		t.Fatal(err)
	}
	rack.want(t, "clearCache")
	bob := jid.MustParse("bob@example.net/b")
	tctx := provisioning.WithTokens(ctx, provisioning.Tokens{User: "USERTOK1"})
	if got, err := rack.client.CanRead(tctx, bob, []string{"n1"}, nil); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("CanRead(bob with an unissued token) = %#v, %v", got, err)
	}
	if got, err := rack.client.CanRead(ctx, bob, []string{"n1"}, nil); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("CanRead(bob without the token) = %#v, %v", got, err)
	}
	// The owner of a node is a friend of the concentrator, others are not.
	if ok, err := rack.client.IsFriend(ctx, jid.MustParse("owner@"+p.Domain)); err != nil || !ok {
		t.Fatalf("IsFriend(owner of n1) = %v, %v", ok, err)
	}
	if ok, err := rack.client.IsFriend(ctx, aliceJID); err != nil || ok {
		t.Fatalf("IsFriend(alice) = %v, %v", ok, err)
	}
	ctl, err := rack.client.AskControl(ctx, provisioning.CanControl{JID: aliceJID.String(), Nodes: []provisioning.NodeRef{n1}})
	if err != nil || ctl.Result {
		t.Fatalf("AskControl(n1) = %+v, %v", ctl, err)
	}
	// A self-owned node is public and claimed at once, its own owner.
	if _, err := request(t, rack.sess, domain, "set", `<register xmlns='urn:xmpp:iot:discovery' nodeId='n3' selfOwned='true'><str name='MODEL' value='IMC'/></register>`); err != nil {
		t.Fatal(err)
	}
	res, err = request(t, alice, domain, "get", `<search xmlns='urn:xmpp:iot:discovery'><strEq name='MODEL' value='IMC'/></search>`)
	if err != nil || len(res.Children()) != 2 || res.Children()[1].Get("nodeId") != "n3" || res.Children()[1].Get("owner") != "rack@"+p.Domain {
		t.Fatalf("search with a self-owned node: %v, %v", res, err)
	}
}
