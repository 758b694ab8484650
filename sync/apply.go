package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// Errors of Apply.
var (
	// ErrNotApplyable: the plan is marked not applyable, or needs a
	// confirmation that was not given.
	ErrNotApplyable = errors.New("sync: plan is not applyable")
	// ErrStalePlan: the engine's state changed since the plan was made;
	// make a new plan.
	ErrStalePlan = errors.New("sync: plan is stale")
)

// Status is the outcome of one change.
type Status string

// Outcome statuses.
const (
	StatusApplied Status = "applied"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Outcome is what happened to one change of a plan.
type Outcome struct {
	// Change is the change's index in Plan.Changes.
	Change int `json:"change"`
	// Action and Object repeat the change's.
	Action Action `json:"action"`
	Object Ref    `json:"object"`
	// Status is applied, failed or skipped.
	Status Status `json:"status"`
	// TargetID is the object's target id after the change.
	TargetID string `json:"targetId,omitempty"`
	// Note adds detail, such as "adopted after a conflict".
	Note string `json:"note,omitempty"`
	// Error says why the change failed or was skipped.
	Error string `json:"error,omitempty"`
	err   error
}

// Err returns the outcome's error, nil if it was applied.
func (o *Outcome) Err() error { return o.err }

// Result is what Apply did: one outcome per change, in plan order.
type Result struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Outcomes []Outcome `json:"outcomes"`
	Applied  int       `json:"applied"`
	Failed   int       `json:"failed"`
	Skipped  int       `json:"skipped"`

	escrow map[string]EscrowEntry // the escrow after a Runner's apply
	// ownedUsers and ownedGroups count the links after the apply, for
	// metrics.
	ownedUsers, ownedGroups int
}

// Err joins the errors of the failed changes, nil if none failed.
func (r *Result) Err() error {
	var errs []error
	for i := range r.Outcomes {
		if r.Outcomes[i].Status == StatusFailed && r.Outcomes[i].err != nil {
			errs = append(errs, r.Outcomes[i].err)
		}
	}
	return errors.Join(errs...)
}

// SummaryLine describes the result in one line.
func (r *Result) SummaryLine() string {
	return fmt.Sprintf("%d applied, %d failed, %d skipped in %s",
		r.Applied, r.Failed, r.Skipped, r.Finished.Sub(r.Started).Round(time.Millisecond))
}

// Progress reports one finished change to a progress callback.
type Progress struct {
	// Done counts the changes finished so far, Total all of them.
	Done, Total int
	// Outcome is the change just finished.
	Outcome Outcome
}

type applyConfig struct {
	confirm  bool
	progress func(Progress)
}

// ApplyOption sets an option of Apply.
type ApplyOption func(*applyConfig)

// Confirm carries out a plan that a deletion limit holds back.
func Confirm() ApplyOption { return func(c *applyConfig) { c.confirm = true } }

// WithProgress calls fn after each change, from one goroutine at a time.
func WithProgress(fn func(Progress)) ApplyOption { return func(c *applyConfig) { c.progress = fn } }

// applier carries out one plan.
type applier struct {
	e       *Engine
	t       target.Target // the engine's target, guarded if it does not guard its writes itself
	leader  Leader        // the state, if it can stop leading
	leadErr error         // set once the state said it may no longer lead
	plan    *Plan
	cfg     applyConfig
	cancel  context.CancelCauseFunc
	mu      gosync.Mutex
	snap    *Snapshot
	records []Record // every change made to snap, in order, as compacted (see compactRecords)
	// compacted counts the records compactRecords need not look at again:
	// they hold no intent record and no link record of a created object.
	compacted int
	// createdUsers and createdGroups are the source ids of the objects
	// whose link records compactRecords took out of records as created: a
	// replay sets their links as the apply's snapshot holds them.
	createdUsers, createdGroups []string
	recErr                      error // the first failure to store a record
	res                         *Result
	// outcomes are the changes' outcomes, by index, until finish makes
	// the result's of them.
	outcomes []keptOutcome
	done     int // changes reported to the progress callback
	// allUsers and allGroups are the listings adoption falls back on.
	allUsers, allGroups lazyNamed
	// mirrors follows the mirrors of the linked objects the plan writes
	// to, by kind and source id (see trackMirrors).
	mirrors map[string]*mirrorTrack
	// conflicts are the creates that met an account the engine may not
	// adopt, by source user id (see Conflict).
	conflicts map[string]Conflict
	// members are the target ids of the users of the plan's memberTable,
	// by index, as createdGroupMembers resolved them.
	members []resolvedMember
}

// keptOutcome is what an apply keeps of a change's outcome while it runs
// (see finish): the target id of an applied change, the whole outcome of
// any other (failed or skipped, or applied with a note); the zero value
// is a change not reached. At 32 bytes where an Outcome takes 168, the
// outcomes of an initial sync of 100,000 users (105,000 changes) take
// 3 MB instead of 18 MB until the apply is done.
type keptOutcome struct {
	targetID string
	whole    *Outcome
	applied  bool
}

// keepOutcome returns what the apply keeps of out, the outcome of a change.
func keepOutcome(out *Outcome) keptOutcome {
	if out.Status == StatusApplied && out.err == nil && out.Error == "" && out.Note == "" {
		return keptOutcome{targetID: out.TargetID, applied: true}
	}
	o := *out
	return keptOutcome{whole: &o}
}

// outcome returns the outcome k keeps of change i of p.
func (k *keptOutcome) outcome(p *Plan, i int) Outcome {
	switch c := &p.Changes[i]; {
	case k.whole != nil:
		return *k.whole
	case k.applied:
		return Outcome{Change: i, Action: c.Action, Object: c.Object, Status: StatusApplied, TargetID: k.targetID}
	default:
		return Outcome{Change: i, Action: c.Action, Object: c.Object, Status: StatusSkipped, Error: "not reached"}
	}
}

// resolvedMember is a member of created groups resolved to its user's
// target id; done once resolved, id "" then if it is missing.
type resolvedMember struct {
	id   string
	done bool
}

