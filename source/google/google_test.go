package google_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/google/directorytest"
)

// open returns a source over srv, authenticated with the server's static
// token, fast retries and no rate limit; edit adjusts the configuration.
func open(t testing.TB, srv *directorytest.Server, edit func(*google.Config)) *google.Source {
	t.Helper()
	cfg := google.Config{
		TokenSource:       oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()}),
		Endpoint:          srv.Endpoint(),
		Backoff:           time.Millisecond,
		RequestsPerMinute: -1,
	}
	if edit != nil {
		edit(&cfg)
	}
	src, err := cfg.Open()
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func read(t *testing.T, src source.Source) *source.Directory {
	t.Helper()
	dir, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func user(local string, edit ...func(*admin.User)) admin.User {
	u := admin.User{PrimaryEmail: local + "@" + directorytest.Domain,
		Name: &admin.UserName{GivenName: strings.ToUpper(local[:1]) + local[1:], FamilyName: "Example"}}
	for _, e := range edit {
		e(&u)
	}
	return u
}

func inOU(path string) func(*admin.User) { return func(u *admin.User) { u.OrgUnitPath = path } }

func ids(dir *source.Directory) []string {
	var out []string
	for _, u := range dir.Users {
		out = append(out, u.UserName)
	}
	sort.Strings(out)
	return out
}

func userByName(t *testing.T, dir *source.Directory, name string) *source.User {
	t.Helper()
	for i := range dir.Users {
		if strings.HasPrefix(dir.Users[i].UserName, name+"@") {
			return &dir.Users[i]
		}
	}
	t.Fatalf("user %s not read", name)
	return nil
}

func groupByName(t *testing.T, dir *source.Directory, name string) *source.Group {
	t.Helper()
	for i := range dir.Groups {
		if dir.Groups[i].DisplayName == name {
			return &dir.Groups[i]
		}
	}
	t.Fatalf("group %s not read", name)
	return nil
}

func TestStatesAndArchived(t *testing.T) {
	srv := directorytest.New(t)
	srv.AddUser(user("ann"))
	srv.AddUser(user("bob", func(u *admin.User) { u.Suspended = true; u.SuspensionReason = "ADMIN" }))
	srv.AddUser(user("cat", func(u *admin.User) { u.Archived = true }))
	gone := srv.AddUser(user("dan"))
	at := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	if err := srv.DeleteUser(gone.Id, at); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*google.Config)
		want []string
	}{
		{"deleted users read", nil, []string{"ann@example.com", "bob@example.com", "dan@example.com"}},
		{"deleted users skipped", func(c *google.Config) { c.SkipDeleted = true }, []string{"ann@example.com", "bob@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := read(t, open(t, srv, tt.edit))
			if got := ids(dir); !slices.Equal(got, tt.want) {
				t.Fatalf("users %v, want %v (archived users never)", got, tt.want)
			}
			if s := userByName(t, dir, "ann").State; s != source.StateActive {
				t.Errorf("ann: state %v, want active", s)
			}
			if s := userByName(t, dir, "bob").State; s != source.StateSuspended {
				t.Errorf("bob: state %v, want suspended", s)
			}
			if tt.edit == nil {
				dan := userByName(t, dir, "dan")
				if dan.State != source.StateDeleted || !dan.DeletedAt.Equal(at) {
					t.Errorf("dan: state %v deleted at %v, want deleted at %v", dan.State, dan.DeletedAt, at)
				}
			}
		})
	}
}

