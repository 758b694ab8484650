package entra

import (
	"context"
	"fmt"
	"slices"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/store"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

func newHeaders(kv ...string) *abstractions.RequestHeaders {
	h := abstractions.NewRequestHeaders()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// userDelta is one user reported by users/delta.
type userDelta struct {
	obj     models.Userable
	removed bool
}

// usersDelta follows a users delta link to its end and returns the users
// reported, by id, and the next delta link. An expired or rejected link
// is errFallback.
func (s *Source) usersDelta(ctx context.Context, link string) (map[string]*userDelta, string, error) {
	const what = "reading users/delta"
	first, err := users.NewDeltaRequestBuilder(link, s.adapter).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		return nil, "", deltaErr(err, what, false)
	}
	out := map[string]*userDelta{}
	next, err := iterate(ctx, s, first, users.CreateDeltaGetResponseFromDiscriminatorValue, what, func(u models.Userable) {
		id := deref(u.GetId())
		if id == "" {
			return
		}
		out[id] = &userDelta{obj: u, removed: removedMark(u.GetAdditionalData())}
	})
	if err != nil {
		return nil, "", deltaErr(err, what, true)
	}
	if next == "" {
		return nil, "", wrap(fmt.Errorf("the last page has no @odata.deltaLink"), what, true)
	}
	return out, next, nil
}

// groupDelta is one group reported by groups/delta, merged over the
// objects Graph splits a big group's members@delta into.
type groupDelta struct {
	obj     models.Groupable // the object carrying the properties
	removed bool
	members []memberChange // in the order reported
}

type memberChange struct {
	id      string
	group   bool // a group; otherwise a user (other types are dropped)
	removed bool
}

// groupsDelta runs a groups delta round: from link, or a first round when
// link is empty. It returns the groups reported, by id, and the next link.
func (s *Source) groupsDelta(ctx context.Context, link string) (map[string]*groupDelta, string, error) {
	const what = "reading groups/delta"
	var first groups.DeltaGetResponseable
	var err error
	if link == "" {
		b := groups.NewDeltaRequestBuilderInternal(map[string]string{}, s.adapter)
		first, err = b.GetAsDeltaGetResponse(ctx, &groups.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: append(slices.Clone(groupSelect), "members")}})
	} else {
		first, err = groups.NewDeltaRequestBuilder(link, s.adapter).GetAsDeltaGetResponse(ctx, nil)
	}
	if err != nil {
		return nil, "", deltaErr(err, what, false)
	}
	out := map[string]*groupDelta{}
	next, err := iterate(ctx, s, first, groups.CreateDeltaGetResponseFromDiscriminatorValue, what, func(g models.Groupable) {
		id := deref(g.GetId())
		if id == "" {
			return
		}
		d := out[id]
		if d == nil {
			d = &groupDelta{}
			out[id] = d
		}
		extra := g.GetAdditionalData()
		if removedMark(extra) {
			d.removed = true
			return
		}
		if d.obj == nil || hasKeys(g, "displayName") {
			d.obj = g
		}
		list, _ := extra["members@delta"].([]any)
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			mid := rawString(m["id"])
			typ := rawString(m["@odata.type"])
			if mid == "" {
				continue
			}
			switch strings.ToLower(strings.TrimPrefix(typ, "#microsoft.graph.")) {
			case "user":
				d.members = append(d.members, memberChange{id: mid, removed: m["@removed"] != nil})
			case "group":
				d.members = append(d.members, memberChange{id: mid, group: true, removed: m["@removed"] != nil})
			}
		}
	})
	if err != nil {
		return nil, "", deltaErr(err, what, true)
	}
	if next == "" {
		return nil, "", wrap(fmt.Errorf("the last page has no @odata.deltaLink"), what, true)
	}
	return out, next, nil
}

// currentMembers applies the member changes to the previous user and
// group member lists and returns the new ones, order kept.
func (d *groupDelta) currentMembers(prev *cursorGroup) (usersOut, groupsOut []string) {
	var pu, pg []string
	if prev != nil {
		pu, pg = prev.Members, prev.Nested
	}
	u := newOrderedSet(pu)
	g := newOrderedSet(pg)
	for _, m := range d.members {
		set := u
		if m.group {
			set = g
		}
		if m.removed {
			set.remove(m.id)
		} else {
			set.add(m.id)
		}
	}
	return u.list(), g.list()
}

func deltaErr(err error, what string, partway bool) error {
	if expired(err) {
		return fmt.Errorf("%s: %w: %w", what, errFallback, err)
	}
	return wrap(err, what, partway)
}

// removedMark reports whether an object carries "@removed".
func removedMark(extra map[string]any) bool {
	v, ok := extra["@removed"]
	return ok && v != nil
}

// rawString reads a string the JSON parse node left untyped.
func rawString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *string:
		return deref(x)
	}
	return ""
}

