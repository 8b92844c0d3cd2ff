package sensordata

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// NS is the XEP-0323 namespace, also its service discovery feature.
const NS = "urn:xmpp:iot:sensordata"

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("sensordata: malformed element")

// NodeRef names a node behind a JID: the node id, and for large subsystems
// (XEP-0326 concentrators) the data source and cache type that disambiguate
// it.
type NodeRef struct {
	NodeID    string
	SourceID  string
	CacheType string
}

// String returns the node id, qualified by source and cache type when set.
func (n NodeRef) String() string {
	s := n.NodeID
	if n.SourceID != "" {
		s = n.SourceID + "/" + s
	}
	if n.CacheType != "" {
		s += " (" + n.CacheType + ")"
	}
	return s
}

func (n NodeRef) setAttrs(e *xmpp.Element) {
	e.Attr = append(e.Attr, attr("nodeId", n.NodeID))
	e.Set("sourceId", n.SourceID)
	e.Set("cacheType", n.CacheType)
}

func parseNodeRef(e *xmpp.Element) (NodeRef, error) {
	n := NodeRef{NodeID: e.Get("nodeId"), SourceID: e.Get("sourceId"), CacheType: e.Get("cacheType")}
	if !e.Has("nodeId") {
		return n, fmt.Errorf("%w: %s without nodeId", ErrMalformed, e.Name.Local)
	}
	return n, nil
}

// Request is a readout request, the req element: which nodes, fields and
// field types the client wants, an optional time range for historical
// values, an optional time to perform the readout, and XEP-0324
// provisioning tokens. Nodes and Fields empty mean all.
type Request struct {
	SeqNr  int32
	Nodes  []NodeRef
	Fields []string
	// Types is the union of requested field types; the zero set is read as
	// every type, since a request that asks for nothing is pointless.
	Types    sensors.ReadoutType
	From, To time.Time // zero: unbounded
	When     time.Time // zero: now
	// Provisioning tokens (XEP-0324), passed through untouched.
	ServiceToken, DeviceToken, UserToken string
}

// Element returns the req element. The shorthands all and historical are
// used when Types covers every type or every historical period.
func (r Request) Element() *xmpp.Element {
	e := xmpp.NewElement(NS, "req")
	e.Attr = append(e.Attr, attr("seqnr", strconv.FormatInt(int64(r.SeqNr), 10)))
	types := r.Types & sensors.AllTypes
	switch {
	case types == sensors.AllTypes:
		e.Set("all", "true")
	default:
		if types.Has(sensors.Historical) {
			e.Set("historical", "true")
			types &^= sensors.Historical
		}
		for _, n := range types.Names() {
			e.Set(n, "true")
		}
	}
	if !r.From.IsZero() {
		e.Set("from", formatDateTime(r.From))
	}
	if !r.To.IsZero() {
		e.Set("to", formatDateTime(r.To))
	}
	if !r.When.IsZero() {
		e.Set("when", formatDateTime(r.When))
	}
	e.Set("serviceToken", r.ServiceToken)
	e.Set("deviceToken", r.DeviceToken)
	e.Set("userToken", r.UserToken)
	for _, n := range r.Nodes {
		c := xmpp.NewElement(NS, "node")
		n.setAttrs(c)
		e.Add(c)
	}
	for _, f := range r.Fields {
		c := xmpp.NewElement(NS, "field")
		c.Attr = append(c.Attr, attr("name", f))
		e.Add(c)
	}
	return e
}

// ParseRequest decodes a req element.
func ParseRequest(e *xmpp.Element) (Request, error) {
	var r Request
	if err := expect(e, "req"); err != nil {
		return r, err
	}
	var err error
	if r.SeqNr, err = parseSeqNr(e); err != nil {
		return r, err
	}
	for _, name := range append([]string{"all", "historical"}, sensors.AllTypes.Names()...) {
		v, err := parseBool(e, name)
		if err != nil {
			return r, err
		}
		if v {
			t, _ := sensors.ParseReadoutType(name)
			r.Types |= t
		}
	}
	for _, a := range []struct {
		name string
		t    *time.Time
	}{{"from", &r.From}, {"to", &r.To}, {"when", &r.When}} {
		if !e.Has(a.name) {
			continue
		}
		if *a.t, err = parseDateTime(e.Get(a.name)); err != nil {
			return r, fmt.Errorf("%w: req %s: %v", ErrMalformed, a.name, err)
		}
	}
	if !r.From.IsZero() && !r.To.IsZero() && r.From.After(r.To) {
		return r, fmt.Errorf("%w: req from %s is after to %s", ErrMalformed, e.Get("from"), e.Get("to"))
	}
	r.ServiceToken, r.DeviceToken, r.UserToken = e.Get("serviceToken"), e.Get("deviceToken"), e.Get("userToken")
	for _, c := range e.Children() {
		switch c.Name.Local {
		case "node":
			n, err := parseNodeRef(c)
			if err != nil {
				return r, err
			}
			r.Nodes = append(r.Nodes, n)
		case "field":
			if !c.Has("name") {
				return r, fmt.Errorf("%w: req field without name", ErrMalformed)
			}
			r.Fields = append(r.Fields, c.Get("name"))
		default:
			return r, fmt.Errorf("%w: unexpected element %q in req", ErrMalformed, c.Name.Local)
		}
	}
	return r, nil
}

// Accepted answers a request the device will perform; Queued tells that
// it starts later (a started message follows).
type Accepted struct {
	SeqNr  int32
	Queued bool
}

// Element returns the accepted element.
func (a Accepted) Element() *xmpp.Element {
	e := seqElement("accepted", a.SeqNr)
	if a.Queued {
		e.Set("queued", "true")
	}
	return e
}

// Started tells that a queued readout has begun.
type Started struct{ SeqNr int32 }

// Element returns the started element.
func (s Started) Element() *xmpp.Element { return seqElement("started", s.SeqNr) }

// Done tells that a readout is complete when the last fields or failure
// message did not say so.
type Done struct{ SeqNr int32 }

// Element returns the done element.
func (d Done) Element() *xmpp.Element { return seqElement("done", d.SeqNr) }

// Cancel asks the device to cancel a readout.
type Cancel struct{ SeqNr int32 }

// Element returns the cancel element.
func (c Cancel) Element() *xmpp.Element { return seqElement("cancel", c.SeqNr) }

// Cancelled confirms a cancel.
type Cancelled struct{ SeqNr int32 }

// Element returns the cancelled element.
func (c Cancelled) Element() *xmpp.Element { return seqElement("cancelled", c.SeqNr) }

// Rejected is the pre-0.3 draft's refusal of a request or cancel, sent
// inside an IQ error by slixmpp and other older peers; version 0.3 replaced
// it by RFC 6120 stanza errors. The server sends it beside the RFC 6120
// error so that both kinds of clients understand.
type Rejected struct {
	SeqNr int32
	Text  string
}

// Element returns the rejected element with its error child.
func (r Rejected) Element() *xmpp.Element {
	return seqElement("rejected", r.SeqNr).Add(xmpp.NewElement(NS, "error").AddText(r.Text))
}

// Error implements error, so a client can return a legacy rejection.
func (r Rejected) Error() string {
	return fmt.Sprintf("sensordata: readout %d rejected: %s", r.SeqNr, r.Text)
}

func seqElement(local string, seq int32) *xmpp.Element {
	e := xmpp.NewElement(NS, local)
	e.Attr = append(e.Attr, attr("seqnr", strconv.FormatInt(int64(seq), 10)))
	return e
}
