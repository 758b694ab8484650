package sourcetest

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

// fixture generates a directory within what cfg allows.
func fixture(cfg *config, users, groups int, memberships float64, seed uint64) *source.Directory {
	c := synth.Config{Users: users, Groups: groups, MembershipsPerUser: memberships, Seed: seed}
	if cfg.allows(source.StateSuspended) {
		c.SuspendedFraction = 0.15
	}
	if cfg.allows(source.StateDeleted) {
		c.DeletedFraction = 0.05
	}
	d := synth.Generate(c)
	if !cfg.allows(source.StateActive) {
		// A provider that reports no active users is odd but possible
		// (a deleted-users listing); make everyone the first allowed state.
		for i := range d.Users {
			d.Users[i].State = cfg.states[0]
		}
	}
	return d
}

// largeFixture is big enough to span pages, with one group holding every
// user so member listings page too.
func largeFixture(cfg *config) *source.Directory {
	d := fixture(cfg, cfg.large, 20, 2, 5)
	all := source.Group{
		ID:          "0d6c1f5e-8a43-4c1b-9d7e-2f4a6b8c0e12",
		DisplayName: "All Staff",
		Email:       "all-staff@example.com",
		Description: "Everyone",
		Attributes:  source.NewAttrs(map[string]any{synth.AttrGroupType: "access"}),
	}
	for _, u := range d.Users {
		all.Members = append(all.Members, u.ID)
	}
	d.Groups = append(d.Groups, all)
	return d
}

