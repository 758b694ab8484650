// Package sync is provsync's engine: it reads what a source says should
// exist, maps it to SCIM, reads what the target has, and computes a Plan of
// typed changes that Apply carries out, under a Policy that keeps it safe.
//
// The engine owns only what it created or adopted: links from source ids to
// target ids live in its State. A failed source read plans nothing; an
// incomplete one plans no deactivation or deletion; deprovisions above the
// policy's limits wait for a confirmation.
//
// This package shadows the standard library's sync; files here import that
// one as gosync.
package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/target"
)

// ErrSourceRead wraps a failed source read; nothing is planned from it.
var ErrSourceRead = errors.New("sync: source read failed")

// ErrTargetRead wraps a failed read of the target's users or groups.
var ErrTargetRead = errors.New("sync: target read failed")

// Engine syncs one source into one target.
type Engine struct {
	source        source.Source
	target        target.Target
	mapper        mapping.Mapper
	state         State
	policy        Policy
	userKeys      []mapping.MatchKey
	groupKeys     []mapping.MatchKey
	log           *zap.Logger
	concurrency   int
	intentWindow  int // creates whose intents are recorded in one batch (see applier.run)
	inlineMembers int
	targetName    string
	owner         string // the engine's owner name (WithOwner, or the source's Name)
	named         bool   // WithOwner was given
	marking       bool   // the owner marker is written (WithOwnerMarker)
	markingSet    bool
	markBatch     int
	incremental   bool
	partial       bool
	driftEvery    time.Duration
	now           func() time.Time
	// membersListed: a listing of the target's groups has carried members,
	// so a group listed without them has none (see fillMembers).
	membersListed atomic.Bool
	// oneMemberOp: the target refused a group PATCH holding both a remove
	// and an add of members, so a group's member changes go out one
	// request each from then on (see applyMembers).
	oneMemberOp atomic.Bool
	// sourceFailing: the last plan's source read failed, so the next
	// plan reads the source before the target (see plan).
	sourceFailing bool

	// mu serialises plans, applies and approval decisions, so the
	// stale-plan check and the apply that follows it are one step and a
	// decision cannot fall between an apply's load and its save.
	mu gosync.Mutex
}

// Option sets an optional setting of an Engine.
type Option func(*Engine)

// WithMapper sets the mapping from source objects to SCIM resources.
// Default: mapping.Default().
func WithMapper(m mapping.Mapper) Option { return func(e *Engine) { e.mapper = m } }

// WithState sets where links and cursors are kept. Default: in memory,
// which forgets ownership between processes; use NewFileState for real
// runs.
func WithState(s State) Option { return func(e *Engine) { e.state = s } }

// WithPolicy sets the deprovisioning and safety policy. Default:
// DefaultPolicy().
func WithPolicy(p Policy) Option { return func(e *Engine) { e.policy = p } }

// WithUserMatch sets the ordered matching properties for users.
func WithUserMatch(keys ...mapping.MatchKey) Option { return func(e *Engine) { e.userKeys = keys } }

// WithGroupMatch sets the ordered matching properties for groups.
func WithGroupMatch(keys ...mapping.MatchKey) Option { return func(e *Engine) { e.groupKeys = keys } }

// WithLogger sets the logger. Default: no logging.
func WithLogger(l *zap.Logger) Option { return func(e *Engine) { e.log = l } }

// WithConcurrency bounds how many changes Apply runs at once. Default 8.
// The target's own rate limiter still paces the requests.
func WithConcurrency(n int) Option { return func(e *Engine) { e.concurrency = n } }

// WithIncremental turns incremental reads on or off for sources that can
// report changes (source.Incremental). Default on.
func WithIncremental(on bool) Option { return func(e *Engine) { e.incremental = on } }

// WithPartialSource declares that the source yields only some of the
// users in scope, as a "provision on demand" source of one user does. Plans
// then deprovision nothing and remove group memberships only of the users
// the source yielded; everyone else is left as it is.
func WithPartialSource() Option { return func(e *Engine) { e.partial = true } }

// WithDriftCheck sets how often a plan reads the whole target (a drift
// check) instead of comparing the source with the state's mirrors of the
// objects the engine owns: once the last drift check is older than every.
// A drift check corrects what was changed by hand in the tenant and
// re-verifies ownership; plans in between write only what the source
// changed and read nothing but the objects whose mirror is unknown. 0
// makes every plan a drift check. Default DefaultDriftCheck. The first
// plan over a state, Reapply and DriftCheck make a drift check whatever
// the interval.
func WithDriftCheck(every time.Duration) Option { return func(e *Engine) { e.driftEvery = every } }

