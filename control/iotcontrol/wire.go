package iotcontrol

import (
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/internal/xmpp"
)

// Namespaces used by XEP-0325 and the data form extensions it uses.
const (
	NS         = "urn:xmpp:iot:control"
	NSData     = "jabber:x:data"
	NSValidate = "http://jabber.org/protocol/xdata-validate"
	NSLayout   = "http://jabber.org/protocol/xdata-layout"
	NSDynamic  = "urn:xmpp:xdata:dynamic"
	NSColor    = "urn:xmpp:xdata:color"
)

// OverrideParam is the duration parameter that turns a set into a timed
// override.
const OverrideParam = "OverrideDuration"

// NodeRef addresses a node behind a concentrator (XEP-0326).
type NodeRef struct {
	NodeID, SourceID, CacheType string
}

// Param is one typed parameter element of a set: <int name='…' value='…'/>.
// Value is the raw attribute text; Type says which element carried it.
type Param struct {
	Type  control.Type
	Name  string
	Value string
}

// Tokens are the XEP-0324 tokens a set or getForm may carry.
type Tokens struct {
	Service, Device, User string
}

// SetRequest is a <set/> command: typed parameters and/or a submitted data form,
// for the nodes listed (none means the device itself).
type SetRequest struct {
	Nodes  []NodeRef
	Params []Param
	// Form holds the fields of a submitted data form (type submit), in
	// order; nil when the set carries none.
	Form []FormValue
	Tokens
}

// FormValue is one field of a submitted data form.
type FormValue struct {
	Var    string
	Values []string
}

// GetForm is a <getForm/> request.
type GetForm struct {
	Nodes []NodeRef
	Tokens
}

// SetResponse is the <setResponse/> of a successful IQ set. Nodes and
// Params are empty when the set was applied as requested, and list what
// was used when the device restricted it. ResponseCode is only sent by
// peers of the 2013 draft ("OK", "NotFound", …).
type SetResponse struct {
	Nodes        []NodeRef
	Params       []string
	ResponseCode string
}

// ParamError is a <paramError var='…'>text</paramError>.
type ParamError struct {
	Var, Text string
}

// Decoding limits: a set is small; larger ones are refused, not truncated.
const (
	maxParams = 1000
	maxNodes  = 1000
)

// ErrMalformed reports a set, getForm or setResponse that breaks the
// schema.
var ErrMalformed = errors.New("iotcontrol: malformed element")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func decodeNode(c *xmpp.Element) (NodeRef, error) {
	n := NodeRef{NodeID: c.Get("nodeId"), SourceID: c.Get("sourceId"), CacheType: c.Get("cacheType")}
	if n.NodeID == "" {
		return n, malformed("node without nodeId")
	}
	return n, nil
}

func nodeElement(n NodeRef) *xmpp.Element {
	return xmpp.NewElement(NS, "node", "nodeId", n.NodeID, "sourceId", n.SourceID, "cacheType", n.CacheType)
}

func decodeTokens(e *xmpp.Element) Tokens {
	return Tokens{Service: e.Get("serviceToken"), Device: e.Get("deviceToken"), User: e.Get("userToken")}
}

func (t Tokens) set(e *xmpp.Element) {
	e.Set("serviceToken", t.Service).Set("deviceToken", t.Device).Set("userToken", t.User)
}

// DecodeSet reads a <set/> element. Unknown children are an error, since a
// device must not act on a command it only partly understands.
func DecodeSet(e *xmpp.Element) (SetRequest, error) {
	var s SetRequest
	if e == nil || e.Name.Space != NS || e.Name.Local != "set" {
		return s, malformed("not a {%s}set element", NS)
	}
	s.Tokens = decodeTokens(e)
	for _, c := range e.Children() {
		switch {
		case c.Name.Space == NS && c.Name.Local == "node":
			n, err := decodeNode(c)
			if err != nil {
				return s, err
			}
			if len(s.Nodes) >= maxNodes {
				return s, malformed("more than %d nodes", maxNodes)
			}
			s.Nodes = append(s.Nodes, n)
		case c.Name.Space == NSData && c.Name.Local == "x":
			if s.Form != nil {
				return s, malformed("more than one data form")
			}
			f, err := decodeSubmit(c)
			if err != nil {
				return s, err
			}
			s.Form = f
		case c.Name.Space == NS:
			t, err := control.ParseType(c.Name.Local)
			if err != nil {
				return s, malformed("unknown element <%s/>", c.Name.Local)
			}
			p := Param{Type: t, Name: c.Get("name"), Value: c.Get("value")}
			if p.Name == "" {
				return s, malformed("<%s/> without name", c.Name.Local)
			}
			if !c.Has("value") {
				return s, malformed("<%s name='%s'/> without value", c.Name.Local, p.Name)
			}
			if len(s.Params) >= maxParams {
				return s, malformed("more than %d parameters", maxParams)
			}
			s.Params = append(s.Params, p)
		default:
			return s, malformed("unexpected element {%s}%s", c.Name.Space, c.Name.Local)
		}
	}
	return s, nil
}

