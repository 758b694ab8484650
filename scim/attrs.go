package scim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Paths of the User attributes provsync reads and writes by name.
const (
	PathUserName       = "userName"
	PathExternalID     = "externalId"
	PathDisplayName    = "displayName"
	PathGivenName      = "name.givenName"
	PathFamilyName     = "name.familyName"
	PathFormattedName  = "name.formatted"
	PathMiddleName     = "name.middleName"
	PathNickName       = "nickName"
	PathTitle          = "title"
	PathUserType       = "userType"
	PathPreferredLang  = "preferredLanguage"
	PathLocale         = "locale"
	PathTimezone       = "timezone"
	PathActive         = "active"
	PathEmails         = "emails"
	PathEmployeeNumber = SchemaEnterpriseUser + ":employeeNumber"
	PathCostCenter     = SchemaEnterpriseUser + ":costCenter"
	PathOrganization   = SchemaEnterpriseUser + ":organization"
	PathDivision       = SchemaEnterpriseUser + ":division"
	PathDepartment     = SchemaEnterpriseUser + ":department"
	PathManager        = SchemaEnterpriseUser + ":manager"
)

// UserAttr reads and writes one User attribute by its SCIM path. Get
// returns a string, a bool (active) or []Email (emails); the zero value
// ("" or nil) means absent. Set takes the same types.
type UserAttr struct {
	Path string
	Get  func(*User) any
	Set  func(*User, any) error

	getString func(*User) string  // Get of a string attribute, unboxed; nil: use Get
	setString func(*User, string) // Set with a string, unboxed; nil: use Set
}

// GetString is Get for attributes that hold a string, without boxing the
// value into an interface: the value and true, or "" and false for
// attributes of another type (active, emails).
func (a UserAttr) GetString(u *User) (string, bool) {
	if a.getString != nil {
		return a.getString(u), true
	}
	s, ok := a.Get(u).(string)
	return s, ok
}

// SetString is Set with a string value, which attributes taking strings
// (and emails, as one primary work address) are written without boxing
// it into an interface. Other attributes report what Set reports.
func (a UserAttr) SetString(u *User, s string) error {
	if a.setString != nil {
		a.setString(u, s)
		return nil
	}
	return a.Set(u, s)
}

// stringAttr builds a string attribute; field returns the value's address,
// allocating the enclosing struct only when asked to (alloc true), so Get
// never changes the user.
func stringAttr(path string, field func(u *User, alloc bool) *string) UserAttr {
	get := func(u *User) string {
		if p := field(u, false); p != nil {
			return *p
		}
		return ""
	}
	set := func(u *User, s string) { *field(u, true) = s }
	return UserAttr{
		Path: path,
		Get:  func(u *User) any { return get(u) },
		Set: func(u *User, v any) error {
			s, ok := v.(string)
			if !ok && v != nil {
				return fmt.Errorf("%w: %s takes a string, not %T", ErrInvalidValue, path, v)
			}
			set(u, s)
			return nil
		},
		getString: get,
		setString: set,
	}
}

// setEmail makes s the user's one primary work email; "" clears the
// emails.
func setEmail(u *User, s string) {
	u.Emails = nil
	if s != "" {
		u.Emails = []Email{{Value: s, Type: "work", Primary: true}}
	}
}

// getManager returns the manager's user id, "" for none.
func getManager(u *User) string {
	if u.Enterprise == nil || u.Enterprise.Manager == nil {
		return ""
	}
	return u.Enterprise.Manager.Value
}

// setManager sets the manager's user id, allocating the enterprise
// extension; "" clears the manager.
func setManager(u *User, s string) {
	if u.Enterprise == nil {
		u.Enterprise = &EnterpriseUser{}
	}
	u.Enterprise.Manager = nil
	if s != "" {
		u.Enterprise.Manager = &Manager{Value: s}
	}
}

func userField(get func(*User) *string) func(*User, bool) *string {
	return func(u *User, _ bool) *string { return get(u) }
}

func nameField(get func(*Name) *string) func(*User, bool) *string {
	return func(u *User, alloc bool) *string {
		if u.Name == nil {
			if !alloc {
				return nil
			}
			u.Name = &Name{}
		}
		return get(u.Name)
	}
}

func entField(get func(*EnterpriseUser) *string) func(*User, bool) *string {
	return func(u *User, alloc bool) *string {
		if u.Enterprise == nil {
			if !alloc {
				return nil
			}
			u.Enterprise = &EnterpriseUser{}
		}
		return get(u.Enterprise)
	}
}

// UserAttrs returns the table of User attributes addressable by path. The
// slice is the caller's own copy.
func UserAttrs() []UserAttr { return slices.Clone(userAttrTable().attrs) }

// attrTable is the attribute table with the short names of its enterprise
// attributes ("" for the others).
type attrTable struct {
	attrs []UserAttr
	short []string
}

