package sync

import (
	"cmp"
	"context"
	"strings"
	gosync "sync"
)

// nsSep separates the owner's name from the key in what an engine named
// with WithOwner stores: "<owner>\x1f<source id>" for its links, intents,
// approvals and escrow, "<owner>\x1f<source name>" for its cursors and
// cached directories. Neither source ids nor owner names hold control
// characters, so the split is unambiguous, and several named engines can
// share one State without mixing their entries, even when their source
// ids collide.
const nsSep = "\x1f"

// foreignPart is what a loaded state holds for other engines: kept aside
// by load, not planned against, and stored again, unchanged, by save.
type foreignPart struct {
	users, groups map[string]Link
	intents       map[string]Intent
	cursors       map[string]string
	dirs          map[string]*CachedDirectory
	approvals     map[string]*Approval
	escrow        map[string]EscrowEntry

	once    gosync.Once
	targets map[string]string // kind:target id → owner, of users and groups
}

// shared reports whether the state holds other engines' links.
func (fp *foreignPart) shared() bool {
	return fp != nil && len(fp.users)+len(fp.groups) > 0
}

// ownerOf names the engine whose link owns the target object, "" if
// none does.
func (fp *foreignPart) ownerOf(kind Kind, targetID string) string {
	if fp == nil {
		return ""
	}
	fp.once.Do(func() {
		fp.targets = make(map[string]string, len(fp.users)+len(fp.groups))
		for kind, links := range map[Kind]map[string]Link{KindUser: fp.users, KindGroup: fp.groups} {
			for k, l := range links {
				owner, _, q := splitKey(k)
				if !q || owner == "" {
					owner = l.Source
				}
				fp.targets[intentKey(kind, l.TargetID)] = cmp.Or(owner, "another engine")
			}
		}
	})
	return fp.targets[intentKey(kind, targetID)]
}

// splitKey returns the owner and the key of a stored key; qualified is
// false for a key no named engine wrote.
func splitKey(k string) (owner, key string, qualified bool) {
	owner, key, qualified = strings.Cut(k, nsSep)
	if !qualified {
		return "", k, false
	}
	return owner, key, true
}

// stored returns the key the engine stores k under.
func (e *Engine) stored(k string) string {
	if !e.named {
		return k
	}
	return e.owner + nsSep + k
}

// view turns a stored snapshot into the engine's own: the entries of its
// namespace, keyed as the engine uses them, while the rest is kept
// aside. An engine without a name owns the unqualified entries. A named
// engine owns the entries qualified by its name and, as the migration of
// a state written by an engine without a name (or before owners), the
// unqualified links and intents that name no source, its owner, or its
// source (or a member of its merging source), the unqualified cursors
// and cached directories of its source's name, and the unqualified
// approvals and escrow when no unqualified link is left to another; what
// it takes is saved qualified by the next apply.
func (e *Engine) view(s *Snapshot) {
	if !e.named && !s.hasQualified() {
		return
	}
	fp := &foreignPart{}
	mine := e.owners(nil, nil)
	mine[e.source.Name()] = true
	plainMine := func(source string) bool { return source == "" || mine[source] }
	takePlain := true
	take := func(k string, plainOK bool) (string, bool) {
		owner, key, q := splitKey(k)
		switch {
		case q:
			return key, e.named && owner == e.owner
		case !e.named:
			return key, true
		case plainOK:
			s.migrated = true
			return key, true
		}
		return key, false
	}
	for _, links := range []*map[string]Link{&s.Users, &s.Groups} {
		own := make(map[string]Link, len(*links))
		var other map[string]Link
		for k, l := range *links {
			key, ok := take(k, plainMine(l.Source))
			switch {
			case ok:
				if _, _, q := splitKey(k); !q && e.named && l.Source == e.source.Name() {
					l.Source = e.owner // named now, after syncing unnamed
				}
				own[key] = l
			default:
				if _, _, q := splitKey(k); !q {
					takePlain = false
				}
				if other == nil {
					other = map[string]Link{}
				}
				other[k] = l
			}
		}
		*links = own // a map of its own: s no longer shares the state's (sharedLinks)
		if links == &s.Users {
			fp.users = other
		} else {
			fp.groups = other
		}
	}
	if len(s.Intents) > 0 {
		own := make(map[string]Intent, len(s.Intents))
		for k, in := range s.Intents {
			if key, ok := take(in.SourceID, plainMine(in.Source)); ok {
				in.SourceID = key
				own[intentKey(in.Kind, key)] = in
			} else {
				fp.intents = setIn(fp.intents, k, in)
			}
		}
		s.Intents = own
	}
	s.Cursors, fp.cursors = partition(s.Cursors, func(k string) (string, bool) { return take(k, k == e.source.Name()) })
	s.Directories, fp.dirs = partition(s.Directories, func(k string) (string, bool) { return take(k, k == e.source.Name()) })
	s.Approvals, fp.approvals = partition(s.Approvals, func(k string) (string, bool) { return take(k, takePlain) })
	s.Escrow, fp.escrow = partition(s.Escrow, func(k string) (string, bool) { return take(k, takePlain) })
	s.foreign = fp
	s.sharedLinks = false
}

