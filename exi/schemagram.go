package exi

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/xiot/xiot/exi/schema"
)

// sgrammar is a compiled schema prepared for one set of options: the
// document and fragment element lists and a cache of event-code tables.
// It belongs to one Encoder or Decoder and survives Reset when the
// grammars and options stay the same.
type sgrammar struct {
	g      *schema.Grammars // orig, or a copy extended with the element fragment grammar
	orig   *schema.Grammars // the grammars the caller gave
	frags  bool             // fragment grammars built
	so     schema.Options
	dtrm   []DatatypeRepresentation
	dts    []schema.Datatype // g.Datatypes with the datatypeRepresentationMap applied
	tables [][]*stable       // per grammar: per non-terminal and flags (nt*4 + nillable*2 + castable)
	doc    []schema.QName    // SE(G_i) of DocContent, sorted
	docEl  []int
	frag   []schema.QName // SE(F_i) of FragmentContent, sorted
	fragEl []int
}

// stable is a schema.Table with an index for decoding.
type stable struct {
	schema.Table
	lns    []*localName // the entries of the codes' qnames in owner's tables
	owner  *tables
	first  int         // first-level productions
	size0  int         // distinct first-level values
	second []stableRef // second-level entries: first code and count

	next []*stable // the table after each code, see sgrammar.advance
	// child and childOK (encoder) keep the grammar state of the element
	// each SE code starts, see sgrammar.childCtx
	child   []sctx
	childOK []bool
	// memo (encoder) is the attribute path of the last start tag encoded
	// from this table, when it is the first of a grammar
	memo *startMemo
	// packed (encoder) holds each code's parts as one bit-packed value of
	// width packedN, so that it goes out in one write
	packed  []uint64
	packedN []uint8
	// bytes (encoder) holds each code's parts as byte-aligned streams
	// write them, each part in whole bytes, least significant first,
	// bytesN of them; bytesN is 0xff for a code longer than eight bytes
	bytes  []uint64
	bytesN []uint8
	// kinds and locals (encoder) are the event kinds and local names of
	// the codes, side by side for findIndex, which then reads few cache
	// lines rather than every Code
	kinds  []schema.EventKind
	locals []string
	// lkeys (encoder) are the shortKeys of locals of at most maxShort
	// bytes, so that findSE compares integers; ee1 is the index of the
	// first EE code + 1, 0 when there is none
	lkeys [][2]uint64
	ee1   int

	// the last find (encoder): kind, name and code index (-1: nil)
	fk     schema.EventKind
	fu, fl string
	fi     int
	fok    bool
}

type stableRef struct{ start, n int }

func schemaOptions(o *Options) schema.Options {
	return schema.Options{Strict: o.Strict, PreserveComments: o.Preserve.Comments, PreservePIs: o.Preserve.PIs,
		PreserveDTD: o.Preserve.DTD, PreservePrefixes: o.Preserve.Prefixes, SelfContained: o.SelfContained}
}

// prepareSchema returns s reused when it fits g and o, or a new sgrammar.
func prepareSchema(s *sgrammar, g *schema.Grammars, o *Options) (*sgrammar, error) {
	if g == nil {
		return nil, nil
	}
	so := schemaOptions(o)
	frags := o.Fragment || o.SelfContained
	if s != nil && s.orig == g && s.so == so && s.frags == frags && slices.Equal(s.dtrm, o.DatatypeRepresentationMap) {
		return s, nil
	}
	dts, err := applyDTRM(g, o.DatatypeRepresentationMap)
	if err != nil {
		return nil, err
	}
	s = &sgrammar{g: g, orig: g, frags: frags, so: so, dtrm: slices.Clone(o.DatatypeRepresentationMap), dts: dts}
	s.docEl = g.DocumentElements()
	for _, i := range s.docEl {
		s.doc = append(s.doc, g.Elements[i].Name)
	}
	var ambiguous []bool
	s.fragEl, ambiguous = g.FragmentElements()
	for _, i := range s.fragEl {
		s.frag = append(s.frag, g.Elements[i].Name)
	}
	if frags && slices.Contains(ambiguous, true) {
		s.addElementFragment(ambiguous)
	}
	return s, nil
}

