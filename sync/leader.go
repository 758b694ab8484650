package sync

import (
	"context"
	"errors"
	"fmt"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// Leader is implemented by a State that leads its target among several
// processes and can stop leading while an apply runs, as a lock held on a
// database connection ends with the connection (sync/pgstate). A State
// whose lock cannot be lost while it is open, such as FileState's flock,
// need not implement it.
//
// During an apply the engine calls CheckLeader right before each request
// that could change the target: inside the Netskope client, after any
// wait for its turn and before every retry and every chunk of members
// (target.WithWriteGuard). So it runs once per write request, and an
// implementation must be cheap: a round trip to its database is, at a
// tenant's pace of 4 to 20 requests a second. A request already on its
// way when the lead is lost (at most one per concurrent change,
// WithConcurrency) still lands; the next leader plans from the target and
// the recorded state, so it is not sent twice.
type Leader interface {
	// CheckLeader returns nil while this State still leads its target,
	// and an error once it may not. The apply then sends nothing more,
	// keeps what landed as far as the state lets it, and returns an
	// error wrapping ErrLocked, which a Runner reports as a standby
	// cycle.
	CheckLeader(ctx context.Context) error
}

// checkLeader is the apply's write guard (target.WithWriteGuard). Once the
// state says it may no longer lead, it refuses every later write and
// stops the apply.
func (a *applier) checkLeader(ctx context.Context) error {
	a.mu.Lock()
	err := a.leadErr
	a.mu.Unlock()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // the apply is stopping: nothing is sent anyway
	}
	err = a.leader.CheckLeader(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrLocked) {
		err = fmt.Errorf("%w: %w", ErrLocked, err)
	}
	a.mu.Lock()
	if a.leadErr == nil {
		a.leadErr = fmt.Errorf("sync: apply stopped before its next write; this process may no longer lead: %w", err)
	}
	err = a.leadErr
	a.mu.Unlock()
	a.cancel(err)
	return err
}

// guardedTarget calls the context's write guard before each write method,
// for targets that do not call it themselves (target.WriteGuarded).
type guardedTarget struct{ target.Target }

func (t guardedTarget) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	if err := target.GuardWrite(ctx); err != nil {
		return nil, err
	}
	return t.Target.CreateUser(ctx, u)
}

func (t guardedTarget) ReplaceUser(ctx context.Context, id string, u *scim.User) (*scim.User, error) {
	if err := target.GuardWrite(ctx); err != nil {
		return nil, err
	}
	return t.Target.ReplaceUser(ctx, id, u)
}

func (t guardedTarget) PatchUser(ctx context.Context, id string, ops ...scim.PatchOperation) error {
	if err := target.GuardWrite(ctx); err != nil {
		return err
	}
	return t.Target.PatchUser(ctx, id, ops...)
}

func (t guardedTarget) DeleteUser(ctx context.Context, id string) error {
	if err := target.GuardWrite(ctx); err != nil {
		return err
	}
	return t.Target.DeleteUser(ctx, id)
}

func (t guardedTarget) CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error) {
	if err := target.GuardWrite(ctx); err != nil {
		return nil, err
	}
	return t.Target.CreateGroup(ctx, g)
}

func (t guardedTarget) ReplaceGroup(ctx context.Context, id string, g *scim.Group) (*scim.Group, error) {
	if err := target.GuardWrite(ctx); err != nil {
		return nil, err
	}
	return t.Target.ReplaceGroup(ctx, id, g)
}

func (t guardedTarget) PatchGroup(ctx context.Context, id string, ops ...scim.PatchOperation) error {
	if err := target.GuardWrite(ctx); err != nil {
		return err
	}
	return t.Target.PatchGroup(ctx, id, ops...)
}

func (t guardedTarget) DeleteGroup(ctx context.Context, id string) error {
	if err := target.GuardWrite(ctx); err != nil {
		return err
	}
	return t.Target.DeleteGroup(ctx, id)
}

func (t guardedTarget) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	if err := target.GuardWrite(ctx); err != nil {
		return err
	}
	return t.Target.AddMembers(ctx, groupID, userIDs)
}

func (t guardedTarget) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	if err := target.GuardWrite(ctx); err != nil {
		return err
	}
	return t.Target.RemoveMembers(ctx, groupID, userIDs)
}
