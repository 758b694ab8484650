package sync_test

import (
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
)

// TestRunnerProgress: WithRunnerProgress hears each change a cycle
// applies, counting up to the plan's total, and nothing in a cycle with
// nothing to do.
func TestRunnerProgress(t *testing.T) {
	_, _, _, eng := runnerEnv(t, 7, 2)
	var mu gosync.Mutex
	var got []sync.Progress
	h := startRunner(t, clocktest.New(runnerEpoch), eng, sync.WithRunnerProgress(func(p sync.Progress) {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	c := h.cycle()
	mu.Lock()
	first := append([]sync.Progress(nil), got...)
	mu.Unlock()
	if c.Applied == 0 || len(first) != c.Applied+c.Failed+c.Skipped {
		t.Fatalf("cycle applied %d, failed %d, skipped %d; progress heard %d changes", c.Applied, c.Failed, c.Skipped, len(first))
	}
	for i, p := range first {
		if p.Done != i+1 || p.Total != len(first) {
			t.Fatalf("progress %d: %d of %d, want %d of %d", i, p.Done, p.Total, i+1, len(first))
		}
	}
	if c := h.tick(); c.Applied != 0 {
		t.Fatalf("second cycle applied %d, want nothing", c.Applied)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(first) {
		t.Fatalf("a cycle with nothing to apply reported progress: %+v", got[len(first):])
	}
}
