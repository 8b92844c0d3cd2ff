package registry_test

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/boltstore"
	"github.com/xiot/xiot/provisioning/registry/sqlstore"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func clientConfig(t testing.TB, p *testserver.Prosody, user, resource string) xmpp.Config {
	t.Helper()
	return xmpp.Config{
		JID: jid.MustParse(user + "@" + p.Domain + "/" + resource), Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(),
		ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second, Logger: testLogger(t),
	}
}

func connect(t testing.TB, cfg xmpp.Config, mux *xmpp.Mux) *xmpp.Session {
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

// reg is a running registry component.
type reg struct {
	sess  *xmpp.Session
	srv   *registry.Server
	store registry.Store
}

// startRegistry runs the registry on the store at target, a SQLite file,
// a postgres:// URL or "bolt:" and a file (a store that is not a
// registry.Searcher: the registry scans).
func startRegistry(t *testing.T, p *testserver.Prosody, target string) *reg {
	t.Helper()
	return startRegistryWith(t, p, target, nil)
}

// startRegistryWith is startRegistry with options changed by tune.
func startRegistryWith(t *testing.T, p *testserver.Prosody, target string, tune func(*registry.Options)) *reg {
	t.Helper()
	var st registry.Store
	var err error
	if f, ok := strings.CutPrefix(target, "bolt:"); ok {
		st, err = boltstore.Open(f, 0)
	} else {
		st, err = sqlstore.Open(context.Background(), target, sqlstore.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	mux := &xmpp.Mux{}
	sess := xmpp.New(xmpp.Config{JID: jid.MustParse(p.ComponentDomain), Password: p.ComponentSecret, Component: true,
		Server: p.ComponentAddr, NoTLS: true, Logger: testLogger(t)}, mux)
	opts := registry.Options{Store: st, Logger: testLogger(t), NotifyTimeout: 5 * time.Second, ClaimBurst: 5, ClaimEvery: time.Minute}
	if tune != nil {
		tune(&opts)
	}
	srv, err := registry.New(sess, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sess.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	r := &reg{sess: sess, srv: srv, store: st}
	t.Cleanup(r.stop)
	return r
}

func (r *reg) stop() {
	if r.sess == nil {
		return
	}
	r.sess.Close()
	r.srv.Close()
	r.store.Close()
	r.sess = nil
}

// request sends an IQ with payload to the registry and returns the answer's
// payload.
func request(t *testing.T, s *xmpp.Session, to, typ, payload string) (*xmpp.Element, error) {
	t.Helper()
	p, err := parseXML(payload)
	if err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", typ, "to", to).Add(p))
	if err != nil {
		return nil, err
	}
	return res.FirstChild(), nil
}

func condition(err error) string {
	var se *xmpp.StanzaError
	if errors.As(err, &se) {
		return se.Condition
	}
	if err == nil {
		return "none"
	}
	return err.Error()
}

// foundJIDs returns the JIDs of a found element, checking KEY is absent.
func foundJIDs(t *testing.T, found *xmpp.Element) []string {
	t.Helper()
	if found == nil || found.Name.Local != "found" {
		t.Fatalf("search answered %v", found)
	}
	if strings.Contains(found.String(), "KEY") {
		t.Fatalf("search result shows KEY: %s", found)
	}
	var out []string
	for _, c := range found.Children() {
		out = append(out, c.Get("jid"))
	}
	return out
}

const tags = `<str name='SN' value='394872348732948723'/><str name='MAN' value='www.ktc.se'/><str name='MODEL' value='IMC'/><num name='V' value='1.2'/><str name='KEY' value='4857402340298342'/>`

// TestRegistryEndToEnd runs the registry as a component on a real Prosody
// with a device, its owner and two others as client sessions: register,
// claim by KEY, search, provisioning questions asked by the device's own
// provisioning.Client, rules, clearCache, restart, remove and disown.
// It runs on a SQLite file, on a PostgreSQL database (both Searchers) and
// on a bbolt file (scans).
func TestRegistryEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { registryEndToEnd(t, filepath.Join(t.TempDir(), "registry.db")) })
	t.Run("postgres", func(t *testing.T) { registryEndToEnd(t, testserver.StartPostgres(t).URL) })
	t.Run("bolt", func(t *testing.T) { registryEndToEnd(t, "bolt:"+filepath.Join(t.TempDir(), "registry.db")) })
}

func registryEndToEnd(t *testing.T, path string) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "owner", "alice", "bob"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	r := startRegistry(t, p, path)
	domain := p.ComponentDomain

	// The device: a provisioning client asking the registry, and handlers
	// for the registry's notifications.
	events := make(chan string, 32)
	devMux := &xmpp.Mux{}
	for _, n := range []string{"claimed", "removed", "disowned"} {
		devMux.IQ("set", registry.NS, n, xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
			events <- n + " " + iq.FirstChild().Get("jid")
			return s.Send(ctx, xmpp.ResultIQ(iq, nil))
		}))
	}
	dev := xmpp.New(clientConfig(t, p, "device", "dev"), devMux)
	client := provisioning.New(dev, jid.MustParse(domain), provisioning.Options{
		Timeout:      5 * time.Second,
		OnClearCache: func(context.Context) { events <- "clearCache" },
		OnFriend:     func(_ context.Context, j jid.JID) { events <- "friend " + j.String() },
		OnUnfriend:   func(_ context.Context, j jid.JID) { events <- "unfriend " + j.String() },
	})
	client.Register(devMux)
	{
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := dev.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		t.Cleanup(func() { dev.Close() })
	}
	questions := make(chan *xmpp.Element, 16)
	ownerMux := &xmpp.Mux{}
	ownerMux.Message(registry.NSRules, "question", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, m *xmpp.Element) error {
		questions <- m.Child(registry.NSRules, "question")
		return nil
	}))
	owner := connect(t, clientConfig(t, p, "owner", "phone"), ownerMux)
	// Available, so that messages to the owner's bare JID reach it (an
	// offline owner finds them in offline storage).
	if err := owner.Send(context.Background(), xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}
	alice := connect(t, clientConfig(t, p, "alice", "a"), nil)
	bob := connect(t, clientConfig(t, p, "bob", "b"), nil)
	wantEvent := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("device event %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no device event %q", want)
		}
	}
	// wantEvents waits for events in any order.
	wantEvents := func(want ...string) {
		t.Helper()
		var got []string
		for range want {
			select {
			case e := <-events:
				got = append(got, e)
			case <-time.After(10 * time.Second):
				t.Fatalf("device events %q, want %q", got, want)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("device events %q, want %q", got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	thing := "device@" + p.Domain
	ownerJID := "owner@" + p.Domain
	aliceJID := jid.MustParse("alice@" + p.Domain + "/a")

	// Disco.
	info, err := request(t, alice, domain, "get", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)
	if err != nil || !strings.Contains(info.String(), registry.NS) || !strings.Contains(info.String(), provisioning.NS) {
		t.Fatalf("disco#info: %v, %v", info, err)
	}

	// Register; unclaimed things are not found.
	if res, err := request(t, dev, domain, "set", `<register xmlns='urn:xmpp:iot:discovery'>`+tags+`</register>`); err != nil || res != nil {
		t.Fatalf("register: %v, %v", res, err)
	}
	search := `<search xmlns='urn:xmpp:iot:discovery'><strEq name='MAN' value='www.ktc.se'/></search>`
	if res, err := request(t, alice, domain, "get", search); err != nil || len(foundJIDs(t, res)) != 0 {
		t.Fatalf("unclaimed thing found: %v, %v", res, err)
	}

	// Claims: a wrong KEY fails without saying why; the right one succeeds
	// and the thing is told.
	wrong := strings.Replace(tags, "4857402340298342", "4857402340298343", 1)
	if _, err := request(t, bob, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery'>`+wrong+`</mine>`); condition(err) != "item-not-found" {
		t.Fatalf("claim with a wrong KEY: %v", err)
	}
	res, err := request(t, owner, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery'>`+tags+`</mine>`)
	if err != nil || res == nil || res.Name.Local != "claimed" || res.Get("jid") != thing {
		t.Fatalf("claim: %v, %v", res, err)
	}
	wantEvent("claimed " + ownerJID)
	// Owner-only requests with a forged from (the owner's JID) on a
	// session of Bob's: the server does not deliver them as the owner's
	// (RFC 6120 §8.1.2.1: it rewrites the address to the real sender or
	// refuses the stanza), so the registry treats them as Bob's and
	// refuses them; the thing stays the owner's and is not removed.
	forger := connect(t, clientConfig(t, p, "bob", "forger"), nil)
	for _, payload := range []string{
		`<remove xmlns='urn:xmpp:iot:discovery' jid='` + thing + `'/>`,
		`<disown xmlns='urn:xmpp:iot:discovery' jid='` + thing + `'/>`,
		`<update xmlns='urn:xmpp:iot:discovery' jid='` + thing + `'><str name='ROOM' value='forged'/></update>`,
	} {
		el, _ := parseXML(payload)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := forger.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "set", "to", domain, "from", ownerJID+"/phone").Add(el))
		cancel()
		if err == nil {
			t.Fatalf("forged %s accepted: %v", el.Name.Local, res)
		}
	}
	forger.Close()
	select {
	case e := <-events:
		t.Fatalf("the thing was told %q after forged requests", e)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := request(t, bob, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery'>`+tags+`</mine>`); condition(err) != "item-not-found" {
		t.Fatalf("claim of a claimed thing by another: %v", err)
	}
	// Registering again is answered with the owner and changes nothing.
	res, err = request(t, dev, domain, "set", `<register xmlns='urn:xmpp:iot:discovery'><str name='SN' value='other'/></register>`)
	if err != nil || res == nil || res.Name.Local != "claimed" || res.Get("jid") != ownerJID {
		t.Fatalf("register when claimed: %v, %v", res, err)
	}

	// Searches with several operators.
	for _, tc := range []struct {
		ops  string
		want []string
	}{
		{`<strEq name='man' value='www.ktc.se'/><strMask name='SN' value='39487*' wildcard='*'/><numRange name='V' min='1' max='2' maxIncluded='false'/>`, []string{thing}},
		{`<strNEq name='MODEL' value='IMC'/>`, nil},
		{`<strGtEq name='MODEL' value='IMC'/><numLt name='V' value='1.3'/><strNRange name='SN' min='0' max='1'/>`, []string{thing}},
		{`<numNRange name='V' min='1' max='2'/>`, nil},
		{`<strEq name='KEY' value='4857402340298342'/>`, nil},
		{`<strMask name='KEY' value='*' wildcard='*'/>`, nil},
		{`<strEq name='NOTAG' value='x'/>`, nil},
	} {
		res, err := request(t, alice, domain, "get", `<search xmlns='urn:xmpp:iot:discovery' maxCount='10'>`+tc.ops+`</search>`)
		if err != nil {
			t.Fatalf("search %s: %v", tc.ops, err)
		}
		if got := foundJIDs(t, res); !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("search %s found %q, want %q", tc.ops, got, tc.want)
		}
	}
	if _, err := request(t, alice, domain, "get", `<search xmlns='urn:xmpp:iot:discovery'><strMask name='A' value='x'/></search>`); condition(err) != "bad-request" {
		t.Fatalf("malformed search: %v", err)
	}

	// Provisioning: the device asks the registry. The owner is a friend and
	// reads everything; alice is refused until the owner decides, and the
	// owner is asked.
	if ok, err := client.IsFriend(ctx, jid.MustParse(ownerJID+"/phone")); err != nil || !ok {
		t.Fatalf("IsFriend(owner) = %v, %v", ok, err)
	}
	if ok, err := client.IsFriend(ctx, aliceJID); err != nil || ok {
		t.Fatalf("IsFriend(alice) before any rule = %v, %v", ok, err)
	}
	select {
	case q := <-questions:
		if q.Get("kind") != "isFriend" || q.Get("jid") != thing || q.Get("requester") != aliceJID.Bare().String() {
			t.Fatalf("question to the owner: %s", q)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the owner was not asked")
	}
	if got, err := client.CanRead(ctx, aliceJID, nil, []string{"temperature"}); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("CanRead(alice) before any rule = %#v, %v", got, err)
	}
	// Only the owner sets rules.
	rule := `<rule xmlns='urn:xiot:registry' jid='` + thing + `' requester='alice@` + p.Domain + `' friend='allow' read='allow'><field name='temperature'/><field name='humidity'/></rule>`
	if _, err := request(t, bob, domain, "set", rule); condition(err) != "item-not-found" {
		t.Fatalf("rule set by a stranger: %v", err)
	}
	if _, err := request(t, owner, domain, "set", rule); err != nil {
		t.Fatalf("rule: %v", err)
	}
	wantEvents("clearCache", "friend "+aliceJID.Bare().String())
	if ok, err := client.IsFriend(ctx, aliceJID); err != nil || !ok {
		t.Fatalf("IsFriend(alice) after the rule = %v, %v", ok, err)
	}
	if got, err := client.CanRead(ctx, aliceJID, nil, []string{"temperature", "pressure"}); err != nil || !reflect.DeepEqual(got, []string{"temperature"}) {
		t.Fatalf("CanRead(alice, temperature pressure) = %#v, %v", got, err)
	}
	if got, err := client.CanControl(ctx, aliceJID, nil, []string{"relay"}); err != nil || len(got) != 0 {
		t.Fatalf("CanControl(alice) = %#v, %v", got, err)
	}

	// Restart the registry: things, owners and rules are intact.
	r.stop()
	_ = startRegistry(t, p, path) // stopped by its cleanup
	res, err = request(t, owner, domain, "get", `<rules xmlns='urn:xiot:registry' jid='`+thing+`'/>`)
	if err != nil || len(res.Children()) != 1 {
		t.Fatalf("rules after restart: %v, %v", res, err)
	}
	if got, err := registry.ParseRule(res.Children()[0]); err != nil || got.Read != registry.Allow || !reflect.DeepEqual(got.Fields, []string{"temperature", "humidity"}) {
		t.Fatalf("rule after restart: %+v, %v", got, err)
	}
	res, err = request(t, owner, domain, "get", `<things xmlns='urn:xiot:registry'/>`)
	if err != nil || len(res.Children()) != 1 || res.Children()[0].Get("jid") != thing {
		t.Fatalf("things after restart: %v, %v", res, err)
	}
	client.ClearCache()
	if got, err := client.CanRead(ctx, aliceJID, nil, nil); err != nil || !reflect.DeepEqual(got, []string{"temperature", "humidity"}) {
		t.Fatalf("CanRead(alice) after restart = %#v, %v", got, err)
	}

	// Revoking: clearCache and unfriend, and alice is refused at once.
	if _, err := request(t, owner, domain, "set", `<unrule xmlns='urn:xiot:registry' jid='`+thing+`' requester='alice@`+p.Domain+`'/>`); err != nil {
		t.Fatalf("unrule: %v", err)
	}
	wantEvents("clearCache", "unfriend "+aliceJID.Bare().String())
	if got, err := client.CanRead(ctx, aliceJID, nil, nil); err != nil || len(got) != 0 {
		t.Fatalf("CanRead(alice) after revoking = %#v, %v", got, err)
	}

	// Updates by the thing and its owner; others cannot.
	if _, err := request(t, dev, domain, "set", `<update xmlns='urn:xmpp:iot:discovery'><str name='KEY' value=''/><str name='CLASS' value='PLC'/></update>`); err != nil {
		t.Fatalf("update by the thing: %v", err)
	}
	if _, err := request(t, owner, domain, "set", `<update xmlns='urn:xmpp:iot:discovery' jid='`+thing+`'><str name='ROOM' value='12'/></update>`); err != nil {
		t.Fatalf("update by the owner: %v", err)
	}
	if _, err := request(t, bob, domain, "set", `<update xmlns='urn:xmpp:iot:discovery' jid='`+thing+`'><str name='ROOM' value='x'/></update>`); condition(err) != "item-not-found" {
		t.Fatalf("update by a stranger: %v", err)
	}
	res, err = request(t, alice, domain, "get", `<search xmlns='urn:xmpp:iot:discovery'><strEq name='CLASS' value='PLC'/><strEq name='ROOM' value='12'/></search>`)
	if err != nil || !reflect.DeepEqual(foundJIDs(t, res), []string{thing}) {
		t.Fatalf("search after update: %v, %v", res, err)
	}

	// Claims are rate-limited per claimer.
	limited := false
	for range 10 {
		if _, err := request(t, bob, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery'>`+wrong+`</mine>`); condition(err) == "resource-constraint" {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("10 claims in a row were not rate-limited")
	}

	// Remove: out of searches, the thing is told; a stranger cannot.
	if _, err := request(t, bob, domain, "set", `<remove xmlns='urn:xmpp:iot:discovery' jid='`+thing+`'/>`); condition(err) != "item-not-found" {
		t.Fatalf("remove by a stranger: %v", err)
	}
	if _, err := request(t, owner, domain, "set", `<remove xmlns='urn:xmpp:iot:discovery' jid='`+thing+`'/>`); err != nil {
		t.Fatalf("remove: %v", err)
	}
	wantEvent("removed ")
	if res, err := request(t, alice, domain, "get", search); err != nil || len(foundJIDs(t, res)) != 0 {
		t.Fatalf("removed thing found: %v, %v", res, err)
	}

	// Disown: the thing acknowledges, and it can be registered and claimed
	// anew.
	if _, err := request(t, owner, domain, "set", `<disown xmlns='urn:xmpp:iot:discovery' jid='`+thing+`'/>`); err != nil {
		t.Fatalf("disown: %v", err)
	}
	wantEvent("disowned ")
	if ok, err := func() (bool, error) { client.ClearCache(); return client.IsFriend(ctx, jid.MustParse(ownerJID)) }(); err != nil || ok {
		t.Fatalf("IsFriend(former owner) = %v, %v", ok, err)
	}
	if _, err := request(t, dev, domain, "set", `<register xmlns='urn:xmpp:iot:discovery'>`+tags+`</register>`); err != nil {
		t.Fatalf("register after disown: %v", err)
	}
	if _, err := request(t, owner, domain, "set", `<mine xmlns='urn:xmpp:iot:discovery' public='false'>`+tags+`</mine>`); err != nil {
		t.Fatalf("claim after disown: %v", err)
	}
	wantEvent("claimed " + ownerJID)
	// Unregister.
	if _, err := request(t, dev, domain, "set", `<unregister xmlns='urn:xmpp:iot:discovery'/>`); err != nil {
		t.Fatalf("unregister: %v", err)
	}
	if res, err := request(t, owner, domain, "get", `<things xmlns='urn:xiot:registry'/>`); err != nil || len(res.Children()) != 0 {
		t.Fatalf("things after unregister: %v, %v", res, err)
	}
}

func parseXML(s string) (*xmpp.Element, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return xmpp.ReadElement(d, start, xmpp.Limits{MaxDepth: 16})
		}
	}
}
