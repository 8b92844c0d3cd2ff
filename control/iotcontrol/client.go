package iotcontrol

import (
	"context"
	"errors"
	"fmt"

	"github.com/xiot/xiot/internal/xmpp"
)

// Error is a refused set or getForm as the client sees it: the stanza
// error and the paramError elements of a v0.5.1 device, or the
// responseCode of a 2013-draft device (slixmpp), mapped onto the matching
// stanza error condition.
type Error struct {
	*xmpp.StanzaError
	Params []ParamError
	// ResponseCode is the 2013 draft's code ("NotFound", "Locked", …), ""
	// from v0.5.1 devices.
	ResponseCode string
}

// Error describes the refusal.
func (e *Error) Error() string {
	msg := "iotcontrol: " + e.StanzaError.Error()
	if e.ResponseCode != "" {
		msg += " (responseCode " + e.ResponseCode + ")"
	}
	for _, p := range e.Params {
		msg += fmt.Sprintf("; %s: %s", p.Var, p.Text)
	}
	return msg
}

// Unwrap returns the stanza error.
func (e *Error) Unwrap() error { return e.StanzaError }

// legacyCodes maps the 2013 draft's response codes to the stanza errors
// XEP-0325 v0.3 replaced them with.
var legacyCodes = map[string][2]string{
	"NotFound":               {"cancel", "item-not-found"},
	"InsufficientPrivileges": {"cancel", "forbidden"},
	"Locked":                 {"wait", "conflict"},
	"NotImplemented":         {"cancel", "feature-not-implemented"},
	"FormError":              {"modify", "bad-request"},
	"OtherError":             {"cancel", "undefined-condition"},
}

// parseError reads an error response to a set or getForm, in either form.
func parseError(res *xmpp.Element, err error) error {
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || res == nil {
		return err
	}
	e := &Error{StanzaError: se}
	if el := res.Child("", "error"); el != nil {
		for _, c := range el.Children() {
			if c.Name.Space == NS && c.Name.Local == "paramError" {
				e.Params = append(e.Params, ParamError{Var: c.Get("var"), Text: c.Text()})
			}
		}
	}
	if sr := res.Child(NS, "setResponse"); sr != nil {
		e.ResponseCode = sr.Get("responseCode")
		if m, ok := legacyCodes[e.ResponseCode]; ok && se.Condition == "undefined-condition" {
			e.StanzaError = &xmpp.StanzaError{Type: m[0], Condition: m[1], Text: se.Text}
		}
		if el := sr.Child(NS, "error"); el != nil {
			e.Params = append(e.Params, ParamError{Var: el.Get("var"), Text: el.Text()})
			if e.StanzaError.Text == "" {
				e.StanzaError.Text = el.Text()
			}
		}
	}
	return e
}

// Set sends set to the entity to in an IQ and waits for its setResponse.
// A refusal is returned as an *Error.
func Set(ctx context.Context, s *xmpp.Session, to string, set SetRequest) (SetResponse, error) {
	iq := xmpp.NewElement("", "iq", "type", "set", "to", to).Add(set.Element())
	res, err := s.SendIQ(ctx, iq)
	if err != nil {
		return SetResponse{}, fmt.Errorf("set on %s: %w", to, parseError(res, err))
	}
	sr := res.Child(NS, "setResponse")
	if sr == nil {
		// Some devices answer with an empty result; that is a success too.
		return SetResponse{}, nil
	}
	r, err := DecodeSetResponse(sr)
	if err != nil {
		return r, fmt.Errorf("set on %s: %w", to, err)
	}
	if r.ResponseCode != "" && r.ResponseCode != "OK" {
		return r, fmt.Errorf("set on %s: %w", to, parseError(res, &xmpp.StanzaError{Type: "cancel", Condition: "undefined-condition"}))
	}
	return r, nil
}

// Send sends set to the entity to in a message: fire and forget, the
// device answers nothing whatever the outcome.
func Send(ctx context.Context, s *xmpp.Session, to string, set SetRequest) error {
	msg := xmpp.NewElement("", "message", "to", to).Add(set.Element())
	if err := s.Send(ctx, msg); err != nil {
		return fmt.Errorf("set message to %s: %w", to, err)
	}
	return nil
}

// FetchForm asks the entity to for its control form (for nodes, if any).
func FetchForm(ctx context.Context, s *xmpp.Session, to string, nodes ...NodeRef) (Form, error) {
	iq := xmpp.NewElement("", "iq", "type", "get", "to", to).Add(GetForm{Nodes: nodes}.Element())
	res, err := s.SendIQ(ctx, iq)
	if err != nil {
		return Form{}, fmt.Errorf("getForm from %s: %w", to, parseError(res, err))
	}
	x := res.Child(NSData, "x")
	if x == nil {
		return Form{}, fmt.Errorf("getForm from %s: %w: no data form in the result", to, ErrMalformed)
	}
	f, err := ParseForm(x)
	if err != nil {
		return f, fmt.Errorf("getForm from %s: %w", to, err)
	}
	return f, nil
}
