package sync

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/mapping"
)

// Deprovision is what the engine does to a target user when its source
// user leaves scope, is suspended or is deleted.
type Deprovision string

// Deprovisioning choices.
const (
	// Deactivate sets active=false; the user can be reactivated.
	Deactivate Deprovision = "deactivate"
	// Delete removes the user from the target.
	Delete Deprovision = "delete"
	// Ignore leaves the target user as it is.
	Ignore Deprovision = "none"
)

func (d Deprovision) valid() bool { return d == Deactivate || d == Delete || d == Ignore }

// Limit bounds how many objects of one type a plan may deactivate or
// delete before someone must confirm it.
type Limit struct {
	// MaxCount is the most deprovisions allowed; 0 means no count limit.
	MaxCount int `json:"maxCount" yaml:"maxCount"`
	// MaxPercent is the most deprovisions allowed as a percentage of the
	// objects the engine owns; 0 means no percentage limit.
	MaxPercent float64 `json:"maxPercent" yaml:"maxPercent"`
	// Floor is a count at or below which the percentage is not checked,
	// so a small tenant is not blocked for one departure.
	Floor int `json:"floor" yaml:"floor"`
}

// exceeded reports whether n deprovisions out of owned break the limit,
// and says how.
func (l Limit) exceeded(n, owned int) (string, bool) {
	if n == 0 {
		return "", false
	}
	if l.MaxCount > 0 && n > l.MaxCount {
		return fmt.Sprintf("%d exceeds the limit of %d", n, l.MaxCount), true
	}
	if l.MaxPercent > 0 && n > l.Floor && owned > 0 {
		if pct := 100 * float64(n) / float64(owned); pct > l.MaxPercent {
			return fmt.Sprintf("%d is %.1f%% of the %d owned, over the limit of %.1f%%", n, pct, owned, l.MaxPercent), true
		}
	}
	return "", false
}

// Policy is what the engine may do beyond creating and updating.
type Policy struct {
	// LeftScope applies to a user the engine owns that the source no
	// longer yields. Default Deactivate.
	LeftScope Deprovision `json:"leftScope" yaml:"leftScope"`
	// Suspended applies to a user the source marks suspended. Default
	// Deactivate.
	Suspended Deprovision `json:"suspended" yaml:"suspended"`
	// Deleted applies to a user the source reports deleted. Default
	// Deactivate.
	Deleted Deprovision `json:"deleted" yaml:"deleted"`
	// CreateSuspended creates a user the source marks suspended (Entra
	// accountEnabled false, Google suspended, OneLogin any status but
	// Active) that the target does not have yet, with active=false, as
	// the hosted connectors can. Default false: such a user is skipped
	// until the source activates it. It needs Suspended to be Deactivate
	// or Ignore (creating a user only to delete it makes no sense).
	CreateSuspended bool `json:"createSuspended,omitempty" yaml:"createSuspended"`
	// DeleteGroups deletes owned groups that left scope (groups cannot
	// be deactivated). Default true.
	DeleteGroups bool `json:"deleteGroups" yaml:"deleteGroups"`
	// Adopt lets the engine take over existing target objects that match
	// a source object. Default true. Without it such objects are reported
	// as problems and left alone.
	Adopt bool `json:"adopt" yaml:"adopt"`
	// UserLimit and GroupLimit bound deprovisions per plan.
	UserLimit  Limit `json:"userLimit" yaml:"userLimit"`
	GroupLimit Limit `json:"groupLimit" yaml:"groupLimit"`
	// LeftScopeDeleteAfter, SuspendedDeleteAfter and DeletedDeleteAfter
	// delay a deletion, as Google offers "delete N days after": with the
	// event's choice Deactivate and a positive delay, the user is
	// deactivated at once and deleted once it has stayed deactivated that
	// long. For a user deleted at the source, the delay counts from the
	// source's deletion time when the source reports it (Google's
	// deletionTime). Zero: never deleted.
	LeftScopeDeleteAfter Duration `json:"leftScopeDeleteAfter,omitzero" yaml:"leftScopeDeleteAfter"`
	SuspendedDeleteAfter Duration `json:"suspendedDeleteAfter,omitzero" yaml:"suspendedDeleteAfter"`
	DeletedDeleteAfter   Duration `json:"deletedDeleteAfter,omitzero" yaml:"deletedDeleteAfter"`
	// RequireApproval lists the actions an administrator must approve, as
	// OneLogin's "require admin approval" does for creates, updates and
	// deletes: plans hold such changes (Plan.Held) until Engine.Approve;
	// Engine.Reject keeps one from being proposed again until the source
	// changes. ApprovalFor builds the list from OneLogin's three words.
	RequireApproval []Action `json:"requireApproval,omitempty" yaml:"-"`
}

