package mapping_test

import (
	"context"
	"fmt"
	"log"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

// Rules as an administrator sets them in a console: an attribute mapping
// table (direct, expression, constant on create only), a scoping filter
// and a OneLogin-style group rule. Compile checks everything once; Map
// turns a directory into the users and groups Netskope should have.
func ExampleRules() {
	rules := mapping.Rules{
		Users: []mapping.AttributeMapping{
			{Target: "userName", Type: mapping.Direct, Source: "userName"},
			{Target: "externalId", Type: mapping.Direct, Source: "id"},
			{Target: "displayName", Type: mapping.Expression, Expression: `Join(", ", [familyName], [givenName])`},
			{Target: "emails", Type: mapping.Direct, Source: "email"},
			{Target: "department", Type: mapping.Direct, Source: "department", Default: "Unassigned"},
			{Target: "title", Type: mapping.Constant, Value: "New hire", Apply: mapping.OnCreate},
		},
		Scope: mapping.Scope{{Name: "employees only", Clauses: []mapping.Clause{
			{Attribute: "employeeType", Operator: mapping.OpNotEquals, Value: "Contractor"}}}},
		GroupRules: mapping.GroupRules{{Name: "engineers",
			Conditions: []mapping.Condition{{Attribute: "department", Operator: mapping.CondEquals, Value: "engineering"}},
			Actions:    []mapping.GroupAction{{SetGroup: "Netskope Engineering"}}}},
		SkipSourceGroups: true, // only the groups the rules make
	}
	m, err := rules.Compile()
	if err != nil {
		log.Fatal(err)
	}
	user := func(id, given, dept, typ string) source.User {
		return source.User{ID: id, UserName: given + "@example.com", GivenName: given, FamilyName: "Example",
			State: source.StateActive, Emails: []source.Email{{Value: given + "@example.com", Primary: true}},
			Attributes: source.NewAttrs(map[string]any{"department": dept, "employeeType": typ})}
	}
	d, err := m.Map(context.Background(), &source.Directory{Users: []source.User{
		user("1", "ada", "Engineering", "Employee"), user("2", "bob", "", "Employee"), user("3", "cy", "Engineering", "Contractor"),
	}})
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range d.Users {
		fmt.Printf("%s: %q, department %s, title %s (set on create only: %v)\n",
			u.User.UserName, u.User.DisplayName, u.User.Enterprise.Department, u.User.Title, u.CreateOnly)
	}
	for _, g := range d.Groups {
		fmt.Printf("group %q: members %v\n", g.Group.DisplayName, g.Members)
	}
	// Output:
	// ada@example.com: "Example, ada", department Engineering, title New hire (set on create only: [title])
	// bob@example.com: "Example, bob", department Unassigned, title New hire (set on create only: [title])
	// group "Netskope Engineering": members [1]
}

// A mistake is reported with its place in the rules, before anything
// runs.
func ExampleRules_Compile_errors() {
	_, err := mapping.Rules{
		Users: []mapping.AttributeMapping{{Target: "userName", Type: mapping.Expression, Expression: `Join(", "`}},
		Scope: mapping.Scope{{Clauses: []mapping.Clause{{Attribute: "department", Operator: "SOUNDS LIKE"}}}},
	}.Compile()
	fmt.Println(err)
	// Output:
	// users[0].expression: mapping: bad attribute mapping: expr: 1:10: expected ")" after arguments of Join, found end of input
	// scope[0].clauses[0].operator: filter "#0" clause 0: mapping: invalid rule: unknown operator "SOUNDS LIKE"
}