// WithTargetName names the target in plans, e.g. the tenant's host.
func WithTargetName(name string) Option { return func(e *Engine) { e.targetName = name } }

// WithOwner names the engine's owner: the source that owns the objects the
// engine creates or adopts, recorded in each link (Link.Source). Default:
// the source's Name. Naming the owner declares that the tenant may be fed
// by other engines too; see the README's "Several sources, one tenant".
// The name must not be empty or hold control characters.
func WithOwner(name string) Option { return func(e *Engine) { e.owner, e.named = name, true } }

// WithClock replaces the engine's clock (time.Now), which stamps plans,
// links and approvals and measures policy delays.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// New returns an engine syncing src into tgt.
func New(src source.Source, tgt target.Target, opts ...Option) (*Engine, error) {
	if src == nil || tgt == nil {
		return nil, errors.New("sync: New needs a source and a target")
	}
	e := &Engine{
		source: src, target: tgt,
		mapper:        mapping.Default(),
		state:         NewMemoryState(),
		policy:        DefaultPolicy(),
		userKeys:      mapping.DefaultUserMatch(),
		groupKeys:     mapping.DefaultGroupMatch(),
		log:           zap.NewNop(),
		concurrency:   8,
		intentWindow:  defaultIntentWindow,
		inlineMembers: 1000,
		incremental:   true,
		driftEvery:    DefaultDriftCheck,
		now:           time.Now,
		markBatch:     defaultMarkerBatch,
	}
	for _, o := range opts {
		o(e)
	}
	if !e.named {
		e.owner = src.Name()
	} else if err := validOwner(e.owner); err != nil {
		return nil, err
	}
	if e.driftEvery < 0 {
		return nil, fmt.Errorf("sync: drift check every %s: want 0 (every plan) or more", e.driftEvery)
	}
	if !e.markingSet {
		e.marking = e.named
	}
	if e.concurrency < 1 {
		return nil, fmt.Errorf("sync: concurrency must be at least 1, not %d", e.concurrency)
	}
	if e.mapper == nil || e.state == nil || e.log == nil {
		return nil, errors.New("sync: mapper, state and logger must not be nil")
	}
	if err := e.policy.Validate(); err != nil {
		return nil, err
	}
	if len(e.userKeys) == 0 || len(e.groupKeys) == 0 {
		return nil, errors.New("sync: at least one matching property per object type is needed")
	}
	return e, nil
}

// State returns the engine's state store.
func (e *Engine) State() State { return e.state }

// Plan computes the changes that would make the target match the source.
// It changes nothing: a plan alone is a dry run. A failed source or target
// read returns an error and no plan. An Engine is safe for concurrent use:
// its plans, applies and approval decisions run one at a time.
func (e *Engine) Plan(ctx context.Context, opts ...PlanOption) (*Plan, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.plan(ctx, opts...)
}

// load loads the state and checks that it belongs to the engine's target.
// A state that can (sharingState) lends the engine its link maps.
func (e *Engine) load(ctx context.Context) (*Snapshot, error) {
	var snap *Snapshot
	var err error
	if s := e.sharing(); s != nil {
		snap, err = s.loadShared(ctx)
	} else {
		snap, err = e.state.Load(ctx)
	}
	if err != nil {
		return nil, err
	}
	if snap.Target != "" && e.targetName != "" && snap.Target != e.targetName {
		return nil, fmt.Errorf("%w: it holds the links of target %q, and this engine syncs %q", ErrStateCorrupt, snap.Target, e.targetName)
	}
	e.view(snap)
	e.claimLegacy(snap)
	return snap, nil
}

