package exi

import "github.com/xiot/xiot/exi/schema"

// The encoder's fast path for typed values: the common datatypes parsed
// once for the validity check and the write, and in bit-packed streams
// written together with their event code.

// typedFast writes the event code c and the value s of datatype
// dt, parsing s once for the check and the write, in the common cases
// (no Preserve.lexicalValues): strings, booleans, floats, integers and
// date-times; with channels a string is queued and other values are
// written to their channel at once. It reports
// false, having written nothing, when s is not valid for dt or not such
// a case; the caller then checks and writes it the general way.
func (e *Encoder) typedFast(c codeRef, ln *localName, dt int, s string) bool {
	dts := e.sg.dts
	if dt < 0 || dt >= len(dts) || e.opts.Preserve.LexicalValues {
		return false
	}
	// sw takes the event code, w the value: the same writer but with
	// channels, where a value that needs no string table goes straight
	// to its channel's bytes (byte-aligned: none of the early returns
	// below is taken) and a string waits for the end of the block
	d := &dts[dt]
	w, sw := &e.w, &e.w
	var ch *channel
	fresh := false
	if e.channels() {
		if d.Rep == schema.RepString {
			c.write(sw)
			e.value(ln, s, dt)
			return true
		}
		if ch = ln.ch; ch == nil {
			ch, fresh = ln.channel(), true
		}
		w = &ch.enc
	}
	switch d.Rep {
	case schema.RepString:
		c.write(sw)
		if d.WhiteSpace != schema.WSPreserve {
			s = schema.NormalizeSpace(s, d.WhiteSpace)
		}
		e.t.encodeValue(w, &e.opts, ln, s, d.CharSet)
	case schema.RepBoolean:
		v, n, ok := fastBool(s, d.BooleanPattern)
		if !ok {
			return false
		}
		if !w.aligned {
			c.writeWith(w, v, n)
			return true
		}
		c.write(sw)
		w.writeNBit(v, n)
	case schema.RepFloat:
		f, ok := fastFloat(s)
		if !ok {
			return false
		}
		if !w.aligned {
			// code, mantissa and exponent in one or two writes
			mb, mn := intBits(f.Mantissa)
			eb, en := intBits(f.Exponent)
			if mn > 0 && en > 0 {
				if mn+en <= 57 {
					c.writeWith(w, mb<<uint(en)|eb, mn+en)
				} else {
					c.writeWith(w, mb, mn)
					w.writeBits(eb, en)
				}
				return true
			}
		}
		c.write(sw)
		writeInt(w, f.Mantissa)
		writeInt(w, f.Exponent)
	case schema.RepInteger, schema.RepUnsignedInteger, schema.RepNBitInteger:
		v, ok := fastInt(s)
		if !ok {
			return false
		}
		switch d.Rep {
		case schema.RepInteger:
			if b, n := intBits(v); n > 0 && !w.aligned {
				c.writeWith(w, b, n)
				return true
			}
			c.write(sw)
			writeInt(w, v)
		case schema.RepUnsignedInteger:
			if v < 0 {
				return false
			}
			c.write(sw)
			w.writeUint(uint64(v))
		default:
			if v -= d.NBitMin; v < 0 || v >= 1<<uint(d.NBitBits) {
				return false
			}
			c.write(sw)
			w.writeNBit(uint64(v), d.NBitBits)
		}
	case schema.RepDateTime:
		v, err := schema.ParseDateTime(d.DateTime, s)
		if err != nil {
			return false
		}
		c.write(sw)
		writeDateTime(w, d.DateTime, v)
	default:
		return false
	}
	if ch != nil {
		if fresh {
			ln.ch = ch
			e.chans = append(e.chans, ch)
		}
		ch.n++
		e.counted()
	}
	return true
}

// intBits returns the bit-packed form of the Integer v (§7.1.5): a sign
// bit, then the magnitude (v, or -v-1 when negative) as an Unsigned
// Integer in 7-bit groups, least significant first, each in a byte whose
// high bit says that another follows; and its width, or 0 when wider
// than 57 bits.
func intBits(v int64) (uint64, int) {
	var sign, m uint64 = 0, uint64(v)
	if v < 0 {
		sign, m = 1, uint64(-(v + 1))
	}
	var b uint64
	n := 1
	for m >= 0x80 {
		if n > 41 {
			return 0, 0
		}
		b = b<<8 | m&0x7f | 0x80
		m >>= 7
		n += 8
	}
	return sign<<uint(n+7) | b<<8 | m, n + 8
}

// fastBool returns the Boolean s in the form EXI writes it (§7.1.2): the
// value and its width, one bit, or two with a pattern facet (false=0,
// 0=1, true=2, 1=3); false when s is not one of the four lexical forms
// (whitespace around it takes the general way).
func fastBool(s string, pattern bool) (uint64, int, bool) {
	var v uint64
	switch s {
	case "true", "1":
		v = 1
	case "false", "0":
	default:
		return 0, 0, false
	}
	if !pattern {
		return v, 1, true
	}
	v *= 2
	if s[0] == '0' || s[0] == '1' {
		v++
	}
	return v, 2, true
}
