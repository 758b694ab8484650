package google

import (
	"context"
	"fmt"
	"slices"
	"strings"
	gosync "sync"

	"go.uber.org/zap"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/parallel"
)

// memberFields is the members.list field mask. Every mask keeps
// nextPageToken: without it a partial response drops the token and the
// listing silently stops after one page.
const memberFields = "nextPageToken,members(id,email,type,status)"

// userBaseFields are the user fields every read asks for: the built-in
// fields, the state, and orgUnitPath, which scoping by organizational
// unit needs even when no attribute is read.
const userBaseFields = "id,primaryEmail,name,suspended,archived,orgUnitPath,emails,deletionTime"

// userAttrFields maps the users.list fields beyond userBaseFields to the
// attributes read from them (custom schemas aside).
var userAttrFields = []struct {
	field string
	attrs []string
}{
	{"aliases", []string{AttrAliases}},
	{"externalIds", []string{AttrEmployeeID, AttrExternalIDs}},
	{"organizations", []string{AttrJobTitle, AttrDepartment, AttrCostCenter, AttrEmployeeType}},
	{"relations", []string{AttrManagerEmail, AttrManagerID}},
	{"phones", []string{AttrWorkPhone, AttrMobilePhone}},
	{"isAdmin", []string{AttrIsAdmin}},
	{"creationTime", []string{AttrCreationTime}},
	{"lastLoginTime", []string{AttrLastLoginTime}},
}

// request is what one read asks the Directory API for: the fields and
// custom schemas behind the attributes it keeps.
type request struct {
	sel         selection
	userFields  string // users.list's fields
	projection  string // basic, custom or full
	schemas     string // customFieldMask, with projection custom
	groupFields string // groups.list's fields
}

// newRequest builds the request of a read keeping what sel selects.
func newRequest(c *Config, sel selection) request {
	r := request{sel: sel, projection: "basic"}
	fields := []string{userBaseFields}
	for _, f := range userAttrFields {
		if sel.hasAny(f.attrs...) {
			fields = append(fields, f.field)
		}
	}
	switch schemas := sel.schemas(c.CustomSchemas); {
	case slices.Contains(schemas, "*"):
		r.projection = "full"
	case len(schemas) > 0:
		r.projection, r.schemas = "custom", strings.Join(schemas, ",")
	}
	if r.projection != "basic" {
		fields = append(fields, "customSchemas")
	}
	r.userFields = "nextPageToken,users(" + strings.Join(fields, ",") + ")"
	// Groups are found by alias too (ScopeGroups, Named).
	group := "id,email,name,description"
	if sel.has(AttrAliases) || len(c.ScopeGroups) > 0 || c.Groups == GroupsNamed {
		group += ",aliases"
	}
	r.groupFields = "nextPageToken,groups(" + group + ")"
	return r
}

// Source reads users and groups from a Google Workspace account through
// the Admin SDK Directory API. It is safe for concurrent use.
type Source struct {
	cfg  Config
	svc  *admin.Service
	call *caller
	log  *zap.Logger

	pageHook func() // tests: called after each users page is converted
}

var (
	_ source.Source            = (*Source)(nil)
	_ source.AttributeSelector = (*Source)(nil)
	_ source.RequestCounter    = (*Source)(nil)
)

func newSource(c Config, svc *admin.Service) *Source {
	return &Source{cfg: c, svc: svc, call: newCaller(&c), log: c.Logger}
}

// RequestCount returns how many Directory API requests the source has
// sent, retries included (token requests excluded).
func (s *Source) RequestCount() int64 { return s.call.requests.Load() }

// Name is "google:" and the customer or domain read.
func (s *Source) Name() string {
	if s.cfg.Domain != "" {
		return "google:" + s.cfg.Domain
	}
	return "google:" + s.cfg.Customer
}

