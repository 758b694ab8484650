package source

import (
	"hash/maphash"
	"math/bits"
)

// keyIndex finds objects by a string key: an open-addressing table of
// their indexes, 4 bytes a slot and at least twice as many slots as
// objects, where a map[string]int takes about 40 bytes an object.
// Validate builds three for a directory whose users are all held at
// once: at 100,000 users, 1 MB each instead of about 4 MB.
type keyIndex struct {
	slots []int32 // 1 + the index of an object, 0 for an empty slot
	key   func(i int) string
	seed  maphash.Seed
}

// newKeyIndex returns an empty index for up to n objects whose keys key
// returns.
func newKeyIndex(n int, key func(i int) string) *keyIndex {
	size := 1 << bits.Len(uint(max(2*n, 8)-1))
	return &keyIndex{slots: make([]int32, size), key: key, seed: maphash.MakeSeed()}
}

// probe returns the slot of key k: the one holding an object with that
// key, or the empty one where it would go.
func (x *keyIndex) probe(k string) int {
	mask := len(x.slots) - 1
	for s := int(maphash.String(x.seed, k)) & mask; ; s = (s + 1) & mask {
		if v := x.slots[s]; v == 0 || x.key(int(v-1)) == k {
			return s
		}
	}
}

// find returns the index of the object whose key is k.
func (x *keyIndex) find(k string) (int, bool) {
	v := x.slots[x.probe(k)]
	return int(v - 1), v != 0
}

// add adds object i, unless an object with its key is there already: it
// returns that object's index and true then.
func (x *keyIndex) add(i int) (int, bool) {
	s := x.probe(x.key(i))
	if v := x.slots[s]; v != 0 {
		return int(v - 1), true
	}
	x.slots[s] = int32(i + 1)
	return 0, false
}
