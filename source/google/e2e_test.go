package google_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	admin "google.golang.org/api/admin/directory/v1"

	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/google/directorytest"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestEndToEnd syncs a fake Workspace account into the embedded Netskope
// server through the engine, and reads each result as Google's admin log.
func TestEndToEnd(t *testing.T) {
	srv := directorytest.New(t)
	var us []string
	for i := range 40 {
		us = append(us, srv.AddUser(user(fmt.Sprintf("user%02d", i), inOU("/Staff"))).Id)
	}
	srv.AddUser(user("archived", inOU("/Staff"), func(u *admin.User) { u.Archived = true }))
	sales := srv.AddGroup(admin.Group{Email: "sales@example.com", Name: "Sales"})
	ops := srv.AddGroup(admin.Group{Email: "ops@example.com", Name: "Ops"})
	must(t, srv.AddMembers(sales.Id, us[:20]...))
	must(t, srv.AddMembers(ops.Id, us[15:30]...))
	src := open(t, srv, nil)

	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	must(t, err)
	policy := sync.DefaultPolicy()
	policy.Deleted = sync.Delete // Google's "delete" deprovisioning choice
	eng, err := sync.New(src, client, sync.WithPolicy(policy))
	must(t, err)
	run := func(what string) (*sync.Plan, map[google.LogEventName]int) {
		t.Helper()
		p, err := eng.Plan(ctx(t))
		if err != nil {
			t.Fatalf("%s: Plan: %v", what, err)
		}
		res, err := eng.Apply(ctx(t), p)
		if err != nil || res.Failed > 0 {
			t.Fatalf("%s: Apply: %v %v", what, err, res.Err())
		}
		return p, logCounts(res)
	}
	p, log := run("first sync")
	if p.Summary.CreateUsers != 40 || p.Summary.CreateGroups != 2 || ns.UserCount() != 40 || ns.GroupCount() != 2 {
		t.Fatalf("first sync: %+v; Netskope holds %d users and %d groups", p.Summary, ns.UserCount(), ns.GroupCount())
	}
	if log[google.EventCreateUser] != 40 || len(log) != 1 {
		t.Errorf("admin log of the first sync: %v, want 40 creates only", log)
	}
	if p, _ := run("second sync"); !p.Empty() {
		t.Fatalf("second sync is not empty: %+v", p.Summary)
	}

	// Changes in Workspace: a rename, a suspension, a deletion, an
	// archived user, and a membership.
	must(t, srv.UpdateUser(us[0], func(u *admin.User) { u.Name.GivenName, u.Name.FullName = "Renée", "Renée Example" }))
	must(t, srv.UpdateUser(us[1], func(u *admin.User) { u.Suspended = true }))
	must(t, srv.DeleteUser(us[2], time.Now()))
	must(t, srv.UpdateUser(us[3], func(u *admin.User) { u.Archived = true }))
	must(t, srv.AddMembers(ops.Id, us[35]))
	p, log = run("after changes")
	s := p.Summary
	if s.UpdateUsers != 1 || s.DeactivateUsers != 2 || s.DeleteUsers != 1 || s.AddMembers != 1 {
		var b strings.Builder
		_ = p.Render(&b, 20)
		t.Fatalf("after changes: %+v\n%s", s, b.String())
	}
	want := map[google.LogEventName]int{google.EventUpdateUser: 3, google.EventHardDelete: 1}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Errorf("admin log after changes: %v, want %v", log, want)
	}
	if ns.UserCount() != 39 {
		t.Errorf("Netskope holds %d users after a hard delete, want 39", ns.UserCount())
	}
	if p, _ := run("sync after changes"); !p.Empty() {
		t.Fatalf("not empty after changes: %+v", p.Summary)
	}

	// A Directory read failing partway plans nothing, though users left.
	srv.InjectFault(directorytest.Fault{Route: directorytest.RouteMembers, Status: 503, Reason: "backendError", Times: 100})
	for _, id := range us[20:25] {
		srv.RemoveUser(id)
	}
	if _, err := eng.Plan(ctx(t)); !errors.Is(err, sync.ErrSourceRead) {
		t.Fatalf("Plan after a failed read: %v", err)
	} else if w := sourcetest.RepeatedContext(err.Error()); w != "" {
		t.Errorf("the error repeats %q: %v", w, err)
	}
}

// adminLog reads a result as Google's admin log, through google.Event.
func adminLog(res *sync.Result) map[google.LogEventName][]string {
	out := map[google.LogEventName][]string{}
	for _, o := range res.Outcomes {
		if o.Status != sync.StatusApplied && o.Status != sync.StatusFailed {
			continue
		}
		if ev, ok := google.Event(string(o.Action), o.Status == sync.StatusFailed); ok {
			out[ev] = append(out[ev], o.Object.Key)
		}
	}
	return out
}

func logCounts(res *sync.Result) map[google.LogEventName]int {
	out := map[google.LogEventName]int{}
	for ev, keys := range adminLog(res) {
		out[ev] = len(keys)
	}
	return out
}

