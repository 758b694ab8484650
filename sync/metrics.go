package sync

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/target"
)

// MeterName is the name of the OpenTelemetry meter a Runner records its
// metrics with.
const MeterName = "github.com/provsync/provsync/sync"

// The metrics of a Runner, by instrument name. Durations are in seconds.
const (
	// MetricCycles counts cycles by "outcome" (succeeded, held, failed,
	// cancelled) and, for failed ones, "reason".
	MetricCycles = "provsync.runner.cycles"
	// MetricCycleDuration is the histogram of cycle durations by "outcome".
	MetricCycleDuration = "provsync.runner.cycle.duration"
	// MetricChanges counts the changes applied by "action" and "outcome"
	// (applied, failed, skipped).
	MetricChanges = "provsync.runner.changes"
	// MetricObjectsOwned is the number of target objects the engine
	// created or adopted, by "kind" (user, group), after each cycle.
	MetricObjectsOwned = "provsync.runner.objects.owned"
	// MetricSourceReads counts source reads by "outcome" (ok, failed) and,
	// for those that succeeded, "full" (true for a full read, false for
	// changes only).
	MetricSourceReads = "provsync.source.reads"
	// MetricSourceReadDuration is the histogram of the durations of the
	// source reads that succeeded, by "full".
	MetricSourceReadDuration = "provsync.source.read.duration"
	// MetricQuarantined is 1 while the Runner is quarantined, else 0.
	MetricQuarantined = "provsync.runner.quarantined"
	// MetricHeldPlans is 1 while a plan waits for a confirmation, else 0.
	MetricHeldPlans = "provsync.runner.plans.held"
	// MetricPendingApprovals is the number of changes waiting for an
	// administrator's approval.
	MetricPendingApprovals = "provsync.runner.approvals.pending"
	// MetricEscrowed is the number of failed changes in escrow, waiting
	// for a retry or failed persistently.
	MetricEscrowed = "provsync.runner.escrow.changes"
	// MetricPersistentFailures is the number of changes that failed as
	// often as the retry limit allows.
	MetricPersistentFailures = "provsync.runner.escrow.persistent"
	// MetricSourceRequests counts the requests the source sent to its
	// provider, retries included, for a source that counts them
	// (source.RequestCounter, as the Entra, Google and OneLogin sources do).
	MetricSourceRequests = "provsync.source.requests"
	// MetricTargetRequests counts the target's requests by "method" and
	// "status" (0: no response), retries included, for a target that
	// reports them (target.StatsReporter, as the Netskope client does). It
	// counts from the client's creation: a reset of the client's counters
	// shows as a counter reset.
	MetricTargetRequests = "provsync.target.requests"
	// MetricTargetRateLimited counts the target's 429 answers.
	MetricTargetRateLimited = "provsync.target.requests.rate_limited"
	// MetricTargetRate is the request rate the target client paces itself
	// to, in requests per second; 0 when it does not pace.
	MetricTargetRate = "provsync.target.rate"
	// MetricTargetRateAllowed is the request rate the target says it
	// allows, in requests per second; 0 when it has not said.
	MetricTargetRateAllowed = "provsync.target.rate.allowed"
)

// WithMeterProvider sets the OpenTelemetry meter provider a Runner
// records its metrics with (see the Metric constants). The library uses
// the metric API only; the application picks the SDK and exporter.
// Default: a no-op provider, which records nothing.
func WithMeterProvider(mp metric.MeterProvider) RunnerOption {
	return func(r *Runner) { r.meterProvider = mp }
}

// durationBuckets are the histogram boundaries of durations, in seconds:
// from a fraction of a second (an incremental cycle with nothing to do)
// to hours (a first sync of a large directory).
var durationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

// runnerMetrics holds a Runner's instruments.
type runnerMetrics struct {
	meter       metric.Meter
	cycles      metric.Int64Counter
	cycleTime   metric.Float64Histogram
	changes     metric.Int64Counter
	owned       metric.Int64Gauge
	reads       metric.Int64Counter
	readTime    metric.Float64Histogram
	quarantined metric.Int64ObservableGauge
	held        metric.Int64ObservableGauge
	approvals   metric.Int64ObservableGauge
	escrowed    metric.Int64ObservableGauge
	persistent  metric.Int64ObservableGauge
	requests    metric.Int64ObservableCounter
	limited     metric.Int64ObservableCounter
	rate        metric.Float64ObservableGauge
	allowed     metric.Float64ObservableGauge
	srcRequests metric.Int64ObservableCounter
}

