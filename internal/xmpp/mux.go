package xmpp

import (
	"context"
	"errors"
	"sync"
)

// Handler handles one incoming stanza. For an IQ of type get or set the
// handler either sends the reply itself (and returns nil) or returns an
// error: a *StanzaError becomes that error reply, any other error becomes
// internal-server-error. Handlers run on the session's reading goroutine, in
// order: long work belongs on a goroutine of its own, and a handler must not
// wait for an IQ response (SendIQ) before returning.
type Handler interface {
	HandleStanza(ctx context.Context, s *Session, st *Element) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, s *Session, st *Element) error

// HandleStanza calls f.
func (f HandlerFunc) HandleStanza(ctx context.Context, s *Session, st *Element) error {
	return f(ctx, s, st)
}

// IQFunc adapts a function that returns the payload of the result (nil for
// an empty result) or an error, for request/response IQ handlers.
func IQFunc(f func(ctx context.Context, iq *Element) (*Element, error)) Handler {
	return HandlerFunc(func(ctx context.Context, s *Session, iq *Element) error {
		payload, err := f(ctx, iq)
		if err != nil {
			return err
		}
		return s.Send(ctx, ResultIQ(iq, payload))
	})
}

type iqKey struct {
	typ, space, local string
}

// Mux routes incoming stanzas to handlers: IQs by type and the qualified
// name of their payload, messages by the qualified name of a child (or by
// namespace alone when registered with an empty local name), and presence
// to every presence handler. Its zero value is empty and ready to use.
type Mux struct {
	mu       sync.RWMutex
	iq       map[iqKey]Handler
	iqNS     map[string]bool
	msg      map[iqKey]Handler
	presence []Handler
	route    func(to string) *Mux
}

// Route makes m hand each stanza to the mux f returns for its 'to'
// address, when f returns one other than m: a component serving many JIDs
// (one per device) keeps one mux per JID. With f nil, or when f returns
// nil or m, m handles the stanza itself.
func (m *Mux) Route(f func(to string) *Mux) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.route = f
}

// HandleStanza routes st as the session would; it lets a handler pass a
// stanza on to another mux.
func (m *Mux) HandleStanza(ctx context.Context, s *Session, st *Element) error {
	m.dispatch(ctx, s, st)
	return nil
}

// IQ registers h for IQs of type typ ("get" or "set") whose payload is
// {space}local; an empty local matches the payloads in space that have no
// handler of their own (e.g. to answer unknown commands as a XEP asks).
func (m *Mux) IQ(typ, space, local string, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.iq == nil {
		m.iq, m.iqNS = map[iqKey]Handler{}, map[string]bool{}
	}
	m.iq[iqKey{typ, space, local}] = h
	m.iqNS[space] = true
}

// Message registers h for messages with a child {space}local; an empty
// local matches any child in space.
func (m *Mux) Message(space, local string, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.msg == nil {
		m.msg = map[iqKey]Handler{}
	}
	m.msg[iqKey{"", space, local}] = h
}

// Presence registers h for every presence stanza.
func (m *Mux) Presence(h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.presence = append(m.presence, h)
}

// dispatch routes st. IQ results and errors are handled by the session
// before this.
func (m *Mux) dispatch(ctx context.Context, s *Session, st *Element) {
	m.mu.RLock()
	route := m.route
	m.mu.RUnlock()
	if route != nil {
		if sub := route(st.Get("to")); sub != nil && sub != m {
			sub.dispatch(WithFrom(ctx, st.Get("to")), s, st)
			return
		}
	}
	switch st.Name.Local {
	case "iq":
		typ := st.Get("type")
		if typ != "get" && typ != "set" {
			return
		}
		kids := st.Children()
		if len(kids) != 1 {
			s.replyError(ctx, st, NewStanzaError("modify", "bad-request", "an IQ request carries exactly one payload element"))
			return
		}
		p := kids[0].Name
		m.mu.RLock()
		h := m.iq[iqKey{typ, p.Space, p.Local}]
		if h == nil {
			h = m.iq[iqKey{typ, p.Space, ""}]
		}
		known := m.iqNS[p.Space]
		m.mu.RUnlock()
		if h == nil {
			if known {
				s.replyError(ctx, st, ErrFeatureNotImplemented)
			} else {
				s.replyError(ctx, st, ErrServiceUnavailable)
			}
			return
		}
		if err := h.HandleStanza(ctx, s, st); err != nil {
			s.replyError(ctx, st, err)
		}
	case "message":
		m.mu.RLock()
		var h Handler
		for _, c := range st.Children() {
			if h = m.msg[iqKey{"", c.Name.Space, c.Name.Local}]; h != nil {
				break
			}
			if h = m.msg[iqKey{"", c.Name.Space, ""}]; h != nil {
				break
			}
		}
		m.mu.RUnlock()
		if h != nil {
			if err := h.HandleStanza(ctx, s, st); err != nil {
				s.log.Debug("message handler", "from", st.Get("from"), "err", err)
			}
		}
	case "presence":
		m.mu.RLock()
		hs := append([]Handler(nil), m.presence...)
		m.mu.RUnlock()
		for _, h := range hs {
			if err := h.HandleStanza(ctx, s, st); err != nil {
				s.log.Debug("presence handler", "from", st.Get("from"), "err", err)
			}
		}
	}
}

// ResultIQ returns the result IQ answering iq, with an optional payload.
func ResultIQ(iq *Element, payload *Element) *Element {
	r := NewElement(iq.Name.Space, "iq", "type", "result", "id", iq.Get("id"), "to", iq.Get("from"), "from", iq.Get("to"))
	if payload != nil {
		r.Add(payload)
	}
	return r
}

// ErrorReply returns the error stanza answering st (of any kind), per RFC
// 6120 §8.3: same kind and id, to and from swapped, type error.
func ErrorReply(st *Element, err error) *Element {
	var se *StanzaError
	if !errors.As(err, &se) {
		se = ErrInternalServer
	}
	r := NewElement(st.Name.Space, st.Name.Local, "type", "error", "id", st.Get("id"), "to", st.Get("from"), "from", st.Get("to"))
	r.Add(se.Element(st.Name.Space))
	return r
}

func (s *Session) replyError(ctx context.Context, st *Element, err error) {
	var se *StanzaError
	if !errors.As(err, &se) {
		s.log.Warn("handler failed", "stanza", st.Name.Local, "from", st.Get("from"), "err", err)
	}
	if st.Get("type") == "error" {
		return // never answer an error with an error
	}
	_ = s.Send(ctx, ErrorReply(st, err))
}

type fromKey struct{}

// WithFrom returns a context under which a component session stamps
// stanzas sent without a 'from' with from: handlers of a routed mux (see
// Route) get it for the JID the stanza was addressed to, so that what they
// send comes from that JID.
func WithFrom(ctx context.Context, from string) context.Context {
	return context.WithValue(ctx, fromKey{}, from)
}

// fromContext returns the address set by WithFrom, or "".
func fromContext(ctx context.Context) string {
	f, _ := ctx.Value(fromKey{}).(string)
	return f
}
