package source

import (
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// Email is one email address of a user.
type Email struct {
	// Value is the address.
	Value string
	// Type is the provider's kind of address ("work", "home", "other");
	// empty if the provider has none.
	Type string
	// Primary marks the user's main address. At most one email of a user
	// is primary.
	Primary bool
}

// User is one user at the source.
type User struct {
	// ID is the stable source id (Entra object id, Google user id,
	// OneLogin user id). It never changes for the life of the account.
	ID string
	// UserName is the sign-in name: Entra userPrincipalName, Google
	// primaryEmail, OneLogin username (or email when it has none).
	UserName string
	// Emails are the user's addresses, the primary one marked.
	Emails []Email
	// GivenName is the first name.
	GivenName string
	// FamilyName is the last name (Entra surname).
	FamilyName string
	// DisplayName is the full name as the provider shows it.
	DisplayName string
	// State is active, suspended or deleted.
	State State
	// DeletedAt is when the source deleted the user, for a deleted user
	// the source still reports (Google's deletionTime); zero otherwise.
	// It lets policy wait out a provider's own grace period before a hard
	// delete.
	DeletedAt time.Time
	// Attributes are every other attribute the provider reports, by name
	// (see Attr for how names resolve), in a compact immutable set (see
	// Attrs; NewAttrs makes one from a map). Values are one of: string,
	// bool, int64, float64, []string or time.Time; Validate reports
	// anything else, and NormalizeValue converts the usual decoded forms.
	// Adapters leave unset attributes out rather than storing empty
	// values.
	//
	// Names follow the provider's own (Entra "jobTitle", "employeeId",
	// "officeLocation"), with these conventions so mapping rules carry
	// across providers: "department", "jobTitle", "employeeId",
	// "managerId" (the manager's source id), "orgUnitPath" (Google),
	// "roleIds" ([]string, OneLogin roles or Entra app role ids), and
	// custom schema attributes as "Schema.field" (Google) or the
	// attribute's short name (OneLogin). Names must not collide with the
	// built-in names Attr resolves, nor with each other ignoring case.
	Attributes Attrs
}

// PrimaryEmail returns the value of the primary email, else of the first
// non-empty email, else "".
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return ""
}

// Attr returns the value of the attribute called name, ignoring case, and
// whether the user has it. Built-in fields resolve by these names first:
//
//	id, objectId                           ID
//	userName, userPrincipalName, upn, login UserName
//	email, mail, primaryEmail              PrimaryEmail()
//	emails                                 every email value, []string
//	givenName, firstName                   GivenName
//	familyName, surname, lastName          FamilyName
//	displayName, fullName                  DisplayName
//	state                                  State.String()
//	active, accountEnabled                 State == StateActive (bool)
//	suspended                              State == StateSuspended (bool)
//	deleted                                State == StateDeleted (bool)
//	deletedAt, deletionTime, deletedDateTime DeletedAt (time.Time)
//
// An empty built-in string, empty list or zero time counts as absent, as an
// attribute the provider did not set does. Any other name is looked up in
// Attributes, exactly first, then ignoring case. The returned value must
// not be modified.
func (u *User) Attr(name string) (any, bool) {
	key, ok := userSpellings[name]
	if !ok {
		// An attribute of exactly this name cannot be a built-in one
		// (Validate forbids it), so it is found without lowering the
		// name, which would allocate.
		if v, ok := u.Attributes.Get(name); ok {
			return v, true
		}
		key = strings.ToLower(name)
	}
	return u.attr(key, name)
}

// attr resolves a name whose lower-case form is key.
func (u *User) attr(key, name string) (any, bool) {
	switch key {
	case "id", "objectid":
		return str(u.ID)
	case "username", "userprincipalname", "upn", "login":
		return str(u.UserName)
	case "email", "mail", "primaryemail":
		return str(u.PrimaryEmail())
	case "emails":
		if len(u.Emails) == 0 {
			return nil, false
		}
		v := make([]string, 0, len(u.Emails))
		for _, e := range u.Emails {
			v = append(v, e.Value)
		}
		return v, true
	case "givenname", "firstname":
		return str(u.GivenName)
	case "familyname", "surname", "lastname":
		return str(u.FamilyName)
	case "displayname", "fullname":
		return str(u.DisplayName)
	case "state":
		return u.State.String(), true
	case "active", "accountenabled":
		return u.State == StateActive, true
	case "suspended":
		return u.State == StateSuspended, true
	case "deleted":
		return u.State == StateDeleted, true
	case "deletedat", "deletiontime", "deleteddatetime":
		if u.DeletedAt.IsZero() {
			return nil, false
		}
		return u.DeletedAt, true
	}
	return u.Attributes.lookup(name)
}

