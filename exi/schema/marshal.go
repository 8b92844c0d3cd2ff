package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// The serialised form of Grammars is "xiotEXIg" and a format version
// byte, a table of the distinct strings (count, then each as length and
// bytes), then every field in declaration order: unsigned varints for
// counts, indexes (plus one, so that -1 is 0), enumerations and strings
// (their index in the table), zig-zag varints for NBitMin, and the
// global maps as sorted (name, index) lists. Counts are checked against the bytes left
// before anything is allocated, so hostile input cannot make the reader
// allocate more than a small multiple of its own size.
const (
	marshalMagic   = "xiotEXIg"
	marshalVersion = 1
)

// MarshalBinary serialises the compiled grammars, so that a device can
// load them without parsing XSD. The format is xiot's own (see
// UnmarshalBinary), compact and deterministic: the same grammars give
// the same bytes.
func (g *Grammars) MarshalBinary() ([]byte, error) {
	w := gwriter{ids: map[string]int{}}
	w.n(len(g.Datatypes))
	for i := range g.Datatypes {
		d := &g.Datatypes[i]
		w.qname(d.Name)
		w.qname(d.Builtin)
		w.n(int(d.Rep))
		w.n(int(d.DateTime))
		w.b = binary.AppendVarint(w.b, d.NBitMin)
		w.n(d.NBitBits)
		w.n(len(d.Enum))
		for _, e := range d.Enum {
			w.str(e)
		}
		w.idx(d.EnumBase)
		w.idx(d.Item)
		w.n(len(d.CharSet))
		for _, r := range d.CharSet {
			w.n(int(r))
		}
		w.bools(d.BooleanPattern, d.Union)
		w.n(int(d.WhiteSpace))
	}
	w.n(len(g.Types))
	for _, t := range g.Types {
		w.qname(t.Name)
		w.idx(t.Grammar)
		w.idx(t.Empty)
		w.idx(t.Simple)
		w.idx(t.Base)
		w.bools(t.Complex, t.TypeCastable)
	}
	w.n(len(g.Elements))
	for _, e := range g.Elements {
		w.qname(e.Name)
		w.idx(e.Type)
		w.bools(e.Nillable, e.Abstract, e.Global)
	}
	w.n(len(g.Grammars))
	for _, gr := range g.Grammars {
		w.n(len(gr.NonTerminals))
		for _, nt := range gr.NonTerminals {
			w.bools(nt.StartTag)
			w.n(len(nt.Productions))
			for _, p := range nt.Productions {
				w.n(int(p.Event))
				w.qname(p.Name)
				w.idx(p.Elem)
				w.idx(p.Type)
				w.idx(p.Next)
			}
		}
		w.idx(gr.Content2)
	}
	for _, m := range []map[QName]int{g.GlobalElements, g.GlobalTypes, g.GlobalAttributes} {
		keys := make([]QName, 0, len(m))
		for q := range m {
			keys = append(keys, q)
		}
		slices.SortFunc(keys, func(a, b QName) int {
			if c := strings.Compare(a.URI, b.URI); c != 0 {
				return c
			}
			return strings.Compare(a.Local, b.Local)
		})
		w.n(len(keys))
		for _, q := range keys {
			w.qname(q)
			w.idx(m[q])
		}
	}
	w.n(len(g.Strings.URIs))
	for _, u := range g.Strings.URIs {
		w.str(u.URI)
		w.strs(u.Prefixes)
		w.strs(u.LocalNames)
	}
	w.strs(g.Schema)
	out := append([]byte(marshalMagic), marshalVersion)
	out = binary.AppendUvarint(out, uint64(len(w.table)))
	for _, s := range w.table {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return append(out, w.b...), nil
}

// UnmarshalBinary restores grammars written by MarshalBinary. It checks
// that every index in them is in range and every enumeration known, so
// hostile input cannot make the codec index out of bounds, and it bounds
// what it allocates by the size of data.
func (g *Grammars) UnmarshalBinary(data []byte) error {
	var x Grammars
	if err := x.unmarshal(data); err != nil {
		return fmt.Errorf("schema: unmarshal grammars: %w", err)
	}
	if err := x.validate(); err != nil {
		return err
	}
	*g = x
	return nil
}

func (x *Grammars) unmarshal(data []byte) error {
	if len(data) < len(marshalMagic)+1 || string(data[:len(marshalMagic)]) != marshalMagic {
		return errors.New("not serialised xiot EXI grammars")
	}
	if v := data[len(marshalMagic)]; v != marshalVersion {
		return fmt.Errorf("format version %d, this build reads %d", v, marshalVersion)
	}
	r := greader{b: data, off: len(marshalMagic) + 1}
	r.table = make([]string, r.count(1))
	for i := range r.table {
		n := r.count(1)
		if r.err != nil {
			break
		}
		r.table[i] = string(r.b[r.off : r.off+n])
		r.off += n
	}
	// Each element of a list takes at least min bytes, so a count is
	// refused when the input cannot hold that many.
	x.Datatypes = make([]Datatype, r.count(12))
	for i := range x.Datatypes {
		d := &x.Datatypes[i]
		d.Name, d.Builtin = r.qname(), r.qname()
		d.Rep = Representation(r.enum(int(RepQName)))
		d.DateTime = DateTimeKind(r.enum(int(Time)))
		d.NBitMin = r.varint()
		d.NBitBits = r.enum(64)
		d.Enum = make([]string, r.count(1))
		for j := range d.Enum {
			d.Enum[j] = r.str()
		}
		d.EnumBase, d.Item = r.idx(), r.idx()
		if n := r.count(1); n > 0 {
			d.CharSet = make([]rune, n)
			for j := range d.CharSet {
				d.CharSet[j] = rune(r.enum(utf8.MaxRune))
			}
		}
		b := r.bools(2)
		d.BooleanPattern, d.Union = b[0], b[1]
		d.WhiteSpace = WhiteSpace(r.enum(int(WSCollapse)))
	}
	x.Types = make([]TypeDef, r.count(7))
	for i := range x.Types {
		t := &x.Types[i]
		t.Name = r.qname()
		t.Grammar, t.Empty, t.Simple, t.Base = r.idx(), r.idx(), r.idx(), r.idx()
		b := r.bools(2)
		t.Complex, t.TypeCastable = b[0], b[1]
	}
	x.Elements = make([]ElementDecl, r.count(4))
	for i := range x.Elements {
		e := &x.Elements[i]
		e.Name, e.Type = r.qname(), r.idx()
		b := r.bools(3)
		e.Nillable, e.Abstract, e.Global = b[0], b[1], b[2]
	}
	x.Grammars = make([]Grammar, r.count(2))
	for i := range x.Grammars {
		gr := &x.Grammars[i]
		gr.NonTerminals = make([]NonTerminal, r.count(2))
		for j := range gr.NonTerminals {
			nt := &gr.NonTerminals[j]
			nt.StartTag = r.bools(1)[0]
			nt.Productions = make([]Production, r.count(6))
			for k := range nt.Productions {
				p := &nt.Productions[k]
				p.Event = EventKind(r.enum(int(eventKindCount) - 1))
				p.Name = r.qname()
				p.Elem, p.Type, p.Next = r.idx(), r.idx(), r.idx()
			}
		}
		gr.Content2 = r.idx()
	}
	maps := []*map[QName]int{&x.GlobalElements, &x.GlobalTypes, &x.GlobalAttributes}
	for _, m := range maps {
		n := r.count(3)
		*m = make(map[QName]int, n)
		for range n {
			q := r.qname()
			(*m)[q] = r.idx()
		}
	}
	x.Strings.URIs = make([]URIPartition, r.count(3))
	for i := range x.Strings.URIs {
		u := &x.Strings.URIs[i]
		u.URI, u.Prefixes, u.LocalNames = r.str(), r.strs(), r.strs()
	}
	x.Schema = r.strs()
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d bytes after the end", len(r.b)-r.off)
	}
	return r.err
}

