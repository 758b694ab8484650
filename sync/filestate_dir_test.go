package sync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
)

// dirFiles returns the names of the directory files beside path.
func dirFiles(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".dir-*")
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// saveDir saves s with the directory and cursor of source "entra".
func saveDir(t *testing.T, st *sync.FileState, s *sync.Snapshot, d *source.Directory, cursor string) error {
	t.Helper()
	s.Serial++
	s.Directories = map[string]*sync.CachedDirectory{"entra": {Dir: d}}
	s.Cursors["entra"] = cursor
	return st.Save(context.Background(), s)
}

// cachedDir returns the directory c holds, decoded.
func cachedDir(t *testing.T, c *sync.CachedDirectory) *source.Directory {
	t.Helper()
	d, err := c.Directory()
	if err != nil || d == nil {
		t.Fatalf("cached directory: %v, %v", d, err)
	}
	return d
}

func sameDirectory(t *testing.T, got, want *source.Directory) {
	t.Helper()
	a, _ := got.MarshalBinary()
	b, _ := want.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Fatalf("directory read back as %+v, want %+v", got, want)
	}
}

// TestFileStateWritesDirectoryOnlyWhenChanged: the cached directory lives
// in a file of its own, written by the saves that change it and by no
// other; the snapshot file holds none of it.
func TestFileStateWritesDirectoryOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	defer st.Close()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(50, "one"), "c1"); err != nil {
		t.Fatal(err)
	}
	files := dirFiles(t, path)
	if sync.DirectoryWrites(st) != 1 || len(files) != 1 {
		t.Fatalf("after the first save: %d directory writes, files %v; want 1 and one file", sync.DirectoryWrites(st), files)
	}
	fi1, err := os.Stat(filepath.Join(filepath.Dir(path), files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("u7@example.com")) {
		t.Errorf("the snapshot file holds the directory's users: %.200s", b)
	}
	// Cursor moves, links change, the directory (a copy) does not.
	for i, cursor := range []string{"c2", "c3", "c4"} {
		s.Users[cursor] = sync.Link{TargetID: "t" + cursor}
		if err := saveDir(t, st, s, sourcetest.AttributeDirectory(50, "one"), cursor); err != nil {
			t.Fatal(err)
		}
		if sync.DirectoryWrites(st) != 1 {
			t.Fatalf("save %d with an unchanged directory wrote it (%d writes)", i+2, sync.DirectoryWrites(st))
		}
	}
	fi2, err := os.Stat(filepath.Join(filepath.Dir(path), files[0]))
	if err != nil || !os.SameFile(fi1, fi2) {
		t.Fatalf("the directory file was replaced by saves that did not change it (%v)", err)
	}
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cursors["entra"] != "c4" || len(got.Users) != 3 {
		t.Fatalf("Load = cursor %q, users %v", got.Cursors["entra"], got.Users)
	}
	sameDirectory(t, cachedDir(t, got.Directories["entra"]), sourcetest.AttributeDirectory(50, "one"))

	// A changed directory is written once, the old file removed.
	if err := saveDir(t, st, got, sourcetest.AttributeDirectory(51, "one"), "c5"); err != nil {
		t.Fatal(err)
	}
	if now := dirFiles(t, path); sync.DirectoryWrites(st) != 2 || len(now) != 1 || now[0] == files[0] {
		t.Fatalf("after changing the directory: %d writes, files %v (before: %v); want 2 writes and one new file", sync.DirectoryWrites(st), now, files)
	}
	// No directory: no file.
	got.Serial++
	got.Directories = nil
	if err := st.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	if now := dirFiles(t, path); len(now) != 0 {
		t.Fatalf("after dropping the directory the files %v remain", now)
	}
}

