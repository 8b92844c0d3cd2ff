package exi

import (
	"fmt"

	"github.com/xiot/xiot/exi/schema"
)

// sctx is the schema-informed grammar state of an open element.
type sctx struct {
	gi       int32 // grammar index + 1; 0 means a built-in element grammar
	nt       int32 // current non-terminal
	nillable bool
	castable bool

	tab   *stable // cached table of (gi, tabNT)
	tabNT int32
}

// ctxFor returns the grammar state of a new element with declaration el
// (-1: undeclared, built-in grammar).
func (s *sgrammar) ctxFor(el int) sctx {
	if el < 0 || el >= len(s.g.Elements) {
		return sctx{}
	}
	gi, nillable, castable := s.elemGrammar(el)
	return sctx{gi: int32(gi) + 1, nillable: nillable, castable: castable}
}

func (s *sgrammar) tableOf(c *sctx) (*stable, error) {
	if c.tab != nil && c.tabNT == c.nt {
		return c.tab, nil
	}
	t, err := s.table(int(c.gi-1), int(c.nt), c.nillable, c.castable)
	c.tab, c.tabNT = t, c.nt
	return t, err
}

// switchType applies xsi:type: the element continues with the grammar of
// the named type when the schema defines it.
func (s *sgrammar) switchType(c *sctx, ln *localName) {
	if ln != nil {
		s.switchTypeName(c, ln.uri.name, ln.name)
	}
}

// switchTypeName is switchType for the type {uri}local.
func (s *sgrammar) switchTypeName(c *sctx, uri, local string) {
	ti := s.typeByName(uri, local)
	if ti < 0 {
		return
	}
	t := &s.g.Types[ti]
	c.gi, c.nt, c.castable, c.tab = int32(t.Grammar)+1, 0, t.TypeCastable, nil
	if s.so.Strict {
		// strict: after xsi:type the type's grammar has no xsi:type or
		// xsi:nil productions, as with the reference implementation
		c.castable, c.nillable = false, false
	}
}

// switchNil applies xsi:nil="true": the element continues with the
// TypeEmpty grammar of its type.
func (s *sgrammar) switchNil(c *sctx) {
	gi := int(c.gi - 1)
	for i := range s.g.Types {
		if s.g.Types[i].Grammar == gi {
			c.gi, c.nt, c.tab = int32(s.g.Types[i].Empty)+1, 0, nil
			if s.so.Strict {
				// strict TypeEmpty grammars have no xsi:type or xsi:nil
				c.nillable, c.castable = false, false
			}
			return
		}
	}
}

// schemaTop returns the innermost element when it uses a schema-informed
// grammar.
func (e *Encoder) schemaTop() *eframe {
	if e.sg == nil {
		return nil
	}
	n := len(e.stack)
	if n == 0 || e.stack[n-1].scOuter || e.stack[n-1].sc.gi == 0 {
		return nil
	}
	return &e.stack[n-1]
}

// sortAttrs orders attributes by local name, then URI (a stable insertion
// sort: start tags have few attributes).
func sortAttrs(a []attrItem) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && attrLess(&a[j], &a[j-1]); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func attrLess(x, y *attrItem) bool {
	if x.local != y.local {
		return x.local < y.local
	}
	return x.uri < y.uri
}

// valid reports whether s can be encoded as a value of datatype dt: with
// Preserve.lexicalValues every value is a string.
func (e *Encoder) valid(dt int, s string, depth int) bool {
	return e.opts.Preserve.LexicalValues || checkTyped(e.sg.dts, dt, s, depth)
}

func notAllowed(what string) error {
	return fmt.Errorf("exi: %s is not allowed here by the schema: %w", what, ErrInvalid)
}

// schemaSE writes an SE event in schema-informed mode and returns the
// element's name entry and grammar state.
func (e *Encoder) schemaSE(uri, local, prefix string) (*localName, sctx, error) {
	var ln *localName
	el := -1
	n := len(e.stack)
	switch {
	case n == 0 || e.stack[n-1].scOuter:
		list := e.docList()
		if i := findName(list, uri, local); i >= 0 {
			st, _ := e.curState()
			e.w.writeNBit(uint64(i), bitsFor(len(list)+len(e.lv[st][0])))
			ln = e.t.lookupLocal(uri, local)
			if e.state == stFragment {
				el = e.sg.fragEl[i]
			} else {
				el = e.sg.docEl[i]
			}
		} else {
			if _, err := e.writeCode(evSE, nil); err != nil {
				return nil, sctx{}, err
			}
			ln = e.t.encodeQName(&e.w, uri, local)
		}
	case e.stack[n-1].sc.gi != 0:
		f := &e.stack[n-1]
		tab, err := e.sg.tableOf(&f.sc)
		if err != nil {
			return nil, sctx{}, err
		}
		if i := tab.findSE(uri, local); i >= 0 {
			tab.writeCode(&e.w, i)
			ln = tab.localName(i, e.t)
			e.sg.advance(&f.sc, tab, i)
			if e.opts.Preserve.Prefixes {
				encodePrefix(&e.w, ln.uri, prefix)
			}
			return ln, e.sg.childCtx(tab, i, ln), nil
		} else if c := tab.find(schema.EventSENS, uri, ""); c != nil {
			writeCodeParts(&e.w, c)
			u := e.t.uriIdx[uri]
			if u == nil {
				u = e.t.addURI(uri)
			}
			ln = e.t.encodeLocal(&e.w, u, local)
			f.sc.nt = int32(c.Next)
		} else if c := tab.find(schema.EventSEAny, "", ""); c != nil {
			writeCodeParts(&e.w, c)
			ln = e.t.encodeQName(&e.w, uri, local)
			f.sc.nt = int32(c.Next)
		} else {
			return nil, sctx{}, notAllowed("element {" + uri + "}" + local)
		}
	default:
		var err error
		if ln, err = e.qnameEvent(evSE, uri, local, prefix); err != nil {
			return nil, sctx{}, err
		}
		if el = e.sg.globalElem(ln); el < 0 {
			return ln, sctx{}, nil
		}
		return ln, e.sg.ctxFor(el), nil
	}
	if e.opts.Preserve.Prefixes {
		encodePrefix(&e.w, ln.uri, prefix)
	}
	if el < 0 {
		el = e.sg.globalElem(ln)
	}
	return ln, e.sg.ctxFor(el), nil
}

