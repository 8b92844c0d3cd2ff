// Command exi-wire measures XEP-0322 on the device's link, side by side in
// one run against a real Prosody: the bytes a device exchanges (TCP payload,
// TLS included, both directions) for a session of login, 100 momentary
// readouts of the sim meter (XEP-0323, real sensordata.Server) and 10 sets
// (XEP-0325, real iotcontrol.Server), in plain XML straight to Prosody, and
// in EXI through "xiot exigw" schema-less and schema-informed, each with and
// without compression, with and without XEP-0322 sessionWideBuffers
// (string tables kept for the stream); and the readout round trip p50 of
// each, so that the
// gateway's added latency reads against plain XML straight to the server
// and against plain XML through the gateway.
//
// Usage: go run ./bench/exi-wire [-readouts 100] [-sets 10]
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/bench/internal/simsensors"
	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/exigw"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

func main() {
	readouts := flag.Int("readouts", 100, "momentary readouts per session")
	sets := flag.Int("sets", 10, "control sets per session")
	flag.Parse()
	if err := run(*readouts, *sets); err != nil {
		fmt.Fprintln(os.Stderr, "bench/exi-wire:", err)
		os.Exit(1)
	}
}

// countConn counts the bytes of the device's link.
type countConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// allSchemas marks a row whose device proposes every schema of the set.
var allSchemas = []string{"(all)"}

type variant struct {
	name   string
	server string // "", "neg" or "alt": Prosody, gateway negotiated, gateway alternative binding
	x      xmpp.EXIConfig
	// classic offers only classic TLS key exchanges (xmpp.tls_post_quantum
	// false): no 1.2 KB hybrid ML-KEM key share each way
	classic bool
}

type result struct {
	login, total int64
	p50, p90     time.Duration
}

