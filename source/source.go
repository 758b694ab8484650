package source

import (
	"context"
	"errors"
)

// Sentinel errors. Adapters wrap their failures so that callers can decide
// with errors.Is without knowing the provider; the provider's own error
// stays reachable with errors.As.
var (
	// ErrInvalid: the input is malformed: a directory that fails Validate,
	// a fixture file that does not parse, a bad configuration, a cursor the
	// source cannot read.
	ErrInvalid = errors.New("source: invalid")
	// ErrIncomplete: the source could not read everything in scope (a
	// page failed, a listing was cut short). Nothing read is usable.
	ErrIncomplete = errors.New("source: incomplete read")
	// ErrUnavailable: the source could not be reached, failed, or
	// throttled the caller past its retries. Retrying later may succeed.
	ErrUnavailable = errors.New("source: unavailable")
	// ErrCursorExpired: the cursor given to ReadChanges is too old or no
	// longer known to the provider (Graph's 410 Gone or syncStateNotFound).
	// The caller falls back to a full read.
	ErrCursorExpired = errors.New("source: cursor expired")
)

// Source reads the users and groups in scope from one identity provider.
//
// Implementations are safe for concurrent use and keep no goroutine running
// after a call returns.
type Source interface {
	// Name identifies the source in logs and plans, such as "entra" or
	// "file:users.yaml". It carries no secret.
	Name() string

	// Read returns the complete set of users and groups in scope. The
	// directory passes Validate: ids are unique and every member a group
	// lists is a user of the directory.
	//
	// Any failure, including one partway through paging, returns a nil
	// directory and an error (wrapping ErrUnavailable, ErrIncomplete,
	// ErrInvalid or the context's error), so that the engine never mistakes
	// a partial read for users who left scope. The caller owns the
	// returned directory.
	Read(ctx context.Context) (*Directory, error)
}

// Incremental is an optional capability of a Source whose provider can
// report changes since a point in time (Graph delta queries). Callers
// discover it with a type assertion.
type Incremental interface {
	Source

	// ReadChanges returns what changed since cursor. An empty cursor asks
	// for a full read: the result has Full set, holds every object in
	// scope, and carries a cursor for the next call.
	//
	// A cursor the provider no longer honours yields either an error
	// matching ErrCursorExpired (the caller then reads again with an empty
	// cursor) or, if the source falls back by itself, a full snapshot with
	// Full set. Like Read, any failure returns nil and an error, never
	// partial changes; a cursor is only returned with a complete result.
	ReadChanges(ctx context.Context, cursor string) (*Changes, error)
}

// AttributeSelector is an optional capability of a Source that can leave
// out of a read the attributes its caller does not read, as a provider's
// API can be asked for some fields only (Google's Directory API's
// projection and fields parameters, Microsoft Graph's $select). The
// engine uses it when its mapping says which attributes it reads
// (mapping.AttributeReader): the default mapping reads none, and at
// 100,000 users the attributes are about a third of a directory as read.
type AttributeSelector interface {
	Source

	// ReadAttributes is Read, except that the users' and groups'
	// Attributes hold only the attributes named in names (none when
	// names is empty). Everything else, the built-in fields included, is
	// what Read returns.
	ReadAttributes(ctx context.Context, names []string) (*Directory, error)
}

// RequestCounter is an optional capability of a Source that counts the
// requests it sends to its provider. A Runner reports the count as a
// metric.
type RequestCounter interface {
	// RequestCount returns how many requests the source has sent since
	// it was opened, retries included.
	RequestCount() int64
}

// Changes is what changed at an Incremental source since a cursor.
//
// Objects are reported whole, not as attribute or member deltas: an
// upserted group carries its complete member list, so adapters whose feed
// reports member additions and removals resolve them before returning.
type Changes struct {
	// Users are the users that were added to scope or changed, in full.
	Users []User
	// Groups are the groups that were added to scope or changed, in full,
	// with their complete member lists.
	Groups []Group
	// RemovedUsers are the ids of users that left scope or were removed
	// from the provider. A user deleted but still reported (Google) is an
	// upsert with StateDeleted instead.
	RemovedUsers []string
	// RemovedGroups are the ids of groups that left scope.
	RemovedGroups []string
	// Cursor is the position to pass to the next ReadChanges call. It is
	// opaque and may contain provider URLs but never a credential.
	Cursor string
	// Full means this is a complete snapshot: Users and Groups hold
	// everything in scope, and anything not in them has left scope. A
	// read with an empty cursor, or a source falling back from an expired
	// cursor, sets it.
	Full bool
}

// Empty reports whether the changes contain no object and are not a full
// snapshot.
func (c *Changes) Empty() bool {
	return !c.Full && len(c.Users) == 0 && len(c.Groups) == 0 &&
		len(c.RemovedUsers) == 0 && len(c.RemovedGroups) == 0
}

// Merged is an optional capability of a Source that merges the
// directories of several sources into one. The ids of its users and
// groups are unique across the sources it merges, and OwnerOf names the
// source that owns each of them, so that the engine records, per link,
// which source owns the target object.
type Merged interface {
	Source

	// OwnerOf returns the name of the source that owns the user or group
	// with this id in the merged directory, or "" for an id the merged
	// directory does not hold.
	OwnerOf(id string) string
}
