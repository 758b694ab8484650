package sync_test

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
)

// feed is an incremental source over an in-memory directory: it keeps
// every version it served and reports the difference since the version a
// cursor names, as a provider's change feed would.
type feed struct {
	mu       gosync.Mutex
	versions []*source.Directory
	current  *source.Directory
	expired  bool     // the next cursor read answers ErrCursorExpired
	cursors  []string // cursors ReadChanges was called with
}

var _ source.Incremental = (*feed)(nil)

func (f *feed) Name() string { return "feed" }

func (f *feed) Read(ctx context.Context) (*source.Directory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current.Clone(), nil
}

func (f *feed) set(d *source.Directory) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = d.Clone()
}

func (f *feed) ReadChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursors = append(f.cursors, cursor)
	cur := f.current.Clone()
	f.versions = append(f.versions, cur)
	next := strconv.Itoa(len(f.versions) - 1)
	if cursor == "" {
		out := cur.Clone() // the caller owns what it gets, as it may drop the users' attributes
		return &source.Changes{Users: out.Users, Groups: out.Groups, Cursor: next, Full: true}, nil
	}
	if f.expired {
		f.expired = false
		return nil, source.ErrCursorExpired
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n >= len(f.versions) {
		return nil, source.ErrCursorExpired
	}
	prev := f.versions[n]
	ch := &source.Changes{Cursor: next}
	pu := map[string]source.User{}
	for _, u := range prev.Users {
		pu[u.ID] = u
	}
	seen := map[string]bool{}
	for _, u := range cur.Users {
		seen[u.ID] = true
		if old, ok := pu[u.ID]; !ok || !reflect.DeepEqual(old, u) {
			ch.Users = append(ch.Users, u)
		}
	}
	for id := range pu {
		if !seen[id] {
			ch.RemovedUsers = append(ch.RemovedUsers, id)
		}
	}
	pg := map[string]source.Group{}
	for _, g := range prev.Groups {
		pg[g.ID] = g
	}
	seenG := map[string]bool{}
	for _, g := range cur.Groups {
		seenG[g.ID] = true
		if old, ok := pg[g.ID]; !ok || !reflect.DeepEqual(old, g) {
			ch.Groups = append(ch.Groups, g)
		}
	}
	for id := range pg {
		if !seenG[id] {
			ch.RemovedGroups = append(ch.RemovedGroups, id)
		}
	}
	return ch, nil
}

func TestIncrementalReads(t *testing.T) {
	_, c := newTarget(t)
	dir := synth.Generate(synth.Config{Users: 30, Groups: 3, MembershipsPerUser: 2, Seed: 11})
	f := &feed{}
	f.set(dir)
	state := sync.NewMemoryState()
	eng, err := sync.New(f, c, sync.WithState(state))
	if err != nil {
		t.Fatal(err)
	}
	run := func() *sync.Plan {
		t.Helper()
		p, res, err := eng.Sync(context.Background())
		if err != nil || (res != nil && res.Failed > 0) {
			t.Fatalf("Run: %v %v", err, res.Err())
		}
		return p
	}
	if p := run(); p.Incremental || p.Summary.CreateUsers == 0 {
		t.Fatalf("first run: incremental=%v, %+v", p.Incremental, p.Summary)
	}
	i := firstActive(dir)
	dir.Users[i].DisplayName = "Changed Name"
	f.set(dir)
	p := run()
	if !p.Incremental || p.Summary.UpdateUsers != 1 || len(p.Changes) != 1 {
		t.Fatalf("after one change: incremental=%v %+v", p.Incremental, p.Summary)
	}
	if got := f.cursors[len(f.cursors)-1]; got == "" {
		t.Fatal("the second run did not pass the stored cursor")
	}
	if p := run(); !p.Empty() || !p.Incremental {
		t.Fatalf("third run: %d changes, incremental=%v", len(p.Changes), p.Incremental)
	}

	// Reapply reads the source in full although it could read changes.
	n0 := len(f.cursors)
	if p, err := eng.Plan(context.Background(), sync.Reapply()); err != nil || p.Incremental || !p.Empty() {
		t.Fatalf("Reapply: %v, incremental=%v", err, p != nil && p.Incremental)
	}
	if got := f.cursors[n0:]; len(got) != 1 || got[0] != "" {
		t.Errorf("Reapply read with cursors %q, want one full read", got)
	}

	// A removal arrives as a removal and deactivates.
	dir.Users[i], dir.Users[len(dir.Users)-1] = dir.Users[len(dir.Users)-1], dir.Users[i]
	keepUsers(dir, len(dir.Users)-1)
	f.set(dir)
	if p := run(); !p.Incremental || p.Summary.DeactivateUsers != 1 || p.Summary.CreateUsers+p.Summary.UpdateUsers+p.Summary.DeleteUsers != 0 {
		t.Fatalf("removal planned as %+v (incremental=%v)", p.Summary, p.Incremental)
	}

	// An expired cursor falls back to a full read and still converges.
	f.mu.Lock()
	f.expired = true
	f.mu.Unlock()
	n := len(f.cursors)
	if p := run(); !p.Empty() || p.Incremental {
		t.Fatalf("after an expired cursor: %d changes, incremental=%v", len(p.Changes), p.Incremental)
	}
	if len(f.cursors) != n+2 || f.cursors[n+1] != "" {
		t.Errorf("cursors used %v, want the stored one then a full read", f.cursors[n:])
	}

	// The state survives a round trip through a file, typed attributes too.
	snap, err := state.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fs := sync.NewFileState(t.TempDir() + "/state.json")
	t.Cleanup(func() { fs.Close() })
	snap.Serial = 1 // a fresh state's first save
	if err := fs.Save(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	back, err := fs.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cachedDir(t, back.Directories["feed"]), cachedDir(t, snap.Directories["feed"])) {
		t.Error("the cached directory changed through the state file")
	}
}

