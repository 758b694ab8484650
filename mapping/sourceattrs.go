package mapping

import (
	"slices"

	"github.com/provsync/provsync/source"
)

// attrNames collects the names of the source attributes a mapping reads
// (source.User.Attributes), each once ignoring case, in order of first
// appearance. Names User.Attr resolves to built-in fields are left out:
// they never read Attributes.
type attrNames struct {
	names []string
	seen  map[string]bool // names folded (source.FoldName)
}

// add records the source attribute a user attribute name reads, if any.
func (a *attrNames) add(name string) {
	if name == "" || source.IsBuiltinUserAttr(name) {
		return
	}
	key := source.FoldName(name)
	if a.seen[key] {
		return
	}
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	a.seen[key] = true
	a.names = append(a.names, name)
}

// addUserMapping records what a user attribute mapping table reads:
// direct mappings' sources and the attributes expressions reference
// (expr.Expr.Attributes, which lists every name an evaluation reads:
// the language reads attributes only by [name]). Constants and defaults
// read none.
func (a *attrNames) addUserMapping(m *UserMapping) {
	for i := range m.rows {
		for _, n := range m.rows[i].reads {
			a.add(n)
		}
	}
}

// addScope records what the scoping filters' clauses test; IS MEMBER OF
// and IS NOT MEMBER OF read memberships, not attributes.
func (a *attrNames) addScope(s *CompiledScope) {
	if s == nil {
		return
	}
	for _, f := range s.filters {
		for k := range f {
			if op := f[k].op; op != OpIsMemberOf && op != OpIsNotMemberOf {
				a.add(f[k].attr.Name())
			}
		}
	}
}

// addGroupRules records what the enabled group rules' conditions test
// and their actions read (FromAttribute); disabled rules never run.
func (a *attrNames) addGroupRules(c *CompiledGroupRules) {
	if c == nil {
		return
	}
	for k := range c.rules {
		r := &c.rules[k]
		for j := range r.conds {
			if op := r.conds[j].op; op != CondMemberOf && op != CondNotMemberOf {
				a.add(r.conds[j].attr.Name())
			}
		}
		for j := range r.actions {
			if r.actions[j].set == "" {
				a.add(r.actions[j].attr.Name())
			}
		}
	}
}

// SourceAttributes names every source attribute the rules read: those
// of the attribute mapping table (direct sources and expressions'
// [name]s), of the scoping filters' clauses and of the enabled group
// rules' conditions and actions; source groups are mapped from their
// built-in fields only. Known is always true: every name the rules
// read is written in them. The slice is the caller's.
func (m *RuleMapper) SourceAttributes() (names []string, known bool) {
	return slices.Clone(m.attrs), true
}
