package graphtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultAccessRoleID is the all-zero app role id Graph uses for an
// assignment "without a specific role" (the resource app declares no roles).
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// User is a user of the fake tenant. Zero fields are absent (null) on the
// wire; AccountEnabled is sent as !Disabled.
type User struct {
	ID                string
	UserPrincipalName string
	Mail              string
	OtherMails        []string
	GivenName         string
	Surname           string
	DisplayName       string
	Disabled          bool
	EmployeeID        string
	Department        string
	JobTitle          string
	// UserType is "Member" (default) or "Guest".
	UserType string
	// Extra holds any other property by its Graph name, e.g. "city" or
	// "extension_<appid>_costCenter"; it is sent as JSON as is.
	Extra map[string]any
}

// Group is a group of the fake tenant. Members are kept by the server; use
// AddMembers and RemoveMembers.
type Group struct {
	ID              string
	DisplayName     string
	Description     string
	MailNickname    string
	Mail            string
	SecurityEnabled bool
	MailEnabled     bool
	GroupTypes      []string
}

// AppRole is an app role declared by an application. A nil Value is sent
// as null, as Entra does for the gallery apps' msiam_access role.
type AppRole struct {
	ID                 string
	DisplayName        string
	Description        string
	Value              *string
	AllowedMemberTypes []string
	IsEnabled          bool
}

// ServicePrincipal is an enterprise application.
type ServicePrincipal struct {
	ID                        string
	AppID                     string
	DisplayName               string
	AppRoleAssignmentRequired bool
	AppRoles                  []AppRole
}

// Assignment is an appRoleAssignment: principal PrincipalID was granted
// role AppRoleID of the service principal ResourceID.
type Assignment struct {
	ID                   string
	AppRoleID            string
	PrincipalID          string
	PrincipalType        string // User, Group or ServicePrincipal
	PrincipalDisplayName string
	ResourceID           string
	ResourceDisplayName  string
	Created              time.Time
}

// Object types, as Graph spells them in @odata.type without the prefix.
const (
	TypeUser             = "user"
	TypeGroup            = "group"
	TypeDevice           = "device"
	TypeOrgContact       = "orgContact"
	TypeServicePrincipal = "servicePrincipal"
)

type device struct{ id, displayName, deviceID string }
type contact struct{ id, displayName, mail string }

// change is one entry of the tenant's change log, which delta tokens
// index into.
type change struct {
	seq      int64
	kind     string // TypeUser or TypeGroup
	id       string
	member   string // for membership changes: the member's id
	mtype    string // the member's type
	added    bool   // membership added (true) or removed (false)
	isMember bool
}

// tenant is the in-memory directory. The Server's mutex guards it.
type tenant struct {
	users     map[string]*User
	groups    map[string]*Group
	members   map[string][]string // group id -> member ids, in insertion order
	devices   map[string]*device
	contacts  map[string]*contact
	sps       map[string]*ServicePrincipal
	assigns   map[string]*Assignment // by assignment id
	assignSeq []string               // assignment ids in creation order
	assignN   int
	deleted   map[string]string // deleted object id -> type
	log       []change
	seq       int64
	created   map[string]time.Time
}

func newTenant() *tenant {
	return &tenant{
		users: map[string]*User{}, groups: map[string]*Group{}, members: map[string][]string{},
		devices: map[string]*device{}, contacts: map[string]*contact{},
		sps: map[string]*ServicePrincipal{}, assigns: map[string]*Assignment{},
		deleted: map[string]string{}, created: map[string]time.Time{},
	}
}

func (t *tenant) record(c change) {
	t.seq++
	c.seq = t.seq
	t.log = append(t.log, c)
}

