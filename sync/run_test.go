package sync_test

import (
	"errors"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
)

func TestSyncOptions(t *testing.T) {
	e := newEnv(t, 12, 2)
	eng := e.engine()

	// A dry run, new style and deprecated, writes nothing.
	p, res, err := eng.Sync(ctx(t), sync.DryRun())
	if err != nil || p == nil || res != nil || p.Summary.CreateUsers != 12 {
		t.Fatalf("Sync(DryRun()) = %v, %v, %v; want a plan of 12 creates and no result", p, res, err)
	}
	//lint:ignore SA1019 the deprecated form must keep working
	if p, res, err = eng.Run(ctx(t), true); err != nil || p == nil || res != nil {
		t.Fatalf("Run(ctx, true) = %v, %v, %v", p, res, err)
	}
	if w := e.srv.Stats().Writes(); w != 0 {
		t.Fatalf("dry runs wrote %d times", w)
	}

	// Without DryRun it applies.
	p, res, err = eng.Sync(ctx(t))
	if err != nil || res == nil || res.Failed != 0 || e.srv.UserCount() != 12 {
		t.Fatalf("Sync = %v, %v, %v; %d users", p, res, err, e.srv.UserCount())
	}

	// Apply options pass through: a plan over the deletion limit needs
	// Confirm, given to Sync like DryRun.
	pol := sync.DefaultPolicy()
	pol.UserLimit = sync.Limit{MaxCount: 1}
	eng = e.engine(sync.WithPolicy(pol))
	e.src.Set(&source.Directory{Users: e.dir.Users[:9]})
	if _, _, err := eng.Sync(ctx(t)); !errors.Is(err, sync.ErrNotApplyable) {
		t.Fatalf("Sync over the limit = %v, want ErrNotApplyable", err)
	}
	p, res, err = eng.Sync(ctx(t), sync.Confirm())
	if err != nil || res == nil || p.Summary.DeactivateUsers != 3 || res.Failed != 0 {
		t.Fatalf("Sync(Confirm()) = %+v, %v, %v", p.Summary, res, err)
	}
	// A plan option passes through too.
	if p, _, err := eng.Sync(ctx(t), sync.Reapply(), sync.DryRun()); err != nil || !p.Empty() {
		t.Fatalf("Sync(Reapply(), DryRun()) = %v, %v", p, err)
	}
}
