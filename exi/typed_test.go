package exi

import (
	"bytes"
	"math"
	"testing"
)

// TestIntBits checks that intBits gives the bits writeInt writes, and
// that it declines values wider than 57 bits.
func TestIntBits(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 127, 128, -128, -129, 14413, -2, 1 << 20, -(1 << 20),
		1<<41 - 1, 1 << 41, -(1 << 41), 1<<48 - 1, 1 << 48, 1<<49 - 1, 1 << 49, math.MaxInt64, math.MinInt64} {
		var want, got bitWriter
		want.writeBits(5, 3) // not byte-aligned
		writeInt(&want, v)
		want.align()
		var wide bitWriter
		writeInt(&wide, v)
		width := 8*len(wide.buf) + int(wide.n)
		b, n := intBits(v)
		if n == 0 {
			if width <= 57 {
				t.Errorf("intBits(%d) declined a value of %d bits", v, width)
			}
			continue
		}
		if n != width {
			t.Errorf("intBits(%d) is %d bits wide, writeInt writes %d", v, n, width)
		}
		got.writeBits(5, 3)
		got.writeBits(b, n)
		got.align()
		if !bytes.Equal(got.buf, want.buf) {
			t.Errorf("intBits(%d) = %x/%d: %x, writeInt %x", v, b, n, got.buf, want.buf)
		}
	}
}
