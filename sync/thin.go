package sync

import (
	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
)

// thinUser is a mapped user the same as its link's mirror (see
// sameAsMirror), as a plan holds it when the mapper streams
// (mapping.StreamingMapper): about 50 bytes where the mapped user takes
// about 570, and a cycle with few changes maps mostly such users. Only
// users with no event and no manager are held thin: the plan reads
// nothing else of them, as nothing about them differs from their mirror
// (the target's user has the same attributes, and no policy acts on an
// event).
type thinUser struct {
	sourceID, userName, externalID string
}

// thinUsers are the users a plan holds thin, and where they fall among
// the whole ones (mapping.Desired.Users) in the mapping's order.
type thinUsers struct {
	users []thinUser
	// order is the mapping's order: its entry i is Desired.Users[k]
	// for k = order[i] >= 0, users[^k] otherwise.
	order []int32
}

// thinnable reports whether mapped user du, the same as its link's
// mirror, may be held thin: it has no event, which policy acts on, and
// no manager, whose target id the plan resolves afresh.
func thinnable(du *mapping.DesiredUser) bool {
	return du.Event == mapping.EventNone && !hasManager(&du.User)
}

// userCount counts the plan's mapped users, whole and thin.
func (in *planInput) userCount() int {
	if in.thin == nil {
		return len(in.desired.Users)
	}
	return len(in.thin.order)
}

// user returns mapped user i (in the mapping's order) and whether it is
// held thin. A thin user is returned in buf, with its source id,
// userName and externalId only.
func (in *planInput) user(i int, buf *mapping.DesiredUser) (*mapping.DesiredUser, bool) {
	if in.thin == nil {
		return &in.desired.Users[i], false
	}
	k := in.thin.order[i]
	if k >= 0 {
		return &in.desired.Users[k], false
	}
	t := &in.thin.users[^k]
	*buf = mapping.DesiredUser{SourceID: t.sourceID, User: scim.User{UserName: t.userName, ExternalID: t.externalID}}
	return buf, true
}

// wholeUser returns the user of mapped user i, which is not held thin.
func wholeUser(in *planInput, i int) *scim.User {
	if in.thin != nil {
		i = int(in.thin.order[i])
	}
	return &in.desired.Users[i].User
}

// userID returns the source id of mapped user i.
func (in *planInput) userID(i int) string {
	if in.thin == nil {
		return in.desired.Users[i].SourceID
	}
	k := in.thin.order[i]
	if k >= 0 {
		return in.desired.Users[k].SourceID
	}
	return in.thin.users[^k].sourceID
}

// matchUsers is mapping.MatchDesiredUsers over the plan's mapped users,
// indexed in the mapping's order. Thin users take no part, as users the
// same as their mirror do not (see mirroredUsers); their targets are not
// among obs, so no pin names one.
func (in *planInput) matchUsers(obs []scim.User, pins map[int]int) (mapping.Matches, error) {
	if in.thin == nil {
		return mapping.MatchDesiredUsers(in.desired.Users, obs, in.userKeys, pins, in.isSame)
	}
	order := in.thin.order
	at := make([]int, len(in.desired.Users)) // whole user -> its index in order
	for i, k := range order {
		if k >= 0 {
			at[k] = i
		}
	}
	wholePins := make(map[int]int, len(pins))
	for i, j := range pins {
		if k := order[i]; k >= 0 {
			wholePins[int(k)] = j
		}
	}
	wm, err := mapping.MatchDesiredUsers(in.desired.Users, obs, in.userKeys, wholePins, func(k int) bool { return in.isSame(at[k]) })
	if err != nil {
		return mapping.Matches{}, err
	}
	m := mapping.Matches{Observed: make([]int, len(order)), By: make([]string, len(order)), Errors: make(map[int]error, len(wm.Errors))}
	for i, k := range order {
		if k < 0 {
			m.Observed[i] = -1
			continue
		}
		m.Observed[i], m.By[i] = wm.Observed[k], wm.By[k]
	}
	for k, err := range wm.Errors {
		m.Errors[at[k]] = err
	}
	return m, nil
}
