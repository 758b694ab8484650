package source

import (
	"errors"
	"fmt"
	"slices"
)

// Apply folds changes into a snapshot and returns the new snapshot; dir and
// ch are not modified and share nothing with the result.
//
// With ch.Full the result is exactly ch's users and groups (dir may be
// nil). Otherwise upserted objects replace those with the same id in place,
// or are appended; removed ids are dropped, together with their entries in
// other groups' Members and MemberGroups; removing an id that is not there
// is not an error, since providers may replay removals. An id both upserted
// and removed, or upserted twice, is an error. The result must pass Validate, or Apply returns
// the problems; all errors match ErrInvalid.
func Apply(dir *Directory, ch *Changes) (*Directory, error) {
	return apply(dir, ch, false)
}

// ApplyShared is Apply for a caller that modifies neither dir nor the
// result in place: the objects the changes leave as they were are not
// copied, so the result shares their attribute maps, emails and member
// lists with dir (ch is copied still, and neither input is modified).
// Folding a few changes into a large directory then costs memory in
// proportion to the changes, not to the directory.
func ApplyShared(dir *Directory, ch *Changes) (*Directory, error) {
	return apply(dir, ch, true)
}

// ApplyInPlace is Apply for a caller that owns dir and gives it up: the
// changes are folded into dir itself, which it returns, reusing its
// slices, so that folding a few changes into a large directory allocates
// in proportion to the changes (ApplyShared copies the directory's
// slices of users and groups and indexes them by id; the users' slice
// grows here only when the changes add more users than they remove and
// it has no room). The changes' objects are copied, and ch is not
// modified; dir must share no object, member list or slice with another
// directory the caller keeps. On an error, dir is left in an
// unspecified state.
func ApplyInPlace(dir *Directory, ch *Changes) (*Directory, error) {
	if ch == nil || ch.Full || dir == nil {
		return apply(dir, ch, false)
	}
	removedUsers, removedGroups, err := checkChanges(ch)
	if err != nil {
		return nil, err
	}
	dir.Users = foldInto(dir.Users, ch.Users, removedUsers, func(u *User) string { return u.ID }, (*User).Clone)
	dir.Groups = foldInto(dir.Groups, ch.Groups, removedGroups, func(g *Group) string { return g.ID }, (*Group).Clone)
	if len(removedUsers) > 0 || len(removedGroups) > 0 {
		for i := range dir.Groups {
			g := &dir.Groups[i]
			g.Members = without(g.Members, removedUsers, false)
			g.MemberGroups = without(g.MemberGroups, removedGroups, false)
		}
	}
	if err := dir.Validate(); err != nil {
		return nil, fmt.Errorf("apply: the result is not a valid directory: %w", err)
	}
	return dir, nil
}

// foldInto folds the upserted objects (copied with clone) and the
// removals into objs in place, as applyPartial folds them into a copy:
// an upserted object replaces the one of its id where it is, or is
// appended, in the order of upserted. The slice grows, to exactly the
// length needed, only if the objects appended do not fit.
func foldInto[T any](objs, upserted []T, removed map[string]bool, id func(*T) string, clone func(*T) T) []T {
	if len(upserted) == 0 && len(removed) == 0 {
		return objs
	}
	at := make(map[string]int, len(upserted))
	for i := range upserted {
		at[id(&upserted[i])] = i
	}
	replaced := make([]bool, len(upserted))
	out := objs[:0]
	for i := range objs {
		k := id(&objs[i])
		if removed[k] {
			continue
		}
		if j, ok := at[k]; ok {
			out, replaced[j] = append(out, clone(&upserted[j])), true
		} else {
			out = append(out, objs[i]) // at or before i: nothing not yet read is overwritten
		}
	}
	clear(objs[len(out):]) // the removed objects' references
	added := len(upserted)
	for _, r := range replaced {
		if r {
			added--
		}
	}
	if added > cap(out)-len(out) {
		out = append(make([]T, 0, len(out)+added), out...)
	}
	for j := range upserted {
		if !replaced[j] {
			out = append(out, clone(&upserted[j]))
		}
	}
	return out
}

func apply(dir *Directory, ch *Changes, share bool) (*Directory, error) {
	if ch == nil {
		return nil, fmt.Errorf("%w: apply: no changes", ErrInvalid)
	}
	var out *Directory
	if ch.Full {
		out = (&Directory{Users: ch.Users, Groups: ch.Groups}).Clone()
	} else {
		if dir == nil {
			return nil, fmt.Errorf("%w: apply: partial changes need a snapshot to apply to", ErrInvalid)
		}
		var err error
		if out, err = applyPartial(dir, ch, share); err != nil {
			return nil, err
		}
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("apply: the result is not a valid directory: %w", err)
	}
	return out, nil
}

