package sync

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// uuids returns n sorted lowercase UUIDs.
func uuids(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-%04x-4abc-8def-%012x", i*7919, i, i*104729)
	}
	slices.Sort(ids)
	return ids
}

// TestMemberList: member ids that are lowercase UUIDs are kept packed,
// others as text; either way the ids, the JSON (one per line, as states
// written before hold them) and equality are those of the text.
func TestMemberList(t *testing.T) {
	ids := uuids(3)
	upper := []string{strings.ToUpper(ids[0]), strings.ToUpper(ids[1])}
	tests := []struct {
		name   string
		ids    []string
		packed bool
	}{
		{"uuids", ids, true},
		{"one uuid", ids[:1], true},
		{"short ids", []string{"t-1", "t-2"}, false},
		{"upper-case uuids", upper, false},
		{"a uuid and another id", []string{ids[0], "x"}, false},
		{"uuid-long ids that are not uuids", []string{strings.Repeat("g", 36)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := withMembers(&Mirror{DisplayName: "Eng"}, slices.Clone(tt.ids))
			want := slices.Sorted(slices.Values(tt.ids))
			if got := m.memberIDs(); !slices.Equal(got, want) {
				t.Fatalf("ids %q, want %q", got, want)
			}
			text := strings.Join(want, "\n")
			if packed := strings.HasPrefix(string(m.Members), packedMarker); packed != tt.packed {
				t.Errorf("packed = %v, want %v", packed, tt.packed)
			}
			if tt.packed && len(m.Members) != 1+16*len(want) {
				t.Errorf("packed into %d bytes, want %d", len(m.Members), 1+16*len(want))
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(map[string]string{"displayName": "Eng", "members": text})
			if string(b) != string(wantJSON) {
				t.Errorf("JSON %s, want %s", b, wantJSON)
			}
			var back Mirror
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Members != m.Members || !back.Equal(m) {
				t.Errorf("read back as %q, want %q", back.Members, m.Members)
			}
			if hand := (&Mirror{DisplayName: "Eng", Members: MemberList(text)}); !hand.Equal(m) || !m.Equal(hand) {
				t.Error("the text form is not Equal to the kept form")
			}
		})
	}
	var m Mirror
	if err := json.Unmarshal([]byte(`{"members":"\u0000x"}`), &m); err == nil {
		t.Error("a member list starting with a zero byte was read")
	}
	if withMembers(&Mirror{}, []string{"\x00" + ids[0][1:]}) != nil {
		t.Error("an id with a zero byte was kept")
	}
}

// BenchmarkMirrorMembers reports the heap a group mirror's members take
// per member, for 200 members with UUIDs as ids (as Netskope's are):
//
//	go test ./sync -run '^$' -bench MirrorMembers -benchmem
func BenchmarkMirrorMembers(b *testing.B) {
	const groups, members = 1000, 200
	ids := uuids(members)
	var size uint64
	for b.Loop() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		kept := make([]*Mirror, groups)
		for i := range kept {
			kept[i] = withMembers(&Mirror{DisplayName: "g"}, slices.Clone(ids))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		size = ms.HeapAlloc - before
		runtime.KeepAlive(kept)
	}
	b.ReportMetric(float64(size)/groups/members, "B/member")
}

// TestFileStateReadsTextMembers: a state file as the previous format
// wrote it, members one per line, loads with the members packed and the
// same ids, and saves back the same text.
func TestFileStateReadsTextMembers(t *testing.T) {
	ids := uuids(4)
	text := strings.Join(ids, "\n")
	old := fmt.Sprintf(`{"version":1,"target":"t","serial":3,"users":{},"groups":{"g1":{"targetId":"tg1","origin":"created","since":"2026-12-01T10:00:00Z","mirror":{"displayName":"Eng","members":%q}}}}`, text)
	path := t.TempDir() + "/state.json"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	st := NewFileState(path)
	defer st.Close()
	s, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := s.Groups["g1"].Mirror
	if !strings.HasPrefix(string(m.Members), packedMarker) || !slices.Equal(m.memberIDs(), ids) {
		t.Fatalf("members loaded as %q", m.Members)
	}
	s.Serial++
	if err := st.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(text); !strings.Contains(string(b), `"members":`+string(want)) {
		t.Fatalf("saved as\n%s", b)
	}
}

// TestPackIDsIsSortedText: members packed from their 16 bytes are what
// packing their sorted, deduplicated text made, for ids in any order
// with repeats; ids of any other form (upper case, not UUIDs, empty) are
// left to the text, as before.
func TestPackIDsIsSortedText(t *testing.T) {
	ids := uuids(300)
	rng := rand.New(rand.NewPCG(7, 13))
	viaText := func(ids []string) MemberList {
		s := slices.Clone(ids)
		slices.Sort(s)
		return packMembers(strings.Join(slices.Compact(s), "\n"))
	}
	for n := 1; n <= 300; n += 37 {
		in := make([]string, n)
		for i := range in {
			in[i] = ids[rng.IntN(len(ids))] // repeats, any order
		}
		want := viaText(in)
		got, ok := packIDs(slices.Clone(in))
		if !ok || got != want {
			t.Fatalf("%d ids: packed %q (%v), want %q", n, got, ok, want)
		}
		if m := withMembers(&Mirror{}, slices.Clone(in)); m == nil || m.Members != want {
			t.Fatalf("%d ids: withMembers gave %v", n, m)
		}
	}
	for _, odd := range [][]string{
		{strings.ToUpper(ids[0]), ids[1]},
		{ids[0], "not-a-uuid"},
		{ids[0], ""},
		{ids[2] + "x"},
		{},
	} {
		if got, ok := packIDs(slices.Clone(odd)); ok {
			t.Errorf("%q packed as %q; want them left to the text", odd, got)
		}
	}
}

// BenchmarkGroupMirror reports the cost of a created group's mirror of
// 200 members, given in no order:
//
//	go test ./sync -run '^$' -bench GroupMirror -benchmem
func BenchmarkGroupMirror(b *testing.B) {
	ids := uuids(200)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	members := make([]scim.Member, len(ids))
	for i, id := range ids {
		members[i] = scim.Member{Value: id}
	}
	b.ReportAllocs()
	for b.Loop() {
		groupMirror(&scim.Group{DisplayName: "g", Members: members})
	}
}

// TestAppendUUID: appendUUID packs exactly the lowercase UUIDs, as hex
// decoding reads their digits: every byte value at every place of one is
// tried.
func TestAppendUUID(t *testing.T) {
	const id = "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b"
	ref := func(s string) ([]byte, bool) {
		if len(s) != uuidLen || strings.ContainsAny(s, "ABCDEF") {
			return nil, false
		}
		for i := range s {
			if (i == 8 || i == 13 || i == 18 || i == 23) != (s[i] == '-') {
				return nil, false
			}
		}
		b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
		if err != nil {
			return nil, false
		}
		return b, true
	}
	for i := 0; i <= len(id); i++ {
		for c := range 256 {
			s := id[:i] + string([]byte{byte(c)}) + id[min(i+1, len(id)):]
			got, ok := appendUUID(nil, s)
			want, wantOK := ref(s)
			if ok != wantOK || !bytes.Equal(got, want) {
				t.Fatalf("appendUUID(%q) = %x, %v; want %x, %v", s, got, ok, want, wantOK)
			}
		}
	}
	if got, ok := appendUUID([]byte{1}, id); !ok || unpackUUID(string(got[1:])) != id || got[0] != 1 {
		t.Errorf("appendUUID appended %x, %v", got, ok)
	}
}
