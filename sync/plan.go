package sync

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

// Kind is the type of a target object.
type Kind string

// Object kinds.
const (
	KindUser  Kind = "user"
	KindGroup Kind = "group"
)

// Action is what a change does.
type Action string

// Actions, in the order Apply carries them out.
const (
	ActionCreateUser     Action = "create-user"
	ActionUpdateUser     Action = "update-user"
	ActionDeactivateUser Action = "deactivate-user"
	ActionCreateGroup    Action = "create-group"
	ActionUpdateGroup    Action = "update-group"
	ActionAddMembers     Action = "add-members"
	ActionRemoveMembers  Action = "remove-members"
	ActionDeleteGroup    Action = "delete-group"
	ActionDeleteUser     Action = "delete-user"
)

// phase orders actions: users, then groups, then memberships, then group
// deletions, then user deletions.
func (a Action) phase() int {
	switch a {
	case ActionCreateUser, ActionUpdateUser, ActionDeactivateUser:
		return 0
	case ActionCreateGroup, ActionUpdateGroup:
		return 1
	case ActionAddMembers, ActionRemoveMembers:
		return 2
	case ActionDeleteGroup:
		return 3
	case ActionDeleteUser:
		return 4
	}
	return 5
}

// deprovisions reports whether the action takes access away.
func (a Action) deprovisions() bool {
	return a == ActionDeactivateUser || a == ActionDeleteUser || a == ActionDeleteGroup
}

// Ref names an object on both sides.
type Ref struct {
	// Kind is user or group.
	Kind Kind `json:"kind"`
	// SourceID is the object's id at the source, "" for target-only ones.
	SourceID string `json:"sourceId,omitempty"`
	// TargetID is the object's id in the target, "" until created.
	TargetID string `json:"targetId,omitempty"`
	// Key is what people call it: userName or displayName.
	Key string `json:"key"`
}

// String names the object for messages: kind and key.
func (r Ref) String() string { return fmt.Sprintf("%s %q", r.Kind, r.Key) }

