package exi

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/klauspost/compress/flate"

	"github.com/xiot/xiot/exi/schema"
)

func (e *Encoder) lookupPrefix(uri string, forAttr bool) string {
	switch uri {
	case "":
		return ""
	case nsXML:
		return "xml"
	}
	for i := len(e.ns) - 1; i >= 0; i-- {
		if d := e.ns[i]; d.uri == uri && (!forAttr || d.prefix != "") {
			// the prefix must not be shadowed by a later declaration
			shadowed := false
			for j := i + 1; j < len(e.ns); j++ {
				if e.ns[j].prefix == d.prefix {
					shadowed = true
					break
				}
			}
			if !shadowed {
				return d.prefix
			}
		}
	}
	return ""
}

// startElement encodes a start tag. prefixes, when not nil, holds the
// element's prefix and then one per attribute; otherwise prefixes are
// inferred from the namespace declarations in scope.
func (e *Encoder) startElement(t *xml.StartElement, prefixes []string) error {
	if len(e.stack) >= e.lim.MaxDepth {
		return &LimitError{Limit: "MaxDepth", Value: int64(len(e.stack) + 1), Max: int64(e.lim.MaxDepth)}
	}
	// curState is stDocEnd only outside any element (or in the outer
	// frame of a self-contained one)
	if n := len(e.stack); (n == 0 || e.stack[n-1].scOuter) && e.state == stDocEnd {
		return fmt.Errorf("exi: second root element <%s>: %w", t.Name.Local, ErrInvalid)
	}
	mark := len(e.ns)
	e.attrs, e.decls = e.attrs[:0], e.decls[:0]
	space := len(e.stack) > 0 && e.stack[len(e.stack)-1].space
	hasXSI := false
	if prefixes == nil && !e.opts.Preserve.Prefixes && e.scSet == nil {
		if e.sg == nil {
			if done, err := e.plainStart(t, mark, space); done {
				return err
			}
		} else if done, err := e.schemaStart(t, mark, space); done {
			return err
		}
	}
	for ai, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns":
			e.decls = append(e.decls, nsDecl{a.Name.Local, a.Value})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			e.decls = append(e.decls, nsDecl{"", a.Value})
		case a.Name.Space == nsXSI && (a.Name.Local == "schemaLocation" || a.Name.Local == "noNamespaceSchemaLocation"):
			// not encoded, as the reference encoder does
		default:
			if a.Name.Space == nsXML && a.Name.Local == "space" {
				space = a.Value == "preserve"
			}
			hasXSI = hasXSI || a.Name.Space == nsXSI
			it := attrItem{uri: a.Name.Space, local: a.Name.Local, value: a.Value}
			if prefixes != nil {
				it.prefix = prefixes[1+ai]
			} else {
				it.prefix = "\x00"
			}
			e.attrs = append(e.attrs, it)
		}
	}
	if e.sg != nil {
		// schema-informed: attributes sorted by local name, then URI;
		// xsi:nil="false" is insignificant and dropped (reference encoder)
		sortAttrs(e.attrs)
		if hasXSI && !e.opts.Preserve.LexicalValues && !e.opts.Preserve.Prefixes {
			for i := 0; i < len(e.attrs); i++ {
				if a := e.attrs[i]; a.uri == nsXSI && a.local == "nil" {
					if v, err := schema.ParseBoolean(a.value); err == nil && !v {
						e.attrs = append(e.attrs[:i], e.attrs[i+1:]...)
					}
					break
				}
			}
		}
	}
	if hasXSI && e.opts.Preserve.LexicalValues && !e.opts.Preserve.Prefixes {
		for _, a := range e.attrs {
			if a.uri == nsXSI && a.local == "type" {
				return fmt.Errorf("exi: xsi:type on <%s> cannot be encoded with Preserve.lexicalValues unless Preserve.prefixes is set: %w", t.Name.Local, ErrInvalid)
			}
		}
	}
	// xsi:type, then xsi:nil, come before the other attributes
	for k, local := range []string{"nil", "type"} {
		for i := k; hasXSI && i < len(e.attrs); i++ {
			if a := e.attrs[i]; a.uri == nsXSI && a.local == local {
				copy(e.attrs[1:i+1], e.attrs[:i])
				e.attrs[0] = a
				break
			}
		}
	}
	e.ns = append(e.ns, e.decls...)
	var prefix string
	if e.opts.Preserve.Prefixes { // prefixes are only encoded when preserved
		if prefixes != nil {
			prefix = prefixes[0]
		} else {
			prefix = e.lookupPrefix(t.Name.Space, false)
		}
		for i := range e.attrs {
			if e.attrs[i].prefix == "\x00" {
				e.attrs[i].prefix = e.lookupPrefix(e.attrs[i].uri, true)
			}
		}
	}
	if err := e.pushElement(t.Name.Space, t.Name.Local, prefix, mark, space); err != nil {
		return err
	}
	if e.scSet != nil && e.scSet[QName{t.Name.Space, t.Name.Local}] {
		if err := e.event(evSC); err != nil {
			return err
		}
		e.stack[len(e.stack)-1].scOuter = true
		e.w.align()
		e.saved = append(e.saved, savedCtx{e.t, e.state})
		e.t, e.state = e.newTables(), stFragment
		if err := e.pushElement(t.Name.Space, t.Name.Local, prefix, mark, space); err != nil {
			return err
		}
		e.stack[len(e.stack)-1].scInner = true
	}
	if e.opts.Preserve.Prefixes {
		if e.stack[len(e.stack)-1].scInner {
			// The reference encoder re-declares the element's own prefix
			// first in the fresh tables of a self-contained fragment.
			if err := e.event(evNS); err != nil {
				return err
			}
			u := e.t.encodeURI(&e.w, t.Name.Space)
			e.t.encodeNSPrefix(&e.w, u, prefix)
			e.w.writeBool(true)
		}
		localDone := false
		for _, d := range e.decls {
			if err := e.event(evNS); err != nil {
				return err
			}
			u := e.t.encodeURI(&e.w, d.uri)
			e.t.encodeNSPrefix(&e.w, u, d.prefix)
			local := !localDone && d.prefix == prefix && d.uri == t.Name.Space
			localDone = localDone || local
			e.w.writeBool(local)
		}
	}
	for i := range e.attrs {
		a := &e.attrs[i]
		if f := e.schemaTop(); f != nil {
			if err := e.schemaAT(f, a.uri, a.local, a.prefix, a.value); err != nil {
				return err
			}
			continue
		}
		ln, err := e.qnameEvent(evAT, a.uri, a.local, a.prefix)
		if err != nil {
			return err
		}
		if a.uri == nsXSI && a.local == "type" {
			uri, local := e.typeValue(a.value)
			if e.sg != nil {
				e.sg.switchTypeName(&e.stack[len(e.stack)-1].sc, uri, local)
			}
			continue
		}
		e.value(ln, a.value, dtString)
	}
	e.simple = true
	return e.t.checkEntries(&e.lim)
}