// Read returns every user and group in scope. Archived users are never
// read; suspended users have state suspended; deleted users still listed
// by Google have state deleted and their deletion time (unless
// SkipDeleted). Any request that fails after its retries fails the whole
// read, which returns nil.
func (s *Source) Read(ctx context.Context) (*source.Directory, error) {
	return s.read(ctx, newRequest(&s.cfg, everything))
}

// ReadAttributes is Read, except that users and groups carry only the
// attributes named, matched ignoring case (none when names is empty).
// The requests ask Google for only the fields behind them: users.list
// with projection basic unless a name is a custom schema attribute
// ("Schema.field", of a schema in Config.CustomSchemas), and then only
// those schemas.
func (s *Source) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	return s.read(ctx, newRequest(&s.cfg, selection{names: names}))
}

func (s *Source) read(ctx context.Context, req request) (*source.Directory, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var all []*admin.Group
	if s.cfg.Groups != GroupsNone || len(s.cfg.ScopeGroups) > 0 {
		var err error
		if all, err = s.listGroups(ctx, req.groupFields); err != nil {
			return nil, err
		}
	}
	scopeGroups, err := resolveGroups(all, s.cfg.ScopeGroups, "ScopeGroups")
	if err != nil {
		return nil, err
	}
	var selected []*admin.Group
	switch s.cfg.Groups {
	case GroupsAll:
		selected = all
	case GroupsScope:
		selected = scopeGroups
	case GroupsNamed:
		if selected, err = resolveGroups(all, s.cfg.Named, "Named"); err != nil {
			return nil, err
		}
	}

	// The scope groups' members come first: users are scoped as each
	// page of them is converted.
	members := map[memberKey][]*admin.Member{}
	var mu gosync.Mutex
	listMembers := func(keys []memberKey) []func(context.Context) error {
		var jobs []func(context.Context) error
		for _, k := range keys {
			if _, done := members[k]; done {
				continue
			}
			jobs = append(jobs, func(ctx context.Context) error {
				ms, err := s.listMembers(ctx, k)
				if err == nil {
					mu.Lock()
					members[k] = ms
					mu.Unlock()
				}
				return err
			})
		}
		return jobs
	}
	run := func(jobs []func(context.Context) error) error {
		return parallel.Run(ctx, len(jobs), s.cfg.Concurrency, func(ctx context.Context, i int) error { return jobs[i](ctx) })
	}
	var scopeKeys []memberKey
	for _, g := range scopeGroups {
		scopeKeys = append(scopeKeys, memberKey{g.Id, true})
	}
	if err := run(listMembers(scopeKeys)); err != nil {
		return nil, err
	}
	scope := s.userScope(scopeGroups, members)

	// Then every other listing, in one pool: users (per organizational
	// unit), deleted users, and the members of each group needed. Each
	// users listing converts its pages as they arrive, so that only
	// the users in scope, as converted, are held.
	var listings []*userListing
	if len(s.cfg.OrgUnits) > 0 && len(s.cfg.ScopeGroups) == 0 {
		for _, ou := range s.cfg.OrgUnits {
			listings = append(listings, &userListing{what: "users.list " + ou, query: "orgUnitPath='" + ou + "'"})
		}
	} else {
		listings = append(listings, &userListing{what: "users.list"})
	}
	if !s.cfg.SkipDeleted && len(s.cfg.ScopeGroups) == 0 {
		listings = append(listings, &userListing{what: "users.list deleted", deleted: true})
	}
	var jobs []func(context.Context) error
	for _, l := range listings {
		jobs = append(jobs, func(ctx context.Context) error { return s.listUsers(ctx, req, scope, l) })
	}
	var keys []memberKey
	for _, g := range selected {
		keys = append(keys, memberKey{g.Id, s.cfg.FlattenNested})
	}
	if err := run(append(jobs, listMembers(keys)...)); err != nil {
		return nil, err
	}

	dir, err := s.assemble(req.sel, listings, selected, members)
	if err != nil {
		return nil, err
	}
	if err := dir.Validate(); err != nil {
		return nil, fmt.Errorf("google: the directory read is not consistent: %w", err)
	}
	s.log.Info("google: read", zap.Int("users", len(dir.Users)), zap.Int("groups", len(dir.Groups)))
	return dir, nil
}

