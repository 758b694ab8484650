package mapping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

// attrPool are the custom attributes the random directories draw from,
// each with its values: strings, numbers, booleans, times and
// multi-valued lists. The rules below read some of them; the others
// ("nickname", "badge", "shoeSize") are never read.
var attrPool = []struct {
	name string
	gen  func(r *rand.Rand) any
}{
	{"department", pick("Engineering", "engineering", "Sales", "Support", "")},
	{"costCenter", pick("CC-1", "CC-2", "CC-3")},
	{"employeeType", pick("Employee", "Contractor", "Intern")},
	{"level", func(r *rand.Rand) any { return int64(r.IntN(8)) }},
	{"ratio", func(r *rand.Rand) any { return float64(r.IntN(4)) / 2 }},
	{"mfa", func(r *rand.Rand) any { return r.IntN(2) == 0 }},
	{"licenses", func(r *rand.Rand) any {
		var l []string
		for _, e := range []string{"E1", "E3", "E5", "F1"} {
			if r.IntN(2) == 0 {
				l = append(l, e)
			}
		}
		return l
	}},
	{"memberOf", pick("VPN;Wiki", "Wiki", "VPN; Admins", "")},
	{"hired", func(r *rand.Rand) any { return time.Date(2010+r.IntN(10), 3, 1+r.IntN(20), 0, 0, 0, 0, time.UTC) }},
	{"status", pick("on", "off")},
	{"office", pick("Berlin", "Paris", "Kyiv")},
	{"nickname", pick("Bo", "Al")},
	{"badge", pick("B1", "B2")},
	{"shoeSize", func(r *rand.Rand) any { return int64(36 + r.IntN(10)) }},
}

// pick returns a generator of one of vals.
func pick(vals ...string) func(r *rand.Rand) any {
	return func(r *rand.Rand) any { return vals[r.IntN(len(vals))] }
}

// spellings are ways a name may be written that the mapping's lookups
// take for it: as is, upper and lower case, and with a long s (ſ) or a
// Kelvin sign (K) where the name has an s or a k, which fold to them.
func spellings(name string) []string {
	out := []string{name, strings.ToUpper(name), strings.ToLower(name)}
	if strings.ContainsRune(name, 's') {
		out = append(out, strings.Replace(name, "s", "ſ", 1))
	}
	if strings.ContainsRune(strings.ToLower(name), 'k') {
		out = append(out, strings.Replace(strings.ToLower(name), "k", "\u212a", 1))
	}
	return out
}

// spelled returns one of name's spellings.
func spelled(r *rand.Rand, name string) string {
	s := spellings(name)
	return s[r.IntN(len(s))]
}

// randomDirectory returns a directory of n users whose attributes are
// drawn from attrPool, each under a random spelling, and of groups that
// have attributes of their own.
func randomDirectory(r *rand.Rand, n int) *source.Directory {
	dir := &source.Directory{}
	states := []source.State{source.StateActive, source.StateActive, source.StateSuspended, source.StateDeleted}
	for i := range n {
		u := source.User{ID: fmt.Sprintf("u%d", i), State: states[r.IntN(len(states))]}
		if r.IntN(10) > 0 {
			u.UserName = fmt.Sprintf("user%d@example.com", i)
		}
		if r.IntN(2) == 0 {
			u.Emails = []source.Email{{Value: fmt.Sprintf("u%d@mail.example.com", i), Primary: true}}
		}
		if r.IntN(3) > 0 {
			u.GivenName, u.FamilyName = "Given", fmt.Sprintf("Family%d", i)
		}
		attrs := map[string]any{}
		for _, a := range attrPool {
			if r.IntN(10) < 7 {
				attrs[spelled(r, a.name)] = a.gen(r)
			}
		}
		u.Attributes = source.NewAttrs(attrs)
		dir.Users = append(dir.Users, u)
	}
	for i, name := range []string{"VPN", "Wiki", "Engineering", "Admins"} {
		g := source.Group{ID: fmt.Sprintf("g%d", i), DisplayName: name, Attributes: source.NewAttrs(map[string]any{
			spelled(r, "department"): "Engineering", "type": "security", spelled(r, "costCenter"): "CC-9"})}
		for k := range dir.Users {
			if r.IntN(3) == 0 {
				g.Members = append(g.Members, dir.Users[k].ID)
			}
		}
		dir.Groups = append(dir.Groups, g)
	}
	return dir
}

// ruleCase is one configuration and the entitlements it is mapped with.
type ruleCase struct {
	name  string
	rules mapping.Rules
	ent   []string
	reads []string // the names SourceAttributes must list, ignoring case and order
}

