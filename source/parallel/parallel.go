// Package parallel runs independent requests with bounded concurrency,
// stopping them all at the first failure: a source adapter's reads, and
// the engine's reads of the target by id. Standard library only.
package parallel

import (
	"context"
	gosync "sync"
)

// Run calls task(ctx, i) for i in [0, n), in order, at most limit at once.
// The first error cancels the context the others run with, no task starts
// once that cancellation has happened, and the error is returned once all
// running tasks have returned. Without a failure it returns the caller's
// context error, if any.
func Run(ctx context.Context, n, limit int, task func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    gosync.WaitGroup
		once  gosync.Once
		first error
	)
	sem := make(chan struct{}, max(limit, 1))
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return // cancelled between the check above and now
			}
			if err := task(ctx, i); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		return context.Cause(ctx)
	}
	return first
}
