// Command netskope-server runs provsync's in-memory, Netskope-compatible
// SCIM 2.0 server (target/netskope/netskopetest) as a process, for trying
// clients and identity providers against by hand:
//
//	go run ./examples/netskope-server -addr 127.0.0.1:8080 -rps 4 -fail-429 0.05
//	curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v2/scim/Users
//
// Without -token a random token is generated and printed: this is a local
// fake holding no real data. State lives in memory and is lost on exit.
// SIGINT or SIGTERM shut it down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "netskope-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("netskope-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	token := fs.String("token", "", "API token to accept (default: generated and printed)")
	rps := fs.Float64("rps", 0, "rate limit in requests per second (0: none)")
	burst := fs.Int("burst", 0, "rate limit burst (0: rps rounded up)")
	noRateHeaders := fs.Bool("no-rate-headers", false, "answer without RateLimit-* and Retry-After headers")
	fail429 := fs.Float64("fail-429", 0, "fraction of requests answered with an injected 429")
	fail500 := fs.Float64("fail-500", 0, "fraction of requests answered with an injected 500")
	latency := fs.Duration("latency", 0, "latency added to every request")
	seed := fs.Int64("seed", 0, "seed of the fault injection (0: random)")
	maxPage := fs.Int("max-page", netskopetest.DefaultMaxPageSize, "largest page returned")
	errStyle := fs.String("error-style", "scim", `error bodies: "scim" (RFC 7644) or "message" (Netskope gateway)`)
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	style := netskopetest.ErrorStyleSCIM
	switch *errStyle {
	case "scim":
	case "message":
		style = netskopetest.ErrorStyleMessage
	default:
		return fmt.Errorf("-error-style must be scim or message, not %q", *errStyle)
	}
	for name, v := range map[string]float64{"-fail-429": *fail429, "-fail-500": *fail500} {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s must be between 0 and 1", name)
		}
	}
	if *fail429+*fail500 > 1 {
		return errors.New("-fail-429 and -fail-500 add up to more than 1")
	}

	logCfg := zap.NewDevelopmentConfig()
	logCfg.Level.SetLevel(zap.InfoLevel)
	if *verbose {
		logCfg.Level.SetLevel(zap.DebugLevel)
	}
	logger, err := logCfg.Build()
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()

	opts := []netskopetest.Option{
		netskopetest.WithToken(*token),
		netskopetest.WithRateLimit(*rps, *burst),
		netskopetest.WithFaults(netskopetest.Faults{Rate429: *fail429, Rate500: *fail500, Latency: *latency, Seed: *seed, MaxRetryAfter: 1}),
		netskopetest.WithMaxPageSize(*maxPage),
		netskopetest.WithErrorStyle(style),
		netskopetest.WithLogger(logger),
	}
	if *noRateHeaders {
		opts = append(opts, netskopetest.WithoutRateHeaders())
	}
	srv := netskopetest.NewUnstartedServer(opts...)
	defer srv.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	base := "http://" + ln.Addr().String() + netskopetest.BasePath
	fmt.Printf("Netskope-compatible SCIM server at %s\n", base)
	if *token == "" {
		fmt.Printf("token (generated): %s\n", srv.Token())
	}
	fmt.Printf("try: curl -H \"Authorization: Bearer <token>\" %s/Users\n", base)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	logger.Info("shutting down")
	// Close the fake first, so injected latency ends, then drain requests.
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	st := srv.Stats()
	logger.Info("served",
		zap.Int("requests", st.Requests),
		zap.Int("unauthorized", st.Unauthorized),
		zap.Int("rate_limited", st.RateLimited),
		zap.Int("faults", st.Faults()))
	return nil
}
