package mapping

import (
	"errors"
	"fmt"
	"strings"

	"github.com/provsync/provsync/scim"
)

// ErrAmbiguousMatch is returned for an object that matches more than one
// target object, or whose target object another source object also
// matches. The engine never guesses: the object is reported and left
// alone until the data is fixed.
var ErrAmbiguousMatch = errors.New("mapping: ambiguous match")

// MatchKey is one matching property: an attribute compared between the
// desired and the observed object, exactly or ignoring case.
type MatchKey struct {
	// Attribute is the SCIM path compared: externalId, userName,
	// displayName, or any user attribute LookupUserAttr knows.
	Attribute string `json:"attribute" yaml:"attribute"`
	// IgnoreCase compares values without regard to case.
	IgnoreCase bool `json:"ignoreCase,omitempty" yaml:"ignoreCase,omitempty"`
}

// DefaultUserMatch is the default matching order for users: the source id
// kept in externalId, then userName ignoring case.
func DefaultUserMatch() []MatchKey {
	return []MatchKey{{Attribute: scim.PathExternalID}, {Attribute: scim.PathUserName, IgnoreCase: true}}
}

// DefaultGroupMatch is the default matching order for groups: externalId,
// then displayName ignoring case.
func DefaultGroupMatch() []MatchKey {
	return []MatchKey{{Attribute: scim.PathExternalID}, {Attribute: scim.PathDisplayName, IgnoreCase: true}}
}

// Matches is the outcome of matching desired objects to observed ones.
type Matches struct {
	// Observed[i] is the index of the observed object desired object i
	// matched, or -1.
	Observed []int
	// By[i] is the key that matched desired object i ("link" for a pin).
	By []string
	// Errors[i] is set when desired object i could not be matched
	// safely; Observed[i] is then -1.
	Errors map[int]error
}

// MatchUsers pairs desired users with observed ones by the keys in order:
// the first key that names exactly one observed user matches it. Every
// later key is checked too: one that names a different observed user
// makes the match ambiguous (ErrAmbiguousMatch, naming both), never a
// guess. pins fixes pairs known beforehand (desired index to observed
// index, from the engine's links); pinned pairs win over keys, and pinned
// observed objects are not candidates for others.
func MatchUsers(desired, observed []scim.User, keys []MatchKey, pins map[int]int) (Matches, error) {
	get, err := userKeys(keys)
	if err != nil {
		return Matches{}, err
	}
	return match(len(desired), len(observed), keys, pins, "user",
		func(i, k int) string { return get[k](&desired[i]) },
		func(j, k int) string { return get[k](&observed[j]) },
		func(j int) string { return observed[j].ID }), nil
}

// MatchDesiredUsers is MatchUsers over the users of desired, without
// copying them; a desired user that skip reports (nil: none) matches
// nothing and is no candidate's rival, as one with no key values.
func MatchDesiredUsers(desired []DesiredUser, observed []scim.User, keys []MatchKey, pins map[int]int, skip func(i int) bool) (Matches, error) {
	get, err := userKeys(keys)
	if err != nil {
		return Matches{}, err
	}
	return match(len(desired), len(observed), keys, pins, "user",
		func(i, k int) string {
			if skip != nil && skip(i) {
				return ""
			}
			return get[k](&desired[i].User)
		},
		func(j, k int) string { return get[k](&observed[j]) },
		func(j int) string { return observed[j].ID }), nil
}

// userKeys returns the readers of the users' matching properties.
func userKeys(keys []MatchKey) ([]func(*scim.User) string, error) {
	get := make([]func(*scim.User) string, len(keys))
	for k, key := range keys {
		a, ok := scim.LookupUserAttr(key.Attribute)
		if !ok {
			return nil, fmt.Errorf("mapping: user matching property %q is not a known attribute", key.Attribute)
		}
		get[k] = func(u *scim.User) string { s, _ := a.GetString(u); return s }
	}
	return get, nil
}

// MatchGroups pairs desired groups with observed ones by the keys in
// order, as MatchUsers does.
func MatchGroups(desired, observed []scim.Group, keys []MatchKey, pins map[int]int) (Matches, error) {
	get := make([]func(*scim.Group) string, len(keys))
	for k, key := range keys {
		switch strings.ToLower(key.Attribute) {
		case "externalid":
			get[k] = func(g *scim.Group) string { return g.ExternalID }
		case "displayname":
			get[k] = func(g *scim.Group) string { return g.DisplayName }
		default:
			return Matches{}, fmt.Errorf("mapping: group matching property %q: only externalId and displayName are supported", key.Attribute)
		}
	}
	return match(len(desired), len(observed), keys, pins, "group",
		func(i, k int) string { return get[k](&desired[i]) },
		func(j, k int) string { return get[k](&observed[j]) },
		func(j int) string { return observed[j].ID }), nil
}

