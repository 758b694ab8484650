package pgstate

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/sync/pgstate/pgtest"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

type cycles chan sync.CycleReport

func (c cycles) ChangeDone(sync.ChangeEvent)    {}
func (c cycles) CycleDone(rep sync.CycleReport) { c <- rep }

// busyDay returns dir after the changes of changed, plus four hires:
// a plan of creates, updates, deactivations and member changes.
func busyDay(dir *source.Directory) *source.Directory {
	c := changed(dir)
	hires := synth.Generate(synth.Config{Users: 4, Seed: 99, Domain: "hired.example.com"})
	c.Users = append(c.Users, hires.Users...)
	for i, u := range hires.Users {
		g := &c.Groups[i%len(c.Groups)]
		g.Members = append(g.Members, u.ID)
	}
	return c
}

// TestThreeRunnersFailOver: three Runners, each with its own State and
// client, sync one target from one database, the target already
// provisioned from an earlier directory. The plan holds creates, updates,
// deactivations and member changes. Runner 0 leads; at its 10th write
// request (an update) the other two start, and their cycles stand by (state-locked);
// then runner 0's lock session is terminated. Its cycle stops there, a
// standby cycle. Every write request the server receives comes from the
// Runner whose session holds the lock at that moment (one leader at a
// time), and no Runner writes after another has; the first standby to
// cycle next takes over and converges the target; the writes of all
// Runners add up to the plan's, none sent twice; and the new leader's
// next cycle has nothing to do.
func TestThreeRunnersFailOver(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	srv := netskopetest.New(t)
	const n, killAt = 3, 11
	dir := synth.Generate(synth.Config{Users: 30, Groups: 4, MembershipsPerUser: 1, Seed: 11})
	src := static{dir.Clone()}

	// An earlier process provisioned dir, and ended.
	direct, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	first := open(t, pool, "acme")
	eng, err := sync.New(src, direct, sync.WithState(first), sync.WithTargetName("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	*src.dir = *busyDay(dir)
	p, err := eng.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := requestOf(p)
	needed := req[len(req)-1] // no group outgrows a chunk
	if s := p.Summary; s.CreateUsers == 0 || s.UpdateUsers == 0 || s.DeactivateUsers == 0 || s.AddMembers == 0 || needed <= killAt {
		t.Fatalf("the plan (%+v) should create, update, deactivate and add members, and outlast write %d", s, killAt)
	}
	// The lock is lost at an update followed by another: no record of the
	// leader's own (a create's link, a deactivation's time) would stop it.
	if a, b := p.Changes[killAt-1].Action, p.Changes[killAt].Action; a != sync.ActionUpdateUser || b != sync.ActionUpdateUser {
		t.Fatalf("changes %d and %d are %s and %s; want two updates", killAt, killAt+1, a, b)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}

	var mu gosync.Mutex
	var writers []int                      // the Runner of each write request, in order
	reads := make([]int, n)                // GET requests by Runner
	listed := make([]int, n)               // of which listings, not reads by id
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
			if r.Method == http.MethodGet {
				mu.Lock()
				reads[i]++
				if strings.HasSuffix(r.URL.Path, "/Users") || strings.HasSuffix(r.URL.Path, "/Groups") {
					listed[i]++
				}
				mu.Unlock()
			} else {
				mu.Lock()
				if j, ok := pgtest.Interleaved(writers, i); ok {
					problems = append(problems, fmt.Sprintf("runner %d wrote again after runner %d had", i, j))
				}
				writers = append(writers, i)
				if !holds(i) {
					problems = append(problems, fmt.Sprintf("runner %d sent %s %s without the lock", i, r.Method, r.URL.Path))
				}
				if len(writers) == killAt {
					// The standbys start and stand by while the leader
					// lives; then its lock session ends.
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
		eng, err := sync.New(src, client, sync.WithState(states[i]), sync.WithTargetName("acme"), sync.WithConcurrency(1))
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
	if rep.Outcome != sync.CycleStandby || rep.Reason != sync.ReasonStateLocked {
		t.Fatalf("the killed leader's cycle: %s (%s) %s; want standby, state-locked", rep.Outcome, rep.Reason, rep.Error)
	}
	mu.Lock()
	if sent := len(writers); sent != killAt {
		t.Errorf("the killed leader sent %d write requests; it lost its lock at the %dth", sent, killAt)
	}
	mu.Unlock()
	for i := 1; i < n; i++ {
		if standby[i].Outcome != sync.CycleStandby || standby[i].Reason != sync.ReasonStateLocked {
			t.Fatalf("runner %d's cycle while the leader lived: %s (%s) %s; want standby, state-locked", i, standby[i].Outcome, standby[i].Reason, standby[i].Error)
		}
	}
	// Then a cycle of one Runner at a time, one interval later: the
	// standbys first.
	succeeded := -1
	mu.Lock()
	readsBefore, listedBefore := reads[1], listed[1]
	mu.Unlock()
	for _, i := range []int{1, 2, 0} {
		clocks[i].BlockUntil(1)
		clocks[i].AdvanceTo(runners[i].Status().NextCycle)
		rep := <-reports[i]
		if rep.Outcome == sync.CycleSucceeded {
			succeeded = i
			break
		}
		if rep.Outcome != sync.CycleStandby {
			t.Fatalf("runner %d: %s (%s) %s", i, rep.Outcome, rep.Reason, rep.Error)
		}
	}
	if succeeded != 1 {
		t.Fatalf("the first standby to cycle after the leader died (runner 1) did not take over; runner %d did", succeeded)
	}
	mu.Lock()
	// What the failover cost: the new leader reads by id the objects the
	// old one left unfinished, lists nothing, and sends the rest.
	t.Logf("failover: the new leader's first cycle sent %d reads and %d writes (the rest of the plan's %d)",
		reads[1]-readsBefore, len(writers)-killAt, needed)
	if l := listed[1] - listedBefore; l != 0 {
		t.Errorf("the new leader's first cycle listed %d pages; want reads by id only", l)
	}
	mu.Unlock()
	if st := runners[0].Status(); st.State != "standby" || st.Quarantine != nil {
		t.Errorf("the old leader's status: %q, quarantine %+v; want standby", st.State, st.Quarantine)
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
	want := busyDay(dir)
	if len(writers) != needed || srv.UserCount() != len(want.Users) || srv.GroupCount() != len(want.Groups) {
		t.Fatalf("%d write requests received, the server holds %d users and %d groups; want %d writes, %d, %d",
			len(writers), srv.UserCount(), srv.GroupCount(), needed, len(want.Users), len(want.Groups))
	}
}
