package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/provsync/provsync/target"
)

// Defaults of a Runner.
const (
	// DefaultInterval is the time between cycles, as Entra's
	// provisioning service runs about every 40 minutes.
	DefaultInterval = 40 * time.Minute
	// DefaultMaxBackoff bounds the wait after failed cycles.
	DefaultMaxBackoff = 24 * time.Hour
	// DefaultFullReadEvery is how often a cycle reads the source in full
	// even when it could read changes only.
	DefaultFullReadEvery = 24 * time.Hour
	// DefaultFailureShare is the share of a cycle's changes that may fail
	// before the cycle counts as failed (40%, as Entra's).
	DefaultFailureShare = 0.4
	// DefaultShutdownGrace is how long Run lets a cycle in flight finish
	// once its context ends.
	DefaultShutdownGrace = 10 * time.Second
	// DefaultAlertEvery is how often an identical notification may repeat.
	DefaultAlertEvery = 24 * time.Hour
)

// ErrRunnerRunning is returned by Run when the Runner is running already.
var ErrRunnerRunning = errors.New("sync: runner is running already")

// Clock is the time of a Runner: the current time and timers. The
// default is the system clock; tests drive a fake one.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives once d has passed, and a
	// function that stops the timer.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// HeldPlans is what a Runner does while a plan waits for a confirmation
// (Plan.NeedsConfirmation: a deletion limit is exceeded, or the scope
// accepts no one). Either way the plan is reported in the status and
// notified; to carry out what it holds, review a new plan (Engine.Plan)
// and apply it with Confirm.
type HeldPlans string

// Choices for held plans.
const (
	// HeldWait applies nothing while the plan is held: no creates or
	// updates either, since a plan that deprovisions that much often
	// comes from a mistake at the source. The default.
	HeldWait HeldPlans = "wait"
	// HeldApplyRest applies the plan's changes that take nothing away
	// (creates, updates, member additions) and holds its deactivations,
	// deletions and member removals until confirmed.
	HeldApplyRest HeldPlans = "apply-rest"
)

// Trigger is what started a cycle.
type Trigger string

// Triggers.
const (
	TriggerStart    Trigger = "start"
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
	TriggerRestart  Trigger = "restart"
	// TriggerRetryFailed: RetryFailed asked for a cycle that plans only
	// the changes that failed before.
	TriggerRetryFailed Trigger = "retry-failed"
)

// CycleOutcome is how a cycle ended.
type CycleOutcome string

// Cycle outcomes.
const (
	// CycleSucceeded: the plan was applied (fewer changes failed than
	// the failure share allows) or was empty.
	CycleSucceeded CycleOutcome = "succeeded"
	// CycleHeld: the plan waits for a confirmation; nothing, or only the
	// rest (HeldApplyRest), was applied.
	CycleHeld CycleOutcome = "held"
	// CycleFailed: the cycle failed; the Runner is quarantined.
	CycleFailed CycleOutcome = "failed"
	// CycleCancelled: Run's context ended and the cycle was abandoned.
	CycleCancelled CycleOutcome = "cancelled"
	// CycleStandby: another process holds the state (ErrLocked), as a
	// leader among replicas does. Nothing was written; this Runner stands
	// by, is not quarantined, and tries again at its next tick, so it
	// takes over within one interval of the leader's end.
	CycleStandby CycleOutcome = "standby"
)

// QuarantineReason says why a cycle failed.
type QuarantineReason string

// Quarantine reasons.
const (
	// ReasonSourceRead: the source could not be read; nothing was planned.
	ReasonSourceRead QuarantineReason = "source-read-failed"
	// ReasonUnauthorized: the target refused the credentials.
	ReasonUnauthorized QuarantineReason = "target-unauthorized"
	// ReasonTooManyFailures: more than the failure share of the changes
	// failed.
	ReasonTooManyFailures QuarantineReason = "too-many-failures"
	// ReasonStateLocked: another process holds the state (ErrLocked);
	// only one may sync a state at a time. The cycle's outcome is
	// CycleStandby, not a failure.
	ReasonStateLocked QuarantineReason = "state-locked"
	// ReasonError: any other error, such as a failed target read or a
	// state that cannot be stored.
	ReasonError QuarantineReason = "error"
)

