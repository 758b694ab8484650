package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// DefaultRetryLimit is how many times a Runner tries a failing change
// before it reports it as a persistent failure and stops retrying it.
const DefaultRetryLimit = 5

// EscrowEntry is a change that failed, kept in the state (Snapshot.Escrow)
// so that a Runner retries it with a backoff and, after its retry limit,
// reports it as a persistent failure. The entry holds the change's digest:
// once the source or the target changes what the change would do, the
// entry is dropped and the new change goes ahead at once.
type EscrowEntry struct {
	// Action and Object name the change that failed.
	Action Action `json:"action"`
	Object Ref    `json:"object"`
	// Digest identifies what the change did: its action, object, values
	// and members. It is a hash; it holds no value.
	Digest string `json:"digest"`
	// Attempts counts the attempts that failed in a row.
	Attempts int `json:"attempts"`
	// LastError is the error of the last attempt.
	LastError string `json:"lastError"`
	// LastAttempt is when the last attempt's cycle started.
	LastAttempt time.Time `json:"lastAttempt"`
	// NextAttempt is the earliest cycle start that retries the change;
	// zero for a persistent failure, which is not retried.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// Persistent is set once Attempts reached the retry limit.
	Persistent bool `json:"persistent,omitempty"`
}

// escrowConfig is how a Runner's plan and apply treat failed changes.
type escrowConfig struct {
	now       time.Time     // the cycle's start
	base      time.Duration // the wait after a first failure
	maxWait   time.Duration // the longest wait
	limit     int           // attempts before a failure is persistent
	failShare float64       // above this share of failures nothing is counted
	only      bool          // plan only escrowed changes, ignoring their backoff
}

// escrowKey names a change in the escrow: its object and action.
func escrowKey(c *Change) string {
	id := c.Object.SourceID
	if id == "" {
		id = "target:" + c.Object.TargetID
	}
	return string(c.Object.Kind) + ":" + id + ":" + string(c.Action)
}

