package sync_test

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
)

// leadingState is a MemoryState that leads until CheckLeader has passed
// allow times.
type leadingState struct {
	*sync.MemoryState
	mu           gosync.Mutex
	allow, calls int
}

var _ sync.Leader = (*leadingState)(nil)

func (s *leadingState) CheckLeader(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls++; s.calls > s.allow {
		return fmt.Errorf("%w: the lock's session ended", sync.ErrLocked)
	}
	return nil
}

// unguarded hides the client's target.WriteGuarded, as a wrapper that
// does not know of it would: the engine then guards each write call.
type unguarded struct{ target.Target }

// TestApplyStopsWhenNoLongerLeader: with a State that can stop leading,
// each write request goes out only after the state says it still leads;
// once it does not, the apply sends nothing more, asks no more, and
// fails with ErrLocked, the refused change skipped. Whether the target
// calls the guard before each request (the Netskope client) or the
// engine calls it before each write call (any other target), the server
// receives exactly the writes that were allowed.
func TestApplyStopsWhenNoLongerLeader(t *testing.T) {
	const writes = 5 // the writes sent while the state leads
	for _, tc := range []struct {
		name   string
		wrap   func(target.Target) target.Target
		checks int // per write
	}{
		{"the client guards each request", func(t target.Target) target.Target { return t }, 1},
		// The engine checks before each call, and the client, which
		// still finds the guard in the context, before its request.
		{"the engine guards each call", func(t target.Target) target.Target { return unguarded{t} }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 12, 3)
			allow := writes * tc.checks
			st := &leadingState{MemoryState: sync.NewMemoryState(), allow: allow}
			eng, err := sync.New(e.src, tc.wrap(e.client), sync.WithState(st), sync.WithConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			e.srv.ResetStats()
			res, err := eng.Apply(ctx(t), p)
			if !errors.Is(err, sync.ErrLocked) {
				t.Fatalf("Apply = %v, want an error wrapping ErrLocked", err)
			}
			if w := e.srv.Stats().Writes(); w != writes {
				t.Errorf("the server received %d writes; the state led for %d", w, writes)
			}
			if st.calls != allow+1 {
				t.Errorf("CheckLeader was called %d times; want %d (%d per write, none after the refusal)", st.calls, allow+1, tc.checks)
			}
			if res.Applied != writes || res.Failed != 0 || res.Skipped != len(p.Changes)-writes {
				t.Fatalf("result %s; want %d applied, none failed, %d skipped", res.SummaryLine(), writes, len(p.Changes)-writes)
			}
			if o := res.Outcomes[writes]; o.Status != sync.StatusSkipped || !errors.Is(o.Err(), sync.ErrLocked) {
				t.Errorf("the refused change: %s (%v); want skipped, ErrLocked", o.Status, o.Err())
			}

			// Leading again (a new Load took the lock), it finishes.
			st.allow = 1 << 30
			if _, res, err := eng.Sync(ctx(t)); err != nil || res.Failed != 0 {
				t.Fatalf("the next sync: %v (%+v)", err, res)
			}
			e.mustBeEmpty(eng)
		})
	}
}
