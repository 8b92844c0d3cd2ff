package exigw

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/exi/xmppschema"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
)

// syncBuffer is a log sink shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(t *testing.T, w *syncBuffer) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	if w != nil {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

// env is a Prosody with a gateway in front of it.
type env struct {
	p        *testserver.Prosody
	g        *Gateway
	neg, alt string // gateway addresses
}

func startEnv(t *testing.T) *env {
	t.Helper()
	return startEnvWith(t, nil)
}

// startEnvWith is startEnv with the gateway's configuration changed by
// edit first.
func startEnvWith(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	// The gateway uses a certificate for the same domain, which the
	// devices verify like any server certificate.
	cert, err := tls.LoadX509KeyPair(filepath.Join(p.Dir, "certs", p.Domain+".crt"), filepath.Join(p.Dir, "certs", p.Domain+".key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Upstream: p.C2SAddr, UpstreamTLS: p.TLSConfig(),
		TLS:            &tls.Config{Certificates: []tls.Certificate{cert}},
		MaxStanzaBytes: 64 << 10, HandshakeTimeout: 5 * time.Second,
		Logger: testLogger(t, nil),
	}
	if edit != nil {
		edit(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{p: p, g: g}
	for _, alt := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if alt {
			e.alt = ln.Addr().String()
			go func() { _ = g.ServeAlternative(ctx, ln) }()
		} else {
			e.neg = ln.Addr().String()
			go func() { _ = g.ServeNegotiated(ctx, ln) }()
		}
	}
	return e
}

func (e *env) config(t *testing.T, user, resource, server string, x xmpp.EXIConfig, log *syncBuffer) xmpp.Config {
	t.Helper()
	j, err := jid.Parse(user + "@" + e.p.Domain + "/" + resource)
	if err != nil {
		t.Fatal(err)
	}
	return xmpp.Config{JID: j, Password: user + "-pass", Server: server, TLS: e.p.TLSConfig(), EXI: x,
		Logger: testLogger(t, log), Keepalive: -1}
}

func connect(t *testing.T, cfg xmpp.Config, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	s := xmpp.New(cfg, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", cfg.JID, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const nsSensor = "urn:xmpp:iot:sensordata"

// readout is a XEP-0323 momentary readout as a device sends it.
func readout(seq int) *xmpp.Element {
	fields := xmpp.NewElement(nsSensor, "resp", "id", fmt.Sprint(seq)).Add(
		xmpp.NewElement(nsSensor, "nd", "id", "dev").Add(
			xmpp.NewElement(nsSensor, "ts", "v", "2026-12-01T10:00:00Z").Add(
				xmpp.NewElement(nsSensor, "q", "n", "temperature", "v", "21.5", "u", "°C", "m", "true", "ar", "true"),
				xmpp.NewElement(nsSensor, "b", "n", "relay", "v", "true", "m", "true"),
				xmpp.NewElement(nsSensor, "s", "n", "name", "v", "boiler room", "id", "true"),
				xmpp.NewElement(nsSensor, "i", "n", "count", "v", fmt.Sprint(1000+seq), "m", "true"))))
	return fields
}

// exchange checks stanzas both ways between the device (behind the
// gateway) and a plain client on Prosody.
func exchange(t *testing.T, dev, cli *xmpp.Session, got <-chan *xmpp.Element) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatalf("client pings device: %v", err)
	}
	if _, err := xmpp.Ping(ctx, dev, cli.LocalJID().String()); err != nil {
		t.Fatalf("device pings client: %v", err)
	}
	for i := range 3 {
		msg := xmpp.NewElement("", "message", "to", cli.LocalJID().String(), "id", fmt.Sprint("m", i)).Add(readout(i))
		if err := dev.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			r := m.Child(nsSensor, "resp")
			if r == nil || r.Get("id") != fmt.Sprint(i) || !strings.Contains(m.String(), `v="boiler room"`) || !strings.Contains(m.String(), "°C") {
				t.Fatalf("client got %s", m)
			}
		case <-ctx.Done():
			t.Fatal("client got no readout")
		}
	}
}

func TestGatewayWithProsody(t *testing.T) {
	e := startEnv(t)
	got := make(chan *xmpp.Element, 10)
	cmux := &xmpp.Mux{}
	xmpp.HandlePing(cmux)
	cmux.Message(nsSensor, "resp", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		got <- st
		return nil
	}))
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), cmux)

	for _, tc := range []struct {
		name string
		x    xmpp.EXIConfig
	}{
		{"negotiated/schema-less", xmpp.EXIConfig{Mode: xmpp.EXINegotiate}},
		{"negotiated/schema-less/compression", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, Alignment: exi.Compression}},
		{"negotiated/schema-informed", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}},
		{"negotiated/schema-informed/compression", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression}},
		{"alternative/schema-less", xmpp.EXIConfig{Mode: xmpp.EXIAlternative}},
		{"alternative/schema-less/compression", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, Alignment: exi.Compression}},
		{"alternative/schema-informed", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true}},
		{"alternative/schema-informed/byte-aligned", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true, Alignment: exi.ByteAligned}},
		{"alternative/schema-informed/compression", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true, Alignment: exi.Compression}},
		// XEP-0322 sessionWideBuffers: agreed in the setup, the string
		// tables last for the stream on both ends.
		{"negotiated/schema-less/session-wide", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SessionWideBuffers: true}},
		{"negotiated/schema-informed/session-wide", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true}},
		{"negotiated/schema-informed/compression/session-wide", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression, SessionWideBuffers: true}},
		// The alternative binding's header cannot carry it: both ends
		// leave it off.
		{"alternative/schema-informed/session-wide", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true, SessionWideBuffers: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := e.neg
			if tc.x.Mode == xmpp.EXIAlternative {
				server = e.alt
			}
			var log syncBuffer
			before := e.g.Stats().EXIStreams
			dmux := &xmpp.Mux{}
			xmpp.HandlePing(dmux)
			dev := connect(t, e.config(t, "device", strings.ReplaceAll(tc.name, "/", "-"), server, tc.x, &log), dmux)
			if dev.LocalJID().Localpart() != "device" {
				t.Fatalf("bound %s", dev.LocalJID())
			}
			if tc.x.Mode == xmpp.EXINegotiate && !strings.Contains(log.String(), "stream switched to EXI") {
				t.Fatalf("no switch to EXI in the log:\n%s", log.String())
			}
			if want := tc.x.Mode == xmpp.EXINegotiate && tc.x.SessionWideBuffers; tc.x.Mode == xmpp.EXINegotiate &&
				strings.Contains(log.String(), "session_wide_buffers=true") != want {
				t.Fatalf("sessionWideBuffers agreed: want %v; log:\n%s", want, log.String())
			}
			if e.g.Stats().EXIStreams != before+1 {
				t.Fatalf("gateway counted %d EXI streams, want %d", e.g.Stats().EXIStreams, before+1)
			}
			exchange(t, dev, cli, got)
			dev.Close()
		})
	}
	// Devices that end their streams are not failures.
	for deadline := time.Now().Add(3 * time.Second); e.g.Stats().Active != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("connections still open: %+v", e.g.Stats())
		}
	}
	st := e.g.Stats()
	if st.DeviceBytesIn == 0 || st.UpstreamBytesOut == 0 || st.Ratio == 0 || st.Total < 13 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("gateway stats: %+v", st)
}

