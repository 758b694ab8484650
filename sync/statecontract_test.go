package sync_test

import (
	"path/filepath"
	"testing"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/statetest"
)

// TestStateContract runs the shared State contract (which sync/pgstate
// runs too) on the memory and file states.
func TestStateContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		statetest.Run(t, func(*testing.T) sync.State { return sync.NewMemoryState() })
	})
	t.Run("file", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) sync.State {
			st := sync.NewFileState(filepath.Join(t.TempDir(), "state.json"))
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
	t.Run("file, saves appended", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) sync.State {
			st := sync.NewFileState(filepath.Join(t.TempDir(), "state.json"))
			sync.SetAppendMin(st, 0)
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}
