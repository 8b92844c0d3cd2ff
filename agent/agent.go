package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/version"
	"github.com/xiot/xiot/internal/xmpp"
)

// Namespaces the agent itself answers.
const (
	NSRoster       = "jabber:iq:roster"
	NSVersion      = "jabber:iq:version"
	NSSoftwareInfo = "urn:xmpp:dataforms:softwareinfo"
	// CapsNode is the XEP-0115 node naming the xiot software.
	CapsNode = "https://github.com/xiot/xiot"
)

// FriendFunc decides whether a presence subscription request from a bare
// JID is accepted. Provisioning (XEP-0324) plugs in here; the default
// accepts the configured owners only.
type FriendFunc func(ctx context.Context, from jid.JID) (bool, error)

// Options configure an Agent.
type Options struct {
	// Session is the XMPP configuration of the device account. Its
	// OnOnline and OnOffline hooks are wrapped, not replaced.
	Session xmpp.Config
	// Priority is the presence priority, -128..127.
	Priority int
	// Owners are bare JIDs whose subscription requests are accepted when
	// Friend is nil.
	Owners []jid.JID
	// Friend, when set, decides subscription requests instead of Owners.
	Friend FriendFunc
	// Board names the hardware in the disco identity, e.g. "Raspberry Pi 4
	// Model B" or "sim".
	Board string
	// Logger receives the agent's events; nil discards them.
	Logger *slog.Logger
}

// RosterItem is one contact of the device's roster (RFC 6121 §2.1.2).
type RosterItem struct {
	JID          jid.JID
	Name         string
	Subscription string // none, to, from, both or remove
	Ask          bool   // a subscription request is pending
}

// Agent is the device side of xiot on one XMPP account: it keeps the
// session alive, announces presence with entity capabilities, keeps the
// roster, decides subscription requests, and answers service discovery,
// ping and software version. Protocol handlers (sensor data, control)
// register on Mux and announce their features with AddFeatures before Run.
type Agent struct {
	opts  Options
	log   *slog.Logger
	mux   *xmpp.Mux
	disco *disco.Server
	sess  *xmpp.Session

	mu       sync.Mutex
	features []string
	roster   map[string]RosterItem
	onOnline []func(ctx context.Context, resumed bool)
	onOffln  []func(err error)
	online   bool
}

// New returns an agent for opts; Run connects it.
func New(opts Options) (*Agent, error) {
	if opts.Priority < -128 || opts.Priority > 127 {
		return nil, fmt.Errorf("agent: presence priority %d is outside -128..127", opts.Priority)
	}
	if opts.Session.Component {
		return nil, errors.New("agent: the device agent needs a client account, not a component")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		opts:   opts,
		log:    log,
		mux:    &xmpp.Mux{},
		disco:  &disco.Server{CapsNode: CapsNode},
		roster: map[string]RosterItem{},
		features: []string{
			disco.NSInfo, disco.NSItems, disco.NSCaps, xmpp.NSPing, NSVersion,
		},
	}
	a.updateDisco()
	a.disco.Register(a.mux)
	xmpp.HandlePing(a.mux)
	a.mux.IQ("get", NSVersion, "query", xmpp.IQFunc(a.handleVersion))
	a.mux.IQ("set", NSRoster, "query", xmpp.HandlerFunc(a.handleRosterPush))
	// Subscription decisions may ask a provisioning server and wait for
	// the answer, which the reading loop delivers: off that loop.
	a.mux.Presence(xmpp.Serial(xmpp.HandlerFunc(a.handlePresence), 256))

	cfg := opts.Session
	userOnline, userOffline := cfg.OnOnline, cfg.OnOffline
	cfg.OnOnline = func(ctx context.Context, resumed bool) {
		a.announce(ctx, resumed)
		if userOnline != nil {
			userOnline(ctx, resumed)
		}
	}
	cfg.OnOffline = func(err error) {
		a.setOnline(false, err)
		if userOffline != nil {
			userOffline(err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	a.sess = xmpp.New(cfg, a.mux)
	return a, nil
}

// Mux is the stanza router of the agent's session; protocol packages
// register their handlers on it before Run.
func (a *Agent) Mux() *xmpp.Mux { return a.mux }

// Session is the agent's XMPP session, for sending.
func (a *Agent) Session() *xmpp.Session { return a.sess }

// Disco is the agent's service discovery server; protocol packages may add
// nodes and items to it.
func (a *Agent) Disco() *disco.Server { return a.disco }

// AddFeatures adds XEP-0030 features to the agent's disco#info and hence
// to its XEP-0115 capabilities. Call it before Run; features added later
// are announced with the next presence.
func (a *Agent) AddFeatures(features ...string) {
	a.mu.Lock()
	a.features = append(a.features, features...)
	a.mu.Unlock()
	a.updateDisco()
}

// OnOnline registers f to run after every (re)connection, after presence
// has been sent; resumed is true when XEP-0198 resumed the stream.
func (a *Agent) OnOnline(f func(ctx context.Context, resumed bool)) {
	a.mu.Lock()
	a.onOnline = append(a.onOnline, f)
	a.mu.Unlock()
}

// OnOffline registers f to run when the connection is lost.
func (a *Agent) OnOffline(f func(err error)) {
	a.mu.Lock()
	a.onOffln = append(a.onOffln, f)
	a.mu.Unlock()
}

// Online reports whether the session is connected and presence was sent.
func (a *Agent) Online() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.online
}

// SetOwners replaces the owners whose subscription requests are accepted
// (a configuration reload); it affects requests from now on.
func (a *Agent) SetOwners(owners []jid.JID) {
	a.mu.Lock()
	a.opts.Owners = append([]jid.JID(nil), owners...)
	a.mu.Unlock()
}

// SetPriority changes the presence priority and, when online, announces
// it with a new presence.
func (a *Agent) SetPriority(ctx context.Context, priority int) error {
	if priority < -128 || priority > 127 {
		return fmt.Errorf("agent: presence priority %d is outside -128..127", priority)
	}
	a.mu.Lock()
	a.opts.Priority = priority
	a.mu.Unlock()
	if a.Online() {
		return a.sess.Send(ctx, a.presence())
	}
	return nil
}

// Roster returns a copy of the roster as last received.
func (a *Agent) Roster() []RosterItem {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]RosterItem, 0, len(a.roster))
	for _, it := range a.roster {
		out = append(out, it)
	}
	return out
}

