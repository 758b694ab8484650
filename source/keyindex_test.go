package source

import (
	"fmt"
	"runtime"
	"testing"
)

// TestKeyIndex: a keyIndex finds each object by its key, reports the
// object holding a key already added, and finds nothing for an absent
// key, however full its table.
func TestKeyIndex(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 1000} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", i/2*2) // every key twice
		}
		x := newKeyIndex(n, func(i int) string { return keys[i] })
		for i := range keys {
			j, dup := x.add(i)
			if wantDup := i%2 == 1; dup != wantDup || dup && j != i-1 {
				t.Fatalf("n=%d: add(%d) = %d, %v; want a duplicate of %d: %v", n, i, j, dup, i-1, wantDup)
			}
		}
		for i := 0; i < n; i += 2 {
			if j, ok := x.find(keys[i]); !ok || j != i {
				t.Errorf("n=%d: find(%q) = %d, %v; want %d", n, keys[i], j, ok, i)
			}
		}
		if j, ok := x.find("absent"); ok {
			t.Errorf("n=%d: find(absent) = %d", n, j)
		}
	}
}

// TestValidateIndexesInSlots: Validate indexes a directory's ids and
// user names in tables of 4-byte slots, not maps: at 100,000 users it
// allocated 8.5 MB next to the whole directory read, now 5.3 MB.
func TestValidateIndexesInSlots(t *testing.T) {
	const n = 20000
	d := &Directory{Groups: []Group{{ID: "g", DisplayName: "G", Members: []string{"u1", "u2"}}}}
	for i := range n {
		d.Users = append(d.Users, User{ID: fmt.Sprintf("u%d", i), UserName: fmt.Sprintf("user%d@x.io", i), State: StateActive})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := d.Validate()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	// Two tables of 65,536 slots, the lower-case names' strings and the
	// members' marks: 58 bytes a user. Two maps took about 100.
	if perUser := float64(after.TotalAlloc-before.TotalAlloc) / n; perUser > 70 {
		t.Errorf("Validate allocated %.0f bytes a user, want at most 70", perUser)
	}
}