// AttrChange is one attribute's value before and after an update.
type AttrChange struct {
	Path   string `json:"path"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
}

// Change is one typed step of a plan.
type Change struct {
	// Action is what the change does.
	Action Action `json:"action"`
	// Object is the user or group changed.
	Object Ref `json:"object"`
	// Reason says why, e.g. "new at source", "left scope".
	Reason string `json:"reason,omitempty"`
	// Adopt is set when the change also takes over an existing target
	// object the engine did not own yet.
	Adopt bool `json:"adopt,omitempty"`
	// TakeoverFrom names the source object whose link the change moves
	// to Object.SourceID: that object is gone from the source, and the
	// target object it owned is now this one's (see takesOver).
	TakeoverFrom string `json:"takeoverFrom,omitempty"`
	// Owner names the source that owns the object a create or adoption
	// links (Link.Source), when the engine's source is a source.Merged;
	// empty means the engine's owner.
	Owner string `json:"owner,omitempty"`
	// User is the user to create (create-user).
	User *scim.User `json:"user,omitempty"`
	// Group is the group to create (create-group).
	Group *scim.Group `json:"group,omitempty"`
	// Attributes are the attribute changes of an update or deactivation.
	Attributes []AttrChange `json:"attributes,omitempty"`
	// Members are the users added or removed (add/remove-members), or the
	// initial members of a created group.
	Members []Ref `json:"members,omitempty"`
	// ApprovalID is set on a change policy held for approval and an
	// administrator approved.
	ApprovalID string `json:"approvalId,omitempty"`
	// packed holds the members of a create-group change in compact form
	// instead of Members, in a plan Sync makes (see packedMembers).
	packed *packedMembers
	// packedUser holds the user of a create-user change instead of User,
	// in a plan Sync makes: as the mirror of the user to create, whose
	// compact form (about 150 bytes) is a third of the user's, and which
	// the created user's link then keeps as its mirror.
	packedUser *Mirror
	// adopted is the mirror of the object an adopting update takes over
	// once the update landed: the object as the plan's listing found it,
	// with the update followed on it. Apply stores it as the adopted
	// link's mirror, so that the next cycle need not read the object
	// again. Nil when unknown, when other changes of the plan write to
	// the object too, and in a plan decoded from JSON.
	adopted *Mirror
}

// release drops the payload of an applied create, which nothing reads
// once the created object's link and mirror are recorded: the user, or
// the group and its initial members.
func (c *Change) release() {
	switch c.Action {
	case ActionCreateUser:
		c.User, c.packedUser = nil, nil
	case ActionCreateGroup:
		c.Group, c.Members, c.packed = nil, nil, nil
	}
}

// memberTable holds one ref for each user that the created groups of a
// plan name as a member, which their packed members point to.
type memberTable struct{ refs []Ref }

// packedMembers are the members of a created group as indexes into the
// plan's memberTable: 4 bytes a membership instead of a Ref's 64, which
// for a million memberships is 4 MB instead of 64. Only a plan no caller
// sees until its apply is done (Sync's) holds them; Sync turns those of
// the changes it did not apply back into Members before it returns.
type packedMembers struct {
	table *memberTable
	idx   []int32
}

// pack returns the members among ids that the plan provisions (see
// provisioned), packed.
func (t *memberTable) pack(ids []string, ups map[string]*userPlan) *packedMembers {
	pm := &packedMembers{table: t, idx: make([]int32, 0, len(ids))}
	for _, sid := range ids {
		up := provisioned(ups, sid)
		if up == nil {
			continue
		}
		if up.ref == 0 {
			t.refs = append(t.refs, Ref{Kind: KindUser, SourceID: sid, TargetID: up.targetID, Key: up.key})
			up.ref = int32(len(t.refs))
		}
		pm.idx = append(pm.idx, up.ref-1)
	}
	return pm
}

// memberRefs returns c's members: Members, or its packed members as refs.
func (c *Change) memberRefs() []Ref {
	if c.packed == nil {
		return c.Members
	}
	refs := make([]Ref, len(c.packed.idx))
	for k, i := range c.packed.idx {
		refs[k] = c.packed.table.refs[i]
	}
	return refs
}

// memberCount is len(c.memberRefs()).
func (c *Change) memberCount() int {
	if c.packed == nil {
		return len(c.Members)
	}
	return len(c.packed.idx)
}

// unpack turns packed members back into Members and packed users into
// User, so that the plan is plain data again.
func (p *Plan) unpack() {
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.packed != nil {
			c.Members, c.packed = c.memberRefs(), nil
		}
		if c.packedUser != nil {
			c.User, _ = c.userToCreate()
			c.packedUser = nil
		}
	}
}

// packable reports whether u, a user to create, is kept whole by its
// mirror's compact form: it has no id, schemas, meta or groups (which a
// mirror leaves out; a mapping sets none of them).
func packable(u *scim.User) bool {
	return u.ID == "" && u.Schemas == nil && u.Meta == nil && u.Groups == nil
}

// userToCreate returns the user of a create-user change, decoded afresh
// if the change holds it packed, and the mirror the created user's link
// keeps if it does (nil otherwise: the mirror of the user as sent). The
// packed user is always in the compact form (userMirror makes it).
func (c *Change) userToCreate() (*scim.User, *Mirror) {
	if c.User != nil || c.packedUser == nil {
		return c.User, nil
	}
	u, ok := unpackSent(c.packedUser.User)
	if !ok {
		return nil, nil
	}
	return u, c.packedUser
}

// createKey returns the userName and externalId of a create-user
// change's user, without decoding a packed user whole.
func (c *Change) createKey() (userName, externalID string, ok bool) {
	if c.User != nil {
		return c.User.UserName, c.User.ExternalID, true
	}
	if c.packedUser == nil {
		return "", "", false
	}
	b := c.packedUser.User
	if len(b) < 2 || !isPacked(b) || b[1] != tagExternalID {
		return c.Object.Key, "", isPacked(b) // the form begins with the externalId, if set
	}
	ext, ok := packedExternalID(b)
	if !ok {
		return "", "", false
	}
	return c.Object.Key, ext, true
}

// Problem is an object the plan leaves alone because something about it is
// wrong; the message says what and what to do.
type Problem struct {
	Object  Ref    `json:"object"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Summary counts a plan's changes.
type Summary struct {
	CreateUsers     int `json:"createUsers"`
	UpdateUsers     int `json:"updateUsers"`
	DeactivateUsers int `json:"deactivateUsers"`
	DeleteUsers     int `json:"deleteUsers"`
	CreateGroups    int `json:"createGroups"`
	UpdateGroups    int `json:"updateGroups"`
	DeleteGroups    int `json:"deleteGroups"`
	AddMembers      int `json:"addMembers"`
	RemoveMembers   int `json:"removeMembers"`
	UnchangedUsers  int `json:"unchangedUsers"`
	UnchangedGroups int `json:"unchangedGroups"`
	Problems        int `json:"problems"`
}

// Plan is the difference between what the source says should exist and
// what the target has, as typed changes. It is data: it marshals to JSON,
// renders for people with Render, and Apply executes exactly it.
type Plan struct {
	// CreatedAt is when the plan was computed.
	CreatedAt time.Time `json:"createdAt"`
	// Source and Target name the two sides.
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
	// StateSerial is the serial of the state the plan was made from;
	// Apply refuses the plan if the state has moved on since.
	StateSerial int64 `json:"stateSerial"`
	// Complete is false when the source or target could not be read in
	// full; such a plan holds no deactivations or deletions.
	Complete bool `json:"complete"`
	// Applyable is false when the plan must not be applied as it is.
	Applyable bool `json:"applyable"`
	// NeedsConfirmation is set when only a deletion limit, or a scope
	// that accepts no one because of a likely mistake (see Warnings),
	// stops the plan; Apply with Confirm() carries it out anyway.
	NeedsConfirmation bool `json:"needsConfirmation,omitempty"`
	// Reasons say why the plan is incomplete or not applyable.
	Reasons []string `json:"reasons,omitempty"`
	// Warnings are likely mistakes in the mapping that the source's data
	// reveals (mapping.Desired.Warnings): a scoping filter or group rule
	// on an attribute no source user has, or naming no source group.
	Warnings []string `json:"warnings,omitempty"`
	// Changes are the steps, in the order Apply carries them out.
	Changes []Change `json:"changes"`
	// Problems are objects left alone, each with its cause.
	Problems []Problem `json:"problems,omitempty"`
	// Held are the changes policy sends for approval that are not
	// approved yet (pending) or were rejected; they are not applied.
	Held []Approval `json:"held,omitempty"`
	// Summary counts the changes.
	Summary Summary `json:"summary"`
	// ManagedUserAttributes are the user attributes the mapping owns, as
	// compared when the plan was made.
	ManagedUserAttributes []string `json:"managedUserAttributes,omitempty"`
	// Incremental is set when the source was read as changes since the
	// last run rather than in full.
	Incremental bool `json:"incremental,omitempty"`
	// DriftCheck is set when the plan compared the source with a full
	// read of the target (a drift check), which corrects changes made by
	// hand in the tenant and refreshes the state's mirrors; other plans
	// compare it with the mirrors, reading only the objects whose mirror
	// is unknown (see Mirror).
	DriftCheck bool `json:"driftCheck,omitempty"`
	// Escrowed are the changes a Runner held back because they failed
	// before: waiting for their retry, or failed persistently (see
	// EscrowEntry). Plans made outside a Runner hold none back.
	Escrowed []EscrowEntry `json:"escrowed,omitempty"`

	// read is the incremental read to record once the plan is applied.
	// It is not serialized: a plan decoded from JSON applies without
	// moving the cursor, so the next run reads those changes again.
	read *pendingRead
	// clocks are users already deactivated whose deactivation time the
	// state lacks; Apply records it, starting a delayed delete's wait.
	clocks []string
	// gone are links whose target object a read by id did not find; Apply
	// drops them.
	gone []goneLink
	// reclaim are the records that resolve the state's intents: objects
	// an interrupted run created, linked as created, and creates without
	// an externalId that no listed object matches, settled (see reclaim).
	// Apply stores them first.
	reclaim []Record
	// refresh are the mirrors of owned objects the plan read from the
	// target (at a drift check, those whose listed form differs from the
	// stored mirror; otherwise those read by id).
	// Apply puts them in its snapshot, which it saves at the end, without
	// journaling them: lost in a crash, they leave the mirrors as they
	// were, which claim no more than before the read.
	refresh []Record
	// targetGroups are the display names of the target groups the engine
	// does not own, as a drift check listed them; readAll is set when this
	// plan (not one decoded from JSON, which lacks both and the refresh)
	// read the whole target, which Apply then records as the last drift
	// check.
	targetGroups []string
	readAll      bool
	// ours are the owner names the engine's own markers carry; an object
	// carrying another's is foreign (see WithOwnerMarker).
	ours map[string]bool
	// escrow is how a Runner's cycle treats failed changes; nil outside
	// one. escrowDrop are the escrow entries Apply drops, as their change
	// is another now or needless; escrowView is the escrow as planned.
	escrow     *escrowConfig
	escrowDrop []string
	escrowView map[string]EscrowEntry
	// conflicts are the source users this plan reports as not created,
	// as an account the engine may not adopt holds their userName (see
	// Conflict); Apply stores them. conflictsPlanned is unset in a plan
	// decoded from JSON, whose Apply keeps the stored conflicts.
	conflicts        map[string]Conflict
	conflictsPlanned bool
	// readTook is how long the source read took; ownedUsers and
	// ownedGroups count the state's links when the plan was made. For
	// metrics.
	readTook                time.Duration
	ownedUsers, ownedGroups int
	// decodedMirrors counts the user mirrors the plan decoded (those
	// that differ from the mapped user), for tests.
	decodedMirrors int
	// heldUsers counts the target users the plan was computed against
	// (users the same as their mirror are not among them), and heldRoom
	// the room allocated for them, for tests.
	heldUsers, heldRoom int
	// release is set on a plan no caller holds while it is applied (Sync's):
	// the apply drops each create's payload once the create is applied
	// and recorded (see Change.release).
	release bool
}

// pendingRead is an incremental source read waiting for its plan to be
// applied before its cursor is stored.
type pendingRead struct {
	name   string
	cursor string
	// dir is the directory read, until the plan encodes it into enc
	// (source.Directory.MarshalBinary), the form the state keeps, and
	// releases it.
	dir *source.Directory
	enc []byte
	// base and changes, for changes folded into an encoded cache, stand
	// for enc: the new cache is base with changes folded in, encoded
	// when the apply saves it (see foldedDirectory), so that a plan
	// holds no encoding of the directory, the state's at most.
	base    *CachedDirectory
	changes *source.Changes
	// users and groups count the fold's users and groups.
	users, groups int
	// cached is the new cache, once made; set by the read when it is the
	// old one (no changes).
	cached      *CachedDirectory
	incremental bool // changes since a cursor, not a full read
	encoded     int  // bytes encode made, for tests
}

// encode sets r.enc to the encoding of r.dir, unless r folds changes into
// an encoded cache or keeps the old one, and drops r.dir. With stage, the
// encoding goes to where stage writes it (FileState.stageDirectory)
// instead of into memory.
func (r *pendingRead) encode(stage func(*source.Directory) (*CachedDirectory, error)) error {
	if r == nil || r.dir == nil {
		return nil
	}
	switch {
	case r.enc != nil || r.base != nil || r.cached != nil:
	case stage != nil:
		c, err := stage(r.dir)
		if err != nil {
			return err
		}
		r.cached = c
	default:
		enc, err := r.dir.MarshalBinary()
		if err != nil {
			return err
		}
		r.enc, r.encoded = enc, len(enc)
	}
	r.dir = nil
	return nil
}

// cache returns the directory to store as the source's new cache. A fold
// holds the old cache and the changes from then on, and lets go of them
// once encoded: the plan, which its caller may keep, does not.
func (r *pendingRead) cache() *CachedDirectory {
	if r.cached == nil {
		switch {
		case r.base != nil:
			r.cached = foldedDirectory(r.base, r.changes, r.users, r.groups)
			r.base, r.changes = nil, nil
		case r.enc != nil:
			r.cached = encodedDirectory(r.enc)
		default:
			r.cached = &CachedDirectory{Dir: r.dir}
		}
	}
	return r.cached
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// summarize recounts the summary from the changes.
func (p *Plan) summarize(unchangedUsers, unchangedGroups int) {
	s := Summary{UnchangedUsers: unchangedUsers, UnchangedGroups: unchangedGroups, Problems: len(p.Problems)}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreateUser:
			s.CreateUsers++
		case ActionUpdateUser:
			s.UpdateUsers++
		case ActionDeactivateUser:
			s.DeactivateUsers++
		case ActionDeleteUser:
			s.DeleteUsers++
		case ActionCreateGroup:
			s.CreateGroups++
			s.AddMembers += c.memberCount()
		case ActionUpdateGroup:
			s.UpdateGroups++
		case ActionDeleteGroup:
			s.DeleteGroups++
		case ActionAddMembers:
			s.AddMembers += len(c.Members)
		case ActionRemoveMembers:
			s.RemoveMembers += len(c.Members)
		}
	}
	p.Summary = s
}