// TestFileStateCrashBetweenDirectoryAndSnapshot: a save that stops after
// writing the new directory file and before the snapshot (a crash there)
// leaves the old cursor with the old directory; the orphaned file goes
// at the next Load. A crash after the snapshot and before the old file
// is removed leaves the new cursor with the new directory.
func TestFileStateCrashBetweenDirectoryAndSnapshot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := sourcetest.AttributeDirectory(5, "old"), sourcetest.AttributeDirectory(6, "new")
	if err := saveDir(t, st, s, d1, "c1"); err != nil {
		t.Fatal(err)
	}
	old := dirFiles(t, path)
	crash := errors.New("crash")
	sync.SetAfterDirectories(st, func() error { return crash })
	if err := saveDir(t, st, s, d2, "c2"); !errors.Is(err, crash) {
		t.Fatalf("save = %v, want the crash", err)
	}
	if n := len(dirFiles(t, path)); n != 2 {
		t.Fatalf("%d directory files after the crash, want the old and the new", n)
	}
	st.Close()

	st = sync.NewFileState(path)
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cursors["entra"] != "c1" || got.Serial != 1 {
		t.Fatalf("after the crash: cursor %q serial %d, want c1 and 1", got.Cursors["entra"], got.Serial)
	}
	sameDirectory(t, cachedDir(t, got.Directories["entra"]), d1)
	if now := dirFiles(t, path); !reflect.DeepEqual(now, old) {
		t.Fatalf("directory files after Load: %v, want only %v", now, old)
	}

	// Now the crash comes after the snapshot: the old file is left.
	if err := saveDir(t, st, got, d2, "c2"); err != nil {
		t.Fatal(err)
	}
	newer := dirFiles(t, path)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), old[0]), mustEncode(t, d1), 0o600); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = sync.NewFileState(path)
	defer st.Close()
	if got, err = st.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Cursors["entra"] != "c2" {
		t.Fatalf("cursor %q, want c2", got.Cursors["entra"])
	}
	sameDirectory(t, cachedDir(t, got.Directories["entra"]), d2)
	if now := dirFiles(t, path); !reflect.DeepEqual(now, newer) {
		t.Fatalf("directory files after Load: %v, want only %v", now, newer)
	}
}

func mustEncode(t *testing.T, d *source.Directory) []byte {
	t.Helper()
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFileStateDirectoryCorrupt: a directory file that does not hold what
// the snapshot refers to, or is missing, makes Load fail with
// sync.ErrStateCorrupt rather than plan from a wrong directory.
func TestFileStateDirectoryCorrupt(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, file string)
	}{
		{"missing", func(t *testing.T, file string) { _ = os.Remove(file) }},
		{"flipped byte", func(t *testing.T, file string) {
			b, _ := os.ReadFile(file)
			b[len(b)/2] ^= 1
			_ = os.WriteFile(file, b, 0o600)
		}},
		{"truncated", func(t *testing.T, file string) {
			b, _ := os.ReadFile(file)
			_ = os.WriteFile(file, b[:len(b)-3], 0o600)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			st := sync.NewFileState(path)
			s, err := st.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := saveDir(t, st, s, sourcetest.AttributeDirectory(3, "x"), "c1"); err != nil {
				t.Fatal(err)
			}
			st.Close()
			tt.spoil(t, filepath.Join(filepath.Dir(path), dirFiles(t, path)[0]))
			st = sync.NewFileState(path)
			defer st.Close()
			if _, err := st.Load(context.Background()); !errors.Is(err, sync.ErrStateCorrupt) {
				t.Fatalf("Load = %v, want sync.ErrStateCorrupt", err)
			}
		})
	}
}

// TestFileStateInlineDirectoryMovesOut: a state file of an earlier
// version, with the directory inline, is read, and the next save moves
// the directory into its own file.
func TestFileStateInlineDirectoryMovesOut(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	d := sourcetest.AttributeDirectory(4, "inline")
	old := sync.NewSnapshot()
	old.Version, old.Target, old.Serial = 1, "", 3
	old.Cursors["entra"] = "c1"
	old.Directories = map[string]*sync.CachedDirectory{"entra": {Dir: d}}
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st := sync.NewFileState(path)
	defer st.Close()
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameDirectory(t, cachedDir(t, got.Directories["entra"]), d)
	got.Serial++
	if err := st.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "u3@example.com") || len(dirFiles(t, path)) != 1 {
		t.Fatalf("after a save the snapshot file still holds the directory, or no directory file: %.300s", b)
	}
	if got, err = st.Load(ctx); err != nil || got.Cursors["entra"] != "c1" {
		t.Fatalf("Load = %v, %v", got, err)
	}
	sameDirectory(t, cachedDir(t, got.Directories["entra"]), d)
}

