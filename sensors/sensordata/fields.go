package sensordata

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// Dialect selects how field values are written.
type Dialect uint8

const (
	// Current is XEP-0323 version 0.6, as published.
	Current Dialect = iota
	// Legacy is the 2013 draft slixmpp's xep_0323 plugin speaks: only the
	// numeric, string, boolean, dateTime, timeSpan and enum elements exist.
	// Values of the types added in 0.3 are written as the closest older
	// element: duration as timeSpan, int and long as numeric without
	// unit, date as dateTime at midnight, time as string.
	Legacy
)

// Fields carries readout results, the fields element: the fields of one
// or more nodes, grouped on the wire by node and timestamp. Done marks the
// last message of the readout.
type Fields struct {
	SeqNr  int32
	Done   bool
	Fields []sensors.Field
	// Refs gives the source id and cache type of nodes that have them,
	// keyed by node id; nil when no node has.
	Refs map[string]NodeRef
}

// Element returns the fields element in the current dialect.
func (f Fields) Element() *xmpp.Element { return f.ElementFor(Current) }

// ElementFor returns the fields element in dialect d. Consecutive fields of
// the same node share a node element, and consecutive fields of that node
// with the same timestamp share a timestamp element.
func (f Fields) ElementFor(d Dialect) *xmpp.Element {
	e := seqElement("fields", f.SeqNr)
	if f.Done {
		e.Set("done", "true")
	}
	var node, ts *xmpp.Element
	var nodeID string
	var stamp time.Time
	for _, fl := range f.Fields {
		if node == nil || fl.Node != nodeID {
			nodeID = fl.Node
			node = xmpp.NewElement(NS, "node")
			ref := f.Refs[nodeID]
			ref.NodeID = nodeID
			ref.setAttrs(node)
			e.Add(node)
			ts = nil
		}
		if ts == nil || !fl.Timestamp.Equal(stamp) {
			stamp = fl.Timestamp
			ts = xmpp.NewElement(NS, "timestamp")
			ts.Attr = append(ts.Attr, attr("value", formatDateTime(stamp)))
			node.Add(ts)
		}
		ts.Add(fieldElement(fl, d))
	}
	return e
}

// fieldElement writes one field; its element is named after the value kind.
func fieldElement(f sensors.Field, d Dialect) *xmpp.Element {
	v := f.Value
	kind := v.Kind()
	local, text := kind.String(), f.Text()
	if d == Legacy {
		switch kind {
		case sensors.KindDuration:
			local = "timeSpan"
		case sensors.KindInt, sensors.KindLong:
			local = "numeric"
		case sensors.KindDate:
			t, _ := v.Time()
			y, m, dd := t.Date()
			local, text = "dateTime", formatDateTime(time.Date(y, m, dd, 0, 0, 0, 0, t.Location()))
		case sensors.KindTime:
			local = "string"
		}
	}
	e := xmpp.NewElement(NS, local)
	e.Attr = append(e.Attr, attr("name", f.Name))
	for _, n := range f.Types.Names() {
		e.Set(n, "true")
	}
	for _, n := range f.QoS.Names() {
		e.Set(n, "true")
	}
	if f.Writable {
		e.Set("writable", "true")
	}
	e.Attr = append(e.Attr, attr("value", text))
	if local == "numeric" {
		e.Attr = append(e.Attr, attr("unit", f.Unit)) // required, even if empty
	}
	if kind == sensors.KindEnum {
		e.Attr = append(e.Attr, attr("dataType", v.DataType()))
	}
	return e
}

