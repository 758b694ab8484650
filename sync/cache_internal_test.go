package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/source/synth"
)

// TestCachedDirectoryKeptEncoded: FileState keeps a cached directory in
// its file, encoded, not in memory (Dir and the encoding are nil,
// Directory decodes a copy from the file), from the save on and once
// loaded again, and that form marshals to the same JSON as the decoded
// directory (the form PostgreSQL states store), so no State loses it.
func TestCachedDirectoryKeptEncoded(t *testing.T) {
	dir := sourcetest.AttributeDirectory(5, "enc")
	path := t.TempDir() + "/state.json"
	st := NewFileState(path)
	s := NewSnapshot()
	s.Serial = 1
	s.Cursors["entra"] = "c1"
	s.Directories = map[string]*CachedDirectory{"entra": {Dir: dir}}
	if err := st.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if saved, err := st.Load(context.Background()); err != nil {
		t.Fatal(err)
	} else if c := saved.Directories["entra"]; c == nil || c.Dir != nil || c.enc != nil || c.file == "" {
		t.Fatalf("cached directory kept after the save as %+v, want it in its file only", c)
	}
	st.Close()
	st = NewFileState(path)
	defer st.Close()
	got, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := got.Directories["entra"]
	if c == nil || c.Dir != nil || c.enc != nil || c.file == "" {
		t.Fatalf("cached directory loaded as %+v, want it in its file only", c)
	}
	d, err := c.Directory()
	if err != nil || !reflect.DeepEqual(d, dir) {
		t.Fatalf("decoded as %+v, %v", d, err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(&CachedDirectory{Dir: dir})
	if string(b) != string(want) {
		t.Fatalf("encoded form marshals as\n%s\nwant\n%s", b, want)
	}
	var back CachedDirectory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d, err := back.Directory(); err != nil || !reflect.DeepEqual(d, dir) {
		t.Fatalf("read back from JSON as %+v, %v", d, err)
	}
	if clone := got.Clone().Directories["entra"]; clone.empty() {
		t.Fatal("a deep clone of the snapshot lost the encoded directory")
	}
}

// TestFileStateStreamsAFold: FileState saves a fold of changes into a
// directory in one of its files by streaming the old file through the
// fold into the new one: the fold is never made in memory, the state
// keeps the result in its file only, and that file holds what folding the
// decoded directory gives. An old file that does not hold what the state
// refers to fails the save.
func TestFileStateStreamsAFold(t *testing.T) {
	ctx := context.Background()
	dir := synth.Generate(synth.Config{Users: 2000, Groups: 40, MembershipsPerUser: 3, Seed: 4})
	path := t.TempDir() + "/state.json"
	st := NewFileState(path)
	defer st.Close()
	loaded := savedWithCache(ctx, t, st, "src", dir)
	base := loaded.Directories["src"]
	u := dir.Users[7].Clone()
	u.FamilyName = "Changed"
	ch := &source.Changes{Users: []source.User{u}, RemovedUsers: []string{dir.Users[3].ID}}
	folded, err := source.ApplyShared(dir, ch)
	if err != nil {
		t.Fatal(err)
	}
	want, err := folded.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	loaded.Serial++
	c := foldedDirectory(base, ch, len(folded.Users), len(folded.Groups))
	loaded.Directories["src"] = c
	if err := st.Save(ctx, loaded); err != nil {
		t.Fatal(err)
	}
	if c.fold.enc != nil || c.fold.file == "" {
		t.Fatalf("the fold was made in memory (%d bytes) and into file %q; want a file only", len(c.fold.enc), c.fold.file)
	}
	if got, err := os.ReadFile(c.fold.file); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the fold's file (%v) differs from the folded directory's encoding", err)
	}
	again, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kept := again.Directories["src"]; !kept.fileOnly() {
		t.Fatalf("the state keeps the fold as %+v; want its file only", kept)
	}

	// The old file replaced by another directory's encoding, of the same
	// counts.
	changed := folded.Clone()
	changed.Users[0].DisplayName = "Someone Else"
	other, err := changed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cur := again.Directories["src"]
	if err := os.WriteFile(cur.file, other, 0o600); err != nil {
		t.Fatal(err)
	}
	again.Serial++
	again.Directories["src"] = foldedDirectory(cur, ch, len(folded.Users), len(folded.Groups))
	if err := st.Save(ctx, again); err == nil || !strings.Contains(err.Error(), "does not hold the directory") {
		t.Fatalf("a save folding changes into a file that is not the state's directory: %v; want it refused", err)
	}
}

// savedWithCache saves to st a first snapshot whose source name has dir
// as its cached directory and cursor "1", and returns it as st loads it
// back.
func savedWithCache(ctx context.Context, t *testing.T, st *FileState, name string, dir *source.Directory) *Snapshot {
	t.Helper()
	s := NewSnapshot()
	s.Serial = 1
	s.Cursors = map[string]string{name: "1"}
	s.Directories = map[string]*CachedDirectory{name: {Dir: dir}}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	loaded, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}
