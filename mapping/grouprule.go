package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/provsync/provsync/source"
)

// CondOperator is a group rule condition's operator, as OneLogin's rule
// editor offers them. String comparisons ignore case, as OneLogin's do.
type CondOperator string

// Condition operators.
const (
	CondEquals      CondOperator = "equals"
	CondNotEquals   CondOperator = "not equals"
	CondContains    CondOperator = "contains"
	CondNotContains CondOperator = "does not contain"
	CondStartsWith  CondOperator = "starts with"
	CondEndsWith    CondOperator = "ends with"
	CondGreaterThan CondOperator = "greater than"
	CondLessThan    CondOperator = "less than"
	CondMatches     CondOperator = "matches regex"
	CondPresent     CondOperator = "is present"
	CondNotPresent  CondOperator = "is not present"
	CondIncludes    CondOperator = "includes"      // a multi-valued attribute has the value (role ids, roles)
	CondMemberOf    CondOperator = "member of"     // the user is in the source group (role, OneLogin group) named
	CondNotMemberOf CondOperator = "not member of" // it is not
)

const (
	defaultDelimiter = ";"  // OneLogin's separator of values in one string
	maxGroupsPerUser = 1000 // a guard against runaway attribute splits
	maxGroupName     = 256  // bytes in a Netskope group name
)

var condOperators = []CondOperator{CondEquals, CondNotEquals, CondContains, CondNotContains, CondStartsWith, CondEndsWith,
	CondGreaterThan, CondLessThan, CondMatches, CondPresent, CondNotPresent, CondIncludes, CondMemberOf, CondNotMemberOf}

// ParseCondOperator reads a condition operator ignoring case, with
// spaces or underscores between words ("starts_with").
func ParseCondOperator(s string) (CondOperator, error) {
	want := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", " "))
	for _, op := range condOperators {
		if string(op) == want {
			return op, nil
		}
	}
	return "", fmt.Errorf("%w: unknown condition operator %q", ErrInvalidRule, s)
}

// MatchMode says whether a rule needs all its conditions or any.
type MatchMode string

// Match modes.
const (
	MatchAll MatchMode = "all"
	MatchAny MatchMode = "any"
)

// Condition is one test of a group rule on a user attribute.
type Condition struct {
	Attribute string       `json:"attribute,omitempty" yaml:"attribute,omitempty"`
	Operator  CondOperator `json:"operator" yaml:"operator"`
	Value     string       `json:"value,omitempty" yaml:"value,omitempty"`
}

// GroupAction is what a matching rule does: put the user into a named
// group (SetGroup), or into the groups an attribute names
// (FromAttribute: each value of a multi-valued attribute, or a string
// split at Delimiter, each kept only if it matches Pattern, whose first
// capture group, if any, is the group name).
type GroupAction struct {
	SetGroup      string `json:"setGroup,omitempty" yaml:"setGroup,omitempty"`
	FromAttribute string `json:"fromAttribute,omitempty" yaml:"fromAttribute,omitempty"`
	Delimiter     string `json:"delimiter,omitempty" yaml:"delimiter,omitempty"`
	Pattern       string `json:"pattern,omitempty" yaml:"pattern,omitempty"`
}

