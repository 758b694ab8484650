package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/provsync/provsync/source"
)

// ErrInvalidRule is wrapped by every error about a scoping filter or a
// group rule: an unknown operator, a bad regular expression, a missing or
// non-numeric value.
var ErrInvalidRule = errors.New("mapping: invalid rule")

// Operator is a scoping filter clause's operator, spelled as Entra's
// scoping filter editor spells it.
type Operator string

// Scoping filter operators, with Microsoft Entra's semantics ("Scoping
// users or groups to be provisioned with scoping filters", learn.microsoft.com):
//
//   - string comparisons are case-sensitive;
//   - a clause on an absent or empty attribute is false, whatever the
//     operator, except IS NULL ("Scoping filters will return false if the
//     value is null / empty");
//   - Entra does not filter on multi-valued attributes; here a positive
//     operator holds when any value of a list holds, and NOT EQUALS and
//     NOT REGEX MATCH when no value matches;
//   - Entra does not support IS MEMBER OF yet; here it tests direct
//     membership through Memberships.
const (
	OpEquals          Operator = "EQUALS"                 // the value is exactly the clause's
	OpNotEquals       Operator = "NOT EQUALS"             // present, and not exactly the clause's
	OpIsTrue          Operator = "IS TRUE"                // a boolean true, or the string "true" in any case
	OpIsFalse         Operator = "IS FALSE"               // a boolean false, or the string "false" in any case
	OpIsNull          Operator = "IS NULL"                // absent, an empty string or an empty list
	OpIsNotNull       Operator = "IS NOT NULL"            // present and not empty
	OpRegexMatch      Operator = "REGEX MATCH"            // the whole value matches the regular expression
	OpNotRegexMatch   Operator = "NOT REGEX MATCH"        // present, and the whole value does not match
	OpGreaterThan     Operator = "Greater_Than"           // an integer greater than the clause's integer
	OpGreaterOrEquals Operator = "Greater_Than_OR_EQUALS" // an integer greater than or equal to it
	OpLessThan        Operator = "Less_Than"              // an integer less than it
	OpLessOrEquals    Operator = "Less_Than_OR_EQUALS"    // an integer less than or equal to it
	OpIncludes        Operator = "Includes"               // the value contains the clause's string (String.Contains)
	OpEndsWith        Operator = "ENDS_WITH"              // the value ends with the clause's string
	OpIsMemberOf      Operator = "IS MEMBER OF"           // the user is a direct member of the group (id or name)
	OpIsNotMemberOf   Operator = "IS NOT MEMBER OF"       // the user is not
)

// operators lists every Operator; it is never modified.
var operators = [...]Operator{OpEquals, OpNotEquals, OpIsTrue, OpIsFalse, OpIsNull, OpIsNotNull, OpRegexMatch,
	OpNotRegexMatch, OpGreaterThan, OpGreaterOrEquals, OpLessThan, OpLessOrEquals, OpIncludes, OpEndsWith,
	OpIsMemberOf, OpIsNotMemberOf}

// normOp folds an operator's spelling: lower case, words separated by
// one space whether written with spaces or underscores.
func normOp(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == '_' }), " ")
}

// ParseOperator reads an operator as Entra writes it, ignoring case and
// whether words are joined by spaces or underscores ("NOT EQUALS",
// "not_equals", "GREATER_THAN_OR_EQUALS", "Greater Than"). Anything else
// is an error wrapping ErrInvalidRule.
func ParseOperator(s string) (Operator, error) {
	want := normOp(s)
	for _, op := range operators {
		if normOp(string(op)) == want {
			return op, nil
		}
	}
	return "", fmt.Errorf("%w: unknown operator %q", ErrInvalidRule, s)
}

// Clause is one condition of a scoping filter.
type Clause struct {
	// Attribute is the source attribute tested (see source.User.Attr);
	// unused by IS MEMBER OF and IS NOT MEMBER OF.
	Attribute string `json:"attribute,omitempty" yaml:"attribute,omitempty"`
	// Operator is one of the Op constants, in any spelling ParseOperator
	// reads.
	Operator Operator `json:"operator" yaml:"operator"`
	// Value is the operand: a string, an integer, a regular expression
	// or a group; unused by IS TRUE, IS FALSE, IS NULL and IS NOT NULL.
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
}

// ScopingFilter is a named set of clauses, all of which must hold.
type ScopingFilter struct {
	// Name is the filter's title, used in errors and explanations.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Clauses are ANDed.
	Clauses []Clause `json:"clauses" yaml:"clauses"`
}

// Scope is a list of scoping filters: a user is in scope when any filter
// accepts it (filters ORed, clauses ANDed). An empty Scope accepts
// everyone.
type Scope []ScopingFilter

// Memberships answers IS MEMBER OF and group rules' member of: whether a
// user is a direct member of a group, named by id or display name.
type Memberships interface {
	IsMember(userID, group string) bool
}