// CycleReport is what one cycle did.
type CycleReport struct {
	ID       string       `json:"id"`
	Trigger  Trigger      `json:"trigger"`
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Outcome  CycleOutcome `json:"outcome"`
	// FullRead is set when the source was read in full, not as changes.
	FullRead bool `json:"fullRead"`
	// DriftCheck is set when the target was read in full (a drift
	// check), not compared through the state's mirrors.
	DriftCheck bool `json:"driftCheck,omitempty"`
	// Planned counts the plan's changes; Applied, Failed and Skipped what
	// became of those that were applied.
	Planned Summary `json:"planned"`
	Applied int     `json:"applied"`
	Failed  int     `json:"failed"`
	Skipped int     `json:"skipped"`
	// Held is set when the plan waits for a confirmation.
	Held bool `json:"held,omitempty"`
	// PendingApprovals counts changes waiting for approval.
	PendingApprovals int `json:"pendingApprovals,omitempty"`
	// Escrowed counts the changes that failed before and were held back,
	// waiting for their retry or failed persistently (Plan.Escrowed).
	Escrowed int `json:"escrowed,omitempty"`
	// Reason and Error say why a cycle failed.
	Reason QuarantineReason `json:"reason,omitempty"`
	Error  string           `json:"error,omitempty"`
}

// Quarantine is a Runner backing off after failed cycles.
type Quarantine struct {
	Since  time.Time        `json:"since"`
	Reason QuarantineReason `json:"reason"`
	Error  string           `json:"error"`
	// Failures counts the failed cycles in a row.
	Failures    int       `json:"failures"`
	NextAttempt time.Time `json:"nextAttempt"`
}

// HeldPlan is a plan waiting for a confirmation.
type HeldPlan struct {
	// Since is when the first of the cycles that held it in a row ran.
	Since   time.Time `json:"since"`
	Reasons []string  `json:"reasons"`
	Summary Summary   `json:"summary"`
	// AppliedRest is set when the changes that take nothing away were
	// applied (HeldApplyRest).
	AppliedRest bool `json:"appliedRest"`
}

// RunnerStatus is a Runner's state for health checks; it marshals to
// JSON.
type RunnerStatus struct {
	// State is "idle", "running", "standby" (another process holds the
	// state), "quarantined" or "stopped".
	State     string       `json:"state"`
	LastCycle *CycleReport `json:"lastCycle,omitempty"`
	// LastSuccess is when the last cycle that did not fail finished.
	LastSuccess time.Time   `json:"lastSuccess,omitzero"`
	NextCycle   time.Time   `json:"nextCycle,omitzero"`
	Quarantine  *Quarantine `json:"quarantine,omitempty"`
	Held        *HeldPlan   `json:"held,omitempty"`
	// PendingApprovals counts changes waiting for approval.
	PendingApprovals int `json:"pendingApprovals"`
	// Cycles counts the cycles run; SkippedTicks the scheduled ones that
	// fell while a cycle ran and were not run on their own.
	Cycles       int `json:"cycles"`
	SkippedTicks int `json:"skippedTicks"`
	// Escrow counts the failed changes waiting for a retry or failed
	// persistently, as the last cycle left them.
	Escrow int `json:"escrow"`
	// PersistentFailures are the changes that failed as often as the
	// retry limit allows, each with its object and last error; they are
	// not retried until the source or the target changes them, or until
	// RetryFailed or Restart.
	PersistentFailures []EscrowEntry `json:"persistentFailures,omitempty"`
}

// RunnerOption sets an optional setting of a Runner.
type RunnerOption func(*Runner)

// WithInterval sets the time between scheduled cycles. Default
// DefaultInterval.
func WithInterval(d time.Duration) RunnerOption { return func(r *Runner) { r.interval = d } }

// WithJitter adds a random delay between 0 and max to each scheduled
// cycle, so that many Runners do not call one target at once. Default 0.
func WithJitter(maxDelay time.Duration) RunnerOption { return func(r *Runner) { r.jitter = maxDelay } }

// WithRandSource sets the random source of the jitter. Default: a
// source seeded at random.
func WithRandSource(src rand.Source) RunnerOption { return func(r *Runner) { r.rand = rand.New(src) } }

// WithMaxBackoff bounds the wait after failed cycles, which doubles with
// each failure in a row. Default DefaultMaxBackoff.
func WithMaxBackoff(d time.Duration) RunnerOption { return func(r *Runner) { r.maxBackoff = d } }

// WithFullReadEvery makes a cycle read the source in full when the last
// full read is older than d, and, with cycles > 0, after that many cycles
// that read only changes. The first cycle of a Runner, and the first after
// Restart, read in full. d = 0 turns the time off. Default
// DefaultFullReadEvery and no cycle count. A full source read does not
// read the target in full: the engine's WithDriftCheck says when that
// happens; the cycle after Restart does both, as Reapply does.
func WithFullReadEvery(d time.Duration, cycles int) RunnerOption {
	return func(r *Runner) { r.fullEvery, r.fullCycles = d, cycles }
}

// WithDriftCheckCycles makes a cycle a drift check (DriftCheck: the whole
// target is read, and hand-made changes corrected) once n cycles have
// passed since the last one, besides the engine's WithDriftCheck
// interval. 0, the default, leaves drift checks to the interval.
func WithDriftCheckCycles(n int) RunnerOption { return func(r *Runner) { r.driftCycles = n } }