// ruleCases are configurations using each kind of rule that reads
// attributes, with names spelled otherwise than the directories do.
func ruleCases() []ruleCase {
	withDefaults := func(rows ...mapping.AttributeMapping) []mapping.AttributeMapping {
		return append(mapping.DefaultUserMappings(), rows...)
	}
	return []ruleCase{
		{name: "default mappings", rules: mapping.Rules{}},
		{name: "direct and constant", rules: mapping.Rules{Users: withDefaults(
			mapping.AttributeMapping{Target: "department", Type: mapping.Direct, Source: "DEPARTMENT"},
			mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "employeetype", Default: "staff"},
			mapping.AttributeMapping{Target: "employeeNumber", Type: mapping.Direct, Source: "Level", Apply: mapping.OnCreate},
			mapping.AttributeMapping{Target: "costCenter", Type: mapping.Constant, Value: "CC-0"},
		)}, reads: []string{"department", "employeeType", "level"}},
		{name: "expressions", rules: mapping.Rules{Users: []mapping.AttributeMapping{
			{Target: "userName", Type: mapping.Expression, Expression: `Coalesce([userName], Join("@", [OFFICE], "example.com"))`},
			{Target: "displayName", Type: mapping.Expression, Expression: `Join(" ", [givenName], Item([LICENSES], 1), [costcenter])`},
			{Target: "title", Type: mapping.Expression, Expression: `IIF([mfa] = "True", Switch([EmployeeType], "other", "Contractor", "c", "Intern", "i"), CStr([Ratio]))`},
			{Target: "department", Type: mapping.Expression, Expression: `Replace([department], , "(?<d>[A-Z]\w+)", "d", , [memberof], )`},
			{Target: "employeeNumber", Type: mapping.Expression, Expression: `IgnoreFlowIfNullOrEmpty(Join(",", RemoveDuplicates(Split([MemberOf], ";")), FormatDateTime([hired], , "yyyy-MM-dd", "yyyy")))`},
			{Target: "costCenter", Type: mapping.Expression, Expression: `Coalesce([sTatus], [Level])`, Default: "none"},
		}}, reads: []string{"office", "licenses", "costCenter", "mfa", "employeeType", "ratio", "department", "memberOf", "hired", "status", "level"}},
		{name: "active from an attribute", rules: mapping.Rules{Users: withDefaults(
			mapping.AttributeMapping{Target: "active", Type: mapping.Expression, Expression: `IIF(IsPresent([Status]), [status] = "on", CBool([MFA]))`},
		)}, reads: []string{"status", "mfa"}},
		{name: "scope", rules: mapping.Rules{Scope: mapping.Scope{
			{Name: "engineers", Clauses: []mapping.Clause{
				{Attribute: "Department", Operator: mapping.OpEquals, Value: "Engineering"},
				{Attribute: "LEVEL", Operator: mapping.OpGreaterThan, Value: "2"},
				{Operator: mapping.OpIsMemberOf, Value: "VPN"},
			}},
			{Name: "licensed", Clauses: []mapping.Clause{
				{Attribute: "licenses", Operator: mapping.OpRegexMatch, Value: "E[35]"},
				{Attribute: "status", Operator: mapping.OpIsNull},
				{Attribute: "hired", Operator: mapping.OpIncludes, Value: "2015"},
			}},
			{Name: "flags", Clauses: []mapping.Clause{
				{Attribute: "mfa", Operator: mapping.OpIsTrue},
				{Attribute: "ratio", Operator: mapping.OpNotEquals, Value: "1"},
				{Operator: mapping.OpIsNotMemberOf, Value: "Admins"},
			}},
		}}, reads: []string{"department", "level", "licenses", "status", "hired", "mfa", "ratio"}},
		{name: "group rules", rules: mapping.Rules{GroupRules: mapping.GroupRules{
			{Name: "contractors", Conditions: []mapping.Condition{{Attribute: "EmployeeType", Operator: mapping.CondEquals, Value: "contractor"}},
				Actions: []mapping.GroupAction{{SetGroup: "Contractors"}}},
			{Name: "seniors", Match: mapping.MatchAny, Conditions: []mapping.Condition{
				{Attribute: "level", Operator: mapping.CondGreaterThan, Value: "5"},
				{Attribute: "memberof", Operator: mapping.CondIncludes, Value: "admins"},
				{Operator: mapping.CondMemberOf, Value: "Wiki"}},
				Actions: []mapping.GroupAction{{SetGroup: "Seniors"}, {FromAttribute: "LICENSES", Pattern: `^(E\d)$`}}},
			{Name: "teams", Conditions: []mapping.Condition{{Attribute: "ratio", Operator: mapping.CondNotPresent}},
				Actions: []mapping.GroupAction{{FromAttribute: "MemberOf", Delimiter: ";"}}, Replace: true},
			{Name: "offices", Conditions: []mapping.Condition{{Attribute: "Office", Operator: mapping.CondStartsWith, Value: "b"}},
				Actions: []mapping.GroupAction{{FromAttribute: "office"}}, Stop: true},
			{Name: "hired", Conditions: []mapping.Condition{{Attribute: "hired", Operator: mapping.CondMatches, Value: "^201[0-4]"}},
				Actions: []mapping.GroupAction{{SetGroup: "Veterans"}}},
			{Name: "off", Disabled: true, Conditions: []mapping.Condition{{Attribute: "badge", Operator: mapping.CondPresent}},
				Actions: []mapping.GroupAction{{FromAttribute: "nickname"}}},
		}}, reads: []string{"employeeType", "level", "memberOf", "licenses", "ratio", "office", "hired"}},
		{name: "everything, rule groups only, existing groups only", rules: mapping.Rules{
			Users: withDefaults(mapping.AttributeMapping{Target: "department", Type: mapping.Expression, Expression: `ToUpper([department])`}),
			Scope: mapping.Scope{{Clauses: []mapping.Clause{{Attribute: "STATUS", Operator: mapping.OpNotRegexMatch, Value: "off"}}}},
			GroupRules: mapping.GroupRules{{Name: "lic", Actions: []mapping.GroupAction{{FromAttribute: "licenses"}}},
				{Name: "cc", Conditions: []mapping.Condition{{Attribute: "costcenter", Operator: mapping.CondEndsWith, Value: "-2"}},
					Actions: []mapping.GroupAction{{SetGroup: "CC Two"}}}},
			SkipSourceGroups: true, ExistingGroupsOnly: true,
		}, ent: []string{"e3", "E5", "cc two"}, reads: []string{"department", "status", "licenses", "costCenter"}},
	}
}

