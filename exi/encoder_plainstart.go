package exi

import (
	"encoding/binary"
	"encoding/xml"
)

// plainStart is startElement for the common schema-less start tag:
// prefixes not preserved, no self-contained elements, and no namespace
// declaration or xsi attribute. The attributes are encoded in document
// order straight from t, without copying them. It reports false, having
// done nothing, when t is not such a start tag.
func (e *Encoder) plainStart(t *xml.StartElement, mark int, space bool) (bool, error) {
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
			if a.Local == "space" {
				space = t.Attr[i].Value == "preserve"
			}
		}
	}
	if !e.plainSE(&t.Name, mark, space) {
		if err := e.pushElement(t.Name.Space, t.Name.Local, "", mark, space); err != nil {
			return true, err
		}
	}
	f := &e.stack[len(e.stack)-1]
	nfix := len(e.lv[stStartTag][0])
	attrs := t.Attr
	switch {
	case !e.w.aligned && !e.channels():
		// bit-packed: values go straight to e.w
		attrs = attrs[e.plainAttrs(f, attrs, nfix):]
	case e.channels():
		attrs = attrs[e.plainAttrsQueued(f, attrs, nfix):]
	}
	for i := range attrs {
		a := &attrs[i]
		g := f.ln.elem
		// Fast path: the production the hint points at, as qnameEvent
		// would find it.
		if h := int(f.hint); h < len(g.stc) {
			if p := g.stc[h]; p.kind == evAT && p.ln.name == a.Name.Local && p.ln.uri.name == a.Name.Space {
				if f.first {
					g.first, f.first = int32(h), false
				}
				f.hint = int32(h + 1)
				e.w.writeNBit(uint64(len(g.stc)-1-h), bitsFor(len(g.stc)+nfix))
				e.value(p.ln, a.Value, dtString)
				continue
			}
		}
		ln, err := e.qnameEvent(evAT, a.Name.Space, a.Name.Local, "")
		if err != nil {
			return true, err
		}
		f = &e.stack[len(e.stack)-1]
		e.value(ln, a.Value, dtString)
	}
	e.simple = true
	return true, e.t.checkEntries(&e.lim)
}

// plainSE is pushElement for a child element whose SE production the
// parent's built-in grammar has learned: it finds the production as
// qnameEvent does, its hint first, comparing local names of at most
// maxShort bytes by their shortKey rather than their bytes, writes its
// event code and pushes the element. It reports false, having done
// nothing, when the production is not there.
func (e *Encoder) plainSE(name *xml.Name, mark int, space bool) bool {
	n := len(e.stack)
	if n == 0 {
		return false
	}
	f := &e.stack[n-1]
	if f.scOuter || f.sc.gi != 0 {
		return false
	}
	local, uri := name.Local, name.Space
	var ps []prod
	h := int(f.hintEC)
	if f.state == stContent {
		ps = f.ln.elem.ec
	} else {
		ps, h = f.ln.elem.stc, int(f.hint)
	}
	var ka, kb uint64 // shortKey(local), inlined
	switch ln := len(local); {
	case ln > maxShort:
	case ln >= 8:
		ka, kb = le64(local), le64(local[ln-8:])
	case ln >= 4:
		ka, kb = uint64(le32(local)), uint64(le32(local[ln-4:]))
	case ln > 0:
		ka = uint64(local[0])<<16 | uint64(local[ln>>1])<<8 | uint64(local[ln-1])
	}
	same := func(p *prod) bool {
		ln := p.ln
		if p.kind != evSE || ln == nil || len(ln.name) != len(local) {
			return false
		}
		if len(local) <= maxShort {
			if ln.key[0] != ka || ln.key[1] != kb {
				return false
			}
		} else if ln.name != local {
			return false
		}
		return ln.uri.name == uri
	}
	i := -1
	if h < len(ps) && same(&ps[h]) {
		i = h
	} else {
		for j := len(ps) - 1; j >= 0; j-- {
			if same(&ps[j]) {
				i = j
				break
			}
		}
	}
	if i < 0 {
		return false
	}
	ln := ps[i].ln
	if ln.elem == nil {
		return false
	}
	st := f.state
	if st == stContent {
		f.hintEC = int32(i)
	} else {
		if f.first {
			f.ln.elem.first, f.first = int32(i), false
		}
		f.hint = int32(i + 1)
	}
	f.state = stContent
	e.w.writeNBit(uint64(len(ps)-1-i), bitsFor(len(ps)+len(e.lv[st][0])))
	e.stack = append(e.stack, eframe{ln: ln, state: stStartTag, nsMark: mark, space: space, hint: ln.elem.first, first: true})
	return true
}

