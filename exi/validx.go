package exi

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// valIndex maps the strings of the global value partition to their ids
// for the encoder: open-addressing hash tables (linear probing,
// backward-shift deletion) over gvals, cheaper than a Go map because a
// miss and the insertion that follows share one probe.
//
// Strings of up to maxShort bytes (nearly all values of sensor data:
// numbers, units, flags, field names) are kept in a table whose slots
// hold the string itself as an exact key of two words and its length,
// so that a lookup compares integers in one slot and reads neither
// gvals nor the string's bytes. Longer strings are in a table whose
// slots hold the low 32 bits of the string's hash above its global
// id + 1 (0 is empty): probes past other strings compare the hash bits
// without touching gvals, and growing or deleting needs no rehashing,
// as the home slot is the hash modulo the table size.
type valIndex struct {
	seed     maphash.Seed
	k        [3]uint64 // random keys of the short-string hash
	short    []sslot   // strings of up to maxShort bytes
	slots    []uint64  // longer strings
	n, nlong int       // entries in all, in slots
	lastS    string    // the long string of the last find, and its hash
	lastH    uint32
	lastFree uint32 // the empty slot where the last missed find of a long string ended
}

// sslot is a slot of the short-string table: the string's key
// (shortKey) and its length above its global id + 1; meta 0 is empty.
type sslot struct {
	a, b, meta uint64
}

// maxShort is the longest string kept in the short-string table.
const maxShort = 16

func newValIndex() *valIndex {
	return &valIndex{seed: maphash.MakeSeed(), k: [3]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()},
		short: make([]sslot, 64), slots: make([]uint64, 64)}
}

// shortKey returns two words that, with the length, identify a string of
// at most maxShort bytes: its first and last eight bytes (overlapping
// when shorter than 16), its first and last four, or for fewer than
// four bytes the first, middle and last byte.
func shortKey(s string) (a, b uint64) {
	n := len(s)
	switch {
	case n >= 8:
		a, b = le64(s), le64(s[n-8:])
	case n >= 4:
		a, b = uint64(le32(s)), uint64(le32(s[n-4:]))
	case n > 0:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return a, b
}

// shortHash hashes a short string's key with the random keys, as the
// wyhash family does.
func (x *valIndex) shortHash(a, b, n uint64) uint32 {
	return uint32(mix(mix(a^x.k[0], b^x.k[1]), n^x.k[2]))
}

// longHash hashes a string longer than maxShort.
func (x *valIndex) longHash(s string) uint32 {
	if s == x.lastS && len(s) > 0 {
		return x.lastH
	}
	return uint32(maphash.String(x.seed, s))
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// find returns the global id of s.
func (x *valIndex) find(gvals []gval, s string) (int32, bool) {
	if n := uint64(len(s)); n <= maxShort {
		var a, b uint64 // shortKey(s), inlined
		switch {
		case n >= 8:
			a, b = le64(s), le64(s[n-8:])
		case n >= 4:
			a, b = uint64(le32(s)), uint64(le32(s[n-4:]))
		case n > 0:
			a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
		}
		mask := uint32(len(x.short) - 1)
		for i := x.shortHash(a, b, n) & mask; ; i = (i + 1) & mask {
			sl := &x.short[i]
			if sl.meta == 0 {
				return 0, false
			}
			if sl.a == a && sl.b == b && sl.meta>>32 == n {
				return int32(uint32(sl.meta)) - 1, true
			}
		}
	}
	h := uint32(maphash.String(x.seed, s))
	x.lastS, x.lastH = s, h
	mask := uint32(len(x.slots) - 1)
	tag := uint64(h) << 32
	for i := h & mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			x.lastFree = i
			return 0, false
		}
		if v&^(1<<32-1) == tag {
			if id := int32(uint32(v)) - 1; gvals[id].s == s {
				return id, true
			}
		}
	}
}

// insert adds id, whose string is gvals[id].s.
func (x *valIndex) insert(gvals []gval, id int32) {
	s := gvals[id].s
	x.n++
	if len(s) <= maxShort {
		if 2*(x.n-x.nlong) > len(x.short) {
			x.growShort()
		}
		a, b := shortKey(s)
		x.putShort(sslot{a, b, uint64(len(s))<<32 | uint64(uint32(id+1))})
		return
	}
	x.nlong++
	if 2*x.nlong > len(x.slots) {
		x.grow()
	}
	if s == x.lastS && len(s) > 0 && x.slots[x.lastFree] == 0 {
		// the insertion after a missed find: the slot where the probe
		// ended (the table has not changed since)
		x.slots[x.lastFree] = uint64(x.lastH)<<32 | uint64(uint32(id+1))
	} else {
		x.put(uint64(x.longHash(s))<<32 | uint64(uint32(id+1)))
	}
}

// putShort stores sl at the first free slot from its home.
func (x *valIndex) putShort(sl sslot) {
	mask := uint32(len(x.short) - 1)
	i := x.shortHash(sl.a, sl.b, sl.meta>>32) & mask
	for x.short[i].meta != 0 {
		i = (i + 1) & mask
	}
	x.short[i] = sl
}

func (x *valIndex) growShort() {
	old := x.short
	x.short = make([]sslot, 2*len(old))
	for _, sl := range old {
		if sl.meta != 0 {
			x.putShort(sl)
		}
	}
}

// put stores slot value v at the first free slot from its home.
func (x *valIndex) put(v uint64) {
	mask := uint32(len(x.slots) - 1)
	i := uint32(v>>32) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = v
}

func (x *valIndex) grow() {
	x.lastS = ""
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	for _, v := range old {
		if v != 0 {
			x.put(v)
		}
	}
}

// between reports whether home k lies cyclically in (i, j]: an entry
// there stays when the hole at i is filled by backward shifting.
func between(k, i, j uint32) bool {
	if i < j {
		return k > i && k <= j
	}
	return k > i || k <= j
}

// remove deletes id (before gvals[id] is overwritten).
func (x *valIndex) remove(gvals []gval, id int32) {
	s := gvals[id].s
	if len(s) <= maxShort {
		x.removeShort(s, id)
		return
	}
	mask := uint32(len(x.slots) - 1)
	i := x.longHash(s) & mask
	for uint32(x.slots[i]) != uint32(id+1) {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		v := x.slots[j]
		if v == 0 {
			break
		}
		if !between(uint32(v>>32)&mask, i, j) {
			x.slots[i] = v
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	x.nlong--
	x.lastS = ""
}

func (x *valIndex) removeShort(s string, id int32) {
	a, b := shortKey(s)
	mask := uint32(len(x.short) - 1)
	i := x.shortHash(a, b, uint64(len(s))) & mask
	for uint32(x.short[i].meta) != uint32(id+1) {
		if x.short[i].meta == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		sl := x.short[j]
		if sl.meta == 0 {
			break
		}
		if !between(x.shortHash(sl.a, sl.b, sl.meta>>32)&mask, i, j) {
			x.short[i] = sl
			i = j
		}
	}
	x.short[i] = sslot{}
	x.n--
}

func (x *valIndex) reset() {
	clear(x.short)
	clear(x.slots)
	x.n, x.nlong, x.lastS = 0, 0, ""
}
