// Command readout measures XEP-0323 sensor data figures side by side in
// one run: the round trip of a momentary readout through Prosody (request
// to the fields message marked done) next to a XEP-0199 ping of the same
// device session, and the time and allocations to encode a readout of
// 1,000 fields.
//
// A third series answers the same request at once with one stanza of the
// same size, the floor that Prosody's handling of stanzas this large sets.
//
// The device is an in-process sensordata.Server serving the sim board on
// its own XMPP session, as the agent will once it wires the package.
//
// Usage: go run ./bench/readout [-n 500] [-node meter] [-types momentary] [-nagle=false] [-cpuprofile F]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/bench/internal/cpu"
	"github.com/xiot/xiot/bench/internal/simsensors"
	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

func main() {
	n := flag.Int("n", 500, "round trips per kind")
	node := flag.String("node", sim.NodeMeter, "sim node to read (meter and thermostat read instantly; bme280 waits for a conversion)")
	types := flag.String("types", "momentary", "field types to read")
	nagle := flag.Bool("nagle", true, "keep Prosody's stock Nagle setting (false sets TCP_NODELAY on its sockets)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (client and device) over the readout blocks to this file")
	flag.Parse()
	t, err := sensors.ParseReadoutType(*types)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/readout:", err)
		os.Exit(2)
	}
	if err := run(*n, *node, t, *nagle, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/readout:", err)
		os.Exit(1)
	}
}

