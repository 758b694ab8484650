package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/source"
)

// ErrInvalidRule is wrapped by every error about a scoping filter or a
// group rule: an unknown operator, a bad regular expression, a missing or
// non-numeric value.
var ErrInvalidRule = errors.New("mapping: invalid rule")

// Operator is a scoping filter clause's operator, as Entra's scoping
// filters name them.
type Operator string

// Scoping filter operators. String comparisons are case-sensitive, as
// Entra's are.
const (
	OpEquals          Operator = "EQUALS"                 // the value is the clause's, exactly
	OpNotEquals       Operator = "NOT EQUALS"             // it is not (an absent value is not equal)
	OpIsTrue          Operator = "IS TRUE"                // a boolean true (or "true", any case)
	OpIsFalse         Operator = "IS FALSE"               // a boolean false (or "false")
	OpIsNull          Operator = "IS NULL"                // absent or empty
	OpIsNotNull       Operator = "IS NOT NULL"            // present and not empty
	OpRegexMatch      Operator = "REGEX MATCH"            // matches the regular expression (anywhere, as .NET's IsMatch)
	OpNotRegexMatch   Operator = "NOT REGEX MATCH"        // does not
	OpGreaterThan     Operator = "Greater_Than"           // an integer greater than the clause's integer
	OpGreaterOrEquals Operator = "Greater_Than_OR_EQUALS" // greater or equal
	OpLessThan        Operator = "Less_Than"              // less
	OpLessOrEquals    Operator = "Less_Than_OR_EQUALS"    // less or equal
	OpIncludes        Operator = "Includes"               // contains the clause's string
	OpIsMemberOf      Operator = "IS MEMBER OF"           // the user is a direct member of the group (id or name)
	OpIsNotMemberOf   Operator = "IS NOT MEMBER OF"       // the user is not
)

var operators = []Operator{OpEquals, OpNotEquals, OpIsTrue, OpIsFalse, OpIsNull, OpIsNotNull, OpRegexMatch,
	OpNotRegexMatch, OpGreaterThan, OpGreaterOrEquals, OpLessThan, OpLessOrEquals, OpIncludes, OpIsMemberOf, OpIsNotMemberOf}

// ParseOperator reads an operator as Entra writes it, ignoring case and
// whether words are joined by spaces or underscores ("NOT EQUALS",
// "not_equals", "GREATER_THAN_OR_EQUALS", "Greater Than").
func ParseOperator(s string) (Operator, error) {
	norm := func(x string) string { return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(x), "_", " ")) }
	for _, op := range operators {
		if norm(string(op)) == norm(s) {
			return op, nil
		}
	}
	return "", fmt.Errorf("%w: unknown operator %q", ErrInvalidRule, s)
}

// Clause is one condition of a scoping filter.
type Clause struct {
	// Attribute is the source attribute tested (see source.User.Attr).
	Attribute string `json:"attribute" yaml:"attribute"`
	// Operator is one of the Op constants.
	Operator Operator `json:"operator" yaml:"operator"`
	// Value is the operand: a string, an integer, a regular expression
	// or a group; unused by IS TRUE, IS FALSE, IS NULL and IS NOT NULL.
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
}

// ScopingFilter is a named set of clauses, all of which must hold.
type ScopingFilter struct {
	Name    string   `json:"name,omitempty" yaml:"name,omitempty"`
	Clauses []Clause `json:"clauses" yaml:"clauses"`
}

// Scope is a list of scoping filters: a user is in scope when any filter
// accepts it (filters ORed, clauses ANDed). An empty Scope accepts
// everyone.
type Scope []ScopingFilter

// Memberships answers IS MEMBER OF: whether a user is a direct member of
// a group, named by id or display name.
type Memberships interface {
	IsMember(userID, group string) bool
}

// DirectoryMemberships indexes a directory's direct memberships by group
// id and by display name (ignoring case).
type DirectoryMemberships map[string]map[string]bool // user id -> group keys

// NewMemberships indexes dir's memberships.
func NewMemberships(dir *source.Directory) DirectoryMemberships {
	m := DirectoryMemberships{}
	for _, g := range dir.Groups {
		for _, u := range g.Members {
			if m[u] == nil {
				m[u] = map[string]bool{}
			}
			m[u][g.ID] = true
			m[u][strings.ToLower(g.DisplayName)] = true
		}
	}
	return m
}

// IsMember reports whether user is a direct member of group (id or name).
func (m DirectoryMemberships) IsMember(user, group string) bool {
	set := m[user]
	return set[group] || set[strings.ToLower(group)]
}

// compiledClause is a clause ready to run.
type compiledClause struct {
	attr string
	op   Operator
	val  string
	num  int64
	re   *regexp.Regexp
}

// CompiledScope is a Scope ready to evaluate. A nil *CompiledScope
// accepts everyone.
type CompiledScope struct {
	filters [][]compiledClause
}

