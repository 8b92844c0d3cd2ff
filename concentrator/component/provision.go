package component

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Provisioning delegates the trust decisions about the bridged devices to
// a XEP-0324 provisioning server and registers each device in a XEP-0347
// thing registry, as the agent does for itself.
//
// Each device registers as a thing of its own, under its own JID
// (<device>@<component domain>), not as a node behind the component's JID:
// XEP-0347 §3.6 gives the nodeId, sourceId and cacheType attributes to
// things "not directly connected to the XMPP network", reached only
// through a concentrator's JID. Our devices have JIDs of their own that
// answer readouts, control and presence, so each is a thing the owner
// claims, lists, removes, disowns and writes rules for by its JID, and
// each asks its provisioning questions from its own JID (the server
// answers about the thing registered at the asker's bare JID).
type Provisioning struct {
	// Server is the provisioning server; zero means Registry.
	Server jid.JID
	// Registry is the thing registry every device registers with until
	// claimed; zero registers nothing. It needs Options.StateDir: each
	// device's KEY and owner are kept in RegistrationsDir there.
	Registry jid.JID
	// Tags are the meta tags of every device, without KEY. SN (the device
	// id) and NAME (its Homie $name, when known) are added unless set.
	Tags []registry.Tag
	// SelfOwned registers the devices as public, self-owned things.
	SelfOwned bool
	// Timeout bounds each question to the provisioning server; default
	// 5 s. Unanswered questions are refused (fail closed).
	Timeout time.Duration
	// CacheSize bounds the decisions cached per device; default 64.
	CacheSize int
	// MaxRegistering bounds the registrations in flight at once; default
	// 4. A failed registration is retried after a backoff that doubles
	// from 1 s to 10 min, so that 10,000 devices never register at once.
	MaxRegistering int
	// MaxAsking bounds the presence subscriptions waiting for isFriend at
	// once; more are refused. Default 64.
	MaxAsking int
}

// provisioner is the XEP-0324 and XEP-0347 side of the component: per
// device, a registration (loaded when first needed) and a provisioning
// client with its own decision cache (made when first asked).
type provisioner struct {
	c      *Component
	opts   Provisioning
	server jid.JID
	dir    string // registration state files; "" without a registry
	caches string // decision cache files; "" without a state directory
	log    *slog.Logger
	asking chan struct{} // one token per isFriend in flight

	mu     sync.Mutex
	things map[string]*thingState // device id →

	queue regQueue
}

// thingState is what the provisioner keeps about one device.
type thingState struct {
	mu       sync.Mutex
	reg      *thing.Registration
	client   *provisioning.Client
	mux      *xmpp.Mux // the client's orders (clearCache, friend, …)
	read     sensordata.Authorizer
	control  iotcontrol.Authorizer
	cache    *thing.CacheFile // nil without a state directory
	failures int              // registrations failed in a row
	settled  bool             // registered, claimed or skipped since start
}

// newProvisioner returns the provisioner of opts, or nil when opts is nil.
func newProvisioner(c *Component, opts *Provisioning, stateDir string) (*provisioner, error) {
	if opts == nil {
		return nil, nil
	}
	o := *opts
	if o.Server.Domainpart() == "" {
		o.Server = o.Registry
	}
	if o.Server.Domainpart() == "" {
		return nil, errors.New("component: provisioning without a server or registry")
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 64
	}
	if o.MaxRegistering <= 0 {
		o.MaxRegistering = 4
	}
	if o.MaxAsking <= 0 {
		o.MaxAsking = 64
	}
	p := &provisioner{
		c: c, opts: o, server: o.Server, log: c.log,
		asking: make(chan struct{}, o.MaxAsking), things: map[string]*thingState{},
	}
	p.queue.init()
	if stateDir != "" {
		p.caches = cachesDir(stateDir)
	}
	if o.Registry.Domainpart() != "" {
		if stateDir == "" {
			return nil, errors.New("component: registering devices in a thing registry needs a state directory for their KEYs")
		}
		p.dir = registrationsDir(stateDir)
	}
	return p, nil
}

