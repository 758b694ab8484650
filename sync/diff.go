package sync

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

// planInput is everything a plan is computed from.
type planInput struct {
	desired *mapping.Desired
	// userOwners maps the owned users' target ids to their source ids
	// (reverseLinks of snap.Users), made once by computePlan for the
	// users' pass and the groups'.
	userOwners map[string]string
	users      []scim.User
	groups     []scim.Group
	// thin are the mapped users held thin (see thinUser) and where they
	// fall among desired.Users; nil when none are. Read the mapped users
	// with userCount and user.
	thin *thinUsers
	// same marks the mapped users (by index) whose link's mirror holds
	// exactly the mapped user; users leaves them out, and the plan
	// compares each with linkedCopy of itself (see mirroredUsers).
	same []bool
	// groupMirrors hold the members of the first groups, whose Members
	// are nil: walk a group's members with members.
	groupMirrors []*Mirror
	snap         *Snapshot
	policy       Policy
	userKeys     []mapping.MatchKey
	groupKeys    []mapping.MatchKey
	complete     bool
	incomplete   []string // reasons the source read was incomplete
	// drift is set when users and groups are a listing of the whole
	// target (a drift check), not the mirrors of the owned objects.
	drift bool
	now   time.Time
	// ownerOf names the source owning a source object in a merged
	// directory, "" for the engine's owner; nil for none.
	ownerOf func(id string) string
	// read is the directory the source yielded; nil (in tests) holds
	// every id, so nothing is taken over.
	read *sourceIDs
	// ours are the owner names of this engine's markers; a target object
	// whose marker names another is foreign. nil: no marker is foreign.
	ours map[string]bool
	// marks bounds the updates that only add the owner marker.
	marks *markPacer
	// self is the engine's owner name.
	self string
	// compact makes the plan's creates compact, for a plan no caller
	// holds until it is applied (Sync's): the created groups' members
	// (see packedMembers) and the created users (see Change.packedUser).
	compact bool
	// ownsDesired lets the plan drop desired's users once they are
	// planned: the engine's own mapping, which nothing reads afterwards.
	ownsDesired bool
}

// members yields the members of in.groups[j], from its mirror's string
// when the group was built from one (no []scim.Member is kept for the
// groups of a large tenant).
func (in *planInput) members(j int) iter.Seq[scim.Member] {
	return func(yield func(scim.Member) bool) {
		if j < len(in.groupMirrors) {
			for v := range in.groupMirrors[j].Members.all() {
				if !yield(scim.Member{Value: v}) {
					return
				}
			}
			return
		}
		for _, m := range in.groups[j].Members {
			if !yield(m) {
				return
			}
		}
	}
}

// ownerName names the owner of source object id, for messages.
func (in *planInput) ownerName(id string) string {
	return cmp.Or(in.owner(id), in.self)
}

// updateChange is the change that updates, adopts or takes over (from
// the link of source object from) the target object of source object
// sourceID; an adopted or taken-over object is stamped with its owner.
func (in *planInput) updateChange(action Action, ref Ref, reason string, adopt bool, attrs []AttrChange, sourceID, from string) Change {
	c := Change{Action: action, Object: ref, Reason: reason, Adopt: adopt, Attributes: attrs}
	if adopt || from != "" {
		c.Owner = in.owner(sourceID)
	}
	if from != "" {
		c.TakeoverFrom, c.Reason = from, takeoverReason(ref.Kind, from, reason, len(attrs))
	}
	return c
}

// owner names the owner of source object id for Change.Owner.
func (in *planInput) owner(id string) string {
	if in.ownerOf == nil {
		return ""
	}
	return in.ownerOf(id)
}

// userPlan is the per-desired-user outcome the group pass needs.
type userPlan struct {
	targetID string // matched target id, "" if being created
	create   bool   // a create-user change exists
	skip     bool   // not a member anywhere (problem, deleted, not created)
	key      string
	ref      int32 // 1 + the user's index in the plan's memberTable, 0 if none
}

// computePlan diffs desired against observed state. It is pure: no I/O.
func computePlan(in planInput) (*Plan, error) {
	p := &Plan{Complete: in.complete, Applyable: true, StateSerial: in.snap.Serial, conflictsPlanned: true}
	p.Reasons = append(p.Reasons, in.incomplete...)
	d := in.desired
	p.keepUnread(&in)

	// Objects whose mapping failed are left alone, and so are their
	// target counterparts.
	protectedUsers, protectedGroups := map[string]bool{}, map[string]bool{}
	for _, f := range d.Failed {
		kind := KindUser
		if f.Kind == string(KindGroup) {
			kind = KindGroup
			protectedGroups[f.SourceID] = true
		} else {
			protectedUsers[f.SourceID] = true
		}
		p.Problems = append(p.Problems, Problem{Object: Ref{Kind: kind, SourceID: f.SourceID, Key: f.SourceID},
			Field: f.Field, Message: f.Err.Error()})
	}

	// The user creates are kept compact (plannedCreate) while the mapped
	// users are held, and become changes once those are dropped.
	creates := make([]plannedCreate, 0, unlinked(in.userCount(), in.userID, in.snap.Users))
	in.userOwners = reverseLinks(in.snap.Users)
	ups, creates, unchangedUsers, err := planUsers(p, in, protectedUsers, creates)
	if err != nil {
		return nil, err
	}
	if in.ownsDesired {
		// Nothing reads the mapped users past here: the plan's creates
		// hold copies, and the group pass reads ups. Dropped, they are
		// not held next to the groups' members.
		d.Users = nil
		if in.thin != nil {
			in.thin.users, in.thin.order = nil, nil
		}
	}
	// Room for a change for each source object the state links to
	// nothing (a create, as a rule): the changes of an initial sync are
	// not regrown and copied as a hundred thousand creates are added,
	// while a plan of a linked directory starts small.
	p.addCreates(creates, unlinked(len(d.Groups), func(i int) string { return d.Groups[i].SourceID }, in.snap.Groups))
	unchangedGroups, err := planGroups(p, in, ups, protectedUsers, protectedGroups)
	if err != nil {
		return nil, err
	}
	in.userOwners = nil // read by the two passes alone
	holdForApproval(p, in)
	p.sortChanges()
	p.summarize(unchangedUsers, unchangedGroups)
	checkLimits(p, in)
	return p, nil
}