// WithFailureShare sets the share of a cycle's changes (0 to 1) whose
// failure fails the cycle: more than share failed means quarantine.
// Default DefaultFailureShare.
func WithFailureShare(share float64) RunnerOption { return func(r *Runner) { r.failShare = share } }

// WithShutdownGrace sets how long Run lets a cycle in flight finish once
// its context ends; then the cycle's requests are cancelled, what landed
// is saved, and Run returns. Default DefaultShutdownGrace.
func WithShutdownGrace(d time.Duration) RunnerOption { return func(r *Runner) { r.grace = d } }

// WithHeldPlans sets what the Runner does while a plan waits for a
// confirmation. Default HeldWait.
func WithHeldPlans(h HeldPlans) RunnerOption { return func(r *Runner) { r.held = h } }

// WithNotifier adds a notifier; give it more than once for several.
func WithNotifier(n Notifier) RunnerOption {
	return func(r *Runner) { r.notifiers = append(r.notifiers, n) }
}

// WithAlertEvery sets how often an identical notification (same kind and
// reason, or same held plan) may repeat. Default DefaultAlertEvery.
func WithAlertEvery(d time.Duration) RunnerOption { return func(r *Runner) { r.alerts.every = d } }

// WithNotifyTimeout bounds each Notify call. Default 30 seconds.
func WithNotifyTimeout(d time.Duration) RunnerOption { return func(r *Runner) { r.notifyTimeout = d } }

// WithObserver adds an observer of changes and cycles; give it more than
// once for several.
func WithObserver(o Observer) RunnerOption {
	return func(r *Runner) { r.observers = append(r.observers, o) }
}

// WithRunnerProgress calls fn after each change a cycle applies, with
// the apply's progress (as Apply's WithProgress), from one goroutine at a
// time; a progress bar or a periodic log line plugs in here. Give it more
// than once for several.
func WithRunnerProgress(fn func(Progress)) RunnerOption {
	return func(r *Runner) { r.progress = append(r.progress, fn) }
}

// WithRetryLimit sets how many times in a row a change may fail before
// the Runner reports it as a persistent failure and stops retrying it
// (the escrow). Until then a failed change is retried with a backoff: at
// the next cycle, then after twice the interval, four times, and so on,
// at most the maximum backoff. n = 0 turns the escrow off: every cycle
// tries every change. Default DefaultRetryLimit.
func WithRetryLimit(n int) RunnerOption { return func(r *Runner) { r.retryLimit = n } }

// WithRunnerClock sets the Runner's clock. Default: the system clock.
func WithRunnerClock(c Clock) RunnerOption { return func(r *Runner) { r.clock = c } }

// Runner runs an Engine unattended, as the hosted provisioning services
// do: a cycle at once and then every interval, one at a time; a backoff
// and a quarantine after failed cycles; notifications; a status for
// health checks. Create it with NewRunner and call Run.
type Runner struct {
	eng           *Engine
	log           *zap.Logger
	clock         Clock
	rand          *rand.Rand
	interval      time.Duration
	jitter        time.Duration
	maxBackoff    time.Duration
	fullEvery     time.Duration
	fullCycles    int
	driftCycles   int
	failShare     float64
	grace         time.Duration
	held          HeldPlans
	notifyTimeout time.Duration
	retryLimit    int
	notifiers     []Notifier
	observers     []Observer
	progress      []func(Progress)
	meterProvider metric.MeterProvider
	metrics       *runnerMetrics

	trigger chan Trigger // holds at most one pending trigger
	running atomic.Bool

	mu        gosync.Mutex // guards what follows
	status    RunnerStatus
	seq       int
	scheduled time.Time // the next cycle, set by record; only Run's goroutine uses it
	tag       string    // this Runner's random part of its cycle ids
	failures  int
	anchor    time.Time // a scheduled tick; zero after a failure
	lastFull  time.Time
	sinceFull int  // cycles since the last full read
	driftAgo  int  // cycles planned since the last drift check
	forceFull bool // Restart asked for a full read
	approvals string
	heldPlan  *Plan
	lastPlan  *Plan
	alerts    alertLimiter
	// resets counts the Restarts; cleared the resets whose escrow a
	// cycle cleared.
	resets, cleared int
	persistent      map[string]string // escrow key → what was notified of it
}

