package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
	"unsafe"
)

// The compact encoding of a directory (Directory.MarshalBinary), in which
// the sync engine's file state keeps an incremental source's directory: a
// magic line, then every user and group as
// length-prefixed strings (uvarint lengths), counts as uvarints, and
// attributes as sorted (name, type tag, value) triples that keep the
// value's type (string, bool, int64, float64, []string, time.Time).
// Strings that tend to repeat (names, attribute names and values, email
// types, group ids) are written once and then referred to by number, and
// a group's members by their user's position, so the encoding is about a
// twentieth of the JSON form's size, is read without reflection, and
// decodes to shared strings: a member id is its user's own id string.

// dirMagicPrefix starts every encoded directory, followed by the format's
// version and a newline (dirMagic).
const (
	dirMagicPrefix = "provsync directory "
	dirMagic       = dirMagicPrefix + "2\n"
)

// ErrBinaryVersion: Directory.UnmarshalBinary was given a directory
// encoded in another version of the format.
var ErrBinaryVersion = errors.New("source: a directory encoded in another version of the format")

// Attribute type tags.
const (
	tagString byte = 's'
	tagBool   byte = 'b'
	tagInt    byte = 'i'
	tagFloat  byte = 'f'
	tagList   byte = 'l'
	tagTime   byte = 't'
)

// errDirTruncated: the encoding ends before the directory does.
var errDirTruncated = errors.New("truncated")

type dirEncoder struct {
	b     []byte
	table map[string]uint64 // strings written by shared, numbered from 1
	// w, when not nil, is where flush writes b; n counts the bytes
	// written, werr is w's first error.
	w    io.Writer
	n    int64
	werr error
}

// flush writes what b holds to w once it holds at least min bytes, if
// the encoder has a writer.
func (e *dirEncoder) flush(min int) {
	if e.w == nil || len(e.b) < min || len(e.b) == 0 {
		return
	}
	if e.werr == nil {
		k, err := e.w.Write(e.b)
		e.n += int64(k)
		e.werr = err
	}
	e.b = e.b[:0]
}

// shared writes s as 0 and the string the first time, as its number
// afterwards. The empty string is never numbered.
func (e *dirEncoder) shared(s string) {
	if n, ok := e.table[s]; ok {
		e.uint(n)
		return
	}
	e.uint(0)
	e.str(s)
	if s != "" {
		e.table[s] = uint64(len(e.table) + 1)
	}
}

// refs writes ids by their position in at plus one, or as 0 and the id
// for one at does not hold.
func (e *dirEncoder) refs(ids []string, at map[string]int) {
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		if i, ok := at[id]; ok {
			e.uint(uint64(i) + 1)
		} else {
			e.uint(0)
			e.str(id)
		}
	}
}

func (e *dirEncoder) uint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }
func (e *dirEncoder) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *dirEncoder) flag(c byte)   { e.b = append(e.b, c) }

func (e *dirEncoder) time(t time.Time) error {
	tb, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	e.str(string(tb))
	return nil
}

func (e *dirEncoder) attrs(a Attrs) error {
	e.uint(uint64(a.Len()))
	for k, v := range a.All() { // in name order
		e.shared(k)
		switch v := v.(type) {
		case string:
			e.flag(tagString)
			e.shared(v)
		case bool:
			e.flag(tagBool)
			if v {
				e.flag(1)
			} else {
				e.flag(0)
			}
		case int64:
			e.flag(tagInt)
			e.b = binary.AppendVarint(e.b, v)
		case float64:
			e.flag(tagFloat)
			e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
		case []string:
			e.flag(tagList)
			e.uint(uint64(len(v)))
			for _, s := range v {
				e.shared(s)
			}
		case time.Time:
			e.flag(tagTime)
			if err := e.time(v); err != nil {
				return fmt.Errorf("attribute %q: %w", k, err)
			}
		default:
			return fmt.Errorf("attribute %q has type %T", k, v)
		}
	}
	return nil
}