// setup routes the registry's notices and the provisioning server's
// orders addressed to device JIDs.
func (p *provisioner) setup(m *xmpp.Mux) {
	if p.dir != "" {
		h := p.c.onDevice(func(d *device, ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
			r, err := p.registration(d)
			if err != nil {
				p.log.Error("registry notice for a device whose state cannot be read", "device", d.id, "err", err)
				return xmpp.NewStanzaError("wait", "internal-server-error", "registration state unreadable")
			}
			return r.HandleStanza(ctx, s, iq)
		})
		for _, local := range []string{"claimed", "removed", "disowned"} {
			m.IQ("set", thing.NS, local, h)
		}
	}
	orders := p.c.onDevice(func(d *device, ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
		return p.state(d, true).mux.HandleStanza(ctx, s, st)
	})
	m.IQ("set", provisioning.NS, "clearCache", orders)
	m.IQ("get", provisioning.NS, "clearCache", orders)
	m.IQ("get", provisioning.NS, "tokenChallenge", orders)
	for _, local := range []string{"friend", "Friend", "unfriend"} {
		m.Message(provisioning.NS, local, orders)
	}
}

// state returns the device's entry; with client, its provisioning client
// is made if it has none yet.
func (p *provisioner) state(d *device, client bool) *thingState {
	p.mu.Lock()
	ts := p.things[d.id]
	if ts == nil {
		ts = &thingState{}
		p.things[d.id] = ts
	}
	p.mu.Unlock()
	if !client {
		return ts
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.client == nil {
		log := p.log.With("device", d.id)
		ts.client = provisioning.New(p.c.sess, p.server, provisioning.Options{
			Timeout: p.opts.Timeout, CacheSize: p.opts.CacheSize, Logger: log,
			OnFriend:     func(ctx context.Context, j jid.JID) { p.befriend(ctx, d, j) },
			OnUnfriend:   func(ctx context.Context, j jid.JID) { p.unfriend(ctx, d, j) },
			OnClearCache: func(context.Context) { p.saveCache(d) },
		})
		ts.mux = &xmpp.Mux{}
		ts.client.Register(ts.mux)
		ts.read, ts.control = thing.Authorizers(ts.client)
		if p.caches != "" {
			// The decisions of the last run: with the provisioning
			// server unreachable, the grants cached then still hold.
			ts.cache = thing.OpenCache(ts.client, cacheFile(p.caches, d.jid), log)
		}
	}
	return ts
}

// registration returns the device's registration, loading (or making) its
// state file on first use; nil without a registry.
func (p *provisioner) registration(d *device) (*thing.Registration, error) {
	if p.dir == "" {
		return nil, nil
	}
	ts := p.state(d, false)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.reg != nil {
		return ts.reg, nil
	}
	log := p.log.With("device", d.id, "jid", d.jid)
	r, err := thing.New(p.c.sess, thing.Options{
		Registry: p.opts.Registry, Tags: p.tagsOf(d), SelfOwned: p.opts.SelfOwned,
		StateFile: stateFile(p.dir, d.jid), From: d.jid, Logger: log,
		OnRegistered: func(_ context.Context, claim string) {
			log.Info("registry: registered; the owner claims this device with: xiot claim '"+claim+"'", "registry", p.opts.Registry.String())
		},
		OnClaimed: func(ctx context.Context, owner jid.JID) {
			p.clearCache(d)
			p.befriend(ctx, d, owner)
		},
		OnRemoved: func(context.Context, jid.JID) { p.clearCache(d) },
		OnDisowned: func(ctx context.Context, former jid.JID) {
			p.clearCache(d)
			if former.String() != "" && !p.c.isOwner(former) {
				p.unfriend(ctx, d, former)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	ts.reg = r
	return r, nil
}

// tagsOf returns the meta tags of a device: the configured ones, and SN
// and NAME from the device unless configured.
func (p *provisioner) tagsOf(d *device) []registry.Tag {
	tags := make([]registry.Tag, 0, len(p.opts.Tags)+2)
	has := map[string]bool{}
	for _, t := range p.opts.Tags {
		t.Name = strings.ToUpper(t.Name)
		has[t.Name] = true
		tags = append(tags, t)
	}
	if !has["SN"] {
		tags = append(tags, registry.Tag{Name: "SN", Value: clip(d.id)})
	}
	if dev, _ := d.snapshot(); !has["NAME"] && dev.Name != "" {
		tags = append(tags, registry.Tag{Name: "NAME", Value: clip(dev.Name)})
	}
	return tags
}

// clip shortens s to the longest tag value the registry accepts.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= registry.MaxTagValue {
		return s
	}
	return string([]rune(s)[:registry.MaxTagValue])
}

// owns reports whether from is the device's owner in the registry.
func (p *provisioner) owns(d *device, from jid.JID) bool {
	if p == nil || p.dir == "" {
		return false
	}
	r, err := p.registration(d)
	return err == nil && r.IsOwner(from)
}

// clearCache forgets the device's decisions, as a new trust relationship
// (a claim, a disowning) requires.
func (p *provisioner) clearCache(d *device) {
	ts := p.state(d, false)
	ts.mu.Lock()
	c := ts.client
	ts.mu.Unlock()
	if c != nil {
		c.ClearCache()
		p.saveCache(d)
	}
}

// saveCache writes the device's decision cache to its file at once (after
// a clearing: a crash must not bring the old decisions back).
func (p *provisioner) saveCache(d *device) {
	ts := p.state(d, false)
	ts.mu.Lock()
	f := ts.cache
	ts.mu.Unlock()
	if f == nil {
		return
	}
	if err := f.Save(); err != nil {
		p.log.Warn("provisioning: decision cache not saved", "device", d.id, "err", err)
	}
}

// saveCaches writes every device's decision cache that changed.
func (p *provisioner) saveCaches() {
	p.mu.Lock()
	var files []*thing.CacheFile
	for _, ts := range p.things {
		ts.mu.Lock()
		if ts.cache != nil {
			files = append(files, ts.cache)
		}
		ts.mu.Unlock()
	}
	p.mu.Unlock()
	for _, f := range files {
		if err := f.Save(); err != nil {
			p.log.Warn("provisioning: decision cache not saved", "err", err)
		}
	}
}

// isFriend asks whether from may subscribe to the device's presence.
func (p *provisioner) isFriend(ctx context.Context, d *device, from jid.JID) (bool, error) {
	return p.state(d, true).client.IsFriend(xmpp.WithFrom(ctx, d.jid), from)
}

// befriend makes friend a subscriber of the device and asks for a
// subscription the other way (the owner after a claim, or the provisioning
// server's recommendation).
func (p *provisioner) befriend(ctx context.Context, d *device, friend jid.JID) {
	to := friend.Bare().String()
	if err := p.c.subs.add(d.id, to); err != nil {
		p.log.Error("presence subscription not saved", "device", d.id, "friend", to, "err", err)
	}
	p.log.Info("befriending", "device", d.id, "friend", to)
	err := p.c.sess.SendAll(context.WithoutCancel(ctx),
		xmpp.NewElement("", "presence", "from", d.jid, "to", to, "type", "subscribed"),
		xmpp.NewElement("", "presence", "from", d.jid, "to", to, "type", "subscribe"),
		d.presence(to))
	if err != nil {
		p.log.Warn("befriending", "device", d.id, "friend", to, "err", err)
	}
}

// unfriend ends the friendship of the device with friend both ways.
func (p *provisioner) unfriend(ctx context.Context, d *device, friend jid.JID) {
	to := friend.Bare().String()
	if err := p.c.subs.remove(d.id, to); err != nil {
		p.log.Error("presence unsubscription not saved", "device", d.id, "friend", to, "err", err)
	}
	p.log.Info("unfriending", "device", d.id, "friend", to)
	err := p.c.sess.SendAll(context.WithoutCancel(ctx),
		xmpp.NewElement("", "presence", "from", d.jid, "to", to, "type", "unavailable"),
		xmpp.NewElement("", "presence", "from", d.jid, "to", to, "type", "unsubscribed"),
		xmpp.NewElement("", "presence", "from", d.jid, "to", to, "type", "unsubscribe"))
	if err != nil {
		p.log.Warn("unfriending", "device", d.id, "friend", to, "err", err)
	}
}
