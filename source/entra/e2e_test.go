package entra_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestEndToEnd syncs a fake Entra tenant into the embedded Netskope server
// through the engine: a first sync, a second that is empty, changes in
// Entra, a failed Graph read that changes nothing, and one user
// provisioned on demand.
func TestEndToEnd(t *testing.T) {
	tn := newTenant(t)
	var us []string
	for i := 0; i < 40; i++ {
		us = append(us, tn.user(fmt.Sprintf("user%02d@contoso.com", i), func(u *graphtest.User) { u.Department = "Sales" }))
	}
	guest := tn.user("gus_fabrikam.com#EXT#@contoso.onmicrosoft.com", func(u *graphtest.User) { u.Mail = "gus@fabrikam.com" })
	sales := tn.group("Sales", us[:20]...)
	ops := tn.group("Ops", append(slices.Clone(us[15:30]), tn.srv.AddDevice("KIOSK-1"))...)
	tn.assign(sales)
	tn.assign(ops)
	for _, id := range us[30:35] {
		tn.assign(id)
	}
	tn.assign(guest)
	tn.assign(us[35], tn.def) // Default Access: left out
	src := tn.open(func(c *entra.Config) { c.MaxRetries, c.Backoff = 2, time.Millisecond })

	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	state := sync.NewMemoryState()
	eng, err := sync.New(src, client, sync.WithState(state))
	if err != nil {
		t.Fatal(err)
	}
	run := func(what string) *sync.Plan {
		t.Helper()
		p, err := eng.Plan(ctx(t))
		if err != nil {
			t.Fatalf("%s: Plan: %v", what, err)
		}
		res, err := eng.Apply(ctx(t), p)
		if err != nil || res.Failed > 0 {
			t.Fatalf("%s: Apply: %v %v", what, err, res.Err())
		}
		return p
	}
	p := run("first sync")
	if p.Summary.CreateUsers != 36 || p.Summary.CreateGroups != 2 {
		var b strings.Builder
		_ = p.Render(&b, 10)
		t.Fatalf("first sync: %+v\n%s", p.Summary, b.String())
	}
	if ns.UserCount() != 36 || ns.GroupCount() != 2 {
		t.Fatalf("Netskope holds %d users, %d groups", ns.UserCount(), ns.GroupCount())
	}
	var gusSeen bool
	for _, u := range ns.Users() {
		gusSeen = gusSeen || u.UserName == "gus@fabrikam.com"
	}
	if !gusSeen {
		t.Error("the guest was not provisioned as gus@fabrikam.com")
	}
	if p := run("second sync"); !p.Empty() {
		t.Fatalf("second sync is not empty: %+v", p.Summary)
	}

	// Changes in Entra.
	must(t, tn.srv.UpdateUser(us[0], func(u *graphtest.User) { u.GivenName, u.DisplayName = "Renée", "Renée Test" }))
	must(t, tn.srv.UpdateUser(us[1], func(u *graphtest.User) { u.Disabled = true }))
	must(t, tn.srv.RemoveMembers(sales, us[2])) // in no other group: leaves scope
	must(t, tn.srv.AddMembers(ops, us[36]))
	p = run("after changes")
	s := p.Summary
	if s.UpdateUsers != 1 || s.DeactivateUsers != 2 || s.CreateUsers != 1 || s.AddMembers != 1 || s.RemoveMembers != 1 {
		var b strings.Builder
		_ = p.Render(&b, 20)
		t.Fatalf("after changes: %+v\n%s", s, b.String())
	}
	if p := run("sync after changes"); !p.Empty() {
		t.Fatalf("not empty after changes: %+v", p.Summary)
	}

	// A Graph read failing partway plans nothing.
	tn.srv.InjectFault(graphtest.Fault{Route: graphtest.RouteAppRoleAssignedTo, Status: http.StatusInternalServerError, Times: 3})
	must(t, tn.srv.RemoveMembers(sales, us[3:10]...))
	if _, err := eng.Plan(ctx(t)); !errors.Is(err, sync.ErrSourceRead) {
		t.Fatalf("Plan after a failed read: %v", err)
	} else if w := sourcetest.RepeatedContext(err.Error()); w != "" {
		t.Errorf("the error repeats %q: %v", w, err)
	}
	must(t, tn.srv.AddMembers(sales, us[3:10]...))

	// Provision on demand: a newly assigned user, and only that user.
	tn.assign(us[37])
	must(t, tn.srv.RemoveMembers(ops, us[36])) // would deactivate us[36] in a full sync
	od, err := sync.New(src.OnDemand("user37@contoso.com"), client, sync.WithState(state), sync.WithPartialSource())
	if err != nil {
		t.Fatal(err)
	}
	p, err = od.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = p.Render(&b, 10)
	t.Logf("on-demand plan:\n%s", b.String())
	if len(p.Changes) != 1 || p.Changes[0].Action != sync.ActionCreateUser {
		t.Fatalf("on-demand plan: %s", b.String())
	}
	if res, err := od.Apply(ctx(t), p); err != nil || res.Failed > 0 {
		t.Fatalf("on-demand apply: %v", err)
	}
	if ns.UserCount() != 38 {
		t.Errorf("Netskope holds %d users after provisioning one on demand", ns.UserCount())
	}
	odBad, _ := sync.New(src.OnDemand(us[38]), client, sync.WithState(state), sync.WithPartialSource())
	if _, err := odBad.Plan(ctx(t)); !errors.Is(err, entra.ErrNotInScope) {
		t.Errorf("on demand, user out of scope: %v", err)
	}
}