// MarshalBinary returns d in a compact binary encoding that keeps every
// attribute's type; an attribute of a type Validate refuses is an error.
// Equal directories encode to equal bytes (attributes are written in name
// order).
func (d *Directory) MarshalBinary() ([]byte, error) {
	e := &dirEncoder{b: make([]byte, 0, 64+150*len(d.Users)+50*len(d.Groups)), table: map[string]uint64{}}
	if err := d.encode(e); err != nil {
		return nil, err
	}
	return e.b, nil
}

// WriteTo writes what MarshalBinary returns to w as it encodes it, a
// buffer at a time, never holding the whole encoding, and returns the
// bytes written. An error of w's is returned wrapped.
func (d *Directory) WriteTo(w io.Writer) (int64, error) {
	e := &dirEncoder{b: make([]byte, 0, 2*streamBuffer), table: map[string]uint64{}, w: w}
	err := d.encode(e)
	if err == nil {
		e.flush(0)
	}
	if e.werr != nil {
		return e.n, fmt.Errorf("source: writing an encoded directory: %w", e.werr)
	}
	return e.n, err
}

// encode writes d with e.
func (d *Directory) encode(e *dirEncoder) error {
	e.b = append(e.b, dirMagic...)
	e.uint(uint64(len(d.Users)))
	userAt := make(map[string]int, len(d.Users))
	for i := range d.Users {
		u := &d.Users[i]
		if _, dup := userAt[u.ID]; !dup {
			userAt[u.ID] = i
		}
		if err := e.user(u); err != nil {
			return err
		}
		e.flush(streamBuffer)
	}
	e.uint(uint64(len(d.Groups)))
	for i := range d.Groups {
		g := &d.Groups[i]
		if err := e.group(g, g.Members, g.MemberGroups, userAt); err != nil {
			return err
		}
		e.flush(streamBuffer)
	}
	return e.werr
}

// user writes u.
func (e *dirEncoder) user(u *User) error {
	e.str(u.ID)
	e.str(u.UserName)
	e.shared(u.GivenName)
	e.shared(u.FamilyName)
	e.str(u.DisplayName)
	e.uint(uint64(len(u.Emails)))
	for _, m := range u.Emails {
		e.str(m.Value)
		e.shared(m.Type)
		if m.Primary {
			e.flag(1)
		} else {
			e.flag(0)
		}
	}
	e.flag(byte(u.State))
	if u.DeletedAt.IsZero() {
		e.flag(0)
	} else {
		e.flag(1)
		if err := e.time(u.DeletedAt); err != nil {
			return fmt.Errorf("source: encode user %s: deletedAt: %w", u.ID, err)
		}
	}
	if err := e.attrs(u.Attributes); err != nil {
		return fmt.Errorf("source: encode user %s: %w", u.ID, err)
	}
	return nil
}

// groupHead writes g up to its members.
func (e *dirEncoder) groupHead(g *Group) error {
	e.shared(g.ID)
	e.str(g.DisplayName)
	e.str(g.Email)
	e.str(g.Description)
	if err := e.attrs(g.Attributes); err != nil {
		return fmt.Errorf("source: encode group %s: %w", g.ID, err)
	}
	e.shared(g.MembersNote)
	return nil
}

// group writes g with members and memberGroups as its lists; userAt
// holds the users' positions by id.
func (e *dirEncoder) group(g *Group, members, memberGroups []string, userAt map[string]int) error {
	if err := e.groupHead(g); err != nil {
		return err
	}
	e.refs(members, userAt)
	e.groupList(memberGroups)
	return nil
}

func (e *dirEncoder) groupList(ids []string) {
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		e.shared(id)
	}
}

// insertUint writes n at offset at of what was written, moving what
// follows: a count written once its items are.
func (e *dirEncoder) insertUint(at int, n uint64) {
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], n)
	e.b = append(e.b, tmp[:k]...)
	copy(e.b[at+k:], e.b[at:len(e.b)-k])
	copy(e.b[at:], tmp[:k])
}