// Run keeps the agent online until ctx is done, then sends unavailable
// presence and closes the stream. It returns nil after a shutdown through
// ctx, or the error that made reconnecting pointless (refused
// credentials).
func (a *Agent) Run(ctx context.Context) error {
	inner, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.sess.Run(inner) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := a.Shutdown(sctx)
		scancel()
		cancel()
		<-done
		return err
	}
}

// Shutdown announces that the device goes offline and closes the session;
// Run then returns. It is safe to call more than once.
func (a *Agent) Shutdown(ctx context.Context) error {
	if a.Online() {
		_ = a.sess.Send(ctx, xmpp.NewElement("", "presence", "type", "unavailable"))
	}
	return a.sess.Close()
}

func (a *Agent) updateDisco() {
	a.mu.Lock()
	feats := append([]string(nil), a.features...)
	a.mu.Unlock()
	name := "xiot agent"
	if a.opts.Board != "" {
		name += " (" + a.opts.Board + ")"
	}
	v := version.Get()
	form := xmpp.NewElement(disco.NSData, "x", "type", "result").Add(
		field("FORM_TYPE", "hidden", NSSoftwareInfo),
		field("os", "", runtime.GOOS),
		field("os_version", "", runtime.GOARCH),
		field("software", "", "xiot"),
		field("software_version", "", v.Version),
	)
	a.disco.SetInfo(disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "bot", Name: name}},
		Features:   dedupe(feats),
		Forms:      []*xmpp.Element{form},
	})
}

