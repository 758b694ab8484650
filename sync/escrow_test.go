package sync_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// escrowEnv is a source of n active users and the embedded server, with
// a client that does not retry, so that each injected 500 fails its change.
type escrowEnv struct {
	srv    *netskopetest.Server
	client *netskope.Client
	dir    *source.Directory
	src    *feed
	doomed string // the userName whose create the server fails
}

func newEscrowEnv(t *testing.T, n int) *escrowEnv {
	t.Helper()
	srv := netskopetest.New(t)
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithMaxRetries(-1))
	if err != nil {
		t.Fatal(err)
	}
	dir := synth.Generate(synth.Config{Users: n, Seed: 11})
	for i := range dir.Users {
		dir.Users[i].State = source.StateActive
	}
	e := &escrowEnv{srv: srv, client: client, dir: dir, src: &feed{}, doomed: dir.Users[0].UserName}
	e.src.set(dir)
	srv.SetFaults(netskopetest.Faults{FailCreates: []string{e.doomed}})
	return e
}

func (e *escrowEnv) engine(t *testing.T, state sync.State) *sync.Engine {
	t.Helper()
	eng, err := sync.New(e.src, e.client, sync.WithState(state))
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// creates counts the creates of the doomed user the server was sent.
func (e *escrowEnv) creates() int { return e.srv.Stats().Faults500 }

// inTarget reports whether the target holds a user of that userName.
func (e *escrowEnv) inTarget(name string) bool {
	return slices.ContainsFunc(e.srv.Users(), func(u scim.User) bool { return u.UserName == name })
}

func persistentNotes(ns []sync.Notification) []sync.Notification {
	return slices.DeleteFunc(ns, func(n sync.Notification) bool { return n.Kind != sync.NotifyPersistentFailure })
}

// TestRunnerEscrow: a create the server fails every time is retried at
// the next cycle, then after two intervals (the cycle between sends
// nothing), then reported as a persistent failure at the limit, notified
// once, and not retried; a change at the source makes it a new change,
// tried at once, and once the server takes it the escrow is empty.
func TestRunnerEscrow(t *testing.T) {
	e := newEscrowEnv(t, 6)
	state := sync.NewMemoryState()
	h := startRunner(t, clocktest.New(runnerEpoch), e.engine(t, state), sync.WithRetryLimit(3))

	steps := []struct {
		tried      bool // the doomed create was sent this cycle
		retries    int  // its event's retry count
		persistent bool
	}{
		{true, 0, false},  // t0: fails first
		{true, 1, false},  // t0+40m: retried at the next cycle
		{false, 0, false}, // t0+80m: waits, two intervals after the retry
		{true, 2, true},   // t0+120m: the third failure reaches the limit
		{false, 0, true},  // not retried any more
		{false, 0, true},
	}
	for i, st := range steps {
		before, events := e.creates(), len(h.rec.events())
		var c sync.CycleReport
		if i == 0 {
			c = h.cycle()
		} else {
			c = h.tick()
		}
		if want := runnerEpoch.Add(time.Duration(i) * sync.DefaultInterval); !c.Started.Equal(want) || c.Outcome != sync.CycleSucceeded {
			t.Fatalf("cycle %d: %s at %s, want a success at %s", i+1, c.Outcome, c.Started, want)
		}
		tried := e.creates() > before
		if tried != st.tried || (c.Failed == 1) != st.tried || (c.Escrowed == 1) == st.tried {
			t.Fatalf("cycle %d: create sent %v, %d failed, %d held back; want sent %v", i+1, tried, c.Failed, c.Escrowed, st.tried)
		}
		if st.tried {
			evs := slices.DeleteFunc(h.rec.events()[events:], func(ev sync.ChangeEvent) bool { return ev.Name != e.doomed })
			if len(evs) != 1 || evs[0].Outcome != sync.StatusFailed || evs[0].Retries != st.retries {
				t.Fatalf("cycle %d: events of %s %+v, want one failure after %d retries", i+1, e.doomed, evs, st.retries)
			}
		}
		s := h.run.Status()
		if s.Escrow != 1 || (len(s.PersistentFailures) == 1) != st.persistent {
			t.Fatalf("cycle %d: escrow %d, persistent failures %+v; want 1 escrowed, persistent %v", i+1, s.Escrow, s.PersistentFailures, st.persistent)
		}
	}
	s := h.run.Status()
	pf := s.PersistentFailures[0]
	if pf.Object.Key != e.doomed || pf.Action != sync.ActionCreateUser || pf.Attempts != 3 || !strings.Contains(pf.LastError, "500") || !pf.NextAttempt.IsZero() {
		t.Errorf("persistent failure %+v, want the create of %s, 3 attempts, a 500, no next attempt", pf, e.doomed)
	}
	notes := persistentNotes(h.rec.notifications())
	if len(notes) != 1 || notes[0].Failure == nil || notes[0].Failure.Object.Key != e.doomed || !strings.Contains(notes[0].Message, e.doomed) {
		t.Fatalf("persistent-failure notifications %+v, want one naming %s", notes, e.doomed)
	}
	snap, err := state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Escrow) != 1 {
		t.Fatalf("state escrow %+v, want the one failure", snap.Escrow)
	}
	if len(h.rec.events()) == 0 || slices.ContainsFunc(h.rec.events(), func(ev sync.ChangeEvent) bool { return ev.Name != e.doomed && ev.Retries != 0 }) {
		t.Error("a change that never failed carries a retry count")
	}

	// The source changes the user: a new change, tried at once, whose
	// failure counts from one and is no longer persistent. (Two more
	// updates keep the cycle's failures under the failure share.)
	for i := range 3 {
		e.dir.Users[i].GivenName = "Changed"
	}
	e.src.set(e.dir)
	before := e.creates()
	c := h.tick()
	s = h.run.Status()
	if e.creates() != before+1 || c.Failed != 1 || s.Escrow != 1 || len(s.PersistentFailures) != 0 {
		t.Fatalf("after a source change: %d creates sent, cycle %+v, status escrow %d persistent %v; want one new failed try",
			e.creates()-before, c, s.Escrow, s.PersistentFailures)
	}
	// The server takes it at the next cycle; the escrow empties.
	e.srv.SetFaults(netskopetest.Faults{})
	c = h.tick()
	if s := h.run.Status(); c.Applied != 1 || c.Failed != 0 || s.Escrow != 0 || !e.inTarget(e.doomed) {
		t.Fatalf("after the fault is gone: cycle %+v, escrow %d, in target %v; want it created", c, s.Escrow, e.inTarget(e.doomed))
	}
	if snap, err := state.Load(ctx(t)); err != nil || len(snap.Escrow) != 0 {
		t.Fatalf("state escrow %+v (%v), want none", snap.Escrow, err)
	}
	if n := len(persistentNotes(h.rec.notifications())); n != 1 {
		t.Errorf("%d persistent-failure notifications, want still one", n)
	}
}

