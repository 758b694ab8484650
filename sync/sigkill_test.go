package sync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// The engine of TestSIGKILLDuringInitialSync runs in a child process: this
// test binary again, running only TestSIGKILLChild with these variables set.
const (
	envChild = "PROVSYNC_SIGKILL_CHILD" // the SCIM base URL
	envToken = "PROVSYNC_SIGKILL_TOKEN"
	envState = "PROVSYNC_SIGKILL_STATE"
	envUsers = "PROVSYNC_SIGKILL_USERS"
	envKeep  = "PROVSYNC_SIGKILL_KEEP" // users left in the source, 0 for all
	envRun   = "PROVSYNC_SIGKILL_RUN"  // the engine process's run number
	// headerRun carries the run number on every request of an engine
	// process, so that a request of a killed process still in the
	// server's hands is not taken for one of the next process.
	headerRun = "X-Provsync-Test-Run"
)

// runHeader adds headerRun to every request.
type runHeader struct{ run string }

func (h runHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(headerRun, h.run)
	return http.DefaultTransport.RoundTrip(r)
}

// killDirectory is the source of the SIGKILL test: users users, one group
// per 50, about three memberships each.
func killDirectory(users int) *source.Directory {
	return synth.Generate(synth.Config{Users: users, Groups: max(2, users/50), MembershipsPerUser: 3, Seed: 11})
}

// TestSIGKILLChild is the engine process of TestSIGKILLDuringInitialSync;
// run on its own it does nothing.
func TestSIGKILLChild(t *testing.T) {
	url := os.Getenv(envChild)
	if url == "" {
		t.Skip("the engine process of TestSIGKILLDuringInitialSync")
	}
	users, _ := strconv.Atoi(os.Getenv(envUsers))
	keep, _ := strconv.Atoi(os.Getenv(envKeep))
	dir := killDirectory(users)
	if keep > 0 {
		dir = shrink(dir, keep)
	}
	c, err := netskope.New(url, os.Getenv(envToken), netskope.WithRateLimit(0, 0),
		netskope.WithHTTPClient(&http.Client{Transport: runHeader{os.Getenv(envRun)}}))
	if err != nil {
		t.Fatal(err)
	}
	st := sync.NewFileState(os.Getenv(envState))
	defer st.Close()
	eng, err := sync.New(file.FromDirectory(dir), c, sync.WithState(st), sync.WithConcurrency(8))
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Apply(context.Background(), p, sync.Confirm())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed > 0 {
		t.Fatalf("%s: %v", res.SummaryLine(), res.Err())
	}
	fmt.Printf("changes=%d\n", len(p.Changes))
}

// killServer is the embedded Netskope server in the test process; it
// SIGKILLs the engine process when it receives the write it was told to.
type killServer struct {
	srv    *netskopetest.Server
	url    string
	writes atomic.Int64
	mu     gosync.Mutex
	runNo  int64 // the current engine process's run number
	// runWrites counts the writes of the current engine process.
	runWrites int64
	killAt    int64
	child     *os.Process
	killed    bool
	probed    bool
	// probe runs at the first write of each engine process, while that
	// process holds the state.
	probe func()
}

func newKillServer(t *testing.T) *killServer {
	k := &killServer{srv: netskopetest.NewUnstartedServer()}
	h := k.srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			k.writes.Add(1)
			k.mu.Lock()
			current := k.child != nil && r.Header.Get(headerRun) == strconv.FormatInt(k.runNo, 10)
			if current {
				k.runWrites++
			}
			if current && !k.probed && k.probe != nil {
				k.probed = true
				k.probe()
			}
			if current && k.runWrites == k.killAt && !k.killed {
				k.killed = true
				_ = k.child.Kill() // SIGKILL; this request and the others in flight still land
			}
			k.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	k.url = ts.URL + netskopetest.BasePath
	return k
}

// run runs the engine process; killAt > 0 kills it at that many writes
// from now. It reports whether the process was killed, and its output.
func (k *killServer) run(t *testing.T, state string, users, keep int, killAt int64) (bool, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+k.url, envToken+"="+k.srv.Token(), envState+"="+state,
		envUsers+"="+strconv.Itoa(users), envKeep+"="+strconv.Itoa(keep), envRun+"="+strconv.FormatInt(k.runNo+1, 10))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	k.mu.Lock()
	if err := cmd.Start(); err != nil {
		k.mu.Unlock()
		t.Fatal(err)
	}
	k.child, k.killed, k.probed, k.killAt = cmd.Process, false, false, killAt
	k.runNo, k.runWrites = k.runNo+1, 0
	k.mu.Unlock()
	err := cmd.Wait()
	k.mu.Lock()
	killed := k.killed
	k.child = nil
	k.mu.Unlock()
	if err != nil && !killed {
		t.Fatalf("engine process failed: %v\n%s", err, out.String())
	}
	return killed, out.String()
}