// addElementFragment extends a copy of the grammars with the relaxed
// element fragment grammar (§8.5.3) and points the fragment productions
// of element names declared with different types or nillable at it.
func (s *sgrammar) addElementFragment(ambiguous []bool) {
	g := *s.orig
	g.Grammars = slices.Clip(g.Grammars)
	g.Types = slices.Clip(g.Types)
	g.Elements = slices.Clip(g.Elements)
	// A_0..A_n-1: every attribute qname of the schema, typed when all its
	// declarations agree on the type
	atype := map[schema.QName]int{}
	for _, gr := range s.orig.Grammars {
		for _, nt := range gr.NonTerminals {
			for _, p := range nt.Productions {
				if p.Event != schema.EventAT {
					continue
				}
				if t, ok := atype[p.Name]; ok && t != p.Type {
					atype[p.Name] = dtString
				} else if !ok {
					atype[p.Name] = p.Type
				}
			}
		}
	}
	for q, dt := range s.orig.GlobalAttributes {
		if t, ok := atype[q]; ok && t != dt {
			atype[q] = dtString
		} else if !ok {
			atype[q] = dt
		}
	}
	attrs := make([]schema.QName, 0, len(atype))
	for q := range atype {
		attrs = append(attrs, q)
	}
	slices.SortFunc(attrs, func(a, b schema.QName) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	ef, efEmpty := len(g.Grammars), len(g.Grammars)+1
	efType := len(g.Types)
	g.Types = append(g.Types, schema.TypeDef{Grammar: ef, Empty: efEmpty, Simple: -1, Base: -1, Complex: true, TypeCastable: true})
	mk := func(k schema.EventKind, name schema.QName, elem, typ, next int) schema.Production {
		return schema.Production{Event: k, Name: name, Elem: elem, Type: typ, Next: next}
	}
	var at []schema.Production
	for _, q := range attrs {
		at = append(at, mk(schema.EventAT, q, -1, atype[q], 0))
	}
	at = append(at, mk(schema.EventATAny, schema.QName{}, -1, -1, 0))
	var se []schema.Production
	for i, el := range s.fragEl {
		if ambiguous[i] {
			g.Elements = append(g.Elements, schema.ElementDecl{Name: s.frag[i], Type: efType, Nillable: true})
			el = len(g.Elements) - 1
			s.fragEl[i] = el
		}
		se = append(se, mk(schema.EventSE, s.frag[i], el, -1, 1))
	}
	se = append(se, mk(schema.EventSEAny, schema.QName{}, -1, -1, 1))
	ee := mk(schema.EventEE, schema.QName{}, -1, -1, schema.End)
	ch := mk(schema.EventCHUntyped, schema.QName{}, -1, -1, 1)
	nt0 := append(append(slices.Clone(at), se...), ee, ch)
	nt1 := append(slices.Clone(se), ee, ch)
	g.Grammars = append(g.Grammars,
		schema.Grammar{Content2: 1, NonTerminals: []schema.NonTerminal{{StartTag: true, Productions: nt0}, {Productions: nt1}}},
		schema.Grammar{NonTerminals: []schema.NonTerminal{{StartTag: true, Productions: append(slices.Clone(at), ee)}}})
	s.g = &g
	s.tables = nil
}

// find returns the index of q in a sorted element list, or -1.
func findName(list []schema.QName, uri, local string) int {
	i := sort.Search(len(list), func(i int) bool {
		q := list[i]
		if q.Local != local {
			return q.Local >= local
		}
		return q.URI >= uri
	})
	if i < len(list) && list[i].Local == local && list[i].URI == uri {
		return i
	}
	return -1
}

func (s *sgrammar) table(gi, nt int, nillable, castable bool) (*stable, error) {
	if s.tables == nil {
		s.tables = make([][]*stable, len(s.g.Grammars))
	}
	if gi < 0 || gi >= len(s.tables) || nt < 0 || nt >= len(s.g.Grammars[gi].NonTerminals) {
		return nil, fmt.Errorf("exi: grammar %d non-terminal %d out of range: %w", gi, nt, ErrMalformed)
	}
	if s.tables[gi] == nil {
		s.tables[gi] = make([]*stable, 4*len(s.g.Grammars[gi].NonTerminals))
	}
	key := 4 * nt
	if nillable {
		key += 2
	}
	if castable {
		key++
	}
	if t := s.tables[gi][key]; t != nil {
		return t, nil
	}
	tab, err := s.g.Table(gi, nt, nillable, castable, s.so)
	if err != nil {
		return nil, fmt.Errorf("exi: %w", err)
	}
	t := &stable{Table: tab}
	for i, c := range tab.Codes {
		if i == 0 {
			t.size0 = c.Sizes[0]
		}
		if c.Len == 1 {
			t.first++
			continue
		}
		if c.Parts[1] == len(t.second) {
			t.second = append(t.second, stableRef{start: i})
		}
		t.second[len(t.second)-1].n++
	}
	t.packed, t.packedN = make([]uint64, len(tab.Codes)), make([]uint8, len(tab.Codes))
	t.bytes, t.bytesN = make([]uint64, len(tab.Codes)), make([]uint8, len(tab.Codes))
	t.kinds, t.locals = make([]schema.EventKind, len(tab.Codes)), make([]string, len(tab.Codes))
	t.lkeys = make([][2]uint64, len(tab.Codes))
	for i := range tab.Codes {
		c := &tab.Codes[i]
		t.kinds[i], t.locals[i] = c.Event, c.Name.Local
		if len(c.Name.Local) <= maxShort {
			t.lkeys[i][0], t.lkeys[i][1] = shortKey(c.Name.Local)
		}
		if c.Event == schema.EventEE && t.ee1 == 0 {
			t.ee1 = i + 1
		}
		nb := 0
		for k := 0; k < c.Len; k++ {
			n := bitsFor(c.Sizes[k])
			t.packed[i] = t.packed[i]<<uint(n) | uint64(c.Parts[k])
			t.packedN[i] += uint8(n)
			for v := uint64(c.Parts[k]); n > 0; n -= 8 {
				if nb < 8 {
					t.bytes[i] |= (v & 0xff) << uint(8*nb)
				}
				v >>= 8
				nb++
			}
		}
		t.bytesN[i] = uint8(nb)
		if nb > 8 {
			t.bytesN[i] = 0xff
		}
	}
	s.tables[gi][key] = t
	return t, nil
}

// writeCode writes the event code of t.Codes[i].
func (t *stable) writeCode(w *bitWriter, i int) {
	if !w.aligned {
		w.writeBits(t.packed[i], int(t.packedN[i]))
		return
	}
	t.writeAligned(w, i)
}

// writeAligned writes the event code of t.Codes[i] to the byte-aligned w.
func (t *stable) writeAligned(w *bitWriter, i int) {
	n := int(t.bytesN[i])
	if n > 8 {
		writeCodeParts(w, &t.Codes[i])
		return
	}
	l := len(w.buf)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, t.bytes[i])[:l+n]
}