// Compile checks the filters: every problem is a *MappingError located as
// "[i].clauses[j].field", joined, wrapping ErrInvalidRule.
func (s Scope) Compile() (*CompiledScope, error) {
	var errs []error
	out := &CompiledScope{}
	for i, f := range s {
		if len(f.Clauses) == 0 {
			errs = append(errs, &MappingError{Path: fmt.Sprintf("[%d].clauses", i),
				Err: fmt.Errorf("%w: filter %q has no clause", ErrInvalidRule, f.Name)})
			continue
		}
		var cs []compiledClause
		for j, c := range f.Clauses {
			loc := fmt.Sprintf("[%d].clauses[%d]", i, j)
			bad := func(field, format string, args ...any) {
				errs = append(errs, &MappingError{Path: loc + "." + field, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidRule}, args...)...)})
			}
			op, err := ParseOperator(string(c.Operator))
			if err != nil {
				bad("operator", "unknown operator %q", c.Operator)
				continue
			}
			if strings.TrimSpace(c.Attribute) == "" && op != OpIsMemberOf && op != OpIsNotMemberOf {
				bad("attribute", "empty")
				continue
			}
			cc := compiledClause{attr: c.Attribute, op: op, val: c.Value}
			switch op {
			case OpRegexMatch, OpNotRegexMatch:
				if cc.re, err = regexp.Compile(c.Value); err != nil {
					bad("value", "regular expression %q: %v", c.Value, err)
					continue
				}
			case OpGreaterThan, OpGreaterOrEquals, OpLessThan, OpLessOrEquals:
				if cc.num, err = strconv.ParseInt(strings.TrimSpace(c.Value), 10, 64); err != nil {
					bad("value", "%s compares integers; %q is not one", op, c.Value)
					continue
				}
			case OpEquals, OpNotEquals, OpIncludes, OpIsMemberOf, OpIsNotMemberOf:
				if c.Value == "" {
					bad("value", "%s needs a value", op)
					continue
				}
			}
			cs = append(cs, cc)
		}
		out.filters = append(out.filters, cs)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// InScope reports whether any filter accepts u. m answers IS MEMBER OF;
// it may be nil when no clause uses it.
func (s *CompiledScope) InScope(u *source.User, m Memberships) bool {
	if s == nil || len(s.filters) == 0 {
		return true
	}
	for _, f := range s.filters {
		ok := true
		for k := range f {
			if !f[k].holds(u, m) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// holds evaluates one clause. A multi-valued attribute satisfies a
// positive operator when any value does, and a negative one (NOT EQUALS,
// NOT REGEX MATCH) when no value matches.
func (c *compiledClause) holds(u *source.User, m Memberships) bool {
	switch c.op {
	case OpIsMemberOf:
		return m != nil && m.IsMember(u.ID, c.val)
	case OpIsNotMemberOf:
		return m == nil || !m.IsMember(u.ID, c.val)
	}
	v, ok := u.Attr(c.attr)
	switch c.op {
	case OpIsNull:
		return !ok || isBlank(v)
	case OpIsNotNull:
		return ok && !isBlank(v)
	case OpIsTrue, OpIsFalse:
		b, isBool := boolOf(v)
		return ok && isBool && b == (c.op == OpIsTrue)
	case OpNotEquals:
		return !ok || !anyString(v, func(s string) bool { return s == c.val })
	case OpNotRegexMatch:
		return !ok || !anyString(v, c.re.MatchString)
	}
	if !ok {
		return false
	}
	switch c.op {
	case OpEquals:
		return anyString(v, func(s string) bool { return s == c.val })
	case OpIncludes:
		return anyString(v, func(s string) bool { return strings.Contains(s, c.val) })
	case OpRegexMatch:
		return anyString(v, c.re.MatchString)
	}
	n, isNum := intOf(v)
	if !isNum {
		return false
	}
	switch c.op {
	case OpGreaterThan:
		return n > c.num
	case OpGreaterOrEquals:
		return n >= c.num
	case OpLessThan:
		return n < c.num
	case OpLessOrEquals:
		return n <= c.num
	}
	return false
}

// anyString reports whether f holds for the value's string form, or for
// any element of a list.
func anyString(v any, f func(string) bool) bool {
	switch x := v.(type) {
	case string:
		return f(x)
	case []string:
		for _, s := range x {
			if f(s) {
				return true
			}
		}
		return false
	case bool:
		return f(strconv.FormatBool(x)) || f(strings.ToUpper(strconv.FormatBool(x)[:1])+strconv.FormatBool(x)[1:])
	case int64:
		return f(strconv.FormatInt(x, 10))
	case float64:
		return f(strconv.FormatFloat(x, 'f', -1, 64))
	case time.Time:
		return f(x.UTC().Format(time.RFC3339))
	}
	return false
}

func isBlank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []string:
		return len(x) == 0
	}
	return false
}

func boolOf(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(x)))
		return b, err == nil
	}
	return false, false
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}
