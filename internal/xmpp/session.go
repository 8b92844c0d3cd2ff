package xmpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"
)

// Session is one logical XMPP session, client or component, kept alive
// across connections. Its methods are safe for concurrent use.
type Session struct {
	cfg Config
	mux *Mux
	log *slog.Logger
	sm  smState

	smu sync.Mutex // serializes queueing and writing of stanzas

	mu       sync.Mutex
	st       *stream
	local    jid.JID
	waiters  map[string]waiter
	onlineCh chan struct{} // closed while online
	ackTimer *time.Timer
	ackDue   *stream // a stream whose server asked for an <a/> not sent yet
	closed   bool
	mech     string // SASL mechanism of the last login

	tlsSessions tls.ClientSessionCache // TLS session resumption across reconnections
	ids         *idGen                 // IDs of our own stanzas

	bytesOut   atomic.Int64
	bytesIn    atomic.Int64
	reconnects atomic.Int64
	resent     atomic.Int64
}

// New returns a session for cfg that routes incoming stanzas through mux
// (nil for none). It does not connect: call Run or Connect.
func New(cfg Config, mux *Mux) *Session {
	cfg.defaults()
	if mux == nil {
		mux = &Mux{}
	}
	s := &Session{cfg: cfg, mux: mux, log: cfg.Logger, waiters: map[string]waiter{}, onlineCh: make(chan struct{}),
		tlsSessions: tls.NewLRUClientSessionCache(4), ids: newIDGen()}
	s.sm.max = cfg.MaxQueue
	return s
}

// LocalJID returns the address the server bound for us (the component
// domain for a component); zero before the first connection.
func (s *Session) LocalJID() jid.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local
}

func (s *Session) setLocal(j jid.JID) {
	s.mu.Lock()
	s.local = j
	s.mu.Unlock()
}

// Mechanism returns the SASL mechanism of the last successful
// authentication ("" before the first, and for components).
func (s *Session) Mechanism() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mech
}

// Component reports whether s is a XEP-0114 component session.
func (s *Session) Component() bool { return s.cfg.Component }

// BytesOut returns the bytes of XML or EXI written to the server (above
// TLS) so far: with XEP-0322, the compressed size.
func (s *Session) BytesOut() int64 { return s.bytesOut.Load() }

// Reconnects returns how many times the session has reconnected.
func (s *Session) Reconnects() int64 { return s.reconnects.Load() }

// Resent returns how many stanzas were sent again after a reconnection:
// unacknowledged ones after a XEP-0198 resumption, and those queued while
// offline.
func (s *Session) Resent() int64 { return s.resent.Load() }

func (s *Session) countOut(n int) { s.bytesOut.Add(int64(n)) }

// BytesIn returns the bytes of XML or EXI read from the server (above TLS),
// over all connections.
func (s *Session) BytesIn() int64 { return s.bytesIn.Load() }

func (s *Session) countIn(n int) { s.bytesIn.Add(int64(n)) }

// Online returns a channel that is closed while the session is connected.
func (s *Session) Online() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onlineCh
}

// Connect makes one connection attempt and, on success, serves it in the
// background until it drops or Close is called. Command-line tools use it;
// daemons use Run, which reconnects.
func (s *Session) Connect(ctx context.Context) error {
	st, err := s.connect(ctx)
	if err != nil {
		return err
	}
	// The stream outlives the context of the connection attempt.
	go func() { _ = s.serve(context.WithoutCancel(ctx), st) }()
	return nil
}

