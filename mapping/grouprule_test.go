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
	return &source.User{ID: "u1", UserName: "Ada@Contoso.com", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{
		"department": "Engineering", "title": "Staff Engineer", "level": int64(6), "roleIds": []string{"101", "202"},
		"memberOf": "CN=VPN,OU=Groups;CN=Wiki Editors,OU=Groups", "score": "7.5", "ratio": 0.25, "mfa": true,
		"teams": "Blue; Red", "empty": "", "none": []string{},
	})}
}

func groupsOf(t *testing.T, rules mapping.GroupRules, u *source.User, m mapping.Memberships) []string {
	t.Helper()
	c, err := rules.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c.Groups(u, m)
}

func TestGroupRuleConditionOperators(t *testing.T) {
	u := ruleUser()
	mem := mapping.DirectoryMemberships{"u1": {"role:101": true, "netskope users": true}}
	tests := []struct {
		attr, op, value string
		want            bool
	}{
		{"department", "equals", "engineering", true}, // ignoring case
		{"department", "equals", "Sales", false},
		{"missing", "equals", "x", false},
		{"department", "not equals", "Sales", true},
		{"department", "not equals", "ENGINEERING", false},
		{"missing", "not equals", "Sales", true}, // absent is not Sales
		{"empty", "not equals", "Sales", true},
		{"title", "contains", "ENGINEER", true},
		{"title", "contains", "manager", false},
		{"missing", "contains", "a", false},
		{"title", "does not contain", "manager", true},
		{"title", "does not contain", "staff", false},
		{"missing", "does not contain", "staff", true},
		{"title", "starts with", "staff", true},
		{"title", "starts with", "engineer", false},
		{"title", "ends with", "engineer", true},
		{"title", "ends with", "staff", false},
		{"title", "ends with", "a much longer value than the title", false},
		{"level", "greater than", "5", true},
		{"level", "greater than", "6", false},
		{"level", "less than", "7", true},
		{"level", "less than", "5", false},
		{"score", "greater than", "7", true}, // a number in a string
		{"ratio", "less than", "0.5", true},
		{"title", "greater than", "1", false},
		{"missing", "less than", "1", false},
		{"title", "matches regex", `^Staff\b`, true},
		{"title", "matches regex", `Engineer`, true}, // unanchored
		{"title", "matches regex", `^Principal`, false},
		{"title", "matches regex", `^staff`, false}, // case-sensitive unless (?i)
		{"department", "is present", "", true},
		{"missing", "is present", "", false},
		{"empty", "is present", "", false},
		{"none", "is present", "", false},
		{"missing", "is not present", "", true},
		{"department", "is not present", "", false},
		{"roleIds", "includes", "202", true},
		{"roleIds", "includes", "303", false},
		{"memberOf", "includes", "cn=vpn,ou=groups", true}, // an item of a ";" list, ignoring case
		{"memberOf", "includes", "CN=VPN", false},
		{"teams", "includes", "red", true}, // items trimmed
		{"missing", "includes", "x", false},
		{"mfa", "equals", "TRUE", true},
		{"level", "equals", "6", true},
		{"userName", "ends_with", "@contoso.com", true}, // a built-in field, operator spelled with "_"
		{"email", "is present", "", false},
		// Lists: any value for positive operators, none for negative ones.
		{"roleIds", "equals", "101", true},
		{"roleIds", "not equals", "101", false},
		{"roleIds", "not equals", "303", true},
		{"roleIds", "contains", "0", true},
		{"roleIds", "does not contain", "0", false},
		{"roleIds", "starts with", "2", true},
		{"roleIds", "greater than", "150", true},
		{"roleIds", "less than", "100", false},
		// Membership, by id or name (any case).
		{"", "member of", "Netskope Users", true},
		{"", "member of", "role:101", true},
		{"", "member of", "Admins", false},
		{"", "not member of", "role:101", false},
		{"", "Not Member Of", "Admins", true},
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
	from := func(a mapping.GroupAction) []mapping.GroupAction { return []mapping.GroupAction{a} }
	tests := []struct {
		name  string
		rules mapping.GroupRules
		want  []string
	}{
		{"accumulate in order, each once, first spelling kept", mapping.GroupRules{
			{Name: "a", Conditions: []mapping.Condition{eng}, Actions: set("Engineers", "Everyone")},
			{Name: "b", Actions: set("everyone", "All Staff")},
		}, []string{"Engineers", "Everyone", "All Staff"}},
		{"a rule that does not match adds nothing", mapping.GroupRules{
			{Name: "a", Conditions: []mapping.Condition{sales}, Actions: set("Sales")},
			{Name: "b", Actions: set("All Staff")},
		}, []string{"All Staff"}},
		{"any of two conditions", mapping.GroupRules{{Name: "a", Match: mapping.MatchAny, Conditions: []mapping.Condition{sales, eng}, Actions: set("X")}}, []string{"X"}},
		{"any of none that hold", mapping.GroupRules{{Name: "a", Match: "ANY", Conditions: []mapping.Condition{sales, sales}, Actions: set("X")}}, nil},
		{"all of two conditions", mapping.GroupRules{{Name: "a", Conditions: []mapping.Condition{sales, eng}, Actions: set("X")}}, nil},
		{"all, explicitly", mapping.GroupRules{{Name: "a", Match: mapping.MatchAll, Conditions: []mapping.Condition{eng, eng}, Actions: set("X")}}, []string{"X"}},
		{"replace: the later rule takes precedence", mapping.GroupRules{
			{Name: "a", Actions: set("Default")},
			{Name: "b", Conditions: []mapping.Condition{eng}, Replace: true, Actions: set("Engineers")},
		}, []string{"Engineers"}},
		{"replace only when it matches", mapping.GroupRules{
			{Name: "a", Actions: set("Default")},
			{Name: "b", Conditions: []mapping.Condition{sales}, Replace: true, Actions: set("Sales")},
		}, []string{"Default"}},
		{"stop: the first match wins", mapping.GroupRules{
			{Name: "a", Conditions: []mapping.Condition{eng}, Stop: true, Actions: set("Engineers")},
			{Name: "b", Actions: set("Default")},
		}, []string{"Engineers"}},
		{"stop on a rule that does not match does not stop", mapping.GroupRules{
			{Name: "a", Conditions: []mapping.Condition{sales}, Stop: true, Actions: set("Sales")},
			{Name: "b", Actions: set("Default")},
		}, []string{"Default"}},
		{"order reversed gives another result", mapping.GroupRules{
			{Name: "b", Actions: set("Default"), Stop: true},
			{Name: "a", Conditions: []mapping.Condition{eng}, Actions: set("Engineers")},
		}, []string{"Default"}},
		{"disabled rules do nothing, even with stop", mapping.GroupRules{
			{Name: "a", Disabled: true, Stop: true, Actions: set("X")},
			{Name: "b", Actions: set("Y")},
		}, []string{"Y"}},
		{"groups from a multi-valued attribute", mapping.GroupRules{{Name: "a", Actions: from(mapping.GroupAction{FromAttribute: "roleIds"})}}, []string{"101", "202"}},
		{"groups from a delimited attribute with a capture group", mapping.GroupRules{{Name: "a",
			Actions: from(mapping.GroupAction{FromAttribute: "memberOf", Pattern: `^CN=([^,]+)`})}}, []string{"VPN", "Wiki Editors"}},
		{"a pattern without a capture group keeps whole values", mapping.GroupRules{{Name: "a",
			Actions: from(mapping.GroupAction{FromAttribute: "roleIds", Pattern: `^1`})}}, []string{"101"}},
		{"values split at ';' and trimmed", mapping.GroupRules{{Name: "a", Actions: from(mapping.GroupAction{FromAttribute: "teams"})}}, []string{"Blue", "Red"}},
		{"another delimiter", mapping.GroupRules{{Name: "a", Actions: from(mapping.GroupAction{FromAttribute: "title", Delimiter: " "})}}, []string{"Staff", "Engineer"}},
		{"a built-in attribute", mapping.GroupRules{{Name: "a", Actions: from(mapping.GroupAction{FromAttribute: "userName", Delimiter: "@", Pattern: `^[^.]+$`})}}, []string{"Ada"}},
		{"a number", mapping.GroupRules{{Name: "a", Actions: from(mapping.GroupAction{FromAttribute: "level"})}}, []string{"6"}},
		{"groups from an absent attribute", mapping.GroupRules{{Name: "a", Actions: from(mapping.GroupAction{FromAttribute: "nope"})}}, nil},
		{"set and map together, deduplicated", mapping.GroupRules{{Name: "a",
			Actions: []mapping.GroupAction{{SetGroup: "vpn"}, {FromAttribute: "memberOf", Pattern: `^CN=([^,]+)`}}}}, []string{"vpn", "Wiki Editors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := groupsOf(t, tt.rules, u, nil); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGroupRuleAffectedUsers(t *testing.T) {
	users := []source.User{
		{ID: "1", Attributes: source.NewAttrs(map[string]any{"department": "Engineering", "roleIds": []string{"7"}})},
		{ID: "2", Attributes: source.NewAttrs(map[string]any{"department": "Sales"})},
		{ID: "3", Attributes: source.NewAttrs(map[string]any{"department": "engineering"})},
	}
	rules := mapping.GroupRules{
		{Name: "everyone", Stop: true, Actions: []mapping.GroupAction{{SetGroup: "All"}}},
		{Name: "engineers", Conditions: []mapping.Condition{{Attribute: "department", Operator: mapping.CondEquals, Value: "Engineering"}},
			Actions: []mapping.GroupAction{{SetGroup: "Engineers"}}},
		{Name: "roles", Actions: []mapping.GroupAction{{FromAttribute: "roleIds"}}}, // matches all, names groups for one
		{Name: "off", Disabled: true, Actions: []mapping.GroupAction{{SetGroup: "Off"}}},
	}
	c, err := rules.Compile()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule int
		want []string
	}{
		{0, []string{"1", "2", "3"}},
		{1, []string{"1", "3"}}, // judged alone: rule 0's stop does not hide them
		{2, []string{"1"}},      // only users it would put into a group
		{3, nil},                // disabled
		{4, nil},                // no such rule
		{-1, nil},
	}
	for _, tt := range tests {
		if got := c.AffectedUsers(tt.rule, users, nil); !slices.Equal(got, tt.want) {
			t.Errorf("AffectedUsers(%d) = %q, want %q", tt.rule, got, tt.want)
		}
	}
	if c.Len() != 4 {
		t.Errorf("Len = %d, want 4", c.Len())
	}
	if got := c.RuleGroups(1, &users[0], nil); !slices.Equal(got, []string{"Engineers"}) {
		t.Errorf("RuleGroups(1) = %q", got)
	}
	var none *mapping.CompiledGroupRules
	if none.Groups(&users[0], nil) != nil || none.AffectedUsers(0, users, nil) != nil || none.Len() != 0 {
		t.Error("a nil CompiledGroupRules is not empty")
	}
}

func TestGroupRuleErrors(t *testing.T) {
	rules := mapping.GroupRules{
		{Name: "a"},
		{Name: "b", Match: "most", Conditions: []mapping.Condition{{Attribute: "x", Operator: "resembles", Value: "y"}},
			Actions: []mapping.GroupAction{{SetGroup: "G", FromAttribute: "x"}}},
		{Name: "c", Conditions: []mapping.Condition{{Attribute: "x", Operator: mapping.CondMatches, Value: "("},
			{Attribute: "x", Operator: mapping.CondGreaterThan, Value: "many"}, {Attribute: "x", Operator: mapping.CondEquals},
			{Operator: mapping.CondContains, Value: "y"}, {Operator: mapping.CondMemberOf}},
			Actions: []mapping.GroupAction{{FromAttribute: "x", Pattern: "["}, {}, {SetGroup: strings.Repeat("g", 300)}}},
		{Name: "d", Disabled: true, Conditions: []mapping.Condition{{Attribute: "x", Operator: "like", Value: "y"}},
			Actions: []mapping.GroupAction{{SetGroup: "G"}}},
	}
	_, err := rules.Compile()
	if !errors.Is(err, mapping.ErrInvalidRule) {
		t.Fatalf("%v", err)
	}
	for _, w := range []string{
		`[0].actions: rule "a": mapping: invalid rule: no action`,
		`[1].match: rule "b"`, `"most"`,
		`[1].conditions[0].operator: rule "b": mapping: invalid rule: unknown condition operator "resembles"`,
		`[1].actions[0]: rule "b"`, "exactly one of setGroup and fromAttribute",
		`[2].conditions[0].value: rule "c"`, `regular expression "("`,
		`[2].conditions[1].value`, `"many"`,
		`[2].conditions[2].value`,
		`[2].conditions[3].attribute`,
		`[2].conditions[4].value`,
		`[2].actions[0].pattern`, `[2].actions[1]: `, `[2].actions[2].setGroup`,
		`[3].conditions[0].operator: rule "d"`, // disabled rules are checked too
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

func TestGroupRuleParseCondOperator(t *testing.T) {
	for _, in := range []string{"equals", "NOT EQUALS", "not_equals", "Contains", "does_not_contain", "starts with", "ENDS_WITH",
		"greater than", "less_than", "matches regex", "is present", "is_not_present", "includes", "member of", "not member of"} {
		if _, err := mapping.ParseCondOperator(in); err != nil {
			t.Errorf("ParseCondOperator(%q): %v", in, err)
		}
	}
	if op, _ := mapping.ParseCondOperator("Does Not  Contain"); op != mapping.CondNotContains {
		t.Errorf("got %q", op)
	}
	if _, err := mapping.ParseCondOperator("like"); !errors.Is(err, mapping.ErrInvalidRule) {
		t.Errorf("like: %v", err)
	}
}

func TestGroupRuleConditionsDoNotAllocate(t *testing.T) {
	u := ruleUser()
	rules := mapping.GroupRules{{Name: "r", Conditions: []mapping.Condition{
		{Attribute: "title", Operator: mapping.CondContains, Value: "ENGINEER"},
		{Attribute: "title", Operator: mapping.CondStartsWith, Value: "staff"},
		{Attribute: "userName", Operator: mapping.CondEndsWith, Value: "@CONTOSO.COM"},
		{Attribute: "level", Operator: mapping.CondGreaterThan, Value: "3"},
		{Attribute: "roleIds", Operator: mapping.CondIncludes, Value: "202"},
		{Attribute: "memberOf", Operator: mapping.CondIncludes, Value: "cn=vpn,ou=groups"},
		{Attribute: "department", Operator: mapping.CondNotEquals, Value: "Sales"},
		{Attribute: "missing", Operator: mapping.CondNotPresent},
	}, Actions: []mapping.GroupAction{{SetGroup: "G"}}}}
	c, err := rules.Compile()
	if err != nil {
		t.Fatal(err)
	}
	users := []source.User{*u}
	if got := c.AffectedUsers(0, users, nil); len(got) != 1 {
		t.Fatalf("the rule does not match: %v", got)
	}
	// AffectedUsers allocates for its result and the groups; one user,
	// one group: the conditions themselves add nothing.
	if n := testing.AllocsPerRun(100, func() { c.AffectedUsers(0, users, nil) }); n > 2 {
		t.Errorf("%v allocations", n)
	}
}

func TestRuleMapper(t *testing.T) {
	dir := &source.Directory{
		Users: []source.User{
			{ID: "1", UserName: "ada@x.com", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{"department": "Engineering"})},
			{ID: "2", UserName: "bob@x.com", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{"department": "Sales"})},
			{ID: "3", UserName: "cy@x.com", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{"department": "Legal"})},
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

// TestRuleMapperFailuresAndSpellings: a user whose mapping fails leaves
// no trace among the users or in the groups rules make; group names from
// attributes are one group whatever their case, under the first spelling.
func TestRuleMapperFailuresAndSpellings(t *testing.T) {
	dir := &source.Directory{Users: []source.User{
		{ID: "1", UserName: "ada@x.com", GivenName: "Ada", Attributes: source.NewAttrs(map[string]any{"team": "Blue"})},
		{ID: "2", GivenName: "Nameless", Attributes: source.NewAttrs(map[string]any{"team": "Blue"})}, // no user name: fails
		{ID: "3", UserName: "bob@x.com", Attributes: source.NewAttrs(map[string]any{"team": "BLUE;red"})},
		{ID: "4", UserName: "cy@x.com", DisplayName: "Cy", Attributes: source.NewAttrs(map[string]any{"team": "blue; Red"})},
	}}
	m, err := mapping.Rules{GroupRules: mapping.GroupRules{
		{Name: "teams", Actions: []mapping.GroupAction{{FromAttribute: "team"}}},
		{Name: "all", Actions: []mapping.GroupAction{{SetGroup: "Everyone"}}},
	}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Map(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Failed) != 1 || d.Failed[0].SourceID != "2" || d.Failed[0].Field != "userName" {
		t.Fatalf("failed = %+v, want user 2 on userName", d.Failed)
	}
	var users []string
	for _, u := range d.Users {
		users = append(users, u.SourceID+"="+u.User.UserName+"/"+u.User.DisplayName)
	}
	if want := []string{"1=ada@x.com/Ada", "3=bob@x.com/bob@x.com", "4=cy@x.com/Cy"}; !slices.Equal(users, want) {
		t.Errorf("users %q, want %q", users, want)
	}
	var groups []string
	for _, g := range d.Groups {
		groups = append(groups, g.Group.DisplayName+":"+strings.Join(g.Members, ","))
	}
	if want := []string{"Blue:1,3,4", "Everyone:1,3,4", "red:3,4"}; !slices.Equal(groups, want) {
		t.Errorf("groups %q, want %q", groups, want)
	}
}