func match(nd, no int, keys []MatchKey, pins map[int]int, kind string,
	dval func(i, k int) string, oval func(j, k int) string, oid func(j int) string) Matches {
	m := Matches{Observed: make([]int, nd), By: make([]string, nd), Errors: map[int]error{}}
	norm := func(k int, v string) string {
		if keys[k].IgnoreCase {
			return strings.ToLower(v)
		}
		return v
	}
	// One index per key over the observed objects not pinned already.
	pinnedObs := make(map[int]bool, len(pins))
	for _, j := range pins {
		pinnedObs[j] = true
	}
	index := make([]keyIndex, len(keys))
	for k := range keys {
		index[k].first = make(map[string]int, no)
		for j := 0; j < no; j++ {
			if pinnedObs[j] {
				continue
			}
			if v := oval(j, k); v != "" {
				index[k].add(norm(k, v), j)
			}
		}
	}
	var claims claimList // observed index → desired indexes
	claims.first = make([]int, no)
	for i := 0; i < nd; i++ {
		m.Observed[i] = -1
		if j, ok := pins[i]; ok {
			m.Observed[i], m.By[i] = j, "link"
			claims.add(j, i)
			continue
		}
		chosen, by, byValue := -1, "", ""
		var one [1]int
		for k, key := range keys {
			v := dval(i, k)
			if v == "" {
				continue
			}
			cands := index[k].lookup(norm(k, v), &one)
			if chosen < 0 && len(cands) > 1 {
				m.Errors[i] = fmt.Errorf("%w: %d target %ss have %s %q; remove the duplicates or change the matching properties",
					ErrAmbiguousMatch, len(cands), kind, key.Attribute, v)
				break
			}
			if chosen < 0 {
				if len(cands) == 1 {
					chosen, by, byValue = cands[0], key.Attribute, v
				}
				continue
			}
			// A later property naming another object is a conflict, not
			// a lower-priority hint: taking the first match would rename
			// it onto a value the other object holds.
			if j := other(cands, chosen); j >= 0 {
				m.Errors[i] = fmt.Errorf("%w: %s %q matches target %s %s while %s %q matches target %s %s; make both properties name one %s, or remove one of them",
					ErrAmbiguousMatch, by, byValue, kind, oid(chosen), key.Attribute, v, kind, oid(j), kind)
				chosen = -1
				break
			}
		}
		if chosen >= 0 {
			m.Observed[i], m.By[i] = chosen, by
			claims.add(chosen, i)
		}
	}
	for j, ds := range claims.shared {
		if len(ds) < 2 {
			continue // an out-of-range pin, claimed once
		}
		for _, i := range ds {
			m.Observed[i], m.By[i] = -1, ""
			m.Errors[i] = fmt.Errorf("%w: %d source %ss match the same target %s (id %s); make their matching attributes unique",
				ErrAmbiguousMatch, len(ds), kind, kind, oid(j))
		}
	}
	return m
}

// keyIndex finds observed objects by the normalised value of one key.
// Values are nearly always unique, so one object is kept as an index and
// only values several objects share get a slice.
type keyIndex struct {
	first  map[string]int   // value -> the first object with it
	shared map[string][]int // value -> every object with it, in order, where several have it
}

func (x *keyIndex) add(v string, j int) {
	f, seen := x.first[v]
	if !seen {
		x.first[v] = j
		return
	}
	if x.shared == nil {
		x.shared = map[string][]int{}
	}
	if x.shared[v] == nil {
		x.shared[v] = []int{f}
	}
	x.shared[v] = append(x.shared[v], j)
}

// lookup returns the objects with value v, in order; one holds the
// result when there is a single one, so that it needs no allocation.
func (x *keyIndex) lookup(v string, one *[1]int) []int {
	if all, ok := x.shared[v]; ok {
		return all
	}
	j, ok := x.first[v]
	if !ok {
		return nil
	}
	one[0] = j
	return one[:]
}

// claimList records which desired objects matched each observed one.
// Nearly every observed object is claimed once at most, so the first
// claim is kept in a slice and only contested objects get a list.
type claimList struct {
	first  []int         // observed index → the first desired index + 1; 0: none
	shared map[int][]int // observed index → every desired index, where several claim it
}

func (c *claimList) add(j, i int) {
	if j < 0 || j >= len(c.first) {
		// A pin out of range: keep it with the contested ones, as the
		// map this replaces kept any index.
		c.addShared(j, i)
		return
	}
	switch f := c.first[j]; {
	case f == 0:
		c.first[j] = i + 1
	case c.shared[j] == nil:
		c.addShared(j, f-1)
		c.addShared(j, i)
	default:
		c.addShared(j, i)
	}
}

func (c *claimList) addShared(j, i int) {
	if c.shared == nil {
		c.shared = map[int][]int{}
	}
	c.shared[j] = append(c.shared[j], i)
}

// other returns the first of cands that is not j, or -1.
func other(cands []int, j int) int {
	for _, c := range cands {
		if c != j {
			return c
		}
	}
	return -1
}
