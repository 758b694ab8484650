package google

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source"
)

// Attribute names the source sets on users, besides custom schema
// attributes named "Schema.field", and on groups (AttrAliases,
// AttrCustomerMember).
const (
	AttrOrgUnitPath   = "orgUnitPath"
	AttrIsAdmin       = "isAdmin"
	AttrAliases       = "aliases"
	AttrDepartment    = "department"
	AttrJobTitle      = "jobTitle"
	AttrCostCenter    = "costCenter"
	AttrEmployeeType  = "employeeType"
	AttrEmployeeID    = "employeeId"
	AttrExternalIDs   = "externalIds"
	AttrManagerEmail  = "managerEmail"
	AttrManagerID     = "managerId"
	AttrWorkPhone     = "workPhone"
	AttrMobilePhone   = "mobilePhone"
	AttrCreationTime  = "creationTime"
	AttrLastLoginTime = "lastLoginTime"

	// AttrCustomerMember is set (true) on a group whose members include
	// its CUSTOMER member, everyone in the account: every user in scope is
	// a member because of it. See Config.SkipCustomerMembers.
	AttrCustomerMember = "customerMember"
)

// CustomerMembersNote is the MembersNote of a group with a CUSTOMER member,
// which the plan's reasons for its membership changes quote.
const CustomerMembersNote = "every user in scope is a member through the group's CUSTOMER member (Config.SkipCustomerMembers leaves it out)"

// The typed forms of the fields the generated client leaves as
// interface{}: it decodes them into []any of map[string]any, which are
// re-decoded here into these.
type (
	gEmail struct {
		Address    string `json:"address"`
		Type       string `json:"type"`
		CustomType string `json:"customType"`
		Primary    bool   `json:"primary"`
	}
	gExternalID struct {
		Value      string `json:"value"`
		Type       string `json:"type"`
		CustomType string `json:"customType"`
	}
	gOrganization struct {
		Title       string `json:"title"`
		Department  string `json:"department"`
		CostCenter  string `json:"costCenter"`
		Description string `json:"description"`
		Primary     bool   `json:"primary"`
	}
	gRelation struct {
		Value string `json:"value"`
		Type  string `json:"type"`
	}
	gPhone struct {
		Value   string `json:"value"`
		Type    string `json:"type"`
		Primary bool   `json:"primary"`
	}
)

// untyped re-decodes one of the client's interface{} fields into T. A
// field that is absent decodes to nil; one of the wrong shape is an
// error naming the field.
func untyped[T any](field string, v any) ([]T, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	var out []T
	if err := json.Unmarshal(b, &out); err != nil {
		// A single object where a list is usual.
		var one T
		if json.Unmarshal(b, &one) != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = []T{one}
	}
	return out, nil
}

// selection is the attributes a read keeps: every one (Read), or those
// named, matched ignoring case (ReadAttributes).
type selection struct {
	all   bool
	names []string
}

// everything is Read's selection.
var everything = selection{all: true}

// has reports whether the read keeps the attribute name.
func (s selection) has(name string) bool {
	return s.all || slices.ContainsFunc(s.names, func(n string) bool { return strings.EqualFold(n, name) })
}

// hasAny reports whether the read keeps any of names.
func (s selection) hasAny(names ...string) bool {
	return slices.ContainsFunc(names, s.has)
}

// schemas returns which of the configured custom schemas the read needs:
// all of them for Read, else those a name of the form "Schema.field"
// selects. A configured "*" (every schema) stays "*" when any selected
// name has a dot: the schemas' exact spelling is not known before
// reading, and a mask spelled otherwise might miss one.
func (s selection) schemas(configured []string) []string {
	if s.all || len(configured) == 0 {
		return configured
	}
	var out []string
	for _, c := range configured {
		if slices.ContainsFunc(s.names, func(n string) bool {
			schema, _, ok := strings.Cut(n, ".")
			return ok && (c == "*" || strings.EqualFold(schema, c))
		}) {
			out = append(out, c)
		}
	}
	return out
}

