// Command provsyncd runs provsync as a service: it syncs one identity
// provider (Microsoft Entra ID, Google Workspace, OneLogin or a directory
// file) into Netskope every interval with sync.Runner, and serves a status
// page and a JSON API on an HTTP listener (loopback by default).
//
//	provsyncd -config provsync.yaml                # run until SIGTERM or SIGINT
//	provsyncd -config provsync.yaml -check-config  # validate the file and its secrets, and exit
//	provsyncd -config provsync.yaml -plan          # print the plan, and exit
//	provsyncd -config provsync.yaml -once          # run one cycle, and exit
//	provsyncd -demo                                # the embedded Netskope server and a sample directory
//
// The configuration is sync/config's format: the mapping, policy and
// approvals, and the service keys (source, target, state, log, schedule,
// webhook, listener; see config.Service). With the state in PostgreSQL
// (state: {postgres: {env: NAME}}), several provsyncd with one
// configuration are replicas: one leads the target, the others stand by,
// and /api/status says which (role). Secrets come from environment
// variables or files, never from the file itself. On SIGTERM or SIGINT a
// cycle in flight may finish within 10 seconds; then what landed is saved
// and the program exits 0.
//
// -demo needs nothing: it starts the embedded Netskope SCIM server on a
// loopback port and syncs a small sample directory into it, holding the
// creation of groups for an administrator's approval, so that the status
// page has something to approve. With -config, the file's mapping, policy,
// schedule and listener apply; its source and target are replaced.
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/zap"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/examples/internal/gcred"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/source/onelogin"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/sync/pgstate"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/sync/webhook"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

//go:embed demo.yaml
var demoDirectory []byte

func main() { cli.Main("provsyncd", run) }

type options struct {
	config                        string
	once, plan, check, demo, verb bool
}

// shutdownTimeout bounds the HTTP server's shutdown after the Runner
// stopped.
const shutdownTimeout = 5 * time.Second

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("provsyncd", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.config, "config", os.Getenv("PROVSYNC_CONFIG"), "configuration file (env PROVSYNC_CONFIG)")
	fs.BoolVar(&o.once, "once", false, "run one cycle and exit")
	fs.BoolVar(&o.plan, "plan", false, "print the plan and exit")
	fs.BoolVar(&o.check, "check-config", false, "validate the configuration and its secrets, and exit")
	fs.BoolVar(&o.demo, "demo", false, "run against the embedded Netskope server and a sample directory")
	fs.BoolVar(&o.verb, "v", false, "log each cycle and request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.config == "" && !o.demo {
		return errors.New("-config is required (or -demo)")
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	if o.check {
		return checkConfig(cfg, o, out)
	}
	log, err := cli.Logger(o.verb)
	if err != nil {
		return err
	}
	a, err := build(ctx, cfg, o, log, out)
	if err != nil {
		return err
	}
	defer a.close()
	switch {
	case o.plan:
		p, err := a.eng.Plan(ctx)
		if err != nil {
			return err
		}
		return p.Render(out, 0)
	case o.once:
		return a.runOnce(ctx, out)
	}
	return a.serve(ctx, out)
}

