// Command google syncs the users and groups of a Google Workspace account
// into a Netskope tenant, as Google's automated user provisioning for
// Netskope does, and prints the run as Google's admin log events. It plans
// only, unless -apply is given.
//
//	export GOOGLE_SERVICE_ACCOUNT_KEY_FILE=key.json GOOGLE_ADMIN_EMAIL=admin@example.com
//	export NETSKOPE_SCIM_URL=https://<tenant>.goskope.com/api/v2/scim NETSKOPE_TOKEN=...
//	go run ./examples/google                          # show the plan
//	go run ./examples/google -org-units /Sales -apply # sync one organizational unit
//	go run ./examples/google -scope-groups netskope-users@example.com -apply
//	go run ./examples/google -demo                    # a fake account into the embedded Netskope server
//	go run ./examples/google -admin-log prov.jsonl -since 24h # admin log counts from a provisioning log
//
// The service account needs domain-wide delegation with the read-only
// scopes admin.directory.user.readonly, admin.directory.group.readonly and
// admin.directory.group.member.readonly, and GOOGLE_ADMIN_EMAIL must be an
// administrator allowed to read users and groups. Without a key file,
// Application Default Credentials are used.
//
// The state file records which Netskope objects this program created or
// adopted; only those are ever deactivated or deleted. Keep it between runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	admin "google.golang.org/api/admin/directory/v1"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/examples/internal/gcred"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/google/directorytest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func main() { cli.Main("google", run) }

type options struct {
	cli.Netskope
	keyFile, admin, customer, domain, endpoint string
	orgUnits, scopeGroups, groups, named       string
	schemas, deleted, suspended, leftScope     string
	excludeSubUnits, flatten, skipDeleted      bool
	skipCustomer                               bool
	demo                                       bool
	adminLog                                   string
	since                                      time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("google", flag.ContinueOnError)
	var o options
	o.Register(fs, "google")
	fs.StringVar(&o.keyFile, "key-file", os.Getenv("GOOGLE_SERVICE_ACCOUNT_KEY_FILE"), "service account key file with domain-wide delegation (env GOOGLE_SERVICE_ACCOUNT_KEY_FILE); without it, Application Default Credentials")
	fs.StringVar(&o.admin, "admin", os.Getenv("GOOGLE_ADMIN_EMAIL"), "administrator the service account impersonates (env GOOGLE_ADMIN_EMAIL)")
	fs.StringVar(&o.customer, "customer", os.Getenv("GOOGLE_CUSTOMER"), `customer id (default "my_customer"; env GOOGLE_CUSTOMER)`)
	fs.StringVar(&o.domain, "domain", os.Getenv("GOOGLE_DOMAIN"), "read one domain instead of the whole customer (env GOOGLE_DOMAIN)")
	fs.StringVar(&o.endpoint, "endpoint", os.Getenv("GOOGLE_DIRECTORY_ENDPOINT"), "Directory API base URL (default https://admin.googleapis.com/)")
	fs.StringVar(&o.orgUnits, "org-units", "", "scope: organizational unit paths, comma-separated (sub-units included)")
	fs.BoolVar(&o.excludeSubUnits, "exclude-sub-units", false, "with -org-units: leave their sub-units out")
	fs.StringVar(&o.scopeGroups, "scope-groups", "", "scope: the members of these groups (emails), comma-separated")
	fs.StringVar(&o.groups, "groups", "", `groups to sync: "all", "scope", "named" or "none" (default: scope groups if any, else all)`)
	fs.StringVar(&o.named, "named", "", `with -groups named: group emails, comma-separated`)
	fs.BoolVar(&o.flatten, "flatten", false, "sync the users of nested groups as members of the groups that contain them")
	fs.BoolVar(&o.skipCustomer, "skip-customer-members", false, "leave out a group's CUSTOMER member (everyone in the account) instead of making every user in scope a member")
	fs.BoolVar(&o.skipDeleted, "skip-deleted", false, "do not read deleted users (they then leave scope instead)")
	fs.StringVar(&o.schemas, "custom-schemas", "", `custom schemas to read as "Schema.field" attributes, comma-separated, or "*"`)
	fs.StringVar(&o.deleted, "deleted", "deactivate", `what a user deleted in Google becomes in Netskope: "deactivate", "delete" or "none"`)
	fs.StringVar(&o.suspended, "suspended", "deactivate", `what a suspended user becomes: "deactivate", "delete" or "none"`)
	fs.StringVar(&o.leftScope, "left-scope", "deactivate", `what a user who leaves scope becomes: "deactivate", "delete" or "none"`)
	fs.BoolVar(&o.demo, "demo", false, "sync a fake Workspace account into the embedded Netskope server, nothing to set up")
	fs.StringVar(&o.adminLog, "admin-log", "", "print the admin log counts of a provisioning log (JSON Lines, sync/provlog) instead of syncing")
	fs.DurationVar(&o.since, "since", 24*time.Hour, "with -admin-log: count the events of this long before now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.adminLog != "" {
		now := time.Now()
		counts, err := adminLog(o.adminLog, now.Add(-o.since), now)
		if err != nil {
			return err
		}
		printCounts(counts, out)
		return nil
	}
	log, err := o.Logger()
	if err != nil {
		return err
	}
	if o.demo {
		return runDemo(ctx, o, log, out)
	}
	cfg, err := o.config(ctx, log)
	if err != nil {
		return err
	}
	src, err := cfg.Open()
	if err != nil {
		return err
	}
	client, err := o.Connect(ctx, log, out)
	if err != nil {
		return err
	}
	return syncOnce(ctx, o, src, client, sync.NewFileState(o.State), log, out)
}