// randomRules returns a configuration made of random rows, clauses and
// group rules, each naming a random attribute of attrPool or a built-in
// one, in a random spelling.
func randomRules(r *rand.Rand) mapping.Rules {
	attr := func() string {
		if r.IntN(6) == 0 {
			return []string{"userName", "email", "givenName", "id"}[r.IntN(4)]
		}
		return spelled(r, attrPool[r.IntN(len(attrPool))].name)
	}
	rules := mapping.Rules{Users: mapping.DefaultUserMappings()}
	for _, target := range []string{"department", "title", "employeeNumber", "costCenter", "division", "organization"} {
		switch r.IntN(4) {
		case 0:
			rules.Users = append(rules.Users, mapping.AttributeMapping{Target: target, Type: mapping.Direct, Source: attr(), Default: "d"})
		case 1:
			e := []string{`Coalesce([%s], [%s])`, `Join("-", [%s], Item([%s], 2))`, `IIF(IsNullOrEmpty([%s]), "x", CStr([%s]))`,
				`Replace([%s], , "(?<n>\d+)", "n", , [%s], )`, `Switch([%s], "none", "Sales", [%s])`}[r.IntN(5)]
			rules.Users = append(rules.Users, mapping.AttributeMapping{Target: target, Type: mapping.Expression,
				Expression: fmt.Sprintf(e, attr(), attr())})
		case 2:
			rules.Users = append(rules.Users, mapping.AttributeMapping{Target: target, Type: mapping.Constant, Value: "c"})
		}
	}
	scopeOps := []mapping.Operator{mapping.OpEquals, mapping.OpNotEquals, mapping.OpIsTrue, mapping.OpIsNull, mapping.OpIsNotNull,
		mapping.OpRegexMatch, mapping.OpGreaterOrEquals, mapping.OpIncludes, mapping.OpEndsWith, mapping.OpIsMemberOf}
	for range r.IntN(3) {
		var f mapping.ScopingFilter
		for range 1 + r.IntN(3) {
			op := scopeOps[r.IntN(len(scopeOps))]
			f.Clauses = append(f.Clauses, mapping.Clause{Attribute: attr(), Operator: op,
				Value: map[mapping.Operator]string{mapping.OpRegexMatch: "E.*|.*n.*", mapping.OpGreaterOrEquals: "3",
					mapping.OpIsMemberOf: "VPN", mapping.OpEndsWith: "s"}[op] + map[bool]string{true: "Sales"}[op == mapping.OpEquals || op == mapping.OpNotEquals || op == mapping.OpIncludes]})
		}
		rules.Scope = append(rules.Scope, f)
	}
	condOps := []mapping.CondOperator{mapping.CondEquals, mapping.CondNotEquals, mapping.CondContains, mapping.CondGreaterThan,
		mapping.CondPresent, mapping.CondNotPresent, mapping.CondIncludes, mapping.CondMemberOf, mapping.CondMatches}
	for i := range r.IntN(4) {
		g := mapping.GroupRule{Name: fmt.Sprintf("r%d", i), Replace: r.IntN(5) == 0, Stop: r.IntN(5) == 0, Disabled: r.IntN(6) == 0}
		if r.IntN(2) == 0 {
			g.Match = mapping.MatchAny
		}
		for range r.IntN(3) {
			op := condOps[r.IntN(len(condOps))]
			val := map[mapping.CondOperator]string{mapping.CondGreaterThan: "3", mapping.CondMemberOf: "wiki", mapping.CondMatches: "^[EC]"}[op]
			if val == "" && op != mapping.CondPresent && op != mapping.CondNotPresent {
				val = "e"
			}
			g.Conditions = append(g.Conditions, mapping.Condition{Attribute: attr(), Operator: op, Value: val})
		}
		if r.IntN(2) == 0 {
			g.Actions = append(g.Actions, mapping.GroupAction{SetGroup: fmt.Sprintf("Set %d", i)})
		} else {
			g.Actions = append(g.Actions, mapping.GroupAction{FromAttribute: attr(), Pattern: []string{"", "^(\\w)"}[r.IntN(2)]})
		}
		rules.GroupRules = append(rules.GroupRules, g)
	}
	rules.SkipSourceGroups = r.IntN(4) == 0
	return rules
}

