package sync

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

// ownedMembersByText counts the members of in.groups[j] whose text is
// the target id of a link of links, as a lookup of each member's text
// in the links reversed does.
func ownedMembersByText(in *planInput, j int, links map[string]Link) int {
	owners := reverseLinks(links)
	n := 0
	for m := range in.members(j) {
		if _, ok := owners[m.Value]; ok {
			n++
		}
	}
	return n
}

// TestOwnedMembersIsLookupByText: counting a group's owned members by
// their packed bytes gives the count a lookup of each member's text
// gives, for groups with packed mirrors, mirrors of other ids and no
// mirror, and owned ids that are lowercase UUIDs, upper-case ones (not
// the same id) and others.
func TestOwnedMembersIsLookupByText(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	uuid := func(k int) string { return fmt.Sprintf("%08x-1111-4a4a-8b8b-%012x", k, k) }
	var pool []string
	for k := range 60 {
		pool = append(pool, uuid(k))
	}
	pool = append(pool, strings.ToUpper(uuid(1)), "u-1", "u-2", "not a uuid")
	for round := range 200 {
		links := map[string]Link{}
		for _, id := range pool {
			if r.IntN(2) == 0 {
				links["s-"+id] = Link{TargetID: id}
			}
		}
		pick := func(uuidsOnly bool) []string {
			var ids []string
			for _, id := range pool[:len(pool)-r.IntN(2)*4] {
				if r.IntN(3) == 0 && (!uuidsOnly || !strings.ContainsAny(id, "ABCDEFu ")) {
					ids = append(ids, id)
				}
			}
			return ids
		}
		in := planInput{}
		for g, kind := range []string{"packed", "text", "listed"} {
			ids := pick(kind == "packed")
			in.groups = append(in.groups, scim.Group{ID: fmt.Sprint("g-", g), Members: scim.MemberValues(ids)})
			if kind != "listed" {
				in.groupMirrors = append(in.groupMirrors, groupMirror(&in.groups[g]))
			}
			if kind == "packed" && len(ids) > 0 && !strings.HasPrefix(string(in.groupMirrors[g].Members), packedMarker) {
				t.Fatalf("round %d: the mirror of UUIDs is not packed", round)
			}
		}
		owned := linkedTargets(links)
		for j := range in.groups {
			if got, want := ownedMembers(&in, j, owned), ownedMembersByText(&in, j, links); got != want {
				t.Fatalf("round %d, group %d: %d owned members; a lookup by text finds %d", round, j, got, want)
			}
		}
	}
}

// TestOwnedMembershipsUnpacksNoMember: counting the owned memberships
// (which a plan that removes members does, for the membership limit)
// allocates nothing for each member of a packed mirror: 400 members a
// group take as many allocations as 100 (it took one string each).
func TestOwnedMembershipsUnpacksNoMember(t *testing.T) {
	uuid := func(k int) string { return fmt.Sprintf("%08x-2222-4a4a-8b8b-%012x", k, k) }
	users := map[string]Link{}
	for k := range 2000 {
		users[fmt.Sprint("s-", k)] = Link{TargetID: uuid(k)}
	}
	allocs := func(members int) float64 {
		in := planInput{snap: NewSnapshot()}
		in.snap.Users = users
		for g := range 20 {
			var ids []string
			for k := range members {
				ids = append(ids, uuid((g*members+k)%2000))
			}
			in.groups = append(in.groups, scim.Group{ID: fmt.Sprint("g-", g)})
			in.groupMirrors = append(in.groupMirrors, groupMirror(&scim.Group{Members: scim.MemberValues(ids)}))
			in.snap.Groups[fmt.Sprint("sg-", g)] = Link{TargetID: fmt.Sprint("g-", g)}
		}
		owned := linkedTargets(users)
		var n int
		a := testing.AllocsPerRun(5, func() { n = ownedMemberships(in, owned) })
		if n != 20*members {
			t.Fatalf("%d owned memberships; want %d", n, 20*members)
		}
		return a
	}
	few, many := allocs(100), allocs(400)
	t.Logf("counting the owned memberships: %.0f allocations with 100 members a group, %.0f with 400", few, many)
	if many > few+2 {
		t.Errorf("counting 6,000 more owned memberships takes %.0f more allocations; want none", many-few)
	}
}

