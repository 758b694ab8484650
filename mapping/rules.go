package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

// Rules is an administrator's mapping, as the providers' consoles
// configure it: the attribute mapping table, scoping filters, group rules
// and which groups are synced.
type Rules struct {
	// Users is the user attribute mapping table; nil means
	// DefaultUserMappings. active always follows the source's state unless
	// the table maps it.
	Users []AttributeMapping `json:"users,omitempty" yaml:"users,omitempty"`
	// Scope are scoping filters: only users they accept are provisioned;
	// a provisioned user they stop accepting leaves scope. Empty: all.
	Scope Scope `json:"scope,omitempty" yaml:"scope,omitempty"`
	// GroupRules put users into Netskope groups by their attributes, in
	// order, as OneLogin's rules do.
	GroupRules GroupRules `json:"groupRules,omitempty" yaml:"groupRules,omitempty"`
	// SkipSourceGroups syncs no source group: only the groups rules make.
	SkipSourceGroups bool `json:"skipSourceGroups,omitempty" yaml:"skipSourceGroups,omitempty"`
	// ExistingGroupsOnly limits group rules to groups the target already
	// has (its entitlements); rules never create a group.
	ExistingGroupsOnly bool `json:"existingGroupsOnly,omitempty" yaml:"existingGroupsOnly,omitempty"`
}

// RuleMapper applies compiled Rules. It is safe for concurrent use.
type RuleMapper struct {
	users        *UserMapping
	scope        *CompiledScope
	rules        *CompiledGroupRules
	skipGroups   bool
	existingOnly bool
	attrs        []string // the source attributes the rules read (SourceAttributes)
}

var (
	_ EntitlementMapper = (*RuleMapper)(nil)
	_ StreamingMapper   = (*RuleMapper)(nil)
	_ AttributeReader   = (*RuleMapper)(nil)
)