// memberKey names one members listing: a group, with or without derived
// (nested) membership.
type memberKey struct {
	group   string
	derived bool
}

// userScope says which users are in scope: those of the organizational
// units, and the members of the scope groups (whose derived members
// members holds).
type userScope struct {
	inGroups map[string]bool // nil: no scope groups
	everyone bool            // a scope group has a CUSTOMER member
	orgUnits func(path string) bool
}

func (s *Source) userScope(scopeGroups []*admin.Group, members map[memberKey][]*admin.Member) userScope {
	var sc userScope
	if len(s.cfg.OrgUnits) > 0 {
		sc.orgUnits = s.inOrgUnits
	}
	if len(scopeGroups) == 0 {
		return sc
	}
	sc.inGroups = map[string]bool{}
	for _, g := range scopeGroups {
		for _, m := range members[memberKey{g.Id, true}] {
			switch m.Type {
			case "USER":
				sc.inGroups[m.Id] = true
			case "CUSTOMER":
				if !s.cfg.SkipCustomerMembers {
					sc.everyone = true
					s.log.Info("google: a scope group has a CUSTOMER member: every user of the account is in scope",
						zap.String("group", g.Id))
				}
			}
		}
	}
	return sc
}

// has reports whether a user is in scope.
func (sc userScope) has(u *admin.User) bool {
	if sc.inGroups != nil && !sc.everyone && !sc.inGroups[u.Id] {
		return false
	}
	return sc.orgUnits == nil || sc.orgUnits(u.OrgUnitPath)
}

// userListing is one users.list listing and the users in scope it read,
// converted.
type userListing struct {
	what     string // names the listing in errors and logs
	query    string // search query, if any
	deleted  bool   // list deleted users (showDeleted)
	users    []source.User
	archived int
}

// listUsers runs one users listing, converting each page's users in
// scope into l.users as the page arrives.
func (s *Source) listUsers(ctx context.Context, req request, scope userScope, l *userListing) error {
	return eachPage(ctx, s.call, l.what, func(ctx context.Context, token string) ([]*admin.User, string, error) {
		c := s.svc.Users.List().MaxResults(int64(s.cfg.PageSize)).Fields(googleapi.Field(req.userFields)).
			Projection(req.projection).Context(ctx)
		if s.cfg.Domain != "" {
			c.Domain(s.cfg.Domain)
		} else {
			c.Customer(s.cfg.Customer)
		}
		if req.schemas != "" {
			c.CustomFieldMask(req.schemas)
		}
		if l.query != "" {
			c.Query(l.query)
		}
		if l.deleted {
			c.ShowDeleted("true")
		}
		if token != "" {
			c.PageToken(token)
		}
		r, err := c.Do()
		if err != nil {
			return nil, "", err
		}
		return r.Users, r.NextPageToken, nil
	}, func(page []*admin.User) error {
		for _, u := range page {
			if !scope.has(u) {
				continue
			}
			su, ok, err := convertUser(u, l.deleted, req.sel, req.sel.has(AttrManagerID))
			if err != nil {
				return err
			}
			if !ok {
				l.archived++
				continue
			}
			l.users = append(l.users, su)
		}
		if s.pageHook != nil {
			s.pageHook()
		}
		return nil
	})
}

