package provisioning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// Errors callers branch on. Every error of a question wraps ErrNoDecision
// when the server gave no usable answer; the hooks wrap ErrPartialNodes or
// ErrPartialTypes when the answer allows less than they can express.
var (
	ErrNoDecision   = errors.New("provisioning: no decision from the provisioning server")
	ErrPartialNodes = errors.New("provisioning: only some of the requested nodes are allowed")
	ErrPartialTypes = errors.New("provisioning: only some of the requested field types are allowed")
)

// Options tune a Client. The zero value is usable.
type Options struct {
	// Timeout bounds each question to the provisioning server; default
	// 5 s. A question not answered in time is refused (fail closed).
	Timeout time.Duration
	// CacheSize bounds the cached decisions; the least recently used go
	// first. Default 1024; negative disables the cache.
	CacheSize int
	// CacheMaxIdle drops a cached decision that was not used for this long
	// (XEP-0324 §5.2's safety valve); default 24 h, negative never.
	CacheMaxIdle time.Duration
	// Now is the clock of the cache and of token bookkeeping; nil means
	// time.Now.
	Now func() time.Time

	// OnFriend is called when the provisioning server recommends a new
	// friend (a bare JID); the device then asks for a subscription. Calls
	// run in order on a goroutine of their own, so they may block.
	OnFriend func(ctx context.Context, friend jid.JID)
	// OnUnfriend is called when the provisioning server ends a friendship;
	// the device then removes the contact. Same goroutine as OnFriend.
	OnUnfriend func(ctx context.Context, friend jid.JID)
	// OnClearCache is called after the cache was cleared on the server's
	// order (for logs and metrics). Same goroutine as OnFriend.
	OnClearCache func(ctx context.Context)

	// Decrypt answers token challenges for the device's own tokens and the
	// challenge of GetToken: it decrypts challenge with the private key of
	// the device's certificate. Nil refuses challenges for own tokens.
	Decrypt func(challenge []byte) ([]byte, error)

	// Logger receives decisions and refusals; nil discards them.
	Logger *slog.Logger
}

// Client is the device side of XEP-0324: it asks one provisioning server
// whether to befriend, serve readouts to and accept control from other
// entities, caches the answers, and obeys the server's clearCache,
// friend, unfriend and token challenges (see Register). Its methods are
// safe for concurrent use.
//
// Questions block until answered or until Options.Timeout: they must not
// be asked on the session's reading goroutine (a stanza handler), which
// delivers the answers.
type Client struct {
	sess   *xmpp.Session
	server jid.JID
	opts   Options
	log    *slog.Logger
	cache  *cache
	tokens *tokenLog
	calls  serial

	mu       sync.Mutex
	inflight map[string]*call
	addr     jid.JID // full JID of a client-account server, from its presence
}

// call is a question in flight; identical questions asked meanwhile wait
// for its answer instead of asking again.
type call struct {
	done chan struct{}
	val  any
	err  error
}

// New returns a client asking the provisioning server at server over s.
// The server is a component's domain, a full JID, or the bare JID of a
// client account: IQs to a bare JID are answered by the account's XMPP
// server, so the client then asks the full JID the provisioning server
// last announced in its presence (the device subscribes to it, §5.1), and
// the bare JID (which fails fast) while none is known. Call Register on
// the session's mux so that the server's orders reach the client.
func New(s *xmpp.Session, server jid.JID, opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 1024
	}
	if opts.CacheMaxIdle == 0 {
		opts.CacheMaxIdle = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		sess: s, server: server, opts: opts, log: opts.Logger,
		cache:    newCache(opts.CacheSize, opts.CacheMaxIdle, opts.Now),
		tokens:   newTokenLog(opts.Now),
		inflight: map[string]*call{},
	}
}

// Server returns the provisioning server's JID.
func (c *Client) Server() jid.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// SetServer delegates trust to another provisioning server from now on,
// for instance the thing registry that became it when the device was
// claimed (XEP-0347). The cache is cleared, as a new trust relationship
// requires (§5.2), and answers to questions asked of the old server are
// not kept. The zero JID leaves the device without a server: every
// question then fails with ErrNoDecision.
func (c *Client) SetServer(server jid.JID) {
	c.mu.Lock()
	c.server, c.addr = server, jid.JID{}
	c.mu.Unlock()
	c.cache.clear()
	c.log.Info("provisioning server changed", "server", server.String())
}