// codeRef is the event code i of table tab with its bit-packed form at
// hand (encoder).
type codeRef struct {
	tab *stable
	i   int32
	n   uint8  // width of v
	v   uint64 // the parts packed, see stable.packed
}

func (t *stable) ref(i int) codeRef {
	return codeRef{tab: t, i: int32(i), n: t.packedN[i], v: t.packed[i]}
}

// writeWith writes, in a bit-packed stream, the code and then the n
// (at most 57) low bits of v.
func (c *codeRef) writeWith(w *bitWriter, v uint64, n int) {
	if int(c.n)+n <= 64 {
		w.writeBits(c.v<<uint(n)|v, int(c.n)+n)
		return
	}
	w.writeBits(c.v, int(c.n))
	w.writeBits(v, n)
}

func (c *codeRef) write(w *bitWriter) {
	if !w.aligned {
		w.writeBits(c.v, int(c.n))
		return
	}
	c.tab.writeAligned(w, int(c.i))
}

// localName returns the string-table entry of the qname of code i,
// caching initial (schema) entries of tables tb.
func (t *stable) localName(i int, tb *tables) *localName {
	if t.owner != tb {
		t.owner = tb
		if t.lns == nil {
			t.lns = make([]*localName, len(t.Codes))
		} else {
			clear(t.lns)
		}
	}
	if ln := t.lns[i]; ln != nil {
		return ln
	}
	q := t.Codes[i].Name
	ln := tb.lookupLocal(q.URI, q.Local)
	if ln.id < ln.uri.initLocals {
		t.lns[i] = ln
	}
	return ln
}

