// Package disco implements XEP-0030 service discovery (disco#info and
// disco#items, both as responder and as requester) and XEP-0115 entity
// capabilities (the verification string, its hash, and the <c/> element
// sent with presence).
package disco

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/xiot/xiot/internal/xmpp"
)

// Namespaces of XEP-0030, XEP-0115 and XEP-0004 (for extended info forms).
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
	NSCaps  = "http://jabber.org/protocol/caps"
	NSData  = "jabber:x:data"
)

// Identity is a XEP-0030 identity.
type Identity struct {
	Category, Type, Name, Lang string
}

// Item is a XEP-0030 item.
type Item struct {
	JID, Node, Name string
}

// Info is what an entity (or one of its nodes) says about itself.
type Info struct {
	Identities []Identity
	Features   []string
	// Forms are XEP-0128 extended information forms (jabber:x:data of type
	// result with a FORM_TYPE field).
	Forms []*xmpp.Element
}

// HasFeature reports whether info lists the feature var.
func (i *Info) HasFeature(v string) bool {
	for _, f := range i.Features {
		if f == v {
			return true
		}
	}
	return false
}

// Element returns the disco#info query element for info.
func (i *Info) Element(node string) *xmpp.Element {
	q := xmpp.NewElement(NSInfo, "query", "node", node)
	for _, id := range i.Identities {
		el := xmpp.NewElement(NSInfo, "identity", "category", id.Category, "type", id.Type, "name", id.Name)
		if id.Lang != "" {
			el.Attr = append(el.Attr, xmlLang(id.Lang))
		}
		q.Add(el)
	}
	for _, f := range i.Features {
		q.Add(xmpp.NewElement(NSInfo, "feature", "var", f))
	}
	for _, f := range i.Forms {
		q.Add(f)
	}
	return q
}

// ParseInfo reads a disco#info query element.
func ParseInfo(q *xmpp.Element) *Info {
	info := &Info{}
	for _, c := range q.Children() {
		switch {
		case c.Name.Local == "identity":
			id := Identity{Category: c.Get("category"), Type: c.Get("type"), Name: c.Get("name")}
			for _, a := range c.Attr {
				if a.Name.Local == "lang" && (a.Name.Space == xmpp.NSXML || a.Name.Space == "xml") {
					id.Lang = a.Value
				}
			}
			info.Identities = append(info.Identities, id)
		case c.Name.Local == "feature":
			info.Features = append(info.Features, c.Get("var"))
		case c.Name.Space == NSData && c.Name.Local == "x":
			info.Forms = append(info.Forms, c)
		}
	}
	return info
}

// Server answers disco#info and disco#items requests for an entity and its
// nodes, and computes its XEP-0115 capabilities. Its methods are safe for
// concurrent use; the zero value answers with nothing.
type Server struct {
	mu    sync.RWMutex
	info  Info
	nodes map[string]*Info
	items map[string][]Item
	// CapsNode is the XEP-0115 node, a URI naming the software.
	CapsNode string
}

// SetInfo sets the entity's own info.
func (s *Server) SetInfo(info Info) {
	s.mu.Lock()
	s.info = info
	s.mu.Unlock()
}

// Info returns a copy of the entity's own info.
func (s *Server) Info() Info {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.info
}

// SetNode sets the info of a node.
func (s *Server) SetNode(node string, info Info) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes == nil {
		s.nodes = map[string]*Info{}
	}
	s.nodes[node] = &info
}

// SetItems sets the items listed for node ("" for the entity itself).
func (s *Server) SetItems(node string, items []Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.items == nil {
		s.items = map[string][]Item{}
	}
	s.items[node] = items
}

// Register installs the disco#info and disco#items handlers on m.
func (s *Server) Register(m *xmpp.Mux) {
	m.IQ("get", NSInfo, "query", xmpp.IQFunc(s.handleInfo))
	m.IQ("get", NSItems, "query", xmpp.IQFunc(s.handleItems))
}

func (s *Server) handleInfo(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	node := iq.FirstChild().Get("node")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if node == "" {
		return s.info.Element(""), nil
	}
	if s.CapsNode != "" && node == s.CapsNode+"#"+Ver(&s.info) {
		return s.info.Element(node), nil
	}
	if info, ok := s.nodes[node]; ok {
		return info.Element(node), nil
	}
	return nil, xmpp.ErrItemNotFound
}

