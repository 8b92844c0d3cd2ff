package xmpp

import (
	"errors"
	"fmt"
)

// StanzaError is an RFC 6120 §8.3 stanza error: a type (auth, cancel,
// continue, modify, wait), a defined condition and optional text. Handlers
// return it to have the router answer with an error stanza.
type StanzaError struct {
	Type      string // "cancel", "modify", "auth", "wait" or "continue"
	Condition string // e.g. "service-unavailable", "bad-request"
	Text      string
	// App is an optional application-specific condition element.
	App *Element
}

// Error implements error.
func (e *StanzaError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("stanza error %s/%s: %s", e.Type, e.Condition, e.Text)
	}
	return fmt.Sprintf("stanza error %s/%s", e.Type, e.Condition)
}

// Element returns the <error/> child element for e.
func (e *StanzaError) Element(ns string) *Element {
	el := NewElement(ns, "error", "type", e.Type)
	el.Add(NewElement(NSStanzaErr, e.Condition))
	if e.Text != "" {
		el.Add(NewElement(NSStanzaErr, "text", "xml:lang", "").AddText(e.Text))
	}
	if e.App != nil {
		el.Add(e.App)
	}
	return el
}

// Common stanza errors.
var (
	ErrServiceUnavailable    = &StanzaError{Type: "cancel", Condition: "service-unavailable"}
	ErrFeatureNotImplemented = &StanzaError{Type: "cancel", Condition: "feature-not-implemented"}
	ErrBadRequest            = &StanzaError{Type: "modify", Condition: "bad-request"}
	ErrItemNotFound          = &StanzaError{Type: "cancel", Condition: "item-not-found"}
	ErrForbidden             = &StanzaError{Type: "auth", Condition: "forbidden"}
	ErrInternalServer        = &StanzaError{Type: "cancel", Condition: "internal-server-error"}
)

// NewStanzaError returns a stanza error with a text.
func NewStanzaError(typ, condition, text string) *StanzaError {
	return &StanzaError{Type: typ, Condition: condition, Text: text}
}

// ParseStanzaError reads the <error/> child of an error stanza. It returns
// a StanzaError with condition "undefined-condition" when the child is
// missing or has no defined condition (some peers send such errors).
func ParseStanzaError(st *Element) *StanzaError {
	se := &StanzaError{Type: "cancel", Condition: "undefined-condition"}
	el := st.Child("", "error")
	if el == nil {
		return se
	}
	if t := el.Get("type"); t != "" {
		se.Type = t
	}
	for _, c := range el.Children() {
		if c.Name.Space != NSStanzaErr {
			se.App = c
			continue
		}
		if c.Name.Local == "text" {
			se.Text = c.Text()
		} else {
			se.Condition = c.Name.Local
		}
	}
	return se
}

// StreamError is an RFC 6120 §4.9 stream error, sent or received.
type StreamError struct {
	Condition string // e.g. "not-well-formed", "policy-violation", "conflict"
	Text      string
}

// Error implements error.
func (e *StreamError) Error() string {
	if e.Text != "" {
		return "stream error " + e.Condition + ": " + e.Text
	}
	return "stream error " + e.Condition
}

func (e *StreamError) element() *Element {
	el := NewElement(NSStream, "error")
	el.Add(NewElement(NSStreamErr, e.Condition))
	if e.Text != "" {
		el.Add(NewElement(NSStreamErr, "text").AddText(e.Text))
	}
	return el
}

func parseStreamError(el *Element) *StreamError {
	se := &StreamError{Condition: "undefined-condition"}
	for _, c := range el.Children() {
		if c.Name.Space != NSStreamErr {
			continue
		}
		if c.Name.Local == "text" {
			se.Text = c.Text()
		} else {
			se.Condition = c.Name.Local
		}
	}
	return se
}

// AuthError reports that the server refused our credentials. It is not
// retried by reconnection: a wrong password stays wrong.
type AuthError struct {
	JID       string
	Mechanism string
	Condition string // SASL failure condition, e.g. "not-authorized"
	Text      string
}

// Error implements error.
func (e *AuthError) Error() string {
	msg := fmt.Sprintf("authentication of %s with %s failed: %s", e.JID, e.Mechanism, e.Condition)
	if e.Condition == "not-authorized" {
		msg += " (wrong user name or password?)"
	}
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// Sentinel errors callers branch on.
var (
	ErrNoMechanism = errors.New("xmpp: no acceptable SASL mechanism offered (SCRAM-SHA-256, SCRAM-SHA-1; PLAIN only over TLS when allowed)")
	ErrNoTLS       = errors.New("xmpp: server does not offer STARTTLS and TLS is required")
	ErrClosed      = errors.New("xmpp: session closed")
	ErrQueueFull   = errors.New("xmpp: outgoing queue full while disconnected")
)
