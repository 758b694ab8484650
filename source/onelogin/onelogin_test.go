package onelogin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/onelogin"
	"github.com/provsync/provsync/source/onelogin/onelogintest"
)

const app = 777

// open returns a source over srv with fast retries; edit adjusts it.
func open(t *testing.T, srv *onelogintest.Server, edit func(*onelogin.Config)) *onelogin.Source {
	t.Helper()
	id, secret := srv.Credentials()
	cfg := onelogin.Config{BaseURL: srv.URL(), ClientID: id, ClientSecret: source.Secret(secret), AppID: app,
		Backoff: time.Millisecond, UserName: "username"}
	if edit != nil {
		edit(&cfg)
	}
	src, err := cfg.Open()
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func read(t *testing.T, src source.Source) *source.Directory {
	t.Helper()
	d, err := src.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func person(name string, status int) onelogintest.User {
	return onelogintest.User{Username: name, Email: name + "@example.com", Firstname: strings.ToUpper(name[:1]) + name[1:],
		Lastname: "Example", Status: status, State: 1}
}

// withAppUsers starts a server whose app has n users, u0000 and on.
func withAppUsers(t *testing.T, n int) *onelogintest.Server {
	srv := onelogintest.New(t)
	addAppUsers(srv, "u", n)
	return srv
}

// addAppUsers adds n active users named prefix0000 and on, with the app.
func addAppUsers(srv *onelogintest.Server, prefix string, n int) {
	for i := range n {
		srv.AssignApp(app, srv.AddUser(person(fmt.Sprintf("%s%04d", prefix, i), 1)).ID)
	}
}

func id(u onelogintest.User) string { return strconv.FormatInt(u.ID, 10) }

func byName(t *testing.T, d *source.Directory, name string) *source.User {
	t.Helper()
	for i := range d.Users {
		if d.Users[i].UserName == name {
			return &d.Users[i]
		}
	}
	t.Fatalf("user %s not read", name)
	return nil
}

func names(d *source.Directory) []string {
	var out []string
	for _, u := range d.Users {
		out = append(out, u.UserName)
	}
	slices.Sort(out)
	return out
}

func TestScopeRolesAndGroups(t *testing.T) {
	srv := onelogintest.New(t)
	sales := srv.AddGroup(onelogintest.Group{Name: "Sales"})
	ann := srv.AddUser(func() onelogintest.User { u := person("ann", 1); u.GroupID = &sales.ID; return u }())
	bob := srv.AddUser(person("bob", 1))
	cat := srv.AddUser(person("cat", 1))
	srv.AddUser(person("dan", 1)) // no app
	srv.AssignApp(app, ann.ID)
	srv.AssignApp(app+1, cat.ID) // another app
	users := srv.AddRole(onelogintest.Role{Name: "Netskope Users", Apps: []int64{app}})
	other := srv.AddRole(onelogintest.Role{Name: "Other app", Apps: []int64{app + 1}})
	must(t, srv.SetRoleUsers(users.ID, bob.ID, ann.ID))
	must(t, srv.SetRoleUsers(other.ID, cat.ID, ann.ID))

	d := read(t, open(t, srv, nil))
	if got := names(d); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("users %v, want ann (direct) and bob (through a role)", got)
	}
	if len(d.Groups) != 2 {
		t.Fatalf("groups %+v, want the role and the group", d.Groups)
	}
	for _, g := range d.Groups {
		switch g.ID {
		case "role:" + strconv.FormatInt(users.ID, 10):
			if g.DisplayName != "Netskope Users" || !slices.Equal(slices.Sorted(slices.Values(g.Members)), slices.Sorted(slices.Values([]string{id(ann), id(bob)}))) || g.Attributes.Value("kind") != "role" {
				t.Errorf("role group %+v", g)
			}
		case "group:" + strconv.FormatInt(sales.ID, 10):
			if g.DisplayName != "Sales" || !slices.Equal(g.Members, []string{id(ann)}) || g.Attributes.Value("kind") != "group" {
				t.Errorf("OneLogin group %+v", g)
			}
		default:
			t.Errorf("unexpected group %+v", g)
		}
	}
	a := byName(t, d, "ann")
	if v, _ := a.Attr("roles"); fmt.Sprint(v) != "[Netskope Users]" {
		t.Errorf("ann roles %v", v)
	}
	// roleIds are all the user's roles; roles names those holding the app.
	if v, _ := a.Attr("roleIds"); fmt.Sprint(v) != fmt.Sprint([]string{strconv.FormatInt(users.ID, 10), strconv.FormatInt(other.ID, 10)}) {
		t.Errorf("ann roleIds %v", v)
	}
	if v, _ := a.Attr("groupName"); v != "Sales" {
		t.Errorf("ann groupName %v", v)
	}

	// Only the app's own listing, which OneLogin may or may not fill
	// with role users: both behaviours.
	for _, withRoles := range []bool{false, true} {
		srv.SetAppListingIncludesRoles(withRoles)
		d = read(t, open(t, srv, func(c *onelogin.Config) { c.SkipRoleUsers = true; c.Groups = onelogin.GroupsNone }))
		want := []string{"ann"}
		if withRoles {
			want = []string{"ann", "bob"}
		}
		if got := names(d); !slices.Equal(got, want) || len(d.Groups) != 0 {
			t.Fatalf("app listing only (roles listed: %v): %v and %d groups", withRoles, got, len(d.Groups))
		}
		if d = read(t, open(t, srv, nil)); !slices.Equal(names(d), []string{"ann", "bob"}) {
			t.Fatalf("with role users (roles listed: %v): %v", withRoles, names(d))
		}
	}
}

func TestStatuses(t *testing.T) {
	tests := []struct {
		status, state int
		want          source.State
	}{
		{onelogin.StatusUnactivated, 1, source.StateSuspended},
		{onelogin.StatusActive, 1, source.StateActive},
		{onelogin.StatusSuspended, 1, source.StateSuspended},
		{onelogin.StatusLocked, 1, source.StateSuspended},
		{onelogin.StatusPasswordExpired, 1, source.StateSuspended},
		{onelogin.StatusAwaitingReset, 1, source.StateSuspended},
		{6, 1, source.StateSuspended}, // unused by OneLogin
		{onelogin.StatusPasswordPending, 1, source.StateSuspended},
		{onelogin.StatusSecurityQuestions, 1, source.StateSuspended},
		{onelogin.StatusActive, onelogin.UserStateUnapproved, source.StateActive},
		{onelogin.StatusActive, onelogin.UserStateRejected, source.StateSuspended},
		{onelogin.StatusActive, onelogin.UserStateUnlicensed, source.StateActive},
		{onelogin.StatusSuspended, onelogin.UserStateRejected, source.StateSuspended},
	}
	srv := onelogintest.New(t)
	name := func(status, state int) string { return fmt.Sprintf("s%d-%d", status, state) }
	for _, tt := range tests {
		u := person(name(tt.status, tt.state), tt.status)
		u.State = tt.state
		srv.AssignApp(app, srv.AddUser(u).ID)
	}
	d := read(t, open(t, srv, nil))
	for _, tt := range tests {
		u := byName(t, d, name(tt.status, tt.state))
		if u.State != tt.want {
			t.Errorf("status %d, state %d: %v, want %v", tt.status, tt.state, u.State, tt.want)
		}
		if v, _ := u.Attr("status"); v != int64(tt.status) {
			t.Errorf("status %d: attribute %v", tt.status, v)
		}
		if v, _ := u.Attr("userState"); v != int64(tt.state) {
			t.Errorf("state %d: attribute %v", tt.state, v)
		}
	}
	// The caller's own mapping: locked users stay active.
	d = read(t, open(t, srv, func(c *onelogin.Config) {
		c.State = func(status, state int) source.State {
			if status == onelogin.StatusLocked {
				return source.StateActive
			}
			return onelogin.DefaultState(status, state)
		}
	}))
	if byName(t, d, name(3, 1)).State != source.StateActive || byName(t, d, name(2, 1)).State != source.StateSuspended {
		t.Error("custom state mapping not applied")
	}
	if onelogin.DefaultState(onelogin.StatusActive, onelogin.UserStateUnknown) != source.StateActive {
		t.Error("an active user without a state is not active")
	}
}

func TestProfile(t *testing.T) {
	srv := onelogintest.New(t)
	boss := srv.AddUser(person("boss", 1))
	u := person("ann", 1)
	u.Title, u.Department, u.Company, u.Phone, u.ExternalID, u.SAMAccountName = "Engineer", "R&D", "Acme", "+1 555", "E-7", "ann"
	u.ManagerUserID = &boss.ID
	u.CustomAttributes = map[string]string{"costCenter": "CC-1", "email": "shadow@example.com", "empty": ""}
	ann := srv.AddUser(u)
	srv.AssignApp(app, ann.ID, boss.ID)
	a := byName(t, read(t, open(t, srv, nil)), "ann")
	tests := []struct {
		attr string
		want any
	}{
		{"jobTitle", "Engineer"}, {"department", "R&D"}, {"company", "Acme"}, {"phone", "+1 555"},
		{"externalId", "E-7"}, {"samAccountName", "ann"}, {"managerId", id(boss)}, {"costCenter", "CC-1"},
		{"custom_attributes.email", "shadow@example.com"}, {"empty", nil}, {"userState", int64(1)},
	}
	for _, tt := range tests {
		got, ok := a.Attr(tt.attr)
		if !ok {
			got = nil
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.attr, got, tt.want)
		}
	}
	if a.PrimaryEmail() != "ann@example.com" || a.DisplayName != "Ann Example" {
		t.Errorf("ann: %+v", a)
	}
	// By default the email is the user name, the username an attribute.
	d := read(t, open(t, srv, func(c *onelogin.Config) { c.UserName = "" }))
	if a := byName(t, d, "ann@example.com"); a.Attributes.Value("oneloginUsername") != "ann" {
		t.Errorf("default user name: %+v", a)
	}
}

