package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/parallel"
	"github.com/provsync/provsync/target"
)

// DefaultDriftCheck is how often, by default, a plan reads the whole
// target (a drift check) instead of comparing the source with the state's
// mirrors.
const DefaultDriftCheck = 24 * time.Hour

// targetView is the target as a plan sees it: the objects compared with the
// source, and what Apply stores about them.
type targetView struct {
	users   []scim.User
	groups  []scim.Group
	gone    []goneLink
	reclaim []Record
	refresh []Record
	drift   bool
	// mirrored: the owned users are still to be built from their mirrors
	// (mirroredUsers), found being the users the intents' reads found;
	// decoded counts the mirrors that had to be decoded.
	mirrored bool
	found    []scim.User
	decoded  int
	// same marks, by index in the mapped users, those whose mirror holds
	// exactly the mapped user: they are not in users (see mirroredUsers).
	same []bool
	// listed are, at a drift check, the mirrors of the owned users as
	// the listing found them, by source id; they stand for the state's
	// mirrors in mirroredUsers. Nil between drift checks.
	listed *listedMirrors
	// groupMirrors are the mirrors whose strings hold the members of
	// the first groups (planInput.members); groups read by id follow.
	groupMirrors []*Mirror
	// groupNames are the target groups' display names, for an
	// EntitlementMapper; foreign are those of groups no link owns, which
	// a drift check stores.
	groupNames, foreign []string
}

// driftDue says why the plan must be a drift check, "" if it need not.
func (e *Engine) driftDue(snap *Snapshot, pc planConfig) string {
	switch {
	case pc.drift:
		return "asked for"
	case pc.reapply:
		return "reapply"
	case snap.LastDriftCheck.IsZero():
		return "no drift check yet"
	case snap.foreign.shared():
		// The drift check's time and listing are one per state, and
		// another engine's objects appear without this one's writes.
		return "the state is shared with other engines"
	case e.driftEvery == 0:
		return "every plan is one"
	case e.now().Sub(snap.LastDriftCheck) >= e.driftEvery:
		return "the last one is older than " + Duration(e.driftEvery).String()
	}
	return ""
}

// observe reads the target as the plan needs it. A drift check lists it
// in full (readTarget) and refreshes every owned object's mirror. Any
// other plan compares the source with the mirrors: it reads by id only
// the owned objects whose mirror is unknown (a write to them failed or
// was cut short) and, for each create an interrupted run may have landed
// (an intent), the objects of that name; it lists nothing. When those
// reads would outnumber a listing's pages, it makes a drift check instead.
func (e *Engine) observe(ctx context.Context, snap *Snapshot, pc planConfig) (*targetView, error) {
	why := e.driftDue(snap, pc)
	if why == "" {
		unknown := len(snap.Intents)
		for _, l := range snap.Users {
			if l.Mirror == nil {
				unknown++
			}
		}
		for _, l := range snap.Groups {
			if l.Mirror == nil {
				unknown++
			}
		}
		if total := len(snap.Users) + len(snap.Groups); unknown > 20 && unknown*100 > total {
			why = fmt.Sprintf("%d objects to read by id", unknown)
		}
	}
	if why != "" {
		e.log.Info("drift check: reading the whole target", zap.String("why", why))
		return e.observeAll(ctx, snap)
	}
	return e.observeMirrors(ctx, snap)
}

// observeAll is a drift check. The owned users are built from the
// listing's mirrors once the source is mapped (mirroredUsers), as between
// drift checks; the other users are kept as listed, and the groups hold
// their members in their mirrors' strings.
func (e *Engine) observeAll(ctx context.Context, snap *Snapshot) (*targetView, error) {
	l, err := e.readTarget(ctx, snap)
	if err != nil {
		return nil, err
	}
	o := &targetView{users: l.users, groups: l.groups, groupMirrors: l.groupMirrors, gone: l.gone, drift: true,
		mirrored: true, listed: &l.mirrors, refresh: l.refresh}
	o.reclaim = reclaim(snap, l.users, l.groups, e.owner, true)
	o.refresh = append(o.refresh, reclaimedMirrors(o)...)
	owned := reverseLinks(snap.Groups)
	o.groupNames = make([]string, len(o.groups))
	for i := range o.groups {
		o.groupNames[i] = o.groups[i].DisplayName
		if _, ok := owned[o.groups[i].ID]; !ok {
			o.foreign = append(o.foreign, o.groups[i].DisplayName)
		}
	}
	return o, nil
}

