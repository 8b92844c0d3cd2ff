package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/sensors"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func clientConfig(t testing.TB, p *testserver.Prosody, user, resource string) xmpp.Config {
	t.Helper()
	j, err := jid.Parse(user + "@" + p.Domain + "/" + resource)
	if err != nil {
		t.Fatal(err)
	}
	return xmpp.Config{
		JID: j, Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(),
		ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second,
		Logger: testLogger(t),
	}
}

func register(t testing.TB, p *testserver.Prosody, users ...string) {
	t.Helper()
	for _, u := range users {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
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

// env is a device with a provisioning client and a scripted provisioning
// server, both real client sessions on a real Prosody.
type env struct {
	p      *testserver.Prosody
	prov   *provPeer
	dev    *xmpp.Session
	client *provisioning.Client
	events chan string // "friend x@y", "unfriend x@y", "clearCache"
}

// setup starts Prosody with the accounts device, prov, alice and bob, the
// scripted server on prov@localhost/prov and the device with a client
// asking it; opts.On* are filled in to record events.
func setup(t *testing.T, opts provisioning.Options) *env {
	t.Helper()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device", "prov", "alice", "bob")
	e := &env{p: p, prov: newProvPeer(), events: make(chan string, 16)}
	e.startProv(t)
	opts.OnFriend = func(_ context.Context, j jid.JID) { e.events <- "friend " + j.String() }
	opts.OnUnfriend = func(_ context.Context, j jid.JID) { e.events <- "unfriend " + j.String() }
	opts.OnClearCache = func(context.Context) { e.events <- "clearCache" }
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	mux := &xmpp.Mux{}
	e.dev = xmpp.New(clientConfig(t, p, "device", "dev"), mux)
	e.client = provisioning.New(e.dev, jid.MustParse("prov@localhost/prov"), opts)
	e.client.Register(mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dev.Close() })
	return e
}

func (e *env) startProv(t *testing.T) {
	t.Helper()
	mux := &xmpp.Mux{}
	e.prov.register(mux)
	e.prov.sess = connect(t, clientConfig(t, e.p, "prov", "prov"), mux)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) wantEvent(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-e.events:
		if got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event %q", want)
	}
}

func TestFriendship(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{})
	e.prov.setRule("alice@localhost", rule{friend: true, secondaryTrustOkay: true})
	ctx := ctxT(t)
	alice, bob := jid.MustParse("alice@localhost/phone"), jid.MustParse("bob@localhost")

	for round := range 2 {
		ok, err := e.client.IsFriend(ctx, alice)
		if err != nil || !ok {
			t.Fatalf("round %d: IsFriend(alice) = %v, %v; want accepted", round, ok, err)
		}
		ok, err = e.client.IsFriend(ctx, bob)
		if err != nil || ok {
			t.Fatalf("round %d: IsFriend(bob) = %v, %v; want refused", round, ok, err)
		}
		// The second round is answered from the cache, refusal included.
		if n := e.prov.count("isFriend"); n != 2 {
			t.Fatalf("round %d: server asked %d isFriend questions, want 2", round, n)
		}
	}
	if q := e.prov.lastQuestion(); q != (provisioning.IsFriend{JID: "bob@localhost"}) {
		t.Fatalf("last question %#v", q)
	}
	r, err := e.client.AskFriend(ctx, alice)
	if err != nil || !r.Result || !r.SecondaryTrustAllowed {
		t.Fatalf("AskFriend(alice) = %#v, %v", r, err)
	}
	if e.client.Cached() != 2 {
		t.Fatalf("cached %d decisions, want 2", e.client.Cached())
	}
}

