//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/metrics"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors/history"
)

const concentratorUsage = `Usage: xiot concentrator --config FILE [flags]

Runs the MQTT concentrator: connects to the MQTT broker of the mqtt:
section (topic mappings, Homie discovery, retained state) and to the XMPP
server, in one of two modes:

  component mode (a component: section): as the XEP-0114 component of that
  section, giving every MQTT device its own JID, <device>@<component
  domain>, with presence, besides the concentrator's own JID (the domain);
  client mode (no component: section, for servers where no component can
  be added): logged in as the account: of the configuration (TLS verified,
  SCRAM, stream management, reconnects), one JID with no JID per device:
  the devices are nodes of that JID only (below), their availability is
  the node state; presence subscriptions to the account from
  account.owners are accepted, others refused. Provisioning needs device
  JIDs: client mode refuses a provisioning server or registry. Address
  the concentrator by its full JID (account@domain/resource).

The concentrator's own JID (the component domain, or the account) is a
XEP-0326 concentrator: data source MQTT holds the devices and their field
nodes, MQTTMappings the topic mappings, MQTTBrokers the broker
connections (mqtt.brokers, and further brokers created at run time; a
mapping created at run time names its broker); xiot nodes browses them;
XEP-0323 readouts and XEP-0325 sets name devices by nodeId (sourceId
MQTT), many in one request. Service discovery, ping (and in client mode
software version and entity capabilities) answer everybody.

In component mode, each device JID answers service discovery (XEP-0030),
ping, sensor data readouts (XEP-0323: momentary from the last retained or
received values, historical from state_dir/concentrator-history.db, which
records every value received, bounded by the history: section; the same
on the concentrator's JID by node) and control (XEP-0325: a set publishes
the device's command and succeeds only after its state echo).
Presence subscriptions from account.owners are accepted and kept in the
state directory; subscribers see each device available or unavailable as
its LWT, Homie $state or the broker connection says.

With provisioning.registry (or provisioning.server) set, each device is a
thing of its own under its own JID: it registers in the thing registry
with the provisioning.meta tags, its id as SN and a random KEY kept in
state_dir/concentrator-registrations, and the log prints the claim text of
each device for xiot claim (--claims lists them all); once claimed, the
owner becomes a friend of the device and the registry (or
provisioning.server) decides who else may subscribe, read and control
(XEP-0324), with a decision cache per device, kept in
state_dir/concentrator-provisioning so that cached grants hold across a
restart while the server is unreachable. Once a device is claimed, a
change of its tags (a new Homie $name) is sent to the registry as an
update. account.owners keep full access either way. On the concentrator's
own JID, a device's claimed owner (or whoever the provisioning server
allows) may read and set that device's nodes and browse its part of the
tree; editing the tree and topic mappings stays with account.owners.

--unregister ID removes a device from the registry and deletes its KEY and
decision cache (--unregister-all: every registered device); run it with
the concentrator stopped, once the device is no longer bridged (a device
still bridged registers again, with a new KEY, at the next start).

Device ids become JID localparts by XEP-0106 escaping and lower-casing:
"Kitchen Plug" is kitchen\20plug@<domain>.

SIGINT or SIGTERM sends unavailable presence for every device (client
mode: for the account) and closes the stream and the broker connection.

Examples:
  xiot concentrator --config /etc/xiot/concentrator.yaml
  xiot concentrator --config concentrator.yaml --state-dir ./state --verbose
  xiot concentrator --config concentrator.yaml --check-config
  xiot concentrator --config concentrator.yaml --claims
  xiot concentrator --config concentrator.yaml --unregister thermo1
`

