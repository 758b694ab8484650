package mapping_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

func TestDefaultUser(t *testing.T) {
	tests := []struct {
		name      string
		in        source.User
		userName  string
		email     string
		display   string
		active    bool
		event     mapping.Event
		wantError string
	}{
		{name: "UPN and mail", in: source.User{ID: "1", UserName: "ada@x.io", GivenName: "Ada", FamilyName: "L",
			Emails: []source.Email{{Value: "other@x.io"}, {Value: "ada.l@x.io", Primary: true}}},
			userName: "ada@x.io", email: "ada.l@x.io", display: "Ada L", active: true},
		{name: "no UPN falls back to email", in: source.User{ID: "2", Emails: []source.Email{{Value: "bo@x.io"}}, DisplayName: "Bo"},
			userName: "bo@x.io", email: "bo@x.io", display: "Bo", active: true},
		{name: "no email falls back to UPN", in: source.User{ID: "3", UserName: "cy@x.io"},
			userName: "cy@x.io", email: "cy@x.io", display: "cy@x.io", active: true},
		{name: "suspended", in: source.User{ID: "4", UserName: "d@x.io", State: source.StateSuspended},
			userName: "d@x.io", email: "d@x.io", display: "d@x.io", active: false, event: mapping.EventSuspended},
		{name: "deleted", in: source.User{ID: "5", UserName: "e@x.io", State: source.StateDeleted},
			userName: "e@x.io", email: "e@x.io", display: "e@x.io", active: false, event: mapping.EventDeleted},
		{name: "nothing to name it by", in: source.User{ID: "6", GivenName: "Nameless"}, wantError: `user "6": userName`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			du, oerr := mapping.DefaultUser(&tt.in)
			if tt.wantError != "" {
				if oerr == nil || !strings.Contains(oerr.Error(), tt.wantError) || !errors.Is(oerr, mapping.ErrMissingAttribute) {
					t.Fatalf("error = %v, want one naming %q", oerr, tt.wantError)
				}
				return
			}
			if oerr != nil {
				t.Fatal(oerr)
			}
			u := du.User
			if u.UserName != tt.userName || u.PrimaryEmail() != tt.email || u.DisplayName != tt.display ||
				u.IsActive() != tt.active || u.ExternalID != tt.in.ID || du.SourceID != tt.in.ID || du.Event != tt.event {
				t.Errorf("mapped to %+v (event %q)", u, du.Event)
			}
			if len(u.Emails) > 1 || (len(u.Emails) == 1 && (!u.Emails[0].Primary || u.Emails[0].Type != "work")) {
				t.Errorf("emails = %+v, want one primary work email", u.Emails)
			}
		})
	}
}

