package sync

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

// TestPackedMembers: a plan made for Sync (compact) holds its
// created groups' members packed, with no Ref per membership, and sees
// the same members as the plain plan does: counted in the summary, as
// the apply reads them (memberRefs), and as plain data again once Sync
// unpacks them. Members the plan does not provision (a user with a
// problem, an unknown id) are left out of both; a group that exists is
// planned as ever.
func TestPackedMembers(t *testing.T) {
	ada, bob, cy := du("s1", "ada@x.io", "Ada"), du("s2", "bob@x.io", "Bob"), du("s3", "cy@x.io", "Cy")
	clash := du("s4", "ada@x.io", "Ada2") // same userName as ada: a problem, not provisioned
	groups := []mapping.DesiredGroup{
		{SourceID: "g1", Group: scim.Group{DisplayName: "Eng", ExternalID: "g1"}, Members: []string{"s1", "s3", "s9"}},
		{SourceID: "g2", Group: scim.Group{DisplayName: "Ops", ExternalID: "g2"}, Members: []string{"s3", "s2", "s4"}},
		{SourceID: "g3", Group: scim.Group{DisplayName: "Old", ExternalID: "g3"}, Members: []string{"s2", "s3"}},
	}
	plan := func(compact bool) *Plan {
		snap := linked(map[string]string{"s2": "t2"})
		snap.Groups["g3"] = Link{TargetID: "tg3", Origin: OriginCreated}
		p, err := computePlan(planInput{
			desired: &mapping.Desired{Users: []mapping.DesiredUser{ada, bob, cy, clash}, Groups: groups},
			users:   []scim.User{observed("t2", bob)}, groups: []scim.Group{{ID: "tg3", DisplayName: "Old", ExternalID: "g3"}},
			snap: snap, policy: DefaultPolicy(), complete: true, compact: compact,
			userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain, packed := plan(false), plan(true)
	if plain.Summary != packed.Summary || plain.Summary.CreateGroups != 2 || plain.Summary.AddMembers != 5 || plain.Summary.Problems != 2 {
		t.Fatalf("summaries differ or are wrong: plain %+v, packed %+v", plain.Summary, packed.Summary)
	}
	creates := 0
	for i := range packed.Changes {
		c, want := &packed.Changes[i], &plain.Changes[i]
		if c.Action != ActionCreateGroup {
			if c.packed != nil {
				t.Errorf("%s %s: packed members", c.Action, c.Object)
			}
			continue
		}
		creates++
		if c.Members != nil || c.packed == nil {
			t.Errorf("%s: %d plain members, packed %v: want them packed only", c.Object, len(c.Members), c.packed != nil)
		}
		if got, _ := json.Marshal(c.memberRefs()); string(got) != mustJSON(t, want.Members) {
			t.Errorf("%s: members read back as %s, want %s", c.Object, got, mustJSON(t, want.Members))
		}
	}
	if creates != 2 {
		t.Fatalf("%d groups created, want 2", creates)
	}
	packed.unpack()
	got, _ := json.Marshal(packed)
	if want := mustJSON(t, plain); string(got) != want {
		t.Fatalf("unpacked plan:\n%s\nwant\n%s", got, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPlanDropsPlannedUsers: a plan of the engine's own mapping drops
// the mapped users once it planned them (the group pass and the creates
// hold what they need of them), and is the same plan as one that keeps
// them; a plan of a caller's mapping leaves it as it was.
func TestPlanDropsPlannedUsers(t *testing.T) {
	plan := func(owns bool) (*Plan, *mapping.Desired) {
		d := &mapping.Desired{
			Users: []mapping.DesiredUser{du("s1", "ada@x.io", "Ada"), du("s2", "bob@x.io", "Bob")},
			Groups: []mapping.DesiredGroup{{SourceID: "g1", Group: scim.Group{DisplayName: "Eng", ExternalID: "g1"},
				Members: []string{"s1", "s2"}}},
		}
		p, err := computePlan(planInput{desired: d, snap: linked(map[string]string{"s2": "t2"}),
			users: []scim.User{observed("t2", d.Users[1])}, policy: DefaultPolicy(), complete: true, ownsDesired: owns,
			userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch()})
		if err != nil {
			t.Fatal(err)
		}
		return p, d
	}
	kept, d := plan(false)
	if len(d.Users) != 2 {
		t.Fatalf("a caller's mapping lost its users: %d left", len(d.Users))
	}
	dropped, d := plan(true)
	if d.Users != nil {
		t.Errorf("the engine's mapping kept its %d users", len(d.Users))
	}
	if got, want := mustJSON(t, dropped), mustJSON(t, kept); got != want || kept.Summary.CreateUsers != 1 || kept.Summary.AddMembers != 2 {
		t.Errorf("plans differ:\n%s\n%s", got, want)
	}
}

// TestPlanSizesItsCreates: a plan makes room for a change for each
// source object the state links to nothing at once, instead of regrowing
// (and copying) its changes as the creates of an initial sync are added;
// a plan of linked objects starts with no room.
func TestPlanSizesItsCreates(t *testing.T) {
	var users []mapping.DesiredUser
	for i := range 30 {
		users = append(users, du(fmt.Sprintf("s%d", i), fmt.Sprintf("u%d@x.io", i), "N"))
	}
	groups := []mapping.DesiredGroup{{SourceID: "g1", Group: scim.Group{DisplayName: "Eng", ExternalID: "g1"}, Members: []string{"s1", "s2"}}}
	plan := func(snap *Snapshot, obs []scim.User) *Plan {
		p, err := computePlan(planInput{desired: &mapping.Desired{Users: users, Groups: groups}, snap: snap, users: obs,
			policy: DefaultPolicy(), complete: true, userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch()})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan(NewSnapshot(), nil)
	if len(p.Changes) != 31 || cap(p.Changes) != 31 {
		t.Errorf("initial plan: %d changes in room for %d, want 31 in 31", len(p.Changes), cap(p.Changes))
	}
	links, obs := map[string]string{}, []scim.User(nil)
	for i, u := range users {
		links[u.SourceID] = fmt.Sprintf("t%d", i)
		obs = append(obs, observed(links[u.SourceID], u))
	}
	users[3].User.DisplayName = "Renamed"
	snap := linked(links)
	snap.Groups["g1"] = Link{TargetID: "tg1", Origin: OriginCreated}
	p = plan(snap, obs)
	if len(p.Changes) != 2 || cap(p.Changes) > 2 { // the rename, the members
		t.Errorf("plan of linked objects: %d changes in room for %d, want 2 in at most 2: %s", len(p.Changes), cap(p.Changes), actions(p))
	}
}
