package main

import (
	"context"
	"fmt"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

// benchRules are the rules -mapping rules maps with, as administrators
// configure them and as issue 13's mapping figure counts them (mapping's
// BenchmarkRuleMapper): the default user mappings and three of the
// synthetic directory's attributes (job title, department, employee id),
// one scoping filter of three clauses and five group rules. The scope
// keeps every user in: the generator writes every user at
// example.com with an employee type of Employee or Contractor and a level
// of 1 or more, and the benchmark's hires get both attributes too. The
// group rules make 6 groups of their own beside the source's (an
// engineering, a contractors, a senior staff and an EU group, and one per
// Microsoft 365 licence: E3, E5), so a leaver also leaves the rule groups
// it was in. The rules read 7 of the users' 13 attributes; the full-read
// source decodes only those.
func benchRules() mapping.Rules {
	users := append(mapping.DefaultUserMappings(),
		mapping.AttributeMapping{Target: scim.PathTitle, Type: mapping.Direct, Source: synth.AttrJobTitle},
		mapping.AttributeMapping{Target: scim.PathDepartment, Type: mapping.Direct, Source: synth.AttrDepartment},
		mapping.AttributeMapping{Target: scim.PathEmployeeNumber, Type: mapping.Direct, Source: synth.AttrEmployeeID},
	)
	return mapping.Rules{
		Users: users,
		Scope: mapping.Scope{{Name: "staff", Clauses: []mapping.Clause{
			{Attribute: "userName", Operator: mapping.OpRegexMatch, Value: `.*@example\.com`},
			{Attribute: synth.AttrEmployeeType, Operator: mapping.OpNotEquals, Value: "Intern"},
			{Attribute: synth.AttrLevel, Operator: mapping.OpGreaterOrEquals, Value: "1"},
		}}},
		GroupRules: mapping.GroupRules{
			{Name: "engineering", Conditions: []mapping.Condition{{Attribute: synth.AttrDepartment, Operator: mapping.CondEquals, Value: "Engineering"}},
				Actions: []mapping.GroupAction{{SetGroup: "Netskope Engineering"}}},
			{Name: "contractors", Conditions: []mapping.Condition{{Attribute: synth.AttrEmployeeType, Operator: mapping.CondEquals, Value: "Contractor"}},
				Actions: []mapping.GroupAction{{SetGroup: "All Contractors"}}},
			{Name: "seniors", Conditions: []mapping.Condition{{Attribute: synth.AttrLevel, Operator: mapping.CondGreaterThan, Value: "4"}},
				Actions: []mapping.GroupAction{{SetGroup: "Senior Staff"}}},
			{Name: "by country", Match: mapping.MatchAny, Conditions: []mapping.Condition{
				{Attribute: synth.AttrCountry, Operator: mapping.CondEquals, Value: "DE"}, {Attribute: synth.AttrCountry, Operator: mapping.CondEquals, Value: "FR"}},
				Actions: []mapping.GroupAction{{SetGroup: "EU Staff"}}},
			{Name: "licenses", Actions: []mapping.GroupAction{{FromAttribute: synth.AttrLicenses, Pattern: `^M365_(E\d)$`}}},
		},
	}
}

// hireAttributes are the attributes the benchmark gives a hire: those
// benchRules' scope tests, so that hires are in scope with either
// mapping (they put a hire in no rule group).
func hireAttributes() source.Attrs {
	return source.NewAttrs(map[string]any{synth.AttrEmployeeType: "Employee", synth.AttrLevel: int64(1)})
}

// newMapper compiles the mapping -mapping names: nil for "default" (the
// engine's default), benchRules for "rules".
func newMapper(name string) (mapping.Mapper, error) {
	switch name {
	case "default":
		return nil, nil
	case "rules":
		m, err := benchRules().Compile()
		if err != nil {
			return nil, fmt.Errorf("-mapping rules: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("-mapping must be default or rules, not %q", name)
}

// ruleGroups returns the keys of the groups m's group rules put any of
// users into (none with no mapper): Map over users alone, without the
// source's groups, yields only those.
func ruleGroups(ctx context.Context, m mapping.Mapper, users []source.User) (map[string]bool, error) {
	keys := map[string]bool{}
	if m == nil || len(users) == 0 {
		return keys, nil
	}
	d, err := m.Map(ctx, &source.Directory{Users: users})
	if err != nil {
		return nil, fmt.Errorf("bench: mapping the batch's users: %w", err)
	}
	for _, g := range d.Groups {
		if len(g.Members) > 0 {
			keys[g.SourceID] = true
		}
	}
	return keys, nil
}
