package schema

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Unbounded is the maxOccurs value "unbounded".
const unbounded = -1

// maxExpansion bounds the positions a content model may expand to
// (maxOccurs copies), so that hostile schemas cannot exhaust memory.
const maxExpansion = 20000

type contentKind uint8

const (
	contentEmpty contentKind = iota
	contentSimple
	contentElement
	contentMixed
)

type variety uint8

const (
	atomic variety = iota
	list
	union
)

// xType is a type definition while it is being resolved.
type xType struct {
	idx     int
	name    QName
	node    *node
	complex bool
	builtin bool
	state   uint8 // 0 new, 1 resolving, 2 done
	base    *xType

	// simple types (and simple content)
	si *simpleInfo
	dt int

	// complex types
	attrs    []*xAttrUse
	wild     *xWild
	content  contentKind
	particle *xParticle
}

type xAttrUse struct {
	name     QName
	dt       int
	required bool
}

// xWild is a wildcard: any (also "not" constraints) or a list of URIs.
type xWild struct {
	any  bool
	uris []string
}

type xParticle struct {
	min, max int
	elem     *xElem
	wild     *xWild
	group    *xGroup
}

type xGroup struct {
	kind  string // sequence, choice, all
	parts []*xParticle
}

type xElem struct {
	idx      int
	name     QName
	typ      *xType
	nillable bool
	abstract bool
	global   bool
	node     *node
	subst    *xElem // substitution group head
}

// simpleInfo is the accumulated facet state of a simple type.
type simpleInfo struct {
	builtin  string // nearest XSD built-in ancestor (local name)
	variety  variety
	item     *xType
	enum     []string
	enumOwn  bool // enumeration facet defined on this very type
	patterns [][]string
	ws       WhiteSpace
	min, max *big.Int
	integer  bool
}

// compiler holds the state of one compilation.
type compiler struct {
	s        *schemaSet
	g        *Grammars
	types    map[QName]*xType
	anon     map[*node]*xType
	all      []*xType
	elems    []*xElem
	elemByN  map[*node]*xElem
	attrDT   map[*node]int
	groupDep int
}

func (c *compiler) errf(n *node, format string, args ...any) error {
	return fmt.Errorf("schema: %s: %s", n.where(), fmt.Sprintf(format, args...))
}

func (c *compiler) newType(name QName, n *node, complex bool) *xType {
	t := &xType{idx: len(c.all), name: name, node: n, complex: complex, dt: -1}
	c.all = append(c.all, t)
	return t
}

// typeByName finds a named type (built-in or declared).
func (c *compiler) typeByName(q QName, from *node) (*xType, error) {
	if t, ok := c.types[q]; ok {
		return t, nil
	}
	n, ok := c.s.types[q]
	if !ok {
		return nil, c.errf(from, "unknown type %s", q)
	}
	t := c.newType(q, n, n.name.Local == "complexType")
	c.types[q] = t
	return t, nil
}

// anonType returns the type of an anonymous simpleType/complexType child.
func (c *compiler) anonType(n *node) *xType {
	if t, ok := c.anon[n]; ok {
		return t
	}
	t := c.newType(QName{}, n, n.name.Local == "complexType")
	c.anon[n] = t
	return t
}

// resolve completes t (and its base chain).
func (c *compiler) resolve(t *xType) error {
	switch t.state {
	case 2:
		return nil
	case 1:
		return c.errf(t.node, "circular type derivation")
	}
	t.state = 1
	var err error
	if t.complex {
		err = c.resolveComplex(t)
	} else {
		err = c.resolveSimple(t)
	}
	if err != nil {
		return err
	}
	t.state = 2
	return nil
}

func occurs(n *node) (int, int, error) {
	min, max := 1, 1
	if v, ok := n.attr("minOccurs"); ok {
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 {
			return 0, 0, fmt.Errorf("schema: %s: bad minOccurs %q", n.where(), v)
		}
		min = i
	}
	if v, ok := n.attr("maxOccurs"); ok {
		v = strings.TrimSpace(v)
		if v == "unbounded" {
			max = unbounded
		} else {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 {
				return 0, 0, fmt.Errorf("schema: %s: bad maxOccurs %q", n.where(), v)
			}
			max = i
		}
	}
	if max != unbounded && max < min {
		return 0, 0, fmt.Errorf("schema: %s: maxOccurs < minOccurs", n.where())
	}
	return min, max, nil
}

