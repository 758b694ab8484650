package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
)

// Defaults of a Log.
const (
	// DefaultLogTimeout bounds a write of the log's pending events.
	DefaultLogTimeout = 10 * time.Second
	// DefaultLogPending is how many events a Log keeps while the database
	// cannot take them; past it the oldest are dropped.
	DefaultLogPending = 10000
	// DefaultLogBatch is how many queued events make ChangeDone write
	// them at once: the most a crash can lose while the database takes
	// writes (less one).
	DefaultLogBatch = 100
	// DefaultLogRetention is how long the log keeps an event.
	DefaultLogRetention = 90 * 24 * time.Hour
	// DefaultLogPruneBatch is how many rows one statement of Prune
	// deletes, so that no statement locks many rows for long.
	DefaultLogPruneBatch = 1000
	// DefaultLogPruneInterval is the least time between two prunings of
	// a target's log, by any replica.
	DefaultLogPruneInterval = time.Hour
)

// Log is the provisioning log (the events of sync/provlog) of one target
// in the database, in table provsync_log: replicas that share the
// database write one history per target, and each reads all of it.
//
// It plays the roles of a provlog.Log: a sync.Observer of a Runner, Call
// for the calls of a program's API, and Query. ChangeDone queues the
// event and writes the queue once it holds WithLogBatch events (default
// DefaultLogBatch; 1 writes each event at once, as the file log does);
// CycleDone, Call, Query, Flush and Close write what is queued, in one
// statement, within the Log's timeout. A process that dies loses the
// events not yet written: while the database takes writes, fewer than a
// batch, plus a batch whose write was under way. A write that fails is logged and kept for Err,
// as provlog does, and its events stay queued for the next write (up to
// DefaultLogPending; past it the oldest are dropped); until a write
// succeeds again, ChangeDone only queues, so that a database that is down
// never holds a cycle back. Attribute values are kept only WithLogValues,
// credentials redacted (provlog.Format).
//
// Events older than the retention (WithLogRetention, default
// DefaultLogRetention) and those past WithLogMaxRows are deleted by
// Prune, which CycleDone calls at most once per WithLogPruneInterval
// across all replicas. It is safe for concurrent use.
type Log struct {
	pool    *pgxpool.Pool
	target  string
	format  provlog.Format
	log     *zap.Logger
	timeout time.Duration
	max     int
	batch   int

	keep       time.Duration // 0: no limit by age
	maxRows    int64         // 0: no limit by count
	pruneBatch int
	pruneEvery time.Duration
	now        func() time.Time

	flush gosync.Mutex // one write at a time, so rows keep the queue's order

	mu      gosync.Mutex // guards what follows
	pending []provlog.Event
	err     error // the last write error, cleared by a good write
	closed  bool
	// nextPrune is when CycleDone next tries to claim a pruning.
	nextPrune time.Time
}

var _ sync.Observer = (*Log)(nil)

// LogOption sets an optional setting of a Log.
type LogOption func(*Log)

// WithLogValues records the attribute values of updates, as
// provlog.WithValues does: of the attributes named, or of all when none
// is named; those of credentials are redacted.
func WithLogValues(attributes ...string) LogOption {
	return func(l *Log) { l.format = provlog.NewFormat(provlog.WithValues(attributes...)) }
}

// WithLogLogger sets the logger for write errors (no-op by default).
func WithLogLogger(log *zap.Logger) LogOption { return func(l *Log) { l.log = log } }

// WithLogTimeout bounds each write of the queued events; default
// DefaultLogTimeout.
func WithLogTimeout(d time.Duration) LogOption { return func(l *Log) { l.timeout = d } }

// WithLogBatch sets how many queued events make ChangeDone write them;
// default DefaultLogBatch. 1 writes each event at once.
func WithLogBatch(n int) LogOption { return func(l *Log) { l.batch = n } }

// WithLogRetention sets how long the log keeps an event, by its time;
// default DefaultLogRetention. 0 keeps events of any age.
func WithLogRetention(d time.Duration) LogOption { return func(l *Log) { l.keep = d } }

// WithLogMaxRows bounds the target's log to its newest n events; 0 (the
// default) sets no bound.
func WithLogMaxRows(n int64) LogOption { return func(l *Log) { l.maxRows = n } }