// hasKeys reports whether a model carries every one of the properties,
// null or not: a delta object may carry only what changed.
func hasKeys(m interface{ GetBackingStore() store.BackingStore }, keys ...string) bool {
	bs := m.GetBackingStore()
	if bs == nil {
		return false
	}
	have := bs.Enumerate()
	for _, k := range keys {
		if _, ok := have[k]; !ok {
			return false
		}
	}
	return true
}

// changesAssigned is the incremental read of ScopeAssigned: users/delta
// and groups/delta say which users and groups changed, the assignments
// are read again, and the scope is compared with the cursor's.
func (s *Source) changesAssigned(ctx context.Context, prev *cursor) (*source.Changes, error) {
	start := s.Requests()
	ud, ulink, err := s.usersDelta(ctx, prev.Users)
	if err != nil {
		return nil, err
	}
	gd, glink, err := s.groupsDelta(ctx, prev.Groups)
	if err != nil {
		return nil, err
	}
	a, err := s.readApp(ctx)
	if err != nil {
		return nil, err
	}
	next := &cursor{Version: cursorVersion, Fingerprint: prev.Fingerprint, Users: ulink, Groups: glink}
	prevGroups := map[string]*cursorGroup{}
	for i := range prev.Assigned {
		prevGroups[prev.Assigned[i].ID] = &prev.Assigned[i]
	}
	fresh := map[string]models.Userable{} // users read with their attributes this time
	ch := &source.Changes{}
	var changedGroups []cursorGroup
	for _, gid := range sortedKeys(a.groups) {
		old := prevGroups[gid]
		d := gd[gid]
		if d != nil && d.removed {
			continue // deleted; the assignment is going away
		}
		cg := cursorGroup{ID: gid}
		if old != nil {
			cg = *old
			cg.Members, cg.Nested = slices.Clone(old.Members), slices.Clone(old.Nested)
		}
		reread := old == nil
		if s.cfg.Transitive && old != nil {
			// A change anywhere below the group changes its users.
			reread = d != nil || slices.ContainsFunc(old.Nested, func(n string) bool { return gd[n] != nil })
		}
		switch {
		case d != nil && d.obj != nil && (old != nil || hasKeys(d.obj, groupSelect[1:]...)):
			// A delta object carries at least the properties that changed.
			cg.overlay(d.obj)
		case old == nil:
			g, ok, err := s.readGroup(ctx, gid)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			cg.overlay(g)
		}
		switch {
		case reread:
			ms, ok, err := s.readMembers(ctx, gid, nil)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			cg.Members, cg.Nested = nil, ms.nested
			for _, u := range ms.users {
				id := deref(u.GetId())
				fresh[id] = u
				cg.Members = append(cg.Members, id)
			}
		case d != nil:
			cg.Members, _ = d.currentMembers(old)
		}
		normalizeGroup(&cg)
		next.Assigned = append(next.Assigned, cg)
		if old == nil || !old.equal(&cg) {
			changedGroups = append(changedGroups, cg)
		}
	}
	// Deleted users leave scope even while their assignments replicate.
	gone := func(id string) bool { d := ud[id]; return d != nil && d.removed }
	now := map[string]bool{}
	for id := range a.users {
		if !gone(id) {
			now[id] = true
		}
	}
	for i := range next.Assigned {
		g := &next.Assigned[i]
		g.Members = slices.DeleteFunc(g.Members, gone)
		for _, m := range g.Members {
			now[m] = true
		}
	}
	before := map[string]bool{}
	for _, id := range prev.Direct {
		before[id] = true
	}
	for _, g := range prev.Assigned {
		for _, m := range g.Members {
			before[m] = true
		}
	}
	// The users to report in full: those entering scope and those that
	// changed; their attributes come from this read's member listings,
	// the delta objects when complete, or a read of their own.
	var report, fetch []string
	for _, id := range sortedKeys(now) {
		d := ud[id]
		if before[id] && d == nil {
			continue
		}
		report = append(report, id)
		if fresh[id] != nil {
			continue
		}
		if d != nil && hasKeys(d.obj, builtinUserAttrs[1:]...) && hasExtra(d.obj, s.cfg.UserAttributes) {
			fresh[id] = d.obj
			continue
		}
		fetch = append(fetch, id)
	}
	fetched, err := s.fetchUsers(ctx, fetch, nil)
	if err != nil {
		return nil, err
	}
	missing := map[string]bool{}
	for _, id := range fetch {
		if u := fetched[id]; u != nil {
			fresh[id] = u
		} else {
			missing[id] = true
			delete(now, id)
		}
	}
	for _, id := range report {
		if !missing[id] {
			ch.Users = append(ch.Users, s.convertUser(fresh[id], nil))
		}
	}
	for _, id := range sortedKeys(before) {
		if !now[id] {
			ch.RemovedUsers = append(ch.RemovedUsers, id)
		}
	}
	for i := range next.Assigned {
		g := &next.Assigned[i]
		if len(missing) > 0 {
			n := len(g.Members)
			g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return missing[m] })
			if n != len(g.Members) && !slices.ContainsFunc(changedGroups, func(c cursorGroup) bool { return c.ID == g.ID }) {
				changedGroups = append(changedGroups, *g)
			}
		}
	}
	for _, cg := range changedGroups {
		for i := range next.Assigned {
			if next.Assigned[i].ID == cg.ID {
				ch.Groups = append(ch.Groups, next.Assigned[i].group())
			}
		}
	}
	stillAssigned := map[string]bool{}
	for _, g := range next.Assigned {
		stillAssigned[g.ID] = true
	}
	for _, g := range prev.Assigned {
		if !stillAssigned[g.ID] {
			ch.RemovedGroups = append(ch.RemovedGroups, g.ID)
		}
	}
	for _, id := range sortedKeys(a.users) {
		if now[id] {
			next.Direct = append(next.Direct, id)
		}
	}
	if ch.Cursor, err = next.encode(); err != nil {
		return nil, err
	}
	s.log.Info("read changes", zap.Int("users", len(ch.Users)), zap.Int("groups", len(ch.Groups)),
		zap.Int("removedUsers", len(ch.RemovedUsers)), zap.Int("removedGroups", len(ch.RemovedGroups)),
		zap.Int64("requests", s.Requests()-start))
	return ch, nil
}

