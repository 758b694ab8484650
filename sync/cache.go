package sync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	gosync "sync"
	"time"

	"github.com/provsync/provsync/source"
)

// CachedDirectory is the last directory read from an incremental source,
// kept in the state so the next run can fold the source's changes into it.
// Its JSON form keeps attribute types (int64, time.Time, []string) that a
// plain encoding would blur.
//
// The engine keeps it encoded (source.Directory's compact binary form,
// about a fifth of the decoded size), and FileState in its file only:
// Dir is then nil, and Directory decodes a copy when one is needed. A
// CachedDirectory made with Dir set is used as it is.
type CachedDirectory struct {
	Dir *source.Directory
	// enc is the directory's encoding (source.Directory.MarshalBinary)
	// when Dir is nil.
	enc []byte
	// fold, when Dir and enc are nil, makes the encoding the first time
	// it is needed: an apply's new cache is the old one with the read's
	// changes folded in, encoded as the state saves it rather than held
	// encoded through the plan next to the old one. Copies of the
	// CachedDirectory share it.
	fold *dirFold
	// file, when Dir, enc and fold are nil, is the file that holds the
	// encoding, whose content has the SHA-256 sum (in hex): FileState
	// keeps a saved directory there, not in memory. Its files are never
	// changed, only removed once no saved snapshot refers to them.
	file, sum string
}

// dirFold is a cached directory with a batch of changes to fold into it
// (source.ApplyBinary), folded once: into memory when its encoding is
// needed, or by FileState into a directory file (see FileState.writeFold).
type dirFold struct {
	mu   gosync.Mutex
	base *CachedDirectory
	ch   *source.Changes
	// users and groups are the fold's counts, which the fold writes
	// before it has read them (source.ApplyBinary, ApplyBinaryTo).
	users, groups int
	enc           []byte
	err           error
	// file and sum are the directory file holding the fold, and its
	// SHA-256 (in hex), once written.
	file, sum string
}

// encoding folds f's changes into its base the first time, and returns
// the result.
func (f *dirFold) encoding() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.enc != nil || f.err != nil:
		return f.enc, f.err
	case f.file != "":
		return fileDirectory(f.file, f.sum).encoding()
	}
	var base []byte
	if base, f.err = f.base.encoding(); f.err == nil && base == nil {
		f.err = errors.New("sync: no encoded directory to fold changes into")
	}
	if f.err == nil {
		f.enc, f.err = source.ApplyBinary(base, f.ch, f.users, f.groups)
	}
	f.base, f.ch = nil, nil
	return f.enc, f.err
}

// encodedDirectory returns a CachedDirectory holding enc, a directory's
// encoding.
func encodedDirectory(enc []byte) *CachedDirectory { return &CachedDirectory{enc: enc} }

// foldedDirectory returns a CachedDirectory holding the encoding of
// base's directory with ch folded in, made when first needed. base is
// encoded (not Dir); the caller does not change ch afterwards.
// The fold holds users users and groups groups.
func foldedDirectory(base *CachedDirectory, ch *source.Changes, users, groups int) *CachedDirectory {
	return &CachedDirectory{fold: &dirFold{base: base, ch: ch, users: users, groups: groups}}
}

// fileDirectory returns a CachedDirectory whose encoding is the content
// of the file at path, of the given SHA-256 sum (in hex).
func fileDirectory(path, sum string) *CachedDirectory {
	return &CachedDirectory{file: path, sum: sum}
}

// empty reports whether c holds no directory.
func (c *CachedDirectory) empty() bool {
	return c == nil || (c.Dir == nil && c.enc == nil && c.fold == nil && c.file == "")
}

// inFile reports whether c is the directory in the file at path.
func (c *CachedDirectory) inFile(path string) bool {
	return c.Dir == nil && c.enc == nil && c.fold == nil && c.file == path
}

// fileOnly reports whether c is a directory in a file, held nowhere else.
func (c *CachedDirectory) fileOnly() bool { return c.file != "" && c.inFile(c.file) }

// encoded reports whether c holds its directory encoded, in any form.
func (c *CachedDirectory) encoded() bool { return c != nil && c.Dir == nil && !c.empty() }