// TestIncrementalPlanEncodesNoCache: a plan over a FileState holds no
// encoding of the source's directory. A full read's is written to a
// directory file as it is encoded; one that folds a batch of changes into
// the cache makes none (it would hold one next to the state's, through
// the mapping and the plan), and neither does a no-op. The apply's save
// folds the changes into the old file, and what it stores is the source's
// directory, encoded as a full read's would be. The applied plan, which a
// caller may keep, holds neither the old cache nor the new, and the state
// keeps the new one in its file only.
func TestIncrementalPlanEncodesNoCache(t *testing.T) {
	ctx := context.Background()
	_, c := newTarget(t)
	dir := synth.Generate(synth.Config{Users: 40, Groups: 4, MembershipsPerUser: 2, Seed: 5})
	f := &feed{}
	f.set(dir)
	path := t.TempDir() + "/state.json"
	st := sync.NewFileState(path)
	defer st.Close()
	eng, err := sync.New(f, c, sync.WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	sync1 := func(opts ...sync.RunOption) *sync.Plan {
		t.Helper()
		p, res, err := eng.Sync(ctx, opts...)
		if err != nil || res.Failed > 0 {
			t.Fatalf("Sync: %v %v", err, res.Err())
		}
		return p
	}
	for _, opts := range [][]sync.RunOption{nil, {sync.Reapply()}} {
		if p := sync1(opts...); sync.EncodedForCache(p) != 0 || !sync.CacheInFile(st, "feed") {
			t.Fatalf("a full read encoded %d bytes of directory in memory, and its cache is in its file only: %v; want none and true",
				sync.EncodedForCache(p), sync.CacheInFile(st, "feed"))
		}
	}
	dir.Users[firstActive(dir)].DisplayName = "Changed Name"
	dir.Users = append(dir.Users, source.User{ID: "hire", UserName: "hire@example.com", GivenName: "Hire", FamilyName: "New"})
	dir.Groups[1].Members = append(dir.Groups[1].Members, "hire")
	f.set(dir)
	if p, err := eng.Plan(ctx); err != nil || !sync.HoldsCache(p) {
		t.Fatalf("a plan not applied yet: %v; want it to hold the cache to fold its changes into", err)
	}
	p := sync1()
	if !p.Incremental || p.Summary.UpdateUsers != 1 || p.Summary.CreateUsers != 1 {
		t.Fatalf("after the changes: incremental %v, %s", p.Incremental, p.SummaryLine())
	}
	if n := sync.EncodedForCache(p); n != 0 {
		t.Fatalf("the incremental plan encoded %d bytes of directory; want none", n)
	}
	if sync.HoldsCache(p) {
		t.Fatal("the applied plan still holds a cached directory")
	}
	if !sync.CacheInFile(st, "feed") {
		t.Fatal("after the save the state holds the cached directory in memory; want it in its file only")
	}
	if p := sync1(); !p.Empty() || sync.EncodedForCache(p) != 0 {
		t.Fatalf("no-op: %d changes, %d bytes encoded; want none", len(p.Changes), sync.EncodedForCache(p))
	}
	// What was saved is the source's directory, read back by a new state.
	checkSavedCache(t, st, path, dir)
}

// checkSavedCache closes st and checks, with a new state on its file at
// path, that the feed's cached directory saved there is dir.
func checkSavedCache(t *testing.T, st *sync.FileState, path string, dir *source.Directory) {
	t.Helper()
	again := sync.NewFileState(path)
	st.Close()
	defer again.Close()
	snap, err := again.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := snap.Directories["feed"].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want, err := dir.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the cached directory differs from the source's")
	}
}

