package entra

import (
	"context"
	"slices"
	"strings"

	"github.com/provsync/provsync/source"
)

var _ source.AttributeSelector = (*Source)(nil)

// ReadAttributes is Read, except that the users' Attributes hold only the
// attributes named in names, matched ignoring case (none when names is
// empty); groups carry no attributes from this source either way.
//
// Graph is asked for less: the users' $select keeps the properties the
// typed fields and the scope need (id, userPrincipalName, mail,
// otherMails, givenName, surname, displayName, accountEnabled) and, of
// employeeId, department, jobTitle, userType and Config.UserAttributes,
// only those a name asks for (an object-valued property is asked for
// when a name asks for one of its "property.field" attributes). Names
// that are none of these are not sent to Graph, which refuses an unknown
// property. The enterprise app, its assignments and the groups are read
// as Read reads them: they hold no attribute.
//
// It concerns full reads only: ReadChanges and its delta links keep
// asking for every property, since Graph's delta reports changes only to
// the properties its first request selected.
func (s *Source) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	snap, err := s.readFull(ctx, false, s.selectAttrs(names))
	if err != nil {
		return nil, withContext(ctx, err)
	}
	return snap.dir, nil
}

// attrSelection is what a ReadAttributes call keeps of the users'
// attributes. A nil *attrSelection keeps every attribute, as Read,
// ReadChanges and ReadUser do. It is used by one read at a time.
type attrSelection struct {
	keep  *source.AttrFilter
	names source.AttrNames // the names kept
	// props are the users' $select; extra are those of
	// Config.UserAttributes among them.
	props, extra []string
}

// selectAttrs returns the selection that keeps names.
func (s *Source) selectAttrs(names []string) *attrSelection {
	a := &attrSelection{keep: source.NewAttrFilter(names), names: source.NewAttrNames(names)}
	a.props = slices.Clone(userFieldProps)
	for _, p := range userAttrProps {
		if a.needs(p) {
			a.props = append(a.props, p)
		}
	}
	for _, p := range s.cfg.UserAttributes {
		if a.needs(p) {
			a.props = append(a.props, p)
			a.extra = append(a.extra, p)
		}
	}
	return a
}

// needs reports whether property p holds a kept attribute: p's own, or
// one of the "p.field" attributes an object-valued p is flattened into.
func (a *attrSelection) needs(p string) bool {
	lp := source.FoldName(p)
	for n := range a.names {
		if n == lp || strings.HasPrefix(n, lp+".") {
			return true
		}
	}
	return false
}

// kept reports whether the attribute name is kept, ignoring case.
func (a *attrSelection) kept(name string) bool {
	if a == nil {
		return true
	}
	return a.keep.Keeps(name)
}

// userSelect returns the users' $select of a read with selection a.
func (s *Source) userSelect(a *attrSelection) []string {
	if a == nil {
		return s.cfg.userSelect()
	}
	return a.props
}

// extraProps returns the properties of Config.UserAttributes that a read
// with selection a converts.
func (s *Source) extraProps(a *attrSelection) []string {
	if a == nil {
		return s.cfg.UserAttributes
	}
	return a.extra
}
