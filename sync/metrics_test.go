package sync_test

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
)

// point is one data point read back: a counter's or gauge's value, or a
// histogram's count and sum.
type point struct {
	value      float64
	count      uint64
	sum        float64
	attributes map[string]string
}

// collect reads every data point the reader holds, by instrument name.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	attrs := func(s attribute.Set) map[string]string {
		m := map[string]string{}
		for _, kv := range s.ToSlice() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != sync.MeterName {
			t.Errorf("meter %q, want %q", sm.Scope.Name, sync.MeterName)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{value: float64(p.Value), attributes: attrs(p.Attributes)})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{value: float64(p.Value), attributes: attrs(p.Attributes)})
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{value: p.Value, attributes: attrs(p.Attributes)})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{count: p.Count, sum: p.Sum, attributes: attrs(p.Attributes)})
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// find returns the point of name with exactly the attributes kv (pairs
// of key and value).
func find(t *testing.T, pts map[string][]point, name string, kv ...string) point {
	t.Helper()
	want := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		want[kv[i]] = kv[i+1]
	}
	for _, p := range pts[name] {
		if maps.Equal(p.attributes, want) {
			return p
		}
	}
	t.Fatalf("no point of %s with %v; have %+v", name, want, pts[name])
	return point{}
}

// TestRunnerMetrics reads a Runner's instruments back with the SDK's
// manual reader: a first cycle with a failed create, a cycle whose source
// read fails (quarantine), and a healthy one.
func TestRunnerMetrics(t *testing.T) {
	clk := clocktest.New(runnerEpoch)
	e, src, tgt, eng := runnerEnv(t, 10, 2, sync.WithClock(clk.Now))
	for i := range e.dir.Users {
		e.dir.Users[i].State = source.StateActive
	}
	e.src.Set(e.dir)
	// Each read takes three seconds of the fake clock.
	const readTook = 3 * time.Second
	src.setHook(func(context.Context, int) error { clk.Advance(readTook); return nil })
	tgt.set(failUsers(activeNames(e.dir, 1)...), nil)
	reader := sdkmetric.NewManualReader()
	h := startRunner(t, clk, eng, sync.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))

	if c := h.cycle(); c.Outcome != sync.CycleSucceeded || c.Failed == 0 {
		t.Fatalf("first cycle %+v, want a success with a failed create", c)
	}
	pts := collect(t, reader)
	checks := []struct {
		name string
		kv   []string
		want float64
	}{
		{sync.MetricCycles, []string{"outcome", "succeeded"}, 1},
		{sync.MetricChanges, []string{"action", "create-user", "outcome", "applied"}, 9},
		{sync.MetricChanges, []string{"action", "create-user", "outcome", "failed"}, 1},
		{sync.MetricObjectsOwned, []string{"kind", "user"}, 9},
		{sync.MetricSourceReads, []string{"outcome", "ok", "full", "true"}, 1},
		{sync.MetricQuarantined, nil, 0},
		{sync.MetricHeldPlans, nil, 0},
		{sync.MetricPendingApprovals, nil, 0},
	}
	for _, c := range checks {
		if p := find(t, pts, c.name, c.kv...); p.value != c.want {
			t.Errorf("%s %v = %v, want %v", c.name, c.kv, p.value, c.want)
		}
	}
	// The failed changes are in escrow.
	if esc := h.run.Status().Escrow; esc == 0 || find(t, pts, sync.MetricEscrowed).value != float64(esc) ||
		find(t, pts, sync.MetricPersistentFailures).value != 0 {
		t.Errorf("escrow gauges %v and %v, status escrow %d: want the status's, not zero, and no persistent failures",
			pts[sync.MetricEscrowed], pts[sync.MetricPersistentFailures], esc)
	}
	if p := find(t, pts, sync.MetricSourceReadDuration, "full", "true"); p.count != 1 || p.sum != readTook.Seconds() {
		t.Errorf("source read duration: %d reads, %v s; want 1 of %v s", p.count, p.sum, readTook.Seconds())
	}
	if p := find(t, pts, sync.MetricCycleDuration, "outcome", "succeeded"); p.count != 1 || p.sum != readTook.Seconds() {
		t.Errorf("cycle duration: %d cycles, %v s; want 1 of %v s", p.count, p.sum, readTook.Seconds())
	}

	// The source fails: a failed cycle, a failed read, quarantine.
	src.setHook(func(context.Context, int) error { return fmt.Errorf("file: read: %w", source.ErrUnavailable) })
	if c := h.tick(); c.Outcome != sync.CycleFailed {
		t.Fatalf("second cycle %s, want failed", c.Outcome)
	}
	pts = collect(t, reader)
	if p := find(t, pts, sync.MetricCycles, "outcome", "failed", "reason", string(sync.ReasonSourceRead)); p.value != 1 {
		t.Errorf("failed cycles %v, want 1", p.value)
	}
	if p := find(t, pts, sync.MetricSourceReads, "outcome", "failed"); p.value != 1 {
		t.Errorf("failed reads %v, want 1", p.value)
	}
	if p := find(t, pts, sync.MetricQuarantined); p.value != 1 {
		t.Errorf("quarantined %v while quarantined, want 1", p.value)
	}
	if p := find(t, pts, sync.MetricSourceReadDuration, "full", "true"); p.count != 1 {
		t.Errorf("a failed read has a duration recorded: %d reads", p.count)
	}

	// Mended: the next cycle leaves quarantine.
	src.setHook(nil)
	tgt.set(nil, nil)
	if c := h.tick(); c.Outcome != sync.CycleSucceeded {
		t.Fatalf("third cycle %s, want succeeded", c.Outcome)
	}
	pts = collect(t, reader)
	for _, c := range []struct {
		name string
		kv   []string
		want float64
	}{
		{sync.MetricCycles, []string{"outcome", "succeeded"}, 2},
		{sync.MetricQuarantined, nil, 0},
		{sync.MetricChanges, []string{"action", "create-user", "outcome", "applied"}, 10},
		{sync.MetricObjectsOwned, []string{"kind", "user"}, 10},
		{sync.MetricChanges, []string{"action", "create-group", "outcome", "failed"}, 2},
		{sync.MetricObjectsOwned, []string{"kind", "group"}, 2},
		{sync.MetricEscrowed, nil, float64(h.run.Status().Escrow)},
	} {
		if p := find(t, pts, c.name, c.kv...); p.value != c.want {
			t.Errorf("after mending: %s %v = %v, want %v", c.name, c.kv, p.value, c.want)
		}
	}

	// Once Run returns, the state gauges are no longer reported.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if pts := collect(t, reader); len(pts[sync.MetricQuarantined]) != 0 {
		t.Errorf("the quarantine gauge outlived Run: %+v", pts[sync.MetricQuarantined])
	}
}

