// Package file is a source that reads a directory from a JSON or YAML file:
// the format fixtures, the quickstart and small deployments use.
//
// # Format
//
// The file holds one object with two lists, users and groups; JSON and
// YAML carry the same fields:
//
//	users:
//	  - id: "u-1"                      # required, unique: the stable source id
//	    userName: "ada@example.com"    # sign-in name (UPN, login)
//	    email: "ada@example.com"       # one primary work email, or:
//	    # emails: [{value: "ada@example.com", type: work, primary: true}]
//	    givenName: "Ada"
//	    familyName: "Lovelace"
//	    displayName: "Ada Lovelace"
//	    state: active                  # active (default) | suspended | deleted
//	    deletedAt: 2025-05-20T10:00:00Z   # RFC 3339, for deleted users
//	    attributes:                    # anything else, by name
//	      department: "R&D"
//	      employeeId: "E1"
//	      level: 3                     # whole numbers are read as int64
//	      fte: 0.8                     # other numbers as float64
//	      mfaEnrolled: true
//	      licenses: [M365_E5, NETSKOPE]   # lists hold strings only
//	      hireDate: 2020-01-06T00:00:00Z  # a time (YAML timestamp)
//	      HR: {costCenter: "CC-1"}     # nested maps flatten to "HR.costCenter"
//	groups:
//	  - id: "g-1"                      # required, unique
//	    displayName: "Engineering"
//	    email: "eng@example.com"
//	    description: "Everyone in engineering"
//	    attributes: {type: department}
//	    members: ["u-1"]               # ids of users in this file
//	    memberGroups: []               # ids of nested groups in this file
//
// Unknown fields are errors. A null attribute is left out. YAML reads
// unquoted timestamps as times and quoted ones as strings; JSON, which has
// no time type, reads a string attribute in RFC 3339 form with a time of
// day ("2020-01-06T00:00:00Z") as a time. A file without a users list (an
// empty file, `---`, `{}`, `groups: []`, `users:` with no value, or
// {"users": null}) is an error rather than an empty directory (a
// truncated or mistaken write must not read as "everyone left"): write
// `users: []` (or {"users": []}) for that.
//
// A key set twice in one mapping is an error, in JSON too (where
// encoding/json would keep the last; keys are compared ignoring case, as
// it matches field names). The file must be UTF-8: bytes that are not, and
// JSON \u escapes of half a surrogate pair, are errors naming the line
// rather than U+FFFD. Ids, names and values must pass
// source.Directory.Validate, which refuses control characters in ids,
// user names, emails and group names, names of white space only, and
// strings beyond its size limits (a 512-byte user name, a 64 KiB value).
//
// Every problem is reported, not just the first, each naming the file, the
// line, the object (kind, id, position) and the field:
//
//	users.yaml:12: user "u-3" (users[2]): state: unknown state "actve" (want active, suspended or deleted)
//	users.yaml:30: group "g-1" (groups[0]): members[1]: unknown user "u-9"
//
// and they match source.ErrInvalid with errors.Is; errors.As finds the
// *source.ObjectError.
//
// # Reading some attributes only
//
// Source is a source.AttributeSelector: ReadAttributes keeps of the users'
// and groups' attributes only those the engine's mapping reads, dropping
// the others as each user and group is parsed, so that the directory (and
// the read's peak) holds only those. The file itself is still read whole,
// and a YAML file's document is decoded to nodes whole first, as Read
// does. Every check above still covers the attributes left out: a file
// Read refuses, ReadAttributes refuses with the same error.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/provsync/provsync/source"
)

// Format is a file format.
type Format int

// File formats.
const (
	// FormatAuto picks the format by file extension (.json, .yaml, .yml),
	// else by content: JSON if it starts with "{", YAML otherwise.
	FormatAuto Format = iota
	// FormatJSON is JSON.
	FormatJSON
	// FormatYAML is YAML 1.2 as gopkg.in/yaml.v3 reads it.
	FormatYAML
)

// String returns "auto", "json" or "yaml".
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatJSON:
		return "json"
	case FormatYAML:
		return "yaml"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// formatOf returns the format of a file name by extension, FormatAuto if
// the extension says nothing.
func formatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return FormatJSON
	case ".yaml", ".yml":
		return FormatYAML
	}
	return FormatAuto
}

// Option configures a Source.
type Option func(*options)

type options struct {
	format Format
	fsys   fs.FS
	name   string
}

// WithFormat sets the format instead of guessing it from the file name.
func WithFormat(f Format) Option { return func(o *options) { o.format = f } }

// WithFS reads the path from fsys (an embed.FS, an fstest.MapFS, ...)
// instead of the operating system's file system. The path is then an
// io/fs path: slash-separated, without a leading slash.
func WithFS(fsys fs.FS) Option { return func(o *options) { o.fsys = fsys } }

// WithName sets the name the source reports for logs and plans.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// Source is a source.Source over a file, bytes in memory, or a directory
// in memory. It is safe for concurrent use.
type Source struct {
	name   string
	path   string
	fsys   fs.FS
	format Format

	mu   sync.RWMutex
	data []byte            // FromBytes
	dir  *source.Directory // FromDirectory and Set
	mem  bool              // dir is the content
}

var (
	_ source.Source            = (*Source)(nil)
	_ source.AttributeSelector = (*Source)(nil)
)

