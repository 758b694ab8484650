package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/mapping/expr"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

// ErrBadMapping is wrapped by every error about an attribute mapping
// table: an unknown target attribute, a bad expression, a missing source.
var ErrBadMapping = errors.New("mapping: bad attribute mapping")

// MappingType is how an attribute mapping computes its value, as Entra's
// "Mapping type" does.
type MappingType string

// Mapping types.
const (
	// Direct copies a source attribute.
	Direct MappingType = "direct"
	// Constant sets a fixed value.
	Constant MappingType = "constant"
	// Expression evaluates an expression in Entra's language
	// (package mapping/expr).
	Expression MappingType = "expression"
)

// ApplyWhen says when a mapping writes its attribute, as Entra's "Apply
// this mapping" does.
type ApplyWhen string

// Apply choices.
const (
	// Always writes the attribute on create and on every update.
	Always ApplyWhen = "always"
	// OnCreate writes it on create only; later differences are left.
	OnCreate ApplyWhen = "create"
)

// AttributeMapping is one row of an attribute mapping table: how one
// target attribute gets its value.
type AttributeMapping struct {
	// Target is the SCIM attribute written: userName, externalId,
	// displayName, name.givenName, name.familyName, emails (or
	// emails[type eq "work"].value), active, title, an enterprise
	// attribute by short or full name (department, employeeNumber,
	// manager, ...); see scim.LookupUserAttr.
	Target string `json:"target" yaml:"target"`
	// Type is direct, constant or expression.
	Type MappingType `json:"type" yaml:"type"`
	// Source is the source attribute of a direct mapping (see
	// source.User.Attr for the names).
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
	// Value is the constant of a constant mapping.
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
	// Expression is the expression of an expression mapping.
	Expression string `json:"expression,omitempty" yaml:"expression,omitempty"`
	// Default is written when the value comes out empty ("Default value
	// if null").
	Default string `json:"default,omitempty" yaml:"default,omitempty"`
	// Apply is always (the default) or create.
	Apply ApplyWhen `json:"apply,omitempty" yaml:"apply,omitempty"`
}

// DefaultUserMappings is the Netskope default attribute mapping as a
// table: what DefaultUser does, written as rules an administrator can
// start from and edit.
func DefaultUserMappings() []AttributeMapping {
	return []AttributeMapping{
		{Target: scim.PathUserName, Type: Expression, Expression: `Coalesce([userName], [email])`},
		{Target: scim.PathExternalID, Type: Direct, Source: "id"},
		{Target: scim.PathDisplayName, Type: Expression,
			Expression: `Coalesce([displayName], Trim(Join(" ", [givenName], [familyName])), [userName], [email])`},
		{Target: scim.PathGivenName, Type: Direct, Source: "givenName"},
		{Target: scim.PathFamilyName, Type: Direct, Source: "familyName"},
		{Target: scim.PathEmails, Type: Expression, Expression: `Coalesce([email], IIF(InStr([userName], "@") > 0, [userName], ""))`},
	}
}

// valueFunc computes one mapping's value for a user, and whether to leave
// the attribute unset (IgnoreFlowIfNullOrEmpty). A source value of a type
// outside the attribute value types comes back as raw (non-nil) instead,
// to be written as mappedString renders it.
type valueFunc func(u *source.User) (v expr.Value, raw any, skip bool, err error)

// compiledMapping is an AttributeMapping ready to run.
type compiledMapping struct {
	attr     scim.UserAttr
	path     string
	value    valueFunc
	def      string
	onCreate bool
	reads    []string // the source attributes value reads, by name
}