func TestPagingAndCursors(t *testing.T) {
	srv := onelogintest.New(t)
	var ids []int64
	for i := range 2345 {
		ids = append(ids, srv.AddUser(person(fmt.Sprintf("u%04d", i), 1)).ID)
	}
	srv.AssignApp(app, ids[:1500]...)
	role := srv.AddRole(onelogintest.Role{Name: "R", Apps: []int64{app}})
	must(t, srv.SetRoleUsers(role.ID, ids[1000:]...))
	src := open(t, srv, func(c *onelogin.Config) { c.Groups = onelogin.GroupsRoles })
	d := read(t, src)
	if len(d.Users) != 2345 || len(d.Groups[0].Members) != 1345 {
		t.Fatalf("read %d users, role of %d; want 2345 and 1345", len(d.Users), len(d.Groups[0].Members))
	}
	// 2 pages of app users, 1 of roles, 2 of role users, 47 profile batches.
	if got := srv.Requests(""); got != 2+1+2+47 {
		t.Errorf("%d requests, want %d", got, 2+1+2+47)
	}
	if src.Requests() != srv.Requests("") {
		t.Errorf("source counts %d requests, server %d", src.Requests(), srv.Requests(""))
	}
}

func TestRetries(t *testing.T) {
	// The waits pass on a virtual clock: a Retry-After is waited exactly,
	// and backoffs from Backoff (1 ms) stay under a second in all.
	tests := []struct {
		name  string
		fault onelogintest.Fault
	}{
		{"429 with Retry-After", onelogintest.Fault{Status: 429, RetryAfter: 3}},
		{"500 twice", onelogintest.Fault{Status: 500, Times: 2}},
		{"503 on a later page", onelogintest.Fault{Route: onelogintest.RouteAppUsers, Page: 2, Status: 503}},
		{"502 on profiles", onelogintest.Fault{Route: onelogintest.RouteUsers, Status: 502, Times: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := withAppUsers(t, 30)
			srv.InjectFault(tt.fault)
			src := open(t, srv, func(c *onelogin.Config) { c.PageSize = 10 })
			clock := newVirtualClock()
			onelogin.SetClock(src, clock.Now, clock.Wait)
			start := clock.Now()
			// App users page 1,000 at a time: make the second page exist.
			if tt.fault.Page == 2 {
				addAppUsers(srv, "v", 1000)
			}
			if d := read(t, src); len(d.Users) < 30 {
				t.Fatalf("read %d users", len(d.Users))
			}
			took := clock.Now().Sub(start)
			if ra := time.Duration(tt.fault.RetryAfter) * time.Second; (ra > 0 && took != ra) || (ra == 0 && took >= time.Second) {
				t.Errorf("the retries waited %v on the clock, want %v", took, ra)
			}
		})
	}
}

