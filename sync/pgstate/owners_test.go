package pgstate

import (
	"context"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestEnginesShareATarget: two named engines whose sources use the same
// ids keep their links in one PostgreSQL state, each under its name and
// naming its owner; after a restart (new States) both plan nothing.
func TestEnginesShareATarget(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	srv, client := newServer(t)
	dirs := map[string]*source.Directory{
		"hr": {Users: []source.User{{ID: "1", UserName: "ann@example.com", State: source.StateActive}},
			Groups: []source.Group{{ID: "g", DisplayName: "Staff", Members: []string{"1"}}}},
		"contractors": {Users: []source.User{{ID: "1", UserName: "cy@contractor.example", State: source.StateActive}},
			Groups: []source.Group{{ID: "g", DisplayName: "Contractors", Members: []string{"1"}}}},
	}
	engines := func(st sync.State) []*sync.Engine {
		var out []*sync.Engine
		for _, owner := range []string{"hr", "contractors"} {
			eng, err := sync.New(static{dirs[owner]}, client, sync.WithState(st), sync.WithTargetName("acme"), sync.WithOwner(owner))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, eng)
		}
		return out
	}
	first := open(t, pool, "acme")
	for _, eng := range engines(first) {
		if _, res, err := eng.Sync(ctx); err != nil || res.Failed > 0 {
			t.Fatalf("sync: %v %v", err, res.Err())
		}
	}
	if srv.UserCount() != 2 || srv.GroupCount() != 2 {
		t.Fatalf("the server holds %d users and %d groups, want 2 and 2", srv.UserCount(), srv.GroupCount())
	}
	rows, err := pool.Query(ctx, "SELECT kind, source_id, source FROM provsync_links WHERE target = 'acme' ORDER BY 1, 2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var kind, id, owner string
		if err := rows.Scan(&kind, &id, &owner); err != nil {
			t.Fatal(err)
		}
		got = append(got, kind+" "+id+" "+owner)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"group contractors\x1fg contractors", "group hr\x1fg hr", "user contractors\x1f1 contractors", "user hr\x1f1 hr"}
	if len(got) != len(want) {
		t.Fatalf("links stored: %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("link %d stored as %q, want %q", i, got[i], want[i])
		}
	}
	first.Close(ctx)
	for _, eng := range engines(open(t, pool, "acme")) {
		p, err := eng.Plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Empty() {
			t.Errorf("re-plan from the shared state: %+v %+v", p.Changes, p.Problems)
		}
	}
}

// newServer starts an embedded Netskope server and a client of it
// without a rate limit.
func newServer(t *testing.T) (*netskopetest.Server, *netskope.Client) {
	t.Helper()
	srv := netskopetest.New(t)
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return srv, client
}