// gwriter appends the serialised form: the body, whose strings are
// indexes in a table of the distinct strings written before it.
type gwriter struct {
	b     []byte
	table []string
	ids   map[string]int
}

func (w *gwriter) n(v int)   { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *gwriter) idx(v int) { w.n(v + 1) }
func (w *gwriter) str(s string) {
	id, ok := w.ids[s]
	if !ok {
		id = len(w.table)
		w.ids[s] = id
		w.table = append(w.table, s)
	}
	w.n(id)
}
func (w *gwriter) strs(l []string) {
	w.n(len(l))
	for _, s := range l {
		w.str(s)
	}
}
func (w *gwriter) qname(q QName) { w.str(q.URI); w.str(q.Local) }
func (w *gwriter) bools(bs ...bool) {
	var v byte
	for i, b := range bs {
		if b {
			v |= 1 << i
		}
	}
	w.b = append(w.b, v)
}

// greader reads the serialised form; after the first error every read
// returns zero values and err keeps that error with its byte offset.
type greader struct {
	b     []byte
	off   int
	err   error
	table []string // the distinct strings, read first
}

func (r *greader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *greader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad or truncated number")
		return 0
	}
	r.off += n
	return v
}

func (r *greader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad or truncated number")
		return 0
	}
	r.off += n
	return v
}

