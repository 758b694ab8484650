package entra

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipalswithappid"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

// zeroRoleID is the app role id of an assignment "without a specific
// role", which the portal shows as Default Access.
const zeroRoleID = "00000000-0000-0000-0000-000000000000"

// groupSelect are the group properties read.
var groupSelect = []string{"id", "displayName", "description", "mail"}

// iterate calls fn for every item of first and of the pages its
// @odata.nextLink leads to, and returns the last page's @odata.deltaLink.
// A failing page is an error for the whole listing.
func iterate[T any](ctx context.Context, s *Source, first absser.Parsable, factory absser.ParsableFactory, what string, fn func(T)) (string, error) {
	it, err := core.NewPageIterator[T](first, s.adapter, factory)
	if err != nil {
		return "", wrap(err, what, false)
	}
	err = it.Iterate(ctx, func(item T) bool {
		fn(item)
		return true
	})
	if err != nil {
		return "", wrap(err, what, true)
	}
	return deref(it.GetOdataDeltaLink()), nil
}

func (s *Source) top() *int32 {
	n := int32(s.cfg.PageSize)
	return &n
}

// app is what the enterprise app's assignments put in scope.
type app struct {
	id       string
	users    map[string]bool   // users assigned directly
	groups   map[string]string // groups assigned: id -> principalDisplayName
	skipped  int               // Default Access assignments left out
	required bool
}

// readApp reads the enterprise app and its assignments to the last page.
func (s *Source) readApp(ctx context.Context) (*app, error) {
	sel := []string{"id", "appId", "displayName", "appRoleAssignmentRequired", "appRoles"}
	var sp models.ServicePrincipalable
	var err error
	key := s.cfg.ServicePrincipalID
	if key != "" {
		sp, err = s.sps.ByServicePrincipalId(key).Get(ctx, &serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: sel}})
	} else {
		key = "appId=" + s.cfg.AppID
		b := serviceprincipalswithappid.NewServicePrincipalsWithAppIdRequestBuilderInternal(map[string]string{}, s.adapter, &s.cfg.AppID)
		sp, err = b.Get(ctx, &serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilderGetQueryParameters{Select: sel}})
	}
	if err != nil {
		what := "reading the enterprise app (service principal " + key + ")"
		if ge, ok := asGraphError(err); ok && ge.Status == http.StatusNotFound {
			what += "; check ServicePrincipalID or AppID: it must be the enterprise app's, in this tenant"
		}
		return nil, wrap(err, what, false)
	}
	a := &app{id: deref(sp.GetId()), users: map[string]bool{}, groups: map[string]string{},
		required: deref(sp.GetAppRoleAssignmentRequired())}
	s.setRequired(a.required)
	defaults := map[string]bool{zeroRoleID: true}
	for _, r := range sp.GetAppRoles() {
		if r.GetId() == nil {
			continue
		}
		if deref(r.GetValue()) == "" || strings.EqualFold(deref(r.GetDisplayName()), "msiam_access") {
			defaults[r.GetId().String()] = true
		}
	}
	first, err := s.sps.ByServicePrincipalId(a.id).AppRoleAssignedTo().Get(ctx, &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{
			Top: s.top(), Select: []string{"id", "appRoleId", "principalId", "principalType", "principalDisplayName"}}})
	what := "reading the assignments of the enterprise app " + a.id
	if err != nil {
		return nil, wrap(err, what, false)
	}
	n := 0
	_, err = iterate(ctx, s, first, models.CreateAppRoleAssignmentCollectionResponseFromDiscriminatorValue, what,
		func(as models.AppRoleAssignmentable) {
			n++
			if as.GetPrincipalId() == nil {
				return
			}
			pid := as.GetPrincipalId().String()
			role := zeroRoleID
			if as.GetAppRoleId() != nil {
				role = as.GetAppRoleId().String()
			}
			if defaults[role] && !s.cfg.IncludeDefaultAccess {
				a.skipped++
				return
			}
			switch deref(as.GetPrincipalType()) {
			case "User":
				a.users[pid] = true
			case "Group":
				a.groups[pid] = deref(as.GetPrincipalDisplayName())
			}
		})
	if err != nil {
		return nil, err
	}
	s.log.Debug("assignments read", zap.Int("assignments", n), zap.Int("users", len(a.users)),
		zap.Int("groups", len(a.groups)), zap.Int("defaultAccessSkipped", a.skipped))
	if a.skipped > 0 {
		s.log.Info("assignments with the Default Access role left out", zap.Int("count", a.skipped))
	}
	return a, nil
}