// TestSameWantedIsSameMembers: comparing a group's mirror with the
// members among source ids that a plan provisions gives what comparing
// it with those members made (wantedMembers) gives, for members matched,
// to be created, skipped and not planned, and mirrors packed and not.
func TestSameWantedIsSameMembers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 11))
	uuid := func(k int) string { return fmt.Sprintf("%08x-3333-4a4a-8b8b-%012x", k, k) }
	ups := map[string]*userPlan{}
	var sources []string
	for k := range 40 {
		sid := fmt.Sprint("s-", k)
		sources = append(sources, sid)
		switch k % 8 {
		case 0:
			ups[sid] = &userPlan{create: true} // to be created: no target id yet
		case 1:
			ups[sid] = &userPlan{targetID: uuid(k), skip: true}
		case 2: // not planned
		case 3:
			ups[sid] = &userPlan{targetID: "t-" + sid} // an id of another form
		default:
			ups[sid] = &userPlan{targetID: uuid(k)}
		}
	}
	var s memberScratch
	for round := range 500 {
		var ids, targets []string
		for _, sid := range sources {
			if r.IntN(3) == 0 {
				ids = append(ids, sid)
				if up := provisioned(ups, sid); up != nil && up.targetID != "" && r.IntN(8) > 0 {
					targets = append(targets, up.targetID)
				}
			}
		}
		if r.IntN(4) == 0 && len(ids) > 0 {
			ids = append(ids, ids[0]) // repeated
		}
		in := planInput{groups: []scim.Group{{ID: "g-1"}}, groupMirrors: []*Mirror{groupMirror(&scim.Group{Members: scim.MemberValues(targets)})}}
		want := in.sameMembers(0, wantedMembers(ids, ups), &s)
		if got := in.sameWanted(0, ids, ups, &s); got != want {
			t.Fatalf("round %d: sameWanted = %v, sameMembers of the wanted members = %v", round, got, want)
		}
	}
}

// groupsNoOp is the input of a no-op plan of users thin users linked to
// target users with UUIDs, and 20 groups of members members each (their
// members wrap around the users), each the same as its packed mirror.
func groupsNoOp(users, members int) planInput {
	uuid := func(k int) string { return fmt.Sprintf("%08x-4444-4a4a-8b8b-%012x", k, k) }
	in := thinNoOp(users)
	for i := range users {
		l := in.snap.Users[in.userID(i)]
		l.TargetID = uuid(i)
		in.snap.Users[in.userID(i)] = l
	}
	in.userOwners = nil
	for g := range 20 {
		var ids, targets []string
		for k := range members {
			i := (g*members + k) % users
			ids, targets = append(ids, in.userID(i)), append(targets, uuid(i))
		}
		gid, src := fmt.Sprint("g-", g), fmt.Sprint("sg-", g)
		in.desired.Groups = append(in.desired.Groups, mapping.DesiredGroup{SourceID: src, Group: scim.Group{DisplayName: gid, ExternalID: src}, Members: ids})
		in.groups = append(in.groups, scim.Group{ID: gid, DisplayName: gid, ExternalID: src})
		in.groupMirrors = append(in.groupMirrors, groupMirror(&scim.Group{DisplayName: gid, ExternalID: src, Members: scim.MemberValues(targets)}))
		in.snap.Groups[src] = Link{TargetID: gid, Origin: OriginCreated}
	}
	return in
}

// TestUnchangedGroupsMakeNoMembers: a plan compares a group whose mirror
// holds its wanted members without making them: a no-op of 20 groups of
// 400 members allocates about 5 bytes a member more than one of 20
// groups of 100 (its scratch growing), where a Ref made for each member
// took it to 74.
func TestUnchangedGroupsMakeNoMembers(t *testing.T) {
	few, many := allocatedPlanning(t, groupsNoOp(2000, 100)), allocatedPlanning(t, groupsNoOp(2000, 400))
	t.Logf("a no-op plan allocates %d bytes with 20 groups of 100 members, %d with 20 of 400", few, many)
	if perMember := (many - few) / 6000; perMember > 8 {
		t.Errorf("a no-op plan allocates %d bytes more a member of an unchanged group; want at most 8", perMember)
	}
}

// TestPlannedGroupsLetGoOfTheirMembers: a plan that owns the mapping
// (Sync's) drops each mapped group's members once it is planned, so that
// the rest of the plan and the apply do not hold them (a million source
// ids, 16 MB, at 100,000 users); one that does not leaves them.
func TestPlannedGroupsLetGoOfTheirMembers(t *testing.T) {
	for _, owns := range []bool{true, false} {
		in := groupsNoOp(2000, 100)
		in.ownsDesired = owns
		allocatedPlanning(t, in)
		held := 0
		for _, g := range in.desired.Groups {
			held += len(g.Members)
		}
		if want := map[bool]int{true: 0, false: 2000}[owns]; held != want {
			t.Errorf("owning the mapping %v: the mapped groups hold %d members after the plan; want %d", owns, held, want)
		}
	}
}

