package sync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

// FileState is a State kept in a JSON file, a journal beside it and a
// lock file:
//
//   - path holds the last saved snapshot. Save writes a temporary file in
//     the same directory, syncs it and renames it over the old one, so a
//     crash leaves either the old or the new snapshot. A file that is not
//     a snapshot this engine wrote (no version, no "target" field: "null"
//     or "{}" say) is ErrStateCorrupt; a missing file is an empty state.
//   - path+".journal" holds the records (links made and removed, creates
//     about to be sent) since that snapshot, one JSON line each, appended
//     as the writes they describe land and fsynced before Record returns.
//     Concurrent records share one fsync (group commit). The engine
//     stores the links of created objects and the new mirrors of written
//     ones without waiting for an fsync, and writes their lines to the
//     journal together, once they fill heldLines bytes (about 150 links
//     of created users) or before anything else reaches the journal: a
//     synced record, a save, a read of the files or Close. A crash of the
//     system may lose them, and a SIGKILL of the process those not yet
//     written: the intent or unknown mirror synced before each write
//     covers them, and the next plan resolves that object as after a
//     lost answer. After a SIGKILL the state lags the target by no more
//     than the writes in flight and those held lines. Load applies
//     the journal and, if it held records, saves the result (one rewrite
//     per crash, not per change); Save empties it, except that a save
//     changing few links of a large state (a snapshot file of 1 MiB or
//     more) is appended to the journal as one line instead: the links
//     that changed and the rest of the snapshot, which is small. A torn
//     line is ignored, so a crash mid-append leaves the state before that
//     save. Once appending would make the journal more than half the
//     snapshot's size, or a save changes more than an eighth of the links,
//     the save rewrites the snapshot and empties the journal. While the
//     lock is held nothing else writes these files, so Load reads them
//     once and afterwards returns a copy of the snapshot it keeps in
//     memory, with every Save and Record applied: its maps are the
//     caller's own, its link mirrors and cached directories are shared
//     (replace them, do not modify them in place). The engine's own loads
//     and saves share the link maps with that copy instead of copying
//     them, and the engine copies them before it changes a link, so a
//     cycle that changes none holds one copy of the links. An apply that
//     creates many objects (an initial sync) takes that copy's maps as
//     its own instead, and its save gives them back: it too holds one
//     copy of the links, and a Load made in between reads the files.
//   - path+".dir-" followed by a SHA-256 in hex holds the directory an
//     incremental source last yielded (Snapshot.Directories), one file per
//     source, in a compact binary encoding; the snapshot refers to it by
//     that SHA-256. A save writes such a file only when the directory
//     changed (no file of its sum exists yet), and before the snapshot
//     that refers to it, so the cursor saved with a directory is never
//     read back with another. Files no snapshot refers to are removed.
//   - path+".lock" is locked (flock) from the first Load, Save or Record
//     until Close: a second process, or a second FileState on the same
//     path, gets ErrLocked instead of using the state. The lock file
//     itself is left in place. On systems without flock (Windows, for
//     one) there is no lock: run one engine per state file there.
//
// Temporary files that interrupted saves left behind are removed by Load
// and Save, which hold the lock, so no live save's file is touched.
type FileState struct {
	path string

	mu     gosync.Mutex
	cond   *gosync.Cond
	lock   *os.File
	loaded bool  // serial is the stored serial
	serial int64 // serial of the stored snapshot
	// headSerial is the serial of the snapshot file, which the journal
	// follows; saves appended to the journal (appendSave) move serial on
	// past it.
	headSerial int64
	fileBytes  int64 // size of the snapshot file
	jourBytes  int64 // size of the journal
	appendMin  int64 // smallest snapshot file whose saves may be appended
	journal    *os.File
	seq        uint64 // Record calls written to the journal
	flushed    uint64 // Record calls synced
	flushing   bool   // an fsync of the journal runs
	syncs      int    // fsyncs of the journal by Record and Close, for tests
	syncedSize int64  // journal bytes an fsync covers, for tests
	broken     error  // a failed journal write; cleared by the next Save
	// held holds the journal lines of unsynced records not yet written
	// (see heldLines); the records are in base already.
	held   []byte
	writes int // writes to the journal by records and Close, for tests
	// base is the stored snapshot with every record since applied, kept
	// so that Load need not read and decode the file again while the
	// lock is held (nothing else writes it then); nil when unknown.
	base *Snapshot

	// lines holds buffers for the journal lines of a record call (a
	// *[]byte each): an apply records a line or two per change, and a
	// buffer each made about as much garbage as the rest of the change.
	lines gosync.Pool

	dirWrites        int          // directory files written, for tests
	fileReads        int          // state files read, for tests
	afterDirectories func() error // tests: runs between the directory files and the snapshot
}

