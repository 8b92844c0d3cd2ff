package xmpp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func clientConfig(t *testing.T, p *testserver.Prosody, user, pass, resource string) xmpp.Config {
	t.Helper()
	j, err := jid.Parse(user + "@" + p.Domain + "/" + resource)
	if err != nil {
		t.Fatal(err)
	}
	return xmpp.Config{
		JID: j, Password: pass, Server: p.C2SAddr, TLS: p.TLSConfig(),
		StreamManagement: true, ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second,
		Logger: testLogger(t),
	}
}

func register(t *testing.T, p *testserver.Prosody, users ...string) {
	t.Helper()
	for _, u := range users {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
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

func TestLoginPingAndErrors(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	register(t, p, "device", "client")

	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev := connect(t, clientConfig(t, p, "device", "device-pass", "agent"), mux)
	cli := connect(t, clientConfig(t, p, "client", "client-pass", "cli"), nil)
	if got := dev.LocalJID().String(); got != "device@localhost/agent" {
		t.Fatalf("bound JID %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// An IQ nobody handles: service-unavailable, and the device stays up.
	iq := xmpp.NewElement("", "iq", "type", "get", "to", dev.LocalJID().String()).Add(xmpp.NewElement("urn:example:unknown", "query"))
	_, err := cli.SendIQ(ctx, iq)
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "service-unavailable" || se.Type != "cancel" {
		t.Fatalf("unknown IQ: got %v, want cancel/service-unavailable", err)
	}
	// A known namespace with an unknown element: feature-not-implemented.
	iq = xmpp.NewElement("", "iq", "type", "set", "to", dev.LocalJID().String()).Add(xmpp.NewElement(xmpp.NSPing, "ping"))
	if _, err = cli.SendIQ(ctx, iq); !errors.As(err, &se) || se.Condition != "feature-not-implemented" {
		t.Fatalf("ping as set: got %v, want feature-not-implemented", err)
	}
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatalf("ping after errors: %v", err)
	}
	if dev.BytesIn() < 500 || dev.BytesOut() < 200 {
		t.Errorf("byte counters: in %d, out %d", dev.BytesIn(), dev.BytesOut())
	}
}

func TestWrongPasswordIsClear(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device")
	s := xmpp.New(clientConfig(t, p, "device", "wrong", "x"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := s.Connect(ctx)
	var ae *xmpp.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want *AuthError", err)
	}
	if ae.Mechanism != "SCRAM-SHA-256" || ae.Condition != "not-authorized" || !strings.Contains(err.Error(), "wrong user name or password") {
		t.Fatalf("unclear auth error: %v (%+v)", err, ae)
	}
	// Run gives up too, rather than hammering the server.
	if err := xmpp.New(clientConfig(t, p, "device", "wrong", "x"), nil).Run(ctx); !errors.As(err, &ae) {
		t.Fatalf("Run: got %v, want *AuthError", err)
	}
}

func TestUntrustedCertificateRefused(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device")
	cfg := clientConfig(t, p, "device", "device-pass", "x")
	cfg.TLS = &tls.Config{RootCAs: x509.NewCertPool()} // trusts nothing
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := xmpp.New(cfg, nil).Connect(ctx)
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("got %v, want an unknown-authority certificate error", err)
	}
	// The right name is checked too.
	cfg.TLS = p.TLSConfig()
	cfg.TLS.ServerName = "wrong.example"
	var herr x509.HostnameError
	if err := xmpp.New(cfg, nil).Connect(ctx); !errors.As(err, &herr) {
		t.Fatalf("got %v, want a hostname error", err)
	}
}

func TestComponentExchangesWithClient(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "client")
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	got := make(chan *xmpp.Element, 1)
	mux.Message("urn:example:hello", "", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		got <- st
		return nil
	}))
	cj, _ := jid.Parse(p.ComponentDomain)
	comp := connect(t, xmpp.Config{JID: cj, Password: p.ComponentSecret, Component: true, Server: p.ComponentAddr, NoTLS: true, Logger: testLogger(t)}, mux)
	cli := connect(t, clientConfig(t, p, "client", "client-pass", "c"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// client → component (a device JID on the component's domain)
	if _, err := xmpp.Ping(ctx, cli, "meter1@"+p.ComponentDomain); err != nil {
		t.Fatalf("client ping to component: %v", err)
	}
	// component → client
	msg := xmpp.NewElement("", "message", "from", "meter1@"+p.ComponentDomain, "to", cli.LocalJID().String()).Add(xmpp.NewElement("urn:example:hello", "hi"))
	cmux := make(chan struct{})
	_ = cmux
	if err := comp.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	// client → component message
	if err := cli.Send(ctx, xmpp.NewElement("", "message", "to", "meter1@"+p.ComponentDomain).Add(xmpp.NewElement("urn:example:hello", "hi"))); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-got:
		if st.Get("from") != cli.LocalJID().String() {
			t.Fatalf("from = %q", st.Get("from"))
		}
	case <-ctx.Done():
		t.Fatal("component got no message")
	}
	// A routed mux per device JID: stanzas to meter2@ go to its own mux,
	// and what its handlers send without 'from' comes from meter2@.
	dev := &xmpp.Mux{}
	dev.Message("urn:example:echo", "", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
		return s.Send(ctx, xmpp.NewElement("", "message", "to", st.Get("from")).Add(xmpp.NewElement("urn:example:hello", "echo")))
	}))
	mux.Route(func(to string) *xmpp.Mux {
		if strings.HasPrefix(to, "meter2@") {
			return dev
		}
		return nil
	})
	cliMux := &xmpp.Mux{}
	echoed := make(chan *xmpp.Element, 1)
	cliMux.Message("urn:example:hello", "", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		echoed <- st
		return nil
	}))
	cli2 := connect(t, clientConfig(t, p, "client", "client-pass", "c2"), cliMux)
	if err := cli2.Send(ctx, xmpp.NewElement("", "message", "to", "meter2@"+p.ComponentDomain).Add(xmpp.NewElement("urn:example:echo", "x"))); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-echoed:
		if st.Get("from") != "meter2@"+p.ComponentDomain {
			t.Fatalf("echo from %q", st.Get("from"))
		}
	case <-ctx.Done():
		t.Fatal("no echo from the routed device mux")
	}
	// Unknown IQs to a routed JID get the routed mux's error.
	if _, err := cli2.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", "meter2@"+p.ComponentDomain).Add(xmpp.NewElement(xmpp.NSPing, "ping"))); err == nil {
		t.Error("ping answered by a device mux without a ping handler")
	}

	// A wrong secret is an AuthError.
	err := xmpp.New(xmpp.Config{JID: cj, Password: "wrong", Component: true, Server: p.ComponentAddr, NoTLS: true}, nil).Connect(ctx)
	var ae *xmpp.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("wrong component secret: got %v, want *AuthError", err)
	}
}

