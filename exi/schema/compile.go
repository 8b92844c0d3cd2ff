package schema

import (
	"fmt"
	"sort"
)

// Options for [Load].
type LoadOptions struct {
	// ReadFile reads schema files; os.ReadFile when nil.
	ReadFile FileLoader
}

// CompileFiles loads the XSD files (and what they include and import) and
// compiles their grammars.
func CompileFiles(files ...string) (*Grammars, error) {
	return Load(LoadOptions{}, files...)
}

// Compile is CompileFiles; kept for callers that read "compile a schema".
func Compile(files ...string) (*Grammars, error) { return Load(LoadOptions{}, files...) }

// Load loads and compiles XSD files with explicit options.
func Load(o LoadOptions, files ...string) (*Grammars, error) {
	s := newSchemaSet(o.ReadFile)
	for _, f := range files {
		if err := s.addFile(f, nil); err != nil {
			return nil, err
		}
	}
	g, err := compileSet(s)
	if err != nil {
		return nil, err
	}
	g.Schema = append([]string(nil), files...)
	return g, nil
}

// BuiltinTypes returns the grammars of xsd-types-only mode: the XML
// Schema built-in types, no element declarations.
func BuiltinTypes() *Grammars {
	g, err := compileSet(newSchemaSet(nil))
	if err != nil {
		// The built-in set has no input; failing here is a programming error
		// that the tests catch. Return an empty, usable value regardless.
		return &Grammars{GlobalElements: map[QName]int{}, GlobalTypes: map[QName]int{}, GlobalAttributes: map[QName]int{}}
	}
	return g
}

func compileSet(s *schemaSet) (*Grammars, error) {
	c := &compiler{s: s, g: &Grammars{GlobalElements: map[QName]int{}, GlobalTypes: map[QName]int{}, GlobalAttributes: map[QName]int{}},
		types: map[QName]*xType{}, anon: map[*node]*xType{}, elemByN: map[*node]*xElem{}, attrDT: map[*node]int{}}
	if err := c.addBuiltins(); err != nil {
		return nil, err
	}
	for _, n := range s.order {
		e, err := c.element(n)
		if err != nil {
			return nil, err
		}
		c.g.GlobalElements[e.name] = e.idx
	}
	// Named types in a stable order (documents, then document order).
	for _, d := range s.docs {
		for _, k := range d.root.children {
			if k.name.URI == NSXSD && (k.name.Local == "complexType" || k.name.Local == "simpleType") {
				if _, err := c.typeByName(QName{d.target, k.attrs["name"]}, k); err != nil {
					return nil, err
				}
			}
			if k.name.URI == NSXSD && k.name.Local == "attribute" {
				dt, err := c.attrType(k)
				if err != nil {
					return nil, err
				}
				c.g.GlobalAttributes[QName{d.target, k.attrs["name"]}] = dt
			}
		}
	}
	// Resolve every type; resolving may discover more (anonymous) types
	// and elements, so loop until nothing is new.
	for done := 0; done < len(c.all) || done < len(c.elems); {
		for ; done < len(c.all); done++ {
			if err := c.resolve(c.all[done]); err != nil {
				return nil, err
			}
		}
		for _, e := range c.elems {
			if e.typ == nil {
				return nil, c.errf(e.node, "element without type")
			}
			if err := c.resolve(e.typ); err != nil {
				return nil, err
			}
		}
		if done >= len(c.all) {
			break
		}
	}
	// Fix elements whose type came from a substitution head resolved later.
	for _, e := range c.elems {
		if e.typ == nil {
			return nil, c.errf(e.node, "element without type")
		}
	}
	c.g.Types = make([]TypeDef, len(c.all))
	c.g.Grammars = make([]Grammar, 2*len(c.all))
	for i := 0; i < len(c.all); i++ {
		t := c.all[i]
		if err := c.typeGrammars(t); err != nil {
			return nil, err
		}
	}
	if len(c.all) != len(c.g.Types) {
		return nil, fmt.Errorf("schema: internal error: types discovered during grammar construction")
	}
	c.g.Elements = make([]ElementDecl, len(c.elems))
	for i, e := range c.elems {
		c.g.Elements[i] = ElementDecl{Name: e.name, Type: e.typ.idx, Nillable: e.nillable, Abstract: e.abstract, Global: e.global}
	}
	for _, t := range c.all {
		if t.name != (QName{}) {
			c.g.GlobalTypes[t.name] = t.idx
		}
	}
	c.typeCastable()
	c.g.Strings = c.stringTable()
	return c.g, nil
}

// typeGrammars builds Type_i and TypeEmpty_i (§8.5.4.1.3).
func (c *compiler) typeGrammars(t *xType) error {
	td := TypeDef{Name: t.name, Grammar: 2 * t.idx, Empty: 2*t.idx + 1, Simple: -1, Base: -1, Complex: t.complex}
	if t.base != nil {
		td.Base = t.base.idx
	}
	if !t.complex || t.content == contentSimple {
		td.Simple = t.dt
	}
	c.g.Types[t.idx] = td
	var content []*protoNT
	switch {
	case !t.complex || t.content == contentSimple:
		content = []*protoNT{
			{prods: []Production{{Event: EventCH, Elem: -1, Type: t.dt, Next: 1}}},
			{prods: []Production{{Event: EventEE, Elem: -1, Type: -1, Next: End}}},
		}
	case t.content == contentEmpty:
		content = []*protoNT{{prods: []Production{{Event: EventEE, Elem: -1, Type: -1, Next: End}}}}
	default:
		if _, err := c.contentStates(t, &content); err != nil {
			return err
		}
	}
	c.g.Grammars[td.Grammar] = c.withAttributes(t, content)
	if !t.complex {
		// Simple types: TypeEmpty is EE alone.
		c.g.Grammars[td.Empty] = Grammar{NonTerminals: []NonTerminal{{StartTag: true, Productions: []Production{{Event: EventEE, Elem: -1, Type: -1, Next: End}}}}}
	} else {
		c.g.Grammars[td.Empty] = c.withAttributes(t, []*protoNT{{prods: []Production{{Event: EventEE, Elem: -1, Type: -1, Next: End}}}})
	}
	return nil
}

