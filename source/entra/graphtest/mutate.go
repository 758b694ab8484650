package graphtest

import (
	"fmt"
	"slices"
	"strings"
)

// AddUser adds u (a new id is generated when u.ID is empty) and returns
// it as stored. UserType defaults to "Member", or "Guest" for #EXT# names.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = s.newGUID()
	}
	if u.UserType == "" {
		u.UserType = "Member"
		if strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#") {
			u.UserType = "Guest"
		}
	}
	u.OtherMails = slices.Clone(u.OtherMails)
	stored := u
	s.t.users[u.ID] = &stored
	s.t.created[u.ID] = s.now()
	s.t.record(change{kind: TypeUser, id: u.ID})
	return u
}

// UpdateUser changes user id with fn and records the change.
func (s *Server) UpdateUser(id string, fn func(*User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.t.users[id]
	if u == nil {
		return fmt.Errorf("graphtest: no user %s", id)
	}
	fn(u)
	u.ID = id
	s.t.record(change{kind: TypeUser, id: id})
	return nil
}

// DeleteUser deletes user id (Entra's soft delete: it leaves groups and
// assignments and appears in users/delta as @removed "changed").
func (s *Server) DeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.users[id] == nil {
		return fmt.Errorf("graphtest: no user %s", id)
	}
	delete(s.t.users, id)
	s.t.deleted[id] = TypeUser
	s.t.removeEverywhere(id, TypeUser)
	s.t.record(change{kind: TypeUser, id: id})
	return nil
}

// User returns the stored user id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.t.users[id]; u != nil {
		return *u, true
	}
	return User{}, false
}

// AddGroup adds g (security-enabled unless MailEnabled is set) and
// returns it as stored.
func (s *Server) AddGroup(g Group) Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.ID == "" {
		g.ID = s.newGUID()
	}
	if !g.MailEnabled {
		g.SecurityEnabled = true
	}
	if g.MailNickname == "" {
		g.MailNickname = strings.ReplaceAll(strings.ToLower(g.DisplayName), " ", "-")
	}
	stored := g
	s.t.groups[g.ID] = &stored
	s.t.members[g.ID] = nil
	s.t.created[g.ID] = s.now()
	s.t.record(change{kind: TypeGroup, id: g.ID})
	return g
}

// UpdateGroup changes group id with fn and records the change.
func (s *Server) UpdateGroup(id string, fn func(*Group)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.t.groups[id]
	if g == nil {
		return fmt.Errorf("graphtest: no group %s", id)
	}
	fn(g)
	g.ID = id
	s.t.record(change{kind: TypeGroup, id: id})
	return nil
}

// DeleteGroup deletes group id; it leaves its parents and loses its
// assignments.
func (s *Server) DeleteGroup(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.groups[id] == nil {
		return fmt.Errorf("graphtest: no group %s", id)
	}
	delete(s.t.groups, id)
	delete(s.t.members, id)
	s.t.deleted[id] = TypeGroup
	s.t.removeEverywhere(id, TypeGroup)
	s.t.record(change{kind: TypeGroup, id: id})
	return nil
}

// AddMembers adds objects (users, groups, devices, contacts, service
// principals) to group gid. Existing members are skipped.
func (s *Server) AddMembers(gid string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.groups[gid] == nil {
		return fmt.Errorf("graphtest: no group %s", gid)
	}
	for _, id := range ids {
		typ := s.t.typeOf(id)
		if typ == "" {
			return fmt.Errorf("graphtest: no object %s", id)
		}
		if slices.Contains(s.t.members[gid], id) {
			continue
		}
		s.t.members[gid] = append(s.t.members[gid], id)
		s.t.record(change{kind: TypeGroup, id: gid, member: id, mtype: typ, added: true, isMember: true})
	}
	return nil
}

// RemoveMembers removes objects from group gid.
func (s *Server) RemoveMembers(gid string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.groups[gid] == nil {
		return fmt.Errorf("graphtest: no group %s", gid)
	}
	for _, id := range ids {
		ms := s.t.members[gid]
		i := slices.Index(ms, id)
		if i < 0 {
			continue
		}
		s.t.members[gid] = slices.Delete(ms, i, i+1)
		s.t.record(change{kind: TypeGroup, id: gid, member: id, mtype: s.t.typeOf(id), isMember: true})
	}
	return nil
}

// AddDevice adds a device object and returns its id.
func (s *Server) AddDevice(displayName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &device{id: s.newGUID(), displayName: displayName, deviceID: s.newGUID()}
	s.t.devices[d.id] = d
	return d.id
}

