package entra_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
)

// tenant is a fake Entra tenant with the Netskope gallery app.
type tenant struct {
	t    *testing.T
	srv  *graphtest.Server
	sp   graphtest.ServicePrincipal
	role string // a real role ("User")
	def  string // the app's default role, msiam_access
	logs *observer.ObservedLogs

	mu    gosync.Mutex
	waits []time.Duration // the retries' waits, recorded instead of slept
}

func newTenant(t *testing.T, opts ...graphtest.Option) *tenant {
	t.Helper()
	srv := graphtest.New(t, opts...)
	roles := append(srv.GalleryRoles(), graphtest.AppRole{ID: srv.NewID(), DisplayName: "User", Value: ptr("User"),
		AllowedMemberTypes: []string{"User"}, IsEnabled: true})
	sp := srv.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Netskope User Authentication",
		AppRoleAssignmentRequired: true, AppRoles: roles})
	return &tenant{t: t, srv: srv, sp: sp, role: roles[1].ID, def: roles[0].ID}
}

// open returns a source over the tenant; edit changes its configuration.
// The source's retries record their waits in tn.waits instead of sleeping.
func (tn *tenant) open(edit ...func(*entra.Config)) *entra.Source {
	tn.t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	tn.logs = logs
	cfg := entra.Config{Credential: tn.srv.Credential(), GraphURL: tn.srv.URL(), ServicePrincipalID: tn.sp.ID,
		Logger: zap.New(core)}
	entra.SetRetrySleep(&cfg, func(ctx context.Context, d time.Duration) error {
		tn.mu.Lock()
		defer tn.mu.Unlock()
		tn.waits = append(tn.waits, d)
		return ctx.Err()
	})
	for _, e := range edit {
		e(&cfg)
	}
	s, err := cfg.Open()
	if err != nil {
		tn.t.Fatalf("Open: %v", err)
	}
	return s
}

func (tn *tenant) user(upn string, edit ...func(*graphtest.User)) string {
	local, _, _ := strings.Cut(upn, "@")
	u := graphtest.User{UserPrincipalName: upn, Mail: upn, GivenName: local, Surname: "Test", DisplayName: local + " Test"}
	for _, e := range edit {
		e(&u)
	}
	return tn.srv.AddUser(u).ID
}

func (tn *tenant) group(name string, members ...string) string {
	id := tn.srv.AddGroup(graphtest.Group{DisplayName: name}).ID
	must(tn.t, tn.srv.AddMembers(id, members...))
	return id
}

func (tn *tenant) assign(principal string, role ...string) string {
	r := tn.role
	if len(role) > 0 {
		r = role[0]
	}
	aid, err := tn.srv.Assign(tn.sp.ID, principal, r)
	must(tn.t, err)
	return aid
}

// ctx is the test's context, with no deadline: a read of the 20,000-user
// tenant took over a minute on a loaded machine, and a hang is go test
// -timeout's to report, with every goroutine's stack.
func ctx(t *testing.T) context.Context { return t.Context() }

func read(t *testing.T, s source.Source) *source.Directory {
	t.Helper()
	d, err := s.Read(ctx(t))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("invalid directory: %v", err)
	}
	return d
}

