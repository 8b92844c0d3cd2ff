package iotcontrol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/internal/xmpp"
)

// Authorizer decides which parameters from may set on nodes ("" is the
// device itself). It returns the allowed subset of params; an empty
// subset or an error refuses the whole request (forbidden). The request's
// XEP-0324 tokens are in ctx (TokensFrom). Provisioning
// (XEP-0324) plugs in here; it must not block for long, since it runs on
// the session's reading goroutine.
type Authorizer func(ctx context.Context, from jid.JID, nodes []string, params []string) (allowed []string, err error)

// tokensKey keys the request's XEP-0324 tokens in the context the
// Authorizer gets.
type tokensKey struct{}

// TokensFrom returns the XEP-0324 tokens (serviceToken, deviceToken,
// userToken) of the set or getForm an Authorizer is asked about; ok is
// false outside an Authorizer call.
func TokensFrom(ctx context.Context) (t Tokens, ok bool) {
	t, ok = ctx.Value(tokensKey{}).(Tokens)
	return t, ok
}

// ServerOptions configure a Server. The zero value allows everybody.
type ServerOptions struct {
	// Title is the control form's title; default "Control".
	Title string
	// CanControl is the authorisation hook; nil allows every request.
	CanControl Authorizer
	// Logger receives protocol events; nil discards them.
	Logger *slog.Logger
	// OnSet, when set, is called after each set (IQ, message or form)
	// with its duration and the refusal, if any; for metrics.
	OnSet func(took time.Duration, err error)
}

// Server answers XEP-0325 requests for a control.Controller.
type Server struct {
	ctl  *control.Controller
	opts ServerOptions
	log  *slog.Logger
}

// NewServer returns a server for ctl.
func NewServer(ctl *control.Controller, opts ServerOptions) *Server {
	if opts.Title == "" {
		opts.Title = "Control"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{ctl: ctl, opts: opts, log: opts.Logger}
}

// Features returns the service discovery features of XEP-0325.
func (s *Server) Features() []string { return []string{NS} }

// Register routes set (IQ and message) and getForm on mux. They run on
// one goroutine of their own, in arrival order (sets apply in the order
// they came), so that the authorisation hook may ask a provisioning
// server and wait for its answer.
func (s *Server) Register(mux *xmpp.Mux) {
	h := xmpp.Serial(xmpp.HandlerFunc(s.handle), 64)
	mux.IQ("set", NS, "set", h)
	mux.IQ("get", NS, "getForm", h)
	mux.Message(NS, "set", h)
}

func (s *Server) handle(ctx context.Context, sess *xmpp.Session, st *xmpp.Element) error {
	switch {
	case st.Name.Local == "message":
		return s.handleSetMessage(ctx, sess, st)
	case st.Get("type") == "get":
		return xmpp.IQFunc(s.handleGetForm).HandleStanza(ctx, sess, st)
	default:
		return s.handleSetIQ(ctx, sess, st)
	}
}

// Fault is a refused request as XEP-0325 reports it: a stanza error and
// the paramError elements naming the parameters at fault.
type Fault struct {
	*xmpp.StanzaError
	Params []ParamError
}

// Error describes the fault.
func (f *Fault) Error() string {
	msg := f.StanzaError.Error()
	for _, p := range f.Params {
		msg += fmt.Sprintf("; %s: %s", p.Var, p.Text)
	}
	return msg
}

// Unwrap returns the stanza error.
func (f *Fault) Unwrap() error { return f.StanzaError }

// Texts of paramError elements, as XEP-0325 §3 words them.
const (
	TextWrongType  = "Invalid parameter type."
	TextWrongValue = "Invalid parameter value."
	TextNotFound   = "Parameter not found."
	TextLocked     = "Parameter locked."
)

// reply sends the error reply for a fault: the stanza error with every
// paramError appended (xmpp.StanzaError carries only one application
// element, so the reply is built here).
func reply(ctx context.Context, sess *xmpp.Session, st *xmpp.Element, f *Fault) error {
	r := xmpp.ErrorReply(st, f.StanzaError)
	if e := r.Child("", "error"); e != nil {
		for _, p := range f.Params {
			e.Add(p.Element())
		}
	}
	return sess.Send(ctx, r)
}

func (s *Server) handleSetIQ(ctx context.Context, sess *xmpp.Session, iq *xmpp.Element) error {
	from, _ := jid.Parse(iq.Get("from"))
	resp, err := s.Apply(ctx, from, "iq", iq.FirstChild())
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return reply(ctx, sess, iq, f)
		}
		return err
	}
	return sess.Send(ctx, xmpp.ResultIQ(iq, resp.Element()))
}

func (s *Server) handleSetMessage(ctx context.Context, _ *xmpp.Session, msg *xmpp.Element) error {
	if msg.Get("type") == "error" {
		return nil
	}
	from, _ := jid.Parse(msg.Get("from"))
	// No response to a message, whatever happens (XEP-0325 §3.1); the
	// audit log has the outcome.
	_, err := s.Apply(ctx, from, "message", msg.Child(NS, "set"))
	return err
}

// Apply performs a <set/> from from and returns the setResponse, or a
// *Fault saying why nothing was set. via names the transport in the audit
// log ("iq" or "message").
func (s *Server) Apply(ctx context.Context, from jid.JID, via string, el *xmpp.Element) (SetResponse, error) {
	if s.opts.OnSet == nil {
		return s.apply(ctx, from, via, el)
	}
	start := time.Now()
	resp, err := s.apply(ctx, from, via, el)
	s.opts.OnSet(time.Since(start), err)
	return resp, err
}