// AddContact adds an organizational contact and returns its id.
func (s *Server) AddContact(displayName, mail string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &contact{id: s.newGUID(), displayName: displayName, mail: mail}
	s.t.contacts[c.id] = c
	return c.id
}

// GalleryRoles returns the app roles of a gallery (SAML) app such as
// "Netskope User Authentication": one default role msiam_access with a
// null value and a fresh id.
func (s *Server) GalleryRoles() []AppRole {
	return []AppRole{{ID: s.NewID(), DisplayName: "msiam_access", Description: "msiam_access",
		AllowedMemberTypes: []string{"User"}, IsEnabled: true}}
}

// AddServicePrincipal adds an enterprise app and returns it as stored.
// When sp.AppRoles is nil it gets GalleryRoles.
func (s *Server) AddServicePrincipal(sp ServicePrincipal) ServicePrincipal {
	if sp.AppRoles == nil {
		sp.AppRoles = s.GalleryRoles()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp.ID == "" {
		sp.ID = s.newGUID()
	}
	if sp.AppID == "" {
		sp.AppID = s.newGUID()
	}
	sp.AppRoles = slices.Clone(sp.AppRoles)
	stored := sp
	s.t.sps[sp.ID] = &stored
	return sp
}

// SetAssignmentRequired sets the app's appRoleAssignmentRequired.
func (s *Server) SetAssignmentRequired(spID string, required bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.t.sps[spID]
	if sp == nil {
		return fmt.Errorf("graphtest: no service principal %s", spID)
	}
	sp.AppRoleAssignmentRequired = required
	return nil
}

// Assign grants principal (a user, group or service principal) the role
// roleID of app spID and returns the assignment's id.
func (s *Server) Assign(spID, principal, roleID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.t.sps[spID]
	if sp == nil {
		return "", fmt.Errorf("graphtest: no service principal %s", spID)
	}
	ptype := ""
	switch s.t.typeOf(principal) {
	case TypeUser:
		ptype = "User"
	case TypeGroup:
		ptype = "Group"
	case TypeServicePrincipal:
		ptype = "ServicePrincipal"
	default:
		return "", fmt.Errorf("graphtest: %s cannot be assigned", principal)
	}
	if roleID != DefaultAccessRoleID && !slices.ContainsFunc(sp.AppRoles, func(r AppRole) bool { return r.ID == roleID }) {
		return "", fmt.Errorf("graphtest: app %s has no role %s", spID, roleID)
	}
	s.t.assignN++
	a := &Assignment{
		ID: assignmentID(principal, s.t.assignN), AppRoleID: roleID,
		PrincipalID: principal, PrincipalType: ptype, PrincipalDisplayName: s.t.displayName(principal),
		ResourceID: sp.ID, ResourceDisplayName: sp.DisplayName, Created: s.now().UTC(),
	}
	s.t.assigns[a.ID] = a
	s.t.assignSeq = append(s.t.assignSeq, a.ID)
	return a.ID, nil
}

// Unassign removes an assignment by id.
func (s *Server) Unassign(assignmentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.assigns[assignmentID] == nil {
		return fmt.Errorf("graphtest: no assignment %s", assignmentID)
	}
	s.t.dropAssignment(assignmentID)
	return nil
}

// UpdateGroupIfChanged replaces group id's properties with g's, recording
// a change only if they differ.
func (s *Server) UpdateGroupIfChanged(id string, g Group) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.t.groups[id]
	if cur == nil {
		return fmt.Errorf("graphtest: no group %s", id)
	}
	g.ID = id
	if !g.MailEnabled {
		g.SecurityEnabled = true
	}
	if g.MailNickname == "" {
		g.MailNickname = cur.MailNickname
	}
	if fmt.Sprintf("%#v", *cur) == fmt.Sprintf("%#v", g) {
		return nil
	}
	*cur = g
	s.t.record(change{kind: TypeGroup, id: id})
	return nil
}

// SetUserMembers makes users exactly the user members of group gid,
// adding and removing as needed; members of other types stay.
func (s *Server) SetUserMembers(gid string, users []string) error {
	s.mu.Lock()
	var drop []string
	for _, m := range s.t.members[gid] {
		if s.t.users[m] != nil && !slices.Contains(users, m) {
			drop = append(drop, m)
		}
	}
	s.mu.Unlock()
	if err := s.RemoveMembers(gid, drop...); err != nil {
		return err
	}
	return s.AddMembers(gid, users...)
}