// withAttr adds an attribute even when its value is empty (NewElement and
// Set leave empty values out, but an empty string parameter is valid).
func withAttr(e *xmpp.Element, local, value string) *xmpp.Element {
	e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: local}, Value: value})
	return e
}

// decodeSubmit reads a submitted data form.
func decodeSubmit(x *xmpp.Element) ([]FormValue, error) {
	if t := x.Get("type"); t != "submit" {
		return nil, malformed("data form of type %q in a set, want submit", t)
	}
	out := []FormValue{}
	for _, f := range x.Children() {
		if f.Name.Space != NSData || f.Name.Local != "field" {
			continue
		}
		fv := FormValue{Var: f.Get("var")}
		if fv.Var == "" {
			return nil, malformed("form field without var")
		}
		for _, v := range f.Children() {
			if v.Name.Space == NSData && v.Name.Local == "value" {
				fv.Values = append(fv.Values, v.Text())
			}
		}
		if len(out) >= maxParams {
			return nil, malformed("more than %d form fields", maxParams)
		}
		out = append(out, fv)
	}
	return out, nil
}

// Element returns the <set/> element.
func (s SetRequest) Element() *xmpp.Element {
	e := xmpp.NewElement(NS, "set")
	s.Tokens.set(e)
	for _, n := range s.Nodes {
		e.Add(nodeElement(n))
	}
	for _, p := range s.Params {
		e.Add(withAttr(xmpp.NewElement(NS, p.Type.String(), "name", p.Name), "value", p.Value))
	}
	if s.Form != nil {
		x := xmpp.NewElement(NSData, "x", "type", "submit")
		for _, f := range s.Form {
			fe := xmpp.NewElement(NSData, "field", "var", f.Var)
			for _, v := range f.Values {
				fe.Add(xmpp.NewElement(NSData, "value").AddText(v))
			}
			x.Add(fe)
		}
		e.Add(x)
	}
	return e
}

// DecodeGetForm reads a <getForm/> element.
func DecodeGetForm(e *xmpp.Element) (GetForm, error) {
	var g GetForm
	if e == nil || e.Name.Space != NS || e.Name.Local != "getForm" {
		return g, malformed("not a {%s}getForm element", NS)
	}
	g.Tokens = decodeTokens(e)
	for _, c := range e.Children() {
		if c.Name.Space != NS || c.Name.Local != "node" {
			return g, malformed("unexpected element {%s}%s in getForm", c.Name.Space, c.Name.Local)
		}
		n, err := decodeNode(c)
		if err != nil {
			return g, err
		}
		if len(g.Nodes) >= maxNodes {
			return g, malformed("more than %d nodes", maxNodes)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

// Element returns the <getForm/> element.
func (g GetForm) Element() *xmpp.Element {
	e := xmpp.NewElement(NS, "getForm")
	g.Tokens.set(e)
	for _, n := range g.Nodes {
		e.Add(nodeElement(n))
	}
	return e
}

// DecodeSetResponse reads a <setResponse/>, including the 2013 draft's
// responseCode attribute and its <node nodeId/> and <parameter name/>
// children.
func DecodeSetResponse(e *xmpp.Element) (SetResponse, error) {
	var r SetResponse
	if e == nil || e.Name.Space != NS || e.Name.Local != "setResponse" {
		return r, malformed("not a {%s}setResponse element", NS)
	}
	r.ResponseCode = e.Get("responseCode")
	for _, c := range e.Children() {
		if c.Name.Space != NS {
			continue
		}
		switch c.Name.Local {
		case "node":
			n, err := decodeNode(c)
			if err != nil {
				return r, err
			}
			r.Nodes = append(r.Nodes, n)
		case "parameter":
			if c.Get("name") == "" {
				return r, malformed("parameter without name in setResponse")
			}
			r.Params = append(r.Params, c.Get("name"))
		}
	}
	return r, nil
}

// Element returns the <setResponse/> element.
func (r SetResponse) Element() *xmpp.Element {
	e := xmpp.NewElement(NS, "setResponse", "responseCode", r.ResponseCode)
	for _, n := range r.Nodes {
		e.Add(nodeElement(n))
	}
	for _, p := range r.Params {
		e.Add(xmpp.NewElement(NS, "parameter", "name", p))
	}
	return e
}

// Element returns the <paramError/> element.
func (p ParamError) Element() *xmpp.Element {
	return xmpp.NewElement(NS, "paramError", "var", p.Var).AddText(p.Text)
}