func userIDs(d *source.Directory) []string {
	var ids []string
	for _, u := range d.Users {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

func groupByID(d *source.Directory, id string) *source.Group {
	for i := range d.Groups {
		if d.Groups[i].ID == id {
			return &d.Groups[i]
		}
	}
	return nil
}

func userByID(d *source.Directory, id string) *source.User {
	for i := range d.Users {
		if d.Users[i].ID == id {
			return &d.Users[i]
		}
	}
	return nil
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

func TestDefaultAccessExcluded(t *testing.T) {
	tn := newTenant(t)
	a := tn.user("a@contoso.com")
	b := tn.user("b@contoso.com")
	c := tn.user("c@contoso.com")
	d := tn.user("d@contoso.com")
	e := tn.user("e@contoso.com")
	g := tn.group("Default access group", d)
	tn.assign(a)
	tn.assign(b, tn.def)                        // msiam_access: value null
	tn.assign(c, graphtest.DefaultAccessRoleID) // all-zero role
	tn.assign(g, tn.def)                        // a group with Default Access
	tn.assign(e, graphtest.DefaultAccessRoleID) // ... and a real role too:
	tn.assign(e)                                // e stays in scope
	dir := read(t, tn.open())
	if got, want := userIDs(dir), sorted(a, e); !slices.Equal(got, want) {
		t.Errorf("users %v, want %v", got, want)
	}
	if len(dir.Groups) != 0 {
		t.Errorf("groups %v, want none", dir.Groups)
	}
	if n := tn.logs.FilterMessage("assignments with the Default Access role left out").Len(); n != 1 {
		t.Errorf("%d Default Access log lines", n)
	}

	dir = read(t, tn.open(func(c *entra.Config) { c.IncludeDefaultAccess = true }))
	if got, want := userIDs(dir), sorted(a, b, c, d, e); !slices.Equal(got, want) {
		t.Errorf("with IncludeDefaultAccess: users %v, want %v", got, want)
	}
	if grp := groupByID(dir, g); grp == nil || !slices.Equal(grp.Members, []string{d}) {
		t.Errorf("with IncludeDefaultAccess: group %+v", grp)
	}
}

func TestAssignmentNotRequired(t *testing.T) {
	tn := newTenant(t)
	tn.assign(tn.user("a@contoso.com"))
	s := tn.open()
	if _, known := s.AssignmentRequired(); known {
		t.Error("AssignmentRequired is known before any read")
	}
	read(t, s)
	if req, known := s.AssignmentRequired(); !req || !known {
		t.Errorf("AssignmentRequired = %v, %v", req, known)
	}
	must(t, tn.srv.SetAssignmentRequired(tn.sp.ID, false))
	read(t, s)
	if req, known := s.AssignmentRequired(); req || !known {
		t.Errorf("AssignmentRequired = %v, %v; want false, true", req, known)
	}
	if tn.logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("appRoleAssignmentRequired is false").Len() != 1 {
		t.Errorf("no warning: %v", tn.logs.All())
	}
}

func TestAppByAppID(t *testing.T) {
	tn := newTenant(t)
	a := tn.user("a@contoso.com")
	tn.assign(a)
	dir := read(t, tn.open(func(c *entra.Config) { c.ServicePrincipalID, c.AppID = "", tn.sp.AppID }))
	if got := userIDs(dir); !slices.Equal(got, []string{a}) {
		t.Errorf("users %v", got)
	}
	// An app that is not there is a configuration error naming what to fix.
	_, err := tn.open(func(c *entra.Config) { c.ServicePrincipalID = tn.srv.NewID() }).Read(ctx(t))
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "ServicePrincipalID or AppID") {
		t.Errorf("unknown app: %v", err)
	}
	var ge *entra.GraphError
	if !errors.As(err, &ge) || ge.Status != http.StatusNotFound || ge.Code != "Request_ResourceNotFound" {
		t.Errorf("GraphError: %+v", ge)
	}
}

// Group members that are devices, contacts, service principals or groups
// are not users; nested groups' users count only with Transitive.
func TestMembersAndNesting(t *testing.T) {
	tn := newTenant(t)
	a := tn.user("a@contoso.com")
	b := tn.user("b@contoso.com")
	c := tn.user("c@contoso.com")
	robot := tn.srv.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Robot", AppRoles: []graphtest.AppRole{}})
	inner2 := tn.group("Inner 2", c)
	inner := tn.group("Inner", b, inner2)
	outer := tn.group("Outer", a, inner, tn.srv.AddDevice("LAPTOP-1"), tn.srv.AddContact("Vendor", "v@vendor.example"), robot.ID)
	must(t, tn.srv.AddMembers(inner2, outer)) // a cycle
	tn.assign(outer)

	dir := read(t, tn.open())
	if got := userIDs(dir); !slices.Equal(got, []string{a}) {
		t.Errorf("direct: users %v, want only %s", got, a)
	}
	if g := groupByID(dir, outer); g == nil || !slices.Equal(g.Members, []string{a}) || len(g.MemberGroups) != 0 || len(dir.Groups) != 1 {
		t.Errorf("direct: groups %+v", dir.Groups)
	}

	dir = read(t, tn.open(func(c *entra.Config) { c.Transitive = true }))
	if got, want := userIDs(dir), sorted(a, b, c); !slices.Equal(got, want) {
		t.Errorf("transitive: users %v, want %v", got, want)
	}
	if g := groupByID(dir, outer); g == nil || !slices.Equal(g.Members, sorted(a, b, c)) || len(dir.Groups) != 1 {
		t.Errorf("transitive: groups %+v", dir.Groups)
	}
}

func TestUsersAttributes(t *testing.T) {
	tn := newTenant(t)
	guest := tn.user("bob.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com", func(u *graphtest.User) { u.Mail = "bob.smith@fabrikam.com" })
	guest2 := tn.user("first_last_fabrikam.com#EXT#@contoso.onmicrosoft.com", func(u *graphtest.User) { u.Mail = "" })
	nomail := tn.user("nomail@contoso.com", func(u *graphtest.User) { u.Mail, u.OtherMails = "", []string{"alt@contoso.net", "alt2@contoso.net"} })
	bare := tn.user("bare@contoso.com", func(u *graphtest.User) { u.Mail = "" })
	rich := tn.user("rich@contoso.com", func(u *graphtest.User) {
		u.Disabled, u.EmployeeID, u.Department, u.JobTitle = true, "E-42", "R&D", "Engineer"
		u.Extra = map[string]any{
			"city": "Zürich", "extension_0a1b2c_costCenter": "CC-7", "showInAddressList": false,
			"employeeHireDate":              "2021-03-01T00:00:00Z",
			"onPremisesExtensionAttributes": map[string]any{"extensionAttribute1": "blue", "extensionAttribute2": nil},
		}
	})
	for _, id := range []string{guest, guest2, nomail, bare, rich} {
		tn.assign(id)
	}
	s := tn.open(func(c *entra.Config) {
		c.UserAttributes = []string{"city", "extension_0a1b2c_costCenter", "employeeHireDate", "showInAddressList",
			"onPremisesExtensionAttributes", "country", "mail"}
	})
	dir := read(t, s)

	g := userByID(dir, guest)
	if g.UserName != "bob.smith@fabrikam.com" || g.PrimaryEmail() != "bob.smith@fabrikam.com" {
		t.Errorf("guest: %q %q", g.UserName, g.PrimaryEmail())
	}
	if v, _ := g.Attr("originalUserPrincipalName"); v != "bob.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com" {
		t.Errorf("guest originalUserPrincipalName %v", v)
	}
	if v, _ := g.Attr("userType"); v != "Guest" {
		t.Errorf("guest userType %v", v)
	}
	if g2 := userByID(dir, guest2); g2.UserName != "first_last@fabrikam.com" || len(g2.Emails) != 0 {
		t.Errorf("guest with underscores: %q %v", g2.UserName, g2.Emails)
	}
	n := userByID(dir, nomail)
	if n.PrimaryEmail() != "alt@contoso.net" || len(n.Emails) != 2 || n.Emails[1].Primary {
		t.Errorf("no mail: %+v", n.Emails)
	}
	if b := userByID(dir, bare); len(b.Emails) != 0 || b.UserName != "bare@contoso.com" {
		t.Errorf("bare: %+v", b)
	}
	r := userByID(dir, rich)
	if r.State != source.StateSuspended {
		t.Errorf("disabled user state %v", r.State)
	}
	want := map[string]any{
		"employeeId": "E-42", "department": "R&D", "jobTitle": "Engineer", "userType": "Member",
		"city": "Zürich", "extension_0a1b2c_costCenter": "CC-7", "showInAddressList": false,
		"employeeHireDate": time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC),
		"onPremisesExtensionAttributes.extensionAttribute1": "blue",
	}
	for k, v := range want {
		got, ok := r.Attr(k)
		if gt, isTime := got.(time.Time); isTime {
			got = gt.UTC()
		}
		if !ok || fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("attribute %s = %v (%T), want %v", k, got, got, v)
		}
	}
	for _, k := range []string{"country", "onPremisesExtensionAttributes.extensionAttribute2"} {
		if v, ok := r.Attr(k); ok {
			t.Errorf("null attribute %s = %v is present", k, v)
		}
	}
	guestUPN := read(t, tn.open(func(c *entra.Config) { c.GuestUserName = entra.GuestUserNameUPN }))
	if g := userByID(guestUPN, guest); g.UserName != "bob.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com" {
		t.Errorf("GuestUserName upn: %q", g.UserName)
	}
	// An unknown property is Graph's 400, a configuration error.
	_, err := tn.open(func(c *entra.Config) { c.UserAttributes = []string{"shoeSize"} }).Read(ctx(t))
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "shoeSize") {
		t.Errorf("unknown attribute: %v", err)
	}
}

