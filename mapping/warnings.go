package mapping

import (
	"fmt"
	"strings"

	"github.com/provsync/provsync/source"
)

// Some mistakes in scoping filters and group rules only show against the
// data: a clause on an attribute no source user has (a misspelt
// "departmnet", or an attribute the source does not report) holds for
// no one, and a member of condition naming a group the source does not
// have never holds. Rules cannot refer to each other's groups: member of
// tests the source's memberships, so a condition naming a group that
// only a rule makes never holds either, and no cycle between rules is
// possible. RuleMapper reports all of these in Desired.Warnings.

// knownGroups holds the ids and lower-case display names of a
// directory's groups, built on first use.
type knownGroups struct {
	dir *source.Directory
	set map[string]bool
}

// has reports whether a group has the id or name (ignoring case), as
// DirectoryMemberships.IsMember matches them.
func (k *knownGroups) has(group string) bool {
	if k.set == nil {
		k.set = make(map[string]bool, 2*len(k.dir.Groups))
		for i := range k.dir.Groups {
			g := &k.dir.Groups[i]
			k.set[g.ID] = true
			k.set[strings.ToLower(g.DisplayName)] = true
		}
	}
	return k.set[group] || k.set[strings.ToLower(group)]
}

// anyUserHas reports whether some user has a non-empty value for the
// attribute.
func anyUserHas(users []source.User, ref source.UserAttrRef) bool {
	for i := range users {
		u := &users[i]
		if s, isStr := ref.Str(u); isStr {
			if s != "" {
				return true
			}
			continue
		}
		if v, ok := ref.Value(u); ok && !isBlank(v) {
			return true
		}
	}
	return false
}

// unseen describes the clauses of the scope that cannot hold for any
// user of dir, and reports whether some filter can accept no one because
// of them.
func (s *CompiledScope) unseen(dir *source.Directory, groups *knownGroups) (warnings []string, blocked bool) {
	if s == nil {
		return nil, false
	}
	for i, f := range s.filters {
		for k := range f {
			c := &f[k]
			where := fmt.Sprintf("scoping filter %q clause %d", s.names[i], k)
			switch c.op {
			case OpIsMemberOf, OpIsNotMemberOf:
				if !groups.has(c.val) {
					warnings = append(warnings, fmt.Sprintf("%s (%s %q): no source group has that id or name", where, c.op, c.val))
					blocked = blocked || c.op == OpIsMemberOf
				}
			case OpIsNull:
			default:
				if !anyUserHas(dir.Users, c.attr) {
					warnings = append(warnings, fmt.Sprintf("%s (%s %s %q): no source user has attribute %q, so the filter accepts no one",
						where, c.attr.Name(), c.op, c.val, c.attr.Name()))
					blocked = true
				}
			}
		}
	}
	return warnings, blocked
}

// unseen describes the conditions of the enabled rules that cannot hold
// for any user of dir, and the actions that read an attribute no user
// has.
func (c *CompiledGroupRules) unseen(dir *source.Directory, groups *knownGroups) []string {
	if c == nil {
		return nil
	}
	// The groups rules make, for a condition that names one.
	made := map[string]string{}
	for k := range c.rules {
		for _, a := range c.rules[k].actions {
			if a.set != "" {
				made[strings.ToLower(a.set)] = c.rules[k].name
			}
		}
	}
	var out []string
	for k := range c.rules {
		r := &c.rules[k]
		for j := range r.conds {
			cond := &r.conds[j]
			where := fmt.Sprintf("group rule %q condition %d", r.name, j)
			switch cond.op {
			case CondMemberOf, CondNotMemberOf:
				if groups.has(cond.val) {
					continue
				}
				msg := fmt.Sprintf("%s (%s %q): no source group has that id or name", where, cond.op, cond.val)
				if rule, ok := made[strings.ToLower(cond.val)]; ok {
					msg += fmt.Sprintf("; group rule %q makes it, but conditions test the source's memberships, never the groups rules make", rule)
				}
				out = append(out, msg)
			case CondNotEquals, CondNotContains, CondNotPresent:
				// These hold for a user without the attribute.
			default:
				if !anyUserHas(dir.Users, cond.attr) {
					out = append(out, fmt.Sprintf("%s (%s %s %q): no source user has attribute %q, so the condition never holds",
						where, cond.attr.Name(), cond.op, cond.val, cond.attr.Name()))
				}
			}
		}
		for j := range r.actions {
			a := &r.actions[j]
			if a.set == "" && !anyUserHas(dir.Users, a.attr) {
				out = append(out, fmt.Sprintf("group rule %q action %d (fromAttribute %s): no source user has attribute %q",
					r.name, j, a.attr.Name(), a.attr.Name()))
			}
		}
	}
	return out
}