// ApplyBinary returns the encoding (MarshalBinary) of the directory
// ApplyShared makes of the directory enc encodes and ch, without decoding
// enc whole: it holds the two encodings and one object at a time, where
// decoding, folding and encoding again hold the decoded directory too.
// It checks less than Apply does (it does not validate the result), so
// it is meant for changes Apply has accepted for the same directory.
// users and groups are how many the result holds (the counts of
// ApplyShared's result), which its encoding starts with; a result of
// other counts is an error. An enc that does not decode matches
// ErrInvalid or is ErrBinaryVersion.
func ApplyBinary(enc []byte, ch *Changes, users, groups int) ([]byte, error) {
	e := &dirEncoder{b: make([]byte, 0, len(enc)+len(enc)/16+64), table: map[string]uint64{}}
	if err := foldBinary(&dirDecoder{b: enc, alias: true}, e, ch, users, groups); err != nil {
		return nil, err
	}
	return e.b, nil
}

// ApplyBinaryTo is ApplyBinary for an encoding read from r, with the
// result written to w as it is made, a buffer at a time: it holds neither
// encoding whole. users and groups are as for ApplyBinary. It returns
// the bytes written; an
// error of r's or w's is returned wrapped, and does not match
// ErrInvalid.
func ApplyBinaryTo(w io.Writer, r io.Reader, ch *Changes, users, groups int) (int64, error) {
	d := &dirDecoder{r: r, buf: make([]byte, streamBuffer)}
	e := &dirEncoder{b: make([]byte, 0, 2*streamBuffer), table: map[string]uint64{}, w: w}
	err := foldBinary(d, e, ch, users, groups)
	if err == nil {
		e.flush(0)
	}
	switch {
	case d.rerr != nil:
		return e.n, fmt.Errorf("source: reading an encoded directory: %w", d.rerr)
	case e.werr != nil:
		return e.n, fmt.Errorf("source: writing an encoded directory: %w", e.werr)
	}
	return e.n, err
}

