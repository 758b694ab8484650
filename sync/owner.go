package sync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

// validOwner checks an owner name given to WithOwner.
func validOwner(name string) error {
	if name == "" {
		return errors.New("sync: WithOwner needs a name")
	}
	for i, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("sync: owner name %q holds a control character at byte %d", name, i)
		}
	}
	return nil
}

// ownerOf names the source that owns the source object id: the one a
// source.Merged names for it, or the engine's owner.
func (e *Engine) ownerOf(id string) string {
	if m, ok := e.source.(source.Merged); ok {
		if o := m.OwnerOf(id); o != "" {
			return o
		}
	}
	return e.owner
}

// claimLegacy gives the links stored before links named their source to
// the engine that loads them: they were made by the one engine that used
// the state.
func (e *Engine) claimLegacy(snap *Snapshot) {
	for _, links := range []map[string]Link{snap.Users, snap.Groups} {
		for k, l := range links {
			if l.Source == "" {
				l.Source = e.owner
				links[k] = l
				snap.migrated = true
			}
		}
	}
}

// relabel names, in the links of objects a merged directory holds, the
// source ownerOf says owns them, where the link says otherwise (a link
// stored before links named their source is first given to the engine's
// owner). It changes snap and returns the records that make the same
// changes.
func relabel(snap *Snapshot, ownerOf func(string) string) []Record {
	var recs []Record
	for _, kl := range []struct {
		kind  Kind
		links map[string]Link
	}{{KindUser, snap.Users}, {KindGroup, snap.Groups}} {
		for id, l := range kl.links {
			if o := ownerOf(id); o != "" && o != l.Source {
				l.Source = o
				recs = append(recs, Record{Op: OpLink, Kind: kl.kind, SourceID: id, Link: &l})
			}
		}
	}
	slices.SortFunc(recs, func(a, b Record) int {
		return strings.Compare(intentKey(a.Kind, a.SourceID), intentKey(b.Kind, b.SourceID))
	})
	for _, r := range recs {
		_ = snap.Apply(r) // valid by construction
	}
	return recs
}

// sourceIDs tells which ids the source's directory holds this cycle,
// indexed on first use.
type sourceIDs struct {
	dir           *source.Directory
	once          gosync.Once
	users, groups map[string]bool
}

func (s *sourceIDs) has(kind Kind, id string) bool {
	if s == nil || s.dir == nil {
		return true
	}
	s.once.Do(func() {
		s.users = make(map[string]bool, len(s.dir.Users))
		for i := range s.dir.Users {
			s.users[s.dir.Users[i].ID] = true
		}
		s.groups = make(map[string]bool, len(s.dir.Groups))
		for i := range s.dir.Groups {
			s.groups[s.dir.Groups[i].ID] = true
		}
	})
	if kind == KindGroup {
		return s.groups[id]
	}
	return s.users[id]
}

// takesOver decides whether a desired object that matched a target
// object linked to another source object, from, takes the link over
// instead of being reported: from must be gone from this cycle's
// directory altogether (not deleted, suspended or out of scope there, and
// not desired), the read complete, and the desired user active at the
// source. That is the case when a merged directory's owning source drops
// a person the next source in precedence holds (the person's merged id
// changes), and when a user is deleted at the source and created again
// under the same userName. Groups are taken over only in a merged
// directory. The match itself is the ordinary one (the
// matching properties, an ambiguous one is a problem), so one object is
// taken over by one desired object at most.
func (in *planInput) takesOver(kind Kind, from string, event mapping.Event, ups map[string]*userPlan) bool {
	if !in.complete || event != mapping.EventNone || in.read == nil {
		return false
	}
	if _, desired := ups[from]; desired {
		return false
	}
	if kind == KindGroup {
		// Group rules make groups no directory holds; only a merged
		// directory's groups change ids when their owner changes.
		if in.ownerOf == nil || slices.ContainsFunc(in.desired.Groups, func(g mapping.DesiredGroup) bool { return g.SourceID == from }) {
			return false
		}
	}
	return !in.read.has(kind, from)
}

// takeoverReason is the reason of a change that takes a link over.
func takeoverReason(kind Kind, from, reason string, attrs int) string {
	r := fmt.Sprintf("taken over from source %s %q, which is gone from the source", kind, from)
	if attrs > 0 {
		r += "; " + reason
	}
	return r
}
