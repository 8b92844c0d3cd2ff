package exi

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf8"
)

// bitsFor returns ceil(log2(m)), the width of an n-bit unsigned integer
// that can hold m distinct values (0 for m <= 1).
func bitsFor(m int) int {
	if m <= 1 {
		return 0
	}
	return bits.Len(uint(m - 1))
}

// bitWriter appends EXI primitives to a byte slice, either bit-packed or
// byte-aligned (EXI §7, §8.3). Bit-packed output collects in a 64-bit
// accumulator that goes to buf eight bytes at a time; flush moves the
// complete bytes to buf.
type bitWriter struct {
	buf     []byte
	acc     uint64 // pending bits: the low n bits, most significant first
	n       uint   // pending bits in acc, < 64
	aligned bool   // byte-alignment: n-bit integers take whole bytes
}

func (w *bitWriter) reset(aligned bool) {
	w.buf = w.buf[:0]
	w.acc, w.n = 0, 0
	w.aligned = aligned
}

// writeBits writes the low n bits of v (n <= 64), most significant first.
func (w *bitWriter) writeBits(v uint64, n int) {
	if t := w.n + uint(n); t < 64 {
		w.acc = w.acc<<uint(n) | v&(1<<uint(n)-1)
		w.n = t
		return
	}
	w.spill(v, uint(n))
}

// spill is writeBits when acc overflows: it fills acc with the first bits
// of v, appends it to buf and keeps the rest of v.
//
//go:noinline
func (w *bitWriter) spill(v uint64, n uint) {
	if n < 64 {
		v &= 1<<n - 1
	}
	free := 64 - w.n // 1..64
	rest := n - free // 0..63
	var acc uint64
	if free == 64 {
		acc = v >> rest
	} else {
		acc = w.acc<<free | v>>rest
	}
	w.buf = binary.BigEndian.AppendUint64(w.buf, acc)
	w.acc, w.n = v&(1<<rest-1), rest
}

// flush moves the complete bytes of acc to buf, leaving fewer than 8
// pending bits.
func (w *bitWriter) flush() {
	for w.n >= 8 {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
	w.acc &= 1<<w.n - 1
}

// writeNBit writes an n-bit unsigned integer (§7.1.9).
func (w *bitWriter) writeNBit(v uint64, n int) {
	if !w.aligned {
		w.writeBits(v, n)
		return
	}
	w.writeAlignedNBit(v, n)
}

func (w *bitWriter) writeAlignedNBit(v uint64, n int) {
	for ; n > 0; n -= 8 {
		w.buf = append(w.buf, byte(v))
		v >>= 8
	}
}

func (w *bitWriter) writeBool(b bool) {
	if b {
		w.writeNBit(1, 1)
	} else {
		w.writeNBit(0, 1)
	}
}

// writeByte writes 8 bits; in byte-aligned streams nothing is pending.
func (w *bitWriter) writeByte(b byte) {
	if w.n == 0 {
		w.buf = append(w.buf, b)
		return
	}
	w.writeBits(uint64(b), 8)
}

// writeUint writes an unsigned integer in 7-bit groups (§7.1.6).
func (w *bitWriter) writeUint(v uint64) {
	if v < 0x80 {
		w.writeByte(byte(v))
		return
	}
	w.writeLongUint(v)
}

func (w *bitWriter) writeLongUint(v uint64) {
	for v >= 0x80 {
		w.writeByte(byte(v) | 0x80)
		v >>= 7
	}
	w.writeByte(byte(v))
}

// writeChars writes the code points of s without a length prefix.
func (w *bitWriter) writeChars(s string) {
	// ASCII characters are one-byte unsigned integers: shift them in
	// eight at a time.
	for len(s) >= 8 {
		v := uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
		if v&0x8080808080808080 != 0 {
			break
		}
		w.spill(v, 64)
		s = s[8:]
	}
	if len(s) < 8 && !w.aligned {
		var v uint64
		i := 0
		for ; i < len(s) && s[i] < 0x80; i++ {
			v = v<<8 | uint64(s[i])
		}
		w.writeBits(v, 8*i)
		s = s[i:]
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x80 {
			w.writeByte(b)
			continue
		}
		for _, r := range s[i:] {
			w.writeUint(uint64(r))
		}
		return
	}
}

// shortASCII returns the bytes of s, of at most 7 ASCII characters,
// packed most significant first, as writeChars would write them.
func shortASCII(s string) (uint64, bool) {
	if len(s) > 7 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return 0, false
		}
		v = v<<8 | uint64(s[i])
	}
	return v, true
}

