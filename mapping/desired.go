package mapping

import (
	"fmt"
	"time"

	"github.com/provsync/provsync/scim"
)

// Event is why a desired user differs from a plain active account: the
// source's state carried through mapping so policy can act on it.
type Event string

// Events the sync policy distinguishes.
const (
	// EventNone: the user is active at the source and in scope.
	EventNone Event = ""
	// EventSuspended: the source suspended or disabled the user.
	EventSuspended Event = "suspended"
	// EventDeleted: the source deleted the user (soft or hard).
	EventDeleted Event = "deleted"
)

// DesiredUser is one source user as it should exist in the target.
type DesiredUser struct {
	// SourceID is the stable id of the user at the source.
	SourceID string
	// User is the SCIM user the mapping produced; ID is empty.
	User scim.User
	// Event is set when the source suspended or deleted the user.
	Event Event
	// CreateOnly names attributes (SCIM paths) set on create and never
	// updated afterwards.
	CreateOnly []string
	// Since is when the source's event happened, if the source says
	// (Google's deletion time); policy delays count from it.
	Since time.Time
}

// DesiredGroup is one group as it should exist in the target.
type DesiredGroup struct {
	// SourceID is the stable key of the group: the source group's id, or
	// a rule's group key for groups made by group rules.
	SourceID string
	// Group is the SCIM group the mapping produced, without members.
	Group scim.Group
	// Members are the source ids of the users that belong to the group.
	Members []string
	// MembersNote is the source group's MembersNote: why its members are
	// what they are, quoted in the plan's reasons.
	MembersNote string
}

// ObjectError is a mapping failure for one object. The engine leaves that
// object alone rather than guessing: it is neither created, updated nor
// deprovisioned.
type ObjectError struct {
	// Kind is "user" or "group".
	Kind string
	// SourceID is the object's id at the source.
	SourceID string
	// Field is the attribute or rule that failed, if known.
	Field string
	// Err is the cause.
	Err error
}

// Error names the object and the field.
func (e *ObjectError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s %q: %s: %v", e.Kind, e.SourceID, e.Field, e.Err)
	}
	return fmt.Sprintf("%s %q: %v", e.Kind, e.SourceID, e.Err)
}

// Unwrap returns the cause.
func (e *ObjectError) Unwrap() error { return e.Err }

// Desired is the target state a mapping computed from a source directory.
type Desired struct {
	// Users in scope, keyed by nothing: order follows the source.
	Users []DesiredUser
	// Groups in scope.
	Groups []DesiredGroup
	// Failed are objects that could not be mapped; the engine leaves
	// their target counterparts untouched.
	Failed []ObjectError
	// ManagedUserAttributes are the SCIM paths the mapping owns; the
	// engine compares and updates only these.
	ManagedUserAttributes []string
	// ManagedGroupAttributes are the group SCIM paths the mapping owns.
	ManagedGroupAttributes []string
	// Warnings are likely mistakes in the rules that only the data
	// reveals, each naming the filter or rule and the attribute or group:
	// a scoping filter clause or group rule condition on an attribute no
	// source user has, or a member of test naming no source group. They
	// do not stop a plan.
	Warnings []string
	// ScopeSuspect is set when the scoping filters accepted none of the
	// directory's users and Warnings name a filter that can accept no
	// one: most likely a mistake rather than everyone leaving scope. The
	// engine holds such a plan for confirmation.
	ScopeSuspect bool
}
