// Package mapping turns source objects into the SCIM resources a target
// should hold: attribute mappings, scoping, group rules and the matching
// properties that pair source objects with target ones.
//
// Default() is the Netskope default mapping: userName from the UPN (or the
// primary email), one primary work email, given and family name, display
// name, active from the source state, externalId from the source id; groups
// by display name with externalId from the source id and their members.
package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

// ErrMissingAttribute is the cause of an ObjectError for an object that
// lacks an attribute the mapping needs.
var ErrMissingAttribute = errors.New("mapping: required attribute is empty")

// Mapper computes the desired target state from a source directory.
type Mapper interface {
	// Map returns the desired users and groups. An object that cannot
	// be mapped is reported in Desired.Failed, not as an error; the error
	// is for failures of the whole mapping.
	Map(ctx context.Context, dir *source.Directory) (*Desired, error)
}

// Entitlements are what the target already holds that rules and mappings
// may refer to: the display names of its existing groups.
type Entitlements struct {
	// Groups are the display names of the target's groups.
	Groups []string
}

// EntitlementMapper is a Mapper that needs the target's entitlements, such
// as group rules limited to groups that already exist. The engine reads
// the target before mapping and calls MapWith instead of Map.
type EntitlementMapper interface {
	Mapper
	// MapWith is Map with the target's entitlements.
	MapWith(ctx context.Context, dir *source.Directory, ent Entitlements) (*Desired, error)
}

// ReleasingMapper is a Mapper that can drop each source user's own data
// once it has mapped the user, for a caller that owns the directory and
// reads no user's attributes or emails afterwards, as the engine does: a
// directory's users' attributes are most of what a sync cycle holds at
// its peak, and they are not needed once the users are mapped.
type ReleasingMapper interface {
	Mapper
	// MapReleasing is MapWith (Map for a mapper without entitlements),
	// except that it empties each source user's Attributes and sets its
	// Emails to nil as soon as it is done with the user, and hands each
	// source group's Members over to its mapped group instead of copying
	// them (the group's Members are then nil, and the mapped group's may
	// be changed in place). The users' attribute sets and slices are not
	// changed, and ids, names and states stay.
	MapReleasing(ctx context.Context, dir *source.Directory, ent Entitlements) (*Desired, error)
}

// StreamingMapper is a ReleasingMapper that hands each user to its caller
// as soon as it is mapped, so that the caller can take the users it
// needs only a little of instead of receiving them all at once in
// Desired.Users, as the engine does with the users the same as what it
// last wrote: a mapped user is about 570 bytes, so 100,000 of them are
// over 55 MB, most of which a cycle with few changes never reads.
type StreamingMapper interface {
	ReleasingMapper
	// MapStreaming is MapReleasing, except that it calls s.Take with
	// each user it maps into Desired.Users (in scope and mapped without
	// error), in the directory's order, as soon as the user is mapped;
	// a user Take takes (returns true for) is left out of
	// Desired.Users. Desired's other fields, warnings and ScopeSuspect
	// included, are what MapReleasing returns.
	MapStreaming(ctx context.Context, dir *source.Directory, ent Entitlements, s Stream) (*Desired, error)
}

// AttributeReader is a Mapper that says which source attributes
// (source.User.Attributes and source.Group.Attributes) it reads, so that
// a source that can (source.AttributeSelector) reads only those: the
// attributes are about a third of a large directory as read.
type AttributeReader interface {
	Mapper
	// SourceAttributes names every source attribute Map reads, and
	// known is true, when the mapping can tell: a directory whose
	// objects hold only those attributes (compared ignoring case, as
	// source.Directory.ReadAttributesFrom keeps them) maps to the same
	// Desired as the whole directory; an empty names reads none. Known
	// is false when some attribute's name is only known as the mapping
	// runs (an expression that computes the name it reads): the caller
	// must then give Map every attribute.
	SourceAttributes() (names []string, known bool)
}

// Stream is how MapStreaming hands over the users it maps.
type Stream struct {
	// Take is called with each mapped user. It may change the user and
	// takes it by returning true; it must not keep the pointer.
	Take func(u *DesiredUser) bool
	// Room is how many users Desired.Users is first made room for: the
	// caller's count of those it will not take. More grow the slice.
	// Without Take, which keeps every user, room is made for all.
	Room int
}

// keep reports whether a mapped user stays in Desired.Users: a nil
// Take takes none.
func (s Stream) keep(u *DesiredUser) bool { return s.Take == nil || !s.Take(u) }

// release drops what a ReleasingMapper no longer needs of a mapped user.
func release(u *source.User) { u.Attributes, u.Emails = source.Attrs{}, nil }

// mapGroup maps g with the default mapping; take hands g's members over
// to the mapped group (see ReleasingMapper) instead of copying them.
func mapGroup(g *source.Group, take bool) (DesiredGroup, *ObjectError) {
	if !take {
		return DefaultGroup(g)
	}
	members := g.Members
	g.Members = nil
	dg, err := DefaultGroup(g)
	if err == nil {
		dg.Members = members
	} else {
		g.Members = members
	}
	return dg, err
}

// DefaultMapper is the Netskope default mapping. The zero value is ready.
type DefaultMapper struct{}

var (
	_ StreamingMapper = DefaultMapper{}
	_ AttributeReader = DefaultMapper{}
)

