package directorytest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
)

// AddUser adds a user and returns it as stored. An empty Id gets a
// numeric id like Google's; OrgUnitPath defaults to "/", and name.fullName
// to the given and family names. A user with DeletionTime set is a
// deleted user, listed only with showDeleted=true.
func (s *Server) AddUser(u admin.User) admin.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Id == "" {
		s.seq++
		u.Id = fmt.Sprintf("1%020d", 4816294400000000000+s.seq)
	}
	if _, dup := s.users[u.Id]; dup {
		panic("directorytest: duplicate user id " + u.Id)
	}
	fillUser(&u)
	s.users[u.Id] = &u
	return u
}

func fillUser(u *admin.User) {
	u.Kind, u.CustomerId = "admin#directory#user", CustomerID
	u.Etag = `"` + randHex(8) + `"`
	if u.OrgUnitPath == "" {
		u.OrgUnitPath = "/"
	}
	if u.Name == nil {
		u.Name = &admin.UserName{}
	}
	if u.Name.FullName == "" {
		u.Name.FullName = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	if u.CreationTime == "" {
		u.CreationTime = "2024-03-01T09:00:00.000Z"
	}
}

// UpdateUser changes a user in place.
func (s *Server) UpdateUser(id string, fn func(*admin.User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("directorytest: no user %q", id)
	}
	c := *u
	fn(&c)
	c.Id = id
	fillUser(&c)
	s.users[id] = &c
	return nil
}

// DeleteUser deletes a user as an administrator does: it moves to the
// deleted-users listing with a deletion time and leaves every group.
func (s *Server) DeleteUser(id string, at time.Time) error {
	if err := s.UpdateUser(id, func(u *admin.User) { u.DeletionTime = at.UTC().Format(time.RFC3339Nano) }); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for gid := range s.members {
		s.members[gid] = slices.DeleteFunc(s.members[gid], func(m *admin.Member) bool { return m.Id == id })
	}
	return nil
}

// RemoveUser removes a user from the account entirely (a deleted user
// past Google's retention).
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
	for gid := range s.members {
		s.members[gid] = slices.DeleteFunc(s.members[gid], func(m *admin.Member) bool { return m.Id == id })
	}
}

// User returns a user by id.
func (s *Server) User(id string) (admin.User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return admin.User{}, false
	}
	return *u, true
}

// AddGroup adds a group and returns it as stored. An empty Id gets one
// like Google's.
func (s *Server) AddGroup(g admin.Group) admin.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.Id == "" {
		s.seq++
		g.Id = fmt.Sprintf("03%014x", 0x1ab0000000+s.seq)
	}
	if _, dup := s.groups[g.Id]; dup {
		panic("directorytest: duplicate group id " + g.Id)
	}
	g.Kind, g.Etag = "admin#directory#group", `"`+randHex(8)+`"`
	s.groups[g.Id] = &g
	return g
}

// UpdateGroup changes a group in place.
func (s *Server) UpdateGroup(id string, fn func(*admin.Group)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	if !ok {
		return fmt.Errorf("directorytest: no group %q", id)
	}
	c := *g
	fn(&c)
	c.Id = id
	s.groups[id] = &c
	return nil
}

// RemoveGroup deletes a group and its memberships.
func (s *Server) RemoveGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.groups, id)
	delete(s.members, id)
	for gid := range s.members {
		s.members[gid] = slices.DeleteFunc(s.members[gid], func(m *admin.Member) bool { return m.Id == id })
	}
}

// SetUserMembers makes the users ids the USER members of group gid,
// keeping its GROUP and CUSTOMER members.
func (s *Server) SetUserMembers(gid string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[gid]; !ok {
		return fmt.Errorf("directorytest: no group %q", gid)
	}
	keep := slices.DeleteFunc(slices.Clone(s.members[gid]), func(m *admin.Member) bool { return m.Type == "USER" })
	for _, id := range ids {
		m, err := s.member(id)
		if err != nil {
			return err
		}
		keep = append(keep, m)
	}
	s.members[gid] = keep
	return nil
}

// AddMembers adds users or groups, by id, to group gid as MEMBERs.
func (s *Server) AddMembers(gid string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[gid]; !ok {
		return fmt.Errorf("directorytest: no group %q", gid)
	}
	for _, id := range ids {
		if slices.ContainsFunc(s.members[gid], func(m *admin.Member) bool { return m.Id == id }) {
			continue
		}
		if id == gid {
			return fmt.Errorf("directorytest: group %q cannot contain itself", gid)
		}
		m, err := s.member(id)
		if err != nil {
			return err
		}
		s.members[gid] = append(s.members[gid], m)
	}
	return nil
}

// AddCustomerMember makes every user of the account a member of group
// gid, as Google's CUSTOMER member does.
func (s *Server) AddCustomerMember(gid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[gid]; !ok {
		return fmt.Errorf("directorytest: no group %q", gid)
	}
	s.members[gid] = append(s.members[gid], &admin.Member{Kind: "admin#directory#member", Id: CustomerID,
		Type: "CUSTOMER", Role: "MEMBER", Status: "ACTIVE", Etag: `"` + randHex(8) + `"`})
	return nil
}

// RemoveMembers removes members, by id, from group gid.
func (s *Server) RemoveMembers(gid string, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[gid] = slices.DeleteFunc(s.members[gid], func(m *admin.Member) bool { return slices.Contains(ids, m.Id) })
}

// member builds the member entry for a user or group id.
func (s *Server) member(id string) (*admin.Member, error) {
	m := &admin.Member{Kind: "admin#directory#member", Id: id, Role: "MEMBER", Etag: `"` + randHex(8) + `"`}
	if u, ok := s.users[id]; ok {
		m.Email, m.Type, m.Status = u.PrimaryEmail, "USER", "ACTIVE"
		if u.Suspended {
			m.Status = "SUSPENDED"
		}
		return m, nil
	}
	if g, ok := s.groups[id]; ok {
		m.Email, m.Type = g.Email, "GROUP"
		return m, nil
	}
	return nil, fmt.Errorf("directorytest: no user or group %q", id)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