// count reads a list length whose elements take at least min bytes each.
func (r *greader) count(min int) int {
	v := r.uvarint()
	if left := uint64(len(r.b) - r.off); v > left/uint64(min) {
		r.fail("list of %d entries in %d bytes", v, left)
		return 0
	}
	return int(v)
}

// enum reads a number that must be at most max.
func (r *greader) enum(max int) int {
	v := r.uvarint()
	if v > uint64(max) {
		r.fail("value %d out of range (at most %d)", v, max)
		return 0
	}
	return int(v)
}

// idx reads an index stored plus one (-1 as 0); validate checks ranges.
func (r *greader) idx() int {
	v := r.uvarint()
	if v > math.MaxInt32 {
		r.fail("index %d out of range", v)
		return 0
	}
	return int(v) - 1
}

func (r *greader) str() string {
	v := r.uvarint()
	if v >= uint64(len(r.table)) {
		r.fail("string %d of a table of %d", v, len(r.table))
		return ""
	}
	return r.table[v]
}

func (r *greader) strs() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *greader) qname() QName { return QName{URI: r.str(), Local: r.str()} }

func (r *greader) bools(n int) [3]bool {
	var out [3]bool
	if r.err != nil {
		return out
	}
	if r.off >= len(r.b) {
		r.fail("truncated")
		return out
	}
	v := r.b[r.off]
	r.off++
	if v>>n != 0 {
		r.fail("flags %#x out of range", v)
	}
	for i := range n {
		out[i] = v&(1<<i) != 0
	}
	return out
}

// validate checks the cross references of g.
func (g *Grammars) validate() error {
	nd, nt, ne, ng := len(g.Datatypes), len(g.Types), len(g.Elements), len(g.Grammars)
	in := func(i, n int) bool { return i >= 0 && i < n }
	for i, d := range g.Datatypes {
		if (d.Rep == RepList && !in(d.Item, nd)) || (d.EnumBase != -1 && !in(d.EnumBase, nd)) || (d.Item != -1 && !in(d.Item, nd)) {
			return fmt.Errorf("schema: datatype %d: bad reference", i)
		}
		if !slices.IsSorted(d.CharSet) {
			return fmt.Errorf("schema: datatype %d: character set not sorted", i)
		}
	}
	for i, t := range g.Types {
		if !in(t.Grammar, ng) || !in(t.Empty, ng) || (t.Simple != -1 && !in(t.Simple, nd)) || (t.Base != -1 && !in(t.Base, nt)) {
			return fmt.Errorf("schema: type %d: bad reference", i)
		}
	}
	for i, e := range g.Elements {
		if !in(e.Type, nt) {
			return fmt.Errorf("schema: element %d: bad type", i)
		}
	}
	for gi, gr := range g.Grammars {
		if len(gr.NonTerminals) == 0 || !in(gr.Content2, len(gr.NonTerminals)) {
			return fmt.Errorf("schema: grammar %d: empty or bad content index", gi)
		}
		for _, n := range gr.NonTerminals {
			for _, p := range n.Productions {
				if (p.Next != End && !in(p.Next, len(gr.NonTerminals))) ||
					(p.Event == EventSE && !in(p.Elem, ne)) ||
					((p.Event == EventAT || p.Event == EventCH) && !in(p.Type, nd)) {
					return fmt.Errorf("schema: grammar %d: bad production", gi)
				}
			}
		}
	}
	for q, i := range g.GlobalElements {
		if !in(i, ne) {
			return fmt.Errorf("schema: global element %s: bad index", q)
		}
	}
	for q, i := range g.GlobalTypes {
		if !in(i, nt) {
			return fmt.Errorf("schema: global type %s: bad index", q)
		}
	}
	for q, i := range g.GlobalAttributes {
		if !in(i, nd) {
			return fmt.Errorf("schema: global attribute %s: bad index", q)
		}
	}
	return nil
}