// sortChanges puts changes in apply order, stable within a phase by key.
//
// A Change is large (a plan of 100,000 creates is about 20 MB of them):
// the sort orders their indexes, comparing the changes in place, and then
// moves each change once, where sorting the changes themselves copied
// two for every comparison and moved them again for every swap.
func (p *Plan) sortChanges() {
	cs := p.Changes
	order := make([]int32, len(cs))
	for i := range order {
		order[i] = int32(i)
	}
	// Equal keys keep their order by the index: a total order, which
	// pdqsort sorts in fewer comparisons than a stable sort makes.
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &cs[i], &cs[j]
		if pa, pb := a.Action.phase(), b.Action.phase(); pa != pb {
			return cmp.Compare(pa, pb)
		}
		return cmp.Or(strings.Compare(a.Object.Key, b.Object.Key), cmp.Compare(i, j))
	})
	// cs[k] becomes the change at order[k]: follow each cycle of the
	// permutation once, marking the places filled with -1.
	for start := range order {
		if order[start] < 0 {
			continue
		}
		held := cs[start]
		k := start
		for {
			from := int(order[k])
			order[k] = -1
			if from == start {
				cs[k] = held
				break
			}
			cs[k] = cs[from]
			k = from
		}
	}
}

// MarshalIndentJSON returns the plan as indented JSON.
func (p *Plan) MarshalIndentJSON() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }

