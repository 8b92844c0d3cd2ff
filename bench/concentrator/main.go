// Command concentrator measures the MQTT concentrator's figures (issue 7)
// side by side in one run, against a real Prosody and a real mosquitto:
//
//   - memory per bridged device: the heap held by the bridge's registry
//     and the component's per-JID state once every device has been
//     addressed over XMPP (goal at most 4 KB per device at 10,000);
//   - presence throughput: every device's LWT flips to offline through
//     mosquitto, and the subscriber counts the unavailable presence that
//     reaches it through Prosody, next to the rate at which the same
//     component connection pushes the same number of presence stanzas
//     itself (goal at least 0.9x);
//   - readout round trip of a bridged device (XEP-0323, request to the
//     fields message marked done) next to a XEP-0199 ping of the same
//     device JID (goal p50 at most 1.2x).
//
// Usage: go run ./bench/concentrator [-devices 10000] [-n 500] [-rounds 10]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/bench/internal/cpu"
	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/sensordata"
)

func main() {
	devices := flag.Int("devices", 10000, "simulated MQTT devices")
	n := flag.Int("n", 500, "readout and ping round trips")
	rounds := flag.Int("rounds", 10, "rounds of availability flips of every device")
	nagle := flag.Bool("nagle", true, "keep Prosody's stock Nagle setting (false sets TCP_NODELAY on its sockets: no 40 ms delayed-ACK stalls in either phase)")
	flag.Parse()
	if err := run(*devices, *n, max(*rounds, 1), *nagle); err != nil {
		fmt.Fprintln(os.Stderr, "bench/concentrator:", err)
		os.Exit(1)
	}
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func devID(i int) string { return fmt.Sprintf("dev%05d", i) }

func run(devices, n, rounds int, nagle bool) error {
	ctx := context.Background()
	p, err := testserver.Start(ctx, testserver.ProsodyOptions{DisableNagle: !nagle})
	if err != nil {
		return err
	}
	defer p.Close()
	m, err := testserver.StartMosquittoContext(ctx, testserver.MosquittoOptions{ExtraConfig: "max_queued_messages 100000\n"})
	if err != nil {
		return err
	}
	defer m.Close()
	if err := p.Register("owner", "owner-bench-pass"); err != nil {
		return err
	}

	// The simulated devices: one retained temperature and an LWT-style
	// availability message each, published (QoS 1, retained) over
	// publishers connections in parallel, as independent devices do.
	// The load generator writes prepared MQTT packets (publisher.go) so
	// that it measures the broker, the bridge and Prosody, not itself.
	const publishers = 16
	pubs := make([]*publisher, publishers)
	for k := range pubs {
		if pubs[k], err = dialPublisher(m.Addr, fmt.Sprint("sim-devices-", k)); err != nil {
			return fmt.Errorf("MQTT publisher: %w", err)
		}
		defer pubs[k].close()
	}
	publishAll := func(topic func(int) string, payload string) error {
		errs := make(chan error, publishers)
		for k, pub := range pubs {
			var topics []string
			for i := k; i < devices; i += publishers {
				topics = append(topics, topic(i))
			}
			go func() { errs <- pub.publish(topics, []byte(payload)) }()
		}
		var err error
		for range pubs {
			err = errors.Join(err, <-errs)
		}
		return err
	}
	if err := publishAll(func(i int) string { return "plain/" + devID(i) + "/Temperature" }, "21.5 °C"); err != nil {
		return err
	}
	if err := publishAll(func(i int) string { return "plain/" + devID(i) + "/LWT" }, "Online"); err != nil {
		return err
	}

	// Every device has the owner as presence subscriber (as if each had
	// been subscribed to before).
	dir, err := os.MkdirTemp("", "xiot-bench-concentrator-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	owner := "owner@" + p.Domain
	subs := map[string][]string{}
	for i := range devices {
		subs[devID(i)] = []string{owner}
	}
	data, _ := json.Marshal(map[string]any{"version": 1, "devices": subs})
	if err := os.WriteFile(filepath.Join(dir, component.SubscriptionsFile), data, 0o600); err != nil {
		return err
	}

	base := heap()
	b, err := mqttbridge.New(config.MQTT{
		Brokers: []string{"tcp://" + m.Addr}, ClientID: "bench-concentrator", MaxDevices: devices + 10,
		Mappings: []config.MQTTMapping{{Topic: "plain/{device}/Temperature", Field: "Temperature",
			AvailabilityTopic: "plain/{device}/LWT", PayloadAvailable: "Online", PayloadNotAvailable: "Offline"}},
	}, mqttbridge.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := b.Start(sctx); err != nil {
		return err
	}
	if err := waitUntil(2*time.Minute, func() bool { return len(b.Devices()) == devices }); err != nil {
		return fmt.Errorf("bridged %d of %d devices: %w", len(b.Devices()), devices, err)
	}
	bridgeHeld := heap() - base
	cj, _ := jid.Parse(p.ComponentDomain)
	oj, _ := jid.Parse(owner)
	c, err := component.New(component.Options{
		Session: xmpp.Config{JID: cj, Password: p.ComponentSecret, Component: true, Server: p.ComponentAddr, NoTLS: true, Keepalive: -1},
		Bridge:  b, Owners: []jid.JID{oj}, StateDir: dir,
	})
	if err != nil {
		return err
	}
	for i := range devices {
		if _, ok := c.JID(devID(i)); !ok {
			return fmt.Errorf("no JID for %s", devID(i))
		}
	}
	held := heap() - base
	fmt.Printf("== memory: %d bridged devices (a field and an LWT each, one presence subscriber each) ==\n", devices)
	fmt.Printf("  bridge registry             %6d B/device\n", bridgeHeld/uint64(devices))
	fmt.Printf("  + component state per JID   %6d B/device\n", (held-bridgeHeld)/uint64(devices))
	fmt.Printf("  total                       %6d B/device   (goal <= 4096)\n", held/uint64(devices))

	// The subscriber: counts unavailable presence from device JIDs.
	var unavailable, available atomic.Int64
	omux := &xmpp.Mux{}
	omux.Presence(xmpp.HandlerFunc(func(_ context.Context, _ *xmpp.Session, st *xmpp.Element) error {
		if st.Get("type") == "unavailable" {
			unavailable.Add(1)
		} else if st.Get("type") == "" {
			available.Add(1)
		}
		return nil
	}))
	sd := sensordata.NewClient(omux)
	j, _ := jid.Parse(owner + "/bench")
	cli := xmpp.New(xmpp.Config{JID: j, Password: "owner-bench-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Keepalive: -1}, omux)
	if err := cli.Connect(ctx); err != nil {
		return err
	}
	defer cli.Close()
	if err := cli.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
		return err
	}

	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	defer func() { stop(); <-done }()
	// Online: every device's available presence goes to the subscriber.
	if err := waitUntil(2*time.Minute, func() bool { return available.Load() >= int64(devices) }); err != nil {
		return fmt.Errorf("initial presence: %d of %d: %w", available.Load(), devices, err)
	}

	counter := func(online bool) *atomic.Int64 {
		if online {
			return &available
		}
		return &unavailable
	}
	state := true // the devices' availability: all online now; each round flips it
	measure := func(title string) error {
		var floorRates, bridgedRates, mqttRates, ratios []float64
		var floorTotal, bridgedTotal time.Duration
		// CPU time of Prosody, mosquitto and this process (load
		// generator, bridge, component, subscriber) in each phase.
		var floorCPU, bridgedCPU [3]time.Duration
		cpuNow := func() (t [3]time.Duration) {
			t[0], _ = cpu.Process(p.Pid())
			t[1], _ = cpu.Process(m.Pid())
			t[2] = cpu.Self()
			return t
		}
		addCPU := func(sum *[3]time.Duration, from [3]time.Duration) {
			to := cpuNow()
			for i := range sum {
				sum[i] += to[i] - from[i]
			}
		}
		for range rounds {
			online := !state
			state = online
			cnt := counter(online)
			before := cnt.Load()
			c0 := cpuNow()
			t0 := time.Now()
			var batch []any
			for i := range devices {
				// The stanza the bridge sends for an LWT "Online" or "Offline".
				pr := xmpp.NewElement("", "presence", "from", devID(i)+"@"+p.ComponentDomain, "to", owner)
				if !online {
					pr.Set("type", "unavailable")
					pr.Add(xmpp.NewElement("", "status").AddText("offline (reported by the device)"))
				}
				batch = append(batch, pr)
				if len(batch) == 256 || i == devices-1 {
					if err := c.Session().SendAll(ctx, batch...); err != nil {
						return err
					}
					batch = batch[:0]
				}
			}
			if err := waitUntil(2*time.Minute, func() bool { return cnt.Load()-before >= int64(devices) }); err != nil {
				return fmt.Errorf("direct pushes: %w", err)
			}
			direct := time.Since(t0)
			addCPU(&floorCPU, c0)

			events, unsubscribe := b.Subscribe(devices * 2)
			mqttDone := make(chan time.Duration, 1)
			before = cnt.Load()
			c0 = cpuNow()
			t0 = time.Now()
			go func() {
				seen := 0
				for e := range events {
					if e.Kind == mqttbridge.EventAvailability && e.Available == online {
						if seen++; seen == devices {
							mqttDone <- time.Since(t0)
							return
						}
					}
				}
			}()
			payload := map[bool]string{true: "Online", false: "Offline"}[online]
			if err := publishAll(func(i int) string { return "plain/" + devID(i) + "/LWT" }, payload); err != nil {
				unsubscribe()
				return err
			}
			if err := waitUntil(2*time.Minute, func() bool { return cnt.Load()-before >= int64(devices) }); err != nil {
				unsubscribe()
				return fmt.Errorf("bridged presence: %d of %d: %w", cnt.Load()-before, devices, err)
			}
			bridged := time.Since(t0)
			addCPU(&bridgedCPU, c0)
			unsubscribe()
			select {
			case d := <-mqttDone:
				mqttRates = append(mqttRates, float64(devices)/d.Seconds())
			case <-time.After(time.Second):
			}
			dr, br := float64(devices)/direct.Seconds(), float64(devices)/bridged.Seconds()
			floorRates, bridgedRates, ratios = append(floorRates, dr), append(bridgedRates, br), append(ratios, br/dr)
			floorTotal, bridgedTotal = floorTotal+direct, bridgedTotal+bridged
		}
		fmt.Printf("== presence reaching the subscriber through Prosody, %s: %d rounds of %d stanzas ==\n", title, rounds, devices)
		fmt.Printf("  %-44s %9s %9s %9s\n", "", "median", "lowest", "highest")
		row := func(name, unit string, v []float64) {
			lo, med, hi := spread(v)
			fmt.Printf("  %-44s %9.0f %9.0f %9.0f %s\n", name, med, lo, hi, unit)
		}
		row("component connection alone (floor)", "stanzas/s", floorRates)
		row("LWT flips via mosquitto -> bridge -> XMPP", "stanzas/s", bridgedRates)
		if len(mqttRates) > 0 {
			row("MQTT side alone (publish -> bridge event)", "events/s", mqttRates)
		}
		if _, err := cpu.Process(p.Pid()); err == nil {
			per := func(d time.Duration) string {
				return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond)/float64(rounds*devices))
			}
			fmt.Printf("  %-44s %9s %9s %9s\n", "CPU per stanza", "Prosody", "mosquitto", "this")
			fmt.Printf("  %-44s %9s %9s %9s\n", "  component connection alone", per(floorCPU[0]), per(floorCPU[1]), per(floorCPU[2]))
			fmt.Printf("  %-44s %9s %9s %9s\n", "  bridged (this: devices, bridge, component)", per(bridgedCPU[0]), per(bridgedCPU[1]), per(bridgedCPU[2]))
		}
		lo, med, hi := spread(ratios)
		fmt.Printf("  %-44s %9.2f %9.2f %9.2f   (goal >= 0.90)\n", "ratio bridged/floor, per round", med, lo, hi)
		fmt.Printf("  %-44s %9.2f   (%d stanzas each way)\n", "ratio over all rounds", floorTotal.Seconds()/bridgedTotal.Seconds(), rounds*devices)
		return nil
	}
	// Rounds alternate: every device goes offline, then online, and so
	// on. In each round the floor comes first: the component connection
	// pushes the very stanzas the bridge sends for that change itself, as
	// fast as it can, 256 per write (the bridge's largest batch); then
	// the bridged run: every device's LWT flips through mosquitto and the
	// subscriber counts the presence that reaches it. A second subscriber
	// of the bridge's events times the MQTT side alone.
	//
	// Twice: first with Prosody on a CPU of its own and everything else
	// (load generator, mosquitto, bridge, subscriber) sharing the other
	// CPUs, so that both phases give the server the same CPU and the
	// ratio shows what the bridge costs the stream it feeds; then with
	// every process placed by the kernel, where on a small machine the
	// broker and the load generator also take CPU from the server.
	if !pinnable() {
		fmt.Println("== one CPU: no measurement with Prosody on a CPU of its own ==")
	} else if err := placeCPUs(true, p.Pid(), m.Pid()); err != nil {
		fmt.Printf("== CPU placement not possible here (%v): no measurement with Prosody on a CPU of its own ==\n", err)
		_ = placeCPUs(false, p.Pid(), m.Pid())
	} else {
		err := measure("Prosody on CPU 0 alone, the rest on the other CPUs")
		if perr := placeCPUs(false, p.Pid(), m.Pid()); err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
	}
	if err := measure("every process on every CPU"); err != nil {
		return err
	}
	if !state {
		// Leave every device online for the readouts.
		if err := publishAll(func(i int) string { return "plain/" + devID(i) + "/LWT" }, "Online"); err != nil {
			return err
		}
	}

	// Readout vs ping of one bridged device.
	to := devID(0) + "@" + p.ComponentDomain
	if err := waitUntil(time.Minute, func() bool { d, _ := b.Device(devID(0)); return d.Available }); err != nil {
		return err
	}
	var pings, reads []time.Duration
	for i := range n + n/10 {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := xmpp.Ping(cctx, cli, to)
		if err != nil {
			cancel()
			return fmt.Errorf("ping: %w", err)
		}
		t0 := time.Now()
		res, err := sd.Read(cctx, cli, to, sensordata.Request{})
		rd := time.Since(t0)
		cancel()
		if err != nil || res.Err() != nil || len(res.Fields) != 1 {
			return fmt.Errorf("readout: %v %v %v", res.Fields, err, res.Err())
		}
		if i >= n/10 {
			pings, reads = append(pings, d), append(reads, rd)
		}
	}
	rp50, rp90, rp99 := pct(reads)
	pp50, pp90, pp99 := pct(pings)
	fmt.Printf("== XEP-0323 readout of a bridged device vs XEP-0199 ping of its JID, %d each, alternating ==\n", n)
	fmt.Printf("  %-28s %10s %10s %10s\n", "", "p50", "p90", "p99")
	fmt.Printf("  %-28s %10v %10v %10v\n", "readout through Prosody", rp50, rp90, rp99)
	fmt.Printf("  %-28s %10v %10v %10v\n", "ping through Prosody", pp50, pp90, pp99)
	fmt.Printf("  %-28s %10.2f %10.2f %10.2f   (goal p50 <= 1.20)\n", "ratio readout/ping", ratio(rp50, pp50), ratio(rp90, pp90), ratio(rp99, pp99))
	return nil
}

func waitUntil(d time.Duration, cond func() bool) error {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return fmt.Errorf("timed out after %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func pct(d []time.Duration) (p50, p90, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond) }
	return at(0.50), at(0.90), at(0.99)
}

// spread returns the lowest, median and highest of v.
func spread(v []float64) (lo, med, hi float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[0], s[len(s)/2], s[len(s)-1]
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