func (e *Encoder) pushElement(uri, local, prefix string, mark int, space bool) error {
	if e.sg != nil {
		ln, sc, err := e.schemaSE(uri, local, prefix)
		if err != nil {
			return err
		}
		if n := len(e.stack); n > 0 && !e.stack[n-1].scOuter {
			e.stack[n-1].state = stContent
		}
		if sc.gi == 0 && ln.elem == nil {
			ln.elem = &elemGrammar{}
		}
		e.stack = append(e.stack, eframe{ln: ln, sc: sc, state: stStartTag, nsMark: mark, space: space})
		return nil
	}
	ln, err := e.qnameEvent(evSE, uri, local, prefix)
	if err != nil {
		return err
	}
	if n := len(e.stack); n > 0 && !e.stack[n-1].scOuter {
		e.stack[n-1].state = stContent
	}
	if ln.elem == nil {
		ln.elem = &elemGrammar{}
	}
	e.stack = append(e.stack, eframe{ln: ln, state: stStartTag, nsMark: mark, space: space, hint: ln.elem.first, first: true})
	return nil
}

func (e *Encoder) endElement() error {
	if len(e.stack) == 0 {
		return fmt.Errorf("exi: end element without start: %w", ErrInvalid)
	}
	if !e.builtinEE() && !e.schemaEE() {
		if err := e.event(evEE); err != nil {
			return err
		}
	}
	f := &e.stack[len(e.stack)-1]
	mark, scInner := f.nsMark, f.scInner
	e.stack = e.stack[:len(e.stack)-1]
	e.ns = e.ns[:mark]
	e.simple = false
	if scInner {
		// end of the self-contained fragment (an EXI fragment): ED in the fragment
		// grammar, then back to the outer tables
		if err := e.event(evED); err != nil {
			return err
		}
		e.w.align()
		sv := e.saved[len(e.saved)-1]
		e.t, e.state = sv.t, sv.state
		e.saved = e.saved[:len(e.saved)-1]
		e.stack = e.stack[:len(e.stack)-1]
		// The reference encoder restarts its whitespace tracking after a
		// self-contained fragment, as if a start tag had just been seen.
		e.simple = true
	}
	if len(e.stack) == 0 && e.state != stFragment {
		e.state = stDocEnd
	}
	return nil
}

