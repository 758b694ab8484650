package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"go.uber.org/zap"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/parallel"
	"github.com/provsync/provsync/target"
)

// listing is a drift check's read of the target, kept compact: an owned
// user is its mirror alone, and a group its id, names and a mirror
// holding its members' ids in one string. A mirror equal to the one the
// state stores is that one, so a listing of an unchanged tenant holds
// little beyond the state. Each decoded object is dropped once folded in.
type listing struct {
	// mirrors are the users some link owned when listed, by the link's
	// source id (see listedMirrors).
	mirrors listedMirrors
	// users are the other users, in full (and any owned one whose mirror
	// could not be made).
	users []scim.User
	// groups are the groups without members; the first
	// len(groupMirrors) have their members in groupMirrors (as
	// planInput.groups and groupMirrors), the rest in Members.
	groups       []scim.Group
	groupMirrors []*Mirror
	// refresh are the mirrors of the objects some link owned when listed
	// whose listed form differs from the mirror the state stores.
	refresh []Record
	// gone are the links whose object the listing lacked and a read by id
	// did not find.
	gone []goneLink
}

// listedMirrors are the mirrors of the owned users a drift check listed,
// by source id: the mirror the state stores for each, except those in
// differ (listed otherwise) and in unlisted (not listed as a mirror: gone,
// or kept in full). A listing of an unchanged tenant holds two empty maps,
// not one of every owned user (1.8 MB at 100,000 users).
type listedMirrors struct {
	differ   map[string]*Mirror
	unlisted map[string]bool
}

// mirror returns the listed mirror of the user of source id src whose
// link's stored mirror is stored, and false if it was not listed as one.
func (lm *listedMirrors) mirror(src string, stored *Mirror) (*Mirror, bool) {
	if lm.unlisted[src] {
		return nil, false
	}
	if m, ok := lm.differ[src]; ok {
		return m, true
	}
	return stored, true
}

// readTarget reads the target's users and groups, group members included,
// into a listing. A target that is a target.Streamer hands over one
// object at a time, so the whole decoded listing is never held.
//
// A listing is trusted only if it holds every object the state links, or
// if a read by id answers 404 for each linked object it lacks. A target
// that under-reports would otherwise make owned users look new (creates
// that meet 409) and their memberships look like ones to remove; so a
// linked object that the listing left out but a read by id finds makes
// the whole read ErrTargetRead (and target.ErrIncomplete), and nothing is
// planned. The links confirmed gone are returned, so that Apply can drop
// them. A listing that fails part way is discarded whole.
func (e *Engine) readTarget(ctx context.Context, snap *Snapshot) (*listing, error) {
	l := &listing{}
	owned := reverseLinks(snap.Users)
	listed := make(map[string]bool, len(snap.Users)) // linked target ids listed
	for u, err := range usersOf(ctx, e.target) {
		if err != nil {
			return nil, fmt.Errorf("%w: users: %w", ErrTargetRead, err)
		}
		if src, ok := owned[u.ID]; ok {
			link := snap.Users[src]
			listed[link.TargetID] = true
			if link.Mirror != nil && isPacked(link.Mirror.User) {
				// Unchanged in the tenant, as a rule: compared in a
				// buffer, and no new mirror made.
				var buf [512]byte
				if string(appendPackedUser(buf[:0], u)) == string(link.Mirror.User) {
					continue // the stored mirror (see listedMirrors)
				}
			}
			m := userMirror(u)
			if !m.Equal(link.Mirror) {
				l.refresh = append(l.refresh, Record{Op: OpMirror, Kind: KindUser, SourceID: src, Mirror: m})
			}
			if m = sameMirror(m, link.Mirror); m != link.Mirror {
				l.mirrors.differ = setIn(l.mirrors.differ, src, m)
			}
			continue
		}
		// Kept without what no plan reads (and a mirror leaves out):
		// at a first run that adopts a whole tenant, these are all of
		// its users.
		c := *u
		c.Schemas, c.Meta, c.Groups = nil, nil, nil
		l.users = append(l.users, c)
	}
	goneUsers, err := e.confirmGone(ctx, KindUser, snap.Users, listed)
	if err != nil {
		return nil, err
	}
	for src, link := range snap.Users {
		if !listed[link.TargetID] || owned[link.TargetID] != src {
			l.mirrors.unlisted = setIn(l.mirrors.unlisted, src, true)
		}
	}

	owned = reverseLinks(snap.Groups)
	listed = make(map[string]bool, len(snap.Groups))
	var full, bare []scim.Group // members not mirrorable; listed without members
	fold := func(g *scim.Group) {
		m := groupMirror(g)
		var stored *Mirror
		if src, ok := owned[g.ID]; ok {
			stored = snap.Groups[src].Mirror
			if !m.Equal(stored) {
				l.refresh = append(l.refresh, Record{Op: OpMirror, Kind: KindGroup, SourceID: src, Mirror: m})
			}
		}
		head := scim.Group{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName}
		if m != nil {
			l.groups = append(l.groups, head)
			l.groupMirrors = append(l.groupMirrors, sameMirror(m, stored))
			return
		}
		head.Members = g.Members
		full = append(full, head)
	}
	for g, err := range groupsOf(ctx, e.target, target.WithMembers()) {
		if err != nil {
			return nil, fmt.Errorf("%w: groups: %w", ErrTargetRead, err)
		}
		if src, ok := owned[g.ID]; ok {
			listed[snap.Groups[src].TargetID] = true
		}
		if g.Members == nil {
			bare = append(bare, scim.Group{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName})
			continue
		}
		e.membersListed.Store(true)
		fold(g)
	}
	goneGroups, err := e.confirmGone(ctx, KindGroup, snap.Groups, listed)
	if err != nil {
		return nil, err
	}
	if err := e.fillMembers(ctx, bare); err != nil {
		return nil, err
	}
	for i := range bare {
		fold(&bare[i])
	}
	l.groups = append(l.groups, full...)
	l.gone = append(goneUsers, goneGroups...)
	return l, nil
}

