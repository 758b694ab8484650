package sync

import (
	"fmt"
	"math"
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

// Unlimited, as a Limit's MaxCount or MaxPercent, removes that bound.
// (Zero keeps the default: a limit is only ever lifted on purpose.)
const Unlimited = -1

// NoFloor, as a Limit's Floor, checks the percentage from the first
// deprovision on.
const NoFloor = -1

// Limit bounds how many deprovisions of one kind (users, groups,
// memberships) a plan may carry before someone must confirm it. The zero
// value of each field means its default, so a Limit built by hand, or
// left out of a Policy, still holds: see DefaultLimit.
type Limit struct {
	// MaxCount is the most deprovisions allowed. 0: the default (500);
	// Unlimited: no count limit.
	MaxCount int `json:"maxCount" yaml:"maxCount"`
	// MaxPercent is the most deprovisions allowed as a percentage of the
	// objects the engine owns. 0: the default (20); Unlimited: no
	// percentage limit.
	MaxPercent float64 `json:"maxPercent" yaml:"maxPercent"`
	// Floor is a count at or below which the percentage is not checked,
	// so a small tenant is not blocked for one departure. 0: the default
	// (10); NoFloor: no floor.
	Floor int `json:"floor" yaml:"floor"`
}

// DefaultLimit is what a zero Limit field stands for: confirmation above
// 500 deprovisions, or above 20% of the owned objects when more than 10.
func DefaultLimit() Limit { return Limit{MaxCount: 500, MaxPercent: 20, Floor: 10} }

// effective fills l's zero fields with the defaults.
func (l Limit) effective() Limit {
	def := DefaultLimit()
	if l.MaxCount == 0 {
		l.MaxCount = def.MaxCount
	}
	if l.MaxPercent == 0 {
		l.MaxPercent = def.MaxPercent
	}
	if l.Floor == 0 {
		l.Floor = def.Floor
	}
	return l
}

// exceeded reports whether n deprovisions out of owned break the limit,
// and says how.
func (l Limit) exceeded(n, owned int) (string, bool) {
	if n == 0 {
		return "", false
	}
	l = l.effective()
	if l.MaxCount != Unlimited && n > l.MaxCount {
		return fmt.Sprintf("%d exceeds the limit of %d", n, l.MaxCount), true
	}
	if l.MaxPercent != Unlimited && n > max(l.Floor, 0) && owned > 0 {
		if pct := 100 * float64(n) / float64(owned); pct > l.MaxPercent {
			return fmt.Sprintf("%d is %.1f%% of the %d owned, over the limit of %.1f%%", n, pct, owned, l.MaxPercent), true
		}
	}
	return "", false
}

// validate reports a bound that is neither a count, a percentage nor one
// of the words for none.
func (l Limit) validate() error {
	if l.MaxCount < 0 && l.MaxCount != Unlimited {
		return fmt.Errorf("maxCount %d: want a count, 0 for the default or Unlimited (-1)", l.MaxCount)
	}
	if l.MaxPercent < 0 && l.MaxPercent != Unlimited || math.IsNaN(l.MaxPercent) {
		return fmt.Errorf("maxPercent %v: want a percentage, 0 for the default or Unlimited (-1)", l.MaxPercent)
	}
	if l.Floor < 0 && l.Floor != NoFloor {
		return fmt.Errorf("floor %d: want a count, 0 for the default or NoFloor (-1)", l.Floor)
	}
	return nil
}

// UnmarshalYAML reads a limit from a configuration file, where a maximum
// may be the word "unlimited" and the floor the word "none". Keys left out
// keep the values l had. (YAML decoders call this form of the method; this
// package imports no YAML code.)
func (l *Limit) UnmarshalYAML(unmarshal func(any) error) error {
	raw := struct {
		MaxCount   limitText `yaml:"maxCount"`
		MaxPercent limitText `yaml:"maxPercent"`
		Floor      limitText `yaml:"floor"`
	}{limitText{word: "unlimited", whole: true}, limitText{word: "unlimited"}, limitText{word: "none", whole: true}}
	if err := unmarshal(&raw); err != nil {
		return err
	}
	if raw.MaxCount.set {
		l.MaxCount = int(raw.MaxCount.v)
	}
	if raw.MaxPercent.set {
		l.MaxPercent = raw.MaxPercent.v
	}
	if raw.Floor.set {
		l.Floor = int(raw.Floor.v)
	}
	return nil
}

// limitText is one bound of a Limit as written in a file: a number not
// below zero, or word for -1 (Unlimited, NoFloor).
type limitText struct {
	word  string
	whole bool // only whole numbers
	set   bool
	v     float64
}

// UnmarshalText reads the number or the word.
func (t *limitText) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.EqualFold(s, t.word) {
		t.v, t.set = -1, true
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) || (t.whole && v != math.Trunc(v)) || v > math.MaxInt32 {
		kind := "a number"
		if t.whole {
			kind = "a whole number"
		}
		return fmt.Errorf("%q: want %s, 0 for the default, or %s", s, kind, t.word)
	}
	t.v, t.set = v, true
	return nil
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
	// AdoptSuspended lets the engine adopt an existing target user whose
	// only match is a user the source marks suspended, and then deactivate
	// it (by Suspended; one adopted in a run is never deleted in that
	// run). Default false: such a user is reported and left alone, so an
	// account made by hand is not deprovisioned on first contact. A match
	// to a user deleted at the source, or out of scope, is never adopted.
	AdoptSuspended bool `json:"adoptSuspended,omitempty" yaml:"adoptSuspended"`
	// UserLimit bounds the users a plan deactivates or deletes, as a
	// count and a percentage of the users the engine owns.
	UserLimit Limit `json:"userLimit" yaml:"userLimit"`
	// GroupLimit bounds the groups a plan deletes, as a count and a
	// percentage of the groups the engine owns.
	GroupLimit Limit `json:"groupLimit" yaml:"groupLimit"`
	// MembershipLimit bounds the memberships a plan removes, as a count
	// and a percentage of the memberships the engine owns (owned users in
	// owned groups). A group deleted removes its owned members'
	// memberships, and they count too.
	MembershipLimit Limit `json:"membershipLimit" yaml:"membershipLimit"`
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
// deleted, deletes groups that leave scope, adopts matching objects (not
// those matching only a user deleted or suspended at the source), and
// asks for confirmation above 500 deprovisions (user deactivations and
// deletions, group deletions, membership removals: each counted apart) or
// above 20% of the owned objects of that kind when more than 10.
func DefaultPolicy() Policy {
	lim := DefaultLimit()
	return Policy{
		LeftScope: Deactivate, Suspended: Deactivate, Deleted: Deactivate,
		DeleteGroups: true, Adopt: true, UserLimit: lim, GroupLimit: lim, MembershipLimit: lim,
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
	for name, l := range map[string]Limit{"userLimit": p.UserLimit, "groupLimit": p.GroupLimit, "membershipLimit": p.MembershipLimit} {
		if err := l.validate(); err != nil {
			return fmt.Errorf("sync: policy %s: %w", name, err)
		}
	}
	return nil
}
