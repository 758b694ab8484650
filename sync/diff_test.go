package sync

import (
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

func du(src, userName, given string) mapping.DesiredUser {
	return mapping.DesiredUser{SourceID: src, User: scim.User{
		ExternalID: src, UserName: userName, DisplayName: given + " X",
		Name: &scim.Name{GivenName: given, FamilyName: "X"}, Active: scim.Bool(true),
		Emails: []scim.Email{{Value: userName, Type: "work", Primary: true}},
	}}
}

func observed(id string, d mapping.DesiredUser) scim.User {
	u := d.User
	u.ID = id
	return u
}

func linked(users map[string]string) *Snapshot {
	s := NewSnapshot()
	for src, id := range users {
		s.Users[src] = Link{TargetID: id, Origin: OriginCreated}
	}
	return s
}

func actions(p *Plan) string {
	var parts []string
	for _, c := range p.Changes {
		parts = append(parts, string(c.Action)+":"+c.Object.Key)
	}
	return strings.Join(parts, " ")
}

func TestComputePlanUsers(t *testing.T) {
	ada, bob := du("s1", "ada@x.io", "Ada"), du("s2", "bob@x.io", "Bob")
	renamed := du("s1", "ada.l@x.io", "Ada")
	suspended := ada
	suspended.Event = mapping.EventSuspended
	deleted := ada
	deleted.Event = mapping.EventDeleted
	foreign := scim.User{ID: "t9", UserName: "carol@x.io", Active: scim.Bool(true)}
	inactive := observed("t1", ada)
	inactive.Active = scim.Bool(false)

	tests := []struct {
		name     string
		desired  []mapping.DesiredUser
		obs      []scim.User
		links    map[string]string
		policy   func(*Policy)
		complete bool
		want     string
		problems int
	}{
		{name: "create new", desired: []mapping.DesiredUser{ada}, complete: true, want: "create-user:ada@x.io"},
		{name: "unchanged", desired: []mapping.DesiredUser{ada}, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, complete: true, want: ""},
		{name: "rename is an update", desired: []mapping.DesiredUser{renamed}, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, complete: true, want: "update-user:ada.l@x.io"},
		{name: "left scope deactivates", desired: []mapping.DesiredUser{bob},
			obs: []scim.User{observed("t1", ada), observed("t2", bob)}, links: map[string]string{"s1": "t1", "s2": "t2"},
			complete: true, want: "deactivate-user:ada@x.io"},
		{name: "left scope already inactive", desired: nil, obs: []scim.User{inactive},
			links: map[string]string{"s1": "t1"}, complete: true, want: ""},
		{name: "left scope delete by policy", desired: nil, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, policy: func(p *Policy) { p.LeftScope = Delete }, complete: true,
			want: "delete-user:ada@x.io"},
		{name: "left scope ignored by policy", desired: nil, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, policy: func(p *Policy) { p.LeftScope = Ignore }, complete: true, want: ""},
		{name: "incomplete read deprovisions nothing", desired: nil, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, complete: false, want: ""},
		{name: "foreign user never touched", desired: []mapping.DesiredUser{ada}, obs: []scim.User{foreign},
			complete: true, want: "create-user:ada@x.io"},
		{name: "suspended deactivates", desired: []mapping.DesiredUser{suspended}, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, complete: true, want: "deactivate-user:ada@x.io"},
		{name: "deleted deletes by policy", desired: []mapping.DesiredUser{deleted}, obs: []scim.User{observed("t1", ada)},
			links: map[string]string{"s1": "t1"}, policy: func(p *Policy) { p.Deleted = Delete }, complete: true,
			want: "delete-user:ada@x.io"},
		{name: "suspended and absent is not created", desired: []mapping.DesiredUser{suspended}, complete: true, want: ""},
		{name: "adopt by userName", desired: []mapping.DesiredUser{ada},
			obs: []scim.User{{ID: "t1", UserName: "ADA@x.io", Active: scim.Bool(true)}}, complete: true,
			want: "update-user:ada@x.io"},
		{name: "no adoption when off", desired: []mapping.DesiredUser{ada},
			obs: []scim.User{{ID: "t1", UserName: "ada@x.io"}}, policy: func(p *Policy) { p.Adopt = false },
			complete: true, want: "", problems: 1},
		{name: "ambiguous match refused", desired: []mapping.DesiredUser{ada},
			obs: []scim.User{{ID: "t1", UserName: "ada@x.io"}, {ID: "t2", UserName: "Ada@X.io"}}, complete: true,
			want: "", problems: 1},
		{name: "two sources one target refused", desired: []mapping.DesiredUser{ada, func() mapping.DesiredUser {
			d := du("s3", "ada@x.io", "Other")
			return d
		}()}, obs: []scim.User{{ID: "t1", UserName: "ada@x.io"}}, complete: true, want: "", problems: 2},
		{name: "account of a departed user is not handed over", desired: []mapping.DesiredUser{du("s7", "ada@x.io", "New")},
			obs: []scim.User{observed("t1", ada)}, links: map[string]string{"s1": "t1"}, complete: true,
			want: "deactivate-user:ada@x.io", problems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := DefaultPolicy()
			if tt.policy != nil {
				tt.policy(&pol)
			}
			p, err := computePlan(planInput{
				desired: &mapping.Desired{Users: tt.desired}, users: tt.obs, snap: linked(tt.links), policy: pol,
				userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(), complete: tt.complete,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(p); got != tt.want {
				t.Errorf("changes = %q, want %q", got, tt.want)
			}
			if len(p.Problems) != tt.problems {
				t.Errorf("problems = %+v, want %d", p.Problems, tt.problems)
			}
		})
	}
}

func TestRenameCarriesAttributeChanges(t *testing.T) {
	ada := du("s1", "ada@x.io", "Ada")
	renamed := du("s1", "ada.l@x.io", "Adah")
	p, err := computePlan(planInput{
		desired: &mapping.Desired{Users: []mapping.DesiredUser{renamed}}, users: []scim.User{observed("t1", ada)},
		snap: linked(map[string]string{"s1": "t1"}), policy: DefaultPolicy(),
		userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(), complete: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 {
		t.Fatalf("changes: %s", actions(p))
	}
	got := map[string][2]any{}
	for _, a := range p.Changes[0].Attributes {
		got[a.Path] = [2]any{a.Before, a.After}
	}
	if got["userName"] != [2]any{"ada@x.io", "ada.l@x.io"} || got["name.givenName"] != [2]any{"Ada", "Adah"} {
		t.Errorf("attribute changes = %v", got)
	}
	if _, ok := got["emails"]; !ok {
		t.Errorf("email change missing: %v", got)
	}
	if p.Changes[0].Object.TargetID != "t1" {
		t.Errorf("update does not name the target id: %+v", p.Changes[0].Object)
	}
}

func TestComputePlanGroups(t *testing.T) {
	ada, bob, cy := du("s1", "ada@x.io", "Ada"), du("s2", "bob@x.io", "Bob"), du("s3", "cy@x.io", "Cy")
	users := []scim.User{observed("t1", ada), observed("t2", bob)}
	links := map[string]string{"s1": "t1", "s2": "t2"}
	eng := mapping.DesiredGroup{SourceID: "g1", Group: scim.Group{DisplayName: "Eng", ExternalID: "g1"}, Members: []string{"s1", "s3"}}
	obsEng := scim.Group{ID: "tg1", DisplayName: "Eng", ExternalID: "g1",
		Members: []scim.Member{{Value: "t2"}, {Value: "t-foreign"}}}
	snap := linked(links)
	snap.Groups["g1"] = Link{TargetID: "tg1", Origin: OriginCreated}
	snap.Groups["g-old"] = Link{TargetID: "tg2", Origin: OriginCreated}
	p, err := computePlan(planInput{
		desired: &mapping.Desired{Users: []mapping.DesiredUser{ada, bob, cy}, Groups: []mapping.DesiredGroup{eng}},
		users:   users, groups: []scim.Group{obsEng, {ID: "tg2", DisplayName: "Old"}, {ID: "tg3", DisplayName: "Hand made"}},
		snap: snap, policy: DefaultPolicy(),
		userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(), complete: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "create-user:cy@x.io add-members:Eng remove-members:Eng delete-group:Old"
	if got := actions(p); got != want {
		t.Fatalf("changes = %q, want %q", got, want)
	}
	add, remove := p.Changes[1], p.Changes[2]
	if len(add.Members) != 2 || add.Members[0].TargetID != "t1" || add.Members[1].SourceID != "s3" || add.Members[1].TargetID != "" {
		t.Errorf("add members = %+v", add.Members)
	}
	if len(remove.Members) != 1 || remove.Members[0].TargetID != "t2" {
		t.Errorf("remove members = %+v (the foreign member must stay)", remove.Members)
	}
	if p.Summary.AddMembers != 2 || p.Summary.RemoveMembers != 1 || p.Summary.DeleteGroups != 1 {
		t.Errorf("summary = %+v", p.Summary)
	}
}

func TestDeletionLimit(t *testing.T) {
	var desired []mapping.DesiredUser
	var obs []scim.User
	links := map[string]string{}
	for i := range 40 {
		d := du("s"+string(rune('a'+i%26))+string(rune('a'+i/26)), "u"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@x.io", "N")
		obs = append(obs, observed("t"+d.SourceID, d))
		links[d.SourceID] = "t" + d.SourceID
		if i >= 12 {
			desired = append(desired, d)
		}
	}
	tests := []struct {
		name    string
		limit   Limit
		blocked bool
	}{
		{"percent over", Limit{MaxPercent: 20, Floor: 10}, true},
		{"count over", Limit{MaxCount: 11}, true},
		{"count at limit", Limit{MaxCount: 12, MaxPercent: Unlimited}, false},
		{"floor above count", Limit{MaxPercent: 20, Floor: 12}, false},
		{"zero value is the default", Limit{}, true},
		{"default count, percent lifted", Limit{MaxPercent: Unlimited}, false},
		{"no floor, percent under", Limit{MaxPercent: 31, Floor: NoFloor}, false},
		{"no floor, percent over", Limit{MaxPercent: 29, Floor: NoFloor}, true},
		{"no limit", Limit{MaxCount: Unlimited, MaxPercent: Unlimited}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := DefaultPolicy()
			pol.UserLimit = tt.limit
			p, err := computePlan(planInput{desired: &mapping.Desired{Users: desired}, users: obs, snap: linked(links),
				policy: pol, userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(), complete: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.Summary.DeactivateUsers != 12 {
				t.Fatalf("deactivations = %d, want 12", p.Summary.DeactivateUsers)
			}
			if p.Applyable == tt.blocked || p.NeedsConfirmation != tt.blocked {
				t.Errorf("applyable=%v needsConfirmation=%v, want blocked=%v (%v)", p.Applyable, p.NeedsConfirmation, tt.blocked, p.Reasons)
			}
		})
	}
}

// BenchmarkDiffUnchangedUser compares a user with its unchanged target
// copy, as every plan does for every user the source did not change.
func BenchmarkDiffUnchangedUser(b *testing.B) {
	u := scim.User{UserName: "ada@example.com", ExternalID: "s-1", DisplayName: "Ada Lovelace", Active: scim.Bool(true),
		Name:   &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"},
		Emails: []scim.Email{{Value: "ada@example.com", Type: "work", Primary: true}}}
	o := u
	o.ID, o.Emails = "t-1", []scim.Email{{Value: "ADA@example.com", Type: "work", Primary: true}}
	managed := mapping.DefaultUserAttributes()
	b.ReportAllocs()
	for b.Loop() {
		if d := diffUser(managed, nil, &u, &o); len(d) != 0 {
			b.Fatalf("diff %v", d)
		}
	}
}
