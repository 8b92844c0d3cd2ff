package registry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// NSDiscoInfo is the XEP-0030 disco#info namespace.
const NSDiscoInfo = "http://jabber.org/protocol/disco#info"

// Options tune a Server. Store is required.
type Options struct {
	// Store keeps things and rules.
	Store Store
	// Logger receives requests refused and notifications that failed; nil
	// discards them. Secrets (KEY values) are never logged.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NotifyTimeout bounds each notification to a thing (claimed,
	// removed, disowned, clearCache); default 10 s.
	NotifyTimeout time.Duration
	// MaxResults caps a search's maxCount; default 100. A search without
	// maxCount returns at most 20.
	MaxResults int
	// ClaimBurst and ClaimEvery rate-limit claims per claimer: ClaimBurst
	// claims at once (default 5), then one per ClaimEvery (default 2 s).
	ClaimBurst int
	ClaimEvery time.Duration
	// SearchBurst and SearchEvery rate-limit searches per JID: default 20
	// at once, then one per 100 ms (a search scans the registry).
	SearchBurst int
	SearchEvery time.Duration
	// MaxThingsPerJID bounds the things one JID registers (itself and
	// the nodes behind it); default 1024.
	MaxThingsPerJID int
	// AskEvery is how often the same unanswered question is sent to the
	// owner again; default 1 h.
	AskEvery time.Duration

	// TokenLifetime is how long an issued token is valid; default 90
	// days. Tokens need a store that is a TokenStore.
	TokenLifetime time.Duration
	// TokenVerifyTTL is how long a requester's answer to a token
	// challenge is trusted before the token is challenged again; default
	// 10 min (failures: at most 1 min).
	TokenVerifyTTL time.Duration
	// TokenChallengeTimeout bounds a token challenge, passed on by the
	// device to the requester; default 3 s, below the devices' question
	// timeout.
	TokenChallengeTimeout time.Duration
	// TokenBurst and TokenEvery rate-limit getToken per JID: default 5
	// at once, then one per 10 s.
	TokenBurst int
	TokenEvery time.Duration
}

// Server is the thing registry and provisioning server on one session,
// normally an XEP-0114 component. Create it with New, route its stanzas
// with Register, and Close it before closing the store.
type Server struct {
	sess  *xmpp.Session
	store Store
	opts  Options
	log   *slog.Logger

	mu sync.Mutex // serialises read-modify-write sequences on the store

	claims   *limiter
	searches *limiter
	tok      *tokens

	amu      sync.Mutex
	asked    map[string]time.Time // questions sent to owners
	clearing map[string]bool      // things being sent clearCache: true if asked again meanwhile

	ctx    context.Context // notifications; cancelled by Close
	cancel context.CancelFunc
	sem    chan struct{} // bounds notifications in flight
	wg     sync.WaitGroup
}

// New returns a server answering on sess from opts.Store.
func New(sess *xmpp.Session, opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("registry: no store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NotifyTimeout <= 0 {
		opts.NotifyTimeout = 10 * time.Second
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = 100
	}
	if opts.ClaimBurst <= 0 {
		opts.ClaimBurst = 5
	}
	if opts.ClaimEvery <= 0 {
		opts.ClaimEvery = 2 * time.Second
	}
	if opts.SearchBurst <= 0 {
		opts.SearchBurst = 20
	}
	if opts.SearchEvery <= 0 {
		opts.SearchEvery = 100 * time.Millisecond
	}
	if opts.MaxThingsPerJID <= 0 {
		opts.MaxThingsPerJID = 1024
	}
	if opts.AskEvery <= 0 {
		opts.AskEvery = time.Hour
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = 90 * 24 * time.Hour
	}
	if opts.TokenVerifyTTL <= 0 {
		opts.TokenVerifyTTL = 10 * time.Minute
	}
	if opts.TokenChallengeTimeout <= 0 {
		opts.TokenChallengeTimeout = 3 * time.Second
	}
	if opts.TokenBurst <= 0 {
		opts.TokenBurst = 5
	}
	if opts.TokenEvery <= 0 {
		opts.TokenEvery = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		sess: sess, store: opts.Store, opts: opts, log: opts.Logger,
		claims:   newLimiter(opts.ClaimBurst, opts.ClaimEvery, opts.Now),
		searches: newLimiter(opts.SearchBurst, opts.SearchEvery, opts.Now),
		tok:      newTokens(opts),
		asked:    map[string]time.Time{}, clearing: map[string]bool{},
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, 64),
	}, nil
}

// Close stops the notifications in flight and waits for them.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Features returns the service discovery features of the server.
func (s *Server) Features() []string {
	return []string{NSDiscoInfo, NS, provisioning.NS, NSRules}
}

