// Command quickstart shows provsync's whole job in one run, with nothing to
// set up: it starts the embedded Netskope-compatible SCIM server on a
// loopback port, syncs a bundled sample directory into it, changes a few
// users (a rename, a deactivation, a move between groups) and syncs again,
// showing exactly those changes, then syncs a third time, which must change
// nothing. It exits non-zero if any pass fails or the last is not empty.
//
//	go run ./examples/quickstart
//
// With NETSKOPE_SCIM_URL and NETSKOPE_TOKEN (or -url and -token) it syncs
// the sample, or the directory file given with -dir, into a real tenant
// instead: it plans only, and applies when -apply is given.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

//go:embed sample.yaml
var sample []byte

func main() { cli.Main("quickstart", run) }

type options struct {
	url, token, dir, state string
	apply, verbose         bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.url, "url", os.Getenv("NETSKOPE_SCIM_URL"), "SCIM base URL of a real tenant, https://<tenant>.goskope.com/api/v2/scim (env NETSKOPE_SCIM_URL); empty: the embedded server")
	fs.StringVar(&o.token, "token", "", "REST API v2 token for -url (default: env NETSKOPE_TOKEN)")
	fs.StringVar(&o.dir, "dir", "", "directory file (.yaml or .json) to sync instead of the bundled sample")
	fs.StringVar(&o.state, "state", "provsync-state.json", "state file for a real tenant (links of the objects provsync owns)")
	fs.BoolVar(&o.apply, "apply", false, "with -url: apply the plan (without it, plan only)")
	fs.BoolVar(&o.verbose, "v", false, "log each request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.token == "" {
		o.token = os.Getenv("NETSKOPE_TOKEN")
	}
	log, err := cli.Logger(o.verbose)
	if err != nil {
		return err
	}
	dir, err := loadDirectory(o.dir)
	if err != nil {
		return err
	}
	if o.url != "" {
		return runTenant(ctx, o, dir, log, out)
	}
	return runEmbedded(ctx, dir, log, out)
}

func loadDirectory(path string) (*source.Directory, error) {
	if path == "" {
		return file.FromBytes(sample, file.FormatYAML).Read(context.Background())
	}
	return file.New(path).Read(context.Background())
}

// runEmbedded is the three-pass demonstration against the embedded server.
func runEmbedded(ctx context.Context, dir *source.Directory, log *zap.Logger, out io.Writer) error {
	srv := netskopetest.NewServer(netskopetest.WithLogger(log))
	defer srv.Close()
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithLogger(log))
	if err != nil {
		return err
	}
	src := file.FromDirectory(dir)
	eng, err := sync.New(src, client, sync.WithLogger(log), sync.WithTargetName("embedded Netskope at "+srv.URL()))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "provsync quickstart: embedded Netskope SCIM server at %s\n", srv.URL())
	fmt.Fprintf(out, "sample directory: %d users, %d groups\n\n", len(dir.Users), len(dir.Groups))

	fmt.Fprintln(out, "== Pass 1: initial sync")
	if _, err := pass(ctx, eng, out, 12); err != nil {
		return err
	}

	changes, err := edit(dir)
	if err != nil {
		return err
	}
	src.Set(dir)
	fmt.Fprintln(out, "\n== Pass 2: after changes at the source")
	for _, c := range changes {
		fmt.Fprintln(out, "   source: "+c)
	}
	p, err := pass(ctx, eng, out, 0)
	if err != nil {
		return err
	}
	if err := expectSecondPass(p); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== Pass 3: nothing changed, so nothing to do")
	p, err = pass(ctx, eng, out, 0)
	if err != nil {
		return err
	}
	if !p.Empty() {
		return fmt.Errorf("the third pass planned %d changes; it must plan none", len(p.Changes))
	}
	st := client.Stats()
	fmt.Fprintf(out, "\nDone: %d requests to the SCIM server in all (%d retried).\n", st.Requests, st.Retries)
	return nil
}

