package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespaces used by the session layer.
const (
	NSClient    = "jabber:client"
	NSComponent = "jabber:component:accept"
	NSStream    = "http://etherx.jabber.org/streams"
	NSStreamErr = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzaErr = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession   = "urn:ietf:params:xml:ns:xmpp-session"
	NSSM        = "urn:xmpp:sm:3"
	NSPing      = "urn:xmpp:ping"
	NSXML       = "http://www.w3.org/XML/1998/namespace"
)

// Element is one XML element with its attributes, child elements and
// character data. Stanzas are read into Elements; a tree is small for the
// stanzas XMPP carries and lets handlers look at a stanza more than once.
// Mixed content keeps text and children in document order in Nodes.
type Element struct {
	Name xml.Name
	Attr []xml.Attr // without namespace declarations
	// Nodes holds the children in order: *Element or xml.CharData.
	Nodes []any
}

// NewElement returns an element with the given name and attribute pairs
// (local name, value); empty values are left out.
func NewElement(space, local string, attrs ...string) *Element {
	e := &Element{Name: xml.Name{Space: space, Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return e
}

// Get returns the value of the attribute with the given local name and no
// namespace, or "".
func (e *Element) Get(local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// Has reports whether the element has the attribute with the given local
// name and no namespace (Get cannot tell an empty value from an absent
// one).
func (e *Element) Has(local string) bool {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return true
		}
	}
	return false
}

// Set sets (or removes, when value is "") the unqualified attribute local.
func (e *Element) Set(local, value string) *Element {
	for i, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			if value == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: local}, Value: value})
	}
	return e
}

// Add appends child elements and returns e.
func (e *Element) Add(children ...*Element) *Element {
	for _, c := range children {
		e.Nodes = append(e.Nodes, c)
	}
	return e
}

// AddText appends character data and returns e.
func (e *Element) AddText(s string) *Element {
	e.Nodes = append(e.Nodes, xml.CharData(s))
	return e
}

// Children returns the child elements.
func (e *Element) Children() []*Element {
	var out []*Element
	for _, n := range e.Nodes {
		if c, ok := n.(*Element); ok {
			out = append(out, c)
		}
	}
	return out
}

// Child returns the first child element with the given namespace and local
// name; an empty space matches any namespace.
func (e *Element) Child(space, local string) *Element {
	for _, n := range e.Nodes {
		if c, ok := n.(*Element); ok && c.Name.Local == local && (space == "" || c.Name.Space == space) {
			return c
		}
	}
	return nil
}

// FirstChild returns the first child element, or nil.
func (e *Element) FirstChild() *Element {
	for _, n := range e.Nodes {
		if c, ok := n.(*Element); ok {
			return c
		}
	}
	return nil
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	var b strings.Builder
	for _, n := range e.Nodes {
		if t, ok := n.(xml.CharData); ok {
			b.Write(t)
		}
	}
	return b.String()
}

// Copy returns a deep copy of e.
func (e *Element) Copy() *Element {
	c := &Element{Name: e.Name, Attr: append([]xml.Attr(nil), e.Attr...)}
	for _, n := range e.Nodes {
		switch v := n.(type) {
		case *Element:
			c.Nodes = append(c.Nodes, v.Copy())
		case xml.CharData:
			c.Nodes = append(c.Nodes, v.Copy())
		}
	}
	return c
}

// Decode unmarshals e into v with encoding/xml, as if e were a document.
func (e *Element) Decode(v any) error {
	return xml.NewTokenDecoder(e.TokenReader()).Decode(v)
}

// TokenReader returns the element as a stream of encoding/xml tokens.
func (e *Element) TokenReader() xml.TokenReader {
	var toks []xml.Token
	e.appendTokens(&toks)
	return &sliceReader{toks: toks}
}

func (e *Element) appendTokens(toks *[]xml.Token) {
	*toks = append(*toks, xml.StartElement{Name: e.Name, Attr: e.Attr})
	for _, n := range e.Nodes {
		switch v := n.(type) {
		case *Element:
			v.appendTokens(toks)
		case xml.CharData:
			*toks = append(*toks, v)
		}
	}
	*toks = append(*toks, xml.EndElement{Name: e.Name})
}

