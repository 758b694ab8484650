package sync

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"unicode"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

// validOwner checks an owner name given to WithOwner.
func validOwner(name string) error {
	if name == "" {
		return errors.New("sync: WithOwner needs a name")
	}
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		return fmt.Errorf("sync: owner name %q holds a control character at byte %d", name, i)
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
	if !slices.ContainsFunc([]map[string]Link{snap.Users, snap.Groups}, hasLegacy) {
		return
	}
	snap.ownLinks()
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

// hasLegacy reports whether a link of links names no source.
func hasLegacy(links map[string]Link) bool {
	for _, l := range links {
		if l.Source == "" {
			return true
		}
	}
	return false
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
// indexed on first use. It keeps the ids only, not the directory, which
// the plan releases once mapped.
type sourceIDs struct {
	userIDs, groupIDs []string
	once              gosync.Once
	users, groups     map[string]bool
}

// newSourceIDs returns the ids of dir's users and groups; nil (every id
// is held) for no directory.
func newSourceIDs(dir *source.Directory) *sourceIDs {
	if dir == nil {
		return nil
	}
	s := &sourceIDs{userIDs: make([]string, len(dir.Users)), groupIDs: make([]string, len(dir.Groups))}
	for i := range dir.Users {
		s.userIDs[i] = dir.Users[i].ID
	}
	for i := range dir.Groups {
		s.groupIDs[i] = dir.Groups[i].ID
	}
	return s
}

func (s *sourceIDs) has(kind Kind, id string) bool {
	if s == nil {
		return true
	}
	s.once.Do(func() {
		s.users = make(map[string]bool, len(s.userIDs))
		for _, id := range s.userIDs {
			s.users[id] = true
		}
		s.groups = make(map[string]bool, len(s.groupIDs))
		for _, id := range s.groupIDs {
			s.groups[id] = true
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

// markerPrefix starts the externalId of every object an engine with an
// owner marker creates or owns: "provsync:<owner>:<externalId>", the
// owner's '%' and ':' escaped as %25 and %3A. Identity providers' own
// externalIds (Entra object ids, Google and OneLogin numeric ids, Okta
// ids) never take this form.
const markerPrefix = "provsync:"

var (
	ownerEscaper   = strings.NewReplacer("%", "%25", ":", "%3A")
	ownerUnescaper = strings.NewReplacer("%25", "%", "%3A", ":", "%3a", ":")
)

// marker returns externalID marked as owned by owner; an externalId that
// carries a marker already is returned as it is.
func marker(owner, externalID string) string {
	if _, _, ok := parseMarker(externalID); ok {
		return externalID
	}
	return markerPrefix + ownerEscaper.Replace(owner) + ":" + externalID
}

// parseMarker splits a marked externalId into its owner and the
// externalId it marks.
func parseMarker(externalID string) (owner, rest string, ok bool) {
	s, ok := strings.CutPrefix(externalID, markerPrefix)
	if !ok {
		return "", "", false
	}
	o, rest, ok := strings.Cut(s, ":")
	if !ok || o == "" {
		return "", "", false
	}
	if strings.IndexByte(o, '%') >= 0 { // an escape, which every one the unescaper undoes begins with
		o = ownerUnescaper.Replace(o)
	}
	return o, rest, true
}

// WithOwnerMarker turns the owner marker on or off: with it on, the
// engine writes "provsync:<owner>:<externalId>" as the externalId of
// every object it creates or owns, so that engines keeping separate
// states can tell each other's objects in the target; objects it owns
// already are marked a batch per plan (WithMarkerBatch). Default: on when
// WithOwner names the owner, off otherwise. Whatever this setting, an
// object carrying another owner's marker is never adopted, updated or
// deprovisioned.
func WithOwnerMarker(on bool) Option {
	return func(e *Engine) { e.marking, e.markingSet = on, true }
}

// WithMarkerBatch bounds how many owned objects a plan marks (see
// WithOwnerMarker) when nothing else about them changes; the others wait
// for later plans. Default 2000: about eight minutes of requests at
// Netskope's 4 requests a second, so a tenant of 100,000 users is marked
// over 50 cycles. Objects that change anyway are marked in the same
// request, whatever the batch.
func WithMarkerBatch(n int) Option { return func(e *Engine) { e.markBatch = n } }

// defaultMarkerBatch is WithMarkerBatch's default.
const defaultMarkerBatch = 2000

// owners returns the owner names that are this engine's: its own, the
// members of a merging source that names them (a Members method), and
// the owner of every object a merged directory yields this cycle.
func (e *Engine) owners(d *mapping.Desired, thin *thinUsers) map[string]bool {
	ours := map[string]bool{e.owner: true}
	if m, ok := e.source.(interface{ Members() []string }); ok {
		for _, n := range m.Members() {
			ours[n] = true
		}
	}
	if m, ok := e.source.(source.Merged); ok && d != nil {
		in := planInput{desired: d, thin: thin}
		for i := range in.userCount() {
			if o := m.OwnerOf(in.userID(i)); o != "" {
				ours[o] = true
			}
		}
		for i := range d.Groups {
			if o := m.OwnerOf(d.Groups[i].SourceID); o != "" {
				ours[o] = true
			}
		}
	}
	return ours
}

// mark writes the owner marker into the externalId of every desired
// object (the mapped externalId, or the source id when the mapping sets
// none), and makes externalId a managed user attribute.
func (e *Engine) mark(d *mapping.Desired) {
	for i := range d.Users {
		e.markUser(&d.Users[i])
	}
	for i := range d.Groups {
		g := &d.Groups[i]
		g.Group.ExternalID = marker(e.ownerOf(g.SourceID), cmp.Or(g.Group.ExternalID, g.SourceID))
	}
	if len(d.ManagedUserAttributes) == 0 {
		d.ManagedUserAttributes = mapping.DefaultUserAttributes()
	}
	if !slices.ContainsFunc(d.ManagedUserAttributes, func(p string) bool { return strings.EqualFold(p, scim.PathExternalID) }) {
		d.ManagedUserAttributes = append(slices.Clip(d.ManagedUserAttributes), scim.PathExternalID)
	}
}

// markUser writes the owner marker into mapped user u's externalId (see
// mark); a marked externalId stays as it is.
func (e *Engine) markUser(u *mapping.DesiredUser) {
	u.User.ExternalID = marker(e.ownerOf(u.SourceID), cmp.Or(u.User.ExternalID, u.SourceID))
}

// foreign returns the source that owns a target object when it is not
// this engine: the owner its externalId's marker names, or the engine
// whose link owns it in a state shared with this one; and how that is
// known. "" when the object is no other source's.
func (in *planInput) foreign(kind Kind, targetID, externalID string) (owner, why string) {
	return foreignOwner(kind, targetID, externalID, in.ours, in.snap.foreign)
}

func foreignOwner(kind Kind, targetID, externalID string, ours map[string]bool, fp *foreignPart) (owner, why string) {
	if o, _, ok := parseMarker(externalID); ok && ours != nil && !ours[o] {
		return o, fmt.Sprintf("its externalId %q carries that source's marker", externalID)
	}
	if o := fp.ownerOf(kind, targetID); o != "" {
		return o, "the state this engine shares with it links it"
	}
	return "", ""
}

// foreignMessage says why an object another source owns (why: how that
// is known) is left alone by source object sourceID, which owner owns.
func foreignMessage(kind Kind, by, foreignOwner, why, sourceID, owner string) string {
	how := "matches by " + by + " and"
	if by == "link" {
		how = "this engine's state links to"
	}
	return fmt.Sprintf("the target %s that source %s %q (of source %q) %s belongs to source %q (%s): an object another source owns is never adopted, updated or deprovisioned by this one; make the names unique across the sources, or merge the sources in one engine",
		kind, kind, sourceID, owner, how, foreignOwner, why)
}

// markPacer bounds the marker-only updates of one plan.
type markPacer struct {
	limit, used, deferred int
}

// hold reports whether an update whose only change is attrs is held
// back: it adds a marker to an object that carries none, and the plan's
// batch is spent.
func (m *markPacer) hold(attrs []AttrChange) bool {
	if m == nil || m.limit <= 0 || len(attrs) != 1 || attrs[0].Path != scim.PathExternalID {
		return false
	}
	before, _ := attrs[0].Before.(string)
	after, _ := attrs[0].After.(string)
	if _, _, marked := parseMarker(before); marked {
		return false
	}
	if _, _, marking := parseMarker(after); !marking {
		return false
	}
	if m.used < m.limit {
		m.used++
		return false
	}
	m.deferred++
	return true
}