// unlinked counts the n objects whose source id (id(i)) links has no
// link for.
func unlinked(n int, id func(int) string, links map[string]Link) int {
	c := 0
	for i := range n {
		if _, ok := links[id(i)]; !ok {
			c++
		}
	}
	return c
}

// isSame reports whether desired user i is the same as its mirror (see
// planInput.same).
func (in *planInput) isSame(i int) bool { return i < len(in.same) && in.same[i] }

// reverseLinks maps target ids to the source ids that own them.
func reverseLinks(links map[string]Link) map[string]string {
	r := make(map[string]string, len(links))
	for src, l := range links {
		r[l.TargetID] = src
	}
	return r
}

// plannedCreate is a user create as planUsers finds it: compact (72
// bytes where a Change takes 232), as it is held next to the mapped
// users (see computePlan). at counts the plan's other changes found
// before it, which keeps the changes in the order they were found.
type plannedCreate struct {
	sourceID, key, owner string
	user                 *scim.User // the user to create, or
	packed               *Mirror    // its compact form (see Change.packedUser)
	at                   int32
	inactive             bool // created inactive, as suspended at the source
}

// change returns the create's change.
func (pc *plannedCreate) change() Change {
	reason := "new at source"
	if pc.inactive {
		reason = "new at source, suspended there: created inactive"
	}
	return Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: pc.sourceID, Key: pc.key},
		Reason: reason, User: pc.user, packedUser: pc.packed, Owner: pc.owner}
}

// addCreates puts the changes of creates among p's changes, where they
// were found, in changes with room for more others.
func (p *Plan) addCreates(creates []plannedCreate, more int) {
	cs := make([]Change, 0, len(p.Changes)+len(creates)+more)
	k := 0
	for i := range creates {
		pc := &creates[i]
		cs = append(cs, p.Changes[k:pc.at]...)
		k = int(pc.at)
		cs = append(cs, pc.change())
	}
	p.Changes = append(cs, p.Changes[k:]...)
}

// dropUser drops mapped user i, once planned, from the mapping the plan
// owns: what the mapping made for it (its name and emails, say) is the
// plan's, copied, or no one's.
func (in *planInput) dropUser(i int) {
	if in.thin != nil {
		if i = int(in.thin.order[i]); i < 0 {
			return // held thin: nothing but its names
		}
	}
	in.desired.Users[i] = mapping.DesiredUser{}
}