func TestFailurePartway(t *testing.T) {
	tests := []struct {
		name  string
		fault onelogintest.Fault
		want  []error
	}{
		{"profiles fail", onelogintest.Fault{Route: onelogintest.RouteUsers, Status: 500, Times: 100},
			[]error{source.ErrUnavailable}},
		{"app users fail on page 2", onelogintest.Fault{Route: onelogintest.RouteAppUsers, Page: 2, Status: 503, Times: 100},
			[]error{source.ErrUnavailable, source.ErrIncomplete}},
		{"groups fail", onelogintest.Fault{Route: onelogintest.RouteGroups, Status: 500, Times: 100},
			[]error{source.ErrUnavailable}},
		{"throttled past the retries", onelogintest.Fault{Route: onelogintest.RouteRoles, Status: 429, Times: 100},
			[]error{source.ErrUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := withAppUsers(t, 1030)
			srv.InjectFault(tt.fault)
			src := open(t, srv, func(c *onelogin.Config) { c.MaxRetries = 2 })
			d, err := src.Read(ctx(t))
			if d != nil || err == nil {
				t.Fatalf("read %v, %v; want nothing and an error", d, err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%v does not match %v", err, w)
				}
			}
			var ae *onelogin.APIError
			if !errors.As(err, &ae) || ae.Status != tt.fault.Status {
				t.Errorf("the API error is not reachable: %v", err)
			}
			// The next read, the fault gone, succeeds.
			srv.ClearFaults()
			if d := read(t, src); len(d.Users) != 1030 {
				t.Errorf("read after the fault: %d users", len(d.Users))
			}
		})
	}
}

