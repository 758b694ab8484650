package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
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
	keys  []string          // scratch for sorting attribute names
	table map[string]uint64 // strings written by shared, numbered from 1
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

func (e *dirEncoder) attrs(m map[string]any) error {
	e.keys = e.keys[:0]
	for k := range m {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	e.uint(uint64(len(e.keys)))
	for _, k := range e.keys {
		e.shared(k)
		switch v := m[k].(type) {
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
	e.b = append(e.b, dirMagic...)
	e.uint(uint64(len(d.Users)))
	userAt := make(map[string]int, len(d.Users))
	for i := range d.Users {
		u := &d.Users[i]
		if _, dup := userAt[u.ID]; !dup {
			userAt[u.ID] = i
		}
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
				return nil, fmt.Errorf("source: encode user %s: deletedAt: %w", u.ID, err)
			}
		}
		if err := e.attrs(u.Attributes); err != nil {
			return nil, fmt.Errorf("source: encode user %s: %w", u.ID, err)
		}
	}
	e.uint(uint64(len(d.Groups)))
	for i := range d.Groups {
		g := &d.Groups[i]
		e.shared(g.ID)
		e.str(g.DisplayName)
		e.str(g.Email)
		e.str(g.Description)
		if err := e.attrs(g.Attributes); err != nil {
			return nil, fmt.Errorf("source: encode group %s: %w", g.ID, err)
		}
		e.shared(g.MembersNote)
		e.refs(g.Members, userAt)
		e.uint(uint64(len(g.MemberGroups)))
		for _, id := range g.MemberGroups {
			e.shared(id)
		}
	}
	return e.b, nil
}

type dirDecoder struct {
	b     []byte
	err   error
	table []string // strings read by shared, by number less one
	// boxed holds, by the same numbers, the strings of table once
	// needed as attribute values: stored in an any, a string takes an
	// allocation of its own, so each repeated value is boxed once.
	boxed []any
	// values holds the time and list attribute values decoded so far,
	// by their encoding, so that repeated ones are shared too.
	values map[string]any
}

func (d *dirDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *dirDecoder) uint() uint64 {
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
func (d *dirDecoder) count(min int) int {
	n := d.uint()
	if n > uint64(len(d.b)/min) {
		d.fail(errDirTruncated)
		d.b = nil
		return 0
	}
	return int(n)
}

func (d *dirDecoder) bytes() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errDirTruncated)
		d.b = nil
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// str reads a string.
func (d *dirDecoder) str() string { return string(d.bytes()) }

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

// value returns the attribute value decoded from enc (the bytes read
// for it), decoding it with decode the first time only: equal times and
// lists are shared between the users that hold them.
func (d *dirDecoder) value(enc []byte, decode func() any) any {
	if v, ok := d.values[string(enc)]; ok {
		return v
	}
	v := decode()
	if d.err == nil {
		if d.values == nil {
			d.values = map[string]any{}
		}
		d.values[string(enc)] = v
	}
	return v
}

// list reads a count and that many strings with read; nil for none.
func (d *dirDecoder) list(read func() string) []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = read()
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
	if len(d.b) == 0 {
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

func (d *dirDecoder) attrs() map[string]any {
	n := d.count(3)
	if n == 0 {
		return nil
	}
	m := make(map[string]any, n)
	for range n {
		k := d.shared()
		switch tag := d.flag(); tag {
		case tagString:
			m[k] = d.sharedValue()
		case tagBool:
			m[k] = d.flag() == 1
		case tagInt:
			v, w := binary.Varint(d.b)
			if w <= 0 {
				d.fail(errDirTruncated)
				return nil
			}
			d.b = d.b[w:]
			m[k] = v
		case tagFloat:
			if len(d.b) < 8 {
				d.fail(errDirTruncated)
				return nil
			}
			m[k] = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
			d.b = d.b[8:]
		case tagList:
			at := d.b
			l := d.list(d.shared)
			enc := at[:len(at)-len(d.b)]
			if d.err == nil {
				// Shared by every user holding the same list; its capacity
				// is its length, so an append makes a copy.
				m[k] = d.value(append([]byte{tagList}, enc...), func() any {
					if l == nil {
						return []string{}
					}
					return l[:len(l):len(l)]
				})
			}
		case tagTime:
			at := d.b
			t := d.time()
			enc := at[:len(at)-len(d.b)]
			if d.err == nil {
				m[k] = d.value(append([]byte{tagTime}, enc...), func() any { return t })
			}
		default:
			d.fail(fmt.Errorf("attribute %q has unknown type tag %q", k, tag))
			return nil
		}
		if d.err != nil {
			return nil
		}
	}
	return m
}

// UnmarshalBinary sets d to the directory MarshalBinary encoded in b. An
// encoding of another version of the format is ErrBinaryVersion; any
// other that cannot be read matches ErrInvalid.
func (d *Directory) UnmarshalBinary(b []byte) error {
	dir, err := decodeDirectory(b)
	if err != nil {
		return err
	}
	*d = *dir
	return nil
}

func decodeDirectory(b []byte) (*Directory, error) {
	if !bytes.HasPrefix(b, []byte(dirMagic)) {
		if v, _, ok := bytes.Cut(b[min(len(b), len(dirMagicPrefix)):], []byte("\n")); ok && bytes.HasPrefix(b, []byte(dirMagicPrefix)) && len(v) < 8 {
			return nil, ErrBinaryVersion
		}
		return nil, fmt.Errorf("%w: not an encoded directory", ErrInvalid)
	}
	d := &dirDecoder{b: b[len(dirMagic):]}
	dir := &Directory{}
	// A user takes at least 8 bytes (5 strings, 2 counts, a state and a
	// deletion flag), a group 8 (5 strings, 3 counts).
	if n := d.count(8); n > 0 {
		dir.Users = make([]User, n)
	}
	for i := range dir.Users {
		u := &dir.Users[i]
		u.ID = d.str()
		u.UserName = d.str()
		u.GivenName = d.shared()
		u.FamilyName = d.shared()
		u.DisplayName = d.str()
		if n := d.count(3); n > 0 {
			u.Emails = make([]Email, n)
			for j := range u.Emails {
				u.Emails[j] = Email{Value: d.strLike(u.UserName), Type: d.shared(), Primary: d.flag() == 1}
			}
		}
		u.State = State(d.flag())
		if d.flag() == 1 {
			u.DeletedAt = d.time()
		}
		u.Attributes = d.attrs()
		if d.err != nil {
			return nil, fmt.Errorf("%w: encoded directory, user %d: %w", ErrInvalid, i+1, d.err)
		}
	}
	if n := d.count(8); n > 0 {
		dir.Groups = make([]Group, n)
	}
	for i := range dir.Groups {
		g := &dir.Groups[i]
		g.ID = d.shared()
		g.DisplayName = d.str()
		g.Email = d.str()
		g.Description = d.str()
		g.Attributes = d.attrs()
		g.MembersNote = d.shared()
		g.Members = d.list(func() string { return d.ref(dir.Users) })
		g.MemberGroups = d.list(d.shared)
		if d.err != nil {
			return nil, fmt.Errorf("%w: encoded directory, group %d: %w", ErrInvalid, i+1, d.err)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last group", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: encoded directory: %w", ErrInvalid, d.err)
	}
	return dir, nil
}
