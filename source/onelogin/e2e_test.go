package onelogin_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/source/onelogin"
	"github.com/provsync/provsync/source/onelogin/onelogintest"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestEndToEnd syncs a fake OneLogin account into the embedded Netskope
// server through the engine, incrementally: a first sync, an empty second
// one, changes (a suspension, a new user, a user losing the app, a role
// change), and a failed read that changes nothing.
func TestEndToEnd(t *testing.T) {
	srv := onelogintest.New(t)
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	srv.SetClock(func() time.Time { return now })
	var us []onelogintest.User
	for i := range 30 {
		us = append(us, srv.AddUser(person(fmt.Sprintf("user%02d", i), 1)))
	}
	eng := srv.AddRole(onelogintest.Role{Name: "Engineering", Apps: []int64{app}})
	ops := srv.AddRole(onelogintest.Role{Name: "Ops", Apps: []int64{app}})
	ids := func(list []onelogintest.User) []int64 {
		var out []int64
		for _, u := range list {
			out = append(out, u.ID)
		}
		return out
	}
	must(t, srv.SetRoleUsers(eng.ID, ids(us[:15])...))
	must(t, srv.SetRoleUsers(ops.ID, ids(us[10:25])...))
	srv.AssignApp(app, ids(us[25:28])...)
	now = now.Add(time.Hour)
	src := open(t, srv, nil)

	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	must(t, err)
	pol := sync.DefaultPolicy()
	pol.LeftScope = sync.Delete // the connector's "delete" choice for users removed in OneLogin
	e, err := sync.New(src, client, sync.WithPolicy(pol), sync.WithIncremental(true))
	must(t, err)
	run := func(what string) *sync.Plan {
		t.Helper()
		p, res, err := e.Sync(ctx(t))
		if err != nil || (res != nil && res.Failed > 0) {
			t.Fatalf("%s: %v", what, err)
		}
		return p
	}
	p := run("first sync")
	if p.Summary.CreateUsers != 28 || p.Summary.CreateGroups != 2 || ns.UserCount() != 28 {
		t.Fatalf("first sync: %+v; Netskope holds %d users", p.Summary, ns.UserCount())
	}
	now = now.Add(time.Hour)
	if p := run("second sync"); !p.Empty() || !p.Incremental {
		t.Fatalf("second sync: %+v (incremental %v)", p.Summary, p.Incremental)
	}

	now = now.Add(time.Hour)
	must(t, srv.UpdateUser(us[0].ID, func(u *onelogintest.User) { u.Status = onelogin.StatusSuspended }))
	must(t, srv.UpdateUser(us[1].ID, func(u *onelogintest.User) { u.Firstname = "Renée" }))
	srv.UnassignApp(app, us[27].ID)
	srv.AssignApp(app, us[29].ID)
	must(t, srv.SetRoleUsers(ops.ID, ids(us[11:26])...)) // us[10] leaves Ops, us[25] joins
	now = now.Add(time.Hour)
	p = run("after changes")
	s := p.Summary
	if s.DeactivateUsers != 1 || s.UpdateUsers != 1 || s.DeleteUsers != 1 || s.CreateUsers != 1 || s.AddMembers != 1 || s.RemoveMembers != 1 {
		var b strings.Builder
		_ = p.Render(&b, 30)
		t.Fatalf("after changes: %+v\n%s", s, b.String())
	}
	now = now.Add(time.Hour)
	if p := run("sync after changes"); !p.Empty() {
		t.Fatalf("not empty after changes: %+v", p.Summary)
	}

	// A read failing partway plans nothing.
	srv.InjectFault(onelogintest.Fault{Route: onelogintest.RouteRoleUsers, Status: 500, Times: 100})
	srv.UnassignApp(app, ids(us[25:27])...)
	if _, err := e.Plan(ctx(t)); !errors.Is(err, sync.ErrSourceRead) {
		t.Fatalf("Plan after a failed read: %v", err)
	} else if w := sourcetest.RepeatedContext(err.Error()); w != "" {
		t.Errorf("the error repeats %q: %v", w, err)
	}
}

// TestRequestCounts reads an account with 1,000 app users (600 directly,
// 400 through two roles) twice through the engine and reports the API
// requests. go test -v -run RequestCounts ./source/onelogin prints them.
func TestRequestCounts(t *testing.T) {
	srv := onelogintest.New(t)
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	srv.SetClock(func() time.Time { return now })
	var ids []int64
	for i := range 1000 {
		ids = append(ids, srv.AddUser(person(fmt.Sprintf("user%04d", i), 1)).ID)
	}
	srv.AssignApp(app, ids[:600]...)
	r1 := srv.AddRole(onelogintest.Role{Name: "Staff", Apps: []int64{app}})
	r2 := srv.AddRole(onelogintest.Role{Name: "Contractors", Apps: []int64{app}})
	must(t, srv.SetRoleUsers(r1.ID, ids[600:800]...))
	must(t, srv.SetRoleUsers(r2.ID, ids[800:]...))
	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	must(t, err)
	e, err := sync.New(open(t, srv, nil), client, sync.WithIncremental(true))
	must(t, err)
	// At most: app users (1 page of 1,000), roles, 2 role user lists,
	// groups, and 20 profile batches of 50 or, unchanged, one
	// updated_since listing.
	most := map[string]int{"first run": 1 + 1 + 2 + 1 + 20, "second run, no changes": 1 + 1 + 2 + 1 + 1}
	for _, run := range []string{"first run", "second run, no changes"} {
		now = now.Add(time.Hour)
		srv.ResetRequests()
		p, res, err := e.Sync(ctx(t))
		if err != nil || (res != nil && res.Failed > 0) {
			t.Fatalf("%s: %v", run, err)
		}
		got := srv.Requests("")
		t.Logf("%s: %d OneLogin API requests (app users %d, roles %d, role users %d, groups %d, users %d; +%d token); plan: %s",
			run, got, srv.Requests(onelogintest.RouteAppUsers), srv.Requests(onelogintest.RouteRoles),
			srv.Requests(onelogintest.RouteRoleUsers), srv.Requests(onelogintest.RouteGroups),
			srv.Requests(onelogintest.RouteUsers), srv.Requests(onelogintest.RouteToken), p.SummaryLine())
		if got > most[run] {
			t.Errorf("%s: %d requests, want at most %d", run, got, most[run])
		}
	}
}
