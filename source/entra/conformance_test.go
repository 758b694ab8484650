package entra_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
	"github.com/provsync/provsync/source/sourcetest"
)

// conformanceAttrs are the user attributes the harness seeds and the
// suite compares: the three built in, and four read as extra properties.
var conformanceAttrs = []string{"department", "jobTitle", "employeeId", "officeLocation", "country", "employeeType", "preferredLanguage"}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite reads directories of 1,500 users")
	}
	sourcetest.Run(t, &harness{},
		sourcetest.WithStates(source.StateActive, source.StateSuspended),
		sourcetest.WithUserAttributes(conformanceAttrs...),
		sourcetest.WithGroupAttributes("email", "description"))
}

// harness seeds a fake tenant so that exactly the wanted users and groups
// are assigned to an enterprise app (groups assigned, users through them
// or directly), with noise that must stay out of scope: unassigned users
// and groups, Default Access assignments, a service principal
// assignment, and devices, contacts and a nested group among the members
// of an assigned group.
type harness struct {
	srv      *graphtest.Server
	sp       graphtest.ServicePrincipal
	role     string            // the app role wanted principals get
	direct   map[string]string // user id -> assignment id
	assigned map[string]string // group id -> assignment id
	users    map[string]bool   // users the harness created for want
}

func (h *harness) Open(ctx context.Context, t *testing.T, want *source.Directory) (source.Source, error) {
	h.srv = graphtest.New(t)
	roles := h.srv.GalleryRoles()
	roles = append(roles, graphtest.AppRole{ID: h.srv.NewID(), DisplayName: "User", Value: ptr("User"), IsEnabled: true})
	h.sp = h.srv.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Netskope User Authentication",
		AppRoleAssignmentRequired: true, AppRoles: roles})
	h.role = roles[1].ID
	h.direct, h.assigned, h.users = map[string]string{}, map[string]string{}, map[string]bool{}

	// Noise first, so that want's objects are not the only ones.
	noise := make([]string, 5)
	for i := range noise {
		noise[i] = h.srv.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("noise%d@contoso.example", i),
			Mail: fmt.Sprintf("noise%d@contoso.example", i), DisplayName: fmt.Sprint("Noise ", i)}).ID
	}
	other := h.srv.AddGroup(graphtest.Group{DisplayName: "Not assigned"})
	must(t, h.srv.AddMembers(other.ID, noise[0], noise[1]))
	_, err := h.srv.Assign(h.sp.ID, noise[2], roles[0].ID) // msiam_access
	must(t, err)
	_, err = h.srv.Assign(h.sp.ID, noise[3], graphtest.DefaultAccessRoleID)
	must(t, err)
	robot := h.srv.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Robot", AppRoles: []graphtest.AppRole{}})
	_, err = h.srv.Assign(h.sp.ID, robot.ID, h.role)
	must(t, err)

	if err := h.Update(ctx, t, want); err != nil {
		return nil, err
	}
	if len(want.Groups) > 0 {
		g := want.Groups[0].ID
		nested := h.srv.AddGroup(graphtest.Group{DisplayName: "Nested, not synced"})
		must(t, h.srv.AddMembers(nested.ID, noise[4]))
		must(t, h.srv.AddMembers(g, h.srv.AddDevice("LAPTOP-7"), h.srv.AddContact("Vendor", "v@vendor.example"), robot.ID, nested.ID))
	}
	src, err := entra.Config{
		Credential:         h.srv.Credential(),
		GraphURL:           h.srv.URL(),
		ServicePrincipalID: h.sp.ID,
		UserAttributes:     conformanceAttrs[3:],
		PageSize:           100, // page everything
		MaxRetries:         2,
		Backoff:            time.Millisecond,
		Logger:             zaptest.NewLogger(t),
	}.Open()
	if err != nil {
		return nil, err
	}
	return src, nil
}

// Update makes want the scope: it creates, changes and unassigns users
// and groups, touching only what differs, as an admin would.
func (h *harness) Update(_ context.Context, t *testing.T, want *source.Directory) error {
	inGroup := map[string]bool{}
	for _, g := range want.Groups {
		for _, m := range g.Members {
			inGroup[m] = true
		}
	}
	wantUsers := map[string]bool{}
	for i, u := range want.Users {
		wantUsers[u.ID] = true
		spec := graphUser(&u)
		if !h.users[u.ID] {
			h.srv.AddUser(spec)
			h.users[u.ID] = true
		} else if cur, _ := h.srv.User(u.ID); !sameUser(cur, spec) {
			must(t, h.srv.UpdateUser(u.ID, func(g *graphtest.User) { *g = spec }))
		}
		// Users in no group are assigned directly, and so is every
		// fourth user besides.
		if _, ok := h.direct[u.ID]; !ok && (!inGroup[u.ID] || i%4 == 0) {
			aid, err := h.srv.Assign(h.sp.ID, u.ID, h.role)
			must(t, err)
			h.direct[u.ID] = aid
		}
	}
	wantGroups := map[string]bool{}
	for _, g := range want.Groups {
		wantGroups[g.ID] = true
		spec := graphtest.Group{ID: g.ID, DisplayName: g.DisplayName, Mail: g.Email, Description: g.Description,
			MailEnabled: g.Email != ""}
		if _, ok := h.assigned[g.ID]; !ok {
			h.srv.AddGroup(spec)
			must(t, h.srv.AddMembers(g.ID, g.Members...))
			aid, err := h.srv.Assign(h.sp.ID, g.ID, h.role)
			must(t, err)
			h.assigned[g.ID] = aid
			continue
		}
		must(t, h.srv.UpdateGroupIfChanged(g.ID, spec))
		must(t, h.srv.SetUserMembers(g.ID, g.Members))
	}
	for gid, aid := range h.assigned {
		if !wantGroups[gid] {
			must(t, h.srv.Unassign(aid))
			delete(h.assigned, gid)
		}
	}
	for id := range h.users {
		if wantUsers[id] {
			continue
		}
		if aid, ok := h.direct[id]; ok {
			must(t, h.srv.Unassign(aid))
			delete(h.direct, id)
		}
		for gid := range h.assigned {
			must(t, h.srv.RemoveMembers(gid, id))
		}
		delete(h.users, id)
	}
	return nil
}

func (h *harness) FailNext(*testing.T) error {
	h.srv.InjectFault(graphtest.Fault{Route: graphtest.RouteAppRoleAssignedTo, Page: 2,
		Status: http.StatusInternalServerError, Code: "UnknownError", Times: 3}) // the try and its 2 retries
	return nil
}

// graphUser is the Entra form of a source user.
func graphUser(u *source.User) graphtest.User {
	g := graphtest.User{ID: u.ID, UserPrincipalName: u.UserName, GivenName: u.GivenName, Surname: u.FamilyName,
		DisplayName: u.DisplayName, Disabled: u.State == source.StateSuspended, Mail: u.PrimaryEmail(), UserType: "Member"}
	for _, e := range u.Emails {
		if e.Value != g.Mail {
			g.OtherMails = append(g.OtherMails, e.Value)
		}
	}
	str := func(name string) string { v, _ := u.Attributes.Value(name).(string); return v }
	g.Department, g.JobTitle, g.EmployeeID = str("department"), str("jobTitle"), str("employeeId")
	for _, name := range conformanceAttrs[3:] {
		if v, ok := u.Attributes.Get(name); ok {
			if g.Extra == nil {
				g.Extra = map[string]any{}
			}
			g.Extra[name] = v
		}
	}
	return g
}

func sameUser(a, b graphtest.User) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func ptr[T any](v T) *T { return &v }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