func (s *Server) apply(ctx context.Context, from jid.JID, via string, el *xmpp.Element) (SetResponse, error) {
	set, err := DecodeSet(el)
	if err != nil {
		s.ctl.Refuse(control.Request{From: from.String(), Via: via}, err.Error())
		return SetResponse{}, &Fault{StanzaError: xmpp.NewStanzaError("modify", "bad-request", err.Error())}
	}
	if set.Form != nil {
		via += "/form"
	}
	req, nodes, fault := s.resolve(set)
	req.From, req.Via = from.String(), via
	if fault != nil {
		s.ctl.Refuse(req, fault.Error())
		return SetResponse{}, fault
	}
	resp := SetResponse{}
	if s.opts.CanControl != nil {
		names := paramNames(req.Changes)
		allowed, err := s.opts.CanControl(context.WithValue(ctx, tokensKey{}, set.Tokens), from, nodes, names)
		if err == nil && len(allowed) == 0 {
			err = errors.New("no parameter allowed")
		}
		if err != nil {
			s.ctl.Refuse(req, "not authorised: "+err.Error())
			return SetResponse{}, &Fault{StanzaError: xmpp.NewStanzaError("cancel", "forbidden", "Access denied.")}
		}
		if len(allowed) < len(names) {
			var kept, refused []control.Change
			for _, ch := range req.Changes {
				if slices.Contains(allowed, ch.Name) {
					kept = append(kept, ch)
				} else {
					refused = append(refused, ch)
				}
			}
			s.ctl.Refuse(control.Request{From: req.From, Via: req.Via, Changes: refused}, "not authorised for this parameter")
			req.Changes = kept
			for _, n := range nodes {
				if n != "" {
					resp.Nodes = append(resp.Nodes, NodeRef{NodeID: n})
				}
			}
			resp.Params = paramNames(kept)
		}
	}
	if err := s.ctl.Set(ctx, req); err != nil {
		var se *control.SetError
		if errors.As(err, &se) {
			return SetResponse{}, faultOf(se)
		}
		return SetResponse{}, &Fault{StanzaError: xmpp.NewStanzaError("cancel", "internal-server-error", err.Error())}
	}
	return resp, nil
}

// paramNames lists the distinct parameter names of changes, in order.
func paramNames(chs []control.Change) []string {
	var out []string
	for _, ch := range chs {
		if !slices.Contains(out, ch.Name) {
			out = append(out, ch.Name)
		}
	}
	return out
}

func (s *Server) handleGetForm(ctx context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	g, err := DecodeGetForm(iq.FirstChild())
	if err != nil {
		return nil, xmpp.NewStanzaError("modify", "bad-request", err.Error())
	}
	var nodes []string
	for _, n := range g.Nodes {
		if !slices.Contains(s.ctl.Nodes(), n.NodeID) {
			return nil, xmpp.NewStanzaError("cancel", "item-not-found", "Node not found: "+n.NodeID)
		}
		nodes = append(nodes, n.NodeID)
	}
	params, pages := s.formParams(nodes)
	if s.opts.CanControl != nil {
		// The form lists only what the requester may set.
		from, _ := jid.Parse(iq.Get("from"))
		var names []string
		for _, p := range params[:len(params)-1] {
			names = append(names, p.Name)
		}
		allowed, err := s.opts.CanControl(context.WithValue(ctx, tokensKey{}, g.Tokens), from, nodes, names)
		if err != nil || len(allowed) == 0 {
			return nil, xmpp.NewStanzaError("cancel", "forbidden", "Access denied.")
		}
		var keptP []FormParam
		var keptPages []string
		for i, p := range params {
			if i == len(params)-1 || slices.Contains(allowed, p.Name) {
				keptP, keptPages = append(keptP, p), append(keptPages, pages[i])
			}
		}
		params, pages = keptP, keptPages
	}
	title := s.opts.Title
	if len(g.Nodes) > 0 {
		title = ""
		for i, n := range nodes {
			if i > 0 {
				title += ", "
			}
			title += n
		}
	}
	return BuildForm(title, params, pages), nil
}

// formParams lists the parameters common to nodes (all parameters, each
// name once, when nodes is empty), then the override duration.
func (s *Server) formParams(nodes []string) ([]FormParam, []string) {
	var params []FormParam
	var pages []string
	seen := map[string]bool{}
	for _, p := range s.ctl.Params() {
		if seen[p.Name] {
			continue
		}
		if len(nodes) > 0 {
			if p.Node != nodes[0] {
				continue
			}
			common := true
			for _, n := range nodes[1:] {
				if q, ok := s.ctl.Lookup(n, p.Name); !ok || q.Type != p.Type {
					common = false
				}
			}
			if !common {
				continue
			}
		}
		seen[p.Name] = true
		fp := FormParam{Param: p}
		if len(nodes) <= 1 {
			fp.Value, _ = s.ctl.Get(p.Node, p.Name)
		}
		params = append(params, fp)
		page := p.Node
		if page == "" {
			page = s.opts.Title
		}
		pages = append(pages, page)
	}
	params = append(params, FormParam{Param: control.Param{
		Name: OverrideParam, Type: control.TypeDuration, Label: "Revert after",
		Desc: "Makes the other parameters of this set a timed override: they return to their previous values after this long.",
		Min:  control.Duration(time.Second), Max: control.Duration(7 * 24 * time.Hour),
	}})
	pages = append(pages, "Timed override")
	return params, pages
}