// schemaEE writes EE in a schema-informed grammar whose current table is
// at hand and has an EE code, as schemaEvent would. It reports false,
// having written nothing, elsewhere.
func (e *Encoder) schemaEE() bool {
	f := &e.stack[len(e.stack)-1]
	tab := f.sc.tab
	if f.scOuter || f.sc.gi == 0 || tab == nil || f.sc.tabNT != f.sc.nt || tab.ee1 == 0 {
		return false
	}
	i := tab.ee1 - 1
	tab.writeCode(&e.w, i)
	if tab.Codes[i].Next != schema.End {
		e.sg.advance(&f.sc, tab, i)
	}
	return true
}

// builtinEE writes EE in a built-in element grammar where its code is
// at hand, as event would: in ElementContent it is the first fixed
// production, in StartTagContent a learned one. It reports false,
// having written nothing, elsewhere.
func (e *Encoder) builtinEE() bool {
	f := &e.stack[len(e.stack)-1]
	if f.scOuter || f.sc.gi != 0 {
		return false
	}
	switch f.state {
	case stContent:
		ec := f.ln.elem.ec
		L0 := e.lv[stContent][0] // EE 0, then the escape
		e.w.writeNBit(uint64(len(ec)), bitsFor(len(ec)+len(L0)))
		return true
	case stStartTag:
		stc := f.ln.elem.stc
		if c := findProd(stc, evEE, nil); c >= 0 {
			e.w.writeNBit(uint64(c), bitsFor(len(stc)+len(e.lv[stStartTag][0])))
			return true
		}
	}
	return false
}

func (e *Encoder) afterMisc() {
	if n := len(e.stack); n > 0 {
		e.stack[n-1].state = stContent
	}
}

func (e *Encoder) comment(s string) error {
	if err := e.event(evCM); err != nil {
		return err
	}
	e.w.writeString(s)
	e.afterMisc()
	return nil
}

func (e *Encoder) procInst(target, data string) error {
	if err := e.event(evPI); err != nil {
		return err
	}
	e.w.writeString(target)
	e.w.writeString(data)
	e.afterMisc()
	return nil
}

// doctype writes a DT event from the text of a <!DOCTYPE ...> directive.
func (e *Encoder) doctype(d string) error {
	name, pub, sys, subset, ok := parseDoctype(d)
	if !ok {
		return nil
	}
	if err := e.event(evDT); err != nil {
		return err
	}
	e.w.writeString(name)
	e.w.writeString(pub)
	e.w.writeString(sys)
	e.w.writeString(reserializeSubset(subset))
	return nil
}

// Flush writes all complete bytes encoded so far to the underlying writer.
// With pre-compression and compression nothing can be written before a
// block is complete.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if !e.started {
		e.start()
	}
	if e.channels() {
		return e.writeOut()
	}
	e.w.flush()
	if len(e.w.buf) > 0 {
		if _, err := e.out.Write(e.w.buf); err != nil {
			return e.fail(fmt.Errorf("exi: write: %w", err))
		}
		e.w.buf = e.w.buf[:0]
	}
	return nil
}

func (e *Encoder) writeOut() error {
	if len(e.obuf) > 0 {
		if _, err := e.out.Write(e.obuf); err != nil {
			return e.fail(fmt.Errorf("exi: write: %w", err))
		}
		e.obuf = e.obuf[:0]
	}
	return nil
}