// Run connects and keeps the session connected until ctx is done,
// reconnecting with capped exponential backoff and jitter, and resuming the
// stream when the server allows it. It returns ctx.Err() when ctx ends, or
// an *AuthError when the server refuses the credentials, or ErrNoEXI when
// the EXI alternative binding meets an XML port (retrying would not help).
func (s *Session) Run(ctx context.Context) error {
	// The reading loop blocks on the network: ending ctx closes the
	// session so that it returns.
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	delay := s.cfg.ReconnectMin
	for attempt := 0; ; attempt++ {
		st, err := s.connect(ctx)
		if err == nil {
			delay = s.cfg.ReconnectMin
			err = s.serve(ctx, st)
		}
		if ctx.Err() != nil {
			s.Close()
			return ctx.Err()
		}
		var ae *AuthError
		if errors.As(err, &ae) || errors.Is(err, ErrNoEXI) {
			// Retrying cannot help: wrong credentials, or a port that
			// does not speak the EXI alternative binding (XEP-0322 §2.2).
			return err
		}
		if s.isClosed() {
			return ErrClosed
		}
		wait := jitter(delay)
		s.log.Warn("XMPP connection lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-time.After(wait):
		}
		s.reconnects.Add(1)
		delay = min(delay*2, s.cfg.ReconnectMax)
	}
}

// jitter spreads d by ±25 % so that a fleet does not reconnect in step.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// connect dials and negotiates a stream, then makes it current and sends
// what is queued.
func (s *Session) connect(ctx context.Context) (*stream, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, secure, err := s.dial(dctx)
	if err != nil {
		return nil, err
	}
	// Negotiation reads block; a dead server must not hang us.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	defer stop()
	var st *stream
	resumed := false
	if s.cfg.Component {
		st, err = s.negotiateComponent(conn)
	} else {
		st, resumed, err = s.negotiateClient(dctx, conn, secure)
	}
	if err != nil {
		if dctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("XMPP negotiation with %s timed out: %w", s.cfg.JID.Domainpart(), err)
		}
		return nil, err
	}
	if !stop() {
		st.close()
		return nil, fmt.Errorf("XMPP negotiation with %s timed out", s.cfg.JID.Domainpart())
	}

	// Send what waited for us: after a resumption, what the server has not
	// acknowledged; after a new session, everything still queued.
	s.smu.Lock()
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	pending := s.sm.pending()
	var werr error
	if len(pending) > 0 {
		s.resent.Add(int64(len(pending)))
		werr = st.writeElements(pending...)
		if !s.sm.active() {
			s.sm.dropAll()
		}
	}
	s.smu.Unlock()
	if werr != nil {
		st.close()
		return nil, werr
	}
	s.mu.Lock()
	close(s.onlineCh)
	s.mu.Unlock()
	s.log.Info("XMPP session online", "jid", s.LocalJID().String(), "resumed", resumed, "stream_management", s.sm.active(), "resent", len(pending),
		"tls_resumed", tlsResumed(st.conn))
	if len(pending) > 0 && s.sm.active() {
		s.requestAck()
	}
	if s.cfg.OnOnline != nil {
		// On its own goroutine: the hook may send IQs and wait for their
		// answers, which the reading loop delivers.
		go s.cfg.OnOnline(ctx, resumed)
	}
	return st, nil
}

// serve reads and dispatches stanzas until the stream ends.
func (s *Session) serve(ctx context.Context, st *stream) error {
	done := make(chan struct{})
	go s.keepalive(st, done)
	err := s.readLoop(ctx, st)
	close(done)
	s.mu.Lock()
	if s.st == st {
		s.st = nil
		s.onlineCh = make(chan struct{})
	}
	s.mu.Unlock()
	var se *StreamError
	switch {
	case errors.As(err, &se) && !isRemote(err):
		s.log.Warn("ending stream", "condition", se.Condition, "text", se.Text)
		st.fail(se)
		// We ended the stream: the server will not keep it for resumption.
		s.sm.resumeFailed("")
	default:
		st.close()
	}
	if isRemote(err) {
		s.sm.resumeFailed("")
	}
	if s.cfg.OnOffline != nil && !s.isClosed() {
		s.cfg.OnOffline(err)
	}
	return err
}

func isRemote(err error) bool {
	var r *remoteStreamError
	return errors.As(err, &r)
}

