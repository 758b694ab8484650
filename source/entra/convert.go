package entra

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/microsoft/kiota-abstractions-go/store"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/provsync/provsync/source"
)

// convertUser maps a Graph user to a source user:
//
//   - UserName is the userPrincipalName; for a guest (a UPN with #EXT#)
//     it is alias@theirdomain as Entra's provisioning makes it, or the
//     UPN itself with GuestUserName "upn"; the full UPN is kept in the
//     attribute "originalUserPrincipalName".
//   - Emails: mail, primary, type "work"; then otherMails, type "other".
//     Without mail the first otherMails address is the primary one; a
//     user with neither has no email, and the default mapping falls back
//     to the user name, as Entra does for apps that need an email.
//   - State: accountEnabled false is StateSuspended.
//   - Attributes: employeeId, department, jobTitle, userType, and every
//     extra property asked for, under its Graph name; object-valued
//     properties are flattened to "property.field". Selection sel keeps
//     only the attributes it names (nil keeps all); the others are not
//     converted.
func (s *Source) convertUser(u models.Userable, sel *attrSelection) source.User {
	upn := deref(u.GetUserPrincipalName())
	out := source.User{
		ID:          deref(u.GetId()),
		UserName:    upn,
		GivenName:   deref(u.GetGivenName()),
		FamilyName:  deref(u.GetSurname()),
		DisplayName: deref(u.GetDisplayName()),
	}
	if en := u.GetAccountEnabled(); en != nil && !*en {
		out.State = source.StateSuspended
	}
	attrs := map[string]any{}
	if isGuestUPN(upn) {
		if sel.kept("originalUserPrincipalName") {
			attrs["originalUserPrincipalName"] = upn
		}
		if s.cfg.GuestUserName == GuestUserNameMailAlias {
			if alias, ok := guestAlias(upn); ok {
				out.UserName = alias
			}
		}
	}
	mail := strings.TrimSpace(deref(u.GetMail()))
	if mail != "" {
		out.Emails = append(out.Emails, source.Email{Value: mail, Type: "work", Primary: true})
	}
	for _, m := range u.GetOtherMails() {
		m = strings.TrimSpace(m)
		if m == "" || slices.ContainsFunc(out.Emails, func(e source.Email) bool { return strings.EqualFold(e.Value, m) }) {
			continue
		}
		out.Emails = append(out.Emails, source.Email{Value: m, Type: "other", Primary: len(out.Emails) == 0})
	}
	for name, v := range map[string]*string{"employeeId": u.GetEmployeeId(), "department": u.GetDepartment(),
		"jobTitle": u.GetJobTitle(), "userType": u.GetUserType()} {
		if x := deref(v); x != "" && sel.kept(name) {
			attrs[name] = x
		}
	}
	if extras := s.extraProps(sel); len(extras) > 0 {
		var have map[string]any
		if bs := u.GetBackingStore(); bs != nil {
			have = bs.Enumerate()
		}
		extra := u.GetAdditionalData()
		for _, name := range extras {
			v, ok := have[name]
			if !ok {
				v, ok = extra[name]
			}
			if ok {
				putAttr(attrs, name, v, 0, sel)
			}
		}
	}
	if len(attrs) > 0 {
		out.Attributes = source.NewAttrs(attrs)
	}
	return out
}

