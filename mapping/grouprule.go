package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/source"
)

// CondOperator is a group rule condition's operator, as OneLogin's rule
// editor offers them. String comparisons ignore case (strings.EqualFold
// folding), as OneLogin's do.
type CondOperator string

// Condition operators. On a list attribute ([]string) a positive operator
// holds when any value does, and not equals / does not contain when no
// value matches. An absent or empty attribute fails every operator but is
// not present, not equals and does not contain.
const (
	CondEquals      CondOperator = "equals"           // the value, ignoring case
	CondNotEquals   CondOperator = "not equals"       // absent, or not the value
	CondContains    CondOperator = "contains"         // has the value as a substring
	CondNotContains CondOperator = "does not contain" // absent, or has not
	CondStartsWith  CondOperator = "starts with"      // begins with the value
	CondEndsWith    CondOperator = "ends with"        // ends with the value
	CondGreaterThan CondOperator = "greater than"     // a number greater than the value
	CondLessThan    CondOperator = "less than"        // a number less than the value
	CondMatches     CondOperator = "matches regex"    // contains a match of the regular expression (unanchored)
	CondPresent     CondOperator = "is present"       // present and not empty
	CondNotPresent  CondOperator = "is not present"   // absent or empty
	CondIncludes    CondOperator = "includes"         // one item is the value: of a list, or of a string split at ";"
	CondMemberOf    CondOperator = "member of"        // the user is a direct member of the group (id or name)
	CondNotMemberOf CondOperator = "not member of"    // it is not
)

const (
	defaultDelimiter = ";"  // OneLogin's separator of values in one string (member_of)
	maxGroupsPerUser = 1000 // a guard against runaway attribute splits
	maxGroupName     = 256  // bytes in a Netskope group name
)

// condOperators lists every CondOperator; it is never modified.
var condOperators = [...]CondOperator{CondEquals, CondNotEquals, CondContains, CondNotContains, CondStartsWith, CondEndsWith,
	CondGreaterThan, CondLessThan, CondMatches, CondPresent, CondNotPresent, CondIncludes, CondMemberOf, CondNotMemberOf}

// ParseCondOperator reads a condition operator ignoring case, with
// spaces or underscores between words ("starts_with"). Anything else is
// an error wrapping ErrInvalidRule.
func ParseCondOperator(s string) (CondOperator, error) {
	want := normOp(s)
	for _, op := range condOperators {
		if string(op) == want {
			return op, nil
		}
	}
	return "", fmt.Errorf("%w: unknown condition operator %q", ErrInvalidRule, s)
}

// MatchMode says whether a rule needs all its conditions or any.
type MatchMode string

// Match modes; empty means MatchAll.
const (
	MatchAll MatchMode = "all" // every condition holds
	MatchAny MatchMode = "any" // at least one condition holds
)

// Condition is one test of a group rule on a user attribute.
type Condition struct {
	// Attribute is the source attribute tested (see source.User.Attr);
	// unused by member of and not member of.
	Attribute string `json:"attribute,omitempty" yaml:"attribute,omitempty"`
	// Operator is one of the Cond constants, in any spelling
	// ParseCondOperator reads.
	Operator CondOperator `json:"operator" yaml:"operator"`
	// Value is the operand; unused by is present and is not present.
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
}

// GroupAction is what a matching rule does, OneLogin's "Set Groups in
// Netskope": put the user into a fixed group (SetGroup), or "Map from
// OneLogin" into the groups an attribute names (FromAttribute): each
// value of a list attribute, or of a string split at Delimiter (";" by
// default), kept only when it contains a match of Pattern (when set);
// the first capture group of Pattern, if it has one, is the group name,
// else the whole value. Exactly one of SetGroup and FromAttribute is set.
type GroupAction struct {
	SetGroup      string `json:"setGroup,omitempty" yaml:"setGroup,omitempty"`
	FromAttribute string `json:"fromAttribute,omitempty" yaml:"fromAttribute,omitempty"`
	Delimiter     string `json:"delimiter,omitempty" yaml:"delimiter,omitempty"`
	Pattern       string `json:"pattern,omitempty" yaml:"pattern,omitempty"`
}

