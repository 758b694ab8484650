package sync

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// dirSource reads a copy of its directory.
type dirSource struct{ dir *source.Directory }

func (s dirSource) Name() string                                    { return "dir" }
func (s dirSource) Read(context.Context) (*source.Directory, error) { return s.dir.Clone(), nil }

// hookTarget refuses to create the user named fail, and runs atGroup
// before the first group create.
type hookTarget struct {
	target.Target
	fail    string
	atGroup func()
}

func (t *hookTarget) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	if u.UserName == t.fail {
		return nil, errors.New("refused by the test")
	}
	return t.Target.CreateUser(ctx, u)
}

func (t *hookTarget) CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error) {
	if f := t.atGroup; f != nil {
		t.atGroup = nil // the hook runs before any group create of its apply begins
		f()
	}
	return t.Target.CreateGroup(ctx, g)
}

// TestSyncPlanReleasesPackedUsers: a plan made for Sync holds each user
// to create packed, as the mirror its link will keep, not as a user; the
// apply creates each user from it, keeps that very mirror as the user's
// link's, and drops it from the change once recorded, before the groups
// are created. The failed create keeps its own, which Sync's unpack
// turns back into the user the plain plan holds.
func TestSyncPlanReleasesPackedUsers(t *testing.T) {
	srv := netskopetest.New(t)
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	dir := &source.Directory{Groups: []source.Group{{ID: "g-1", DisplayName: "All"}}}
	for i := range 12 {
		id := fmt.Sprintf("u-%02d", i)
		dir.Users = append(dir.Users, source.User{ID: id, UserName: id + "@example.com", GivenName: "G", FamilyName: id,
			Emails: []source.Email{{Value: id + "@example.com", Primary: true}}})
		dir.Groups[0].Members = append(dir.Groups[0].Members, id)
	}
	const fail = "u-05@example.com"
	tgt := &hookTarget{Target: c, fail: fail}
	e, err := New(dirSource{dir}, tgt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	plain, err := e.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Plan(ctx, func(pc *planConfig) { pc.release = true })
	if err != nil {
		t.Fatal(err)
	}
	mirrors := map[string]*Mirror{}
	for i := range p.Changes {
		ch := &p.Changes[i]
		if ch.Action != ActionCreateUser {
			continue
		}
		if ch.User != nil || ch.packedUser == nil {
			t.Fatalf("%s: user %v, packed %v: want it packed only", ch.Object, ch.User != nil, ch.packedUser != nil)
		}
		mirrors[ch.Object.SourceID] = ch.packedUser
	}
	if len(mirrors) != 12 {
		t.Fatalf("%d users packed, want 12", len(mirrors))
	}
	held := -1
	tgt.atGroup = func() {
		held = 0
		for i := range p.Changes {
			if ch := &p.Changes[i]; ch.Action == ActionCreateUser && (ch.User != nil || ch.packedUser != nil) {
				held++
			}
		}
	}
	if _, err := e.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	if held != 1 {
		t.Errorf("%d user creates held their user when the groups were created, want 1 (the failed one)", held)
	}
	snap, err := e.state.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for src, m := range mirrors {
		l, ok := snap.Users[src]
		if src == "u-05" {
			if ok {
				t.Errorf("the failed user is linked: %+v", l)
			}
			continue
		}
		if !ok || !l.Mirror.Equal(m) {
			t.Errorf("user %s: linked %v with mirror %+v, want the packed user %+v", src, ok, l.Mirror, m)
		}
	}
	p.unpack()
	for i := range p.Changes {
		ch, want := &p.Changes[i], &plain.Changes[i]
		if ch.Action != ActionCreateUser || ch.Object.Key != fail {
			continue
		}
		if ch.packedUser != nil || mustJSON(t, ch.User) != mustJSON(t, want.User) {
			t.Errorf("the failed create unpacked as %s, want %s", mustJSON(t, ch.User), mustJSON(t, want.User))
		}
	}
}