// memberSet is what reading a group's members found.
type memberSet struct {
	users  []models.Userable // user members, with their attributes
	nested []string          // group members (all levels with Transitive)
	other  int               // devices, contacts, service principals
}

// readMembers reads group gid's direct (or, with Transitive, all) members,
// the users with the properties selection sel asks for. A group that no
// longer exists has no members.
func (s *Source) readMembers(ctx context.Context, gid string, sel *attrSelection) (*memberSet, bool, error) {
	what := "reading the members of group " + gid
	var first absser.Parsable
	var err error
	props := s.userSelect(sel)
	if s.cfg.Transitive {
		first, err = s.groups.ByGroupId(gid).TransitiveMembers().Get(ctx, &groups.ItemTransitiveMembersRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.ItemTransitiveMembersRequestBuilderGetQueryParameters{Top: s.top(), Select: props}})
	} else {
		first, err = s.groups.ByGroupId(gid).Members().Get(ctx, &groups.ItemMembersRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.ItemMembersRequestBuilderGetQueryParameters{Top: s.top(), Select: props}})
	}
	if err != nil {
		if ge, ok := asGraphError(err); ok && ge.Status == http.StatusNotFound {
			s.log.Warn("an assigned group no longer exists; skipped", zap.String("group", gid))
			return nil, false, nil
		}
		return nil, false, wrap(err, what, false)
	}
	ms := &memberSet{}
	_, err = iterate(ctx, s, first, models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue, what,
		func(o models.DirectoryObjectable) {
			switch m := o.(type) {
			case models.Userable:
				ms.users = append(ms.users, m)
			case models.Groupable:
				ms.nested = append(ms.nested, deref(m.GetId()))
			default:
				ms.other++
			}
		})
	if err != nil {
		return nil, false, err
	}
	if ms.other > 0 {
		s.log.Debug("group members that are not users skipped", zap.String("group", gid), zap.Int("count", ms.other))
	}
	return ms, true, nil
}

// readGroup reads one group's properties; ok is false if it is gone.
func (s *Source) readGroup(ctx context.Context, gid string) (models.Groupable, bool, error) {
	g, err := s.groups.ByGroupId(gid).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupSelect}})
	if err != nil {
		if ge, ok := asGraphError(err); ok && ge.Status == http.StatusNotFound {
			return nil, false, nil
		}
		return nil, false, wrap(err, "reading group "+gid, false)
	}
	return g, true, nil
}

// fewUsers is how many users are read one by one at most before listing
// all users becomes the cheaper way.
const fewUsers = 10

// fetchUsers reads the users ids, one request each when there are few or
// the tenant is large, else by listing every user of the tenant. When the
// tenant's size cannot be counted, it lists. Users
// that do not exist (a deleted user whose assignment is still replicated)
// are left out. Selection sel says which properties are asked for.
func (s *Source) fetchUsers(ctx context.Context, ids []string, sel *attrSelection) (map[string]models.Userable, error) {
	out := make(map[string]models.Userable, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	one := len(ids) <= fewUsers
	if !one {
		n, err := s.countUsers(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, wrap(err, "counting users", false)
			}
			// Some tenants and proxies refuse /users/$count (404, 400):
			// listing stays correct and costs a request per page, where
			// reading one by one costs a request per user.
			s.log.Info("counting users failed; listing users instead", zap.Error(err))
		} else {
			pages := (n + s.cfg.PageSize - 1) / s.cfg.PageSize
			one = len(ids) <= pages
		}
	}
	if one {
		for _, id := range ids {
			u, err := s.users.ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: s.userSelect(sel)}})
			if err != nil {
				if ge, ok := asGraphError(err); ok && ge.Status == http.StatusNotFound {
					s.log.Warn("an assigned user does not exist; skipped", zap.String("user", id))
					continue
				}
				return nil, wrap(err, "reading user "+id, false)
			}
			out[id] = u
		}
		return out, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	err := s.listUsers(ctx, sel, func(u models.Userable) {
		if id := deref(u.GetId()); want[id] {
			out[id] = u
		}
	})
	return out, err
}

