package pgstate

import (
	"context"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

type cycles chan sync.CycleReport

func (c cycles) ChangeDone(sync.ChangeEvent)    {}
func (c cycles) CycleDone(rep sync.CycleReport) { c <- rep }

// TestThreeRunnersFailOver: three Runners, each with its own State and
// client, sync one target from one database. Runner 0 leads; at its 10th
// create the other two start, and their cycles are refused
// (state-locked); then runner 0's lock session is terminated. Its cycle
// stops there; each create the server receives comes from the Runner
// whose session holds the lock at that moment; the first standby to
// cycle next takes over and converges the target, with no create sent
// twice; and its next cycle has nothing to do.
func TestThreeRunnersFailOver(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	srv := netskopetest.New(t)
	dir := synth.Generate(synth.Config{Users: 30, Groups: 3, MembershipsPerUser: 1, Seed: 11})
	const n, killAt = 3, 10

	var mu gosync.Mutex
	posts := 0
	standby := make([]sync.CycleReport, n) // first cycles of runners 1 and 2
	var start func(i int)
	var problems []string
	states := make([]*State, n)
	clocks := make([]*clocktest.Clock, n)
	runners := make([]*sync.Runner, n)
	reports := make([]cycles, n)
	// holds reports whether runner i's lock session holds the lock now.
	holds := func(i int) bool {
		states[i].mu.Lock()
		defer states[i].mu.Unlock()
		if states[i].lockConn == nil {
			return false
		}
		held, err := states[i].lockHeld(ctx, pool)
		if err != nil {
			t.Error(err)
		}
		return held
	}
	for i := range n {
		states[i] = open(t, pool, "acme")
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				mu.Lock()
				posts++
				if !holds(i) {
					problems = append(problems, "runner "+string(rune('A'+i))+" sent a create without the lock")
				}
				if posts == killAt {
					// The standbys start and are refused while the
					// leader lives; then its lock session ends.
					for j := 1; j < n; j++ {
						start(j)
						standby[j] = <-reports[j]
					}
					terminateLeader(t, pool, states[i])
				}
				mu.Unlock()
			}
			srv.Handler().ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		client, err := netskope.New(front.URL+netskopetest.BasePath, srv.Token(), netskope.WithRateLimit(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		eng, err := sync.New(static{dir}, client, sync.WithState(states[i]), sync.WithTargetName("acme"), sync.WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		clocks[i] = clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		reports[i] = make(cycles, 16)
		if runners[i], err = sync.NewRunner(eng, sync.WithRunnerClock(clocks[i]), sync.WithObserver(reports[i])); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg gosync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	start = func(i int) {
		wg.Add(1)
		go func() { defer wg.Done(); runners[i].Run(runCtx) }()
	}
	start(0) // the leader: the others start while it applies
	rep := <-reports[0]
	if rep.Outcome == sync.CycleSucceeded || rep.Reason != sync.ReasonStateLocked {
		t.Fatalf("the killed leader's cycle: %s (%s) %s; want failed, state-locked", rep.Outcome, rep.Reason, rep.Error)
	}
	mu.Lock()
	if sent := posts; sent != killAt {
		t.Errorf("the killed leader sent %d creates; it lost its lock at the %dth", sent, killAt)
	}
	mu.Unlock()
	for i := 1; i < n; i++ {
		if standby[i].Outcome == sync.CycleSucceeded || standby[i].Reason != sync.ReasonStateLocked {
			t.Fatalf("runner %d's cycle while the leader lived: %s (%s) %s; want state-locked", i, standby[i].Outcome, standby[i].Reason, standby[i].Error)
		}
	}
	// Then a cycle of one Runner at a time.
	succeeded := -1
	for j := range n {
		i := []int{1, 2, 0}[j] // the standbys first: they take over
		clocks[i].BlockUntil(1)
		clocks[i].AdvanceTo(runners[i].Status().NextCycle)
		rep := <-reports[i]
		if rep.Outcome == sync.CycleSucceeded {
			succeeded = i
			break
		}
		if rep.Reason != sync.ReasonStateLocked {
			t.Fatalf("runner %d: %s (%s) %s", i, rep.Outcome, rep.Reason, rep.Error)
		}
	}
	if succeeded != 1 {
		t.Fatalf("the first standby to cycle after the leader died (runner 1) did not take over; runner %d did", succeeded)
	}
	// The new leader's next cycle has nothing to do.
	clocks[succeeded].BlockUntil(1)
	clocks[succeeded].AdvanceTo(runners[succeeded].Status().NextCycle)
	rep = <-reports[succeeded]
	planned := rep.Planned
	planned.UnchangedUsers, planned.UnchangedGroups = 0, 0
	if rep.Outcome != sync.CycleSucceeded || rep.Applied != 0 || planned != (sync.Summary{}) {
		t.Errorf("the new leader's next cycle: %s, planned %+v, applied %d; want nothing to do", rep.Outcome, rep.Planned, rep.Applied)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	want := len(dir.Users) + len(dir.Groups)
	if posts != want || srv.UserCount() != len(dir.Users) || srv.GroupCount() != len(dir.Groups) {
		t.Fatalf("%d creates received, the server holds %d users and %d groups; want %d creates, %d, %d",
			posts, srv.UserCount(), srv.GroupCount(), want, len(dir.Users), len(dir.Groups))
	}
}