func TestDefaultMapperReportsFailuresPerObject(t *testing.T) {
	dir := &source.Directory{
		Users:  []source.User{{ID: "u1", UserName: "a@x.io"}, {ID: "u2"}},
		Groups: []source.Group{{ID: "g1", DisplayName: "Eng", Members: []string{"u1"}}, {ID: "g2"}},
	}
	d, err := mapping.Default().Map(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != 1 || len(d.Groups) != 1 || len(d.Failed) != 2 {
		t.Fatalf("users %d groups %d failed %v", len(d.Users), len(d.Groups), d.Failed)
	}
	g := d.Groups[0]
	if g.Group.DisplayName != "Eng" || g.Group.ExternalID != "g1" || len(g.Members) != 1 || g.Members[0] != "u1" {
		t.Errorf("group = %+v", g)
	}
	if d.Failed[1].Kind != "group" || d.Failed[1].Field != "displayName" {
		t.Errorf("group failure = %+v", d.Failed[1])
	}
}

func TestMatchUsers(t *testing.T) {
	obs := []scim.User{
		{ID: "t1", UserName: "ada@x.io", ExternalID: "s1"},
		{ID: "t2", UserName: "BOB@x.io"},
		{ID: "t3", UserName: "dup@x.io"},
		{ID: "t4", UserName: "DUP@x.io"},
	}
	want := []scim.User{
		{UserName: "renamed@x.io", ExternalID: "s1"}, // by externalId despite a new name
		{UserName: "bob@x.io", ExternalID: "s2"},     // by userName, ignoring case
		{UserName: "dup@x.io", ExternalID: "s3"},     // two candidates
		{UserName: "new@x.io", ExternalID: "s4"},     // none
	}
	m, err := mapping.MatchUsers(want, obs, mapping.DefaultUserMatch(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Observed[0] != 0 || m.By[0] != "externalId" || m.Observed[1] != 1 || m.By[1] != "userName" ||
		m.Observed[2] != -1 || m.Observed[3] != -1 {
		t.Errorf("matches = %+v", m)
	}
	if !errors.Is(m.Errors[2], mapping.ErrAmbiguousMatch) || len(m.Errors) != 1 {
		t.Errorf("errors = %v", m.Errors)
	}
	// A pin wins over keys, and a pinned target is not matched again.
	m, _ = mapping.MatchUsers(want[:2], obs, mapping.DefaultUserMatch(), map[int]int{1: 0})
	if m.Observed[1] != 0 || m.By[1] != "link" || m.Observed[0] != -1 {
		t.Errorf("with a pin: %+v", m)
	}
	if _, err := mapping.MatchUsers(want, obs, []mapping.MatchKey{{Attribute: "nosuch"}}, nil); err == nil {
		t.Error("an unknown matching property was accepted")
	}
}

// TestMatchDesiredUsers: matching the desired users in place pairs them
// as MatchUsers pairs copies of them; a skipped user matches nothing and
// contests no one's match.
func TestMatchDesiredUsers(t *testing.T) {
	obs := []scim.User{{ID: "t1", UserName: "ada@x.io"}, {ID: "t2", UserName: "bob@x.io"}, {ID: "t3", UserName: "eve@x.io"}}
	desired := []mapping.DesiredUser{
		{SourceID: "s1", User: scim.User{UserName: "ADA@x.io"}},
		{SourceID: "s2", User: scim.User{UserName: "bob@x.io"}},
		{SourceID: "s3", User: scim.User{UserName: "bob@x.io"}}, // contests s2's match unless skipped
		{SourceID: "s4", User: scim.User{UserName: "eve@x.io"}},
	}
	copies := make([]scim.User, len(desired))
	for i := range desired {
		copies[i] = desired[i].User
	}
	pins := map[int]int{3: 2}
	want, err := mapping.MatchUsers(copies, obs, mapping.DefaultUserMatch(), pins)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mapping.MatchDesiredUsers(desired, obs, mapping.DefaultUserMatch(), pins, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MatchDesiredUsers = %+v\nMatchUsers       = %+v", got, want)
	}
	if len(got.Errors) != 2 || got.Observed[1] != -1 {
		t.Errorf("two users with one userName: %+v; want both unmatched, with errors", got)
	}
	got, err = mapping.MatchDesiredUsers(desired, obs, mapping.DefaultUserMatch(), pins, func(i int) bool { return i == 2 })
	if err != nil {
		t.Fatal(err)
	}
	if got.Observed[0] != 0 || got.Observed[1] != 1 || got.Observed[2] != -1 || got.Observed[3] != 2 || len(got.Errors) != 0 {
		t.Errorf("with s3 skipped: %+v; want s1, s2 and s4 matched, s3 not", got)
	}
}

func TestMatchGroupsTwoSourcesOneTarget(t *testing.T) {
	obs := []scim.Group{{ID: "tg", DisplayName: "Eng"}}
	want := []scim.Group{{DisplayName: "eng", ExternalID: "a"}, {DisplayName: "ENG", ExternalID: "b"}}
	m, err := mapping.MatchGroups(want, obs, mapping.DefaultGroupMatch(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Observed[0] != -1 || m.Observed[1] != -1 || len(m.Errors) != 2 || !strings.Contains(m.Errors[0].Error(), "tg") {
		t.Errorf("matches = %+v", m)
	}
}

// A match by one property while a later property names another target
// object is ambiguous, naming both.
func TestMatchPropertiesThatDisagree(t *testing.T) {
	obs := []scim.User{
		{ID: "t-by-id", UserName: "old@x.io", ExternalID: "s1"},
		{ID: "t-by-name", UserName: "ADA@x.io"},
		{ID: "t-same", UserName: "bob@x.io", ExternalID: "s2"},
	}
	tests := []struct {
		name    string
		want    scim.User
		matched int
	}{
		{"externalId and userName name different users", scim.User{UserName: "ada@x.io", ExternalID: "s1"}, -1},
		{"both name the same user", scim.User{UserName: "Bob@x.io", ExternalID: "s2"}, 2},
		{"only externalId matches", scim.User{UserName: "new@x.io", ExternalID: "s1"}, 0},
		{"only userName matches", scim.User{UserName: "ada@x.io", ExternalID: "s9"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mapping.MatchUsers([]scim.User{tt.want}, obs, mapping.DefaultUserMatch(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Observed[0] != tt.matched {
				t.Fatalf("matched %d (%v), want %d", m.Observed[0], m.Errors[0], tt.matched)
			}
			if tt.matched >= 0 {
				if m.Errors[0] != nil {
					t.Errorf("unexpected error %v", m.Errors[0])
				}
				return
			}
			err = m.Errors[0]
			if !errors.Is(err, mapping.ErrAmbiguousMatch) || !strings.Contains(err.Error(), "t-by-id") || !strings.Contains(err.Error(), "t-by-name") {
				t.Errorf("error %v, want ErrAmbiguousMatch naming t-by-id and t-by-name", err)
			}
		})
	}
	// A pinned target is not a candidate: another source user's link to
	// the userName's holder leaves the externalId match alone.
	m, _ := mapping.MatchUsers([]scim.User{{UserName: "ada@x.io", ExternalID: "s7"}, {UserName: "ada@x.io", ExternalID: "s1"}},
		obs, mapping.DefaultUserMatch(), map[int]int{0: 1})
	if m.Observed[1] != 0 || m.Errors[1] != nil {
		t.Errorf("with the userName's owner pinned elsewhere: %+v", m)
	}
}

// TestMatchContestedTargets: every source object that claims a target
// another one claims too is reported, none matched, however the claims
// arise (keys, pins).
func TestMatchContestedTargets(t *testing.T) {
	obs := []scim.User{{ID: "t1", UserName: "Ada@x.io"}, {ID: "t2", UserName: "bob@x.io"}, {ID: "t3", UserName: "dup@x.io"}, {ID: "t4", UserName: "dup@x.io"}}
	want := []scim.User{{UserName: "ada@x.io"}, {UserName: "bob@x.io"}, {UserName: "ADA@x.io"}, {UserName: "ada@X.IO"}, {UserName: "cy@x.io"}, {UserName: "dup@x.io"}}
	m, err := mapping.MatchUsers(want, obs, mapping.DefaultUserMatch(), map[int]int{4: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m.Observed); got != "[-1 -1 -1 -1 1 -1]" {
		t.Errorf("observed %s, want [-1 -1 -1 -1 1 -1]: 0, 2, 3 contest t1; bob's t2 is pinned to 4; dup has two targets", got)
	}
	for i, want := range map[int]string{0: "3 source users match the same target user (id t1)", 2: "(id t1)", 3: "(id t1)",
		1: "", 5: "2 target users have userName \"dup@x.io\""} {
		err := m.Errors[i]
		if want == "" {
			if err != nil {
				t.Errorf("desired %d: %v, want no error (t2 is pinned to another, so bob has no candidate)", i, err)
			}
			continue
		}
		if !errors.Is(err, mapping.ErrAmbiguousMatch) || !strings.Contains(err.Error(), want) {
			t.Errorf("desired %d: %v, want ErrAmbiguousMatch with %q", i, err, want)
		}
	}
	// Two pins on one target.
	m, _ = mapping.MatchUsers(want[:2], obs, nil, map[int]int{0: 2, 1: 2})
	if m.Observed[0] != -1 || m.Observed[1] != -1 || !strings.Contains(fmt.Sprint(m.Errors[1]), "2 source users match the same target user (id t3)") {
		t.Errorf("two pins on t3: %+v", m)
	}
}
