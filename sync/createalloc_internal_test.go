package sync

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
)

// TestPerCreateJournalStepsAllocate: the steps every created user's
// record takes on its way to the journal and the state file allocate
// only what they keep. Encoding a mirror's compact user as JSON copied
// the whole form into a string first; reading a create's externalId for
// its intent made a string of the form's head, then another of the id.
func TestPerCreateJournalStepsAllocate(t *testing.T) {
	for _, tt := range []struct {
		name string
		ext  string
		want float64 // allocations a run may make
	}{
		{"externalId a UUID", "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b", 1},
		{"externalId a text", "emp-000123", 1},
	} {
		u := &scim.User{UserName: "ada@example.com", ExternalID: tt.ext, DisplayName: "Ada Lovelace",
			Name:   &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"},
			Active: scim.Bool(true), Emails: []scim.Email{{Value: "ada@example.com", Type: "work", Primary: true}}}
		m := userMirror(u)
		c := &Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: "s1", Key: u.UserName}, packedUser: m}
		t.Run(tt.name+": create key", func(t *testing.T) {
			var ext string
			n := testing.AllocsPerRun(100, func() { _, ext, _ = c.createKey() })
			if ext != tt.ext {
				t.Fatalf("externalId %q, want %q", ext, tt.ext)
			}
			if n > tt.want {
				t.Errorf("%v allocations, want at most %v", n, tt.want)
			}
		})
		t.Run(tt.name+": mirror JSON", func(t *testing.T) {
			buf := make([]byte, 0, 4096)
			var ok bool
			n := testing.AllocsPerRun(100, func() { buf, ok = appendPackedJSON(buf[:0], m.User) })
			if !ok {
				t.Fatal("the compact form did not encode")
			}
			want, _ := unpackUser(m.User)
			if got := string(buf); got != string(want.AppendJSON(nil)) {
				t.Fatalf("JSON %s, want %s", got, want.AppendJSON(nil))
			}
			if n > 0 {
				t.Errorf("%v allocations, want none", n)
			}
		})
	}
}

// TestPerCreateApplyStepsAllocate: an apply's steps for each created
// user allocate once each. Unpacking the user to send made the user's
// room, a copy of the whole form, its name and its UUID externalId's
// text; linking it made the record's slice and its link apart.
func TestPerCreateApplyStepsAllocate(t *testing.T) {
	u := &scim.User{UserName: "ada@example.com", ExternalID: "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b",
		DisplayName: "Ada Lovelace", Name: &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"},
		Active: scim.Bool(true), Emails: []scim.Email{{Value: "ada@example.com", Type: "work", Primary: true}}}
	m := userMirror(u)
	t.Run("user to send", func(t *testing.T) {
		var got *scim.User
		n := testing.AllocsPerRun(100, func() { got, _ = unpackSent(m.User) })
		want, ok := unpackUser(m.User)
		if !ok || got == nil {
			t.Fatal("the compact form did not unpack")
		}
		if g, w := string(got.AppendJSON(nil)), string(want.AppendJSON(nil)); g != w || w != string(u.AppendJSON(nil)) {
			t.Fatalf("user to send %s, want %s (sent %s)", g, w, u.AppendJSON(nil))
		}
		if n > 1 {
			t.Errorf("%v allocations, want at most 1", n)
		}
	})
	for _, v := range []*scim.User{
		{UserName: "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b", ExternalID: "0b5e9a7c-0000-4000-8000-00000000000a", DisplayName: "A B",
			Name: &scim.Name{GivenName: "A", FamilyName: "B"}, Title: "e5c1f0a2-1111-4111-8111-111111111111"},
		{UserName: "grace@example.com", ExternalID: "emp-1", DisplayName: strings.Repeat("G", 30) + " " + strings.Repeat("H", 30),
			Name: &scim.Name{GivenName: strings.Repeat("G", 30), FamilyName: strings.Repeat("H", 30)}, Active: scim.Bool(false)},
		{UserName: "x@example.com", DisplayName: "X Y", Emails: []scim.Email{{Value: "x@example.com"}, {Value: "y@example.com", Type: "home"}}},
	} {
		t.Run("user to send "+v.UserName, func(t *testing.T) {
			form := userMirror(v).User
			got, ok := unpackSent(form)
			if !ok {
				t.Fatal("the compact form did not unpack")
			}
			if g, w := string(got.AppendJSON(nil)), string(v.AppendJSON(nil)); g != w {
				t.Fatalf("user to send %s, want %s", g, w)
			}
		})
	}
	t.Run("link of a created user", func(t *testing.T) {
		st := &countingRecorder{}
		a := &applier{e: &Engine{owner: "hr", state: st, now: time.Now}, snap: NewSnapshot(), records: make([]Record, 0, 1024)}
		c := &Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: "s1", Key: u.UserName}, packedUser: m}
		ids := make([]string, 200)
		for i := range ids {
			ids[i] = fmt.Sprintf("t%d", i)
		}
		i := 0
		n := testing.AllocsPerRun(100, func() { a.link(c, ids[i], OriginCreated, m); i++ })
		if got := a.snap.Users["s1"]; got.TargetID != ids[i-1] || got.Mirror != m || st.recs != i {
			t.Fatalf("link %+v after %d records, want target %s and the mirror, %d records", got, st.recs, ids[i-1], i)
		}
		if n > 1 {
			t.Errorf("%v allocations, want at most 1", n)
		}
	})
}

// countingRecorder is a State that counts the engine's own records.
type countingRecorder struct {
	State
	recs int
}

func (c *countingRecorder) recordOwn(_ context.Context, _ bool, recs ...Record) error {
	c.recs += len(recs)
	return nil
}

// TestSnapshotWriteAllocatesPerSaveNotPerLink: writing the state file
// allocates about as much for 2,000 links as for 20. It made a Link on
// the heap for each, and grew the sorted keys' slice by doubling.
func TestSnapshotWriteAllocatesPerSaveNotPerLink(t *testing.T) {
	allocs := func(links int) float64 {
		s := NewSnapshot()
		s.Target = "https://tenant.example/api/v2/scim"
		for i := range links {
			u := &scim.User{UserName: fmt.Sprintf("u%d@example.com", i), Active: scim.Bool(true)}
			s.Users[fmt.Sprintf("s%d", i)] = Link{TargetID: fmt.Sprintf("t%d", i), Origin: OriginCreated,
				Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Mirror: userMirror(u)}
		}
		var buf bytes.Buffer
		return testing.AllocsPerRun(5, func() {
			buf.Reset()
			if err := writeSnapshot(&buf, s, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(20), allocs(2000)
	if many > few+10 {
		t.Errorf("%v allocations for 2,000 links, %v for 20: want about as many", many, few)
	}
}