// reclaimedMirrors returns the mirrors of the objects a drift check's
// reclaim linked, as the listing found them: no link owned them when
// they were listed.
func reclaimedMirrors(o *targetView) []Record {
	var recs []Record
	var users, groups map[string]int // target id -> index
	for _, r := range o.reclaim {
		if r.Op != OpLink {
			continue
		}
		if users == nil {
			users, groups = make(map[string]int, len(o.users)), make(map[string]int, len(o.groups))
			for i := range o.users {
				users[o.users[i].ID] = i
			}
			for j := range o.groups {
				groups[o.groups[j].ID] = j
			}
		}
		rec := Record{Op: OpMirror, Kind: r.Kind, SourceID: r.SourceID}
		if i, ok := users[r.Link.TargetID]; ok && r.Kind == KindUser {
			rec.Mirror = userMirror(&o.users[i])
		} else if j, ok := groups[r.Link.TargetID]; ok && r.Kind == KindGroup {
			if j < len(o.groupMirrors) {
				rec.Mirror = o.groupMirrors[j]
			} else {
				rec.Mirror = groupMirror(&o.groups[j])
			}
		} else {
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

// observeMirrors builds the target's groups from the mirrors, reading by
// id what they do not know; the users follow once the source is mapped
// (mirroredUsers).
func (e *Engine) observeMirrors(ctx context.Context, snap *Snapshot) (*targetView, error) {
	o := &targetView{}
	found, foundGroups, err := e.readIntents(ctx, snap)
	if err != nil {
		return nil, err
	}
	// A group reclaimed here has no mirror yet: it is read by id below,
	// members included.
	o.reclaim = reclaim(snap, found, foundGroups, e.owner, false)
	// The users are built from their mirrors once the source is mapped
	// (mirroredUsers): a mirror equal to the user as mapped is not decoded.
	o.found, o.mirrored = found, true
	var unknown []goneLink
	o.groups = make([]scim.Group, 0, len(snap.Groups))
	for src, l := range snap.Groups {
		if l.Mirror != nil {
			// Its members stay in the mirror's string until the plan
			// walks them (planInput.members).
			o.groups = append(o.groups, scim.Group{ID: l.TargetID, DisplayName: l.Mirror.DisplayName, ExternalID: l.Mirror.ExternalID})
			o.groupMirrors = append(o.groupMirrors, l.Mirror)
		} else {
			unknown = append(unknown, goneLink{kind: KindGroup, sourceID: src, targetID: l.TargetID})
		}
	}
	if err := e.readUnknown(ctx, unknown, o); err != nil {
		return nil, err
	}
	o.groupNames = slices.Clone(snap.TargetGroups)
	for i := range o.groups {
		o.groupNames = append(o.groupNames, o.groups[i].DisplayName)
	}
	return o, nil
}

// mirroredUsers builds the owned users of a plan from their mirrors (at a
// drift check, the listing's), after the source is mapped (d). A user whose mirror
// holds exactly what the mapped user would write (the same JSON) is that
// mapped user, so its mirror is not decoded, and no copy of it is kept
// either: o.same marks it (by its index in d.Users), and the plan makes
// its target form from the mapped user as it compares them (see
// linkedCopy). A cycle decodes and holds only the mirrors of the users
// that changed. Users whose mirror is unknown, or does not decode, are
// read by id (or found among the intents' reads).
//
// Users held thin (see thinUser) were found the same as their mirror as
// they were mapped (see thinner); d.Users holds the others, and thin says
// where they all fall in the mapping's order.
func (e *Engine) mirroredUsers(ctx context.Context, snap *Snapshot, d *mapping.Desired, thin *thinUsers, o *targetView) error {
	if !o.mirrored {
		return nil
	}
	in := planInput{desired: d, thin: thin}
	n := in.userCount()
	mapped := make(map[string]int, n)
	for i := range n {
		mapped[in.userID(i)] = i
	}
	o.same = make([]bool, n)
	if thin != nil {
		for i, k := range thin.order {
			o.same[i] = k < 0
		}
	}
	listed := make(map[string]*scim.User, len(o.found))
	for i := range o.found {
		listed[o.found[i].ID] = &o.found[i]
	}
	var unknown []goneLink
	// Only the owned users that differ from their mapped form are held,
	// which on a cycle with few changes are few: the slice grows as they
	// are found rather than being sized for every link (a scim.User is
	// over 300 bytes, 33 MB for 100,000 links).
	var users []scim.User
	for src, l := range snap.Users {
		if o.listed != nil {
			m, ok := o.listed.mirror(src, l.Mirror)
			if !ok {
				continue // gone, or listed in full (o.users)
			}
			l.Mirror = m
		}
		if i, ok := mapped[src]; ok && (o.same[i] || sameAsMirror(wholeUser(&in, i), l, snap.Users)) {
			o.same[i] = true
		} else if u, ok := l.Mirror.user(l.TargetID); ok {
			o.decoded++
			users = append(users, u)
		} else if u := listed[l.TargetID]; u != nil {
			users = append(users, *u)
			o.refresh = append(o.refresh, Record{Op: OpMirror, Kind: KindUser, SourceID: src, Mirror: userMirror(u)})
		} else {
			unknown = append(unknown, goneLink{kind: KindUser, sourceID: src, targetID: l.TargetID})
		}
	}
	if len(users) > 0 {
		o.users = append(users, o.users...)
	}
	o.found = nil
	return e.readUnknown(ctx, unknown, o)
}

// sameCount counts the users marked the same as their mirror.
func sameCount(same []bool) int {
	n := 0
	for _, s := range same {
		if s {
			n++
		}
	}
	return n
}

// sameAsMirror reports whether l's mirror holds exactly mapped user u
// (its manager resolved through the links, as the engine writes it), in
// the same compact form (the same JSON): decoding the mirror would yield
// linkedCopy(u, l.TargetID, links).
func sameAsMirror(u *scim.User, l Link, links map[string]Link) bool {
	if l.Mirror == nil || len(l.Mirror.User) == 0 {
		return false
	}
	// A copy with the manager linked only for a user that has one: the
	// copy (a scim.User, 328 bytes) goes to the heap, for each user a
	// plan compares.
	if hasManager(u) {
		c := managerLinked(u, links)
		u = &c
	}
	if !isPacked(l.Mirror.User) {
		return sameUser(userMirror(u).User, l.Mirror.User)
	}
	var buf [512]byte
	return string(appendPackedUser(buf[:0], u)) == string(l.Mirror.User)
}

// linkedCopy returns mapped user u as the target holds it once the
// engine wrote it: with target id id, and its manager's target id (see
// managerLinked).
func linkedCopy(u *scim.User, id string, links map[string]Link) scim.User {
	c := managerLinked(u, links)
	c.ID, c.Schemas, c.Meta, c.Groups = id, nil, nil, nil
	return c
}

// managerLinked returns a copy of mapped user u with its manager's source
// id replaced by the manager's target id through the links (left out
// when the manager has none).
func managerLinked(u *scim.User, links map[string]Link) scim.User {
	c := *u
	if c.Enterprise != nil && c.Enterprise.Manager != nil && c.Enterprise.Manager.Value != "" {
		ext := *c.Enterprise
		if m, ok := links[ext.Manager.Value]; ok && m.TargetID != "" {
			ext.Manager = &scim.Manager{Value: m.TargetID}
		} else {
			ext.Manager = nil
		}
		c.Enterprise = &ext
	}
	return c
}

// readUnknown reads by id the owned objects whose mirror is unknown. One
// that answers 404 is gone: its link is dropped, as a drift check drops
// it, and the plan sees no object for it.
func (e *Engine) readUnknown(ctx context.Context, unknown []goneLink, o *targetView) error {
	if len(unknown) == 0 {
		return nil
	}
	slices.SortFunc(unknown, func(a, b goneLink) int { return strings.Compare(a.targetID, b.targetID) })
	e.log.Info("reading by id the owned objects whose mirror is unknown", zap.Int("objects", len(unknown)))
	users := make([]*scim.User, len(unknown))
	groups := make([]*scim.Group, len(unknown))
	gone := make([]bool, len(unknown))
	err := parallel.Run(ctx, len(unknown), e.concurrency, func(ctx context.Context, i int) error {
		u := unknown[i]
		var err error
		if u.kind == KindGroup {
			groups[i], err = e.target.GetGroup(ctx, u.targetID, target.WithMembers())
		} else {
			users[i], err = e.target.GetUser(ctx, u.targetID)
		}
		switch {
		case errors.Is(err, target.ErrNotFound):
			gone[i] = true
			return nil
		case err != nil:
			return fmt.Errorf("%w: reading %s id=%s (source %s %q), whose mirror is unknown: %w",
				ErrTargetRead, u.kind, u.targetID, u.kind, u.sourceID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, u := range unknown {
		switch {
		case gone[i]:
			o.gone = append(o.gone, u)
		case users[i] != nil:
			o.users = append(o.users, *users[i])
			o.refresh = append(o.refresh, Record{Op: OpMirror, Kind: KindUser, SourceID: u.sourceID, Mirror: userMirror(users[i])})
		case groups[i] != nil:
			g := groups[i]
			if g.Members == nil {
				g.Members = []scim.Member{} // read by id with members asked for: none
			}
			o.groups = append(o.groups, *g)
			o.refresh = append(o.refresh, Record{Op: OpMirror, Kind: KindGroup, SourceID: u.sourceID, Mirror: groupMirror(g)})
		}
	}
	if len(o.gone) > 0 {
		e.log.Info("owned objects gone from the target; their links are dropped", zap.Int("gone", len(o.gone)))
	}
	return nil
}

// readIntents reads, for each create an interrupted run may have landed
// (an intent), the target users of its userName (groups: of its
// displayName), by filter. What a filter does not find stays pending
// (reclaim with listed false) until a drift check lists the target.
func (e *Engine) readIntents(ctx context.Context, snap *Snapshot) ([]scim.User, []scim.Group, error) {
	var users []scim.User
	var groups []scim.Group
	for _, in := range snap.Intents {
		switch in.Kind {
		case KindUser:
			found, err := e.target.ListUsers(ctx, target.WithFilter(scim.Eq(scim.PathUserName, in.Key)))
			if err != nil && !errors.Is(err, target.ErrInvalid) {
				return nil, nil, fmt.Errorf("%w: users named %q (a create an earlier run sent): %w", ErrTargetRead, in.Key, err)
			}
			users = append(users, withName(found, in.Key, func(u *scim.User) string { return u.UserName })...)
		case KindGroup:
			found, err := e.target.ListGroups(ctx, target.WithFilter(scim.Eq(scim.PathDisplayName, in.Key)))
			if err != nil && !errors.Is(err, target.ErrInvalid) {
				return nil, nil, fmt.Errorf("%w: groups named %q (a create an earlier run sent): %w", ErrTargetRead, in.Key, err)
			}
			groups = append(groups, withName(found, in.Key, func(g *scim.Group) string { return g.DisplayName })...)
		}
	}
	return users, groups, nil
}
