package sync

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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
