package sync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/provsync/provsync/source"
)

// The compact encoding of a cached directory, which FileState keeps in a
// file of its own: a magic line, then every user and group as
// length-prefixed strings (uvarint lengths), counts as uvarints, and
// attributes as sorted (name, type tag, value) triples that keep the
// value's type (string, bool, int64, float64, []string, time.Time). It is
// about a tenth of the JSON form's size and is read without reflection.
// Decoding shares equal strings: a group's member ids are the users' own
// id strings, and repeated attribute names and values are stored once.

// dirMagic starts every encoded directory; the digit is the format's
// version.
const dirMagic = "provsync directory 1\n"

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
	b    []byte
	keys []string // scratch for sorting attribute names
}

func (e *dirEncoder) uint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }
func (e *dirEncoder) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *dirEncoder) flag(c byte)   { e.b = append(e.b, c) }
func (e *dirEncoder) strs(l []string) {
	e.uint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

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
		e.str(k)
		switch v := m[k].(type) {
		case string:
			e.flag(tagString)
			e.str(v)
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
			e.strs(v)
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

// encodeDirectory returns d in the compact encoding. Equal directories
// encode to equal bytes (attributes are written in name order).
func encodeDirectory(d *source.Directory) ([]byte, error) {
	e := &dirEncoder{b: make([]byte, 0, 64+200*len(d.Users)+100*len(d.Groups))}
	e.b = append(e.b, dirMagic...)
	e.uint(uint64(len(d.Users)))
	for i := range d.Users {
		u := &d.Users[i]
		e.str(u.ID)
		e.str(u.UserName)
		e.str(u.GivenName)
		e.str(u.FamilyName)
		e.str(u.DisplayName)
		e.uint(uint64(len(u.Emails)))
		for _, m := range u.Emails {
			e.str(m.Value)
			e.str(m.Type)
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
				return nil, fmt.Errorf("sync: cache: user %s: deletedAt: %w", u.ID, err)
			}
		}
		if err := e.attrs(u.Attributes); err != nil {
			return nil, fmt.Errorf("sync: cache: user %s: %w", u.ID, err)
		}
	}
	e.uint(uint64(len(d.Groups)))
	for i := range d.Groups {
		g := &d.Groups[i]
		e.str(g.ID)
		e.str(g.DisplayName)
		e.str(g.Email)
		e.str(g.Description)
		if err := e.attrs(g.Attributes); err != nil {
			return nil, fmt.Errorf("sync: cache: group %s: %w", g.ID, err)
		}
		e.str(g.MembersNote)
		e.strs(g.Members)
		e.strs(g.MemberGroups)
	}
	return e.b, nil
}

type dirDecoder struct {
	b      []byte
	err    error
	intern map[string]string // strings met more than once are shared
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

// str reads a string without sharing it.
func (d *dirDecoder) str() string { return string(d.bytes()) }

// shared reads a string, sharing it with equal strings read before.
func (d *dirDecoder) shared() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	d.intern[s] = s
	return s
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

func (d *dirDecoder) strs(shared bool) []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		if shared {
			l[i] = d.shared()
		} else {
			l[i] = d.str()
		}
	}
	return l
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
			m[k] = d.shared()
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
			l := d.strs(true)
			if l == nil {
				l = []string{}
			}
			m[k] = l
		case tagTime:
			m[k] = d.time()
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

// decodeDirectory reads what encodeDirectory wrote. Errors match
// ErrStateCorrupt.
func decodeDirectory(b []byte) (*source.Directory, error) {
	if len(b) < len(dirMagic) || string(b[:len(dirMagic)]) != dirMagic {
		return nil, fmt.Errorf("%w: not a cached directory of this version", ErrStateCorrupt)
	}
	d := &dirDecoder{b: b[len(dirMagic):], intern: map[string]string{}}
	dir := &source.Directory{}
	// A user takes at least 8 bytes (5 strings, 2 counts, a state and a
	// deletion flag), a group 8 (5 strings, 3 counts).
	if n := d.count(8); n > 0 {
		dir.Users = make([]source.User, n)
	}
	ids := make(map[string]string, len(dir.Users))
	for i := range dir.Users {
		u := &dir.Users[i]
		u.ID = d.str()
		ids[u.ID] = u.ID
		u.UserName = d.str()
		u.GivenName = d.shared()
		u.FamilyName = d.shared()
		u.DisplayName = d.str()
		if n := d.count(3); n > 0 {
			u.Emails = make([]source.Email, n)
			for j := range u.Emails {
				u.Emails[j] = source.Email{Value: d.str(), Type: d.shared(), Primary: d.flag() == 1}
			}
		}
		u.State = source.State(d.flag())
		if d.flag() == 1 {
			u.DeletedAt = d.time()
		}
		u.Attributes = d.attrs()
		if d.err != nil {
			return nil, fmt.Errorf("%w: cached directory, user %d: %w", ErrStateCorrupt, i+1, d.err)
		}
	}
	// Member ids share the users' id strings.
	d.intern = mergeIntern(d.intern, ids)
	if n := d.count(8); n > 0 {
		dir.Groups = make([]source.Group, n)
	}
	for i := range dir.Groups {
		g := &dir.Groups[i]
		g.ID = d.shared()
		g.DisplayName = d.str()
		g.Email = d.str()
		g.Description = d.str()
		g.Attributes = d.attrs()
		g.MembersNote = d.shared()
		g.Members = d.strs(true)
		g.MemberGroups = d.strs(true)
		if d.err != nil {
			return nil, fmt.Errorf("%w: cached directory, group %d: %w", ErrStateCorrupt, i+1, d.err)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last group", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: cached directory: %w", ErrStateCorrupt, d.err)
	}
	return dir, nil
}

// mergeIntern adds the strings of more to m and returns it.
func mergeIntern(m, more map[string]string) map[string]string {
	if len(m) < len(more) {
		m, more = more, m
	}
	for k, v := range more {
		m[k] = v
	}
	return m
}
