package exi

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// valIndex maps the strings of the global value partition to their ids
// for the encoder: an open-addressing hash table (linear probing,
// backward-shift deletion) over gvals, cheaper than a Go map because a
// miss and the insertion that follows share one hash computation.
//
// A slot holds the low 32 bits of the string's hash above its global
// id + 1 (0 is empty): probes past other strings compare the hash bits
// without touching gvals, and growing or deleting needs no rehashing,
// as the home slot is the hash modulo the table size.
type valIndex struct {
	seed     maphash.Seed
	k        [3]uint64 // random keys of the short-string hash
	slots    []uint64
	n        int
	lastS    string // the string of the last find, and its hash
	lastH    uint32
	lastFree uint32 // the empty slot where the last missed find ended
}

func newValIndex() *valIndex {
	return &valIndex{seed: maphash.MakeSeed(), k: [3]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()},
		slots: make([]uint64, 256)}
}

func (x *valIndex) hash(s string) uint32 {
	if s == x.lastS && len(s) > 0 {
		return x.lastH
	}
	return x.strHash(s)
}

// strHash hashes s with a random key: strings of up to 16 bytes inline,
// as the wyhash family does (and the runtime without AES), longer ones
// with maphash.
func (x *valIndex) strHash(s string) uint32 {
	n := len(s)
	var a, b uint64
	switch {
	case n > 16:
		return uint32(maphash.String(x.seed, s))
	case n >= 8:
		a, b = le64(s), le64(s[n-8:])
	case n >= 4:
		a, b = uint64(le32(s)), uint64(le32(s[n-4:]))
	case n > 0:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return uint32(mix(mix(a^x.k[0], b^x.k[1]), uint64(n)^x.k[2]))
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
	h := x.strHash(s)
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
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	s := gvals[id].s
	if s == x.lastS && len(s) > 0 && x.slots[x.lastFree] == 0 {
		// the insertion after a missed find: the slot where the probe
		// ended (the table has not changed since)
		x.slots[x.lastFree] = uint64(x.lastH)<<32 | uint64(uint32(id+1))
	} else {
		x.put(uint64(x.hash(s))<<32 | uint64(uint32(id+1)))
	}
	x.n++
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

// remove deletes id (before gvals[id] is overwritten).
func (x *valIndex) remove(gvals []gval, id int32) {
	mask := uint32(len(x.slots) - 1)
	i := x.hash(gvals[id].s) & mask
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
		k := uint32(v>>32) & mask
		// move v into the hole at i unless its home k lies cyclically in (i, j]
		if (i < j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			x.slots[i] = v
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	x.lastS = ""
}

func (x *valIndex) reset() {
	clear(x.slots)
	x.n, x.lastS = 0, ""
}
