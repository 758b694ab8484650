package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
)

var runnerEpoch = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// recorder is an Observer and a Notifier that keeps what it hears; its
// cycles channel is how tests wait for a cycle to finish.
type recorder struct {
	cycles  chan sync.CycleReport
	mu      gosync.Mutex
	changes []sync.ChangeEvent
	notes   []sync.Notification
}

func newRecorder() *recorder { return &recorder{cycles: make(chan sync.CycleReport, 64)} }

func (r *recorder) ChangeDone(ev sync.ChangeEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, ev)
}

func (r *recorder) CycleDone(c sync.CycleReport) { r.cycles <- c }

func (r *recorder) Notify(_ context.Context, n sync.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
	return nil
}

func (r *recorder) notifications() []sync.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes)
}

func (r *recorder) events() []sync.ChangeEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

func kinds(ns []sync.Notification) []sync.NotificationKind {
	var out []sync.NotificationKind
	for _, n := range ns {
		out = append(out, n.Kind)
	}
	return out
}

// runHarness is a Runner running on a fake clock.
type runHarness struct {
	t      *testing.T
	clk    *clocktest.Clock
	run    *sync.Runner
	rec    *recorder
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err set
	err    error
}

// startRunner starts a Runner of eng on clk. The test ends with the
// Runner stopped; it must not leave a cycle blocked.
func startRunner(t *testing.T, clk *clocktest.Clock, eng *sync.Engine, opts ...sync.RunnerOption) *runHarness {
	t.Helper()
	rec := newRecorder()
	run, err := sync.NewRunner(eng, append([]sync.RunnerOption{sync.WithRunnerClock(clk),
		sync.WithObserver(rec), sync.WithNotifier(rec)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &runHarness{t: t, clk: clk, run: run, rec: rec, cancel: cancel, done: make(chan struct{})}
	go func() {
		h.err = run.Run(ctx)
		close(h.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	return h
}

// cycle waits for the next cycle to finish.
func (h *runHarness) cycle() sync.CycleReport {
	h.t.Helper()
	return <-h.rec.cycles
}

// tick waits until the Runner waits for its next cycle, checks that it
// waits on one timer, due when the status says, moves the clock there
// and returns the cycle.
func (h *runHarness) tick() sync.CycleReport {
	h.t.Helper()
	h.clk.BlockUntil(1)
	next := h.run.Status().NextCycle
	if due, _ := h.clk.Next(); !due.Equal(next) {
		h.t.Fatalf("the Runner waits until %s, its status says %s", due, next)
	}
	h.clk.AdvanceTo(next)
	return h.cycle()
}

// stop cancels Run and waits for it to return.
func (h *runHarness) stop() error {
	h.cancel()
	<-h.done
	return h.err
}

// hookSource calls hook before each read; the hook may fail the read,
// block it, or move the clock.
type hookSource struct {
	source.Source
	mu    gosync.Mutex
	reads int
	hook  func(ctx context.Context, n int) error
}

func (s *hookSource) setHook(fn func(ctx context.Context, n int) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

func (s *hookSource) Read(ctx context.Context) (*source.Directory, error) {
	s.mu.Lock()
	s.reads++
	n, hook := s.reads, s.hook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, n); err != nil {
			return nil, err
		}
	}
	return s.Source.Read(ctx)
}

// hookTarget is the real client, with user creates and listings that a
// test can make fail or block.
type hookTarget struct {
	target.Target
	mu     gosync.Mutex
	create func(ctx context.Context, u *scim.User) error
	list   target.Target // lists users through this client instead
}

func (h *hookTarget) set(create func(context.Context, *scim.User) error, list target.Target) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.create, h.list = create, list
}

func (h *hookTarget) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	h.mu.Lock()
	create := h.create
	h.mu.Unlock()
	if create != nil {
		if err := create(ctx, u); err != nil {
			return nil, err
		}
	}
	return h.Target.CreateUser(ctx, u)
}

func (h *hookTarget) ListUsers(ctx context.Context, opts ...target.ReadOption) ([]scim.User, error) {
	h.mu.Lock()
	list := h.list
	h.mu.Unlock()
	if list != nil {
		return list.ListUsers(ctx, opts...)
	}
	return h.Target.ListUsers(ctx, opts...)
}

// runnerEnv is an env whose engine reads through a hookSource and
// writes through a hookTarget.
func runnerEnv(t *testing.T, users, groups int, opts ...sync.Option) (*env, *hookSource, *hookTarget, *sync.Engine) {
	t.Helper()
	e := newEnv(t, users, groups)
	src, tgt := &hookSource{Source: e.src}, &hookTarget{Target: e.client}
	eng, err := sync.New(src, tgt, append([]sync.Option{sync.WithState(e.state)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e, src, tgt, eng
}

func TestRunnerSchedule(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration // 0: the default
		jitter   time.Duration
	}{
		{"default interval", 0, 0},
		{"ten minutes", 10 * time.Minute, 0},
		{"jitter", 0, 5 * time.Minute},
		{"jitter near the interval", 10 * time.Minute, 9 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, eng := runnerEnv(t, 5, 1)
			clk := clocktest.New(runnerEpoch)
			opts := []sync.RunnerOption{sync.WithRandSource(rand.NewPCG(3, 4))}
			interval := sync.DefaultInterval
			if tt.interval > 0 {
				interval = tt.interval
				opts = append(opts, sync.WithInterval(tt.interval))
			}
			if tt.jitter > 0 {
				opts = append(opts, sync.WithJitter(tt.jitter))
			}
			h := startRunner(t, clk, eng, opts...)
			c := h.cycle()
			if c.Trigger != sync.TriggerStart || !c.Started.Equal(runnerEpoch) || c.Outcome != sync.CycleSucceeded || c.Planned.CreateUsers == 0 {
				t.Fatalf("first cycle: %+v, want one at once that creates users", c)
			}
			// The same random sequence the Runner draws its jitter from.
			rnd := rand.New(rand.NewPCG(3, 4))
			for k := 1; k <= 4; k++ {
				want := runnerEpoch.Add(time.Duration(k) * interval)
				if tt.jitter > 0 {
					want = want.Add(time.Duration(rnd.Int64N(int64(tt.jitter))))
				}
				c := h.tick()
				if !c.Started.Equal(want) || c.Trigger != sync.TriggerSchedule {
					t.Fatalf("cycle %d started at %s by %s, want %s by schedule", k+1, c.Started, c.Trigger, want)
				}
				if c.Outcome != sync.CycleSucceeded || c.Planned != (sync.Summary{UnchangedUsers: c.Planned.UnchangedUsers, UnchangedGroups: 1}) {
					t.Fatalf("cycle %d: %+v, want nothing to do", k+1, c)
				}
			}
			if s := h.run.Status(); s.Cycles != 5 || s.SkippedTicks != 0 || s.State != "idle" {
				t.Errorf("status %+v, want 5 cycles, none skipped, idle", s)
			}
		})
	}
}

func TestRunnerOverlap(t *testing.T) {
	_, src, _, eng := runnerEnv(t, 5, 1)
	clk := clocktest.New(runnerEpoch)
	var h *runHarness
	// The second read takes 50 minutes, past the next tick, and the
	// Runner is asked three times meanwhile for a cycle now.
	src.setHook(func(_ context.Context, n int) error {
		if n == 2 {
			clk.Advance(50 * time.Minute)
			h.run.TriggerNow()
			h.run.TriggerNow()
			h.run.TriggerNow()
		}
		return nil
	})
	h = startRunner(t, clk, eng)
	h.cycle()
	slow := h.tick()
	if want := runnerEpoch.Add(40 * time.Minute); !slow.Started.Equal(want) || !slow.Finished.Equal(want.Add(50*time.Minute)) {
		t.Fatalf("slow cycle ran %s to %s", slow.Started, slow.Finished)
	}
	// The triggers make one cycle, at once after the slow one.
	manual := h.cycle()
	if manual.Trigger != sync.TriggerManual || !manual.Started.Equal(slow.Finished) {
		t.Fatalf("after the slow cycle: %s at %s, want a manual cycle at %s", manual.Trigger, manual.Started, slow.Finished)
	}
	// Then the Runner waits for the next tick of the schedule: the one at
	// 80 minutes, which fell during the slow cycle, is skipped.
	h.clk.BlockUntil(1)
	s := h.run.Status()
	if want := runnerEpoch.Add(120 * time.Minute); !s.NextCycle.Equal(want) || s.Cycles != 3 || s.SkippedTicks != 1 {
		t.Errorf("status: next %s, %d cycles, %d skipped; want next %s, 3 cycles, 1 skipped", s.NextCycle, s.Cycles, s.SkippedTicks, want)
	}
	src.mu.Lock()
	reads := src.reads
	src.mu.Unlock()
	if reads != 3 {
		t.Errorf("the source was read %d times, want 3: one per cycle", reads)
	}
}

// failUsers fails the creates of the users whose userName is in names.
func failUsers(names ...string) func(context.Context, *scim.User) error {
	return func(_ context.Context, u *scim.User) error {
		if slices.Contains(names, u.UserName) {
			return &target.Error{Op: "create user", Object: "userName=" + u.UserName, Status: 400, Err: target.ErrInvalid}
		}
		return nil
	}
}

// activeNames returns the userNames of the first n active users.
func activeNames(d *source.Directory, n int) []string {
	var out []string
	for _, u := range d.Users {
		if u.State == source.StateActive && len(out) < n {
			out = append(out, u.UserName)
		}
	}
	return out
}

func TestRunnerQuarantine(t *testing.T) {
	tests := []struct {
		name string
		// breakIt makes cycles fail (or not, when reason is ""); it
		// returns the function that mends it.
		breakIt func(t *testing.T, e *env, src *hookSource, tgt *hookTarget) (mend func())
		reason  sync.QuarantineReason
	}{
		{"source read fails", func(t *testing.T, e *env, src *hookSource, tgt *hookTarget) func() {
			src.setHook(func(context.Context, int) error { return fmt.Errorf("file: read: %w", source.ErrUnavailable) })
			return func() { src.setHook(nil) }
		}, sync.ReasonSourceRead},
		{"target refuses credentials on read", func(t *testing.T, e *env, src *hookSource, tgt *hookTarget) func() {
			bad, err := netskope.New(e.srv.URL(), "not-the-token", netskope.WithRateLimit(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			tgt.set(nil, bad)
			return func() { tgt.set(nil, nil) }
		}, sync.ReasonUnauthorized},
		{"target refuses credentials on one create", func(t *testing.T, e *env, src *hookSource, tgt *hookTarget) func() {
			name := activeNames(e.dir, 1)[0]
			tgt.set(func(_ context.Context, u *scim.User) error {
				if u.UserName == name {
					return &target.Error{Op: "create user", Status: 401, Err: target.ErrUnauthorized}
				}
				return nil
			}, nil)
			return func() { tgt.set(nil, nil) }
		}, sync.ReasonUnauthorized},
		{"five of ten changes fail", func(t *testing.T, e *env, src *hookSource, tgt *hookTarget) func() {
			tgt.set(failUsers(activeNames(e.dir, 5)...), nil)
			return func() { tgt.set(nil, nil) }
		}, sync.ReasonTooManyFailures},
		{"four of ten changes fail: 40% is not more than 40%", func(t *testing.T, e *env, src *hookSource, tgt *hookTarget) func() {
			tgt.set(failUsers(activeNames(e.dir, 4)...), nil)
			return func() { tgt.set(nil, nil) }
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, src, tgt, eng := runnerEnv(t, 10, 0)
			for i := range e.dir.Users { // ten changes: ten creates
				e.dir.Users[i].State = source.StateActive
			}
			e.src.Set(e.dir)
			mend := tt.breakIt(t, e, src, tgt)
			h := startRunner(t, clocktest.New(runnerEpoch), eng)
			c := h.cycle()
			if tt.reason == "" {
				if c.Outcome != sync.CycleSucceeded || c.Failed != 4 || h.run.Status().Quarantine != nil || len(h.rec.notifications()) != 0 {
					t.Fatalf("cycle %+v, status %+v: want a success with 4 failures and no quarantine", c, h.run.Status())
				}
				return
			}
			if c.Outcome != sync.CycleFailed || c.Reason != tt.reason || c.Error == "" {
				t.Fatalf("cycle: %s (%s) %q, want failed (%s)", c.Outcome, c.Reason, c.Error, tt.reason)
			}
			// Each failure in a row doubles the wait, up to 24 hours.
			backoff := []time.Duration{80 * time.Minute, 160 * time.Minute, 320 * time.Minute, 640 * time.Minute,
				1280 * time.Minute, 24 * time.Hour, 24 * time.Hour}
			for i, want := range backoff {
				if i > 0 {
					c = h.tick()
				}
				s := h.run.Status()
				q := s.Quarantine
				if c.Outcome != sync.CycleFailed || s.State != "quarantined" || q == nil {
					t.Fatalf("failure %d: cycle %s, status %+v; want quarantined", i+1, c.Outcome, s)
				}
				if q.Failures != i+1 || q.Reason != tt.reason || !q.Since.Equal(runnerEpoch) || q.NextAttempt.Sub(c.Finished) != want || !s.NextCycle.Equal(q.NextAttempt) {
					t.Fatalf("failure %d: quarantine %+v after a cycle at %s; want failures %d, next attempt %s later", i+1, q, c.Finished, i+1, want)
				}
			}
			if got := kinds(h.rec.notifications()); !slices.Equal(got, []sync.NotificationKind{sync.NotifyQuarantined}) {
				t.Fatalf("notifications %v, want one quarantined", got)
			}
			if n := h.rec.notifications()[0]; n.Quarantine == nil || n.Quarantine.Reason != tt.reason || n.Quarantine.NextAttempt.IsZero() {
				t.Errorf("notification %+v lacks the reason or the next attempt", n)
			}
			mend()
			c = h.tick()
			s := h.run.Status()
			if c.Outcome != sync.CycleSucceeded || s.Quarantine != nil || s.State != "idle" || !s.LastSuccess.Equal(c.Finished) {
				t.Fatalf("after mending: cycle %s, status %+v; want healthy", c.Outcome, s)
			}
			if !s.NextCycle.Equal(c.Started.Add(sync.DefaultInterval)) {
				t.Errorf("after leaving quarantine the next cycle is at %s, want the interval after %s", s.NextCycle, c.Started)
			}
			if got := kinds(h.rec.notifications()); !slices.Equal(got, []sync.NotificationKind{sync.NotifyQuarantined, sync.NotifyRecovered}) {
				t.Errorf("notifications %v, want quarantined then recovered", got)
			}
		})
	}
}

func TestRunnerRestart(t *testing.T) {
	f := &feed{}
	e := newEnv(t, 8, 1)
	f.set(e.dir)
	src := &hookSource{Source: f}
	eng, err := sync.New(src, e.client, sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	// hookSource hides ReadChanges, so this engine reads in full each
	// time; the Restart's full read is checked in TestRunnerFullReads.
	src.setHook(func(context.Context, int) error { return fmt.Errorf("feed: %w", source.ErrUnavailable) })
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	h.cycle()
	if c := h.tick(); c.Outcome != sync.CycleFailed || h.run.Status().Quarantine.Failures != 2 {
		t.Fatalf("second cycle %s, want a second failure", c.Outcome)
	}
	h.clk.BlockUntil(1)
	h.run.Restart()
	if s := h.run.Status(); s.Quarantine != nil || s.State != "idle" {
		t.Fatalf("after Restart: %+v, want out of quarantine", s)
	}
	// Restart runs a cycle at once; still broken, it quarantines again,
	// with the backoff of a first failure.
	c := h.cycle()
	q := h.run.Status().Quarantine
	if c.Trigger != sync.TriggerRestart || !c.Started.Equal(h.clk.Now()) || q == nil || q.Failures != 1 || q.NextAttempt.Sub(c.Finished) != 80*time.Minute {
		t.Fatalf("restart cycle %+v, quarantine %+v; want an immediate cycle, 1 failure, 80 minutes", c, q)
	}
	src.setHook(nil)
	h.clk.BlockUntil(1)
	h.run.Restart()
	c = h.cycle()
	if c.Trigger != sync.TriggerRestart || c.Outcome != sync.CycleSucceeded || !c.FullRead || h.run.Status().Quarantine != nil {
		t.Fatalf("restart cycle %+v, want a healthy full cycle", c)
	}
	if got := kinds(h.rec.notifications()); !slices.Equal(got, []sync.NotificationKind{sync.NotifyQuarantined, sync.NotifyQuarantined}) {
		t.Errorf("notifications %v: a Restart makes a new failure news, and a cycle after it recovers nothing", got)
	}
}

func TestRunnerFullReads(t *testing.T) {
	tests := []struct {
		name   string
		every  time.Duration
		cycles int
		// full[i] says whether cycle i+1 (40 minutes apart) reads in full.
		full []bool
	}{
		{"every two hours", 2 * time.Hour, 0, []bool{true, false, false, true, false, false, true}},
		{"every third cycle", 0, 2, []bool{true, false, false, true, false, false, true}},
		{"daily (default)", sync.DefaultFullReadEvery, 0, []bool{true, false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 8, 1)
			f := &feed{}
			f.set(e.dir)
			eng, err := sync.New(f, e.client, sync.WithState(e.state))
			if err != nil {
				t.Fatal(err)
			}
			h := startRunner(t, clocktest.New(runnerEpoch), eng, sync.WithFullReadEvery(tt.every, tt.cycles))
			for i, want := range tt.full {
				var c sync.CycleReport
				if i == 0 {
					c = h.cycle()
				} else {
					c = h.tick()
				}
				f.mu.Lock()
				cursor := f.cursors[len(f.cursors)-1]
				f.mu.Unlock()
				if c.FullRead != want || (cursor == "") != want || c.Outcome != sync.CycleSucceeded {
					t.Fatalf("cycle %d: full read %v (cursor %q), outcome %s; want full %v", i+1, c.FullRead, cursor, c.Outcome, want)
				}
			}
			h.clk.BlockUntil(1)
			h.run.Restart()
			if c := h.cycle(); !c.FullRead {
				t.Errorf("the cycle after Restart read changes only, want a full read")
			}
		})
	}
}

func TestRunnerHeldPlans(t *testing.T) {
	tests := []struct {
		mode sync.HeldPlans
		// alerts says which of the cycles after the first held one
		// (40 minutes apart; one alert an hour at most) alert again.
		alerts []bool
	}{
		{sync.HeldWait, []bool{false, true, false, true}},
		// The rest applied adds a user the engine owns, which changes
		// the limit's percentage in the reasons: a new alert at once.
		{sync.HeldApplyRest, []bool{true, false, true, false}},
	}
	for _, tt := range tests {
		mode := tt.mode
		t.Run(string(mode), func(t *testing.T) {
			e, _, _, eng := runnerEnv(t, 30, 2)
			h := startRunner(t, clocktest.New(runnerEpoch), eng, sync.WithHeldPlans(mode), sync.WithAlertEvery(time.Hour))
			if c := h.cycle(); c.Outcome != sync.CycleSucceeded {
				t.Fatalf("first cycle %s", c.Outcome)
			}
			owned := e.srv.UserCount()
			// Most users leave scope, past the deletion limit, and one is hired.
			leave := activeNames(e.dir, owned*3/4)
			e.edit(func(d *source.Directory) {
				d.Users = slices.DeleteFunc(d.Users, func(u source.User) bool { return slices.Contains(leave, u.UserName) })
				for g := range d.Groups {
					d.Groups[g].Members = slices.DeleteFunc(d.Groups[g].Members, func(id string) bool { return indexOf(d, id) < 0 })
				}
				d.Users = append(d.Users, source.User{ID: "hire", UserName: "hire@example.com", GivenName: "New", FamilyName: "Hire",
					State: source.StateActive, Emails: []source.Email{{Value: "hire@example.com", Primary: true}}})
			})
			c := h.tick()
			s := h.run.Status()
			if c.Outcome != sync.CycleHeld || !c.Held || s.Held == nil || len(s.Held.Reasons) == 0 || s.Held.AppliedRest != (mode == sync.HeldApplyRest) {
				t.Fatalf("cycle %+v, held %+v; want a held plan, rest applied: %v", c, s.Held, mode == sync.HeldApplyRest)
			}
			if p := h.run.HeldPlan(); p == nil || !p.NeedsConfirmation || p.Summary.DeactivateUsers != len(leave) {
				t.Fatalf("HeldPlan %+v, want the plan that deactivates %d", p, len(leave))
			}
			hired, active := false, 0
			for _, u := range e.srv.Users() {
				hired = hired || u.UserName == "hire@example.com"
				if u.IsActive() {
					active++
				}
			}
			if hired != (mode == sync.HeldApplyRest) || active != e.srv.UserCount() {
				t.Fatalf("hired %v, %d of %d active: want the hire made only by %s and nobody deactivated", hired, active, e.srv.UserCount(), mode)
			}
			if got := kinds(h.rec.notifications()); !slices.Equal(got, []sync.NotificationKind{sync.NotifyPlanHeld}) {
				t.Fatalf("notifications %v, want one plan-held", got)
			}
			// The same plan, held again: one alert an hour at most.
			for i, wantNew := range tt.alerts {
				before := len(h.rec.notifications())
				c := h.tick()
				if c.Outcome != sync.CycleHeld {
					t.Fatalf("cycle %d: %s, want held", i+3, c.Outcome)
				}
				if got := len(h.rec.notifications()) - before; got > 1 || (got == 1) != wantNew {
					t.Fatalf("cycle %d: %d new notifications, want new: %v", i+3, got, wantNew)
				}
			}
			if s := h.run.Status(); !s.Held.Since.Equal(runnerEpoch.Add(40*time.Minute)) || s.Quarantine != nil {
				t.Errorf("held since %s, want since the first cycle that held it", s.Held.Since)
			}
			// An administrator confirms; the next cycle holds nothing.
			if _, _, err := eng.Sync(ctx(t), sync.Confirm()); err != nil {
				t.Fatal(err)
			}
			if c := h.tick(); c.Outcome != sync.CycleSucceeded || h.run.Status().Held != nil || h.run.HeldPlan() != nil {
				t.Errorf("after confirmation: %s, held %+v", c.Outcome, h.run.Status().Held)
			}
		})
	}
}

func TestRunnerApprovals(t *testing.T) {
	pol := sync.DefaultPolicy()
	pol.RequireApproval = []sync.Action{sync.ActionCreateUser}
	e, _, _, eng := runnerEnv(t, 6, 1, sync.WithPolicy(pol))
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	c := h.cycle()
	pending := len(activeNames(e.dir, 100))
	if c.Outcome != sync.CycleSucceeded || c.PendingApprovals != pending || h.run.Status().PendingApprovals != pending {
		t.Fatalf("cycle %+v, want success with %d pending approvals", c, pending)
	}
	notes := h.rec.notifications()
	if len(notes) != 1 || notes[0].Kind != sync.NotifyApprovalPending || len(notes[0].Approvals) != pending {
		t.Fatalf("notifications %+v, want one approval-pending naming %d", notes, pending)
	}
	h.tick() // the same approvals pending: no news
	if err := eng.Approve(ctx(t), notes[0].Approvals[0]); err != nil {
		t.Fatal(err)
	}
	c = h.tick()
	notes = h.rec.notifications()
	if c.Planned.CreateUsers != 1 || c.Failed != 0 || e.srv.UserCount() != 1 || h.run.Status().PendingApprovals != pending-1 ||
		len(notes) != 2 || len(notes[1].Approvals) != pending-1 {
		t.Errorf("after one approval: cycle %+v, %d notifications; want the approved user made and a new alert for the rest", c, len(notes))
	}
}

// blockingCreates blocks the create of the third user until gate closes
// or the create's context ends, and signals when it blocks.
func blockingCreates(gate <-chan struct{}, blocked chan<- struct{}) func(context.Context, *scim.User) error {
	var mu gosync.Mutex
	n := 0
	return func(ctx context.Context, u *scim.User) error {
		mu.Lock()
		n++
		me := n
		mu.Unlock()
		if me != 3 {
			return nil
		}
		close(blocked)
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func TestRunnerShutdown(t *testing.T) {
	tests := []struct {
		name    string
		abandon bool
	}{
		{"the cycle finishes within the grace", false},
		{"the cycle is abandoned after the grace", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, tgt, eng := runnerEnv(t, 6, 0, sync.WithConcurrency(1))
			for i := range e.dir.Users {
				e.dir.Users[i].State = source.StateActive
			}
			e.src.Set(e.dir)
			gate, blocked := make(chan struct{}), make(chan struct{})
			tgt.set(blockingCreates(gate, blocked), nil)
			h := startRunner(t, clocktest.New(runnerEpoch), eng, sync.WithShutdownGrace(5*time.Second))
			<-blocked
			h.cancel()
			h.clk.BlockUntil(1) // the grace timer
			if tt.abandon {
				h.clk.Advance(5 * time.Second)
			} else {
				close(gate)
			}
			<-h.done
			if h.err != nil {
				t.Fatalf("Run: %v", h.err)
			}
			c := h.cycle()
			s := h.run.Status()
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if s.State != "stopped" || s.Quarantine != nil {
				t.Errorf("status %+v, want stopped, not quarantined", s)
			}
			if !tt.abandon {
				if c.Outcome != sync.CycleSucceeded || c.Applied != 6 || len(snap.Users) != 6 {
					t.Errorf("cycle %+v, %d links; want all 6 created and linked", c, len(snap.Users))
				}
				return
			}
			// Two creates landed before the abandon; their links are saved.
			if c.Outcome != sync.CycleCancelled || c.Applied != 2 || len(snap.Users) != 2 || e.srv.UserCount() != 2 {
				t.Errorf("cycle %+v, %d links, %d users in the target; want cancelled with the 2 creates that landed linked", c, len(snap.Users), e.srv.UserCount())
			}
		})
	}
}

func TestRunnerStopsWhileWaiting(t *testing.T) {
	_, _, _, eng := runnerEnv(t, 3, 0)
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	h.cycle()
	h.clk.BlockUntil(1)
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := h.run.Status(); s.State != "stopped" || s.Cycles != 1 {
		t.Errorf("status %+v, want stopped after one cycle", s)
	}
}

func TestRunnerRunsOnce(t *testing.T) {
	_, _, _, eng := runnerEnv(t, 3, 0)
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	h.cycle()
	if err := h.run.Run(ctx(t)); !errors.Is(err, sync.ErrRunnerRunning) {
		t.Fatalf("a second Run: %v, want ErrRunnerRunning", err)
	}
}

func TestRunnerStatusJSON(t *testing.T) {
	_, src, _, eng := runnerEnv(t, 4, 1)
	src.setHook(func(context.Context, int) error { return fmt.Errorf("file: read: %w", source.ErrUnavailable) })
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	h.cycle()
	h.clk.BlockUntil(1)
	decode := func() map[string]any {
		b, err := json.Marshal(h.run.Status())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := decode()
	q, _ := m["quarantine"].(map[string]any)
	last, _ := m["lastCycle"].(map[string]any)
	next := runnerEpoch.Add(80 * time.Minute).Format(time.RFC3339)
	if m["state"] != "quarantined" || q == nil || q["reason"] != "source-read-failed" || q["nextAttempt"] != next ||
		m["nextCycle"] != next || last == nil || last["outcome"] != "failed" || !strings.Contains(fmt.Sprint(q["error"]), "unavailable") {
		t.Fatalf("status JSON %v: want quarantined for the source read, next attempt %s", m, next)
	}
	if _, ok := m["lastSuccess"]; ok {
		t.Errorf("status JSON %v has a last success before any", m)
	}
	src.setHook(nil)
	h.tick()
	h.clk.BlockUntil(1)
	m = decode()
	last, _ = m["lastCycle"].(map[string]any)
	planned, _ := last["planned"].(map[string]any)
	if m["state"] != "idle" || m["quarantine"] != nil || last["outcome"] != "succeeded" || planned["createUsers"] == float64(0) || m["lastSuccess"] == nil {
		t.Errorf("status JSON %v: want idle after a successful cycle that created users", m)
	}
}

func TestRunnerChangeEvents(t *testing.T) {
	e, _, _, eng := runnerEnv(t, 5, 1)
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	c := h.cycle()
	evs := h.rec.events()
	if len(evs) != c.Applied || c.Applied == 0 {
		t.Fatalf("%d events for %d changes applied", len(evs), c.Applied)
	}
	for _, ev := range evs {
		if ev.Cycle != c.ID || ev.Outcome != sync.StatusApplied || ev.Name == "" || ev.TargetID == "" || ev.SourceID == "" || !ev.Time.Equal(runnerEpoch) {
			t.Errorf("event %+v of cycle %s lacks its cycle, name, ids or time", ev, c.ID)
		}
	}
	i := firstActive(e.dir)
	e.edit(func(d *source.Directory) { d.Users[i].GivenName = "Secretvalue" })
	c = h.tick()
	evs = h.rec.events()[len(evs):]
	if len(evs) != 1 || evs[0].Action != sync.ActionUpdateUser || !slices.Contains(evs[0].Attributes, scim.PathGivenName) || evs[0].Cycle != c.ID {
		t.Fatalf("events %+v, want one update of %s", evs, scim.PathGivenName)
	}
	if b, _ := json.Marshal(evs[0]); strings.Contains(string(b), "Secretvalue") {
		t.Errorf("event %s carries an attribute value", b)
	}
}

func TestNewRunnerRefusesBadSettings(t *testing.T) {
	_, _, _, eng := runnerEnv(t, 1, 0)
	tests := []struct {
		name string
		opt  sync.RunnerOption
	}{
		{"zero interval", sync.WithInterval(0)},
		{"negative jitter", sync.WithJitter(-time.Second)},
		{"share above one", sync.WithFailureShare(1.5)},
		{"negative share", sync.WithFailureShare(-0.1)},
		{"unknown held choice", sync.WithHeldPlans("later")},
		{"negative full-read cycles", sync.WithFullReadEvery(time.Hour, -1)},
		{"nil notifier", sync.WithNotifier(nil)},
		{"nil clock", sync.WithRunnerClock(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sync.NewRunner(eng, tt.opt); err == nil {
				t.Error("NewRunner accepted it")
			}
		})
	}
	if _, err := sync.NewRunner(eng); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := sync.NewRunner(nil); err == nil {
		t.Error("NewRunner(nil) accepted")
	}
}

func TestRunnerQuarantineReasonChanges(t *testing.T) {
	e, src, tgt, eng := runnerEnv(t, 4, 0)
	src.setHook(func(context.Context, int) error { return fmt.Errorf("file: read: %w", source.ErrUnavailable) })
	h := startRunner(t, clocktest.New(runnerEpoch), eng)
	h.cycle()
	// The source mends; the target now refuses the credentials.
	src.setHook(nil)
	bad, err := netskope.New(e.srv.URL(), "not-the-token", netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	tgt.set(nil, bad)
	for range 2 {
		if c := h.tick(); c.Reason != sync.ReasonUnauthorized {
			t.Fatalf("cycle failed for %q, want %q", c.Reason, sync.ReasonUnauthorized)
		}
	}
	notes := h.rec.notifications()
	if len(notes) != 2 || notes[0].Quarantine.Reason != sync.ReasonSourceRead || notes[1].Quarantine.Reason != sync.ReasonUnauthorized {
		t.Fatalf("notifications %+v: want one for each reason, none repeated", notes)
	}
	if q := h.run.Status().Quarantine; q.Failures != 3 || !q.Since.Equal(runnerEpoch) {
		t.Errorf("quarantine %+v: one quarantine since the first failure, 3 failures", q)
	}
	h.clk.BlockUntil(1)
	h.run.Restart()
	if next := h.run.Status().NextCycle; !next.Equal(h.clk.Now()) {
		t.Errorf("after Restart the next cycle is at %s, want now (%s)", next, h.clk.Now())
	}
	h.cycle()
}

func TestRunnerStateLocked(t *testing.T) {
	// Another process holds the state: this Runner is a standby. It
	// writes nothing, is not quarantined and raises no alert, tries again
	// at its next tick (one interval, not a growing backoff), and takes
	// over once the lock is free.
	e := newEnv(t, 3, 0)
	path := filepath.Join(t.TempDir(), "state.json")
	holder := sync.NewFileState(path)
	if _, err := holder.Load(ctx(t)); err != nil { // takes the lock
		t.Fatal(err)
	}
	defer holder.Close()
	state := sync.NewFileState(path)
	defer state.Close()
	eng, err := sync.New(e.src, e.client, sync.WithState(state))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(runnerEpoch)
	h := startRunner(t, clk, eng, sync.WithInterval(time.Hour))
	for i := range 3 {
		var c sync.CycleReport
		if i == 0 {
			c = h.cycle() // the first cycle runs at once
		} else {
			c = h.tick()
		}
		if c.Outcome != sync.CycleStandby || c.Reason != sync.ReasonStateLocked || e.srv.UserCount() != 0 {
			t.Fatalf("cycle %d: %s (%s: %s), %d users written; want standby and nothing written", i, c.Outcome, c.Reason, c.Error, e.srv.UserCount())
		}
		clk.BlockUntil(1) // the Runner has scheduled its next cycle and waits
		st := h.run.Status()
		if st.State != "standby" || st.Quarantine != nil {
			t.Fatalf("cycle %d: state %q, quarantine %+v; want standby, not quarantined", i, st.State, st.Quarantine)
		}
		if due, _ := clk.Next(); !due.Equal(c.Started.Add(time.Hour)) || !st.NextCycle.Equal(due) {
			t.Fatalf("cycle %d: waits until %s (status: %s), want one interval later, %s", i, due, st.NextCycle, c.Started.Add(time.Hour))
		}
	}
	if n := h.rec.notifications(); len(n) != 0 {
		t.Errorf("a standby notified %d times: %+v", len(n), n)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if c := h.tick(); c.Outcome != sync.CycleSucceeded || e.srv.UserCount() == 0 {
		t.Errorf("once the lock is free: %s (%s)", c.Outcome, c.Error)
	}
	if st := h.run.Status(); st.State != "idle" {
		t.Errorf("after taking over: state %q, want idle", st.State)
	}
}
