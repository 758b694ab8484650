package netskopetest

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
)

// kind tells users from groups.
type kind int

const (
	kindUser kind = iota
	kindGroup
)

func (k kind) String() string {
	if k == kindGroup {
		return "Group"
	}
	return "User"
}

// record is one stored resource. Its attrSet holds the attributes as
// elimity's schema validation returns them (canonical names; the
// enterprise extension nested under its URN), without id, meta and, for
// groups, members. A record's attributes are never changed once stored:
// an update stores a new attrSet.
type record struct {
	id  string
	key idKey // id's bytes, its key in table.byID
	seq uint64
	attrSet
	created  time.Time
	modified time.Time
	// memberOf (users only) counts the groups the user is a member of.
	// (A set of them per user was a map each for 100,000 users that only
	// a user's delete read; the delete now looks through the groups.)
	memberOf int
	// asMember (users only) is the user as a member in a group read,
	// {"display":...,"value":id}, in JSON.
	asMember []byte
	// num (users only) numbers the user in the store: see store.byNum.
	num uint32
	// members (groups only) maps the num of each member (a member is
	// always a user: checkMembers, delete) to the order in which it was
	// added. Numbers rather than ids or records keep the map free of
	// pointers, so the garbage collector does not scan its million
	// entries at 100,000 users, and cheap to hash.
	members   map[uint32]uint64
	memberSeq uint64
	// ordered (groups only) caches the nums of the members in the order
	// they were added, for reads; nil once members change. Reads under
	// the read lock fill it, hence the atomic.
	ordered atomic.Pointer[[]uint32]
}

// setAttrsOf stores a as the attributes of rec, a resource of kind k
// whose id is set, with what is derived from them (for a user, how it
// shows as a group member).
func setAttrsOf(rec *record, k kind, a attrSet) {
	rec.attrSet = a
	if k == kindUser {
		rec.asMember = appendMember(nil, rec)
	}
}

// table holds the resources of one kind with their indexes.
type table struct {
	kind    kind
	schema  schema.Schema   // core schema with id and externalId
	exts    []schema.Schema // schema extensions
	keyAttr string          // the unique, case-insensitive attribute

	byID  map[idKey]*record
	byKey map[string]*record   // folded keyAttr
	byExt map[string][]*record // externalId, case-exact; not unique
	order []*record            // by seq (insertion order)

	// neverReturned lists attributes that are never returned (password),
	// which are therefore not stored.
	neverReturned []string

	// fast and fastExts are schema and exts indexed for validate.
	fast     *fastSchema
	fastExts []*fastSchema
	// scanners keeps scanBody's *bodyScanner for reuse.
	scanners sync.Pool
}

func newTable(k kind, s schema.Schema, keyAttr string, exts ...schema.Schema) *table {
	t := &table{
		kind:    k,
		schema:  s,
		exts:    exts,
		keyAttr: keyAttr,
		byID:    map[idKey]*record{},
		byKey:   map[string]*record{},
		byExt:   map[string][]*record{},
		fast:    newFastSchema(s.Attributes),
	}
	for _, e := range exts {
		t.fastExts = append(t.fastExts, newFastSchema(e.Attributes))
	}
	for _, a := range s.Attributes {
		if a.Returned() == "never" {
			t.neverReturned = append(t.neverReturned, a.Name())
		}
	}
	return t
}

// clear removes every resource.
func (t *table) clear() {
	t.byID = map[idKey]*record{}
	t.byKey = map[string]*record{}
	t.byExt = map[string][]*record{}
	t.order = nil
}

// store is the server's state: users and groups, guarded by one lock.
type store struct {
	mu         sync.RWMutex
	seq        uint64
	users      *table
	groups     *table
	enterprise schema.Schema
	// names interns the attribute names of both schemas (and
	// "schemas") in decoded bodies; never changed once made.
	names map[string]string
	// byNum holds every user at its num, nil once deleted. A num is not
	// reused until Reset, which empties the groups too, so a group's
	// member map cannot name another user.
	byNum []*record
}

