package sync

import "fmt"

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
	for name, l := range map[string]Limit{"userLimit": p.UserLimit, "groupLimit": p.GroupLimit} {
		if l.MaxCount < 0 || l.MaxPercent < 0 || l.Floor < 0 {
			return fmt.Errorf("sync: policy %s: values must not be negative", name)
		}
	}
	return nil
}
