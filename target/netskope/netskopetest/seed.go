package netskopetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/provsync/provsync/scim"
)

// AddUser stores u as if it had been POSTed, without a request being made
// or counted, and returns it as stored, with its id. It fails with a
// *scim.Error as the HTTP API would (409 for a taken userName).
func (s *Server) AddUser(u scim.User) (scim.User, error) {
	full, err := s.add(kindUser, u)
	if err != nil {
		return scim.User{}, err
	}
	var out scim.User
	return out, decodeInto(full, &out)
}

// AddGroup stores g, members included, as if it had been POSTed, without
// a request being made or counted, and returns it as stored with its
// members. Members must be users already stored.
func (s *Server) AddGroup(g scim.Group) (scim.Group, error) {
	full, err := s.add(kindGroup, g)
	if err != nil {
		return scim.Group{}, err
	}
	var out scim.Group
	return out, decodeInto(full, &out)
}

func (s *Server) add(k kind, v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("netskopetest: encode %s: %w", k, err)
	}
	st := s.store
	t := st.table(k)
	p, ok := t.scanBody(raw, st.names)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("netskopetest: encode %s: %w", k, err)
		}
		attrs, err := t.validate(doc)
		if err != nil {
			return nil, wireError(err)
		}
		if p, err = t.prepare(attrs); err != nil {
			return nil, wireError(err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	rec, err := st.create(k, p)
	if err != nil {
		return nil, wireError(err)
	}
	return st.full(k, rec), nil
}

// validate checks a resource body against the table's schemas as elimity
// does for a POST: by validateFast, or by elimity when that cannot be sure.
func (t *table) validate(doc map[string]any) (map[string]any, error) {
	if attrs, ok := t.validateFast(doc); ok {
		return attrs, nil
	}
	return t.validateElimity(doc)
}

// validateFast is validate without elimity, for a body of the usual
// shape (see fastSchema); it reports false for any other.
func (t *table) validateFast(doc map[string]any) (map[string]any, bool) {
	attrs, ok := t.fast.validate(doc)
	if !ok {
		return nil, false
	}
	for i, e := range t.exts {
		v, found := doc[e.ID]
		if !found || v == nil {
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		ext, ok := t.fastExts[i].validate(m)
		if !ok {
			return nil, false
		}
		attrs[e.ID] = ext
	}
	return attrs, true
}

// validateElimity is validate by elimity's Schema.Validate.
func (t *table) validateElimity(doc map[string]any) (map[string]any, error) {
	attrs, serr := t.schema.Validate(doc)
	if serr != nil {
		return nil, *serr
	}
	for _, e := range t.exts {
		v, ok := doc[e.ID]
		if !ok || v == nil {
			continue
		}
		ext, serr := e.Validate(v)
		if serr != nil {
			return nil, *serr
		}
		attrs[e.ID] = ext
	}
	return attrs, nil
}

// wireError turns elimity's error into the project's wire error.
func wireError(err error) error {
	var se scimerrors.ScimError
	if errors.As(err, &se) {
		return scim.NewError(se.Status, string(se.ScimType), se.Detail)
	}
	return scim.NewError(http.StatusInternalServerError, "", err.Error())
}

// User returns the user with the given id.
func (s *Server) User(id string) (scim.User, bool) {
	full, ok := s.one(kindUser, id)
	if !ok {
		return scim.User{}, false
	}
	var u scim.User
	return u, decodeInto(full, &u) == nil
}

// Group returns the group with the given id, with its members.
func (s *Server) Group(id string) (scim.Group, bool) {
	full, ok := s.one(kindGroup, id)
	if !ok {
		return scim.Group{}, false
	}
	var g scim.Group
	return g, decodeInto(full, &g) == nil
}

func (s *Server) one(k kind, id string) (map[string]any, bool) {
	st := s.store
	st.mu.RLock()
	defer st.mu.RUnlock()
	rec, ok := st.table(k).get(id)
	if !ok {
		return nil, false
	}
	return st.full(k, rec), true
}

// Users returns a snapshot of every user, in the order they were created.
func (s *Server) Users() []scim.User {
	all := s.all(kindUser)
	out := make([]scim.User, len(all))
	for i, full := range all {
		_ = decodeInto(full, &out[i])
	}
	return out
}

// Groups returns a snapshot of every group with its members, in the order
// they were created.
func (s *Server) Groups() []scim.Group {
	all := s.all(kindGroup)
	out := make([]scim.Group, len(all))
	for i, full := range all {
		_ = decodeInto(full, &out[i])
	}
	return out
}

func (s *Server) all(k kind) []map[string]any {
	st := s.store
	st.mu.RLock()
	defer st.mu.RUnlock()
	t := st.table(k)
	out := make([]map[string]any, len(t.order))
	for i, rec := range t.order {
		out[i] = st.full(k, rec)
	}
	return out
}

// UserCount returns the number of users.
func (s *Server) UserCount() int {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return len(s.store.users.byID)
}

// GroupCount returns the number of groups.
func (s *Server) GroupCount() int {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return len(s.store.groups.byID)
}

// Reset deletes every user and group; the counters are kept (see
// ResetStats).
func (s *Server) Reset() {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	st.users.clear()
	st.groups.clear()
	st.byNum = nil
}

// full renders rec completely, members included, as a JSON object. The
// caller holds the lock.
func (st *store) full(k kind, rec *record) map[string]any {
	attrs := rec.attrMap()
	m := make(map[string]any, len(attrs)+5)
	for name, v := range attrs {
		m[name] = v
	}
	m["id"] = rec.id
	schemas := []string{st.table(k).schema.ID}
	if k == kindUser {
		schemas = append(schemas, st.enterprise.ID)
	} else {
		m["members"] = st.memberValues(rec)
	}
	m["schemas"] = schemas
	m["meta"] = scim.Meta{
		ResourceType: k.String(),
		Created:      rec.created.Format(time.RFC3339),
		LastModified: rec.modified.Format(time.RFC3339),
		Location:     k.String() + "s/" + rec.id,
	}
	return m
}

func decodeInto(full map[string]any, v any) error {
	raw, err := json.Marshal(full)
	if err != nil {
		return fmt.Errorf("netskopetest: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("netskopetest: %w", err)
	}
	return nil
}
