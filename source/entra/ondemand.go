package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

// ErrNotInScope is returned by ReadUser for a user that exists but is not
// in scope: not assigned to the app, directly or through an assigned
// group (or assigned only with the Default Access role). It matches
// source.ErrInvalid.
var ErrNotInScope = fmt.Errorf("%w: entra: the user is not in scope", source.ErrInvalid)

// ReadUser reads one user, by object id or user principal name, and the
// groups in scope the user is a member of, as Entra's "Provision on
// demand" does. The directory holds that user and those groups, each
// listing only that user as a member: it is a partial view, to be
// applied without deprovisioning or removing anyone (see OnDemand).
// A user who does not exist is an error matching source.ErrInvalid; one
// out of scope, ErrNotInScope.
func (s *Source) ReadUser(ctx context.Context, idOrUPN string) (*source.Directory, error) {
	idOrUPN = strings.TrimSpace(idOrUPN)
	if idOrUPN == "" {
		return nil, fmt.Errorf("%w: entra: ReadUser needs a user id or user principal name", source.ErrInvalid)
	}
	u, err := s.users.ByUserId(idOrUPN).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: s.cfg.userSelect()}})
	if err != nil {
		if ge, ok := asGraphError(err); ok && ge.Status == http.StatusNotFound {
			return nil, fmt.Errorf("%w: entra: user %q does not exist (give its object id or user principal name)", source.ErrInvalid, idOrUPN)
		}
		return nil, wrap(err, "reading user "+idOrUPN, false)
	}
	id := deref(u.GetId())
	memberOf, err := s.memberOf(ctx, id)
	if err != nil {
		return nil, err
	}
	var in []models.Groupable
	direct := true
	if s.cfg.Scope == ScopeAssigned {
		a, err := s.readApp(ctx)
		if err != nil {
			return nil, err
		}
		direct = a.users[id]
		for _, g := range memberOf {
			if _, ok := a.groups[deref(g.GetId())]; ok {
				in = append(in, g)
			}
		}
		if !direct && len(in) == 0 {
			return nil, fmt.Errorf("%w: user %s is not assigned to the enterprise app %s, directly or through a group "+
				"(Default Access assignments count only with IncludeDefaultAccess)", ErrNotInScope, id, a.id)
		}
	} else {
		in = memberOf
	}
	dir := &source.Directory{Users: []source.User{s.convertUser(u, nil)}}
	for _, g := range in {
		cg := groupFromModel(g)
		cg.Members = []string{id}
		dir.Groups = append(dir.Groups, cg.group())
	}
	slices.SortFunc(dir.Groups, func(a, b source.Group) int { return strings.Compare(a.ID, b.ID) })
	s.log.Info("read one user on demand", zap.String("user", id), zap.Int("groups", len(dir.Groups)))
	return dir, nil
}

// memberOf lists the groups user id is a member of: directly, or with
// Transitive through nesting too.
func (s *Source) memberOf(ctx context.Context, id string) ([]models.Groupable, error) {
	what := "reading the groups of user " + id
	var first absser.Parsable
	var err error
	if s.cfg.Transitive {
		first, err = s.users.ByUserId(id).TransitiveMemberOf().Get(ctx, &users.ItemTransitiveMemberOfRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemTransitiveMemberOfRequestBuilderGetQueryParameters{Top: s.top(), Select: groupSelect}})
	} else {
		first, err = s.users.ByUserId(id).MemberOf().Get(ctx, &users.ItemMemberOfRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemMemberOfRequestBuilderGetQueryParameters{Top: s.top(), Select: groupSelect}})
	}
	if err != nil {
		return nil, wrap(err, what, false)
	}
	var out []models.Groupable
	_, err = iterate(ctx, s, first, models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue, what,
		func(o models.DirectoryObjectable) {
			if g, ok := o.(models.Groupable); ok {
				out = append(out, g)
			}
		})
	return out, err
}

// OnDemand is a source that syncs one user, as Entra's "Provision on
// demand" does, through the engine: its Read returns a directory holding
// that user and the in-scope groups the user belongs to, each listing only
// that user.
//
// Everything else is absent from that directory, so plan it with an engine
// built with sync.WithPartialSource(): the plan then deprovisions nothing
// and changes only this user's group memberships. (With a plain engine,
// the default policy would deactivate every other user it owns.)
//
// Read fails with ErrNotInScope for a user out of scope, and with
// source.ErrInvalid for one that does not exist.
type OnDemand struct {
	src  *Source
	user string
}

var _ source.Source = (*OnDemand)(nil)

// OnDemand returns the source of one user, by object id or user principal name.
func (s *Source) OnDemand(idOrUPN string) *OnDemand { return &OnDemand{src: s, user: idOrUPN} }

// Name is the source's name with "/on-demand".
func (o *OnDemand) Name() string { return o.src.Name() + "/on-demand" }

// Read reads the user and returns the directory of that user alone.
func (o *OnDemand) Read(ctx context.Context) (*source.Directory, error) {
	d, err := o.src.ReadUser(ctx, o.user)
	if err != nil {
		return nil, err
	}
	u := d.Users[0]
	out := &source.Directory{Users: []source.User{u}}
	for _, g := range d.Groups {
		g.Members, g.MemberGroups = []string{u.ID}, nil
		out.Groups = append(out.Groups, g)
	}
	return out, nil
}

// IsNotInScope reports whether err says a user is out of scope.
func IsNotInScope(err error) bool { return errors.Is(err, ErrNotInScope) }