func (e *Engine) plan(ctx context.Context, opts ...PlanOption) (*Plan, error) {
	var pc planConfig
	for _, o := range opts {
		o(&pc)
	}
	start := e.now()
	snap, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	// The target is read first: a drift check's listing is folded into
	// the compact form a plan keeps (mostly the stored mirrors) before
	// the source's directory, the largest thing a cycle holds, is read,
	// so that the listing's pages are not decoded next to it. After a
	// failed source read, though, the source is read first until a read
	// succeeds: while a provider is down, each plan would otherwise spend
	// a drift check's listing (a request per page) of the tenant's rate
	// budget on a plan its source read then fails.
	var obs *targetView
	var dir *source.Directory
	var pending *pendingRead
	var readTook time.Duration
	readSource := func() error {
		readStart := e.now()
		var err error
		dir, pending, err = e.read(ctx, snap, pc.reapply || pc.fullSource)
		e.sourceFailing = err != nil
		readTook = e.now().Sub(readStart)
		return err
	}
	sourceFirst := e.sourceFailing
	if sourceFirst {
		if err := readSource(); err != nil {
			return nil, err
		}
	}
	if obs, err = e.observe(ctx, snap, pc); err != nil {
		return nil, err
	}
	if !sourceFirst {
		if err := readSource(); err != nil {
			return nil, err
		}
	}
	users, groups := obs.users, obs.groups
	reclaimed := obs.reclaim
	if len(reclaimed) > 0 {
		e.log.Info("objects an interrupted run created are recognised as created", zap.Int("intents", len(reclaimed)))
	}
	var ownerOf func(string) string
	if m, ok := e.source.(source.Merged); ok {
		ownerOf = m.OwnerOf
		reclaimed = append(reclaimed, relabel(snap, ownerOf)...)
	}
	// An incremental read's directory is kept, encoded, for Apply to
	// save as the cache the next read folds its changes into. It is
	// encoded before the mapping, which may drop the users' attributes;
	// FileState takes the encoding into a directory file of its own as
	// it is made, so that the plan does not hold it.
	var stage func(*source.Directory) (*CachedDirectory, error)
	if f, ok := e.state.(*FileState); ok {
		stage = f.stageDirectory
	}
	if err := pending.encode(stage); err != nil {
		return nil, fmt.Errorf("sync: caching the directory of %s: %w", e.source.Name(), err)
	}
	// The mapping reads the attributes it names alone (mapping.
	// AttributeReader): the others are dropped before it maps, now that
	// the cache is encoded with them, where the read could not leave them
	// out (a full read of an incremental source, whose cache keeps them
	// all, or of a source that cannot select), so that they are not
	// held through the mapping.
	if names, ok := e.mappedAttributes(); ok {
		source.NewAttrFilter(names).Select(dir)
	}
	desired, thin, err := e.mapDirectory(ctx, dir, snap, obs)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", named("mapping", err))
	}
	// The directory is not needed past here: the plan works on the
	// mapped objects, so it is released before the mirrors are compared
	// and the plan's indexes built (it is the largest thing a cycle
	// holds).
	read, sourceUsers, sourceGroups := newSourceIDs(dir), len(dir.Users), len(dir.Groups)
	if e.marking {
		e.mark(desired)
	}
	if err := e.mirroredUsers(ctx, snap, desired, thin, obs); err != nil {
		return nil, err
	}
	users = obs.users
	pin := planInput{
		desired: desired, thin: thin, users: users, same: obs.same, groups: groups, groupMirrors: obs.groupMirrors, snap: snap, policy: e.policy,
		userKeys: e.userKeys, groupKeys: e.groupKeys,
		complete: !e.partial, drift: obs.drift, now: e.now(), ownerOf: ownerOf, read: read,
		ours: e.owners(desired, thin), self: e.owner,
		// Approvals digest and filter a held plan's members as refs.
		compact:     pc.release && len(e.policy.RequireApproval) == 0,
		ownsDesired: true,
	}
	if e.marking {
		pin.marks = &markPacer{limit: e.markBatch}
	}
	p, err := computePlan(pin)
	if err != nil {
		return nil, err
	}
	if e.partial {
		p.Reasons = append(p.Reasons, "partial source (provision on demand): nothing is deprovisioned, and only the memberships of the users read change")
	}
	p.Warnings = desired.Warnings
	p.ours = pin.ours
	if m := pin.marks; m != nil && m.deferred > 0 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("owner marker: %d owned objects are marked by this plan and %d more wait for later plans (WithMarkerBatch)", m.used, m.deferred))
	}
	if desired.ScopeSuspect {
		p.NeedsConfirmation = p.Applyable || p.NeedsConfirmation
		p.Applyable = false
		p.Reasons = append(p.Reasons, fmt.Sprintf("the scoping filters accept none of the %d source users, and a filter tests what no source user has (see the warnings); fix the filter, or apply with confirmation", sourceUsers))
	}
	p.CreatedAt, p.Source, p.Target = e.now(), e.source.Name(), e.targetName
	p.read, p.Incremental = pending, pending != nil && pending.incremental
	p.gone, p.reclaim, p.refresh = obs.gone, reclaimed, obs.refresh
	p.DriftCheck, p.readAll, p.targetGroups = obs.drift, obs.drift, obs.foreign
	p.readTook, p.ownedUsers, p.ownedGroups = readTook, len(snap.Users), len(snap.Groups)
	p.decodedMirrors, p.heldUsers, p.heldRoom = obs.decoded, len(users), cap(users)
	p.ManagedUserAttributes = desired.ManagedUserAttributes
	p.release = pc.release
	if pc.escrow != nil {
		applyEscrow(p, snap, pc.escrow)
	}
	e.log.Info("plan computed",
		zap.Int("sourceUsers", sourceUsers), zap.Int("sourceGroups", sourceGroups),
		zap.Int("targetUsers", len(users)+sameCount(obs.same)), zap.Int("targetGroups", len(groups)),
		zap.Int("changes", len(p.Changes)), zap.Int("problems", len(p.Problems)), zap.Bool("driftCheck", p.DriftCheck),
		zap.Bool("applyable", p.Applyable), zap.Duration("took", e.now().Sub(start)))
	return p, nil
}

