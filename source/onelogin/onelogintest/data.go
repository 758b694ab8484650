package onelogintest

import (
	"fmt"
	"slices"
)

// AddUser adds a user and returns it as stored; an id of 0 gets a new
// one, and created_at and updated_at are stamped with the server's clock.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		s.seq++
		u.ID = s.seq
	}
	if _, dup := s.users[u.ID]; dup {
		panic(fmt.Sprintf("onelogintest: duplicate user id %d", u.ID))
	}
	u.CreatedAt, u.UpdatedAt = s.now().UTC(), s.now().UTC()
	s.users[u.ID] = &u
	return u
}

// UpdateUser changes a user and stamps updated_at.
func (s *Server) UpdateUser(id int64, fn func(*User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return errNoUser(id)
	}
	c := *u
	fn(&c)
	c.ID, c.UpdatedAt = id, s.now().UTC()
	s.users[id] = &c
	return nil
}

// User returns a user by id.
func (s *Server) User(id int64) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// DeleteUser removes a user from the account, its roles and its apps.
func (s *Server) DeleteUser(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
	for _, r := range s.roles {
		r.Users = slices.DeleteFunc(r.Users, func(u int64) bool { return u == id })
	}
	for app := range s.direct {
		s.direct[app] = slices.DeleteFunc(s.direct[app], func(u int64) bool { return u == id })
	}
}

// AssignApp gives users the app directly.
func (s *Server) AssignApp(app int64, users ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		if !slices.Contains(s.direct[app], u) {
			s.direct[app] = append(s.direct[app], u)
		}
	}
}

// UnassignApp takes the app away from users given it directly.
func (s *Server) UnassignApp(app int64, users ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.direct[app] = slices.DeleteFunc(s.direct[app], func(u int64) bool { return slices.Contains(users, u) })
}

// AddRole adds a role; an id of 0 gets a new one.
func (s *Server) AddRole(r Role) Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.ID == 0 {
		s.seq++
		r.ID = s.seq
	}
	s.roles[r.ID] = &r
	return r
}

// SetRoleUsers replaces a role's users. It does not touch the users'
// updated_at: whether OneLogin does is undocumented, and this is the case
// an incremental read must handle.
func (s *Server) SetRoleUsers(role int64, users ...int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[role]
	if !ok {
		return fmt.Errorf("onelogintest: no role %d", role)
	}
	r.Users = slices.Clone(users)
	return nil
}

// RemoveRole deletes a role.
func (s *Server) RemoveRole(role int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roles, role)
}

// AddGroup adds a group; an id of 0 gets a new one.
func (s *Server) AddGroup(g Group) Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.ID == 0 {
		s.seq++
		g.ID = s.seq
	}
	s.groups[g.ID] = &g
	return g
}