// GroupRule is one of OneLogin's provisioning rules: conditions on user
// attributes and actions that put matching users into Netskope groups.
type GroupRule struct {
	Name       string        `json:"name" yaml:"name"`
	Disabled   bool          `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	Match      MatchMode     `json:"match,omitempty" yaml:"match,omitempty"`
	Conditions []Condition   `json:"conditions,omitempty" yaml:"conditions,omitempty"`
	Actions    []GroupAction `json:"actions" yaml:"actions"`
	// Replace makes a matching rule's groups replace those of the rules
	// before it, as a later OneLogin rule setting the same value wins.
	Replace bool `json:"replace,omitempty" yaml:"replace,omitempty"`
	// Stop ends evaluation for a user this rule matches: later rules are
	// not applied to it.
	Stop bool `json:"stop,omitempty" yaml:"stop,omitempty"`
}

// GroupRules are rules in order. For each user they are applied top to
// bottom: a matching rule adds its groups, or with Replace replaces the
// groups so far, and with Stop ends the evaluation; so order matters, as
// in OneLogin's rule list, where the rules must be dragged into the order
// that gives the right result.
type GroupRules []GroupRule

type compiledCond struct {
	attr string
	op   CondOperator
	val  string
	low  string
	num  float64
	re   *regexp.Regexp
}

type compiledAction struct {
	set   string
	attr  string
	delim string
	re    *regexp.Regexp
}

type compiledRule struct {
	name    string
	any     bool
	conds   []compiledCond
	actions []compiledAction
	replace bool
	stop    bool
}

// CompiledGroupRules are GroupRules ready to evaluate. A nil value has no
// rules.
type CompiledGroupRules struct {
	rules []compiledRule
	index []int // compiled rule -> its position in the configuration
}

// Compile checks the rules: every problem is a *MappingError located as
// "[i].conditions[j].field", joined, wrapping ErrInvalidRule. Disabled
// rules are checked but not applied.
func (rs GroupRules) Compile() (*CompiledGroupRules, error) {
	var errs []error
	out := &CompiledGroupRules{}
	for i, r := range rs {
		bad := func(path, format string, args ...any) {
			errs = append(errs, &MappingError{Path: fmt.Sprintf("[%d]", i) + path, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidRule}, args...)...)})
		}
		cr := compiledRule{name: r.Name, replace: r.Replace, stop: r.Stop}
		switch r.Match {
		case "", MatchAll:
		case MatchAny:
			cr.any = true
		default:
			bad(".match", "%q: want all or any", r.Match)
		}
		if len(r.Actions) == 0 {
			bad(".actions", "rule %q has no action", r.Name)
		}
		for j, c := range r.Conditions {
			loc := fmt.Sprintf(".conditions[%d]", j)
			op, err := ParseCondOperator(string(c.Operator))
			if err != nil {
				bad(loc+".operator", "unknown operator %q", c.Operator)
				continue
			}
			cc := compiledCond{attr: c.Attribute, op: op, val: c.Value, low: strings.ToLower(c.Value)}
			switch op {
			case CondPresent, CondNotPresent:
			case CondMemberOf, CondNotMemberOf:
				if c.Value == "" {
					bad(loc+".value", "%s needs a group", op)
				}
			default:
				if c.Value == "" {
					bad(loc+".value", "%s needs a value", op)
					continue
				}
			}
			if c.Attribute == "" && op != CondMemberOf && op != CondNotMemberOf {
				bad(loc+".attribute", "empty")
				continue
			}
			switch op {
			case CondMatches:
				re, err := regexp.Compile(c.Value)
				if err != nil {
					bad(loc+".value", "regular expression %q: %v", c.Value, err)
					continue
				}
				cc.re = re
			case CondGreaterThan, CondLessThan:
				n, err := strconv.ParseFloat(strings.TrimSpace(c.Value), 64)
				if err != nil {
					bad(loc+".value", "%s compares numbers; %q is not one", op, c.Value)
					continue
				}
				cc.num = n
			}
			cr.conds = append(cr.conds, cc)
		}
		for j, a := range r.Actions {
			loc := fmt.Sprintf(".actions[%d]", j)
			switch {
			case (a.SetGroup == "") == (a.FromAttribute == ""):
				bad(loc, "set exactly one of setGroup and fromAttribute")
				continue
			case a.SetGroup != "" && len(a.SetGroup) > maxGroupName:
				bad(loc+".setGroup", "longer than %d bytes", maxGroupName)
				continue
			}
			ca := compiledAction{set: strings.TrimSpace(a.SetGroup), attr: a.FromAttribute, delim: a.Delimiter}
			if ca.attr != "" && ca.delim == "" {
				ca.delim = defaultDelimiter
			}
			if a.Pattern != "" {
				re, err := regexp.Compile(a.Pattern)
				if err != nil {
					bad(loc+".pattern", "regular expression %q: %v", a.Pattern, err)
					continue
				}
				ca.re = re
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

// Len is the number of rules, disabled ones included in the count of
// positions AffectedUsers accepts.
func (c *CompiledGroupRules) Len() int {
	if c == nil || len(c.index) == 0 {
		return 0
	}
	return c.index[len(c.index)-1] + 1
}

// Groups returns the groups the rules put u into, in rule order, each
// once (names compared ignoring case).
func (c *CompiledGroupRules) Groups(u *source.User, m Memberships) []string {
	if c == nil {
		return nil
	}
	var out []string
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
// alone puts u into, for "Show Affected Users"; nil if it does not match
// or is disabled.
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

func (r *compiledRule) matches(u *source.User, m Memberships) bool {
	if len(r.conds) == 0 {
		return true // a rule without conditions applies to everyone
	}
	for k := range r.conds {
		ok := r.conds[k].holds(u, m)
		if r.any && ok {
			return true
		}
		if !r.any && !ok {
			return false
		}
	}
	return !r.any
}

// apply adds the rule's groups to out, skipping names already there.
func (r *compiledRule) apply(u *source.User, out []string) []string {
	add := func(name string) {
		name = strings.TrimSpace(name)
		if name == "" || len(out) >= maxGroupsPerUser {
			return
		}
		for _, g := range out {
			if strings.EqualFold(g, name) {
				return
			}
		}
		out = append(out, name)
	}
	for _, a := range r.actions {
		if a.set != "" {
			add(a.set)
			continue
		}
		v, ok := u.Attr(a.attr)
		if !ok {
			continue
		}
		var vals []string
		switch x := v.(type) {
		case []string:
			vals = x
		default:
			vals = strings.Split(mappedString(v), a.delim)
		}
		for _, s := range vals {
			if a.re == nil {
				add(s)
				continue
			}
			sub := a.re.FindStringSubmatch(s)
			switch {
			case sub == nil:
			case len(sub) > 1:
				add(sub[1])
			default:
				add(sub[0])
			}
		}
	}
	return out
}

// holds evaluates one condition. Strings compare ignoring case; a
// multi-valued attribute satisfies a positive operator when any value
// does, and a negative one when none does.
func (c *compiledCond) holds(u *source.User, m Memberships) bool {
	switch c.op {
	case CondMemberOf:
		return m != nil && m.IsMember(u.ID, c.val)
	case CondNotMemberOf:
		return m == nil || !m.IsMember(u.ID, c.val)
	}
	v, ok := u.Attr(c.attr)
	present := ok && !isBlank(v)
	switch c.op {
	case CondPresent:
		return present
	case CondNotPresent:
		return !present
	case CondNotEquals:
		return !present || !anyString(v, func(s string) bool { return strings.EqualFold(s, c.val) })
	case CondNotContains:
		return !present || !anyString(v, func(s string) bool { return strings.Contains(strings.ToLower(s), c.low) })
	}
	if !present {
		return false
	}
	switch c.op {
	case CondEquals, CondIncludes:
		return anyString(v, func(s string) bool { return strings.EqualFold(s, c.val) })
	case CondContains:
		return anyString(v, func(s string) bool { return strings.Contains(strings.ToLower(s), c.low) })
	case CondStartsWith:
		return anyString(v, func(s string) bool { return strings.HasPrefix(strings.ToLower(s), c.low) })
	case CondEndsWith:
		return anyString(v, func(s string) bool { return strings.HasSuffix(strings.ToLower(s), c.low) })
	case CondMatches:
		return anyString(v, c.re.MatchString)
	case CondGreaterThan, CondLessThan:
		n, ok := intOf(v)
		f := float64(n)
		if !ok {
			s, isStr := v.(string)
			if x, err := strconv.ParseFloat(strings.TrimSpace(s), 64); isStr && err == nil {
				f, ok = x, true
			} else if x, isF := v.(float64); isF {
				f, ok = x, true
			}
		}
		if !ok {
			return false
		}
		if c.op == CondGreaterThan {
			return f > c.num
		}
		return f < c.num
	}
	return false
}