func TestScope(t *testing.T) {
	srv := directorytest.New(t)
	srv.AddUser(user("root"))
	srv.AddUser(user("sam", inOU("/Sales")))
	srv.AddUser(user("sue", inOU("/Sales/EMEA")))
	srv.AddUser(user("salt", inOU("/SalesOps"))) // a sibling whose path shares the prefix
	eng := srv.AddUser(user("eve", inOU("/Engineering")))
	gus := srv.AddUser(user("gus", inOU("/Engineering")))
	sam := srv.AddUser(user("ivy", inOU("/Sales"), func(u *admin.User) { u.Archived = true }))
	del := srv.AddUser(user("old", inOU("/Sales")))
	must(t, srv.DeleteUser(del.Id, time.Now()))

	outer := srv.AddGroup(admin.Group{Email: "netskope-users@example.com", Name: "Netskope users"})
	inner := srv.AddGroup(admin.Group{Email: "contractors@example.com", Name: "Contractors"})
	everyone := srv.AddGroup(admin.Group{Email: "everyone@example.com", Name: "Everyone"})
	must(t, srv.AddMembers(outer.Id, eng.Id, sam.Id, inner.Id))
	must(t, srv.AddMembers(inner.Id, gus.Id))
	must(t, srv.AddCustomerMember(everyone.Id))

	tests := []struct {
		name string
		edit func(*google.Config)
		want []string
	}{
		{"whole customer", nil, []string{"eve", "gus", "old", "root", "salt", "sam", "sue"}},
		{"domain", func(c *google.Config) { c.Domain = directorytest.Domain }, []string{"eve", "gus", "old", "root", "salt", "sam", "sue"}},
		{"org unit with sub-units", func(c *google.Config) { c.OrgUnits = []string{"/Sales"} }, []string{"old", "sam", "sue"}},
		{"org unit alone", func(c *google.Config) { c.OrgUnits = []string{"/Sales"}; c.ExcludeSubUnits = true }, []string{"old", "sam"}},
		{"two org units", func(c *google.Config) { c.OrgUnits = []string{"/Sales/EMEA", "/Engineering"} }, []string{"eve", "gus", "sue"}},
		{"overlapping org units", func(c *google.Config) { c.OrgUnits = []string{"/Sales", "/Sales/EMEA"} }, []string{"old", "sam", "sue"}},
		{"group, nested members included", func(c *google.Config) { c.ScopeGroups = []string{"netskope-users@example.com"} }, []string{"eve", "gus"}},
		{"group by id", func(c *google.Config) { c.ScopeGroups = []string{inner.Id} }, []string{"gus"}},
		{"customer member", func(c *google.Config) { c.ScopeGroups = []string{"everyone@example.com"} }, []string{"eve", "gus", "root", "salt", "sam", "sue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := read(t, open(t, srv, tt.edit))
			var got []string
			for _, n := range ids(dir) {
				got = append(got, strings.TrimSuffix(n, "@example.com"))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("users %v, want %v", got, tt.want)
			}
		})
	}

	_, err := open(t, srv, func(c *google.Config) { c.ScopeGroups = []string{"nope@example.com"} }).Read(context.Background())
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "nope@example.com") {
		t.Fatalf("unknown scope group: %v, want ErrInvalid naming it", err)
	}
}

func TestGroupsAndNesting(t *testing.T) {
	srv := directorytest.New(t)
	a := srv.AddUser(user("ann"))
	b := srv.AddUser(user("bob"))
	c := srv.AddUser(user("cy", func(u *admin.User) { u.Archived = true }))
	parent := srv.AddGroup(admin.Group{Email: "all@example.com", Name: "All", Description: "Everybody",
		Aliases: []string{"everybody@example.com"}})
	child := srv.AddGroup(admin.Group{Email: "team@example.com", Name: "Team"})
	grand := srv.AddGroup(admin.Group{Email: "core@example.com", Name: "Core"})
	must(t, srv.AddMembers(parent.Id, a.Id, child.Id, c.Id))
	must(t, srv.AddMembers(child.Id, grand.Id))
	must(t, srv.AddMembers(grand.Id, b.Id))

	t.Run("nested groups reported", func(t *testing.T) {
		dir := read(t, open(t, srv, nil))
		all := groupByName(t, dir, "All")
		if !slices.Equal(all.Members, []string{a.Id}) || !slices.Equal(all.MemberGroups, []string{child.Id}) {
			t.Errorf("All: members %v groups %v, want [%s] and [%s]", all.Members, all.MemberGroups, a.Id, child.Id)
		}
		if all.Description != "Everybody" || all.Email != "all@example.com" {
			t.Errorf("All: %+v", all)
		}
		if v, _ := all.Attr("aliases"); !slices.Equal(v.([]string), []string{"everybody@example.com"}) {
			t.Errorf("All: aliases %v", v)
		}
		if team := groupByName(t, dir, "Team"); !slices.Equal(team.MemberGroups, []string{grand.Id}) || len(team.Members) != 0 {
			t.Errorf("Team: %+v", team)
		}
	})
	t.Run("flattened", func(t *testing.T) {
		dir := read(t, open(t, srv, func(c *google.Config) { c.FlattenNested = true }))
		all := groupByName(t, dir, "All")
		got := slices.Sorted(slices.Values(all.Members))
		want := slices.Sorted(slices.Values([]string{a.Id, b.Id}))
		if !slices.Equal(got, want) || len(all.MemberGroups) != 0 {
			t.Errorf("All flattened: members %v groups %v, want %v and none", got, all.MemberGroups, want)
		}
	})
	t.Run("named groups only", func(t *testing.T) {
		dir := read(t, open(t, srv, func(c *google.Config) { c.Groups = google.GroupsNamed; c.Named = []string{"everybody@example.com"} }))
		if len(dir.Groups) != 1 || dir.Groups[0].ID != parent.Id || len(dir.Groups[0].MemberGroups) != 0 {
			t.Fatalf("named by alias: %+v", dir.Groups)
		}
	})
	t.Run("no groups", func(t *testing.T) {
		srv.ResetRequests()
		dir := read(t, open(t, srv, func(c *google.Config) { c.Groups = google.GroupsNone }))
		if len(dir.Groups) != 0 || srv.Requests(directorytest.RouteGroups) != 0 || srv.Requests(directorytest.RouteMembers) != 0 {
			t.Fatalf("groups %d, group requests %d", len(dir.Groups), srv.Requests(directorytest.RouteGroups))
		}
	})
}