func newSource(defaultName string, opts []Option) (*Source, options) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.name == "" {
		o.name = defaultName
	}
	return &Source{name: o.name, fsys: o.fsys, format: o.format}, o
}

// New returns a source that reads the file at path on every Read, so that
// edits to the file show up at the next read.
func New(path string, opts ...Option) *Source {
	s, _ := newSource("file:"+path, opts)
	s.path = path
	if s.format == FormatAuto {
		s.format = formatOf(path)
	}
	return s
}

// FromBytes returns a source that parses data (copied) on every Read: an
// embedded default, or a fixture in a test.
func FromBytes(data []byte, format Format, opts ...Option) *Source {
	s, _ := newSource("file:bytes", append([]Option{WithFormat(format)}, opts...))
	s.data = append([]byte{}, data...)
	return s
}

// FromDirectory returns a source whose content is dir, held in memory; see
// Set. A nil dir is an empty directory.
func FromDirectory(dir *source.Directory, opts ...Option) *Source {
	s, _ := newSource("memory", opts)
	s.Set(dir)
	return s
}

// Set replaces the source's content with a copy of dir: from now on Read
// returns dir, whatever the source read before. A nil dir is an empty
// directory. Set may be called while other goroutines Read.
func (s *Source) Set(dir *source.Directory) {
	var c *source.Directory
	if dir == nil {
		c = &source.Directory{}
	} else {
		c = dir.Clone()
	}
	s.mu.Lock()
	s.dir, s.mem = c, true
	s.mu.Unlock()
}

// Name returns the source's name: "file:<path>", "file:bytes", "memory",
// or the name given WithName.
func (s *Source) Name() string { return s.name }

// Read returns the directory the source holds, validated. A file that
// cannot be read yields an error matching source.ErrUnavailable; one that
// does not parse or validate, source.ErrInvalid. On error the directory is
// nil.
func (s *Source) Read(ctx context.Context) (*source.Directory, error) {
	return s.read(ctx, nil)
}

// ReadAttributes is Read, except that the users' and groups' Attributes
// hold only the attributes named in names, matched ignoring case (none
// when names is empty). The others are dropped as each user and group is
// parsed, after the same checks as Read's: it refuses a file Read
// refuses, with Read's error.
func (s *Source) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	return s.read(ctx, source.NewAttrFilter(names))
}

// read reads the directory, keeping the attributes keep keeps (all of
// them when keep is nil).
func (s *Source) read(ctx context.Context, keep *source.AttrFilter) (*source.Directory, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	s.mu.RLock()
	mem, dir, data := s.mem, s.dir, s.data
	s.mu.RUnlock()
	if mem {
		// dir is the source's own copy, never modified: Set replaces it.
		if err := dir.Validate(); err != nil {
			return nil, locate(err, func(*source.ObjectError) string { return s.name })
		}
		return cloneKept(dir, keep), nil
	}
	where := s.name
	if data == nil {
		var err error
		where = s.path
		if data, err = s.readFile(); err != nil {
			// The file system's error names the path already.
			return nil, classify(fmt.Errorf("file: %w", err), source.ErrUnavailable)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if keep == nil {
		return parse(ctx, data, s.format, where, nil)
	}
	return parseSelected(ctx, data, s.format, where, keep)
}

// cloneKept returns a deep copy of dir whose objects hold the attributes
// keep keeps (all of them when keep is nil).
func cloneKept(dir *source.Directory, keep *source.AttrFilter) *source.Directory {
	if keep == nil {
		return dir.Clone()
	}
	out := &source.Directory{}
	if dir.Users != nil {
		out.Users = make([]source.User, 0, len(dir.Users))
	}
	if dir.Groups != nil {
		out.Groups = make([]source.Group, 0, len(dir.Groups))
	}
	for _, u := range dir.Users {
		u.Attributes = keep.Filter(u.Attributes)
		out.Users = append(out.Users, u.Clone())
	}
	for _, g := range dir.Groups {
		g.Attributes = keep.Filter(g.Attributes)
		out.Groups = append(out.Groups, g.Clone())
	}
	return out
}

func (s *Source) readFile() ([]byte, error) {
	if s.fsys != nil {
		return fs.ReadFile(s.fsys, path.Clean(s.path))
	}
	return os.ReadFile(s.path)
}

// classified is an error that also matches a sentinel, without the
// sentinel's text in its message.
type classified struct {
	err, kind error
}

func classify(err, kind error) error { return &classified{err: err, kind: kind} }

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.err, c.kind} }

// located is an error prefixed with where it was found.
type located struct {
	where string
	err   error
}

func (l *located) Error() string { return l.where + ": " + l.err.Error() }
func (l *located) Unwrap() error { return l.err }

// locate prefixes every error joined in err (or err itself) with the
// location where returns for its object (nil if it names none), and joins
// them again.
func locate(err error, where func(*source.ObjectError) string) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		var oe *source.ObjectError
		if !errors.As(e, &oe) {
			oe = nil
		}
		out[i] = &located{where: where(oe), err: e}
	}
	return errors.Join(out...)
}

// Decode reads a directory in format from r and validates it, as Read
// does. Error locations are given as "line N".
func Decode(r io.Reader, format Format) (*source.Directory, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, classify(fmt.Errorf("file: read: %w", err), source.ErrUnavailable)
	}
	return parse(context.Background(), data, format, "", nil)
}