// Apply executes exactly the changes of plan: users, then groups, then
// memberships, then group and user deletions, with bounded concurrency.
// A failed change does not stop the others. Each link is stored in the
// engine's state as its write lands (State.Record), and each create is
// recorded as an intent before it is sent, so after a crash of the
// process the state lags the target by the writes in flight at most and
// the objects they created are still recognised as created. (FileState
// does not wait for an fsync of a created object's link, and writes the
// links of a few landed creates together: a crash of the machine may
// lose them, a crash of the process those not yet written, and their
// intents then resolve the objects as created.) Apply returns once
// everything it recorded is written. If a record cannot be stored,
// Apply sends nothing more and returns the error. With a State that can
// stop leading (Leader), each write request goes out only after the
// state says it still leads; once it does not, Apply sends nothing more
// and returns an error wrapping ErrLocked.
func (e *Engine) Apply(ctx context.Context, plan *Plan, opts ...ApplyOption) (*Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.apply(ctx, plan, opts...)
}

func (e *Engine) apply(parent context.Context, plan *Plan, opts ...ApplyOption) (*Result, error) {
	var cfg applyConfig
	for _, o := range opts {
		o(&cfg)
	}
	if !plan.Applyable && !(plan.NeedsConfirmation && cfg.confirm) {
		return nil, fmt.Errorf("%w: %v", ErrNotApplyable, plan.Reasons)
	}
	snap, err := e.load(parent)
	if err != nil {
		return nil, err
	}
	if snap.Serial != plan.StateSerial {
		return nil, fmt.Errorf("%w: made from state %d, state is now at %d", ErrStalePlan, plan.StateSerial, snap.Serial)
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	users, groups := plan.creates()
	e.growLinks(snap, users, groups)
	a := &applier{e: e, t: e.target, plan: plan, cfg: cfg, snap: snap, cancel: cancel,
		res: &Result{Started: e.now()}, outcomes: make([]keptOutcome, len(plan.Changes)),
		// About two records a change (an unknown mirror, then a mirror),
		// and for a create its intent and link until they are compacted
		// away, a window of creates at a time.
		records:      make([]Record, 0, 2*(len(plan.Changes)-users-groups+min(e.intentWindow, users+groups))),
		createdUsers: make([]string, 0, users), createdGroups: make([]string, 0, groups),
	}
	if l, ok := e.state.(Leader); ok {
		a.leader = l
		ctx = target.WithWriteGuard(ctx, a.checkLeader)
		if _, ok := e.target.(target.WriteGuarded); !ok {
			a.t = guardedTarget{e.target}
		}
	}
	a.store(plan.reclaim...)
	a.store(goneRecords(snap, plan.gone)...)
	for _, r := range plan.refresh {
		_ = a.snap.Apply(r) // saved with the snapshot, not journaled: see Plan.refresh
	}
	a.trackMirrors()
	// Run phase by phase; within a phase the changes are independent.
	for phase := 0; phase <= 4 && ctx.Err() == nil; phase++ {
		var idx []int
		for i, c := range plan.Changes {
			if c.Action.phase() == phase {
				idx = append(idx, i)
			}
		}
		a.run(ctx, idx)
		if phase == ActionCreateGroup.phase() {
			a.mu.Lock()
			a.members = nil // the created groups' members, resolved: no change reads them again
			a.mu.Unlock()
		}
	}
	res := a.finish()
	if err := a.commit(parent, res); err != nil {
		return res, err
	}
	if a.recErr != nil {
		return res, a.recErr
	}
	if a.leadErr != nil {
		return res, a.leadErr
	}
	return res, parent.Err()
}

func (a *applier) finish() *Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.res
	r.Finished = a.e.now()
	r.ownedUsers, r.ownedGroups = len(a.snap.Users), len(a.snap.Groups)
	r.Applied, r.Failed, r.Skipped = 0, 0, 0
	r.Outcomes = make([]Outcome, len(a.outcomes))
	for i := range a.outcomes {
		r.Outcomes[i] = a.outcomes[i].outcome(a.plan, i)
	}
	a.outcomes = nil
	for i := range r.Outcomes {
		switch r.Outcomes[i].Status {
		case StatusApplied:
			r.Applied++
		case StatusFailed:
			r.Failed++
		default:
			r.Skipped++
		}
	}
	return r
}

// store applies recs to the apply's snapshot and stores them in the
// state, synced to disk, before returning. A failure stops the apply:
// writes that cannot be recorded must not go on.
func (a *applier) store(recs ...Record) { a.put(true, recs) }

// storeLanded stores records of writes that landed which a crash of the
// system may lose without harm, because a synced record stored before
// the write covers them: the link of a created object (its intent) and
// an object's new mirror (its mirror recorded as unknown). They need not
// wait for an fsync, nor with FileState be written at once: the state
// holds them once the call returns, and the next synced record or save
// writes and syncs them.
func (a *applier) storeLanded(recs ...Record) { a.put(false, recs) }

