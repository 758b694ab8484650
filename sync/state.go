package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	gosync "sync"
	"time"
)

// Errors of State implementations.
var (
	// ErrStateCorrupt: a saved state cannot be read back, or is not a
	// state this engine wrote (no version, no target).
	ErrStateCorrupt = errors.New("sync: state is corrupt")
	// ErrStaleState: a Save was made from a snapshot older than the one
	// stored; load again and redo the change.
	ErrStaleState = errors.New("sync: state changed since it was loaded")
	// ErrLocked: another process (or another FileState of this process)
	// holds the state; only one engine may use a state at a time.
	ErrLocked = errors.New("sync: state is locked by another user")
)

// stateVersion is the version of the snapshot format written by Save.
const stateVersion = 1

// Origin tells how the engine came to own a target object.
type Origin string

// Origins of owned objects.
const (
	// OriginCreated: the engine created the object.
	OriginCreated Origin = "created"
	// OriginAdopted: the object existed and the engine matched it to a
	// source object and took it over.
	OriginAdopted Origin = "adopted"
)

// Link ties a source object to the target object the engine owns for it.
type Link struct {
	// TargetID is the object's id in the target.
	TargetID string `json:"targetId"`
	// Origin says whether the engine created or adopted it.
	Origin Origin `json:"origin"`
	// Source names the source that owns the object: the engine's owner
	// name (WithOwner; by default the source's Name), or, for a
	// source.Merged, the source its OwnerOf names. A link stored before
	// links named their source belongs to the engine that loads it.
	Source string `json:"source,omitempty"`
	// Since is when the link was made.
	Since time.Time `json:"since"`
	// DeactivatedAt is when the engine deactivated the user (or first saw
	// it deactivated), for policies that delete after a delay; zero while
	// the user is active.
	DeactivatedAt time.Time `json:"deactivatedAt,omitzero"`
	// Mirror is the target object as the engine last wrote or read it;
	// nil while unknown (see Mirror).
	Mirror *Mirror `json:"mirror,omitempty"`
}

// Intent is a create the engine is about to send: recorded before the
// request goes out, so that an object whose create landed but whose link
// was never recorded (the process died in between) is recognised on the
// next run as one the engine created, whether or not the source still
// holds it.
type Intent struct {
	// Kind is user or group.
	Kind Kind `json:"kind"`
	// SourceID is the source object the create is for.
	SourceID string `json:"sourceId"`
	// Key is the userName or displayName sent.
	Key string `json:"key"`
	// ExternalID is the externalId sent, if any.
	ExternalID string `json:"externalId,omitempty"`
	// Source names the source that will own the object (Link.Source).
	Source string `json:"source,omitempty"`
	// Since is when the create was decided.
	Since time.Time `json:"since"`
}

func intentKey(kind Kind, sourceID string) string { return string(kind) + ":" + sourceID }

// Snapshot is everything the engine remembers between runs.
type Snapshot struct {
	// Version is the format's version; a stored snapshot without one was
	// not written by this engine and is refused as corrupt.
	Version int `json:"version"`
	// Target names the target the links refer to (WithTargetName).
	Target string `json:"target"`
	// Serial is the number of saves the snapshot has been through. A save
	// stores serial+1 only if the stored state is still at serial (compare
	// and swap), and a plan records the serial it was made from so a
	// stale plan is refused.
	Serial int64 `json:"serial"`
	// Users maps source user ids to owned target users.
	Users map[string]Link `json:"users"`
	// Groups maps source group keys to owned target groups.
	Groups map[string]Link `json:"groups"`
	// Intents holds creates sent but not yet known to have landed, by
	// kind and source id.
	Intents map[string]Intent `json:"intents,omitempty"`
	// Cursors holds incremental read cursors by source name.
	Cursors map[string]string `json:"cursors,omitempty"`
	// Directories holds, by source name, the directory an incremental
	// source last yielded, which its next changes are folded into.
	Directories map[string]*CachedDirectory `json:"directories,omitempty"`
	// Approvals holds the changes policy sends for approval, by id.
	Approvals map[string]*Approval `json:"approvals,omitempty"`
	// Escrow holds a Runner's failed changes, retried with a backoff
	// and reported once they fail persistently, by object and action.
	// It is saved with the snapshot, not journaled: a crash loses the
	// failures counted by the cycle it interrupts.
	Escrow map[string]EscrowEntry `json:"escrow,omitempty"`
	// Conflicts are the source users and groups not created because a
	// target object the engine may not adopt holds their userName
	// (displayName), by kind and source id ("user:<id>", see Conflict).
	// Saved with the snapshot, not journaled: a crash loses those found
	// by the cycle it interrupts, and their creates are sent once more.
	Conflicts map[string]Conflict `json:"conflicts,omitempty"`
	// LastDriftCheck is when the engine last read the whole target (a
	// drift check) and refreshed every link's mirror from it; zero if it
	// never did, which makes the next plan a drift check.
	LastDriftCheck time.Time `json:"lastDriftCheck,omitzero"`
	// TargetGroups are the display names of the target groups the engine
	// does not own, as the last drift check listed them: with the owned
	// groups' mirrors, what an EntitlementMapper is told the target has.
	TargetGroups []string `json:"targetGroups,omitempty"`

	// migrated: loading changed the snapshot (links stored before links
	// named their source), so the next apply saves it.
	migrated bool
	// foreign is what the stored state holds for other engines (see
	// Engine.view); nil when it holds nothing else.
	foreign *foreignPart
	// sharedLinks: Users and Groups are the maps of the copy a State
	// keeps (FileState's, see sharingState), lent without copying them;
	// ownLinks copies them before anything writes to them.
	sharedLinks bool
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{Users: map[string]Link{}, Groups: map[string]Link{}, Cursors: map[string]string{}}
}