// writeString writes a length-prefixed string (§7.1.10).
func (w *bitWriter) writeString(s string) {
	w.writeUint(uint64(utf8.RuneCountInString(s)))
	w.writeChars(s)
}

// align pads with zero bits to the next byte boundary and flushes.
func (w *bitWriter) align() {
	w.flush()
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.n)))
		w.acc, w.n = 0, 0
	}
}

// bitReader reads EXI primitives from a byte source that is refilled on
// demand, so a decoder can sit on a network stream.
type bitReader struct {
	src     io.Reader
	buf     []byte
	pos     int    // next unread byte in buf
	cur     byte   // current partially consumed byte
	n       uint   // unread bits left in cur
	off     int64  // bytes consumed before buf[0]
	aligned bool   // byte-alignment mode
	scratch []byte // utf-8 assembly for strings
	limits  *Limits
	err     error
}

func (r *bitReader) reset(src io.Reader, data []byte) {
	r.src = src
	r.buf = data
	r.pos, r.cur, r.n, r.off = 0, 0, 0, 0
	r.err = nil
}

// bitOffset reports the current position in bits from the start of input.
func (r *bitReader) bitOffset() int64 {
	return (r.off+int64(r.pos))*8 - int64(r.n)
}

func (r *bitReader) fail(err error) error {
	if r.err == nil {
		r.err = &Error{BitOffset: r.bitOffset(), Err: err}
	}
	return r.err
}

func (r *bitReader) fill() bool {
	if r.err != nil {
		return false
	}
	if r.src == nil {
		r.fail(io.ErrUnexpectedEOF)
		return false
	}
	if r.pos == len(r.buf) {
		r.off += int64(len(r.buf))
		if cap(r.buf) < 4096 {
			r.buf = make([]byte, 0, 4096)
		}
		r.buf, r.pos = r.buf[:0], 0
	}
	for tries := 0; r.pos == len(r.buf); tries++ {
		n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if n > 0 {
			break
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil || tries > 100 {
			if err == nil {
				err = io.ErrNoProgress
			}
			r.fail(err)
			return false
		}
	}
	return true
}

func (r *bitReader) nextByte() (byte, bool) {
	if r.pos == len(r.buf) && !r.fill() {
		return 0, false
	}
	b := r.buf[r.pos]
	r.pos++
	return b, true
}

func (r *bitReader) readBits(n int) (uint64, error) {
	var v uint64
	for n > 0 {
		if r.n == 0 {
			b, ok := r.nextByte()
			if !ok {
				return 0, r.err
			}
			r.cur, r.n = b, 8
		}
		if n < int(r.n) {
			r.n -= uint(n)
			return v<<uint(n) | uint64(r.cur>>r.n)&(1<<uint(n)-1), nil
		}
		v = v<<r.n | uint64(r.cur)&(1<<r.n-1)
		n -= int(r.n)
		r.n = 0
		for n >= 8 && r.pos < len(r.buf) {
			v = v<<8 | uint64(r.buf[r.pos])
			r.pos++
			n -= 8
		}
	}
	return v, nil
}

func (r *bitReader) readNBit(n int) (uint64, error) {
	if n == 0 {
		return 0, nil
	}
	if !r.aligned {
		return r.readBits(n)
	}
	if n <= 8 && r.n == 0 && r.pos < len(r.buf) {
		// The usual case of byte-aligned streams: one whole byte.
		b := r.buf[r.pos]
		r.pos++
		return uint64(b), nil
	}
	var v uint64
	for i := 0; n > 0; i, n = i+8, n-8 {
		b, err := r.readByte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b) << uint(i)
	}
	return v, nil
}