func (s *Session) readLoop(ctx context.Context, st *stream) error {
	for {
		el, err := st.next()
		if err != nil {
			if err == io.EOF {
				return errors.New("server closed the stream")
			}
			return err
		}
		if el.Name.Space == NSSM {
			s.handleSM(st, el)
			continue
		}
		if el.Name.Space != st.ns || (el.Name.Local != "iq" && el.Name.Local != "message" && el.Name.Local != "presence") {
			s.log.Debug("ignoring unknown top-level element", "name", el.Name.Local, "ns", el.Name.Space)
			continue
		}
		s.dispatch(ctx, el)
		s.sm.handled()
	}
}

func (s *Session) handleSM(st *stream, el *Element) {
	switch el.Name.Local {
	case "r":
		// Answered with the next stanza we send when that comes soon
		// (typically the reply to what the server just delivered), else
		// on its own after ackAnswerDelay: one write, one packet and one
		// TLS record instead of two on a constrained link.
		s.mu.Lock()
		due := s.ackDue == st
		s.ackDue = st
		s.mu.Unlock()
		if !due {
			time.AfterFunc(ackAnswerDelay, func() {
				if a := s.takeAck(st); a != nil {
					_ = st.writeElements(a)
				}
			})
		}
	case "a":
		if h, err := strconv.ParseUint(el.Get("h"), 10, 32); err == nil {
			s.sm.ack(uint32(h))
		}
	}
}

// ackAnswerDelay is how long the answer to the server's <r/> waits for a
// stanza to travel with.
const ackAnswerDelay = 20 * time.Millisecond

// takeAck returns the <a/> answering the server's pending <r/> on st, or
// nil when none is due; the answer then counts as sent.
func (s *Session) takeAck(st *stream) *Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == nil || s.ackDue != st {
		return nil
	}
	s.ackDue = nil
	return NewElement(NSSM, "a", "h", strconv.FormatUint(uint64(s.sm.h()), 10))
}

// waiter is an IQ request waiting for its answer.
type waiter struct {
	to string // the address the request went to
	ch chan *Element
}

// answersLocked reports whether an IQ response from from can answer a
// request sent to to (RFC 6120 §8.1.2.1): the same address, or for a
// request to our own account or server, our bare JID, our server or no
// from at all. The caller holds s.mu.
func (s *Session) answersLocked(to, from string) bool {
	if from == to {
		return true
	}
	local := s.local
	own := to == "" || to == local.Bare().String() || to == local.Domainpart()
	if !own {
		return false
	}
	return from == "" || from == local.Bare().String() || from == local.Domainpart() || from == local.String()
}

func (s *Session) dispatch(ctx context.Context, st *Element) {
	if st.Name.Local == "iq" {
		if t := st.Get("type"); t == "result" || t == "error" {
			id := st.Get("id")
			s.mu.Lock()
			w, ok := s.waiters[id]
			if ok && s.answersLocked(w.to, st.Get("from")) {
				delete(s.waiters, id)
			} else {
				ok = false
			}
			s.mu.Unlock()
			if ok {
				w.ch <- st
			} else {
				s.log.Debug("dropping an IQ response that answers no request of ours", "id", id, "from", st.Get("from"))
			}
			return
		}
	}
	s.mux.dispatch(ctx, s, st)
}

// keepalive pings an idle link and drops one that stays silent.
func (s *Session) keepalive(st *stream, done <-chan struct{}) {
	if s.cfg.Keepalive < 0 {
		return
	}
	tick := time.NewTicker(max(s.cfg.Keepalive/4, 250*time.Millisecond))
	defer tick.Stop()
	pinged := false
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		idle := st.idle()
		switch {
		case idle > s.cfg.Keepalive+s.cfg.PingTimeout:
			s.log.Warn("no data from the server; dropping the connection", "idle", idle.Round(time.Second))
			st.close()
			return
		case idle > s.cfg.Keepalive && !pinged:
			pinged = true
			if s.sm.active() {
				_ = st.writeElements(NewElement(NSSM, "r"))
			} else {
				_ = s.Send(context.Background(), NewElement(st.ns, "iq", "type", "get", "id", s.ids.next(), "to", s.cfg.JID.Domainpart()).Add(NewElement(NSPing, "ping")))
			}
		case idle < s.cfg.Keepalive:
			pinged = false
		}
	}
}

