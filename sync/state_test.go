package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
			s.Serial = 1
			if err := tt.state.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			s.Users["src-2"] = sync.Link{TargetID: "t-2"} // the saved copy must not change
			// A save made from the old serial again fails: compare and swap.
			if err := tt.state.Save(ctx, s); !errors.Is(err, sync.ErrStaleState) {
				t.Fatalf("second Save from serial 0 = %v, want ErrStaleState", err)
			}
			got, err := tt.state.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Serial != 1 || len(got.Users) != 1 || got.Users["src-1"].TargetID != "t-1" ||
				got.Groups["g-1"].Origin != sync.OriginAdopted || got.Cursors["entra"] != "delta-token" {
				t.Errorf("Load after Save = %+v", got)
			}
			// Records apply on top of the saved snapshot.
			in := sync.Intent{Kind: sync.KindUser, SourceID: "src-3", Key: "c@x", ExternalID: "src-3"}
			if err := tt.state.Record(ctx,
				sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "src-4", Link: &sync.Link{TargetID: "t-4", Origin: sync.OriginCreated}},
				sync.Record{Op: sync.OpUnlink, Kind: sync.KindGroup, SourceID: "g-1"},
				sync.Record{Op: sync.OpIntent, Kind: sync.KindUser, SourceID: "src-3", Intent: &in},
			); err != nil {
				t.Fatal(err)
			}
			got, err = tt.state.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Users["src-4"].TargetID != "t-4" || len(got.Groups) != 0 || got.Intents["user:src-3"].Key != "c@x" {
				t.Errorf("Load after Record = %+v", got)
			}
			got.Serial++
			if err := tt.state.Save(ctx, got); err != nil {
				t.Fatalf("Save of the loaded serial+1 = %v", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFileStateRefusesWhatItDidNotWrite(t *testing.T) {
	tests := []struct {
		name, content string
		ok            bool
	}{
		{"null", "null", false},
		{"empty object", "{}", false},
		{"not json", "{not json", false},
		{"no version, no serial", `{"serial":0,"users":{},"groups":{}}`, false},
		{"no version, users null", `{"serial":3,"users":null,"groups":{}}`, false},
		{"no version, only a serial", `{"serial":3}`, false},
		{"no version, target without version", `{"target":"acme","serial":3,"users":{},"groups":{}}`, false},
		// A state an earlier provsync wrote, before states had versions.
		{"written by an earlier engine", `{"serial":3,"users":{"u":{"targetId":"t","origin":"created"}},"groups":{}}`, true},
		{"no target", `{"version":1,"serial":3,"users":{},"groups":{}}`, false},
		{"future version", `{"version":9,"target":"","serial":3,"users":{},"groups":{}}`, false},
		{"empty file", "", false},
		{"written by the engine", `{"version":1,"target":"acme","serial":3,"users":{"u":{"targetId":"t","origin":"created"}},"groups":{}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			writeFile(t, path, tt.content)
			st := sync.NewFileState(path)
			defer st.Close()
			s, err := st.Load(context.Background())
			if tt.ok {
				if err != nil || s.Serial != 3 || s.Users["u"].TargetID != "t" {
					t.Fatalf("Load = %+v, %v", s, err)
				}
				// The next save writes it back with a version.
				s.Serial++
				if err := st.Save(context.Background(), s); err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"version":1`) {
					t.Errorf("saved state has no version: %.200s", b)
				}
				return
			}
			if !errors.Is(err, sync.ErrStateCorrupt) {
				t.Fatalf("Load of %q = %+v, %v; want ErrStateCorrupt", tt.content, s, err)
			}
			// Nor is it overwritten: the operator decides what to do with it.
			if err := st.Save(context.Background(), &sync.Snapshot{Serial: 1}); !errors.Is(err, sync.ErrStateCorrupt) {
				t.Errorf("Save over it = %v, want ErrStateCorrupt", err)
			}
		})
	}
	// A missing file is a fresh state.
	st := sync.NewFileState(filepath.Join(t.TempDir(), "state.json"))
	defer st.Close()
	if s, err := st.Load(context.Background()); err != nil || s.Serial != 0 || len(s.Users) != 0 {
		t.Fatalf("Load of a missing file = %+v, %v", s, err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestFileStateLockAndStaleTemporaries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	// Debris of interrupted saves: this state's temporaries, an old
	// version's (one old, one recent), and another state's.
	for _, n := range []string{".state.json.tmp-1", ".state.json.tmp-2", ".provsync-state-old", ".provsync-state-new", ".other.json.tmp-1"} {
		writeFile(t, filepath.Join(dir, n), "partial")
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, ".provsync-state-old"), old, old); err != nil {
		t.Fatal(err)
	}
	first := sync.NewFileState(path)
	defer first.Close()
	s, err := first.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".other.json.tmp-1", ".provsync-state-new", "state.json.lock"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("after Load the directory holds %v, want %v", got, want)
	}

	// A second user of the same file is refused, and removes nothing of
	// the holder's (here, a temporary the holder might be writing).
	writeFile(t, filepath.Join(dir, ".state.json.tmp-3"), "live")
	second := sync.NewFileState(path)
	defer second.Close()
	if _, err := second.Load(ctx); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("second Load = %v, want ErrLocked", err)
	}
	if err := second.Save(ctx, &sync.Snapshot{Serial: 1}); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("second Save = %v, want ErrLocked", err)
	}
	if err := second.Record(ctx, sync.Record{Op: sync.OpUnlink, Kind: sync.KindUser, SourceID: "x"}); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("second Record = %v, want ErrLocked", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".state.json.tmp-3")); err != nil {
		t.Errorf("the refused user removed the holder's temporary file: %v", err)
	}
	s.Serial++
	if err := first.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Load(ctx); err != nil {
		t.Fatalf("Load after the holder closed = %v", err)
	}
	want = []string{".other.json.tmp-1", ".provsync-state-new", "state.json", "state.json.journal", "state.json.lock"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("after Save and a new Load the directory holds %v, want %v", got, want)
	}
}

func TestFileStateJournalAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	link := func(src, tid string) sync.Record {
		return sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: src, Link: &sync.Link{TargetID: tid, Origin: sync.OriginCreated}}
	}
	st := sync.NewFileState(path)
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Serial++
	s.Users["a"] = sync.Link{TargetID: "ta"}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := st.Record(ctx, link("b", "tb"), link("c", "tc")); err != nil {
		t.Fatal(err)
	}
	st.Close() // a crash: no Save after the records
	// A torn last line: the process died mid-append.
	j, err := os.OpenFile(path+".journal", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	j.WriteString(`{"op":"link","kind":"user","sourceId":"d","li`)
	j.Close()

	st = sync.NewFileState(path)
	defer st.Close()
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 2 || len(got.Users) != 3 || got.Users["c"].TargetID != "tc" {
		t.Fatalf("Load after a crash = serial %d, users %v; want serial 2 and a, b, c", got.Serial, got.Users)
	}
	// Records go on after the torn line was cut.
	if err := st.Record(ctx, link("e", "te")); err != nil {
		t.Fatal(err)
	}
	// The holder's Load applies it without rewriting the state; after a
	// restart the journal is replayed and saved as serial 3.
	if got, err = st.Load(ctx); err != nil || got.Users["e"].TargetID != "te" || got.Serial != 2 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	st.Close()
	st = sync.NewFileState(path)
	defer st.Close()
	if got, err = st.Load(ctx); err != nil || got.Users["e"].TargetID != "te" || got.Serial != 3 {
		t.Fatalf("Load after a restart = %+v, %v", got, err)
	}
}

// TestFileStateConcurrentRecords: records from many goroutines at once
// (one fsync for those that arrive together) all survive.
func TestFileStateConcurrentRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	const n = 64
	errs := make(chan error, n)
	for i := range n {
		go func() {
			id := "u" + strconv.Itoa(i)
			errs <- st.Record(ctx, sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: id,
				Link: &sync.Link{TargetID: "t" + id, Origin: sync.OriginCreated}})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = sync.NewFileState(path)
	defer st.Close()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != n || s.Users["u7"].TargetID != "tu7" {
		t.Fatalf("%d links after %d concurrent records", len(s.Users), n)
	}
}

// TestFileStateRecordsOfMixedSizes records, from four goroutines, links
// whose mirrors are long and short in turn (a record's lines are made in
// a buffer reused from call to call) and reads them back from the files.
func TestFileStateRecordsOfMixedSizes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	const writers, each = 4, 12
	name := func(w, k int) string {
		pad := 0
		if k%2 == 0 {
			pad = 9000 // beyond the buffer of any shorter record before it
		}
		return fmt.Sprintf("user-%d-%d%s@example.com", w, k, strings.Repeat("x", pad))
	}
	mirror := func(w, k int) json.RawMessage {
		return json.RawMessage(`{"userName":"` + name(w, k) + `"}`)
	}
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for k := range each {
				id := fmt.Sprintf("u%d-%d", w, k)
				if err := st.Record(ctx, sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: id,
					Link: &sync.Link{TargetID: "t" + id, Origin: sync.OriginCreated, Mirror: &sync.Mirror{User: mirror(w, k)}}}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	journal, err := os.ReadFile(path + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(journal, []byte("\n")); n != 1+writers*each {
		t.Errorf("the journal holds %d lines, want its head and one a record: %d", n, 1+writers*each)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = sync.NewFileState(path)
	defer st.Close()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != writers*each {
		t.Fatalf("%d links read back, want %d", len(s.Users), writers*each)
	}
	for w := range writers {
		for k := range each {
			id := fmt.Sprintf("u%d-%d", w, k)
			l := s.Users[id]
			if l.TargetID != "t"+id || !l.Mirror.Equal(&sync.Mirror{User: mirror(w, k)}) {
				t.Errorf("link %s read back as %+v", id, l)
			}
		}
	}
}
