package pgstate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestTenantsLeadSideBySide: one process, one database, two tenants,
// each with its own server, directory, State and Runner. Both lead at
// once: while the first tenant's apply is held at its third write, the
// second's Runner syncs its tenant in full. Each tenant then holds its
// own directory and nothing of the other's, each target's rows in the
// database are its own, and another replica of either tenant stands by.
func TestTenantsLeadSideBySide(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	type tenant struct {
		name   string
		srv    *netskopetest.Server
		dir    static
		state  *State
		clock  *clocktest.Clock
		runner *sync.Runner
		done   cycles
	}
	gate, held := make(chan struct{}), make(chan struct{})
	release := gosync.OnceFunc(func() { close(gate) })
	var once gosync.Once
	tenants := []*tenant{
		{name: "acme", dir: static{synth.Generate(synth.Config{Users: 20, Groups: 3, MembershipsPerUser: 1, Seed: 1})}},
		{name: "globex", dir: static{synth.Generate(synth.Config{Users: 25, Groups: 2, MembershipsPerUser: 1, Seed: 2, Domain: "globex.example.com"})}},
	}
	for i, tn := range tenants {
		tn.srv = netskopetest.New(t)
		writes := 0
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i == 0 && r.Method != http.MethodGet {
				if writes++; writes == 3 {
					once.Do(func() { close(held) })
					<-gate // the first tenant's apply waits here
				}
			}
			tn.srv.Handler().ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		client, err := netskope.New(front.URL+netskopetest.BasePath, tn.srv.Token(), netskope.WithRateLimit(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		tn.state = open(t, pool, tn.name)
		eng, err := sync.New(tn.dir, client, sync.WithState(tn.state), sync.WithTargetName(tn.name), sync.WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		tn.clock = clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		tn.done = make(cycles, 4)
		if tn.runner, err = sync.NewRunner(eng, sync.WithRunnerClock(tn.clock), sync.WithObserver(tn.done)); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg gosync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	defer release()
	for _, tn := range tenants {
		wg.Add(1)
		go func() { defer wg.Done(); tn.runner.Run(runCtx) }()
	}
	a, b := tenants[0], tenants[1]
	select {
	case <-held: // acme's leader is mid-apply
	case rep := <-a.done:
		t.Fatalf("acme's cycle ended before its third write: %s (%s) %s", rep.Outcome, rep.Reason, rep.Error)
	}
	if rep := <-b.done; rep.Outcome != sync.CycleSucceeded || rep.Applied != len(b.dir.dir.Users)+len(b.dir.dir.Groups) {
		t.Fatalf("globex's cycle while acme's apply is held: %s (%s) %s, %d applied", rep.Outcome, rep.Reason, rep.Error, rep.Applied)
	}
	if !a.state.Leader() || !b.state.Leader() {
		t.Fatalf("leaders: acme %v, globex %v; want both", a.state.Leader(), b.state.Leader())
	}
	release()
	if rep := <-a.done; rep.Outcome != sync.CycleSucceeded {
		t.Fatalf("acme's cycle: %s (%s) %s", rep.Outcome, rep.Reason, rep.Error)
	}

	for _, tn := range tenants {
		dir := tn.dir.dir
		want := map[string]bool{}
		for _, u := range dir.Users {
			want[u.UserName] = true
		}
		for _, u := range tn.srv.Users() {
			if !want[u.UserName] {
				t.Errorf("%s's tenant holds %s, not of its directory", tn.name, u.UserName)
			}
		}
		if tn.srv.UserCount() != len(dir.Users) || tn.srv.GroupCount() != len(dir.Groups) {
			t.Errorf("%s's tenant holds %d users and %d groups; want %d and %d", tn.name, tn.srv.UserCount(), tn.srv.GroupCount(), len(dir.Users), len(dir.Groups))
		}
		// The database's rows of the target are its own links.
		var links int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM provsync_links WHERE target = $1", tn.name).Scan(&links); err != nil ||
			links != len(dir.Users)+len(dir.Groups) {
			t.Errorf("%s: %d links stored (%v); want %d", tn.name, links, err, len(dir.Users)+len(dir.Groups))
		}
		s, err := tn.state.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for src, l := range s.Users {
			if _, ok := tn.srv.User(l.TargetID); !ok {
				t.Errorf("%s's state links source user %s to %s, not a user of its tenant", tn.name, src, l.TargetID)
			}
		}
		for src, l := range s.Groups {
			if _, ok := tn.srv.Group(l.TargetID); !ok {
				t.Errorf("%s's state links source group %s to %s, not a group of its tenant", tn.name, src, l.TargetID)
			}
		}
		// Another replica of the tenant stands by.
		if _, err := open(t, pool, tn.name).Load(ctx); !errors.Is(err, sync.ErrLocked) {
			t.Errorf("a second %s State's Load = %v, want ErrLocked", tn.name, err)
		}
	}
}