// TestRunnerTargetMetrics reads back the target's requests, as the
// Netskope client counts them, through a Runner's metrics.
func TestRunnerTargetMetrics(t *testing.T) {
	e := newEnv(t, 6, 2)
	reader := sdkmetric.NewManualReader()
	h := startRunner(t, clocktest.New(runnerEpoch), e.engine(),
		sync.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if c := h.cycle(); c.Outcome != sync.CycleSucceeded || c.Applied == 0 {
		t.Fatalf("cycle %+v, want a success that applied changes", c)
	}
	pts := collect(t, reader)
	st := e.client.RequestStats()
	var posts int64
	for _, rc := range st.Requests {
		if p := find(t, pts, sync.MetricTargetRequests, "method", rc.Method, "status", fmt.Sprint(rc.Status)); p.value != float64(rc.Count) {
			t.Errorf("%s %d: %v requests, the client counted %d", rc.Method, rc.Status, p.value, rc.Count)
		}
		if rc.Method == "POST" && rc.Status == 201 {
			posts = rc.Count
		}
	}
	if len(pts[sync.MetricTargetRequests]) != len(st.Requests) || posts == 0 {
		t.Errorf("request points %+v, client stats %+v: want one point per method and status, creates among them",
			pts[sync.MetricTargetRequests], st.Requests)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{sync.MetricTargetRateLimited, float64(st.RateLimited)},
		{sync.MetricTargetRate, st.Rate},
		{sync.MetricTargetRateAllowed, st.RateAllowed},
	} {
		if p := find(t, pts, c.name); p.value != c.want {
			t.Errorf("%s = %v, want %v", c.name, p.value, c.want)
		}
	}
}

// TestRunnerMetricsWithoutTargetStats: a target and a source that do not
// count their requests have no request metrics, and the rest still work.
func TestRunnerMetricsWithoutTargetStats(t *testing.T) {
	_, _, _, eng := runnerEnv(t, 3, 0) // its source and target wrap the file source and the client
	reader := sdkmetric.NewManualReader()
	h := startRunner(t, clocktest.New(runnerEpoch), eng,
		sync.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	h.cycle()
	pts := collect(t, reader)
	for _, name := range []string{sync.MetricSourceRequests, sync.MetricTargetRequests, sync.MetricTargetRateLimited, sync.MetricTargetRate, sync.MetricTargetRateAllowed} {
		if len(pts[name]) != 0 {
			t.Errorf("%s reported for a target without stats: %+v", name, pts[name])
		}
	}
	if len(pts[sync.MetricCycles]) != 1 {
		t.Errorf("cycles %+v, want one point", pts[sync.MetricCycles])
	}
}

// countingSource counts its reads as requests, as a provider's source
// counts its calls.
type countingSource struct {
	source.Source
	n atomic.Int64
}

func (s *countingSource) Read(ctx context.Context) (*source.Directory, error) {
	s.n.Add(2) // two pages, say
	return s.Source.Read(ctx)
}

func (s *countingSource) RequestCount() int64 { return s.n.Load() }

// TestRunnerSourceRequestMetrics: a source that counts its requests
// (source.RequestCounter) has them reported.
func TestRunnerSourceRequestMetrics(t *testing.T) {
	e := newEnv(t, 3, 1)
	src := &countingSource{Source: e.src}
	eng, err := sync.New(src, e.client, sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	h := startRunner(t, clocktest.New(runnerEpoch), eng,
		sync.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	h.cycle()
	h.tick()
	if p := find(t, collect(t, reader), sync.MetricSourceRequests); p.value != 4 || src.RequestCount() != 4 {
		t.Errorf("source requests %v after two reads of two requests, the source counted %d; want 4", p.value, src.RequestCount())
	}
}
