package exi

import "hash/maphash"

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
	seed  maphash.Seed
	slots []uint64
	n     int
	lastS string // the string of the last find, and its hash
	lastH uint32
}

func newValIndex() *valIndex {
	return &valIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 256)}
}

func (x *valIndex) hash(s string) uint32 {
	if s == x.lastS && len(s) > 0 {
		return x.lastH
	}
	return uint32(maphash.String(x.seed, s))
}

// find returns the global id of s.
func (x *valIndex) find(gvals []gval, s string) (int32, bool) {
	h := uint32(maphash.String(x.seed, s))
	x.lastS, x.lastH = s, h
	mask := uint32(len(x.slots) - 1)
	tag := uint64(h) << 32
	for i := h & mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
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
	x.put(uint64(x.hash(gvals[id].s))<<32 | uint64(uint32(id+1)))
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