// planUsers plans the users, appending the creates to creates and the
// other changes to p's. With in.ownsDesired, it drops each mapped user's
// contents once the user is planned.
func planUsers(p *Plan, in planInput, protected map[string]bool, creates []plannedCreate) (map[string]*userPlan, []plannedCreate, int, error) {
	d, obs, n := in.desired, in.users, in.userCount()
	byID := make(map[string]int, len(obs))
	for j := range obs {
		byID[obs[j].ID] = j
	}
	owner := in.userOwners
	pins := map[int]int{}
	for i := range n {
		if l, ok := in.snap.Users[in.userID(i)]; ok {
			if j, ok := byID[l.TargetID]; ok {
				pins[i] = j
			}
		}
	}
	// A user the same as its mirror is linked to it, as a pin: it takes
	// no part in matching (pinned objects are no one else's candidates).
	m, err := in.matchUsers(obs, pins)
	if err != nil {
		return nil, nil, 0, err
	}
	managed := d.ManagedUserAttributes
	if len(managed) == 0 {
		managed = mapping.DefaultUserAttributes()
	}
	// The manager attribute carries the manager's source id; Netskope
	// wants its id there. Resolve it through the matches and links, in
	// a map of every user made only when a mapped user has a manager
	// (a thin user has none).
	var targetOf map[string]string
	if slices.ContainsFunc(d.Users, func(du mapping.DesiredUser) bool { return hasManager(&du.User) }) {
		targetOf = make(map[string]string, n)
		for src, l := range in.snap.Users {
			targetOf[src] = l.TargetID
		}
		for i := range n {
			if j := m.Observed[i]; j >= 0 && m.Errors[i] == nil {
				targetOf[in.userID(i)] = obs[j].ID
			}
		}
	}
	ups := make(map[string]*userPlan, n)
	matched := make([]bool, len(obs))
	unchanged := 0
	// A user deleted at the source may share its name with a live one (a
	// rehire), as source directories allow; it is deprovisioned as usual.
	var buf mapping.DesiredUser
	var thinObserved scim.User // a thin user as the target holds it (see below)
	clash := sameName(n, "user", "userName", func(i int) string {
		du, _ := in.user(i, &buf)
		if du.Event == mapping.EventDeleted {
			return ""
		}
		return du.User.UserName
	}, in.userID)
	for i := range n {
		if in.ownsDesired && i > 0 {
			in.dropUser(i - 1)
		}
		du, thin := in.user(i, &buf)
		up := &userPlan{key: du.User.UserName}
		ups[du.SourceID] = up
		ref := Ref{Kind: KindUser, SourceID: du.SourceID, Key: du.User.UserName}
		if msg, ok := clash[i]; ok {
			up.skip = true
			protected[du.SourceID] = true
			p.Problems = append(p.Problems, Problem{Object: ref, Field: scim.PathUserName, Message: msg})
			continue
		}
		if err := m.Errors[i]; err != nil {
			up.skip = true
			protected[du.SourceID] = true
			p.Problems = append(p.Problems, Problem{Object: ref, Message: err.Error()})
			continue
		}
		// A user the same as its mirror: the target holds the mapped
		// user, as the mirror would decode (a copy for this comparison
		// alone, made before the manager is resolved below).
		var o *scim.User
		j := m.Observed[i]
		if in.isSame(i) {
			c := linkedCopy(&du.User, in.snap.Users[du.SourceID].TargetID, in.snap.Users)
			if thin {
				// Read within this pass only: one copy serves them all.
				thinObserved = c
				o = &thinObserved
			} else {
				w := c
				o = &w
			}
			m.By[i] = "link"
		}
		resolveManager(&du.User, targetOf)
		if j < 0 && o == nil {
			createInactive := du.Event == mapping.EventSuspended && in.policy.CreateSuspended
			if du.Event != mapping.EventNone && !createInactive {
				up.skip = true // nothing to provision for a suspended or deleted user
				continue
			}
			if c, ok := in.conflict(KindUser, du.SourceID, du.User.UserName, createInactive); ok {
				up.skip = true
				p.keepConflict(c)
				p.Problems = append(p.Problems, c.problem())
				continue
			}
			u := du.User
			u.ID = ""
			if createInactive {
				u.Active = scim.Bool(false)
			}
			up.create = true
			pc := plannedCreate{sourceID: du.SourceID, key: du.User.UserName, owner: in.owner(du.SourceID),
				user: &u, at: int32(len(p.Changes)), inactive: createInactive}
			if in.compact && packable(&u) {
				pc.user, pc.packed = nil, userMirror(&u)
			}
			creates = append(creates, pc)
			continue
		}
		if o == nil {
			o = &obs[j]
		}
		ref.TargetID = o.ID
		if fo, why := in.foreign(KindUser, o.ID, o.ExternalID); fo != "" {
			up.skip = true
			if j >= 0 { // not a user the same as its mirror, which obs lacks
				matched[j] = true
			}
			protected[du.SourceID] = true
			if src, owned := owner[o.ID]; owned {
				protected[src] = true
			}
			msg := foreignMessage(KindUser, m.By[i], fo, why, du.SourceID, in.ownerName(du.SourceID))
			in.leftAlone(p, ref, du.User.UserName, o.UserName, scim.PathExternalID, fo, false, msg)
			continue
		}
		adopt := false
		from := ""
		if src, owned := owner[o.ID]; owned && src != du.SourceID && in.takesOver(KindUser, src, du.Event, ups) {
			from = src
		} else if !owned || src != du.SourceID {
			if owned {
				// Handing another source user's account over would give
				// this user that user's access.
				up.skip = true
				msg := fmt.Sprintf("matches by %s a target user that belongs to source user %q; make the %s unique at the source",
					m.By[i], src, m.By[i])
				in.leftAlone(p, ref, du.User.UserName, o.UserName, "", "", false, msg)
				continue
			}
			if !in.policy.Adopt {
				up.skip = true
				msg := fmt.Sprintf("a target user not created by provsync matches by %s; adoption is off, so it is left alone", m.By[i])
				in.leftAlone(p, ref, du.User.UserName, o.UserName, "", "", true, msg)
				continue
			}
			// Adoption never deprovisions on first contact: an account
			// matching only a user the source deleted (or suspended, unless
			// policy says to adopt those) is not taken over.
			if msg := noAdoption(du.Event, in.policy); msg != "" {
				up.skip = true
				msg = fmt.Sprintf("a target user not created by provsync matches by %s %s; it is left alone", m.By[i], msg)
				in.leftAlone(p, ref, du.User.UserName, o.UserName, "", "", true, msg)
				continue
			}
			adopt = true
		}
		if j >= 0 {
			matched[j] = true
		}
		up.targetID = o.ID
		// What to write: a copy of the mapped user, made only for a whole
		// one (a thin one is its mirror, and has no event: nothing below
		// reads desired for it).
		var desired *scim.User
		if !thin {
			w := du.User
			desired = &w
		}
		action, reason := ActionUpdateUser, "attributes changed"
		var choice Deprovision = Deactivate
		switch du.Event {
		case mapping.EventSuspended:
			choice, reason = in.policy.Suspended, "suspended at source"
		case mapping.EventDeleted:
			choice, reason = in.policy.Deleted, "deleted at source"
		}
		if adopt && choice == Delete {
			// Never deleted in the run that adopts it: a later run does.
			choice, reason = Deactivate, reason+"; adopted in this run, so deactivated, not yet deleted"
		}
		if du.Event != mapping.EventNone {
			switch choice {
			case Delete:
				if !in.complete {
					continue
				}
				up.skip = true
				p.Changes = append(p.Changes, Change{Action: ActionDeleteUser, Object: ref, Reason: reason, Adopt: adopt})
				continue
			case Ignore:
				desired.Active = o.Active
			default:
				desired.Active = scim.Bool(false)
				if del, ok := delayedDelete(p, in, du.Event, du.SourceID, du.Since, o); ok && !adopt {
					up.skip = true
					p.Changes = append(p.Changes, Change{Action: ActionDeleteUser, Object: ref, Reason: reason + "; " + del, Adopt: adopt})
					continue
				}
			}
		}
		var attrs []AttrChange
		if !thin { // a thin user is its mirror, which o holds: nothing differs
			attrs = diffUser(managed, du.CreateOnly, desired, o)
		}
		if len(attrs) == 0 && !adopt && from == "" || !adopt && from == "" && in.marks.hold(attrs) {
			unchanged++
			continue
		}
		for _, a := range attrs {
			if a.Path == scim.PathActive && a.After == false {
				action = ActionDeactivateUser
			}
		}
		if adopt && len(attrs) == 0 {
			reason = "adopt existing user"
		}
		if action == ActionUpdateUser && du.Event == mapping.EventNone && slices.ContainsFunc(attrs, func(a AttrChange) bool { return a.Path == scim.PathActive }) {
			reason = "reactivated at source"
		}
		c := in.updateChange(action, ref, reason, adopt, attrs, du.SourceID, from)
		if adopt && j >= 0 {
			c.adopted = userMirror(o)
			if len(attrs) > 0 {
				c.adopted = c.adopted.afterChange(&c, nil)
			}
		}
		p.Changes = append(p.Changes, c)
	}

	// Owned target users no source user matched have left scope.
	for j := range obs {
		o := &obs[j]
		src, owned := owner[o.ID]
		if matched[j] || !owned || protected[src] {
			continue
		}
		if _, inScope := ups[src]; inScope {
			continue // its source user matched another target user
		}
		if !in.complete {
			continue
		}
		ref := Ref{Kind: KindUser, SourceID: src, TargetID: o.ID, Key: o.UserName}
		if fo, why := in.foreign(KindUser, o.ID, o.ExternalID); fo != "" {
			p.Problems = append(p.Problems, Problem{Object: ref, Field: scim.PathExternalID, Message: foreignMessage(KindUser, "link", fo, why, src, in.ownerName(src))})
			continue
		}
		switch in.policy.LeftScope {
		case Delete:
			p.Changes = append(p.Changes, Change{Action: ActionDeleteUser, Object: ref, Reason: "left scope"})
		case Deactivate:
			if o.IsActive() {
				p.Changes = append(p.Changes, Change{Action: ActionDeactivateUser, Object: ref, Reason: "left scope",
					Attributes: []AttrChange{{Path: scim.PathActive, Before: true, After: false}}})
			} else if del, ok := delayedDelete(p, in, mapping.EventNone, src, time.Time{}, o); ok {
				p.Changes = append(p.Changes, Change{Action: ActionDeleteUser, Object: ref, Reason: "left scope; " + del})
			}
		}
	}
	return ups, creates, unchanged, nil
}

