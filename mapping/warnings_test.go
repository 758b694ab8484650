package mapping_test

import (
	"context"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

func warningsDir() *source.Directory {
	return &source.Directory{
		Users: []source.User{
			{ID: "u1", UserName: "ada@example.com", Attributes: source.NewAttrs(map[string]any{"department": "Sales"})},
			{ID: "u2", UserName: "bob@example.com", Attributes: source.NewAttrs(map[string]any{"department": "R&D", "memberOf": "CN=VPN"})},
		},
		Groups: []source.Group{{ID: "g1", DisplayName: "Staff", Members: []string{"u1", "u2"}}},
	}
}

// TestMappingWarnings: filters and rules that test what no source user or
// group has are reported by name; a scope they empty is suspect.
func TestMappingWarnings(t *testing.T) {
	clause := func(attr, op, value string) mapping.ScopingFilter {
		return mapping.ScopingFilter{Name: "F", Clauses: []mapping.Clause{{Attribute: attr, Operator: mapping.Operator(op), Value: value}}}
	}
	rule := func(name string, cond mapping.Condition, act mapping.GroupAction) mapping.GroupRule {
		return mapping.GroupRule{Name: name, Conditions: []mapping.Condition{cond}, Actions: []mapping.GroupAction{act}}
	}
	set := func(g string) mapping.GroupAction { return mapping.GroupAction{SetGroup: g} }
	tests := []struct {
		name    string
		rules   mapping.Rules
		dir     *source.Directory
		want    []string // one substring per warning, in order
		suspect bool
	}{
		{name: "misspelt scope attribute", rules: mapping.Rules{Scope: mapping.Scope{clause("departmnet", "EQUALS", "Sales")}},
			want:    []string{`scoping filter "F" clause 0 (departmnet EQUALS "Sales"): no source user has attribute "departmnet", so the filter accepts no one`},
			suspect: true},
		{name: "another filter accepts users", rules: mapping.Rules{Scope: mapping.Scope{
			clause("departmnet", "EQUALS", "Sales"), clause("department", "EQUALS", "Sales")}},
			want: []string{`scoping filter "F" clause 0 (departmnet EQUALS "Sales")`}},
		{name: "IS NULL on a missing attribute", rules: mapping.Rules{Scope: mapping.Scope{clause("contractor", "IS NULL", "")}}},
		{name: "present attribute", rules: mapping.Rules{Scope: mapping.Scope{clause("department", "EQUALS", "Nobody")}}},
		{name: "built-in attribute nobody set", rules: mapping.Rules{Scope: mapping.Scope{clause("givenName", "IS NOT NULL", "")}},
			want: []string{`(givenName IS NOT NULL ""): no source user has attribute "givenName"`}, suspect: true},
		{name: "member of an unknown group", rules: mapping.Rules{Scope: mapping.Scope{clause("", "IS MEMBER OF", "Staf")}},
			want: []string{`scoping filter "F" clause 0 (IS MEMBER OF "Staf"): no source group has that id or name`}, suspect: true},
		{name: "member of a known group, by id or any case", rules: mapping.Rules{Scope: mapping.Scope{
			clause("", "IS MEMBER OF", "g1"), clause("", "IS NOT MEMBER OF", "STAFF")}}},
		{name: "not member of an unknown group", rules: mapping.Rules{Scope: mapping.Scope{clause("", "IS NOT MEMBER OF", "Contractors")}},
			want: []string{`(IS NOT MEMBER OF "Contractors"): no source group has that id or name`}},
		{name: "rule condition on a missing attribute", rules: mapping.Rules{GroupRules: mapping.GroupRules{
			rule("Eng", mapping.Condition{Attribute: "dept", Operator: "equals", Value: "R&D"}, set("Eng"))}},
			want: []string{`group rule "Eng" condition 0 (dept equals "R&D"): no source user has attribute "dept", so the condition never holds`}},
		{name: "negative condition on a missing attribute", rules: mapping.Rules{GroupRules: mapping.GroupRules{
			rule("Not contractors", mapping.Condition{Attribute: "contractor", Operator: "is not present"}, set("Staff"))}}},
		{name: "rule tests a group another rule makes", rules: mapping.Rules{GroupRules: mapping.GroupRules{
			rule("Sales", mapping.Condition{Attribute: "department", Operator: "equals", Value: "Sales"}, set("Netskope Sales")),
			rule("Sales VPN", mapping.Condition{Operator: "member of", Value: "netskope sales"}, set("VPN"))}},
			want: []string{`group rule "Sales VPN" condition 0 (member of "netskope sales"): no source group has that id or name; ` +
				`group rule "Sales" makes it, but conditions test the source's memberships, never the groups rules make`}},
		{name: "disabled rule", rules: mapping.Rules{GroupRules: mapping.GroupRules{{Name: "Off", Disabled: true,
			Conditions: []mapping.Condition{{Attribute: "dept", Operator: "equals", Value: "x"}}, Actions: []mapping.GroupAction{set("X")}}}}},
		{name: "action from a missing attribute", rules: mapping.Rules{GroupRules: mapping.GroupRules{
			{Name: "AD groups", Actions: []mapping.GroupAction{{FromAttribute: "memberof"}, {FromAttribute: "groupsAD"}}}}},
			want: []string{`group rule "AD groups" action 1 (fromAttribute groupsAD): no source user has attribute "groupsAD"`}},
		{name: "empty directory", rules: mapping.Rules{Scope: mapping.Scope{clause("departmnet", "EQUALS", "Sales")}},
			dir: &source.Directory{}},
		{name: "several", rules: mapping.Rules{
			Scope: mapping.Scope{{Name: "Two", Clauses: []mapping.Clause{
				{Attribute: "department", Operator: "EQUALS", Value: "Sales"}, {Attribute: "region", Operator: "EQUALS", Value: "EU"}}}},
			GroupRules: mapping.GroupRules{rule("R", mapping.Condition{Operator: "not member of", Value: "g9"}, set("X"))}},
			want:    []string{`scoping filter "Two" clause 1 (region EQUALS "EU")`, `group rule "R" condition 0 (not member of "g9")`},
			suspect: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.rules.Compile()
			if err != nil {
				t.Fatal(err)
			}
			dir := tt.dir
			if dir == nil {
				dir = warningsDir()
			}
			d, err := m.Map(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Warnings) != len(tt.want) {
				t.Errorf("%d warnings, want %d: %q", len(d.Warnings), len(tt.want), d.Warnings)
			}
			for i, w := range tt.want {
				if i < len(d.Warnings) && !strings.Contains(d.Warnings[i], w) {
					t.Errorf("warning %d = %q\nwant it to contain %q", i, d.Warnings[i], w)
				}
			}
			if d.ScopeSuspect != tt.suspect {
				t.Errorf("ScopeSuspect = %v, want %v (%d users in scope)", d.ScopeSuspect, tt.suspect, len(d.Users))
			}
		})
	}
}