// Compile checks the rules and prepares them. Every problem is reported,
// each located ("users[2].expression", "scope[0].clauses[1].operator"),
// joined.
func (r Rules) Compile() (*RuleMapper, error) {
	var errs []error
	m := &RuleMapper{skipGroups: r.SkipSourceGroups, existingOnly: r.ExistingGroupsOnly}
	var err error
	if m.users, err = CompileUserMappings(r.Users); err != nil {
		errs = append(errs, err)
	}
	if m.scope, err = r.Scope.Compile(); err != nil {
		errs = append(errs, locate("scope", err))
	}
	if m.rules, err = r.GroupRules.Compile(); err != nil {
		errs = append(errs, locate("groupRules", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var reads attrNames
	reads.addUserMapping(m.users)
	reads.addScope(m.scope)
	reads.addGroupRules(m.rules)
	m.attrs = reads.names
	return m, nil
}

// locate prefixes the locations of the errors of a sub-configuration.
func locate(where string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var me *MappingError
		if errors.As(e, &me) {
			out = append(out, &MappingError{Path: where + me.Path, Err: me.Err})
		} else {
			out = append(out, &MappingError{Path: where, Err: e})
		}
	}
	return errors.Join(out...)
}

// unjoin lists the errors errors.Join joined.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// Map applies the rules without knowing the target's groups: group rules
// limited to existing groups then keep every group they name.
func (m *RuleMapper) Map(ctx context.Context, dir *source.Directory) (*Desired, error) {
	return m.MapWith(ctx, dir, Entitlements{})
}

// MapWith applies the rules to every user and group of dir.
func (m *RuleMapper) MapWith(ctx context.Context, dir *source.Directory, ent Entitlements) (*Desired, error) {
	return m.mapDir(ctx, dir, ent, false, Stream{})
}

// MapReleasing is MapWith, dropping each user's attributes and emails
// once the user is mapped, in scope or not (see ReleasingMapper).
func (m *RuleMapper) MapReleasing(ctx context.Context, dir *source.Directory, ent Entitlements) (*Desired, error) {
	return m.mapDir(ctx, dir, ent, true, Stream{})
}

// MapStreaming is MapReleasing, handing each mapped user to s.Take (see
// StreamingMapper).
func (m *RuleMapper) MapStreaming(ctx context.Context, dir *source.Directory, ent Entitlements, s Stream) (*Desired, error) {
	return m.mapDir(ctx, dir, ent, true, s)
}

// mapDir maps dir, handing each mapped user to s (see Stream).
func (m *RuleMapper) mapDir(ctx context.Context, dir *source.Directory, ent Entitlements, drop bool, s Stream) (*Desired, error) {
	if dir == nil {
		return nil, errors.New("mapping: no directory")
	}
	mem := m.memberships(dir)
	// The filters and rules that cannot hold for anyone are found before
	// the users are mapped, which may drop their attributes.
	var warnings []string
	var blocked bool
	if len(dir.Users) > 0 {
		groups := &knownGroups{dir: dir}
		warnings, blocked = m.scope.unseen(dir, groups)
		warnings = append(warnings, m.rules.unseen(dir, groups)...)
	}
	d := &Desired{
		Users:                  make([]DesiredUser, 0, room(s, len(dir.Users))),
		ManagedUserAttributes:  m.users.Managed(),
		ManagedGroupAttributes: []string{scim.PathDisplayName, scim.PathExternalID},
	}
	inScope := make(map[string]bool, len(dir.Users))
	accepted := 0
	// The groups rules make, in order of first appearance, each under the
	// name as first spelled, with their members (user ids).
	var ruleOrder []string
	var ruleMembers [][]string
	ruleIndex := map[string]int{} // a spelling seen -> its group's index
	byLower := map[string]int{}   // lower-case name -> its group's index
	var userGroups []string       // one user's groups; the array is reused
	for i := range dir.Users {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if drop && i > 0 {
			release(&dir.Users[i-1]) // done with the previous user
		}
		u := &dir.Users[i]
		if !m.scope.InScope(u, mem) {
			continue
		}
		accepted++
		d.Users = append(d.Users, DesiredUser{})
		if oerr := m.users.mapInto(u, &d.Users[len(d.Users)-1]); oerr != nil {
			d.Users = d.Users[:len(d.Users)-1]
			d.Failed = append(d.Failed, *oerr)
			continue
		}
		inScope[u.ID] = true
		if last := len(d.Users) - 1; !s.keep(&d.Users[last]) {
			d.Users[last] = DesiredUser{} // the array keeps nothing of a taken user
			d.Users = d.Users[:last]
		}
		userGroups = m.rules.appendGroups(userGroups, u, mem)
		for _, name := range userGroups {
			k, ok := ruleIndex[name]
			if !ok {
				// A spelling not seen yet: lower it once to find its group.
				lower := strings.ToLower(name)
				if k, ok = byLower[lower]; !ok {
					k = len(ruleOrder)
					byLower[lower] = k
					ruleOrder = append(ruleOrder, name)
					ruleMembers = append(ruleMembers, nil)
				}
				ruleIndex[name] = k
			}
			ruleMembers[k] = append(ruleMembers[k], u.ID)
		}
	}
	if drop && len(dir.Users) > 0 {
		release(&dir.Users[len(dir.Users)-1])
	}

	existing := map[string]string{}
	for _, g := range ent.Groups {
		existing[strings.ToLower(g)] = g
	}
	bySourceName := map[string]int{}
	if !m.skipGroups {
		for i := range dir.Groups {
			dg, oerr := mapGroup(&dir.Groups[i], drop)
			if oerr != nil {
				d.Failed = append(d.Failed, *oerr)
				continue
			}
			dg.Members = slices.DeleteFunc(dg.Members, func(id string) bool { return !inScope[id] })
			bySourceName[strings.ToLower(dg.Group.DisplayName)] = len(d.Groups)
			d.Groups = append(d.Groups, dg)
		}
	}
	for k, name := range ruleOrder {
		members := ruleMembers[k]
		if j, ok := bySourceName[strings.ToLower(name)]; ok {
			// A rule names a synced source group: one group, both sets.
			g := &d.Groups[j]
			for _, id := range members {
				if !slices.Contains(g.Members, id) {
					g.Members = append(g.Members, id)
				}
			}
			continue
		}
		display := name
		if m.existingOnly && len(ent.Groups) > 0 {
			spelled, ok := existing[strings.ToLower(name)]
			if !ok {
				continue // only groups the target has
			}
			display = spelled
		}
		d.Groups = append(d.Groups, DesiredGroup{
			SourceID: RuleGroupID(display),
			Group:    scim.Group{DisplayName: display},
			Members:  members,
		})
	}
	d.Warnings, d.ScopeSuspect = warnings, blocked && accepted == 0
	return d, nil
}

// memberships indexes dir's memberships when the scope or a rule tests
// them; nil otherwise, which the rules never read then.
func (m *RuleMapper) memberships(dir *source.Directory) Memberships {
	if !m.scope.NeedsMemberships() && !m.rules.NeedsMemberships() {
		return nil
	}
	return NewMemberships(dir)
}

// RuleGroupID is the source key of a group made by group rules.
func RuleGroupID(name string) string { return "rule:" + strings.ToLower(name) }

// AffectedUsers lists the user names that group rule i puts into a group,
// with the group names, for OneLogin's "Show Affected Users": it applies
// the scoping filters and that one rule to dir.
func (m *RuleMapper) AffectedUsers(dir *source.Directory, i int) ([]Affected, error) {
	if i < 0 || i >= m.rules.Len() {
		return nil, fmt.Errorf("%w: no group rule %d", ErrInvalidRule, i)
	}
	mem := m.memberships(dir)
	var out []Affected
	for k := range dir.Users {
		u := &dir.Users[k]
		if !m.scope.InScope(u, mem) {
			continue
		}
		if groups := m.rules.RuleGroups(i, u, mem); len(groups) > 0 {
			out = append(out, Affected{UserID: u.ID, UserName: u.UserName, Groups: groups})
		}
	}
	return out, nil
}

// Affected is one user a group rule acts on.
type Affected struct {
	UserID   string   `json:"userId"`
	UserName string   `json:"userName"`
	Groups   []string `json:"groups"`
}
