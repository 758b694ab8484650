package onelogin_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/onelogin"
	"github.com/provsync/provsync/source/onelogin/onelogintest"
	"github.com/provsync/provsync/source/sourcetest"
)

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite reads directories of 1,500 users")
	}
	sourcetest.Run(t, &harness{},
		sourcetest.WithStates(source.StateActive, source.StateSuspended),
		sourcetest.WithoutDisplayName(),
		sourcetest.WithUserAttributes("department", "jobTitle", "employeeId", "managerId"))
}

// harness gives the wanted users the app, directly or through roles (the
// wanted groups), with noise that must stay out: users without the app,
// and a role of another app. OneLogin's ids are numbers, so the harness
// keeps a table from them to the suite's ids and hands the suite a
// source that translates back.
type harness struct {
	srv    *onelogintest.Server
	now    time.Time
	ids    map[string]int64 // suite id -> OneLogin id (users and roles)
	users  map[string]bool
	roles  map[string]bool
	isRole map[string]bool // every suite group id ever made a role
}

func (h *harness) Open(ctx context.Context, t *testing.T, want *source.Directory) (source.Source, error) {
	h.srv = onelogintest.New(t)
	h.now = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h.srv.SetClock(func() time.Time { return h.now })
	h.ids, h.users, h.roles, h.isRole = map[string]int64{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	noise := h.srv.AddUser(person("noise", 1))
	other := h.srv.AddRole(onelogintest.Role{Name: "Another app", Apps: []int64{app + 1}})
	must(t, h.srv.SetRoleUsers(other.ID, noise.ID))
	if err := h.update(t, want); err != nil {
		return nil, err
	}
	h.now = h.now.Add(time.Hour)
	id, secret := h.srv.Credentials()
	src, err := onelogin.Config{BaseURL: h.srv.URL(), ClientID: id, ClientSecret: source.Secret(secret), AppID: app,
		Groups: onelogin.GroupsRoles, PageSize: 50, Backoff: time.Millisecond, Logger: zaptest.NewLogger(t)}.Open()
	if err != nil {
		return nil, err
	}
	return &translated{src: src, h: h}, nil
}

// Update changes the account so that want is in scope, with OneLogin's
// clock an hour later before and after, so that updated_since tells the
// changes apart.
func (h *harness) Update(_ context.Context, t *testing.T, want *source.Directory) error {
	h.now = h.now.Add(time.Hour)
	err := h.update(t, want)
	h.now = h.now.Add(time.Hour)
	return err
}

func (h *harness) update(t *testing.T, want *source.Directory) error {
	inRole := map[string]bool{}
	for _, g := range want.Groups {
		for _, m := range g.Members {
			inRole[m] = true
		}
	}
	// Users first, managers resolved in a second pass.
	wanted := map[string]bool{}
	for i := range want.Users {
		u := &want.Users[i]
		wanted[u.ID] = true
		spec := olUser(u)
		if _, ok := h.ids[u.ID]; !ok {
			h.ids[u.ID] = h.srv.AddUser(spec).ID
		}
	}
	for i := range want.Users {
		u := &want.Users[i]
		spec := olUser(u)
		if m, ok := u.Attributes.Value("managerId").(string); ok {
			if mid, ok := h.ids[m]; ok {
				spec.ManagerUserID = &mid
			}
		}
		oid := h.ids[u.ID]
		cur, _ := h.srv.User(oid)
		spec.ID, spec.CreatedAt, spec.UpdatedAt, spec.RoleIDs = cur.ID, cur.CreatedAt, cur.UpdatedAt, cur.RoleIDs
		if !sameUser(cur, spec) {
			must(t, h.srv.UpdateUser(oid, func(x *onelogintest.User) { *x = spec }))
		}
		if !inRole[u.ID] || i%3 == 0 {
			h.srv.AssignApp(app, oid)
		} else {
			h.srv.UnassignApp(app, oid)
		}
		h.users[u.ID] = true
	}
	for sid := range h.users {
		if !wanted[sid] {
			h.srv.UnassignApp(app, h.ids[sid])
		}
	}
	wantRoles := map[string]bool{}
	for _, g := range want.Groups {
		wantRoles[g.ID] = true
		rid, ok := h.ids[g.ID]
		if !ok {
			rid = h.srv.AddRole(onelogintest.Role{Name: g.DisplayName, Apps: []int64{app}}).ID
			h.ids[g.ID] = rid
		} else {
			h.srv.AddRole(onelogintest.Role{ID: rid, Name: g.DisplayName, Apps: []int64{app}})
		}
		var members []int64
		for _, m := range g.Members {
			members = append(members, h.ids[m])
		}
		must(t, h.srv.SetRoleUsers(rid, members...))
		h.roles[g.ID], h.isRole[g.ID] = true, true
	}
	for gid := range h.roles {
		if !wantRoles[gid] {
			h.srv.RemoveRole(h.ids[gid])
			delete(h.roles, gid)
		}
	}
	return nil
}

func (h *harness) FailNext(*testing.T) error {
	// One request a read lists roles: failing it past the retries (6)
	// fails one read, after the app's users were listed.
	h.srv.InjectFault(onelogintest.Fault{Route: onelogintest.RouteRoles, Status: 500, Times: 7})
	return nil
}

func olUser(u *source.User) onelogintest.User {
	status := onelogin.StatusActive
	if u.State == source.StateSuspended {
		status = onelogin.StatusSuspended
	}
	str := func(name string) string { v, _ := u.Attributes.Value(name).(string); return v }
	o := onelogintest.User{Username: u.UserName, Email: u.PrimaryEmail(), Firstname: u.GivenName, Lastname: u.FamilyName,
		Status: status, State: 1, Title: str("jobTitle"), Department: str("department")}
	if v := str("employeeId"); v != "" {
		o.CustomAttributes = map[string]string{"employeeId": v}
	}
	return o
}

func sameUser(a, b onelogintest.User) bool {
	return a.Username == b.Username && a.Email == b.Email && a.Firstname == b.Firstname && a.Lastname == b.Lastname &&
		a.Status == b.Status && a.Title == b.Title && a.Department == b.Department &&
		a.CustomAttributes["employeeId"] == b.CustomAttributes["employeeId"] &&
		ptrEq(a.ManagerUserID, b.ManagerUserID)
}

func ptrEq(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// translated is the source as the suite sees it: OneLogin's ids turned
// back into the suite's, display names as the suite wrote them.
type translated struct {
	src *onelogin.Source
	h   *harness
}

func (s *translated) Name() string { return s.src.Name() }

func (s *translated) back() map[string]string {
	m := map[string]string{}
	for sid, oid := range s.h.ids {
		key := strconv.FormatInt(oid, 10)
		if s.h.isRole[sid] {
			key = "role:" + key
		}
		m[key] = sid
	}
	return m
}

func (s *translated) Read(ctx context.Context) (*source.Directory, error) {
	d, err := s.src.Read(ctx)
	if err != nil {
		return nil, err
	}
	back := s.back()
	translate(back, d.Users, d.Groups)
	return d, nil
}

func (s *translated) ReadChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	ch, err := s.src.ReadChanges(ctx, cursor)
	if err != nil {
		return nil, err
	}
	back := s.back()
	translate(back, ch.Users, ch.Groups)
	for i, id := range ch.RemovedUsers {
		ch.RemovedUsers[i] = back[id]
	}
	for i, id := range ch.RemovedGroups {
		if v, ok := back[id]; ok {
			ch.RemovedGroups[i] = v
		}
	}
	return ch, nil
}

var _ source.Incremental = (*translated)(nil)

func translate(back map[string]string, users []source.User, groups []source.Group) {
	tr := func(id string) string {
		if v, ok := back[id]; ok {
			return v
		}
		return id
	}
	for i := range users {
		users[i].ID = tr(users[i].ID)
		if m, ok := users[i].Attributes.Value("managerId").(string); ok {
			users[i].Attributes = users[i].Attributes.With("managerId", tr(m))
		}
	}
	for i := range groups {
		groups[i].ID = tr(groups[i].ID)
		for k, m := range groups[i].Members {
			groups[i].Members[k] = tr(m)
		}
	}
}
