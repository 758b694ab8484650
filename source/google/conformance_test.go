package google_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/oauth2"
	admin "google.golang.org/api/admin/directory/v1"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/google/directorytest"
	"github.com/provsync/provsync/source/sourcetest"
)

// conformanceAttrs are the user attributes the harness seeds and the suite
// compares. managerId is left out: Google names a manager by email, and
// the source resolves it to an id only when the manager is in scope, while
// the suite moves managers out of scope.
var conformanceAttrs = []string{"department", "jobTitle", "employeeId", "employeeType", "costCenter", "deletedAt"}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite reads directories of 1,500 users")
	}
	sourcetest.Run(t, &harness{},
		sourcetest.WithUserAttributes(conformanceAttrs...),
		sourcetest.WithGroupAttributes("email", "description"))
}

// harness scopes the source to the organizational unit /Staff and its
// sub-units, and seeds noise that must stay out: users of /Contractors in
// the wanted groups, and archived users of /Staff.
type harness struct {
	srv    *directorytest.Server
	users  map[string]bool
	groups map[string]bool
}

func (h *harness) Open(ctx context.Context, t *testing.T, want *source.Directory) (source.Source, error) {
	h.srv = directorytest.New(t)
	h.users, h.groups = map[string]bool{}, map[string]bool{}
	if err := h.Update(ctx, t, want); err != nil {
		return nil, err
	}
	return google.Config{
		TokenSource:       oauth2.StaticTokenSource(&oauth2.Token{AccessToken: h.srv.Token()}),
		Endpoint:          h.srv.Endpoint(),
		OrgUnits:          []string{"/Staff"},
		Backoff:           time.Millisecond,
		RequestsPerMinute: -1,
		Logger:            zaptest.NewLogger(t),
	}.Open()
}

// Update makes want the scope: users are created or changed in /Staff,
// users no longer wanted move to /Contractors (out of scope), and each
// group's members are set, with noise added.
func (h *harness) Update(_ context.Context, t *testing.T, want *source.Directory) error {
	emails := map[string]string{}
	for _, u := range want.Users {
		emails[u.ID] = u.UserName
	}
	wanted := map[string]bool{}
	for i := range want.Users {
		u := &want.Users[i]
		wanted[u.ID] = true
		g := googleUser(u, emails, i)
		if !h.users[u.ID] {
			h.srv.AddUser(g)
			h.users[u.ID] = true
			continue
		}
		cur, _ := h.srv.User(u.ID)
		g.Etag, g.Kind, g.CustomerId, g.CreationTime = cur.Etag, cur.Kind, cur.CustomerId, cur.CreationTime
		if !reflect.DeepEqual(cur, g) {
			must(t, h.srv.UpdateUser(u.ID, func(x *admin.User) { *x = g }))
		}
	}
	for id := range h.users {
		if !wanted[id] {
			must(t, h.srv.UpdateUser(id, func(x *admin.User) { x.OrgUnitPath = "/Contractors" }))
		}
	}
	noise := h.srv.AddUser(admin.User{PrimaryEmail: fmt.Sprintf("contractor%d@example.com", len(h.users)), OrgUnitPath: "/Contractors",
		Name: &admin.UserName{GivenName: "Con", FamilyName: "Tractor"}})
	archived := h.srv.AddUser(admin.User{PrimaryEmail: fmt.Sprintf("archived%d@example.com", len(h.users)), OrgUnitPath: "/Staff",
		Archived: true, Name: &admin.UserName{GivenName: "Ar", FamilyName: "Chived"}})
	wantGroups := map[string]bool{}
	for _, g := range want.Groups {
		wantGroups[g.ID] = true
		spec := admin.Group{Id: g.ID, Email: g.Email, Name: g.DisplayName, Description: g.Description}
		if err := h.srv.UpdateGroup(g.ID, func(x *admin.Group) { x.Email, x.Name, x.Description = spec.Email, spec.Name, spec.Description }); err != nil {
			h.srv.AddGroup(spec)
		}
		must(t, h.srv.SetUserMembers(g.ID, append(append([]string(nil), g.Members...), noise.Id, archived.Id)...))
		h.groups[g.ID] = true
	}
	for id := range h.groups {
		if !wantGroups[id] {
			h.srv.RemoveGroup(id)
			delete(h.groups, id)
		}
	}
	return nil
}

func (h *harness) FailNext(*testing.T) error {
	h.srv.InjectFault(directorytest.Fault{Route: directorytest.RouteUsers, Page: 2, Status: 500, Reason: "backendError", Times: 7}) // the first try and 6 retries
	return nil
}

// googleUser is the Directory form of a source user, in /Staff or, for
// every third user, /Staff/Team.
func googleUser(u *source.User, emails map[string]string, i int) admin.User {
	g := admin.User{Id: u.ID, PrimaryEmail: u.UserName, Suspended: u.State == source.StateSuspended,
		Name: &admin.UserName{GivenName: u.GivenName, FamilyName: u.FamilyName, FullName: u.DisplayName}, OrgUnitPath: "/Staff"}
	if i%3 == 0 {
		g.OrgUnitPath = "/Staff/Team"
	}
	if u.State == source.StateDeleted {
		at := u.DeletedAt
		if at.IsZero() {
			at = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		}
		g.DeletionTime = at.Format(time.RFC3339Nano)
	}
	var list []any
	for _, e := range u.Emails {
		list = append(list, map[string]any{"address": e.Value, "type": e.Type, "primary": e.Primary})
	}
	g.Emails = list
	str := func(name string) string { v, _ := u.Attributes.Value(name).(string); return v }
	if str("jobTitle") != "" || str("department") != "" || str("costCenter") != "" || str("employeeType") != "" {
		g.Organizations = []any{map[string]any{"title": str("jobTitle"), "department": str("department"),
			"costCenter": str("costCenter"), "description": str("employeeType"), "primary": true}}
	}
	if id := str("employeeId"); id != "" {
		g.ExternalIds = []any{map[string]any{"value": id, "type": "organization"}}
	}
	if m := emails[str("managerId")]; m != "" {
		g.Relations = []any{map[string]any{"value": m, "type": "manager"}}
	}
	return g
}