// Close ends the document (ED), pads the last byte and flushes. It does
// not close the underlying writer.
func (e *Encoder) Close() error {
	if e.err != nil || e.closed {
		return e.err
	}
	if !e.started {
		e.start()
	}
	if err := e.flushText(evED); err != nil {
		return e.fail(err)
	}
	if len(e.stack) > 0 {
		return e.fail(fmt.Errorf("exi: Close with %d open elements: %w", len(e.stack), ErrInvalid))
	}
	if e.state == stDocContent {
		return e.fail(fmt.Errorf("exi: Close before the root element: %w", ErrInvalid))
	}
	if err := e.event(evED); err != nil {
		return e.fail(err)
	}
	e.closed = true
	if e.channels() {
		e.closeBlock()
		return e.writeOut()
	}
	e.w.align()
	return e.Flush()
}

// closeBlock moves the structure channel and the value channels of the
// current block to obuf (§9.2, §9.3). With compression each stream is
// deflated into obuf as soon as it is complete, so no stream is copied.
func (e *Encoder) closeBlock() {
	e.w.flush()
	structure := e.w.buf
	e.vw.reset(true)
	comp := e.opts.Alignment == Compression
	if e.nvalues <= 100 {
		for _, c := range e.chans {
			e.encodeChannel(c)
		}
		if comp {
			e.deflate(structure, e.vw.buf)
		} else {
			e.obuf = append(append(e.obuf, structure...), e.vw.buf...)
		}
	} else {
		for _, c := range e.chans {
			if c.n <= 100 {
				e.encodeChannel(c)
			}
		}
		if comp {
			e.deflate(structure, nil)
			if len(e.vw.buf) > 0 {
				e.deflate(e.vw.buf, nil)
			}
		} else {
			e.obuf = append(append(e.obuf, structure...), e.vw.buf...)
		}
		for _, c := range e.chans {
			if c.n > 100 {
				e.vw.reset(true)
				e.encodeChannel(c)
				if comp {
					e.deflate(e.vw.buf, nil)
				} else {
					e.obuf = append(e.obuf, e.vw.buf...)
				}
			}
		}
	}
	for _, c := range e.chans {
		c.ln.ch = nil
	}
	e.chans = e.chans[:0]
	e.nvalues = 0
	e.w.buf = e.w.buf[:0]
}

// deflate appends a and b, compressed as one DEFLATE stream, to obuf.
func (e *Encoder) deflate(a, b []byte) {
	e.zout.b = e.obuf
	if e.zw == nil || e.zlevel != e.opts.CompressionLevel {
		// Reset has checked the level
		e.zw, _ = flate.NewWriter(&e.zout, deflateLevel(e.opts.CompressionLevel))
		e.zlevel = e.opts.CompressionLevel
	} else {
		e.zw.Reset(&e.zout)
	}
	e.zw.Write(a) // appendWriter does not fail
	if len(b) > 0 {
		e.zw.Write(b)
	}
	e.zw.Close()
	e.obuf, e.zout.b = e.zout.b, nil
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (e *Encoder) encodeChannel(c *channel) {
	w := &e.vw // always byte-aligned
	if e.sg == nil {
		e.encodePlainValues(w, c.ln, c.vals)
		return
	}
	// the values written as they came, with the deferred ones in between;
	// runs of strings written as they are take encodePlainValues
	enc, prev := c.enc.buf, 0
	for i := 0; i < len(c.vals); {
		at := int(c.at[i])
		if at > prev {
			w.buf = append(w.buf, enc[prev:at]...)
			prev = at
		}
		j := i
		for j < len(c.vals) && int(c.at[j]) == at && e.plainString(int(c.dts[j]), c.vals[j]) {
			j++
		}
		if j > i {
			e.encodePlainValues(w, c.ln, c.vals[i:j])
			i = j
			continue
		}
		e.writeTyped(w, c.ln, int(c.dts[i]), c.vals[i])
		i++
	}
	w.buf = append(w.buf, enc[prev:]...)
}

// plainString reports whether writeTyped would write the value s of
// datatype dt as an untyped string: an untyped value, or a string without
// restricted characters that needs no whitespace normalising, with
// lexical values not preserved.
func (e *Encoder) plainString(dt int, s string) bool {
	dts := e.sg.dts
	if dt < 0 || dt >= len(dts) {
		return true
	}
	d := &dts[dt]
	if d.Rep != schema.RepString || d.CharSet != nil || e.opts.Preserve.LexicalValues {
		return false
	}
	if d.WhiteSpace != schema.WSPreserve {
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' {
				return false
			}
		}
	}
	return true
}