// convertUser turns a Directory user into a source user, keeping the
// attributes sel selects. ok is false for a user the source never
// provisions: an archived one. keepManager keeps managerEmail although
// sel does not select it, so that resolveManagers can find managerId.
func convertUser(u *admin.User, deleted bool, sel selection, keepManager bool) (su source.User, ok bool, err error) {
	if u.Archived {
		return source.User{}, false, nil
	}
	fail := func(field string, err error) (source.User, bool, error) {
		return source.User{}, false, fmt.Errorf("%w: google: user %q: %s: %v", source.ErrInvalid, u.Id, field, err)
	}
	su = source.User{ID: u.Id, UserName: u.PrimaryEmail, State: source.StateActive}
	if u.Name != nil {
		su.GivenName, su.FamilyName, su.DisplayName = u.Name.GivenName, u.Name.FamilyName, u.Name.FullName
		if u.Name.DisplayName != "" {
			su.DisplayName = u.Name.DisplayName
		}
	}
	switch {
	case deleted || u.DeletionTime != "":
		su.State = source.StateDeleted
		if u.DeletionTime != "" {
			t, err := time.Parse(time.RFC3339Nano, u.DeletionTime)
			if err != nil {
				return fail("deletionTime", err)
			}
			su.DeletedAt = t.UTC()
		}
	case u.Suspended:
		su.State = source.StateSuspended
	}

	emails, err := untyped[gEmail]("emails", u.Emails)
	if err != nil {
		return fail("emails", err)
	}
	su.Emails = convertEmails(u.PrimaryEmail, emails)

	attrs := map[string]any{}
	set := func(name string, v string) {
		if v != "" && sel.has(name) {
			attrs[name] = v
		}
	}
	set(AttrOrgUnitPath, u.OrgUnitPath)
	if u.IsAdmin && sel.has(AttrIsAdmin) {
		attrs[AttrIsAdmin] = true
	}
	if len(u.Aliases) > 0 && sel.has(AttrAliases) {
		attrs[AttrAliases] = append([]string(nil), u.Aliases...)
	}
	if sel.hasAny(AttrJobTitle, AttrDepartment, AttrCostCenter, AttrEmployeeType) {
		orgs, err := untyped[gOrganization]("organizations", u.Organizations)
		if err != nil {
			return fail("organizations", err)
		}
		if o := pick(orgs, func(o gOrganization) bool { return o.Primary }); o != nil {
			set(AttrJobTitle, o.Title)
			set(AttrDepartment, o.Department)
			set(AttrCostCenter, o.CostCenter)
			set(AttrEmployeeType, o.Description)
		}
	}
	if sel.hasAny(AttrEmployeeID, AttrExternalIDs) {
		ids, err := untyped[gExternalID]("externalIds", u.ExternalIds)
		if err != nil {
			return fail("externalIds", err)
		}
		var all []string
		for _, x := range ids {
			if x.Value == "" {
				continue
			}
			all = append(all, x.Value)
			if x.Type == "organization" && attrs[AttrEmployeeID] == nil && sel.has(AttrEmployeeID) {
				attrs[AttrEmployeeID] = x.Value
			}
		}
		if len(all) > 0 && sel.has(AttrExternalIDs) {
			attrs[AttrExternalIDs] = all
		}
	}
	if keepManager || sel.has(AttrManagerEmail) {
		rels, err := untyped[gRelation]("relations", u.Relations)
		if err != nil {
			return fail("relations", err)
		}
		if r := pick(rels, func(r gRelation) bool { return r.Type == "manager" }); r != nil && r.Type == "manager" && r.Value != "" {
			attrs[AttrManagerEmail] = r.Value
		}
	}
	if sel.hasAny(AttrWorkPhone, AttrMobilePhone) {
		phones, err := untyped[gPhone]("phones", u.Phones)
		if err != nil {
			return fail("phones", err)
		}
		for _, p := range phones {
			switch {
			case p.Type == "work" && attrs[AttrWorkPhone] == nil:
				set(AttrWorkPhone, p.Value)
			case p.Type == "mobile" && attrs[AttrMobilePhone] == nil:
				set(AttrMobilePhone, p.Value)
			}
		}
	}
	for name, raw := range map[string]string{AttrCreationTime: u.CreationTime, AttrLastLoginTime: u.LastLoginTime} {
		if raw == "" || !sel.has(name) {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return fail(name, err)
		}
		if t.Year() > 1970 { // Google reports "never" as the epoch
			attrs[name] = t.UTC()
		}
	}
	if err := customSchemas(u.CustomSchemas, attrs, sel); err != nil {
		return fail("customSchemas", err)
	}
	if len(attrs) > 0 {
		su.Attributes = source.NewAttrs(attrs)
	}
	return su, true, nil
}

// convertEmails lists the user's addresses with primaryEmail first and
// primary, whatever the emails field says.
func convertEmails(primary string, emails []gEmail) []source.Email {
	out := make([]source.Email, 0, len(emails)+1)
	if primary != "" {
		out = append(out, source.Email{Value: primary, Type: "work", Primary: true})
	}
	for _, e := range emails {
		if e.Address == "" || strings.EqualFold(e.Address, primary) {
			continue
		}
		typ := e.Type
		if typ == "custom" {
			typ = e.CustomType
		}
		out = append(out, source.Email{Value: e.Address, Type: typ})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// pick returns the first element for which primary is true, else the
// first element, else nil.
func pick[T any](list []T, primary func(T) bool) *T {
	for i := range list {
		if primary(list[i]) {
			return &list[i]
		}
	}
	if len(list) > 0 {
		return &list[0]
	}
	return nil
}

// customSchemas adds each field of each custom schema that sel selects as
// "Schema.field".
// Values are strings, numbers or booleans; a multi-valued field is a list
// of {"type", "value"} objects and becomes a list of strings.
func customSchemas(schemas map[string]googleapi.RawMessage, attrs map[string]any, sel selection) error {
	names := make([]string, 0, len(schemas))
	for name := range schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, schema := range names {
		dec := json.NewDecoder(bytes.NewReader(schemas[schema]))
		dec.UseNumber()
		var fields map[string]any
		if err := dec.Decode(&fields); err != nil {
			return fmt.Errorf("schema %q: %w", schema, err)
		}
		for field, v := range fields {
			name := schema + "." + field
			if !sel.has(name) {
				continue
			}
			val, err := customValue(v)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if val != nil {
				attrs[name] = val
			}
		}
	}
	return nil
}

func customValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return x, nil
	case bool:
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, item := range x {
			switch it := item.(type) {
			case map[string]any:
				if s := fmt.Sprint(it["value"]); it["value"] != nil && s != "" {
					out = append(out, s)
				}
			case string:
				out = append(out, it)
			default:
				out = append(out, fmt.Sprint(it))
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected value of type %T", v)
}

// convertGroup turns a Directory group into a source group, without
// members, keeping the attributes sel selects.
func convertGroup(g *admin.Group, sel selection) source.Group {
	sg := source.Group{ID: g.Id, DisplayName: g.Name, Email: g.Email, Description: g.Description}
	if len(g.Aliases) > 0 && sel.has(AttrAliases) {
		sg.Attributes = source.NewAttrs(map[string]any{AttrAliases: append([]string(nil), g.Aliases...)})
	}
	if sg.DisplayName == "" {
		sg.DisplayName = g.Email
	}
	return sg
}