// loadConfig reads -config; with -demo and no file, an empty one.
func loadConfig(o options) (*config.Config, error) {
	if o.config == "" {
		return config.Parse(nil)
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return nil, err
	}
	if !o.demo {
		if err := cfg.RequireService(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// checkConfig resolves every secret the file names and reports what the
// service would run; it opens no connection.
func checkConfig(cfg *config.Config, o options, out io.Writer) error {
	s := cfg.Service
	var errs []error
	secrets := []config.Secret{s.Target.Token, s.Webhook.Secret, s.Listener.Token, s.State.Postgres, entraSecret(s.Source), oneloginSecret(s.Source)}
	for _, n := range s.Sources {
		secrets = append(secrets, entraSecret(n.SourceConfig), oneloginSecret(n.SourceConfig))
	}
	for _, sec := range secrets {
		if sec.Set() {
			if _, err := sec.Resolve(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if o.demo {
		fmt.Fprintln(out, "configuration OK (demo: the source and target are replaced)")
		return nil
	}
	fmt.Fprintf(out, "configuration OK: source %s, target %s, state %s, listener %s\n",
		sourceKinds(s), s.Target.URL, s.State, s.Listener.ListenAddress())
	return nil
}

// sourceKinds names the source, or the merged sources in precedence
// order as name=kind.
func sourceKinds(s config.Service) string {
	if len(s.Sources) == 0 {
		return s.Source.Kind()
	}
	kinds := make([]string, len(s.Sources))
	for i, n := range s.Sources {
		kinds[i] = n.Name + "=" + n.Kind()
	}
	return "merge(" + strings.Join(kinds, ", ") + ")"
}

func entraSecret(s config.SourceConfig) config.Secret {
	if s.Entra != nil {
		return s.Entra.ClientSecret
	}
	return config.Secret{}
}

func oneloginSecret(s config.SourceConfig) config.Secret {
	if s.OneLogin != nil {
		return s.OneLogin.ClientSecret
	}
	return config.Secret{}
}

// app is one provsyncd: the engine, its Runner and what they hold open.
type app struct {
	cfg     *config.Config
	log     *zap.Logger
	eng     *sync.Engine
	runner  *sync.Runner
	history *history
	// plog is the provisioning log: in the state's database when the
	// state is in PostgreSQL, else the log file, if any.
	plog eventLog
	// metrics is the registry /metrics serves: the Runner's
	// OpenTelemetry metrics through the Prometheus exporter.
	metrics *prometheus.Registry
	// token is the API's bearer token; "" refuses mutating calls.
	token   string
	closers []func() error
	// demoTokenFile is where -demo wrote its generated token.
	demoTokenFile string
	// netskope, src, tgt and state are the engine's parts, for
	// provision on demand; onDemand runs one at a time.
	netskope cli.Netskope
	src      source.Source
	tgt      *netskope.Client
	state    sync.State
	onDemand gosync.Mutex
	// verbose is -v: the logger a has is a development one, not a no-op.
	verbose bool
	// leader is a PostgreSQL state's leader lock; nil for a file or
	// memory state.
	leader interface{ Leader() bool }
	// pool is a PostgreSQL state's database, and poolPassword the
	// password of its connection string, to keep out of errors; nil and
	// "" for a file or memory state.
	pool         *pgxpool.Pool
	poolPassword string
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// build opens the source, the target, the state and the log, and makes
// the engine and the Runner; extra options go to the Runner (tests add
// observers).
func build(ctx context.Context, cfg *config.Config, o options, log *zap.Logger, out io.Writer, extra ...sync.RunnerOption) (a *app, err error) {
	a = &app{cfg: cfg, log: log, history: newHistory(historySize), verbose: o.verb}
	opened := a // a is nil once an error is returned
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	s := cfg.Service
	// The file is parsed already: its options are passed, not its name.
	n := cli.Netskope{URL: s.Target.URL}
	var src source.Source
	var tgt *netskope.Client
	if o.demo {
		srv := netskopetest.NewServer(netskopetest.WithLogger(log))
		a.closers = append(a.closers, func() error { srv.Close(); return nil })
		n.URL = srv.URL()
		if tgt, err = netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithLogger(log)); err != nil {
			return nil, err
		}
		src = file.FromBytes(demoDirectory, file.FormatYAML)
		if len(cfg.Policy.RequireApproval) == 0 {
			if cfg.Policy.RequireApproval, err = sync.ApprovalFor(string(sync.ActionCreateGroup)); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(out, "provsyncd demo: embedded Netskope SCIM server at %s\n", srv.URL())
	} else {
		if n.Token, err = s.Target.Token.Resolve(); err != nil {
			return nil, err
		}
		if src, err = openSources(ctx, s, log); err != nil {
			return nil, err
		}
		if tgt, err = n.Connect(ctx, log, out); err != nil {
			return nil, err
		}
	}
	name := s.Target.Name
	if name == "" {
		name = n.URL // as n.Engine names it
	}
	state, err := a.openState(ctx, s, name, log)
	if err != nil {
		return nil, err
	}
	if a.eng, err = n.Engine(src, tgt, state, log, cfg.Options()...); err != nil {
		return nil, err
	}
	a.netskope, a.src, a.tgt, a.state = n, src, tgt, state
	a.metrics = prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(a.metrics))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	a.closers = append(a.closers, func() error { return mp.Shutdown(context.WithoutCancel(ctx)) })
	ropts := []sync.RunnerOption{sync.WithObserver(a.history), sync.WithMeterProvider(mp),
		sync.WithRunnerProgress(cli.NewProgress(out).Update)}
	if d := s.Schedule.Interval; d > 0 {
		ropts = append(ropts, sync.WithInterval(time.Duration(d)))
	}
	if d := s.Schedule.Jitter; d > 0 {
		ropts = append(ropts, sync.WithJitter(time.Duration(d)))
	}
	if h := s.Schedule.HeldPlans; h != "" {
		ropts = append(ropts, sync.WithHeldPlans(h))
	}
	if s.Webhook.URL != "" {
		var wopts []webhook.Option
		if s.Webhook.Secret.Set() {
			key, err := s.Webhook.Secret.Resolve()
			if err != nil {
				return nil, err
			}
			wopts = append(wopts, webhook.WithSigningSecret([]byte(key)))
		}
		hook, err := webhook.New(s.Webhook.URL, wopts...)
		if err != nil {
			return nil, err
		}
		ropts = append(ropts, sync.WithNotifier(hook))
	}
	switch {
	case a.pool != nil:
		// Replicas share the database: one history of the target for all.
		if s.Log != "" {
			fmt.Fprintf(out, "provsyncd: log: %s is not written: with the state in PostgreSQL the provisioning log is in its database\n", s.Log)
		}
		lopts := []pgstate.LogOption{pgstate.WithLogLogger(log.Named("provlog"))}
		if d := s.LogRetention.MaxAge; d > 0 {
			lopts = append(lopts, pgstate.WithLogRetention(time.Duration(d)))
		}
		if n := s.LogRetention.MaxRows; n > 0 {
			lopts = append(lopts, pgstate.WithLogMaxRows(n))
		}
		pl, err := pgstate.OpenLog(ctx, a.pool, name, lopts...)
		if err != nil {
			return nil, redact(fmt.Errorf("state.postgres: %w", err), a.poolPassword)
		}
		a.closers = append(a.closers, func() error { return pl.Close(context.WithoutCancel(ctx)) })
		a.plog = pl
		ropts = append(ropts, sync.WithObserver(pl))
	case s.Log != "":
		fl, err := provlog.Open(s.Log, provlog.WithLogger(log))
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, fl.Close)
		a.plog = fileLog{fl}
		ropts = append(ropts, sync.WithObserver(fl))
	}
	if a.runner, err = sync.NewRunner(a.eng, append(ropts, extra...)...); err != nil {
		return nil, err
	}
	switch {
	case s.Listener.Token.Set():
		if a.token, err = s.Listener.Token.Resolve(); err != nil {
			return nil, err
		}
	case o.demo:
		if err := a.demoToken(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// openState opens the configured state: PostgreSQL (sync/pgstate, its
// rows keyed by target, the engine's target name, and the leader lock
// shared by every replica), a file, or, with neither (-demo), memory.
// What it opens is closed with a.
func (a *app) openState(ctx context.Context, s config.Service, target string, log *zap.Logger) (sync.State, error) {
	switch s.State.Kind() {
	case "file":
		fst := sync.NewFileState(s.State.File)
		a.closers = append(a.closers, fst.Close)
		return fst, nil
	case "postgres":
	default:
		return sync.NewMemoryState(), nil
	}
	dsn, err := s.State.Postgres.Resolve()
	if err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the connection string, its password
		// masked only as far as the string parses: say nothing of it.
		from := s.State.Postgres.File
		if e := s.State.Postgres.Env; e != "" {
			from = "$" + e
		}
		return nil, fmt.Errorf("state.postgres: the connection string from %s: %w", from, errConnString)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, redact(fmt.Errorf("state.postgres: %w", err), pcfg.ConnConfig.Password)
	}
	a.closers = append(a.closers, func() error { pool.Close(); return nil })
	st, err := pgstate.Open(ctx, pool, target, pgstate.WithLogger(log.Named("pgstate")))
	if err != nil {
		return nil, redact(fmt.Errorf("state.postgres: %w", err), pcfg.ConnConfig.Password)
	}
	a.closers = append(a.closers, func() error { return st.Close(context.WithoutCancel(ctx)) })
	a.leader = st
	a.pool, a.poolPassword = pool, pcfg.ConnConfig.Password
	return st, nil
}

// errConnString: state.postgres names no valid connection string.
var errConnString = errors.New("not a PostgreSQL connection string: give a postgres:// URL or key=value pairs (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING)")

// redactedError is an error whose message has a secret masked; Unwrap
// keeps the cause reachable for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact masks secret in err's message, should a driver's message quote
// it.
func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "xxxxx"), err: err}
}

// role is "leader" or "standby" for a replica sharing a PostgreSQL state:
// whether its state holds the target's leader lock. It is "" for a file
// or memory state, which one process holds alone.
func (a *app) role() string {
	switch {
	case a.leader == nil:
		return ""
	case a.leader.Leader():
		return "leader"
	}
	return "standby"
}

// demoToken makes a random API token for -demo and writes it to a file
// only its user can read; the token itself is never printed.
func (a *app) demoToken() error {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "provsyncd-demo-")
	if err != nil {
		return err
	}
	a.closers = append(a.closers, func() error { return os.RemoveAll(dir) })
	a.token = hex.EncodeToString(b)
	a.demoTokenFile = filepath.Join(dir, "token")
	return os.WriteFile(a.demoTokenFile, []byte(a.token+"\n"), 0o600)
}

// openSources opens the identity provider the configuration chooses or,
// for several, each and their merge, in the order given (the
// precedence).
func openSources(ctx context.Context, s config.Service, log *zap.Logger) (source.Source, error) {
	if len(s.Sources) == 0 {
		return openSource(ctx, s.Source, log)
	}
	members := make([]merge.Member, len(s.Sources))
	for i, n := range s.Sources {
		src, err := openSource(ctx, n.SourceConfig, log.With(zap.String("member", n.Name)))
		if err != nil {
			return nil, fmt.Errorf("sources[%d] (%s): %w", i, n.Name, err)
		}
		members[i] = merge.Member{Name: n.Name, Source: src}
	}
	return merge.New(members, append(s.Merge.Options(), merge.WithLogger(log))...)
}

// openSource opens the identity provider the configuration chooses.
func openSource(ctx context.Context, s config.SourceConfig, log *zap.Logger) (source.Source, error) {
	switch {
	case s.Entra != nil:
		e := s.Entra
		secret, err := e.ClientSecret.Resolve()
		if err != nil {
			return nil, err
		}
		return entra.Config{TenantID: e.TenantID, ClientID: e.ClientID, ClientSecret: entra.Secret(secret),
			AppID: e.AppID, ServicePrincipalID: e.ServicePrincipalID, GraphURL: e.GraphURL, AuthorityHost: e.AuthorityHost,
			Logger: log}.Open()
	case s.Google != nil:
		g := s.Google
		cfg := google.Config{AdminEmail: g.AdminEmail, Customer: g.Customer, Domain: g.Domain, Endpoint: g.Endpoint, Logger: log}
		if err := gcred.Apply(ctx, &cfg, g.KeyFile); err != nil {
			return nil, fmt.Errorf("source.google: %w", err)
		}
		return cfg.Open()
	case s.OneLogin != nil:
		ol := s.OneLogin
		secret, err := ol.ClientSecret.Resolve()
		if err != nil {
			return nil, err
		}
		return onelogin.Config{BaseURL: ol.URL, ClientID: ol.ClientID, ClientSecret: source.Secret(secret), AppID: ol.AppID, Logger: log}.Open()
	case s.File != nil:
		return file.New(s.File.Path), nil
	}
	return nil, errors.New("no source configured")
}

// runOnce runs one cycle: the Runner's first, after which an observer
// ends its context. A failed cycle is an error.
func (a *app) runOnce(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.history.onCycle(func(sync.CycleReport) { cancel() })
	if err := a.runner.Run(ctx); err != nil {
		return err
	}
	st := a.runner.Status()
	rep := st.LastCycle
	if rep == nil {
		return errors.New("stopped before the cycle finished")
	}
	fmt.Fprintln(out, cycleLine(*rep))
	if rep.Outcome == sync.CycleFailed || rep.Outcome == sync.CycleCancelled || rep.Outcome == sync.CycleStandby {
		return fmt.Errorf("cycle %s %s: %s", rep.ID, rep.Outcome, rep.Error)
	}
	return nil
}

// cycleLine is a cycle report in one line.
func cycleLine(r sync.CycleReport) string {
	line := fmt.Sprintf("cycle %s (%s): %s; planned %d changes, %d applied, %d failed, %d skipped",
		r.ID, r.Trigger, r.Outcome, changes(r.Planned), r.Applied, r.Failed, r.Skipped)
	if r.PendingApprovals > 0 {
		line += fmt.Sprintf("; %d wait for approval", r.PendingApprovals)
	}
	if r.Error != "" {
		line += ": " + r.Error
	}
	return line
}

// serve runs the Runner and the HTTP listener until ctx ends, then lets
// the cycle in flight finish within the Runner's grace, saves, and stops
// the listener.
func (a *app) serve(ctx context.Context, out io.Writer) error {
	l := a.cfg.Service.Listener
	srv := newServer(a.runner, a.eng, a.history, a.plog, a.metrics, a.token, l.TLSCert != "", a.log.Named("http"))
	srv.provision, srv.audit, srv.role = a.provision, auditLogger(a.log, a.verbose, os.Stderr), a.role
	ln, err := listen(l)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.handler(), ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if l.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(out, "status page at %s://%s/\n", scheme, ln.Addr())
	if a.demoTokenFile != "" {
		fmt.Fprintf(out, "API token (for the page's Log in and the POST calls) in %s\n", a.demoTokenFile)
	}
	a.history.onCycle(func(r sync.CycleReport) { fmt.Fprintln(out, cycleLine(r)) })
	errc := make(chan error, 1)
	go func() {
		if l.TLSCert != "" {
			errc <- hs.ServeTLS(ln, l.TLSCert, l.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	runErr := a.runner.Run(ctx)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shutErr := hs.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(out, "stopped")
	return errors.Join(runErr, shutErr)
}

// listen opens the listener's address, refusing one off loopback unless
// TLS and a token are configured (config checks this too; a listener is
// never opened without it).
func listen(l config.Listener) (net.Listener, error) {
	addr := l.ListenAddress()
	if !config.Loopback(addr) && (l.TLSCert == "" || !l.Token.Set()) {
		return nil, fmt.Errorf("listener %s: %w", addr, errNotLoopback)
	}
	return net.Listen("tcp", addr)
}

var errNotLoopback = errors.New("not a loopback address: listening on it needs tlsCert, tlsKey and token")