func TestAttributes(t *testing.T) {
	srv := directorytest.New(t)
	boss := srv.AddUser(user("boss"))
	u := srv.AddUser(user("ann", inOU("/Sales"), func(u *admin.User) {
		u.IsAdmin = true
		u.Aliases = []string{"annie@example.com"}
		u.Emails = []any{
			map[string]any{"address": "ann@example.com", "primary": true},
			map[string]any{"address": "ann.home@example.net", "type": "home"},
			map[string]any{"address": "a@example.org", "type": "custom", "customType": "alt"},
		}
		u.Organizations = []any{
			map[string]any{"title": "Intern", "department": "Ops"},
			map[string]any{"title": "Account Executive", "department": "Sales", "costCenter": "CC-7", "description": "Full time", "primary": true},
		}
		u.ExternalIds = []any{map[string]any{"value": "HR-1", "type": "custom", "customType": "hr"}, map[string]any{"value": "E-42", "type": "organization"}}
		u.Relations = []any{map[string]any{"value": "boss@example.com", "type": "manager"}}
		u.Phones = []any{map[string]any{"value": "+1 555 0100", "type": "work"}, map[string]any{"value": "+1 555 0199", "type": "mobile"}}
		u.LastLoginTime = "1970-01-01T00:00:00.000Z"
		u.CustomSchemas = map[string]googleapi.RawMessage{
			"Netskope": googleapi.RawMessage(`{"tier":"gold","seats":3,"ratio":0.5,"vip":true,"regions":[{"type":"work","value":"EU"},{"type":"work","value":"US"}]}`),
		}
	}))
	tests := []struct {
		attr string
		want any
	}{
		{"orgUnitPath", "/Sales"}, {"isAdmin", true}, {"aliases", []string{"annie@example.com"}},
		{"jobTitle", "Account Executive"}, {"department", "Sales"}, {"costCenter", "CC-7"}, {"employeeType", "Full time"},
		{"employeeId", "E-42"}, {"externalIds", []string{"HR-1", "E-42"}}, {"managerEmail", "boss@example.com"}, {"managerId", boss.Id},
		{"workPhone", "+1 555 0100"}, {"mobilePhone", "+1 555 0199"},
		{"creationTime", time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}, {"lastLoginTime", nil},
		{"Netskope.tier", "gold"}, {"Netskope.seats", int64(3)}, {"Netskope.ratio", 0.5}, {"Netskope.vip", true},
		{"Netskope.regions", []string{"EU", "US"}},
	}
	dir := read(t, open(t, srv, func(c *google.Config) { c.CustomSchemas = []string{"Netskope"} }))
	ann := userByName(t, dir, "ann")
	for _, tt := range tests {
		got, ok := ann.Attr(tt.attr)
		if !ok {
			got = nil
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.attr, got, tt.want)
		}
	}
	wantEmails := []source.Email{{Value: "ann@example.com", Type: "work", Primary: true},
		{Value: "ann.home@example.net", Type: "home"}, {Value: "a@example.org", Type: "alt"}}
	if !slices.Equal(ann.Emails, wantEmails) {
		t.Errorf("emails %+v, want %+v", ann.Emails, wantEmails)
	}

	// Without the schema asked for, custom attributes are not read.
	dir = read(t, open(t, srv, nil))
	if _, ok := userByName(t, dir, "ann").Attr("Netskope.tier"); ok {
		t.Error("custom schema read without being asked for")
	}

	// A field of the wrong shape is an error naming the user and field.
	must(t, srv.UpdateUser(u.Id, func(u *admin.User) { u.Organizations = "not a list" }))
	_, err := open(t, srv, nil).Read(context.Background())
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), u.Id) || !strings.Contains(err.Error(), "organizations") {
		t.Fatalf("bad organizations: %v", err)
	}
}