// cuttableDialer records connections so a test can close the socket under
// a session, as a dropped radio link would.
type cuttableDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *cuttableDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *cuttableDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

func TestStreamManagementExactlyOnce(t *testing.T) {
	const n = 1000
	// The messages sent while the device is away wait in the server's
	// resumption queue; Prosody refuses resumption once more than
	// smacks_max_queue_size (500 by default) are unacknowledged, so the
	// test raises it above n.
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}, ExtraConfig: "smacks_max_queue_size = 4000"})
	register(t, p, "device", "client")

	var mu sync.Mutex
	seen := map[string]int{}
	mux := &xmpp.Mux{}
	mux.Message("urn:example:seq", "", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		mu.Lock()
		seen[st.Child("urn:example:seq", "n").Text()]++
		mu.Unlock()
		return nil
	}))
	var d cuttableDialer
	cfg := clientConfig(t, p, "device", "device-pass", "agent")
	cfg.Dial = d.dial
	var resumed, online atomic.Int32
	cfg.OnOnline = func(_ context.Context, r bool) {
		if r {
			resumed.Add(1)
		}
		online.Add(1)
	}
	dev := xmpp.New(cfg, mux)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- dev.Run(ctx) }()
	waitOnline(t, dev)
	cli := connect(t, clientConfig(t, p, "client", "client-pass", "c"), nil)

	to := dev.LocalJID().String()
	send := func(i int) {
		msg := xmpp.NewElement("", "message", "to", to).Add(xmpp.NewElement("urn:example:seq", "n").AddText(fmt.Sprint(i)))
		if err := cli.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	// Cut the device's socket four times while the messages flow; each
	// time, more messages are sent while the device is away.
	cuts := 0
	for i := 0; i < n; i++ {
		if i%250 == 100 {
			// Wait for the session that follows the previous cut, so that
			// every cut hits a live connection.
			for deadline := time.Now().Add(20 * time.Second); online.Load() <= int32(cuts); {
				if time.Now().After(deadline) {
					t.Fatalf("the device did not come back after cut %d", cuts)
				}
				time.Sleep(5 * time.Millisecond)
			}
			d.cut()
			cuts++
		}
		send(i)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var missing, dup []string
	for i := 0; i < n; i++ {
		switch c := seen[fmt.Sprint(i)]; {
		case c == 0:
			missing = append(missing, fmt.Sprint(i))
		case c > 1:
			dup = append(dup, fmt.Sprintf("%d×%d", i, c))
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("after %d cuts (%d resumed): %d missing %v, %d duplicated %v", cuts, resumed.Load(), len(missing), head(missing), len(dup), head(dup))
	}
	if resumed.Load() != int32(cuts) {
		t.Fatalf("the session resumed %d times after %d cuts", resumed.Load(), cuts)
	}
	t.Logf("%d messages arrived exactly once across socket cuts; %d resumptions", n, resumed.Load())
}

func TestOutgoingSurvivesCut(t *testing.T) {
	// Stanzas the device sends while its link is down arrive after resumption.
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	register(t, p, "device", "client")
	var mu sync.Mutex
	seen := map[string]int{}
	mux := &xmpp.Mux{}
	mux.Message("urn:example:seq", "", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		mu.Lock()
		seen[st.Child("urn:example:seq", "n").Text()]++
		mu.Unlock()
		return nil
	}))
	cli := connect(t, clientConfig(t, p, "client", "client-pass", "c"), mux)
	var d cuttableDialer
	cfg := clientConfig(t, p, "device", "device-pass", "agent")
	cfg.Dial = d.dial
	dev := xmpp.New(cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dev.Run(ctx)
	waitOnline(t, dev)
	const n = 500
	for i := 0; i < n; i++ {
		if i%100 == 50 {
			waitOnline(t, dev)
			d.cut()
		}
		msg := xmpp.NewElement("", "message", "to", cli.LocalJID().String()).Add(xmpp.NewElement("urn:example:seq", "n").AddText(fmt.Sprint(i)))
		if err := dev.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var missing, dup int
	for i := 0; i < n; i++ {
		switch seen[fmt.Sprint(i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 {
		t.Fatalf("%d missing, %d duplicated of %d", missing, dup, n)
	}
}

func TestReconnectAfterServerKill(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	register(t, p, "device", "client")
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	cfg := clientConfig(t, p, "device", "device-pass", "agent")
	cfg.ReconnectMax = 2 * time.Second
	dev := xmpp.New(cfg, mux)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dev.Run(ctx)
	waitOnline(t, dev)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	cli := connect(t, clientConfig(t, p, "client", "client-pass", "c"), nil)
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := xmpp.Ping(pctx, cli, "device@localhost/agent")
		pcancel()
		if err == nil {
			break
		}
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("device not back online 10 s after the restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("device answered %v after the server came back", time.Since(t0).Round(time.Millisecond))
}

func TestOversizedStanzaEndsStreamAndRecovers(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{ExtraModules: []string{"smacks"}})
	register(t, p, "device", "client")
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	cfg := clientConfig(t, p, "device", "device-pass", "agent")
	cfg.MaxStanzaBytes = 16 << 10
	var offline atomic.Pointer[error]
	cfg.OnOffline = func(err error) { offline.CompareAndSwap(nil, &err) }
	dev := xmpp.New(cfg, mux)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dev.Run(ctx)
	waitOnline(t, dev)
	cli := connect(t, clientConfig(t, p, "client", "client-pass", "c"), nil)
	big := xmpp.NewElement("", "message", "to", "device@localhost/agent").Add(xmpp.NewElement("", "body").AddText(strings.Repeat("x", 64<<10)))
	if err := cli.Send(ctx, big); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for offline.Load() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var err error
	if e := offline.Load(); e != nil {
		err = *e
	}
	var se *xmpp.StreamError
	if !errors.As(err, &se) || se.Condition != "policy-violation" {
		t.Fatalf("got %v, want policy-violation stream error", err)
	}
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := xmpp.Ping(pctx, cli, "device@localhost/agent")
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device did not come back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitOnline(t *testing.T, s *xmpp.Session) {
	t.Helper()
	select {
	case <-s.Online():
	case <-time.After(20 * time.Second):
		t.Fatal("session did not come online")
	}
}

func head(s []string) []string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func TestDirectTLSAndSCRAM(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{DirectTLS: true})
	register(t, p, "device")
	cfg := clientConfig(t, p, "device", "device-pass", "agent")
	cfg.Server = p.DirectTLSAddr
	cfg.DirectTLS = true
	cfg.TLS.NextProtos = []string{"xmpp-client"}
	s := connect(t, cfg, nil)
	if m := s.Mechanism(); m != "SCRAM-SHA-256" {
		t.Errorf("mechanism %q, want SCRAM-SHA-256", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, s, "localhost"); err != nil {
		t.Fatalf("ping the server over direct TLS: %v", err)
	}
}

func TestRunReturnsWhenContextEnds(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device")
	s := xmpp.New(clientConfig(t, p, "device", "device-pass", "agent"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitOnline(t, s)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended while connected")
	}
}
