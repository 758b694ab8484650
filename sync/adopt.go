package sync

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	gosync "sync"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// usersNamed returns the target users whose userName is name, ignoring
// case, as the uniqueness check that answered 409 compares it. See
// findNamed.
func (a *applier) usersNamed(ctx context.Context, name string) ([]scim.User, error) {
	t := a.e.target
	return findNamed(ctx, name, func(u *scim.User) string { return u.UserName },
		func(ctx context.Context) ([]scim.User, error) {
			return t.ListUsers(ctx, target.WithFilter(scim.Eq(scim.PathUserName, name)))
		},
		&a.allUsers, func(ctx context.Context) iter.Seq2[*scim.User, error] { return usersOf(ctx, t) },
		func(u *scim.User) (string, *Mirror) { return u.ID, userMirror(u) },
		func(id string, m *Mirror) (scim.User, bool) { return m.user(id) })
}

// groupsNamed returns the target groups whose displayName is name,
// ignoring case, without members. See findNamed.
func (a *applier) groupsNamed(ctx context.Context, name string) ([]scim.Group, error) {
	t := a.e.target
	return findNamed(ctx, name, func(g *scim.Group) string { return g.DisplayName },
		func(ctx context.Context) ([]scim.Group, error) {
			return t.ListGroups(ctx, target.WithFilter(scim.Eq(scim.PathDisplayName, name)))
		},
		&a.allGroups, func(ctx context.Context) iter.Seq2[*scim.Group, error] { return groupsOf(ctx, t) },
		func(g *scim.Group) (string, *Mirror) {
			return g.ID, &Mirror{DisplayName: g.DisplayName, ExternalID: g.ExternalID}
		},
		func(id string, m *Mirror) (scim.Group, bool) {
			return scim.Group{ID: id, DisplayName: m.DisplayName, ExternalID: m.ExternalID}, true
		})
}

// findNamed looks up, after a create met 409, the objects whose name is
// name ignoring case. It asks with an eq filter first. Some servers'
// filters are weaker than their uniqueness checks: eq compares
// case-exactly, a value holding a quote is refused (400 invalidFilter), a
// backslash escape is not undone. So when the filter finds no such object,
// or is refused as invalid, the objects are matched over a listing of the
// whole collection instead, read once per Apply and shared by every
// lookup of its kind. The listing is read one object at a time (as the
// drift check reads it) and kept compact: each object's name, id and
// mirror (pack), from which a match is made again (unpack): a user's
// mirror keeps what the mapping manages, a group's its names.
func findNamed[T any](ctx context.Context, name string, nameOf func(*T) string,
	byFilter func(context.Context) ([]T, error), all *lazyNamed, listAll func(context.Context) iter.Seq2[*T, error],
	pack func(*T) (id string, m *Mirror), unpack func(id string, m *Mirror) (T, bool),
) ([]T, error) {
	found, err := byFilter(ctx)
	if err != nil && !errors.Is(err, target.ErrInvalid) {
		return nil, err
	}
	if m := withName(found, name, nameOf); len(m) > 0 {
		return m, nil
	}
	lerr := all.read(ctx, func(ctx context.Context, add func(name, id string, m *Mirror)) error {
		for o, err := range listAll(ctx) {
			if err != nil {
				return err
			}
			id, m := pack(o)
			add(nameOf(o), id, m)
		}
		return nil
	})
	if lerr != nil {
		return nil, errors.Join(err, lerr)
	}
	var out []T
	for id, m := range all.named(name) {
		o, ok := unpack(id, m)
		if !ok {
			return nil, errors.Join(err, fmt.Errorf("listed object id=%s named %q cannot be read back", id, name))
		}
		out = append(out, o)
	}
	return out, nil
}

// withName keeps the objects whose name is name, ignoring case.
func withName[T any](objs []T, name string, nameOf func(*T) string) []T {
	var out []T
	for i := range objs {
		if strings.EqualFold(nameOf(&objs[i]), name) {
			out = append(out, objs[i])
		}
	}
	return out
}

// lazyNamed is a listing read on first use and then shared, kept as each
// object's name, id and mirror; a failed read is tried again by the next
// caller.
type lazyNamed struct {
	mu      gosync.Mutex
	done    bool
	names   []string
	ids     []string
	mirrors []*Mirror
}

// read fills l with what list adds, unless it holds a listing already.
func (l *lazyNamed) read(ctx context.Context, list func(context.Context, func(name, id string, m *Mirror)) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	var names, ids []string
	var mirrors []*Mirror
	err := list(ctx, func(name, id string, m *Mirror) {
		names, ids, mirrors = append(names, name), append(ids, id), append(mirrors, m)
	})
	if err != nil {
		return err
	}
	l.names, l.ids, l.mirrors, l.done = names, ids, mirrors, true
	return nil
}

// named yields the id and mirror of each listed object whose name is
// name, ignoring case.
func (l *lazyNamed) named(name string) iter.Seq2[string, *Mirror] {
	return func(yield func(string, *Mirror) bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, n := range l.names {
			if strings.EqualFold(n, name) && !yield(l.ids[i], l.mirrors[i]) {
				return
			}
		}
	}
}
