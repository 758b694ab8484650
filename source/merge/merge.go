// Package merge is a source that merges the directories of several
// sources into one, for one engine that feeds a tenant from more than one
// identity provider: employees from Entra and contractors from Google, or
// two Entra tenants after a merger.
//
// The sources are given in precedence order, each under a name. The
// merged directory follows these rules:
//
//   - Ids are unique across sources: a source's object id becomes
//     "<name>/<id>" (see ID), and OwnerOf names the source that owns an
//     id. The engine stores ids as SCIM externalId, so the target itself
//     tells which source owns each object.
//   - One person coming from several sources appears once. Users are the
//     same person when their user names are equal ignoring case, or else
//     when a user name or match attribute value of one (WithMatch; by
//     default the primary e-mail address) equals one of the other's,
//     ignoring case. Two users of one source are never one person. The
//     highest-precedence source that holds the person owns them: the
//     merged user carries that source's id and attributes, and the other
//     sources only add group memberships (their groups list the owner's
//     merged id). A source that reports the person deleted yields to the
//     next source that holds them not deleted.
//   - When the owning source drops the person, the next source in
//     precedence owns them, and the merged id changes to that source's.
//   - Groups of the same name from several sources are, by GroupMode:
//     both emitted under their name (GroupsSeparate, the default, which
//     the engine reports as a plan problem naming both and for which it
//     writes nothing), renamed per source (GroupsNamespace, see
//     WithGroupFormat), or merged into one (GroupsMerge: the
//     highest-precedence source's group, whose members are the union of
//     every source's members).
//
// A read reads every source; if any fails, the whole read fails, so that
// the engine never mistakes one source's outage for its users leaving.
//
// The merged source is a source.AttributeSelector whatever its members:
// ReadAttributes asks the members that are selectors too for the
// attributes named and the match attributes, reads the others whole and
// cuts their directories to those once checked, and returns Read's merged
// directory with only the attributes named.
//
// A source dropped from the list no longer yields objects, so an engine
// deprovisions what it owned; an engine that marks objects with their
// owners (sync.WithOwner) needs the dropped name in WithRetired for that,
// and otherwise leaves them alone as another engine's.
package merge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/parallel"
)

// invalidError is a bad configuration: it matches source.ErrInvalid
// without the sentinel's words in its message, so that a caller locating
// it (a configuration file's line) adds its own context once.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == source.ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Member is one source of a merged directory.
type Member struct {
	// Name names the source in merged ids ("<name>/<id>"), in OwnerOf, in
	// errors and in namespaced group names; see CheckName.
	Name string
	// Source is the source read.
	Source source.Source
}

// GroupMode is what happens to groups of the same name (ignoring case)
// from several sources.
type GroupMode string

// Group modes.
const (
	// GroupsSeparate emits every group under its own name: groups of the
	// same name from several sources reach the engine as two groups of
	// one name, which it reports as a plan problem and leaves alone, never
	// letting one source take over the other's group. It is the default.
	GroupsSeparate GroupMode = "separate"
	// GroupsNamespace renames every group of every source with the group
	// format (WithGroupFormat), so that names never collide and a name
	// never changes when another source adds a group.
	GroupsNamespace GroupMode = "namespace"
	// GroupsMerge makes the groups of one name from several sources one
	// group: the highest-precedence source's, with its attributes, whose
	// members are the union of every source's members. A name that one
	// source holds twice is not merged (the engine reports it).
	GroupsMerge GroupMode = "merge"
)

// ParseGroupMode reads "separate", "namespace" or "merge"; "" is the
// default, GroupsSeparate. Anything else is an error matching
// source.ErrInvalid.
func ParseGroupMode(s string) (GroupMode, error) {
	switch GroupMode(s) {
	case "", GroupsSeparate:
		return GroupsSeparate, nil
	case GroupsNamespace, GroupsMerge:
		return GroupMode(s), nil
	}
	return "", invalid("group mode %q: want %s, %s or %s", s, GroupsSeparate, GroupsNamespace, GroupsMerge)
}

// DefaultGroupFormat is the name of a namespaced group: the source's
// group name, then the member's name in parentheses.
const DefaultGroupFormat = "{name} ({source})"

// CheckGroupFormat checks a namespaced group name format: it holds
// "{name}" (the group's name at its source) and "{source}" (the member's
// name), so that two sources' names stay apart. A bad format is an error
// matching source.ErrInvalid.
func CheckGroupFormat(format string) error {
	if !strings.Contains(format, "{name}") || !strings.Contains(format, "{source}") {
		return invalid("group format %q: it must hold {name} and {source}", format)
	}
	return nil
}