// typeOf returns the type of a live object, or "".
func (t *tenant) typeOf(id string) string {
	switch {
	case t.users[id] != nil:
		return TypeUser
	case t.groups[id] != nil:
		return TypeGroup
	case t.devices[id] != nil:
		return TypeDevice
	case t.contacts[id] != nil:
		return TypeOrgContact
	case t.sps[id] != nil:
		return TypeServicePrincipal
	}
	return ""
}

func (t *tenant) displayName(id string) string {
	switch {
	case t.users[id] != nil:
		return t.users[id].DisplayName
	case t.groups[id] != nil:
		return t.groups[id].DisplayName
	case t.devices[id] != nil:
		return t.devices[id].displayName
	case t.contacts[id] != nil:
		return t.contacts[id].displayName
	case t.sps[id] != nil:
		return t.sps[id].DisplayName
	}
	return ""
}

// findUser finds a live user by object id or user principal name.
func (t *tenant) findUser(key string) *User {
	if u := t.users[key]; u != nil {
		return u
	}
	for _, u := range t.users {
		if strings.EqualFold(u.UserPrincipalName, key) {
			return u
		}
	}
	return nil
}

// findSP finds a service principal by object id or, with byAppID, app id.
func (t *tenant) findSP(key string, byAppID bool) *ServicePrincipal {
	if !byAppID {
		return t.sps[key]
	}
	for _, sp := range t.sps {
		if strings.EqualFold(sp.AppID, key) {
			return sp
		}
	}
	return nil
}

// groupsOf returns the ids of the groups id is a direct member of.
func (t *tenant) groupsOf(id string) []string {
	var out []string
	for gid, ms := range t.members {
		if slices.Contains(ms, id) {
			out = append(out, gid)
		}
	}
	slices.Sort(out)
	return out
}

// transitiveGroupsOf returns all groups id is in, directly or through
// nesting; cycles are cut.
func (t *tenant) transitiveGroupsOf(id string) []string {
	seen := map[string]bool{}
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, g := range t.groupsOf(cur) {
			if !seen[g] {
				seen[g] = true
				queue = append(queue, g)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// transitiveMembers returns all members of gid, through nested groups
// (which are listed too), each once.
func (t *tenant) transitiveMembers(gid string) []string {
	seen := map[string]bool{gid: true}
	var out []string
	queue := []string{gid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, m := range t.members[cur] {
			if seen[m] {
				continue
			}
			seen[m] = true
			out = append(out, m)
			if t.groups[m] != nil {
				queue = append(queue, m)
			}
		}
	}
	return out
}

// removeEverywhere drops a deleted object from group memberships and
// assignments, recording the membership changes as Entra does.
func (t *tenant) removeEverywhere(id, typ string) {
	gids := make([]string, 0)
	for gid := range t.members {
		gids = append(gids, gid)
	}
	slices.Sort(gids)
	for _, gid := range gids {
		ms := t.members[gid]
		if i := slices.Index(ms, id); i >= 0 {
			t.members[gid] = slices.Delete(ms, i, i+1)
			t.record(change{kind: TypeGroup, id: gid, member: id, mtype: typ, isMember: true})
		}
	}
	for _, aid := range slices.Clone(t.assignSeq) {
		if a := t.assigns[aid]; a != nil && (a.PrincipalID == id || a.ResourceID == id) {
			t.dropAssignment(aid)
		}
	}
}

func (t *tenant) dropAssignment(aid string) {
	delete(t.assigns, aid)
	if i := slices.Index(t.assignSeq, aid); i >= 0 {
		t.assignSeq = slices.Delete(t.assignSeq, i, i+1)
	}
}

// assignmentID builds an assignment id the way Graph's look: 43
// characters of unpadded base64url, here of the principal's GUID bytes
// and a hash of the principal and n.
func assignmentID(principalID string, n int) string {
	raw, _ := hex.DecodeString(strings.ReplaceAll(principalID, "-", ""))
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", principalID, n)))
	raw = append(raw, h[:32-len(raw)]...)
	return base64.RawURLEncoding.EncodeToString(raw)
}
