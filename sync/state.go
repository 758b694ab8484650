package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	gosync "sync"
	"time"
)

// ErrStateCorrupt is returned when a saved state cannot be read back.
var ErrStateCorrupt = errors.New("sync: state is corrupt")

// Origin tells how the engine came to own a target object.
type Origin string

// Origins of owned objects.
const (
	// OriginCreated: the engine created the object.
	OriginCreated Origin = "created"
	// OriginAdopted: the object existed and the engine matched it to a
	// source object and took it over.
	OriginAdopted Origin = "adopted"
)

// Link ties a source object to the target object the engine owns for it.
type Link struct {
	// TargetID is the object's id in the target.
	TargetID string `json:"targetId"`
	// Origin says whether the engine created or adopted it.
	Origin Origin `json:"origin"`
	// Since is when the link was made.
	Since time.Time `json:"since"`
	// DeactivatedAt is when the engine deactivated the user (or first saw
	// it deactivated), for policies that delete after a delay; zero while
	// the user is active.
	DeactivatedAt time.Time `json:"deactivatedAt,omitzero"`
}

// Snapshot is everything the engine remembers between runs.
type Snapshot struct {
	// Serial grows by one at every save; a plan records the serial it was
	// made from so a stale plan is refused.
	Serial int64 `json:"serial"`
	// Users maps source user ids to owned target users.
	Users map[string]Link `json:"users"`
	// Groups maps source group keys to owned target groups.
	Groups map[string]Link `json:"groups"`
	// Cursors holds incremental read cursors by source name.
	Cursors map[string]string `json:"cursors,omitempty"`
	// Directories holds, by source name, the directory an incremental
	// source last yielded, which its next changes are folded into.
	Directories map[string]*CachedDirectory `json:"directories,omitempty"`
	// Approvals holds the changes policy sends for approval, by id.
	Approvals map[string]*Approval `json:"approvals,omitempty"`
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{Users: map[string]Link{}, Groups: map[string]Link{}, Cursors: map[string]string{}}
}

// Clone returns a deep copy of s.
func (s *Snapshot) Clone() *Snapshot {
	c := &Snapshot{Serial: s.Serial,
		Users:   make(map[string]Link, len(s.Users)),
		Groups:  make(map[string]Link, len(s.Groups)),
		Cursors: make(map[string]string, len(s.Cursors))}
	for k, v := range s.Users {
		c.Users[k] = v
	}
	for k, v := range s.Groups {
		c.Groups[k] = v
	}
	for k, v := range s.Cursors {
		c.Cursors[k] = v
	}
	if len(s.Approvals) > 0 {
		c.Approvals = make(map[string]*Approval, len(s.Approvals))
		for k, v := range s.Approvals {
			a := *v
			c.Approvals[k] = &a
		}
	}
	if len(s.Directories) > 0 {
		c.Directories = make(map[string]*CachedDirectory, len(s.Directories))
		for k, v := range s.Directories {
			c.Directories[k] = &CachedDirectory{Dir: v.Dir.Clone()}
		}
	}
	return c
}

func (s *Snapshot) normalize() {
	if s.Users == nil {
		s.Users = map[string]Link{}
	}
	if s.Groups == nil {
		s.Groups = map[string]Link{}
	}
	if s.Cursors == nil {
		s.Cursors = map[string]string{}
	}
}

// State stores the engine's snapshot between runs.
type State interface {
	// Load returns the saved snapshot, or an empty one if none was saved.
	Load(ctx context.Context) (*Snapshot, error)
	// Save stores s, replacing the previous snapshot atomically: after a
	// crash either the old or the new snapshot is read back, never a mix.
	Save(ctx context.Context, s *Snapshot) error
}

// MemoryState is a State held in memory, for tests and one-shot runs.
type MemoryState struct {
	mu   gosync.Mutex
	snap *Snapshot
}

var _ State = (*MemoryState)(nil)

// NewMemoryState returns an empty in-memory state.
func NewMemoryState() *MemoryState { return &MemoryState{} }

// Load returns a copy of the stored snapshot.
func (m *MemoryState) Load(context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		return NewSnapshot(), nil
	}
	return m.snap.Clone(), nil
}

// Save stores a copy of s.
func (m *MemoryState) Save(_ context.Context, s *Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snap = s.Clone()
	return nil
}

// FileState is a State kept in one JSON file. Save writes a temporary file
// in the same directory, syncs it and renames it over the old one, so a
// crash leaves either the old or the new state.
type FileState struct {
	path string
	mu   gosync.Mutex
}

var _ State = (*FileState)(nil)

// NewFileState returns a State stored at path. The file is created by the
// first Save; its directory must exist.
func NewFileState(path string) *FileState { return &FileState{path: path} }

// Load reads the state file; a missing file is an empty state.
func (f *FileState) Load(context.Context) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewSnapshot(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: load state %s: %w", f.path, err)
	}
	s := NewSnapshot()
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStateCorrupt, f.path, err)
	}
	s.normalize()
	return s, nil
}

// Save writes s atomically.
func (f *FileState) Save(_ context.Context, s *Snapshot) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, ".provsync-state-*")
	if err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("sync: save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("sync: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	return nil
}