// userAttrTable is the attribute table, built once at first use and never
// modified: LookupUserAttr runs for every managed attribute of every user
// compared, and building the table allocates some forty closures.
var userAttrTable = sync.OnceValue(func() attrTable {
	t := attrTable{attrs: buildUserAttrs()}
	t.short = make([]string, len(t.attrs))
	for i, a := range t.attrs {
		t.short[i], _ = strings.CutPrefix(a.Path, SchemaEnterpriseUser+":")
		if t.short[i] == a.Path {
			t.short[i] = ""
		}
	}
	return t
})

// buildUserAttrs builds the attribute table.
func buildUserAttrs() []UserAttr {
	return []UserAttr{
		stringAttr(PathUserName, userField(func(u *User) *string { return &u.UserName })),
		stringAttr(PathExternalID, userField(func(u *User) *string { return &u.ExternalID })),
		stringAttr(PathDisplayName, userField(func(u *User) *string { return &u.DisplayName })),
		stringAttr(PathGivenName, nameField(func(n *Name) *string { return &n.GivenName })),
		stringAttr(PathFamilyName, nameField(func(n *Name) *string { return &n.FamilyName })),
		stringAttr(PathFormattedName, nameField(func(n *Name) *string { return &n.Formatted })),
		stringAttr(PathMiddleName, nameField(func(n *Name) *string { return &n.MiddleName })),
		stringAttr(PathNickName, userField(func(u *User) *string { return &u.NickName })),
		stringAttr(PathTitle, userField(func(u *User) *string { return &u.Title })),
		stringAttr(PathUserType, userField(func(u *User) *string { return &u.UserType })),
		stringAttr(PathPreferredLang, userField(func(u *User) *string { return &u.PreferredLanguage })),
		stringAttr(PathLocale, userField(func(u *User) *string { return &u.Locale })),
		stringAttr(PathTimezone, userField(func(u *User) *string { return &u.Timezone })),
		{
			Path: PathActive,
			Get:  func(u *User) any { return u.IsActive() },
			Set: func(u *User, v any) error {
				b, ok := v.(bool)
				if !ok {
					return fmt.Errorf("%w: active takes a bool, not %T", ErrInvalidValue, v)
				}
				u.Active = Bool(b)
				return nil
			},
		},
		{
			Path: PathEmails,
			Get: func(u *User) any {
				if len(u.Emails) == 0 {
					return []Email(nil)
				}
				return u.Emails
			},
			Set: func(u *User, v any) error {
				switch x := v.(type) {
				case nil:
					u.Emails = nil
				case []Email:
					u.Emails = x
				case string:
					setEmail(u, x)
				default:
					return fmt.Errorf("%w: emails takes []Email or a string, not %T", ErrInvalidValue, v)
				}
				return nil
			},
			setString: setEmail,
		},
		stringAttr(PathEmployeeNumber, entField(func(e *EnterpriseUser) *string { return &e.EmployeeNumber })),
		stringAttr(PathCostCenter, entField(func(e *EnterpriseUser) *string { return &e.CostCenter })),
		stringAttr(PathOrganization, entField(func(e *EnterpriseUser) *string { return &e.Organization })),
		stringAttr(PathDivision, entField(func(e *EnterpriseUser) *string { return &e.Division })),
		stringAttr(PathDepartment, entField(func(e *EnterpriseUser) *string { return &e.Department })),
		{
			Path: PathManager,
			Get:  func(u *User) any { return getManager(u) },
			Set: func(u *User, v any) error {
				s, ok := v.(string)
				if !ok && v != nil {
					return fmt.Errorf("%w: manager takes a user id string, not %T", ErrInvalidValue, v)
				}
				setManager(u, s)
				return nil
			},
			getString: getManager,
			setString: setManager,
		},
	}
}

// enterprisePrefix is the short prefix LookupUserAttr accepts for
// enterprise attributes ("enterprise:department").
const enterprisePrefix = "enterprise:"

// LookupUserAttr finds a User attribute by path, case-insensitively, and
// accepts "enterprise:" or the short name for enterprise attributes
// ("department" and "urn:...:User:department" are the same). It does not
// allocate.
func LookupUserAttr(path string) (UserAttr, bool) {
	short, isEnt := cutPrefixFold(path, enterprisePrefix)
	t := userAttrTable()
	for i, a := range t.attrs {
		if strings.EqualFold(a.Path, path) {
			return a, true
		}
		if s := t.short[i]; s != "" && (strings.EqualFold(s, path) || (isEnt && strings.EqualFold(s, short))) {
			return a, true
		}
	}
	return UserAttr{}, false
}

// cutPrefixFold is strings.CutPrefix ignoring case as strings.EqualFold
// does: rune by rune, so that the prefix is counted in runes, not bytes.
func cutPrefixFold(s, prefix string) (string, bool) {
	n := utf8.RuneCountInString(prefix)
	for i := range s {
		if n == 0 {
			return s[i:], strings.EqualFold(s[:i], prefix)
		}
		n--
	}
	if n == 0 {
		return "", strings.EqualFold(s, prefix)
	}
	return s, false
}