// runConcentrator implements "xiot concentrator".
func runConcentrator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("concentrator", concentratorUsage)
	file := fs.String("config", "", "configuration `file` (YAML) with the mqtt: section and the component: section, or the account: for client mode (required)")
	stateDir := fs.String("state-dir", "", "`directory` for the subscription store and the devices' registrations (overrides state_dir)")
	verbose := fs.Bool("verbose", false, "log debug events to stderr")
	check := fs.Bool("check-config", false, "check the configuration (file, flags, secret files) and exit")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on `host:port` (overrides metrics.listen)")
	claims := fs.Bool("claims", false, "list each registered device's JID, owner (or \"unclaimed\") and claim text, and exit")
	unregister := fs.String("unregister", "", "unregister the device `id` from the thing registry, delete its KEY and decision cache, and exit (with the concentrator stopped)")
	unregisterAll := fs.Bool("unregister-all", false, "unregister every registered device, as --unregister, and exit")
	connectTimeout := fs.Duration("connect-timeout", 30*time.Second, "wait this long for the first broker connection before going on (the bridge keeps retrying)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		return usagef(fs, "--config is required")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if err := cfg.ApplyFlags(config.Overrides{StateDir: *stateDir}); err != nil {
		return err
	}
	if !cfg.MQTT.Enabled() {
		return fmt.Errorf("%s: mqtt.brokers is empty: the concentrator needs an MQTT broker", *file)
	}
	// An empty component section selects client mode: the account of the
	// account section, devices as nodes of its one JID.
	clientMode := !cfg.Component.Enabled()
	if clientMode && cfg.Account.JID.Localpart() == "" {
		return fmt.Errorf("%s: neither a component section (component.domain, component.server, component.secret_file: each device gets a JID) nor an account for client mode (account.jid user@domain, account.password_file: devices as nodes of that JID)", *file)
	}
	if err := cfg.Preflight(); err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "xiot concentrator: warning: "+w)
	}
	if *check {
		_, err := fmt.Fprintln(stdout, "configuration ok")
		return err
	}
	if *claims {
		return printClaims(stdout, cfg.StateDir)
	}
	if *unregister != "" || *unregisterAll {
		if *unregister != "" && *unregisterAll {
			return usagef(fs, "--unregister and --unregister-all exclude each other")
		}
		return unregisterDevices(ctx, cfg, *unregister, stdout, stderr, *verbose)
	}

	log := cfg.Log.NewLogger(stderr)
	if *verbose {
		log = config.Log{Level: "debug", Format: cfg.Log.Format}.NewLogger(stderr)
	}
	var xc xmpp.Config
	if clientMode {
		xc, err = cfg.XMPPClient("", log)
		xc.EXI.Namespaces = append(agentNamespaces(), component.NSConcentrators)
	} else {
		xc, err = cfg.XMPPComponent(log)
	}
	if err != nil {
		return err
	}
	b, err := mqttbridge.New(cfg.MQTT, mqttbridge.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := b.Close(); err != nil {
			log.Error("closing the MQTT bridge", "err", err)
		}
	}()
	if len(cfg.Account.Owners) == 0 && cfg.Provisioning.Server.Domainpart() == "" && cfg.Provisioning.Registry.Domainpart() == "" {
		log.Warn("no account.owners: every presence subscription, readout and set will be refused")
	}
	mode := "component"
	if clientMode {
		mode = "client"
	}
	log.Info("xiot concentrator starting", "mode", mode, "jid", xc.JID.String(), "xmpp", xc.Server,
		"brokers", strings.Join(cfg.MQTT.Brokers, ","), "mappings", len(cfg.MQTT.Mappings),
		"homie", cfg.MQTT.Homie.Enabled, "owners", len(cfg.Account.Owners), "state_dir", cfg.StateDir)
	sctx, cancel := context.WithTimeout(ctx, *connectTimeout)
	err = b.Start(sctx)
	cancel()
	switch {
	case err == nil:
		log.Info("MQTT broker connected", "devices", len(b.Devices()))
	case ctx.Err() != nil:
		return nil
	case sctx.Err() != nil:
		log.Warn("MQTT broker not reachable yet; the bridge keeps trying, devices are unavailable until then", "err", err)
	default:
		return err
	}
	prov, err := concentratorProvisioning(cfg)
	if err != nil {
		return err
	}
	hist, err := openConcentratorHistory(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = hist.Close() }()
	c, err := component.New(component.Options{
		Session: xc, Bridge: b, Owners: cfg.Account.Owners, StateDir: cfg.StateDir, Provisioning: prov, Logger: log,
		History: hist,
	})
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		cfg.Metrics.Listen = *metricsAddr
	}
	if cfg.Metrics.Listen != "" {
		m := metrics.New(c.Session(), func() bool {
			select {
			case <-c.Online():
				return true
			default:
				return false
			}
		})
		stat := func(name string, f func(mqttbridge.Stats) uint64) {
			m.Func(name, func() float64 { return float64(f(b.Stats())) })
		}
		stat("xiot_mqtt_messages_total", func(s mqttbridge.Stats) uint64 { return s.Messages })
		stat("xiot_mqtt_fields_decoded_total", func(s mqttbridge.Stats) uint64 { return s.Decoded })
		stat("xiot_mqtt_decode_errors_total", func(s mqttbridge.Stats) uint64 { return s.DecodeErrors })
		stat("xiot_mqtt_oversize_total", func(s mqttbridge.Stats) uint64 { return s.Oversize })
		stat("xiot_mqtt_unmatched_total", func(s mqttbridge.Stats) uint64 { return s.Unmatched })
		stat("xiot_mqtt_connects_total", func(s mqttbridge.Stats) uint64 { return s.Connects })
		stat("xiot_mqtt_commands_total", func(s mqttbridge.Stats) uint64 { return s.Commands })
		stat("xiot_mqtt_command_errors_total", func(s mqttbridge.Stats) uint64 { return s.CommandErrors })
		stat("xiot_mqtt_device_conflicts_total", func(s mqttbridge.Stats) uint64 { return s.DeviceConflicts })
		m.Func("xiot_mqtt_devices", func() float64 { return float64(len(b.Devices())) })
		m.Func("xiot_mqtt_brokers", func() float64 { return float64(len(b.Brokers())) })
		m.Func("xiot_mqtt_brokers_connected", func() float64 {
			n := 0
			for _, br := range b.Brokers() {
				if br.Connected {
					n++
				}
			}
			return float64(n)
		})
		addr, err := m.Serve(ctx, cfg.Metrics.Listen)
		if err != nil {
			return err
		}
		log.Info("metrics endpoint", "url", "http://"+addr.String()+"/metrics")
	}
	go func() {
		select {
		case <-c.Online():
			if clientMode {
				log.Info("XMPP client online: devices are nodes of this JID", "jid", c.Session().LocalJID().String(), "devices", len(b.Devices()))
			} else {
				log.Info("XMPP component online", "domain", c.Domain(), "devices", len(b.Devices()))
			}
		case <-ctx.Done():
		}
	}()
	err = c.Run(ctx)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		s := b.Stats()
		log.Info("xiot concentrator stopped", "messages", s.Messages, "decode_errors", s.DecodeErrors,
			"commands", s.Commands, "command_errors", s.CommandErrors)
		return nil
	}
	return fmt.Errorf("concentrator: XMPP %s %s: %w", mode, c.Domain(), err)
}