// Register routes the requests the server answers on mux: the XEP-0347
// requests, the XEP-0324 questions, the rule protocol, disco#info, and
// presence (to deliver a clearCache owed to a thing that was offline).
// Requests are handled one at a time off the reading goroutine.
func (s *Server) Register(mux *xmpp.Mux) {
	h := xmpp.Serial(xmpp.HandlerFunc(s.handleIQ), 256)
	for _, r := range []struct{ typ, space, local string }{
		{"set", NS, "register"}, {"set", NS, "mine"}, {"set", NS, "update"}, {"set", NS, "remove"},
		{"set", NS, "disown"}, {"set", NS, "unregister"}, {"get", NS, "search"},
		{"get", provisioning.NS, "isFriend"}, {"get", provisioning.NS, "canRead"}, {"get", provisioning.NS, "canControl"},
		{"get", provisioning.NS, "getToken"}, {"get", provisioning.NS, "getTokenChallengeResponse"},
		{"set", NSRules, "rule"}, {"set", NSRules, "unrule"}, {"get", NSRules, "rules"}, {"get", NSRules, "things"},
	} {
		mux.IQ(r.typ, r.space, r.local, h)
	}
	mux.IQ("get", NSDiscoInfo, "query", xmpp.IQFunc(s.discoInfo))
	mux.Presence(xmpp.HandlerFunc(s.handlePresence))
}

func (s *Server) discoInfo(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	q := xmpp.NewElement(NSDiscoInfo, "query", "node", iq.FirstChild().Get("node"))
	q.Add(xmpp.NewElement(NSDiscoInfo, "identity", "category", "component", "type", "generic", "name", "xiot thing registry"))
	for _, f := range s.Features() {
		q.Add(xmpp.NewElement(NSDiscoInfo, "feature", "var", f))
	}
	return q, nil
}

func (s *Server) handlePresence(ctx context.Context, _ *xmpp.Session, p *xmpp.Element) error {
	from, err := jid.Parse(p.Get("from"))
	if err != nil {
		return nil
	}
	// Things befriend the registry to talk to it (XEP-0347 §6.3): anyone
	// may, as every request is authorised on its own.
	var answer string
	switch p.Get("type") {
	case "":
	case "subscribe":
		answer = "subscribed"
	case "unsubscribe":
		answer = "unsubscribed"
	case "probe":
		answer = "available"
	default:
		return nil
	}
	if answer != "" {
		reply := xmpp.NewElement("", "presence", "to", from.Bare().String(), "from", p.Get("to"))
		if answer != "available" {
			reply.Set("type", answer)
		}
		if p.Get("to") == "" {
			reply.Set("from", s.sess.LocalJID().String())
		}
		return s.sess.Send(ctx, reply)
	}
	// Off the reading goroutine: seen reads the store.
	s.spawn(func(ctx context.Context) { s.seen(ctx, from) })
	return nil
}

// badRequest is the error reply of a request that does not decode.
func badRequest(err error) error {
	return xmpp.NewStanzaError("modify", "bad-request", err.Error())
}

func (s *Server) handleIQ(ctx context.Context, _ *xmpp.Session, iq *xmpp.Element) error {
	from, err := jid.Parse(iq.Get("from"))
	if err != nil || from.Localpart() == "" && from.Domainpart() == "" {
		return xmpp.NewStanzaError("modify", "jid-malformed", "no valid sender")
	}
	s.seen(ctx, from)
	p := iq.FirstChild()
	var reply *xmpp.Element
	if p.Name.Space == provisioning.NS {
		v, err := provisioning.Parse(p)
		if err != nil {
			return badRequest(err)
		}
		switch v := v.(type) {
		case provisioning.GetToken:
			reply, err = s.getToken(from, v)
		case provisioning.GetTokenChallengeResponse:
			reply, err = s.getTokenResponse(ctx, from, v)
		default:
			if toks := questionTokens(v); len(toks) > 0 {
				return s.answerWithTokens(ctx, iq, from, v, toks)
			}
			reply, _, err = s.answer(ctx, from, v, nil)
		}
		if err != nil {
			return err
		}
		return s.sess.Send(ctx, xmpp.ResultIQ(iq, reply))
	}
	v, err := ParseRequest(p)
	if err != nil {
		return badRequest(err)
	}
	bare := from.Bare().String()
	switch v := v.(type) {
	case Register:
		reply, err = s.register(ctx, from, v)
	case Mine:
		reply, err = s.mine(ctx, from, v)
	case Update:
		reply, err = s.update(ctx, bare, v)
	case Remove:
		err = s.remove(ctx, bare, v)
	case Disown:
		return s.disown(ctx, iq, bare, v)
	case Unregister:
		err = s.store.DeleteThing(ctx, v.Node.Key(bare))
	case Search:
		if !s.searches.allow(bare) {
			return xmpp.NewStanzaError("wait", "resource-constraint", "too many searches; try again later")
		}
		reply, err = s.search(ctx, v)
	case ThingsQuery:
		reply, err = s.things(ctx, bare)
	case RulesQuery:
		reply, err = s.rules(ctx, bare, v)
	case RuleSet:
		err = s.setRule(ctx, bare, v.Rule, false)
	case RuleDelete:
		err = s.setRule(ctx, bare, Rule{Thing: v.Thing, Requester: v.Requester}, true)
	default:
		return xmpp.ErrFeatureNotImplemented
	}
	if err != nil {
		var se *xmpp.StanzaError
		if !errors.As(err, &se) {
			s.log.Error("registry request failed", "request", p.Name.Local, "from", bare, "err", err)
		}
		return err
	}
	return s.sess.Send(ctx, xmpp.ResultIQ(iq, reply))
}