func TestReadAndControl(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{})
	e.prov.setRule("alice@localhost", rule{
		read: true, readFields: []string{"Energy", "Power"},
		control: true, controlParams: []string{"Output"},
	})
	e.prov.setRule("carol@localhost", rule{read: true, readNodes: []string{"n1"}, control: true, controlNodes: []string{"n2"}})
	ctx := ctxT(t)
	alice, bob, carol := jid.MustParse("alice@localhost/amr"), jid.MustParse("bob@localhost/x"), jid.MustParse("carol@localhost/y")

	// Partial readout: only the fields the server lists; tokens and field
	// types are passed on verbatim, the requester as a bare JID.
	tok := provisioning.Tokens{Service: "SERVICETOKEN1 SERVICETOKEN2", User: "USERTOKEN1"}
	rctx := provisioning.WithReadoutTypes(provisioning.WithTokens(ctx, tok), sensors.Momentary)
	for range 2 {
		got, err := e.client.CanRead(rctx, alice, nil, []string{"Energy", "Temperature"})
		if err != nil || !reflect.DeepEqual(got, []string{"Energy"}) {
			t.Fatalf("CanRead(alice) = %#v, %v; want [Energy]", got, err)
		}
	}
	want := provisioning.CanRead{JID: "alice@localhost", Types: sensors.Momentary, Fields: []string{"Energy", "Temperature"}, Tokens: tok}
	if q := e.prov.lastQuestion(); !reflect.DeepEqual(q, want) {
		t.Fatalf("question %#v\nwant %#v", q, want)
	}
	if n := e.prov.count("canRead"); n != 1 {
		t.Fatalf("server asked %d canRead questions, want 1 (second from cache)", n)
	}
	got, err := e.client.CanRead(rctx, alice, nil, nil)
	if err != nil || !reflect.DeepEqual(got, []string{"Energy", "Power"}) {
		t.Fatalf("CanRead(alice, all fields) = %#v, %v", got, err)
	}
	// Refused: empty, not nil, and no error.
	got, err = e.client.CanRead(ctx, bob, nil, nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("CanRead(bob) = %#v, %v; want refusal", got, err)
	}
	// Node restriction: the hook cannot narrow nodes and refuses; AskRead
	// has the answer.
	if _, err := e.client.CanRead(ctx, carol, []string{"n1", "n2"}, nil); !errors.Is(err, provisioning.ErrPartialNodes) {
		t.Fatalf("CanRead(carol, n1 n2) err = %v, want ErrPartialNodes", err)
	}
	r, err := e.client.AskRead(ctx, provisioning.CanRead{JID: carol.String(), Nodes: []provisioning.NodeRef{{NodeID: "n1"}, {NodeID: "n2"}}})
	if err != nil || !r.Result || !reflect.DeepEqual(r.Nodes, []provisioning.NodeRef{{NodeID: "n1"}}) {
		t.Fatalf("AskRead(carol) = %#v, %v", r, err)
	}
	if got, err := e.client.CanRead(ctx, carol, []string{"n1"}, nil); err != nil || got != nil {
		t.Fatalf("CanRead(carol, n1) = %#v, %v; want no restriction", got, err)
	}

	// Control: only the listed parameter.
	params := []string{"Output", "Level"}
	for range 2 {
		got, err := e.client.CanControl(ctx, alice, []string{""}, params)
		if err != nil || !reflect.DeepEqual(got, []string{"Output"}) {
			t.Fatalf("CanControl(alice) = %#v, %v; want [Output]", got, err)
		}
	}
	if n := e.prov.count("canControl"); n != 1 {
		t.Fatalf("server asked %d canControl questions, want 1", n)
	}
	if got, err := e.client.CanControl(ctx, bob, nil, params); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("CanControl(bob) = %#v, %v; want refusal", got, err)
	}
	if got, err := e.client.CanControl(ctx, carol, []string{"n2"}, params); err != nil || !reflect.DeepEqual(got, params) {
		t.Fatalf("CanControl(carol, n2) = %#v, %v; want all", got, err)
	}
	if _, err := e.client.CanControl(ctx, carol, []string{"n1", "n2"}, params); !errors.Is(err, provisioning.ErrPartialNodes) {
		t.Fatalf("CanControl(carol, n1 n2) err = %v, want ErrPartialNodes", err)
	}
	rc, err := e.client.AskControl(ctx, provisioning.CanControl{JID: carol.String(), Nodes: []provisioning.NodeRef{{NodeID: "n1"}, {NodeID: "n2"}}, Params: params})
	if err != nil || !rc.Result || !reflect.DeepEqual(rc.Nodes, []provisioning.NodeRef{{NodeID: "n2"}}) {
		t.Fatalf("AskControl(carol) = %#v, %v", rc, err)
	}
}