// selections are the ways a read keeps the attributes named: the
// encoded directory's selecting decode, and a filter comparing names
// with strings.EqualFold, as the mapping's lookups do.
var selections = []struct {
	name string
	read func(t *testing.T, enc []byte, names []string) *source.Directory
}{
	{"ReadAttributesFrom", func(t *testing.T, enc []byte, names []string) *source.Directory {
		var d source.Directory
		if _, err := d.ReadAttributesFrom(bytes.NewReader(enc), names); err != nil {
			t.Fatal(err)
		}
		return &d
	}},
	{"EqualFold", func(t *testing.T, enc []byte, names []string) *source.Directory {
		d := decodeWhole(t, enc)
		only := func(a source.Attrs) source.Attrs {
			kept := map[string]any{}
			for k, v := range a.All() {
				if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, k) }) {
					kept[k] = v
				}
			}
			return source.NewAttrs(kept)
		}
		for i := range d.Users {
			d.Users[i].Attributes = only(d.Users[i].Attributes)
		}
		for i := range d.Groups {
			d.Groups[i].Attributes = only(d.Groups[i].Attributes)
		}
		return d
	}},
}

func decodeWhole(t *testing.T, enc []byte) *source.Directory {
	t.Helper()
	var d source.Directory
	if _, err := d.ReadFrom(bytes.NewReader(enc)); err != nil {
		t.Fatal(err)
	}
	return &d
}