func run(nRead, nSet int) error {
	ctx := context.Background()
	p, err := testserver.Start(ctx, testserver.ProsodyOptions{DisableNagle: true})
	if err != nil {
		return err
	}
	defer p.Close()
	for _, u := range []string{"device", "client"} {
		if err := p.Register(u, u+"-bench-pass"); err != nil {
			return err
		}
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(p.Dir, "certs", p.Domain+".crt"), filepath.Join(p.Dir, "certs", p.Domain+".key"))
	if err != nil {
		return err
	}
	g, err := exigw.New(exigw.Config{Upstream: p.C2SAddr, UpstreamTLS: p.TLSConfig(), TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		return err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	// A second gateway gives devices no TLS, to show the stanza bytes
	// without TLS records.
	gPlain, err := exigw.New(exigw.Config{Upstream: p.C2SAddr, UpstreamTLS: p.TLSConfig()})
	if err != nil {
		return err
	}
	addrs := map[string]string{"": p.C2SAddr}
	for _, form := range []string{"neg", "alt", "neg-plain", "alt-plain"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs[form] = ln.Addr().String()
		switch form {
		case "alt":
			go func() { _ = g.ServeAlternative(gctx, ln) }()
		case "neg":
			go func() { _ = g.ServeNegotiated(gctx, ln) }()
		case "alt-plain":
			go func() { _ = gPlain.ServeAlternative(gctx, ln) }()
		default:
			go func() { _ = gPlain.ServeNegotiated(gctx, ln) }()
		}
	}

	// The device: the sim board's sensors and two control parameters.
	ss, halt, err := simsensors.Start()
	if err != nil {
		return err
	}
	defer halt()
	srv := sensordata.NewServer(ss, sensordata.Options{})
	defer srv.Close()
	ctl, err := control.New([]control.Point{
		{Param: control.Param{Node: "thermostat", Name: "Setpoint", Type: control.TypeDouble}, Output: control.NewVirtual("Setpoint", control.TypeDouble, nil), Initial: control.Double(21)},
	}, control.Options{})
	if err != nil {
		return err
	}
	ctl.Online()
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	go ctl.Run(cctx)
	defer ctl.Shutdown()
	isrv := iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: "bench"})
	dmux := &xmpp.Mux{}
	srv.Register(dmux)
	isrv.Register(dmux)
	xmpp.HandlePing(dmux)

	cmux := &xmpp.Mux{}
	reader := sensordata.NewClient(cmux)
	cli, err := session(ctx, p, "client", "bench", p.C2SAddr, false, false, xmpp.EXIConfig{}, cmux, nil)
	if err != nil {
		return err
	}
	defer cli.Close()

	// The quick configuration a device keeps in its state directory
	// (XEP-0322 configurationId): the first login of a pair saves it, the
	// second uses it, as after a restart.
	qdir, err := os.MkdirTemp("", "xiot-bench-exi-quick-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(qdir)
	quick := func(name string) string { return filepath.Join(qdir, name+".json") }
	variants := []variant{
		{"XML, straight to Prosody", "", xmpp.EXIConfig{}, false},
		{"XML, through the gateway", "neg", xmpp.EXIConfig{}, false},
		{"EXI schema-less", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate}, false},
		{"EXI schema-less + compression", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, Alignment: exi.Compression}, false},
		{"EXI schema-informed", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}, false},
		{"EXI schema-informed + compression", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression}, false},
		{"EXI schema-informed, alt. binding", "alt", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true}, false},
		{"EXI s.-informed + compr., alt. binding", "alt", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true, Alignment: exi.Compression}, false},
		{"EXI schema-less, session-wide", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SessionWideBuffers: true}, false},
		{"EXI s.-informed, session-w., all schemas", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true, Namespaces: allSchemas}, false},
		{"EXI schema-informed, session-wide", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true, QuickFile: quick("pq")}, false},
		{"  the same, a later login (quick config.)", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true, QuickFile: quick("pq")}, false},
		{"EXI s.-informed + compr., session-wide", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression, SessionWideBuffers: true}, false},
		{"classic TLS: XML", "", xmpp.EXIConfig{}, true},
		{"classic TLS: EXI schema-less, session-w.", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SessionWideBuffers: true}, true},
		{"classic TLS: EXI schema-inf., session-w.", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true, QuickFile: quick("classic")}, true},
		{"  the same, a later login (quick config.)", "neg", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true, QuickFile: quick("classic")}, true},
		{"no TLS: XML", "neg-plain", xmpp.EXIConfig{}, false},
		{"no TLS: EXI schema-less", "neg-plain", xmpp.EXIConfig{Mode: xmpp.EXINegotiate}, false},
		{"no TLS: EXI schema-less + compression", "neg-plain", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, Alignment: exi.Compression}, false},
		{"no TLS: EXI schema-informed", "neg-plain", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}, false},
		{"no TLS: EXI schema-informed + compr.", "neg-plain", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression}, false},
		{"no TLS: EXI schema-informed, alt.", "alt-plain", xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true}, false},
		{"no TLS: EXI schema-less, session-wide", "neg-plain", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SessionWideBuffers: true}, false},
		{"no TLS: EXI schema-informed, session-wide", "neg-plain", xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true}, false},
	}
	plainBase := slices.IndexFunc(variants, func(v variant) bool { return v.name == "no TLS: XML" })        // the XML variant without TLS
	classicBase := slices.IndexFunc(variants, func(v variant) bool { return v.name == "classic TLS: XML" }) // with classic key exchange
	results := make([]result, len(variants))
	for i, v := range variants {
		// The device proposes what the agent does: the schemas of the
		// namespaces it speaks (cmd/xiot), unless the row says otherwise.
		switch {
		case v.x.Namespaces == nil:
			v.x.Namespaces = []string{sensordata.NS, iotcontrol.NS, xmpp.NSPing}
		case v.x.Namespaces[0] == allSchemas[0]:
			v.x.Namespaces = nil
		}
		var in, out atomic.Int64
		dev, err := session(ctx, p, "device", fmt.Sprint("bench", i), addrs[v.server], strings.HasSuffix(v.server, "-plain"), v.classic, v.x, dmux, func(c net.Conn) net.Conn {
			return &countConn{Conn: c, in: &in, out: &out}
		})
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		time.Sleep(100 * time.Millisecond) // let presence and stream management settle
		results[i].login = in.Load() + out.Load()
		to := dev.LocalJID().String()
		req := sensordata.Request{Types: sensors.Momentary, Nodes: []sensordata.NodeRef{{NodeID: sim.NodeMeter}}}
		var rtts []time.Duration
		for range nRead {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			t0 := time.Now()
			res, err := reader.Read(rctx, cli, to, req)
			rtts = append(rtts, time.Since(t0))
			cancel()
			if err != nil || res.Err() != nil || len(res.Fields) == 0 {
				return fmt.Errorf("%s: readout: %v %v", v.name, err, res.Err())
			}
		}
		for k := range nSet {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := iotcontrol.Set(sctx, cli, to, iotcontrol.SetRequest{
				Nodes:  []iotcontrol.NodeRef{{NodeID: "thermostat"}},
				Params: []iotcontrol.Param{{Type: control.TypeDouble, Name: "Setpoint", Value: strconv.FormatFloat(18+float64(k)/2, 'f', 1, 64)}}})
			cancel()
			if err != nil {
				return fmt.Errorf("%s: set: %w", v.name, err)
			}
		}
		dev.Close()
		time.Sleep(50 * time.Millisecond)
		results[i].total = in.Load() + out.Load()
		slices.Sort(rtts)
		results[i].p50, results[i].p90 = rtts[len(rtts)/2], rtts[len(rtts)*9/10]
	}

	fmt.Printf("== bytes on the device's link (TCP payload incl. TLS, both ways): login + %d momentary readouts + %d sets ==\n", nRead, nSet)
	fmt.Printf("  %-40s %9s %9s %8s %11s %11s\n", "", "login", "session", "vs XML", "readout p50", "p90")
	for i, v := range variants {
		r := results[i]
		base := float64(results[0].total)
		switch {
		case i >= plainBase:
			base = float64(results[plainBase].total)
		case i >= classicBase:
			base = float64(results[classicBase].total)
		}
		fmt.Printf("  %-40s %9d %9d %7.1f%% %11v %11v\n", v.name, r.login, r.total, 100*float64(r.total)/base, r.p50.Round(time.Microsecond), r.p90.Round(time.Microsecond))
	}
	fmt.Printf("  (\"classic TLS\" rows: no hybrid post-quantum key share (xmpp.tls_post_quantum: false), against the XML row with the same TLS;\n")
	fmt.Printf("   \"no TLS\" rows: device link without TLS, against the XML row without TLS)\n")
	fmt.Printf("  goal: schema-informed EXI <= 25%% of the XML bytes\n")
	fmt.Printf("== gateway's added latency on a readout round trip (p50) ==\n")
	fmt.Printf("  XML through the gateway vs straight: %+v\n", (results[1].p50 - results[0].p50).Round(time.Microsecond))
	fmt.Printf("  EXI schema-informed via gateway vs XML straight: %+v   (goal <= 0.5ms)\n", (results[4].p50 - results[0].p50).Round(time.Microsecond))
	st := g.Stats()
	fmt.Printf("== gateway counters: device %d in / %d out, upstream %d in / %d out, ratio %.3f, %d connections, %d EXI ==\n",
		st.DeviceBytesIn, st.DeviceBytesOut, st.UpstreamBytesIn, st.UpstreamBytesOut, st.Ratio, st.Total, st.EXIStreams)
	return nil
}

func session(ctx context.Context, p *testserver.Prosody, user, res, server string, plain, classic bool, x xmpp.EXIConfig, mux *xmpp.Mux, wrap func(net.Conn) net.Conn) (*xmpp.Session, error) {
	j, err := jid.Parse(user + "@" + p.Domain + "/" + res)
	if err != nil {
		return nil, err
	}
	cfg := xmpp.Config{JID: j, Password: user + "-bench-pass", Server: server, TLS: p.TLSConfig(), Keepalive: -1, EXI: x, StreamManagement: true, NoTLS: plain}
	if classic {
		cfg.TLS.CurvePreferences = config.ClassicCurves()
	}
	if wrap != nil {
		cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return wrap(c), nil
		}
	}
	s := xmpp.New(cfg, mux)
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Connect(lctx); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", j, err)
	}
	return s, nil
}
