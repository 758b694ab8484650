// Package cli holds what the example programs share: the Netskope flags,
// the logger, connecting to the tenant and the plan-then-apply step.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
)

// Env returns the environment variable name, or def when it is unset.
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// List splits a comma-separated flag value, dropping empty items.
func List(v string) []string {
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Netskope is the target side of an example's command line.
type Netskope struct {
	// URL is the tenant's SCIM base URL; Token comes from NETSKOPE_TOKEN
	// only, never from a flag, so it stays out of process listings.
	URL, Token string
	// State is the state file's path.
	State string
	// Apply, Confirm, MaxChanges and Verbose are the run's switches.
	Apply, Confirm, Verbose bool
	MaxChanges              int
	// ConfigFile is a provsync configuration file (sync/config).
	ConfigFile string
	// Approvals lists the changes held for approval; Approve and Reject
	// decide them by id (comma-separated).
	Approvals       bool
	Approve, Reject string
}

// Register adds the Netskope flags to fs; name is the program's name, for
// the default state file.
func (n *Netskope) Register(fs *flag.FlagSet, name string) {
	fs.StringVar(&n.URL, "url", os.Getenv("NETSKOPE_SCIM_URL"), "Netskope SCIM base URL, https://<tenant>.goskope.com/api/v2/scim (env NETSKOPE_SCIM_URL); the token comes from env NETSKOPE_TOKEN")
	fs.StringVar(&n.State, "state", Env("PROVSYNC_STATE", "provsync-"+name+"-state.json"), "state file (env PROVSYNC_STATE)")
	fs.BoolVar(&n.Apply, "apply", false, "apply the plan (without it, plan only)")
	fs.BoolVar(&n.Confirm, "confirm", false, "with -apply: apply a plan whose deprovisions exceed the safety limits")
	fs.IntVar(&n.MaxChanges, "max", 50, "changes of the plan to list (0: all)")
	fs.BoolVar(&n.Verbose, "v", false, "log each request")
	fs.BoolVar(&n.Approvals, "approvals", false, "list the changes held for an administrator's approval, and exit")
	fs.StringVar(&n.Approve, "approve", "", "approve held changes by id (comma-separated); the next run applies them")
	fs.StringVar(&n.Reject, "reject", "", "reject held changes by id (comma-separated); they are not proposed again until the source changes")
	fs.StringVar(&n.ConfigFile, "config", os.Getenv("PROVSYNC_CONFIG"), "configuration file: attribute mapping, scoping filters, group rules, matching, policy, approval (see examples/config; env PROVSYNC_CONFIG)")
	n.Token = os.Getenv("NETSKOPE_TOKEN")
}

// Engine builds the engine of one run: the logger, the state, the target
// name, the program's own options, and last those of -config, if given,
// so that the file's policy wins over flags.
func (n *Netskope) Engine(src source.Source, tgt target.Target, state sync.State, log *zap.Logger, opts ...sync.Option) (*sync.Engine, error) {
	opts = append([]sync.Option{sync.WithLogger(log), sync.WithState(state), sync.WithTargetName(n.URL)}, opts...)
	if n.ConfigFile != "" {
		cfg, err := config.Load(n.ConfigFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, cfg.Options()...)
	}
	return sync.New(src, tgt, opts...)
}

// Logger is a development logger with -v, else a no-op one.
func (n *Netskope) Logger() (*zap.Logger, error) { return Logger(n.Verbose) }

// Logger returns a development logger when verbose, else a no-op one.
func Logger(verbose bool) (*zap.Logger, error) {
	if verbose {
		return zap.NewDevelopment()
	}
	return zap.NewNop(), nil
}

// Connect builds the Netskope client and runs Test Connection.
func (n *Netskope) Connect(ctx context.Context, log *zap.Logger, out io.Writer) (*netskope.Client, error) {
	if n.URL == "" || n.Token == "" {
		return nil, errors.New("set NETSKOPE_SCIM_URL (or -url) and NETSKOPE_TOKEN")
	}
	client, err := netskope.New(n.URL, n.Token, netskope.WithLogger(log))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "checking the connection to %s ...\n", n.URL)
	if err := client.Check(ctx); err != nil {
		return nil, err
	}
	return client, nil
}

// Decide handles -approvals, -approve and -reject against the engine's
// state; done reports that one was given and the run should stop there.
func (n *Netskope) Decide(ctx context.Context, eng *sync.Engine, out io.Writer) (done bool, err error) {
	ids := func(s string) []string {
		var out []string
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	if n.Approve != "" {
		if err := eng.Approve(ctx, ids(n.Approve)...); err != nil {
			return true, err
		}
		fmt.Fprintf(out, "approved %s; the next run applies it\n", n.Approve)
	}
	if n.Reject != "" {
		if err := eng.Reject(ctx, ids(n.Reject)...); err != nil {
			return true, err
		}
		fmt.Fprintf(out, "rejected %s\n", n.Reject)
	}
	if n.Approvals {
		list, err := eng.Approvals(ctx)
		if err != nil {
			return true, err
		}
		if len(list) == 0 {
			fmt.Fprintln(out, "no change is held for approval")
		}
		for _, a := range list {
			fmt.Fprintf(out, "%s  %-8s  %s %s (%s), held since %s\n", a.ID, a.Status, a.Change.Action, a.Change.Object,
				a.Change.Reason, a.FirstSeen.Format("2006-01-02 15:04"))
		}
	}
	return n.Approvals || n.Approve != "" || n.Reject != "", nil
}

// PlanAndApply plans, renders the plan to out and, with Apply, carries it
// out, showing its progress on out (see Progress). It returns the plan and, when applied, the result; a result with
// failed changes is also an error.
func (n *Netskope) PlanAndApply(ctx context.Context, eng *sync.Engine, out io.Writer) (*sync.Plan, *sync.Result, error) {
	if done, err := n.Decide(ctx, eng, out); done || err != nil {
		return nil, nil, err
	}
	p, err := eng.Plan(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Render(out, n.MaxChanges); err != nil {
		return p, nil, err
	}
	if !n.Apply {
		if !p.Empty() {
			fmt.Fprintln(out, "plan only: run again with -apply to carry it out")
		}
		return p, nil, nil
	}
	// A long apply (10,000 users at Netskope's pace take about 45
	// minutes) shows how far it has got and how long it has left.
	opts := []sync.ApplyOption{sync.WithProgress(NewProgress(out).Update)}
	if n.Confirm {
		opts = append(opts, sync.Confirm())
	}
	res, err := eng.Apply(ctx, p, opts...)
	if err != nil {
		return p, nil, err
	}
	fmt.Fprintf(out, "applied: %s\n", res.SummaryLine())
	return p, res, res.Err()
}

// Main runs a program's run function with a context cancelled on
// interrupt or SIGTERM, and exits 1 with the error (see Message) if it
// fails.
func Main(name string, run func(ctx context.Context, args []string, out io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, Message(name, err))
		os.Exit(1)
	}
}

// Message is err as program name reports it: prefixed with name, unless
// the error names it already ("entra: ..." from the entra program), so
// that no context is said twice.
func Message(name string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, name+":") || strings.Contains(msg, ": "+name+":") {
		return msg
	}
	return name + ": " + msg
}
