package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/parallel"
	"github.com/provsync/provsync/target"
)

// readTarget reads the target's users and groups, group members included.
//
// A listing is trusted only if it holds every object the state links, or
// if a read by id answers 404 for each linked object it lacks. A target
// that under-reports would otherwise make owned users look new (creates
// that meet 409) and their memberships look like ones to remove; so a
// linked object that the listing left out but a read by id finds makes
// the whole read ErrTargetRead (and target.ErrIncomplete), and nothing is
// planned. The links confirmed gone are returned, so that Apply can drop
// them.
func (e *Engine) readTarget(ctx context.Context, snap *Snapshot) ([]scim.User, []scim.Group, []goneLink, error) {
	users, err := e.target.ListUsers(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: users: %w", ErrTargetRead, err)
	}
	listed := make(map[string]bool, len(users))
	for i := range users {
		listed[users[i].ID] = true
	}
	goneUsers, err := e.confirmGone(ctx, KindUser, snap.Users, listed)
	if err != nil {
		return nil, nil, nil, err
	}
	groups, err := e.target.ListGroups(ctx, target.WithMembers())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: groups: %w", ErrTargetRead, err)
	}
	listed = make(map[string]bool, len(groups))
	for i := range groups {
		listed[groups[i].ID] = true
	}
	goneGroups, err := e.confirmGone(ctx, KindGroup, snap.Groups, listed)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := e.fillMembers(ctx, groups); err != nil {
		return nil, nil, nil, err
	}
	return users, groups, append(goneUsers, goneGroups...), nil
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
	var missing []int
	for i := range groups {
		if groups[i].Members == nil {
			missing = append(missing, i)
		} else {
			e.membersListed.Store(true)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if e.membersListed.Load() {
		for _, i := range missing {
			groups[i].Members = []scim.Member{}
		}
		return nil
	}
	e.log.Debug("reading members of groups listed without them", zap.Int("groups", len(missing)))
	return parallel.Run(ctx, len(missing), e.concurrency, func(ctx context.Context, k int) error {
		i := missing[k]
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