func (a *applier) put(synced bool, recs []Record) {
	if len(recs) == 0 {
		return
	}
	a.mu.Lock()
	for _, r := range recs {
		_ = a.snap.Apply(r) // the applier makes only valid records
	}
	a.records = append(a.records, recs...)
	failed := a.recErr != nil
	a.mu.Unlock()
	if failed {
		return
	}
	// Records of writes that landed are kept even after a cancel. A
	// state that records the engine's own records (FileState) waits on
	// nothing a context could end: no timer for it.
	ctx := context.Background()
	if _, own := a.e.state.(ownRecorder); !own {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if err := a.e.record(ctx, recs, synced); err != nil {
		a.mu.Lock()
		if a.recErr == nil {
			a.recErr = fmt.Errorf("sync: apply stopped, the state cannot record its changes: %w", err)
		}
		a.mu.Unlock()
		a.cancel(err)
	}
}

// creates counts the plan's user and group creates.
func (p *Plan) creates() (users, groups int) {
	for i := range p.Changes {
		switch p.Changes[i].Action {
		case ActionCreateUser:
			users++
		case ActionCreateGroup:
			groups++
		}
	}
	return users, groups
}

// growLinks readies snap, an apply's snapshot, for an apply that
// creates users and groups objects (see Snapshot.growLinks). When they
// are many, a state that keeps a copy of the links (sharingState) first
// leaves its copy to the snapshot: the apply's records would otherwise
// grow that copy, next to the snapshot's, into a second copy of every
// link the apply makes (at 100,000 users, about 17 MB). The apply's save
// gives the state the snapshot's maps as its copy again.
func (e *Engine) growLinks(snap *Snapshot, users, groups int) {
	gu, gg := snap.grows(users, groups)
	if !gu && !gg {
		return
	}
	if st := e.sharing(); st != nil {
		st.leaveLinks()
		snap.sharedLinks = false // the maps lent are the snapshot's alone now
	}
	snap.growLinks(users, groups)
}

// grows reports whether an apply creating users and groups objects
// grows s's user and group links by more than a few.
func (s *Snapshot) grows(users, groups int) (gu, gg bool) {
	grows := func(links map[string]Link, n int) bool { return n >= 64 && n >= len(links)/8 }
	return grows(s.Users, users), grows(s.Groups, groups)
}

// growLinks copies s's user and group links into maps with room for
// users and groups more if that is more than a few (grows): an apply that
// creates many objects then adds their links without rehashing the maps
// as they grow. A snapshot sharing its links (sharedLinks) has both
// copied then, as ownLinks would.
func (s *Snapshot) growLinks(users, groups int) {
	gu, gg := s.grows(users, groups)
	if !gu && !gg {
		return
	}
	if gu || s.sharedLinks {
		s.Users = withRoom(s.Users, users)
	}
	if gg || s.sharedLinks {
		s.Groups = withRoom(s.Groups, groups)
	}
	s.sharedLinks = false
}

// withRoom returns a copy of links with room for n more.
func withRoom(links map[string]Link, n int) map[string]Link {
	m := make(map[string]Link, len(links)+n)
	maps.Copy(m, links)
	return m
}

// goneRecords unlinks the links whose target objects a read by id did
// not find, unless the link changed since.
func goneRecords(snap *Snapshot, gone []goneLink) []Record {
	var recs []Record
	for _, g := range gone {
		links := snap.Users
		if g.kind == KindGroup {
			links = snap.Groups
		}
		if l, ok := links[g.sourceID]; ok && l.TargetID == g.targetID {
			recs = append(recs, Record{Op: OpUnlink, Kind: g.kind, SourceID: g.sourceID})
		}
	}
	return recs
}

// defaultIntentWindow is how many changes' intents are recorded in one
// batch: an apply records the intents of the next window of creates as
// it reaches them, so that the state holds a window of pending intents,
// not one for every create of a large initial sync (about 40 MB at
// 100,000 users, in the engine's snapshot and the state's), at the cost
// of one journal sync per window.
const defaultIntentWindow = 4096

// intend records an intent for each create among the changes at idx,
// in one batch, before any is sent.
func (a *applier) intend(idx []int) {
	var recs []Record
	var intents []Intent // one allocation for the batch; never grown, so the records may point into it
	for _, i := range idx {
		c := &a.plan.Changes[i]
		in := Intent{Kind: c.Object.Kind, SourceID: c.Object.SourceID, Since: a.e.now(), Source: cmp.Or(c.Owner, a.e.owner)}
		switch {
		case c.Action == ActionCreateUser:
			var ok bool
			if in.Key, in.ExternalID, ok = c.createKey(); !ok {
				continue
			}
		case c.Action == ActionCreateGroup && c.Group != nil:
			in.Key, in.ExternalID = c.Group.DisplayName, c.Group.ExternalID
		default:
			continue
		}
		if intents == nil {
			intents = make([]Intent, 0, len(idx))
			recs = make([]Record, 0, len(idx))
		}
		intents = append(intents, in)
		recs = append(recs, Record{Op: OpIntent, Kind: in.Kind, SourceID: in.SourceID, Intent: &intents[len(intents)-1]})
	}
	a.mu.Lock()
	a.compactRecords()
	if a.snap.Intents == nil && len(recs) > 0 {
		a.snap.Intents = make(map[string]Intent, len(recs))
	}
	a.mu.Unlock()
	a.store(recs...)
}

// compactRecords shortens the records kept for a replay (see commit) as
// the creates they record land, so that a large initial sync does not
// hold an intent and a link for every object it created to its end:
//   - an intent record whose intent a later record resolved (linked,
//     unlinked or settled: the intent is no longer in the snapshot) is
//     dropped, as that later record removes the intent in a replay too;
//   - the link record of a created object is dropped, its source id
//     kept: a replay sets the object's link, after the records, as the
//     apply's snapshot holds it, the link as the apply's records left
//     it, which replaying them in order ends with too (the records after
//     it being replayed the same, and one that unlinks it kept).
//
// The caller holds a.mu.
func (a *applier) compactRecords() {
	keep, pending := a.records[:a.compacted], -1
	var key []byte
	for _, r := range a.records[a.compacted:] {
		switch r.Op {
		case OpIntent:
			key = append(append(append(key[:0], r.Kind...), ':'), r.SourceID...)
			if _, ok := a.snap.Intents[string(key)]; !ok {
				continue
			}
			if pending < 0 {
				pending = len(keep)
			}
		case OpLink:
			if r.Link != nil && r.Link.Origin == OriginCreated {
				if r.Kind == KindGroup {
					a.createdGroups = append(a.createdGroups, r.SourceID)
				} else {
					a.createdUsers = append(a.createdUsers, r.SourceID)
				}
				continue
			}
		}
		keep = append(keep, r)
	}
	clear(a.records[len(keep):])
	a.records = keep
	if pending < 0 {
		pending = len(keep)
	}
	a.compacted = pending
}

// replayCreated sets on snap the links of the objects of kind created
// by this apply whose link records compactRecords dropped (ids), as the
// apply's snapshot holds them; one it lacks was unlinked since, by a
// record replayed already. The caller holds a.mu.
func (a *applier) replayCreated(snap *Snapshot, kind Kind, ids []string) {
	for _, id := range ids {
		if l, ok := a.snap.linkOf(kind, id); ok {
			_ = snap.Apply(Record{Op: OpLink, Kind: kind, SourceID: id, Link: &l})
		}
	}
}

// commit saves the apply's snapshot: its links, the approvals and
// deactivation clocks the plan settles and, once everything applied, the
// source's new cursors. It saves nothing when nothing changed. If the
// state was saved by someone else meanwhile (ErrStaleState), the apply's
// records are replayed onto the newer state and saved again, so neither
// side's changes are lost. It uses a context that outlives cancellation,
// so links made before a cancel are kept.
func (a *applier) commit(ctx context.Context, res *Result) error {
	withCursors := res.Failed == 0 && ctx.Err() == nil && a.recErr == nil
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.plan
	if len(a.records)+len(a.createdUsers)+len(a.createdGroups) == 0 && (p.read == nil || !withCursors) && len(p.Held) == 0 && len(p.clocks) == 0 &&
		len(p.refresh) == 0 && !p.readAll &&
		len(a.snap.Approvals) == 0 && !escrowChanged(a.snap, p, res) && sameConflicts(a.snap.Conflicts, nextConflicts(a.snap, p, a.conflicts)) && a.snap.Version == stateVersion && !a.snap.migrated && (a.e.targetName == "" || a.snap.Target == a.e.targetName) {
		return nil
	}
	snap := a.snap
	for try := 0; ; try++ {
		a.finalize(snap, res, withCursors)
		snap.Serial++
		err := a.e.save(sctx, snap)
		if r := p.read; err == nil && r != nil && withCursors {
			r.cached = nil // the state's now: the plan, which its caller may keep, lets go of it
		}
		if err == nil || !errors.Is(err, ErrStaleState) || try == 2 {
			return err
		}
		if snap, err = a.e.load(sctx); err != nil {
			return err
		}
		for _, r := range p.refresh {
			_ = snap.Apply(r)
		}
		for _, r := range a.records {
			_ = snap.Apply(r)
		}
		a.replayCreated(snap, KindUser, a.createdUsers)
		a.replayCreated(snap, KindGroup, a.createdGroups)
	}
}

// finalize makes the changes of a finished apply that are not records.
func (a *applier) finalize(snap *Snapshot, res *Result, withCursors bool) {
	if a.e.targetName != "" {
		snap.Target = a.e.targetName
	}
	if a.plan.readAll {
		snap.LastDriftCheck, snap.TargetGroups = a.plan.CreatedAt, a.plan.targetGroups
	}
	recordApprovals(snap, a.plan, res)
	recordEscrow(snap, a.plan, res)
	snap.Conflicts = nextConflicts(snap, a.plan, a.conflicts)
	if len(a.plan.clocks) > 0 {
		snap.ownLinks()
	}
	for _, src := range a.plan.clocks {
		if l, ok := snap.Users[src]; ok && l.DeactivatedAt.IsZero() {
			l.DeactivatedAt = a.e.now()
			snap.Users[src] = l
		}
	}
	if r := a.plan.read; withCursors && r != nil {
		snap.Cursors[r.name] = r.cursor
		if snap.Directories == nil {
			snap.Directories = map[string]*CachedDirectory{}
		}
		snap.Directories[r.name] = r.cache()
	}
}

// run applies the changes at idx with at most e.concurrency at once. A
// group's member additions and removals go out together, in one request
// (see pairMembers). The changes go to e.concurrency long-lived workers
// rather than a goroutine each: a worker's stack grows once to what a
// request takes, where a goroutine per change grew (copied) its stack
// anew on every change.
func (a *applier) run(ctx context.Context, idx []int) {
	jobs, window := a.pairMembers(idx), max(a.e.intentWindow, 1)
	if len(jobs) == 0 {
		return
	}
	work := make(chan applyJob)
	var wg gosync.WaitGroup
	for range min(a.e.concurrency, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range work {
				if ctx.Err() != nil {
					continue // stopped: the change stays not reached
				}
				a.runJob(ctx, job)
			}
		}()
	}
	for k, job := range jobs {
		if ctx.Err() != nil {
			break
		}
		if k%window == 0 {
			// The creates of the next window: their intents are stored
			// before any of them is sent.
			next := make([]int, 0, window)
			for _, j := range jobs[k:min(k+window, len(jobs))] {
				next = append(next, j.i)
			}
			a.intend(next)
		}
		select {
		case work <- job:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

// runJob applies one job and records its outcomes.
func (a *applier) runJob(ctx context.Context, job applyJob) {
	if job.with < 0 {
		a.record(job.i, a.apply(ctx, job.i))
		return
	}
	first, second := a.applyMembers(ctx, job.i, job.with)
	a.record(job.i, first)
	a.record(job.with, second)
}

// applyJob is one change to apply, or two (with >= 0): a group's
// add-members and remove-members changes, sent as one request.
type applyJob struct{ i, with int }

// pairMembers returns the changes at idx as jobs, in order, pairing the
// add-members and remove-members changes of one group when one request
// carries both: at most as many members as a create carries inline.
func (a *applier) pairMembers(idx []int) []applyJob {
	jobs := make([]applyJob, 0, len(idx))
	var open map[Ref]int // a group's unpaired member change → its job
	for _, i := range idx {
		c := &a.plan.Changes[i]
		if c.Action != ActionAddMembers && c.Action != ActionRemoveMembers {
			jobs = append(jobs, applyJob{i: i, with: -1})
			continue
		}
		if a.e.oneMemberOp.Load() {
			jobs = append(jobs, applyJob{i: i, with: -1})
			continue
		}
		if j, ok := open[c.Object]; ok {
			other := &a.plan.Changes[jobs[j].i]
			if other.Action != c.Action && len(other.Members)+len(c.Members) <= a.e.inlineMembers {
				jobs[j].with = i
				delete(open, c.Object)
				continue
			}
		}
		if open == nil {
			open = map[Ref]int{}
		}
		open[c.Object] = len(jobs)
		jobs = append(jobs, applyJob{i: i, with: -1})
	}
	return jobs
}

// applyMembers applies the add-members and remove-members changes i and
// j of one group (in either order) with one PATCH holding a remove and an
// add operation, and returns their outcomes. RFC 7644 section 3.5.2 lets
// a PATCH carry several operations, but Netskope's API examples and its
// Cloud Exchange plugin change members one operation a request: a target
// that refuses the pair as invalid gets the two changes one request each,
// now and for the rest of the engine's life.
func (a *applier) applyMembers(ctx context.Context, i, j int) (Outcome, Outcome) {
	add, rm := &a.plan.Changes[i], &a.plan.Changes[j]
	if add.Action == ActionRemoveMembers {
		add, rm = rm, add
	}
	gid := a.ownedGroup(add.Object)
	if gid == "" {
		return a.apply(ctx, i), a.apply(ctx, j) // each skipped, as alone
	}
	addIDs, addMissing := a.ownedIDs(add.Members)
	rmIDs, rmMissing := a.memberIDs(rm.Members)
	var ops []scim.PatchOperation
	if len(rmIDs) > 0 {
		ops = append(ops, scim.Remove("members", scim.MemberValues(rmIDs)))
	}
	if len(addIDs) > 0 {
		ops = append(ops, scim.Add("members", scim.MemberValues(addIDs)))
	}
	addOut, rmOut := a.membersOutcome(gid, addMissing), a.membersOutcome(gid, rmMissing)
	err := a.t.PatchGroup(ctx, gid, ops...)
	if len(ops) > 1 && errors.Is(err, target.ErrInvalid) {
		a.e.oneMemberOp.Store(true)
		a.e.log.Warn("the target refused a group PATCH of two operations: member changes go one request each",
			zap.String("targetId", gid), zap.Error(err))
		return a.apply(ctx, i), a.apply(ctx, j)
	}
	if err != nil {
		addOut = Outcome{TargetID: add.Object.TargetID, err: changeFailed(add.Action, add.Object, err)}
		rmOut = Outcome{TargetID: rm.Object.TargetID, err: changeFailed(rm.Action, rm.Object, err)}
	}
	if add == &a.plan.Changes[i] {
		return addOut, rmOut
	}
	return rmOut, addOut
}

func (a *applier) record(i int, out Outcome) {
	a.mu.Lock()
	out.Change, out.Action, out.Object = i, a.plan.Changes[i].Action, a.plan.Changes[i].Object
	if out.err != nil {
		out.Error = out.err.Error()
		if out.Status == "" && a.leadErr != nil && errors.Is(out.err, ErrLocked) {
			out.Status = StatusSkipped // refused before it was sent: this process may no longer lead
		} else if out.Status == "" {
			out.Status = StatusFailed
		}
	} else if out.Status == "" {
		out.Status = StatusApplied
	}
	a.outcomes[i] = keepOutcome(&out)
	var mark []Record
	if out.Status == StatusApplied {
		mark = a.markDeactivation(&a.plan.Changes[i])
	}
	mirror := a.mirrorAfter(&a.plan.Changes[i], out.Status == StatusApplied)
	p := Progress{Total: len(a.plan.Changes), Outcome: out}
	a.mu.Unlock()
	a.store(mark...)
	a.storeLanded(mirror...)
	// The fields are made only for a line that is written: an applied
	// change logs at Debug, which is off by default.
	if out.err != nil {
		a.e.log.Warn("change failed", outcomeFields(&out, zap.Error(out.err))...)
	} else if ce := a.e.log.Check(zap.DebugLevel, "change applied"); ce != nil {
		ce.Write(outcomeFields(&out)...)
	}
	if a.cfg.progress != nil {
		// Counted as delivered, under the lock, so that Done grows by one
		// from call to call whatever order the changes finished in.
		a.mu.Lock()
		a.done++
		p.Done = a.done
		a.cfg.progress(p)
		a.mu.Unlock()
	}
	if a.plan.release && out.Status == StatusApplied {
		// Its link, mirror and outcome are recorded: nothing reads the
		// change's payload again.
		a.mu.Lock()
		a.plan.Changes[i].release()
		a.mu.Unlock()
	}
}

// outcomeFields are the log fields of an outcome, then more.
func outcomeFields(out *Outcome, more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.String("action", string(out.Action)), zap.String("targetId", out.TargetID),
		zap.String("sourceId", out.Object.SourceID), zap.String("status", string(out.Status))}, more...)
}

// markDeactivation keeps a user link's deactivation time: set when the
// user is deactivated, cleared when it is reactivated. It returns the
// record to store, if any. The caller holds a.mu.
func (a *applier) markDeactivation(c *Change) []Record {
	l, ok := a.snap.Users[c.Object.SourceID]
	if c.Object.Kind != KindUser || !ok {
		return nil
	}
	switch {
	case c.Action == ActionDeactivateUser && l.DeactivatedAt.IsZero():
		l.DeactivatedAt = a.e.now()
	case c.Action == ActionUpdateUser && slices.ContainsFunc(c.Attributes, func(x AttrChange) bool {
		return x.Path == scim.PathActive && x.After == true
	}):
		l.DeactivatedAt = time.Time{}
	default:
		return nil
	}
	changed := l // only a link that changed goes to the heap
	return []Record{{Op: OpLink, Kind: KindUser, SourceID: c.Object.SourceID, Link: &changed}}
}

// link records that the engine owns targetID for the object c changes,
// on behalf of the change's owner (the engine's, if it names none), as
// mirrored by m (nil: unknown).
func (a *applier) link(c *Change, targetID string, origin Origin, m *Mirror) {
	kind, sourceID, owner := c.Object.Kind, c.Object.SourceID, cmp.Or(c.Owner, a.e.owner)
	// An object just created is linked to nothing yet: the lookup that
	// spares recording a link as it is stored is for the others (at
	// 100,000 creates, a lookup in a map of up to 100,000 links each).
	if origin != OriginCreated {
		a.mu.Lock()
		links := a.snap.Users
		if kind == KindGroup {
			links = a.snap.Groups
		}
		l, ok := links[sourceID]
		a.mu.Unlock()
		if ok && l.TargetID == targetID && l.Source == owner {
			return
		}
	}
	// The record and its link take one allocation.
	lr := &linkRecord{link: Link{TargetID: targetID, Origin: origin, Since: a.e.now(), Source: owner, Mirror: m}}
	lr.rec[0] = Record{Op: OpLink, Kind: kind, SourceID: sourceID, Link: &lr.link}
	if origin == OriginCreated {
		a.storeLanded(lr.rec[:]...) // its intent covers it
		return
	}
	a.store(lr.rec[:]...)
}

// linkRecord is a link record and its link (see applier.link).
type linkRecord struct {
	rec  [1]Record
	link Link
}

// relink moves the link of c.TakeoverFrom to the object c changes, in
// one batch of records: the target object keeps its origin and is owned
// by the change's owner from now on.
func (a *applier) relink(c *Change) {
	kind, owner := c.Object.Kind, cmp.Or(c.Owner, a.e.owner)
	a.mu.Lock()
	links := a.snap.Users
	if kind == KindGroup {
		links = a.snap.Groups
	}
	old, ok := links[c.TakeoverFrom]
	a.mu.Unlock()
	l := Link{TargetID: c.Object.TargetID, Origin: OriginAdopted, Since: a.e.now(), Source: owner}
	var recs []Record
	if ok && old.TargetID == c.Object.TargetID {
		l.Origin = old.Origin
		recs = append(recs, Record{Op: OpUnlink, Kind: kind, SourceID: c.TakeoverFrom})
	}
	a.store(append(recs, Record{Op: OpLink, Kind: kind, SourceID: c.Object.SourceID, Link: &l})...)
}

// unlink records that the engine no longer owns sourceID's object.
func (a *applier) unlink(kind Kind, sourceID string) {
	a.store(Record{Op: OpUnlink, Kind: kind, SourceID: sourceID})
}

// targetID resolves a ref's target id: its own, or the one made in this
// apply for its source id.
func (a *applier) targetID(r Ref) string {
	if r.TargetID != "" {
		return r.TargetID
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.linked(r.Kind, r.SourceID)
}

func (a *applier) apply(ctx context.Context, i int) Outcome {
	c := &a.plan.Changes[i]
	t := a.t
	obj := c.Object
	fail := func(err error) Outcome {
		return Outcome{TargetID: obj.TargetID, err: changeFailed(c.Action, obj, err)}
	}
	switch c.Action {
	case ActionCreateUser:
		u, m := c.userToCreate()
		if u == nil {
			return fail(errors.New("plan change has no user"))
		}
		created, err := t.CreateUser(ctx, u)
		if errors.Is(err, target.ErrConflict) {
			return a.adoptUser(ctx, c, u, err)
		}
		if err != nil {
			return fail(err)
		}
		if m == nil {
			m = userMirror(u)
		}
		a.link(c, created.ID, OriginCreated, m)
		return Outcome{TargetID: created.ID}

	case ActionUpdateUser, ActionDeactivateUser:
		if len(c.Attributes) > 0 {
			if err := t.PatchUser(ctx, obj.TargetID, patchOps(c.Attributes)...); err != nil {
				return fail(err)
			}
		}
		if c.TakeoverFrom != "" {
			a.relink(c)
		} else if c.Adopt {
			a.link(c, obj.TargetID, OriginAdopted, c.adopted)
		}
		return Outcome{TargetID: obj.TargetID}

	case ActionDeleteUser:
		if err := t.DeleteUser(ctx, obj.TargetID); err != nil && !errors.Is(err, target.ErrNotFound) {
			return fail(err)
		}
		a.unlink(KindUser, obj.SourceID)
		return Outcome{TargetID: obj.TargetID}

	case ActionCreateGroup:
		if c.Group == nil {
			return fail(errors.New("plan change has no group"))
		}
		g := *c.Group
		ids, missing := a.createdGroupMembers(c)
		inline := ids
		if len(inline) > a.e.inlineMembers {
			inline = nil
		}
		g.Members = scim.MemberValues(inline)
		origin := OriginCreated
		created, err := t.CreateGroup(ctx, &g)
		if errors.Is(err, target.ErrConflict) {
			created, err = a.adoptGroup(ctx, c, &g, err)
			origin, inline = OriginAdopted, nil // members of an adopted group are added below
		}
		if err != nil {
			return fail(err)
		}
		var m *Mirror
		if origin == OriginCreated {
			m = groupMirror(&scim.Group{DisplayName: g.DisplayName, ExternalID: g.ExternalID, Members: g.Members})
		}
		a.link(c, created.ID, origin, m)
		if len(inline) < len(ids) {
			err := t.AddMembers(ctx, created.ID, ids)
			if m != nil {
				// What landed is not known after a failure.
				if err != nil {
					m = nil
				}
				a.store(Record{Op: OpMirror, Kind: KindGroup, SourceID: obj.SourceID,
					Mirror: m.afterChange(&Change{Action: ActionAddMembers}, ids)})
			}
			if err != nil {
				return Outcome{TargetID: created.ID, err: fmt.Errorf("%s %s: group created, members not added: %w", c.Action, obj, err)}
			}
		}
		out := a.membersOutcome(created.ID, missing)
		if origin == OriginAdopted {
			out.Note = "existed already; adopted"
		}
		return out

	case ActionUpdateGroup:
		if len(c.Attributes) > 0 {
			if err := t.PatchGroup(ctx, obj.TargetID, patchOps(c.Attributes)...); err != nil {
				return fail(err)
			}
		}
		if c.TakeoverFrom != "" {
			a.relink(c)
		} else if c.Adopt {
			a.link(c, obj.TargetID, OriginAdopted, c.adopted)
		}
		return Outcome{TargetID: obj.TargetID}

	case ActionAddMembers, ActionRemoveMembers:
		gid := a.ownedGroup(obj)
		if gid == "" {
			return Outcome{Status: StatusSkipped, err: fmt.Errorf("%s %s: the group was not created or adopted", c.Action, obj)}
		}
		var err error
		if c.Action == ActionRemoveMembers {
			ids, missing := a.memberIDs(c.Members)
			if err = t.RemoveMembers(ctx, gid, ids); err != nil {
				return fail(err)
			}
			return a.membersOutcome(gid, missing)
		}
		ids, missing := a.ownedIDs(c.Members)
		if len(ids) > 0 {
			err = t.AddMembers(ctx, gid, ids)
		}
		if err != nil {
			return fail(err)
		}
		return a.membersOutcome(gid, missing)

	case ActionDeleteGroup:
		if err := t.DeleteGroup(ctx, obj.TargetID); err != nil && !errors.Is(err, target.ErrNotFound) {
			return fail(err)
		}
		a.unlink(KindGroup, obj.SourceID)
		return Outcome{TargetID: obj.TargetID}
	}
	return fail(fmt.Errorf("unknown action %q", c.Action))
}

// linked is the target id of the object of kind the state or this apply
// linked to sourceID, "" if none. The caller holds a.mu.
func (a *applier) linked(kind Kind, sourceID string) string {
	l, _ := a.snap.linkOf(kind, sourceID)
	return l.TargetID
}

// linkOf returns s's link of kind for sourceID, if any.
func (s *Snapshot) linkOf(kind Kind, sourceID string) (Link, bool) {
	links := s.Users
	if kind == KindGroup {
		links = s.Groups
	}
	l, ok := links[sourceID]
	return l, ok
}

// memberIDs resolves the members to remove to target ids: the plan's, or
// the one made in this apply for a ref without one.
func (a *applier) memberIDs(refs []Ref) (ids []string, missing []Ref) {
	for _, r := range refs {
		if id := a.targetID(r); id != "" {
			ids = append(ids, id)
		} else {
			missing = append(missing, r)
		}
	}
	return ids, missing
}

// ownedGroup is the target id of a group the engine owns, by its links
// (the state's and this apply's); "" when the group was neither created
// nor adopted, or its link names another group than the plan does.
func (a *applier) ownedGroup(r Ref) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id := a.linked(KindGroup, r.SourceID); id != "" && (r.TargetID == "" || r.TargetID == id) {
		return id
	}
	return ""
}

// ownedIDs resolves the members to add to target ids through the links
// alone, those of the state and those this apply made: the engine adds to
// a group only users it owns. A ref whose user was neither created nor
// adopted (its change failed or was held), or whose link names another
// target user than the plan does, is returned as missing.
func (a *applier) ownedIDs(refs []Ref) (ids []string, missing []Ref) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids = make([]string, 0, len(refs))
	for _, r := range refs {
		if id := a.ownedID(r); id != "" {
			ids = append(ids, id)
		} else {
			missing = append(missing, r)
		}
	}
	return ids, missing
}

