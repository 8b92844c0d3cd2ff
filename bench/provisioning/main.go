// Command provisioning measures what XEP-0324 provisioning costs a
// readout, side by side in one run: the round trip of a momentary readout
// through Prosody from a reader the device's owner allowed some fields,
// once with the device's decision cache cleared before each readout (the
// device asks the registry: a canRead round trip through Prosody to the
// registry component and a store look-up) and once answered from the
// cache. A XEP-0199 ping of the device is the floor.
//
// Everything is real and in one process: a throwaway Prosody, the
// registry (provisioning/registry on a SQLite file, as "xiot registry"
// runs it) as a component, and the agent wired as "xiot agent" wires it
// (agent.Provision, the sim board's sensors, sensordata.Server).
//
// Usage: go run ./bench/provisioning [-n 500]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/bench/internal/simsensors"
	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/sqlstore"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

func main() {
	n := flag.Int("n", 500, "readouts per kind")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench/provisioning:", err)
		os.Exit(1)
	}
}

const pass = "-bench-pass"

func config(p *testserver.Prosody, user, res string) xmpp.Config {
	return xmpp.Config{JID: jid.MustParse(user + "@" + p.Domain + "/" + res), Password: user + pass, Server: p.C2SAddr,
		TLS: p.TLSConfig(), Keepalive: -1}
}

func session(ctx context.Context, p *testserver.Prosody, user, res string, mux *xmpp.Mux) (*xmpp.Session, error) {
	s := xmpp.New(config(p, user, res), mux)
	if err := s.Connect(ctx); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", user, err)
	}
	return s, nil
}