// A device configured for negotiated EXI that reaches a server without it
// stays in XML and says so.
func TestFallbackToXML(t *testing.T) {
	e := startEnv(t)
	var log syncBuffer
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev := connect(t, e.config(t, "device", "fb", e.p.C2SAddr, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}, &log), mux)
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), nil)
	if !strings.Contains(log.String(), "does not offer it") || !strings.Contains(log.String(), "continuing in XML") {
		t.Fatalf("no fallback line in the log:\n%s", log.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatalf("ping over XML: %v", err)
	}
	// The alternative binding pointed at an XML port gives up with a
	// clear error instead of exchanging garbage.
	alt := xmpp.New(e.config(t, "device", "alt", e.p.C2SAddr, xmpp.EXIConfig{Mode: xmpp.EXIAlternative}, nil), nil)
	err := alt.Connect(ctx)
	if !errors.Is(err, xmpp.ErrNoEXI) || !strings.Contains(err.Error(), "answered in XML") {
		t.Fatalf("alternative binding against XML: got %v, want ErrNoEXI", err)
	}
}

// A device whose schema set holds a schema the gateway lacks uploads it
// (XEP-0322 uploadSchema) and then agrees on the setup.
func TestUploadSchema(t *testing.T) {
	e := startEnv(t)
	set, err := xmppschema.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Add([]byte(`<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:example:vendor' elementFormDefault='qualified'><xs:element name='reading' type='xs:double'/></xs:schema>`)); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev := connect(t, e.config(t, "device", "up", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Schemas: set}, &log), mux)
	if !strings.Contains(log.String(), "uploaded=1") || !strings.Contains(log.String(), "stream switched to EXI") {
		t.Fatalf("no upload and switch in the log:\n%s", log.String())
	}
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := xmpp.Ping(ctx, cli, dev.LocalJID().String()); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(e.g.cfg.Schemas.All(), func(s xmppschema.Schema) bool { return s.NS == "urn:example:vendor" }) {
		t.Fatal("gateway does not hold the uploaded schema")
	}
}