// WithLogPruneBatch sets how many rows one delete statement of Prune
// takes; default DefaultLogPruneBatch.
func WithLogPruneBatch(n int) LogOption { return func(l *Log) { l.pruneBatch = n } }

// WithLogPruneInterval sets the least time between two prunings of the
// target's log by any replica; default DefaultLogPruneInterval.
func WithLogPruneInterval(d time.Duration) LogOption { return func(l *Log) { l.pruneEvery = d } }

// WithLogClock sets the clock that retention and the pruning interval
// read (time.Now by default).
func WithLogClock(now func() time.Time) LogOption { return func(l *Log) { l.now = now } }

// OpenLog migrates the database (Migrate) and returns the provisioning
// log of the target named target (the name the State of the same engine
// has). The pool stays the caller's to close; Close the Log first.
func OpenLog(ctx context.Context, pool *pgxpool.Pool, target string, opts ...LogOption) (*Log, error) {
	l := &Log{pool: pool, target: target, log: zap.NewNop(), timeout: DefaultLogTimeout, max: DefaultLogPending,
		batch: DefaultLogBatch, keep: DefaultLogRetention, pruneBatch: DefaultLogPruneBatch,
		pruneEvery: DefaultLogPruneInterval, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	switch {
	case target == "":
		return nil, errors.New("pgstate: open log: the target name is empty")
	case l.timeout <= 0:
		return nil, fmt.Errorf("pgstate: open log of %s: timeout %v: want a positive duration", target, l.timeout)
	case l.batch <= 0 || l.batch > l.max:
		return nil, fmt.Errorf("pgstate: open log of %s: batch %d: want 1 to %d", target, l.batch, l.max)
	case l.keep < 0:
		return nil, fmt.Errorf("pgstate: open log of %s: retention %v: want 0 (no limit) or more", target, l.keep)
	case l.maxRows < 0:
		return nil, fmt.Errorf("pgstate: open log of %s: max rows %d: want 0 (no limit) or more", target, l.maxRows)
	case l.pruneBatch <= 0:
		return nil, fmt.Errorf("pgstate: open log of %s: prune batch %d: want a positive number", target, l.pruneBatch)
	case l.pruneEvery <= 0:
		return nil, fmt.Errorf("pgstate: open log of %s: prune interval %v: want a positive duration", target, l.pruneEvery)
	case l.now == nil:
		return nil, fmt.Errorf("pgstate: open log of %s: clock must not be nil", target)
	case l.log == nil:
		return nil, fmt.Errorf("pgstate: open log of %s: logger must not be nil", target)
	}
	if err := Migrate(ctx, pool); err != nil {
		return nil, err
	}
	return l, nil
}

// ChangeDone queues the event, and writes the queue once it holds the
// batch (unless the last write failed: then CycleDone retries it).
func (l *Log) ChangeDone(ev sync.ChangeEvent) {
	if err := l.queue(l.format.Event(ev)); err != nil {
		l.log.Warn("provisioning log: event not written", zap.String("cycle", ev.Cycle),
			zap.String("action", string(ev.Action)), zap.Error(err))
		return
	}
	l.mu.Lock()
	full := len(l.pending) >= l.batch && l.err == nil
	l.mu.Unlock()
	if !full {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		l.log.Warn("provisioning log: events not written", zap.String("cycle", ev.Cycle), zap.Error(err))
	}
}

// CycleDone writes the queued events, then prunes the log if no replica
// did within the pruning interval. An error is logged and kept for Err;
// the Runner goes on.
func (l *Log) CycleDone(rep sync.CycleReport) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		l.log.Warn("provisioning log: events not written", zap.String("cycle", rep.ID), zap.Error(err))
	}
	now := l.now()
	l.mu.Lock()
	due := !now.Before(l.nextPrune)
	if due {
		l.nextPrune = now.Add(l.pruneEvery)
	}
	l.mu.Unlock()
	if !due {
		return
	}
	pctx, pcancel := context.WithTimeout(context.Background(), l.timeout)
	defer pcancel()
	if _, err := l.Prune(pctx); err != nil {
		l.log.Warn("provisioning log: not pruned", zap.String("cycle", rep.ID), zap.Error(err))
	}
}