// foldBinary writes with e the encoding of the directory d decodes with
// ch folded in (see ApplyBinary): the result's counts (users, groups)
// are written before its objects and checked after them, so that e can
// write to its writer as it goes.
func foldBinary(d *dirDecoder, e *dirEncoder, ch *Changes, users, groups int) error {
	if ch == nil {
		return fmt.Errorf("%w: apply: no changes", ErrInvalid)
	}
	if ch.Full {
		return (&Directory{Users: ch.Users, Groups: ch.Groups}).encode(e)
	}
	removedUsers, removedGroups, err := checkChanges(ch)
	if err != nil {
		return err
	}
	if err := d.magic(); err != nil {
		return err
	}
	e.b = append(e.b, dirMagic...)
	// end checks that a list of the result holds the count written
	// before it.
	end := func(kind string, n, want int) error {
		if n != want {
			return fmt.Errorf("%w: apply: the result holds %d %s, not %d", ErrInvalid, n, kind, want)
		}
		return nil
	}
	upserted := make(map[string]int, len(ch.Users))
	for i := range ch.Users {
		upserted[ch.Users[i].ID] = i
	}
	// userAt holds the new positions of the users whose ids the upserted
	// groups list (their members are written by id) and of the users
	// appended (the old groups name them by id, not by position).
	userAt := map[string]int{}
	for i := range ch.Groups {
		for _, id := range ch.Groups[i].Members {
			userAt[id] = -1
		}
	}
	n := d.count(8)
	// moved holds each old user's new position plus one; 0: removed.
	moved := make([]int32, 0, d.prealloc(n, 4))
	replaced := make([]bool, len(ch.Users))
	e.uint(uint64(users))
	out := 0
	put := func(u *User) error {
		if pos, ok := userAt[u.ID]; ok && pos < 0 {
			userAt[u.ID] = out
		}
		out++
		err := e.user(u)
		e.flush(streamBuffer)
		return err
	}
	for i := range n {
		var u User
		if err := d.user(&u); err != nil {
			return fmt.Errorf("%w: encoded directory, user %d: %w", ErrInvalid, i+1, err)
		}
		if removedUsers[u.ID] {
			moved = append(moved, 0)
			continue
		}
		w := &u
		if j, ok := upserted[u.ID]; ok {
			w, replaced[j] = &ch.Users[j], true
		}
		moved = append(moved, int32(out+1))
		if err := put(w); err != nil {
			return err
		}
	}
	for j := range ch.Users {
		if !replaced[j] {
			u := &ch.Users[j]
			if _, ok := userAt[u.ID]; !ok {
				userAt[u.ID] = -1
			}
			if err := put(u); err != nil {
				return err
			}
		}
	}
	if err := end("users", out, users); err != nil {
		return err
	}
	for id, pos := range userAt {
		if pos < 0 {
			delete(userAt, id) // not a user of the result
		}
	}

	upGroups := make(map[string]int, len(ch.Groups))
	for i := range ch.Groups {
		upGroups[ch.Groups[i].ID] = i
	}
	gn := d.count(8)
	replacedGroups := make([]bool, len(ch.Groups))
	e.uint(uint64(groups))
	out = 0
	var members []uint64
	var names []string
	for i := range gn {
		var g Group
		d.groupHead(&g)
		// Members, as written: a user's position plus one, or 0 and
		// the id (in names, in order).
		members, names = members[:0], names[:0]
		for range d.count(1) {
			ref := d.uint()
			if ref == 0 {
				names = append(names, d.str())
			} else if ref > uint64(len(moved)) {
				d.fail(fmt.Errorf("member %d of %d users", ref, len(moved)))
			}
			members = append(members, ref)
			if d.err != nil {
				break
			}
		}
		memberGroups := d.list(d.shared)
		if d.err != nil {
			return fmt.Errorf("%w: encoded directory, group %d: %w", ErrInvalid, i+1, d.err)
		}
		if removedGroups[g.ID] {
			continue
		}
		out++
		if j, ok := upGroups[g.ID]; ok {
			replacedGroups[j] = true
			if err := e.changedGroup(&ch.Groups[j], removedUsers, removedGroups, userAt); err != nil {
				return err
			}
			continue
		}
		if err := e.groupHead(&g); err != nil {
			return err
		}
		e.movedMembers(members, names, moved, removedUsers, userAt)
		e.groupList(without(memberGroups, removedGroups, true))
		e.flush(streamBuffer)
	}
	for j := range ch.Groups {
		if !replacedGroups[j] {
			out++
			if err := e.changedGroup(&ch.Groups[j], removedUsers, removedGroups, userAt); err != nil {
				return err
			}
		}
	}
	if err := end("groups", out, groups); err != nil {
		return err
	}
	if d.err == nil && d.more() {
		d.err = errors.New("bytes after the last group")
	}
	if d.err != nil {
		return fmt.Errorf("%w: encoded directory: %w", ErrInvalid, d.err)
	}
	return e.werr
}

// changedGroup writes a group of a batch of changes as the fold leaves
// it: without the removed users and groups.
func (e *dirEncoder) changedGroup(g *Group, removedUsers, removedGroups map[string]bool, userAt map[string]int) error {
	return e.group(g, without(g.Members, removedUsers, true), without(g.MemberGroups, removedGroups, true), userAt)
}

// movedMembers writes an unchanged group's members, read as refs (a
// user's old position plus one, or 0 for the next of names), at the
// users' new positions (moved), without the removed users: those a
// changed directory lost, and ids now naming a user appended (userAt) by
// reference. Their count, known once they are written, is inserted
// before them.
func (e *dirEncoder) movedMembers(refs []uint64, names []string, moved []int32, removed map[string]bool, userAt map[string]int) {
	at, kept := len(e.b), 0
	for _, ref := range refs {
		switch {
		case ref == 0:
			id := names[0]
			names = names[1:]
			if removed[id] {
				continue
			}
			if pos, ok := userAt[id]; ok {
				e.uint(uint64(pos) + 1)
			} else {
				e.uint(0)
				e.str(id)
			}
		case moved[ref-1] > 0:
			e.uint(uint64(moved[ref-1]))
		default:
			continue
		}
		kept++
	}
	e.insertUint(at, uint64(kept))
}

