package merge

import (
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

// merge merges the members' directories (valid, in precedence order) and
// returns the owner of every merged id.
func (s *Source) merge(dirs []*source.Directory) (*source.Directory, map[string]string) {
	names := s.read()
	p := findPeople(dirs, s.opts.match, names, s.opts.log)
	users, userIDs := p.users(names)
	groups := s.groups(dirs, names, userIDs)
	owned := make(map[string]string, len(users)+len(groups))
	for i := range users {
		name, _, _ := Split(users[i].ID)
		owned[users[i].ID] = name
	}
	for i := range groups {
		name, _, _ := Split(groups[i].ID)
		owned[groups[i].ID] = name
	}
	return &source.Directory{Users: users, Groups: groups}, owned
}

// part is one member's group.
type part struct {
	member int
	group  *source.Group
}

// groups returns the merged groups, their members and member groups named
// by merged ids.
func (s *Source) groups(dirs []*source.Directory, names []string, userIDs map[ref]string) []source.Group {
	// Every member's group gets a merged id; in GroupsMerge, the groups of
	// one name share the first one's.
	groupIDs := make(map[ref]string)
	var emitted [][]part // per group emitted, the members' groups it is made of, the owner's first
	for m, d := range dirs {
		for i := range d.Groups {
			g := &d.Groups[i]
			groupIDs[ref{m, g.ID}] = ID(names[m], g.ID)
			emitted = append(emitted, []part{{m, g}})
		}
	}
	if s.opts.groups == GroupsMerge {
		emitted = s.mergeByName(emitted, groupIDs)
	}
	out := make([]source.Group, 0, len(emitted))
	for _, ps := range emitted {
		owner := ps[0]
		g := *owner.group // moved, not copied, as users are
		g.ID = groupIDs[ref{owner.member, owner.group.ID}]
		if s.opts.groups == GroupsNamespace {
			g.DisplayName = strings.NewReplacer("{name}", g.DisplayName, "{source}", names[owner.member]).Replace(s.opts.format)
		}
		g.Members, g.MemberGroups = nil, nil
		var notes []string
		seenU, seenG := map[string]bool{}, map[string]bool{g.ID: true}
		for _, p := range ps {
			for _, id := range p.group.Members {
				if mid := userIDs[ref{p.member, id}]; mid != "" && !seenU[mid] {
					seenU[mid] = true
					g.Members = append(g.Members, mid)
				}
			}
			for _, id := range p.group.MemberGroups {
				if mid := groupIDs[ref{p.member, id}]; !seenG[mid] {
					seenG[mid] = true
					g.MemberGroups = append(g.MemberGroups, mid)
				}
			}
			if n := p.group.MembersNote; n != "" && !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
		g.MembersNote = strings.Join(notes, "; ")
		out = append(out, g)
	}
	return out
}

// mergeByName makes the groups of one name (ignoring case) from several
// members one, owned by the first; a name one member holds twice stays
// apart. It points the merged groups' ids at the owner's.
func (s *Source) mergeByName(groups [][]part, groupIDs map[ref]string) [][]part {
	byName := map[string]int{} // name → index in out
	out := make([][]part, 0, len(groups))
	var split []string
	for _, ps := range groups {
		p := ps[0]
		key := strings.ToLower(p.group.DisplayName)
		k, ok := byName[key]
		if !ok {
			byName[key] = len(out)
			out = append(out, ps)
			continue
		}
		if k < 0 {
			out = append(out, ps) // the name is held twice by a member
			continue
		}
		if slices.ContainsFunc(out[k], func(q part) bool { return q.member == p.member }) {
			// One member holds the name twice: nothing of that name is
			// merged, and the engine reports the clash.
			split = append(split, key)
			parts := out[k]
			out[k] = parts[:1]
			for _, q := range parts[1:] {
				groupIDs[ref{q.member, q.group.ID}] = ID(s.members[q.member].Name, q.group.ID)
				out = append(out, []part{q})
			}
			out = append(out, ps)
			byName[key] = -1
			continue
		}
		out[k] = append(out[k], p)
		o := out[k][0]
		groupIDs[ref{p.member, p.group.ID}] = groupIDs[ref{o.member, o.group.ID}]
	}
	if len(split) > 0 {
		s.opts.log.Warn("a source holds several groups of one name: that name is not merged", zap.Int("names", len(split)))
	}
	return out
}