// countedConn counts the bytes of one device connection.
type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// After a dropped link the device reconnects with the XEP-0322 quick
// configuration (setup by configurationId) and spends fewer bytes.
func TestQuickConfiguration(t *testing.T) {
	e := startEnv(t)
	var log syncBuffer
	var mu sync.Mutex
	var conns []net.Conn
	var counts []*atomic.Int64
	cfg := e.config(t, "device", "quick", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}, &log)
	cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 50*time.Millisecond
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n := new(atomic.Int64)
		mu.Lock()
		defer mu.Unlock()
		conns, counts = append(conns, c), append(counts, n)
		return &countedConn{Conn: c, n: n}, nil
	}
	mux := &xmpp.Mux{}
	xmpp.HandlePing(mux)
	dev := xmpp.New(cfg, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { _ = dev.Run(ctx) }()
	defer dev.Close()
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), nil)
	waitPing := func() {
		t.Helper()
		for {
			<-dev.Online()
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := xmpp.Ping(pctx, cli, dev.LocalJID().String())
			pcancel()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("device not reachable: %v\n%s", err, log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitPing()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	first := counts[0].Load()
	conns[0].Close() // the link drops
	mu.Unlock()
	for !strings.Contains(log.String(), "EXI quick configuration accepted") {
		if ctx.Err() != nil {
			t.Fatalf("no quick configuration on reconnection:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitPing()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	second := counts[len(counts)-1].Load()
	mu.Unlock()
	if second >= first {
		t.Fatalf("reconnection cost %d bytes, the first connection %d", second, first)
	}
	t.Logf("login bytes: first %d, with quick configuration %d", first, second)
}

// TestSessionWideBuffersNegotiation: a device proposing XEP-0322
// sessionWideBuffers gets EXI with it from a gateway that accepts it,
// without it from one that lowers it (Config.NoSessionWideBuffers), and
// without it too from one that refuses the setup (as gateways before the
// option did), by proposing again.
func TestSessionWideBuffersNegotiation(t *testing.T) {
	e := startEnv(t)
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.p.Dir, "certs", e.p.Domain+".crt"), filepath.Join(e.p.Dir, "certs", e.p.Domain+".key"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *xmpp.Element, 10)
	cmux := &xmpp.Mux{}
	xmpp.HandlePing(cmux)
	cmux.Message(nsSensor, "resp", xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		got <- st
		return nil
	}))
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), cmux)
	for _, tc := range []struct {
		name      string
		lower     bool
		refuse    bool
		wantSWB   bool
		wantRetry bool
	}{
		{name: "accepted", wantSWB: true},
		{name: "lowered", lower: true},
		{name: "refused", refuse: true, wantRetry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Config{
				Upstream: e.p.C2SAddr, UpstreamTLS: e.p.TLSConfig(),
				TLS:            &tls.Config{Certificates: []tls.Certificate{cert}},
				MaxStanzaBytes: 64 << 10, HandshakeTimeout: 5 * time.Second,
				Logger: testLogger(t, nil), NoSessionWideBuffers: tc.lower,
			})
			if err != nil {
				t.Fatal(err)
			}
			g.refuseSWB = tc.refuse
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = g.ServeNegotiated(ctx, ln) }()
			var log syncBuffer
			dmux := &xmpp.Mux{}
			xmpp.HandlePing(dmux)
			dev := connect(t, e.config(t, "device", "swb-"+tc.name, ln.Addr().String(),
				xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true}, &log), dmux)
			l := log.String()
			if !strings.Contains(l, "stream switched to EXI") {
				t.Fatalf("no switch to EXI in the log:\n%s", l)
			}
			if strings.Contains(l, "session_wide_buffers=true") != tc.wantSWB {
				t.Fatalf("sessionWideBuffers in use: want %v; log:\n%s", tc.wantSWB, l)
			}
			if strings.Contains(l, "proposing again without sessionWideBuffers") != tc.wantRetry {
				t.Fatalf("second proposal: want %v; log:\n%s", tc.wantRetry, l)
			}
			exchange(t, dev, cli, got)
			dev.Close()
		})
	}
}