// hasQualified reports whether s holds links or intents a named engine
// stored.
func (s *Snapshot) hasQualified() bool {
	for _, links := range []map[string]Link{s.Users, s.Groups} {
		for k := range links {
			if strings.Contains(k, nsSep) {
				return true
			}
		}
	}
	for _, in := range s.Intents {
		if strings.Contains(in.SourceID, nsSep) {
			return true
		}
	}
	for _, m := range [][]string{keysOf(s.Cursors), keysOf(s.Approvals), keysOf(s.Escrow), keysOf(s.Directories)} {
		for _, k := range m {
			if strings.Contains(k, nsSep) {
				return true
			}
		}
	}
	return false
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// partition splits m into the entries own accepts, under the key it
// returns, and the others, under their stored key. A nil map stays nil.
func partition[V any](m map[string]V, own func(k string) (string, bool)) (mine, other map[string]V) {
	if m == nil {
		return nil, nil
	}
	mine = make(map[string]V, len(m))
	for k, v := range m {
		if key, ok := own(k); ok {
			mine[key] = v
		} else {
			other = setIn(other, k, v)
		}
	}
	return mine, other
}

func setIn[V any](m map[string]V, k string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	m[k] = v
	return m
}

// toStore returns the snapshot to store for the engine's view s: its
// entries under their stored keys, and the other engines' as they were
// loaded. For an engine without a name whose state holds no named
// engine's entries, that is s itself.
func (e *Engine) toStore(s *Snapshot) *Snapshot {
	fp := s.foreign
	if !e.named && fp == nil {
		return s
	}
	if fp == nil {
		fp = &foreignPart{}
	}
	out := *s
	out.foreign = nil
	out.Users = restore(s.Users, fp.users, e.stored)
	out.Groups = restore(s.Groups, fp.groups, e.stored)
	out.Cursors = restore(s.Cursors, fp.cursors, e.stored)
	out.Directories = restore(s.Directories, fp.dirs, e.stored)
	out.Approvals = restore(s.Approvals, fp.approvals, e.stored)
	out.Escrow = restore(s.Escrow, fp.escrow, e.stored)
	out.Intents = nil
	for _, in := range s.Intents {
		in.SourceID = e.stored(in.SourceID)
		out.Intents = setIn(out.Intents, intentKey(in.Kind, in.SourceID), in)
	}
	for k, in := range fp.intents {
		out.Intents = setIn(out.Intents, k, in)
	}
	return &out
}

// restore merges the engine's entries, under their stored keys, with the
// other engines'.
func restore[V any](own, other map[string]V, stored func(string) string) map[string]V {
	if own == nil && other == nil {
		return nil
	}
	out := make(map[string]V, len(own)+len(other))
	for k, v := range own {
		out[stored(k)] = v
	}
	for k, v := range other {
		out[k] = v
	}
	return out
}

// save stores the engine's view s (see toStore).
func (e *Engine) save(ctx context.Context, s *Snapshot) error {
	if st := e.sharing(); st != nil {
		return st.saveShared(ctx, e.toStore(s))
	}
	return e.state.Save(ctx, e.toStore(s))
}

// sharingState is a State that keeps a copy of the stored snapshot in
// memory and lends its link maps (the largest part of a state) to the
// engine instead of copying them on every load and save, as FileState
// does. A snapshot it returns (or was given) shares the maps
// (Snapshot.sharedLinks) and copies them before the engine changes a
// link: every write to a snapshot's links goes through Snapshot.Apply or
// follows Snapshot.ownLinks. The state itself changes its copy only as
// Record and Save change the stored state.
type sharingState interface {
	// loadShared is Load, lending the link maps.
	loadShared(ctx context.Context) (*Snapshot, error)
	// saveShared is Save, keeping s's link maps, which s shares from
	// then on.
	saveShared(ctx context.Context, s *Snapshot) error
	// leaveLinks makes the state forget its copy, whose link maps a
	// snapshot it lent them to may then change as its own, until a
	// saveShared gives it a copy again; a Load in between reads the
	// stored state afresh.
	leaveLinks()
}

// sharing returns the engine's state if it lends its links: a FileState
// itself, not a type that embeds one, whose Load and Save may do more.
func (e *Engine) sharing() sharingState {
	if f, ok := e.state.(*FileState); ok {
		return f
	}
	return nil
}

// record stores recs, made against the engine's view, under the stored
// keys. With synced false, a state that can (ownRecorder) returns
// before they are synced to disk.
func (e *Engine) record(ctx context.Context, recs []Record, synced bool) error {
	if e.named {
		out := make([]Record, len(recs))
		for i, r := range recs {
			r.SourceID = e.stored(r.SourceID)
			if r.Intent != nil {
				in := *r.Intent
				in.SourceID = r.SourceID
				r.Intent = &in
			}
			out[i] = r
		}
		recs = out
	}
	if o, ok := e.state.(ownRecorder); ok {
		return o.recordOwn(ctx, synced, recs...)
	}
	return e.state.Record(ctx, recs...)
}

// ownRecorder is a State that stores the engine's own records more
// cheaply than Record, as FileState does: with synced false, without
// waiting for them to reach the disk (the process may die once the call
// returns without losing them, the system may not). It waits on nothing a
// context could end, so the engine passes it no deadline.
type ownRecorder interface {
	recordOwn(ctx context.Context, synced bool, recs ...Record) error
}