// TestFileStateLoadKeepsTheSnapshot: while the lock is held nothing else
// writes the state, so Load reads the file once and then returns copies
// of the snapshot it keeps (with every save and record applied), each the
// caller's own to change.
func TestFileStateLoadKeepsTheSnapshot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Users["a"] = sync.Link{TargetID: "ta"}
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(3, "keep"), "c1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Record(ctx, sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "b", Link: &sync.Link{TargetID: "tb"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		got, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Serial != 1 || got.Users["a"].TargetID != "ta" || got.Users["b"].TargetID != "tb" || len(got.Users) != 2 ||
			got.Cursors["entra"] != "c1" || len(cachedDir(t, got.Directories["entra"]).Users) != 3 {
			t.Fatalf("Load %d = %+v", i, got)
		}
		// The caller's changes stay the caller's.
		got.Users["x"] = sync.Link{TargetID: "tx"}
		delete(got.Users, "a")
		got.Cursors["entra"] = "changed"
		got.Directories["entra"] = nil
	}
	if n := sync.FileReads(st); n != 1 {
		t.Errorf("the state file was read %d times, want once", n)
	}
	st.Close()
	st = sync.NewFileState(path)
	defer st.Close()
	got, err := st.Load(ctx)
	if err != nil || got.Users["b"].TargetID != "tb" || got.Cursors["entra"] != "c1" || sync.FileReads(st) != 1 {
		t.Fatalf("Load after a restart = %+v, %v (%d reads)", got, err, sync.FileReads(st))
	}
}

// TestFileStateDirectoryOfAnotherVersion: a cached directory in another
// version of the encoding is dropped together with its cursor, so the
// source is read in full, rather than failing the state or planning from
// a directory read wrongly.
func TestFileStateDirectoryOfAnotherVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Cursors["other"] = "k1"
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(2, "v"), "c1"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	old := strings.TrimPrefix(dirFiles(t, path)[0], "state.json.dir-")
	content := []byte("provsync directory 1\n\x01\x02")
	sum := sha256.Sum256(content)
	newSum := hex.EncodeToString(sum[:])
	if err := os.WriteFile(path+".dir-"+newSum, content, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(old), []byte(newSum)), 0o600); err != nil {
		t.Fatal(err)
	}
	st = sync.NewFileState(path)
	defer st.Close()
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if _, ok := got.Cursors["entra"]; ok || got.Directories["entra"] != nil || got.Cursors["other"] != "k1" {
		t.Fatalf("Load kept the directory or cursor of another version, or lost another cursor: %+v, %v", got.Cursors, got.Directories)
	}
}