func TestFailureStopsTheRead(t *testing.T) {
	// A refused request ends the read: of the 103 profile batches, only
	// those already in flight are sent, and they are cancelled. The fake
	// holds every profile request after the refused one until the client
	// cancels it, so the count is bounded by the concurrency alone.
	for _, concurrency := range []int{1, 4, 16} {
		t.Run(strconv.Itoa(concurrency), func(t *testing.T) {
			srv := withAppUsers(t, 1030)
			srv.InjectFault(onelogintest.Fault{Route: onelogintest.RouteUsers, Status: 400, Hold: true})
			src := open(t, srv, func(c *onelogin.Config) { c.PageSize, c.Concurrency = 10, concurrency })
			c := ctx(t)
			d, err := src.Read(c)
			var ae *onelogin.APIError
			if d != nil || !errors.Is(err, source.ErrUnavailable) || !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("read %v, %v; want nothing and the 400", d, err)
			}
			if c.Err() != nil {
				t.Fatalf("the read ended with its context (%v): the failure did not cancel the requests in flight", c.Err())
			}
			n := srv.Requests(onelogintest.RouteUsers)
			if n < 1 || n > concurrency {
				t.Errorf("%d profile requests, want 1 to %d: none may start after the failure", n, concurrency)
			}
		})
	}
}

func TestMissingAfterCursor(t *testing.T) {
	srv := withAppUsers(t, 1001)
	srv.OmitAfterCursor(onelogintest.RouteAppUsers)
	d, err := open(t, srv, nil).Read(ctx(t))
	if d != nil || !errors.Is(err, source.ErrIncomplete) || !strings.Contains(err.Error(), "1000 of 1001") {
		t.Fatalf("read %v, %v; want nothing and ErrIncomplete", d, err)
	}
}

func TestCursorWithLimitRefused(t *testing.T) {
	// The fake refuses cursor together with limit, as OneLogin does; the
	// source pages 1,000 app users at a time and 10 profiles a page, so a
	// read that sent both would fail here.
	srv := withAppUsers(t, 25)
	src := open(t, srv, func(c *onelogin.Config) { c.PageSize = 10; c.MaxRetries = -1 })
	if d := read(t, src); len(d.Users) != 25 {
		t.Fatalf("read %d users", len(d.Users))
	}
}

// virtualClock is a clock that moves only when the client waits: a wait
// moves it to the time waited for, if that is later. Shared by the fake
// server and the client, it makes rate limit windows of any length pass
// at once, and the same way whatever the goroutine scheduling.
type virtualClock struct {
	mu    gosync.Mutex
	t     time.Time
	waits int
}

func newVirtualClock() *virtualClock {
	return &virtualClock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *virtualClock) Wait(ctx context.Context, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	if until.After(c.t) {
		c.t = until
	}
	return nil
}