// The quick configuration survives a restart of the device (a new
// Session) through EXIConfig.QuickFile, and is dropped when a different
// proposal or a refusal makes it useless.
func TestQuickConfigurationFile(t *testing.T) {
	e := startEnv(t)
	file := filepath.Join(t.TempDir(), "exi-configuration.json")
	login := func(x xmpp.EXIConfig) (string, int64) {
		t.Helper()
		var log syncBuffer
		var n atomic.Int64
		cfg := e.config(t, "device", "restart", e.neg, x, &log)
		cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countedConn{Conn: c, n: &n}, nil
		}
		s := connect(t, cfg, nil)
		bytes := n.Load()
		s.Close()
		return log.String(), bytes
	}
	x := xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, QuickFile: file}
	out1, first := login(x)
	if strings.Contains(out1, "quick configuration accepted") {
		t.Fatalf("first login used a quick configuration:\n%s", out1)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no quick configuration file after the first login: %v\n%s", err, out1)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("quick configuration file mode %v, want 0600", fi.Mode().Perm())
	}
	out2, second := login(x)
	if !strings.Contains(out2, "EXI quick configuration accepted") || second >= first {
		t.Fatalf("restart: %d bytes vs %d first\n%s", second, first, out2)
	}
	t.Logf("login bytes: first %d, after a restart with the file %d", first, second)

	// Another proposal (compression): the saved ID is not offered.
	xc := x
	xc.Alignment = exi.Compression
	if out3, _ := login(xc); strings.Contains(out3, "quick configuration") {
		t.Errorf("a saved configuration was offered for another proposal:\n%s", out3)
	}
	// A damaged file is reported and ignored.
	if err := os.WriteFile(file, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out4, _ := login(x); !strings.Contains(out4, "EXI quick configuration file ignored") || !strings.Contains(out4, "stream switched to EXI") {
		t.Errorf("damaged file:\n%s", out4)
	}
}

// After a cut connection a device reconnects to the gateway with TLS
// session resumption: the gateway's certificate is not sent again, and
// the login costs fewer bytes on the device's link. (Prosody's default
// TLS options turn session tickets off, so this is the gateway's.)
func TestTLSResumptionThroughGateway(t *testing.T) {
	e := startEnv(t)
	var log syncBuffer
	var n atomic.Int64
	var mu sync.Mutex
	var counts []int64
	cfg := e.config(t, "device", "resume", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}, &log)
	cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 50*time.Millisecond
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		counts = append(counts, n.Load())
		mu.Unlock()
		return &countedConn{Conn: c, n: &n}, nil
	}
	dev := xmpp.New(cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { _ = dev.Run(ctx) }()
	defer dev.Close()
	<-dev.Online()
	time.Sleep(100 * time.Millisecond)
	dev.CutConnection()
	for strings.Count(log.String(), "XMPP session online") < 2 {
		if ctx.Err() != nil {
			t.Fatalf("no second login:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	out := log.String()
	last := out[strings.LastIndex(out, "XMPP session online"):]
	if !strings.Contains(out, "tls_resumed=false") || !strings.Contains(last, "tls_resumed=true") {
		t.Fatalf("the reconnection did not resume the TLS session:\n%s", out)
	}
	mu.Lock()
	first, second := counts[1]-counts[0], n.Load()-counts[1]
	mu.Unlock()
	if second >= first {
		t.Fatalf("reconnection %d bytes, first login %d", second, first)
	}
	t.Logf("login bytes: first %d, reconnection with TLS resumption and quick configuration %d", first, second)
}