// linkedSnapshot returns a snapshot of n user links with mirrors.
func linkedSnapshot(s *sync.Snapshot, n int) {
	for i := range n {
		id := "u" + strconv.Itoa(i)
		s.Users[id] = sync.Link{TargetID: "t-" + id, Origin: sync.OriginCreated,
			Mirror: &sync.Mirror{User: json.RawMessage(`{"userName":"` + id + `@example.com","displayName":"User ` + id + `"}`)}}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// appendingState opens a FileState at path that appends saves whatever
// the state's size, and loads it.
func appendingState(t *testing.T, path string) (*sync.FileState, *sync.Snapshot) {
	t.Helper()
	st := sync.NewFileState(path)
	sync.SetAppendMin(st, 0)
	s, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

// TestFileStateSaveAppendsWhatChanged: a save that changes a few links of
// a large state appends them to the journal, in proportion to the
// change, instead of rewriting the snapshot; a new process reads the same
// state back, without rewriting it; a record after the save is replayed
// on top of it.
func TestFileStateSaveAppendsWhatChanged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st, s := appendingState(t, path)
	linkedSnapshot(s, 500)
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(3, "a"), "c1"); err != nil {
		t.Fatal(err)
	}
	fi1, _ := os.Stat(path)
	j1 := fileSize(t, path+".journal")

	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Users["u1"]
	l.Mirror = &sync.Mirror{User: json.RawMessage(`{"userName":"renamed@example.com"}`)}
	s.Users["u1"] = l
	delete(s.Users, "u2")
	s.Users["new"] = sync.Link{TargetID: "t-new", Origin: sync.OriginAdopted}
	s.Target = "acme"
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(4, "b"), "c2"); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(path)
	if !os.SameFile(fi1, fi2) {
		t.Fatal("a save changing 3 of 500 links rewrote the snapshot file")
	}
	if grew := fileSize(t, path+".journal") - j1; grew > 1500 || fi1.Size() < 20*grew {
		t.Fatalf("the journal grew by %d bytes for 3 links (snapshot %d bytes)", grew, fi1.Size())
	}
	check := func(st *sync.FileState, serial int64) {
		t.Helper()
		got, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Serial != serial || len(got.Users) != 500 || got.Users["new"].TargetID != "t-new" || got.Target != "acme" ||
			string(got.Users["u1"].Mirror.UserJSON()) != `{"userName":"renamed@example.com"}` || got.Cursors["entra"] != "c2" {
			t.Fatalf("Load = serial %d, %d users, target %q, cursor %q, u1 %+v", got.Serial, len(got.Users), got.Target, got.Cursors["entra"], got.Users["u1"])
		}
		if _, ok := got.Users["u2"]; ok {
			t.Fatal("a removed link came back")
		}
		sameDirectory(t, cachedDir(t, got.Directories["entra"]), sourcetest.AttributeDirectory(4, "b"))
	}
	check(st, 2)
	if err := st.Save(ctx, s); !errors.Is(err, sync.ErrStaleState) {
		t.Fatalf("a second save of serial 2 = %v, want ErrStaleState", err)
	}
	st.Close()
	st = sync.NewFileState(path)
	sync.SetAppendMin(st, 0)
	check(st, 2)
	if fi3, _ := os.Stat(path); !os.SameFile(fi1, fi3) {
		t.Fatal("reading the appended save back rewrote the snapshot")
	}
	// A record after the appended save is replayed on top of it.
	if err := st.Record(ctx, sync.Record{Op: sync.OpUnlink, Kind: sync.KindUser, SourceID: "new"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = sync.NewFileState(path)
	defer st.Close()
	got, err := st.Load(ctx)
	if err != nil || got.Serial != 3 || len(got.Users) != 499 || got.Target != "acme" {
		t.Fatalf("Load after a record = %+v, %v", got, err)
	}
}

// TestFileStateTornAppendedSave: a crash mid-append of a save leaves the
// state before it, whole; later records and saves go on. (The directory
// does not change: a save removes the old directory file only once its
// line is synced, which a torn line never was.)
func TestFileStateTornAppendedSave(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st, s := appendingState(t, path)
	linkedSnapshot(s, 300)
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(2, "a"), "c1"); err != nil {
		t.Fatal(err)
	}
	j1 := fileSize(t, path+".journal")
	s.Users["u5"] = sync.Link{TargetID: "changed"}
	if err := saveDir(t, st, s, sourcetest.AttributeDirectory(2, "a"), "c2"); err != nil {
		t.Fatal(err)
	}
	j2 := fileSize(t, path+".journal")
	if j2 <= j1 {
		t.Fatal("the save was not appended")
	}
	st.Close()
	if err := os.Truncate(path+".journal", j2-5); err != nil { // torn
		t.Fatal(err)
	}
	st = sync.NewFileState(path)
	sync.SetAppendMin(st, 0)
	defer st.Close()
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 1 || got.Users["u5"].TargetID != "t-u5" || got.Cursors["entra"] != "c1" {
		t.Fatalf("Load after a torn save = serial %d, u5 %+v, cursor %q; want the state before it", got.Serial, got.Users["u5"], got.Cursors["entra"])
	}
	sameDirectory(t, cachedDir(t, got.Directories["entra"]), sourcetest.AttributeDirectory(2, "a"))
	if err := st.Record(ctx, sync.Record{Op: sync.OpUnlink, Kind: sync.KindUser, SourceID: "u7"}); err != nil {
		t.Fatal(err)
	}
	got.Serial++
	got.Users["u9"] = sync.Link{TargetID: "nine"}
	delete(got.Users, "u7")
	if err := st.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st2 := sync.NewFileState(path)
	defer st2.Close()
	if got, err = st2.Load(ctx); err != nil || got.Serial != 2 || got.Users["u9"].TargetID != "nine" || len(got.Users) != 299 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

// TestFileStateAppendedSavesCompact: once the appended saves would make
// the journal more than half the snapshot's size, the next save rewrites
// the snapshot and starts the journal over.
func TestFileStateAppendedSavesCompact(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	sync.SetAppendMin(st, 0)
	defer st.Close()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	linkedSnapshot(s, 100)
	s.Users["u80"] = sync.Link{TargetID: "t-u80"}
	s.Serial++
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	fi1, _ := os.Stat(path)
	rewrote := 0
	for i := range 80 {
		s.Serial++
		s.Users["u"+strconv.Itoa(i)] = sync.Link{TargetID: "again-" + strconv.Itoa(i)}
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); !os.SameFile(fi1, fi) {
			rewrote++
			fi1 = fi
		}
		if j, f := fileSize(t, path+".journal"), fileSize(t, path); j > f/2+200 {
			t.Fatalf("save %d: journal %d bytes, snapshot %d", i, j, f)
		}
	}
	if rewrote == 0 || rewrote > 20 {
		t.Fatalf("%d of 80 saves rewrote the snapshot; want some, not most", rewrote)
	}
	st.Close()
	st = sync.NewFileState(path)
	got, err := st.Load(ctx)
	if err != nil || got.Serial != s.Serial || got.Users["u79"].TargetID != "again-79" || got.Users["u80"].TargetID != "t-u80" {
		t.Fatalf("Load = serial %d (want %d), %v", got.Serial, s.Serial, err)
	}
}
