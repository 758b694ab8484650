package merge

import (
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

// entry is one member's user, in precedence order: members in order,
// then users in their directory's order.
type entry struct {
	member int
	user   *source.User
	keys   [][]string // per matching round (see matchKeys), lower case
}

// ref names one member's object by its id at that member.
type ref struct {
	member int
	id     string
}

// people groups users into persons.
type people struct {
	entries []entry
	// person maps each entry to the entry that owns its person: the
	// highest-precedence live user of it. -1 for a deleted user folded
	// into a live person (it is left out, and so are its memberships).
	person []int
}

// matchKeys returns the keys a user is matched by, lower case and
// trimmed, in two rounds: the user name alone, then the user name and the
// values of every match attribute together (so that one source's user
// name finds another's e-mail address).
func matchKeys(u *source.User, attrs []string) [][]string {
	name := appendKey(nil, u.UserName)
	all := slices.Clone(name)
	for _, a := range attrs {
		v, ok := u.Attr(a)
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			all = appendKey(all, v)
		case []string:
			for _, s := range v {
				all = appendKey(all, s)
			}
		default:
			all = appendKey(all, fmt.Sprint(v))
		}
	}
	return [][]string{name, all}
}

func appendKey(keys []string, v string) []string {
	if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
		keys = append(keys, v)
	}
	return keys
}

// findPeople matches the members' users into persons. Live users (not
// deleted) are matched first by user name alone, so that every user name
// ends in one person (Validate refuses a user name twice), then by any
// key; two users of one member are never one person (such a match is
// ambiguous: it is logged and left apart). A deleted user whose key
// matches a live person of other sources is folded into it; the other
// deleted users, such as one whose own source holds the person live too
// (a rehire under the same name, which stays apart as it would without
// merging), are matched among themselves the same way.
func findPeople(dirs []*source.Directory, match []string, names []string, log *zap.Logger) *people {
	p := &people{}
	for m, d := range dirs {
		for i := range d.Users {
			u := &d.Users[i]
			p.entries = append(p.entries, entry{member: m, user: u, keys: matchKeys(u, match)})
		}
	}
	p.person = make([]int, len(p.entries))
	var live, deleted []int
	for i := range p.entries {
		if p.entries[i].user.State == source.StateDeleted {
			deleted = append(deleted, i)
		} else {
			live = append(live, i)
		}
	}
	nkeys := 2
	p.cluster(live, nkeys, names, log)
	// Fold deleted users into the live person a key of theirs names.
	index := make([]map[string]int, nkeys)
	for k := range index {
		index[k] = map[string]int{}
		for _, i := range live {
			for _, v := range p.entries[i].keys[k] {
				if _, ok := index[k][v]; !ok {
					index[k][v] = p.person[i]
				}
			}
		}
	}
	held := map[int]uint64{} // live person → the members holding it
	for _, i := range live {
		held[p.person[i]] |= 1 << uint(p.entries[i].member)
	}
	var rest []int
	for _, i := range deleted {
		p.person[i] = -2
		for k := 0; k < nkeys && p.person[i] == -2; k++ {
			for _, v := range p.entries[i].keys[k] {
				if root, ok := index[k][v]; ok && held[root]&(1<<uint(p.entries[i].member)) == 0 {
					p.person[i] = -1
					break
				}
			}
		}
		if p.person[i] == -2 {
			rest = append(rest, i)
		}
	}
	p.cluster(rest, nkeys, names, log)
	return p
}

// cluster sets p.person for the entries idx (in precedence order) with a
// union-find whose roots are the earliest entries, each cluster holding at
// most one user per member.
func (p *people) cluster(idx []int, nkeys int, names []string, log *zap.Logger) {
	// Indexed by entry; only the entries of idx are used.
	parent := make([]int, len(p.entries))
	members := make([]uint64, len(p.entries))
	for _, i := range idx {
		parent[i] = i
		members[i] = 1 << uint(p.entries[i].member)
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for k := range nkeys {
		first := make(map[string]int, len(idx))
		for _, i := range idx {
			for _, v := range p.entries[i].keys[k] {
				j, ok := first[v]
				if !ok {
					first[v] = i
					continue
				}
				ri, rj := find(i), find(j)
				if ri == rj {
					continue
				}
				if members[ri]&members[rj] != 0 {
					a, b := p.entries[rj], p.entries[i]
					log.Warn("users of different sources match, but one source holds two of them: they stay apart",
						zap.String("user", ID(names[b.member], b.user.ID)), zap.String("matches", ID(names[a.member], a.user.ID)))
					continue
				}
				root, child := min(ri, rj), max(ri, rj)
				parent[child] = root
				members[root] |= members[child]
			}
		}
	}
	for _, i := range idx {
		p.person[i] = find(i)
	}
}

// users returns the merged users, one per person, and maps every member
// user to its person's merged id ("" for a folded deleted user).
func (p *people) users(names []string) ([]source.User, map[ref]string) {
	ids := make(map[ref]string, len(p.entries))
	var out []source.User
	for i, e := range p.entries {
		r := ref{e.member, e.user.ID}
		if p.person[i] < 0 {
			ids[r] = ""
			continue
		}
		owner := p.entries[p.person[i]]
		ids[r] = ID(names[owner.member], owner.user.ID)
	}
	for i, e := range p.entries {
		if p.person[i] != i {
			continue
		}
		// The members' directories are the merge's to keep: the user is
		// moved, not copied.
		u := *e.user
		u.ID = ids[ref{e.member, e.user.ID}]
		// The manager is named by its id at the same source: it becomes
		// the manager's person's id.
		if mgr, ok := u.Attributes.Value("managerId").(string); ok && mgr != "" {
			if id, ok := ids[ref{e.member, mgr}]; ok && id != "" {
				u.Attributes = u.Attributes.With("managerId", id)
			} else {
				u.Attributes = u.Attributes.With("managerId", ID(names[e.member], mgr))
			}
		}
		out = append(out, u)
	}
	return out, ids
}
