package sync

import (
	"context"
	"slices"
)

// RunOption sets an option of Sync: DryRun, any ApplyOption (Confirm,
// WithProgress) or any PlanOption (Reapply).
type RunOption interface {
	setRun(*runConfig)
}

type runConfig struct {
	dryRun bool
	plan   []PlanOption
	apply  []ApplyOption
}

type dryRun struct{}

func (dryRun) setRun(c *runConfig) { c.dryRun = true }

// DryRun makes Sync plan only: nothing is written to the target, the plan
// stores nothing in the state, and Sync returns the plan with a nil
// result. (Loading a FileState still folds the journal an interrupted run
// left into its file, as every Load does; that changes no link.)
func DryRun() RunOption { return dryRun{} }

func (o ApplyOption) setRun(c *runConfig) { c.apply = append(c.apply, o) }

func (o PlanOption) setRun(c *runConfig) { c.plan = append(c.plan, o) }

// Sync plans and, unless DryRun is given, applies the plan. It returns
// the plan (when one could be made) and the result (when it applied). A
// plan that is not applyable is returned with ErrNotApplyable. An empty
// plan is applied too, which records the source's new cursors.
//
// Sync is Plan then Apply; call those two to review a plan before
// carrying it out. No caller holds the plan while Sync applies it, so
// each create it applies gives up its payload (Change.User, Change.Group
// and Change.Members are nil in the plan returned) once the created
// object's link is recorded: a large initial sync then holds the users
// it created no longer than it takes to create them. Changes that failed
// or were not reached keep theirs, and the summary counts them all.
func (e *Engine) Sync(ctx context.Context, opts ...RunOption) (*Plan, *Result, error) {
	var c runConfig
	for _, o := range opts {
		o.setRun(&c)
	}
	e.mu.Lock() // plan and apply as one step: no other plan or apply falls between
	defer e.mu.Unlock()
	po := c.plan
	if !c.dryRun {
		po = append(slices.Clip(po), func(pc *planConfig) { pc.release = true })
	}
	p, err := e.plan(ctx, po...)
	if err != nil {
		return nil, nil, err
	}
	if c.dryRun {
		return p, nil, nil
	}
	res, err := e.apply(ctx, p, c.apply...)
	p.release = false
	p.unpack()
	return p, res, err
}