// checkChanges returns the sets of ch's removed users and groups, or an
// error matching ErrInvalid for an object both upserted and removed, or
// upserted twice.
func checkChanges(ch *Changes) (removedUsers, removedGroups map[string]bool, err error) {
	removedUsers, removedGroups = toSet(ch.RemovedUsers), toSet(ch.RemovedGroups)
	var p problems
	checkBatch(&p, "user", ch.Users, func(u *User) string { return u.ID }, removedUsers)
	checkBatch(&p, "group", ch.Groups, func(g *Group) string { return g.ID }, removedGroups)
	if len(p) > 0 {
		return nil, nil, fmt.Errorf("apply: %w", errors.Join(p...))
	}
	return removedUsers, removedGroups, nil
}

func applyPartial(dir *Directory, ch *Changes, share bool) (*Directory, error) {
	removedUsers, removedGroups, err := checkChanges(ch)
	if err != nil {
		return nil, err
	}

	out := &Directory{
		Users:  make([]User, 0, len(dir.Users)+len(ch.Users)),
		Groups: make([]Group, 0, len(dir.Groups)+len(ch.Groups)),
	}
	userAt := make(map[string]int, len(dir.Users)+len(ch.Users))
	for i := range dir.Users {
		if id := dir.Users[i].ID; !removedUsers[id] {
			userAt[id] = len(out.Users)
			if share {
				out.Users = append(out.Users, dir.Users[i])
			} else {
				out.Users = append(out.Users, dir.Users[i].Clone())
			}
		}
	}
	for i := range ch.Users {
		u := ch.Users[i].Clone()
		if j, ok := userAt[u.ID]; ok {
			out.Users[j] = u
		} else {
			userAt[u.ID] = len(out.Users)
			out.Users = append(out.Users, u)
		}
	}
	groupAt := make(map[string]int, len(dir.Groups)+len(ch.Groups))
	for i := range dir.Groups {
		if id := dir.Groups[i].ID; !removedGroups[id] {
			groupAt[id] = len(out.Groups)
			if share {
				out.Groups = append(out.Groups, dir.Groups[i])
			} else {
				out.Groups = append(out.Groups, dir.Groups[i].Clone())
			}
		}
	}
	for i := range ch.Groups {
		g := ch.Groups[i].Clone()
		if j, ok := groupAt[g.ID]; ok {
			out.Groups[j] = g
		} else {
			groupAt[g.ID] = len(out.Groups)
			out.Groups = append(out.Groups, g)
		}
	}
	if len(removedUsers) > 0 || len(removedGroups) > 0 {
		for i := range out.Groups {
			g := &out.Groups[i]
			g.Members = without(g.Members, removedUsers, share)
			g.MemberGroups = without(g.MemberGroups, removedGroups, share)
		}
	}
	return out, nil
}

// checkBatch reports objects of a batch of changes that are also removed
// or listed twice.
func checkBatch[T any](p *problems, kind string, objs []T, id func(*T) string, removed map[string]bool) {
	at := make(map[string]int, len(objs))
	for i := range objs {
		id := id(&objs[i])
		if removed[id] {
			p.add(kind, id, -1, "", "both upserted and removed")
		}
		if j, dup := at[id]; dup {
			p.add(kind, id, -1, "id", "the changes list the %s twice (%ss[%d] and %ss[%d])", kind, kind, j, kind, i)
		} else {
			at[id] = i
		}
	}
}

func toSet(ids []string) map[string]bool {
	s := make(map[string]bool, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// without removes the ids in drop from ids: in place, or with shared
// into a new slice when there is one to remove, since ids may be another
// directory's.
func without(ids []string, drop map[string]bool, shared bool) []string {
	if len(drop) == 0 {
		return ids
	}
	out, rest := ids[:0], ids
	if shared {
		i := slices.IndexFunc(ids, func(id string) bool { return drop[id] })
		if i < 0 {
			return ids
		}
		out, rest = append(make([]string, 0, len(ids)-1), ids[:i]...), ids[i:]
	}
	for _, id := range rest {
		if !drop[id] {
			out = append(out, id)
		}
	}
	return out
}