// TestRunnerEscrowLimitOff: with no retry limit every cycle tries the
// failed change, as before the escrow.
func TestRunnerEscrowLimitOff(t *testing.T) {
	e := newEscrowEnv(t, 4)
	h := startRunner(t, clocktest.New(runnerEpoch), e.engine(t, sync.NewMemoryState()), sync.WithRetryLimit(0))
	h.cycle()
	for range 4 {
		h.tick()
	}
	if n := e.creates(); n != 5 {
		t.Errorf("%d creates sent in 5 cycles, want 5", n)
	}
	if s := h.run.Status(); s.Escrow != 0 || len(persistentNotes(h.rec.notifications())) != 0 {
		t.Errorf("status %+v: no escrow without a retry limit", s)
	}
}

// TestRunnerEscrowQuarantine: failures of a cycle that fails as a whole
// (more than the failure share) count no attempt: the quarantine's
// backoff covers them, and each attempt sends every change.
func TestRunnerEscrowQuarantine(t *testing.T) {
	e := newEscrowEnv(t, 2)
	var names []string
	for _, u := range e.dir.Users {
		names = append(names, u.UserName)
	}
	e.srv.SetFaults(netskopetest.Faults{FailCreates: names})
	h := startRunner(t, clocktest.New(runnerEpoch), e.engine(t, sync.NewMemoryState()), sync.WithRetryLimit(1))
	c := h.cycle()
	for range 2 {
		if c.Outcome != sync.CycleFailed || c.Failed != 2 {
			t.Fatalf("cycle %+v, want both creates failed, quarantined", c)
		}
		c = h.tick()
	}
	if s := h.run.Status(); s.Escrow != 0 || e.creates() != 6 {
		t.Errorf("escrow %d after 3 quarantined cycles, %d creates sent; want none escrowed, 6 sent", s.Escrow, e.creates())
	}
}