// pass plans, shows the plan and applies it with a progress line.
func pass(ctx context.Context, eng *sync.Engine, out io.Writer, show int) (*sync.Plan, error) {
	start := time.Now()
	p, err := eng.Plan(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.Render(out, show); err != nil {
		return nil, err
	}
	if !p.Applyable {
		return p, fmt.Errorf("the plan is not applyable: %s", strings.Join(p.Reasons, "; "))
	}
	res, err := eng.Apply(ctx, p, sync.WithProgress(progressBar(out)))
	if res != nil && len(p.Changes) > 0 {
		fmt.Fprintln(out)
	}
	if err != nil {
		return p, err
	}
	if res.Failed > 0 {
		return p, fmt.Errorf("%s: %w", res.SummaryLine(), res.Err())
	}
	fmt.Fprintf(out, "   applied: %s (pass took %s)\n", res.SummaryLine(), time.Since(start).Round(time.Millisecond))
	return p, nil
}

func progressBar(out io.Writer) func(sync.Progress) {
	const width = 30
	return func(pr sync.Progress) {
		if pr.Done != pr.Total && pr.Done%25 != 0 {
			return
		}
		n := width * pr.Done / max(1, pr.Total)
		fmt.Fprintf(out, "\r   [%s%s] %d/%d changes", strings.Repeat("#", n), strings.Repeat(".", width-n), pr.Done, pr.Total)
	}
}

// edit makes the second pass's changes: a rename, a deactivation and a
// move from one group to another. It returns what it did, for people.
func edit(dir *source.Directory) ([]string, error) {
	var active []int
	for i, u := range dir.Users {
		if u.State == source.StateActive {
			active = append(active, i)
		}
	}
	if len(active) < 3 || len(dir.Groups) < 2 {
		return nil, errors.New("the directory is too small for the demonstration (3 active users and 2 groups needed)")
	}
	var did []string
	r := &dir.Users[active[0]]
	oldName := r.UserName
	local, domain, _ := strings.Cut(r.UserName, "@")
	r.UserName = local + ".renamed@" + domain
	r.Emails = []source.Email{{Value: r.UserName, Type: "work", Primary: true}}
	did = append(did, fmt.Sprintf("renamed %s to %s", oldName, r.UserName))

	d := &dir.Users[active[1]]
	d.State = source.StateSuspended
	did = append(did, fmt.Sprintf("suspended %s", d.UserName))

	// Move a user who is in the first group but not the second.
	from, to := &dir.Groups[0], &dir.Groups[1]
	inTo := map[string]bool{}
	for _, m := range to.Members {
		inTo[m] = true
	}
	moved := -1
	for k, m := range from.Members {
		if !inTo[m] && m != r.ID && m != d.ID {
			moved = k
			break
		}
	}
	if moved < 0 {
		return nil, fmt.Errorf("no member of %q to move to %q", from.DisplayName, to.DisplayName)
	}
	id := from.Members[moved]
	from.Members = append(from.Members[:moved:moved], from.Members[moved+1:]...)
	to.Members = append(to.Members, id)
	name := id
	for _, u := range dir.Users {
		if u.ID == id {
			name = u.UserName
		}
	}
	did = append(did, fmt.Sprintf("moved %s from %q to %q", name, from.DisplayName, to.DisplayName))
	return did, nil
}

// expectSecondPass checks that the second plan holds exactly the edits.
func expectSecondPass(p *sync.Plan) error {
	s := p.Summary
	want := sync.Summary{UpdateUsers: 1, DeactivateUsers: 1, AddMembers: 1, RemoveMembers: 1}
	got := sync.Summary{UpdateUsers: s.UpdateUsers, DeactivateUsers: s.DeactivateUsers, AddMembers: s.AddMembers,
		RemoveMembers: s.RemoveMembers, CreateUsers: s.CreateUsers, DeleteUsers: s.DeleteUsers,
		CreateGroups: s.CreateGroups, UpdateGroups: s.UpdateGroups, DeleteGroups: s.DeleteGroups}
	if got != want {
		return fmt.Errorf("the second pass planned %+v; want exactly one rename, one deactivation and one move", got)
	}
	return nil
}

// runTenant syncs into a real tenant: plan, and apply only with -apply.
func runTenant(ctx context.Context, o options, dir *source.Directory, log *zap.Logger, out io.Writer) error {
	if o.token == "" {
		return errors.New("-url needs a token: set NETSKOPE_TOKEN or -token")
	}
	client, err := netskope.New(o.url, o.token, netskope.WithLogger(log))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "checking the connection to %s ...\n", o.url)
	if err := client.Check(ctx); err != nil {
		return err
	}
	eng, err := sync.New(file.FromDirectory(dir), client, sync.WithLogger(log),
		sync.WithState(sync.NewFileState(o.state)), sync.WithTargetName(o.url))
	if err != nil {
		return err
	}
	p, err := eng.Plan(ctx)
	if err != nil {
		return err
	}
	if err := p.Render(out, 50); err != nil {
		return err
	}
	if !o.apply {
		fmt.Fprintln(out, "plan only: run again with -apply to carry it out")
		return nil
	}
	res, err := eng.Apply(ctx, p, sync.WithProgress(progressBar(out)))
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "applied: %s\n", res.SummaryLine())
	return res.Err()
}