// UserAttrRef is an attribute name resolved once, for reading it from
// many users: a read neither lowers the name again nor, for built-in
// string fields, boxes the value (User.Attr does both, and each
// allocates). It resolves names exactly as User.Attr does.
type UserAttrRef struct {
	name, key string
	builtin   bool
}

// ResolveUserAttr resolves name as User.Attr does.
func ResolveUserAttr(name string) UserAttrRef {
	key, ok := userSpellings[name]
	if !ok {
		key = strings.ToLower(name)
	}
	return UserAttrRef{name: name, key: key, builtin: slices.Contains(userBuiltins[:], key)}
}

// IsBuiltinUserAttr reports whether name is one of the built-in names
// User.Attr resolves to a field, which Attributes must not use.
func IsBuiltinUserAttr(name string) bool { return ResolveUserAttr(name).builtin }

// Name is the name as given.
func (r UserAttrRef) Name() string { return r.name }

// Builtin reports whether the name reads a built-in field.
func (r UserAttrRef) Builtin() bool { return r.builtin }

// Str reads a built-in string field (id, userName, email, givenName,
// familyName, displayName, state and their aliases) without boxing it:
// isString is false for every other name, which Value reads. An empty
// field is absent, as for Attr.
func (r UserAttrRef) Str(u *User) (s string, isString bool) {
	switch r.key {
	case "id", "objectid":
		return u.ID, true
	case "username", "userprincipalname", "upn", "login":
		return u.UserName, true
	case "email", "mail", "primaryemail":
		return u.PrimaryEmail(), true
	case "givenname", "firstname":
		return u.GivenName, true
	case "familyname", "surname", "lastname":
		return u.FamilyName, true
	case "displayname", "fullname":
		return u.DisplayName, true
	case "state":
		return u.State.String(), true
	}
	return "", false
}

// Value reads the attribute as User.Attr does.
func (r UserAttrRef) Value(u *User) (any, bool) {
	if !r.builtin {
		if v, ok := u.Attributes.Get(r.name); ok {
			return v, true
		}
	}
	return u.attr(r.key, r.name)
}

// userSpellings maps the usual spellings of the built-in names to the
// lower-case keys Attr switches on, so that common lookups need no
// strings.ToLower.
var userSpellings = map[string]string{
	"id": "id", "objectId": "objectid", "userName": "username", "userPrincipalName": "userprincipalname",
	"upn": "upn", "login": "login", "email": "email", "mail": "mail", "primaryEmail": "primaryemail",
	"emails": "emails", "givenName": "givenname", "firstName": "firstname", "familyName": "familyname",
	"surname": "surname", "lastName": "lastname", "displayName": "displayname", "fullName": "fullname",
	"state": "state", "active": "active", "accountEnabled": "accountenabled", "suspended": "suspended",
	"deleted": "deleted", "deletedAt": "deletedat", "deletionTime": "deletiontime", "deletedDateTime": "deleteddatetime",
}

// userBuiltins are the names User.Attr resolves to fields, lower case.
var userBuiltins = [...]string{
	"id", "objectid", "username", "userprincipalname", "upn", "login",
	"email", "mail", "primaryemail", "emails", "givenname", "firstname",
	"familyname", "surname", "lastname", "displayname", "fullname", "state",
	"active", "accountenabled", "suspended", "deleted", "deletedat",
	"deletiontime", "deleteddatetime",
}

// Clone returns a deep copy of u.
func (u *User) Clone() User {
	c := *u
	if u.Emails != nil {
		c.Emails = append([]Email(nil), u.Emails...)
	}
	c.Attributes = u.Attributes.clone()
	return c
}

// MarshalLogObject logs the user's id and state only: no personal data.
func (u *User) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("id", u.ID)
	enc.AddString("state", u.State.String())
	return nil
}

// str returns s and whether it is non-empty.
func str(s string) (any, bool) {
	if s == "" {
		return nil, false
	}
	return s, true
}