// newRunnerMetrics makes the instruments of mp, or no-op ones for nil.
func newRunnerMetrics(mp metric.MeterProvider) (*runnerMetrics, error) {
	m := &runnerMetrics{}
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m.meter = mp.Meter(MeterName)
	var errs [16]error
	m.cycles, errs[0] = m.meter.Int64Counter(MetricCycles, metric.WithUnit("{cycle}"),
		metric.WithDescription("Cycles run, by outcome and, for failed cycles, reason."))
	m.cycleTime, errs[1] = m.meter.Float64Histogram(MetricCycleDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of cycles, by outcome."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	m.changes, errs[2] = m.meter.Int64Counter(MetricChanges, metric.WithUnit("{change}"),
		metric.WithDescription("Changes applied, by action and outcome."))
	m.owned, errs[3] = m.meter.Int64Gauge(MetricObjectsOwned, metric.WithUnit("{object}"),
		metric.WithDescription("Target objects the engine created or adopted, by kind, after the last cycle."))
	m.reads, errs[4] = m.meter.Int64Counter(MetricSourceReads, metric.WithUnit("{read}"),
		metric.WithDescription("Source reads, by outcome and whether they were full."))
	m.readTime, errs[5] = m.meter.Float64Histogram(MetricSourceReadDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of the source reads that succeeded, by whether they were full."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	m.quarantined, errs[6] = m.meter.Int64ObservableGauge(MetricQuarantined,
		metric.WithDescription("1 while the Runner is quarantined, else 0."))
	m.held, errs[7] = m.meter.Int64ObservableGauge(MetricHeldPlans,
		metric.WithDescription("1 while a plan waits for a confirmation, else 0."))
	m.approvals, errs[8] = m.meter.Int64ObservableGauge(MetricPendingApprovals, metric.WithUnit("{change}"),
		metric.WithDescription("Changes waiting for an administrator's approval."))
	m.escrowed, errs[9] = m.meter.Int64ObservableGauge(MetricEscrowed, metric.WithUnit("{change}"),
		metric.WithDescription("Failed changes in escrow, waiting for a retry or failed persistently."))
	m.persistent, errs[10] = m.meter.Int64ObservableGauge(MetricPersistentFailures, metric.WithUnit("{change}"),
		metric.WithDescription("Changes that failed as often as the retry limit allows."))
	m.requests, errs[11] = m.meter.Int64ObservableCounter(MetricTargetRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests to the target, retries included, by method and status (0: no response)."))
	m.limited, errs[12] = m.meter.Int64ObservableCounter(MetricTargetRateLimited, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the target answered 429."))
	m.rate, errs[13] = m.meter.Float64ObservableGauge(MetricTargetRate, metric.WithUnit("{request}/s"),
		metric.WithDescription("The request rate the target client paces itself to; 0 when it does not pace."))
	m.allowed, errs[14] = m.meter.Float64ObservableGauge(MetricTargetRateAllowed, metric.WithUnit("{request}/s"),
		metric.WithDescription("The request rate the target says it allows; 0 when it has not said."))
	m.srcRequests, errs[15] = m.meter.Int64ObservableCounter(MetricSourceRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests the source sent to its provider, retries included."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("sync: runner metrics: %w", err)
	}
	return m, nil
}

// observe reports the Runner's state gauges while Run runs; call the
// function it returns when Run returns.
func (m *runnerMetrics) observe(r *Runner) func() {
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := r.Status()
		o.ObserveInt64(m.quarantined, boolInt(s.Quarantine != nil))
		o.ObserveInt64(m.held, boolInt(s.Held != nil))
		o.ObserveInt64(m.approvals, int64(s.PendingApprovals))
		o.ObserveInt64(m.escrowed, int64(s.Escrow))
		o.ObserveInt64(m.persistent, int64(len(s.PersistentFailures)))
		if rc, ok := r.eng.source.(source.RequestCounter); ok {
			o.ObserveInt64(m.srcRequests, rc.RequestCount())
		}
		if sr, ok := r.eng.target.(target.StatsReporter); ok {
			st := sr.RequestStats()
			for _, rc := range st.Requests {
				o.ObserveInt64(m.requests, rc.Count, metric.WithAttributes(
					attribute.String("method", rc.Method), attribute.Int("status", rc.Status)))
			}
			o.ObserveInt64(m.limited, st.RateLimited)
			o.ObserveFloat64(m.rate, st.Rate)
			o.ObserveFloat64(m.allowed, st.RateAllowed)
		}
		return nil
	}, m.quarantined, m.held, m.approvals, m.escrowed, m.persistent, m.requests, m.limited, m.rate, m.allowed, m.srcRequests)
	if err != nil {
		r.log.Warn("runner state gauges not registered")
		return func() {}
	}
	return func() { _ = reg.Unregister() }
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// change counts one change's outcome.
func (m *runnerMetrics) change(ev ChangeEvent) {
	m.changes.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("action", string(ev.Action)), attribute.String("outcome", string(ev.Outcome))))
}

// cycle records a finished cycle.
func (m *runnerMetrics) cycle(rep *CycleReport, cr cycleResult) {
	ctx := context.Background()
	outcome := attribute.String("outcome", string(rep.Outcome))
	attrs := []attribute.KeyValue{outcome}
	if rep.Reason != "" {
		attrs = append(attrs, attribute.String("reason", string(rep.Reason)))
	}
	m.cycles.Add(ctx, 1, metric.WithAttributes(attrs...))
	m.cycleTime.Record(ctx, rep.Finished.Sub(rep.Started).Seconds(), metric.WithAttributes(outcome))
	switch {
	case cr.plan != nil:
		full := attribute.String("full", strconv.FormatBool(!cr.plan.Incremental))
		m.reads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "ok"), full))
		m.readTime.Record(ctx, cr.plan.readTook.Seconds(), metric.WithAttributes(full))
	case rep.Reason == ReasonSourceRead:
		m.reads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "failed")))
	}
	users, groups, ok := cr.owned()
	if ok {
		m.owned.Record(ctx, int64(users), metric.WithAttributes(attribute.String("kind", string(KindUser))))
		m.owned.Record(ctx, int64(groups), metric.WithAttributes(attribute.String("kind", string(KindGroup))))
	}
}

// owned returns the numbers of owned users and groups after the cycle:
// as the apply left them, or as the plan found them when nothing was
// applied; ok is false when the cycle made no plan.
func (cr cycleResult) owned() (users, groups int, ok bool) {
	switch {
	case cr.res != nil:
		return cr.res.ownedUsers, cr.res.ownedGroups, true
	case cr.plan != nil:
		return cr.plan.ownedUsers, cr.plan.ownedGroups, true
	}
	return 0, 0, false
}
