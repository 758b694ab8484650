package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Meta is the read-only metadata a service provider keeps for a resource.
type Meta struct {
	ResourceType string `json:"resourceType,omitempty"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// Name is the components of a user's real name.
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// IsZero reports whether no component of the name is set.
func (n *Name) IsZero() bool { return n == nil || *n == Name{} }

// Email is one value of a user's multi-valued emails attribute.
type Email struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// PhoneNumber is one value of a user's multi-valued phoneNumbers attribute.
type PhoneNumber struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is one value of a user's multi-valued addresses attribute.
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
}

// GroupRef is a read-only reference from a user to a group it belongs to.
type GroupRef struct {
	Value   string `json:"value,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

// Manager is the enterprise extension's reference to a user's manager.
type Manager struct {
	Value       string `json:"value,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// EnterpriseUser is the enterprise User extension (RFC 7643 section 4.3).
type EnterpriseUser struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	CostCenter     string   `json:"costCenter,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	Division       string   `json:"division,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// IsZero reports whether no enterprise attribute is set.
func (e *EnterpriseUser) IsZero() bool {
	return e == nil || (e.EmployeeNumber == "" && e.CostCenter == "" && e.Organization == "" &&
		e.Division == "" && e.Department == "" && (e.Manager == nil || *e.Manager == Manager{}))
}

// User is a SCIM User resource: the core schema plus the enterprise
// extension. Active is a pointer so that "not sent" differs from false.
type User struct {
	Schemas           []string        `json:"schemas,omitempty"`
	ID                string          `json:"id,omitempty"`
	ExternalID        string          `json:"externalId,omitempty"`
	UserName          string          `json:"userName"`
	Name              *Name           `json:"name,omitempty"`
	DisplayName       string          `json:"displayName,omitempty"`
	NickName          string          `json:"nickName,omitempty"`
	ProfileURL        string          `json:"profileUrl,omitempty"`
	Title             string          `json:"title,omitempty"`
	UserType          string          `json:"userType,omitempty"`
	PreferredLanguage string          `json:"preferredLanguage,omitempty"`
	Locale            string          `json:"locale,omitempty"`
	Timezone          string          `json:"timezone,omitempty"`
	Active            *bool           `json:"active,omitempty"`
	Emails            []Email         `json:"emails,omitempty"`
	PhoneNumbers      []PhoneNumber   `json:"phoneNumbers,omitempty"`
	Addresses         []Address       `json:"addresses,omitempty"`
	Groups            []GroupRef      `json:"groups,omitempty"`
	Enterprise        *EnterpriseUser `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Meta              *Meta           `json:"meta,omitempty"`
}

// Bool returns a pointer to b, for User.Active.
func Bool(b bool) *bool { return &b }

// IsActive reports the user's active flag; a missing flag counts as active,
// as RFC 7643 leaves the default to the provider and Netskope treats it so.
func (u *User) IsActive() bool { return u.Active == nil || *u.Active }

// PrimaryEmail returns the primary email's value, else the first email's,
// else "".
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// WithSchemas returns a copy of u whose schemas list names the core schema
// and, when enterprise attributes are set, the enterprise extension.
func (u User) WithSchemas() User {
	u.Schemas = u.SchemasIn(new([2]string))
	return u
}

// SchemasIn returns the schemas list WithSchemas sets for u, held in
// room: a caller that sends many users can keep the list in memory it
// allocates with the user's.
func (u *User) SchemasIn(room *[2]string) []string {
	room[0] = SchemaUser
	if u.Enterprise.IsZero() {
		return room[:1:1]
	}
	room[1] = SchemaEnterpriseUser
	return room[:2:2]
}

// UnmarshalJSON decodes a User, accepting "true"/"false" strings for active
// as some servers send them.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	// Most servers send a boolean: decode straight into u, and decode
	// again, reading active by hand, only when active is not one.
	*u = User{}
	err := json.Unmarshal(b, (*plain)(u))
	var te *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &te) || !strings.EqualFold(te.Field, "active") {
		return err
	}
	var aux struct {
		plain
		Active json.RawMessage `json:"active,omitempty"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*u = User(aux.plain)
	u.Active = nil
	if len(aux.Active) > 0 && !bytes.Equal(aux.Active, []byte("null")) {
		v, err := parseBool(aux.Active)
		if err != nil {
			return fmt.Errorf("scim: user attribute active: %w", err)
		}
		u.Active = &v
	}
	return nil
}

func parseBool(raw json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return false, fmt.Errorf("%w: not a boolean: %.20s", ErrInvalidValue, raw)
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("%w: not a boolean: %q", ErrInvalidValue, s)
	}
	return v, nil
}

// Member is a reference from a group to one of its members.
type Member struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

// Group is a SCIM Group resource. Members is nil when the server did not
// return members (Netskope leaves them out unless asked for).
type Group struct {
	Schemas     []string `json:"schemas,omitempty"`
	ID          string   `json:"id,omitempty"`
	ExternalID  string   `json:"externalId,omitempty"`
	DisplayName string   `json:"displayName"`
	Members     []Member `json:"members,omitempty"`
	Meta        *Meta    `json:"meta,omitempty"`
}

// WithSchemas returns a copy of g whose schemas list names the core schema.
func (g Group) WithSchemas() Group {
	g.Schemas = []string{SchemaGroup}
	return g
}

// MemberIDs returns the values of the group's member references.
func (g *Group) MemberIDs() []string {
	ids := make([]string, len(g.Members))
	for i, m := range g.Members {
		ids[i] = m.Value
	}
	return ids
}

// ListResponse is a page of a query's results (RFC 7644 section 3.4.2).
type ListResponse[T any] struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	ItemsPerPage int      `json:"itemsPerPage,omitempty"`
	StartIndex   int      `json:"startIndex,omitempty"`
	Resources    []T      `json:"Resources"`
}
