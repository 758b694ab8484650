package sync

import (
	"runtime"
	"testing"
)

// Test hooks for the external tests of this package.

// HeapInUse returns the bytes of live heap objects, after two
// collections (the second one drops what pools kept through the first).
func HeapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// CheckHeldPerUser fails t if what held(n) measures, in bytes, grows by
// more than limit for each user from 2,000 to 4,000 users: the
// difference leaves out what does not grow with the users. what names
// the measure in the log.
func CheckHeldPerUser(t *testing.T, what string, limit int64, held func(users int) int64) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs 6,000 users")
	}
	small, large := held(2000), held(4000)
	perUser := (large - small) / 2000
	t.Logf("%s: %d bytes (2,000 users), %d bytes (4,000 users): %d bytes a user", what, small, large, perUser)
	if perUser > limit {
		t.Errorf("%s: %d bytes a user, want at most %d", what, perUser, limit)
	}
}

// SetAfterDirectories makes f's saves call fn between writing the
// directory files and the snapshot; an error stops the save there, as a
// crash would.
func SetAfterDirectories(f *FileState, fn func() error) { f.afterDirectories = fn }

// DirectoryWrites returns how many directory files f has written.
func DirectoryWrites(f *FileState) int { return f.dirWrites }

// FileReads returns how many times f has read its state file.
func FileReads(f *FileState) int { return f.fileReads }

// SetAppendMin sets the smallest snapshot file whose saves f may append
// to its journal.
func SetAppendMin(f *FileState, n int64) { f.appendMin = n }

// EncodedForCache returns how many bytes of directory encoding p's plan
// made to cache its source read: those its state did not hold already.
func EncodedForCache(p *Plan) int {
	if p.read == nil {
		return 0
	}
	return p.read.encoded
}

// HoldsCache reports whether p's plan holds a cached directory: the one
// its read folded changes into, or the one to save.
func HoldsCache(p *Plan) bool { return p.read != nil && (p.read.base != nil || p.read.cached != nil) }

// CacheInFile reports whether the cached directory of source name in the
// snapshot f keeps is in its file only, not in memory.
func CacheInFile(f *FileState, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.base.Directories[name]
	return c != nil && c.sum != "" && c.inFile(f.dirFile(c.sum))
}

// DecodedMirrors returns how many user mirrors p's plan decoded.
func DecodedMirrors(p *Plan) int { return p.decodedMirrors }

// HeldTargetUsers returns how many target users p's plan held to compare
// the mapped users with.
func HeldTargetUsers(p *Plan) int { return p.heldUsers }

// HeldTargetUserRoom returns how many target users p's plan allocated
// room for.
func HeldTargetUserRoom(p *Plan) int { return p.heldRoom }

// JournalSyncs returns how many fsyncs of its journal f's records (and
// Close) have made.
func JournalSyncs(f *FileState) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

// SyncedJournalSize returns how many bytes of f's journal the last fsync
// covered: what a crash of the system would leave of it.
func SyncedJournalSize(f *FileState) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncedSize
}

// JournalWrites returns how many writes to its journal f's records (and
// Close) have made.
func JournalWrites(f *FileState) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// HeldJournalSize returns how many bytes of journal lines f holds, not
// yet written: what a SIGKILL of the process would lose of it.
func HeldJournalSize(f *FileState) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

// SetIntentWindow sets how many changes' intents e's applies record in
// one batch.
func SetIntentWindow(e *Engine, n int) { e.intentWindow = n }
