package exi

import "hash/maphash"

// valIndex maps the strings of the global value partition to their ids
// for the encoder: an open-addressing hash table (linear probing,
// backward-shift deletion) over gvals, cheaper than a Go map because a
// miss and the insertion that follows share one hash computation.
type valIndex struct {
	seed  maphash.Seed
	slots []int32 // global id + 1; 0 is empty
	n     int
	lastS string // the string of the last find, and its hash
	lastH uint64
}

func newValIndex() *valIndex {
	return &valIndex{seed: maphash.MakeSeed(), slots: make([]int32, 256)}
}

func (x *valIndex) hash(s string) uint64 {
	if s == x.lastS && len(s) > 0 {
		return x.lastH
	}
	return maphash.String(x.seed, s)
}

// find returns the global id of s.
func (x *valIndex) find(gvals []gval, s string) (int32, bool) {
	h := maphash.String(x.seed, s)
	x.lastS, x.lastH = s, h
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return 0, false
		}
		if gvals[v-1].s == s {
			return v - 1, true
		}
	}
}

// insert adds id, whose string is gvals[id].s.
func (x *valIndex) insert(gvals []gval, id int32) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.grow(gvals)
	}
	x.put(x.hash(gvals[id].s), id)
	x.n++
}

func (x *valIndex) put(h uint64, id int32) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = id + 1
}

func (x *valIndex) grow(gvals []gval) {
	old := x.slots
	x.slots = make([]int32, 2*len(old))
	for _, v := range old {
		if v != 0 {
			x.put(maphash.String(x.seed, gvals[v-1].s), v-1)
		}
	}
}

// remove deletes id (before gvals[id] is overwritten).
func (x *valIndex) remove(gvals []gval, id int32) {
	mask := uint64(len(x.slots) - 1)
	i := maphash.String(x.seed, gvals[id].s) & mask
	for x.slots[i] != id+1 {
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
		k := maphash.String(x.seed, gvals[v-1].s) & mask
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
