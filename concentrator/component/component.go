package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/history"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Options configure a Component.
type Options struct {
	// Session is the XEP-0114 session configuration (Component true, JID
	// the component domain), e.g. from config.Config.XMPPComponent; or,
	// for client mode, a client account (Component false, a JID with a
	// localpart), e.g. from config.Config.XMPPClient: see "Client mode"
	// in the package documentation.
	Session xmpp.Config
	// Bridge is the MQTT side; the Component does not start or close it.
	Bridge *mqttbridge.Bridge
	// Owners are the bare JIDs whose presence subscriptions to devices
	// (in client mode: to the account) are accepted; everybody else is
	// refused.
	Owners []jid.JID
	// StateDir holds the subscription store (SubscriptionsFile); ""
	// keeps subscriptions in memory only.
	StateDir string
	// ReadTimeout bounds the readout of one node; default 5 s.
	ReadTimeout time.Duration
	// SetTimeout bounds one XEP-0325 set, echo included, on top of the
	// bridge's own command timeout; default 1 min.
	SetTimeout time.Duration
	// MaxSets bounds the sets waiting for their echo at once; default 64.
	MaxSets int
	// Provisioning, when set, delegates the devices' trust decisions to a
	// XEP-0324 provisioning server and registers them in a XEP-0347 thing
	// registry (see Provisioning); nil keeps the owners-only rule. Client
	// mode has no device JIDs to register: it refuses Provisioning.
	Provisioning *Provisioning
	// History, when set, records every value the bridge receives and
	// serves the devices' historical readouts (XEP-0323) from it; the
	// Component neither opens nor closes it. Nil: no historical readouts.
	History *history.Store
	// Logger receives component events; nil discards them.
	Logger *slog.Logger
}

// Component is the XEP-0114 component that gives every bridged MQTT device
// a JID. Create it with New and run it with Run.
type Component struct {
	opts    Options
	b       *mqttbridge.Bridge
	log     *slog.Logger
	domain  string
	owners  map[string]bool
	subs    *store
	sess    *xmpp.Session
	root    *xmpp.Mux
	devMux  *xmpp.Mux // shared by every device JID
	unknown *xmpp.Mux
	prov    *provisioner  // nil without provisioning
	sets    chan struct{} // one token per set in progress
	onlineC chan struct{} // a session came online: resend presence
	tree    *tree         // XEP-0326 state of the component's own JID
	agent   *agent.Agent  // client mode: the account's presence, roster, caps, disco; nil for a component

	mu      sync.Mutex
	byLocal map[string]*device // localpart → device
	byID    map[string]*device // device id → device
	sent    map[string]bool    // device id → availability last sent to subscribers
	refused map[string]bool    // device ids whose localpart another device holds
	synced  time.Time          // last registry scan for an unknown localpart
}

// device is the XMPP face of one bridged device.
type device struct {
	c     *Component
	id    string
	local string
	jid   string

	mu     sync.Mutex
	nodes  []string // readout nodes of reader
	reader *readServer
}