func run(n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	p, err := testserver.Start(ctx, testserver.ProsodyOptions{})
	if err != nil {
		return err
	}
	defer p.Close()
	for _, u := range []string{"device", "owner", "reader"} {
		if err := p.Register(u, u+pass); err != nil {
			return err
		}
	}

	// The registry, as a component.
	dir, err := os.MkdirTemp("", "xiot-bench-provisioning-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "registry.db"), sqlstore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	rmux := &xmpp.Mux{}
	rsess := xmpp.New(xmpp.Config{JID: jid.MustParse(p.ComponentDomain), Password: p.ComponentSecret, Component: true,
		Server: p.ComponentAddr, NoTLS: true}, rmux)
	reg, err := registry.New(rsess, registry.Options{Store: st})
	if err != nil {
		return err
	}
	defer reg.Close()
	reg.Register(rmux)
	if err := rsess.Connect(ctx); err != nil {
		return fmt.Errorf("registry component: %w", err)
	}
	defer rsess.Close()
	regJID := jid.MustParse(p.ComponentDomain)

	// The agent, provisioned by the registry.
	a, err := agent.New(agent.Options{Session: config(p, "device", "agent"), Board: "sim"})
	if err != nil {
		return err
	}
	prov := provisioning.New(a.Session(), regJID, provisioning.Options{Timeout: 5 * time.Second, OnFriend: a.Befriend, OnUnfriend: a.Unfriend})
	canRead, _ := a.Provision(prov)
	ss, halt, err := simsensors.Start()
	if err != nil {
		return err
	}
	defer halt()
	srv := sensordata.NewServer(ss, sensordata.Options{CanRead: canRead})
	defer srv.Close()
	srv.Register(a.Mux())
	xmpp.HandlePing(a.Mux())
	a.AddFeatures(srv.Features()...)
	online := make(chan struct{}, 1)
	a.OnOnline(func(context.Context, bool) {
		select {
		case online <- struct{}{}:
		default:
		}
	})
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stop(); <-done }()
	select {
	case <-online:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("agent not online")
	}
	dev := a.Session().LocalJID().String()

	// Registered, claimed by the owner, who allows the reader two fields.
	iq := func(s *xmpp.Session, typ string, payload *xmpp.Element) error {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := s.SendIQ(qctx, xmpp.NewElement("", "iq", "type", typ, "to", p.ComponentDomain).Add(payload))
		return err
	}
	tags := []registry.Tag{{Name: "KEY", Value: "bench-key-0123456789"}, {Name: "MODEL", Value: "xiot-bench"}}
	regEl := xmpp.NewElement(registry.NS, "register")
	mine := xmpp.NewElement(registry.NS, "mine")
	for _, t := range tags {
		regEl.Add(xmpp.NewElement(registry.NS, "str", "name", t.Name, "value", t.Value))
		mine.Add(xmpp.NewElement(registry.NS, "str", "name", t.Name, "value", t.Value))
	}
	if err := iq(a.Session(), "set", regEl); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	omux := &xmpp.Mux{}
	ownerClient := sensordata.NewClient(omux)
	owner, err := session(ctx, p, "owner", "bench", omux)
	if err != nil {
		return err
	}
	defer owner.Close()
	if err := iq(owner, "set", mine); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	reader := &xmpp.Mux{}
	client := sensordata.NewClient(reader)
	rd, err := session(ctx, p, "reader", "bench", reader)
	if err != nil {
		return err
	}
	defer rd.Close()
	req := sensordata.Request{Types: sensors.Momentary, Nodes: []sensordata.NodeRef{{NodeID: sim.NodeMeter}}}
	all, err := read(ctx, ownerClient, owner, dev, req) // the owner reads everything
	if err != nil {
		return fmt.Errorf("owner's readout: %w", err)
	}
	var names []string
	for _, f := range all {
		if !slices.Contains(names, f.Name) {
			names = append(names, f.Name)
		}
	}
	if len(names) < 3 {
		return fmt.Errorf("the sim meter has %d fields, want at least 3", len(names))
	}
	allowed := names[:2]
	rule := registry.RuleElement(registry.Rule{Thing: registry.Key{JID: "device@" + p.Domain}, Requester: "reader@" + p.Domain,
		Read: registry.Allow, Fields: allowed})
	if err := iq(owner, "set", rule); err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // the registry's clearCache reaches the device

	check := func(fs []sensors.Field) error {
		for _, f := range fs {
			if !slices.Contains(allowed, f.Name) {
				return fmt.Errorf("reader got field %q, allowed only %v", f.Name, allowed)
			}
		}
		if len(fs) == 0 {
			return fmt.Errorf("reader got no fields")
		}
		return nil
	}
	var trips, cached, pings []time.Duration
	for i := range n + n/10 { // the first tenth warms up
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		pd, err := xmpp.Ping(pctx, rd, dev)
		pcancel()
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		prov.ClearCache()
		t0 := time.Now()
		fs, err := read(ctx, client, rd, dev, req)
		td := time.Since(t0)
		if err == nil {
			err = check(fs)
		}
		if err != nil {
			return fmt.Errorf("readout with a round trip: %w", err)
		}
		if prov.Cached() == 0 {
			return fmt.Errorf("the decision was not cached")
		}
		t0 = time.Now()
		fs, err = read(ctx, client, rd, dev, req)
		cd := time.Since(t0)
		if err == nil {
			err = check(fs)
		}
		if err != nil {
			return fmt.Errorf("readout from the cache: %w", err)
		}
		if i >= n/10 {
			trips, cached, pings = append(trips, td), append(cached, cd), append(pings, pd)
		}
	}
	fmt.Printf("== XEP-0324: momentary readout of %q (%d of %d fields allowed by an owner's rule), %d each, alternating; %s/%s, %d CPUs ==\n",
		sim.NodeMeter, len(allowed), len(names), n, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Printf("  %-42s %10s %10s %10s\n", "", "p50", "p90", "p99")
	t50, t90, t99 := pct(trips)
	c50, c90, c99 := pct(cached)
	p50, p90, p99 := pct(pings)
	fmt.Printf("  %-42s %10v %10v %10v\n", "readout, canRead round trip to the registry", t50, t90, t99)
	fmt.Printf("  %-42s %10v %10v %10v\n", "readout, decision from the device's cache", c50, c90, c99)
	fmt.Printf("  %-42s %10v %10v %10v\n", "ping of the device", p50, p90, p99)
	fmt.Printf("  %-42s %10.2f %10.2f %10.2f\n", "ratio round trip / cached", ratio(t50, c50), ratio(t90, c90), ratio(t99, c99))
	fmt.Printf("  %-42s %10v %10v %10v\n", "provisioning cost (round trip - cached)", t50-c50, t90-c90, t99-c99)
	return nil
}

// read reads req from dev and returns the fields, or the error.
func read(ctx context.Context, c *sensordata.Client, s *xmpp.Session, dev string, req sensordata.Request) ([]sensors.Field, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.Read(rctx, s, dev, req)
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	return res.Fields, nil
}

func pct(d []time.Duration) (p50, p90, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond) }
	return at(0.50), at(0.90), at(0.99)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