// changeDigest identifies what a change does, leaving out the words that
// explain it.
func changeDigest(c *Change) string {
	d := *c
	d.Reason, d.ApprovalID = "", ""
	// A change held in a plan's compact form digests as its plain form,
	// so that a create whose user or members changed at the source is
	// another change, whichever form either plan held it in.
	d.User, _ = c.userToCreate()
	d.Members, d.packed, d.packedUser = c.memberRefs(), nil, nil
	b, err := json.Marshal(&d)
	if err != nil { // values are JSON by construction; a change that is not is its own digest
		b = fmt.Appendf(nil, "%#v", d)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// applyEscrow holds back the changes of p that failed before and wait
// for their retry, or failed persistently, and drops the escrow entries
// whose change the source or the target has since made different or
// needless. With cfg.only, p keeps just the changes that failed before.
func applyEscrow(p *Plan, snap *Snapshot, cfg *escrowConfig) {
	p.escrow = cfg
	if len(snap.Escrow) == 0 && !cfg.only {
		return
	}
	seen := map[string]bool{}
	kept := p.Changes[:0:0]
	for i := range p.Changes {
		c := &p.Changes[i]
		k := escrowKey(c)
		e, ok := snap.Escrow[k]
		if !ok {
			if !cfg.only {
				kept = append(kept, *c)
			}
			continue
		}
		seen[k] = true
		switch {
		case e.Digest != changeDigest(c): // the change is another now: it goes ahead
			p.escrowDrop = append(p.escrowDrop, k)
			kept = append(kept, *c)
		case cfg.only || !e.Persistent && !e.NextAttempt.After(cfg.now.Add(cfg.base/2)):
			// Due (a cycle may start up to half an interval early, by
			// jitter), or retried on request.
			kept = append(kept, *c)
		default:
			p.Escrowed = append(p.Escrowed, e)
		}
	}
	if p.Complete { // a change no longer planned needs no retry
		for k := range snap.Escrow {
			if !seen[k] {
				p.escrowDrop = append(p.escrowDrop, k)
			}
		}
		slices.Sort(p.escrowDrop)
	}
	if len(kept) < len(p.Changes) {
		p.Changes = kept
		p.Complete = false
		if len(p.Escrowed) > 0 {
			p.Reasons = append(p.Reasons, fmt.Sprintf("%d changes that failed before are held back (escrow) until their retry, or until the source or the target changes them", len(p.Escrowed)))
		}
		if cfg.only {
			p.Reasons = append(p.Reasons, "only the changes that failed before are planned (retry failed)")
		}
		p.summarize(p.Summary.UnchangedUsers, p.Summary.UnchangedGroups)
	}
	p.escrowView = maps.Clone(snap.Escrow)
	for _, k := range p.escrowDrop {
		delete(p.escrowView, k)
	}
}

// retries is how many earlier attempts of c failed, by the escrow the
// plan was made from.
func (p *Plan) retries(c *Change) int {
	if e, ok := p.escrowView[escrowKey(c)]; ok && e.Digest == changeDigest(c) {
		return e.Attempts
	}
	return 0
}

// escrowChanged reports whether applying p with res changes the escrow
// in snap.
func escrowChanged(snap *Snapshot, p *Plan, res *Result) bool {
	if p.escrow == nil {
		return false
	}
	if len(p.escrowDrop) > 0 {
		return true
	}
	for i := range res.Outcomes {
		switch res.Outcomes[i].Status {
		case StatusFailed:
			return true
		case StatusApplied:
			if _, ok := snap.Escrow[escrowKey(&p.Changes[i])]; ok {
				return true
			}
		}
	}
	return false
}

// recordEscrow updates snap's escrow from the outcomes of p: an applied
// change leaves it, a failed one enters it or counts one more attempt.
// A cycle that failed as a whole (more than the failure share failed, or
// the target refused the credentials) counts no attempt: the Runner's
// quarantine backs off from it. It leaves the result's view of the escrow
// in res.
func recordEscrow(snap *Snapshot, p *Plan, res *Result) {
	cfg := p.escrow
	if cfg == nil {
		return
	}
	for _, k := range p.escrowDrop {
		delete(snap.Escrow, k)
	}
	tooMany, _, _ := tooManyFailures(p, res, cfg.failShare)
	count := !tooMany && unauthorized(res) == nil
	for i := range res.Outcomes {
		o, c := &res.Outcomes[i], &p.Changes[i]
		k := escrowKey(c)
		switch {
		case o.Status == StatusApplied:
			delete(snap.Escrow, k)
		case o.Status == StatusFailed && count:
			d := changeDigest(c)
			e, ok := snap.Escrow[k]
			if !ok || e.Digest != d {
				e = EscrowEntry{Action: c.Action, Object: c.Object, Digest: d}
			}
			e.Attempts++
			e.LastError, e.LastAttempt = o.Error, cfg.now
			e.Persistent = e.Attempts >= cfg.limit
			e.NextAttempt = time.Time{}
			if !e.Persistent {
				e.NextAttempt = cfg.now.Add(escrowWait(cfg, e.Attempts))
			}
			if snap.Escrow == nil {
				snap.Escrow = map[string]EscrowEntry{}
			}
			snap.Escrow[k] = e
		}
	}
	res.escrow = maps.Clone(snap.Escrow)
	if res.escrow == nil {
		res.escrow = map[string]EscrowEntry{}
	}
}

// escrowWait is the wait after the given number of failed attempts: the
// base, doubled with each attempt after the first, at most maxWait.
func escrowWait(cfg *escrowConfig, attempts int) time.Duration {
	d := cfg.base
	for i := 1; i < attempts && d < cfg.maxWait; i++ {
		d *= 2
	}
	return min(d, cfg.maxWait)
}

// tooManyFailures reports whether more than share of the changes p
// applied with res failed, and how many of how many. Retries of changes
// that failed before are left out: a cycle that retries one change and
// nothing else would otherwise fail as a whole, count no attempt, and
// retry it forever.
func tooManyFailures(p *Plan, res *Result, share float64) (bool, int, int) {
	failed, total := 0, 0
	for i := range res.Outcomes {
		if p != nil && i < len(p.Changes) && p.retries(&p.Changes[i]) > 0 {
			continue
		}
		total++
		if res.Outcomes[i].Status == StatusFailed {
			failed++
		}
	}
	return total > 0 && float64(failed) > share*float64(total), failed, total
}

// persistentFailures lists the escrow's persistent failures, by object.
func persistentFailures(escrow map[string]EscrowEntry) []EscrowEntry {
	var out []EscrowEntry
	for _, k := range slices.Sorted(maps.Keys(escrow)) {
		if escrow[k].Persistent {
			out = append(out, escrow[k])
		}
	}
	return out
}

// clearEscrow forgets the state's failed changes. The caller holds e.mu.
func (e *Engine) clearEscrow(ctx context.Context) error {
	snap, err := e.load(ctx)
	if err != nil {
		return err
	}
	if len(snap.Escrow) == 0 {
		return nil
	}
	snap.Escrow = nil
	snap.Serial++
	if err := e.save(ctx, snap); err != nil {
		return fmt.Errorf("sync: clear the escrow: %w", err)
	}
	return nil
}