// Call writes an API call made at t with its outcome and error, as
// provlog.Log.Call does, and the events queued before it.
func (l *Log) Call(t time.Time, c provlog.APICall, outcome sync.Status, callErr error) error {
	e, err := provlog.CallEvent(t, c, outcome, callErr)
	if err != nil {
		return err
	}
	if err := l.queue(e); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	return l.Flush(ctx)
}

// Err returns the error of the last write if it failed, nil otherwise.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// queue adds e to the events to write, dropping the oldest past the
// limit.
func (l *Log) queue(e provlog.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return provlog.ErrClosed
	}
	l.pending = append(l.pending, e)
	if n := len(l.pending) - l.max; n > 0 {
		l.pending = l.pending[n:]
		l.err = fmt.Errorf("pgstate: provisioning log of %s: %d events dropped while the database took none", l.target, n)
		return l.err
	}
	return nil
}

// Flush writes the queued events, in one statement. On an error they
// stay queued, and the error is kept for Err.
func (l *Log) Flush(ctx context.Context) error {
	l.flush.Lock()
	defer l.flush.Unlock()
	l.mu.Lock()
	evs := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(evs) == 0 {
		return nil
	}
	err := l.insert(ctx, evs)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.pending = append(evs, l.pending...)
		if n := len(l.pending) - l.max; n > 0 {
			l.pending = l.pending[n:]
		}
		l.err = fmt.Errorf("pgstate: provisioning log of %s: %d events not written: %w", l.target, len(evs), err)
		return l.err
	}
	l.err = nil
	return nil
}

// insert writes evs as rows, in order.
func (l *Log) insert(ctx context.Context, evs []provlog.Event) error {
	rows := make([][]any, 0, len(evs))
	for _, e := range evs {
		doc, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("event of %s %s: %w", e.Action, e.Name, err)
		}
		rows = append(rows, []any{l.target, e.Time, e.Cycle, string(e.Kind), string(e.Action), string(e.Outcome),
			e.SourceID, e.TargetID, source.FoldName(e.Name), json.RawMessage(doc)})
	}
	_, err := l.pool.CopyFrom(ctx, pgx.Identifier{"provsync_log"},
		[]string{"target", "at", "cycle", "kind", "action", "outcome", "source_id", "target_id", "name_key", "event"},
		pgx.CopyFromRows(rows))
	return err
}

// Query writes the queued events, then returns the target's events that
// pass f in the order written, oldest first, as provlog.Log.Query does.
// (A failed write is kept for Err; the query goes on.)
func (l *Log) Query(ctx context.Context, f provlog.Filter) ([]provlog.Event, error) {
	_ = l.Flush(ctx)
	q := "SELECT event FROM provsync_log WHERE target = $1"
	args := []any{l.target}
	where := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(" AND "+cond, len(args))
	}
	// The database keeps microseconds: its bounds take in the events of
	// the bounds' microseconds, and Match below decides to the
	// nanosecond.
	if !f.Since.IsZero() {
		where("at >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		where("at <= $%d", f.Until)
	}
	if f.Cycle != "" {
		where("cycle = $%d", f.Cycle)
	}
	if f.Kind != "" {
		where("kind = $%d", string(f.Kind))
	}
	if f.Action != "" {
		where("action = $%d", string(f.Action))
	}
	if f.Outcome != "" {
		where("outcome = $%d", string(f.Outcome))
	}
	if f.Object != "" {
		args = append(args, f.Object, source.FoldName(f.Object))
		q += fmt.Sprintf(" AND (source_id = $%d OR target_id = $%d OR name_key = $%d)", len(args)-1, len(args)-1, len(args))
	}
	rows, err := l.pool.Query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("pgstate: query the provisioning log of %s: %w", l.target, err)
	}
	var (
		out []provlog.Event
		doc []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
		var e provlog.Event
		if err := json.Unmarshal(doc, &e); err != nil {
			return err
		}
		if f.Match(&e) {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstate: read the provisioning log of %s: %w", l.target, err)
	}
	return out, nil
}

// Close writes the queued events; later writes fail with
// provlog.ErrClosed.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Flush(ctx)
}
