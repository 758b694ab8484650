package source

import "sync"

// Index answers lookups on a Directory by id. It reflects the directory at
// the time Index was called: build a new one after changing the directory.
// It is safe for concurrent use.
type Index struct {
	users  []User
	groups []Group
	userAt map[string]int
	grpAt  map[string]int

	once     sync.Once
	memberOf map[string][]string
}

// Index builds lookups for d's users and groups. Where ids repeat (which
// Validate reports) the first object wins.
func (d *Directory) Index() *Index {
	x := &Index{
		users:  d.Users,
		groups: d.Groups,
		userAt: make(map[string]int, len(d.Users)),
		grpAt:  make(map[string]int, len(d.Groups)),
	}
	for i := range d.Users {
		if _, dup := x.userAt[d.Users[i].ID]; !dup {
			x.userAt[d.Users[i].ID] = i
		}
	}
	for i := range d.Groups {
		if _, dup := x.grpAt[d.Groups[i].ID]; !dup {
			x.grpAt[d.Groups[i].ID] = i
		}
	}
	return x
}

// UserByID returns the user with the given id, pointing into the
// directory's Users.
func (x *Index) UserByID(id string) (*User, bool) {
	i, ok := x.userAt[id]
	if !ok {
		return nil, false
	}
	return &x.users[i], true
}

// GroupByID returns the group with the given id, pointing into the
// directory's Groups.
func (x *Index) GroupByID(id string) (*Group, bool) {
	i, ok := x.grpAt[id]
	if !ok {
		return nil, false
	}
	return &x.groups[i], true
}

// MemberOf returns the ids of the groups that list the user as a direct
// member, in directory order. The slice must not be modified.
func (x *Index) MemberOf(userID string) []string {
	x.once.Do(func() {
		x.memberOf = make(map[string][]string, len(x.userAt))
		for i := range x.groups {
			g := &x.groups[i]
			for _, m := range g.Members {
				if l := x.memberOf[m]; len(l) == 0 || l[len(l)-1] != g.ID {
					x.memberOf[m] = append(l, g.ID)
				}
			}
		}
	})
	return x.memberOf[userID]
}

// TransitiveMembers returns the ids of the users that are members of the
// group directly or through its MemberGroups at any depth, each once, in
// the order they are first found. Cycles are followed once. An unknown
// group has no members.
func (x *Index) TransitiveMembers(groupID string) []string {
	var out []string
	seenUser := map[string]bool{}
	seenGroup := map[string]bool{groupID: true}
	queue := []string{groupID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		g, ok := x.GroupByID(id)
		if !ok {
			continue
		}
		for _, m := range g.Members {
			if !seenUser[m] {
				seenUser[m] = true
				out = append(out, m)
			}
		}
		for _, sub := range g.MemberGroups {
			if !seenGroup[sub] {
				seenGroup[sub] = true
				queue = append(queue, sub)
			}
		}
	}
	return out
}