// writeCodeParts writes the event code c.
func writeCodeParts(w *bitWriter, c *schema.Code) {
	for k := 0; k < c.Len; k++ {
		w.writeNBit(uint64(c.Parts[k]), bitsFor(c.Sizes[k]))
	}
}

// index returns the position of c, a pointer into t.Codes.
func (t *stable) index(c *schema.Code) int {
	if i := t.fi; t.fok && i >= 0 && &t.Codes[i] == c {
		return i
	}
	for i := range t.Codes {
		if &t.Codes[i] == c {
			return i
		}
	}
	return -1
}

// read reads an event code of t and returns its index in t.Codes.
func (t *stable) read(r *bitReader) (int, error) {
	v, err := r.readNBit(bitsFor(t.size0))
	if err != nil {
		return 0, err
	}
	if int(v) < t.first {
		return int(v), nil
	}
	if int(v) != t.first || len(t.second) == 0 {
		return 0, r.fail(fmt.Errorf("event code %d of %d: %w", v, t.size0, ErrMalformed))
	}
	v2, err := r.readNBit(bitsFor(len(t.second)))
	if err != nil {
		return 0, err
	}
	if int(v2) >= len(t.second) {
		return 0, r.fail(fmt.Errorf("event code %d.%d: %w", v, v2, ErrMalformed))
	}
	ref := t.second[v2]
	if c := &t.Codes[ref.start]; c.Len == 3 {
		v3, err := r.readNBit(bitsFor(c.Sizes[2]))
		if err != nil {
			return 0, err
		}
		if int(v3) >= ref.n {
			return 0, r.fail(fmt.Errorf("event code %d.%d.%d: %w", v, v2, v3, ErrMalformed))
		}
		return ref.start + int(v3), nil
	}
	return ref.start, nil
}

// findCode returns the first code of kind k for name (ignored for kinds
// without a qname), or nil.
func (t *stable) find(k schema.EventKind, uri, local string) *schema.Code {
	i := t.findIdx(k, uri, local)
	if i < 0 {
		return nil
	}
	return &t.Codes[i]
}

// findIdx is find returning the index of the code, or -1.
func (t *stable) findIdx(k schema.EventKind, uri, local string) int {
	// Documents repeat their structure: a non-terminal is mostly left by
	// the same event.
	if t.fok && t.fk == k && t.fl == local && t.fu == uri {
		return t.fi
	}
	i := t.findIndex(k, uri, local)
	if i >= 0 && (k == schema.EventAT || k == schema.EventSE || k == schema.EventATUntyped) {
		// the code's own strings, which stay in cache, rather than the
		// caller's
		uri, local = t.Codes[i].Name.URI, t.Codes[i].Name.Local
	}
	t.fk, t.fu, t.fl, t.fi, t.fok = k, uri, local, i, true
	return i
}

