package onelogin

import (
	"context"
	"slices"
	"strings"

	"github.com/provsync/provsync/source"
)

var _ source.AttributeSelector = (*Source)(nil)

// ReadAttributes is Read, except that the users' and groups' Attributes
// hold only the attributes named in names, matched ignoring case (none
// when names is empty).
//
// The profile requests ask OneLogin for fewer fields (/api/2/users'
// fields parameter): those the typed fields, the state and the groups
// need (id, username, email, firstname, lastname, status, state,
// group_id), the field behind each fixed attribute named (department:
// department, jobTitle: title, roleIds and roles: role_ids, ...), and
// custom_attributes when any name is given, since a custom attribute's
// short name can be any name. A fixed attribute's field is also asked for
// when "custom_attributes.<name>" is named, since whether a custom
// attribute of that short name is kept under it depends on the field. The
// attributes not named are dropped as each user is converted. The scope
// listings and the groups are read as Read reads them.
func (s *Source) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	ch, err := s.read(ctx, "", false, selectAttrs(names))
	if err != nil {
		return nil, err
	}
	return &source.Directory{Users: ch.Users, Groups: ch.Groups}, nil
}

// profileFields are the profile fields every read needs.
var profileFields = []string{"id", "username", "email", "firstname", "lastname", "status", "state", "group_id"}

// attrFields are the profile fields behind fixed attributes that the
// profile's other fields do not set.
var attrFields = []struct{ attr, field string }{
	{AttrDepartment, "department"}, {AttrJobTitle, "title"}, {AttrCompany, "company"}, {AttrPhone, "phone"},
	{AttrSAMAccountName, "samaccountname"}, {AttrExternalID, "external_id"}, {AttrManagerID, "manager_user_id"},
	{AttrDirectoryID, "directory_id"}, {AttrUpdatedAt, "updated_at"}, {AttrRoleIDs, "role_ids"}, {AttrRoles, "role_ids"},
}

// attrSelection is what a ReadAttributes call keeps. A nil
// *attrSelection keeps every attribute, as Read and ReadChanges do.
type attrSelection struct {
	names  source.AttrNames // the names kept
	fields string           // the profile requests' fields parameter
}

// selectAttrs returns the selection that keeps names.
func selectAttrs(names []string) *attrSelection {
	a := &attrSelection{names: source.NewAttrNames(names)}
	fields := profileFields
	for _, f := range attrFields {
		if (a.kept(f.attr) || a.kept(customPrefix+f.attr)) && !slices.Contains(fields, f.field) {
			fields = append(fields[:len(fields):len(fields)], f.field)
		}
	}
	if len(names) > 0 {
		fields = append(fields[:len(fields):len(fields)], "custom_attributes")
	}
	a.fields = strings.Join(fields, ",")
	return a
}

// customPrefix is the prefix of a custom attribute whose short name is
// taken.
const customPrefix = "custom_attributes."

// kept reports whether the attribute name is kept, ignoring case.
func (a *attrSelection) kept(name string) bool {
	return a == nil || a.names.Has(name)
}

// attrs returns the attributes of m that a keeps.
func (a *attrSelection) attrs(m map[string]any) source.Attrs {
	if a != nil {
		for k := range m {
			if !a.kept(k) {
				delete(m, k)
			}
		}
	}
	return source.NewAttrs(m)
}