// TestStagedDirectoryOfAPlanNotAppliedIsRemoved: the directory file a
// plan's full read writes before any snapshot refers to it is removed by
// the next save when that plan is not applied, so that only the saved
// snapshot's directory stays beside the state.
func TestStagedDirectoryOfAPlanNotAppliedIsRemoved(t *testing.T) {
	ctx := context.Background()
	_, c := newTarget(t)
	dir := synth.Generate(synth.Config{Users: 30, Groups: 3, MembershipsPerUser: 2, Seed: 6})
	f := &feed{}
	f.set(dir)
	tmp := t.TempDir()
	st := sync.NewFileState(filepath.Join(tmp, "state.json"))
	defer st.Close()
	eng, err := sync.New(f, c, sync.WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	files := func() []string {
		m, err := filepath.Glob(filepath.Join(tmp, "state.json.dir-*"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if _, _, err := eng.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	dir.Users[firstActive(dir)].DisplayName = "Changed Name"
	f.set(dir)
	if _, err := eng.Plan(ctx, sync.Reapply()); err != nil {
		t.Fatal(err)
	}
	if n := len(files()); n != 2 {
		t.Fatalf("%d directory files after a full read's plan; want the saved one and the plan's", n)
	}
	if _, _, err := eng.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := files(); len(got) != 1 {
		t.Fatalf("directory files after the next save: %q; want the saved snapshot's only", got)
	}
}

// attrSpy maps as the default mapping does, says it reads only names
// (or, when unknown, that it cannot tell which), and counts the users it
// is given holding any other attribute.
type attrSpy struct {
	names   []string
	unknown bool
	other   *int
}

func (s attrSpy) SourceAttributes() ([]string, bool) { return s.names, !s.unknown }

func (s attrSpy) Map(ctx context.Context, dir *source.Directory) (*mapping.Desired, error) {
	*s.other = countOther(dir, s.names...)
	return mapping.Default().Map(ctx, dir)
}

// countOther counts the users of dir holding an attribute not in names.
func countOther(dir *source.Directory, names ...string) int {
	n := 0
	for _, u := range dir.Users {
		for k := range u.Attributes.All() {
			if !slices.Contains(names, k) {
				n++
				break
			}
		}
	}
	return n
}

// TestIncrementalReadsMapOnlyMappedAttributes: the mapping of an
// incremental source's full read, and of a plan folding changes into a
// cache held in a FileState's file, is given the attributes the mapping
// reads alone: the fold decodes the cache with those alone (see also
// TestIncrementalReadFoldsInPlace), and the others, of the full read and
// of the changed users as the source sent them, are dropped once the
// cache is encoded. The cache saved keeps every attribute.
func TestIncrementalReadsMapOnlyMappedAttributes(t *testing.T) {
	ctx := context.Background()
	_, c := newTarget(t)
	dir := synth.Generate(synth.Config{Users: 40, Groups: 4, MembershipsPerUser: 2, Seed: 7})
	f := &feed{}
	f.set(dir)
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	defer st.Close()
	var other int
	eng, err := sync.New(f, c, sync.WithState(st), sync.WithMapper(attrSpy{names: []string{synth.AttrDepartment}, other: &other}))
	if err != nil {
		t.Fatal(err)
	}
	if withOther := countOther(dir, synth.AttrDepartment); withOther < 10 {
		t.Fatalf("%d users have attributes other than %s; the test needs more", withOther, synth.AttrDepartment)
	}
	if _, res, err := eng.Sync(ctx); err != nil || res.Failed > 0 {
		t.Fatalf("initial Sync: %v %v", err, res.Err())
	}
	if other > 0 {
		t.Errorf("the full read gave the mapping %d users with attributes it does not read; want none", other)
	}
	dir.Users[firstActive(dir)].DisplayName = "Changed Name"
	f.set(dir)
	p, res, err := eng.Sync(ctx)
	if err != nil || res.Failed > 0 || !p.Incremental || p.Summary.UpdateUsers != 1 {
		t.Fatalf("incremental Sync: %v %v; incremental %v, %s", err, res.Err(), p.Incremental, p.SummaryLine())
	}
	if other > 0 {
		t.Errorf("the fold gave the mapping %d users with attributes it does not read; want none", other)
	}
	checkSavedCache(t, st, path, dir)
}
