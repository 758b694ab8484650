package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/provsync/provsync/sync"
)

func TestStates(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		state sync.State
	}{
		{"memory", sync.NewMemoryState()},
		{"file", sync.NewFileState(filepath.Join(dir, "state.json"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := tt.state.Load(ctx)
			if err != nil || len(s.Users) != 0 || s.Serial != 0 {
				t.Fatalf("first Load = %+v, %v; want an empty snapshot", s, err)
			}
			s.Users["src-1"] = sync.Link{TargetID: "t-1", Origin: sync.OriginCreated}
			s.Groups["g-1"] = sync.Link{TargetID: "tg-1", Origin: sync.OriginAdopted}
			s.Cursors["entra"] = "delta-token"
			s.Serial = 7
			if err := tt.state.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			s.Users["src-2"] = sync.Link{TargetID: "t-2"} // the saved copy must not change
			got, err := tt.state.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Serial != 7 || len(got.Users) != 1 || got.Users["src-1"].TargetID != "t-1" ||
				got.Groups["g-1"].Origin != sync.OriginAdopted || got.Cursors["entra"] != "delta-token" {
				t.Errorf("Load after Save = %+v", got)
			}
		})
	}
}

func TestFileStateCorruptAndAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := sync.NewFileState(path)
	if _, err := st.Load(context.Background()); !errors.Is(err, sync.ErrStateCorrupt) {
		t.Fatalf("Load of a corrupt file = %v, want ErrStateCorrupt", err)
	}
	if err := st.Save(context.Background(), sync.NewSnapshot()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("Save left %d files behind, want only the state file", len(entries))
	}
}