// bigTenant has n users assigned directly and a group of m more, with
// m/10 of the direct users in it too.
func bigTenant(t *testing.T, n, m int) (*tenant, []string) {
	tn := newTenant(t)
	var all []string
	for i := 0; i < n+m; i++ {
		all = append(all, tn.user(fmt.Sprintf("user%04d@contoso.com", i), func(u *graphtest.User) {
			u.Department, u.JobTitle, u.EmployeeID = "Sales", "Rep", fmt.Sprint("E", i)
		}))
	}
	for _, id := range all[:n] {
		tn.assign(id)
	}
	if m > 0 {
		g := tn.group("Everyone else", append(slices.Clone(all[n:]), all[:m/10]...)...)
		tn.assign(g)
	}
	return tn, all
}

func TestPagingLargeAssignment(t *testing.T) {
	tn, all := bigTenant(t, 1234, 1100)
	s := tn.open()
	dir := read(t, s)
	if got := userIDs(dir); !slices.Equal(got, sorted(all...)) {
		t.Fatalf("read %d users, want %d", len(got), len(all))
	}
	if len(dir.Groups) != 1 || len(dir.Groups[0].Members) != 1100+110 {
		t.Fatalf("groups: %d, members %d", len(dir.Groups), len(dir.Groups[0].Members))
	}
	// $top=999: two pages of assignments, two of members; users are
	// listed (three pages) since the count makes that cheaper than 1,124
	// reads of one user.
	for route, want := range map[string]int{
		graphtest.RouteAppRoleAssignedTo: 2, graphtest.RouteMembers: 2, graphtest.RouteUsers: 3,
		graphtest.RouteUsersCount: 1, graphtest.RouteUser: 0, graphtest.RouteGroup: 1, graphtest.RouteServicePrincipal: 1,
	} {
		if got := tn.srv.RequestsTo(route); got != want {
			t.Errorf("%s: %d requests, want %d", route, got, want)
		}
	}
	if int64(tn.srv.Requests()) != s.Requests() {
		t.Errorf("the source counted %d requests, the server %d", s.Requests(), tn.srv.Requests())
	}
}