// ParseFields decodes a fields element. Localisation attributes (module,
// stringIds) are dropped; the number of decimals of numeric values comes
// from their text. Elements of unknown value types are skipped, as a later
// version may add types.
func ParseFields(e *xmpp.Element) (Fields, error) {
	var f Fields
	if err := expect(e, "fields"); err != nil {
		return f, err
	}
	var err error
	if f.SeqNr, err = parseSeqNr(e); err != nil {
		return f, err
	}
	if f.Done, err = parseBool(e, "done"); err != nil {
		return f, err
	}
	for _, n := range e.Children() {
		if n.Name.Local != "node" {
			return f, fmt.Errorf("%w: unexpected element %q in fields", ErrMalformed, n.Name.Local)
		}
		ref, err := parseNodeRef(n)
		if err != nil {
			return f, err
		}
		if ref.SourceID != "" || ref.CacheType != "" {
			if f.Refs == nil {
				f.Refs = map[string]NodeRef{}
			}
			f.Refs[ref.NodeID] = ref
		}
		for _, ts := range n.Children() {
			if ts.Name.Local != "timestamp" {
				return f, fmt.Errorf("%w: unexpected element %q in node %q", ErrMalformed, ts.Name.Local, ref.NodeID)
			}
			stamp, err := parseDateTime(ts.Get("value"))
			if err != nil {
				return f, fmt.Errorf("%w: timestamp of node %q: %v", ErrMalformed, ref.NodeID, err)
			}
			for _, fe := range ts.Children() {
				fl, ok, err := parseField(fe, ref.NodeID, stamp)
				if err != nil {
					return f, err
				}
				if ok {
					f.Fields = append(f.Fields, fl)
				}
			}
		}
	}
	return f, nil
}

func parseField(e *xmpp.Element, node string, ts time.Time) (sensors.Field, bool, error) {
	local := e.Name.Local
	if local == "timeSpan" {
		local = "duration"
	}
	kind, err := sensors.ParseKind(local)
	if err != nil {
		return sensors.Field{}, false, nil // a value type we do not know
	}
	f := sensors.Field{Node: node, Name: e.Get("name"), Timestamp: ts}
	bad := func(format string, args ...any) (sensors.Field, bool, error) {
		return f, false, fmt.Errorf("%w: %s field %q of node %q: %s", ErrMalformed, e.Name.Local, f.Name, node, fmt.Sprintf(format, args...))
	}
	if !e.Has("name") {
		return bad("no name")
	}
	if !e.Has("value") {
		return bad("no value")
	}
	v, dec, err := sensors.ParseValue(kind, e.Get("value"))
	if err != nil {
		return bad("%v", err)
	}
	if kind == sensors.KindEnum {
		text, _ := v.Text()
		v = sensors.Enum(text, e.Get("dataType"))
	}
	f.Value, f.Decimals = v, min(dec, 15)
	if kind == sensors.KindNumeric {
		f.Unit = e.Get("unit")
	}
	for _, n := range sensors.AllTypes.Names() {
		on, err := parseBool(e, n)
		if err != nil {
			return bad("%v", err)
		}
		if on {
			t, _ := sensors.ParseReadoutType(n)
			f.Types |= t
		}
	}
	for i := 0; sensors.QoS(1)<<i <= sensors.QoSInvoiceConfirmed; i++ {
		q := sensors.QoS(1) << i
		on, err := parseBool(e, q.String())
		if err != nil {
			return bad("%v", err)
		}
		if on {
			f.QoS |= q
		}
	}
	if f.Writable, err = parseBool(e, "writable"); err != nil {
		return bad("%v", err)
	}
	return f, true, nil
}

// NodeError is one error of a failure: the node that failed, when, and
// why, in words for a person.
type NodeError struct {
	Node      NodeRef
	Timestamp time.Time
	Text      string
}

// Error implements error.
func (e NodeError) Error() string { return "node " + e.Node.String() + ": " + e.Text }

// Failure reports that a readout, or part of it, failed: one error per
// failing node. Done marks the last message of the readout.
type Failure struct {
	SeqNr  int32
	Done   bool
	Errors []NodeError
}