// encodePlainValues writes vals, untyped values of ln's channel, to the
// byte-aligned w, as encodeValue would: values of at most maxShort
// bytes are looked up in the value index's short-string table inline and
// a hit appended as bytes, others take encodeValue.
func (e *Encoder) encodePlainValues(w *bitWriter, ln *localName, vals []string) {
	t := e.t
	x := t.vidx
	for _, v := range vals {
		vn := uint64(len(v))
		if vn == 0 || vn > maxShort {
			t.encodeValue(w, &e.opts, ln, v, nil)
			continue
		}
		var va, vb uint64 // shortKey(v), inlined
		switch {
		case vn >= 8:
			va, vb = le64(v), le64(v[vn-8:])
		case vn >= 4:
			va, vb = uint64(le32(v)), uint64(le32(v[vn-4:]))
		default:
			va = uint64(v[0])<<16 | uint64(v[vn>>1])<<8 | uint64(v[vn-1])
		}
		short := x.short
		mask := uint32(len(short) - 1)
		j := uint32(mix(mix(va^x.k[0], vb^x.k[1]), vn^x.k[2])) & mask
		for {
			sl := &short[j]
			if sl.meta == 0 || sl.a == va && sl.b == vb && sl.meta>>32 == vn {
				break
			}
			j = (j + 1) & mask
		}
		meta := short[j].meta
		if meta == 0 {
			t.encodeMiss(w, &e.opts, ln, v, nil)
			continue
		}
		// a hit, byte-aligned: the partition as an unsigned integer,
		// then the compact id in whole bytes, least significant first
		id := uint64(uint32(meta) - 1)
		var part uint64
		var nb int
		if ge := &t.gvals[id]; ge.owner == ln {
			id, nb = uint64(ge.local), bitsFor(ln.nlocal())
		} else {
			part, nb = 1, bitsFor(len(t.gvals))
		}
		w.buf = append(w.buf, byte(part))
		for ; nb > 0; nb -= 8 {
			w.buf = append(w.buf, byte(id))
			id >>= 8
		}
	}
}

// typeValue writes the value of xsi:type, which is a QName even in
// schema-less streams (EXI §7.1.7): uri, local name and, with prefixes
// preserved, the prefix; with Preserve.lexicalValues it is the lexical
// string. It stays in the structure channel. It returns the type's name.
func (e *Encoder) typeValue(v string) (uri, local string) {
	prefix, uri, local := e.splitQName(v)
	if e.opts.Preserve.LexicalValues {
		e.t.encodeValue(&e.w, &e.opts, e.t.lookupLocal(nsXSI, "type"), v, nil)
		return uri, local
	}
	ln := e.t.encodeQName(&e.w, uri, local)
	if e.opts.Preserve.Prefixes {
		encodePrefix(&e.w, ln.uri, prefix)
	}
	return uri, local
}

// splitQName resolves a QName value: "prefix:local" with the namespace
// declarations in scope, or "{uri}local" as Decoder.Token returns values
// whose prefix is unknown.
func (e *Encoder) splitQName(v string) (prefix, uri, local string) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "{") {
		if i := strings.IndexByte(v, '}'); i > 0 {
			uri, local = v[1:i], v[i+1:]
			for j := len(e.ns) - 1; j >= 0; j-- {
				if e.ns[j].uri == uri {
					return e.ns[j].prefix, uri, local
				}
			}
			return "", uri, local
		}
	}
	local = v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	uri, ok := e.resolvePrefix(prefix)
	if !ok {
		// an undeclared prefix: the whole value is the local name in no
		// namespace, as the reference encoder does
		return "", "", v
	}
	return prefix, uri, local
}