// A few users are read one by one; a tenant much bigger than the
// assignments is not listed.
func TestFetchChoice(t *testing.T) {
	tn, all := bigTenant(t, 0, 0)
	for i := 0; i < 3000; i++ {
		all = append(all, tn.user(fmt.Sprintf("u%d@contoso.com", i)))
	}
	for _, id := range all[:3] {
		tn.assign(id)
	}
	read(t, tn.open())
	if n, l := tn.srv.RequestsTo(graphtest.RouteUser), tn.srv.RequestsTo(graphtest.RouteUsers); n != 3 || l != 0 {
		t.Errorf("3 assigned: %d single reads, %d list pages", n, l)
	}
	tn.srv.ResetStats()
	for _, id := range all[3:15] {
		tn.assign(id)
	}
	read(t, tn.open(func(c *entra.Config) { c.PageSize = 999 }))
	// 15 users; listing 3,000 would take 4 pages + 1 count: still cheaper.
	if n, l := tn.srv.RequestsTo(graphtest.RouteUser), tn.srv.RequestsTo(graphtest.RouteUsers); n != 0 || l != 4 {
		t.Errorf("15 assigned: %d single reads, %d list pages", n, l)
	}
	tn.srv.ResetStats()
	read(t, tn.open(func(c *entra.Config) { c.PageSize = 100 }))
	// With pages of 100, listing is 31 requests: 15 single reads win.
	if n, l := tn.srv.RequestsTo(graphtest.RouteUser), tn.srv.RequestsTo(graphtest.RouteUsers); n != 15 || l != 0 {
		t.Errorf("15 assigned, pages of 100: %d single reads, %d list pages", n, l)
	}
}

