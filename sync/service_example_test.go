package sync_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/sync/webhook"
)

// A whole service around the engine: logger, source, target, state,
// Runner, provisioning log, metrics, webhook and signal handling. Here
// the target is the embedded Netskope server, the webhook a local
// receiver, the metrics a manual reader, and the run ends after its
// first cycle; a service uses its tenant, an https hook, an exporter, and
// runs until SIGTERM.
func Example_service() {
	logger := zap.NewNop() // zap.NewProduction() in a service
	dir, err := os.MkdirTemp("", "provsync-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	src := file.FromDirectory(exampleDirectory()) // or an Entra, Google or OneLogin source
	tgt, stopTarget := exampleTarget()            // netskope.New(netskope.TenantURL("acme", ""), token, ...)
	defer stopTarget()
	state := sync.NewFileState(filepath.Join(dir, "state.json")) // locked: one process per state
	defer state.Close()
	eng, err := sync.New(src, tgt, sync.WithState(state), sync.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}

	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer receiver.Close()
	hook, err := webhook.New(receiver.URL) // https off loopback
	if err != nil {
		log.Fatal(err)
	}
	plog, err := provlog.Open(filepath.Join(dir, "provisioning.jsonl"))
	if err != nil {
		log.Fatal(err)
	}
	defer plog.Close()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer meters.Shutdown(context.Background())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run, err := sync.NewRunner(eng, sync.WithInterval(40*time.Minute), sync.WithJitter(5*time.Minute),
		sync.WithNotifier(hook), sync.WithObserver(plog), sync.WithMeterProvider(meters),
		sync.WithObserver(stopAfterFirstCycle{stop})) // a service leaves this out
	if err != nil {
		log.Fatal(err)
	}
	if err := run.Run(ctx); err != nil {
		log.Fatal(err)
	}

	events, err := plog.Query(provlog.Filter{Outcome: sync.StatusApplied})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged:", len(events), "applied changes; state:", run.Status().State)
	// Output:
	// cycle start: succeeded, 3 applied
	// logged: 3 applied changes; state: stopped
}