// schemaAT writes an attribute in a schema-informed grammar.
func (e *Encoder) schemaAT(f *eframe, auri, alocal, aprefix, avalue string) error {
	a := attrItem{uri: auri, local: alocal, prefix: aprefix, value: avalue}
	tab, err := e.sg.tableOf(&f.sc)
	if err != nil {
		return err
	}
	pre := e.opts.Preserve.Prefixes
	if a.uri == nsXSI {
		switch a.local {
		case "type":
			c := tab.find(schema.EventATXsiType, "", "")
			if c == nil {
				return notAllowed("xsi:type")
			}
			writeCodeParts(&e.w, c)
			if pre {
				encodePrefix(&e.w, e.t.uriIdx[nsXSI], a.prefix)
			}
			uri, local := e.typeValue(a.value)
			e.sg.switchTypeName(&f.sc, uri, local)
			return nil
		case "nil":
			v, err := schema.ParseBoolean(a.value)
			c := tab.find(schema.EventATXsiNil, "", "")
			if err == nil && c != nil {
				writeCodeParts(&e.w, c)
				if pre {
					encodePrefix(&e.w, e.t.uriIdx[nsXSI], a.prefix)
				}
				e.w.writeBool(v)
				if v {
					e.sg.switchNil(&f.sc)
				}
				return nil
			}
			if u := tab.find(schema.EventATAnyUntyped, "", ""); err != nil && u != nil {
				// an xsi:nil value that is not a boolean: AT(*) [untyped value]
				writeCodeParts(&e.w, u)
				ln := e.t.encodeQName(&e.w, a.uri, a.local)
				if pre {
					encodePrefix(&e.w, ln.uri, a.prefix)
				}
				e.value(ln, a.value, dtString)
				f.sc.nt = int32(u.Next)
				return nil
			}
		}
	}
	if i := tab.findIdx(schema.EventAT, a.uri, a.local); i >= 0 {
		c := &tab.Codes[i]
		ln := tab.localName(i, e.t)
		if !pre && e.typedFast(tab.ref(i), ln, c.Type, a.value) {
			e.sg.advance(&f.sc, tab, i)
			return nil
		}
		if e.valid(c.Type, a.value, 0) {
			tab.writeCode(&e.w, i)
			if pre {
				encodePrefix(&e.w, ln.uri, a.prefix)
			}
			e.value(ln, a.value, c.Type)
			e.sg.advance(&f.sc, tab, i)
			return nil
		}
		if u := tab.find(schema.EventATUntyped, a.uri, a.local); u != nil {
			writeCodeParts(&e.w, u)
			if pre {
				encodePrefix(&e.w, ln.uri, a.prefix)
			}
			e.value(ln, a.value, dtString)
			f.sc.nt = int32(u.Next)
			return nil
		}
		return fmt.Errorf("exi: value %q of attribute %s is invalid for its type: %w", a.value, a.local, ErrInvalid)
	}
	var c *schema.Code
	var ln *localName
	if c = tab.find(schema.EventATNS, a.uri, ""); c != nil {
		writeCodeParts(&e.w, c)
		u := e.t.uriIdx[a.uri]
		if u == nil {
			u = e.t.addURI(a.uri)
		}
		ln = e.t.encodeLocal(&e.w, u, a.local)
	} else if c = tab.find(schema.EventATAny, "", ""); c != nil {
		dt := dtString
		if l := e.t.uriIdx[a.uri]; l != nil {
			if x := l.localIdx[a.local]; x != nil {
				dt = e.sg.globalAttr(x)
			}
		}
		if dt != dtString && !e.valid(dt, a.value, 0) {
			if u := tab.find(schema.EventATAnyUntyped, "", ""); u != nil {
				c = u
			}
		}
		writeCodeParts(&e.w, c)
		ln = e.t.encodeQName(&e.w, a.uri, a.local)
	} else {
		return notAllowed("attribute {" + a.uri + "}" + a.local)
	}
	if pre {
		encodePrefix(&e.w, ln.uri, a.prefix)
	}
	dt := dtString
	if c.Event != schema.EventATAnyUntyped {
		if dt = e.sg.globalAttr(ln); dt != dtString && !e.valid(dt, a.value, 0) {
			dt = dtString
		}
	}
	e.value(ln, a.value, dt)
	f.sc.nt = int32(c.Next)
	return nil
}