// config builds the source configuration from the options.
func (o *options) config(ctx context.Context, log *zap.Logger) (google.Config, error) {
	cfg := google.Config{
		AdminEmail: o.admin, Customer: o.customer, Domain: o.domain, Endpoint: o.endpoint,
		OrgUnits: cli.List(o.orgUnits), ExcludeSubUnits: o.excludeSubUnits, ScopeGroups: cli.List(o.scopeGroups),
		Groups: google.GroupSelection(o.groups), Named: cli.List(o.named), FlattenNested: o.flatten,
		SkipCustomerMembers: o.skipCustomer,
		SkipDeleted:         o.skipDeleted, CustomSchemas: cli.List(o.schemas), Logger: log,
	}
	return cfg, gcred.Apply(ctx, &cfg, o.keyFile)
}

// syncOnce plans, shows the plan, applies it when asked and prints the
// run as Google's admin log.
func syncOnce(ctx context.Context, o options, src *google.Source, tgt target.Target, state sync.State, log *zap.Logger, out io.Writer) error {
	policy := sync.DefaultPolicy()
	policy.Deleted, policy.Suspended, policy.LeftScope = sync.Deprovision(o.deleted), sync.Deprovision(o.suspended), sync.Deprovision(o.leftScope)
	eng, err := o.Engine(src, tgt, state, log, sync.WithPolicy(policy))
	if err != nil {
		return err
	}
	_, res, err := o.PlanAndApply(ctx, eng, out)
	if res != nil {
		printLog(res, out)
	}
	return err
}

// printLog prints the result as the usage summary of Google's console and
// lists the failures. google.Event names each change's admin log event.
func printLog(res *sync.Result, out io.Writer) {
	counts := map[google.LogEventName]int{}
	var failures []string
	for _, o := range res.Outcomes {
		if countEvent(counts, o.Action, o.Status) && o.Status == sync.StatusFailed {
			failures = append(failures, fmt.Sprintf("  failure: %s %s: %s\n", o.Action, o.Object, o.Error))
		}
	}
	printCounts(counts, out)
	for _, f := range failures {
		fmt.Fprint(out, f)
	}
}

// countEvent counts the admin log event of one change's outcome, and
// reports whether the change has one: skipped changes and group changes
// that succeeded have none.
func countEvent(counts map[google.LogEventName]int, action sync.Action, status sync.Status) bool {
	failed := status == sync.StatusFailed
	if status != sync.StatusApplied && !failed {
		return false
	}
	ev, ok := google.Event(string(action), failed)
	if ok {
		counts[ev]++
	}
	return ok
}

