package onelogin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/parallel"
)

// Attribute names the source sets on users, besides custom attributes,
// which keep their short names.
const (
	AttrStatus         = "status"
	AttrUsername       = "oneloginUsername"
	AttrOneLoginState  = "userState"
	AttrRoleIDs        = "roleIds"
	AttrRoles          = "roles"
	AttrGroupID        = "groupId"
	AttrGroupName      = "groupName"
	AttrDepartment     = "department"
	AttrJobTitle       = "jobTitle"
	AttrCompany        = "company"
	AttrPhone          = "phone"
	AttrManagerID      = "managerId"
	AttrExternalID     = "externalId"
	AttrSAMAccountName = "samAccountName"
	AttrDirectoryID    = "directoryId"
	AttrUpdatedAt      = "updatedAt"
	// AttrKind is set on groups: "role" or "group".
	AttrKind = "kind"
)

// Source reads the users who have one OneLogin app, with the roles and
// groups they belong to. It is safe for concurrent use.
type Source struct {
	cfg Config
	c   *client
	log *zap.Logger
}

var (
	_ source.Incremental    = (*Source)(nil)
	_ source.RequestCounter = (*Source)(nil)
)

// Name is "onelogin:" and the app id.
func (s *Source) Name() string { return "onelogin:" + strconv.FormatInt(s.cfg.AppID, 10) }

// Requests returns how many API requests the source has made (token
// requests excluded).
func (s *Source) Requests() int { return s.c.Requests() }

// RequestCount is Requests, as source.RequestCounter asks.
func (s *Source) RequestCount() int64 { return int64(s.Requests()) }

// profile is a user as /api/2/users returns it.
type profile struct {
	ID               int64           `json:"id"`
	Username         string          `json:"username"`
	Email            string          `json:"email"`
	Firstname        string          `json:"firstname"`
	Lastname         string          `json:"lastname"`
	Title            string          `json:"title"`
	Department       string          `json:"department"`
	Company          string          `json:"company"`
	Phone            string          `json:"phone"`
	Status           *int            `json:"status"`
	State            *int            `json:"state"`
	GroupID          *int64          `json:"group_id"`
	RoleIDs          []int64         `json:"role_ids"`
	ManagerUserID    *int64          `json:"manager_user_id"`
	ExternalID       json.RawMessage `json:"external_id"`
	SAMAccountName   string          `json:"samaccountname"`
	DirectoryID      *int64          `json:"directory_id"`
	UpdatedAt        string          `json:"updated_at"`
	CustomAttributes map[string]any  `json:"custom_attributes"`
}

type idOnly struct {
	ID int64 `json:"id"`
}

type role struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// scope is who has the app: user ids, the roles that hold the app with
// their users, and the user-to-roles index.
type scope struct {
	users     map[int64]bool
	roles     []role
	roleUsers map[int64][]int64
	userRoles map[int64][]int64
}

// Read returns every user who has the app, in full, with the roles that
// hold the app and the OneLogin groups of those users as groups. Any
// failure fails the whole read, which returns nil.
func (s *Source) Read(ctx context.Context) (*source.Directory, error) {
	ch, err := s.read(ctx, "", false, nil)
	if err != nil {
		return nil, err
	}
	return &source.Directory{Users: ch.Users, Groups: ch.Groups}, nil
}

// cursor is what an incremental read remembers: when the last read
// started, and each user's group and roles, which decide memberships and
// which OneLogin does not stamp on the user when roles change.
type cursor struct {
	V      int               `json:"v"`
	App    int64             `json:"app"`
	Since  time.Time         `json:"since"`
	Users  map[int64]string  `json:"users"`  // user id -> "groupID|role,role"
	Groups map[string]string `json:"groups"` // group id -> digest of name and members
}

const cursorVersion = 2

// ReadChanges returns what changed since cursor. The app's users and the
// roles holding it are listed every time (ids only, 1,000 a page); full
// profiles are fetched for users new in scope, users whose roles changed,
// and users OneLogin reports updated since the last run (updated_since,
// less Config.Overlap). Users no longer in scope are removed. Roles and
// groups are rebuilt every run and reported when new or changed (name or
// members), the ones gone as removed. An empty cursor gives a full read;
// one this source cannot use (another version's, another app's) fails
// with source.ErrCursorExpired, and the caller reads in full.
func (s *Source) ReadChanges(ctx context.Context, raw string) (*source.Changes, error) {
	return s.read(ctx, raw, true, nil)
}

