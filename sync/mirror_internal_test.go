package sync

import (
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// TestMirrorAfterChange: a mirror follows each kind of change that lands
// on its object, and becomes unknown (nil) where it cannot follow.
func TestMirrorAfterChange(t *testing.T) {
	u := scim.User{ID: "t-1", UserName: "ada@x", Active: scim.Bool(true), Name: &scim.Name{GivenName: "Ada"},
		Emails: []scim.Email{{Value: "ada@x", Primary: true}}, Meta: &scim.Meta{ResourceType: "User"}}
	um := userMirror(&u)
	gm := groupMirror(&scim.Group{DisplayName: "Eng", Members: scim.MemberValues([]string{"b", "a", "b"})})
	tests := []struct {
		name    string
		base    *Mirror
		change  Change
		members []string
		check   func(*Mirror) bool
	}{
		{"rename and deactivate", um, Change{Action: ActionDeactivateUser, Attributes: []AttrChange{
			{Path: scim.PathGivenName, After: "Augusta"}, {Path: scim.PathActive, After: false}}}, nil,
			func(m *Mirror) bool {
				got, ok := m.user("t-1")
				return ok && got.Name.GivenName == "Augusta" && !got.IsActive() && got.UserName == "ada@x" && got.Meta == nil
			}},
		{"email removed", um, Change{Action: ActionUpdateUser, Attributes: []AttrChange{{Path: scim.PathEmails}}}, nil,
			func(m *Mirror) bool { got, ok := m.user("t-1"); return ok && len(got.Emails) == 0 }},
		{"unknown attribute", um, Change{Action: ActionUpdateUser, Attributes: []AttrChange{{Path: "shoeSize", After: "9"}}}, nil,
			func(m *Mirror) bool { return m == nil }},
		{"unknown base", nil, Change{Action: ActionUpdateUser}, nil, func(m *Mirror) bool { return m == nil }},
		{"group renamed", gm, Change{Action: ActionUpdateGroup, Attributes: []AttrChange{{Path: scim.PathDisplayName, After: "R&D"}}}, nil,
			func(m *Mirror) bool { return m.DisplayName == "R&D" && m.Members == "a\nb" }},
		{"members added", gm, Change{Action: ActionAddMembers}, []string{"c", "a"},
			func(m *Mirror) bool { return m.Members == "a\nb\nc" && gm.Members == "a\nb" }},
		{"members removed", gm, Change{Action: ActionRemoveMembers}, []string{"a", "b"},
			func(m *Mirror) bool { return m != nil && m.Members == "" && len(m.memberIDs()) == 0 }},
		{"member id with a line break", gm, Change{Action: ActionAddMembers}, []string{"x\ny"},
			func(m *Mirror) bool { return m == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.base.afterChange(&tt.change, tt.members); !tt.check(got) {
				t.Errorf("afterChange = %+v", got)
			}
		})
	}
	if ids := gm.memberIDs(); strings.Join(ids, " ") != "a b" {
		t.Errorf("member ids from mirror = %q", ids)
	}
}

// TestPlanMembersFromMirrors: a plan walks the members of a group built
// from its mirror in the mirror's string, and those of a group read from
// the target (after the mirrored ones) in its Members.
func TestPlanMembersFromMirrors(t *testing.T) {
	gm := groupMirror(&scim.Group{DisplayName: "Eng", Members: scim.MemberValues([]string{"u-2", "u-1"})})
	empty := groupMirror(&scim.Group{DisplayName: "Empty", Members: []scim.Member{}})
	in := planInput{
		groups: []scim.Group{{ID: "g-1", DisplayName: "Eng"}, {ID: "g-2", DisplayName: "Empty"},
			{ID: "g-3", DisplayName: "Read", Members: scim.MemberValues([]string{"u-3"})}},
		groupMirrors: []*Mirror{gm, empty},
	}
	for j, want := range []string{"u-1 u-2", "", "u-3"} {
		var got []string
		for m := range in.members(j) {
			got = append(got, m.Value)
		}
		if s := strings.Join(got, " "); s != want {
			t.Errorf("members of %s: %q, want %q", in.groups[j].ID, s, want)
		}
	}
	owned := linkedTargets(map[string]Link{"s-1": {TargetID: "u-1"}, "s-3": {TargetID: "u-3"}})
	if n := ownedMembers(&in, 0, owned) + ownedMembers(&in, 2, owned); n != 2 {
		t.Errorf("owned members: %d, want 2", n)
	}
}

// TestSameMembers: a group's wanted members match its packed mirror
// exactly when they are the same set of UUIDs, in any order; anything
// else sends the plan to compare member by member.
func TestSameMembers(t *testing.T) {
	const (
		a = "0a6f3c1e-1111-4a4a-8b8b-000000000001"
		b = "0a6f3c1e-1111-4a4a-8b8b-000000000002"
		c = "ffffffff-1111-4a4a-8b8b-000000000003"
	)
	packed := groupMirror(&scim.Group{DisplayName: "Eng", Members: scim.MemberValues([]string{c, a, b})})
	if !strings.HasPrefix(string(packed.Members), packedMarker) {
		t.Fatal("the mirror of UUID members is not packed")
	}
	text := groupMirror(&scim.Group{DisplayName: "Eng", Members: scim.MemberValues([]string{"u-1", "u-2", "u-3"})})
	refs := func(ids ...string) []Ref {
		var out []Ref
		for _, id := range ids {
			out = append(out, Ref{Kind: KindUser, SourceID: "s-" + id, TargetID: id})
		}
		return out
	}
	tests := []struct {
		name    string
		mirror  *Mirror
		members []Ref
		want    bool
	}{
		{"same, other order", packed, refs(b, c, a), true},
		{"one missing", packed, refs(a, b), false},
		{"one more", packed, refs(a, b, c, "0a6f3c1e-1111-4a4a-8b8b-000000000004"), false},
		{"one other", packed, refs(a, b, "0a6f3c1e-1111-4a4a-8b8b-000000000004"), false},
		{"repeated member in place of one", packed, refs(a, a, c), false},
		{"member to be created", packed, append(refs(a, b), Ref{Kind: KindUser, SourceID: "s-new"}), false},
		{"upper-case id", packed, refs(a, b, strings.ToUpper(c)), false},
		{"mirror as text", text, refs("u-1", "u-2", "u-3"), false},
		{"empty both", groupMirror(&scim.Group{DisplayName: "E", Members: []scim.Member{}}), nil, false},
	}
	var s memberScratch
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := planInput{groups: []scim.Group{{ID: "g-1"}}, groupMirrors: []*Mirror{tt.mirror}}
			if got := in.sameMembers(0, tt.members, &s); got != tt.want {
				t.Errorf("sameMembers = %v, want %v", got, tt.want)
			}
		})
	}
	in := planInput{groups: []scim.Group{{ID: "g-1", Members: scim.MemberValues([]string{a})}}}
	if in.sameMembers(0, refs(a), &s) {
		t.Error("a group read from the target, without a mirror, matched")
	}
}

// sameMembers is sameWanted for members already resolved to Refs: the
// tests' statement of what sameWanted must answer.
func (in *planInput) sameMembers(j int, members []Ref, s *memberScratch) bool {
	s.ids = s.ids[:0]
	for _, r := range members {
		if r.TargetID == "" {
			return false
		}
		s.ids = append(s.ids, r.TargetID)
	}
	return in.sameIDs(j, s)
}