func (s *Source) countUsers(ctx context.Context) (int, error) {
	h := newHeaders("ConsistencyLevel", "eventual")
	n, err := s.users.Count().Get(ctx, &users.CountRequestBuilderGetRequestConfiguration{Headers: h})
	if err != nil {
		return 0, err
	}
	if n == nil {
		return 0, fmt.Errorf("no count")
	}
	return int(*n), nil
}

// listUsers calls fn for every user of the tenant, with the properties
// selection sel asks for.
func (s *Source) listUsers(ctx context.Context, sel *attrSelection, fn func(models.Userable)) error {
	const what = "listing users"
	first, err := s.users.Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: s.top(), Select: s.userSelect(sel)}})
	if err != nil {
		return wrap(err, what, false)
	}
	_, err = iterate(ctx, s, first, models.CreateUserCollectionResponseFromDiscriminatorValue, what, fn)
	return err
}

// latestLink returns a delta link of kind ("users" or "groups") that
// starts now, without reading anything ($deltatoken=latest). Its $select,
// which the link keeps, is every property the source reads, never a
// ReadAttributes selection: Graph's delta reports changes only to the
// properties selected, so a narrower link would hide later changes to the
// others from every incremental read that follows it.
func (s *Source) latestLink(ctx context.Context, kind string) (string, error) {
	sel := s.cfg.userSelect()
	if kind == "groups" {
		sel = append(slices.Clone(groupSelect), "members")
	}
	raw := s.cfg.GraphURL + "/" + kind + "/delta?$select=" + url.QueryEscape(strings.Join(sel, ",")) + "&$deltatoken=latest"
	var link string
	var err error
	if kind == "users" {
		var r users.DeltaGetResponseable
		if r, err = users.NewDeltaRequestBuilder(raw, s.adapter).GetAsDeltaGetResponse(ctx, nil); err == nil {
			link = deref(r.GetOdataDeltaLink())
		}
	} else {
		var r groups.DeltaGetResponseable
		if r, err = groups.NewDeltaRequestBuilder(raw, s.adapter).GetAsDeltaGetResponse(ctx, nil); err == nil {
			link = deref(r.GetOdataDeltaLink())
		}
	}
	if err != nil {
		return "", wrap(err, "starting the "+kind+" delta", false)
	}
	if link == "" {
		return "", wrap(fmt.Errorf("graph returned no @odata.deltaLink"), "starting the "+kind+" delta", false)
	}
	return link, nil
}

// snapshot is a full read: the directory and the cursor that continues it.
type snapshot struct {
	dir *source.Directory
	cur *cursor
}

// readFull reads everything in scope. withCursor also takes the delta
// links, before reading, so that what changes during the read is seen
// again by the next incremental read. Selection sel says which user
// attributes are read and kept (nil: all); the delta links always ask
// for every property, as an incremental read needs.
func (s *Source) readFull(ctx context.Context, withCursor bool, sel *attrSelection) (*snapshot, error) {
	start := s.Requests()
	cur := &cursor{Version: cursorVersion, Fingerprint: s.cfg.fingerprint()}
	if withCursor {
		var err error
		if cur.Users, err = s.latestLink(ctx, "users"); err != nil {
			return nil, err
		}
		if s.cfg.Scope == ScopeAssigned {
			if cur.Groups, err = s.latestLink(ctx, "groups"); err != nil {
				return nil, err
			}
		}
	}
	var dir *source.Directory
	var err error
	if s.cfg.Scope == ScopeAll {
		dir, err = s.readAll(ctx, cur, sel)
	} else {
		dir, err = s.readAssigned(ctx, cur, sel)
	}
	if err != nil {
		return nil, err
	}
	if err := dir.Validate(); err != nil {
		return nil, fmt.Errorf("%w: entra: the directory read is not valid: %w", source.ErrInvalid, err)
	}
	s.log.Info("read", zap.Object("directory", dir), zap.Int64("requests", s.Requests()-start))
	return &snapshot{dir: dir, cur: cur}, nil
}