// noAdoption says why a foreign user matching a source user in event is
// not adopted, "" when it may be: a user deleted at the source never
// adopts, a suspended one only with Policy.AdoptSuspended.
func noAdoption(event mapping.Event, pol Policy) string {
	switch {
	case event == mapping.EventDeleted:
		return "a user deleted at the source, which is never adopted"
	case event == mapping.EventSuspended && !pol.AdoptSuspended:
		return "a user suspended at the source, which is not adopted unless Policy.AdoptSuspended is set"
	}
	return ""
}

// sameName finds the desired objects whose name (userName, displayName)
// another one has too, ignoring case, as the target's uniqueness check
// does: sending them would make them fight over one target object. It
// returns, for each such index, a message naming every source id that
// shares the name. An object whose name is "" takes no part.
func sameName(n int, kind, attr string, name, sourceID func(int) string) map[int]string {
	// The first object of each name, and the others of the names more
	// than one has: one int32 per name, where a slice per name took
	// three times the room (87 bytes a user, at 20,000 users).
	first := make(map[string]int32, n)
	var others map[int32][]int
	for i := range n {
		k := strings.ToLower(name(i))
		if k == "" {
			continue
		}
		if f, ok := first[k]; ok {
			if others == nil {
				others = map[int32][]int{}
			}
			others[f] = append(others[f], i)
		} else {
			first[k] = int32(i)
		}
	}
	out := map[int]string{}
	for f, rest := range others {
		idx := append([]int{int(f)}, rest...)
		ids := make([]string, len(idx))
		for k, i := range idx {
			ids[k] = strconv.Quote(sourceID(i))
		}
		msg := fmt.Sprintf("%d source %ss map to the %s %q (ignoring case): %s; nothing is sent for any of them until the mapping or the source makes each %s unique",
			len(idx), kind, attr, name(idx[0]), strings.Join(ids, ", "), attr)
		for _, i := range idx {
			out[i] = msg
		}
	}
	return out
}

