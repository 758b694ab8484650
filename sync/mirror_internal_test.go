package sync

import (
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
			func(m *Mirror) bool {
				g := m.group("g")
				return m.Members == "" && len(g.Members) == 0 && g.Members != nil
			}},
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
	if g := gm.group("g"); g.ID != "g" || len(g.Members) != 2 || g.Members[0].Value != "a" || g.Members[1].Value != "b" {
		t.Errorf("group from mirror = %+v", g)
	}
}