// NewRunner returns a Runner of eng.
func NewRunner(eng *Engine, opts ...RunnerOption) (*Runner, error) {
	if eng == nil {
		return nil, errors.New("sync: NewRunner needs an engine")
	}
	r := &Runner{
		eng: eng, log: eng.log.Named("runner"), clock: systemClock{},
		rand:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		interval: DefaultInterval, maxBackoff: DefaultMaxBackoff, fullEvery: DefaultFullReadEvery,
		failShare: DefaultFailureShare, grace: DefaultShutdownGrace, held: HeldWait,
		notifyTimeout: 30 * time.Second, retryLimit: DefaultRetryLimit, alerts: alertLimiter{every: DefaultAlertEvery},
		trigger: make(chan Trigger, 1),
		// Cycle ids must not repeat across Runners and restarts: the
		// start second and a counter alone would, within one second.
		tag: fmt.Sprintf("%08x", rand.Uint32()),
	}
	for _, o := range opts {
		o(r)
	}
	switch {
	case r.interval <= 0:
		return nil, fmt.Errorf("sync: runner interval %s: want a positive duration", r.interval)
	case r.jitter < 0 || r.maxBackoff < 0 || r.fullEvery < 0 || r.grace < 0 || r.alerts.every < 0:
		return nil, errors.New("sync: runner durations must not be negative")
	case r.notifyTimeout <= 0:
		return nil, fmt.Errorf("sync: runner notify timeout %s: want a positive duration", r.notifyTimeout)
	case r.retryLimit < 0:
		return nil, fmt.Errorf("sync: runner retry limit %d: want 0 (no escrow) or more", r.retryLimit)
	case r.driftCycles < 0:
		return nil, fmt.Errorf("sync: runner drift check every %d cycles: want 0 (off) or more", r.driftCycles)
	case r.fullCycles < 0:
		return nil, fmt.Errorf("sync: runner full read every %d cycles: want 0 (off) or more", r.fullCycles)
	case !(r.failShare >= 0 && r.failShare <= 1):
		return nil, fmt.Errorf("sync: runner failure share %v: want a share from 0 to 1", r.failShare)
	case r.held != HeldWait && r.held != HeldApplyRest:
		return nil, fmt.Errorf("sync: runner held plans %q: want %q or %q", r.held, HeldWait, HeldApplyRest)
	case r.clock == nil || r.rand == nil || slices.Contains(r.notifiers, nil) || slices.Contains(r.observers, nil):
		return nil, errors.New("sync: runner clock, random source, notifiers and observers must not be nil")
	}
	if r.maxBackoff == 0 {
		r.maxBackoff = DefaultMaxBackoff
	}
	var err error
	if r.metrics, err = newRunnerMetrics(r.meterProvider); err != nil {
		return nil, err
	}
	r.status.State = "idle"
	return r, nil
}

// TriggerNow asks for a cycle at once, even during a quarantine's
// backoff. A trigger while a cycle runs starts one more cycle after it;
// more triggers meanwhile add nothing.
func (r *Runner) TriggerNow() { r.request(TriggerManual) }

func (r *Runner) request(t Trigger) {
	select {
	case r.trigger <- t:
	default:
	}
}

// Restart clears the quarantine and the escrow (the failed changes, and
// their counts in the state, are forgotten) and asks for a cycle at once
// that reads the source in full and tries every change, as Entra's
// "restart provisioning" does.
func (r *Runner) Restart() {
	r.mu.Lock()
	r.failures, r.anchor, r.forceFull = 0, time.Time{}, true
	r.status.Quarantine, r.status.NextCycle = nil, r.clock.Now()
	if r.status.State == "quarantined" {
		r.status.State = "idle"
	}
	r.alerts.forget(NotifyQuarantined)
	r.resets++
	r.status.Escrow, r.status.PersistentFailures, r.persistent = 0, nil, nil
	r.mu.Unlock()
	select { // a restart replaces a pending manual trigger
	case <-r.trigger:
	default:
	}
	r.request(TriggerRestart)
}

// RetryFailed asks for a cycle at once that plans only the changes that
// failed before (those in the escrow), persistent failures included,
// ignoring their backoff. It replaces a pending TriggerNow; a pending
// Restart, which tries every change, makes it needless.
func (r *Runner) RetryFailed() {
	select {
	case t := <-r.trigger:
		if t == TriggerRestart {
			r.request(t)
			return
		}
	default:
	}
	r.request(TriggerRetryFailed)
}

// Status returns the Runner's state: the last cycle, the next one, the
// quarantine and the held plan.
func (r *Runner) Status() RunnerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	if s.LastCycle != nil {
		c := *s.LastCycle
		s.LastCycle = &c
	}
	if s.Quarantine != nil {
		q := *s.Quarantine
		s.Quarantine = &q
	}
	s.PersistentFailures = slices.Clone(s.PersistentFailures)
	if s.Held != nil {
		h := *s.Held
		h.Reasons = slices.Clone(h.Reasons)
		s.Held = &h
	}
	return s
}

// HeldPlan returns the last plan held for a confirmation, nil when the
// last cycle held none. It is for review: apply a new plan, not this one.
func (r *Runner) HeldPlan() *Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.heldPlan
}