// plainAttrs encodes, in a bit-packed stream, the leading attributes of
// attrs that repeat the learned AT productions of the element on top of
// the stack from its hint on (documents repeat their start tags), and
// returns how many it encoded. It does what the general loop of
// plainStart does for them, with the bit writer's state in registers and
// short values looked up in the value index's short-string table inline,
// so that a repeated attribute makes no call unless its value is long
// or new.
func (e *Encoder) plainAttrs(f *eframe, attrs []xml.Attr, nfix int) int {
	g := f.ln.elem
	stc := g.stc
	h0 := int(f.hint)
	h := h0
	if h >= len(stc) || len(attrs) == 0 {
		return 0
	}
	cb := uint(bitsFor(len(stc) + nfix))
	last := uint64(len(stc) - 1)
	t := e.t
	x := t.vidx
	short, k := x.short, &x.k
	mask := uint32(len(short) - 1)
	acc, n := e.w.acc, e.w.n
	i := 0
	for ; i < len(attrs) && h < len(stc); i, h = i+1, h+1 {
		a := &attrs[i]
		p := &stc[h]
		ln := p.ln
		if p.kind != evAT || len(ln.name) != len(a.Name.Local) || len(ln.uri.name) != len(a.Name.Space) {
			break
		}
		if ln.name != a.Name.Local {
			break
		}
		if len(a.Name.Space) != 0 && ln.uri.name != a.Name.Space {
			break
		}
		code := last - uint64(h)
		v := a.Value
		miss := false
		if len(v) <= maxShort && len(v) > 0 {
			// shortKey, inlined
			var va, vb uint64
			switch vn := len(v); {
			case vn >= 8:
				va, vb = le64(v), le64(v[vn-8:])
			case vn >= 4:
				va, vb = uint64(le32(v)), uint64(le32(v[vn-4:]))
			default:
				va = uint64(v[0])<<16 | uint64(v[vn>>1])<<8 | uint64(v[vn-1])
			}
			vn := uint64(len(v))
			j := uint32(mix(mix(va^k[0], vb^k[1]), vn^k[2])) & mask
			for {
				sl := &short[j]
				if sl.meta == 0 || sl.a == va && sl.b == vb && sl.meta>>32 == vn {
					break
				}
				j = (j + 1) & mask
			}
			meta := short[j].meta
			miss = meta == 0
			if meta != 0 && cb <= 24 {
				// a hit: event code, partition and compact id
				id := uint32(meta) - 1
				ge := &t.gvals[id]
				var bits uint64
				var nb uint
				if ge.owner == ln {
					nb = uint(bitsFor(ln.nlocal()))
					bits = code<<(8+nb) | uint64(ge.local)
				} else {
					nb = uint(bitsFor(len(t.gvals)))
					bits = code<<(8+nb) | 1<<nb | uint64(id)
				}
				if m, nw := n+cb+8+nb, cb+8+nb; m < 64 {
					acc, n = acc<<nw|bits, m
				} else {
					// writeBits' spill, inlined: n >= 1, m <= 126
					rest := m - 64
					e.w.buf = binary.BigEndian.AppendUint64(e.w.buf, acc<<(64-n)|bits>>rest)
					acc, n = bits&(1<<rest-1), rest
				}
				continue
			}
		}
		e.w.acc, e.w.n = acc, n
		e.plainValue(ln, v, code, int(cb), miss)
		acc, n = e.w.acc, e.w.n
		// a miss adds to the index, which may grow
		short = x.short
		mask = uint32(len(short) - 1)
	}
	e.w.acc, e.w.n = acc, n
	if i > 0 {
		if f.first {
			g.first, f.first = int32(h0), false
		}
		f.hint = int32(h)
	}
	return i
}

// plainAttrsQueued is plainAttrs for pre-compression and compression:
// the event codes go to the byte-aligned structure channel, the values
// to their channels (as value does), and it stops where a value ends the
// block.
func (e *Encoder) plainAttrsQueued(f *eframe, attrs []xml.Attr, nfix int) int {
	g := f.ln.elem
	stc := g.stc
	h0 := int(f.hint)
	h := h0
	if h >= len(stc) || len(attrs) == 0 {
		return 0
	}
	cb := bitsFor(len(stc) + nfix)
	last := uint64(len(stc) - 1)
	block := e.opts.blockSize()
	buf := e.w.buf
	i := 0
	for ; i < len(attrs) && h < len(stc) && e.nvalues < block-1; i, h = i+1, h+1 {
		a := &attrs[i]
		p := &stc[h]
		ln := p.ln
		if p.kind != evAT || len(ln.name) != len(a.Name.Local) || len(ln.uri.name) != len(a.Name.Space) ||
			ln.name != a.Name.Local || len(a.Name.Space) != 0 && ln.uri.name != a.Name.Space {
			break
		}
		// the event code as an n-bit unsigned integer in whole bytes
		for code, nb := last-uint64(h), cb; nb > 0; nb -= 8 {
			buf = append(buf, byte(code))
			code >>= 8
		}
		c := ln.ch
		if c == nil {
			c = ln.channel()
			ln.ch = c
			e.chans = append(e.chans, c)
		}
		c.vals = append(c.vals, a.Value) // untyped: no dts
		c.n++
		e.nvalues++
	}
	e.w.buf = buf
	if i > 0 {
		if f.first {
			g.first, f.first = int32(h0), false
		}
		f.hint = int32(h)
	}
	return i
}

// plainValue writes, bit-packed, the event code of an attribute and its
// value ln, s through the value table; miss reports that s is known not
// to be in the table.
func (e *Encoder) plainValue(ln *localName, s string, code uint64, cb int, miss bool) {
	var part, id uint64
	var nb int
	ok := false
	if !miss {
		part, id, nb, ok = e.t.lookupValue(ln, s)
	}
	// the event code and a value hit in one write
	if ok && cb+8+nb <= 64 {
		e.w.writeBits(code<<uint(8+nb)|part<<uint(nb)|id, cb+8+nb)
		return
	} else if ok {
		e.w.writeBits(code, cb)
		e.w.writeBits(part<<uint(nb)|id, 8+nb)
		return
	}
	if v, ok := shortASCII(s); ok && cb+8+8*len(s) <= 64 {
		// a short ASCII miss: code, length + 2 and characters in one
		// write
		n := 8 * len(s)
		e.w.writeBits(code<<uint(8+n)|uint64(len(s)+2)<<uint(n)|v, cb+8+n)
		e.t.addValue(&e.opts, ln, s, len(s))
		return
	}
	e.w.writeBits(code, cb)
	e.t.encodeMiss(&e.w, &e.opts, ln, s, nil)
}