func TestThrottling(t *testing.T) {
	tn, _ := bigTenant(t, 20, 20)
	s := tn.open()
	tn.srv.Throttle(graphtest.RouteAppRoleAssignedTo, 1, 1)
	tn.srv.InjectFault(graphtest.Fault{Route: graphtest.RouteMembers, Status: http.StatusServiceUnavailable,
		Code: "serviceNotAvailable", RetryAfter: "0", Times: 2})
	dir := read(t, s)
	if len(dir.Users) != 40 {
		t.Fatalf("read %d users", len(dir.Users))
	}
	if !slices.Contains(tn.waits, time.Second) || len(tn.waits) != 3 {
		t.Errorf("retry waits %v: want 3, the 429's Retry-After: 1 among them", tn.waits)
	}
	if n := tn.srv.RequestsTo(graphtest.RouteAppRoleAssignedTo); n != 2 {
		t.Errorf("appRoleAssignedTo: %d requests, want 2 (429, then success)", n)
	}
	if n := tn.srv.RequestsTo(graphtest.RouteMembers); n != 3 {
		t.Errorf("members: %d requests, want 3 (503, 503, success)", n)
	}
	if n := tn.logs.FilterMessage("graph: throttled or unavailable, retrying").Len(); n != 3 {
		t.Errorf("%d retry warnings, want 3", n)
	}

	// Throttled past the retries: the read fails, and says so.
	tn.srv.ClearFaults()
	tn.srv.Throttle(graphtest.RouteMembers, 100, 0)
	dir, err := tn.open(func(c *entra.Config) { c.MaxRetries = 2 }).Read(ctx(t))
	if dir != nil || !errors.Is(err, source.ErrUnavailable) {
		t.Fatalf("throttled past retries: %v, %v", dir != nil, err)
	}
	var ge *entra.GraphError
	if !errors.As(err, &ge) || ge.Status != http.StatusTooManyRequests || ge.Code != "TooManyRequests" {
		t.Errorf("GraphError %+v", ge)
	}
}

func TestFailurePartway(t *testing.T) {
	tn, _ := bigTenant(t, 10, 2500)
	s := tn.open(func(c *entra.Config) { c.MaxRetries, c.Backoff = 2, time.Millisecond })
	tn.srv.InjectFault(graphtest.Fault{Route: graphtest.RouteMembers, Page: 3, Status: http.StatusInternalServerError,
		Code: "UnknownError"})
	dir, err := s.Read(ctx(t))
	if dir != nil || err == nil {
		t.Fatalf("Read = %v, %v; want an error and no directory", dir != nil, err)
	}
	if !errors.Is(err, source.ErrIncomplete) || !errors.Is(err, source.ErrUnavailable) {
		t.Errorf("error %q is not ErrIncomplete and ErrUnavailable", err)
	}
	var ge *entra.GraphError
	if !errors.As(err, &ge) || ge.Status != 500 || ge.Code != "UnknownError" || !strings.Contains(err.Error(), "members of group") {
		t.Errorf("error %q, GraphError %+v", err, ge)
	}
	if n := tn.srv.RequestsTo(graphtest.RouteMembers); n != 5 {
		t.Errorf("members: %d requests, want 5 (pages 1 and 2, page 3 and its 2 retries)", n)
	}
	// ReadChanges fails the same way, with no changes and no cursor.
	tn.srv.ClearFaults()
	tn.srv.InjectFault(graphtest.Fault{Route: graphtest.RouteMembers, Page: 2, Status: http.StatusBadGateway})
	if ch, err := s.ReadChanges(ctx(t), ""); ch != nil || !errors.Is(err, source.ErrIncomplete) {
		t.Errorf("ReadChanges = %v, %v", ch, err)
	}
}

func TestCredentialErrors(t *testing.T) {
	tn := newTenant(t)
	s := tn.open(func(c *entra.Config) { c.Credential = badCredential{} })
	_, err := s.Read(ctx(t))
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "check the credential") {
		t.Errorf("bad token: %v", err)
	}
}