func TestClearCache(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{})
	e.prov.setRule("alice@localhost", rule{read: true})
	ctx := ctxT(t)
	alice := jid.MustParse("alice@localhost/amr")
	read := func(wantAsked int) {
		t.Helper()
		if got, err := e.client.CanRead(ctx, alice, nil, nil); err != nil || got != nil {
			t.Fatalf("CanRead = %#v, %v", got, err)
		}
		if n := e.prov.count("canRead"); n != wantAsked {
			t.Fatalf("server asked %d canRead questions, want %d", n, wantAsked)
		}
	}
	read(1)
	read(1)
	dev := e.dev.LocalJID().String()
	for i, typ := range []string{"set", "get"} { // get: the 2013 drafts
		res, err := e.prov.sess.SendIQ(ctx, xmpp.NewElement("", "iq", "type", typ, "to", dev).Add(provisioning.ClearCache{}.Element()))
		if err != nil {
			t.Fatalf("clearCache (%s): %v", typ, err)
		}
		if v, err := provisioning.Parse(res.FirstChild()); err != nil || v != (provisioning.ClearCacheResponse{}) {
			t.Fatalf("clearCache (%s) answered %v (%v)", typ, res, err)
		}
		e.wantEvent(t, "clearCache")
		if e.client.Cached() != 0 {
			t.Fatalf("%d decisions cached after clearCache", e.client.Cached())
		}
		read(2 + i)
	}

	// Anybody else is refused and the cache stays.
	bob := connect(t, clientConfig(t, e.p, "bob", "b"), nil)
	_, err := bob.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "set", "to", dev).Add(provisioning.ClearCache{}.Element()))
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "forbidden" {
		t.Fatalf("clearCache from bob: %v, want forbidden", err)
	}
	read(3)
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{Timeout: 500 * time.Millisecond})
	e.prov.setRule("alice@localhost", rule{friend: true, read: true, readFields: []string{"Energy"}})
	ctx := ctxT(t)
	alice := jid.MustParse("alice@localhost/amr")
	if got, err := e.client.CanRead(ctx, alice, nil, nil); err != nil || !reflect.DeepEqual(got, []string{"Energy"}) {
		t.Fatalf("CanRead = %#v, %v", got, err)
	}

	// The server does not answer: new questions time out, bounded.
	e.prov.silent.Store(true)
	start := time.Now()
	ok, err := e.client.IsFriend(ctx, alice)
	if ok || !errors.Is(err, provisioning.ErrNoDecision) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("IsFriend with a silent server = %v, %v; want a timeout refusal", ok, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("refusal took %v", d)
	}
	t.Logf("silent server: %v", err)

	// The server is offline: the cached grant holds, the rest is refused.
	e.prov.sess.Close()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		// A new question each time: answers are cached.
		_, err = e.client.CanControl(ctx, alice, nil, []string{fmt.Sprint("Output", i)})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // until Prosody has seen prov go
	}
	if !errors.Is(err, provisioning.ErrNoDecision) {
		t.Fatalf("CanControl with the server offline: %v, want ErrNoDecision", err)
	}
	var se *xmpp.StanzaError
	if errors.As(err, &se) {
		t.Fatalf("the server's stanza error leaks to the hook's caller: %v", err)
	}
	t.Logf("offline server: %v", err)
	if got, err := e.client.CanRead(ctx, alice, nil, nil); err != nil || !reflect.DeepEqual(got, []string{"Energy"}) {
		t.Fatalf("cached CanRead with the server offline = %#v, %v", got, err)
	}
	if ok, err := e.client.IsFriend(ctx, alice); ok || err == nil {
		t.Fatalf("IsFriend with the server offline = %v, %v", ok, err)
	}

	// The server is back: new questions are answered.
	e.prov.silent.Store(false)
	e.startProv(t)
	if ok, err := e.client.IsFriend(ctx, alice); !ok || err != nil {
		t.Fatalf("IsFriend with the server back = %v, %v", ok, err)
	}
}

func TestRecommendations(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{})
	e.prov.setRule("carol@localhost", rule{friend: true})
	ctx := ctxT(t)
	dev := e.dev.LocalJID().String()
	send := func(s *xmpp.Session, el *xmpp.Element) {
		t.Helper()
		if err := s.Send(ctx, xmpp.NewElement("", "message", "to", dev).Add(el)); err != nil {
			t.Fatal(err)
		}
	}
	carol := jid.MustParse("carol@localhost")
	if ok, err := e.client.IsFriend(ctx, carol); !ok || err != nil {
		t.Fatalf("IsFriend(carol) = %v, %v", ok, err)
	}

	// A stranger's orders are ignored: its message is handled before its
	// ping's answer, and the callbacks run in order, so no event may come
	// before the server's own.
	bob := connect(t, clientConfig(t, e.p, "bob", "b"), nil)
	send(bob, provisioning.Unfriend{JID: "carol@localhost"}.Element())
	send(bob, provisioning.Friend{JID: "bob@localhost"}.Element())
	var se *xmpp.StanzaError
	if _, err := bob.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", dev).Add(xmpp.NewElement("jabber:iq:version", "query"))); !errors.As(err, &se) {
		t.Fatalf("round trip to the device: %v", err)
	}
	if ok, err := e.client.IsFriend(ctx, carol); !ok || err != nil || e.prov.count("isFriend") != 1 {
		t.Fatalf("after a stranger's unfriend: IsFriend(carol) = %v, %v, asked %d", ok, err, e.prov.count("isFriend"))
	}

	send(e.prov.sess, provisioning.Friend{JID: "dave@localhost/x"}.Element())
	e.wantEvent(t, "friend dave@localhost")
	legacy := xmpp.NewElement(provisioning.NS, "Friend", "jid", "erin@localhost")
	send(e.prov.sess, legacy)
	e.wantEvent(t, "friend erin@localhost")
	send(e.prov.sess, provisioning.Unfriend{JID: "carol@localhost"}.Element())
	e.wantEvent(t, "unfriend carol@localhost")

	// Unfriending drops what was cached about carol: the next question
	// goes to the server.
	e.prov.setRule("carol@localhost", rule{})
	if ok, err := e.client.IsFriend(ctx, carol); ok || err != nil || e.prov.count("isFriend") != 2 {
		t.Fatalf("after unfriend: IsFriend(carol) = %v, %v, asked %d", ok, err, e.prov.count("isFriend"))
	}
}