var _ State = (*FileState)(nil)

// heldLines is how many bytes of the lines of unsynced records FileState
// holds before it writes them to the journal: one write for about 150
// landed creates, where a write each cost about as much CPU as the line.
const heldLines = 64 << 10

// maxPooledLines is the largest buffer of journal lines kept for reuse
// (FileState.lines); the records of a window of intents take more, and
// come once a window.
const maxPooledLines = 64 << 10

// NewFileState returns a State stored at path. The file is created by the
// first Save or Record; its directory must exist. Call Close when done to
// release the lock.
func NewFileState(path string) *FileState {
	f := &FileState{path: path, appendMin: defaultAppendMin}
	f.cond = gosync.NewCond(&f.mu)
	return f
}

func (f *FileState) journalPath() string { return f.path + ".journal" }

// defaultAppendMin is the size of snapshot file from which a save may go
// to the journal: smaller states are rewritten, which costs little.
const defaultAppendMin = 1 << 20

// tempPattern names this state's temporary files; only the lock holder
// writes them, so the lock holder may remove any it finds.
func (f *FileState) tempPattern() string { return "." + filepath.Base(f.path) + ".tmp-*" }

// legacyTempPattern names the temporary files of earlier versions, which
// did not name their state; they are removed once an hour old.
const legacyTempPattern = ".provsync-state-*"

// Close releases the lock and the journal. The FileState can be used
// again afterwards; it then locks again.
func (f *FileState) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quiesce()
	var errs []error
	if err := f.writeHeld(); err != nil {
		errs = append(errs, err)
	}
	if f.journal != nil && f.broken == nil && f.flushed < f.seq {
		// Records written without an fsync (recordOwn).
		errs = append(errs, f.syncJournal(f.seq))
	}
	if f.journal != nil {
		errs = append(errs, f.journal.Close())
		f.journal = nil
	}
	if f.lock != nil {
		errs = append(errs, unlockFile(f.lock), f.lock.Close())
		f.lock = nil
	}
	f.loaded = false
	f.base = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sync: close state %s: %w", f.path, err)
	}
	return nil
}

// acquire takes the lock if not held; the caller holds f.mu.
func (f *FileState) acquire() error {
	if f.lock != nil {
		return nil
	}
	l, err := os.OpenFile(f.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sync: lock state %s: %w", f.path, err)
	}
	if err := lockFile(l); err != nil {
		l.Close()
		if errors.Is(err, ErrLocked) {
			return fmt.Errorf("%w: %s", ErrLocked, f.path)
		}
		return fmt.Errorf("sync: lock state %s: %w", f.path, err)
	}
	f.lock = l
	f.removeTemps()
	return nil
}

// removeTemps deletes temporary files interrupted saves left behind. The
// caller holds the lock.
func (f *FileState) removeTemps() {
	dir := filepath.Dir(f.path)
	if m, err := filepath.Glob(filepath.Join(dir, f.tempPattern())); err == nil {
		for _, p := range m {
			_ = os.Remove(p)
		}
	}
	if m, err := filepath.Glob(filepath.Join(dir, legacyTempPattern)); err == nil {
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > time.Hour {
				_ = os.Remove(p)
			}
		}
	}
}

// quiesce waits until no fsync of the journal runs; the caller holds
// f.mu.
func (f *FileState) quiesce() {
	for f.flushing {
		f.cond.Wait()
	}
}

// Load reads the snapshot and applies the journal's records; a missing
// file is an empty state. If the journal held records, the result is
// saved as a new serial before it is returned.
func (f *FileState) Load(context.Context) (*Snapshot, error) {
	return f.loadWith(func(b *Snapshot) *Snapshot { return b.clone(false) })
}

// loadShared is Load for the engine (sharingState): the snapshot shares
// its link maps with the copy the state keeps, and copies them before it
// changes a link (Snapshot.ownLinks), so a plan that changes none holds
// one copy of the links, not two.
func (f *FileState) loadShared(context.Context) (*Snapshot, error) {
	return f.loadWith((*Snapshot).lend)
}

// loadWith returns what give makes of the state's copy of the snapshot,
// reading the files first if it has none.
func (f *FileState) loadWith(give func(*Snapshot) *Snapshot) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.acquire(); err != nil {
		return nil, err
	}
	f.quiesce()
	if f.base == nil {
		if _, err := f.load(); err != nil {
			return nil, err
		}
	}
	return give(f.base), nil
}