// read is ReadChanges; withCursor false skips encoding the next cursor,
// which a plain Read throws away. Selection sel, for a full read, says
// which attributes are asked for and kept (nil: all).
func (s *Source) read(ctx context.Context, raw string, withCursor bool, sel *attrSelection) (*source.Changes, error) {
	start := s.c.now().UTC()
	seen := &dates{}
	ctx = context.WithValue(ctx, datesKey{}, seen)
	var prev *cursor
	if raw != "" {
		c, err := decodeCursor(raw)
		if err == nil && c.App != s.cfg.AppID {
			err = fmt.Errorf("cursor: written for app %d, not %d", c.App, s.cfg.AppID)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: onelogin: %v", source.ErrCursorExpired, err)
		}
		prev = c
	}
	sc, err := s.readScope(ctx)
	if err != nil {
		return nil, err
	}
	// The OneLogin groups and the profiles, at the same time.
	var groups []group
	var profiles []profile
	err = parallel.Run(ctx, 2, 2, func(ctx context.Context, i int) error {
		var err error
		switch {
		case i == 1:
			profiles, err = s.changedProfiles(ctx, prev, sc, sel)
		case s.cfg.Groups == GroupsRolesAndGroups || s.cfg.Groups == GroupsGroups:
			groups, err = s.listGroups(ctx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}

	// The user-to-group index: the previous one, updated.
	userGroup := map[int64]string{}
	if prev != nil {
		for id, v := range prev.Users {
			if sc.users[id] {
				g, _, _ := strings.Cut(v, "|")
				userGroup[id] = g
			}
		}
	}
	for _, p := range profiles {
		userGroup[p.ID] = ""
		if p.GroupID != nil {
			userGroup[p.ID] = strconv.FormatInt(*p.GroupID, 10)
		}
	}
	groupNames := map[string]string{}
	for _, g := range groups {
		groupNames[strconv.FormatInt(g.ID, 10)] = g.Name
	}
	roleNames := map[int64]string{}
	for _, r := range sc.roles {
		roleNames[r.ID] = r.Name
	}

	ch := &source.Changes{Full: prev == nil}
	slices.SortFunc(profiles, func(a, b profile) int { return int(a.ID - b.ID) })
	for i := range profiles {
		u, err := s.convert(&profiles[i], sc, groupNames, roleNames, sel)
		if err != nil {
			return nil, err
		}
		ch.Users = append(ch.Users, u)
	}
	all := s.groups(sc, groups, userGroup, sel)
	next := &cursor{V: cursorVersion, App: s.cfg.AppID, Since: seen.earliest(start), Users: make(map[int64]string, len(sc.users)),
		Groups: make(map[string]string, len(all))}
	for id := range sc.users {
		next.Users[id] = userGroup[id] + "|" + joinIDs(sc.userRoles[id])
	}
	for _, g := range all {
		next.Groups[g.ID] = groupDigest(&g)
		if prev == nil || prev.Groups[g.ID] != next.Groups[g.ID] {
			ch.Groups = append(ch.Groups, g) // new or changed
		}
	}
	if prev != nil {
		for id := range prev.Users {
			if !sc.users[id] {
				ch.RemovedUsers = append(ch.RemovedUsers, strconv.FormatInt(id, 10))
			}
		}
		slices.Sort(ch.RemovedUsers)
		for g := range prev.Groups {
			if _, ok := next.Groups[g]; !ok {
				ch.RemovedGroups = append(ch.RemovedGroups, g)
			}
		}
		slices.Sort(ch.RemovedGroups)
	}
	if withCursor {
		if ch.Cursor, err = encodeCursor(next); err != nil {
			return nil, err
		}
	}
	if ch.Full {
		d := &source.Directory{Users: ch.Users, Groups: ch.Groups}
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("onelogin: the directory read is not consistent: %w", err)
		}
	}
	s.log.Info("onelogin: read", zap.Bool("full", ch.Full), zap.Int("inScope", len(sc.users)),
		zap.Int("users", len(ch.Users)), zap.Int("groups", len(ch.Groups)), zap.Int("removed", len(ch.RemovedUsers)))
	return ch, nil
}

// changedProfiles fetches the profiles to report: every user in scope
// without a previous cursor; otherwise users updated since the last read
// (less the overlap), users new in scope and users whose roles changed.
// Selection sel applies to a full read only.
func (s *Source) changedProfiles(ctx context.Context, prev *cursor, sc *scope, sel *attrSelection) ([]profile, error) {
	fetch := map[int64]bool{}
	if prev == nil {
		for id := range sc.users {
			fetch[id] = true
		}
		return s.profiles(ctx, fetch, sel)
	}
	q := url.Values{"updated_since": {prev.Since.Add(-s.cfg.Overlap).UTC().Format(time.RFC3339)}}
	changed, err := pages[profile](ctx, s.c, "users updated since", "/api/2/users", q, s.cfg.PageSize)
	if err != nil {
		return nil, err
	}
	var updated []profile
	for _, p := range changed {
		if sc.users[p.ID] {
			updated = append(updated, p)
		}
	}
	for id := range sc.users {
		old, known := prev.Users[id]
		_, oldRoles, _ := strings.Cut(old, "|")
		if !known || oldRoles != joinIDs(sc.userRoles[id]) {
			fetch[id] = true // new in scope, or its roles changed
		}
	}
	for _, p := range updated {
		delete(fetch, p.ID)
	}
	rest, err := s.profiles(ctx, fetch, nil)
	if err != nil {
		return nil, err
	}
	return append(rest, updated...), nil
}

// readScope lists the app's users and the roles that hold the app with
// their users.
func (s *Source) readScope(ctx context.Context) (*scope, error) {
	app := strconv.FormatInt(s.cfg.AppID, 10)
	sc := &scope{users: map[int64]bool{}, roleUsers: map[int64][]int64{}, userRoles: map[int64][]int64{}}
	var appUsers []idOnly
	var members [][]idOnly
	err := parallel.Run(ctx, 2, 2, func(ctx context.Context, i int) error {
		var err error
		if i == 0 {
			appUsers, err = pages[idOnly](ctx, s.c, "app users", "/api/2/apps/"+app+"/users", nil, 1000)
			return err
		}
		if sc.roles, err = pages[role](ctx, s.c, "roles", "/api/2/roles", url.Values{"app_id": {app}}, 1000); err != nil {
			return err
		}
		members = make([][]idOnly, len(sc.roles))
		return parallel.Run(ctx, len(sc.roles), s.cfg.Concurrency, func(ctx context.Context, j int) error {
			r := strconv.FormatInt(sc.roles[j].ID, 10)
			var err error
			members[j], err = pages[idOnly](ctx, s.c, "role users "+r, "/api/2/roles/"+r+"/users", nil, 1000)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	for _, u := range appUsers {
		sc.users[u.ID] = true
	}
	for i, r := range sc.roles {
		for _, m := range members[i] {
			sc.roleUsers[r.ID] = append(sc.roleUsers[r.ID], m.ID)
			sc.userRoles[m.ID] = append(sc.userRoles[m.ID], r.ID)
			if !s.cfg.SkipRoleUsers {
				sc.users[m.ID] = true
			}
		}
	}
	for id := range sc.userRoles {
		slices.Sort(sc.userRoles[id])
	}
	return sc, nil
}

// profiles fetches the profiles of ids, PageSize ids a request, several
// requests at once: in full, or the fields selection sel asks for.
func (s *Source) profiles(ctx context.Context, ids map[int64]bool, sel *attrSelection) ([]profile, error) {
	list := make([]int64, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	slices.Sort(list)
	var batches [][]int64
	for len(list) > 0 {
		n := min(s.cfg.PageSize, len(list))
		batches = append(batches, list[:n])
		list = list[n:]
	}
	out := make([][]profile, len(batches))
	err := parallel.Run(ctx, len(batches), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		var err error
		q := url.Values{"user_ids": {joinIDs(batches[i])}}
		if sel != nil {
			q.Set("fields", sel.fields)
		}
		out[i], err = pages[profile](ctx, s.c, fmt.Sprintf("user profiles batch %d", i+1), "/api/2/users", q, s.cfg.PageSize)
		return err
	})
	if err != nil {
		return nil, err
	}
	var all []profile
	got := map[int64]bool{}
	for _, ps := range out {
		for _, p := range ps {
			if ids[p.ID] && !got[p.ID] {
				got[p.ID] = true
				all = append(all, p)
			}
		}
	}
	if len(got) != len(ids) {
		// A user deleted between the listings: the scope and the profiles
		// disagree, so read again rather than guess.
		return nil, fmt.Errorf("%w: onelogin: %d of %d users in scope have no profile; the account changed during the read",
			source.ErrIncomplete, len(ids)-len(got), len(ids))
	}
	return all, nil
}

// listGroups reads v1's /api/1/groups, whose paging is in the body.
func (s *Source) listGroups(ctx context.Context) ([]group, error) {
	var all []group
	q := url.Values{}
	for page := 1; ; page++ {
		body, _, err := s.c.get(ctx, fmt.Sprintf("groups page %d", page), "/api/1/groups", q)
		if err != nil {
			if page > 1 {
				return nil, fmt.Errorf("%w after %d pages: %w", source.ErrIncomplete, page-1, err)
			}
			return nil, err
		}
		var v struct {
			Data       []group `json:"data"`
			Pagination struct {
				AfterCursor *string `json:"after_cursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("%w: onelogin: groups page %d: decoding: %v", source.ErrUnavailable, page, err)
		}
		all = append(all, v.Data...)
		if v.Pagination.AfterCursor == nil || *v.Pagination.AfterCursor == "" || len(v.Data) == 0 {
			return all, nil
		}
		if q.Get("after_cursor") == *v.Pagination.AfterCursor {
			return nil, fmt.Errorf("%w: onelogin: groups page %d repeats its cursor", source.ErrIncomplete, page)
		}
		q.Set("after_cursor", *v.Pagination.AfterCursor)
	}
}

// groups builds the source groups: roles ("role:<id>") with their users
// in scope, and OneLogin groups ("group:<id>") with the users in scope
// whose group they are, for groups that have any. Their attribute kind
// is kept if selection sel keeps it.
func (s *Source) groups(sc *scope, groups []group, userGroup map[int64]string, sel *attrSelection) []source.Group {
	var out []source.Group
	if s.cfg.Groups == GroupsRolesAndGroups || s.cfg.Groups == GroupsRoles {
		for _, r := range sc.roles {
			g := source.Group{ID: "role:" + strconv.FormatInt(r.ID, 10), DisplayName: r.Name,
				Attributes: sel.attrs(map[string]any{AttrKind: "role"})}
			for _, id := range sc.roleUsers[r.ID] {
				if sc.users[id] && !slices.Contains(g.Members, strconv.FormatInt(id, 10)) {
					g.Members = append(g.Members, strconv.FormatInt(id, 10))
				}
			}
			out = append(out, g)
		}
	}
	if s.cfg.Groups == GroupsRolesAndGroups || s.cfg.Groups == GroupsGroups {
		members := map[string][]string{}
		for id := range sc.users {
			if g := userGroup[id]; g != "" {
				members[g] = append(members[g], strconv.FormatInt(id, 10))
			}
		}
		for _, g := range groups {
			key := strconv.FormatInt(g.ID, 10)
			if len(members[key]) == 0 {
				continue
			}
			m := members[key]
			slices.Sort(m)
			out = append(out, source.Group{ID: "group:" + key, DisplayName: g.Name, Members: m,
				Attributes: sel.attrs(map[string]any{AttrKind: "group"})})
		}
	}
	return out
}

// convert turns a profile into a source user with the attributes
// selection sel keeps.
func (s *Source) convert(p *profile, sc *scope, groupNames map[string]string, roleNames map[int64]string, sel *attrSelection) (source.User, error) {
	id := strconv.FormatInt(p.ID, 10)
	if p.Status == nil {
		return source.User{}, fmt.Errorf("%w: onelogin: user %s: status: missing", source.ErrInvalid, id)
	}
	state := UserStateUnknown
	a := map[string]any{AttrStatus: int64(*p.Status)}
	if p.State != nil {
		state = *p.State
		a[AttrOneLoginState] = int64(state)
	}
	u := source.User{ID: id, UserName: p.Email, GivenName: p.Firstname, FamilyName: p.Lastname,
		DisplayName: strings.TrimSpace(p.Firstname + " " + p.Lastname), State: s.cfg.State(*p.Status, state)}
	if s.cfg.UserName == "username" || u.UserName == "" {
		u.UserName = p.Username
	}
	if u.UserName == "" {
		u.UserName = p.Email
	}
	if p.Username != "" {
		a[AttrUsername] = p.Username
	}
	if p.Email != "" {
		u.Emails = []source.Email{{Value: p.Email, Type: "work", Primary: true}}
	}
	set := func(name, v string) {
		if v != "" {
			a[name] = v
		}
	}
	set(AttrDepartment, p.Department)
	set(AttrJobTitle, p.Title)
	set(AttrCompany, p.Company)
	set(AttrPhone, p.Phone)
	set(AttrSAMAccountName, p.SAMAccountName)
	if len(p.ExternalID) > 0 && string(p.ExternalID) != "null" {
		var v any
		if err := json.Unmarshal(p.ExternalID, &v); err != nil {
			return source.User{}, fmt.Errorf("%w: onelogin: user %s: external_id: %v", source.ErrInvalid, id, err)
		}
		set(AttrExternalID, fmt.Sprint(v))
	}
	if p.ManagerUserID != nil && *p.ManagerUserID != 0 {
		a[AttrManagerID] = strconv.FormatInt(*p.ManagerUserID, 10)
	}
	if p.DirectoryID != nil {
		a[AttrDirectoryID] = strconv.FormatInt(*p.DirectoryID, 10)
	}
	if p.GroupID != nil && *p.GroupID != 0 {
		g := strconv.FormatInt(*p.GroupID, 10)
		a[AttrGroupID] = g
		set(AttrGroupName, groupNames[g])
	}
	// Every role the user holds: the profile's role_ids, and the roles
	// that hold the app from this run's role listings, which are newer if
	// the profile was fetched in an earlier run.
	roles := slices.Clone(p.RoleIDs)
	for _, r := range sc.userRoles[p.ID] {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	slices.Sort(roles)
	if len(roles) > 0 {
		ids, names := make([]string, 0, len(roles)), make([]string, 0, len(roles))
		for _, r := range roles {
			ids = append(ids, strconv.FormatInt(r, 10))
			if n := roleNames[r]; n != "" {
				names = append(names, n)
			}
		}
		a[AttrRoleIDs] = ids
		if len(names) > 0 {
			a[AttrRoles] = names
		}
	}
	if p.UpdatedAt != "" {
		if t, err := time.Parse(time.RFC3339, p.UpdatedAt); err == nil {
			a[AttrUpdatedAt] = t.UTC()
		}
	}
	for name, v := range p.CustomAttributes {
		if v == nil || v == "" {
			continue
		}
		key := name
		if a[name] != nil || source.IsBuiltinUserAttr(name) {
			key = "custom_attributes." + name
		}
		switch x := v.(type) {
		case string, bool, float64:
			a[key] = x
		default:
			a[key] = fmt.Sprint(x)
		}
	}
	u.Attributes = sel.attrs(a)
	return u, nil
}

// groupDigest sums up what a group is: its name and its members.
func groupDigest(g *source.Group) string {
	m := slices.Clone(g.Members)
	slices.Sort(m)
	sum := sha256.Sum256([]byte(g.DisplayName + "\x00" + strings.Join(m, ",")))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// encodeCursor packs a cursor as gzipped JSON in base64: the user index is
// large for large apps.
func encodeCursor(c *cursor) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(c); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

func decodeCursor(raw string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("cursor: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("cursor: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("cursor: %v", err)
	}
	var c cursor
	if err := json.Unmarshal(data, &c); err != nil || c.V != cursorVersion || c.Since.IsZero() {
		return nil, errors.New("cursor: not one this version wrote")
	}
	return &c, nil
}