// mapDirectory maps dir, which the engine owns (source.Source.Read's
// caller owns the directory, and an incremental read's is the engine's
// own fold of its decoded cache). A mapper that can (mapping.
// ReleasingMapper) drops each user's attributes and emails once the user
// is mapped: nothing later reads them, and they are most of a directory,
// which would otherwise stay whole until every user is mapped, next to
// the mapped users. A mapper that streams (mapping.StreamingMapper)
// hands each user over as it maps it, and the users the same as their
// mirror are held thin (see thinner), not in the Desired returned.
func (e *Engine) mapDirectory(ctx context.Context, dir *source.Directory, snap *Snapshot, o *targetView) (*mapping.Desired, *thinUsers, error) {
	ent := mapping.Entitlements{Groups: o.groupNames}
	if m, ok := e.mapper.(mapping.StreamingMapper); ok && o.mirrored {
		t := &thinUsers{order: make([]int32, 0, len(dir.Users)), users: make([]thinUser, 0, min(len(dir.Users), len(snap.Users)))}
		// Room for the users that have no link, which are never thin.
		room := unlinked(len(dir.Users), func(i int) string { return dir.Users[i].ID }, snap.Users)
		d, err := m.MapStreaming(ctx, dir, ent, mapping.Stream{Take: e.thinner(snap, o, t), Room: room})
		if err != nil || len(t.users) == 0 {
			t = nil
		}
		return d, t, err
	}
	var d *mapping.Desired
	var err error
	switch m := e.mapper.(type) {
	case mapping.ReleasingMapper:
		d, err = m.MapReleasing(ctx, dir, ent)
	case mapping.EntitlementMapper:
		d, err = m.MapWith(ctx, dir, ent)
	default:
		d, err = e.mapper.Map(ctx, dir)
	}
	return d, nil, err
}

// thinner returns the mapping.Stream.Take that holds thin in t each
// mapped user the same as its link's mirror (at a drift check, the
// mirror the listing found) that may be held thin (thinnable), and lets
// the mapper keep the others, in the order t records. It marks each
// user first (WithOwnerMarker), as the engine writes it.
func (e *Engine) thinner(snap *Snapshot, o *targetView, t *thinUsers) func(*mapping.DesiredUser) bool {
	var whole int32
	return func(du *mapping.DesiredUser) bool {
		if e.marking {
			e.markUser(du)
		}
		l, ok := snap.Users[du.SourceID]
		if ok && o.listed != nil {
			l.Mirror, ok = o.listed.mirror(du.SourceID, l.Mirror)
		}
		if !ok || !thinnable(du) || !sameAsMirror(&du.User, l, snap.Users) {
			t.order = append(t.order, whole)
			whole++
			return false
		}
		t.order = append(t.order, ^int32(len(t.users)))
		t.users = append(t.users, thinUser{sourceID: du.SourceID, userName: du.User.UserName, externalID: du.User.ExternalID})
		return true
	}
}

