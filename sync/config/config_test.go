package config_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../examples/config/*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("example configs: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Mapper() == nil || len(cfg.Options()) < 2 {
				t.Fatal("no mapper or options")
			}
			// The mapping runs over a user like every source yields.
			u := source.User{ID: "1", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace",
				Emails: []source.Email{{Value: "ada@example.com", Primary: true}}, State: source.StateActive,
				Attributes: source.NewAttrs(map[string]any{"department": "Engineering", "roles": []string{"Netskope Users"}, "jobTitle": "Engineer"})}
			d, err := cfg.Mapper().Map(context.Background(), &source.Directory{Users: []source.User{u}})
			if err != nil || len(d.Users) != 1 || len(d.Failed) != 0 {
				t.Fatalf("mapping: %v %+v", err, d)
			}
			if got := d.Users[0].User; got.UserName != "ada@example.com" || got.Name == nil || got.Name.GivenName != "Ada" {
				t.Errorf("mapped %+v", got)
			}
		})
	}
	g, _ := config.Load("../../examples/config/google.yaml")
	if time.Duration(g.Policy.DeletedDeleteAfter) != 20*24*time.Hour || g.Policy.Deleted != sync.Deactivate {
		t.Errorf("google policy %+v", g.Policy)
	}
	o, _ := config.Load("../../examples/config/onelogin.yaml")
	d, _ := o.Mapper().Map(context.Background(), &source.Directory{Users: []source.User{{ID: "1", UserName: "a@x.com",
		Emails: []source.Email{{Value: "a@x.com"}}, Attributes: source.NewAttrs(map[string]any{"department": "Engineering", "roles": []string{"Admins"}})}}})
	var names []string
	for _, g := range d.Groups {
		names = append(names, g.Group.DisplayName)
	}
	if strings.Join(names, ",") != "Netskope Engineering,Admins" {
		t.Errorf("onelogin rule groups %v", names)
	}
}

func TestErrorsAreLocated(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown key", "mapping:\n  userz: []\n", []string{"2:", "field userz not found"}},
		{"bad yaml", "mapping: [\n", []string{"config: invalid"}},
		{"bad duration", "policy:\n  deletedDeleteAfter: a week\n", []string{"2:", "a week"}},
		{"bad limit word", "policy:\n  userLimit: {maxCount: lots}\n", []string{"2:14: policy.userLimit", `"lots"`}},
		{"floor is not unlimited", "policy:\n  membershipLimit:\n    floor: unlimited\n", []string{"3:5: policy.membershipLimit", "none"}},
		{"fractional count", "policy:\n  groupLimit: {maxCount: 2.5}\n", []string{"policy.groupLimit", "whole number"}},
		{"negative percent", "policy:\n  groupLimit: {maxPercent: -5}\n", []string{"policy.groupLimit", `"-5"`}},
		{"zero count", "policy:\n  userLimit:\n    maxCount: 0\n", []string{"3:15: policy.userLimit.maxCount", "0 is ambiguous: write unlimited"}},
		{"zero percent", "policy:\n  groupLimit: {maxPercent: 0.0}\n", []string{"2:28: policy.groupLimit.maxPercent", "0 is ambiguous: write unlimited"}},
		{"zero floor", "policy:\n  membershipLimit: {floor: 0}\n", []string{"2:28: policy.membershipLimit.floor", "write none"}},
		{"percent above 100", "policy:\n  userLimit: {maxPercent: 150}\n", []string{"2:27: policy.userLimit.maxPercent", "150% can never be exceeded"}},
		{"every bad bound", "policy:\n  userLimit: {maxCount: 0, maxPercent: 100.5}\n  groupLimit: {maxCount: 0}\n",
			[]string{"2:25: policy.userLimit.maxCount", "2:40: policy.userLimit.maxPercent", "3:26: policy.groupLimit.maxCount"}},
		{"everything else at once", `mapping:
  users:
    - target: userName
      type: expression
      expression: 'Join(",", [a]'
    - target: shoeSize
      type: direct
      source: x
  scope:
    - clauses:
        - {attribute: a, operator: LIKE, value: x}
  groupRules:
    - name: r
      conditions:
        - {attribute: a, operator: matches regex, value: "("}
      actions: [{setGroup: G}]
matching:
  users: [{attribute: ""}]
policy:
  leftScope: vanish
approval: [create, frobnicate]
`, []string{
			"5:33: mapping.users[0].expression", // the column of the mistake inside the expression
			"6:15: mapping.users[1].target", `"shoeSize"`,
			"11:36: mapping.scope[0].clauses[0].operator", `"LIKE"`,
			"15:58: mapping.groupRules[0].conditions[0].value",
			"matching.users[0].attribute",
			"20:3: policy", `"vanish"`,
			"21:11: approval", "frobnicate",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml))
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("%v is not ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestEndToEnd drives the engine from a configuration file into the
// embedded Netskope server: scoping filter, attribute mapping with an
// expression and a create-only attribute, group rules, approval of
// deletes, and a delayed delete.
func TestEndToEnd(t *testing.T) {
	cfg, err := config.Parse([]byte(`
mapping:
  users:
    - {target: userName, type: direct, source: userName}
    - {target: externalId, type: direct, source: id}
    - {target: displayName, type: expression, expression: 'Join(", ", [familyName], [givenName])'}
    - {target: emails, type: direct, source: email}
    - {target: title, type: constant, value: "New hire", apply: create}
    - {target: department, type: direct, source: department, default: Unassigned}
  scope:
    - name: not contractors
      clauses: [{attribute: employeeType, operator: NOT EQUALS, value: Contractor}]
  groupRules:
    - name: engineering
      conditions: [{attribute: department, operator: equals, value: engineering}]
      actions: [{setGroup: Netskope Engineering}]
  skipSourceGroups: true
policy:
  leftScope: deactivate
  leftScopeDeleteAfter: 7d
approval: [delete-user]
`))
	if err != nil {
		t.Fatal(err)
	}
	user := func(id, name, dept, typ string) source.User {
		return source.User{ID: id, UserName: name + "@example.com", GivenName: name, FamilyName: "Example", State: source.StateActive,
			Emails: []source.Email{{Value: name + "@example.com", Primary: true}}, Attributes: source.NewAttrs(map[string]any{"department": dept, "employeeType": typ})}
	}
	dir := &source.Directory{Users: []source.User{
		user("1", "ada", "Engineering", "Employee"), user("2", "bob", "Sales", "Employee"), user("3", "cy", "Engineering", "Contractor"),
	}}
	src := file.FromDirectory(dir)
	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	eng, err := sync.New(src, client, append(cfg.Options(), sync.WithClock(func() time.Time { return now }))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func() *sync.Plan {
		t.Helper()
		p, res, err := eng.Sync(ctx)
		if err != nil || (res != nil && res.Failed > 0) {
			t.Fatalf("run: %v", err)
		}
		return p
	}
	p := run()
	if p.Summary.CreateUsers != 2 || p.Summary.CreateGroups != 1 || ns.UserCount() != 2 {
		t.Fatalf("first run: %+v", p.Summary)
	}
	for _, u := range ns.Users() {
		if u.UserName == "ada@example.com" && (u.DisplayName != "Example, ada" || u.Title != "New hire" || u.Enterprise == nil || u.Enterprise.Department != "Engineering") {
			t.Errorf("ada in Netskope: %+v", u)
		}
	}
	if p := run(); !p.Empty() {
		t.Fatalf("second run: %+v", p.Summary)
	}

	// Bob leaves scope: deactivated now; the delete after 7 days waits
	// for approval.
	dir.Users[1].Attributes = dir.Users[1].Attributes.With("employeeType", "Contractor")
	src.Set(dir)
	if p := run(); p.Summary.DeactivateUsers != 1 {
		var b strings.Builder
		_ = p.Render(&b, 0)
		t.Fatalf("leaving scope: %+v\n%s", p.Summary, b.String())
	}
	now = now.Add(8 * 24 * time.Hour)
	p = run()
	if len(p.Changes) != 0 || len(p.Held) != 1 || p.Held[0].Change.Action != sync.ActionDeleteUser {
		t.Fatalf("after 8 days: %d changes, held %+v", len(p.Changes), p.Held)
	}
	if err := eng.Approve(ctx, p.Held[0].ID); err != nil {
		t.Fatal(err)
	}
	if p := run(); p.Summary.DeleteUsers != 1 || ns.UserCount() != 1 {
		t.Fatalf("after approval: %+v, %d users", p.Summary, ns.UserCount())
	}
	var _ mapping.Mapper = cfg.Mapper()

	// Show Affected Users for the rule, through the engine.
	aff, err := eng.AffectedUsers(ctx, 0)
	if err != nil || len(aff) != 1 || aff[0].UserName != "ada@example.com" || aff[0].Groups[0] != "Netskope Engineering" {
		t.Fatalf("affected users: %+v %v", aff, err)
	}
}

// TestReadmeExample keeps the README's configuration example valid.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the README")
	}
	if _, err := config.Parse([]byte(block)); err != nil {
		t.Fatalf("the README's example does not parse: %v", err)
	}
}

// TestManagerResolved maps the manager from the source's managerId: the
// engine writes the manager's Netskope id, once the manager exists there.
func TestManagerResolved(t *testing.T) {
	cfg, err := config.Parse([]byte(`
mapping:
  users:
    - {target: userName, type: direct, source: userName}
    - {target: externalId, type: direct, source: id}
    - {target: manager, type: direct, source: managerId}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := &source.Directory{Users: []source.User{
		{ID: "boss", UserName: "boss@example.com", State: source.StateActive},
		{ID: "emp", UserName: "emp@example.com", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{"managerId": "boss"})},
	}}
	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sync.New(file.FromDirectory(dir), client, cfg.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		p, _, err := eng.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && p.Summary.UpdateUsers != 1 {
			t.Errorf("second run: %+v, want the manager set", p.Summary)
		}
		if i == 2 && !p.Empty() {
			t.Errorf("third run: %+v, want nothing", p.Summary)
		}
	}
	var bossID, got string
	for _, u := range ns.Users() {
		if u.UserName == "boss@example.com" {
			bossID = u.ID
		}
		if u.UserName == "emp@example.com" && u.Enterprise != nil && u.Enterprise.Manager != nil {
			got = u.Enterprise.Manager.Value
		}
	}
	if got == "" || got != bossID {
		t.Fatalf("emp's manager %q, want boss's Netskope id %q", got, bossID)
	}
}

func TestLimits(t *testing.T) {
	def := sync.DefaultLimit()
	tests := []struct {
		name string
		yaml string
		want sync.Policy
	}{
		{"left out keeps the defaults", "policy: {}\n", sync.DefaultPolicy()},
		{"one key changes one bound", "policy:\n  userLimit: {maxCount: 50}\n",
			func() sync.Policy { p := sync.DefaultPolicy(); p.UserLimit.MaxCount = 50; return p }()},
		{"words lift bounds", "policy:\n  membershipLimit: {maxCount: unlimited, maxPercent: Unlimited, floor: none}\n",
			func() sync.Policy {
				p := sync.DefaultPolicy()
				p.MembershipLimit = sync.Limit{MaxCount: sync.Unlimited, MaxPercent: sync.Unlimited, Floor: sync.NoFloor}
				return p
			}()},
		{"numbers", "policy:\n  groupLimit:\n    maxCount: 7\n    maxPercent: 12.5\n",
			func() sync.Policy {
				p := sync.DefaultPolicy()
				p.GroupLimit = sync.Limit{MaxCount: 7, MaxPercent: 12.5, Floor: def.Floor}
				return p
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := c.Policy
			for _, l := range []sync.Limit{got.UserLimit, got.GroupLimit, got.MembershipLimit} {
				if l == (sync.Limit{}) {
					t.Errorf("a limit came out zero: %+v", got)
				}
			}
			if got.UserLimit != tt.want.UserLimit || got.GroupLimit != tt.want.GroupLimit || got.MembershipLimit != tt.want.MembershipLimit {
				t.Errorf("limits = %+v %+v %+v, want %+v %+v %+v (default %+v)", got.UserLimit, got.GroupLimit, got.MembershipLimit,
					tt.want.UserLimit, tt.want.GroupLimit, tt.want.MembershipLimit, def)
			}
		})
	}
}

func TestAdoptSuspended(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want bool
	}{{"policy: {}\n", false}, {"policy:\n  adoptSuspended: true\n", true}} {
		c, err := config.Parse([]byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if c.Policy.AdoptSuspended != tt.want || !c.Policy.Adopt {
			t.Errorf("%q: adopt=%v adoptSuspended=%v, want true and %v", tt.yaml, c.Policy.Adopt, c.Policy.AdoptSuspended, tt.want)
		}
	}
}