// GroupRule is one of OneLogin's provisioning rules: conditions on user
// attributes and actions that put matching users into Netskope groups.
// A rule without conditions matches every user.
type GroupRule struct {
	// Name names the rule in errors and reports.
	Name string `json:"name" yaml:"name"`
	// Disabled rules are checked by Compile but never applied (OneLogin's
	// "enabled" switch, inverted so that the zero value is enabled).
	Disabled bool `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	// Match is all (the default) or any.
	Match      MatchMode     `json:"match,omitempty" yaml:"match,omitempty"`
	Conditions []Condition   `json:"conditions,omitempty" yaml:"conditions,omitempty"`
	Actions    []GroupAction `json:"actions" yaml:"actions"`
	// Replace makes a matching rule's groups replace those of the rules
	// before it: OneLogin's "the higher-numbered rule takes precedence",
	// for an administrator who wants it for groups too.
	Replace bool `json:"replace,omitempty" yaml:"replace,omitempty"`
	// Stop ends evaluation for a user this rule matches (first match
	// wins): later rules are not applied to it.
	Stop bool `json:"stop,omitempty" yaml:"stop,omitempty"`
}

// GroupRules are rules in order, applied to each user top to bottom.
//
// OneLogin applies an app's rules "in the order listed, so in the event of
// any conflicts between rules, the higher-numbered rule will take
// precedence" (OneLogin KB0010460, "Rules"); Netskope's setup guide says
// to drag rules into "the order that produces correct results". Groups
// are multi-valued, so rules do not conflict by default: every matching
// rule adds its groups (the OneLogin default, explicit here). A rule with
// Replace takes precedence over the rules before it (its groups replace
// theirs); a rule with Stop makes the first match win for the users it
// matches.
//
// A member of condition tests the source's memberships, never the groups
// rules make, so rules do not depend on each other and cannot form a
// cycle; RuleMapper warns (Desired.Warnings) about a condition naming no
// source group or an attribute no source user has.
type GroupRules []GroupRule

// compiledCond is a condition ready to run.
type compiledCond struct {
	attr source.UserAttrRef
	op   CondOperator
	val  string
	num  float64
	re   *regexp.Regexp
}

// compiledAction is an action ready to run.
type compiledAction struct {
	set   string
	attr  source.UserAttrRef
	delim string
	re    *regexp.Regexp
}

// compiledRule is a rule ready to run.
type compiledRule struct {
	name    string
	any     bool
	conds   []compiledCond
	actions []compiledAction
	replace bool
	stop    bool
}

// CompiledGroupRules are GroupRules ready to evaluate; they are safe for
// concurrent use. A nil value has no rules.
type CompiledGroupRules struct {
	rules   []compiledRule
	index   []int // compiled rule -> its position in the configuration
	n       int   // rules configured, disabled ones included
	members bool  // a condition tests group membership
}

// Compile checks the rules and prepares them. Every problem is a
// *MappingError located as "[i].conditions[j].field" or
// "[i].actions[j].field", naming the rule, wrapping ErrInvalidRule; all
// of them are returned, joined. Disabled rules are checked too.
func (rs GroupRules) Compile() (*CompiledGroupRules, error) {
	var errs []error
	out := &CompiledGroupRules{n: len(rs)}
	for i, r := range rs {
		bad := func(path string, err error) {
			errs = append(errs, &MappingError{Path: fmt.Sprintf("[%d]%s", i, path), Err: fmt.Errorf("rule %q: %w", r.Name, err)})
		}
		cr := compiledRule{name: r.Name, replace: r.Replace, stop: r.Stop}
		switch {
		case r.Match == "" || strings.EqualFold(string(r.Match), string(MatchAll)):
		case strings.EqualFold(string(r.Match), string(MatchAny)):
			cr.any = true
		default:
			bad(".match", fmt.Errorf("%w: match %q: want all or any", ErrInvalidRule, r.Match))
		}
		if len(r.Actions) == 0 {
			bad(".actions", fmt.Errorf("%w: no action", ErrInvalidRule))
		}
		for j, c := range r.Conditions {
			cc, field, err := compileCond(c)
			if err != nil {
				bad(fmt.Sprintf(".conditions[%d].%s", j, field), err)
				continue
			}
			cr.conds = append(cr.conds, cc)
			out.members = out.members || cc.op == CondMemberOf || cc.op == CondNotMemberOf
		}
		for j, a := range r.Actions {
			ca, field, err := compileAction(a)
			if err != nil {
				bad(fmt.Sprintf(".actions[%d]%s", j, field), err)
				continue
			}
			cr.actions = append(cr.actions, ca)
		}
		if !r.Disabled {
			out.rules = append(out.rules, cr)
			out.index = append(out.index, i)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// compileCond checks one condition; on error it names the faulty field.
func compileCond(c Condition) (compiledCond, string, error) {
	op, err := ParseCondOperator(string(c.Operator))
	if err != nil {
		return compiledCond{}, "operator", err
	}
	cc := compiledCond{op: op, val: c.Value}
	switch op {
	case CondMemberOf, CondNotMemberOf:
	default:
		if strings.TrimSpace(c.Attribute) == "" {
			return cc, "attribute", fmt.Errorf("%w: %s needs an attribute", ErrInvalidRule, op)
		}
		cc.attr = source.ResolveUserAttr(c.Attribute)
	}
	if op == CondPresent || op == CondNotPresent {
		return cc, "", nil
	}
	if c.Value == "" {
		return cc, "value", fmt.Errorf("%w: %s needs a value", ErrInvalidRule, op)
	}
	switch op {
	case CondMatches:
		if cc.re, err = regexp.Compile(c.Value); err != nil {
			return cc, "value", fmt.Errorf("%w: regular expression %q: %w", ErrInvalidRule, c.Value, err)
		}
	case CondGreaterThan, CondLessThan:
		if cc.num, err = strconv.ParseFloat(strings.TrimSpace(c.Value), 64); err != nil {
			return cc, "value", fmt.Errorf("%w: %s compares numbers; %q is not one", ErrInvalidRule, op, c.Value)
		}
	}
	return cc, "", nil
}

// compileAction checks one action; on error it names the faulty field
// (".setGroup", ".pattern", or "" for the action as a whole).
func compileAction(a GroupAction) (compiledAction, string, error) {
	set := strings.TrimSpace(a.SetGroup)
	switch {
	case (set == "") == (a.FromAttribute == ""):
		return compiledAction{}, "", fmt.Errorf("%w: set exactly one of setGroup and fromAttribute", ErrInvalidRule)
	case len(set) > maxGroupName:
		return compiledAction{}, ".setGroup", fmt.Errorf("%w: group name longer than %d bytes", ErrInvalidRule, maxGroupName)
	}
	ca := compiledAction{set: set, delim: a.Delimiter}
	if set != "" {
		return ca, "", nil
	}
	ca.attr = source.ResolveUserAttr(a.FromAttribute)
	if ca.delim == "" {
		ca.delim = defaultDelimiter
	}
	if a.Pattern != "" {
		re, err := regexp.Compile(a.Pattern)
		if err != nil {
			return ca, ".pattern", fmt.Errorf("%w: regular expression %q: %w", ErrInvalidRule, a.Pattern, err)
		}
		ca.re = re
	}
	return ca, "", nil
}

// Len is the number of rules configured, disabled ones included: the
// positions RuleGroups and AffectedUsers accept are 0 to Len()-1.
func (c *CompiledGroupRules) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}

// NeedsMemberships reports whether a condition tests group membership,
// so that callers build a Memberships index only when it is read.
func (c *CompiledGroupRules) NeedsMemberships() bool { return c != nil && c.members }

// Groups returns the groups the rules put u into, in rule order, each
// once (names compared ignoring case, the first spelling kept). m answers
// member of; nil means u is a member of no group.
func (c *CompiledGroupRules) Groups(u *source.User, m Memberships) []string {
	return c.appendGroups(nil, u, m)
}

// appendGroups is Groups reusing buf's array: buf's contents are
// discarded, and the result is nil when buf is nil and u is in no group.
func (c *CompiledGroupRules) appendGroups(buf []string, u *source.User, m Memberships) []string {
	if c == nil {
		return nil
	}
	out := buf[:0]
	for k := range c.rules {
		r := &c.rules[k]
		if !r.matches(u, m) {
			continue
		}
		if r.replace {
			out = out[:0]
		}
		out = r.apply(u, out)
		if r.stop {
			break
		}
	}
	return out
}

// RuleGroups returns the groups the rule at configuration position i
// alone puts u into; nil if it does not match or is disabled.
func (c *CompiledGroupRules) RuleGroups(i int, u *source.User, m Memberships) []string {
	if c == nil {
		return nil
	}
	k := slices.Index(c.index, i)
	if k < 0 || !c.rules[k].matches(u, m) {
		return nil
	}
	return c.rules[k].apply(u, nil)
}

// AffectedUsers returns, in order, the ids of the users the rule at
// configuration position rule would put into at least one group, as
// OneLogin's "Show Affected Users" lists them: the rule judged alone,
// whatever the rules before it (Stop, Replace) do. A disabled rule or a
// position out of range affects no one.
func (c *CompiledGroupRules) AffectedUsers(rule int, users []source.User, m Memberships) []string {
	if c == nil {
		return nil
	}
	k := slices.Index(c.index, rule)
	if k < 0 {
		return nil
	}
	r := &c.rules[k]
	var out []string
	var buf []string
	for i := range users {
		u := &users[i]
		if !r.matches(u, m) {
			continue
		}
		if buf = r.apply(u, buf[:0]); len(buf) > 0 {
			out = append(out, u.ID)
		}
	}
	return out
}

// matches reports whether u satisfies the rule's conditions.
func (r *compiledRule) matches(u *source.User, m Memberships) bool {
	if len(r.conds) == 0 {
		return true
	}
	for k := range r.conds {
		ok := r.conds[k].holds(u, m)
		if r.any == ok {
			return ok
		}
	}
	return !r.any
}

// addGroup appends name to out unless it is empty, already there
// (ignoring case) or out is full.
func addGroup(out []string, name string) []string {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxGroupName || len(out) >= maxGroupsPerUser {
		return out
	}
	for _, g := range out {
		if strings.EqualFold(g, name) {
			return out
		}
	}
	return append(out, name)
}

// apply adds the rule's groups to out.
func (r *compiledRule) apply(u *source.User, out []string) []string {
	for k := range r.actions {
		a := &r.actions[k]
		if a.set != "" {
			out = addGroup(out, a.set)
			continue
		}
		if s, isStr := a.attr.Str(u); isStr {
			out = a.split(s, out)
			continue
		}
		v, ok := a.attr.Value(u)
		if !ok {
			continue
		}
		if list, isList := v.([]string); isList {
			for _, s := range list {
				out = a.add(s, out)
			}
			continue
		}
		out = a.split(mappedString(v), out)
	}
	return out
}

// split adds a group for each part of s between delimiters.
func (a *compiledAction) split(s string, out []string) []string {
	for s != "" {
		var part string
		part, s, _ = strings.Cut(s, a.delim)
		out = a.add(part, out)
	}
	return out
}

// add adds the group one attribute value names, if Pattern keeps it.
func (a *compiledAction) add(s string, out []string) []string {
	if a.re == nil {
		return addGroup(out, s)
	}
	sub := a.re.FindStringSubmatch(s)
	switch {
	case sub == nil:
		return out
	case len(sub) > 1:
		return addGroup(out, sub[1])
	}
	return addGroup(out, s)
}

// holds evaluates one condition.
func (c *compiledCond) holds(u *source.User, m Memberships) bool {
	switch c.op {
	case CondMemberOf:
		return m != nil && m.IsMember(u.ID, c.val)
	case CondNotMemberOf:
		return m == nil || !m.IsMember(u.ID, c.val)
	}
	neg := c.op == CondNotEquals || c.op == CondNotContains || c.op == CondNotPresent
	if s, isStr := c.attr.Str(u); isStr {
		if s == "" {
			return neg
		}
		return c.holdsString(s)
	}
	v, ok := c.attr.Value(u)
	if !ok || isBlank(v) {
		return neg
	}
	switch x := v.(type) {
	case string:
		return c.holdsString(x)
	case []string:
		if c.op == CondIncludes {
			return slices.ContainsFunc(x, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), c.val) })
		}
		for _, s := range x {
			if ok := c.holdsString(s); ok != neg {
				return !neg
			}
		}
		return neg
	case int64:
		return c.holdsNumber(float64(x), func() string { return strconv.FormatInt(x, 10) })
	case float64:
		return c.holdsNumber(x, func() string { return strconv.FormatFloat(x, 'f', -1, 64) })
	case bool:
		return c.holdsString(strconv.FormatBool(x))
	case time.Time:
		return c.holdsString(x.UTC().Format(time.RFC3339))
	}
	return false
}

// holdsNumber evaluates a condition on a number; text renders it for the
// string operators.
func (c *compiledCond) holdsNumber(f float64, text func() string) bool {
	switch c.op {
	case CondGreaterThan:
		return f > c.num
	case CondLessThan:
		return f < c.num
	}
	return c.holdsString(text())
}

// holdsString evaluates a condition on one non-empty string.
func (c *compiledCond) holdsString(s string) bool {
	switch c.op {
	case CondEquals:
		return strings.EqualFold(s, c.val)
	case CondNotEquals:
		return !strings.EqualFold(s, c.val)
	case CondContains:
		return containsFold(s, c.val)
	case CondNotContains:
		return !containsFold(s, c.val)
	case CondStartsWith:
		return len(s) >= len(c.val) && strings.EqualFold(s[:len(c.val)], c.val)
	case CondEndsWith:
		return len(s) >= len(c.val) && strings.EqualFold(s[len(s)-len(c.val):], c.val)
	case CondMatches:
		return c.re.MatchString(s)
	case CondPresent:
		return true
	case CondNotPresent:
		return false
	case CondIncludes:
		for s != "" {
			var item string
			item, s, _ = strings.Cut(s, defaultDelimiter)
			if strings.EqualFold(strings.TrimSpace(item), c.val) {
				return true
			}
		}
		return false
	case CondGreaterThan, CondLessThan:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return err == nil && c.holdsNumber(f, nil)
	}
	return false
}

// containsFold reports whether sub is within s, ignoring case, without
// allocating. Windows are compared byte length for byte length, so a
// case pair whose encodings differ in length (K and the Kelvin sign) is
// not folded.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