// SubscribeToServer asks for a presence subscription to the provisioning
// server when it is a client account (§3.1.1, §5.1): it tells the server
// that the device exists and lets the client follow the server's full
// JID. For a server component it does nothing, as none is needed.
func (c *Client) SubscribeToServer(ctx context.Context) error {
	server := c.Server()
	if server.Localpart() == "" {
		return nil
	}
	if c.sess == nil {
		return errors.New("provisioning: no session")
	}
	err := c.sess.Send(ctx, xmpp.NewElement("", "presence", "to", server.Bare().String(), "type", "subscribe"))
	if err != nil {
		return fmt.Errorf("provisioning: subscribing to %s: %w", server.Bare(), err)
	}
	return nil
}

// ClearCache forgets every cached decision, as the server's clearCache
// does. A device calls it when it delegates trust to a new server (§5.2).
func (c *Client) ClearCache() { c.cache.clear() }

// Cached returns the number of cached decisions.
func (c *Client) Cached() int { return c.cache.len() }

// question is one request to the provisioning server.
type question struct {
	kind string // element name, for messages
	who  string // bare JID it is about
	key  string // cache key
	q    element
}

// ask answers q from the cache or by asking the server, parsing the
// answer's payload with parse. Answers are cached, refusals included;
// failures are not.
func (c *Client) ask(ctx context.Context, q question, parse func(*xmpp.Element) (any, error)) (any, error) {
	if v, ok := c.cache.get(q.key); ok {
		return v, nil
	}
	// In flight per server: a question to a former server is not shared.
	fk := c.Server().String() + "\x00" + q.key
	c.mu.Lock()
	if cl, ok := c.inflight[fk]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.val, cl.err
		case <-ctx.Done():
			return nil, c.noDecision(q, ctx.Err())
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[fk] = cl
	c.mu.Unlock()

	gen := c.cache.generation()
	cl.val, cl.err = c.roundTrip(ctx, q, parse)
	if cl.err == nil {
		c.cache.putQ(q.key, q.who, q.q, cl.val, gen)
	}
	c.mu.Lock()
	delete(c.inflight, fk)
	c.mu.Unlock()
	close(cl.done)
	return cl.val, cl.err
}

func (c *Client) roundTrip(ctx context.Context, q question, parse func(*xmpp.Element) (any, error)) (any, error) {
	to := c.target()
	if c.sess == nil || to.String() == "" {
		return nil, c.noDecision(q, errors.New("no provisioning server configured"))
	}
	tctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	iq := xmpp.NewElement("", "iq", "type", "get", "to", to.String()).Add(q.q.Element())
	res, err := c.sess.SendIQ(tctx, iq)
	if err != nil {
		var se *xmpp.StanzaError
		if errors.As(err, &se) {
			// Not wrapped: a caller that passes stanza errors on as they
			// are must not tell the requester about our server's troubles.
			return nil, c.noDecision(q, errors.New(se.Error()))
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", c.opts.Timeout, err)
		}
		return nil, c.noDecision(q, err)
	}
	if !c.fromServer(res) {
		return nil, c.noDecision(q, fmt.Errorf("%w: answer from %q, not the provisioning server", ErrMalformed, res.Get("from")))
	}
	v, err := parse(res.FirstChild())
	if err != nil {
		return nil, c.noDecision(q, err)
	}
	c.log.Debug("provisioning decision", "question", q.kind, "jid", q.who, "answer", res.FirstChild().String())
	return v, nil
}

func (c *Client) noDecision(q question, cause error) error {
	err := fmt.Errorf("%w: %s about %s, asked %s: %w", ErrNoDecision, q.kind, q.who, c.target(), cause)
	c.log.Warn("provisioning question failed; refusing", "question", q.kind, "jid", q.who, "err", cause)
	return err
}

// Context keys for what a request carries besides the requester's JID.
type (
	tokensKey struct{}
	typesKey  struct{}
)

// WithTokens returns a context carrying the tokens of the request being
// authorised, for CanRead and CanControl to pass on to the server.
func WithTokens(ctx context.Context, t Tokens) context.Context {
	return context.WithValue(ctx, tokensKey{}, t)
}

// WithReadoutTypes returns a context carrying the field types a readout
// request asks for, for CanRead to pass on to the server.
func WithReadoutTypes(ctx context.Context, t sensors.ReadoutType) context.Context {
	return context.WithValue(ctx, typesKey{}, t)
}

func tokensFrom(ctx context.Context) Tokens {
	t, _ := ctx.Value(tokensKey{}).(Tokens)
	return t
}

func readoutTypesFrom(ctx context.Context) sensors.ReadoutType {
	t, _ := ctx.Value(typesKey{}).(sensors.ReadoutType)
	return t
}

// nodeIDs lists node ids for messages.
func nodeIDs(nodes []NodeRef) string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.NodeID
	}
	return "[" + strings.Join(ids, " ") + "]"
}