// findSE is findIndex for an SE code: local names of at most maxShort
// bytes are compared by their shortKey, the URI of the code found by its
// bytes.
func (t *stable) findSE(uri, local string) int {
	var ka, kb uint64 // shortKey(local), inlined
	switch n := len(local); {
	case n > maxShort:
		return t.findIndex(schema.EventSE, uri, local)
	case n >= 8:
		ka, kb = le64(local), le64(local[n-8:])
	case n >= 4:
		ka, kb = uint64(le32(local)), uint64(le32(local[n-4:]))
	case n > 0:
		ka = uint64(local[0])<<16 | uint64(local[n>>1])<<8 | uint64(local[n-1])
	}
	for i, ck := range t.kinds {
		if ck == schema.EventSE && len(t.locals[i]) == len(local) && t.lkeys[i][0] == ka && t.lkeys[i][1] == kb &&
			t.Codes[i].Name.URI == uri {
			return i
		}
	}
	return -1
}

func (t *stable) findIndex(k schema.EventKind, uri, local string) int {
	for i, ck := range t.kinds {
		if ck != k {
			continue
		}
		switch k {
		case schema.EventAT, schema.EventSE, schema.EventATUntyped:
			if t.locals[i] != local || t.Codes[i].Name.URI != uri {
				continue
			}
		case schema.EventATNS, schema.EventSENS:
			if t.Codes[i].Name.URI != uri {
				continue
			}
		}
		return i
	}
	return -1
}

// elemGrammar returns the grammar of element declaration el: grammar
// index, nillable and type-castable.
func (s *sgrammar) elemGrammar(el int) (gi int, nillable, castable bool) {
	e := &s.g.Elements[el]
	t := &s.g.Types[e.Type]
	return t.Grammar, e.Nillable, t.TypeCastable
}

// globalElem returns the global element declaration of ln, or -1,
// caching the answer on ln.
func (s *sgrammar) globalElem(ln *localName) int {
	if ln.gel == 0 {
		ln.gel = -1
		if i, ok := s.g.GlobalElements[schema.QName{URI: ln.uri.name, Local: ln.name}]; ok {
			ln.gel = int32(i) + 1
		}
	}
	if ln.gel < 0 {
		return -1
	}
	return int(ln.gel - 1)
}

// globalAttr returns the datatype of the global attribute declaration of
// ln, or dtString.
func (s *sgrammar) globalAttr(ln *localName) int {
	if ln.gat == 0 {
		ln.gat = -1
		if i, ok := s.g.GlobalAttributes[schema.QName{URI: ln.uri.name, Local: ln.name}]; ok {
			ln.gat = int32(i) + 1
		}
	}
	if ln.gat < 0 {
		return dtString
	}
	return int(ln.gat - 1)
}

// typeByName returns the TypeDef index of a named type, or -1.
func (s *sgrammar) typeByName(uri, local string) int {
	if i, ok := s.g.GlobalTypes[schema.QName{URI: uri, Local: local}]; ok {
		return i
	}
	return -1
}

// newSchemaTables returns string tables pre-populated from the schema
// (§7.3.1).
func newSchemaTables(encoding bool, g *schema.Grammars) *tables {
	t := &tables{uriIdx: make(map[string]*uriEntry, len(g.Strings.URIs)+4)}
	if encoding {
		t.vidx = newValIndex()
	}
	for _, p := range g.Strings.URIs {
		u := t.addURI(p.URI)
		u.prefixes = append([]string(nil), p.Prefixes...)
		for _, l := range p.LocalNames {
			t.addLocal(u, l)
		}
	}
	t.frag = &elemGrammar{}
	t.schema = g
	t.markInit()
	return t
}

// lookupLocal returns the local-name entry of {uri}local, adding it
// without writing anything when the schema-implied name is missing.
func (t *tables) lookupLocal(uri, local string) *localName {
	u := t.uriIdx[uri]
	if u == nil {
		u = t.addURI(uri)
	}
	if ln := u.localIdx[local]; ln != nil {
		return ln
	}
	return t.addLocal(u, local)
}