// LastPlan returns the plan of the last cycle that made one, nil before
// any. It is for review: apply a new plan, not this one. As with Sync,
// the creates the cycle applied have no payload (Change.User,
// Change.Group and Change.Members are nil); its summary counts them all.
func (r *Runner) LastPlan() *Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPlan
}

// Run runs cycles until ctx ends: the first at once, then at each
// interval, one at a time. When ctx ends during a cycle, the cycle may
// finish within the shutdown grace; after it, its requests are
// cancelled, what landed is saved, and Run returns. Run returns nil when
// ctx ends, and ErrRunnerRunning when the Runner is running already.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunnerRunning
	}
	defer r.running.Store(false)
	defer r.setState("stopped")
	defer r.metrics.observe(r)()
	next, why := r.clock.Now(), TriggerStart
	for ctx.Err() == nil {
		trig, ok := r.wait(ctx, next, why)
		if !ok {
			return nil
		}
		rep := r.cycle(ctx, trig)
		if rep.Outcome == CycleCancelled {
			return nil
		}
		next, why = r.scheduled, TriggerSchedule
	}
	return nil
}

func (r *Runner) setState(s string) {
	r.mu.Lock()
	r.status.State = s
	r.mu.Unlock()
}

// wait waits until next, a trigger, or the end of ctx.
func (r *Runner) wait(ctx context.Context, next time.Time, why Trigger) (Trigger, bool) {
	select {
	case t := <-r.trigger:
		return t, true
	default:
	}
	d := next.Sub(r.clock.Now())
	if d <= 0 {
		return why, true
	}
	c, stop := r.clock.NewTimer(d)
	defer stop()
	select {
	case <-ctx.Done():
		return "", false
	case <-c:
		return why, true
	case t := <-r.trigger:
		return t, true
	}
}

// cycleResult is what the engine's part of a cycle returns.
type cycleResult struct {
	plan, applied *Plan
	res           *Result
	err           error
	resets        int // the Restarts whose escrow the cycle cleared
}

// cycle runs one cycle and records it.
func (r *Runner) cycle(ctx context.Context, trig Trigger) CycleReport {
	r.mu.Lock()
	r.seq++
	start := r.clock.Now()
	full := r.forceFull || r.lastFull.IsZero() || (r.fullEvery > 0 && start.Sub(r.lastFull) >= r.fullEvery) ||
		(r.fullCycles > 0 && r.sinceFull >= r.fullCycles)
	rep := CycleReport{ID: r.cycleID(start, r.seq), Trigger: trig, Started: start}
	r.status.State = "running"
	var esc *escrowConfig
	if r.retryLimit > 0 {
		esc = &escrowConfig{now: start, base: r.interval, maxWait: r.maxBackoff, limit: r.retryLimit,
			failShare: r.failShare, only: trig == TriggerRetryFailed}
	}
	resets, reset := r.resets, r.resets > r.cleared
	drift := r.forceFull || (r.driftCycles > 0 && r.driftAgo >= r.driftCycles)
	r.mu.Unlock()
	r.log.Info("cycle started", zap.String("cycle", rep.ID), zap.String("trigger", string(trig)), zap.Bool("full", full))

	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan cycleResult, 1)
	go func() {
		var cr cycleResult
		cr.plan, cr.applied, cr.res, cr.err = r.eng.cycle(cctx, full, drift, r.held, esc, reset, func(c *Change, p Progress, retries int) {
			ev := changeEvent(r.clock.Now(), rep.ID, c, p.Outcome)
			ev.Retries = retries
			r.metrics.change(ev)
			for _, ob := range r.observers {
				ob.ChangeDone(ev)
			}
			for _, fn := range r.progress {
				fn(p)
			}
		})
		if cr.plan != nil {
			cr.resets = resets
		}
		done <- cr
	}()
	var cr cycleResult
	abandoned := false
	select {
	case cr = <-done:
	case <-ctx.Done():
		c, stop := r.clock.NewTimer(r.grace)
		select {
		case cr = <-done:
		case <-c:
			r.log.Warn("shutdown grace over; abandoning the cycle's requests", zap.String("cycle", rep.ID))
			cancel()
			abandoned = true
			cr = <-done
		}
		stop()
	}
	rep.Finished = r.clock.Now()
	r.classify(&rep, cr, abandoned)
	r.record(ctx, &rep, cr)
	return rep
}