// mapDir maps dir with m and the entitlements ent, as JSON (errors
// included as text) to compare and show.
func mapDir(t *testing.T, m *mapping.RuleMapper, dir *source.Directory, ent []string) string {
	t.Helper()
	d, err := m.MapWith(context.Background(), dir, mapping.Entitlements{Groups: ent})
	if err != nil {
		t.Fatal(err)
	}
	failed := make([]string, len(d.Failed))
	for i, f := range d.Failed {
		failed[i] = f.Error()
	}
	b, err := json.Marshal(struct {
		*mapping.Desired
		FailedText []string
	}{d, failed})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameMapping checks that m maps each directory encoded in encs, and
// the same with its objects' attributes cut to m.SourceAttributes(),
// alike; it returns how many attributes the cuts dropped and kept.
func sameMapping(t *testing.T, m *mapping.RuleMapper, ent []string, encs [][]byte) (dropped, kept int) {
	t.Helper()
	names, known := m.SourceAttributes()
	if !known {
		t.Fatal("the rules say they cannot tell which attributes they read")
	}
	for k, enc := range encs {
		whole := decodeWhole(t, enc)
		want := mapDir(t, m, whole, ent)
		for _, sel := range selections {
			cut := sel.read(t, enc, names)
			for i := range whole.Users {
				n, c := whole.Users[i].Attributes.Len(), cut.Users[i].Attributes.Len()
				dropped, kept = dropped+n-c, kept+c
			}
			for i := range whole.Groups {
				dropped += whole.Groups[i].Attributes.Len() - cut.Groups[i].Attributes.Len()
			}
			if got := mapDir(t, m, cut, ent); got != want {
				t.Errorf("directory %d cut by %s to %q maps otherwise than whole:\n got %s\nwant %s", k, sel.name, names, got, want)
			}
		}
	}
	return dropped, kept
}

// encodedDirectories returns n random directories, encoded.
func encodedDirectories(t *testing.T, r *rand.Rand, n, users int) [][]byte {
	var encs [][]byte
	for range n {
		dir := randomDirectory(r, users)
		if err := dir.Validate(); err != nil {
			t.Fatal(err)
		}
		enc, err := dir.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		encs = append(encs, enc)
	}
	return encs
}

// TestRuleMapperSourceAttributes: for every kind of rule, a directory
// whose objects hold only the attributes RuleMapper.SourceAttributes
// names (kept ignoring case, by ReadAttributesFrom and by EqualFold)
// maps exactly as the whole directory does; the names are those the
// configuration reads, and each matters: cut it too and some directory
// maps otherwise, so a name the collection missed would fail the test.
func TestRuleMapperSourceAttributes(t *testing.T) {
	r := rand.New(rand.NewPCG(20261202, 1))
	encs := encodedDirectories(t, r, 6, 120)
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.rules.Compile()
			if err != nil {
				t.Fatal(err)
			}
			names, _ := m.SourceAttributes()
			lower := func(s []string) []string {
				out := make([]string, len(s))
				for i, n := range s {
					out[i] = strings.ToLower(n)
				}
				slices.Sort(out)
				return out
			}
			if got, want := lower(names), lower(tc.reads); !slices.Equal(got, want) {
				t.Errorf("SourceAttributes() = %q; want %q, ignoring case and order", names, tc.reads)
			}
			dropped, kept := sameMapping(t, m, tc.ent, encs)
			if dropped == 0 || (len(names) > 0 && kept == 0) {
				t.Errorf("the cuts dropped %d attributes and kept %d; the test needs both", dropped, kept)
			}
			// Each name matters: without it, some directory maps otherwise.
			for i, n := range names {
				fewer := slices.Delete(slices.Clone(names), i, i+1)
				differs := false
				for _, enc := range encs {
					want := mapDir(t, m, decodeWhole(t, enc), tc.ent)
					if mapDir(t, m, selections[0].read(t, enc, fewer), tc.ent) != want {
						differs = true
						break
					}
				}
				if !differs {
					t.Errorf("cutting %q as well changes no mapping: the test could not tell it was missing", n)
				}
			}
		})
	}
}

// TestRuleMapperSourceAttributesRandom is TestRuleMapperSourceAttributes
// over random configurations (a fixed seed) and random directories.
func TestRuleMapperSourceAttributesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(20261202, 2))
	encs := encodedDirectories(t, r, 3, 80)
	var dropped, kept int
	for i := range 150 {
		rules := randomRules(r)
		m, err := rules.Compile()
		if err != nil {
			t.Fatalf("configuration %d: %v", i, err)
		}
		d, k := sameMapping(t, m, nil, encs)
		dropped, kept = dropped+d, kept+k
		if t.Failed() {
			b, _ := json.Marshal(rules)
			t.Fatalf("configuration %d: %s", i, b)
		}
	}
	if dropped == 0 || kept == 0 {
		t.Errorf("the cuts dropped %d attributes and kept %d; the test needs both", dropped, kept)
	}
}

// TestRuleMapperSourceAttributesFold: names are told apart as a
// selecting read tells them apart (strings.EqualFold, source.FoldName):
// "İ" and "i" lower alike but are not equal ignoring case, so both are
// listed (listing one only would drop the other from the read), while
// "ſn" and "SN" are one name.
func TestRuleMapperSourceAttributesFold(t *testing.T) {
	m, err := mapping.Rules{Users: append(mapping.DefaultUserMappings(),
		mapping.AttributeMapping{Target: "department", Type: mapping.Direct, Source: "\u0130"},
		mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "i"},
		mapping.AttributeMapping{Target: "employeeNumber", Type: mapping.Direct, Source: "\u017fn"},
		mapping.AttributeMapping{Target: "costCenter", Type: mapping.Direct, Source: "SN"},
	)}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	names, known := m.SourceAttributes()
	if want := []string{"\u0130", "i", "\u017fn"}; !known || !slices.Equal(names, want) {
		t.Errorf("SourceAttributes() = %q, %v; want %q, true", names, known, want)
	}
}