// assemble builds the directory from the listings: the users of each
// listing in turn (a user listed twice is kept once, as first listed,
// so a live user wins over a deleted one), then the groups.
func (s *Source) assemble(sel selection, listings []*userListing, selected []*admin.Group,
	members map[memberKey][]*admin.Member) (*source.Directory, error) {
	dir := &source.Directory{}
	index := map[string]int{}
	archived := 0
	for i, l := range listings {
		archived += l.archived
		if i == 0 {
			dir.Users = l.users // no copy: the first listing's users are kept as they are
			for j, u := range l.users {
				if _, dup := index[u.ID]; dup {
					dir.Users = dedupe(l.users, index)
					break
				}
				index[u.ID] = j
			}
		} else {
			for _, u := range l.users {
				if _, dup := index[u.ID]; !dup {
					index[u.ID] = len(dir.Users)
					dir.Users = append(dir.Users, u)
				}
			}
		}
		l.users = nil
	}
	if archived > 0 {
		s.log.Debug("google: archived users left out", zap.Int("archived", archived))
	}
	resolveManagers(dir.Users, sel)

	isSelected := make(map[string]bool, len(selected))
	for _, g := range selected {
		isSelected[g.Id] = true
	}
	for _, g := range selected {
		sg := convertGroup(g, sel)
		seenU, seenG := map[string]bool{}, map[string]bool{}
		for _, m := range members[memberKey{g.Id, s.cfg.FlattenNested}] {
			switch m.Type {
			case "USER":
				if _, ok := index[m.Id]; ok && !seenU[m.Id] {
					seenU[m.Id] = true
					sg.Members = append(sg.Members, m.Id)
				}
			case "GROUP":
				if !s.cfg.FlattenNested && isSelected[m.Id] && !seenG[m.Id] && m.Id != g.Id {
					seenG[m.Id] = true
					sg.MemberGroups = append(sg.MemberGroups, m.Id)
				}
			case "CUSTOMER":
				if s.cfg.SkipCustomerMembers {
					continue
				}
				if sel.has(AttrCustomerMember) {
					sg.Attributes = sg.Attributes.With(AttrCustomerMember, true)
				}
				sg.MembersNote = CustomerMembersNote
				s.log.Info("google: a group has a CUSTOMER member: every user in scope is a member",
					zap.String("group", g.Id))
				for _, u := range dir.Users {
					if u.State != source.StateDeleted && !seenU[u.ID] {
						seenU[u.ID] = true
						sg.Members = append(sg.Members, u.ID)
					}
				}
			}
		}
		dir.Groups = append(dir.Groups, sg)
	}
	return dir, nil
}

// dedupe returns users without the second and later users of each id, in
// place, and indexes them afresh in index.
func dedupe(users []source.User, index map[string]int) []source.User {
	clear(index)
	out := users[:0]
	for _, u := range users {
		if _, dup := index[u.ID]; !dup {
			index[u.ID] = len(out)
			out = append(out, u)
		}
	}
	clear(users[len(out):])
	return out
}

