package sync

import (
	"context"
	"errors"
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
		&a.allUsers, func(ctx context.Context) ([]scim.User, error) { return t.ListUsers(ctx) })
}

// groupsNamed returns the target groups whose displayName is name,
// ignoring case. See findNamed.
func (a *applier) groupsNamed(ctx context.Context, name string) ([]scim.Group, error) {
	t := a.e.target
	return findNamed(ctx, name, func(g *scim.Group) string { return g.DisplayName },
		func(ctx context.Context) ([]scim.Group, error) {
			return t.ListGroups(ctx, target.WithFilter(scim.Eq(scim.PathDisplayName, name)))
		},
		&a.allGroups, func(ctx context.Context) ([]scim.Group, error) { return t.ListGroups(ctx) })
}

// findNamed looks up, after a create met 409, the objects whose name is
// name ignoring case. It asks with an eq filter first. Some servers'
// filters are weaker than their uniqueness checks: eq compares
// case-exactly, a value holding a quote is refused (400 invalidFilter), a
// backslash escape is not undone. So when the filter finds no such object,
// or is refused as invalid, the objects are matched over a listing of the
// whole collection instead, read once per Apply and shared by every
// lookup of its kind.
func findNamed[T any](ctx context.Context, name string, nameOf func(*T) string,
	byFilter func(context.Context) ([]T, error), all *lazyList[T], listAll func(context.Context) ([]T, error),
) ([]T, error) {
	found, err := byFilter(ctx)
	if err != nil && !errors.Is(err, target.ErrInvalid) {
		return nil, err
	}
	if m := withName(found, name, nameOf); len(m) > 0 {
		return m, nil
	}
	listed, lerr := all.get(ctx, listAll)
	if lerr != nil {
		return nil, errors.Join(err, lerr)
	}
	return withName(listed, name, nameOf), nil
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

// lazyList is a listing read on first use and then shared; a failed read
// is tried again by the next caller.
type lazyList[T any] struct {
	mu   gosync.Mutex
	read bool
	list []T
}

func (l *lazyList[T]) get(ctx context.Context, read func(context.Context) ([]T, error)) ([]T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.read {
		list, err := read(ctx)
		if err != nil {
			return nil, err
		}
		l.list, l.read = list, true
	}
	return l.list, nil
}
