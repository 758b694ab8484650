package sync

import (
	"context"
	"fmt"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestDriftListingHoldsOnlyWhatDiffers: a drift check's listing of an
// unchanged tenant holds no mirror of its own (each owned user's is the
// stored one), where it held a map entry for every owned user; a user
// changed by hand is held with its listed mirror, one deleted by hand as
// unlisted (and gone), and every other user still stands for its stored
// mirror.
func TestDriftListingHoldsOnlyWhatDiffers(t *testing.T) {
	ctx := context.Background()
	srv := netskopetest.New(t)
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	dir := &source.Directory{}
	for i := range 12 {
		id := fmt.Sprintf("u-%02d", i)
		dir.Users = append(dir.Users, source.User{ID: id, UserName: id + "@example.com", GivenName: "G", FamilyName: id, State: source.StateActive})
	}
	e, err := New(dirSource{dir}, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := e.Sync(ctx); err != nil || res.Failed > 0 {
		t.Fatalf("initial sync: %v, %+v", err, res)
	}
	listing := func() (*Snapshot, *listing) {
		t.Helper()
		snap, err := e.load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.readTarget(ctx, snap)
		if err != nil {
			t.Fatal(err)
		}
		return snap, l
	}
	snap, l := listing()
	if len(l.mirrors.differ) != 0 || len(l.mirrors.unlisted) != 0 {
		t.Fatalf("unchanged tenant: %d mirrors differ, %d unlisted; want none held", len(l.mirrors.differ), len(l.mirrors.unlisted))
	}
	for src, link := range snap.Users {
		if m, ok := l.mirrors.mirror(src, link.Mirror); !ok || m != link.Mirror {
			t.Errorf("%s: listed mirror %p, %v; want the stored one", src, m, ok)
		}
	}
	changed, deleted := snap.Users["u-03"], snap.Users["u-07"]
	if err := c.PatchUser(ctx, changed.TargetID, scim.Replace(scim.PathGivenName, "By-Hand")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, deleted.TargetID); err != nil {
		t.Fatal(err)
	}
	snap, l = listing()
	if len(l.mirrors.differ) != 1 || len(l.mirrors.unlisted) != 1 || len(l.gone) != 1 {
		t.Fatalf("after two hand changes: %d differ, %d unlisted, %d gone; want 1, 1, 1", len(l.mirrors.differ), len(l.mirrors.unlisted), len(l.gone))
	}
	for src, link := range snap.Users {
		m, ok := l.mirrors.mirror(src, link.Mirror)
		switch src {
		case "u-03":
			u, _ := m.user(changed.TargetID)
			if !ok || m == link.Mirror || u.Name == nil || u.Name.GivenName != "By-Hand" {
				t.Errorf("the user changed by hand: listed %v, %+v", ok, u.Name)
			}
		case "u-07":
			if ok {
				t.Error("the user deleted by hand is listed")
			}
		default:
			if !ok || m != link.Mirror {
				t.Errorf("%s: listed mirror %p, %v; want the stored one", src, m, ok)
			}
		}
	}
}