// seen notes that from is online: a thing registered at its bare JID gets
// its address updated and any clearCache it is owed.
func (s *Server) seen(ctx context.Context, from jid.JID) {
	if from.Resourcepart() == "" || from.Localpart() == "" {
		return
	}
	addr := from.String()
	var stale []Thing
	err := s.store.Things(ctx, JIDPrefix(from.Bare().String()), func(t Thing) bool {
		if t.Address != addr || t.ClearCache {
			stale = append(stale, t)
		}
		return len(stale) < s.opts.MaxThingsPerJID
	})
	if err != nil {
		s.log.Warn("registry: reading things", "jid", from.Bare().String(), "err", err)
		return
	}
	clear := false
	unlock, err := s.lock(ctx)
	if err != nil {
		s.log.Warn("registry: saving address", "jid", from.Bare().String(), "err", err)
		return
	}
	for _, t := range stale {
		cur, err := s.store.Thing(ctx, t.Key)
		if err != nil {
			continue
		}
		clear = clear || cur.ClearCache
		cur.Address = addr
		if err := s.store.PutThing(ctx, cur); err != nil {
			s.log.Warn("registry: saving address", "jid", t.JID, "err", err)
		}
	}
	unlock()
	if !clear {
		return
	}
	s.amu.Lock()
	_, running := s.clearing[from.Bare().String()]
	s.amu.Unlock()
	if !running { // one in flight: its acknowledgement settles it
		s.clearCacheLater(from.Bare().String())
	}
}

// spawn runs f on a goroutine of its own, bounded in number; it returns
// false (not running f) when too many are in flight or the server closed.
func (s *Server) spawn(f func(ctx context.Context)) bool {
	select {
	case s.sem <- struct{}{}:
	default:
		return false
	}
	if s.ctx.Err() != nil {
		<-s.sem
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		f(s.ctx)
	}()
	return true
}

// notify sends an IQ set with payload to the thing's address and waits
// for the answer.
func (s *Server) notify(ctx context.Context, t Thing, payload *xmpp.Element) error {
	to := t.Address
	if to == "" {
		to = t.JID
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.NotifyTimeout)
	defer cancel()
	iq := xmpp.NewElement("", "iq", "type", "set", "to", to, "from", s.sess.LocalJID().String()).Add(payload)
	if _, err := s.sess.SendIQ(ctx, iq); err != nil {
		return fmt.Errorf("registry: %s to %s: %w", payload.Name.Local, to, err)
	}
	return nil
}

// notifyLater sends a notification in the background; failures are
// logged (the thing learns its state when it next registers or updates).
func (s *Server) notifyLater(t Thing, payload *xmpp.Element) {
	if !s.spawn(func(ctx context.Context) {
		if err := s.notify(ctx, t, payload); err != nil {
			s.log.Info("registry: thing not notified", "what", payload.Name.Local, "jid", t.JID, "err", err)
		}
	}) {
		s.log.Warn("registry: too many notifications in flight; dropped", "what", payload.Name.Local, "jid", t.JID)
	}
}

// now returns the time, to the second.
func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

// randomKey returns a KEY no one can guess (XEP-0347 §3.15).
func randomKey() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// bareOf parses a JID attribute and returns its bare form.
func bareOf(s string) (string, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return "", xmpp.NewStanzaError("modify", "jid-malformed", fmt.Sprintf("%.60q is not a JID", s))
	}
	return j.Bare().String(), nil
}

// limiter is a token bucket per key, bounded in the keys it remembers.
type limiter struct {
	mu    sync.Mutex
	burst float64
	every time.Duration
	now   func() time.Time
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxLimiterKeys = 10000

func newLimiter(burst int, every time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), every: every, now: now, b: map[string]*bucket{}}
}

// allow takes a token for key, reporting whether there was one.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.b[key]
	if b == nil {
		if len(l.b) >= maxLimiterKeys {
			l.b = map[string]*bucket{} // forget everyone rather than grow
		}
		b = &bucket{tokens: l.burst, last: now}
		l.b[key] = b
	}
	b.tokens += float64(now.Sub(b.last)) / float64(l.every)
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func formatBool(b bool) string { return strconv.FormatBool(b) }
