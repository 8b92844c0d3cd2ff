package exi

import (
	"encoding/xml"

	"github.com/xiot/xiot/exi/schema"
)

// startMemo is the attribute path of the last start tag encoded from a
// schema grammar's first non-terminal (encoder): the attribute names in
// document order, their order by the schema and the event code each
// took. Documents repeat their start tags, so that the next start tag
// with the same names replays it without sorting or code lookups, and
// with what it needs in one place rather than in the tables.
type startMemo struct {
	names []xml.Name
	keys  [][2]uint64 // shortKey of each name's Local of at most maxShort bytes
	order []uint8
	steps []memoStep
	owner *tables // the string tables of the steps' entries
}

// memoStep is the AT code that one attribute took, with its qname's
// entry, its datatype and the grammar state after it.
type memoStep struct {
	code  codeRef
	ln    *localName
	dt    int32
	nt    int32 // sctx.nt, .tab and .tabNT after the code
	tabNT int32
	tab   *stable
}

// sameNames reports whether the attributes of a have the names of m.
func (m *startMemo) sameNames(a []xml.Attr) bool {
	if len(m.names) != len(a) {
		return false
	}
	for i := range a {
		x, y := &m.names[i], &a[i].Name
		// lengths first: attributes mostly have no namespace; local
		// names of at most maxShort bytes compare by their shortKey
		if len(x.Local) != len(y.Local) || len(x.Space) != len(y.Space) {
			return false
		}
		switch s, n := y.Local, len(y.Local); {
		case n > maxShort:
			if x.Local != s {
				return false
			}
		case n >= 8:
			if m.keys[i][0] != le64(s) || m.keys[i][1] != le64(s[n-8:]) {
				return false
			}
		case n >= 4:
			if m.keys[i][0] != uint64(le32(s)) || m.keys[i][1] != uint64(le32(s[n-4:])) {
				return false
			}
		case n > 0:
			if m.keys[i][0] != uint64(s[0])<<16|uint64(s[n>>1])<<8|uint64(s[n-1]) {
				return false
			}
		}
		if len(x.Space) != 0 && x.Space != y.Space {
			return false
		}
	}
	return true
}

// schemaStart is startElement for the common schema-informed start tag:
// prefixes not preserved, no self-contained elements, and no namespace
// declaration or xsi attribute. The attributes are encoded in schema
// order (local name, then URI) straight from t, through a sorted list of
// their indices, or as the start tag before with the same attribute names
// was (startMemo). It reports false, having done nothing, when t is not
// such a start tag.
func (e *Encoder) schemaStart(t *xml.StartElement, mark int, space bool) (bool, error) {
	if len(t.Attr) > 255 {
		return false, nil
	}
	memo := true // the path can be kept for the next start tag
	for i := range t.Attr {
		a := &t.Attr[i].Name
		if len(a.Space) == 0 && len(a.Local) != len("xmlns") {
			continue // the common case, decided on lengths
		}
		switch a.Space {
		case "":
			if a.Local == "xmlns" {
				return false, nil
			}
		case "xmlns", nsXSI:
			return false, nil
		case nsXML:
			memo = false
			if a.Local == "space" {
				space = t.Attr[i].Value == "preserve"
			}
		}
	}
	if !e.schemaChildSE(&t.Name, mark, space) {
		if err := e.pushElement(t.Name.Space, t.Name.Local, "", mark, space); err != nil {
			return true, err
		}
	}
	var tab0 *stable // the start table of the element's schema grammar
	if f := e.schemaTop(); f != nil && memo && len(t.Attr) > 0 && !e.opts.Preserve.LexicalValues {
		var err error
		if tab0, err = e.sg.tableOf(&f.sc); err != nil {
			return true, err
		}
		if m := tab0.memo; m != nil && m.sameNames(t.Attr) {
			return true, e.replayStart(t, m)
		}
	}
	e.order = e.order[:0]
	for i := range t.Attr {
		// insertion sort, stable: start tags have few attributes
		a := &t.Attr[i].Name
		j := len(e.order)
		e.order = append(e.order, uint8(i))
		for ; j > 0 && attrNameLess(a, &t.Attr[e.order[j-1]].Name); j-- {
			e.order[j] = e.order[j-1]
		}
		e.order[j] = uint8(i)
	}
	var m *startMemo
	if tab0 != nil {
		if m = tab0.memo; m == nil {
			m = &startMemo{}
		}
		m.names, m.order, m.steps, m.owner = m.names[:0], append(m.order[:0], e.order...), m.steps[:0], e.t
	}
	for _, i := range e.order {
		a := &t.Attr[i]
		f := e.schemaTop()
		if f == nil {
			m = nil
			ln, err := e.qnameEvent(evAT, a.Name.Space, a.Name.Local, "")
			if err != nil {
				return true, err
			}
			e.value(ln, a.Value, dtString)
			continue
		}
		if m != nil {
			// the common path, kept: a typed attribute written in place
			tab, err := e.sg.tableOf(&f.sc)
			if err != nil {
				return true, err
			}
			if i := tab.findIdx(schema.EventAT, a.Name.Space, a.Name.Local); i >= 0 {
				c, ln, dt := tab.ref(i), tab.localName(i, e.t), tab.Codes[i].Type
				if e.typedFast(c, ln, dt, a.Value) {
					e.sg.advance(&f.sc, tab, i)
					if ln.id < ln.uri.initLocals { // an entry that stays, see stable.localName
						m.steps = append(m.steps, memoStep{code: c, ln: ln, dt: int32(dt), nt: f.sc.nt, tabNT: f.sc.tabNT, tab: f.sc.tab})
					} else {
						m = nil
					}
					continue
				}
			}
			m = nil
		}
		if err := e.schemaAT(f, a.Name.Space, a.Name.Local, "", a.Value); err != nil {
			return true, err
		}
	}
	if m != nil {
		// the names as the grammar spells them: its strings stay in
		// cache, and the tokens' are not kept
		m.names = append(m.names[:0], make([]xml.Name, len(t.Attr))...)
		m.keys = append(m.keys[:0], make([][2]uint64, len(t.Attr))...)
		for k, i := range m.order {
			c := &m.steps[k].code
			q := &c.tab.Codes[c.i].Name
			m.names[i] = xml.Name{Space: q.URI, Local: q.Local}
			if len(q.Local) <= maxShort {
				m.keys[i][0], m.keys[i][1] = shortKey(q.Local)
			}
		}
		tab0.memo = m
	} else if tab0 != nil {
		tab0.memo = nil
	}
	e.simple = true
	return true, e.t.checkEntries(&e.lim)
}