// readAssigned reads the app's assignments, the assigned groups and their
// members, and the users assigned directly, with the attributes
// selection sel keeps.
func (s *Source) readAssigned(ctx context.Context, cur *cursor, sel *attrSelection) (*source.Directory, error) {
	a, err := s.readApp(ctx)
	if err != nil {
		return nil, err
	}
	found := map[string]models.Userable{}
	var gs []cursorGroup
	for _, gid := range sortedKeys(a.groups) {
		g, ok, err := s.readGroup(ctx, gid)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.log.Warn("an assigned group no longer exists; skipped", zap.String("group", gid))
			continue
		}
		ms, ok, err := s.readMembers(ctx, gid, sel)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		cg := groupFromModel(g)
		for _, u := range ms.users {
			id := deref(u.GetId())
			found[id] = u
			cg.Members = append(cg.Members, id)
		}
		cg.Nested = ms.nested
		normalizeGroup(&cg)
		gs = append(gs, cg)
	}
	var missing []string
	for _, id := range sortedKeys(a.users) {
		if found[id] == nil {
			missing = append(missing, id)
		}
	}
	fetched, err := s.fetchUsers(ctx, missing, sel)
	if err != nil {
		return nil, err
	}
	for id, u := range fetched {
		found[id] = u
	}
	for _, id := range sortedKeys(a.users) {
		if found[id] != nil {
			cur.Direct = append(cur.Direct, id)
		}
	}
	cur.Assigned = gs
	dir := &source.Directory{Users: make([]source.User, 0, len(found))}
	for _, id := range sortedKeys(found) {
		dir.Users = append(dir.Users, s.convertUser(found[id], sel))
	}
	for _, g := range gs {
		dir.Groups = append(dir.Groups, g.group())
	}
	return dir, nil
}

// readAll reads every user, and every group with its members through a
// first groups/delta round, which carries the members of many groups per
// request and ends with the groups delta link. Users carry the attributes
// selection sel keeps.
func (s *Source) readAll(ctx context.Context, cur *cursor, sel *attrSelection) (*source.Directory, error) {
	dir := &source.Directory{}
	known := map[string]bool{}
	err := s.listUsers(ctx, sel, func(u models.Userable) {
		known[deref(u.GetId())] = true
		dir.Users = append(dir.Users, s.convertUser(u, sel))
	})
	if err != nil {
		return nil, err
	}
	gd, link, err := s.groupsDelta(ctx, "")
	if err != nil {
		return nil, err
	}
	cur.Groups = link
	ids := sortedKeys(gd)
	direct := make(map[string][]string, len(ids))
	nested := make(map[string][]string, len(ids))
	for _, id := range ids {
		d := gd[id]
		if d.removed {
			continue
		}
		direct[id], nested[id] = d.currentMembers(nil)
	}
	for _, id := range ids {
		d := gd[id]
		if d.removed {
			continue
		}
		obj := d.obj
		if obj == nil || !hasKeys(obj, "displayName") {
			g, ok, err := s.readGroup(ctx, id)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			obj = g
		}
		cg := groupFromModel(obj)
		cg.ID = id
		if s.cfg.Transitive {
			cg.Members = flatten(id, direct, nested)
		} else {
			cg.Members = direct[id]
		}
		cg.Members = slices.DeleteFunc(cg.Members, func(m string) bool { return !known[m] })
		normalizeGroup(&cg)
		dir.Groups = append(dir.Groups, cg.group())
	}
	return dir, nil
}

// flatten returns the users of group id and of its nested groups.
func flatten(id string, direct, nested map[string][]string) []string {
	seenG := map[string]bool{id: true}
	seenU := map[string]bool{}
	var out []string
	queue := []string{id}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		for _, u := range direct[g] {
			if !seenU[u] {
				seenU[u] = true
				out = append(out, u)
			}
		}
		for _, n := range nested[g] {
			if !seenG[n] {
				seenG[n] = true
				queue = append(queue, n)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
