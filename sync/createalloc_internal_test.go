package sync

import (
	"testing"

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