// TestRunnerEscrowSurvivesRestart: the failure counts are kept in a
// FileState, so a new process's Runner does not retry a persistent
// failure and reports it; Restart clears the escrow, in the state too,
// and tries the change again.
func TestRunnerEscrowSurvivesRestart(t *testing.T) {
	e := newEscrowEnv(t, 3)
	path := filepath.Join(t.TempDir(), "state.json")
	fs := sync.NewFileState(path)
	clk := clocktest.New(runnerEpoch)
	h := startRunner(t, clk, e.engine(t, fs), sync.WithRetryLimit(2))
	h.cycle()
	h.tick()
	if s := h.run.Status(); len(s.PersistentFailures) != 1 {
		t.Fatalf("status %+v, want a persistent failure after 2 attempts", s)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process: state, engine and Runner.
	fs2 := sync.NewFileState(path)
	t.Cleanup(func() { fs2.Close() })
	before := e.creates()
	clk.Advance(24 * time.Hour)
	h2 := startRunner(t, clk, e.engine(t, fs2), sync.WithRetryLimit(2))
	c := h2.cycle()
	s := h2.run.Status()
	if e.creates() != before || c.Planned.CreateUsers != 0 || s.Escrow != 1 || len(s.PersistentFailures) != 1 ||
		s.PersistentFailures[0].Object.Key != e.doomed || s.PersistentFailures[0].Attempts != 2 {
		t.Fatalf("after a restart of the process: %d creates sent, planned %+v, status %+v; want the persistent failure kept, not retried",
			e.creates()-before, c.Planned, s)
	}
	if n1, n2 := len(persistentNotes(h.rec.notifications())), len(persistentNotes(h2.rec.notifications())); n1 != 1 || n2 != 0 {
		t.Fatalf("%d and %d persistent-failure notifications from the two processes, want 1 and 0", n1, n2)
	}

	// Restart clears it, at once in the status and in the state. (Two
	// updates keep the cycle's failures under the failure share.)
	e.dir.Users[1].GivenName, e.dir.Users[2].GivenName = "Changed", "Changed"
	e.src.set(e.dir)
	h2.clk.BlockUntil(1)
	h2.run.Restart()
	if s := h2.run.Status(); s.Escrow != 0 || len(s.PersistentFailures) != 0 {
		t.Fatalf("status after Restart %+v, want no escrow", s)
	}
	c = h2.cycle()
	if c.Trigger != sync.TriggerRestart || e.creates() != before+1 || c.Failed != 1 {
		t.Fatalf("restart cycle %+v, %d creates sent; want the create tried again", c, e.creates()-before)
	}
	snap, err := fs2.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var ent []sync.EscrowEntry
	for _, v := range snap.Escrow {
		ent = append(ent, v)
	}
	if len(ent) != 1 || ent[0].Attempts != 1 || ent[0].Persistent {
		t.Errorf("state escrow after Restart %+v, want the create's count started over at 1", ent)
	}
}

// TestRunnerRetryFailed: RetryFailed plans only the failed changes,
// persistent ones included, at once; other changes wait for the next
// scheduled cycle.
func TestRunnerRetryFailed(t *testing.T) {
	e := newEscrowEnv(t, 3)
	h := startRunner(t, clocktest.New(runnerEpoch), e.engine(t, sync.NewMemoryState()), sync.WithRetryLimit(1))
	h.cycle()
	if s := h.run.Status(); len(s.PersistentFailures) != 1 {
		t.Fatalf("status %+v, want a persistent failure", s)
	}
	e.srv.SetFaults(netskopetest.Faults{})
	e.dir.Users = append(e.dir.Users, source.User{ID: "late", UserName: "late@example.com", GivenName: "Late", FamilyName: "Hire",
		State: source.StateActive, Emails: []source.Email{{Value: "late@example.com", Primary: true}}})
	e.src.set(e.dir)
	h.clk.BlockUntil(1)
	h.run.RetryFailed()
	c := h.cycle()
	if c.Trigger != sync.TriggerRetryFailed || c.Planned.CreateUsers != 1 || c.Applied != 1 || !e.inTarget(e.doomed) || e.inTarget("late@example.com") {
		t.Fatalf("retry cycle %+v: want only %s created", c, e.doomed)
	}
	if s := h.run.Status(); s.Escrow != 0 || len(s.PersistentFailures) != 0 {
		t.Fatalf("status %+v, want the escrow empty", s)
	}
	c = h.tick()
	if c.Trigger != sync.TriggerSchedule || c.Applied != 1 || !e.inTarget("late@example.com") {
		t.Fatalf("next cycle %+v, want the new user created", c)
	}
}