// ApprovalFor returns the actions behind OneLogin's approval choices:
// "create" (create-user, create-group), "update" (update-user,
// update-group, add-members, remove-members) and "delete"
// (deactivate-user, delete-user, delete-group). An action's own name is
// accepted too.
func ApprovalFor(kinds ...string) ([]Action, error) {
	var out []Action
	for _, k := range kinds {
		var acts []Action
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "create":
			acts = []Action{ActionCreateUser, ActionCreateGroup}
		case "update":
			acts = []Action{ActionUpdateUser, ActionUpdateGroup, ActionAddMembers, ActionRemoveMembers}
		case "delete":
			acts = []Action{ActionDeactivateUser, ActionDeleteUser, ActionDeleteGroup}
		default:
			a := Action(strings.ToLower(strings.TrimSpace(k)))
			if a.phase() > 4 {
				return nil, fmt.Errorf("sync: approval %q: want create, update, delete or an action name", k)
			}
			acts = []Action{a}
		}
		for _, a := range acts {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// deleteAfter is the delay before deleting a user deactivated for event
// ("" for leaving scope).
func (p Policy) deleteAfter(event mapping.Event) time.Duration {
	switch event {
	case mapping.EventSuspended:
		return time.Duration(p.SuspendedDeleteAfter)
	case mapping.EventDeleted:
		return time.Duration(p.DeletedDeleteAfter)
	}
	return time.Duration(p.LeftScopeDeleteAfter)
}

// Duration is a time.Duration written as text: Go's form ("720h",
// "90m") or whole days ("30d").
type Duration time.Duration

// String formats d in days when it is whole days, else as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	return td.String()
}

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "30d" or any time.ParseDuration form.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(n * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a number of days like 30d or a duration like 72h", s)
	}
	*d = Duration(v)
	return nil
}

// DefaultPolicy deactivates users that leave scope, are suspended or
// deleted, deletes groups that leave scope, adopts matching objects, and
// asks for confirmation above 500 deprovisions or 20% of owned objects
// (when more than 10).
func DefaultPolicy() Policy {
	lim := Limit{MaxCount: 500, MaxPercent: 20, Floor: 10}
	return Policy{
		LeftScope: Deactivate, Suspended: Deactivate, Deleted: Deactivate,
		DeleteGroups: true, Adopt: true, UserLimit: lim, GroupLimit: lim,
	}
}

// Validate reports a policy with an unknown choice.
func (p Policy) Validate() error {
	for name, d := range map[string]Deprovision{"leftScope": p.LeftScope, "suspended": p.Suspended, "deleted": p.Deleted} {
		if !d.valid() {
			return fmt.Errorf("sync: policy %s: %q is not one of deactivate, delete, none", name, d)
		}
	}
	if p.CreateSuspended && p.Suspended == Delete {
		return fmt.Errorf("sync: policy createSuspended: suspended is %q; creating suspended users needs %q or %q", Delete, Deactivate, Ignore)
	}
	for name, d := range map[string]Duration{"leftScopeDeleteAfter": p.LeftScopeDeleteAfter,
		"suspendedDeleteAfter": p.SuspendedDeleteAfter, "deletedDeleteAfter": p.DeletedDeleteAfter} {
		if d < 0 {
			return fmt.Errorf("sync: policy %s: %s is negative", name, d)
		}
	}
	for _, a := range p.RequireApproval {
		if a.phase() > 4 {
			return fmt.Errorf("sync: policy requireApproval: unknown action %q", a)
		}
	}
	for name, l := range map[string]Limit{"userLimit": p.UserLimit, "groupLimit": p.GroupLimit} {
		if l.MaxCount < 0 || l.MaxPercent < 0 || l.Floor < 0 {
			return fmt.Errorf("sync: policy %s: values must not be negative", name)
		}
	}
	return nil
}