// Default returns the Netskope default mapping.
func Default() DefaultMapper { return DefaultMapper{} }

// DefaultUserAttributes are the SCIM user attributes the default mapping
// manages.
func DefaultUserAttributes() []string {
	return []string{scim.PathUserName, scim.PathExternalID, scim.PathDisplayName,
		scim.PathGivenName, scim.PathFamilyName, scim.PathActive, scim.PathEmails}
}

// SourceAttributes returns none, known: the default mapping reads the
// users' and groups' built-in fields only.
func (DefaultMapper) SourceAttributes() ([]string, bool) { return nil, true }

// Map applies the default mapping to every user and group of dir.
func (m DefaultMapper) Map(ctx context.Context, dir *source.Directory) (*Desired, error) {
	return m.mapDir(ctx, dir, false, Stream{})
}

// MapReleasing is Map, dropping each user's attributes and emails once
// mapped (see ReleasingMapper); the default mapping takes no entitlements.
func (m DefaultMapper) MapReleasing(ctx context.Context, dir *source.Directory, _ Entitlements) (*Desired, error) {
	return m.mapDir(ctx, dir, true, Stream{})
}

// MapStreaming is MapReleasing, handing each mapped user to s.Take (see
// StreamingMapper).
func (m DefaultMapper) MapStreaming(ctx context.Context, dir *source.Directory, _ Entitlements, s Stream) (*Desired, error) {
	return m.mapDir(ctx, dir, true, s)
}

// mapDir maps dir, handing each mapped user to s (see Stream).
func (DefaultMapper) mapDir(ctx context.Context, dir *source.Directory, drop bool, s Stream) (*Desired, error) {
	if dir == nil {
		return nil, errors.New("mapping: no directory")
	}
	d := &Desired{
		Users:                  make([]DesiredUser, 0, room(s, len(dir.Users))),
		Groups:                 make([]DesiredGroup, 0, len(dir.Groups)),
		ManagedUserAttributes:  DefaultUserAttributes(),
		ManagedGroupAttributes: []string{scim.PathDisplayName, scim.PathExternalID},
	}
	// One user, mapped anew each time, is what Take is handed: it keeps
	// no pointer to it, and one made per user (Take makes its address
	// escape) was 400 bytes of garbage a user.
	var du DesiredUser
	for i := range dir.Users {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var err *ObjectError
		du, err = DefaultUser(&dir.Users[i])
		if drop {
			release(&dir.Users[i])
		}
		if err != nil {
			d.Failed = append(d.Failed, *err)
			continue
		}
		if s.keep(&du) {
			d.Users = append(d.Users, du)
		}
	}
	for i := range dir.Groups {
		dg, err := mapGroup(&dir.Groups[i], drop)
		if err != nil {
			d.Failed = append(d.Failed, *err)
			continue
		}
		d.Groups = append(d.Groups, dg)
	}
	return d, nil
}

// room is the room first made for the mapped users of a directory of n.
func room(s Stream, n int) int {
	if s.Take == nil {
		return n
	}
	return min(s.Room, n)
}

// DefaultUser maps one source user with the default mapping.
func DefaultUser(u *source.User) (DesiredUser, *ObjectError) {
	email := u.PrimaryEmail()
	userName := u.UserName
	if userName == "" {
		userName = email
	}
	if userName == "" {
		return DesiredUser{}, &ObjectError{Kind: "user", SourceID: u.ID, Field: "userName",
			Err: fmt.Errorf("%w: the user has neither a user principal name nor an email", ErrMissingAttribute)}
	}
	if email == "" && strings.Contains(userName, "@") {
		email = userName
	}
	display := u.DisplayName
	if display == "" {
		display = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	if display == "" {
		display = userName
	}
	su := scim.User{
		ExternalID:  u.ID,
		UserName:    userName,
		DisplayName: display,
		Active:      scim.Bool(u.State == source.StateActive),
	}
	if u.GivenName != "" || u.FamilyName != "" {
		su.Name = &scim.Name{GivenName: u.GivenName, FamilyName: u.FamilyName}
	}
	if email != "" {
		su.Emails = []scim.Email{{Value: email, Type: "work", Primary: true}}
	}
	du := DesiredUser{SourceID: u.ID, User: su}
	du.Event, du.Since = eventOf(u)
	return du, nil
}

// eventOf is the policy event of a source user's state, and when it
// happened if the source says.
func eventOf(u *source.User) (Event, time.Time) {
	switch u.State {
	case source.StateSuspended:
		return EventSuspended, time.Time{}
	case source.StateDeleted:
		return EventDeleted, u.DeletedAt
	}
	return EventNone, time.Time{}
}

// DefaultGroup maps one source group with the default mapping.
func DefaultGroup(g *source.Group) (DesiredGroup, *ObjectError) {
	if strings.TrimSpace(g.DisplayName) == "" {
		return DesiredGroup{}, &ObjectError{Kind: "group", SourceID: g.ID, Field: "displayName",
			Err: fmt.Errorf("%w: the group has no display name", ErrMissingAttribute)}
	}
	return DesiredGroup{
		SourceID: g.ID,
		Group:    scim.Group{DisplayName: g.DisplayName, ExternalID: g.ID},
		Members:  append([]string(nil), g.Members...),

		MembersNote: g.MembersNote,
	}, nil
}