// Element returns the failure element.
func (f Failure) Element() *xmpp.Element {
	e := seqElement("failure", f.SeqNr)
	if f.Done {
		e.Set("done", "true")
	}
	for _, ne := range f.Errors {
		c := xmpp.NewElement(NS, "error")
		ne.Node.setAttrs(c)
		c.Attr = append(c.Attr, attr("timestamp", formatDateTime(ne.Timestamp)))
		e.Add(c.AddText(ne.Text))
	}
	return e
}

// ParseFailure decodes a failure element. The schema types the error
// timestamp as a plain string: one that is not an xs:dateTime is kept as
// the zero time rather than refused.
func ParseFailure(e *xmpp.Element) (Failure, error) {
	var f Failure
	if err := expect(e, "failure"); err != nil {
		return f, err
	}
	var err error
	if f.SeqNr, err = parseSeqNr(e); err != nil {
		return f, err
	}
	if f.Done, err = parseBool(e, "done"); err != nil {
		return f, err
	}
	for _, c := range e.Children() {
		if c.Name.Local != "error" {
			return f, fmt.Errorf("%w: unexpected element %q in failure", ErrMalformed, c.Name.Local)
		}
		ref, err := parseNodeRef(c)
		if err != nil {
			return f, err
		}
		ts, _ := parseDateTime(c.Get("timestamp"))
		f.Errors = append(f.Errors, NodeError{Node: ref, Timestamp: ts, Text: c.Text()})
	}
	return f, nil
}

// Parse decodes any XEP-0323 element: it returns a Request, Accepted,
// Started, Fields, Failure, Done, Cancel, Cancelled or Rejected.
func Parse(e *xmpp.Element) (any, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: no element", ErrMalformed)
	}
	if e.Name.Space != NS {
		return nil, fmt.Errorf("%w: namespace %q, want %s", ErrMalformed, e.Name.Space, NS)
	}
	if e.Name.Local == "req" {
		return ParseRequest(e)
	}
	if e.Name.Local == "fields" {
		return ParseFields(e)
	}
	if e.Name.Local == "failure" {
		return ParseFailure(e)
	}
	seq, err := parseSeqNr(e)
	if err != nil {
		return nil, err
	}
	switch e.Name.Local {
	case "accepted":
		q, err := parseBool(e, "queued")
		return Accepted{SeqNr: seq, Queued: q}, err
	case "started":
		return Started{SeqNr: seq}, nil
	case "done":
		return Done{SeqNr: seq}, nil
	case "cancel":
		return Cancel{SeqNr: seq}, nil
	case "cancelled":
		return Cancelled{SeqNr: seq}, nil
	case "rejected":
		r := Rejected{SeqNr: seq}
		if c := e.Child("", "error"); c != nil {
			r.Text = c.Text()
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: unknown element %q", ErrMalformed, e.Name.Local)
}

// Helpers shared by the decoders.

func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}

func expect(e *xmpp.Element, local string) error {
	if e == nil || e.Name.Local != local {
		return fmt.Errorf("%w: want a %s element", ErrMalformed, local)
	}
	return nil
}

func parseSeqNr(e *xmpp.Element) (int32, error) {
	s := e.Get("seqnr")
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %s seqnr %q is not a 32-bit integer", ErrMalformed, e.Name.Local, s)
	}
	return int32(n), nil
}

// parseBool reads an optional xs:boolean attribute (absent is false).
func parseBool(e *xmpp.Element, name string) (bool, error) {
	if !e.Has(name) {
		return false, nil
	}
	switch s := e.Get(name); s {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s attribute %s=%q is not a boolean", ErrMalformed, e.Name.Local, name, s)
	}
}

// formatDateTime writes t as xs:dateTime in its own location.
func formatDateTime(t time.Time) string { return sensors.DateTime(t).Format(0) }

// parseDateTime reads xs:dateTime; without a zone the time is taken as UTC.
func parseDateTime(s string) (time.Time, error) {
	v, _, err := sensors.ParseValue(sensors.KindDateTime, s)
	if err != nil {
		return time.Time{}, err
	}
	t, _ := v.Time()
	return t, nil
}