// schemaChildSE is pushElement for an element that its parent's schema
// grammar, with the table of its current non-terminal at hand, has an
// SE code for, as schemaSE finds and writes it. It reports false, having
// done nothing, in other cases.
func (e *Encoder) schemaChildSE(name *xml.Name, mark int, space bool) bool {
	n := len(e.stack)
	if n == 0 {
		return false
	}
	f := &e.stack[n-1]
	tab := f.sc.tab
	if f.scOuter || f.sc.gi == 0 || tab == nil || f.sc.tabNT != f.sc.nt || e.opts.Preserve.Prefixes {
		return false
	}
	i := tab.findSE(name.Space, name.Local)
	if i < 0 {
		return false
	}
	tab.writeCode(&e.w, i)
	ln := tab.localName(i, e.t)
	e.sg.advance(&f.sc, tab, i)
	f.state = stContent
	var sc sctx
	if tab.childOK != nil && tab.childOK[i] {
		sc = tab.child[i]
	} else {
		sc = e.sg.childCtx(tab, i, ln)
	}
	if sc.gi == 0 && ln.elem == nil {
		ln.elem = &elemGrammar{}
	}
	e.stack = append(e.stack, eframe{ln: ln, sc: sc, state: stStartTag, nsMark: mark, space: space})
	return true
}

// replayStart encodes the attributes of t, whose names are those of m,
// along the codes of m; from an attribute whose value cannot take that
// path on, the general way.
func (e *Encoder) replayStart(t *xml.StartElement, m *startMemo) error {
	f := &e.stack[len(e.stack)-1]
	if m.owner != e.t {
		for k := range m.steps {
			st := &m.steps[k]
			st.ln = st.code.tab.localName(int(st.code.i), e.t)
		}
		m.owner = e.t
	}
	k0 := 0
	if !e.w.aligned { // bit-packed: no channels
		k0 = e.replayPacked(t, m, f)
	} else if e.channels() && !e.opts.Preserve.LexicalValues {
		k0 = e.replayChannels(t, m, f)
	}
	for k := k0; k < len(m.order); k++ {
		i := m.order[k]
		st := &m.steps[k]
		// f.sc is at st.code.tab: the steps before moved it along m
		if e.typedFast(st.code, st.ln, int(st.dt), t.Attr[i].Value) {
			f.sc.nt, f.sc.tab, f.sc.tabNT = st.nt, st.tab, st.tabNT
			continue
		}
		for _, i := range m.order[k:] {
			a := &t.Attr[i]
			if err := e.schemaAT(f, a.Name.Space, a.Name.Local, "", a.Value); err != nil {
				return err
			}
		}
		break
	}
	e.simple = true
	return e.t.checkEntries(&e.lim)
}

func attrNameLess(x, y *xml.Name) bool {
	// most attribute names of a start tag differ in their first byte
	if len(x.Local) > 0 && len(y.Local) > 0 && x.Local[0] != y.Local[0] {
		return x.Local[0] < y.Local[0]
	}
	if x.Local != y.Local {
		return x.Local < y.Local
	}
	return x.Space < y.Space
}
