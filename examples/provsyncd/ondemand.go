package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/sync"
)

// errCycleRunning refuses a provision on demand while a cycle runs: both
// would save the same state.
var errCycleRunning = errors.New("a cycle is running; provision on demand when it has finished")

// oneUser is a source of one user of another source, as a provision on
// demand reads it: the user, by id or userName (letter case ignored), and
// the groups that list the user as a direct member, each listing only
// that user. It reads the whole source; Entra reads the one user instead
// (entra.Source.OnDemand). It is not incremental, so it leaves the
// state's cached directory and cursor alone.
type oneUser struct {
	src  source.Source
	user string
}

var _ source.Source = oneUser{}

// Name is the source's name with "/on-demand".
func (o oneUser) Name() string { return o.src.Name() + "/on-demand" }

// Read reads the source and keeps the user; a user the source does not
// hold is an error matching source.ErrInvalid.
func (o oneUser) Read(ctx context.Context) (*source.Directory, error) {
	return o.pick(o.src.Read(ctx))
}

// readAttributes is Read with only the attributes named, for a source
// that is a source.AttributeSelector.
func (o oneUser) readAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	return o.pick(o.src.(source.AttributeSelector).ReadAttributes(ctx, names))
}

// pick keeps the user of a directory read and its groups.
func (o oneUser) pick(dir *source.Directory, err error) (*source.Directory, error) {
	if err != nil {
		return nil, err
	}
	out := &source.Directory{}
	for _, u := range dir.Users {
		if u.ID == o.user || strings.EqualFold(u.UserName, o.user) {
			out.Users = append(out.Users, u)
			break
		}
	}
	if len(out.Users) == 0 {
		return nil, fmt.Errorf("%w: user %q is not in the source (give its id or userName)", source.ErrInvalid, o.user)
	}
	id := out.Users[0].ID
	for _, g := range dir.Groups {
		for _, m := range g.Members {
			if m == id {
				g.Members, g.MemberGroups = []string{id}, nil
				out.Groups = append(out.Groups, g)
				break
			}
		}
	}
	return out, nil
}

// mergedOneUser is oneUser of a merged source: it names the owners of
// the user and groups as the merged source does.
type mergedOneUser struct{ oneUser }

var _ source.Merged = mergedOneUser{}

// OwnerOf asks the merged source.
func (o mergedOneUser) OwnerOf(id string) string { return o.src.(source.Merged).OwnerOf(id) }

// selectingOneUser is oneUser of a source that can leave attributes out
// of a read (source.AttributeSelector), which it can then too.
type selectingOneUser struct{ oneUser }

var _ source.AttributeSelector = selectingOneUser{}

// ReadAttributes is Read with only the attributes named.
func (o selectingOneUser) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	return o.readAttributes(ctx, names)
}

// selectingMergedOneUser is mergedOneUser of a merged source that can
// leave attributes out of a read.
type selectingMergedOneUser struct{ mergedOneUser }

var (
	_ source.Merged            = selectingMergedOneUser{}
	_ source.AttributeSelector = selectingMergedOneUser{}
)

// ReadAttributes is Read with only the attributes named.
func (o selectingMergedOneUser) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	return o.readAttributes(ctx, names)
}

// userSource is the source of one user of src: Entra's own on-demand
// read, else oneUser (mergedOneUser for several sources merged), which
// can leave attributes out of a read when src can.
func userSource(src source.Source, user string) source.Source {
	if s, ok := src.(*entra.Source); ok {
		return s.OnDemand(user)
	}
	one := oneUser{src: src, user: user}
	_, merged := src.(source.Merged)
	_, selecting := src.(source.AttributeSelector)
	switch {
	case merged && selecting:
		return selectingMergedOneUser{mergedOneUser{one}}
	case merged:
		return mergedOneUser{one}
	case selecting:
		return selectingOneUser{one}
	}
	return one
}

// provisionResult is the answer of POST /api/provision.
type provisionResult struct {
	User   string       `json:"user"`
	Plan   *sync.Plan   `json:"plan"`
	Result *sync.Result `json:"result,omitempty"`
}

// provision plans and applies one user of the source, as the IdPs'
// "provision on demand" does: an engine with the service's options over
// that user alone, marked partial (sync.WithPartialSource), so that it
// deprovisions nothing and changes only that user's memberships. A plan
// that the policy holds is not applied.
func (a *app) provision(ctx context.Context, user string) (*provisionResult, error) {
	user = strings.TrimSpace(user)
	if user == "" {
		return nil, fmt.Errorf("%w: provision: user: give a source user id or userName", source.ErrInvalid)
	}
	a.onDemand.Lock()
	defer a.onDemand.Unlock()
	if a.runner.Status().State == "running" {
		return nil, errCycleRunning
	}
	eng, err := a.netskope.Engine(userSource(a.src, user), a.tgt, a.state, a.log,
		append(a.cfg.Options(), sync.WithPartialSource())...)
	if err != nil {
		return nil, err
	}
	p, err := eng.Plan(ctx)
	if err != nil {
		return nil, err
	}
	out := &provisionResult{User: user, Plan: p}
	if !p.Applyable || p.Empty() {
		return out, nil
	}
	if out.Result, err = eng.Apply(ctx, p); err != nil {
		return out, err
	}
	a.log.Info("provisioned on demand", zap.String("user", user), zap.String("result", out.Result.SummaryLine()))
	return out, nil
}

// provisionStatus is the HTTP status of a provision's error.
func provisionStatus(err error) int {
	switch {
	case errors.Is(err, errCycleRunning), errors.Is(err, sync.ErrStaleState), errors.Is(err, sync.ErrLocked):
		return http.StatusConflict
	case errors.Is(err, source.ErrInvalid):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
