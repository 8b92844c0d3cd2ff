package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/boards"
	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/metrics"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
	"github.com/xiot/xiot/sensors/pep"
	"github.com/xiot/xiot/sensors/sensordata"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

const agentUsage = `Usage: xiot agent [flags]

Runs the device daemon: logs in to the XMPP server as the device account,
keeps the session up (XEP-0198 stream management, reconnection with
back-off), announces presence with entity capabilities, accepts presence
subscriptions from the configured owners, and answers service discovery
(XEP-0030), ping (XEP-0199), software version (XEP-0092) and sensor data
readouts (XEP-0323) from the configured sensors, or from every part of the
simulated board with --board sim. Samples are recorded in a history store
in the state directory (state_dir, --state-dir) for historical readouts.
SIGHUP reloads the configuration: a file that does not load is refused
with an error and the running configuration stays. The log level, the
owners and the presence priority apply at once, the sensors, history and
push sections restart the sensor services, and any other change restarts
the agent in the process with the new configuration (back to the running
one if it does not start). Outputs keep their state across a reload unless
the board, the outputs or state_dir changed.

Outputs (relays, PWM, setpoints; the simulated thermostat with --board sim)
are controlled with XEP-0325 under their safety rules: failsafe values at
boot, on shutdown and after a grace period offline, bounds, minimum on/off
times, switch rate limits, timed overrides, and an audit log.

With provisioning.registry set, the agent registers in that XEP-0347
thing registry with the provisioning.meta tags and a random KEY (kept in
state_dir/registration.json) and logs its claim text until claimed; once
claimed, changed provisioning.meta tags are sent as an update at the next
start or reload. The provisioning server's decisions (XEP-0324) are kept
in state_dir/provisioning-cache.xml, so that cached grants hold across a
restart while the server is unreachable. --unregister removes the device
from the registry, deletes its KEY and cache, and exits.

The account comes from --config and/or the flags below. SIGINT or SIGTERM
sends unavailable presence and closes the stream.

Examples:
  xiot agent --config /etc/xiot/xiot.yaml
  xiot agent --board sim --jid device@example.org/agent --password-file pass.txt
  xiot agent --config xiot.yaml --list-hardware
  xiot agent --config xiot.yaml --check-config
  xiot agent --config xiot.yaml --unregister
`

// runAgent implements "xiot agent".
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", agentUsage)
	var acct accountFlags
	acct.register(fs)
	check := fs.Bool("check-config", false, "check the configuration (file, flags, password and CA files) and exit")
	listHW := fs.Bool("list-hardware", false, "print the board, buses and pins the agent would use, and exit")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on `host:port` (overrides metrics.listen)")
	unregister := fs.Bool("unregister", false, "unregister the device from the thing registry (provisioning.registry), delete its KEY, and exit")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	// load reads the file and applies the flags; SIGHUP calls it again.
	load := func() (*config.Config, error) {
		cfg := config.Default()
		if acct.config != "" {
			var err error
			if cfg, err = config.Load(acct.config); err != nil {
				return nil, err
			}
		}
		if err := cfg.ApplyFlags(acct.o); err != nil {
			return nil, err
		}
		if *metricsAddr != "" {
			cfg.Metrics.Listen = *metricsAddr
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	board, err := openBoard(cfg.Board)
	if err != nil {
		return err
	}
	if *listHW {
		_, err := fmt.Fprint(stdout, board.report)
		return err
	}
	if err := cfg.Preflight(); err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "xiot agent: warning: "+w)
	}
	if *check {
		_, err := fmt.Fprintln(stdout, "configuration ok")
		return err
	}
	if *unregister {
		return unregisterAgent(ctx, &acct, cfg, stdout, stderr)
	}

	level := new(slog.LevelVar)
	level.Set(cfg.Log.SlogLevel())
	if acct.verbose {
		level.Set(slog.LevelDebug)
	}
	// One SIGHUP channel for the life of the process, so that a signal
	// between two generations waits for the next one instead of ending
	// the process (SIGHUP's default action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	g := &generation{
		stderr: stderr, level: level, fixedLevel: acct.verbose, hup: hup,
		load: func() (*config.Config, error) {
			next, err := load()
			if err == nil {
				err = next.Preflight()
			}
			return next, err
		},
	}
	log := cfg.Log.NewLoggerLevel(stderr, level)
	// Outputs first: their boot (failsafe) values are applied before the
	// device goes online. They live across reloads that leave the board,
	// the outputs and the state directory alone.
	hw, err := openAgentHardware(ctx, board, cfg, log)
	if err != nil {
		return err
	}
	defer func() { hw.close() }()

	var prev *config.Config // the configuration to go back to if cfg fails to start
	for {
		next, err := g.run(ctx, cfg, hw)
		log = cfg.Log.NewLoggerLevel(stderr, level)
		switch {
		case next != nil:
			// A reload asked for a new generation with next.
			if hardwareChanged(cfg, next) {
				log.Warn("reload: board, outputs or state_dir changed: outputs go to their failsafe values and start again")
				hw.close()
				nb, err := openBoard(next.Board)
				var nhw *agentHardware
				if err == nil {
					nhw, err = openAgentHardware(ctx, nb, next, next.Log.NewLoggerLevel(stderr, level))
				}
				if err != nil {
					log.Error("configuration reload refused: the new board or outputs did not open; the running configuration stays", "err", err)
					if nhw, err = openAgentHardware(ctx, hw.board, cfg, log); err != nil {
						return fmt.Errorf("outputs could not be opened again with the running configuration: %w", err)
					}
					hw = nhw
					continue
				}
				hw = nhw
			}
			prev, cfg = cfg, next
		case err != nil && prev != nil && ctx.Err() == nil:
			// The reloaded configuration did not start: back to the one
			// that ran.
			log.Error("configuration reload refused: the agent did not start with it; the running configuration comes back", "err", err)
			if hardwareChanged(cfg, prev) {
				hw.close()
				pb, err := openBoard(prev.Board)
				var nhw *agentHardware
				if err == nil {
					nhw, err = openAgentHardware(ctx, pb, prev, log)
				}
				if err != nil {
					return fmt.Errorf("outputs could not be opened again with the previous configuration: %w", err)
				}
				hw = nhw
			}
			cfg, prev = prev, nil
		default:
			log.Info("xiot agent stopped")
			return err
		}
	}
}

