package sync

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

// ErrUnknownApproval is returned by Approve and Reject for an id the
// state holds no held change for.
var ErrUnknownApproval = errors.New("sync: no held change with that id")

// ApprovalStatus is where a held change stands.
type ApprovalStatus string

// Approval statuses.
const (
	// ApprovalPending: held, waiting for a decision.
	ApprovalPending ApprovalStatus = "pending"
	// ApprovalApproved: the next plan proposes it and Apply carries it out.
	ApprovalApproved ApprovalStatus = "approved"
	// ApprovalRejected: not proposed again while the source stays the
	// same; a change at the source makes a new change to decide on.
	ApprovalRejected ApprovalStatus = "rejected"
)

// Approval is a change that policy holds for an administrator's decision,
// as OneLogin's "require admin approval" holds creates, updates and
// deletes. Its ID is a digest of the change's action, object and content:
// the same change planned again has the same ID, and a different one (the
// source changed) has a new ID.
type Approval struct {
	ID     string         `json:"id"`
	Status ApprovalStatus `json:"status"`
	Change Change         `json:"change"`
	// FirstSeen is when a plan first held the change; Decided when it was
	// approved or rejected.
	FirstSeen time.Time `json:"firstSeen"`
	Decided   time.Time `json:"decided,omitzero"`
}

// changeID is the digest that identifies a change for approval: action,
// source id and key, and what the change would write. Target ids and
// before-values are left out, so only a change of what is desired makes a
// new id.
func changeID(c *Change) string {
	after := make([]any, 0, len(c.Attributes))
	for _, a := range c.Attributes {
		after = append(after, []any{a.Path, a.After})
	}
	members := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		members = append(members, m.SourceID+"|"+m.Key)
	}
	slices.Sort(members)
	b, _ := json.Marshal([]any{c.Action, c.Object.Kind, c.Object.SourceID, c.Object.Key, c.User, c.Group, after, members})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// holdForApproval moves the changes whose action policy sends for approval
// out of p.Changes, unless approved: pending and new ones go to p.Held,
// rejected ones are dropped (and listed in p.Held as rejected). Members
// that refer to a user whose creation is held are taken out of the other
// changes, since that user will not exist.
func holdForApproval(p *Plan, in planInput) {
	if len(in.policy.RequireApproval) == 0 {
		return
	}
	var keep []Change
	heldUsers, heldGroups := map[string]bool{}, map[string]bool{}
	for _, c := range p.Changes {
		if !slices.Contains(in.policy.RequireApproval, c.Action) {
			keep = append(keep, c)
			continue
		}
		id := changeID(&c)
		prev := in.snap.Approvals[id]
		if prev != nil && prev.Status == ApprovalApproved {
			c.ApprovalID = id
			keep = append(keep, c)
			continue
		}
		a := Approval{ID: id, Status: ApprovalPending, Change: c, FirstSeen: in.now}
		if prev != nil {
			a.Status, a.FirstSeen, a.Decided = prev.Status, prev.FirstSeen, prev.Decided
		}
		p.Held = append(p.Held, a)
		// A user or group that is neither created nor adopted until the
		// change is approved is not the engine's: no membership change
		// may name it meanwhile.
		switch {
		case c.Action == ActionCreateUser || (c.Adopt && c.Object.Kind == KindUser):
			heldUsers[c.Object.SourceID] = true
		case c.Adopt && c.Object.Kind == KindGroup:
			heldGroups[c.Object.SourceID] = true
		}
	}
	if len(heldUsers) > 0 || len(heldGroups) > 0 {
		out := keep[:0]
		for _, c := range keep {
			if (c.Action == ActionAddMembers || c.Action == ActionRemoveMembers) && heldGroups[c.Object.SourceID] {
				continue
			}
			if c.Action == ActionCreateGroup || c.Action == ActionAddMembers {
				c.Members = slices.DeleteFunc(slices.Clone(c.Members), func(m Ref) bool { return heldUsers[m.SourceID] })
				if c.Action == ActionAddMembers && len(c.Members) == 0 {
					continue
				}
			}
			out = append(out, c)
		}
		keep = out
	}
	p.Changes = keep
}

// recordApprovals updates the snapshot's approvals after an apply: held
// changes not yet known become pending; approved changes that applied are
// forgotten; and, after a complete plan, decisions about changes the plan
// no longer contains are forgotten too (the source changed or the target
// caught up).
func recordApprovals(snap *Snapshot, p *Plan, res *Result) {
	if len(p.Held) == 0 && len(snap.Approvals) == 0 {
		return
	}
	if snap.Approvals == nil {
		snap.Approvals = map[string]*Approval{}
	}
	seen := map[string]bool{}
	for i := range p.Held {
		h := p.Held[i]
		seen[h.ID] = true
		if _, ok := snap.Approvals[h.ID]; !ok {
			snap.Approvals[h.ID] = &h
		}
	}
	for i, c := range p.Changes {
		if c.ApprovalID == "" {
			continue
		}
		seen[c.ApprovalID] = true
		if res != nil && i < len(res.Outcomes) && res.Outcomes[i].Status == StatusApplied {
			delete(snap.Approvals, c.ApprovalID)
		}
	}
	if p.Complete {
		for id := range snap.Approvals {
			if !seen[id] {
				delete(snap.Approvals, id)
			}
		}
	}
}

// Approvals lists the changes held for approval, pending, approved and
// rejected, oldest first.
func (e *Engine) Approvals(ctx context.Context) ([]Approval, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Approval, 0, len(snap.Approvals))
	for _, a := range snap.Approvals {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Approval) int {
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Approve approves held changes by id; the next plan proposes them.
func (e *Engine) Approve(ctx context.Context, ids ...string) error {
	return e.decide(ctx, ApprovalApproved, ids)
}

// Reject rejects held changes by id; they are not proposed again until
// the source changes what they would do.
func (e *Engine) Reject(ctx context.Context, ids ...string) error {
	return e.decide(ctx, ApprovalRejected, ids)
}

// decide records decisions. It waits for a plan or apply of the engine
// to finish, and its save is a compare-and-swap, so a decision is never
// overwritten by an apply's save.
func (e *Engine) decide(ctx context.Context, status ApprovalStatus, ids []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap, err := e.load(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		a, ok := snap.Approvals[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownApproval, id)
		}
		a.Status, a.Decided = status, e.now()
	}
	snap.Serial++
	return e.save(ctx, snap)
}

// ErrNoRules is returned by AffectedUsers when the engine's mapper has no
// group rules to preview.
var ErrNoRules = errors.New("sync: the mapper has no group rules")

// rulePreviewer is a mapper that can list the users one group rule acts
// on (mapping.RuleMapper).
type rulePreviewer interface {
	AffectedUsers(dir *source.Directory, rule int) ([]mapping.Affected, error)
}

// AffectedUsers reads the source and lists the users group rule i of the
// engine's mapper puts into groups, and which groups, as OneLogin's "Show
// Affected Users" does before a rule is saved. It changes nothing. The
// source is read as a plan's full read is: only the attributes the
// mapping reads, which its scope and rules are among, when both can.
func (e *Engine) AffectedUsers(ctx context.Context, rule int) ([]mapping.Affected, error) {
	rp, ok := e.mapper.(rulePreviewer)
	if !ok {
		return nil, ErrNoRules
	}
	dir, err := e.readFull(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSourceRead, named(e.source.Name(), err))
	}
	return rp.AffectedUsers(dir, rule)
}