// changesAll is the incremental read of ScopeAll: users/delta gives the
// users, groups/delta the groups; a changed group's members are read
// again so that it is reported whole. With Transitive any group change
// falls back to a full read, since it can change the users of every group
// above it.
func (s *Source) changesAll(ctx context.Context, prev *cursor) (*source.Changes, error) {
	ud, ulink, err := s.usersDelta(ctx, prev.Users)
	if err != nil {
		return nil, err
	}
	gd, glink, err := s.groupsDelta(ctx, prev.Groups)
	if err != nil {
		return nil, err
	}
	if s.cfg.Transitive && len(gd) > 0 {
		return nil, fmt.Errorf("%w: groups changed and memberships are transitive", errFallback)
	}
	ch := &source.Changes{}
	var fetch []string
	fresh := map[string]models.Userable{}
	for _, id := range sortedKeys(ud) {
		d := ud[id]
		switch {
		case d.removed:
			ch.RemovedUsers = append(ch.RemovedUsers, id)
		case hasKeys(d.obj, builtinUserAttrs[1:]...) && hasExtra(d.obj, s.cfg.UserAttributes):
			fresh[id] = d.obj
		default:
			fetch = append(fetch, id)
		}
	}
	fetched, err := s.fetchUsers(ctx, fetch, nil)
	if err != nil {
		return nil, err
	}
	for _, id := range fetch {
		if u := fetched[id]; u != nil {
			fresh[id] = u
		} else {
			ch.RemovedUsers = append(ch.RemovedUsers, id)
		}
	}
	for _, id := range sortedKeys(fresh) {
		ch.Users = append(ch.Users, s.convertUser(fresh[id], nil))
	}
	removed := map[string]bool{}
	for _, id := range ch.RemovedUsers {
		removed[id] = true
	}
	for _, gid := range sortedKeys(gd) {
		d := gd[gid]
		if d.removed {
			ch.RemovedGroups = append(ch.RemovedGroups, gid)
			continue
		}
		var g models.Groupable
		if d.obj != nil && hasKeys(d.obj, groupSelect[1:]...) {
			g = d.obj
		} else {
			var ok bool
			if g, ok, err = s.readGroup(ctx, gid); err != nil {
				return nil, err
			} else if !ok {
				ch.RemovedGroups = append(ch.RemovedGroups, gid)
				continue
			}
		}
		ms, ok, err := s.readMembers(ctx, gid, nil)
		if err != nil {
			return nil, err
		}
		if !ok {
			ch.RemovedGroups = append(ch.RemovedGroups, gid)
			continue
		}
		cg := groupFromModel(g)
		cg.ID = gid
		for _, u := range ms.users {
			if id := deref(u.GetId()); !removed[id] {
				cg.Members = append(cg.Members, id)
			}
		}
		normalizeGroup(&cg)
		ch.Groups = append(ch.Groups, cg.group())
	}
	next := &cursor{Version: cursorVersion, Fingerprint: prev.Fingerprint, Users: ulink, Groups: glink}
	if ch.Cursor, err = next.encode(); err != nil {
		return nil, err
	}
	return ch, nil
}

// orderedSet is a set of ids that keeps insertion order.
type orderedSet struct {
	ids []string
	at  map[string]bool
}

func newOrderedSet(ids []string) *orderedSet {
	s := &orderedSet{at: map[string]bool{}}
	for _, id := range ids {
		s.add(id)
	}
	return s
}

func (s *orderedSet) add(id string) {
	if !s.at[id] {
		s.at[id] = true
		s.ids = append(s.ids, id)
	}
}

func (s *orderedSet) remove(id string) {
	if s.at[id] {
		delete(s.at, id)
		s.ids = slices.DeleteFunc(s.ids, func(x string) bool { return x == id })
	}
}

func (s *orderedSet) list() []string { return s.ids }