// concentratorProvisioning returns the XEP-0324/0347 options of the
// provisioning section, or nil when it names neither server nor registry.
func concentratorProvisioning(cfg *config.Config) (*component.Provisioning, error) {
	pc := cfg.Provisioning
	if pc.Server.Domainpart() == "" && pc.Registry.Domainpart() == "" {
		return nil, nil
	}
	tags, err := thing.ParseTags(pc.Meta)
	if err != nil {
		return nil, err
	}
	return &component.Provisioning{Server: pc.Server, Registry: pc.Registry, Tags: tags, SelfOwned: pc.SelfOwned, Timeout: pc.Timeout}, nil
}

// printClaims writes one line per registered device: JID, owner and
// claim text, tab-separated.
func printClaims(w io.Writer, stateDir string) error {
	cs, err := component.Claims(stateDir)
	for _, c := range cs {
		owner := c.Owner
		switch {
		case c.Removed:
			owner = "removed"
		case owner == "":
			owner = "unclaimed"
		}
		if _, werr := fmt.Fprintf(w, "%s\t%s\t%s\n", c.JID, owner, c.Text); werr != nil {
			return werr
		}
	}
	return err
}

// openConcentratorHistory opens the store of the bridged devices' values
// (state_dir/concentrator-history.db, bounded by the history section) for
// their historical readouts.
func openConcentratorHistory(cfg *config.Config) (*history.Store, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state directory for the history store (state_dir, --state-dir): %w", err)
	}
	h, err := history.Open(filepath.Join(cfg.StateDir, "concentrator-history.db"), history.Options{MaxAge: cfg.History.MaxAge, MaxBytes: cfg.History.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	return h, nil
}