func field(name, typ, value string) *xmpp.Element {
	f := xmpp.NewElement(disco.NSData, "field", "var", name)
	if typ != "" {
		f.Set("type", typ)
	}
	return f.Add(xmpp.NewElement(disco.NSData, "value").AddText(value))
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// announce runs after each connection: a new session fetches the roster
// and sends initial presence; a resumed one has both already.
func (a *Agent) announce(ctx context.Context, resumed bool) {
	if !resumed {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.fetchRoster(rctx)
		cancel()
		if err != nil {
			a.log.Warn("roster not fetched", "err", err)
		}
		if err := a.sess.Send(ctx, a.presence()); err != nil {
			a.log.Warn("initial presence not sent", "err", err)
		}
	}
	a.setOnline(true, nil)
	a.mu.Lock()
	hooks := append([]func(context.Context, bool){}, a.onOnline...)
	a.mu.Unlock()
	for _, h := range hooks {
		h(ctx, resumed)
	}
}

func (a *Agent) setOnline(on bool, err error) {
	a.mu.Lock()
	was := a.online
	a.online = on
	var hooks []func(error)
	if was && !on {
		hooks = append(hooks, a.onOffln...)
	}
	a.mu.Unlock()
	if on && !was {
		a.log.Info("agent online", "jid", a.sess.LocalJID().String())
	}
	for _, h := range hooks {
		h(err)
	}
}

// presence is the agent's available presence: priority and capabilities.
func (a *Agent) presence() *xmpp.Element {
	a.mu.Lock()
	prio := a.opts.Priority
	a.mu.Unlock()
	p := xmpp.NewElement("", "presence")
	if prio != 0 {
		p.Add(xmpp.NewElement("", "priority").AddText(strconv.Itoa(prio)))
	}
	return p.Add(a.disco.Caps())
}

func (a *Agent) fetchRoster(ctx context.Context) error {
	res, err := a.sess.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get").Add(xmpp.NewElement(NSRoster, "query")))
	if err != nil {
		return fmt.Errorf("roster get: %w", err)
	}
	items := map[string]RosterItem{}
	if q := res.Child(NSRoster, "query"); q != nil {
		for _, c := range q.Children() {
			if it, ok := parseItem(c); ok && it.Subscription != "remove" {
				items[it.JID.String()] = it
			}
		}
	}
	a.mu.Lock()
	a.roster = items
	a.mu.Unlock()
	a.log.Debug("roster received", "items", len(items))
	return nil
}

func parseItem(c *xmpp.Element) (RosterItem, bool) {
	if c.Name.Local != "item" {
		return RosterItem{}, false
	}
	j, err := jid.Parse(c.Get("jid"))
	if err != nil {
		return RosterItem{}, false
	}
	sub := c.Get("subscription")
	if sub == "" {
		sub = "none"
	}
	return RosterItem{JID: j.Bare(), Name: c.Get("name"), Subscription: sub, Ask: c.Get("ask") == "subscribe"}, true
}

// handleRosterPush applies a roster push (RFC 6121 §2.1.6). Pushes from
// anyone but our own account's server are ignored, as the RFC requires.
func (a *Agent) handleRosterPush(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	if from := iq.Get("from"); from != "" && from != s.LocalJID().Bare().String() {
		a.log.Warn("ignoring a roster push from a foreign JID", "from", from)
		return nil
	}
	q := iq.Child(NSRoster, "query")
	items := q.Children()
	if len(items) != 1 {
		return xmpp.NewStanzaError("modify", "bad-request", "a roster push has exactly one item")
	}
	it, ok := parseItem(items[0])
	if !ok {
		return xmpp.NewStanzaError("modify", "bad-request", "roster item without a valid jid")
	}
	a.mu.Lock()
	if it.Subscription == "remove" {
		delete(a.roster, it.JID.String())
	} else {
		a.roster[it.JID.String()] = it
	}
	a.mu.Unlock()
	return s.Send(ctx, xmpp.ResultIQ(iq, nil))
}

// handlePresence decides subscription requests; other presence is only
// logged at debug level.
func (a *Agent) handlePresence(ctx context.Context, s *xmpp.Session, p *xmpp.Element) error {
	typ := p.Get("type")
	from, err := jid.Parse(p.Get("from"))
	if err != nil {
		return nil
	}
	switch typ {
	case "subscribe":
		bare := from.Bare()
		ok, err := a.friend(ctx, bare)
		if err != nil {
			// Fail closed: no answer now; the request stays pending at the
			// server and is asked again on the next login.
			a.log.Warn("subscription request left pending", "from", bare.String(), "err", err)
			return nil
		}
		answer := "unsubscribed"
		if ok {
			answer = "subscribed"
		}
		a.log.Info("subscription request", "from", bare.String(), "answer", answer)
		return s.Send(ctx, xmpp.NewElement("", "presence", "to", bare.String(), "type", answer))
	default:
		a.log.Debug("presence", "from", from.String(), "type", typ)
	}
	return nil
}

func (a *Agent) friend(ctx context.Context, from jid.JID) (bool, error) {
	a.mu.Lock()
	f := a.opts.Friend
	a.mu.Unlock()
	if f != nil {
		return f(ctx, from)
	}
	return a.isOwner(from), nil
}

// isOwner reports whether from's bare JID is one of the owners.
func (a *Agent) isOwner(from jid.JID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, o := range a.opts.Owners {
		if o.Bare().Equal(from.Bare()) {
			return true
		}
	}
	return false
}

// handleVersion answers XEP-0092 software version requests.
func (a *Agent) handleVersion(_ context.Context, _ *xmpp.Element) (*xmpp.Element, error) {
	v := version.Get()
	return xmpp.NewElement(NSVersion, "query").Add(
		xmpp.NewElement(NSVersion, "name").AddText("xiot"),
		xmpp.NewElement(NSVersion, "version").AddText(v.Version),
		xmpp.NewElement(NSVersion, "os").AddText(runtime.GOOS+"/"+runtime.GOARCH),
	), nil
}