// MaxMembers is the largest number of sources one merged source reads.
const MaxMembers = 64

// CheckName checks a member's name: 1 to 64 ASCII letters, digits, '.',
// '_' or '-', starting with a letter or digit (it is the prefix of merged
// ids and may appear in group names). A bad name is an error matching
// source.ErrInvalid.
func CheckName(name string) error {
	bad := name == "" || len(name) > 64
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '.' && r != '_' && r != '-') {
			bad = true
		}
	}
	if bad {
		return invalid("source name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// ID returns the merged id of the object with id at the member called
// name: "<name>/<id>".
func ID(name, id string) string { return name + "/" + id }

// Split splits a merged id into the member's name and the object's id at
// that source; ok is false for an id that is not a merged one.
func Split(merged string) (name, id string, ok bool) {
	name, id, ok = strings.Cut(merged, "/")
	if !ok || CheckName(name) != nil || id == "" {
		return "", "", false
	}
	return name, id, true
}

// Option configures a Source.
type Option func(*options)

type options struct {
	name    string
	groups  GroupMode
	format  string
	match   []string
	retired []string
	log     *zap.Logger
}

// WithName sets the name the source reports for logs and plans; the
// default is "merge:" and the members' names joined with "+".
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithGroups sets what happens to groups of the same name from several
// sources; the default is GroupsSeparate.
func WithGroups(mode GroupMode) Option { return func(o *options) { o.groups = mode } }

// WithGroupFormat sets the name of namespaced groups (GroupsNamespace),
// with "{name}" for the group's name at its source and "{source}" for the
// member's name: "{source}: {name}" prefixes, "{name} ({source})" (the
// default) suffixes.
func WithGroupFormat(format string) Option { return func(o *options) { o.format = format } }

// WithMatch sets the user attributes, besides the user name, that make
// users of different sources the same person: a value equal, ignoring
// case, to one of the other user's values or user name matches. Names
// resolve as source.User.Attr does: "email" (the primary address, the
// default), "emails" (every address), "employeeId", ... User names are
// compared first, alone: two sources' users of one user name are always
// one person.
func WithMatch(attrs ...string) Option { return func(o *options) { o.match = attrs } }

// WithRetired names sources that were members and are no longer read:
// their objects are still this merged source's (Members lists them), and
// as none is in the merged directory any more, an engine deprovisions
// them like users who left scope, within its deletion limits. Without
// it, dropping a member from the list has the same effect on an engine
// that does not mark its objects with their owners; one that does
// (sync.WithOwner) takes the dropped member's objects for another
// engine's and leaves them alone.
func WithRetired(names ...string) Option { return func(o *options) { o.retired = names } }

// WithLogger sets the logger; zap.NewNop() by default. It logs ids and
// counts, never names or addresses.
func WithLogger(log *zap.Logger) Option { return func(o *options) { o.log = log } }

// Source merges the directories of several sources. It is safe for
// concurrent use.
type Source struct {
	members []Member
	opts    options

	mu    gosync.Mutex
	owned map[string]string // merged id → member name, of the last read
}

var (
	_ source.Source            = (*Source)(nil)
	_ source.Merged            = (*Source)(nil)
	_ source.RequestCounter    = (*Source)(nil)
	_ source.AttributeSelector = (*Source)(nil)
)

// New returns a source that merges members, in precedence order: the
// first owns a person it shares with the others. Names must pass
// CheckName and be unique ignoring case; there is at least one member and
// at most MaxMembers. Errors match source.ErrInvalid.
func New(members []Member, opts ...Option) (*Source, error) {
	o := options{groups: GroupsSeparate, format: DefaultGroupFormat, match: []string{"email"}}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if len(members) == 0 || len(members) > MaxMembers {
		errs = append(errs, invalid("%d sources: want 1 to %d", len(members), MaxMembers))
	}
	seen := make(map[string]int, len(members))
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name
		if err := CheckName(m.Name); err != nil {
			errs = append(errs, fmt.Errorf("sources[%d]: %w", i, err))
		} else if j, dup := seen[strings.ToLower(m.Name)]; dup {
			errs = append(errs, invalid("sources[%d]: name %q: sources[%d] has it too", i, m.Name, j))
		} else {
			seen[strings.ToLower(m.Name)] = i
		}
		if m.Source == nil {
			errs = append(errs, invalid("sources[%d] (%s): no source", i, m.Name))
		}
	}
	for i, n := range o.retired {
		if err := CheckName(n); err != nil {
			errs = append(errs, fmt.Errorf("retired[%d]: %w", i, err))
		} else if j, dup := seen[strings.ToLower(n)]; dup {
			errs = append(errs, invalid("retired[%d]: name %q: %s has it too", i, n, nameAt(j, len(members))))
		} else {
			seen[strings.ToLower(n)] = len(members) + i
		}
	}
	if _, err := ParseGroupMode(string(o.groups)); err != nil {
		errs = append(errs, err)
	}
	if o.groups == GroupsNamespace {
		if err := CheckGroupFormat(o.format); err != nil {
			errs = append(errs, err)
		}
	}
	for i, a := range o.match {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, invalid("match[%d]: empty attribute name", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if o.name == "" {
		o.name = "merge:" + strings.Join(names, "+")
	}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	return &Source{members: append([]Member(nil), members...), opts: o}, nil
}

// nameAt says where the name at index i of the members and then the
// retired names is.
func nameAt(i, members int) string {
	if i < members {
		return fmt.Sprintf("sources[%d]", i)
	}
	return fmt.Sprintf("retired[%d]", i-members)
}

// Name returns the source's name.
func (s *Source) Name() string { return s.opts.name }

// Members returns the names of the sources whose objects the merged
// source owns: the members, in precedence order, then the retired ones
// (WithRetired).
func (s *Source) Members() []string {
	return append(s.read(), s.opts.retired...)
}

// read returns the names of the members read, in precedence order.
func (s *Source) read() []string {
	names := make([]string, len(s.members))
	for i, m := range s.members {
		names[i] = m.Name
	}
	return names
}

// OwnerOf returns the name of the member that owns the user or group with
// this merged id in the last directory Read returned, "" for an id it did
// not hold.
func (s *Source) OwnerOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned[id]
}

// RequestCount sums the request counts of the members that count theirs.
func (s *Source) RequestCount() int64 {
	var n int64
	for _, m := range s.members {
		if c, ok := m.Source.(source.RequestCounter); ok {
			n += c.RequestCount()
		}
	}
	return n
}

// Read reads every member, at once, and merges their directories. If any
// member fails, returns no directory or returns an invalid one, Read
// fails naming it, with the member's error wrapped (it matches the
// member's source.ErrUnavailable, ErrIncomplete or ErrInvalid, or the
// context's error).
func (s *Source) Read(ctx context.Context) (*source.Directory, error) {
	return s.readMerged(ctx, nil, false)
}

// ReadAttributes is Read, except that the merged users' and groups'
// Attributes hold only the attributes named in names, matched ignoring
// case (none when names is empty): the merged directory is Read's with
// the others left out. A member that is a source.AttributeSelector is
// asked for those and for the match attributes (WithMatch), which the
// merge reads; a member that is not is read whole and cut to them as it
// returns.
func (s *Source) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	return s.readMerged(ctx, names, true)
}

// readMerged reads every member and merges their directories: whole, or
// with only the attributes named when selecting.
func (s *Source) readMerged(ctx context.Context, names []string, selecting bool) (*source.Directory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The members keep the match attributes too, so that people match
	// as in a whole read; the merged directory then keeps names only.
	memberNames := append(slices.Clip(names), s.opts.match...)
	dirs := make([]*source.Directory, len(s.members))
	err := parallel.Run(ctx, len(s.members), len(s.members), func(ctx context.Context, i int) error {
		m := s.members[i]
		sel, ok := m.Source.(source.AttributeSelector)
		read := m.Source.Read
		if selecting && ok {
			read = func(ctx context.Context) (*source.Directory, error) { return sel.ReadAttributes(ctx, memberNames) }
		}
		dir, err := read(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("source %q: %w", m.Name, err)
		case dir == nil:
			return fmt.Errorf("source %q: %w: returned no directory", m.Name, source.ErrIncomplete)
		}
		if err := dir.Validate(); err != nil {
			return fmt.Errorf("source %q: %w", m.Name, err)
		}
		if selecting && !ok {
			// Checked whole, as Read checks it, then cut.
			source.NewAttrFilter(memberNames).Select(dir)
		}
		dirs[i] = dir
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, owned := s.merge(dirs)
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("merged directory: %w", err)
	}
	if selecting {
		source.NewAttrFilter(names).Select(out)
	}
	s.mu.Lock()
	s.owned = owned
	s.mu.Unlock()
	s.opts.log.Info("sources merged", zap.Strings("sources", s.read()),
		zap.Int("users", len(out.Users)), zap.Int("groups", len(out.Groups)))
	return out, nil
}