// awkward is a directory of values adapters get wrong: quotes, plus
// addressing, astral-plane and right-to-left text, markup characters in
// group names, an empty group, a user in no group.
func awkward(cfg *config) *source.Directory {
	state := func(s source.State) source.State {
		if cfg.allows(s) {
			return s
		}
		return cfg.states[0]
	}
	user := func(id, local, given, family, display string, s source.State) source.User {
		upn := local + "@example.com"
		return source.User{
			ID: id, UserName: upn, Emails: []source.Email{{Value: upn, Type: "work", Primary: true}},
			GivenName: given, FamilyName: family, DisplayName: display, State: state(s),
			Attributes: source.NewAttrs(map[string]any{synth.AttrDepartment: "R&D", synth.AttrEmployeeID: "E-" + id[len(id)-4:]}),
		}
	}
	d := &source.Directory{
		Users: []source.User{
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000001", "zoe.darc-nunez", "Zoë", "d'Arc-Núñez", "Zoë d'Arc-Núñez", source.StateActive),
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000002", "sean.obrien+it", "Seán", "O'Brien", `Seán "Sonny" O'Brien`, source.StateActive),
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000003", "taro.tanaka", "太郎", "田中", "田中 太郎", source.StateActive),
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000004", "satoshi.yoshino", "聡", "𠮷野", "𠮷野 聡", source.StateSuspended),
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000005", "fatima.alzahra", "فاطمة", "الزهراء", "فاطمة الزهراء", source.StateActive),
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000006", "lukasz.zolw", "Łukasz", "Żółw", "Łukasz Żółw", source.StateActive),
			user("9f1c2d3e-0a1b-4c2d-8e3f-000000000007", "olga.smirnova", "Ольга", "Смирнова", "Ольга Смирнова", source.StateActive),
		},
		Groups: []source.Group{
			{ID: "7a2b3c4d-1e2f-4a3b-9c4d-000000000001", DisplayName: `R&D / Ops <EU> "Tier 1"`, Email: "rnd-ops-eu@example.com",
				Description: "Research & development; operations (EU)",
				Members: []string{"9f1c2d3e-0a1b-4c2d-8e3f-000000000001", "9f1c2d3e-0a1b-4c2d-8e3f-000000000002",
					"9f1c2d3e-0a1b-4c2d-8e3f-000000000003", "9f1c2d3e-0a1b-4c2d-8e3f-000000000004",
					"9f1c2d3e-0a1b-4c2d-8e3f-000000000005"}},
			{ID: "7a2b3c4d-1e2f-4a3b-9c4d-000000000002", DisplayName: "Ünïcödé 群组 — ✓", Email: "unicode@example.com",
				Members: []string{"9f1c2d3e-0a1b-4c2d-8e3f-000000000003"}},
			{ID: "7a2b3c4d-1e2f-4a3b-9c4d-000000000003", DisplayName: "Empty Group", Email: "empty@example.com"},
		},
	}
	if cfg.allows(source.StateDeleted) {
		u := user("9f1c2d3e-0a1b-4c2d-8e3f-000000000008", "deleted.person", "Dee", "Leted", "Dee Leted", source.StateDeleted)
		u.DeletedAt = time.Date(2025, 5, 20, 10, 0, 0, 0, time.UTC)
		d.Users = append(d.Users, u)
	}
	return d
}

// newUserID is the id of the user change adds.
const newUserID = "5f0c8a9e-3b7d-4c2a-9e1f-6a2b4c8d0e1f"

// expectation is what ReadChanges must report after change.
type expectation struct {
	users, allowedUsers   []string // upserted users: required, and allowed besides
	removedUsers          []string
	groups, allowedGroups []string
	removedGroups         []string
}

// change returns a copy of base with a user renamed, one suspended, one
// removed from scope, one added, a group's membership changed and a group
// removed, and what an incremental read must report for it. base must have
// at least six active users and two groups.
func change(base *source.Directory) (*source.Directory, expectation) {
	next := base.Clone()
	var active []int
	for i, u := range next.Users {
		if u.State == source.StateActive {
			active = append(active, i)
		}
	}
	ren, sus := &next.Users[active[0]], &next.Users[active[1]]
	renID, susID, rem, add := ren.ID, sus.ID, next.Users[active[2]].ID, next.Users[active[3]].ID
	var exp expectation

	// Rename: new names, new user name and email.
	local, domain, _ := strings.Cut(ren.UserName, "@")
	ren.GivenName, ren.DisplayName = "Renée", "Renée "+ren.FamilyName
	ren.UserName = "renamed." + local + "@" + domain
	ren.Emails = []source.Email{{Value: ren.UserName, Type: "work", Primary: true}}
	// Suspend.
	sus.State = source.StateSuspended
	exp.users = append(exp.users, renID, susID)

	// Add a user, shaped like the renamed one.
	nu := ren.Clone()
	nu.ID, nu.GivenName, nu.FamilyName, nu.DisplayName = newUserID, "Nova", "Hirè", "Nova Hirè"
	nu.UserName = "nova.hire@" + domain
	nu.Emails = []source.Email{{Value: nu.UserName, Type: "work", Primary: true}}
	if _, ok := nu.Attributes.Get(synth.AttrEmployeeID); ok {
		nu.Attributes = nu.Attributes.With(synth.AttrEmployeeID, "E999999")
	}
	next.Users = append(next.Users, nu)
	exp.users = append(exp.users, nu.ID)

	// Remove a user from scope.
	next.Users = slices.DeleteFunc(next.Users, func(u source.User) bool { return u.ID == rem })
	exp.removedUsers = []string{rem}
	for i := range next.Groups {
		g := &next.Groups[i]
		if slices.Contains(g.Members, rem) {
			g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return id == rem })
			exp.allowedGroups = append(exp.allowedGroups, g.ID)
		}
	}

	// Change a membership: add two users to group 0, drop one.
	g := &next.Groups[0]
	exp.groups = append(exp.groups, g.ID)
	if !slices.Contains(g.Members, add) {
		g.Members = append(g.Members, add)
		exp.allowedUsers = append(exp.allowedUsers, add)
	}
	g.Members = append(g.Members, nu.ID)
	for _, m := range g.Members {
		if m != renID && m != susID && m != add && m != nu.ID {
			g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return id == m })
			exp.allowedUsers = append(exp.allowedUsers, m)
			break
		}
	}

	// Remove the last group from scope. A source that derives user
	// attributes from memberships (OneLogin's roles) may report its
	// members as changed.
	gone := next.Groups[len(next.Groups)-1].ID
	exp.allowedUsers = append(exp.allowedUsers, next.Groups[len(next.Groups)-1].Members...)
	next.Groups = next.Groups[:len(next.Groups)-1]
	exp.removedGroups = []string{gone}
	for i := range next.Groups {
		sub := &next.Groups[i]
		if slices.Contains(sub.MemberGroups, gone) {
			sub.MemberGroups = slices.DeleteFunc(sub.MemberGroups, func(id string) bool { return id == gone })
			exp.allowedGroups = append(exp.allowedGroups, sub.ID)
		}
	}
	return next, exp
}

// AttributeDirectory returns a directory of n users (u1, u2, ...) in one
// group, with an attribute of every type an attribute may have, for tests
// of code that stores directories.
func AttributeDirectory(n int, tag string) *source.Directory {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("", 3600))
	d := &source.Directory{Groups: []source.Group{{ID: "g", DisplayName: "G " + tag, Description: "d",
		Attributes: source.NewAttrs(map[string]any{"n": int64(-3)}), MemberGroups: nil}}}
	for i := 1; i <= n; i++ {
		id := "u" + strconv.Itoa(i)
		d.Users = append(d.Users, source.User{ID: id, UserName: id + "@example.com", GivenName: "Zoë", FamilyName: tag,
			Emails: []source.Email{{Value: id + "@example.com", Type: "work", Primary: true}, {Value: id + "@home.example"}},
			State:  source.State(i % 3), DeletedAt: at,
			Attributes: source.NewAttrs(map[string]any{"department": "Sales", "employeeId": int64(i), "ratio": 0.5, "remote": i%2 == 0,
				"roleIds": []string{"r1", "r2"}, "hired": at.Add(time.Duration(i) * time.Hour)})})
		d.Groups[0].Members = append(d.Groups[0].Members, id)
	}
	return d
}