// ownedID is the target id of a member to add (see ownedIDs), "" if it
// is missing. The caller holds a.mu.
func (a *applier) ownedID(r Ref) string {
	id := a.linked(KindUser, r.SourceID)
	if r.Kind != KindUser || id == "" || (r.TargetID != "" && r.TargetID != id) {
		return ""
	}
	return id
}

// createdGroupMembers is ownedIDs of the members of c, a group create.
// Packed members (see packedMembers) are resolved once per user for all
// the groups it is a member of, where ownedIDs looks every membership up
// in the links (a million lookups for 100,000 users in 10 groups each):
// groups are created after every user change and before any user is
// deleted (Action.phase), so no user's link changes meanwhile.
func (a *applier) createdGroupMembers(c *Change) (ids []string, missing []Ref) {
	pm := c.packed
	if pm == nil {
		return a.ownedIDs(c.Members)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.members) != len(pm.table.refs) {
		a.members = make([]resolvedMember, len(pm.table.refs))
	}
	ids = make([]string, 0, len(pm.idx))
	for _, i := range pm.idx {
		m := &a.members[i]
		if !m.done {
			m.id, m.done = a.ownedID(pm.table.refs[i]), true
		}
		if m.id == "" {
			missing = append(missing, pm.table.refs[i])
			continue
		}
		ids = append(ids, m.id)
	}
	return ids, missing
}