// TestAdminLog maps every action of the engine, applied and failed, to
// Google's events; the action names are the engine's own constants, so a
// renamed action fails here.
func TestAdminLog(t *testing.T) {
	tests := []struct {
		action sync.Action
		failed bool
		want   google.LogEventName // "" for no entry
	}{
		{sync.ActionCreateUser, false, google.EventCreateUser},
		{sync.ActionUpdateUser, false, google.EventUpdateUser},
		{sync.ActionDeactivateUser, false, google.EventUpdateUser},
		{sync.ActionDeleteUser, false, google.EventHardDelete},
		{sync.ActionCreateUser, true, google.EventFailure},
		{sync.ActionDeleteUser, true, google.EventFailure},
		{sync.ActionAddMembers, false, ""},
		{sync.ActionRemoveMembers, false, ""},
		{sync.ActionRemoveMembers, true, google.EventFailure},
		{sync.ActionCreateGroup, false, ""},
		{"no-such-action", false, ""},
	}
	for _, tt := range tests {
		ev, ok := google.Event(string(tt.action), tt.failed)
		if ev != tt.want || ok != (tt.want != "") {
			t.Errorf("Event(%q, failed=%v) = %q, %v; want %q", tt.action, tt.failed, ev, ok, tt.want)
		}
	}
	ref := func(key string) sync.Ref { return sync.Ref{Kind: sync.KindUser, Key: key} }
	res := &sync.Result{Outcomes: []sync.Outcome{
		{Action: sync.ActionCreateUser, Object: ref("a"), Status: sync.StatusApplied},
		{Action: sync.ActionCreateUser, Object: ref("e"), Status: sync.StatusFailed, Error: "409"},
		{Action: sync.ActionUpdateUser, Object: ref("f"), Status: sync.StatusSkipped},
	}}
	if got := fmt.Sprint(adminLog(res)); got != fmt.Sprint(map[google.LogEventName][]string{google.EventCreateUser: {"a"}, google.EventFailure: {"e"}}) {
		t.Errorf("admin log %s", got)
	}
}

// TestRequestCounts reads a domain of 1,000 users and 50 groups twice and
// reports the Directory requests each read makes. go test -v -run
// RequestCounts ./source/google prints them.
func TestRequestCounts(t *testing.T) {
	srv := directorytest.New(t)
	var us []string
	for i := range 1000 {
		us = append(us, srv.AddUser(user(fmt.Sprintf("user%04d", i), func(u *admin.User) { u.Suspended = i%40 == 0 })).Id)
	}
	for g := range 50 {
		grp := srv.AddGroup(admin.Group{Email: fmt.Sprintf("team%02d@example.com", g), Name: fmt.Sprintf("Team %02d", g)})
		var members []string
		for i := g; i < len(us); i += 25 { // 40 members each, every user in two groups
			members = append(members, us[i])
		}
		must(t, srv.AddMembers(grp.Id, members...))
	}
	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	must(t, err)
	eng, err := sync.New(open(t, srv, nil), client)
	must(t, err)
	for _, run := range []string{"first run", "second run, no changes"} {
		srv.ResetRequests()
		p, res, err := eng.Sync(ctx(t))
		if err != nil || (res != nil && res.Failed > 0) {
			t.Fatalf("%s: %v", run, err)
		}
		got := srv.Requests("")
		t.Logf("%s: %d Directory API requests (%d users, %d groups, %d members pages); plan: %s", run, got,
			srv.Requests(directorytest.RouteUsers), srv.Requests(directorytest.RouteGroups), srv.Requests(directorytest.RouteMembers), p.SummaryLine())
		// 2 user pages + 1 deleted-users page + 1 groups page + 50 member listings.
		if got != 54 {
			t.Errorf("%s: %d requests, want 54", run, got)
		}
	}
}

// TestCustomerMemberInPlan: a group whose CUSTOMER member makes everyone a
// member says so in the plan's reasons, when it is created and when a new
// user joins it that way.
func TestCustomerMemberInPlan(t *testing.T) {
	srv := directorytest.New(t)
	srv.AddUser(user("ann"))
	srv.AddUser(user("bob"))
	all := srv.AddGroup(admin.Group{Email: "all@example.com", Name: "All"})
	must(t, srv.AddCustomerMember(all.Id))
	srv.AddGroup(admin.Group{Email: "plain@example.com", Name: "Plain"})
	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	must(t, err)
	eng, err := sync.New(open(t, srv, func(c *google.Config) { c.Groups = google.GroupsAll }), client)
	must(t, err)
	reasons := func() map[string]string {
		p, err := eng.Plan(ctx(t))
		must(t, err)
		out := map[string]string{}
		for _, c := range p.Changes {
			if c.Object.Kind == sync.KindGroup {
				out[string(c.Action)+" "+c.Object.Key] = c.Reason
			}
		}
		res, err := eng.Apply(ctx(t), p)
		if err != nil || res.Failed > 0 {
			t.Fatalf("Apply: %v %v", err, res.Err())
		}
		return out
	}
	got := reasons()
	if r := got["create-group All"]; !strings.Contains(r, google.CustomerMembersNote) {
		t.Errorf("create All: reason %q does not name the CUSTOMER member", r)
	}
	if r := got["create-group Plain"]; strings.Contains(r, "CUSTOMER") {
		t.Errorf("create Plain: reason %q", r)
	}
	srv.AddUser(user("cy"))
	got = reasons()
	if r := got["add-members All"]; !strings.Contains(r, google.CustomerMembersNote) {
		t.Errorf("add-members All: reason %q does not name the CUSTOMER member (plan: %v)", r, got)
	}
}
