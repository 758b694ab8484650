// Package target defines what provsync needs of a SCIM service provider:
// the Target interface the sync engine drives, read options, and the
// sentinel errors every target maps its failures onto.
//
// Adapters live in sub-packages (target/netskope); target/targettest holds
// the conformance suite each of them passes.
package target

import (
	"context"
	"iter"

	"github.com/provsync/provsync/scim"
)

// Target is a SCIM 2.0 service provider holding users and groups.
//
// Implementations are safe for concurrent use. Errors match the sentinels
// of this package with errors.Is and keep the provider's detail reachable
// with errors.As(*Error).
type Target interface {
	// ListUsers returns every user the filter matches (all users without
	// one), reading page by page to the end.
	ListUsers(ctx context.Context, opts ...ReadOption) ([]scim.User, error)
	// GetUser returns the user with the given id.
	GetUser(ctx context.Context, id string) (*scim.User, error)
	// CreateUser creates u and returns it with the id the target
	// assigned. An implementation may return u as sent with only the id
	// (and meta) filled in rather than decode the whole response; read
	// the user back with GetUser for the form the target stored.
	CreateUser(ctx context.Context, u *scim.User) (*scim.User, error)
	// ReplaceUser replaces the user with the given id by u (PUT).
	ReplaceUser(ctx context.Context, id string, u *scim.User) (*scim.User, error)
	// PatchUser applies ops to the user with the given id.
	PatchUser(ctx context.Context, id string, ops ...scim.PatchOperation) error
	// DeleteUser deletes the user with the given id.
	DeleteUser(ctx context.Context, id string) error

	// ListGroups returns every group the filter matches; members are
	// included only when WithMembers is given.
	ListGroups(ctx context.Context, opts ...ReadOption) ([]scim.Group, error)
	// GetGroup returns the group with the given id; members are included
	// only when WithMembers is given.
	GetGroup(ctx context.Context, id string, opts ...ReadOption) (*scim.Group, error)
	// CreateGroup creates g, members included, and returns it with the
	// id the target assigned, as CreateUser does.
	CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error)
	// ReplaceGroup replaces the group with the given id by g (PUT).
	ReplaceGroup(ctx context.Context, id string, g *scim.Group) (*scim.Group, error)
	// PatchGroup applies ops to the group with the given id.
	PatchGroup(ctx context.Context, id string, ops ...scim.PatchOperation) error
	// DeleteGroup deletes the group with the given id.
	DeleteGroup(ctx context.Context, id string) error

	// AddMembers adds the users with the given ids to a group.
	AddMembers(ctx context.Context, groupID string, userIDs []string) error
	// RemoveMembers removes the users with the given ids from a group.
	RemoveMembers(ctx context.Context, groupID string, userIDs []string) error
}

// Streamer is implemented by targets that can hand over a listing one
// object at a time, as its pages are decoded, instead of as one slice: a
// caller that keeps only part of each object then never holds the whole
// decoded listing.
//
// Each yields the objects the matching Target method returns, in the same
// order. The yielded object is the target's, reused once the loop body
// returns: copy what is kept. A listing that fails yields (nil, err) last;
// some failures (pages that contradict each other) show only after
// objects were yielded, so a caller discards everything it got from a
// listing that ends in an error. Breaking out of the loop stops the
// listing. Only the yielded struct is reused, not the strings and slices
// it points to: a shallow copy keeps an object.
//
// The sync engine prefers these methods to ListUsers and ListGroups: a
// wrapper that embeds a Streamer and changes what those return must
// change these alike.
type Streamer interface {
	// ListUsersSeq yields what ListUsers returns.
	ListUsersSeq(ctx context.Context, opts ...ReadOption) iter.Seq2[*scim.User, error]
	// ListGroupsSeq yields what ListGroups returns.
	ListGroupsSeq(ctx context.Context, opts ...ReadOption) iter.Seq2[*scim.Group, error]
}

// Checker is implemented by targets that can check their configuration
// (address, credentials, permissions) without changing anything.
type Checker interface {
	// Check tells whether the target can be read and written; its error
	// says which part of the configuration is wrong.
	Check(ctx context.Context) error
}

// ReadOptions are the settings of a read; build them with ReadOption.
type ReadOptions struct {
	// Filter restricts a list to the resources it matches.
	Filter scim.Filter
	// Members asks for group members to be returned.
	Members bool
	// Attributes names the only attributes to return ("attributes=").
	Attributes []string
}

// ReadOption sets one setting of a read.
type ReadOption func(*ReadOptions)

// WithFilter restricts a list to the resources f matches.
func WithFilter(f scim.Filter) ReadOption { return func(o *ReadOptions) { o.Filter = f } }

// WithMembers asks for group members to be returned.
func WithMembers() ReadOption { return func(o *ReadOptions) { o.Members = true } }

// WithAttributes asks only for the named attributes (plus id).
func WithAttributes(names ...string) ReadOption {
	return func(o *ReadOptions) { o.Attributes = append(o.Attributes, names...) }
}

// ApplyReadOptions folds opts into a ReadOptions value.
func ApplyReadOptions(opts ...ReadOption) ReadOptions {
	var o ReadOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}