// A tenant that refuses /users/$count is listed, not read one user at a
// time.
func TestCountRefused(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusBadRequest} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			tn := newTenant(t)
			var all []string
			for i := 0; i < 150; i++ {
				all = append(all, tn.user(fmt.Sprintf("u%d@contoso.com", i)))
			}
			for _, id := range all[:99] {
				tn.assign(id)
			}
			tn.srv.InjectFault(graphtest.Fault{Route: graphtest.RouteUsersCount, Status: status, Code: "Request_UnsupportedQuery"})
			dir := read(t, tn.open(func(c *entra.Config) { c.PageSize = 100 }))
			if len(dir.Users) != 99 {
				t.Fatalf("read %d users, want 99", len(dir.Users))
			}
			if n, l := tn.srv.RequestsTo(graphtest.RouteUser), tn.srv.RequestsTo(graphtest.RouteUsers); n != 0 || l != 2 {
				t.Errorf("$count refused: %d single reads, %d list pages; want 0 and 2", n, l)
			}
		})
	}
}

// scopeCredential records the scopes each token request asks for.
type scopeCredential struct {
	azcore.TokenCredential
	mu     gosync.Mutex
	scopes [][]string
}

func (c *scopeCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.scopes = append(c.scopes, o.Scopes)
	c.mu.Unlock()
	return c.TokenCredential.GetToken(ctx, o)
}

// The token is asked for the configured scopes, or for the Graph URL's
// origin + /.default when none are set.
func TestTokenScopes(t *testing.T) {
	tn := newTenant(t)
	tn.assign(tn.user("a@contoso.com"))
	for _, tt := range []struct {
		scopes, want []string
	}{
		{nil, []string{strings.TrimSuffix(tn.srv.URL(), "/v1.0") + "/.default"}},
		{[]string{entra.CloudUSGovernment.TokenScope}, []string{"https://graph.microsoft.us/.default"}},
	} {
		cred := &scopeCredential{TokenCredential: tn.srv.Credential()}
		read(t, tn.open(func(c *entra.Config) { c.Credential, c.TokenScopes = cred, tt.scopes }))
		if len(cred.scopes) == 0 {
			t.Fatal("no token asked for")
		}
		for _, got := range cred.scopes {
			if !slices.Equal(got, tt.want) {
				t.Errorf("token asked for %q, want %q", got, tt.want)
			}
		}
	}
}

// Every Cloud's token scope is its Graph service root + /.default, and
// its authority is https.
func TestClouds(t *testing.T) {
	for _, c := range []entra.Cloud{entra.CloudPublic, entra.CloudUSGovernment, entra.CloudUSGovDoD, entra.CloudChina} {
		root := strings.TrimSuffix(c.GraphURL, "/v1.0")
		if c.TokenScope != root+"/.default" || !strings.HasPrefix(c.AuthorityHost, "https://") || !strings.HasSuffix(c.AuthorityHost, "/") {
			t.Errorf("cloud %+v", c)
		}
	}
}

// Reads retry 500 and 502 as they retry 429, 503 and 504: with one request
// in 20 failing, full reads of a 300-user tenant complete, every time.
func TestServerErrorsRetried(t *testing.T) {
	for _, scope := range []entra.Scope{entra.ScopeAssigned, entra.ScopeAll} {
		t.Run(string(scope), func(t *testing.T) {
			tn, all := bigTenant(t, 100, 200)
			for g := range 10 {
				tn.assign(tn.group(fmt.Sprint("Team ", g), all[g*30:g*30+30]...))
			}
			for i, status := range []int{http.StatusInternalServerError, http.StatusBadGateway} {
				// Deterministic 5%: every 20th request, shifted so that the
				// two statuses hit different requests.
				tn.srv.InjectFault(graphtest.Fault{Status: status, Code: "UnknownError", Every: 20 + i})
			}
			s := tn.open(func(c *entra.Config) { c.Scope, c.PageSize, c.Backoff = scope, 10, time.Millisecond })
			want := ""
			for run := range 5 {
				before := tn.srv.Requests()
				dir, err := s.Read(ctx(t))
				if err != nil {
					t.Fatalf("read %d: %v", run, err)
				}
				if len(dir.Users) != 300 {
					t.Fatalf("read %d: %d users, want 300", run, len(dir.Users))
				}
				if got := canon(dir); want == "" {
					want = got
				} else if got != want {
					t.Fatalf("read %d differs from the first", run)
				}
				if n := tn.srv.Requests() - before; n < 20 {
					t.Fatalf("read %d made %d requests: too few to meet a fault", run, n)
				}
			}
			if n := tn.logs.FilterMessage("graph: throttled or unavailable, retrying").Len(); n == 0 {
				t.Error("no retry was logged: no fault was met")
			}
		})
	}
}