type dirDecoder struct {
	b   []byte
	err error
	// alias makes the strings read views of b, not copies: for a
	// decoder whose objects do not outlive b, which is never changed
	// (ApplyBinary's). Not with r.
	alias bool
	// r, when not nil, is where the encoding comes from (Directory.
	// ReadFrom): b is then a window of buf holding what was read of it
	// and not yet decoded, refilled by fill. When r is nil, b holds all
	// of the encoding.
	r    io.Reader
	buf  []byte
	n    int64 // bytes read from r
	rerr error // the error r returned, other than io.EOF
	eof  bool  // r has returned io.EOF
	// table holds the strings read by shared, by number less one.
	table []string
	// boxed holds, by the same numbers, the strings of table once
	// needed as attribute values: stored in an any, a string takes an
	// allocation of its own, so each repeated value is boxed once.
	boxed []any
	// values holds the time and list attribute values decoded so far,
	// by a key of their encoding (see attrs), so that repeated ones are
	// shared too.
	values map[string]any
	// names holds the attribute name lists decoded so far, by their
	// names' numbers in table, so that objects with the same names share
	// one list.
	names    map[string][]string
	key      []byte   // scratch for values' keys
	items    []string // scratch for a list attribute's items
	nameKey  []byte   // scratch for an object's names' key
	nameList []string // scratch for an object's names
	// keep, when not nil, is the filter of a selecting read (see
	// Directory.ReadAttributesFrom): the attributes it does not keep are
	// dropped.
	keep *AttrFilter
}

// Bounds of a streamed encoding (Directory.ReadFrom), whose length is not
// known in advance: a count preallocates at most streamPrealloc bytes of
// items (more are appended), and a string is at most streamMaxString
// bytes (Validate allows MaxValueBytes), so that a corrupt count or
// length cannot make the decoder allocate without bound.
const (
	streamBuffer    = 64 << 10
	streamPrealloc  = 32 << 20
	streamMaxString = 16 << 20
)

func (d *dirDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// fill makes b hold at least n bytes if the input has them, reading more
// from r, and reports whether it does.
func (d *dirDecoder) fill(n int) bool {
	if len(d.b) >= n || d.r == nil || d.eof || d.rerr != nil {
		return len(d.b) >= n
	}
	if n > len(d.buf) {
		d.buf = make([]byte, max(n, 2*len(d.buf)))
	}
	have := copy(d.buf, d.b) // b is a window of the old buf, or of this one at or after its start
	got, err := io.ReadAtLeast(d.r, d.buf[have:], n-have)
	d.n += int64(got)
	d.b = d.buf[:have+got]
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		d.eof = true
	case err != nil:
		d.rerr = err
		d.fail(err)
	}
	return len(d.b) >= n
}

// more reports whether any input is left.
func (d *dirDecoder) more() bool { return d.fill(1) }

func (d *dirDecoder) uint() uint64 {
	d.fill(binary.MaxVarintLen64)
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail(errDirTruncated)
		d.b = nil
		return 0
	}
	d.b = d.b[k:]
	return n
}

// count reads a count of items, each taking at least min bytes, so that a
// corrupt count cannot make the decoder allocate more than the input holds.
// A streamed input's length is not known: its counts are checked by
// prealloc instead.
func (d *dirDecoder) count(min int) int {
	n := d.uint()
	if d.r == nil && n > uint64(len(d.b)/min) || n > math.MaxInt32 {
		d.fail(errDirTruncated)
		d.b = nil
		return 0
	}
	return int(n)
}

// prealloc is the capacity to allocate for n items of size bytes each:
// n, unless the input is streamed and they would take more than
// streamPrealloc bytes.
func (d *dirDecoder) prealloc(n, size int) int {
	if d.r == nil {
		return n
	}
	return min(n, streamPrealloc/size)
}