// schemaCH writes character data in a schema-informed grammar: typed when
// the value is valid for the type, otherwise untyped.
func (e *Encoder) schemaCH(f *eframe, s string) error {
	tab, err := e.sg.tableOf(&f.sc)
	if err != nil {
		return err
	}
	if i := tab.findIdx(schema.EventCH, "", ""); i >= 0 {
		c := &tab.Codes[i]
		if e.typedFast(tab.ref(i), f.ln, c.Type, s) {
			e.sg.advance(&f.sc, tab, i)
			return nil
		}
		if e.valid(c.Type, s, 0) {
			tab.writeCode(&e.w, i)
			e.value(f.ln, s, c.Type)
			e.sg.advance(&f.sc, tab, i)
			return nil
		}
	}
	if c := tab.find(schema.EventCHUntyped, "", ""); c != nil {
		writeCodeParts(&e.w, c)
		e.value(f.ln, s, dtString)
		f.sc.nt = int32(c.Next)
		return nil
	}
	if isSpace([]byte(s)) {
		return nil // whitespace the grammar has no place for is dropped
	}
	return notAllowed(fmt.Sprintf("character data %.40q", s))
}

var schemaKinds = [...]schema.EventKind{evEE: schema.EventEE, evNS: schema.EventNS, evSC: schema.EventSC,
	evCM: schema.EventCM, evPI: schema.EventPI, evER: schema.EventER, evED: schema.EventED}

// schemaEvent writes an event without qname or value (EE, NS, SC, CM, PI,
// ER) in a schema-informed grammar.
func (e *Encoder) schemaEvent(f *eframe, kind evKind) error {
	if int(kind) >= len(schemaKinds) || (schemaKinds[kind] == 0 && kind != evEE) {
		return fmt.Errorf("exi: event %d in a schema-informed element: %w", kind, ErrInvalid)
	}
	k := schemaKinds[kind]
	tab, err := e.sg.tableOf(&f.sc)
	if err != nil {
		return err
	}
	i := tab.ee1 - 1
	if k != schema.EventEE {
		i = tab.findIdx(k, "", "")
	}
	if i >= 0 {
		tab.writeCode(&e.w, i)
		if tab.Codes[i].Next != schema.End {
			e.sg.advance(&f.sc, tab, i)
		}
		return nil
	}
	var c *schema.Code
	if kind == evEE {
		// An element of simple type without content: the empty value,
		// when valid for the type, rather than a deviation.
		if ch := tab.find(schema.EventCH, "", ""); ch != nil && ch.Len == 1 && e.valid(ch.Type, "", 0) {
			writeCodeParts(&e.w, ch)
			e.value(f.ln, "", ch.Type)
			f.sc.nt = int32(ch.Next)
			if tab, err = e.sg.tableOf(&f.sc); err != nil {
				return err
			}
			c = tab.find(k, "", "")
		}
	}
	if c == nil {
		return notAllowed(k.String())
	}
	writeCodeParts(&e.w, c)
	if c.Next != schema.End {
		e.sg.advance(&f.sc, tab, tab.index(c))
	}
	return nil
}

// childCtx returns the grammar state of an element started by the SE
// code i of tab, whose qname has the entry ln, with the table of its
// first non-terminal at hand. It is kept per code.
func (s *sgrammar) childCtx(tab *stable, i int, ln *localName) sctx {
	if tab.child == nil {
		tab.child = make([]sctx, len(tab.Codes))
		tab.childOK = make([]bool, len(tab.Codes))
	}
	if tab.childOK[i] {
		return tab.child[i]
	}
	el := tab.Codes[i].Elem
	if el < 0 {
		el = s.globalElem(ln)
	}
	c := s.ctxFor(el)
	if c.gi != 0 {
		if t, err := s.table(int(c.gi-1), 0, c.nillable, c.castable); err == nil {
			c.tab, c.tabNT = t, 0
		}
	}
	tab.child[i], tab.childOK[i] = c, true
	return c
}

// advance moves sc, whose current table is tab, to the non-terminal
// after code i, with that non-terminal's table at hand (kept per code).
func (s *sgrammar) advance(sc *sctx, tab *stable, i int) {
	sc.nt = int32(tab.Codes[i].Next)
	if tab.next == nil {
		tab.next = make([]*stable, len(tab.Codes))
	}
	t := tab.next[i]
	if t == nil {
		var err error
		if t, err = s.table(int(sc.gi-1), int(sc.nt), sc.nillable, sc.castable); err != nil {
			return // tableOf reports it
		}
		tab.next[i] = t
	}
	sc.tab, sc.tabNT = t, sc.nt
}