func TestRateLimitPacing(t *testing.T) {
	// The client may not retry a 429 here: it must slow down and wait for
	// the reset by the X-RateLimit headers alone. The windows pass on a
	// virtual clock shared with the fake.
	tests := []struct {
		name        string
		limit       int
		window      time.Duration
		concurrency int
		reads       int
	}{
		// 1+1+20/2 = 12 requests: wait for one reset.
		{"window spent, one at a time", 8, 2 * time.Second, 1, 1},
		{"window spent, four at a time", 8, 2 * time.Second, 4, 1},
		// Two reads, 24 requests: the last request of the window is
		// spread out, then a reset.
		{"two reads, four at a time", 20, time.Second, 4, 2},
		{"two reads, one at a time, hour-long window", 20, time.Hour, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newVirtualClock()
			srv := withAppUsers(t, 20)
			srv.SetClock(clock.Now)
			srv.SetRateLimit(tt.limit, tt.window)
			src := open(t, srv, func(c *onelogin.Config) {
				c.PageSize, c.MaxRetries, c.Concurrency, c.Groups = 2, -1, tt.concurrency, onelogin.GroupsNone
			})
			onelogin.SetClock(src, clock.Now, clock.Wait)
			start := clock.Now()
			for i := range tt.reads {
				if d := read(t, src); len(d.Users) != 20 {
					t.Fatalf("read %d: %d users", i+1, len(d.Users))
				}
			}
			// 12 requests a read: more than one window allows, so the
			// reads waited for a reset. One at a time, they waited for
			// one reset exactly; in parallel, a response of the old
			// window read after the clock moved makes the client wait for
			// the next reset too, which is safe.
			took := clock.Now().Sub(start)
			if took < tt.window || (tt.concurrency == 1 && took != tt.window) {
				t.Errorf("the reads took %v on the clock, want the %v window to pass", took, tt.window)
			}
			if n := srv.Requests(""); n != 12*tt.reads {
				t.Errorf("%d requests, want %d: none refused", n, 12*tt.reads)
			}
		})
	}
}

func TestIncremental(t *testing.T) {
	srv := onelogintest.New(t)
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	srv.SetClock(func() time.Time { return now })
	var us []onelogintest.User
	for i := range 10 {
		u := srv.AddUser(person(fmt.Sprintf("u%d", i), 1))
		srv.AssignApp(app, u.ID)
		us = append(us, u)
	}
	role := srv.AddRole(onelogintest.Role{Name: "R", Apps: []int64{app}})
	must(t, srv.SetRoleUsers(role.ID, us[0].ID))
	src := open(t, srv, func(c *onelogin.Config) { c.Groups = onelogin.GroupsRoles })
	now = now.Add(time.Hour)
	full, err := src.ReadChanges(ctx(t), "")
	if err != nil || !full.Full || len(full.Users) != 10 {
		t.Fatalf("first read: %v %+v", err, full)
	}

	now = now.Add(time.Hour)
	must(t, srv.UpdateUser(us[1].ID, func(u *onelogintest.User) { u.Status = onelogin.StatusSuspended }))
	must(t, srv.UpdateUser(us[2].ID, func(u *onelogintest.User) { u.Department = "Ops" }))
	srv.UnassignApp(app, us[3].ID)
	must(t, srv.SetRoleUsers(role.ID, us[0].ID, us[4].ID)) // no updated_at change
	nu := srv.AddUser(person("new", 1))
	srv.AssignApp(app, nu.ID)
	now = now.Add(time.Hour)
	srv.ResetRequests()
	ch, err := src.ReadChanges(ctx(t), full.Cursor)
	if err != nil || ch.Full {
		t.Fatalf("changes: %v %+v", err, ch)
	}
	var got []string
	for _, u := range ch.Users {
		got = append(got, u.UserName)
	}
	slices.Sort(got)
	if want := []string{"new", "u1", "u2", "u4"}; !slices.Equal(got, want) {
		t.Errorf("changed users %v, want %v", got, want)
	}
	if !slices.Equal(ch.RemovedUsers, []string{id(us[3])}) {
		t.Errorf("removed %v, want %s", ch.RemovedUsers, id(us[3]))
	}
	if len(ch.Groups) != 1 || len(ch.Groups[0].Members) != 2 {
		t.Errorf("groups %+v, want the role with two members", ch.Groups)
	}
	t.Logf("incremental read with 4 changes: %d requests", srv.Requests(""))

	srv.ResetRequests()
	again, err := src.ReadChanges(ctx(t), ch.Cursor)
	if err != nil || len(again.Users) != 0 || len(again.RemovedUsers) != 0 {
		t.Fatalf("nothing changed: %v, %d users, %d removed", err, len(again.Users), len(again.RemovedUsers))
	}
	// app users, roles, role users, users updated since.
	if got := srv.Requests(""); got != 4 {
		t.Errorf("a read with nothing changed made %d requests, want 4", got)
	}

	if _, err := src.ReadChanges(ctx(t), "not-a-cursor"); !errors.Is(err, source.ErrCursorExpired) {
		t.Errorf("a bad cursor: %v, want ErrCursorExpired", err)
	}
	otherApp := open(t, srv, func(c *onelogin.Config) { c.AppID = app + 1 })
	if _, err := otherApp.ReadChanges(ctx(t), again.Cursor); !errors.Is(err, source.ErrCursorExpired) {
		t.Errorf("another app's cursor: %v, want ErrCursorExpired", err)
	}
}

