package sync

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/provsync/provsync/source/sourcetest"
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