func TestPaging(t *testing.T) {
	srv := directorytest.New(t)
	var users []string
	for i := range 1234 {
		users = append(users, srv.AddUser(user(fmt.Sprintf("u%04d", i))).Id)
	}
	big := srv.AddGroup(admin.Group{Email: "big@example.com", Name: "Big"})
	must(t, srv.AddMembers(big.Id, users...))
	for i := range 450 {
		srv.AddGroup(admin.Group{Email: fmt.Sprintf("g%03d@example.com", i), Name: fmt.Sprint("G", i)})
	}
	src := open(t, srv, nil)
	dir := read(t, src)
	if len(dir.Users) != 1234 || len(dir.Groups) != 451 || len(groupByName(t, dir, "Big").Members) != 1234 {
		t.Fatalf("read %d users and %d groups, big has %d members; want 1234, 451, 1234",
			len(dir.Users), len(dir.Groups), len(groupByName(t, dir, "Big").Members))
	}
	// 3 user pages of 500, 1 deleted page, 3 group pages of 200, 7 member
	// pages of 200 for Big and one for each other group.
	if got, want := srv.Requests(""), 3+1+3+7+450; got != want {
		t.Errorf("%d requests, want %d", got, want)
	}
	if got := src.RequestCount(); got != int64(srv.Requests("")) {
		t.Errorf("the source counted %d requests, the server %d", got, srv.Requests(""))
	}
}