func (d *dirDecoder) bytes() []byte {
	n := d.uint()
	if d.r != nil && n > streamMaxString {
		d.fail(fmt.Errorf("a string of %d bytes", n))
		d.b = nil
		return nil
	}
	if n > uint64(len(d.b)) && (d.r == nil || !d.fill(int(n))) {
		d.fail(errDirTruncated)
		d.b = nil
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// str reads a string.
func (d *dirDecoder) str() string {
	b := d.bytes()
	if d.alias && d.r == nil && len(b) > 0 {
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return string(b)
}

// strLike reads a string, which is often like (an email address that is
// the user's name): then like itself is returned, not a copy.
func (d *dirDecoder) strLike(like string) string {
	if b := d.bytes(); string(b) != like {
		return string(b)
	}
	return like
}

// shared reads what dirEncoder.shared wrote.
func (d *dirDecoder) shared() string {
	s, _ := d.sharedAt()
	return s
}

// sharedAt reads what dirEncoder.shared wrote, and returns its number
// less one (-1 for the empty string).
func (d *dirDecoder) sharedAt() (string, int) {
	n := d.uint()
	if n == 0 {
		s := d.str()
		if s == "" {
			return "", -1
		}
		d.table = append(d.table, s)
		return s, len(d.table) - 1
	}
	if n > uint64(len(d.table)) {
		d.fail(fmt.Errorf("string %d referred to before it was written", n))
		d.b = nil
		return "", -1
	}
	return d.table[n-1], int(n - 1)
}

// sharedValue reads what dirEncoder.shared wrote as an attribute value:
// the same string read again is the same boxed value.
func (d *dirDecoder) sharedValue() any {
	s, i := d.sharedAt()
	if i < 0 {
		return s
	}
	if len(d.boxed) < len(d.table) {
		d.boxed = append(d.boxed, make([]any, len(d.table)-len(d.boxed))...)
	}
	if d.boxed[i] == nil {
		d.boxed[i] = s
	}
	return d.boxed[i]
}

// value returns the attribute value whose key (its tag and encoding) is
// key, making it with make the first time only: equal times and lists are
// shared between the users that hold them.
func (d *dirDecoder) value(key []byte, make func() any) any {
	if v, ok := d.values[string(key)]; ok {
		return v
	}
	v := make()
	if d.err == nil {
		if d.values == nil {
			d.values = map[string]any{}
		}
		d.values[string(key)] = v
	}
	return v
}

// list reads a count and that many strings with read; nil for none.
func (d *dirDecoder) list(read func() string) []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	l := make([]string, 0, d.prealloc(n, 16))
	for range n {
		l = append(l, read())
		if d.err != nil {
			return nil
		}
	}
	return l
}

// ref reads what dirEncoder.refs wrote for one id; users are the ids by
// position.
func (d *dirDecoder) ref(users []User) string {
	n := d.uint()
	if n == 0 {
		return d.str()
	}
	if n > uint64(len(users)) {
		d.fail(fmt.Errorf("member %d of %d users", n, len(users)))
		d.b = nil
		return ""
	}
	return users[n-1].ID
}

func (d *dirDecoder) flag() byte {
	if !d.fill(1) {
		d.fail(errDirTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dirDecoder) time() time.Time {
	var t time.Time
	if err := t.UnmarshalBinary(d.bytes()); err != nil {
		d.fail(err)
	}
	return t
}

func (d *dirDecoder) attrs() Attrs {
	n := d.count(3)
	if n == 0 {
		return Attrs{}
	}
	names, namesKey := d.nameList[:0], d.nameKey[:0]
	defer func() { d.nameList, d.nameKey = names[:0], namesKey[:0] }()
	var vals []any
	if d.keep == nil {
		vals = make([]any, 0, d.prealloc(n, 16))
	}
	prev := ""
	for i := range n {
		k, ki := d.sharedAt()
		if i > 0 && k <= prev {
			d.fail(fmt.Errorf("attribute %q follows %q: names out of order", k, prev))
			return Attrs{}
		}
		prev = k
		kept := d.keep == nil || d.keep.Keeps(k)
		if kept {
			names = append(names, k)
			namesKey = binary.AppendUvarint(namesKey, uint64(ki+1))
		}
		var v any
		switch tag := d.flag(); tag {
		case tagString:
			if kept {
				v = d.sharedValue()
			} else {
				d.sharedAt() // in the string table all the same
			}
		case tagBool:
			v = d.flag() == 1
		case tagInt:
			d.fill(binary.MaxVarintLen64)
			x, w := binary.Varint(d.b)
			if w <= 0 {
				d.fail(errDirTruncated)
				return Attrs{}
			}
			d.b = d.b[w:]
			v = x
		case tagFloat:
			if !d.fill(8) {
				d.fail(errDirTruncated)
				return Attrs{}
			}
			v = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
			d.b = d.b[8:]
		case tagList:
			// The key is the items' numbers in the string table: equal
			// strings have equal numbers. The items are read into
			// scratch and copied only for a list not seen before.
			c := d.count(1)
			d.key = append(d.key[:0], tagList)
			d.items = d.items[:0]
			for range c {
				s, i := d.sharedAt()
				d.key = binary.AppendUvarint(d.key, uint64(i+1))
				d.items = append(d.items, s)
				if d.err != nil {
					return Attrs{}
				}
			}
			// Shared by every user holding the same list; its capacity
			// is its length, so an append makes a copy.
			if kept {
				v = d.value(d.key, func() any { return slices.Clip(slices.Clone(d.items)) })
			}
		case tagTime:
			raw := d.bytes()
			decode := func() any {
				var t time.Time
				if err := t.UnmarshalBinary(raw); err != nil {
					d.fail(err)
				}
				return t
			}
			switch {
			case d.err != nil:
			case kept:
				d.key = append(append(d.key[:0], tagTime), raw...)
				v = d.value(d.key, decode)
			default:
				decode() // checked, not kept
			}
		default:
			d.fail(fmt.Errorf("attribute %q has unknown type tag %q", k, tag))
			return Attrs{}
		}
		if d.err != nil {
			return Attrs{}
		}
		if kept {
			vals = append(vals, v)
		}
	}
	if len(names) == 0 {
		return Attrs{}
	}
	// Objects with the same attribute names (most users of a directory)
	// share one list of them.
	shared, ok := d.names[string(namesKey)]
	if !ok {
		shared = slices.Clone(names)
		if d.names == nil {
			d.names = map[string][]string{}
		}
		d.names[string(namesKey)] = shared
	}
	return makeAttrs(shared, vals)
}

// UnmarshalBinary sets d to the directory MarshalBinary encoded in b. An
// encoding of another version of the format is ErrBinaryVersion; any
// other that cannot be read matches ErrInvalid.
func (d *Directory) UnmarshalBinary(b []byte) error {
	dir, err := (&dirDecoder{b: b}).directory()
	if err != nil {
		return err
	}
	*d = *dir
	return nil
}

// ReadFrom sets d to the directory MarshalBinary encoded, read from r
// until its end, with errors as UnmarshalBinary's; an error of r's other
// than io.EOF is returned wrapped, and does not match ErrInvalid. It holds
// a small buffer of r's bytes at a time, never the whole encoding, as a
// source reading a provider's pages does: a directory read this way costs
// its decoded form only. It returns the number of bytes read; on any error
// d is left as it was. A string over 16 MB is refused (Validate allows
// MaxValueBytes); wrap r in an io.LimitReader to bound the whole.
func (d *Directory) ReadFrom(r io.Reader) (int64, error) {
	return d.readFrom(&dirDecoder{r: r, buf: make([]byte, streamBuffer)})
}

// ReadAttributesFrom is ReadFrom, keeping of the users' and groups'
// attributes only those named in names (none when names is empty), as
// an AttributeSelector's read does; the others are decoded and dropped.
// Names match ignoring case (strings.EqualFold, see FoldName), as Attrs
// lookups by the mapping do: a name kept under any spelling keeps the
// attribute under its own.
func (d *Directory) ReadAttributesFrom(r io.Reader, names []string) (int64, error) {
	return d.readFrom(&dirDecoder{r: r, buf: make([]byte, streamBuffer), keep: NewAttrFilter(names)})
}

func (d *Directory) readFrom(dec *dirDecoder) (int64, error) {
	dir, err := dec.directory()
	if dec.rerr != nil {
		return dec.n, fmt.Errorf("source: reading an encoded directory: %w", dec.rerr)
	}
	if err != nil {
		return dec.n, err
	}
	*d = *dir
	return dec.n, nil
}

// magic reads the magic line.
func (d *dirDecoder) magic() error {
	d.fill(len(dirMagicPrefix) + 9) // the magic line, with a version of up to 8 bytes
	if !bytes.HasPrefix(d.b, []byte(dirMagic)) {
		b := d.b
		if v, _, ok := bytes.Cut(b[min(len(b), len(dirMagicPrefix)):], []byte("\n")); ok && bytes.HasPrefix(b, []byte(dirMagicPrefix)) && len(v) < 8 {
			return ErrBinaryVersion
		}
		return fmt.Errorf("%w: not an encoded directory", ErrInvalid)
	}
	d.b = d.b[len(dirMagic):]
	return nil
}

// groupHead decodes a group up to its members into g.
func (d *dirDecoder) groupHead(g *Group) {
	g.ID = d.shared()
	g.DisplayName = d.str()
	g.Email = d.str()
	g.Description = d.str()
	g.Attributes = d.attrs()
	g.MembersNote = d.shared()
}

// directory decodes the whole input.
func (d *dirDecoder) directory() (*Directory, error) {
	if err := d.magic(); err != nil {
		return nil, err
	}
	dir := &Directory{}
	// A user takes at least 8 bytes (5 strings, 2 counts, a state and a
	// deletion flag), a group 8 (5 strings, 3 counts).
	if n := d.count(8); n > 0 {
		dir.Users = make([]User, 0, d.prealloc(n, int(unsafe.Sizeof(User{}))))
		for i := range n {
			dir.Users = append(dir.Users, User{})
			if err := d.user(&dir.Users[i]); err != nil {
				return nil, fmt.Errorf("%w: encoded directory, user %d: %w", ErrInvalid, i+1, err)
			}
		}
	}
	if n := d.count(8); n > 0 {
		dir.Groups = make([]Group, 0, d.prealloc(n, int(unsafe.Sizeof(Group{}))))
		for i := range n {
			dir.Groups = append(dir.Groups, Group{})
			g := &dir.Groups[i]
			d.groupHead(g)
			g.Members = d.list(func() string { return d.ref(dir.Users) })
			g.MemberGroups = d.list(d.shared)
			if d.err != nil {
				return nil, fmt.Errorf("%w: encoded directory, group %d: %w", ErrInvalid, i+1, d.err)
			}
		}
	}
	if d.err == nil && d.more() {
		if d.r == nil {
			d.err = fmt.Errorf("%d bytes after the last group", len(d.b))
		} else {
			d.err = errors.New("bytes after the last group")
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: encoded directory: %w", ErrInvalid, d.err)
	}
	return dir, nil
}

// user decodes one user into u.
func (d *dirDecoder) user(u *User) error {
	u.ID = d.str()
	u.UserName = d.str()
	u.GivenName = d.shared()
	u.FamilyName = d.shared()
	u.DisplayName = d.str()
	if n := d.count(3); n > 0 {
		u.Emails = make([]Email, 0, d.prealloc(n, int(unsafe.Sizeof(Email{}))))
		for range n {
			u.Emails = append(u.Emails, Email{Value: d.strLike(u.UserName), Type: d.shared(), Primary: d.flag() == 1})
		}
	}
	u.State = State(d.flag())
	if d.flag() == 1 {
		u.DeletedAt = d.time()
	}
	u.Attributes = d.attrs()
	return d.err
}
