package sync

import (
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

// A member who left scope is removed from its groups; the plan names it
// by userName, not by its Netskope id, even when the server sends members
// without a display name.
func TestRemovedMembersShowUserNames(t *testing.T) {
	ada, bob := du("s1", "ada@x.io", "Ada"), du("s2", "bob@x.io", "Bob")
	eng := mapping.DesiredGroup{SourceID: "g1", Group: scim.Group{DisplayName: "Eng", ExternalID: "g1"}, Members: []string{"s1"}}
	const bobID = "0b5e8e34-8d0e-4a57-a5a4-5c7c43a3d2f1"
	snap := linked(map[string]string{"s1": "t1", "s2": bobID})
	snap.Groups["g1"] = Link{TargetID: "tg1", Origin: OriginCreated}
	p, err := computePlan(planInput{
		desired: &mapping.Desired{Users: []mapping.DesiredUser{ada}, Groups: []mapping.DesiredGroup{eng}},
		users:   []scim.User{observed("t1", ada), observed(bobID, bob)},
		groups: []scim.Group{{ID: "tg1", DisplayName: "Eng", ExternalID: "g1",
			Members: []scim.Member{{Value: "t1"}, {Value: bobID}}}},
		snap: snap, policy: DefaultPolicy(),
		userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(), complete: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "deactivate-user:bob@x.io remove-members:Eng"; got != want {
		t.Fatalf("changes = %q, want %q", got, want)
	}
	var b strings.Builder
	if err := p.Render(&b, 0); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), bobID) || !strings.Contains(b.String(), "      - bob@x.io\n") {
		t.Errorf("the removed member is not shown by userName:\n%s", b.String())
	}
}
