package sync

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
)

// Conflict is a source user or group the engine does not create because
// a target object it may not adopt holds its userName (displayName):
// adoption is off, the object belongs to another source object, or it
// carries another engine's owner marker. A drift check that finds such
// an object, or a create that meets 409 on it, records the conflict
// (Snapshot.Conflicts), and the plans between drift checks report it as a
// problem instead of sending the create again. Each drift check decides
// afresh: the object gone, the source object is created; adoptable, it
// is adopted. A plan between drift checks sends the create again (and
// adopts on its 409) once the policy allows adopting an object that only
// the policy held back.
type Conflict struct {
	// Kind and SourceID name the source object not created.
	Kind     Kind   `json:"kind"`
	SourceID string `json:"sourceId"`
	// Key is its userName (displayName) when the conflict was found; the
	// record stands only while the source object keeps it.
	Key string `json:"key"`
	// TargetID and TargetKey name the object in the target.
	TargetID  string `json:"targetId"`
	TargetKey string `json:"targetKey,omitempty"`
	// Foreign names the source that owns the target object, when it
	// carries another engine's owner marker or a shared state links it
	// there.
	Foreign string `json:"foreign,omitempty"`
	// Policy is set when only the policy (adoption off, or a suspended
	// user while Policy.AdoptSuspended is off) keeps the target object
	// from being adopted.
	Policy bool `json:"policy,omitempty"`
	// Message says why the target object is left alone.
	Message string `json:"message"`
	// Since is when the conflict was found.
	Since time.Time `json:"since"`
}

// conflictKey is the key of a conflict in Snapshot.Conflicts.
func conflictKey(kind Kind, sourceID string) string { return intentKey(kind, sourceID) }

// keyAttr names the attribute a kind's objects are matched by.
func keyAttr(kind Kind) string {
	if kind == KindGroup {
		return scim.PathDisplayName
	}
	return scim.PathUserName
}

// problem is the plan problem that reports c.
func (c Conflict) problem() Problem {
	return Problem{Object: Ref{Kind: c.Kind, SourceID: c.SourceID, TargetID: c.TargetID, Key: c.Key},
		Message: fmt.Sprintf("not created, as target %s id=%s (%s %q) is in the way: %s; the next drift check (or a policy that allows adopting it) decides again",
			c.Kind, c.TargetID, keyAttr(c.Kind), c.TargetKey, c.Message)}
}

// conflict returns the conflict recorded for source object (kind,
// sourceID) named key that this plan, between drift checks, still
// reports instead of planning its create (inactive: a user created
// inactive). A drift check reads the target itself and reports none.
func (in *planInput) conflict(kind Kind, sourceID, key string, inactive bool) (Conflict, bool) {
	if len(in.snap.Conflicts) == 0 {
		return Conflict{}, false // no key made: a plan asks for every source object
	}
	c, ok := in.snap.Conflicts[conflictKey(kind, sourceID)]
	if in.drift || !ok || !strings.EqualFold(c.Key, key) {
		return Conflict{}, false
	}
	if c.Policy && in.policy.Adopt && (!inactive || in.policy.AdoptSuspended) {
		return Conflict{}, false // the policy lets the create's 409 adopt the object now
	}
	return c, true
}

// leftAlone reports source object (kind, sourceID) named key, which
// matched target object ref.TargetID named targetKey that it may not
// adopt (msg says why; foreign names the target object's owner if
// another source's; policy: only the policy forbids it), as a problem
// about field. At a drift check, when the source object has no link, it
// also records the conflict, so that the plans until the next drift check
// report it without sending its create.
func (in *planInput) leftAlone(p *Plan, ref Ref, key, targetKey, field, foreign string, policy bool, msg string) {
	links := in.snap.Users
	if ref.Kind == KindGroup {
		links = in.snap.Groups
	}
	if _, linked := links[ref.SourceID]; !in.drift || linked {
		p.Problems = append(p.Problems, Problem{Object: ref, Field: field, Message: msg})
		return
	}
	c := Conflict{Kind: ref.Kind, SourceID: ref.SourceID, Key: key, TargetID: ref.TargetID, TargetKey: targetKey,
		Foreign: foreign, Policy: policy, Message: msg, Since: in.now}
	p.keepConflict(c)
	pr := c.problem()
	pr.Object, pr.Field = ref, field
	p.Problems = append(p.Problems, pr)
}

// keepConflict records that the plan reports conflict c; Apply stores the
// plan's conflicts in the state.
func (p *Plan) keepConflict(c Conflict) {
	if p.conflicts == nil {
		p.conflicts = map[string]Conflict{}
	}
	p.conflicts[conflictKey(c.Kind, c.SourceID)] = c
}

// keepUnread keeps, in a plan made from a partial source read, the
// stored conflicts of the source objects the read did not yield: it
// speaks only for those it did.
func (p *Plan) keepUnread(in *planInput) {
	if in.complete || len(in.snap.Conflicts) == 0 {
		return
	}
	read := make(map[string]bool, in.userCount()+len(in.desired.Groups))
	for i := range in.userCount() {
		read[conflictKey(KindUser, in.userID(i))] = true
	}
	for i := range in.desired.Groups {
		read[conflictKey(KindGroup, in.desired.Groups[i].SourceID)] = true
	}
	for k, c := range in.snap.Conflicts {
		if !read[k] {
			p.keepConflict(c)
		}
	}
}

// nextConflicts returns the conflicts to store after an apply: those the
// plan reports (for a plan decoded from JSON, which holds none, the
// stored ones), with the ones found by this apply's creates, less those
// of source objects linked since.
func nextConflicts(snap *Snapshot, p *Plan, found map[string]Conflict) map[string]Conflict {
	next := maps.Clone(p.conflicts)
	if !p.conflictsPlanned {
		next = maps.Clone(snap.Conflicts)
	}
	if len(found) > 0 && next == nil {
		next = map[string]Conflict{}
	}
	maps.Copy(next, found)
	for k, c := range next {
		links := snap.Users
		if c.Kind == KindGroup {
			links = snap.Groups
		}
		if _, linked := links[c.SourceID]; linked {
			delete(next, k)
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
		return x.Key == y.Key && x.TargetID == y.TargetID && x.Foreign == y.Foreign && x.Policy == y.Policy && x.Message == y.Message
	})
}
