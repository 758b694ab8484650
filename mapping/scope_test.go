package mapping_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

func scoped(t *testing.T, s mapping.Scope, u *source.User, m mapping.Memberships) bool {
	t.Helper()
	c, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c.InScope(u, m)
}

func TestScopeOperators(t *testing.T) {
	u := &source.User{ID: "u1", UserName: "ada@contoso.com", State: source.StateActive, Attributes: map[string]any{
		"department": "Sales", "level": int64(5), "vip": true, "remote": "False", "roles": []string{"admin", "user"},
		"hired": time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), "empty": "",
	}}
	mem := mapping.DirectoryMemberships{"u1": {"g-1": true, "engineering": true}}
	tests := []struct {
		attr, op, value string
		want            bool
	}{
		{"department", "EQUALS", "Sales", true},
		{"department", "EQUALS", "sales", false}, // case-sensitive, as Entra
		{"department", "NOT EQUALS", "Ops", true},
		{"department", "NOT EQUALS", "Sales", false},
		{"missing", "NOT EQUALS", "x", true},
		{"vip", "IS TRUE", "", true},
		{"vip", "IS FALSE", "", false},
		{"remote", "IS FALSE", "", true},
		{"department", "IS TRUE", "", false},
		{"missing", "IS NULL", "", true},
		{"empty", "IS NULL", "", true},
		{"department", "IS NULL", "", false},
		{"department", "IS NOT NULL", "", true},
		{"missing", "IS NOT NULL", "", false},
		{"userName", "REGEX MATCH", `@contoso\.com$`, true},
		{"userName", "REGEX MATCH", `^bob`, false},
		{"userName", "NOT REGEX MATCH", `^bob`, true},
		{"missing", "NOT REGEX MATCH", `x`, true},
		{"level", "Greater_Than", "4", true},
		{"level", "Greater_Than", "5", false},
		{"level", "Greater_Than_OR_EQUALS", "5", true},
		{"level", "Less_Than", "5", false},
		{"level", "Less_Than_OR_EQUALS", "5", true},
		{"department", "Greater_Than", "1", false}, // not a number
		{"department", "Includes", "ale", true},
		{"department", "Includes", "ALE", false},
		{"roles", "EQUALS", "admin", true}, // any value of a list
		{"roles", "NOT EQUALS", "admin", false},
		{"roles", "Includes", "use", true},
		{"vip", "EQUALS", "True", true},
		{"hired", "EQUALS", "2020-01-02T00:00:00Z", true},
		{"", "IS MEMBER OF", "g-1", true},
		{"", "IS MEMBER OF", "Engineering", true}, // by display name, any case
		{"", "IS MEMBER OF", "g-2", false},
		{"", "IS NOT MEMBER OF", "g-2", true},
		{"", "IS NOT MEMBER OF", "g-1", false},
		{"active", "IS TRUE", "", true},
		{"department", "not_equals", "Ops", true}, // spelling variants
		{"level", "greater than", "1", true},
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

func TestScopeAndOr(t *testing.T) {
	u := &source.User{ID: "u", Attributes: map[string]any{"department": "Sales", "country": "FR"}}
	c := func(a, v string) mapping.Clause { return mapping.Clause{Attribute: a, Operator: mapping.OpEquals, Value: v} }
	tests := []struct {
		name  string
		scope mapping.Scope
		want  bool
	}{
		{"empty scope: everyone", nil, true},
		{"clauses ANDed", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Sales"), c("country", "DE")}}}, false},
		{"filters ORed", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Ops")}}, {Clauses: []mapping.Clause{c("country", "FR")}}}, true},
		{"both clauses", mapping.Scope{{Clauses: []mapping.Clause{c("department", "Sales"), c("country", "FR")}}}, true},
	}
	for _, tt := range tests {
		if got := scoped(t, tt.scope, u, nil); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
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
		}},
		{Name: "empty"},
	}
	_, err := s.Compile()
	if !errors.Is(err, mapping.ErrInvalidRule) {
		t.Fatalf("%v is not ErrInvalidRule", err)
	}
	for _, w := range []string{`[0].clauses[0].operator`, `"LIKE"`, `[0].clauses[1].value`, `[0].clauses[2].value`, `"ten"`,
		`[0].clauses[3].attribute`, `[0].clauses[4].value`, `[1].clauses`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if _, err := mapping.ParseOperator("GREATER_THAN_OR_EQUALS"); err != nil {
		t.Error(err)
	}
}