func (f *FileState) load() (*Snapshot, error) {
	// The files must hold every record before they are read.
	_ = f.writeHeld() // a failure leaves the journal broken: a save rewrites it
	s, sums, err := f.readSnapshot()
	if err != nil {
		return nil, err
	}
	f.headSerial = s.Serial
	n, err := f.replay(s, &sums)
	if err != nil {
		return nil, err
	}
	if err := f.readDirectories(s, sums); err != nil {
		return nil, err
	}
	f.serial, f.loaded = s.Serial, true
	if n > 0 {
		s.Serial++
		if err := f.write(s, false); err != nil {
			return nil, err
		}
	}
	f.base = s
	return s, nil
}

// readSnapshot reads the snapshot file, and the sums of the directory
// files it refers to by source name.
func (f *FileState) readSnapshot() (*Snapshot, map[string]string, error) {
	f.fileReads++
	f.fileBytes = 0
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewSnapshot(), nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sync: load state %s: %w", f.path, err)
	}
	f.fileBytes = int64(len(b))
	var head struct {
		Version *int     `json:"version"`
		Target  *string  `json:"target"`
		Serial  int64    `json:"serial"`
		Users   jsonKind `json:"users"`
		Groups  jsonKind `json:"groups"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrStateCorrupt, f.path, err)
	}
	switch {
	case head.Version == nil && head.Target == nil && legacyState(head.Serial, head.Users, head.Groups):
		// Written by a provsync from before versioned states: it is
		// read as it is and written back with a version at the next save.
	case head.Version == nil || head.Target == nil:
		return nil, nil, fmt.Errorf("%w: %s is not a state provsync wrote (no version or target)", ErrStateCorrupt, f.path)
	case *head.Version != stateVersion:
		return nil, nil, fmt.Errorf("%w: %s has version %d; this engine reads version %d", ErrStateCorrupt, f.path, *head.Version, stateVersion)
	}
	s := NewSnapshot()
	fsnap := fileSnapshot{Snapshot: s}
	if err := json.Unmarshal(b, &fsnap); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrStateCorrupt, f.path, err)
	}
	s.normalize()
	return s, fsnap.DirectoryFiles, nil
}

// readDirectories reads the directory files of sums into s, and removes
// those no snapshot refers to: a save that failed or was interrupted
// before its snapshot was written leaves them.
func (f *FileState) readDirectories(s *Snapshot, sums map[string]string) error {
	for name, sum := range sums {
		err := f.readDirectory(sum)
		if errors.Is(err, source.ErrBinaryVersion) {
			// Written by another version of provsync: the directory and
			// its cursor are dropped together, and the source is read in
			// full again.
			delete(s.Cursors, name)
			delete(sums, name)
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: cached directory of source %q: %w", ErrStateCorrupt, name, err)
		}
		if s.Directories == nil {
			s.Directories = map[string]*CachedDirectory{}
		}
		s.Directories[name] = fileDirectory(f.dirFile(sum), sum)
	}
	f.removeDirFiles(sums)
	return nil
}

// fileSnapshot is the form of the snapshot file: the snapshot, with its
// cached directories kept in files of their own (see writeDirectories)
// and referred to by the SHA-256 of their content, by source name.
type fileSnapshot struct {
	*Snapshot
	DirectoryFiles map[string]string `json:"directoryFiles,omitempty"`
}

// dirFilePrefix starts the names of the cached directories' files.
func (f *FileState) dirFilePrefix() string { return filepath.Base(f.path) + ".dir-" }

// dirFile returns the path of the directory file whose content has the
// given SHA-256 (in hex).
func (f *FileState) dirFile(sum string) string {
	return filepath.Join(filepath.Dir(f.path), f.dirFilePrefix()+sum)
}

// readDirectory checks the directory file of sum: that its content is
// what the snapshot refers to and decodes. The state keeps the directory
// there, not in memory, and reads it again when it is needed.
func (f *FileState) readDirectory(sum string) error {
	if len(sum) != 2*sha256.Size || strings.Trim(sum, "0123456789abcdef") != "" {
		return fmt.Errorf("%q is not a SHA-256", sum)
	}
	_, err := readDirectoryFile(f.dirFile(sum), sum)
	return err
}

// writeDirectories stores each cached directory of dirs in a file named
// by the SHA-256 of its compact encoding, unless that file exists
// already, and returns the sums by source name. A directory that did not
// change since the last save is therefore not written again. New files
// are written to a temporary file, synced, renamed and the directory
// synced before the snapshot that refers to them is written, so a crash
// leaves either the old snapshot with its old directory and cursor, or
// the new snapshot with its new ones.
func (f *FileState) writeDirectories(dirs map[string]*CachedDirectory) (map[string]string, error) {
	if len(dirs) == 0 {
		return nil, nil
	}
	sums := make(map[string]string, len(dirs))
	wrote := false
	for name, c := range dirs {
		if c.empty() {
			continue
		}
		if c.sum != "" && c.inFile(f.dirFile(c.sum)) {
			// Saved before, and kept in its file only.
			if _, err := os.Stat(c.file); err != nil {
				return nil, fmt.Errorf("cached directory of source %q: %w", name, err)
			}
			sums[name] = c.sum
			continue
		}
		if sum, ok, err := f.writeFold(c); err != nil {
			return nil, fmt.Errorf("cached directory of source %q: %w", name, err)
		} else if ok {
			sums[name] = sum
			f.dirWrites++
			wrote = true
			continue
		}
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", name, err)
		}
		sum := sha256.Sum256(b)
		sums[name] = hex.EncodeToString(sum[:])
		path := f.dirFile(sums[name])
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := f.writeFile(path, b); err != nil {
			return nil, fmt.Errorf("cached directory of source %q: %w", name, err)
		}
		f.dirWrites++
		wrote = true
	}
	if wrote {
		syncDir(filepath.Dir(f.path))
	}
	return sums, nil
}

// writeFold writes c, a fold of changes into a directory in one of the
// state's files, to a new directory file as it folds (source.
// ApplyBinaryTo), holding neither the old encoding nor the new, and
// returns the new file's sum; false if c is not such a fold. It checks
// the old file's SHA-256 as it reads it. The caller syncs the directory.
func (f *FileState) writeFold(c *CachedDirectory) (string, bool, error) {
	fo := c.fold
	if fo == nil || c.Dir != nil || c.enc != nil {
		return "", false, nil
	}
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if fo.file != "" && fo.file == f.dirFile(fo.sum) {
		return fo.sum, true, nil // written by an earlier try of this save
	}
	base := fo.base
	if fo.enc != nil || fo.err != nil || fo.file != "" || base == nil || !base.fileOnly() || base.file != f.dirFile(base.sum) {
		return "", false, nil
	}
	in, err := os.Open(base.file)
	if err != nil {
		return "", false, err
	}
	defer in.Close()
	read := sha256.New()
	sum, err := f.writeDirFile(func(w io.Writer) error {
		_, err := source.ApplyBinaryTo(w, io.TeeReader(in, read), fo.ch, fo.users, fo.groups)
		if err == nil {
			err = checkDirSum(base.file, base.sum, read.Sum(nil))
		}
		return err
	})
	if err != nil {
		return "", false, err
	}
	fo.file, fo.sum, fo.base, fo.ch = f.dirFile(sum), sum, nil, nil
	return sum, true, nil
}

// writeDirFile writes a new directory file, synced, with the content write
// writes, named by its SHA-256, and returns the sum. The caller syncs the
// directory.
func (f *FileState) writeDirFile(write func(io.Writer) error) (string, error) {
	h := sha256.New()
	tmp, err := f.writeTemp(func(w io.Writer) error { return write(io.MultiWriter(w, h)) })
	if err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp, f.dirFile(sum)); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return sum, nil
}

// stageDirectory writes d's encoding to a directory file as it encodes it
// (source.Directory.WriteTo), synced with its directory, and returns the
// CachedDirectory of that file: a plan's new cache, which the state then
// need not hold in memory. The snapshot that refers to it is written
// later, by the apply's save; until then, and if that never comes, no
// saved snapshot refers to it, and the next save or load removes it.
func (f *FileState) stageDirectory(d *source.Directory) (*CachedDirectory, error) {
	sum, err := f.writeDirFile(func(w io.Writer) error {
		_, err := d.WriteTo(w)
		return err
	})
	if err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(f.path))
	f.mu.Lock()
	f.dirWrites++
	f.mu.Unlock()
	return fileDirectory(f.dirFile(sum), sum), nil
}

// removeDirFiles deletes the directory files not in keep (sums by source
// name). The caller holds the lock.
func (f *FileState) removeDirFiles(keep map[string]string) {
	m, err := filepath.Glob(filepath.Join(filepath.Dir(f.path), f.dirFilePrefix()+"*"))
	if err != nil {
		return
	}
	kept := slices.Collect(maps.Values(keep))
	for _, p := range m {
		if !slices.Contains(kept, strings.TrimPrefix(filepath.Base(p), f.dirFilePrefix())) {
			_ = os.Remove(p)
		}
	}
}

// writeFile writes b to path atomically: a temporary file in the same
// directory, synced, then renamed over path. The caller syncs the
// directory.
func (f *FileState) writeFile(path string, b []byte) error {
	return f.writeFileWith(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeFileWith is writeFile with the content written by write, through
// a buffer, so that it need not be held in memory whole.
func (f *FileState) writeFileWith(path string, write func(io.Writer) error) error {
	tmp, err := f.writeTemp(write)
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
		}
	}
	return err
}

// writeTemp writes a new temporary file of the state's, with the content
// written by write through a buffer, syncs it and returns its path. On an
// error it leaves no file.
func (f *FileState) writeTemp(write func(io.Writer) error) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(f.path), f.tempPattern())
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(tmp, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// legacyState reports whether a state file without a version is one an
// earlier provsync wrote: every save of those wrote a serial of at least 1
// and the users and groups as JSON objects. A null, an empty object or a
// file missing any of these is not one.
func legacyState(serial int64, users, groups jsonKind) bool {
	return serial >= 1 && users == '{' && groups == '{'
}

// jsonKind is the first byte of a JSON value ('{' for an object), kept
// instead of the value: the head of a large state is checked without
// copying its links.
type jsonKind byte

// UnmarshalJSON keeps the first byte of b.
func (k *jsonKind) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 {
		*k = jsonKind(b[0])
	}
	return nil
}

// journalHead is a journal's first line: the serial of the snapshot its
// records follow. A journal following another serial was already saved
// into the snapshot (a crash came between the two) and is ignored.
type journalHead struct {
	Journal int   `json:"journal"`
	Serial  int64 `json:"serial"`
}

// journalLine is a line of the journal after its head: a record, or a
// save appended (appendSave): the saved snapshot without its links and
// directories, the directory files by source name, and the links that
// changed since the state before it (null: removed).
type journalLine struct {
	Record
	Save   *fileSnapshot    `json:"save,omitempty"`
	Users  map[string]*Link `json:"users,omitempty"`
	Groups map[string]*Link `json:"groups,omitempty"`
}

// apply makes s the snapshot a save line holds, on top of s's links, and
// sets *sums to its directory files.
func (l *journalLine) apply(s *Snapshot, sums *map[string]string) {
	users, groups := s.Users, s.Groups
	for k, v := range l.Users {
		if v == nil {
			delete(users, k)
		} else {
			users[k] = *v
		}
	}
	for k, v := range l.Groups {
		if v == nil {
			delete(groups, k)
		} else {
			groups[k] = *v
		}
	}
	*s = *l.Save.Snapshot
	s.Users, s.Groups, s.Directories = users, groups, nil
	s.normalize()
	*sums = l.Save.DirectoryFiles
}

// replay applies the journal's records and saves to s, setting *sums to
// the directory files of the last save, and returns how many records
// follow the last save. A torn last line (a crash mid-append) is ignored:
// its write was still in flight.
func (f *FileState) replay(s *Snapshot, sums *map[string]string) (int, error) {
	f.jourBytes = 0
	b, err := os.ReadFile(f.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	f.jourBytes = int64(len(b))
	if err != nil {
		return 0, fmt.Errorf("sync: load state journal %s: %w", f.journalPath(), err)
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) < 2 { // no complete head line
		return 0, nil
	}
	var head journalHead
	if err := json.Unmarshal(lines[0], &head); err != nil || head.Journal != stateVersion {
		return 0, fmt.Errorf("%w: %s: bad head line", ErrStateCorrupt, f.journalPath())
	}
	if head.Serial != s.Serial {
		return 0, nil
	}
	n := 0
	last := len(lines) - 1 // the text after the last newline: empty or torn
	for i, line := range lines[1:last] {
		var l journalLine
		if err := json.Unmarshal(line, &l); err != nil {
			return 0, fmt.Errorf("%w: %s line %d: %w", ErrStateCorrupt, f.journalPath(), i+2, err)
		}
		if l.Save != nil && l.Save.Snapshot != nil {
			l.apply(s, sums)
			n = 0
			continue
		}
		if err := s.Apply(l.Record); err != nil {
			return 0, fmt.Errorf("%s line %d: %w", f.journalPath(), i+2, err)
		}
		n++
	}
	return n, nil
}

// Save writes s atomically if s.Serial is the stored serial plus one, and
// empties the journal.
func (f *FileState) Save(_ context.Context, s *Snapshot) error { return f.save(s, false) }

// saveShared is Save for the engine (sharingState): the state keeps s's
// link maps as its copy instead of copying them, and s shares them from
// then on (it copies them before it changes a link).
func (f *FileState) saveShared(_ context.Context, s *Snapshot) error { return f.save(s, true) }

// leaveLinks forgets the state's copy of the snapshot (sharingState),
// for an apply that makes many links: its records then change the files
// alone, and the apply's save gives the state its copy back.
func (f *FileState) leaveLinks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.base = nil
}

// keep returns the copy of s the state keeps once s is stored: a clone,
// or with shared one holding s's link maps, which s then shares.
func keep(s *Snapshot, shared bool) *Snapshot {
	if !shared {
		return s.clone(false)
	}
	b := s.lend()
	b.sharedLinks, s.sharedLinks = false, true
	return b
}

func (f *FileState) save(s *Snapshot, shared bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.acquire(); err != nil {
		return err
	}
	f.quiesce()
	// A failure leaves the journal broken, and the save then rewrites the
	// snapshot, which holds every record.
	_ = f.writeHeld()
	if !f.loaded {
		if _, err := f.load(); err != nil {
			return err
		}
	}
	if s.Serial != f.serial+1 {
		return fmt.Errorf("%w: saving serial %d over serial %d", ErrStaleState, s.Serial, f.serial)
	}
	if ok, err := f.appendSave(s, shared); ok || err != nil {
		return err
	}
	return f.write(s, shared)
}

// appendSave saves s by appending to the journal what changed since the
// stored snapshot, as one line, when the snapshot file is large
// (appendMin) and the journal would stay under half its size; false if it
// did not. The line is synced before it returns; a crash mid-append tears
// it, and a torn line is ignored, so either the old state or the new one
// is read back. The caller holds f.mu and the lock, with no flush pending.
func (f *FileState) appendSave(s *Snapshot, shared bool) (bool, error) {
	if f.base == nil || f.broken != nil || f.journal == nil || f.fileBytes < f.appendMin {
		return false, nil
	}
	users, groups := linkDiff(f.base.Users, s.Users), linkDiff(f.base.Groups, s.Groups)
	if len(users)+len(groups) > len(s.Users)/8+len(s.Groups)/8+16 {
		return false, nil // much changed: rewrite
	}
	sums, flat, err := f.prepare(s)
	if err != nil {
		return true, fmt.Errorf("sync: save state: %w", err)
	}
	flat.Users, flat.Groups = nil, nil
	line, err := json.Marshal(journalLine{Save: &fileSnapshot{Snapshot: &flat, DirectoryFiles: sums}, Users: users, Groups: groups})
	if err != nil {
		return true, fmt.Errorf("sync: save state: %w", err)
	}
	line = append(line, '\n')
	if f.jourBytes+int64(len(line)) > f.fileBytes/2 {
		f.base = nil
		return false, nil // compact: rewrite
	}
	_, err = f.journal.Write(line)
	if err == nil {
		err = f.journal.Sync()
	}
	if err != nil {
		// What the journal holds now is not known: later records fail
		// and the next save rewrites.
		f.broken = fmt.Errorf("sync: save state: %w", err)
		return true, f.broken
	}
	f.jourBytes += int64(len(line))
	f.flushed, f.syncedSize = f.seq, f.jourBytes
	f.serial = s.Serial
	f.base = keep(s, shared)
	f.keepInFiles(f.base, sums)
	f.removeDirFiles(sums)
	return true, nil
}

// linkDiff returns the links of to that differ from those of from, and
// nil for those to lacks.
func linkDiff(from, to map[string]Link) map[string]*Link {
	var d map[string]*Link
	put := func(k string, l *Link) {
		if d == nil {
			d = map[string]*Link{}
		}
		d[k] = l
	}
	for k, l := range to {
		if o, ok := from[k]; !ok || !sameLink(o, l) {
			c := l // a copy for the links that differ alone: l's address made every link's copy escape
			put(k, &c)
		}
	}
	for k := range from {
		if _, ok := to[k]; !ok {
			put(k, nil)
		}
	}
	return d
}

// sameLink reports whether a and b are the same link, mirrors compared by
// content.
func sameLink(a, b Link) bool {
	if a.Mirror != b.Mirror && !a.Mirror.Equal(b.Mirror) {
		return false
	}
	a.Mirror, b.Mirror = nil, nil
	return a == b
}

// prepare begins a save of s: it writes the directory files and returns
// their sums, and s without its directories. The caller holds f.mu and
// the lock.
func (f *FileState) prepare(s *Snapshot) (map[string]string, Snapshot, error) {
	s.Version = stateVersion
	f.base = nil // unknown until the save is complete
	sums, err := f.writeDirectories(s.Directories)
	if err == nil && f.afterDirectories != nil {
		err = f.afterDirectories()
	}
	flat := *s
	flat.Directories = nil
	return sums, flat, err
}

// write stores s as the snapshot and starts an empty journal after it;
// the state keeps s's link maps if shared (see keep). The caller holds
// f.mu and the lock.
func (f *FileState) write(s *Snapshot, shared bool) error {
	known := f.base // its mirrors were checked as they were stored
	sums, flat, err := f.prepare(s)
	if err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	var size int64
	err = f.writeFileWith(f.path, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := writeSnapshotAfter(cw, &flat, sums, known)
		size = cw.n
		return err
	})
	if err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	syncDir(filepath.Dir(f.path))
	f.serial, f.headSerial, f.loaded, f.fileBytes = s.Serial, s.Serial, true, size
	f.removeDirFiles(sums)
	// Start the journal over; until this lands, the old journal's head
	// names the old serial and is ignored.
	if err := f.resetJournal(); err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	f.broken = nil
	f.base = keep(s, shared)
	f.keepInFiles(f.base, sums)
	return nil
}

// keepInFiles makes the cached directories of b, the state's copy of a
// snapshot just saved, refer to the files that hold them (sums by source
// name) instead of holding them in memory.
func (f *FileState) keepInFiles(b *Snapshot, sums map[string]string) {
	for name, sum := range sums {
		if c := b.Directories[name]; c != nil && !c.inFile(f.dirFile(sum)) {
			b.Directories[name] = fileDirectory(f.dirFile(sum), sum)
		}
	}
}

// linksHole is how the snapshot's links marshal when they are nil: the
// place in the snapshot file's JSON where writeSnapshot streams them.
const linksHole = `"users":null,"groups":null`

// writeSnapshot writes the snapshot file's JSON of s and sums to w: the
// same value json.Marshal gives, except for the whitespace between the
// links, which are written one at a time (in key order) so that the
// state is never held in memory as one piece of JSON too.
func writeSnapshot(w io.Writer, s *Snapshot, sums map[string]string) error {
	return writeSnapshotAfter(w, s, sums, nil)
}

// writeSnapshotAfter is writeSnapshot for a state whose stored snapshot
// is known (nil: not known). The links are encoded by appendLink; a
// mirror's user JSON is checked unless known holds the same mirror for
// that link, which was checked when it was stored.
func writeSnapshotAfter(w io.Writer, s *Snapshot, sums map[string]string, known *Snapshot) error {
	head := *s
	head.Users, head.Groups = nil, nil
	b, err := json.Marshal(fileSnapshot{Snapshot: &head, DirectoryFiles: sums})
	if err != nil {
		return err
	}
	// The links follow the version, target and serial; the target is a
	// JSON string, in which a quote is escaped, so the first match is
	// the links' place.
	i := bytes.Index(b, []byte(linksHole))
	if i < 0 {
		return errors.New("snapshot JSON without its links")
	}
	if _, err := w.Write(b[:i]); err != nil {
		return err
	}
	var knownUsers, knownGroups map[string]Link
	if known != nil {
		knownUsers, knownGroups = known.Users, known.Groups
	}
	var line []byte
	var keys []string
	var l Link // one for every link: it goes to the heap (json.Marshal below)
	for _, part := range []struct {
		name  string
		links map[string]Link
		known map[string]Link
	}{{`"users":`, s.Users, knownUsers}, {`,"groups":`, s.Groups, knownGroups}} {
		if _, err := io.WriteString(w, part.name+"{"); err != nil {
			return err
		}
		keys = slices.Grow(keys[:0], len(part.links))
		keys = slices.AppendSeq(keys, maps.Keys(part.links))
		slices.Sort(keys)
		for j, k := range keys {
			l = part.links[k]
			line = line[:0]
			if j > 0 {
				line = append(line, ',')
			}
			line = append(scim.AppendString(line, k), ':')
			kl, ok := part.known[k]
			validate := l.Mirror != nil && len(l.Mirror.User) > 0 && !(ok && kl.Mirror == l.Mirror)
			if line, err = appendLink(line, &l, validate); err != nil {
				// encoding/json refuses it and says why.
				if _, err := json.Marshal(&l); err != nil {
					return err
				}
				return fmt.Errorf("link %s: %w", k, err)
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, "}"); err != nil {
			return err
		}
	}
	_, err = w.Write(b[i+len(linksHole):])
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
}

// resetJournal truncates the journal (creating it if need be) and writes
// its head line for the current serial.
func (f *FileState) resetJournal() error {
	if f.journal == nil {
		j, err := os.OpenFile(f.journalPath(), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		f.journal = j
	}
	if err := f.journal.Truncate(0); err != nil {
		return err
	}
	head, _ := json.Marshal(journalHead{Journal: stateVersion, Serial: f.headSerial})
	if _, err := f.journal.Write(append(head, '\n')); err != nil {
		return err
	}
	f.jourBytes = int64(len(head) + 1)
	if err := f.journal.Sync(); err != nil {
		return err
	}
	f.flushed, f.syncedSize = f.seq, f.jourBytes
	return nil
}

// Record appends recs to the journal and returns once they are synced to
// disk. Records from concurrent calls are synced together.
func (f *FileState) Record(_ context.Context, recs ...Record) error {
	return f.record(recs, true, true)
}

// recordOwn appends the engine's own records to the journal. With synced
// false it returns once the state holds them, without waiting for them to
// be written or synced: their lines are written with the next ones, once
// they fill heldLines, or with the next synced record, save or Close, and
// synced by the next fsync. A SIGKILL of the process may lose those not
// yet written, a crash of the system those not yet synced. The mirrors'
// JSON is the engine's, valid by construction, and is not checked again.
func (f *FileState) recordOwn(_ context.Context, synced bool, recs ...Record) error {
	return f.record(recs, synced, false)
}

// record appends recs to the journal and, if synced, waits until an
// fsync covers them. Each call writes its lines, or with synced false
// may hold them (see heldLines) to write with the next, under f.mu, so
// the journal holds the records in the order they were made; only the
// fsync runs outside f.mu, and one fsync covers every record written
// before it (group commit).
func (f *FileState) record(recs []Record, synced, validate bool) error {
	if len(recs) == 0 {
		return nil
	}
	bp, _ := f.lines.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf, err := appendRecords((*bp)[:0], recs, validate)
	if err != nil {
		return fmt.Errorf("sync: record state: %w", err)
	}
	defer func() {
		if cap(buf) <= maxPooledLines {
			*bp = buf
			f.lines.Put(bp)
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.acquire(); err != nil {
		return err
	}
	if f.journal == nil {
		if !f.loaded {
			if _, err := f.load(); err != nil {
				return err
			}
		}
		if f.journal == nil {
			if err := f.openJournal(); err != nil {
				f.broken = fmt.Errorf("sync: record state: %w", err)
			}
		}
	}
	if f.broken != nil {
		return f.broken
	}
	hold := !synced && len(f.held)+len(buf) < heldLines
	if hold || len(f.held) > 0 {
		f.held = append(f.held, buf...)
	}
	if !hold {
		line := buf
		if len(f.held) > 0 {
			line = f.held
		}
		if err := f.writeLines(line); err != nil {
			return err
		}
	}
	if f.base != nil {
		for _, r := range recs {
			if f.base.Apply(r) != nil {
				f.base = nil // read back from the file next time
				break
			}
		}
	}
	if !synced {
		return nil
	}
	return f.syncJournal(f.seq)
}

// writeHeld writes the held lines to the journal, if any. The caller
// holds f.mu.
func (f *FileState) writeHeld() error {
	if len(f.held) == 0 {
		return nil
	}
	if f.broken != nil {
		f.held = f.held[:0]
		return f.broken
	}
	return f.writeLines(f.held)
}

// writeLines writes lines to the journal, then empties the held lines
// (which lines holds, if any are held). The caller holds f.mu.
func (f *FileState) writeLines(lines []byte) error {
	_, err := f.journal.Write(lines)
	f.writes++
	if err == nil {
		f.jourBytes += int64(len(lines))
		f.seq++
	}
	if cap(f.held) > 2*heldLines {
		f.held = nil // a window of intents went through it
	} else {
		f.held = f.held[:0]
	}
	if err != nil {
		f.broken = fmt.Errorf("sync: record state: %w", err)
		f.base = nil // what the journal holds is not known
		return f.broken
	}
	return nil
}

// syncJournal returns once an fsync that began after record upto was
// written has finished: by this call, or by a concurrent one. The
// caller holds f.mu.
func (f *FileState) syncJournal(upto uint64) error {
	for f.flushed < upto && f.broken == nil {
		if f.flushing {
			f.cond.Wait()
			continue
		}
		written, size, j := f.seq, f.jourBytes, f.journal
		f.flushing = true
		f.mu.Unlock()
		err := j.Sync()
		f.mu.Lock()
		f.flushing = false
		f.syncs++
		if err != nil {
			f.broken = fmt.Errorf("sync: record state: %w", err)
			f.base = nil // what the journal holds is not known
		}
		f.flushed, f.syncedSize = written, size
		f.cond.Broadcast()
	}
	return f.broken
}

// openJournal opens the journal for appending after the stored snapshot:
// an existing journal that follows it is kept (Load replayed it), any
// other is started over.
func (f *FileState) openJournal() error {
	j, err := os.OpenFile(f.journalPath(), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	f.journal = j
	head, err := bufio.NewReader(j).ReadString('\n')
	var h journalHead
	if err == nil && json.Unmarshal([]byte(strings.TrimSpace(head)), &h) == nil &&
		h.Journal == stateVersion && h.Serial == f.headSerial {
		f.syncedSize = f.jourBytes
		return ensureNewline(j)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return f.resetJournal()
}

// ensureNewline cuts a torn last line (a crash mid-append) off the
// journal, so the next record does not continue it.
func ensureNewline(j *os.File) error {
	b, err := os.ReadFile(j.Name())
	if err != nil {
		return err
	}
	if i := bytes.LastIndexByte(b, '\n'); i+1 < len(b) {
		return j.Truncate(int64(i + 1))
	}
	return nil
}
