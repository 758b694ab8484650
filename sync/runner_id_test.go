package sync

import (
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestCycleIDsDoNotRepeat: two Runners (two processes, or a restart) whose
// cycles start in the same second with the same number still name them
// apart, so a provisioning log's Cycle filter never merges their events.
func TestCycleIDsDoNotRepeat(t *testing.T) {
	eng := &Engine{log: zap.NewNop()}
	start := time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 50 {
		r, err := NewRunner(eng)
		if err != nil {
			t.Fatal(err)
		}
		id := r.cycleID(start, 1)
		if seen[id] {
			t.Fatalf("cycle id %s repeated", id)
		}
		seen[id] = true
	}
}