// classify sets the report's outcome and counts from the cycle's result.
func (r *Runner) classify(rep *CycleReport, cr cycleResult, abandoned bool) {
	if p := cr.plan; p != nil {
		rep.FullRead, rep.DriftCheck, rep.Planned = !p.Incremental, p.DriftCheck, p.Summary
		rep.Held = !p.Applyable
		rep.Escrowed = len(p.Escrowed)
		for _, h := range p.Held {
			if h.Status == ApprovalPending {
				rep.PendingApprovals++
			}
		}
	}
	if res := cr.res; res != nil {
		rep.Applied, rep.Failed, rep.Skipped = res.Applied, res.Failed, res.Skipped
	}
	fail := func(reason QuarantineReason, err error) {
		rep.Outcome, rep.Reason, rep.Error = CycleFailed, reason, err.Error()
	}
	var tooMany bool
	var failed, total int
	if cr.res != nil {
		tooMany, failed, total = tooManyFailures(cr.applied, cr.res, r.failShare)
	}
	switch {
	case abandoned:
		rep.Outcome, rep.Error = CycleCancelled, "run stopped during the cycle"
	case cr.err != nil && errors.Is(cr.err, ErrSourceRead):
		fail(ReasonSourceRead, cr.err)
	case cr.err != nil && errors.Is(cr.err, target.ErrUnauthorized):
		fail(ReasonUnauthorized, cr.err)
	case cr.err != nil && errors.Is(cr.err, ErrLocked):
		rep.Outcome, rep.Reason, rep.Error = CycleStandby, ReasonStateLocked, cr.err.Error()
	case cr.err != nil:
		fail(ReasonError, cr.err)
	case cr.res != nil && unauthorized(cr.res) != nil:
		fail(ReasonUnauthorized, unauthorized(cr.res))
	case tooMany:
		fail(ReasonTooManyFailures, fmt.Errorf("%d of %d changes failed, more than %.0f%%: %w",
			failed, total, 100*r.failShare, firstFailure(cr.res)))
	case rep.Held:
		rep.Outcome = CycleHeld
	default:
		rep.Outcome = CycleSucceeded
	}
}

// unauthorized returns the first outcome error that is the target
// refusing the credentials.
func unauthorized(res *Result) error {
	for i := range res.Outcomes {
		if err := res.Outcomes[i].err; err != nil && errors.Is(err, target.ErrUnauthorized) {
			return err
		}
	}
	return nil
}

func firstFailure(res *Result) error {
	for i := range res.Outcomes {
		if err := res.Outcomes[i].err; err != nil && res.Outcomes[i].Status == StatusFailed {
			return err
		}
	}
	return errors.New("no error recorded")
}

// record updates the status from a finished cycle, decides what to
// notify, sends it, and tells the observers.
func (r *Runner) record(ctx context.Context, rep *CycleReport, cr cycleResult) {
	var notes []Notification
	note := func(kind NotificationKind, msg string) *Notification {
		notes = append(notes, Notification{Kind: kind, Time: rep.Finished, Source: r.eng.source.Name(),
			Target: r.eng.targetName, Cycle: rep.ID, Message: msg})
		return &notes[len(notes)-1]
	}
	r.mu.Lock()
	st := &r.status
	st.Cycles++
	st.LastCycle = rep
	if cr.plan != nil {
		r.lastPlan = cr.plan
	}
	if p := cr.plan; p != nil && !p.Incremental {
		r.lastFull, r.sinceFull, r.forceFull = rep.Started, 0, false
	} else if p != nil {
		r.sinceFull++
	}
	if p := cr.plan; p != nil && p.DriftCheck {
		r.driftAgo = 0
	} else if p != nil {
		r.driftAgo++
	}
	switch rep.Outcome {
	case CycleCancelled:
	case CycleStandby:
		// Not this Runner's failure: another process leads. No
		// quarantine, no alert; the next tick tries again.
		r.failures, st.Quarantine, st.State = 0, nil, "standby"
		if r.anchor.IsZero() {
			r.anchor = rep.Started
		}
		r.log.Info("standing by: another process holds the state", zap.String("cycle", rep.ID))
	case CycleFailed:
		r.failures++
		r.anchor = time.Time{}
		q := st.Quarantine
		news := q == nil || q.Reason != rep.Reason // entered, or failing for another reason
		if q == nil {
			q = &Quarantine{Since: rep.Finished}
			st.Quarantine = q
		}
		q.Reason, q.Error, q.Failures = rep.Reason, rep.Error, r.failures
		q.NextAttempt = rep.Finished.Add(r.backoff())
		st.NextCycle, st.State = q.NextAttempt, "quarantined"
		if news && r.alerts.allow(NotifyQuarantined, string(q.Reason), rep.Finished) {
			r.alerts.forget(NotifyRecovered)
			qc := *q
			note(NotifyQuarantined, fmt.Sprintf("provisioning is quarantined (%s); next attempt at %s: %s",
				q.Reason, q.NextAttempt.UTC().Format(time.RFC3339), q.Error)).Quarantine = &qc
		}
		r.log.Warn("cycle failed; quarantined", zap.String("cycle", rep.ID), zap.String("reason", string(rep.Reason)),
			zap.String("error", rep.Error), zap.Int("failures", r.failures), zap.Time("nextAttempt", q.NextAttempt))
	default:
		if st.Quarantine != nil && r.alerts.allow(NotifyRecovered, "", rep.Finished) {
			r.alerts.forget(NotifyQuarantined)
			note(NotifyRecovered, fmt.Sprintf("provisioning left quarantine after %d failed cycles", r.failures))
		}
		r.failures, st.Quarantine, st.LastSuccess, st.State = 0, nil, rep.Finished, "idle"
		if r.anchor.IsZero() {
			r.anchor = rep.Started
		}
		r.updateHeld(rep, cr, note)
		r.updateApprovals(cr, note)
		r.log.Info("cycle finished", zap.String("cycle", rep.ID), zap.String("outcome", string(rep.Outcome)),
			zap.Int("applied", rep.Applied), zap.Int("failed", rep.Failed), zap.Bool("held", rep.Held))
	}
	r.updateEscrow(rep, cr, note)
	r.mu.Unlock()
	// The next cycle is scheduled before anyone hears of this one, so a
	// Status read by an observer or a notifier already shows it.
	if rep.Outcome != CycleCancelled {
		r.scheduled = r.schedule(*rep)
	}
	r.metrics.cycle(rep, cr)
	for _, n := range notes {
		r.notify(ctx, n)
	}
	for _, o := range r.observers {
		o.CycleDone(*rep)
	}
}