// TestPackedMemberChangesAreTextOnes: a member change followed on a
// packed mirror by its bytes gives the mirror that changing its members'
// text gives (withMembers of the ids), for additions and removals of
// members present, absent and repeated, of ids of other forms, and of
// every member.
func TestPackedMemberChangesAreTextOnes(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 21))
	uuid := func(k int) string { return fmt.Sprintf("%08x-5555-4a4a-8b8b-%012x", k, k) }
	for round := range 500 {
		var ids []string
		for k := range 1 + r.IntN(30) {
			ids = append(ids, uuid(r.IntN(60)+k%2))
		}
		m := groupMirror(&scim.Group{DisplayName: "G", Members: scim.MemberValues(ids)})
		if !strings.HasPrefix(string(m.Members), packedMarker) {
			t.Fatal("the mirror of UUIDs is not packed")
		}
		var change []string
		for range r.IntN(6) {
			switch r.IntN(8) {
			case 0:
				change = append(change, "not-a-uuid")
			case 1:
				change = append(change, strings.ToUpper(uuid(r.IntN(60))))
			default:
				change = append(change, uuid(r.IntN(60)))
			}
		}
		if r.IntN(10) == 0 {
			change = m.memberIDs() // every member
		}
		for _, action := range []Action{ActionAddMembers, ActionRemoveMembers} {
			var want *Mirror
			n := &Mirror{DisplayName: "G"}
			if action == ActionAddMembers {
				want = withMembers(n, append(m.memberIDs(), change...))
			} else {
				want = withMembers(n, slices.DeleteFunc(m.memberIDs(), func(id string) bool { return slices.Contains(change, id) }))
			}
			got := m.afterChange(&Change{Action: action}, change)
			if (got == nil) != (want == nil) || got != nil && (got.Members != want.Members || got.DisplayName != "G") {
				t.Fatalf("round %d, %s %q of %q: %+v; want %+v", round, action, change, m.memberIDs(), got, want)
			}
		}
	}
}

// TestPackedMemberChangesUnpackNoMember: a member added to or removed
// from a large group's packed mirror, as an apply follows each member
// change, takes a few allocations, not one for each of the group's
// members (2,000 here: it took 2,006), and about the new list's bytes
// (16 a member), not three times them.
func TestPackedMemberChangesUnpackNoMember(t *testing.T) {
	uuid := func(k int) string { return fmt.Sprintf("%08x-6666-4a4a-8b8b-%012x", k, k) }
	var ids []string
	for k := range 2000 {
		ids = append(ids, uuid(k))
	}
	m := groupMirror(&scim.Group{DisplayName: "G", Members: scim.MemberValues(ids)})
	for _, action := range []Action{ActionAddMembers, ActionRemoveMembers} {
		member := map[Action]string{ActionAddMembers: uuid(5000), ActionRemoveMembers: uuid(7)}[action]
		n := testing.AllocsPerRun(10, func() {
			if got := m.afterChange(&Change{Action: action}, []string{member}); got == nil {
				t.Fatal("no mirror after the change")
			}
		})
		if n > 8 {
			t.Errorf("%s of one member to a group of 2,000: %.0f allocations, want at most 8", action, n)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m.afterChange(&Change{Action: action}, []string{member})
		runtime.ReadMemStats(&after)
		if b := after.TotalAlloc - before.TotalAlloc; b > 16*2000+2048 {
			t.Errorf("%s of one member to a group of 2,000: %d bytes allocated, want at most %d", action, b, 16*2000+2048)
		}
	}
}

// TestLinkDiffCopiesOnlyWhatDiffers: the diff a FileState's save appends
// to its journal copies the links that differ alone: 2,000 links of which
// 3 changed take a few allocations (every link was copied to the heap,
// 2,000 of them, to take its address).
func TestLinkDiffCopiesOnlyWhatDiffers(t *testing.T) {
	from, to := map[string]Link{}, map[string]Link{}
	for k := range 2000 {
		l := Link{TargetID: fmt.Sprint("t-", k), Origin: OriginCreated}
		from[fmt.Sprint("s-", k)], to[fmt.Sprint("s-", k)] = l, l
	}
	to["s-1"] = Link{TargetID: "t-other", Origin: OriginCreated}
	to["s-new"] = Link{TargetID: "t-new", Origin: OriginCreated}
	delete(to, "s-2")
	var d map[string]*Link
	n := testing.AllocsPerRun(10, func() { d = linkDiff(from, to) })
	if len(d) != 3 || d["s-1"].TargetID != "t-other" || d["s-new"].TargetID != "t-new" || d["s-2"] != nil {
		t.Fatalf("linkDiff found %d links differing; want s-1 changed, s-new added, s-2 gone", len(d))
	}
	if n > 10 {
		t.Errorf("linkDiff of 2,000 links, 3 differing: %.0f allocations, want at most 10", n)
	}
}