func TestSecretsStayOut(t *testing.T) {
	srv := onelogintest.New(t)
	srv.AssignApp(app, srv.AddUser(person("ann", 1)).ID)
	id, secret := srv.Credentials()
	core, logs := observer.New(zap.DebugLevel)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
		src, err := onelogin.Config{BaseURL: srv.URL(), ClientID: id, ClientSecret: source.Secret(secret), AppID: app,
			AuthStyle: style, Logger: zap.New(core)}.Open()
		must(t, err)
		read(t, src)
	}
	bad, err := onelogin.Config{BaseURL: srv.URL(), ClientID: id, ClientSecret: "wrong-secret-value", AppID: app,
		Logger: zap.New(core), MaxRetries: -1}.Open()
	must(t, err)
	_, err = bad.Read(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "credential") {
		t.Fatalf("wrong secret: %v", err)
	}
	var all bytes.Buffer
	all.WriteString(err.Error())
	for _, e := range logs.All() {
		fmt.Fprintf(&all, "%s %v\n", e.Message, e.ContextMap())
	}
	fmt.Fprintf(&all, "%v %+v %#v", source.Secret(secret), source.Secret(secret), source.Secret(secret))
	for _, s := range []string{secret, "wrong-secret-value"} {
		if strings.Contains(all.String(), s) {
			t.Errorf("a secret appears in errors, logs or formatting")
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  onelogin.Config
		want string
	}{
		{"no url", onelogin.Config{ClientID: "a", ClientSecret: "b", AppID: 1}, "BaseURL"},
		{"plain http", onelogin.Config{BaseURL: "http://acme.onelogin.com", ClientID: "a", ClientSecret: "b", AppID: 1}, "loopback"},
		{"no credentials", onelogin.Config{BaseURL: "https://acme.onelogin.com", AppID: 1}, "ClientSecret"},
		{"no app", onelogin.Config{BaseURL: "https://acme.onelogin.com", ClientID: "a", ClientSecret: "b"}, "AppID"},
		{"groups", onelogin.Config{BaseURL: "https://acme.onelogin.com", ClientID: "a", ClientSecret: "b", AppID: 1, Groups: "teams"}, "Groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.Open()
			if !errors.Is(err, onelogin.ErrConfig) || !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v, want ErrConfig naming %s", err, tt.want)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSecretNeverPrints prints a Config and the Source opened from it with
// every fmt verb and as JSON, and reads the source once: the client secret
// may show nowhere.
func TestSecretNeverPrints(t *testing.T) {
	srv := withAppUsers(t, 3)
	id, secret := srv.Credentials()
	cfg := onelogin.Config{BaseURL: srv.URL(), ClientID: id, ClientSecret: source.Secret(secret), AppID: app}
	src, err := cfg.Open()
	if err != nil {
		t.Fatal(err)
	}
	if d := read(t, src); len(d.Users) != 3 {
		t.Fatalf("read %d users; the token source lost the secret", len(d.Users))
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x", "%d"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, src), fmt.Sprintf(verb, *src))
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	for _, s := range out {
		for _, leak := range []string{secret, fmt.Sprintf("%x", secret)} {
			if strings.Contains(s, leak) {
				t.Fatalf("the secret shows in %.200s", s)
			}
		}
	}
}