// compileMappings checks and compiles a mapping table. where prefixes
// error locations ("users").
func compileMappings(rows []AttributeMapping, where string) ([]compiledMapping, error) {
	var errs []error
	out := make([]compiledMapping, 0, len(rows))
	seen := map[string]int{}
	for i, r := range rows {
		loc := fmt.Sprintf("%s[%d]", where, i)
		bad := func(field, format string, args ...any) {
			errs = append(errs, &MappingError{Path: loc + "." + field, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadMapping}, args...)...)})
		}
		attr, ok := lookupTarget(r.Target)
		if !ok {
			bad("target", "%q is not a SCIM user attribute provsync can write", r.Target)
			continue
		}
		if j, dup := seen[attr.Path]; dup {
			bad("target", "%s is already mapped by %s[%d]", attr.Path, where, j)
			continue
		}
		seen[attr.Path] = i
		c := compiledMapping{attr: attr, path: attr.Path, def: r.Default}
		switch r.Apply {
		case "", Always:
		case OnCreate:
			c.onCreate = true
		default:
			bad("apply", "%q: want always or create", r.Apply)
		}
		switch r.Type {
		case Direct:
			if r.Source == "" {
				bad("source", "a direct mapping needs a source attribute")
				continue
			}
			ref := source.ResolveUserAttr(r.Source)
			c.reads = []string{r.Source}
			c.value = func(u *source.User) (expr.Value, any, bool, error) {
				if s, isStr := ref.Str(u); isStr {
					return expr.String(s), nil, false, nil
				}
				raw, _ := ref.Value(u)
				if v, ok := sourceValue(raw); ok {
					return v, nil, false, nil
				}
				return expr.Value{}, raw, false, nil
			}
		case Constant:
			v := expr.String(r.Value)
			c.value = func(*source.User) (expr.Value, any, bool, error) { return v, nil, false, nil }
		case Expression:
			e, err := expr.Parse(r.Expression)
			if err != nil {
				errs = append(errs, &MappingError{Path: loc + ".expression", Err: fmt.Errorf("%w: %w", ErrBadMapping, err)})
				continue
			}
			e = e.Bind(userAttrReader)
			c.reads = e.Attributes()
			c.value = func(u *source.User) (expr.Value, any, bool, error) {
				v, err := e.Eval(u)
				if err != nil {
					return expr.Value{}, nil, false, err
				}
				return v, nil, v.Ignored(), nil
			}
		default:
			bad("type", "%q: want direct, constant or expression", r.Type)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// lookupTarget resolves a target attribute name, accepting Entra's
// emails[type eq "work"].value for emails.
func lookupTarget(name string) (scim.UserAttr, bool) {
	n := strings.ToLower(strings.ReplaceAll(name, " ", ""))
	if strings.HasPrefix(n, "emails[") {
		return scim.LookupUserAttr(scim.PathEmails)
	}
	return scim.LookupUserAttr(name)
}

// userAttrReader resolves a source attribute name once for an expression
// (expr.Expr.Bind): it reads a *source.User as User.Attr does, built-in
// strings without boxing them, and any other Env through Attr.
func userAttrReader(name string) expr.AttrFunc {
	ref := source.ResolveUserAttr(name)
	return func(env expr.Env) (expr.Value, error) {
		u, isUser := env.(*source.User)
		var a any
		var ok bool
		if isUser {
			if s, isStr := ref.Str(u); isStr {
				if s == "" {
					return expr.Null(), nil // absent, as Attr has it
				}
				return expr.String(s), nil
			}
			a, ok = ref.Value(u)
		} else {
			a, ok = env.Attr(name)
		}
		if !ok {
			return expr.Null(), nil
		}
		return expr.FromAny(a)
	}
}

// sourceValue converts a value of one of the attribute value types (see
// source.User.Attributes) or nil; ok is false for any other type.
func sourceValue(a any) (v expr.Value, ok bool) {
	switch a.(type) {
	case nil, string, bool, int64, float64, []string, time.Time:
		v, err := expr.FromAny(a)
		return v, err == nil
	}
	return expr.Value{}, false
}

// apply writes c's value for u into su. An empty value takes the default;
// still empty, the attribute is left unset.
func (c *compiledMapping) apply(u *source.User, su *scim.User) error {
	v, raw, skip, err := c.value(u)
	switch {
	case err != nil:
		return err
	case skip:
		return nil
	case raw != nil:
		return c.set(su, raw)
	}
	if blankValue(v) {
		if c.def == "" {
			return nil
		}
		v = expr.String(c.def)
	}
	if s, isStr := v.Str(); isStr && c.path != scim.PathActive {
		return c.attr.SetString(su, s)
	}
	return c.set(su, v.Any())
}

// blankValue is isBlank for a Value: null, an empty string or list, or
// the zero time.
func blankValue(v expr.Value) bool {
	if t, isTime := v.TimeValue(); isTime {
		return t.IsZero()
	}
	return v.IsEmpty()
}

// set converts v to what the attribute takes and writes it.
func (c *compiledMapping) set(su *scim.User, v any) error {
	switch c.path {
	case scim.PathActive:
		b, ok := v.(bool)
		if !ok {
			s := mappedString(v)
			p, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("active takes true or false, not %q", s)
			}
			b = p
		}
		return c.attr.Set(su, b)
	case scim.PathEmails:
		if list, ok := v.([]string); ok {
			var emails []scim.Email
			for i, e := range list {
				emails = append(emails, scim.Email{Value: e, Type: "work", Primary: i == 0})
			}
			return c.attr.Set(su, emails)
		}
	}
	return c.attr.SetString(su, mappedString(v))
}