// element returns the declaration for an xs:element node (local or
// global; ref is followed).
func (c *compiler) element(n *node) (*xElem, error) {
	if ref, ok := n.attr("ref"); ok {
		q, err := n.resolveQName(ref)
		if err != nil {
			return nil, err
		}
		g, ok := c.s.elements[q]
		if !ok {
			return nil, c.errf(n, "unknown element %s", q)
		}
		return c.element(g)
	}
	if e, ok := c.elemByN[n]; ok {
		return e, nil
	}
	global := n.doc.root == nil || isChild(n.doc.root, n)
	name := n.attrs["name"]
	if name == "" {
		return nil, c.errf(n, "element without name or ref")
	}
	uri := ""
	if global {
		uri = n.doc.target
	} else if f, ok := n.attr("form"); ok {
		if f == "qualified" {
			uri = n.doc.target
		}
	} else if n.doc.elemQual {
		uri = n.doc.target
	}
	e := &xElem{idx: len(c.elems), name: QName{uri, name}, node: n, global: global,
		nillable: n.attrs["nillable"] == "true" || n.attrs["nillable"] == "1",
		abstract: n.attrs["abstract"] == "true" || n.attrs["abstract"] == "1"}
	c.elems = append(c.elems, e)
	c.elemByN[n] = e
	switch {
	case n.attrs["type"] != "":
		q, err := n.resolveQName(n.attrs["type"])
		if err != nil {
			return nil, err
		}
		if e.typ, err = c.typeByName(q, n); err != nil {
			return nil, err
		}
	case n.kid("complexType") != nil:
		e.typ = c.anonType(n.kid("complexType"))
	case n.kid("simpleType") != nil:
		e.typ = c.anonType(n.kid("simpleType"))
	}
	if sg := n.attrs["substitutionGroup"]; sg != "" && global {
		q, err := n.resolveQName(strings.Fields(sg + " x")[0])
		if err != nil {
			return nil, err
		}
		hn, ok := c.s.elements[q]
		if !ok {
			return nil, c.errf(n, "unknown substitution group head %s", q)
		}
		if e.subst, err = c.element(hn); err != nil {
			return nil, err
		}
	}
	if e.typ == nil {
		if e.subst != nil {
			// The head's type, found once the head is complete.
			h := e.subst
			for h.typ == nil && h.subst != nil && h.subst != e {
				h = h.subst
			}
			e.typ = h.typ
		}
		if e.typ == nil {
			e.typ = c.types[QName{NSXSD, "anyType"}]
		}
	}
	return e, nil
}

func isChild(p, n *node) bool {
	for _, c := range p.children {
		if c == n {
			return true
		}
	}
	return false
}

// attribute returns the name and datatype of an xs:attribute node.
func (c *compiler) attribute(n *node) (*xAttrUse, error) {
	use := n.attrs["use"]
	au := &xAttrUse{required: use == "required"}
	decl := n
	if ref, ok := n.attr("ref"); ok {
		q, err := n.resolveQName(ref)
		if err != nil {
			return nil, err
		}
		g, ok := c.s.attributes[q]
		if !ok {
			return nil, c.errf(n, "unknown attribute %s", q)
		}
		decl = g
		au.name = q
	} else {
		name := n.attrs["name"]
		if name == "" {
			return nil, c.errf(n, "attribute without name or ref")
		}
		uri := ""
		if isChild(n.doc.root, n) {
			uri = n.doc.target
		} else if f, ok := n.attr("form"); ok {
			if f == "qualified" {
				uri = n.doc.target
			}
		} else if n.doc.attrQual {
			uri = n.doc.target
		}
		au.name = QName{uri, name}
	}
	dt, err := c.attrType(decl)
	if err != nil {
		return nil, err
	}
	au.dt = dt
	return au, nil
}

func (c *compiler) attrType(decl *node) (int, error) {
	if dt, ok := c.attrDT[decl]; ok {
		return dt, nil
	}
	var t *xType
	var err error
	switch {
	case decl.attrs["type"] != "":
		q, err := decl.resolveQName(decl.attrs["type"])
		if err != nil {
			return 0, err
		}
		if t, err = c.typeByName(q, decl); err != nil {
			return 0, err
		}
	case decl.kid("simpleType") != nil:
		t = c.anonType(decl.kid("simpleType"))
	default:
		t = c.types[QName{NSXSD, "anySimpleType"}]
	}
	if err = c.resolve(t); err != nil {
		return 0, err
	}
	if t.complex {
		return 0, c.errf(decl, "attribute type %s is complex", t.name)
	}
	c.attrDT[decl] = t.dt
	return t.dt, nil
}

// wildcard parses xs:any / xs:anyAttribute namespace constraints.
func wildcard(n *node) *xWild {
	ns := strings.Fields(n.attrs["namespace"])
	if len(ns) == 0 || (len(ns) == 1 && (ns[0] == "##any" || ns[0] == "##other")) {
		return &xWild{any: true}
	}
	w := &xWild{}
	for _, u := range ns {
		switch u {
		case "##targetNamespace":
			u = n.doc.target
		case "##local":
			u = ""
		case "##any", "##other":
			return &xWild{any: true}
		}
		w.uris = appendUnique(w.uris, u)
	}
	return w
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// unionWild and intersectWild combine attribute wildcards.
func unionWild(a, b *xWild) *xWild {
	if a == nil {
		return b
	}
	if b == nil || a.any {
		return a
	}
	if b.any {
		return b
	}
	w := &xWild{uris: append([]string(nil), a.uris...)}
	for _, u := range b.uris {
		w.uris = appendUnique(w.uris, u)
	}
	return w
}

func intersectWild(a, b *xWild) *xWild {
	if a == nil {
		return b
	}
	if b == nil || b.any {
		return a
	}
	if a.any {
		return b
	}
	w := &xWild{}
	for _, u := range a.uris {
		for _, v := range b.uris {
			if u == v {
				w.uris = append(w.uris, u)
			}
		}
	}
	return w
}
