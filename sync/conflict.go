package sync

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

// Conflict is a source user the engine does not create because an
// account it may not adopt holds its userName in the target: adoption is
// off, the account belongs to another source user, or it carries another
// engine's owner marker. A drift check that finds such an account, or a
// create that meets 409 on it, records the conflict (Snapshot.Conflicts),
// and the plans between drift checks report it as a problem instead of
// sending the create again. Each drift check decides afresh: the account
// gone, the user is created; adoptable, it is adopted. A plan between
// drift checks sends the create again (and adopts on its 409) once the
// policy allows adopting an account that only the policy held back.
type Conflict struct {
	// UserName is the source user's userName when the conflict was
	// found; the record stands only while the user keeps it.
	UserName string `json:"userName"`
	// TargetID and TargetUserName name the account in the target.
	TargetID       string `json:"targetId"`
	TargetUserName string `json:"targetUserName,omitempty"`
	// Foreign names the source that owns the account, when it carries
	// another engine's owner marker or a shared state links it there.
	Foreign string `json:"foreign,omitempty"`
	// Policy is set when only the policy (adoption off, or a suspended
	// user while Policy.AdoptSuspended is off) keeps the account from
	// being adopted.
	Policy bool `json:"policy,omitempty"`
	// Message says why the account is left alone.
	Message string `json:"message"`
	// Since is when the conflict was found.
	Since time.Time `json:"since"`
}

// problem is the plan problem that reports c for source user sourceID.
func (c Conflict) problem(sourceID string) Problem {
	return Problem{Object: Ref{Kind: KindUser, SourceID: sourceID, TargetID: c.TargetID, Key: c.UserName},
		Message: fmt.Sprintf("not created, as target user id=%s (userName %q) is in the way: %s; the next drift check (or a policy that allows adopting it) decides again",
			c.TargetID, c.TargetUserName, c.Message)}
}

// conflict returns the conflict recorded for desired user du that this
// plan, between drift checks, still reports instead of planning its
// create. A drift check reads the target itself and reports none.
func (in *planInput) conflict(du *mapping.DesiredUser, createInactive bool) (Conflict, bool) {
	c, ok := in.snap.Conflicts[du.SourceID]
	if in.drift || !ok || !strings.EqualFold(c.UserName, du.User.UserName) {
		return Conflict{}, false
	}
	if c.Policy && in.policy.Adopt && (!createInactive || in.policy.AdoptSuspended) {
		return Conflict{}, false // the policy lets the create's 409 adopt the account now
	}
	return c, true
}

// unadoptable reports desired user du, which matched target user o
// (ref) that it may not adopt (msg says why; foreign names the account's
// owner if another source's; policy: only the policy forbids it), as a
// problem about field. At a drift check, when du has no link, it also
// records the conflict, so that the plans until the next drift check
// report it without sending du's create.
func (in *planInput) unadoptable(p *Plan, du *mapping.DesiredUser, ref Ref, o *scim.User, field, foreign string, policy bool, msg string) {
	if _, linked := in.snap.Users[du.SourceID]; !in.drift || linked {
		p.Problems = append(p.Problems, Problem{Object: ref, Field: field, Message: msg})
		return
	}
	c := Conflict{UserName: du.User.UserName, TargetID: o.ID, TargetUserName: o.UserName,
		Foreign: foreign, Policy: policy, Message: msg, Since: in.now}
	p.keepConflict(du.SourceID, c)
	pr := c.problem(du.SourceID)
	pr.Object, pr.Field = ref, field
	p.Problems = append(p.Problems, pr)
}

// keepConflict records that the plan reports conflict c for source user
// sourceID; Apply stores the plan's conflicts in the state.
func (p *Plan) keepConflict(sourceID string, c Conflict) {
	if p.conflicts == nil {
		p.conflicts = map[string]Conflict{}
	}
	p.conflicts[sourceID] = c
}

// nextConflicts returns the conflicts to store after an apply: those the
// plan reports (for a plan decoded from JSON, which holds none, the
// stored ones), with the ones found by this apply's creates, less those
// of users linked since.
func nextConflicts(snap *Snapshot, p *Plan, found map[string]Conflict) map[string]Conflict {
	next := maps.Clone(p.conflicts)
	if !p.conflictsPlanned {
		next = maps.Clone(snap.Conflicts)
	}
	if len(found) > 0 && next == nil {
		next = map[string]Conflict{}
	}
	maps.Copy(next, found)
	for id := range next {
		if _, linked := snap.Users[id]; linked {
			delete(next, id)
		}
	}
	if len(next) == 0 {
		return nil
	}
	return next
}

// sameConflicts reports whether a and b record the same conflicts.
func sameConflicts(a, b map[string]Conflict) bool {
	return maps.EqualFunc(a, b, func(x, y Conflict) bool {
		return x.UserName == y.UserName && x.TargetID == y.TargetID && x.Foreign == y.Foreign && x.Policy == y.Policy && x.Message == y.Message
	})
}
