//go:build !race

// The race detector's shadow memory would count with the heap.

package sync

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/target"
)

// batchSource is an incremental source whose every read since a cursor
// reports a copy of the same batch of changes.
type batchSource struct{ ch *source.Changes }

func (s batchSource) Name() string { return "batch" }

func (s batchSource) Read(context.Context) (*source.Directory, error) {
	return nil, errors.New("batchSource: read in full")
}

func (s batchSource) ReadChanges(_ context.Context, cursor string) (*source.Changes, error) {
	if cursor == "" {
		return nil, errors.New("batchSource: read in full")
	}
	d := (&source.Directory{Users: s.ch.Users, Groups: s.ch.Groups}).Clone()
	return &source.Changes{Users: d.Users, Groups: d.Groups, RemovedUsers: s.ch.RemovedUsers, Cursor: cursor + "+"}, nil
}

// allocatedByFoldRead returns the bytes an incremental read allocates
// that decoding its cache does not: the read of a batch of a few changes
// (a rename, a hire, a leaver, a group changed) folded into a directory
// of users users cached in a FileState's file, less a decode of that
// cache with the attributes the mapping reads.
func allocatedByFoldRead(t *testing.T, users int) int64 {
	t.Helper()
	ctx := context.Background()
	dir := synth.Generate(synth.Config{Users: users, Groups: users / 20, MembershipsPerUser: 3, Seed: 3})
	st := NewFileState(filepath.Join(t.TempDir(), "state.json"))
	defer st.Close()
	s := NewSnapshot()
	s.Serial = 1
	s.Cursors = map[string]string{"batch": "1"}
	s.Directories = map[string]*CachedDirectory{"batch": {Dir: dir}}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	snap, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cached := snap.Directories["batch"]
	if !cached.fileOnly() {
		t.Fatal("the state holds its cached directory in memory; want it in its file only")
	}
	ch := synth.FewChanges(dir)
	// The read sends no request: a target that cannot is enough.
	e, err := New(batchSource{ch}, struct{ target.Target }{}, WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	names, ok := e.mappedAttributes()
	if !ok {
		t.Fatal("the default mapping does not name the attributes it reads")
	}
	allocated := func(f func()) int64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return int64(after.TotalAlloc - before.TotalAlloc)
	}
	decode := allocated(func() {
		if _, err := cached.selected(names); err != nil {
			t.Fatal(err)
		}
	})
	read := allocated(func() {
		d, pending, err := e.read(ctx, snap, false)
		if err != nil || pending == nil || !pending.incremental || len(d.Users) != users {
			t.Fatalf("read: %v; want an incremental read of %d users", err, users)
		}
	})
	return read - decode
}

// TestIncrementalReadFoldsInPlace: an incremental read folds its changes
// into the cache it decodes for them in place: from 2,000 to 4,000 users,
// it allocates, beyond that decode, about 80 bytes more a user (most of
// them the check of the result, source.Directory.Validate), where a fold
// into a copy of the users and an index of them by id (source.
// ApplyShared) took about 290.
func TestIncrementalReadFoldsInPlace(t *testing.T) {
	small, large := allocatedByFoldRead(t, 2000), allocatedByFoldRead(t, 4000)
	perUser := (large - small) / 2000
	t.Logf("an incremental read of 4 changes allocates %d bytes (2,000 users), %d bytes (4,000 users) beyond decoding its cache: %d bytes a user", small, large, perUser)
	if perUser > 130 {
		t.Errorf("an incremental read of 4 changes allocates %d bytes more for each cached user than decoding the cache; want at most 130", perUser)
	}
}