// mappedString renders a source value as a SCIM string: lists by their first
// value, times in RFC 3339.
func mappedString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case []string:
		if len(x) == 0 {
			return ""
		}
		return x[0]
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// MappingError locates a problem in a mapping configuration: Path is
// where ("users[2].expression").
type MappingError struct {
	Path string
	Err  error
}

// Error says where and what.
func (e *MappingError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *MappingError) Unwrap() error { return e.Err }

// UserMapping is a compiled user attribute mapping table. It is safe for
// concurrent use.
type UserMapping struct {
	rows       []compiledMapping
	managed    []string
	createOnly []string
	mapsActive bool
}

// CompileUserMappings checks and compiles a user attribute mapping table;
// nil means DefaultUserMappings. Every problem is reported, each a
// *MappingError locating it ("users[2].expression"), joined. The table
// must map userName; active follows the source state unless mapped.
func CompileUserMappings(rows []AttributeMapping) (*UserMapping, error) {
	if rows == nil {
		rows = DefaultUserMappings()
	}
	compiled, err := compileMappings(rows, "users")
	if err != nil {
		return nil, err
	}
	m := &UserMapping{rows: compiled}
	for _, c := range compiled {
		m.managed = append(m.managed, c.path)
		if c.onCreate {
			m.createOnly = append(m.createOnly, c.path)
		}
		m.mapsActive = m.mapsActive || c.path == scim.PathActive
	}
	if !slices.Contains(m.managed, scim.PathUserName) {
		return nil, &MappingError{Path: "users", Err: fmt.Errorf("%w: userName must be mapped", ErrBadMapping)}
	}
	if !m.mapsActive {
		m.managed = append(m.managed, scim.PathActive)
	}
	return m, nil
}

// Managed lists the SCIM attributes the table writes (and active).
func (m *UserMapping) Managed() []string { return slices.Clone(m.managed) }

// Map applies the table to one user. A mapping that fails, or a user name
// that comes out empty, is an ObjectError naming the user and the
// attribute.
func (m *UserMapping) Map(u *source.User) (DesiredUser, *ObjectError) {
	var du DesiredUser
	if err := m.mapInto(u, &du); err != nil {
		return DesiredUser{}, err
	}
	return du, nil
}

// mapInto is Map writing into *du, which the setters, called through
// function values, make escape: a caller mapping many users passes an
// element of the slice that keeps them rather than a fresh variable. On
// error *du holds a partial user.
func (m *UserMapping) mapInto(u *source.User, du *DesiredUser) *ObjectError {
	*du = DesiredUser{SourceID: u.ID, CreateOnly: m.createOnly}
	su := &du.User
	if !m.mapsActive {
		su.Active = scim.Bool(u.State == source.StateActive)
	}
	for i := range m.rows {
		c := &m.rows[i]
		if err := c.apply(u, su); err != nil {
			return &ObjectError{Kind: "user", SourceID: u.ID, Field: c.path, Err: err}
		}
	}
	if strings.TrimSpace(su.UserName) == "" {
		return &ObjectError{Kind: "user", SourceID: u.ID, Field: scim.PathUserName,
			Err: fmt.Errorf("%w: the mapping gave no user name", ErrMissingAttribute)}
	}
	du.Event, du.Since = eventOf(u)
	return nil
}