// read reads the source. A source that can report changes is asked for
// those since the cursor kept in the state, and they are folded into the
// directory cached there; an expired cursor, or none, means a full read.
// Any failure is an error and nothing is planned: sources return no
// directory on failure, so a partial read never reaches the planner.
// Every read is validated (source.Directory.Validate; for changes, the
// batch and the folded result, see source.Apply), whatever the source
// promises: an invalid one is an error matching source.ErrInvalid.
func (e *Engine) read(ctx context.Context, snap *Snapshot, full bool) (*source.Directory, *pendingRead, error) {
	name := e.source.Name()
	inc, ok := e.source.(source.Incremental)
	if !ok || !e.incremental {
		dir, err := e.readFull(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrSourceRead, named(name, err))
		}
		if dir == nil {
			return nil, nil, fmt.Errorf("%w: %s returned no directory", ErrSourceRead, name)
		}
		if err := dir.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrSourceRead, named(name, err))
		}
		return dir, nil, nil
	}
	cursor, cached := snap.Cursors[name], snap.Directories[name]
	if cached.empty() || full {
		cursor = ""
	}
	ch, err := inc.ReadChanges(ctx, cursor)
	if errors.Is(err, source.ErrCursorExpired) && cursor != "" {
		e.log.Info("incremental cursor expired; reading the source in full", zap.String("source", name))
		cursor = ""
		ch, err = inc.ReadChanges(ctx, "")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSourceRead, named(name, err))
	}
	if ch == nil {
		return nil, nil, fmt.Errorf("%w: %s returned no changes", ErrSourceRead, name)
	}
	var dir *source.Directory
	pending := &pendingRead{name: name, cursor: ch.Cursor, incremental: !ch.Full && cursor != ""}
	if ch.Full || cursor == "" {
		dir = &source.Directory{Users: ch.Users, Groups: ch.Groups}
		if err := dir.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrSourceRead, named(name, err))
		}
	} else {
		// A cache held encoded is folded into at the save from its
		// encoding and the changes, so the directory decoded here only
		// feeds the mapping: it is decoded with the attributes the
		// mapping reads alone, when the mapping says which. Decoded for
		// this read alone, it is the engine's own, and the changes are
		// folded into it in place (source.ApplyInPlace), not into a copy
		// of its users; a cache the state holds decoded (Dir) is the
		// state's, and is folded into a copy.
		var old *source.Directory
		fold := source.ApplyShared
		if names, ok := e.mappedAttributes(); ok && cached.encoded() {
			old, err = cached.selected(names)
		} else {
			old, err = cached.Directory()
		}
		if cached.encoded() {
			fold = source.ApplyInPlace
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: the cached directory: %w", ErrStateCorrupt, name, err)
		}
		if dir, err = fold(old, ch); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: folding changes into the cached directory: %w", ErrSourceRead, name, err)
		}
		switch {
		case !cached.encoded():
			// Cached decoded: the plan encodes the fold.
		case len(ch.Users)+len(ch.Groups)+len(ch.RemovedUsers)+len(ch.RemovedGroups) == 0:
			pending.cached = cached // the same directory: no need to encode it again
		default:
			// The new cache is encoded when the apply saves it, from the
			// old one and the changes; those must encode (as the plan
			// checked when it encoded the fold whole).
			// They are encoded to nowhere, a buffer at a time: an
			// encoding held whole would sit next to the directory just
			// decoded, before the mapping drops any of it.
			if _, err := (&source.Directory{Users: ch.Users, Groups: ch.Groups}).WriteTo(io.Discard); err != nil {
				return nil, nil, fmt.Errorf("sync: caching the directory of %s: %w", name, err)
			}
			pending.base, pending.changes = cached, ch
			pending.users, pending.groups = len(dir.Users), len(dir.Groups)
		}
	}
	pending.dir = dir
	e.log.Info("source read", zap.String("source", name), zap.Bool("full", ch.Full || cursor == ""),
		zap.Int("changedUsers", len(ch.Users)), zap.Int("changedGroups", len(ch.Groups)),
		zap.Int("removedUsers", len(ch.RemovedUsers)), zap.Int("removedGroups", len(ch.RemovedGroups)))
	return dir, pending, nil
}

// readFull reads the whole source: only the attributes the mapping reads,
// when the mapping says which (mapping.AttributeReader) and the source
// can leave the others out (source.AttributeSelector).
func (e *Engine) readFull(ctx context.Context) (*source.Directory, error) {
	sel, ok := e.source.(source.AttributeSelector)
	names, known := e.mappedAttributes()
	if !ok || !known {
		return e.source.Read(ctx)
	}
	return sel.ReadAttributes(ctx, names)
}

// mappedAttributes names the source attributes the mapping reads, when
// it can tell (mapping.AttributeReader); false means every attribute.
func (e *Engine) mappedAttributes() ([]string, bool) {
	m, ok := e.mapper.(mapping.AttributeReader)
	if !ok {
		return nil, false
	}
	return m.SourceAttributes()
}

// PlanOption adjusts one Plan call.
type PlanOption func(*planConfig)