// sameMirror returns stored if it holds what m holds, else m: a listing
// of an unchanged object keeps no copy of its mirror.
func sameMirror(m, stored *Mirror) *Mirror {
	if stored != nil && m.Equal(stored) {
		return stored
	}
	return m
}

// usersOf yields the target's users one at a time: as a target.Streamer
// decodes them, or from ListUsers.
func usersOf(ctx context.Context, t target.Target, opts ...target.ReadOption) iter.Seq2[*scim.User, error] {
	if s, ok := t.(target.Streamer); ok {
		return s.ListUsersSeq(ctx, opts...)
	}
	return eachOf(func() ([]scim.User, error) { return t.ListUsers(ctx, opts...) })
}

// groupsOf yields the target's groups one at a time, as usersOf users.
func groupsOf(ctx context.Context, t target.Target, opts ...target.ReadOption) iter.Seq2[*scim.Group, error] {
	if s, ok := t.(target.Streamer); ok {
		return s.ListGroupsSeq(ctx, opts...)
	}
	return eachOf(func() ([]scim.Group, error) { return t.ListGroups(ctx, opts...) })
}

// eachOf yields the elements of the slice list returns, or its error.
func eachOf[T any](list func() ([]T, error)) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		all, err := list()
		if err != nil {
			yield(nil, err)
			return
		}
		for i := range all {
			if !yield(&all[i], nil) {
				return
			}
		}
	}
}

// goneLink is a link whose target object a read by id did not find.
type goneLink struct {
	kind     Kind
	sourceID string
	targetID string
}

// confirmGone reads by id each linked object the listing lacks. All must
// answer 404; the first one found, or any other failure, is ErrTargetRead.
func (e *Engine) confirmGone(ctx context.Context, kind Kind, links map[string]Link, listed map[string]bool) ([]goneLink, error) {
	var missing []goneLink
	for src, l := range links {
		if !listed[l.TargetID] {
			missing = append(missing, goneLink{kind: kind, sourceID: src, targetID: l.TargetID})
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	slices.SortFunc(missing, func(a, b goneLink) int { return cmp.Compare(a.targetID, b.targetID) })
	e.log.Info("linked objects missing from the target's listing; reading each by id",
		zap.String("kind", string(kind)), zap.Int("missing", len(missing)), zap.Int("linked", len(links)))
	err := parallel.Run(ctx, len(missing), e.concurrency, func(ctx context.Context, i int) error {
		m := missing[i]
		var err error
		if kind == KindGroup {
			_, err = e.target.GetGroup(ctx, m.targetID)
		} else {
			_, err = e.target.GetUser(ctx, m.targetID)
		}
		switch {
		case errors.Is(err, target.ErrNotFound):
			return nil
		case err == nil:
			return fmt.Errorf("%w: %w: the %s list left out %s id=%s (source %s %q), which a read by id finds; "+
				"the target under-reports its %ss, so nothing is planned from this read",
				ErrTargetRead, target.ErrIncomplete, kind, kind, m.targetID, kind, m.sourceID, kind)
		default:
			return fmt.Errorf("%w: checking that %s id=%s, missing from the list, is gone: %w", ErrTargetRead, kind, m.targetID, err)
		}
	})
	if err != nil {
		return nil, err
	}
	return missing, nil
}

// fillMembers settles the members of listed groups that came back without
// a members attribute although members were asked for. If any group of the
// listing carried the attribute, the target lists members, and a group
// without it has none. Otherwise the target may leave members out of list
// responses (Netskope documents the attribute for single reads only), and
// each such group is read by id; once a listing has shown members, the
// engine stops doing that. A group read by id without members has none.
func (e *Engine) fillMembers(ctx context.Context, groups []scim.Group) error {
	if len(groups) == 0 {
		return nil
	}
	if e.membersListed.Load() {
		for i := range groups {
			groups[i].Members = []scim.Member{}
		}
		return nil
	}
	e.log.Debug("reading members of groups listed without them", zap.Int("groups", len(groups)))
	return parallel.Run(ctx, len(groups), e.concurrency, func(ctx context.Context, i int) error {
		g, err := e.target.GetGroup(ctx, groups[i].ID, target.WithMembers())
		if err != nil {
			return fmt.Errorf("%w: members of group %q: %w", ErrTargetRead, groups[i].DisplayName, err)
		}
		groups[i].Members = g.Members
		if groups[i].Members == nil {
			groups[i].Members = []scim.Member{}
		}
		return nil
	})
}