func (a *applier) membersOutcome(groupID string, missing []Ref) Outcome {
	if len(missing) == 0 {
		return Outcome{TargetID: groupID}
	}
	return Outcome{TargetID: groupID, err: fmt.Errorf("%d members were not added because their users were not created or adopted (first: %s)",
		len(missing), missing[0])}
}

// adoptUser resolves a create that conflicted: the user exists already
// (made by an earlier, interrupted run, or by someone else). It is looked
// up by userName; if adoption is allowed, it is linked and brought up to
// date with want, the user the create sent. An account the engine may not
// adopt (see inTheWay) is recorded as a conflict (see leaveAlone).
func (a *applier) adoptUser(ctx context.Context, c *Change, want *scim.User, conflict error) Outcome {
	obj := c.Object
	fail := func(err error) Outcome { return Outcome{err: changeFailed(c.Action, obj, err)} }
	found, err := a.usersNamed(ctx, want.UserName)
	if err != nil {
		return fail(errors.Join(conflict, err))
	}
	if len(found) != 1 {
		return fail(fmt.Errorf("%w; %d users found by userName", conflict, len(found)))
	}
	o := &found[0]
	if ours := a.ownCreate(o.ExternalID, want.ExternalID); ours != nil {
		return fail(fmt.Errorf("%w; %w", conflict, ours))
	}
	if msg, fo, policy := a.inTheWay(c, o.ID, o.ExternalID, !want.IsActive()); msg != "" {
		return fail(a.leaveAlone(c, conflict, o.ID, o.UserName, msg, fo, policy))
	}
	managed := a.plan.ManagedUserAttributes
	if len(managed) == 0 {
		managed = mapping.DefaultUserAttributes()
	}
	// The link's mirror is the user as found, with the update followed
	// on it.
	m := userMirror(o)
	if attrs := diffUser(managed, nil, want, o); len(attrs) > 0 {
		if err := a.t.PatchUser(ctx, o.ID, patchOps(attrs)...); err != nil {
			return fail(err)
		}
		m = m.afterChange(&Change{Action: ActionUpdateUser, Attributes: attrs}, nil)
	}
	a.link(c, o.ID, OriginAdopted, m)
	return Outcome{TargetID: o.ID, Note: "existed already; adopted"}
}