// updateHeld keeps the held plan of a healthy cycle. The caller holds r.mu.
func (r *Runner) updateHeld(rep *CycleReport, cr cycleResult, note func(NotificationKind, string) *Notification) {
	st := &r.status
	if !rep.Held {
		st.Held, r.heldPlan = nil, nil
		return
	}
	h := &HeldPlan{Since: rep.Started, Reasons: slices.Clone(cr.plan.Reasons), Summary: cr.plan.Summary,
		AppliedRest: cr.applied != nil}
	if st.Held != nil {
		h.Since = st.Held.Since
	}
	st.Held, r.heldPlan = h, cr.plan
	if r.alerts.allow(NotifyPlanHeld, strings.Join(h.Reasons, "\n"), rep.Finished) {
		hc := *h
		what := "nothing was applied"
		if h.AppliedRest {
			what = "the changes that take nothing away were applied"
		}
		note(NotifyPlanHeld, fmt.Sprintf("a plan waits for confirmation (%s); %s: %s",
			cr.plan.SummaryLine(), what, strings.Join(h.Reasons, "; "))).Held = &hc
	}
}

// updateApprovals counts the changes pending approval and notifies a new
// set of them. The caller holds r.mu.
func (r *Runner) updateApprovals(cr cycleResult, note func(NotificationKind, string) *Notification) {
	if cr.plan == nil {
		return
	}
	var ids []string
	for _, h := range cr.plan.Held {
		if h.Status == ApprovalPending {
			ids = append(ids, h.ID)
		}
	}
	slices.Sort(ids)
	r.status.PendingApprovals = len(ids)
	key := strings.Join(ids, ",")
	if len(ids) > 0 && key != r.approvals && r.alerts.allow(NotifyApprovalPending, key, r.status.LastCycle.Finished) {
		note(NotifyApprovalPending, fmt.Sprintf("%d changes wait for approval", len(ids))).Approvals = ids
	}
	r.approvals = key
}

// updateEscrow keeps the escrow's size and persistent failures from the
// cycle's plan and apply, and notifies each persistent failure that this
// cycle's attempt made (or left) persistent, once per object and error: a
// Runner of a new process does not repeat what an earlier one notified.
// The caller holds r.mu.
func (r *Runner) updateEscrow(rep *CycleReport, cr cycleResult, note func(NotificationKind, string) *Notification) {
	r.cleared = max(r.cleared, cr.resets)
	if cr.plan == nil || cr.plan.escrow == nil || cr.resets != r.resets {
		return // no plan, no escrow, or a Restart since the cycle began
	}
	view := cr.plan.escrowView
	if cr.res != nil && cr.res.escrow != nil {
		view = cr.res.escrow
	}
	st := &r.status
	st.Escrow, st.PersistentFailures = len(view), persistentFailures(view)
	notified := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(view)) {
		e := view[k]
		if !e.Persistent {
			continue
		}
		what := e.Digest + "\x00" + e.LastError
		notified[k] = what
		if r.persistent[k] == what || !e.LastAttempt.Equal(rep.Started) {
			continue
		}
		ec := e
		note(NotifyPersistentFailure, fmt.Sprintf("%s %s failed %d times in a row and is not retried until the source or the target changes it: %s",
			e.Action, e.Object, e.Attempts, e.LastError)).Failure = &ec
		r.log.Warn("change failed persistently", zap.String("action", string(e.Action)), zap.String("kind", string(e.Object.Kind)),
			zap.String("sourceId", e.Object.SourceID), zap.Int("attempts", e.Attempts), zap.String("error", e.LastError))
	}
	r.persistent = notified
}