func session(ctx context.Context, p *testserver.Prosody, user, res string, mux *xmpp.Mux) (*xmpp.Session, error) {
	if err := p.Register(user, user+"-bench-pass"); err != nil {
		return nil, err
	}
	j, err := jid.Parse(user + "@" + p.Domain + "/" + res)
	if err != nil {
		return nil, err
	}
	s := xmpp.New(xmpp.Config{JID: j, Password: user + "-bench-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, mux)
	if err := s.Connect(ctx); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", j, err)
	}
	return s, nil
}

func run(n int, node string, types sensors.ReadoutType, nagle bool, cpuProfile string) error {
	ctx := context.Background()
	p, err := testserver.Start(ctx, testserver.ProsodyOptions{DisableNagle: !nagle})
	if err != nil {
		return err
	}
	defer p.Close()

	ss, halt, err := simsensors.Start()
	if err != nil {
		return err
	}
	defer halt()
	srv := sensordata.NewServer(ss, sensordata.Options{})
	defer srv.Close()
	dmux := &xmpp.Mux{}
	srv.Register(dmux)
	xmpp.HandlePing(dmux)
	// The floor: the same request answered at once, in one stanza carrying
	// a fields element of the same size (what Prosody costs for stanzas of
	// this size, without a second stanza or any sensor read).
	var echo, echoM *xmpp.Element
	dmux.IQ("get", nsEcho, "req", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		return s.Send(ctx, xmpp.ResultIQ(iq, echo))
	}))
	// The same, the way XEP-0323 answers: the fields in a message and an
	// empty IQ result, in one write, still without any sensor read.
	dmux.IQ("get", nsEcho+"m", "req", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		msg := xmpp.NewElement("", "message", "to", iq.Get("from")).Add(echoM)
		return s.SendAll(ctx, msg, xmpp.ResultIQ(iq, nil))
	}))
	dev, err := session(ctx, p, "device", "bench", dmux)
	if err != nil {
		return err
	}
	defer dev.Close()
	cmux := &xmpp.Mux{}
	gotMsg := make(chan struct{}, 16)
	cmux.Message(nsEcho+"m", "fields", xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, m *xmpp.Element) error {
		gotMsg <- struct{}{}
		return nil
	}))
	client := sensordata.NewClient(cmux)
	cli, err := session(ctx, p, "client", "bench", cmux)
	if err != nil {
		return err
	}
	defer cli.Close()
	to := dev.LocalJID().String()
	req := sensordata.Request{Types: types, Nodes: []sensordata.NodeRef{{NodeID: node}}}

	res, err := client.Read(ctx, cli, to, req)
	if err != nil || res.Err() != nil || len(res.Fields) == 0 {
		return fmt.Errorf("readout: %v %v (%d fields)", err, res.Err(), len(res.Fields))
	}
	fields := len(res.Fields)
	echo = sensordata.Fields{SeqNr: 1, Done: true, Fields: res.Fields}.Element()
	echoM = sensordata.Fields{SeqNr: 1, Done: true, Fields: res.Fields}.Element()
	echoM.Name.Space = nsEcho + "m"
	echoMReq := req.Element()
	echoMReq.Name.Space = nsEcho + "m"
	var mechoes []time.Duration
	echoReq := req.Element()
	echoReq.Name.Space = nsEcho

	var pings, reads, echoes []time.Duration
	for i := range n + n/10 { // the first tenth warms up
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := xmpp.Ping(cctx, cli, to)
		if err != nil {
			cancel()
			return fmt.Errorf("ping: %w", err)
		}
		t0 := time.Now()
		res, err := client.Read(cctx, cli, to, req)
		rd := time.Since(t0)
		if err != nil || res.Err() != nil || len(res.Fields) == 0 {
			cancel()
			return fmt.Errorf("readout: %v %v (%d fields)", err, res.Err(), len(res.Fields))
		}
		t0 = time.Now()
		_, err = cli.SendIQ(cctx, xmpp.NewElement("", "iq", "type", "get", "to", to).Add(echoReq))
		ed := time.Since(t0)
		t0 = time.Now()
		merr := cli.Send(cctx, xmpp.NewElement("", "iq", "type", "get", "id", fmt.Sprint("m", i), "to", to).Add(echoMReq))
		if merr == nil {
			select {
			case <-gotMsg:
			case <-cctx.Done():
				merr = errors.New("no message")
			}
		}
		med := time.Since(t0)
		if merr != nil {
			cancel()
			return fmt.Errorf("message echo: %w", merr)
		}
		if i >= n/10 {
			mechoes = append(mechoes, med)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		if i >= n/10 {
			pings, reads, echoes = append(pings, d), append(reads, rd), append(echoes, ed)
		}
	}
	fmt.Printf("== XEP-0323 %s readout of node %q (%d fields) vs XEP-0199 ping, %d each, alternating ==\n", types, node, fields, n)
	fmt.Printf("  %-28s %10s %10s %10s\n", "", "p50", "p90", "p99")
	rp50, rp90, rp99 := pct(reads)
	pp50, pp90, pp99 := pct(pings)
	fmt.Printf("  %-28s %10v %10v %10v\n", "readout through Prosody", rp50, rp90, rp99)
	fmt.Printf("  %-28s %10v %10v %10v\n", "ping through Prosody", pp50, pp90, pp99)
	ep50, ep90, ep99 := pct(echoes)
	fmt.Printf("  %-28s %10v %10v %10v\n", "same bytes, one stanza, echo", ep50, ep90, ep99)
	fmt.Printf("  %-28s %10.2f %10.2f %10.2f   (goal p50 <= 1.20)\n", "ratio readout/ping", ratio(rp50, pp50), ratio(rp90, pp90), ratio(rp99, pp99))
	fmt.Printf("  %-28s %10.2f %10.2f %10.2f\n", "ratio echo/ping", ratio(ep50, pp50), ratio(ep90, pp90), ratio(ep99, pp99))
	mp50, mp90, mp99 := pct(mechoes)
	fmt.Printf("  %-28s %10v %10v %10v\n", "same bytes as a message+IQ", mp50, mp90, mp99)
	fmt.Printf("  %-28s %10.2f %10.2f %10.2f\n", "ratio message echo/ping", ratio(mp50, pp50), ratio(mp90, pp90), ratio(mp99, pp99))

	// Where the time goes: CPU per round trip of Prosody and of this
	// process (client and device), over blocks of each kind.
	type kindFn struct {
		name string
		do   func(context.Context) error
	}
	kinds := []kindFn{
		{"ping", func(c context.Context) error { _, err := xmpp.Ping(c, cli, to); return err }},
		{"readout", func(c context.Context) error { _, err := client.Read(c, cli, to, req); return err }},
		{"same bytes, one stanza, echo", func(c context.Context) error {
			_, err := cli.SendIQ(c, xmpp.NewElement("", "iq", "type", "get", "to", to).Add(echoReq))
			return err
		}},
	}
	if _, err := cpu.Process(p.Pid()); err == nil {
		fmt.Printf("== CPU per round trip, mean over %d (blocks of each kind, twice) ==\n", 2*cpuRounds)
		fmt.Printf("  %-28s %10s %12s %14s\n", "", "wall", "Prosody CPU", "client+device")
		var wall, server, self [3]time.Duration
		for range 2 {
			for k, kd := range kinds {
				if kd.name == "readout" && cpuProfile != "" {
					f, err := os.Create(cpuProfile)
					if err != nil {
						return err
					}
					if err := pprof.StartCPUProfile(f); err != nil {
						return err
					}
					defer f.Close()
				}
				p0, _ := cpu.Process(p.Pid())
				s0, t0 := cpu.Self(), time.Now()
				for range cpuRounds {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err := kd.do(cctx)
					cancel()
					if err != nil {
						return fmt.Errorf("%s: %w", kd.name, err)
					}
				}
				wall[k] += time.Since(t0)
				if kd.name == "readout" && cpuProfile != "" {
					pprof.StopCPUProfile()
				}
				p1, _ := cpu.Process(p.Pid())
				server[k] += p1 - p0
				self[k] += cpu.Self() - s0
			}
		}
		for k, kd := range kinds {
			per := func(d time.Duration) time.Duration { return (d / (2 * cpuRounds)).Round(time.Microsecond) }
			fmt.Printf("  %-28s %10v %12v %14v\n", kd.name, per(wall[k]), per(server[k]), per(self[k]))
		}
	}

	var big []sensors.Field
	ts := time.Now()
	for i := range 1000 {
		big = append(big, sensors.Field{Node: fmt.Sprint("node", i/100), Name: fmt.Sprint("Field ", i), Value: sensors.Numeric(float64(i) / 8),
			Unit: "°C", Decimals: 2, Timestamp: ts, Types: sensors.Momentary, QoS: sensors.QoSAutomaticReadout})
	}
	msg := sensordata.Fields{SeqNr: 1, Done: true, Fields: big}
	size := len(msg.Element().String())
	enc := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = msg.Element().String()
		}
	})
	dec := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		el := msg.Element()
		for b.Loop() {
			if _, err := sensordata.ParseFields(el); err != nil {
				b.Fatal(err)
			}
		}
	})
	fmt.Printf("== 1,000-field readout (one fields element, %d bytes of XML) ==\n", size)
	fmt.Printf("  encode to XML text: %v/op, %d allocs/op, %d B/op\n", time.Duration(enc.NsPerOp()), enc.AllocsPerOp(), enc.AllocedBytesPerOp())
	fmt.Printf("  decode element:     %v/op, %d allocs/op, %d B/op\n", time.Duration(dec.NsPerOp()), dec.AllocsPerOp(), dec.AllocedBytesPerOp())
	return nil
}

// cpuRounds is the number of round trips per block of the CPU measurement.
const cpuRounds = 2000

// nsEcho is the namespace of the floor measurement's request.
const nsEcho = "urn:xiot:bench:echo"

func pct(d []time.Duration) (p50, p90, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond) }
	return at(0.50), at(0.90), at(0.99)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