// resolveManager replaces a mapped manager's source id by the manager's
// target id; a manager not in the target yet is left out until a later run
// can name it.
func resolveManager(u *scim.User, targetOf map[string]string) {
	if !hasManager(u) {
		return
	}
	e := *u.Enterprise
	if id, ok := targetOf[e.Manager.Value]; ok && id != "" {
		e.Manager = &scim.Manager{Value: id}
	} else {
		e.Manager = nil
	}
	u.Enterprise = &e
}

// hasManager reports whether mapped user u names a manager.
func hasManager(u *scim.User) bool {
	return u.Enterprise != nil && u.Enterprise.Manager != nil && u.Enterprise.Manager.Value != ""
}

// delayedDelete decides whether a user deactivated for event has waited out
// the policy's delay: it returns the reason to delete it and true once the
// delay has passed since the source's event time (since) or, without one,
// since the engine deactivated it. A deactivated user with no recorded
// time starts its clock with this plan.
func delayedDelete(p *Plan, in planInput, event mapping.Event, sourceID string, since time.Time, o *scim.User) (string, bool) {
	after := in.policy.deleteAfter(event)
	if after <= 0 || !in.complete || o.IsActive() {
		return "", false
	}
	start := since
	if start.IsZero() {
		start = in.snap.Users[sourceID].DeactivatedAt
	}
	if start.IsZero() {
		p.clocks = append(p.clocks, sourceID)
		return "", false
	}
	if in.now.Sub(start) < after {
		return "", false
	}
	return fmt.Sprintf("deactivated since %s, and policy deletes after %s", start.UTC().Format(time.RFC3339), Duration(after)), true
}

// diffUser compares the managed attributes of desired and observed. Values
// are compared unboxed (strings, the active flag, emails) and boxed into
// an AttrChange only when they differ: it runs for every user a plan
// compares.
func diffUser(managed, createOnly []string, desired, observed *scim.User) []AttrChange {
	var out []AttrChange
	for _, path := range managed {
		if slices.ContainsFunc(createOnly, func(c string) bool { return strings.EqualFold(c, path) }) {
			continue
		}
		a, ok := scim.LookupUserAttr(path)
		if !ok {
			continue
		}
		switch a.Path {
		case scim.PathActive:
			if desired.Active == nil {
				continue // the mapping does not manage active
			}
			if desired.IsActive() == observed.IsActive() {
				continue
			}
		case scim.PathEmails:
			if sameEmails(desired.Emails, observed.Emails) {
				continue
			}
		default:
			want, ok1 := a.GetString(desired)
			have, ok2 := a.GetString(observed)
			if ok1 && ok2 && want == have {
				continue
			}
		}
		want, have := a.Get(desired), a.Get(observed)
		if !equalValue(want, have) {
			out = append(out, AttrChange{Path: a.Path, Before: have, After: want})
		}
	}
	return out
}

// diffGroup compares the attributes the engine manages on groups:
// displayName, and externalId when the desired group has one.
func diffGroup(desired, observed *scim.Group) []AttrChange {
	var attrs []AttrChange
	if desired.DisplayName != observed.DisplayName {
		attrs = append(attrs, AttrChange{Path: scim.PathDisplayName, Before: observed.DisplayName, After: desired.DisplayName})
	}
	if desired.ExternalID != "" && desired.ExternalID != observed.ExternalID {
		attrs = append(attrs, AttrChange{Path: scim.PathExternalID, Before: observed.ExternalID, After: desired.ExternalID})
	}
	return attrs
}

// equalValue compares attribute values; emails compare as sets of
// (lower-cased value, type, primary).
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case []scim.Email:
		y, _ := b.([]scim.Email)
		return sameEmails(x, y)
	default:
		return a == b
	}
}

func sameEmails(a, b []scim.Email) bool {
	if len(a) != len(b) {
		return false
	}
	same := func(x, y *scim.Email) bool {
		return x.Primary == y.Primary && strings.EqualFold(x.Value, y.Value) && strings.EqualFold(x.Type, y.Type)
	}
	if len(a) <= 8 {
		// Match each of a to an unused equal one of b, without
		// allocating: equality is an equivalence, so a greedy match
		// finds one whenever the multisets are equal.
		var used [8]bool
	next:
		for i := range a {
			for j := range b {
				if !used[j] && same(&a[i], &b[j]) {
					used[j] = true
					continue next
				}
			}
			return false
		}
		return true
	}
	key := func(e scim.Email) string {
		return strings.ToLower(e.Value) + "\x00" + strings.ToLower(e.Type) + "\x00" + fmt.Sprint(e.Primary)
	}
	seen := make(map[string]int, len(a))
	for _, e := range a {
		seen[key(e)]++
	}
	for _, e := range b {
		if seen[key(e)] == 0 {
			return false
		}
		seen[key(e)]--
	}
	return true
}