// backoff is the wait after r.failures failed cycles in a row: the
// interval doubled with each, at most maxBackoff. The caller holds r.mu.
func (r *Runner) backoff() time.Duration {
	d := r.interval
	for i := 0; i < r.failures && d < r.maxBackoff; i++ {
		d *= 2
	}
	return min(d, r.maxBackoff) + r.jitterDelay()
}

func (r *Runner) jitterDelay() time.Duration {
	if r.jitter <= 0 {
		return 0
	}
	return time.Duration(r.rand.Int64N(int64(r.jitter)))
}

// schedule returns when the next cycle is due after rep: the next tick
// of the schedule after the cycle finished (ticks that fell during the
// cycle are skipped, not run late), or the quarantine's next attempt.
func (r *Runner) schedule(rep CycleReport) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q := r.status.Quarantine; q != nil {
		return q.NextAttempt
	}
	if r.anchor.IsZero() { // Restart cleared it while the cycle ran
		r.anchor = rep.Started
	}
	// Ticks at anchor + k*interval; the next one after the cycle ended.
	k := rep.Finished.Sub(r.anchor)/r.interval + 1
	tick := r.anchor.Add(k * r.interval)
	// Ticks after the cycle's start that it overran were skipped.
	if started := rep.Started.Sub(r.anchor)/r.interval + 1; k > started {
		r.status.SkippedTicks += int(k - started)
	}
	r.status.NextCycle = tick.Add(r.jitterDelay())
	return r.status.NextCycle
}

// notify sends n to every notifier, each with a bounded context.
func (r *Runner) notify(ctx context.Context, n Notification) {
	for _, nf := range r.notifiers {
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.notifyTimeout)
		if err := nf.Notify(nctx, n); err != nil {
			r.log.Warn("notification not delivered", zap.String("kind", string(n.Kind)), zap.Error(err))
		}
		cancel()
	}
}

// cycle is the engine's part of a Runner's cycle: plan (with a full
// source read when full, a drift check when drift) and apply, as one step under the engine's
// lock, as Sync does. A plan held for a confirmation is applied only as
// far as held allows; plan is the plan made, applied what was applied
// (nil for none). onChange hears of each change applied, with the
// apply's progress.
func (e *Engine) cycle(ctx context.Context, full, drift bool, held HeldPlans, esc *escrowConfig, reset bool,
	onChange func(*Change, Progress, int)) (plan, applied *Plan, res *Result, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if reset {
		if err := e.clearEscrow(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	var po []PlanOption
	if full {
		po = append(po, func(c *planConfig) { c.fullSource = true })
	}
	if drift {
		po = append(po, DriftCheck())
	}
	if esc != nil {
		po = append(po, func(c *planConfig) { c.escrow = esc })
	}
	// As in Sync, no caller holds the plan while the cycle applies it: it
	// is made in its compact form and each applied create gives up its
	// payload once recorded. A plan held for confirmation is kept whole.
	po = append(po, func(c *planConfig) { c.release = true })
	if plan, err = e.plan(ctx, po...); err != nil {
		return nil, nil, nil, err
	}
	applied = plan
	if !plan.Applyable {
		plan.release = false
		plan.unpack()
		if !plan.NeedsConfirmation || held != HeldApplyRest {
			return plan, nil, nil, nil
		}
		applied = plan.withoutDeprovisions()
	}
	res, err = e.apply(ctx, applied, WithProgress(func(p Progress) {
		c := &applied.Changes[p.Outcome.Change]
		onChange(c, p, applied.retries(c))
	}))
	applied.release = false
	applied.unpack()
	return plan, applied, res, err
}

// withoutDeprovisions returns the plan's changes that take nothing away,
// as an applyable plan: no deactivations, deletions or member removals.
// It is marked incomplete, as a plan that deprovisions nothing is, so
// that applying it forgets no approval of a deprovision it leaves out.
func (p *Plan) withoutDeprovisions() *Plan {
	rest := *p
	rest.Changes = slices.DeleteFunc(slices.Clone(p.Changes), func(c Change) bool {
		return c.Action.deprovisions() || c.Action == ActionRemoveMembers
	})
	rest.Applyable, rest.NeedsConfirmation, rest.Complete = true, false, false
	rest.Reasons = append(slices.Clone(p.Reasons), "deactivations, deletions and member removals are held for confirmation; the rest is applied")
	rest.summarize(p.Summary.UnchangedUsers, p.Summary.UnchangedGroups)
	return &rest
}

// cycleID names a cycle: its start, this Runner's tag and its number, as
// 20261201T153000Z-1a2b3c4d-7.
func (r *Runner) cycleID(start time.Time, seq int) string {
	return fmt.Sprintf("%s-%s-%d", start.UTC().Format("20060102T150405Z"), r.tag, seq)
}
