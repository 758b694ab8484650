package source

import (
	"strings"

	"go.uber.org/zap/zapcore"
)

// Group is one group at the source.
type Group struct {
	// ID is the stable source id of the group.
	ID string
	// DisplayName is the group's name.
	DisplayName string
	// Email is the group's address, if it has one (Google groups,
	// mail-enabled Entra groups).
	Email string
	// Description is the provider's description of the group.
	Description string
	// Attributes are every other attribute the provider reports, with the
	// same value types and naming rules as User.Attributes.
	Attributes Attrs
	// MembersNote says why Members are what they are, when the provider
	// decided something an administrator should see in the plan (Google's
	// CUSTOMER member, which makes every user a member). The plan's reasons
	// for this group's membership changes quote it. Empty for most groups.
	MembersNote string
	// Members are the ids of the users that are direct members of the
	// group. Every id is a user of the same Directory. Members that are not
	// users (devices, contacts, service principals) are left out, as are
	// users out of scope.
	Members []string
	// MemberGroups are the ids of groups that are direct members of this
	// group, for sources that report nesting; every id is a group of the
	// same Directory. Sources that expand nesting themselves leave it empty
	// and list the nested users in Members.
	MemberGroups []string
}

// Attr returns the value of the attribute called name, ignoring case, and
// whether the group has it. Built-in fields resolve by these names first:
//
//	id, objectId         ID
//	displayName, name    DisplayName
//	email, mail          Email
//	description          Description
//	members              Members ([]string)
//	memberGroups         MemberGroups ([]string)
//
// Empty built-in values count as absent. Any other name is looked up in
// Attributes, exactly first, then ignoring case. The returned value must
// not be modified.
func (g *Group) Attr(name string) (any, bool) {
	switch strings.ToLower(name) {
	case "id", "objectid":
		return str(g.ID)
	case "displayname", "name":
		return str(g.DisplayName)
	case "email", "mail":
		return str(g.Email)
	case "description":
		return str(g.Description)
	case "members":
		if len(g.Members) == 0 {
			return nil, false
		}
		return g.Members, true
	case "membergroups":
		if len(g.MemberGroups) == 0 {
			return nil, false
		}
		return g.MemberGroups, true
	}
	return g.Attributes.lookup(name)
}

// groupBuiltins are the names Group.Attr resolves to fields, lower case.
var groupBuiltins = [...]string{
	"id", "objectid", "displayname", "name", "email", "mail",
	"description", "members", "membergroups",
}

// Clone returns a deep copy of g.
func (g *Group) Clone() Group {
	c := *g
	c.Attributes = g.Attributes.clone()
	if g.Members != nil {
		c.Members = append([]string(nil), g.Members...)
	}
	if g.MemberGroups != nil {
		c.MemberGroups = append([]string(nil), g.MemberGroups...)
	}
	return c
}

// MarshalLogObject logs the group's id and member counts: no names.
func (g *Group) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("id", g.ID)
	enc.AddInt("members", len(g.Members))
	if len(g.MemberGroups) > 0 {
		enc.AddInt("memberGroups", len(g.MemberGroups))
	}
	return nil
}