func planGroups(p *Plan, in planInput, ups map[string]*userPlan, protectedUsers, protected map[string]bool) (int, error) {
	d, obs := in.desired, in.groups
	byID := make(map[string]int, len(obs))
	for j := range obs {
		byID[obs[j].ID] = j
	}
	owner := reverseLinks(in.snap.Groups)
	userOwner := in.userOwners
	// Removed members are shown by userName: a member entry carries only
	// the target id (and a display name, if the server sends one).
	// (A user the same as its mirror is not among in.users: it is a
	// source user, named by ups.)
	userNames := make(map[string]string, len(in.users))
	for j := range in.users {
		userNames[in.users[j].ID] = in.users[j].UserName
	}
	want := make([]scim.Group, len(d.Groups))
	pins := map[int]int{}
	for i := range d.Groups {
		want[i] = d.Groups[i].Group
		if l, ok := in.snap.Groups[d.Groups[i].SourceID]; ok {
			if j, ok := byID[l.TargetID]; ok {
				pins[i] = j
			}
		}
	}
	m, err := mapping.MatchGroups(want, obs, in.groupKeys, pins)
	if err != nil {
		return 0, err
	}
	matched := make([]bool, len(obs))
	unchanged := 0
	// The sets of a group's wanted and present member ids, reused from
	// group to group: a map made per group was a tenth of a no-op plan.
	var wantIDs, have map[string]bool
	var scratch memberScratch
	var table *memberTable // the created groups' members, compact (see packedMembers)
	if in.compact {
		table = &memberTable{}
	}
	clash := sameName(len(d.Groups), "group", "displayName",
		func(i int) string { return d.Groups[i].Group.DisplayName }, func(i int) string { return d.Groups[i].SourceID })
	for i := range d.Groups {
		if in.ownsDesired && i > 0 {
			// Planned: its changes hold copies of what they need of
			// its members (a million source ids at 100,000 users), so
			// the rest of the pass and the apply do not hold them too.
			d.Groups[i-1].Members = nil
		}
		dg := &d.Groups[i]
		ref := Ref{Kind: KindGroup, SourceID: dg.SourceID, Key: dg.Group.DisplayName}
		if msg, ok := clash[i]; ok {
			protected[dg.SourceID] = true
			p.Problems = append(p.Problems, Problem{Object: ref, Field: scim.PathDisplayName, Message: msg})
			continue
		}
		if err := m.Errors[i]; err != nil {
			protected[dg.SourceID] = true
			p.Problems = append(p.Problems, Problem{Object: ref, Message: err.Error()})
			continue
		}
		j := m.Observed[i]
		if c, ok := in.conflict(KindGroup, dg.SourceID, dg.Group.DisplayName, false); ok && j < 0 {
			protected[dg.SourceID] = true
			p.keepConflict(c)
			p.Problems = append(p.Problems, c.problem())
			continue
		}
		if j < 0 {
			g := dg.Group
			g.ID, g.Members = "", nil
			c := Change{Action: ActionCreateGroup, Object: ref, Reason: withNote("new at source", dg.MembersNote), Owner: in.owner(dg.SourceID), Group: &g}
			if table != nil {
				c.packed = table.pack(dg.Members, ups)
			} else {
				c.Members = wantedMembers(dg.Members, ups)
			}
			p.Changes = append(p.Changes, c)
			continue
		}
		o := &obs[j]
		ref.TargetID = o.ID
		if fo, why := in.foreign(KindGroup, o.ID, o.ExternalID); fo != "" {
			matched[j] = true
			protected[dg.SourceID] = true
			if src, owned := owner[o.ID]; owned {
				protected[src] = true
			}
			in.leftAlone(p, ref, dg.Group.DisplayName, o.DisplayName, scim.PathExternalID, fo, false,
				foreignMessage(KindGroup, m.By[i], fo, why, dg.SourceID, in.ownerName(dg.SourceID)))
			continue
		}
		adopt, from := false, ""
		if src, owned := owner[o.ID]; owned && src != dg.SourceID && in.takesOver(KindGroup, src, mapping.EventNone, nil) {
			from = src
		} else if !owned || src != dg.SourceID {
			if owned {
				protected[dg.SourceID] = true
				in.leftAlone(p, ref, dg.Group.DisplayName, o.DisplayName, "", "", false, fmt.Sprintf(
					"matches by %s a target group that belongs to source group %q; make the %s unique",
					m.By[i], src, m.By[i]))
				continue
			}
			if !in.policy.Adopt {
				protected[dg.SourceID] = true
				in.leftAlone(p, ref, dg.Group.DisplayName, o.DisplayName, "", "", true, fmt.Sprintf(
					"a target group not created by provsync matches by %s; adoption is off, so it is left alone", m.By[i]))
				continue
			}
			adopt = true
		}
		matched[j] = true
		attrs := diffGroup(&dg.Group, o)
		if !adopt && from == "" && in.marks.hold(attrs) {
			attrs = nil
		}
		changed := false
		update := -1 // its index in p.Changes
		if len(attrs) > 0 || adopt || from != "" {
			reason := "attributes changed"
			if len(attrs) == 0 {
				reason = "adopt existing group"
			}
			update = len(p.Changes)
			p.Changes = append(p.Changes, in.updateChange(ActionUpdateGroup, ref, reason, adopt, attrs, dg.SourceID, from))
			changed = true
		}
		var add, remove []Ref
		// A group whose mirror holds exactly the wanted members, as most
		// do between drift checks, is passed by one comparison of packed
		// ids instead of a set of its members, which are made (a Ref of
		// 64 bytes each, a million of them at 100,000 users) only for a
		// group that differs.
		if !in.sameWanted(j, dg.Members, ups, &scratch) {
			members := wantedMembers(dg.Members, ups)
			have = reuseSet(have, len(members))
			for mem := range in.members(j) {
				have[mem.Value] = true
			}
			wantIDs = reuseSet(wantIDs, len(members))
			for _, r := range members {
				if r.TargetID == "" || !have[r.TargetID] {
					add = append(add, r)
				}
				if r.TargetID != "" {
					wantIDs[r.TargetID] = true
				}
			}
			for mem := range in.members(j) {
				// Only members that are users the engine manages are removed;
				// others were put there by someone else. A partial read (one
				// user on demand) speaks only for the users it yielded. The
				// group's own wanted ids are looked up first: a small map,
				// where the owners' map of a large tenant misses the CPU's
				// caches on every member.
				if wantIDs[mem.Value] {
					continue
				}
				src, ownedUser := userOwner[mem.Value]
				if !ownedUser || protectedUsers[src] {
					continue
				}
				if _, read := ups[src]; !in.complete && !read {
					continue
				}
				key := userNames[mem.Value]
				if up, ok := ups[src]; ok {
					key = up.key
				}
				if key == "" {
					key = mem.Display
				}
				if key == "" {
					key = mem.Value
				}
				remove = append(remove, Ref{Kind: KindUser, SourceID: src, TargetID: mem.Value, Key: key})
			}
		}
		if len(add) > 0 {
			p.Changes = append(p.Changes, Change{Action: ActionAddMembers, Object: ref, Reason: withNote("joined at source", dg.MembersNote), Members: add})
			changed = true
		}
		if len(remove) > 0 {
			p.Changes = append(p.Changes, Change{Action: ActionRemoveMembers, Object: ref, Reason: "left at source", Members: remove})
			changed = true
		}
		if adopt && len(add)+len(remove) == 0 {
			// Its members stay as listed: the adopted link's mirror is
			// the listed group with the update followed on it.
			c := &p.Changes[update]
			if j < len(in.groupMirrors) {
				c.adopted = in.groupMirrors[j].afterChange(c, nil)
			} else if o.Members != nil {
				c.adopted = groupMirror(o).afterChange(c, nil)
			}
		}
		if !changed {
			unchanged++
		}
	}
	if in.ownsDesired && len(d.Groups) > 0 {
		d.Groups[len(d.Groups)-1].Members = nil
	}
	if !in.complete || !in.policy.DeleteGroups {
		return unchanged, nil
	}
	for j := range obs {
		o := &obs[j]
		src, owned := owner[o.ID]
		if matched[j] || !owned || protected[src] {
			continue
		}
		if fo, why := in.foreign(KindGroup, o.ID, o.ExternalID); fo != "" {
			p.Problems = append(p.Problems, Problem{Object: Ref{Kind: KindGroup, SourceID: src, TargetID: o.ID, Key: o.DisplayName},
				Field: scim.PathExternalID, Message: foreignMessage(KindGroup, "link", fo, why, src, in.ownerName(src))})
			continue
		}
		p.Changes = append(p.Changes, Change{Action: ActionDeleteGroup, Reason: "left scope",
			Object: Ref{Kind: KindGroup, SourceID: src, TargetID: o.ID, Key: o.DisplayName}})
	}
	return unchanged, nil
}