// withAttributes prefixes content non-terminals with the attribute-use
// grammars of t, sorted by qname, and the attribute wildcard (§8.5.4.1.3.2,
// §8.5.4.1.4); the result is normalized and in event-code order.
func (c *compiler) withAttributes(t *xType, content []*protoNT) Grammar {
	attrs := append([]*xAttrUse(nil), t.attrs...)
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].name.Less(attrs[j].name) })
	n := len(attrs) + 1 // start-tag non-terminals: one per attribute plus the content copy
	nts := make([]*protoNT, n, n+len(content))
	shift := func(p Production) Production {
		if p.Next != End {
			p.Next += n
		}
		return p
	}
	for _, ct := range content {
		cp := &protoNT{}
		for _, p := range ct.prods {
			cp.prods = append(cp.prods, shift(p))
		}
		nts = append(nts, cp)
	}
	wild := func(nt *protoNT, self int) {
		if t.wild == nil {
			return
		}
		if t.wild.any {
			nt.add(Production{Event: EventATAny, Elem: -1, Type: -1, Next: self})
			return
		}
		for _, u := range t.wild.uris {
			nt.add(Production{Event: EventATNS, Name: QName{URI: u}, Elem: -1, Type: -1, Next: self})
		}
	}
	// The last start-tag non-terminal copies the content's first one.
	last := &protoNT{startTag: true}
	for _, p := range nts[n].prods {
		last.add(p)
	}
	if len(attrs) == 0 {
		// Simple: n == 1, non-terminal 0 is the content copy.
		wild(last, 0)
	} else {
		wild(last, n-1)
	}
	nts[n-1] = last
	for i := len(attrs) - 1; i >= 0; i-- {
		a := attrs[i]
		nt := &protoNT{startTag: true}
		nt.add(Production{Event: EventAT, Name: a.name, Elem: -1, Type: a.dt, Next: i + 1})
		wild(nt, i)
		if !a.required {
			for _, p := range nts[i+1].prods {
				if p.Event != EventATAny && p.Event != EventATNS {
					nt.add(p)
				}
			}
		}
		nts[i] = nt
	}
	g := Grammar{Content2: n}
	for _, p := range nts {
		sortProductions(p.prods)
		g.NonTerminals = append(g.NonTerminals, NonTerminal{StartTag: p.startTag, Productions: p.prods})
	}
	return g
}

func eventRank(k EventKind) int {
	switch k {
	case EventAT:
		return 0
	case EventATNS:
		return 1
	case EventATAny:
		return 2
	case EventSE:
		return 3
	case EventSENS:
		return 4
	case EventSEAny:
		return 5
	case EventEE:
		return 6
	default:
		return 7
	}
}

// sortProductions orders productions as §8.5.4.4.2 requires: AT(qname)
// by local name then URI, AT(uri:*) by URI, AT(*), SE(qname) and
// SE(uri:*) in schema order (insertion order), SE(*), EE, CH.
func sortProductions(ps []Production) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		ra, rb := eventRank(a.Event), eventRank(b.Event)
		if ra != rb {
			return ra < rb
		}
		switch a.Event {
		case EventAT:
			return a.Name.Less(b.Name)
		case EventATNS:
			return a.Name.URI < b.Name.URI
		}
		return false
	})
}

// typeCastable marks types with named sub-types, and unions.
func (c *compiler) typeCastable() {
	for _, t := range c.all {
		if t.name != (QName{}) && t.base != nil {
			c.g.Types[t.base.idx].TypeCastable = true
		}
		if t.si != nil && t.si.variety == union && !t.complex {
			c.g.Types[t.idx].TypeCastable = true
		}
	}
}

// DocumentElements returns the global element declarations sorted by
// local name then URI: the SE(G_i) productions of DocContent (§8.5.1).
func (g *Grammars) DocumentElements() []int {
	var out []int
	for _, i := range g.GlobalElements {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return g.Elements[out[a]].Name.Less(g.Elements[out[b]].Name) })
	return out
}

// FragmentElements returns one element declaration per distinct qname of
// all declarations (global first, then local), sorted by local name then
// URI: the SE(F_i) productions of FragmentContent (§8.5.2). When
// declarations sharing a qname differ in type or nillable, the element
// fragment grammar should be used for that name; Ambiguous reports it.
func (g *Grammars) FragmentElements() (elems []int, ambiguous []bool) {
	byName := map[QName]int{}
	amb := map[QName]bool{}
	order := append(g.DocumentElements(), []int{}...)
	for i, e := range g.Elements {
		if !e.Global {
			order = append(order, i)
		}
	}
	for _, i := range order {
		e := g.Elements[i]
		if j, ok := byName[e.Name]; ok {
			o := g.Elements[j]
			if o.Type != e.Type || o.Nillable != e.Nillable {
				amb[e.Name] = true
			}
			continue
		}
		byName[e.Name] = i
		elems = append(elems, i)
	}
	sort.Slice(elems, func(a, b int) bool { return g.Elements[elems[a]].Name.Less(g.Elements[elems[b]].Name) })
	for _, i := range elems {
		ambiguous = append(ambiguous, amb[g.Elements[i].Name])
	}
	return elems, ambiguous
}
