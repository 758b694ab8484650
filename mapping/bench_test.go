package mapping_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/synth"
)

// BenchmarkRuleMapper maps 10,000 synthetic users with the default
// attribute mapping, one scoping filter of three clauses and five group
// rules, as administrators configure them.
//
//	go test ./mapping -run '^$' -bench RuleMapper -benchmem
//
// ns/user and allocs/user are per user mapped.
func BenchmarkRuleMapper(b *testing.B) {
	dir := synth.Generate(synth.Config{Users: 10000, Groups: 50, MembershipsPerUser: 3, Seed: 9, SuspendedFraction: 0.1})
	m, err := benchRules().Compile()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var groups int
	for range b.N {
		d, err := m.Map(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		groups = len(d.Groups)
		if len(d.Users) != len(dir.Users) {
			b.Fatalf("%d of %d users in scope; the benchmark must map them all", len(d.Users), len(dir.Users))
		}
	}
	b.StopTimer()
	n := float64(b.N) * float64(len(dir.Users))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/user")
	b.ReportMetric(0, "ns/op")
	_ = groups
}

// benchRules are the rules BenchmarkRuleMapper maps with: the default
// attribute mapping, one scoping filter of three clauses and five group
// rules.
func benchRules() mapping.Rules {
	return mapping.Rules{
		Scope: mapping.Scope{{Name: "staff", Clauses: []mapping.Clause{
			{Attribute: "userName", Operator: mapping.OpRegexMatch, Value: `.*@example\.com`},
			{Attribute: "employeeType", Operator: mapping.OpNotEquals, Value: "Intern"},
			{Attribute: "level", Operator: mapping.OpGreaterOrEquals, Value: "1"},
		}}},
		GroupRules: mapping.GroupRules{
			{Name: "engineering", Conditions: []mapping.Condition{{Attribute: "department", Operator: mapping.CondEquals, Value: "Engineering"}},
				Actions: []mapping.GroupAction{{SetGroup: "Netskope Engineering"}}},
			{Name: "contractors", Conditions: []mapping.Condition{{Attribute: "employeeType", Operator: mapping.CondEquals, Value: "Contractor"}},
				Actions: []mapping.GroupAction{{SetGroup: "Contractors"}}},
			{Name: "seniors", Conditions: []mapping.Condition{{Attribute: "level", Operator: mapping.CondGreaterThan, Value: "4"}},
				Actions: []mapping.GroupAction{{SetGroup: "Senior Staff"}}},
			{Name: "by country", Match: mapping.MatchAny, Conditions: []mapping.Condition{
				{Attribute: "country", Operator: mapping.CondEquals, Value: "DE"}, {Attribute: "country", Operator: mapping.CondEquals, Value: "FR"}},
				Actions: []mapping.GroupAction{{SetGroup: "EU Staff"}}},
			{Name: "licenses", Actions: []mapping.GroupAction{{FromAttribute: "licenses", Pattern: `^(E\d)$`}}},
		},
	}
}

// BenchmarkMatchUsers pairs 10,000 mapped users with the 10,000 target
// users made from them (ids, user names in another case) by the default
// matching properties, as an engine cycle does:
//
//	go test ./mapping -run '^$' -bench MatchUsers -benchmem
func BenchmarkMatchUsers(b *testing.B) {
	dir := synth.Generate(synth.Config{Users: 10000, Groups: 50, MembershipsPerUser: 3, Seed: 9})
	d, err := mapping.Default().Map(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	want := make([]scim.User, len(d.Users))
	obs := make([]scim.User, len(d.Users))
	for i, du := range d.Users {
		want[i] = du.User
		obs[i] = du.User
		obs[i].ID = fmt.Sprintf("t%d", i)
		obs[i].UserName = strings.ToUpper(du.User.UserName)
		if i%2 == 0 {
			obs[i].ExternalID = "" // half are matched by user name
		}
	}
	keys := mapping.DefaultUserMatch()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m, err := mapping.MatchUsers(want, obs, keys, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Errors) != 0 || m.Observed[len(want)-1] != len(obs)-1 {
			b.Fatalf("%d errors, last matched %d", len(m.Errors), m.Observed[len(want)-1])
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(want)), "ns/user")
}