// inOrgUnits reports whether a user's organizational unit is in scope.
func (s *Source) inOrgUnits(path string) bool {
	p := strings.ToLower(path)
	for _, ou := range s.cfg.OrgUnits {
		o := strings.ToLower(strings.TrimSuffix(ou, "/"))
		if p == o || (o == "" && p == "/") {
			return true
		}
		if !s.cfg.ExcludeSubUnits && strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}

// resolveManagers sets managerId from managerEmail where the manager was
// read too, when sel selects managerId, and drops managerEmail where sel
// does not select it (convertUser keeps it for managerId).
func resolveManagers(users []source.User, sel selection) {
	if !sel.has(AttrManagerID) {
		return
	}
	byEmail := make(map[string]string, len(users))
	for _, deleted := range []bool{true, false} { // a live user wins over a deleted one
		for _, u := range users {
			if (u.State == source.StateDeleted) == deleted {
				byEmail[strings.ToLower(u.UserName)] = u.ID
			}
		}
	}
	dropEmail := !sel.has(AttrManagerEmail)
	for i := range users {
		m, ok := users[i].Attributes.Value(AttrManagerEmail).(string)
		if !ok {
			continue
		}
		a := users[i].Attributes
		if id, ok := byEmail[strings.ToLower(m)]; ok {
			a = a.With(AttrManagerID, id)
		}
		if dropEmail {
			a = a.Without(AttrManagerEmail)
		}
		users[i].Attributes = a
	}
}

// resolveGroups finds the groups keys name, by email (or alias) or id,
// among all; a key that matches none is an error naming it.
func resolveGroups(all []*admin.Group, keys []string, field string) ([]*admin.Group, error) {
	var out []*admin.Group
	seen := map[string]bool{}
	for i, key := range keys {
		k := strings.ToLower(strings.TrimSpace(key))
		idx := slices.IndexFunc(all, func(g *admin.Group) bool {
			return g.Id == key || strings.ToLower(g.Email) == k ||
				slices.ContainsFunc(g.Aliases, func(a string) bool { return strings.ToLower(a) == k })
		})
		if idx < 0 {
			return nil, fmt.Errorf("%w: google: %s[%d] %q: no such group in the account", source.ErrInvalid, field, i, key)
		}
		if !seen[all[idx].Id] {
			seen[all[idx].Id] = true
			out = append(out, all[idx])
		}
	}
	return out, nil
}

func (s *Source) listGroups(ctx context.Context, fields string) ([]*admin.Group, error) {
	return pages(ctx, s.call, "groups.list", func(ctx context.Context, token string) ([]*admin.Group, string, error) {
		c := s.svc.Groups.List().MaxResults(200).Fields(googleapi.Field(fields)).Context(ctx)
		if s.cfg.Domain != "" {
			c.Domain(s.cfg.Domain)
		} else {
			c.Customer(s.cfg.Customer)
		}
		if token != "" {
			c.PageToken(token)
		}
		r, err := c.Do()
		if err != nil {
			return nil, "", err
		}
		return r.Groups, r.NextPageToken, nil
	})
}

func (s *Source) listMembers(ctx context.Context, k memberKey) ([]*admin.Member, error) {
	return pages(ctx, s.call, "members.list "+k.group, func(ctx context.Context, token string) ([]*admin.Member, string, error) {
		c := s.svc.Members.List(k.group).MaxResults(200).Fields(memberFields).Context(ctx)
		if k.derived {
			c.IncludeDerivedMembership(true)
		}
		if token != "" {
			c.PageToken(token)
		}
		r, err := c.Do()
		if err != nil {
			return nil, "", err
		}
		return r.Members, r.NextPageToken, nil
	})
}

// pages reads a listing to its last page; see eachPage.
func pages[T any](ctx context.Context, c *caller, what string,
	fetch func(ctx context.Context, token string) ([]T, string, error)) ([]T, error) {
	var out []T
	err := eachPage(ctx, c, what, fetch, func(items []T) error { out = append(out, items...); return nil })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachPage reads a listing to its last page, each page through the
// caller's retries, and hands each page to use, whose error ends the
// listing. A failure after the first page wraps source.ErrIncomplete too;
// a server that hands back the token it was given is refused rather than
// followed forever.
func eachPage[T any](ctx context.Context, c *caller, what string,
	fetch func(ctx context.Context, token string) ([]T, string, error), use func([]T) error) error {
	token := ""
	for page := 1; ; page++ {
		var items []T
		var next string
		err := c.do(ctx, fmt.Sprintf("%s page %d", what, page), func(ctx context.Context) error {
			var err error
			items, next, err = fetch(ctx, token)
			return err
		})
		if err != nil {
			if page > 1 {
				return fmt.Errorf("%w after %d pages: %w", source.ErrIncomplete, page-1, err)
			}
			return err
		}
		if err := use(items); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if next == token {
			return fmt.Errorf("%w: google: %s: page %d repeats its page token", source.ErrIncomplete, what, page)
		}
		token = next
	}
}
