package sync_test

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provsync/provsync/sync"
)

// TestPlanLeavesTheStoredLinks: a FileState lends the engine its copy of
// the links instead of copying them for each plan. A plan whose snapshot
// changes links (it claims a link stored before links named their source,
// and links the object an interrupted create landed) and that is never
// applied leaves the state's copy as the files hold it: Load, which
// answers from the copy, and a fresh read of the files agree with what
// was saved.
func TestPlanLeavesTheStoredLinks(t *testing.T) {
	e := newEnv(t, 12, 2)
	path := filepath.Join(t.TempDir(), "state.json")
	fs := sync.NewFileState(path)
	defer func() { _ = fs.Close() }()
	e.state = fs
	eng := e.engine()
	e.apply(eng)

	snap, err := fs.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := slices.Sorted(maps.Keys(snap.Users))
	legacy, lost := ids[0], ids[1]
	l := snap.Users[legacy]
	l.Source = ""
	snap.Users[legacy] = l
	gone := snap.Users[lost]
	delete(snap.Users, lost)
	u := e.targetUser(gone.TargetID)
	snap.Intents = map[string]sync.Intent{"user:" + lost: {Kind: sync.KindUser, SourceID: lost, Key: u.UserName,
		ExternalID: u.ExternalID, Since: gone.Since}}
	snap.Serial++
	if err := fs.Save(ctx(t), snap); err != nil {
		t.Fatal(err)
	}
	want := stateJSON(t, fs)

	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.CreateUsers != 0 {
		t.Fatalf("plan %s; want the landed create reclaimed, not created again", p.SummaryLine())
	}
	if got := stateJSON(t, fs); got != want {
		t.Errorf("the plan changed the state's copy of the links:\n got %s\nwant %s", got, want)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := sync.NewFileState(path)
	defer func() { _ = fresh.Close() }()
	if got := stateJSON(t, fresh); got != want {
		t.Errorf("the state's files hold\n%s\nwant %s", got, want)
	}
}

// stateJSON is the JSON of what st loads.
func stateJSON(t *testing.T, st sync.State) string {
	t.Helper()
	s, err := st.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
