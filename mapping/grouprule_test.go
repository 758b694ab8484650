package mapping_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

func ruleUser() *source.User {
	return &source.User{ID: "u1", UserName: "Ada@Contoso.com", State: source.StateActive, Attributes: map[string]any{
		"department": "Engineering", "title": "Staff Engineer", "level": int64(6), "roleIds": []string{"101", "202"},
		"memberOf": "CN=VPN,OU=Groups;CN=Wiki Editors,OU=Groups", "score": "7.5",
	}}
}

func groupsOf(t *testing.T, rules mapping.GroupRules, u *source.User, m mapping.Memberships) []string {
	t.Helper()
	c, err := rules.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c.Groups(u, m)
}

func TestConditionOperators(t *testing.T) {
	u := ruleUser()
	mem := mapping.DirectoryMemberships{"u1": {"role:101": true, "netskope users": true}}
	tests := []struct {
		attr, op, value string
		want            bool
	}{
		{"department", "equals", "engineering", true}, // ignoring case, as OneLogin
		{"department", "equals", "Sales", false},
		{"department", "not equals", "Sales", true},
		{"missing", "not equals", "Sales", true},
		{"title", "contains", "ENGINEER", true},
		{"title", "does not contain", "manager", true},
		{"title", "does not contain", "staff", false},
		{"title", "starts with", "staff", true},
		{"title", "ends with", "engineer", true},
		{"title", "ends with", "staff", false},
		{"level", "greater than", "5", true},
		{"level", "less than", "5", false},
		{"score", "greater than", "7", true},
		{"title", "matches regex", `^Staff\b`, true},
		{"title", "matches regex", `^Principal`, false},
		{"department", "is present", "", true},
		{"missing", "is present", "", false},
		{"missing", "is not present", "", true},
		{"roleIds", "includes", "202", true},
		{"roleIds", "includes", "303", false},
		{"", "member of", "Netskope Users", true},
		{"", "member of", "role:101", true},
		{"", "not member of", "role:101", false},
		{"userName", "ends_with", "@contoso.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.attr+" "+tt.op+" "+tt.value, func(t *testing.T) {
			rules := mapping.GroupRules{{Name: "r", Conditions: []mapping.Condition{{Attribute: tt.attr, Operator: mapping.CondOperator(tt.op), Value: tt.value}},
				Actions: []mapping.GroupAction{{SetGroup: "G"}}}}
			if got := len(groupsOf(t, rules, u, mem)) == 1; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGroupRuleActionsAndOrder(t *testing.T) {
	u := ruleUser()
	eng := mapping.Condition{Attribute: "department", Operator: mapping.CondEquals, Value: "Engineering"}
	sales := mapping.Condition{Attribute: "department", Operator: mapping.CondEquals, Value: "Sales"}
	set := func(g ...string) []mapping.GroupAction {
		var out []mapping.GroupAction
		for _, n := range g {
			out = append(out, mapping.GroupAction{SetGroup: n})
		}
		return out
	}
	tests := []struct {
		name  string
		rules mapping.GroupRules
		want  []string
	}{
		{"accumulate in order, each once", mapping.GroupRules{
			{Name: "a", Conditions: []mapping.Condition{eng}, Actions: set("Engineers", "Everyone")},
			{Name: "b", Actions: set("everyone", "All Staff")},
		}, []string{"Engineers", "Everyone", "All Staff"}},
		{"any of two conditions", mapping.GroupRules{{Name: "a", Match: mapping.MatchAny, Conditions: []mapping.Condition{sales, eng}, Actions: set("X")}}, []string{"X"}},
		{"all of two conditions", mapping.GroupRules{{Name: "a", Conditions: []mapping.Condition{sales, eng}, Actions: set("X")}}, nil},
		{"a later rule replaces", mapping.GroupRules{
			{Name: "a", Actions: set("Default")},
			{Name: "b", Conditions: []mapping.Condition{eng}, Replace: true, Actions: set("Engineers")},
		}, []string{"Engineers"}},
		{"stop: the first match wins", mapping.GroupRules{
			{Name: "a", Conditions: []mapping.Condition{eng}, Stop: true, Actions: set("Engineers")},
			{Name: "b", Actions: set("Default")},
		}, []string{"Engineers"}},
		{"order reversed gives another result", mapping.GroupRules{
			{Name: "b", Actions: set("Default"), Stop: true},
			{Name: "a", Conditions: []mapping.Condition{eng}, Actions: set("Engineers")},
		}, []string{"Default"}},
		{"disabled rules do nothing", mapping.GroupRules{{Name: "a", Disabled: true, Actions: set("X")}}, nil},
		{"groups from a multi-valued attribute", mapping.GroupRules{{Name: "a", Actions: []mapping.GroupAction{{FromAttribute: "roleIds"}}}}, []string{"101", "202"}},
		{"groups from a delimited attribute with a pattern", mapping.GroupRules{{Name: "a",
			Actions: []mapping.GroupAction{{FromAttribute: "memberOf", Pattern: `^CN=([^,]+)`}}}}, []string{"VPN", "Wiki Editors"}},
		{"groups from an absent attribute", mapping.GroupRules{{Name: "a", Actions: []mapping.GroupAction{{FromAttribute: "nope"}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := groupsOf(t, tt.rules, u, nil); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGroupRuleErrors(t *testing.T) {
	rules := mapping.GroupRules{
		{Name: "a"},
		{Name: "b", Match: "most", Conditions: []mapping.Condition{{Attribute: "x", Operator: "resembles", Value: "y"}},
			Actions: []mapping.GroupAction{{SetGroup: "G", FromAttribute: "x"}}},
		{Name: "c", Conditions: []mapping.Condition{{Attribute: "x", Operator: mapping.CondMatches, Value: "("},
			{Attribute: "x", Operator: mapping.CondGreaterThan, Value: "many"}, {Attribute: "x", Operator: mapping.CondEquals}},
			Actions: []mapping.GroupAction{{FromAttribute: "x", Pattern: "["}}},
	}
	_, err := rules.Compile()
	if !errors.Is(err, mapping.ErrInvalidRule) {
		t.Fatalf("%v", err)
	}
	for _, w := range []string{"[0].actions", "[1].match", "[1].conditions[0].operator", "[1].actions[0]", "[2].conditions[0].value",
		"[2].conditions[1].value", `"many"`, "[2].conditions[2].value", "[2].actions[0].pattern"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

func TestRuleMapper(t *testing.T) {
	dir := &source.Directory{
		Users: []source.User{
			{ID: "1", UserName: "ada@x.com", State: source.StateActive, Attributes: map[string]any{"department": "Engineering"}},
			{ID: "2", UserName: "bob@x.com", State: source.StateActive, Attributes: map[string]any{"department": "Sales"}},
			{ID: "3", UserName: "cy@x.com", State: source.StateActive, Attributes: map[string]any{"department": "Legal"}},
		},
		Groups: []source.Group{{ID: "g1", DisplayName: "Engineers", Members: []string{"1", "3"}}},
	}
	rules := mapping.Rules{
		Scope: mapping.Scope{{Clauses: []mapping.Clause{{Attribute: "department", Operator: mapping.OpNotEquals, Value: "Legal"}}}},
		GroupRules: mapping.GroupRules{
			{Name: "sales", Conditions: []mapping.Condition{{Attribute: "department", Operator: mapping.CondEquals, Value: "sales"}},
				Actions: []mapping.GroupAction{{SetGroup: "Sales Team"}}},
			{Name: "engineers too", Conditions: []mapping.Condition{{Operator: mapping.CondMemberOf, Value: "Engineers"}},
				Actions: []mapping.GroupAction{{SetGroup: "engineers"}, {SetGroup: "Tech"}}},
		},
	}
	m, err := rules.Compile()
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Map(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != 2 {
		t.Fatalf("users %d, want 2 (Legal is out of scope)", len(d.Users))
	}
	got := map[string][]string{}
	for _, g := range d.Groups {
		got[g.Group.DisplayName] = g.Members
	}
	// The rule naming a source group joins it; the out-of-scope member
	// is dropped; rule groups get rule: keys.
	if !slices.Equal(got["Engineers"], []string{"1"}) || !slices.Equal(got["Sales Team"], []string{"2"}) ||
		!slices.Equal(got["Tech"], []string{"1"}) || len(got) != 3 {
		t.Fatalf("groups %v", got)
	}
	for _, g := range d.Groups {
		if g.Group.DisplayName == "Tech" && g.SourceID != mapping.RuleGroupID("Tech") {
			t.Errorf("rule group key %q", g.SourceID)
		}
	}

	// Only groups the target has.
	rules.ExistingGroupsOnly, rules.SkipSourceGroups = true, true
	m, _ = rules.Compile()
	d, _ = m.MapWith(context.Background(), dir, mapping.Entitlements{Groups: []string{"SALES TEAM", "Other"}})
	if len(d.Groups) != 1 || d.Groups[0].Group.DisplayName != "SALES TEAM" {
		t.Fatalf("existing groups only: %+v", d.Groups)
	}

	// Show Affected Users.
	aff, err := m.AffectedUsers(dir, 1)
	if err != nil || len(aff) != 1 || aff[0].UserName != "ada@x.com" || !slices.Equal(aff[0].Groups, []string{"engineers", "Tech"}) {
		t.Fatalf("affected users of rule 1: %+v %v", aff, err)
	}
	if _, err := m.AffectedUsers(dir, 5); !errors.Is(err, mapping.ErrInvalidRule) {
		t.Errorf("rule 5: %v", err)
	}
}