func (r *bitReader) readBool() (bool, error) {
	v, err := r.readNBit(1)
	return v == 1, err
}

func (r *bitReader) readByte() (byte, error) {
	if r.n == 0 && r.pos < len(r.buf) {
		b := r.buf[r.pos]
		r.pos++
		return b, nil
	}
	if r.n == 0 {
		b, ok := r.nextByte()
		if !ok {
			return 0, r.err
		}
		return b, nil
	}
	v, err := r.readBits(8)
	return byte(v), err
}

// readUint reads an unsigned integer of at most 63 bits.
func (r *bitReader) readUint() (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		b, err := r.readByte()
		if err != nil {
			return 0, err
		}
		if shift > 56 {
			return 0, r.fail(fmt.Errorf("unsigned integer too large: %w", ErrMalformed))
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
}

// readChars reads n code points and returns them as a string.
func (r *bitReader) readChars(n uint64) (string, error) {
	b, err := r.readCharBytes(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// readCharBytes reads n code points as UTF-8 into a scratch buffer that
// is valid until the next read.
func (r *bitReader) readCharBytes(n uint64) ([]byte, error) {
	if max := r.limits.maxValueLength(); n > uint64(max) {
		return nil, r.fail(&LimitError{Limit: "MaxValueLength", Value: int64(n), Max: int64(max)})
	}
	r.scratch = r.scratch[:0]
	for i := uint64(0); i < n; i++ {
		// ASCII characters are one-byte unsigned integers: take them
		// straight from the buffer.
		if r.pos < len(r.buf) {
			nb := r.buf[r.pos]
			b := nb
			if r.n != 0 {
				b = r.cur<<(8-r.n) | nb>>r.n
			}
			if b < 0x80 {
				r.cur = nb
				r.pos++
				r.scratch = append(r.scratch, b)
				continue
			}
		}
		c, err := r.readUint()
		if err != nil {
			return nil, err
		}
		if c > utf8.MaxRune {
			return nil, r.fail(fmt.Errorf("code point %#x out of range: %w", c, ErrMalformed))
		}
		if c < utf8.RuneSelf {
			r.scratch = append(r.scratch, byte(c))
		} else {
			r.scratch = utf8.AppendRune(r.scratch, rune(c))
		}
	}
	return r.scratch, nil
}

// readRestricted reads n characters of a restricted character set cs
// (§7.1.10.1).
func (r *bitReader) readRestricted(n uint64, cs []rune) (string, error) {
	if max := r.limits.maxValueLength(); n > uint64(max) {
		return "", r.fail(&LimitError{Limit: "MaxValueLength", Value: int64(n), Max: int64(max)})
	}
	nb := bitsFor(len(cs) + 1)
	r.scratch = r.scratch[:0]
	for i := uint64(0); i < n; i++ {
		v, err := r.readNBit(nb)
		if err != nil {
			return "", err
		}
		var c rune
		switch {
		case v < uint64(len(cs)):
			c = cs[v]
		case v == uint64(len(cs)):
			u, err := r.readUint()
			if err != nil {
				return "", err
			}
			if u > utf8.MaxRune {
				return "", r.fail(fmt.Errorf("code point %#x out of range: %w", u, ErrMalformed))
			}
			c = rune(u)
		default:
			return "", r.fail(fmt.Errorf("restricted character %d of %d: %w", v, len(cs), ErrMalformed))
		}
		r.scratch = utf8.AppendRune(r.scratch, c)
	}
	return string(r.scratch), nil
}

func (r *bitReader) readString() (string, error) {
	n, err := r.readUint()
	if err != nil {
		return "", err
	}
	return r.readChars(n)
}

// align skips to the next byte boundary.
func (r *bitReader) align() { r.n = 0 }