func newStore() *store {
	ent := schema.ExtensionEnterpriseUser()
	st := &store{
		users:      newTable(kindUser, userSchema(), "userName", ent),
		groups:     newTable(kindGroup, groupSchema(), "displayName"),
		enterprise: ent,
		names:      map[string]string{keySchemas: keySchemas, ent.ID: ent.ID},
	}
	for _, t := range []*table{st.users, st.groups} {
		for _, fs := range append([]*fastSchema{t.fast}, t.fastExts...) {
			fs.addNames(st.names)
		}
	}
	return st
}

func (st *store) table(k kind) *table {
	if k == kindGroup {
		return st.groups
	}
	return st.users
}

// foldKey is the case-insensitive form of a userName or displayName.
func foldKey(s string) string { return strings.ToLower(s) }

func strAttr(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

// get returns the resource id.
func (t *table) get(id string) (*record, bool) {
	k, ok := keyOf(id)
	if !ok {
		return nil, false
	}
	rec, ok := t.byID[k]
	return rec, ok
}

func (t *table) insert(rec *record) {
	t.byID[rec.key] = rec
	t.byKey[foldKey(rec.keyValue)] = rec
	if ext := rec.ext; ext != "" {
		t.byExt[ext] = append(t.byExt[ext], rec)
	}
	t.order = append(t.order, rec) // seq only grows, so order stays sorted
}

func (t *table) remove(rec *record) {
	delete(t.byID, rec.key)
	delete(t.byKey, foldKey(rec.keyValue))
	t.unindexExt(rec)
	if i, ok := slices.BinarySearchFunc(t.order, rec.seq, func(r *record, seq uint64) int {
		return cmp.Compare(r.seq, seq)
	}); ok {
		t.order = slices.Delete(t.order, i, i+1)
	}
}

func (t *table) unindexExt(rec *record) {
	ext := rec.ext
	if ext == "" {
		return
	}
	recs := slices.DeleteFunc(t.byExt[ext], func(r *record) bool { return r == rec })
	if len(recs) == 0 {
		delete(t.byExt, ext)
	} else {
		t.byExt[ext] = recs
	}
}

// conflict reports whether another resource than self holds key.
func (t *table) conflict(key string, self *record) bool {
	other, ok := t.byKey[foldKey(key)]
	return ok && other != self
}

// setAttrs stores new attributes for rec, keeping the indexes in step.
// The caller has checked the key for conflicts.
func (t *table) setAttrs(rec *record, attrs attrSet) {
	oldKey, newKey := foldKey(rec.keyValue), foldKey(attrs.keyValue)
	if oldKey != newKey {
		delete(t.byKey, oldKey)
		t.byKey[newKey] = rec
	}
	oldExt, newExt := rec.ext, attrs.ext
	if oldExt != newExt {
		t.unindexExt(rec)
		if newExt != "" {
			t.byExt[newExt] = append(t.byExt[newExt], rec)
		}
	}
	setAttrsOf(rec, t.kind, attrs)
	rec.modified = time.Now().UTC()
}

// lookup answers "attr eq value" from the indexes; attr is "id",
// "externalId" or the key attribute.
func (t *table) lookup(attr, value string) []*record {
	switch attr {
	case "id":
		if rec, ok := t.get(value); ok {
			return []*record{rec}
		}
	case "externalId":
		return t.byExt[value] // in insertion order
	default:
		if rec, ok := t.byKey[foldKey(value)]; ok {
			return []*record{rec}
		}
	}
	return nil
}

// prepared is a resource body ready to store.
type prepared struct {
	attrs   attrSet
	members []string // groups: member user ids as sent (nil: none sent)
}

// prepare turns attributes validated by elimity into what a record holds:
// members split off, never-returned attributes dropped, a multi-valued
// attribute sent as one object made a list, and the key attribute checked.
// attrs is changed in place: it is the fresh result of validation.
func (t *table) prepare(attrs map[string]any) (prepared, error) {
	a := attrs
	for k, v := range a {
		if v == nil {
			delete(a, k)
		}
	}
	delete(a, "id")
	for _, n := range t.neverReturned {
		delete(a, n)
	}
	for _, def := range t.schema.Attributes {
		if m, ok := a[def.Name()].(map[string]any); ok && def.MultiValued() {
			a[def.Name()] = []any{m}
		}
	}
	var p prepared
	if t.kind == kindGroup {
		if raw, ok := a["members"]; ok {
			delete(a, "members")
			ids, err := memberIDs(raw)
			if err != nil {
				return prepared{}, err
			}
			p.members = ids
		}
	}
	tidy(a)
	if strAttr(a, t.keyAttr) == "" {
		return prepared{}, invalidValue(t.keyAttr + " is required")
	}
	p.attrs = attrSetOf(t.kind, t.keyAttr, a)
	return p, nil
}

// memberList is the value of a members operation that the direct PATCH
// path read ([{"value": id}, ...], see parseMembersPatch): the ids alone.
type memberList []string

// memberIDs reads the values of a members list: [{"value": id}, ...].
func memberIDs(v any) ([]string, error) {
	if ids, ok := v.(memberList); ok {
		if slices.Contains(ids, "") {
			return nil, invalidValue("every member needs a value: the user's id")
		}
		return ids, nil
	}
	list, ok := v.([]any)
	if !ok {
		if m, isMap := v.(map[string]any); isMap {
			list = []any{m}
		} else if v != nil {
			return nil, invalidValue("members must be a list of {\"value\": id}")
		}
	}
	ids := make([]string, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		id, _ := m["value"].(string)
		if id == "" {
			return nil, invalidValue("every member needs a value: the user's id")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// user returns the user numbered num.
func (st *store) user(num uint32) *record { return st.byNum[num] }

// checkMembers returns the users of member ids, refusing ids that are
// not users.
func (st *store) checkMembers(ids []string) ([]*record, error) {
	us := make([]*record, len(ids))
	for i, id := range ids {
		u, ok := st.users.get(id)
		if !ok {
			return nil, invalidValue(fmt.Sprintf("member %q is not a user: provision users before adding them to groups", id))
		}
		us[i] = u
	}
	return us, nil
}

// create stores a new resource. The caller holds the write lock.
func (st *store) create(k kind, p prepared) (*record, error) {
	t := st.table(k)
	if t.conflict(p.attrs.keyValue, nil) {
		return nil, uniqueness(fmt.Sprintf("a %s with this %s already exists", strings.ToLower(k.String()), t.keyAttr))
	}
	var us []*record
	if k == kindGroup {
		var err error
		if us, err = st.checkMembers(p.members); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	st.seq++
	rec := &record{seq: st.seq, created: now, modified: now}
	rec.id, rec.key = newID()
	for t.byID[rec.key] != nil {
		rec.id, rec.key = newID()
	}
	setAttrsOf(rec, k, p.attrs)
	if k == kindGroup {
		rec.members = make(map[uint32]uint64, len(p.members))
		for _, u := range us {
			st.addMember(rec, u, nil)
		}
	} else {
		if len(st.byNum) > math.MaxUint32 {
			return nil, fmt.Errorf("netskopetest: more than %d users created", math.MaxUint32)
		}
		rec.num = uint32(len(st.byNum))
		st.byNum = append(st.byNum, rec)
	}
	t.insert(rec)
	return rec, nil
}

// replace stores p as the whole of resource rec (PUT). A group's members
// become exactly p.members. The caller holds the write lock.
func (st *store) replace(k kind, rec *record, p prepared) error {
	t := st.table(k)
	if t.conflict(p.attrs.keyValue, rec) {
		return uniqueness(fmt.Sprintf("another %s has this %s", strings.ToLower(k.String()), t.keyAttr))
	}
	if k == kindGroup {
		us, err := st.checkMembers(p.members)
		if err != nil {
			return err
		}
		st.setMembers(rec, us, nil)
	}
	t.setAttrs(rec, p.attrs)
	return nil
}

// delete removes rec and its memberships. The caller holds the write lock.
func (st *store) delete(k kind, rec *record) {
	st.table(k).remove(rec)
	if k == kindUser {
		for _, g := range st.groups.order {
			if rec.memberOf == 0 {
				break
			}
			if _, ok := g.members[rec.num]; ok {
				delete(g.members, rec.num)
				g.ordered.Store(nil)
				g.modified = time.Now().UTC()
				rec.memberOf--
			}
		}
		st.byNum[rec.num] = nil
		return
	}
	for num := range rec.members {
		st.user(num).memberOf--
	}
}

// memberChange is one entry of a journal of membership changes, kept so
// that a failed PATCH can be undone.
type memberChange struct {
	num   uint32
	seq   uint64
	added bool
}

// addMember makes user u a member of g, if it is not.
func (st *store) addMember(g *record, u *record, j *[]memberChange) {
	if _, ok := g.members[u.num]; ok {
		return
	}
	g.memberSeq++
	g.members[u.num] = g.memberSeq
	g.ordered.Store(nil)
	u.memberOf++
	if j != nil {
		*j = append(*j, memberChange{num: u.num, seq: g.memberSeq, added: true})
	}
}

// removeMember removes the user whose id is uid from g's members, if it
// is one.
func (st *store) removeMember(g *record, uid string, j *[]memberChange) {
	if u, ok := st.users.get(uid); ok {
		st.removeMemberNum(g, u.num, j)
	}
}

// removeMemberNum removes the user numbered num from g's members, if it
// is one.
func (st *store) removeMemberNum(g *record, num uint32, j *[]memberChange) {
	seq, ok := g.members[num]
	if !ok {
		return
	}
	delete(g.members, num)
	g.ordered.Store(nil)
	st.user(num).memberOf--
	if j != nil {
		*j = append(*j, memberChange{num: num, seq: seq})
	}
}

// setMembers makes g's members exactly the users us.
func (st *store) setMembers(g *record, us []*record, j *[]memberChange) {
	want := make(map[uint32]struct{}, len(us))
	for _, u := range us {
		want[u.num] = struct{}{}
	}
	for num := range g.members {
		if _, ok := want[num]; !ok {
			st.removeMemberNum(g, num, j)
		}
	}
	for _, u := range us {
		st.addMember(g, u, j)
	}
}

// undo reverts the membership changes of j, newest first.
// Every change in j came from addMember or removeMember, which dropped
// g's cached order already.
func (st *store) undo(g *record, j []memberChange) {
	for i := len(j) - 1; i >= 0; i-- {
		c := j[i]
		if c.added {
			delete(g.members, c.num)
			st.user(c.num).memberOf--
			continue
		}
		g.members[c.num] = c.seq
		st.user(c.num).memberOf++
	}
}

// memberValues returns g's members in the order they were added, as
// [{"value": id, "display": name}, ...]; the display is the user's
// displayName, else its userName.
func (st *store) memberValues(g *record) []any {
	ms := st.memberOrder(g)
	out := make([]any, len(ms))
	for i, num := range ms {
		u := st.user(num)
		out[i] = map[string]any{"value": u.id, "display": u.display}
	}
	return out
}

// memberOrder returns the nums of g's members in the order they were
// added. The caller holds the lock, and must not change the slice.
func (st *store) memberOrder(g *record) []uint32 {
	if len(g.members) == 0 {
		return nil
	}
	if p := g.ordered.Load(); p != nil {
		return *p
	}
	type m struct {
		seq uint64
		num uint32
	}
	ms := make([]m, 0, len(g.members))
	for num, seq := range g.members {
		ms = append(ms, m{seq, num})
	}
	slices.SortFunc(ms, func(a, b m) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]uint32, len(ms))
	for i, x := range ms {
		out[i] = x.num
	}
	g.ordered.Store(&out)
	return out
}

// SCIM errors, as elimity expects them from a ResourceHandler.

func invalidValue(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: detail, Status: http.StatusBadRequest}
}

func invalidPath(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidPath, Detail: detail, Status: http.StatusBadRequest}
}

func noTarget(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeNoTarget, Detail: detail, Status: http.StatusBadRequest}
}

func mutability(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeMutability, Detail: detail, Status: http.StatusBadRequest}
}

func uniqueness(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Detail: detail, Status: http.StatusConflict}
}

func notFound(k kind, id string) error {
	return scimerrors.ScimError{Detail: fmt.Sprintf("%s %s not found", k, id), Status: http.StatusNotFound}
}

func invalidFilter(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidFilter, Detail: detail, Status: http.StatusBadRequest}
}
