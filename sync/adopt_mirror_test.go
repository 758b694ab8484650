package sync_test

import (
	"net/http"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestAdoptedObjectsAreMirrored: a first run against a tenant that holds
// every user and group already (as a hosted connector left them: some
// without the externalId the mapping sets, one renamed by hand, one group
// missing a member) adopts them all, and stores each adopted object's
// mirror as the listing found it with the adopting update followed on it.
// So the next cycle reads nothing but the one group whose members the
// adoption changed (its mirror is not followed through membership
// changes), and a later source change costs its PATCH alone.
func TestAdoptedObjectsAreMirrored(t *testing.T) {
	e := newEnv(t, 30, 4)
	e.apply(e.engine()) // the other connector's objects
	users, groups := e.srv.Users(), e.srv.Groups()
	byName := map[string]scim.User{}
	for _, u := range users {
		byName[u.UserName] = u
	}
	for i := range users {
		if i%3 == 1 {
			if err := e.client.PatchUser(ctx(t), users[i].ID, scim.Remove(scim.PathExternalID, nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	handUser := e.dir.Users[activeUsers(t, e.dir, 1)[0]]
	if err := e.client.PatchUser(ctx(t), byName[handUser.UserName].ID, scim.Replace(scim.PathGivenName, "Hand")); err != nil {
		t.Fatal(err)
	}
	var short scim.Group // a group missing one member
	for _, g := range groups {
		if len(g.Members) > 0 {
			short = g
			break
		}
	}
	if short.ID == "" {
		t.Fatal("no group has members")
	}
	if err := e.client.RemoveMembers(ctx(t), short.ID, []string{short.Members[0].Value}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.PatchGroup(ctx(t), groups[len(groups)-1].ID, scim.Remove(scim.PathExternalID, nil)); err != nil {
		t.Fatal(err)
	}

	e.state = sync.NewMemoryState() // provsync's first run
	eng := e.engine(sync.WithClock(clocktest.New(mirrorEpoch).Now))
	p, _ := e.apply(eng)
	adopted := 0
	for _, c := range p.Changes {
		if c.Adopt {
			adopted++
		}
	}
	if !p.DriftCheck || p.Summary.CreateUsers+p.Summary.CreateGroups != 0 || adopted != len(users)+len(groups) || p.Summary.AddMembers != 1 {
		t.Fatalf("first plan %s, %d adopted; want a drift check adopting all %d objects and adding one member", p.SummaryLine(), adopted, len(users)+len(groups))
	}

	e.srv.ResetStats()
	p, _ = e.apply(eng)
	s := e.srv.Stats()
	if !p.Empty() || p.DriftCheck || s.Requests != 1 || s.Count(http.MethodGet, netskopetest.EndpointGroup) != 1 {
		t.Fatalf("cycle after the adoption: %s, %s; want no change and one read, of the group whose members changed", p.SummaryLine(), requests(s))
	}
	e.srv.ResetStats()
	e.mustBeEmpty(eng)
	if s := e.srv.Stats(); s.Requests != 0 {
		t.Fatalf("second cycle after the adoption: %s; want none", requests(s))
	}

	// The mirrors hold what the tenant holds: a source change is planned
	// against them and sent alone, and lands.
	e.edit(func(d *source.Directory) {
		for i := range d.Users {
			if d.Users[i].ID == handUser.ID {
				d.Users[i].FamilyName += "-renamed"
			}
		}
	})
	p, _ = e.apply(eng)
	s = e.srv.Stats()
	if p.DriftCheck || len(p.Changes) != 1 || s.Requests != 1 || s.Count(http.MethodPatch, netskopetest.EndpointUser) != 1 {
		t.Fatalf("cycle with one rename: %s, %s; want one PATCH and no read", p.SummaryLine(), requests(s))
	}
	got, _ := userNamed(e, handUser.UserName)
	if got.Name == nil || got.Name.GivenName != handUser.GivenName || got.Name.FamilyName != handUser.FamilyName+"-renamed" {
		t.Errorf("renamed adopted user: %+v; want given name %q (adoption undid the hand edit) and family name %q",
			got.Name, handUser.GivenName, handUser.FamilyName+"-renamed")
	}
}