// wantedMembers returns the members among source user ids that the plan
// provisions (see provisioned), as refs with their target ids if known.
func wantedMembers(ids []string, ups map[string]*userPlan) []Ref {
	members := make([]Ref, 0, len(ids))
	for _, sid := range ids {
		if up := provisioned(ups, sid); up != nil {
			members = append(members, Ref{Kind: KindUser, SourceID: sid, TargetID: up.targetID, Key: up.key})
		}
	}
	return members
}

// provisioned returns the plan of source user sid if the plan matched
// or creates it, nil otherwise: such a user may be a group's member.
func provisioned(ups map[string]*userPlan, sid string) *userPlan {
	up, ok := ups[sid]
	if !ok || up.skip || (up.targetID == "" && !up.create) {
		return nil
	}
	return up
}

// memberScratch is the buffers sameWanted reuses from group to group.
type memberScratch struct {
	ids    []string
	packed []byte
}

// sameWanted reports whether the mirror of in.groups[j] holds exactly
// the target ids of the members among source user ids ids that the plan
// provisions (wantedMembers(ids, ups)), without making them: packed
// (lowercase UUIDs, sorted), it is their ids sorted and packed. Anything
// else (no mirror, a member without a target id or with an id of another
// form, a repeated member) reports false, and the caller compares member
// by member.
func (in *planInput) sameWanted(j int, ids []string, ups map[string]*userPlan, s *memberScratch) bool {
	s.ids = s.ids[:0]
	for _, sid := range ids {
		up := provisioned(ups, sid)
		if up == nil {
			continue
		}
		if up.targetID == "" {
			return false
		}
		s.ids = append(s.ids, up.targetID)
	}
	return in.sameIDs(j, s)
}