// TestSIGKILLDuringInitialSync kills the engine process (SIGKILL) at
// random points of an initial sync, then runs it to the end with a source
// shrunk to a fifth: no duplicates, no target user it does not own, every
// link labelled created, and every user gone from the source deactivated.
// PROVSYNC_SIGKILL_FIGURE=1 runs the figure: 5,000 users, 20 kills,
// then 1,000 users:
//
//	PROVSYNC_SIGKILL_FIGURE=1 go test ./sync -run TestSIGKILLDuringInitialSync -v
func TestSIGKILLDuringInitialSync(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("in the engine process")
	}
	users, kills := 300, 5
	if os.Getenv("PROVSYNC_SIGKILL_FIGURE") != "" {
		users, kills = 5000, 20
	} else if testing.Short() {
		t.Skip("runs engine processes")
	}
	keep := users / 5
	dir := killDirectory(users)
	// About as many writes as users and groups: the span the kill points
	// are drawn from, spread so that the kills fall across the sync.
	span := int64(len(dir.Users)+len(dir.Groups)) * 2 / int64(kills+1)
	k := newKillServer(t)
	state := filepath.Join(t.TempDir(), "state.json")
	// While an engine process applies, this process cannot use its state.
	var probes, locked int
	k.probe = func() {
		probes++
		st := sync.NewFileState(state)
		defer st.Close()
		if _, err := st.Load(context.Background()); errors.Is(err, sync.ErrLocked) {
			locked++
		}
	}
	rng := rand.New(rand.NewPCG(20261201, 6))
	done := 0
	for i := 0; i < kills; i++ {
		at := 1 + rng.Int64N(span)
		killed, _ := k.run(t, state, users, 0, at)
		if !killed {
			break // the sync finished before the kill point
		}
		done++
	}
	before := k.writes.Load()
	k.run(t, state, users, keep, 0)
	shrunkWrites := k.writes.Load() - before
	before = k.writes.Load()
	if _, out := k.run(t, state, users, keep, 0); k.writes.Load() != before {
		t.Errorf("a further run wrote %d times; want 0 (converged)\n%s", k.writes.Load()-before, out)
	}

	st := sync.NewFileState(state)
	defer st.Close()
	snap, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := auditTarget(k.srv.Users(), snap)
	wantActive := keep - countState(shrink(dir, keep), source.StateSuspended, source.StateDeleted)
	t.Logf("%d SIGKILLs during the initial sync of %d users, then a run with %d users (%d writes): "+
		"%d target users, %d duplicates, %d unowned, links %d created / %d adopted, %d active (want %d)",
		done, users, keep, shrunkWrites, a.Users, a.Duplicates, a.Unowned, a.Created, a.Adopted, a.Active, wantActive)
	// No debris: interrupted saves' temporaries are gone.
	if got, want := names(t, filepath.Dir(state)), []string{"state.json", "state.json.journal", "state.json.lock"}; !slices.Equal(got, want) {
		t.Errorf("the state's directory holds %v, want %v", got, want)
	}
	if probes == 0 || locked != probes {
		t.Errorf("%d of %d loads of the state during an engine process's apply got ErrLocked; want all", locked, probes)
	}
	if done < kills/2 {
		t.Errorf("only %d of %d kills landed before the sync finished", done, kills)
	}
	if a.Duplicates != 0 || a.Unowned != 0 || a.Adopted != 0 {
		t.Errorf("duplicates %d, unowned %d, adopted %d; want 0 each", a.Duplicates, a.Unowned, a.Adopted)
	}
	if a.Active != wantActive {
		t.Errorf("%d target users active, want %d", a.Active, wantActive)
	}
	for _, g := range k.srv.Groups() {
		owned := false
		for _, l := range snap.Groups {
			owned = owned || l.TargetID == g.ID
		}
		if !owned {
			t.Errorf("group %q is not owned", g.DisplayName)
		}
	}
}