// TestServerByBareJID runs the questions to a provisioning server that is a
// client account named by its bare JID: the device subscribes to it and
// asks the full JID its presence announces.
func TestServerByBareJID(t *testing.T) {
	t.Parallel()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device", "prov")
	prov := newProvPeer()
	prov.setRule("alice@localhost", rule{friend: true})
	pmux := &xmpp.Mux{}
	prov.register(pmux)
	prov.sess = connect(t, clientConfig(t, p, "prov", "prov"), pmux)
	ctx := ctxT(t)
	if err := prov.sess.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}

	mux := &xmpp.Mux{}
	dev := xmpp.New(clientConfig(t, p, "device", "dev"), mux)
	client := provisioning.New(dev, jid.MustParse("prov@localhost"), provisioning.Options{Timeout: 2 * time.Second, Logger: testLogger(t)})
	client.Register(mux)
	if err := dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })

	// Before the device knows where the server is, the bare JID refuses.
	if ok, err := client.IsFriend(ctx, jid.MustParse("alice@localhost")); ok || !errors.Is(err, provisioning.ErrNoDecision) {
		t.Fatalf("IsFriend before presence = %v, %v", ok, err)
	}
	if err := dev.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}
	if err := client.SubscribeToServer(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := client.IsFriend(ctx, jid.MustParse("alice@localhost"))
		if ok && err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("IsFriend after subscribing = %v, %v", ok, err)
		}
		time.Sleep(50 * time.Millisecond) // until the server's presence arrives
	}
}

// TestConcurrentQuestions checks that identical questions asked while one
// is in flight share its answer instead of asking again.
func TestConcurrentQuestions(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{})
	e.prov.setRule("alice@localhost", rule{read: true, readFields: []string{"Energy"}})
	ctx := ctxT(t)
	alice := jid.MustParse("alice@localhost/amr")
	release := make(chan struct{})
	e.prov.holdAnswers(release)
	var wg sync.WaitGroup
	results := make([][]string, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = e.client.CanRead(ctx, alice, nil, nil) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.prov.count("canRead") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // until the first question arrives
	}
	close(release)
	wg.Wait()
	for i := range results {
		if errs[i] != nil || !reflect.DeepEqual(results[i], []string{"Energy"}) {
			t.Fatalf("caller %d: %#v, %v", i, results[i], errs[i])
		}
	}
	if n := e.prov.count("canRead"); n != 1 {
		t.Fatalf("server asked %d canRead questions, want 1", n)
	}
}

// TestSetServer moves the device to another provisioning server, as when a
// registry claims it: the cache is cleared, the new server decides, and
// the old one's orders are refused.
func TestSetServer(t *testing.T) {
	t.Parallel()
	e := setup(t, provisioning.Options{})
	register(t, e.p, "prov2")
	e.prov.setRule("alice@localhost", rule{read: true})
	ctx := ctxT(t)
	alice := jid.MustParse("alice@localhost/amr")
	if got, err := e.client.CanRead(ctx, alice, nil, nil); err != nil || got != nil {
		t.Fatalf("CanRead from the first server = %#v, %v", got, err)
	}

	prov2 := newProvPeer()
	mux := &xmpp.Mux{}
	prov2.register(mux)
	prov2.sess = connect(t, clientConfig(t, e.p, "prov2", "p"), mux)
	e.client.SetServer(jid.MustParse("prov2@localhost/p"))
	if e.client.Cached() != 0 {
		t.Fatalf("%d decisions cached after SetServer", e.client.Cached())
	}
	if got, err := e.client.CanRead(ctx, alice, nil, nil); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("CanRead from the second server = %#v, %v; want refusal", got, err)
	}
	if prov2.count("canRead") != 1 || e.prov.count("canRead") != 1 {
		t.Fatalf("questions: first server %d, second %d; want 1 each", e.prov.count("canRead"), prov2.count("canRead"))
	}
	_, err := e.prov.sess.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "set", "to", e.dev.LocalJID().String()).Add(provisioning.ClearCache{}.Element()))
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "forbidden" {
		t.Fatalf("clearCache from the former server: %v, want forbidden", err)
	}
	if ok, err := e.client.IsFriend(ctx, jid.MustParse("prov2@localhost")); !ok || err != nil {
		t.Fatalf("IsFriend(new server) = %v, %v", ok, err)
	}
}
