package exi

import (
	"encoding/binary"
	"encoding/xml"

	"github.com/xiot/xiot/exi/schema"
)

// replayPacked is replayStart's loop in a bit-packed stream for the
// attributes of the common types: booleans, floats and integers that
// fastFloat and fastInt parse, and strings of at most maxShort bytes
// that need no whitespace normalisation, looked up in the value index's
// short-string table inline (a miss goes to encodeMiss). Each hit goes out
// with its event code in one write to the bit writer's accumulator,
// kept in registers. Other values take typedFast. It returns the number
// of attributes done, fewer than len(m.order) when typedFast refused one
// (the caller then goes on the general way).
func (e *Encoder) replayPacked(t *xml.StartElement, m *startMemo, f *eframe) int {
	dts := e.sg.dts
	tb := e.t
	x := tb.vidx
	acc, n := e.w.acc, e.w.n
	k := 0
	for ; k < len(m.order); k++ {
		st := &m.steps[k]
		v := t.Attr[m.order[k]].Value
		var bits uint64 // the value's bits after the code
		var nb uint     // their number
		switch d := &dts[st.dt]; d.Rep {
		case schema.RepBoolean:
			// fastBool, by hand: with the call inlined here the loop
			// measured 3 % slower (register pressure)
			switch v {
			case "true", "1":
				bits = 1
			case "false", "0":
			default:
				goto slow
			}
			nb = 1
			if d.BooleanPattern {
				// false=0, 0=1, true=2, 1=3 (§7.1.2)
				bits, nb = 2*bits, 2
				if v[0] == '0' || v[0] == '1' {
					bits++
				}
			}
		case schema.RepString:
			vn := uint64(len(v))
			if vn == 0 || vn > maxShort {
				goto slow
			}
			if d.WhiteSpace != schema.WSPreserve {
				for i := 0; i < len(v); i++ {
					if v[i] <= ' ' {
						goto slow // may need normalising
					}
				}
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
				if d.CharSet != nil {
					goto slow
				}
				// a miss: the code, then the string and its length
				// (encodeMiss), without a second lookup
				e.w.acc, e.w.n = acc, n
				st.code.write(&e.w)
				tb.encodeMiss(&e.w, &e.opts, st.ln, v, nil)
				acc, n = e.w.acc, e.w.n
				f.sc.nt, f.sc.tab, f.sc.tabNT = st.nt, st.tab, st.tabNT
				continue
			}
			id := uint32(meta) - 1
			if ge := &tb.gvals[id]; ge.owner == st.ln {
				nb = uint(bitsFor(st.ln.nlocal()))
				bits = uint64(ge.local)
			} else {
				nb = uint(bitsFor(len(tb.gvals)))
				bits = 1<<nb | uint64(id)
			}
			nb += 8
		case schema.RepFloat:
			fv, ok := fastFloat(v)
			if !ok {
				goto slow
			}
			mb, mn := intBits(fv.Mantissa)
			eb, en := intBits(fv.Exponent)
			if mn == 0 || en == 0 || mn+en > 57 {
				goto slow
			}
			bits, nb = mb<<uint(en)|eb, uint(mn+en)
		case schema.RepInteger:
			iv, ok := fastInt(v)
			if !ok {
				goto slow
			}
			b, bn := intBits(iv)
			if bn == 0 {
				goto slow
			}
			bits, nb = b, uint(bn)
		default:
			goto slow
		}
		if c := &st.code; uint(c.n)+nb <= 64 {
			w := uint(c.n) + nb
			bits |= c.v << nb
			if m := n + w; m < 64 {
				acc, n = acc<<w|bits, m
			} else {
				// writeBits' spill, inlined (n+w <= 127)
				rest := m - 64
				if n > 0 {
					acc = acc<<(64-n) | bits>>rest
				} else {
					acc = bits >> rest
				}
				e.w.buf = binary.BigEndian.AppendUint64(e.w.buf, acc)
				acc, n = bits&(1<<rest-1), rest
			}
			f.sc.nt, f.sc.tab, f.sc.tabNT = st.nt, st.tab, st.tabNT
			continue
		}
	slow:
		e.w.acc, e.w.n = acc, n
		if !e.typedFast(st.code, st.ln, int(st.dt), v) {
			return k
		}
		acc, n = e.w.acc, e.w.n
		f.sc.nt, f.sc.tab, f.sc.tabNT = st.nt, st.tab, st.tabNT
	}
	e.w.acc, e.w.n = acc, n
	return k
}

// replayChannels is replayStart's loop with channels (pre-compression
// and compression, byte-aligned): each attribute's event code is
// appended to the structure channel from its table's bytes, a string is
// queued in its channel for the end of the block, and a boolean, a float
// or an integer that fastFloat and fastInt parse is written to its
// channel's bytes at once. Other values take typedFast. It returns the
// number of attributes done, as replayPacked.
func (e *Encoder) replayChannels(t *xml.StartElement, m *startMemo, f *eframe) int {
	dts := e.sg.dts
	k := 0
	for ; k < len(m.order); k++ {
		st := &m.steps[k]
		v := t.Attr[m.order[k]].Value
		d := &dts[st.dt]
		ch := st.ln.ch
		if ch == nil {
			goto slow // typedFast registers the channel
		}
		switch d.Rep {
		case schema.RepString:
			st.code.tab.writeAligned(&e.w, int(st.code.i))
			ch.vals = append(ch.vals, v)
			ch.dts = append(ch.dts, st.dt)
			ch.at = append(ch.at, int32(len(ch.enc.buf)))
		case schema.RepBoolean:
			b, _, ok := fastBool(v, d.BooleanPattern)
			if !ok {
				goto slow
			}
			st.code.tab.writeAligned(&e.w, int(st.code.i))
			ch.enc.buf = append(ch.enc.buf, byte(b))
		case schema.RepFloat:
			fv, ok := fastFloat(v)
			if !ok {
				goto slow
			}
			st.code.tab.writeAligned(&e.w, int(st.code.i))
			writeInt(&ch.enc, fv.Mantissa)
			writeInt(&ch.enc, fv.Exponent)
		case schema.RepInteger:
			iv, ok := fastInt(v)
			if !ok {
				goto slow
			}
			st.code.tab.writeAligned(&e.w, int(st.code.i))
			writeInt(&ch.enc, iv)
		default:
			goto slow
		}
		ch.n++
		f.sc.nt, f.sc.tab, f.sc.tabNT = st.nt, st.tab, st.tabNT
		e.counted()
		continue
	slow:
		if !e.typedFast(st.code, st.ln, int(st.dt), v) {
			return k
		}
		f.sc.nt, f.sc.tab, f.sc.tabNT = st.nt, st.tab, st.tabNT
	}
	return k
}