type planConfig struct {
	reapply    bool
	drift      bool
	fullSource bool // read the source in full (a Runner's scheduled full read)
	escrow     *escrowConfig
	release    bool // the plan is Sync's own: its apply may release payloads
}

// Reapply re-evaluates every object, as Entra's "restart provisioning"
// and OneLogin's "reapply mappings" do after a mapping change: the source
// is read in full even when it could report changes since the last run,
// the target is read in full too (a drift check, see DriftCheck), and
// every user and group is mapped and compared again.
func Reapply() PlanOption { return func(c *planConfig) { c.reapply = true } }

// DriftCheck makes the plan read the whole target instead of comparing
// the source with the state's mirrors of the owned objects: what was
// changed by hand in the tenant is corrected, the owned objects' mirrors
// are refreshed, and ownership is verified again. The source is read as
// usual (see Reapply for a full source read too). Plans make one on their
// own as WithDriftCheck says.
func DriftCheck() PlanOption { return func(c *planConfig) { c.drift = true } }

// Run plans and, unless dryRun, applies, as Sync does.
//
// Deprecated: a boolean argument hides what a call does; use
// e.Sync(ctx, opts...) to plan and apply, e.Sync(ctx, DryRun()) (or
// e.Plan) to plan only.
func (e *Engine) Run(ctx context.Context, dryRun bool, opts ...ApplyOption) (*Plan, *Result, error) {
	ro := make([]RunOption, 0, len(opts)+1)
	for _, o := range opts {
		ro = append(ro, o)
	}
	if dryRun {
		ro = append(ro, DryRun())
	}
	return e.Sync(ctx, ro...)
}

// reclaim resolves the state's intents, creates an earlier run sent
// without learning whether they landed: a target object no link owns
// whose userName (or displayName) and externalId are the ones the intent
// recorded is linked as created, whether or not the source still holds
// it. An intent nothing matches is settled (its create never landed) only
// if it sent no externalId: one that did stays pending, since a listing
// that under-reports (an empty one, say, which nothing contradicts while
// the state links nothing) would otherwise settle the intents of objects
// that landed, and leave them unowned for good; an object carrying the
// source id as its externalId is no one else's. It changes snap and
// returns the records that make the same changes, which Apply stores. Two
// candidates for one intent leave it pending.
//
// With listed false, users and groups are not a listing of the target but
// the objects found for some intents (by name): an intent nothing matches
// then stays pending whatever it sent.
func reclaim(snap *Snapshot, users []scim.User, groups []scim.Group, owner string, listed bool) []Record {
	if len(snap.Intents) == 0 {
		return nil
	}
	ownedUsers, ownedGroups := reverseLinks(snap.Users), reverseLinks(snap.Groups)
	var recs []Record
	for _, in := range snap.Intents {
		found, n := "", 0
		switch in.Kind {
		case KindUser:
			for i := range users {
				u := &users[i]
				if _, owned := ownedUsers[u.ID]; !owned && strings.EqualFold(u.UserName, in.Key) &&
					(in.ExternalID == "" || u.ExternalID == in.ExternalID) {
					found, n = u.ID, n+1
				}
			}
		case KindGroup:
			for i := range groups {
				g := &groups[i]
				if _, owned := ownedGroups[g.ID]; !owned && strings.EqualFold(g.DisplayName, in.Key) &&
					(in.ExternalID == "" || g.ExternalID == in.ExternalID) {
					found, n = g.ID, n+1
				}
			}
		}
		r := Record{Op: OpSettle, Kind: in.Kind, SourceID: in.SourceID}
		switch n {
		case 0:
			if in.ExternalID != "" || !listed {
				continue
			}
		case 1:
			r.Op, r.Link = OpLink, &Link{TargetID: found, Origin: OriginCreated, Since: in.Since, Source: cmp.Or(in.Source, owner)}
		default:
			continue
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b Record) int {
		return strings.Compare(intentKey(a.Kind, a.SourceID), intentKey(b.Kind, b.SourceID))
	})
	out := recs[:0]
	for _, r := range recs {
		if r.Op == OpLink {
			owned := ownedUsers
			if r.Kind == KindGroup {
				owned = ownedGroups
			}
			if _, taken := owned[r.Link.TargetID]; taken {
				continue // two intents for one object: leave the second pending
			}
			owned[r.Link.TargetID] = r.SourceID
		}
		_ = snap.Apply(r) // kinds and ops are valid by construction
		out = append(out, r)
	}
	return out
}
