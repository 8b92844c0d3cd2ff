package xmpp

import (
	"context"
	"time"
)

// HandlePing registers the XEP-0199 ping responder on m.
func HandlePing(m *Mux) {
	m.IQ("get", NSPing, "ping", IQFunc(func(context.Context, *Element) (*Element, error) {
		return nil, nil
	}))
}

// Ping sends a XEP-0199 ping to the address to and returns the round-trip
// time. A peer that answers with an error other than service-unavailable
// is alive too (XEP-0199 §4.2), so that error is returned with the time.
func Ping(ctx context.Context, s *Session, to string) (time.Duration, error) {
	iq := NewElement(s.ns(), "iq", "type", "get", "to", to).Add(NewElement(NSPing, "ping"))
	t0 := time.Now()
	_, err := s.SendIQ(ctx, iq)
	return time.Since(t0), err
}
