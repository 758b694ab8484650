package sync_test

import (
	"context"
	"fmt"
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
)

// A Runner records its metrics with the meter provider the application
// sets up; here the OpenTelemetry SDK's manual reader reads them back. A
// service registers an exporter (Prometheus, OTLP) instead.
func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	tgt, stopTarget := exampleTarget()
	defer stopTarget()
	eng, err := sync.New(file.FromDirectory(exampleDirectory()), tgt)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := sync.NewRunner(eng, sync.WithMeterProvider(provider),
		sync.WithObserver(stopAfterFirstCycle{cancel}))
	if err != nil {
		log.Fatal(err)
	}
	if err := run.Run(ctx); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != sync.MetricChanges {
			continue
		}
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			action, _ := p.Attributes.Value("action")
			outcome, _ := p.Attributes.Value("outcome")
			if action.AsString() == "create-user" {
				fmt.Println(sync.MetricChanges, action.AsString(), outcome.AsString(), p.Value)
			}
		}
	}
	// Output:
	// cycle start: succeeded, 3 applied
	// provsync.runner.changes create-user applied 2
}