// encoding returns the directory's encoding, or nil if c holds it
// decoded (Dir) or holds none.
func (c *CachedDirectory) encoding() ([]byte, error) {
	switch {
	case c == nil || c.Dir != nil:
		return nil, nil
	case c.fold != nil:
		return c.fold.encoding()
	case c.fileOnly():
		b, err := os.ReadFile(c.file)
		if err != nil {
			return nil, err
		}
		got := sha256.Sum256(b)
		if err := checkDirSum(c.file, c.sum, got[:]); err != nil {
			return nil, err
		}
		return b, nil
	}
	return c.enc, nil
}

// Directory returns the directory: Dir, or a copy decoded from the form
// the state keeps. Nil if c holds none.
func (c *CachedDirectory) Directory() (*source.Directory, error) {
	switch {
	case c == nil:
		return nil, nil
	case c.Dir != nil:
		return c.Dir, nil
	case c.fileOnly():
		return readDirectoryFile(c.file, c.sum)
	}
	enc, err := c.encoding()
	if err != nil || enc == nil {
		return nil, err
	}
	d := new(source.Directory)
	if err := d.UnmarshalBinary(enc); err != nil {
		return nil, err
	}
	return d, nil
}

// selected is Directory, for a directory held encoded, keeping of the
// users' and groups' attributes only those named in names (see
// source.Directory.ReadAttributesFrom): a copy for a mapping that reads
// no others, never one to cache.
func (c *CachedDirectory) selected(names []string) (*source.Directory, error) {
	read := func(d *source.Directory, r io.Reader) (int64, error) { return d.ReadAttributesFrom(r, names) }
	if c.fileOnly() {
		return readDirectoryFileWith(c.file, c.sum, read)
	}
	enc, err := c.encoding()
	if err != nil || enc == nil {
		return nil, err
	}
	d := new(source.Directory)
	if _, err := read(d, bytes.NewReader(enc)); err != nil {
		return nil, err
	}
	return d, nil
}

// readDirectoryFile decodes the directory encoded in the file at path as
// it reads it, a buffer at a time, and checks that the content's SHA-256
// is sum (in hex).
func readDirectoryFile(path, sum string) (*source.Directory, error) {
	return readDirectoryFileWith(path, sum, (*source.Directory).ReadFrom)
}

// readDirectoryFileWith is readDirectoryFile, decoding with read.
func readDirectoryFileWith(path, sum string, read func(*source.Directory, io.Reader) (int64, error)) (*source.Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	d := new(source.Directory)
	if _, err := read(d, io.TeeReader(f, h)); err != nil {
		return nil, err
	}
	if err := checkDirSum(path, sum, h.Sum(nil)); err != nil {
		return nil, err
	}
	return d, nil
}

// checkDirSum reports an error naming path, a directory file, unless
// got, the SHA-256 of the content read from it, is sum (in hex).
func checkDirSum(path, sum string, got []byte) error {
	if hex.EncodeToString(got) != sum {
		return fmt.Errorf("%s does not hold the directory the state refers to", path)
	}
	return nil
}

// MarshalBinary returns the directory's compact encoding
// (source.Directory.MarshalBinary).
func (c *CachedDirectory) MarshalBinary() ([]byte, error) {
	if c.Dir != nil {
		return c.Dir.MarshalBinary()
	}
	enc, err := c.encoding()
	if err == nil && enc == nil {
		err = errors.New("sync: no cached directory")
	}
	return enc, err
}

