package sync

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"iter"
	"slices"
	"strings"

	"github.com/provsync/provsync/scim"
)

// Mirror is what the engine knows of an owned target object: the object
// as the engine last wrote it, or as the last read of the target (a drift
// check, or a read by id) found it. Plans between drift checks compare the
// source with the mirrors instead of reading the target. A link without a
// mirror is unknown: the next plan reads the object by id.
//
// A Mirror is never changed once made; a new one replaces it.
type Mirror struct {
	// User is a user's SCIM JSON, without id, schemas, meta and groups;
	// in the mirrors the engine makes, and those a state reads back, it
	// is the user in a compact form instead (a zero byte first, about a
	// quarter of the JSON's size), which only the engine reads. UserJSON
	// returns the JSON in either case, and a Mirror's JSON holds it.
	User json.RawMessage `json:"user,omitempty"`
	// DisplayName and ExternalID are a group's.
	DisplayName string `json:"displayName,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	// Members are a group's members' target ids, sorted (see MemberList).
	Members MemberList `json:"members,omitempty"`
}

// MemberList holds a group's members' target ids, sorted, in one string:
// one string per group keeps a large tenant's state small in memory and
// on disk. In JSON, and as written by hand, it is the ids one per line;
// the engine keeps ids that are all lowercase UUIDs (Netskope's) packed,
// 16 bytes each after a zero byte, less than half the size of the text.
// IDs returns the ids in either form.
type MemberList string

// packedMarker starts a packed MemberList; no id holds a zero byte of its
// own in a list the engine makes, and no text list starts with one.
const packedMarker = "\x00"

// uuidLen is the length of a UUID's text form.
const uuidLen = 36

// IDs returns the target ids of l.
func (l MemberList) IDs() []string {
	if l == "" {
		return nil
	}
	ids := make([]string, 0, l.count())
	for id := range l.all() {
		ids = append(ids, id)
	}
	return ids
}

// count is the number of ids in l.
func (l MemberList) count() int {
	if p, ok := strings.CutPrefix(string(l), packedMarker); ok {
		return len(p) / 16
	}
	return strings.Count(string(l), "\n") + 1
}

// all yields the ids of l, in order.
func (l MemberList) all() iter.Seq[string] {
	return func(yield func(string) bool) {
		if p, ok := strings.CutPrefix(string(l), packedMarker); ok {
			for i := 0; i+16 <= len(p); i += 16 {
				if !yield(unpackUUID(p[i : i+16])) {
					return
				}
			}
			return
		}
		for v := range strings.SplitSeq(string(l), "\n") {
			if v != "" && !yield(v) {
				return
			}
		}
	}
}

// text returns l one id per line.
func (l MemberList) text() string {
	if !strings.HasPrefix(string(l), packedMarker) {
		return string(l)
	}
	var b strings.Builder
	b.Grow(l.count() * (uuidLen + 1))
	for id := range l.all() {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(id)
	}
	return b.String()
}

// MarshalJSON writes l one id per line, whatever its form in memory.
func (l MemberList) MarshalJSON() ([]byte, error) { return json.Marshal(l.text()) }

// UnmarshalJSON reads ids one per line and keeps them packed when they
// are sorted lowercase UUIDs.
func (l *MemberList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if strings.HasPrefix(s, packedMarker) {
		return errors.New("a member id starts with a zero byte")
	}
	*l = packMembers(s)
	return nil
}

// packMembers returns the ids of text (one per line) packed, if they are
// all lowercase UUIDs in order; text as it is otherwise.
func packMembers(text string) MemberList {
	if text == "" || (len(text)+1)%(uuidLen+1) != 0 {
		return MemberList(text)
	}
	n := (len(text) + 1) / (uuidLen + 1)
	p := make([]byte, 0, len(packedMarker)+16*n)
	p = append(p, packedMarker...)
	prev := ""
	for i := range n {
		id := text[i*(uuidLen+1) : i*(uuidLen+1)+uuidLen]
		if i < n-1 && text[i*(uuidLen+1)+uuidLen] != '\n' {
			return MemberList(text)
		}
		var ok bool
		if p, ok = appendUUID(p, id); !ok || id <= prev {
			return MemberList(text)
		}
		prev = id
	}
	return MemberList(p)
}

// appendUUID appends the 16 bytes of id, a lowercase UUID, to p; false if
// id is not one.
func appendUUID(p []byte, id string) ([]byte, bool) {
	u, ok := scim.ParseUUID(id)
	if !ok {
		return p, false
	}
	return append(p, u[:]...), true
}

// unpackUUID returns the text form of a UUID's 16 bytes.
func unpackUUID(b string) string {
	var t [uuidLen]byte
	return string(appendUnpackedUUID(t[:0], b))
}

// appendUnpackedUUID appends the text of the packed UUID b to dst.
func appendUnpackedUUID(dst []byte, b string) []byte {
	var u [16]byte
	copy(u[:], b)
	return scim.AppendUUID(dst, u)
}

// Equal reports whether m and o hold the same object (both nil: both
// unknown).
func (m *Mirror) Equal(o *Mirror) bool {
	if m == nil || o == nil {
		return m == o
	}
	return sameUser(m.User, o.User) && m.DisplayName == o.DisplayName &&
		m.ExternalID == o.ExternalID && (m.Members == o.Members || m.Members.text() == o.Members.text())
}

// sameUser reports whether mirrors' users a and b are the same: the same
// bytes in the same form, or the same compact form once the one in JSON
// is packed.
func sameUser(a, b json.RawMessage) bool {
	if isPacked(a) == isPacked(b) {
		return string(a) == string(b)
	}
	if isPacked(a) {
		a, b = b, a
	}
	return string(packJSONUser(a)) == string(b)
}

// MarshalJSON writes m with its user as SCIM JSON, whatever its form in
// memory.
func (m Mirror) MarshalJSON() ([]byte, error) {
	b, err := appendMirror(nil, &m, true)
	if err != nil {
		type plain Mirror // encoding/json says what is wrong
		return json.Marshal(plain(m))
	}
	return b, nil
}

// UnmarshalJSON reads a mirror, keeping a user that decodes as one in the
// compact form.
func (m *Mirror) UnmarshalJSON(b []byte) error {
	type plain Mirror
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Mirror(p)
	m.User = packJSONUser(m.User)
	return nil
}

// userMirror returns the mirror of u.
func userMirror(u *scim.User) *Mirror { return &Mirror{User: packedCopy(u)} }

// user returns the user m mirrors, with id; false if m holds no user.
func (m *Mirror) user(id string) (scim.User, bool) {
	var u scim.User
	if m == nil || len(m.User) == 0 {
		return u, false
	}
	if isPacked(m.User) {
		var ok bool
		if u, ok = unpackUser(m.User); !ok {
			return u, false
		}
	} else if json.Unmarshal(m.User, &u) != nil {
		return u, false
	}
	u.ID = id
	return u, true
}

// groupMirror returns the mirror of g, whose Members must be known; nil
// (unknown) if a member id holds a line break or a zero byte or is empty,
// which the mirror's encoding cannot keep.
func groupMirror(g *scim.Group) *Mirror {
	ids := make([]string, 0, len(g.Members))
	for _, mem := range g.Members {
		ids = append(ids, mem.Value)
	}
	return withMembers(&Mirror{DisplayName: g.DisplayName, ExternalID: g.ExternalID}, ids)
}

// withMembers sets m's members to ids (sorted and deduplicated here) and
// returns m; nil if an id cannot be kept.
func withMembers(m *Mirror, ids []string) *Mirror {
	if p, ok := packIDs(ids); ok {
		m.Members = p
		return m
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, "\n\r\x00") {
			return nil
		}
	}
	m.Members = packMembers(strings.Join(ids, "\n"))
	return m
}

// packIDs returns ids packed, in order and without repeats, as
// packMembers packs their sorted text, when each is a lowercase UUID;
// false if one is not. The 16 bytes of such UUIDs sort as their text
// does, and are sorted instead: a created group's mirror sorted the
// text of its members, checked each for line breaks, joined them and
// read them back to pack them (0.45 s of a 100k initial sync's CPU).
func packIDs(ids []string) (MemberList, bool) {
	if len(ids) == 0 {
		return "", false
	}
	// Each UUID as two big-endian halves, compared as numbers.
	vals := make([][2]uint64, len(ids))
	for i, id := range ids {
		var b [16]byte
		if _, ok := appendUUID(b[:0], id); !ok {
			return "", false
		}
		vals[i] = [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	}
	slices.SortFunc(vals, func(a, b [2]uint64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	vals = slices.Compact(vals)
	p := make([]byte, 0, len(packedMarker)+16*len(vals))
	p = append(p, packedMarker...)
	for _, v := range vals {
		p = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(p, v[0]), v[1])
	}
	return MemberList(p), true
}

// packedWith returns the packed list l with the ids add added or the
// ids remove removed (one of the two), as withMembers makes it of l's
// ids so changed, but worked out on the ids' 16 bytes, merged into one
// new list: a member added to or removed from a large group does not
// unpack each of its members into a string of its text. False, for the
// caller to work on the ids' text, when l is not packed in order, an id
// added or removed is not a lowercase UUID, or no member is left.
func packedWith(l MemberList, add, remove []string) (MemberList, bool) {
	p, ok := strings.CutPrefix(string(l), packedMarker)
	if !ok {
		return "", false
	}
	gone := make(map[[16]byte]bool, len(remove))
	for _, id := range remove {
		u, ok := scim.ParseUUID(id)
		if !ok {
			return "", false
		}
		gone[u] = true
	}
	adds := make([][16]byte, 0, len(add))
	for _, id := range add {
		u, ok := scim.ParseUUID(id)
		if !ok {
			return "", false
		}
		adds = append(adds, u)
	}
	slices.SortFunc(adds, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	adds = slices.Compact(adds)
	var out strings.Builder
	out.Grow(len(packedMarker) + len(p)/16*16 + 16*len(adds))
	out.WriteString(packedMarker)
	k := 0
	var prev [16]byte
	for i := 0; i+16 <= len(p); i += 16 {
		var u [16]byte
		copy(u[:], p[i:i+16])
		if i > 0 && bytes.Compare(prev[:], u[:]) >= 0 {
			return "", false // not in order: the text path sorts it
		}
		prev = u
		for ; k < len(adds) && bytes.Compare(adds[k][:], u[:]) < 0; k++ {
			out.Write(adds[k][:])
		}
		if k < len(adds) && adds[k] == u {
			k++ // a member already
		}
		if !gone[u] {
			out.Write(u[:])
		}
	}
	for ; k < len(adds); k++ {
		out.Write(adds[k][:])
	}
	if out.Len() == len(packedMarker) {
		return "", false
	}
	return MemberList(out.String()), true
}

// memberIDs returns the target ids of m's members.
func (m *Mirror) memberIDs() []string { return m.Members.IDs() }

// afterChange returns the mirror of an object after c landed on it, m
// being its mirror before; nil (unknown) if m is nil or c is not a change
// the engine can follow.
func (m *Mirror) afterChange(c *Change, memberIDs []string) *Mirror {
	if m == nil {
		return nil
	}
	switch c.Action {
	case ActionUpdateUser, ActionDeactivateUser:
		u, ok := m.user("")
		if !ok {
			return nil
		}
		for _, a := range c.Attributes {
			attr, ok := scim.LookupUserAttr(a.Path)
			if !ok {
				return nil
			}
			v := a.After
			if isEmpty(v) {
				v = nil
			}
			if attr.Path == scim.PathActive && v == nil {
				u.Active = nil
				continue
			}
			if err := attr.Set(&u, v); err != nil {
				return nil
			}
		}
		return userMirror(&u)
	case ActionUpdateGroup:
		n := *m
		for _, a := range c.Attributes {
			s, _ := a.After.(string)
			switch {
			case strings.EqualFold(a.Path, scim.PathDisplayName):
				n.DisplayName = s
			case strings.EqualFold(a.Path, scim.PathExternalID):
				n.ExternalID = s
			default:
				return nil
			}
		}
		return &n
	case ActionAddMembers:
		n := *m
		if l, ok := packedWith(m.Members, memberIDs, nil); ok {
			n.Members = l
			return &n
		}
		return withMembers(&n, append(m.memberIDs(), memberIDs...))
	case ActionRemoveMembers:
		n := *m
		if l, ok := packedWith(m.Members, nil, memberIDs); ok {
			n.Members = l
			return &n
		}
		gone := make(map[string]bool, len(memberIDs))
		for _, id := range memberIDs {
			gone[id] = true
		}
		return withMembers(&n, slices.DeleteFunc(m.memberIDs(), func(id string) bool { return gone[id] }))
	}
	return nil
}

// mirrorTrack follows one linked object's mirror through an apply.
type mirrorTrack struct {
	m       *Mirror // the mirror after the writes landed so far
	pending int     // writes to it not finished yet
	failed  bool    // a write failed or was not made: what landed is unknown
}

// writesLinked reports whether c writes to the object its link already
// names (creates make their links, and their mirrors, as they land).
func writesLinked(c *Change) bool {
	switch c.Action {
	case ActionUpdateUser, ActionDeactivateUser, ActionUpdateGroup, ActionAddMembers, ActionRemoveMembers,
		ActionDeleteGroup, ActionDeleteUser:
		return c.Object.TargetID != ""
	}
	return false
}

// trackMirrors marks unknown, in one batch of records stored before any
// write is sent, the mirror of every linked object the plan writes to,
// so that a crash or a failed write leaves no mirror claiming what the
// target may no longer hold; as all of an object's writes land, its new
// mirror is recorded (mirrorAfter).
func (a *applier) trackMirrors() {
	a.mirrors = map[string]*mirrorTrack{}
	var recs []Record
	a.mu.Lock()
	for i := range a.plan.Changes {
		c := &a.plan.Changes[i]
		if !writesLinked(c) {
			continue
		}
		links := a.snap.Users
		if c.Object.Kind == KindGroup {
			links = a.snap.Groups
		}
		l, ok := links[c.Object.SourceID]
		if !ok || l.TargetID != c.Object.TargetID {
			continue
		}
		key := intentKey(c.Object.Kind, c.Object.SourceID)
		t := a.mirrors[key]
		if t == nil {
			t = &mirrorTrack{m: l.Mirror}
			a.mirrors[key] = t
			if l.Mirror != nil {
				recs = append(recs, Record{Op: OpMirror, Kind: c.Object.Kind, SourceID: c.Object.SourceID})
			}
		}
		t.pending++
	}
	a.mu.Unlock()
	a.store(recs...)
}

// mirrorAfter follows change c, which landed if applied, on its object's
// mirror and returns the record of the new mirror once the object's last
// write landed. The caller holds a.mu.
func (a *applier) mirrorAfter(c *Change, applied bool) []Record {
	if len(a.mirrors) == 0 || !writesLinked(c) {
		return nil // as for every create
	}
	key := intentKey(c.Object.Kind, c.Object.SourceID)
	t := a.mirrors[key]
	if t == nil {
		return nil
	}
	t.pending--
	switch {
	case !applied:
		t.failed = true
	case c.Action == ActionDeleteUser || c.Action == ActionDeleteGroup:
		t.failed = true // unlinked: no mirror
	case c.Action == ActionAddMembers || c.Action == ActionRemoveMembers:
		ids := make([]string, 0, len(c.Members))
		for _, r := range c.Members {
			if id := a.resolvedUser(r); id != "" {
				ids = append(ids, id)
			}
		}
		t.m = t.m.afterChange(c, ids)
	default:
		t.m = t.m.afterChange(c, nil)
	}
	if t.pending > 0 || t.failed || t.m == nil {
		return nil
	}
	return []Record{{Op: OpMirror, Kind: c.Object.Kind, SourceID: c.Object.SourceID, Mirror: t.m}}
}

// resolvedUser is the target id a member ref was written as: its own, or
// the link this apply or the state holds for its source id. The caller
// holds a.mu.
func (a *applier) resolvedUser(r Ref) string {
	if r.TargetID != "" {
		return r.TargetID
	}
	return a.linked(KindUser, r.SourceID)
}