// Send queues a stanza and writes it when connected. v is an *Element or a
// value encoding/xml marshals. While disconnected the stanza waits in the
// queue (bounded by Config.MaxQueue) and is sent after reconnecting; with
// stream management it stays queued until the server acknowledges it.
func (s *Session) Send(ctx context.Context, v any) error {
	return s.SendAll(ctx, v)
}

// SendAll sends several stanzas in one network write, so that a reply and
// the data that follows it travel together.
func (s *Session) SendAll(ctx context.Context, vs ...any) error {
	els := make([]*Element, 0, len(vs))
	for _, v := range vs {
		el, err := Marshal(v)
		if err != nil {
			return err
		}
		if el.Name.Space == "" {
			el.Name.Space = s.ns()
		}
		if s.cfg.Component && el.Get("from") == "" {
			if f := fromContext(ctx); f != "" {
				el.Set("from", f)
			}
		}
		els = append(els, el)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.smu.Lock()
	if s.isClosed() {
		s.smu.Unlock()
		return ErrClosed
	}
	for _, el := range els {
		if !s.sm.push(el) {
			s.smu.Unlock()
			return ErrQueueFull
		}
	}
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if st != nil {
		out := els
		if a := s.takeAck(st); a != nil {
			out = append([]*Element{a}, els...)
		}
		if err := st.writeElements(out...); err != nil {
			// The stanzas stay queued; the reader notices the broken
			// connection and the session reconnects.
			st.close()
		}
		if !s.sm.active() {
			s.sm.dropAll()
		}
	}
	s.smu.Unlock()
	if st != nil && s.sm.active() {
		s.requestAck()
	}
	return nil
}

func (s *Session) ns() string {
	if s.cfg.Component {
		return NSComponent
	}
	return NSClient
}

// requestAck asks the server for an acknowledgement shortly, batching the
// stanzas sent in the meantime.
func (s *Session) requestAck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ackTimer != nil {
		return
	}
	s.ackTimer = time.AfterFunc(100*time.Millisecond, func() {
		s.mu.Lock()
		s.ackTimer = nil
		st := s.st
		s.mu.Unlock()
		if st != nil && s.sm.unacked() > 0 {
			_ = st.writeElements(NewElement(NSSM, "r"))
		}
	})
}

// SendIQ sends an IQ of type get or set and waits for its result or error.
// An error response is returned as a *StanzaError. An empty id is filled in.
func (s *Session) SendIQ(ctx context.Context, iq *Element) (*Element, error) {
	id := iq.Get("id")
	if id == "" {
		id = s.ids.next()
		iq.Set("id", id)
	}
	ch := make(chan *Element, 1)
	s.mu.Lock()
	s.waiters[id] = waiter{to: iq.Get("to"), ch: ch}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, id)
		s.mu.Unlock()
	}()
	if err := s.Send(ctx, iq); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Get("type") == "error" {
			return res, ParseStanzaError(res)
		}
		return res, nil
	}
}

// Close ends the stream gracefully and stops the session. Stanzas still
// queued are dropped.
func (s *Session) Close() error {
	s.smu.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.smu.Unlock()
		return nil
	}
	s.closed = true
	st := s.st
	s.mu.Unlock()
	s.smu.Unlock()
	if st != nil {
		if s.sm.active() {
			_ = st.writeElements(NewElement(NSSM, "a", "h", strconv.FormatUint(uint64(s.sm.h()), 10)))
		}
		st.closeGracefully()
	}
	return nil
}

// CutConnection closes the current network connection without ending the
// stream, as a dropped link would. It exists for tests of resumption.
func (s *Session) CutConnection() {
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if st != nil {
		_ = st.conn.Close()
	}
}

// tlsResumed reports whether c is a TLS connection whose handshake resumed
// an earlier session.
func tlsResumed(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return ok && tc.ConnectionState().DidResume
}