func printCounts(counts map[google.LogEventName]int, out io.Writer) {
	fmt.Fprintln(out, "admin log:")
	for _, ev := range []google.LogEventName{google.EventCreateUser, google.EventUpdateUser, google.EventHardDelete, google.EventFailure} {
		fmt.Fprintf(out, "  %-36s %d\n", ev, counts[ev])
	}
}

// adminLog counts the events of the provisioning log at path (written by
// a Runner with a provlog.Log observer) from since to until as Google's
// admin log events, as the console's usage summary shows them.
func adminLog(path string, since, until time.Time) (map[google.LogEventName]int, error) {
	events, err := provlog.Query(path, provlog.Filter{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	counts := map[google.LogEventName]int{}
	for _, e := range events {
		countEvent(counts, e.Action, e.Outcome)
	}
	return counts, nil
}

// runDemo builds a small fake account (two organizational units, a
// nested group, a suspended, an archived and a deleted user) and syncs it
// into the embedded Netskope server: a first sync, an empty second one,
// then changes.
func runDemo(ctx context.Context, o options, log *zap.Logger, out io.Writer) error {
	d := directorytest.NewServer()
	defer d.Close()
	names := []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth", "Frances Allen"}
	var ids []string
	for i, n := range names {
		first, last, _ := strings.Cut(n, " ")
		ou := "/Engineering"
		if i%3 == 2 {
			ou = "/Engineering/Research"
		}
		ids = append(ids, d.AddUser(admin.User{PrimaryEmail: strings.ToLower(first+"."+last) + "@" + directorytest.Domain,
			Name: &admin.UserName{GivenName: first, FamilyName: last}, OrgUnitPath: ou, Suspended: i == 5,
			Organizations: []any{map[string]any{"department": "Engineering", "title": "Engineer", "primary": true}}}).Id)
	}
	d.AddUser(admin.User{PrimaryEmail: "archie.ved@example.com", Name: &admin.UserName{GivenName: "Archie", FamilyName: "Ved"},
		OrgUnitPath: "/Engineering", Archived: true})
	eng := d.AddGroup(admin.Group{Email: "engineering@example.com", Name: "Engineering"})
	res := d.AddGroup(admin.Group{Email: "research@example.com", Name: "Research"})
	if err := firstErr(d.AddMembers(eng.Id, ids[0], ids[1], res.Id), d.AddMembers(res.Id, ids[2], ids[3])); err != nil {
		return err
	}
	o.orgUnits, o.flatten, o.endpoint, o.Apply, o.deleted = "/Engineering", true, d.Endpoint(), true, "delete"
	cfg := google.Config{ServiceAccountKey: source.Secret(d.ServiceAccountKey()), AdminEmail: d.Subject(), Endpoint: d.Endpoint(),
		OrgUnits: cli.List(o.orgUnits), FlattenNested: o.flatten, Logger: log}
	src, err := cfg.Open()
	if err != nil {
		return err
	}
	ns := netskopetest.NewServer(netskopetest.WithLogger(log))
	defer ns.Close()
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0), netskope.WithLogger(log))
	if err != nil {
		return err
	}
	o.URL = ns.URL()
	state := sync.NewMemoryState()
	fmt.Fprintf(out, "demo: fake Workspace account at %s, embedded Netskope at %s\n\n== first sync\n", d.URL(), ns.URL())
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== second sync (nothing changed)")
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== Alan is renamed, Grace suspended, Edsger deleted, Frances archived")
	if err := firstErr(
		d.UpdateUser(ids[1], func(u *admin.User) { u.Name.GivenName, u.Name.FullName = "Alan M.", "Alan M. Turing" }),
		d.UpdateUser(ids[2], func(u *admin.User) { u.Suspended = true }),
		d.DeleteUser(ids[3], time.Now()),
		d.UpdateUser(ids[6], func(u *admin.User) { u.Archived = true })); err != nil {
		return err
	}
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDirectory API requests: %d; Netskope now holds %d users and %d groups\n", d.Requests(""), ns.UserCount(), ns.GroupCount())
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