// DirectoryMemberships maps a user id to the keys of the groups the user
// is a direct member of: group ids and display names (in lower case).
type DirectoryMemberships map[string]map[string]bool

var _ Memberships = DirectoryMemberships(nil)

// NewMemberships indexes dir's direct memberships.
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

// IsMember reports whether user is a direct member of group, named by id
// or by display name, ignoring case. It does not allocate.
func (m DirectoryMemberships) IsMember(user, group string) bool {
	set := m[user]
	if set[group] {
		return true
	}
	for k := range set { // a user's own groups: a short loop, not a lower-cased copy
		if strings.EqualFold(k, group) {
			return true
		}
	}
	return false
}

// compiledClause is a clause ready to run.
type compiledClause struct {
	attr  source.UserAttrRef
	op    Operator
	val   string
	num   int64
	isNum bool // val is an integer (num), for EQUALS on integer attributes
	re    *regexp.Regexp
	tail  *tailMatcher // re's fast form, when it has one
}

// CompiledScope is a Scope ready to evaluate; it is safe for concurrent
// use. A nil *CompiledScope accepts everyone.
type CompiledScope struct {
	names   []string
	filters [][]compiledClause
	members bool
}

// Compile checks the filters and prepares them. Every problem is a
// *MappingError located as "[i].clauses[j].field", naming the filter,
// wrapping ErrInvalidRule; all of them are returned, joined.
func (s Scope) Compile() (*CompiledScope, error) {
	var errs []error
	out := &CompiledScope{}
	for i, f := range s {
		name := f.Name
		if name == "" {
			name = "#" + strconv.Itoa(i)
		}
		if len(f.Clauses) == 0 {
			errs = append(errs, &MappingError{Path: fmt.Sprintf("[%d].clauses", i),
				Err: fmt.Errorf("%w: filter %q has no clause", ErrInvalidRule, name)})
			continue
		}
		cs := make([]compiledClause, 0, len(f.Clauses))
		for j, c := range f.Clauses {
			cc, field, err := compileClause(c)
			if err != nil {
				errs = append(errs, &MappingError{Path: fmt.Sprintf("[%d].clauses[%d].%s", i, j, field),
					Err: fmt.Errorf("filter %q clause %d: %w", name, j, err)})
				continue
			}
			out.members = out.members || cc.op == OpIsMemberOf || cc.op == OpIsNotMemberOf
			cs = append(cs, cc)
		}
		out.names = append(out.names, name)
		out.filters = append(out.filters, cs)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// compileClause checks one clause; on error it names the faulty field.
func compileClause(c Clause) (compiledClause, string, error) {
	op, err := ParseOperator(string(c.Operator))
	if err != nil {
		return compiledClause{}, "operator", err
	}
	cc := compiledClause{op: op, val: c.Value}
	switch op {
	case OpIsMemberOf, OpIsNotMemberOf:
	default:
		if strings.TrimSpace(c.Attribute) == "" {
			return cc, "attribute", fmt.Errorf("%w: %s needs an attribute", ErrInvalidRule, op)
		}
		cc.attr = source.ResolveUserAttr(c.Attribute)
	}
	switch op {
	case OpIsTrue, OpIsFalse, OpIsNull, OpIsNotNull:
		return cc, "", nil
	}
	if c.Value == "" {
		return cc, "value", fmt.Errorf("%w: %s needs a value", ErrInvalidRule, op)
	}
	switch op {
	case OpRegexMatch, OpNotRegexMatch:
		// Entra matches the whole value: its own examples, ".*@domain.com"
		// and "(1[0-9][0-9][0-9][0-9][0-9][0-9])" for 1000000 to 2000000,
		// only make sense anchored.
		if cc.re, err = regexp.Compile(`^(?:` + c.Value + `)$`); err != nil {
			return cc, "value", fmt.Errorf("%w: regular expression %q: %w", ErrInvalidRule, c.Value, err)
		}
		cc.tail = newTailMatcher(c.Value)
	case OpGreaterThan, OpGreaterOrEquals, OpLessThan, OpLessOrEquals:
		if cc.num, err = strconv.ParseInt(strings.TrimSpace(c.Value), 10, 64); err != nil {
			return cc, "value", fmt.Errorf("%w: %s compares integers; %q is not one", ErrInvalidRule, op, c.Value)
		}
		cc.isNum = true
	case OpEquals, OpNotEquals:
		n, err := strconv.ParseInt(c.Value, 10, 64)
		cc.num, cc.isNum = n, err == nil
	}
	return cc, "", nil
}

// NeedsMemberships reports whether any clause is IS MEMBER OF or IS NOT
// MEMBER OF, so that InScope needs a Memberships to answer right.
func (s *CompiledScope) NeedsMemberships() bool { return s != nil && s.members }

// InScope reports whether any filter accepts u. m answers IS MEMBER OF;
// nil means u is a member of no group. It does not allocate unless a
// clause reads a non-string built-in attribute (emails, deletedAt) or
// compares a time.
func (s *CompiledScope) InScope(u *source.User, m Memberships) bool {
	if s == nil || len(s.filters) == 0 {
		return true
	}
	for _, f := range s.filters {
		if firstFailing(f, u, m) < 0 {
			return true
		}
	}
	return false
}

// firstFailing returns the index of the first clause of f that u fails,
// or -1.
func firstFailing(f []compiledClause, u *source.User, m Memberships) int {
	for k := range f {
		if !f[k].holds(u, m) {
			return k
		}
	}
	return -1
}

// Explain says why u is in scope or not: the filter that accepts it, or
// for each filter the first clause it fails.
func (s *CompiledScope) Explain(u *source.User, m Memberships) string {
	if s == nil || len(s.filters) == 0 {
		return "in scope: no scoping filter"
	}
	var b strings.Builder
	b.WriteString("out of scope:")
	for i, f := range s.filters {
		k := firstFailing(f, u, m)
		if k < 0 {
			return fmt.Sprintf("in scope: filter %q accepts", s.names[i])
		}
		c := &f[k]
		fmt.Fprintf(&b, " filter %q fails clause %d (%s %s %q);", s.names[i], k, c.attr.Name(), c.op, c.val)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// holds evaluates one clause.
func (c *compiledClause) holds(u *source.User, m Memberships) bool {
	switch c.op {
	case OpIsMemberOf:
		return m != nil && m.IsMember(u.ID, c.val)
	case OpIsNotMemberOf:
		return m == nil || !m.IsMember(u.ID, c.val)
	}
	if s, isStr := c.attr.Str(u); isStr {
		if s == "" {
			return c.op == OpIsNull
		}
		return c.holdsString(s)
	}
	v, ok := c.attr.Value(u)
	if !ok || isBlank(v) {
		return c.op == OpIsNull
	}
	switch x := v.(type) {
	case string:
		return c.holdsString(x)
	case []string:
		// Positive operators: any value; negative ones: no value matches.
		neg := c.op == OpNotEquals || c.op == OpNotRegexMatch
		for _, s := range x {
			if ok := c.holdsString(s); ok != neg {
				return !neg
			}
		}
		return neg
	case bool:
		switch c.op {
		case OpIsTrue:
			return x
		case OpIsFalse:
			return !x
		}
		return c.holdsString(boolString(x, c.val))
	case int64:
		return c.holdsInt(x)
	case float64:
		if x == float64(int64(x)) {
			return c.holdsInt(int64(x))
		}
		return c.holdsString(strconv.FormatFloat(x, 'f', -1, 64))
	case time.Time:
		return c.holdsString(x.UTC().Format(time.RFC3339))
	}
	return false
}

// boolString is b as a string: "True"/"False" (as .NET writes booleans)
// when want is spelled so, else "true"/"false".
func boolString(b bool, want string) string {
	switch {
	case b && want == "True":
		return "True"
	case !b && want == "False":
		return "False"
	case b:
		return "true"
	}
	return "false"
}

// holdsInt evaluates a clause on an integer attribute.
func (c *compiledClause) holdsInt(n int64) bool {
	switch c.op {
	case OpGreaterThan:
		return n > c.num
	case OpGreaterOrEquals:
		return n >= c.num
	case OpLessThan:
		return n < c.num
	case OpLessOrEquals:
		return n <= c.num
	case OpEquals:
		return c.isNum && n == c.num
	case OpNotEquals:
		return !c.isNum || n != c.num
	}
	return c.holdsString(strconv.FormatInt(n, 10))
}

// holdsString evaluates a clause on a non-empty string.
func (c *compiledClause) holdsString(s string) bool {
	switch c.op {
	case OpEquals:
		return s == c.val
	case OpNotEquals:
		return s != c.val
	case OpIsTrue:
		return strings.EqualFold(strings.TrimSpace(s), "true")
	case OpIsFalse:
		return strings.EqualFold(strings.TrimSpace(s), "false")
	case OpIsNull:
		return false
	case OpIsNotNull:
		return true
	case OpRegexMatch:
		return c.matchRegex(s)
	case OpNotRegexMatch:
		return !c.matchRegex(s)
	case OpIncludes:
		return strings.Contains(s, c.val)
	case OpEndsWith:
		return strings.HasSuffix(s, c.val)
	case OpGreaterThan, OpGreaterOrEquals, OpLessThan, OpLessOrEquals:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return err == nil && c.holdsInt(n)
	}
	return false
}

// matchRegex reports whether the whole of s matches the clause's regular
// expression.
func (c *compiledClause) matchRegex(s string) bool {
	if c.tail != nil && utf8.ValidString(s) {
		return c.tail.match(s)
	}
	return c.re.MatchString(s)
}

// isBlank reports whether an attribute value counts as empty.
func isBlank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case time.Time:
		return x.IsZero()
	}
	return false
}