// Clone returns a deep copy of s.
func (s *Snapshot) Clone() *Snapshot { return s.clone(true) }

// clone returns a copy of s with maps of its own; the cached directories
// are deep copies with deepDirs, shared with s without.
func (s *Snapshot) clone(deepDirs bool) *Snapshot {
	c := s.cloneRest(deepDirs)
	c.Users, c.Groups = maps.Clone(s.Users), maps.Clone(s.Groups)
	c.normalize()
	return c
}

// lend returns a copy of s that shares s's link maps (sharedLinks): a
// state's copy is handed to the engine without copying its largest part,
// which the engine copies only if it changes a link (ownLinks). The rest
// is copied as clone(false) copies it.
func (s *Snapshot) lend() *Snapshot {
	c := s.cloneRest(false)
	c.Users, c.Groups, c.sharedLinks = s.Users, s.Groups, true
	c.normalize()
	return c
}

// ownLinks gives s link maps of its own if it shares them (sharedLinks):
// every write to s.Users or s.Groups is preceded by it.
func (s *Snapshot) ownLinks() {
	if s.sharedLinks {
		s.Users, s.Groups, s.sharedLinks = maps.Clone(s.Users), maps.Clone(s.Groups), false
		s.normalize()
	}
}

// cloneRest returns a copy of s without its links, as clone.
func (s *Snapshot) cloneRest(deepDirs bool) *Snapshot {
	c := &Snapshot{Version: s.Version, Target: s.Target, Serial: s.Serial,
		LastDriftCheck: s.LastDriftCheck, TargetGroups: slices.Clone(s.TargetGroups),
		migrated: s.migrated, foreign: s.foreign, // foreign is never changed once loaded
		Cursors: maps.Clone(s.Cursors)}
	if c.Cursors == nil {
		c.Cursors = map[string]string{}
	}
	if len(s.Intents) > 0 {
		c.Intents = make(map[string]Intent, len(s.Intents))
		for k, v := range s.Intents {
			c.Intents[k] = v
		}
	}
	if len(s.Approvals) > 0 {
		c.Approvals = make(map[string]*Approval, len(s.Approvals))
		for k, v := range s.Approvals {
			a := *v
			c.Approvals[k] = &a
		}
	}
	if len(s.Escrow) > 0 {
		c.Escrow = maps.Clone(s.Escrow)
	}
	c.Conflicts = maps.Clone(s.Conflicts)
	if len(s.Directories) > 0 {
		c.Directories = make(map[string]*CachedDirectory, len(s.Directories))
		for k, v := range s.Directories {
			d := v.Dir
			if deepDirs && d != nil {
				d = d.Clone()
			}
			c.Directories[k] = &CachedDirectory{Dir: d, enc: v.enc, fold: v.fold, file: v.file, sum: v.sum} // an encoding is never changed
		}
	}
	return c
}

func (s *Snapshot) normalize() {
	if s.Users == nil {
		s.Users = map[string]Link{}
	}
	if s.Groups == nil {
		s.Groups = map[string]Link{}
	}
	if s.Cursors == nil {
		s.Cursors = map[string]string{}
	}
}

// RecordOp is what a Record does to a snapshot.
type RecordOp string

// Record operations.
const (
	// OpLink sets the link of (Kind, SourceID) to Link and settles its
	// intent.
	OpLink RecordOp = "link"
	// OpUnlink removes the link of (Kind, SourceID) and settles its intent.
	OpUnlink RecordOp = "unlink"
	// OpIntent records Intent: a create about to be sent.
	OpIntent RecordOp = "intent"
	// OpSettle drops the intent of (Kind, SourceID): its create did not
	// land, or was resolved otherwise.
	OpSettle RecordOp = "settle"
	// OpMirror sets the mirror of the link of (Kind, SourceID) to Mirror
	// (nil: unknown), if the link exists.
	OpMirror RecordOp = "mirror"
)

