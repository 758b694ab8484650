package mapping_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

func scoped(t *testing.T, s mapping.Scope, u *source.User, m mapping.Memberships) bool {
	t.Helper()
	c, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c.InScope(u, m)
}

func scopeUser() *source.User {
	return &source.User{ID: "u1", UserName: "ada@contoso.com", GivenName: "Ada", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{
		"department": "Sales", "level": int64(5), "rank": 5.0, "ratio": 2.5, "employeeId": "1500000",
		"vip": true, "remote": "False", "roles": []string{"admin", "user"}, "noRoles": []string{},
		"hired": time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), "empty": "",
	})}
}

func TestScopeOperators(t *testing.T) {
	u := scopeUser()
	mem := mapping.DirectoryMemberships{"u1": {"g-1": true, "engineering": true}}
	tests := []struct {
		attr, op, value string
		want            bool
	}{
		// EQUALS / NOT EQUALS: exact, case-sensitive, as Entra documents.
		{"department", "EQUALS", "Sales", true},
		{"department", "EQUALS", "sales", false},
		{"Department", "EQUALS", "Sales", true}, // attribute names ignore case (source.User.Attr)
		{"department", "NOT EQUALS", "Ops", true},
		{"department", "NOT EQUALS", "Sales", false},
		{"department", "NOT EQUALS", "sales", true},
		{"missing", "EQUALS", "x", false},
		{"missing", "NOT EQUALS", "x", false}, // null/empty is false for every operator but IS NULL
		{"empty", "NOT EQUALS", "x", false},
		{"givenName", "EQUALS", "Ada", true}, // a built-in field
		{"firstName", "NOT EQUALS", "Bob", true},
		{"level", "EQUALS", "5", true}, // integers compare as integers
		{"level", "NOT EQUALS", "5", false},
		{"rank", "EQUALS", "5", true},
		{"vip", "EQUALS", "true", true},
		{"vip", "EQUALS", "True", true}, // .NET's spelling of a boolean
		{"vip", "EQUALS", "TRUE", false},
		{"hired", "EQUALS", "2020-01-02T00:00:00Z", true},
		// IS TRUE / IS FALSE: booleans, or "true"/"false" in any case.
		{"vip", "IS TRUE", "", true},
		{"vip", "IS FALSE", "", false},
		{"remote", "IS FALSE", "", true},
		{"remote", "IS TRUE", "", false},
		{"department", "IS TRUE", "", false},
		{"department", "IS FALSE", "", false},
		{"missing", "IS FALSE", "", false},
		{"active", "IS TRUE", "", true},
		{"suspended", "IS FALSE", "", true},
		// IS NULL / IS NOT NULL: absent, empty string or empty list.
		{"missing", "IS NULL", "", true},
		{"empty", "IS NULL", "", true},
		{"noRoles", "IS NULL", "", true},
		{"familyName", "IS NULL", "", true},
		{"department", "IS NULL", "", false},
		{"department", "IS NOT NULL", "", true},
		{"missing", "IS NOT NULL", "", false},
		{"empty", "IS NOT NULL", "", false},
		// REGEX MATCH: the whole value, case-sensitive.
		{"userName", "REGEX MATCH", `.*@contoso\.com`, true},
		{"userName", "REGEX MATCH", `@contoso\.com`, false}, // not anchored by the user, anchored here
		{"userName", "REGEX MATCH", `.*@CONTOSO\.com`, false},
		{"userName", "REGEX MATCH", `(?i).*@CONTOSO\.com`, true},
		{"employeeId", "REGEX MATCH", `(1[0-9][0-9][0-9][0-9][0-9][0-9])`, true},
		{"level", "REGEX MATCH", `[1-9]`, true},
		{"userName", "REGEX MATCH", `a|bob`, false}, // the alternation is anchored as a whole
		{"userName", "NOT REGEX MATCH", `bob.*`, true},
		{"userName", "NOT REGEX MATCH", `ada.*`, false},
		{"missing", "NOT REGEX MATCH", `x`, false}, // Entra: false when null / empty
		// Greater_Than and friends: integers.
		{"level", "Greater_Than", "4", true},
		{"level", "Greater_Than", "5", false},
		{"level", "Greater_Than_OR_EQUALS", "5", true},
		{"level", "Greater_Than_OR_EQUALS", "6", false},
		{"level", "Less_Than", "5", false},
		{"level", "Less_Than", "6", true},
		{"level", "Less_Than_OR_EQUALS", "5", true},
		{"level", "Less_Than_OR_EQUALS", "-1", false},
		{"employeeId", "Greater_Than_OR_EQUALS", "1000000", true}, // an integer in a string
		{"employeeId", "Less_Than", "2000000", true},
		{"rank", "Greater_Than", "4", true},   // a whole float64
		{"ratio", "Greater_Than", "1", false}, // not an integer
		{"department", "Greater_Than", "1", false},
		{"missing", "Less_Than", "1", false},
		// Includes: a case-sensitive substring (String.Contains).
		{"department", "Includes", "ale", true},
		{"department", "Includes", "ALE", false},
		{"department", "Includes", "Sales,Ops", false},
		{"missing", "Includes", "a", false},
		// ENDS_WITH.
		{"userName", "ENDS_WITH", "@contoso.com", true},
		{"userName", "ENDS_WITH", "@CONTOSO.com", false},
		// Lists: any value for positive operators, no value for negative ones.
		{"roles", "EQUALS", "admin", true},
		{"roles", "EQUALS", "root", false},
		{"roles", "NOT EQUALS", "admin", false},
		{"roles", "NOT EQUALS", "root", true},
		{"roles", "Includes", "use", true},
		{"roles", "REGEX MATCH", "adm.*", true},
		{"roles", "NOT REGEX MATCH", "adm.*", false},
		{"roles", "NOT REGEX MATCH", "x.*", true},
		{"noRoles", "NOT EQUALS", "admin", false},
		// Group membership, by id or display name (any case).
		{"", "IS MEMBER OF", "g-1", true},
		{"", "IS MEMBER OF", "Engineering", true},
		{"", "IS MEMBER OF", "g-2", false},
		{"", "IS NOT MEMBER OF", "g-2", true},
		{"", "IS NOT MEMBER OF", "g-1", false},
		// Spellings.
		{"department", "not_equals", "Ops", true},
		{"department", "Not Equals", "Ops", true},
		{"level", "GREATER THAN", "1", true},
		{"level", "greater_than_or_equals", "5", true},
		{"level", "Less  Than", "6", true},
		{"userName", "regex_match", ".*", true},
		{"department", "INCLUDES", "al", true},
		{"", "is_member_of", "g-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.attr+" "+tt.op+" "+tt.value, func(t *testing.T) {
			s := mapping.Scope{{Clauses: []mapping.Clause{{Attribute: tt.attr, Operator: mapping.Operator(tt.op), Value: tt.value}}}}
			if got := scoped(t, s, u, mem); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestScopeMemberships(t *testing.T) {
	u := scopeUser()
	member := mapping.Scope{{Clauses: []mapping.Clause{{Operator: mapping.OpIsMemberOf, Value: "Engineering"}}}}
	notMember := mapping.Scope{{Clauses: []mapping.Clause{{Operator: mapping.OpIsNotMemberOf, Value: "Engineering"}}}}
	dir := &source.Directory{Groups: []source.Group{{ID: "g-1", DisplayName: "Engineering", Members: []string{"u1"}}}}
	m := mapping.NewMemberships(dir)
	if !scoped(t, member, u, m) || scoped(t, notMember, u, m) {
		t.Error("a member of Engineering")
	}
	// Without memberships the user is a member of nothing.
	if scoped(t, member, u, nil) || !scoped(t, notMember, u, nil) {
		t.Error("nil memberships")
	}
	c, _ := member.Compile()
	if !c.NeedsMemberships() {
		t.Error("NeedsMemberships is false with IS MEMBER OF")
	}
	c, _ = mapping.Scope{{Clauses: []mapping.Clause{{Attribute: "a", Operator: mapping.OpIsNull}}}}.Compile()
	if c.NeedsMemberships() {
		t.Error("NeedsMemberships is true without IS MEMBER OF")
	}
}

func TestScopeAndOr(t *testing.T) {
	u := &source.User{ID: "u", Attributes: source.NewAttrs(map[string]any{"department": "Sales", "country": "FR"})}
	c := func(a, v string) mapping.Clause {
		return mapping.Clause{Attribute: a, Operator: mapping.OpEquals, Value: v}
	}
	tests := []struct {
		name  string
		scope mapping.Scope
		want  bool
	}{
		{"empty scope: everyone", nil, true},
		{"clauses ANDed", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Sales"), c("country", "DE")}}}, false},
		{"filters ORed", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Ops")}}, {Clauses: []mapping.Clause{c("country", "FR")}}}, true},
		{"no filter accepts", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Ops")}}, {Clauses: []mapping.Clause{c("country", "DE")}}}, false},
		{"both clauses", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Sales"), c("country", "FR")}}}, true},
	}
	for _, tt := range tests {
		if got := scoped(t, tt.scope, u, nil); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
	var nilScope *mapping.CompiledScope
	if !nilScope.InScope(u, nil) {
		t.Error("a nil CompiledScope rejects")
	}
}

func TestScopeExplain(t *testing.T) {
	u := &source.User{ID: "u", Attributes: source.NewAttrs(map[string]any{"department": "Sales"})}
	s := mapping.Scope{
		{Name: "ops", Clauses: []mapping.Clause{{Attribute: "department", Operator: mapping.OpEquals, Value: "Ops"}}},
		{Name: "sales", Clauses: []mapping.Clause{{Attribute: "department", Operator: mapping.OpEquals, Value: "Sales"}}},
	}
	c, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Explain(u, nil); !strings.Contains(got, `in scope: filter "sales"`) {
		t.Errorf("Explain = %q", got)
	}
	c, _ = s[:1].Compile()
	if got := c.Explain(u, nil); !strings.Contains(got, `out of scope: filter "ops" fails clause 0 (department EQUALS "Ops")`) {
		t.Errorf("Explain = %q", got)
	}
}

// TestScopeBuiltinsAgreeWithAttr checks the fast reads of built-in fields
// against source.User.Attr, for every name Attr documents.
func TestScopeBuiltinsAgreeWithAttr(t *testing.T) {
	users := []*source.User{
		{ID: "id-1", UserName: "Ada@x.com", Emails: []source.Email{{Value: "a@x.com"}, {Value: "p@x.com", Primary: true}},
			GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace", State: source.StateSuspended},
		{ID: "id-2"},
	}
	names := []string{"id", "objectId", "userName", "userPrincipalName", "upn", "login", "email", "mail", "primaryEmail",
		"givenName", "firstName", "familyName", "surname", "lastName", "displayName", "fullName", "state", "STATE"}
	for _, u := range users {
		for _, n := range names {
			v, ok := u.Attr(n)
			want, _ := v.(string)
			eq := mapping.Scope{{Clauses: []mapping.Clause{{Attribute: n, Operator: mapping.OpEquals, Value: want}}}}
			null := mapping.Scope{{Clauses: []mapping.Clause{{Attribute: n, Operator: mapping.OpIsNull}}}}
			if ok && !scoped(t, eq, u, nil) {
				t.Errorf("%s of %s: EQUALS %q is false", n, u.ID, want)
			}
			if scoped(t, null, u, nil) == ok {
				t.Errorf("%s of %s: IS NULL is %v, Attr present %v", n, u.ID, !ok, ok)
			}
		}
	}
}

func TestScopeErrors(t *testing.T) {
	s := mapping.Scope{
		{Name: "bad", Clauses: []mapping.Clause{
			{Attribute: "a", Operator: "LIKE", Value: "x"},
			{Attribute: "a", Operator: mapping.OpRegexMatch, Value: "("},
			{Attribute: "a", Operator: mapping.OpGreaterThan, Value: "ten"},
			{Attribute: "", Operator: mapping.OpEquals, Value: "x"},
			{Attribute: "a", Operator: mapping.OpEquals},
			{Attribute: "a", Operator: mapping.OpLessOrEquals, Value: "1.5"},
			{Attribute: "a", Operator: mapping.OpNotRegexMatch, Value: `(?<=x)y`}, // .NET lookbehind: not RE2
			{Attribute: "a", Operator: mapping.OpIncludes},
		}},
		{Name: "empty"},
		{Clauses: []mapping.Clause{{Operator: mapping.OpIsMemberOf}}},
	}
	_, err := s.Compile()
	if !errors.Is(err, mapping.ErrInvalidRule) {
		t.Fatalf("%v is not ErrInvalidRule", err)
	}
	var me *mapping.MappingError
	if !errors.As(err, &me) {
		t.Fatalf("%v is not a *MappingError", err)
	}
	for _, w := range []string{
		`[0].clauses[0].operator: filter "bad" clause 0: mapping: invalid rule: unknown operator "LIKE"`,
		`[0].clauses[1].value: filter "bad" clause 1`, `regular expression "("`,
		`[0].clauses[2].value`, `"ten"`,
		`[0].clauses[3].attribute`,
		`[0].clauses[4].value`,
		`[0].clauses[5].value`, `"1.5"`,
		`[0].clauses[6].value`,
		`[0].clauses[7].value`,
		`[1].clauses: mapping: invalid rule: filter "empty" has no clause`,
		`[2].clauses[0].value: filter "#2" clause 0`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

func TestScopeParseOperator(t *testing.T) {
	tests := []struct {
		in   string
		want mapping.Operator
	}{
		{"EQUALS", mapping.OpEquals}, {"equals", mapping.OpEquals}, {" NOT EQUALS ", mapping.OpNotEquals},
		{"NOT_EQUALS", mapping.OpNotEquals}, {"is true", mapping.OpIsTrue}, {"IS_FALSE", mapping.OpIsFalse},
		{"IS NULL", mapping.OpIsNull}, {"is_not_null", mapping.OpIsNotNull}, {"REGEX MATCH", mapping.OpRegexMatch},
		{"NOT_REGEX_MATCH", mapping.OpNotRegexMatch}, {"Greater_Than", mapping.OpGreaterThan},
		{"GREATER THAN", mapping.OpGreaterThan}, {"GREATER_THAN_OR_EQUALS", mapping.OpGreaterOrEquals},
		{"Less_Than", mapping.OpLessThan}, {"less than or equals", mapping.OpLessOrEquals},
		{"Includes", mapping.OpIncludes}, {"ENDS WITH", mapping.OpEndsWith}, {"IS MEMBER OF", mapping.OpIsMemberOf},
		{"is_not_member_of", mapping.OpIsNotMemberOf},
	}
	for _, tt := range tests {
		if got, err := mapping.ParseOperator(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseOperator(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "LIKE", "GREATERTHAN", "NOT"} {
		if _, err := mapping.ParseOperator(bad); !errors.Is(err, mapping.ErrInvalidRule) {
			t.Errorf("ParseOperator(%q): %v", bad, err)
		}
	}
}

func TestScopeInScopeDoesNotAllocate(t *testing.T) {
	s := mapping.Scope{{Clauses: []mapping.Clause{
		{Attribute: "userName", Operator: mapping.OpRegexMatch, Value: `.*@contoso\.com`},
		{Attribute: "employeeType", Operator: mapping.OpNotEquals, Value: "Intern"},
		{Attribute: "level", Operator: mapping.OpGreaterOrEquals, Value: "1"},
		{Attribute: "roles", Operator: mapping.OpEquals, Value: "user"},
		{Attribute: "state", Operator: mapping.OpEquals, Value: "active"},
		{Operator: mapping.OpIsNotMemberOf, Value: "Contractors"},
	}}}
	c, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	u := scopeUser()
	u.Attributes = u.Attributes.With("employeeType", "Employee")
	m := mapping.DirectoryMemberships{"u1": {"g-1": true}}
	if !c.InScope(u, m) {
		t.Fatal(c.Explain(u, m))
	}
	if n := testing.AllocsPerRun(100, func() { c.InScope(u, m) }); n != 0 {
		t.Errorf("InScope allocates %v times", n)
	}
}

// BenchmarkScopeAndRules evaluates one scoping filter of three clauses and
// five group rules for each of 10,000 synthetic users:
//
//	go test ./mapping -run '^$' -bench ScopeAndRules -benchmem
//
// ns/user is per user; allocs/op are for all 10,000 users (the groups
// returned for the users the rules put into groups).
func BenchmarkScopeAndRules(b *testing.B) {
	dir := synth.Generate(synth.Config{Users: 10000, Groups: 50, MembershipsPerUser: 3, Seed: 9, SuspendedFraction: 0.1})
	scope, err := mapping.Scope{{Name: "staff", Clauses: []mapping.Clause{
		{Attribute: "userName", Operator: mapping.OpRegexMatch, Value: `.*@example\.com`},
		{Attribute: "employeeType", Operator: mapping.OpNotEquals, Value: "Intern"},
		{Attribute: "level", Operator: mapping.OpGreaterOrEquals, Value: "1"},
	}}}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	rules, err := mapping.GroupRules{
		{Name: "engineering", Conditions: []mapping.Condition{{Attribute: "department", Operator: mapping.CondEquals, Value: "engineering"}},
			Actions: []mapping.GroupAction{{SetGroup: "Netskope Engineering"}}},
		{Name: "contractors", Conditions: []mapping.Condition{{Attribute: "employeeType", Operator: mapping.CondEquals, Value: "Contractor"}},
			Actions: []mapping.GroupAction{{SetGroup: "Contractors"}}},
		{Name: "seniors", Conditions: []mapping.Condition{{Attribute: "level", Operator: mapping.CondGreaterThan, Value: "4"},
			{Attribute: "jobTitle", Operator: mapping.CondNotContains, Value: "intern"}},
			Actions: []mapping.GroupAction{{SetGroup: "Senior Staff"}}},
		{Name: "eu", Match: mapping.MatchAny, Conditions: []mapping.Condition{
			{Attribute: "country", Operator: mapping.CondEquals, Value: "DE"}, {Attribute: "country", Operator: mapping.CondEquals, Value: "FR"}},
			Actions: []mapping.GroupAction{{SetGroup: "EU Staff"}}},
		{Name: "licenses", Conditions: []mapping.Condition{{Attribute: "licenses", Operator: mapping.CondPresent}},
			Actions: []mapping.GroupAction{{FromAttribute: "licenses", Pattern: `^(E\d)$`}}},
	}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	m := mapping.NewMemberships(dir)
	b.ReportAllocs()
	b.ResetTimer()
	var in, grouped int
	for range b.N {
		in, grouped = 0, 0
		for i := range dir.Users {
			u := &dir.Users[i]
			if !scope.InScope(u, m) {
				continue
			}
			in++
			grouped += len(rules.Groups(u, m))
		}
	}
	b.StopTimer()
	if in == 0 || grouped == 0 {
		b.Fatalf("in scope %d, group memberships %d", in, grouped)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(float64(b.N)*float64(len(dir.Users))), "ns/user")
}