// SummaryLine describes the plan in one line.
func (p *Plan) SummaryLine() string {
	s := p.Summary
	drift := ""
	if p.DriftCheck {
		drift = " Drift check: the target was read in full."
	}
	if p.Empty() {
		return fmt.Sprintf("No changes: %d users and %d groups are up to date.%s", s.UnchangedUsers, s.UnchangedGroups, drift)
	}
	return fmt.Sprintf("Users: %d to create, %d to update, %d to deactivate, %d to delete. "+
		"Groups: %d to create, %d to update, %d to delete. Memberships: +%d -%d.%s",
		s.CreateUsers, s.UpdateUsers, s.DeactivateUsers, s.DeleteUsers,
		s.CreateGroups, s.UpdateGroups, s.DeleteGroups, s.AddMembers, s.RemoveMembers, drift)
}

// Render writes the plan for people: a summary, then one block a change,
// "+" for creations, "~" for updates, "-" for deactivations and deletions.
// At most maxChanges changes are listed (0: all).
func (p *Plan) Render(w io.Writer, maxChanges int) error {
	var b strings.Builder
	b.WriteString(p.SummaryLine())
	b.WriteString("\n")
	if !p.Complete || !p.Applyable {
		// Say what Apply will do: an incomplete plan deprovisions nothing
		// but is applied all the same.
		var state string
		switch {
		case p.Applyable:
			state = "is incomplete but applyable"
		case p.NeedsConfirmation:
			state = "needs confirmation"
		default:
			state = "is not applyable"
		}
		if !p.Complete && !p.Applyable {
			state = "is incomplete and " + strings.TrimPrefix(state, "is ")
		}
		fmt.Fprintf(&b, "Plan %s:\n", state)
		for _, r := range p.Reasons {
			fmt.Fprintf(&b, "  ! %s\n", r)
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	for i, c := range p.Changes {
		if maxChanges > 0 && i == maxChanges {
			fmt.Fprintf(&b, "  ... and %d more changes\n", len(p.Changes)-i)
			break
		}
		renderChange(&b, c)
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(&b, "  ? %s: %s\n", pr.Object, pr.Message)
	}
	if len(p.Held) > 0 {
		fmt.Fprintf(&b, "Held for approval (%d):\n", len(p.Held))
		for _, h := range p.Held {
			fmt.Fprintf(&b, "  [%s %s] ", h.ID, h.Status)
			var c strings.Builder
			renderChange(&c, h.Change)
			b.WriteString(strings.TrimPrefix(c.String(), "  "))
		}
	}
	if len(p.Escrowed) > 0 {
		fmt.Fprintf(&b, "Held back after failing (%d):\n", len(p.Escrowed))
		for _, e := range p.Escrowed {
			when := "failed persistently"
			if !e.Persistent {
				when = "retried from " + e.NextAttempt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(&b, "  ! %s %s: %d attempts, %s; last error: %s\n", e.Action, e.Object, e.Attempts, when, e.LastError)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderChange(b *strings.Builder, c Change) {
	sign := map[Action]string{
		ActionCreateUser: "+", ActionCreateGroup: "+",
		ActionUpdateUser: "~", ActionUpdateGroup: "~", ActionAddMembers: "~", ActionRemoveMembers: "~",
		ActionDeactivateUser: "-", ActionDeleteUser: "-", ActionDeleteGroup: "-",
	}[c.Action]
	verb := string(c.Action)
	fmt.Fprintf(b, "  %s %s %s", sign, verb, c.Object)
	if c.Reason != "" {
		fmt.Fprintf(b, " (%s)", c.Reason)
	}
	if c.Adopt {
		b.WriteString(" [adopt existing]")
	}
	b.WriteString("\n")
	for _, a := range c.Attributes {
		fmt.Fprintf(b, "      %s: %s → %s\n", a.Path, renderValue(a.Before), renderValue(a.After))
	}
	if len(c.Members) > 0 {
		mark := "+"
		if c.Action == ActionRemoveMembers {
			mark = "-"
		}
		const show = 10
		for i, m := range c.Members {
			if i == show {
				fmt.Fprintf(b, "      ... and %d more\n", len(c.Members)-show)
				break
			}
			fmt.Fprintf(b, "      %s %s\n", mark, m.Key)
		}
	}
}

func renderValue(v any) string {
	if v == nil {
		return "(none)"
	}
	bs, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(bs)
}