// Record is one change to the state, stored as it happens (State.Record)
// so that a crash loses no more than the writes in flight.
type Record struct {
	Op       RecordOp `json:"op"`
	Kind     Kind     `json:"kind"`
	SourceID string   `json:"sourceId"`
	Link     *Link    `json:"link,omitempty"`
	Intent   *Intent  `json:"intent,omitempty"`
	Mirror   *Mirror  `json:"mirror,omitempty"`
}

// Apply applies r to s.
func (s *Snapshot) Apply(r Record) error {
	switch r.Op {
	case OpLink, OpUnlink, OpMirror:
		s.ownLinks()
	}
	links := s.Users
	switch r.Kind {
	case KindUser:
	case KindGroup:
		links = s.Groups
	default:
		return fmt.Errorf("%w: record of unknown kind %q", ErrStateCorrupt, r.Kind)
	}
	switch r.Op {
	case OpLink:
		if r.Link == nil {
			return fmt.Errorf("%w: link record for %s has no link", ErrStateCorrupt, intentKey(r.Kind, r.SourceID))
		}
		links[r.SourceID] = *r.Link
		s.dropIntent(r.Kind, r.SourceID)
	case OpUnlink:
		delete(links, r.SourceID)
		s.dropIntent(r.Kind, r.SourceID)
	case OpIntent:
		key := intentKey(r.Kind, r.SourceID)
		if r.Intent == nil {
			return fmt.Errorf("%w: intent record for %s has no intent", ErrStateCorrupt, key)
		}
		if s.Intents == nil {
			s.Intents = map[string]Intent{}
		}
		s.Intents[key] = *r.Intent
	case OpSettle:
		s.dropIntent(r.Kind, r.SourceID)
	case OpMirror:
		if l, ok := links[r.SourceID]; ok {
			l.Mirror = r.Mirror
			links[r.SourceID] = l
		}
	default:
		return fmt.Errorf("%w: unknown record operation %q", ErrStateCorrupt, r.Op)
	}
	return nil
}

// dropIntent deletes the intent of an object, if it has one. Its key is
// made in a buffer on the stack, not on the heap: a link record of every
// created object comes here.
func (s *Snapshot) dropIntent(kind Kind, sourceID string) {
	if len(s.Intents) == 0 {
		return
	}
	var buf [96]byte
	key := append(append(append(buf[:0], kind...), ':'), sourceID...)
	delete(s.Intents, string(key))
}

// State stores the engine's snapshot between runs. One engine uses a
// state at a time (FileState enforces it across processes with a lock).
type State interface {
	// Load returns the saved snapshot with every record since applied, or
	// an empty one if nothing was saved.
	Load(ctx context.Context) (*Snapshot, error)
	// Save stores s, replacing the previous snapshot and the records made
	// since it atomically: after a crash either the old or the new
	// snapshot is read back, never a mix. It is a compare-and-swap: s must
	// carry the stored serial plus one, or Save fails with ErrStaleState.
	Save(ctx context.Context, s *Snapshot) error
	// Record durably adds changes to the stored state without rewriting
	// it; Load applies them to the snapshot, and the next Save replaces
	// them. It returns once the records would survive a crash.
	Record(ctx context.Context, recs ...Record) error
}

// MemoryState is a State held in memory, for tests and one-shot runs.
type MemoryState struct {
	mu   gosync.Mutex
	snap *Snapshot
}

var _ State = (*MemoryState)(nil)

// NewMemoryState returns an empty in-memory state.
func NewMemoryState() *MemoryState { return &MemoryState{} }

// Load returns a copy of the stored snapshot.
func (m *MemoryState) Load(context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		return NewSnapshot(), nil
	}
	return m.snap.Clone(), nil
}

// Save stores a copy of s if s.Serial is the stored serial plus one.
func (m *MemoryState) Save(_ context.Context, s *Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var have int64
	if m.snap != nil {
		have = m.snap.Serial
	}
	if s.Serial != have+1 {
		return fmt.Errorf("%w: saving serial %d over serial %d", ErrStaleState, s.Serial, have)
	}
	m.snap = s.Clone()
	m.snap.Version = stateVersion
	return nil
}

// Record applies recs to the stored snapshot.
func (m *MemoryState) Record(_ context.Context, recs ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		m.snap = NewSnapshot()
	}
	for _, r := range recs {
		if err := m.snap.Apply(r); err != nil {
			return err
		}
	}
	return nil
}