func TestThrottling(t *testing.T) {
	// The retries' waits are recorded, not slept: a Retry-After is
	// waited exactly, and backoffs from Backoff (1 ms) stay under it.
	tests := []struct {
		name  string
		fault directorytest.Fault
	}{
		{"403 userRateLimitExceeded", directorytest.Fault{Status: 403, Reason: "userRateLimitExceeded", Times: 3}},
		{"403 rateLimitExceeded", directorytest.Fault{Status: 403, Reason: "rateLimitExceeded", Times: 2}},
		{"403 quotaExceeded", directorytest.Fault{Status: 403, Reason: "quotaExceeded", Times: 2}},
		{"429 with Retry-After", directorytest.Fault{Status: 429, Reason: "rateLimitExceeded", RetryAfter: 7}},
		{"503", directorytest.Fault{Status: 503, Reason: "backendError", Times: 2}},
		{"500 on a later page", directorytest.Fault{Route: directorytest.RouteUsers, Page: 2, Status: 500, Reason: "backendError"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := directorytest.New(t)
			for i := range 30 {
				srv.AddUser(user(fmt.Sprintf("u%02d", i)))
			}
			srv.InjectFault(tt.fault)
			src := open(t, srv, func(c *google.Config) { c.PageSize = 10 })
			var mu gosync.Mutex
			var waits []time.Duration
			google.SetRetrySleep(src, func(_ context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				waits = append(waits, d)
				return nil
			})
			dir := read(t, src)
			if len(dir.Users) != 30 {
				t.Fatalf("read %d users after retries, want 30", len(dir.Users))
			}
			times := max(tt.fault.Times, 1)
			ra := time.Duration(tt.fault.RetryAfter) * time.Second
			if len(waits) != times {
				t.Fatalf("waits %v, want %d", waits, times)
			}
			if got := src.RequestCount(); got != int64(srv.Requests("")) {
				t.Errorf("the source counted %d requests, retries included, the server %d", got, srv.Requests(""))
			}
			for _, w := range waits {
				if (ra > 0 && w != ra) || (ra == 0 && w > 4*time.Millisecond) {
					t.Errorf("waits %v, want each %v", waits, cmp.Or(ra, 4*time.Millisecond))
				}
			}
		})
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name   string
		fault  directorytest.Fault
		is     []error
		errHas string
		tries  int // requests to the users route
	}{
		{"a later page fails past retries", directorytest.Fault{Route: directorytest.RouteUsers, Page: 2, Status: 500, Reason: "backendError", Times: 100},
			[]error{source.ErrIncomplete, source.ErrUnavailable}, "users.list page 2", 1 + 3},
		{"forbidden is not retried", directorytest.Fault{Route: directorytest.RouteUsers, Status: 403, Reason: "forbidden", Times: 100},
			[]error{source.ErrUnavailable}, "administrator", 1},
		{"throttled past retries", directorytest.Fault{Route: directorytest.RouteUsers, Status: 403, Reason: "userRateLimitExceeded", Times: 100},
			[]error{source.ErrUnavailable}, "userRateLimitExceeded", 3},
		{"a member listing fails", directorytest.Fault{Route: directorytest.RouteMembers, Status: 502, Reason: "backendError", Times: 100},
			[]error{source.ErrUnavailable}, "members.list", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := directorytest.New(t)
			for i := range 25 {
				srv.AddUser(user(fmt.Sprintf("u%02d", i)))
			}
			srv.AddGroup(admin.Group{Email: "g@example.com", Name: "G"})
			srv.InjectFault(tt.fault)
			src := open(t, srv, func(c *google.Config) { c.PageSize = 10; c.MaxRetries = 2; c.Concurrency = 1 })
			dir, err := src.Read(context.Background())
			if dir != nil || err == nil {
				t.Fatalf("read %v, %v; want nil and an error", dir, err)
			}
			for _, want := range tt.is {
				if !errors.Is(err, want) {
					t.Errorf("error %v is not %v", err, want)
				}
			}
			var ge *googleapi.Error
			if !errors.As(err, &ge) || ge.Code != tt.fault.Status {
				t.Errorf("Google's error not reachable: %v", err)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q does not mention %q", err, tt.errHas)
			}
			if tt.tries > 0 {
				if got := srv.Requests(directorytest.RouteUsers); got != tt.tries {
					t.Errorf("%d user requests, want %d", got, tt.tries)
				}
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	srv := directorytest.New(t)
	srv.AddUser(user("ann"))
	key := srv.ServiceAccountKey()
	core, logs := observer.New(zap.DebugLevel)
	src, err := google.Config{ServiceAccountKey: source.Secret(key), AdminEmail: srv.Subject(), Endpoint: srv.Endpoint(),
		Logger: zap.New(core), Backoff: time.Millisecond}.Open()
	must(t, err)
	dir := read(t, src)
	if len(dir.Users) != 1 || srv.Requests(directorytest.RouteToken) != 1 {
		t.Fatalf("%d users, %d token requests; want 1 and 1", len(dir.Users), srv.Requests(directorytest.RouteToken))
	}

	// An admin the service account may not impersonate: a clear error,
	// with no key material in it or in the logs.
	src, err = google.Config{ServiceAccountKey: source.Secret(key), AdminEmail: "someone@example.com", Endpoint: srv.Endpoint(),
		Logger: zap.New(core), Backoff: time.Millisecond, MaxRetries: -1}.Open()
	must(t, err)
	_, err = src.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "domain-wide delegation") || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("impersonating a non-admin: %v", err)
	}
	var all bytes.Buffer
	all.WriteString(err.Error())
	for _, e := range logs.All() {
		fmt.Fprintf(&all, "%s %v\n", e.Message, e.ContextMap())
	}
	for _, secret := range []string{"PRIVATE KEY", "MII", srv.Token()} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("%q appears in errors or logs", secret)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	tests := []struct {
		name string
		cfg  google.Config
		want string
	}{
		{"no credentials", google.Config{}, "credentials"},
		{"key without admin", google.Config{ServiceAccountKey: source.Secret(`{}`)}, "AdminEmail"},
		{"bad key", google.Config{ServiceAccountKey: source.Secret(`{"type":"service_account","private_key":"secret-bits"}`), AdminEmail: "a@example.com"}, "ServiceAccountKey"},
		{"customer and domain", google.Config{TokenSource: ts, Customer: "C1", Domain: "example.com"}, "Customer and Domain"},
		{"plain http", google.Config{TokenSource: ts, Endpoint: "http://directory.example.com/"}, "loopback"},
		{"org unit path", google.Config{TokenSource: ts, OrgUnits: []string{"Sales"}}, `OrgUnits[0] "Sales"`},
		{"page size", google.Config{TokenSource: ts, PageSize: 501}, "PageSize 501"},
		{"groups named, none named", google.Config{TokenSource: ts, Groups: google.GroupsNamed}, "Named is empty"},
		{"groups unknown", google.Config{TokenSource: ts, Groups: "some"}, `Groups "some"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.Open()
			if !errors.Is(err, source.ErrInvalid) || !errors.Is(err, google.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrConfig mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-bits") {
				t.Fatalf("the key leaks into the error: %v", err)
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	// The read's context is cancelled once the first (failed) answer is
	// in: the read stops with the context's error instead of waiting its
	// hour-long backoff, and sends nothing more.
	srv := directorytest.New(t)
	srv.AddUser(user("ann"))
	srv.InjectFault(directorytest.Fault{Status: http.StatusServiceUnavailable, Reason: "backendError", Times: 100})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		cancel()
		return resp, err
	})}
	src := open(t, srv, func(c *google.Config) { c.Backoff = time.Hour; c.MaxRetries = 10; c.HTTPClient = hc })
	if dir, err := src.Read(ctx); dir != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("read %v, %v; want the context's error", dir, err)
	}
	if n := srv.Requests(""); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestKeyNeverPrints prints a Config holding a service account key, and
// the Source opened from it, with every fmt verb and as JSON: no part of
// the private key may show.
func TestKeyNeverPrints(t *testing.T) {
	srv := directorytest.New(t)
	key := srv.ServiceAccountKey()
	var parsed struct {
		PrivateKey string `json:"private_key"`
	}
	must(t, json.Unmarshal(key, &parsed))
	cfg := google.Config{ServiceAccountKey: source.Secret(key), AdminEmail: srv.Subject(), Endpoint: srv.Endpoint()}
	src, err := cfg.Open()
	must(t, err)
	body := strings.Split(strings.TrimSpace(parsed.PrivateKey), "\n")[1] // a line of the key's base64
	var out []string
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, src), fmt.Sprintf(verb, cfg.ServiceAccountKey))
	}
	j, err := json.Marshal(cfg)
	must(t, err)
	out = append(out, string(j))
	j, err = json.Marshal(cfg.ServiceAccountKey)
	must(t, err)
	out = append(out, string(j))
	for _, s := range out {
		for _, secret := range []string{"PRIVATE KEY", body, fmt.Sprintf("%x", body[:16]), "private_key"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q shows in %.200s", secret, s)
			}
		}
	}
}

// TestTokenURI refuses a key whose token_uri would send the signed
// assertion in the clear, naming the field.
func TestTokenURI(t *testing.T) {
	srv := directorytest.New(t)
	var key map[string]string
	must(t, json.Unmarshal(srv.ServiceAccountKey(), &key))
	tests := []struct {
		uri string
		ok  bool
	}{
		{"", true}, // Google's default, https
		{"https://oauth2.googleapis.com/token", true},
		{srv.Endpoint() + "token", true}, // http on 127.0.0.1
		{"http://localhost:8080/token", true},
		{"http://oauth2.example.com/token", false},
		{"http://10.0.0.1/token", false},
		{"ftp://oauth2.example.com/token", false},
		{"oauth2.googleapis.com/token", false},
	}
	for _, tt := range tests {
		key["token_uri"] = tt.uri
		b, err := json.Marshal(key)
		must(t, err)
		_, err = google.Config{ServiceAccountKey: source.Secret(b), AdminEmail: srv.Subject(), Endpoint: srv.Endpoint()}.Open()
		if tt.ok && err != nil {
			t.Errorf("token_uri %q: %v", tt.uri, err)
		}
		if !tt.ok && (!errors.Is(err, google.ErrConfig) || !strings.Contains(fmt.Sprint(err), "token_uri")) {
			t.Errorf("token_uri %q: %v, want ErrConfig naming token_uri", tt.uri, err)
		}
	}
}

// A CUSTOMER member makes every user in scope a member, and the group says
// so; SkipCustomerMembers leaves it out, for scoping too.
func TestCustomerMember(t *testing.T) {
	srv := directorytest.New(t)
	ann := srv.AddUser(user("ann"))
	srv.AddUser(user("bob"))
	srv.AddUser(user("cy", func(u *admin.User) { u.Suspended = true }))
	all := srv.AddGroup(admin.Group{Email: "all@example.com", Name: "All"})
	must(t, srv.AddCustomerMember(all.Id))
	mixed := srv.AddGroup(admin.Group{Email: "mixed@example.com", Name: "Mixed"})
	must(t, srv.AddMembers(mixed.Id, ann.Id))
	must(t, srv.AddCustomerMember(mixed.Id))
	plain := srv.AddGroup(admin.Group{Email: "plain@example.com", Name: "Plain"})
	must(t, srv.AddMembers(plain.Id, ann.Id))

	members := func(dir *source.Directory, g *source.Group) []string {
		var out []string
		for _, id := range g.Members {
			for _, u := range dir.Users {
				if u.ID == id {
					out = append(out, strings.TrimSuffix(u.UserName, "@example.com"))
				}
			}
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name        string
		skip        bool
		scope       []string
		users       int
		all, mixed  []string
		marked      bool
		wantLogLine bool
	}{
		{"default: everyone", false, nil, 3, []string{"ann", "bob", "cy"}, []string{"ann", "bob", "cy"}, true, true},
		{"skipped", true, nil, 3, nil, []string{"ann"}, false, false},
		{"scope group, default", false, []string{"mixed@example.com"}, 3, []string{"ann", "bob", "cy"}, []string{"ann", "bob", "cy"}, true, true},
		{"scope group, skipped", true, []string{"mixed@example.com"}, 1, nil, []string{"ann"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			dir := read(t, open(t, srv, func(c *google.Config) {
				c.SkipCustomerMembers, c.ScopeGroups, c.Groups, c.Logger = tt.skip, tt.scope, google.GroupsAll, zap.New(core)
			}))
			if len(dir.Users) != tt.users {
				t.Fatalf("%d users, want %d", len(dir.Users), tt.users)
			}
			ga, gm, gp := groupByName(t, dir, "All"), groupByName(t, dir, "Mixed"), groupByName(t, dir, "Plain")
			if got := members(dir, ga); !slices.Equal(got, tt.all) {
				t.Errorf("All: members %v, want %v", got, tt.all)
			}
			if got := members(dir, gm); !slices.Equal(got, tt.mixed) {
				t.Errorf("Mixed: members %v, want %v", got, tt.mixed)
			}
			for _, g := range []*source.Group{ga, gm} {
				if v, _ := g.Attr(google.AttrCustomerMember); (v == true) != tt.marked {
					t.Errorf("%s: %s = %v, want %v", g.DisplayName, google.AttrCustomerMember, v, tt.marked)
				}
			}
			for _, g := range []*source.Group{ga, gm} {
				if (g.MembersNote == google.CustomerMembersNote) != tt.marked {
					t.Errorf("%s: MembersNote %q", g.DisplayName, g.MembersNote)
				}
			}
			if gp.MembersNote != "" {
				t.Errorf("Plain: MembersNote %q", gp.MembersNote)
			}
			if _, ok := gp.Attr(google.AttrCustomerMember); ok {
				t.Errorf("Plain carries %s", google.AttrCustomerMember)
			}
			if n := logs.FilterMessageSnippet("CUSTOMER member").Len(); (n > 0) != tt.wantLogLine {
				t.Errorf("%d log lines about the CUSTOMER member", n)
			}
		})
	}
}