// generation runs the agent for one configuration: the XMPP session and
// everything served over it (readouts, control, provisioning, registry,
// metrics). A reload that changes more than the live settings ends the
// generation and starts the next one with the new configuration.
type generation struct {
	stderr     io.Writer
	level      *slog.LevelVar
	fixedLevel bool // --verbose keeps debug across reloads
	hup        <-chan os.Signal
	load       func() (*config.Config, error)
}

// agentNamespaces returns the application namespaces the agent speaks
// (xmpp.EXIConfig.Namespaces): sensor data, control and ping. Discovery,
// roster, provisioning and PEP have no schema in the set and go without.
func agentNamespaces() []string {
	return []string{sensordata.NS, iotcontrol.NS, xmpp.NSPing}
}

// run serves cfg until ctx ends (nil, Run's error) or a reload asks for a
// new generation (the new configuration, nil). An error before the
// session starts is returned with a nil configuration.
func (g *generation) run(ctx context.Context, cfg *config.Config, hw *agentHardware) (*config.Config, error) {
	log := cfg.Log.NewLoggerLevel(g.stderr, g.level)
	if !g.fixedLevel {
		g.level.Set(cfg.Log.SlogLevel())
	}
	board := hw.board
	xc, err := cfg.XMPPClient("", log)
	if err != nil {
		return nil, err
	}
	// What the agent speaks besides XMPP's core: a schema-informed EXI
	// proposal lists only these schemas (and what they import).
	xc.EXI.Namespaces = agentNamespaces()
	a, err := agent.New(agent.Options{
		Session:  xc,
		Priority: cfg.Account.Priority,
		Owners:   cfg.Account.Owners,
		Board:    board.report.Name(),
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		restartMu sync.Mutex
		restartTo *config.Config
	)
	rl := &reloader{cur: cfg, level: g.level, fixedLevel: g.fixedLevel, agent: a, log: log, load: g.load,
		restart: func(next *config.Config) {
			restartMu.Lock()
			restartTo = next
			restartMu.Unlock()
			cancel()
		}}
	log.Info("xiot agent starting", "jid", xc.JID.String(), "board", board.report.Name(), "server", serverOrSRV(xc.Server))
	if !board.report.Hardware() && board.sim == nil {
		log.Warn("no sensor hardware: the agent runs with XMPP features only; use --board sim (or board: sim) for a simulated board",
			"board", cfg.Board)
	}

	var m *metrics.Metrics
	readoutOpts := sensordata.Options{}
	controlOpts := iotcontrol.ServerOptions{Title: "xiot agent (" + board.report.Name() + ")", Logger: log}
	if cfg.Metrics.Listen != "" {
		m = metrics.New(a.Session(), a.Online)
		readoutOpts.OnDone = m.Readout
		controlOpts.OnSet = m.Set
	}

	var canRead sensordata.Authorizer
	var canControl iotcontrol.Authorizer
	pcfg := cfg.Provisioning
	if pcfg.Server.Domainpart() == "" && pcfg.Registry.Domainpart() != "" {
		// XEP-0347: the registry a device is claimed in provisions it.
		pcfg.Server = pcfg.Registry
	}
	if reg := pcfg.Registry; reg.Domainpart() != "" {
		tags, err := agent.ParseTags(pcfg.Meta)
		if err != nil {
			return nil, err
		}
		r, err := a.RegisterWithRegistry(agent.RegistrationOptions{
			Registry: reg, Tags: tags, SelfOwned: pcfg.SelfOwned,
			StateFile: filepath.Join(cfg.StateDir, agentRegistrationFile),
			OnClaimed: func(ctx context.Context, owner jid.JID) {
				a.SetOwners(slices.Concat(cfg.Account.Owners, []jid.JID{owner}))
				a.Befriend(ctx, owner)
			},
		})
		if err != nil {
			return nil, err
		}
		if o, ok := r.Owner(); ok {
			a.SetOwners(slices.Concat(cfg.Account.Owners, []jid.JID{o}))
			log.Info("registry: claimed", "owner", o.String(), "registry", reg.String())
		}
	}
	if srv := pcfg.Server; srv.Domainpart() != "" {
		var cache *thing.CacheFile
		prov := provisioning.New(a.Session(), srv, provisioning.Options{
			Timeout: pcfg.Timeout, OnFriend: a.Befriend, OnUnfriend: a.Unfriend, Logger: log,
			OnClearCache: func(context.Context) {
				if err := cache.Save(); err != nil {
					log.Warn("provisioning: decision cache not saved", "err", err)
				}
			},
		})
		// The decisions survive a restart: with the server unreachable,
		// the grants cached before still hold.
		cache = thing.OpenCache(prov, filepath.Join(cfg.StateDir, agentCacheFile), log)
		cacheDone := make(chan struct{})
		go func() { defer close(cacheDone); cache.Run(gctx, 0) }()
		defer func() { cancel(); <-cacheDone }()
		canRead, canControl = a.Provision(prov)
		log.Info("provisioning: trust decisions delegated", "server", srv.String())
	}

	ctl := hw.ctl
	if ctl != nil {
		a.OnOnline(func(context.Context, bool) { ctl.Online() })
		a.OnOffline(func(error) { ctl.Offline() })
		controlOpts.CanControl = canControl
		srv := iotcontrol.NewServer(ctl, controlOpts)
		srv.Register(a.Mux())
		a.AddFeatures(srv.Features()...)
		log.Info("control", "parameters", len(ctl.Params()), "nodes", strings.Join(ctl.Nodes(), ","))
	}
	if m != nil {
		addr, err := m.Serve(gctx, cfg.Metrics.Listen)
		if err != nil {
			return nil, err
		}
		defer m.Wait()
		log.Info("metrics endpoint", "url", "http://"+addr.String()+"/metrics")
	}
	readoutOpts.CanRead = canRead
	deps := sensorDeps{a: a, board: board, ctl: ctl, m: m, opts: readoutOpts, log: log}
	var stackMu sync.Mutex
	stack, err := startSensors(gctx, cfg, deps)
	if err != nil {
		return nil, err
	}
	defer func() {
		stackMu.Lock()
		stack.close()
		stackMu.Unlock()
	}()
	rl.applySensors = func(cur, next *config.Config) error {
		stackMu.Lock()
		defer stackMu.Unlock()
		stack.close()
		ns, err := startSensors(gctx, next, deps)
		if err == nil {
			stack = ns
			return nil
		}
		// Back to the running configuration's sensors.
		if old, err2 := startSensors(gctx, cur, deps); err2 == nil {
			stack = old
		} else {
			log.Error("sensors could not be restarted with the running configuration either", "err", err2)
			stack = &sensorStack{}
		}
		return err
	}

	watched := make(chan struct{})
	go func() { defer close(watched); rl.watch(gctx, g.hup) }()
	defer func() { <-watched }()

	err = a.Run(gctx)
	cancel() // Run may end on its own (authentication refused): stop the rest
	restartMu.Lock()
	next := restartTo
	restartMu.Unlock()
	if next != nil && ctx.Err() == nil {
		log.Info("xiot agent restarting with the new configuration")
		return next, nil
	}
	return nil, err
}

// agentHardware is the board and its outputs, which outlive a generation.
type agentHardware struct {
	board *hardware
	ctl   *control.Controller // nil without outputs
	stop  context.CancelFunc
	log   *slog.Logger
}

// openAgentHardware opens the outputs of cfg on board and starts their
// controller.
func openAgentHardware(ctx context.Context, board *hardware, cfg *config.Config, log *slog.Logger) (*agentHardware, error) {
	ctl, err := board.openControl(cfg, log)
	if err != nil {
		return nil, err
	}
	hw := &agentHardware{board: board, ctl: ctl, log: log, stop: func() {}}
	if ctl != nil {
		cctx, stop := context.WithCancel(ctx)
		hw.stop = stop
		go func() { _ = ctl.Run(cctx) }()
	}
	return hw, nil
}

// close applies the outputs' shutdown (failsafe) values; it may be called
// more than once.
func (hw *agentHardware) close() {
	hw.stop()
	if hw.ctl != nil {
		if err := hw.ctl.Shutdown(); err != nil {
			hw.log.Error("control shutdown", "err", err)
		}
		hw.ctl = nil
	}
}

// hardwareChanged reports whether going from cur to next needs the board
// and the outputs opened again.
func hardwareChanged(cur, next *config.Config) bool {
	return cur.Board != next.Board || cur.StateDir != next.StateDir || !reflect.DeepEqual(cur.Outputs, next.Outputs)
}

// sensorDeps are what the sensor services are built with; they do not
// change on a reload.
type sensorDeps struct {
	a     *agent.Agent
	board *hardware
	ctl   *control.Controller
	m     *metrics.Metrics
	opts  sensordata.Options
	log   *slog.Logger
}

// sensorStack serves the configured sensors: the drivers, the history
// store and its recorder, push on change, and the XEP-0323 server. A
// configuration reload replaces it as a whole.
type sensorStack struct {
	ss       []sensors.Sensor
	store    *history.Store
	readouts *sensordata.Server
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// startSensors opens the sensors of cfg and starts serving them.
func startSensors(ctx context.Context, cfg *config.Config, d sensorDeps) (*sensorStack, error) {
	ss, err := d.board.sensors(cfg, d.ctl != nil)
	if err != nil {
		return nil, err
	}
	if d.ctl != nil {
		// Parameters are readable too, as writable fields (XEP-0325 §3.1).
		ss = append(ss, d.ctl.Sensors()...)
	}
	if d.m != nil {
		for i, s := range ss {
			ss[i] = d.m.Observe(s)
		}
	}
	st := &sensorStack{ss: ss}
	store, err := openHistory(cfg, d.log)
	if err != nil {
		st.close()
		return nil, err
	}
	st.store = store
	rctx, stop := context.WithCancel(ctx)
	st.stop = stop
	log := d.log
	if store != nil {
		rec := &history.Recorder{Store: store, Sensors: ss, Default: time.Minute, Log: log}
		st.wg.Add(1)
		go func() { defer st.wg.Done(); _ = rec.Run(rctx) }()
	}
	if cfg.Push.Enabled {
		pub := pep.NewPublisher(d.a.Session(), pushOptions(cfg.Push))
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			select {
			case <-d.a.Session().Online():
			case <-rctx.Done():
				return
			}
			log.Info("push: publishing readings on change", "node", pep.NodeName, "interval", cfg.Push.Interval, "access_model", cfg.Push.AccessModel)
			pub.Poll(rctx, ss, cfg.Push.Interval, func(err error) { log.Warn("push", "err", err) })
		}()
	}
	// Registering again replaces the previous server's handlers.
	st.readouts = d.a.ServeSensors(ss, store, d.opts)
	names := make([]string, 0, len(ss))
	for _, s := range ss {
		names = append(names, s.Node())
	}
	log.Info("sensors", "nodes", strings.Join(names, ","), "history", store != nil, "push", cfg.Push.Enabled)
	return st, nil
}

// close stops the stack's goroutines, its readout server and store, and
// halts its sensors.
func (st *sensorStack) close() {
	if st.stop != nil {
		st.stop()
	}
	st.wg.Wait()
	if st.readouts != nil {
		_ = st.readouts.Close()
	}
	if st.store != nil {
		_ = st.store.Close()
	}
	for _, s := range st.ss {
		_ = s.Halt()
	}
	st.ss, st.store, st.readouts, st.stop = nil, nil, nil, nil
}

// pushOptions maps the push section to the publisher's rules.
func pushOptions(p config.Push) pep.Options {
	rule := func(r config.PushRule) pep.Rule {
		return pep.Rule{Threshold: r.Threshold, MinInterval: r.MinInterval, MaxInterval: r.MaxInterval}
	}
	opts := pep.Options{Default: rule(p.Default), AccessModel: p.AccessModel, Rules: map[string]pep.Rule{}}
	for k, r := range p.Fields {
		opts.Rules[k] = rule(r)
	}
	return opts
}

// openHistory opens the history store in the state directory. An
// unusable state directory leaves the agent without history (historical
// readouts then fail) rather than without sensors.
func openHistory(cfg *config.Config, log *slog.Logger) (*history.Store, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		log.Warn("no history: state directory unusable; set state_dir or --state-dir", "state_dir", cfg.StateDir, "err", err)
		return nil, nil
	}
	store, err := history.Open(filepath.Join(cfg.StateDir, "history.db"), history.Options{MaxAge: cfg.History.MaxAge, MaxBytes: cfg.History.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	return store, nil
}

func serverOrSRV(s string) string {
	if s == "" {
		return "DNS SRV"
	}
	return s
}

// hardware is the board the agent runs on.
type hardware struct {
	report *boards.Report
	sim    *sim.Board            // nil unless simulated
	host   *sensors.HostHardware // periph's buses on a real board
}

// openBoard opens the configured board: periph's detection, the simulated
// board, or none.
func openBoard(kind string) (*hardware, error) {
	switch kind {
	case config.BoardSim:
		b := sim.New(time.Now)
		return &hardware{report: boards.SimReport(b), sim: b}, nil
	case config.BoardNone:
		return &hardware{report: &boards.Report{Family: boards.NoHardware}}, nil
	default:
		r, err := boards.Detect()
		if err != nil {
			return nil, err
		}
		return &hardware{report: r, host: &sensors.HostHardware{}}, nil
	}
}

// sensors opens the configured sensors on the board. The simulated board
// without a sensors section serves all of its own parts.
func (h *hardware) sensors(cfg *config.Config, controlled bool) ([]sensors.Sensor, error) {
	switch {
	case h.sim != nil && len(cfg.Sensors) == 0:
		ss, err := sensors.Open(sim.SensorConfig(), h.sim, nil)
		if err != nil {
			return nil, err
		}
		if !controlled {
			// Without control, the relay and setpoint are status fields.
			ss = append(ss, h.sim.Thermostat())
		}
		return ss, nil
	case h.sim != nil:
		return sensors.Open(cfg.Sensors, h.sim, nil)
	case len(cfg.Sensors) == 0:
		return nil, nil
	case !h.report.Hardware():
		return nil, fmt.Errorf("the configuration declares %d sensors but no hardware was found (board %q); use board: sim to try them on the simulated board", len(cfg.Sensors), cfg.Board)
	default:
		return sensors.Open(cfg.Sensors, h.host, nil)
	}
}

// controlPins finds the pins of outputs: board GPIOs by name, and channels
// of I²C expanders (pca9685@0x40:3) on the default bus, opened on first
// use.
func (h *hardware) controlPins() control.PinFunc {
	if h.sim != nil {
		return control.NewExpanders(h.sim.I2CBus(), h.sim.Pin).Pins()
	}
	board := control.BoardPins(gpioreg.ByName)
	var exp *control.Expanders
	return func(name string) (gpio.PinIO, error) {
		if !strings.Contains(name, "@") {
			return board(name)
		}
		if exp == nil {
			if h.host == nil {
				return nil, fmt.Errorf("output pin %q: no I²C bus on this board", name)
			}
			bus, err := h.host.I2C("")
			if err != nil {
				return nil, fmt.Errorf("output pin %q: %w", name, err)
			}
			exp = control.NewExpanders(bus, nil)
		}
		return exp.Lookup(name)
	}
}

// openControl builds the controller of the outputs section; on the
// simulated board without outputs, the thermostat's relay (driving the
// simulated heater) and setpoint. It returns nil without outputs.
func (h *hardware) openControl(cfg *config.Config, log *slog.Logger) (*control.Controller, error) {
	var hooks map[string]func(control.Value)
	if h.sim != nil && len(cfg.Outputs) == 0 {
		// A copy: the configuration itself keeps saying "no outputs", so
		// that a reload compares like with like.
		c := *cfg
		c.Outputs, hooks = control.SimConfig(h.sim)
		cfg = &c
	}
	if len(cfg.Outputs) == 0 {
		return nil, nil
	}
	if h.sim == nil && !h.report.Hardware() {
		for _, o := range cfg.Outputs {
			if o.Pin != "" {
				return nil, fmt.Errorf("output %s needs pin %s but no hardware was found (board %q); use board: sim to try outputs on the simulated board", o.Name, o.Pin, cfg.Board)
			}
		}
	}
	return control.FromConfig(cfg, h.controlPins(), hooks, log)
}