type sliceReader struct {
	toks []xml.Token
	i    int
}

func (r *sliceReader) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}

// String returns e serialized as XML with the stream namespace jabber:client
// as default; it is meant for logs and tests.
func (e *Element) String() string {
	var b bytes.Buffer
	e.WriteXML(&b, NSClient)
	return b.String()
}

// WriteXML serializes e to b, writing an xmlns declaration only where the
// namespace differs from that of the parent (defaultNS for the top element).
// An element with an empty namespace inherits its parent's, so that
// NewElement("", "body") inside a message is a jabber:client body.
func (e *Element) WriteXML(b *bytes.Buffer, defaultNS string) {
	b.WriteByte('<')
	b.WriteString(e.Name.Local)
	ns := e.Name.Space
	if ns == "" {
		ns = defaultNS
	}
	if ns != defaultNS {
		b.WriteString(` xmlns="`)
		escapeAttr(b, e.Name.Space)
		b.WriteByte('"')
	}
	for _, a := range e.Attr {
		b.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case NSXML, "xml":
			b.WriteString("xml:")
		default:
			// Rare in XMPP: declare a prefix for the attribute's namespace.
			b.WriteString(`xmlns:a="`)
			escapeAttr(b, a.Name.Space)
			b.WriteString(`" a:`)
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	if len(e.Nodes) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, n := range e.Nodes {
		switch v := n.(type) {
		case *Element:
			v.WriteXML(b, ns)
		case xml.CharData:
			escapeText(b, v)
		}
	}
	b.WriteString("</")
	b.WriteString(e.Name.Local)
	b.WriteByte('>')
}

func escapeText(b *bytes.Buffer, s []byte) {
	last := 0
	for i, c := range s {
		var esc string
		switch c {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.Write(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.Write(s[last:])
}

func escapeAttr(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&apos;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// Marshal turns v into an Element: v may be an *Element already, or any
// value encoding/xml can marshal.
func Marshal(v any) (*Element, error) {
	if e, ok := v.(*Element); ok {
		return e, nil
	}
	data, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("xmpp: marshal %T: %w", v, err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	tok, err := d.Token()
	if err != nil {
		return nil, fmt.Errorf("xmpp: marshal %T: %w", v, err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return nil, fmt.Errorf("xmpp: marshal %T: no element", v)
	}
	return ReadElement(d, start, Limits{})
}

// Limits bound what ReadElement accepts. Zero fields mean no limit.
type Limits struct {
	MaxDepth int // nesting depth below the element
}

// Errors returned by ReadElement for input that breaks XMPP's XML rules.
var (
	ErrRestrictedXML = errors.New("xmpp: restricted XML (comment, processing instruction or DTD)")
	ErrTooDeep       = errors.New("xmpp: element nested too deeply")
)

// ReadElement reads the rest of the element that start opened from r.
// Namespace declarations are dropped from attributes (names carry their
// namespaces); comments, processing instructions and directives are refused
// as RFC 6120 §11.1 requires.
func ReadElement(r xml.TokenReader, start xml.StartElement, lim Limits) (*Element, error) {
	root := &Element{Name: start.Name, Attr: cleanAttrs(start.Attr)}
	stack := []*Element{root}
	for len(stack) > 0 {
		tok, err := r.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if lim.MaxDepth > 0 && len(stack) >= lim.MaxDepth {
				return nil, ErrTooDeep
			}
			c := &Element{Name: t.Name, Attr: cleanAttrs(t.Attr)}
			top.Nodes = append(top.Nodes, c)
			stack = append(stack, c)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if n := len(top.Nodes); n > 0 {
				if prev, ok := top.Nodes[n-1].(xml.CharData); ok {
					top.Nodes[n-1] = append(prev, t...)
					continue
				}
			}
			top.Nodes = append(top.Nodes, t.Copy())
		default:
			return nil, ErrRestrictedXML
		}
	}
	return root, nil
}

func cleanAttrs(in []xml.Attr) []xml.Attr {
	var out []xml.Attr
	for _, a := range in {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		out = append(out, a)
	}
	return out
}