// New returns a component for opts. It loads the subscription store but
// does not connect: call Run.
func New(opts Options) (*Component, error) {
	if opts.Bridge == nil {
		return nil, errors.New("component: no MQTT bridge")
	}
	client := !opts.Session.Component
	switch {
	case client && (opts.Session.JID.Localpart() == "" || opts.Session.JID.Domainpart() == ""):
		return nil, fmt.Errorf("component: client mode needs an account JID (user@domain), not %q", opts.Session.JID)
	case client && opts.Provisioning != nil:
		return nil, errors.New("component: provisioning needs a JID per device, which client mode has not: run as a XEP-0114 component, or without provisioning (owners only)")
	case !client && (opts.Session.JID.Domainpart() == "" || opts.Session.JID.Localpart() != ""):
		return nil, fmt.Errorf("component: session %q is not a component domain", opts.Session.JID)
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 5 * time.Second
	}
	if opts.SetTimeout <= 0 {
		opts.SetTimeout = time.Minute
	}
	if opts.MaxSets <= 0 {
		opts.MaxSets = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	path := ""
	if opts.StateDir != "" && !client {
		path = filepath.Join(opts.StateDir, SubscriptionsFile)
	}
	subs, err := openStore(path)
	if err != nil {
		return nil, err
	}
	domain := opts.Session.JID.Domainpart()
	if client {
		domain = opts.Session.JID.Bare().String()
	}
	c := &Component{
		opts: opts, b: opts.Bridge, log: opts.Logger, domain: domain,
		owners: map[string]bool{}, subs: subs, root: &xmpp.Mux{}, devMux: &xmpp.Mux{}, unknown: &xmpp.Mux{},
		sets: make(chan struct{}, opts.MaxSets), onlineC: make(chan struct{}, 1),
		byLocal: map[string]*device{}, byID: map[string]*device{}, sent: map[string]bool{}, refused: map[string]bool{},
	}
	for _, o := range opts.Owners {
		c.owners[o.Bare().String()] = true
	}
	if c.tree, err = newTree(c); err != nil {
		return nil, err
	}
	if c.prov, err = newProvisioner(c, opts.Provisioning, opts.StateDir); err != nil {
		return nil, err
	}
	sc := opts.Session
	online := sc.OnOnline
	sc.OnOnline = func(ctx context.Context, resumed bool) {
		if !resumed {
			// XEP-0326: event subscriptions end when the concentrator
			// goes offline.
			c.tree.events.reset()
		}
		select {
		case c.onlineC <- struct{}{}:
		default:
		}
		if online != nil {
			online(ctx, resumed)
		}
	}
	if client {
		// The agent keeps the account online: initial presence with
		// entity capabilities, roster, subscriptions from the owners,
		// disco#info, ping and software version.
		a, err := agent.New(agent.Options{Session: sc, Owners: opts.Owners, Board: "MQTT concentrator", Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("component: client mode: %w", err)
		}
		c.agent, c.root, c.sess = a, a.Mux(), a.Session()
		a.AddFeatures(NSConcentrators, sensordata.NS, iotcontrol.NS)
		c.setupRoot()
		return c, nil
	}
	c.setupRoot()
	c.setupDevices()
	if c.prov != nil {
		c.prov.setup(c.devMux)
	}
	c.unknown.Presence(xmpp.HandlerFunc(c.handleUnknownPresence))
	c.root.Route(c.route)
	c.sess = xmpp.New(sc, c.root)
	return c, nil
}

// Domain returns the component domain, or in client mode the account's
// bare JID.
func (c *Component) Domain() string { return c.domain }

// ClientMode reports whether the concentrator runs on a client account
// (devices as nodes of its JID only) rather than as a component.
func (c *Component) ClientMode() bool { return c.agent != nil }

// Session returns the component's XMPP session.
func (c *Component) Session() *xmpp.Session { return c.sess }

// Online returns a channel closed while the component is connected.
func (c *Component) Online() <-chan struct{} { return c.sess.Online() }

// JID returns the JID of a bridged device, and false for an id the bridge
// does not know or whose localpart another device holds, and always in
// client mode (devices have no JIDs there).
func (c *Component) JID(id string) (string, bool) {
	if _, ok := c.b.Device(id); !ok || c.ClientMode() {
		return "", false
	}
	d := c.deviceByID(id)
	if d == nil {
		return "", false
	}
	return d.jid, true
}

// Run connects the component and serves the devices until ctx is done,
// reconnecting as needed; presence follows the devices' availability.
// When ctx ends, subscribers get unavailable presence from every device
// before the stream closes. It returns ctx.Err() or an *xmpp.AuthError
// when the server refuses the secret.
func (c *Component) Run(ctx context.Context) error {
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan error, 1)
	go func() { done <- c.sess.Run(sctx) }()
	watchDone := make(chan struct{})
	wctx, wstop := context.WithCancel(ctx)
	go func() {
		defer close(watchDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.tree.events.run(wctx)
		}()
		if !c.ClientMode() {
			// Device presence: component mode only.
			c.watch(wctx)
		}
		wg.Wait()
	}()
	defer func() {
		wstop()
		<-watchDone
	}()
	defer c.prov.start(ctx)()
	if h := c.opts.History; h != nil {
		hctx, hstop := context.WithCancel(ctx)
		hdone := make(chan struct{})
		go func() { defer close(hdone); c.recordHistory(hctx, h) }()
		defer func() { hstop(); <-hdone }()
	}
	select {
	case err := <-done:
		c.closeDevices()
		return err
	case <-ctx.Done():
	}
	wstop()
	<-watchDone
	if c.ClientMode() {
		// Unavailable presence of the account, then the stream's end.
		actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.agent.Shutdown(actx)
		acancel()
		stop()
	} else {
		c.goodbye()
		// Session.Run notices its context only between connections:
		// Close ends the stream, and Run then returns.
		stop()
		_ = c.sess.Close()
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.log.Warn("XMPP session did not stop within 10 s")
	}
	c.closeDevices()
	return ctx.Err()
}

// route gives each device JID its own mux; the component domain itself
// (and anything unparsable) stays on the root mux.
func (c *Component) route(to string) *xmpp.Mux {
	j, err := jid.Parse(to)
	if err != nil || j.Localpart() == "" {
		return nil
	}
	if d := c.deviceByLocal(j.Localpart()); d != nil {
		return c.devMux
	}
	return c.unknown
}

// deviceByLocal returns the device of a localpart, scanning the bridge's
// registry (at most once a second) when the localpart is not known yet.
func (c *Component) deviceByLocal(local string) *device {
	c.mu.Lock()
	d := c.byLocal[local]
	scan := d == nil && time.Since(c.synced) > time.Second
	if scan {
		c.synced = time.Now()
	}
	c.mu.Unlock()
	if !scan {
		return d
	}
	for _, dev := range c.b.Devices() {
		c.deviceByID(dev.ID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byLocal[local]
}

// deviceByID returns (creating it) the device of a bridge id, or nil when
// its localpart belongs to another device.
func (c *Component) deviceByID(id string) *device {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.byID[id]; d != nil {
		return d
	}
	local := Localpart(id, c.domain)
	if other := c.byLocal[local]; other != nil {
		if !c.refused[id] {
			c.refused[id] = true
			c.log.Warn("MQTT device not reachable over XMPP: its JID belongs to another device", "device", id, "jid", deviceJID(local, c.domain), "holder", other.id)
		}
		return nil
	}
	d := &device{c: c, id: id, local: local, jid: deviceJID(local, c.domain)}
	c.byLocal[local] = d
	c.byID[id] = d
	return d
}

// handleUnknownPresence refuses subscriptions to JIDs that are no device.
func (c *Component) handleUnknownPresence(ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
	if st.Get("type") == "subscribe" || st.Get("type") == "probe" {
		return s.Send(ctx, xmpp.NewElement("", "presence", "type", "unsubscribed", "to", st.Get("from")))
	}
	return nil
}

// closeDevices stops the devices' readout servers.
func (c *Component) closeDevices() {
	c.mu.Lock()
	ds := make([]*device, 0, len(c.byID))
	for _, d := range c.byID {
		ds = append(ds, d)
	}
	c.mu.Unlock()
	for _, d := range ds {
		d.close()
	}
}