func (s *Server) handleItems(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	node := iq.FirstChild().Get("node")
	s.mu.RLock()
	defer s.mu.RUnlock()
	items, ok := s.items[node]
	if !ok && node != "" {
		if _, isNode := s.nodes[node]; !isNode {
			return nil, xmpp.ErrItemNotFound
		}
	}
	q := xmpp.NewElement(NSItems, "query", "node", node)
	for _, it := range items {
		q.Add(xmpp.NewElement(NSItems, "item", "jid", it.JID, "node", it.Node, "name", it.Name))
	}
	return q, nil
}

// Caps returns the XEP-0115 <c/> element to put in presence.
func (s *Server) Caps() *xmpp.Element {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return xmpp.NewElement(NSCaps, "c", "hash", "sha-1", "node", s.CapsNode, "ver", Ver(&s.info))
}

// Ver computes the XEP-0115 §5.1 verification string of info, hashed with
// SHA-1 and base64-encoded.
func Ver(info *Info) string {
	sum := sha1.Sum([]byte(VerString(info)))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// VerString builds the XEP-0115 §5.1 input string S (before hashing).
func VerString(info *Info) string {
	var b strings.Builder
	ids := make([]string, 0, len(info.Identities))
	for _, id := range info.Identities {
		ids = append(ids, id.Category+"/"+id.Type+"/"+id.Lang+"/"+id.Name)
	}
	sort.Strings(ids)
	for _, id := range ids {
		b.WriteString(id)
		b.WriteByte('<')
	}
	feats := append([]string(nil), info.Features...)
	sort.Strings(feats)
	for _, f := range feats {
		b.WriteString(f)
		b.WriteByte('<')
	}
	type form struct {
		formType string
		fields   []string
	}
	var forms []form
	for _, x := range info.Forms {
		var f form
		var fields []string
		for _, fl := range x.Children() {
			if fl.Name.Local != "field" {
				continue
			}
			var vals []string
			for _, v := range fl.Children() {
				if v.Name.Local == "value" {
					vals = append(vals, v.Text())
				}
			}
			if fl.Get("var") == "FORM_TYPE" {
				if len(vals) > 0 {
					f.formType = vals[0]
				}
				continue
			}
			sort.Strings(vals)
			fields = append(fields, fl.Get("var")+"<"+strings.Join(vals, "<"))
		}
		sort.Strings(fields)
		f.fields = fields
		forms = append(forms, f)
	}
	sort.Slice(forms, func(i, j int) bool { return forms[i].formType < forms[j].formType })
	for _, f := range forms {
		b.WriteString(f.formType)
		b.WriteByte('<')
		for _, fl := range f.fields {
			b.WriteString(fl)
			b.WriteByte('<')
		}
	}
	return b.String()
}

// GetInfo asks to (optionally for node) for its disco#info.
func GetInfo(ctx context.Context, s *xmpp.Session, to, node string) (*Info, error) {
	iq := xmpp.NewElement("", "iq", "type", "get", "to", to).Add(xmpp.NewElement(NSInfo, "query", "node", node))
	res, err := s.SendIQ(ctx, iq)
	if err != nil {
		return nil, fmt.Errorf("disco#info of %s: %w", to, err)
	}
	q := res.Child(NSInfo, "query")
	if q == nil {
		return nil, fmt.Errorf("disco#info of %s: %w", to, errors.New("result without query"))
	}
	return ParseInfo(q), nil
}

// GetItems asks to (optionally for node) for its disco#items.
func GetItems(ctx context.Context, s *xmpp.Session, to, node string) ([]Item, error) {
	iq := xmpp.NewElement("", "iq", "type", "get", "to", to).Add(xmpp.NewElement(NSItems, "query", "node", node))
	res, err := s.SendIQ(ctx, iq)
	if err != nil {
		return nil, fmt.Errorf("disco#items of %s: %w", to, err)
	}
	var items []Item
	if q := res.Child(NSItems, "query"); q != nil {
		for _, c := range q.Children() {
			items = append(items, Item{JID: c.Get("jid"), Node: c.Get("node"), Name: c.Get("name")})
		}
	}
	return items, nil
}

func xmlLang(lang string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: xmpp.NSXML, Local: "lang"}, Value: lang}
}