type cachedUser struct {
	ID          string          `json:"id"`
	UserName    string          `json:"userName,omitempty"`
	Emails      []source.Email  `json:"emails,omitempty"`
	GivenName   string          `json:"givenName,omitempty"`
	FamilyName  string          `json:"familyName,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	State       source.State    `json:"state"`
	DeletedAt   time.Time       `json:"deletedAt,omitzero"`
	Attributes  map[string]tval `json:"attributes,omitempty"`
}

type cachedGroup struct {
	ID           string          `json:"id"`
	DisplayName  string          `json:"displayName,omitempty"`
	Email        string          `json:"email,omitempty"`
	Description  string          `json:"description,omitempty"`
	Attributes   map[string]tval `json:"attributes,omitempty"`
	MembersNote  string          `json:"membersNote,omitempty"`
	Members      []string        `json:"members,omitempty"`
	MemberGroups []string        `json:"memberGroups,omitempty"`
}

// tval is an attribute value with its type: s string, b bool, i int64,
// f float64, l []string, t time.Time.
type tval struct {
	T string          `json:"t"`
	V json.RawMessage `json:"v"`
}

func encodeAttrs(m map[string]any) (map[string]tval, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]tval, len(m))
	for k, v := range m {
		var t string
		switch v.(type) {
		case string:
			t = "s"
		case bool:
			t = "b"
		case int64:
			t = "i"
		case float64:
			t = "f"
		case []string:
			t = "l"
		case time.Time:
			t = "t"
		default:
			return nil, fmt.Errorf("sync: cache: attribute %q has type %T", k, v)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = tval{T: t, V: b}
	}
	return out, nil
}

func decodeAttrs(m map[string]tval) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	for k, tv := range m {
		var (
			v   any
			err error
		)
		switch tv.T {
		case "s":
			v, err = decodeAs[string](tv.V)
		case "b":
			v, err = decodeAs[bool](tv.V)
		case "i":
			v, err = decodeAs[int64](tv.V)
		case "f":
			v, err = decodeAs[float64](tv.V)
		case "l":
			v, err = decodeAs[[]string](tv.V)
		case "t":
			v, err = decodeAs[time.Time](tv.V)
		default:
			err = fmt.Errorf("unknown type tag %q", tv.T)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: cached attribute %q: %w", ErrStateCorrupt, k, err)
		}
		out[k] = v
	}
	return out, nil
}

func decodeAs[T any](raw json.RawMessage) (T, error) {
	var x T
	err := json.Unmarshal(raw, &x)
	return x, err
}

// MarshalJSON writes the directory with typed attributes.
func (c *CachedDirectory) MarshalJSON() ([]byte, error) {
	var aux struct {
		Users  []cachedUser  `json:"users"`
		Groups []cachedGroup `json:"groups"`
	}
	d, err := c.Directory()
	if err != nil {
		return nil, err
	}
	if d == nil {
		return json.Marshal(aux)
	}
	for i := range d.Users {
		u := &d.Users[i]
		attrs, err := encodeAttrs(u.Attributes.Map())
		if err != nil {
			return nil, err
		}
		aux.Users = append(aux.Users, cachedUser{ID: u.ID, UserName: u.UserName, Emails: u.Emails,
			GivenName: u.GivenName, FamilyName: u.FamilyName, DisplayName: u.DisplayName,
			State: u.State, DeletedAt: u.DeletedAt, Attributes: attrs})
	}
	for i := range d.Groups {
		g := &d.Groups[i]
		attrs, err := encodeAttrs(g.Attributes.Map())
		if err != nil {
			return nil, err
		}
		aux.Groups = append(aux.Groups, cachedGroup{ID: g.ID, DisplayName: g.DisplayName, Email: g.Email,
			Description: g.Description, Attributes: attrs, MembersNote: g.MembersNote, Members: g.Members, MemberGroups: g.MemberGroups})
	}
	return json.Marshal(aux)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *CachedDirectory) UnmarshalJSON(b []byte) error {
	var aux struct {
		Users  []cachedUser  `json:"users"`
		Groups []cachedGroup `json:"groups"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	d := &source.Directory{Users: make([]source.User, 0, len(aux.Users)), Groups: make([]source.Group, 0, len(aux.Groups))}
	for _, u := range aux.Users {
		attrs, err := decodeAttrs(u.Attributes)
		if err != nil {
			return err
		}
		d.Users = append(d.Users, source.User{ID: u.ID, UserName: u.UserName, Emails: u.Emails,
			GivenName: u.GivenName, FamilyName: u.FamilyName, DisplayName: u.DisplayName,
			State: u.State, DeletedAt: u.DeletedAt, Attributes: source.NewAttrs(attrs)})
	}
	for _, g := range aux.Groups {
		attrs, err := decodeAttrs(g.Attributes)
		if err != nil {
			return err
		}
		d.Groups = append(d.Groups, source.Group{ID: g.ID, DisplayName: g.DisplayName, Email: g.Email,
			Description: g.Description, Attributes: source.NewAttrs(attrs), MembersNote: g.MembersNote, Members: g.Members, MemberGroups: g.MemberGroups})
	}
	c.Dir, c.enc = d, nil
	return nil
}