// adoptGroup resolves a group create that conflicted, as adoptUser does
// for users: the group found by displayName is brought up to date with g
// and returned, to be linked as adopted.
func (a *applier) adoptGroup(ctx context.Context, c *Change, g *scim.Group, conflict error) (*scim.Group, error) {
	found, err := a.groupsNamed(ctx, g.DisplayName)
	if err != nil {
		return nil, errors.Join(conflict, err)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w; %d groups found by displayName", conflict, len(found))
	}
	o := &found[0]
	if ours := a.ownCreate(o.ExternalID, g.ExternalID); ours != nil {
		return nil, fmt.Errorf("%w; %w", conflict, ours)
	}
	if msg, fo, policy := a.inTheWay(c, o.ID, o.ExternalID, false); msg != "" {
		return nil, a.leaveAlone(c, conflict, o.ID, o.DisplayName, msg, fo, policy)
	}
	if attrs := diffGroup(g, o); len(attrs) > 0 {
		if err := a.t.PatchGroup(ctx, o.ID, patchOps(attrs)...); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ownCreate returns an error when, with adoption off, the object a create
// met carries the externalId the create sent: most likely the engine's
// own create, landed by an interrupted run. Its intent stays, and the
// next plan links the object as created.
func (a *applier) ownCreate(found, sent string) error {
	if a.e.policy.Adopt || found == "" || found != sent {
		return nil
	}
	return errors.New("adoption is off")
}

// inTheWay says why the target object (id, externalID) that create c met
// may not be adopted, "" if it may: it carries another engine's owner
// marker (foreign names that owner), belongs to another source object, or
// the policy forbids adopting it (policy; inactive: a user created
// inactive, as suspended at the source).
func (a *applier) inTheWay(c *Change, id, externalID string, inactive bool) (msg, foreign string, policy bool) {
	kind := c.Object.Kind
	if fo, why := foreignOwner(kind, id, externalID, a.ours(), a.snap.foreign); fo != "" {
		return foreignMessage(kind, keyAttr(kind), fo, why, c.Object.SourceID, cmp.Or(c.Owner, a.e.owner)), fo, false
	}
	a.mu.Lock()
	links := a.snap.Users
	if kind == KindGroup {
		links = a.snap.Groups
	}
	owner := reverseLinks(links)[id]
	a.mu.Unlock()
	switch {
	case owner != "" && owner != c.Object.SourceID:
		return fmt.Sprintf("the existing %s belongs to source %s %q", kind, kind, owner), "", false
	case !a.e.policy.Adopt:
		return "adoption is off", "", true
	case inactive && !a.e.policy.AdoptSuspended:
		// Adopting the existing user would deactivate it.
		return "the source user is suspended, and Policy.AdoptSuspended is off", "", true
	}
	return "", "", false
}

// leaveAlone records that create c met target object (id, named key)
// that it may not adopt (msg, foreign and policy as inTheWay says), and
// settles the create's intent, as the 409 says it did not land. The plans
// until the next drift check report the conflict as a problem instead of
// sending the create again. It returns the error that fails the create.
func (a *applier) leaveAlone(c *Change, conflict error, id, key, msg, foreign string, policy bool) error {
	kind := c.Object.Kind
	cf := Conflict{Kind: kind, SourceID: c.Object.SourceID, Key: c.Object.Key, TargetID: id, TargetKey: key,
		Foreign: foreign, Policy: policy, Message: msg, Since: a.e.now()}
	a.mu.Lock()
	if a.conflicts == nil {
		a.conflicts = map[string]Conflict{}
	}
	a.conflicts[conflictKey(kind, cf.SourceID)] = cf
	a.mu.Unlock()
	a.store(Record{Op: OpSettle, Kind: kind, SourceID: cf.SourceID})
	return fmt.Errorf("%w; target %s id=%s (%s %q) is in the way: %s; until the next drift check, plans report it as a problem and send no create",
		conflict, kind, id, keyAttr(kind), key, msg)
}

// ours are the owner names of the engine's markers: the plan's, or for a
// plan read back from JSON, the engine's own and its members'.
func (a *applier) ours() map[string]bool {
	if a.plan.ours != nil {
		return a.plan.ours
	}
	return a.e.owners(nil, nil)
}

// patchOps turns attribute changes into PATCH operations: replace with the
// new value, or remove when the new value is empty.
func patchOps(attrs []AttrChange) []scim.PatchOperation {
	ops := make([]scim.PatchOperation, 0, len(attrs))
	for _, c := range attrs {
		switch {
		case isEmpty(c.After):
			ops = append(ops, scim.Remove(c.Path, nil))
		case c.Path == scim.PathManager:
			ops = append(ops, scim.Replace(c.Path, scim.Manager{Value: fmt.Sprint(c.After)}))
		default:
			ops = append(ops, scim.Replace(c.Path, c.After))
		}
	}
	return ops
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []scim.Email:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
