//go:build !race

// The race detector's shadow memory would count with the heap.

package sync

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
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
	dir := synth.Generate(synth.Config{Users: users, Groups: users / 20, MembershipsPerUser: 3, Seed: 3})
	return allocatedByRead(t, dir, synth.FewChanges(dir), func(d *source.Directory) bool { return len(d.Users) == users })
}

// allocatedByRead returns the bytes the incremental read of ch, folded
// into dir cached in a FileState's file, allocates beyond a decode of
// that cache with the attributes the mapping reads. ok checks the
// directory read.
func allocatedByRead(t *testing.T, dir *source.Directory, ch *source.Changes, ok func(*source.Directory) bool) int64 {
	t.Helper()
	ctx := context.Background()
	st := NewFileState(filepath.Join(t.TempDir(), "state.json"))
	defer st.Close()
	snap := savedWithCache(ctx, t, st, "batch", dir)
	cached := snap.Directories["batch"]
	if !cached.fileOnly() {
		t.Fatal("the state holds its cached directory in memory; want it in its file only")
	}
	// The read sends no request: a target that cannot is enough.
	e, err := New(batchSource{ch}, struct{ target.Target }{}, WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	names, known := e.mappedAttributes()
	if !known {
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
		if err != nil || pending == nil || !pending.incremental || !ok(d) {
			t.Fatalf("read: %v; want an incremental read of the batch", err)
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

// TestIncrementalReadChecksChangesWithoutEncoding: the read checks that
// its batch of changes encodes (the save folds the batch into the
// cache's encoding) without holding the batch's encoding, which would sit
// next to the directory just decoded, before the mapping drops any of
// it. A changed group of many members (a large group's membership
// change) then costs the read the source's copy of its member list and
// the fold's, 16 bytes a member each, where an encoding made in memory
// added about 180 more: the members' ids, in a buffer grown by doubling.
func TestIncrementalReadChecksChangesWithoutEncoding(t *testing.T) {
	dir := synth.Generate(synth.Config{Users: 4000, Groups: 40, MembershipsPerUser: 2, Seed: 7})
	allocated := func(members int) int64 {
		g := dir.Groups[0].Clone()
		g.DisplayName += " renamed"
		g.Members = make([]string, members)
		for i := range g.Members {
			g.Members[i] = dir.Users[i].ID
		}
		ch := &source.Changes{Groups: []source.Group{g}}
		return allocatedByRead(t, dir, ch, func(d *source.Directory) bool {
			i := slices.IndexFunc(d.Groups, func(h source.Group) bool { return h.ID == g.ID })
			return i >= 0 && len(d.Groups[i].Members) == members
		})
	}
	small, large := allocated(1000), allocated(3000)
	perMember := (large - small) / 2000
	t.Logf("an incremental read of a changed group allocates %d bytes (1,000 members), %d bytes (3,000 members) beyond decoding its cache: %d bytes a member", small, large, perMember)
	if perMember > 60 {
		t.Errorf("an incremental read of a changed group allocates %d bytes for each of its members; want at most 60", perMember)
	}
}
