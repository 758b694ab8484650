package sync_test

import (
	"errors"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/sync"
)

// TestConcurrentSyncsApprovalsAndRejections drives one engine from many
// goroutines (run it with -race) and counts the writes the server gets:
// concurrent initial syncs write exactly what one sync writes, and
// approvals and rejections decided while syncs run are neither lost nor
// applied twice.
func TestConcurrentSyncsApprovalsAndRejections(t *testing.T) {
	pol := sync.DefaultPolicy()
	var err error
	if pol.RequireApproval, err = sync.ApprovalFor("delete"); err != nil {
		t.Fatal(err)
	}
	// What one initial sync writes.
	ref := newEnv(t, 80, 4)
	ref.apply(ref.engine(sync.WithPolicy(pol)))
	needed := ref.srv.Stats().Writes()

	e := newEnv(t, 80, 4)
	eng := e.engine(sync.WithPolicy(pol), sync.WithConcurrency(4))
	const syncs = 6
	start := make(chan struct{})
	errs := make([]error, syncs)
	var wg gosync.WaitGroup
	for i := range syncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, errs[i] = eng.Sync(ctx(t))
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got := e.srv.Stats().Writes()
	t.Logf("%d concurrent initial syncs: the server received %d writes; one sync needs %d", syncs, got, needed)
	if got != needed {
		t.Errorf("%d concurrent syncs made %d writes, want %d", syncs, got, needed)
	}
	e.mustBeEmpty(eng)

	// Ten users leave; their deactivations wait for approval.
	held := e.holdLeavers(eng, 10)
	approve, reject := held[:5], held[5:]
	e.srv.ResetStats()

	// Syncs, plan-then-apply pairs, approvals and rejections all at once.
	start = make(chan struct{})
	var mu gosync.Mutex
	var failures []error
	fail := func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	run := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn()
		}()
	}
	for range 4 {
		run(func() {
			for range 3 {
				if _, _, err := eng.Sync(ctx(t)); err != nil {
					fail(err)
				}
			}
		})
	}
	for range 2 {
		run(func() {
			p, err := eng.Plan(ctx(t))
			if err != nil {
				fail(err)
				return
			}
			if _, err := eng.Apply(ctx(t), p); err != nil && !errors.Is(err, sync.ErrStalePlan) {
				fail(err)
			}
		})
	}
	for _, a := range approve {
		run(func() {
			if err := eng.Approve(ctx(t), a.ID); err != nil {
				fail(err)
			}
		})
	}
	for _, a := range reject {
		run(func() {
			if err := eng.Reject(ctx(t), a.ID); err != nil {
				fail(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Sync(ctx(t)); err != nil { // carries out approvals decided after the last sync
		t.Fatal(err)
	}
	st := e.srv.Stats()
	t.Logf("concurrent syncs, approvals and rejections: the server received %d writes (%d PATCH); %d deactivations were approved",
		st.Writes(), st.Count("PATCH", ""), len(approve))
	if st.Writes() != len(approve) {
		t.Errorf("the server received %d writes, want %d: one deactivation per approval", st.Writes(), len(approve))
	}
	e.mustHoldRejected(eng, len(reject))
	e.mustBeEmpty(eng)
}