// sameIDs reports whether the mirror of in.groups[j] is packed and holds
// exactly the target ids s.ids, which it sorts.
func (in *planInput) sameIDs(j int, s *memberScratch) bool {
	if j >= len(in.groupMirrors) {
		return false
	}
	mirror, ok := strings.CutPrefix(string(in.groupMirrors[j].Members), packedMarker)
	if !ok || len(mirror) != 16*len(s.ids) {
		return false
	}
	slices.Sort(s.ids)
	s.packed = s.packed[:0]
	for _, id := range s.ids {
		if s.packed, ok = appendUUID(s.packed, id); !ok {
			return false
		}
	}
	return string(s.packed) == mirror
}

// reuseSet returns set emptied for about n keys: cleared when it is small
// (clearing costs its capacity, which a large group's left behind), made
// anew otherwise.
func reuseSet(set map[string]bool, n int) map[string]bool {
	if set == nil || len(set) > 4096 {
		return make(map[string]bool, n)
	}
	clear(set)
	return set
}

// checkLimits blocks a plan whose deprovisions exceed the policy's limits:
// user deactivations and deletions, group deletions and membership
// removals, each against its own limit. A group deletion removes the
// memberships of its owned members too, and they count as removals.
func checkLimits(p *Plan, in planInput) {
	var users, groups, memberships, inDeleted int
	// The owned users' target ids are gathered once, and only for a plan
	// that deletes a group or removes members.
	var owned *targetSet
	ownedUsers := func() targetSet {
		if owned == nil {
			s := linkedTargets(in.snap.Users)
			owned = &s
		}
		return *owned
	}
	byID := make(map[string]int, len(in.groups))
	for i := range in.groups {
		byID[in.groups[i].ID] = i
	}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionDeactivateUser, ActionDeleteUser:
			users++
		case ActionDeleteGroup:
			groups++
			if j, ok := byID[c.Object.TargetID]; ok {
				inDeleted += ownedMembers(&in, j, ownedUsers())
			}
		case ActionRemoveMembers:
			memberships += len(c.Members)
		}
	}
	removals := "membership removals"
	if inDeleted > 0 {
		removals = fmt.Sprintf("membership removals (%d of them by the group deletions)", inDeleted)
	}
	memberships += inDeleted
	// Counting the owned memberships walks every member of every group:
	// only a plan that removes some needs it.
	var ownedCount int
	if memberships > 0 {
		ownedCount = ownedMemberships(in, ownedUsers())
	}
	for _, l := range []struct {
		what         string
		limit        Limit
		count, owned int
	}{
		{"user deprovisions", in.policy.UserLimit, users, len(in.snap.Users)},
		{"group deletions", in.policy.GroupLimit, groups, len(in.snap.Groups)},
		{removals, in.policy.MembershipLimit, memberships, ownedCount},
	} {
		if msg, over := l.limit.exceeded(l.count, l.owned); over {
			p.Applyable, p.NeedsConfirmation = false, true
			p.Reasons = append(p.Reasons, l.what+": "+msg+"; review the plan and apply with confirmation")
		}
	}
}

// targetSet is a set of target ids, those that are lowercase UUIDs
// (Netskope's) held as their 16 bytes, so that a group mirror's packed
// members (see MemberList) are looked up in it as they are, not each
// made into a string of its text first: a large tenant's million
// memberships took 48 MB of strings to count that way.
type targetSet struct {
	uuids map[[16]byte]struct{}
	other map[string]struct{}
}

// linkedTargets returns the set of the target ids links link to.
func linkedTargets(links map[string]Link) targetSet {
	s := targetSet{uuids: make(map[[16]byte]struct{}, len(links))}
	for _, l := range links {
		if u, ok := scim.ParseUUID(l.TargetID); ok {
			s.uuids[u] = struct{}{}
			continue
		}
		if s.other == nil {
			s.other = map[string]struct{}{}
		}
		s.other[l.TargetID] = struct{}{}
	}
	return s
}

// has reports whether s holds id. A UUID in upper case is not the one in
// lower case: ids are compared exactly (see scim.ParseUUID).
func (s targetSet) has(id string) bool {
	if u, ok := scim.ParseUUID(id); ok {
		_, found := s.uuids[u]
		return found
	}
	_, found := s.other[id]
	return found
}

// ownedMemberships counts the memberships the engine owns in the target:
// owned users' (ownedUsers) in groups it owns.
func ownedMemberships(in planInput, ownedUsers targetSet) int {
	groups := reverseLinks(in.snap.Groups)
	n := 0
	for i := range in.groups {
		if _, ok := groups[in.groups[i].ID]; ok {
			n += ownedMembers(&in, i, ownedUsers)
		}
	}
	return n
}

// ownedMembers counts the members of in.groups[j] that are owned users,
// whose target ids owned holds. The packed members of the group's mirror
// are looked up by their 16 bytes.
func ownedMembers(in *planInput, j int, owned targetSet) int {
	n := 0
	if j < len(in.groupMirrors) {
		if p, ok := strings.CutPrefix(string(in.groupMirrors[j].Members), packedMarker); ok {
			var u [16]byte
			for i := 0; i+16 <= len(p); i += 16 {
				copy(u[:], p[i:i+16])
				if _, found := owned.uuids[u]; found {
					n++
				}
			}
			return n
		}
	}
	for m := range in.members(j) {
		if owned.has(m.Value) {
			n++
		}
	}
	return n
}

// withNote adds a source's note on a group's members to a reason.
func withNote(reason, note string) string {
	if note == "" {
		return reason
	}
	return reason + ": " + note
}