// putAttr stores v under name in the attribute value types, leaving nulls
// out and flattening objects to name.field; of those, only the attributes
// selection sel keeps.
func putAttr(attrs map[string]any, name string, v any, depth int, sel *attrSelection) {
	if v == nil || depth > 3 {
		return
	}
	switch x := v.(type) {
	case interface{ GetBackingStore() store.BackingStore }:
		if bs := x.GetBackingStore(); bs != nil {
			for k, fv := range bs.Enumerate() {
				if k != "additionalData" && k != "odataType" && k != "@odata.type" {
					putAttr(attrs, name+"."+k, fv, depth+1, sel)
				}
			}
		}
		return
	case map[string]any:
		for k, fv := range x {
			if !strings.HasPrefix(k, "@odata") {
				putAttr(attrs, name+"."+k, fv, depth+1, sel)
			}
		}
		return
	case fmt.Stringer:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return
		}
		if _, isTime := v.(*time.Time); !isTime {
			if _, isTime := v.(time.Time); !isTime {
				if sel.kept(name) {
					attrs[name] = x.String()
				}
				return
			}
		}
	}
	if !sel.kept(name) {
		return
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return
		}
		v = rv.Elem().Interface()
	}
	nv, err := source.NormalizeValue(v)
	if err != nil {
		return
	}
	switch y := nv.(type) {
	case string:
		if y == "" {
			return
		}
	case []string:
		if len(y) == 0 {
			return
		}
	}
	attrs[name] = nv
}

// isGuestUPN reports whether upn is a B2B guest's: alias_theirdomain#EXT#@yourdomain.
func isGuestUPN(upn string) bool { return strings.Contains(strings.ToUpper(upn), "#EXT#") }

// guestAlias turns alias_theirdomain#EXT#@yourdomain into
// alias@theirdomain: the last underscore before #EXT# stands for the @.
func guestAlias(upn string) (string, bool) {
	i := strings.Index(strings.ToUpper(upn), "#EXT#")
	local := upn[:i]
	j := strings.LastIndex(local, "_")
	if j <= 0 || j == len(local)-1 {
		return "", false
	}
	return local[:j] + "@" + local[j+1:], true
}

// hasExtra reports whether a delta user carries every extra attribute.
func hasExtra(u models.Userable, names []string) bool {
	if len(names) == 0 {
		return true
	}
	var have map[string]any
	if bs := u.GetBackingStore(); bs != nil {
		have = bs.Enumerate()
	}
	extra := u.GetAdditionalData()
	for _, n := range names {
		_, a := have[n]
		_, b := extra[n]
		if !a && !b {
			return false
		}
	}
	return true
}

// cursorGroup is a group in scope as the cursor keeps it: its properties
// and user members (and, with Transitive, the nested groups below it).
type cursorGroup struct {
	ID          string   `json:"i"`
	DisplayName string   `json:"n,omitempty"`
	Email       string   `json:"m,omitempty"`
	Description string   `json:"d,omitempty"`
	Members     []string `json:"u,omitempty"`
	Nested      []string `json:"g,omitempty"`
}

func groupFromModel(g models.Groupable) cursorGroup {
	return cursorGroup{ID: deref(g.GetId()), DisplayName: deref(g.GetDisplayName()),
		Email: deref(g.GetMail()), Description: deref(g.GetDescription())}
}

// overlay takes the properties g carries, null ones included.
func (c *cursorGroup) overlay(g models.Groupable) {
	var have map[string]any
	if bs := g.GetBackingStore(); bs != nil {
		have = bs.Enumerate()
	}
	if _, ok := have["displayName"]; ok {
		c.DisplayName = deref(g.GetDisplayName())
	}
	if _, ok := have["mail"]; ok {
		c.Email = deref(g.GetMail())
	}
	if _, ok := have["description"]; ok {
		c.Description = deref(g.GetDescription())
	}
}

// normalizeGroup sorts and dedupes the member lists.
func normalizeGroup(c *cursorGroup) {
	c.Members = sortUnique(c.Members)
	c.Nested = sortUnique(c.Nested)
}

func sortUnique(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (c *cursorGroup) equal(o *cursorGroup) bool {
	return c.ID == o.ID && c.DisplayName == o.DisplayName && c.Email == o.Email &&
		c.Description == o.Description && slices.Equal(c.Members, o.Members)
}

// group returns the source group; Members are the user members in scope.
// Nested groups are never listed (MemberGroups stays empty): with
// Transitive their users are in Members, without it they are not synced,
// as in Entra.
func (c *cursorGroup) group() source.Group {
	return source.Group{ID: c.ID, DisplayName: c.DisplayName, Email: c.Email, Description: c.Description,
		Members: slices.Clone(c.Members)}
}
