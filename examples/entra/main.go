// Command entra syncs the users and groups assigned to a Microsoft Entra ID
// enterprise app into a Netskope tenant, as the "Netskope User
// Authentication" gallery app's provisioning does. It plans only, unless
// -apply is given.
//
//	export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...
//	export ENTRA_APP_ID=...          # the enterprise app's application id (or ENTRA_SP_ID, its object id)
//	export NETSKOPE_SCIM_URL=https://<tenant>.goskope.com/api/v2/scim NETSKOPE_TOKEN=...
//	go run ./examples/entra                 # show the plan
//	go run ./examples/entra -apply          # carry it out
//	go run ./examples/entra -user ada@contoso.com -apply   # provision one user on demand
//	go run ./examples/entra -demo           # a fake tenant into the embedded Netskope server
//
// Without AZURE_CLIENT_SECRET the Azure default credential chain is used:
// a client certificate (AZURE_CLIENT_CERTIFICATE_PATH), workload identity,
// managed identity or the Azure CLI's login. The app registration needs
// the Graph application permissions Application.Read.All, User.Read.All
// and GroupMember.Read.All.
//
// The state file records which Netskope objects this program created or
// adopted; only those are ever deactivated or deleted. Keep it between runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"go.uber.org/zap"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func main() { cli.Main("entra", run) }

type options struct {
	cli.Netskope
	tenant, clientID, appID, spID string
	graphURL, authority, tokScope string
	scope, attrs, guest, user     string
	includeDefault, transitive    bool
	demo                          bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	log, err := o.Logger()
	if err != nil {
		return err
	}
	if o.demo {
		return runDemo(ctx, o, log, out)
	}
	cfg, err := o.config(log)
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

// parse reads the command line.
func parse(args []string) (options, error) {
	fs := flag.NewFlagSet("entra", flag.ContinueOnError)
	var o options
	o.Register(fs, "entra")
	fs.StringVar(&o.tenant, "tenant", os.Getenv("AZURE_TENANT_ID"), "Entra tenant id (env AZURE_TENANT_ID)")
	fs.StringVar(&o.clientID, "client-id", os.Getenv("AZURE_CLIENT_ID"), "app registration's client id (env AZURE_CLIENT_ID); the secret comes from env AZURE_CLIENT_SECRET only")
	fs.StringVar(&o.appID, "app-id", os.Getenv("ENTRA_APP_ID"), "the enterprise app's application id (env ENTRA_APP_ID)")
	fs.StringVar(&o.spID, "sp-id", os.Getenv("ENTRA_SP_ID"), "or the enterprise app's object id (env ENTRA_SP_ID)")
	fs.StringVar(&o.graphURL, "graph-url", os.Getenv("ENTRA_GRAPH_URL"), "Graph base URL, e.g. https://graph.microsoft.us/v1.0 (default: public cloud; env ENTRA_GRAPH_URL)")
	fs.StringVar(&o.authority, "authority", os.Getenv("AZURE_AUTHORITY_HOST"), "Entra authority host (default: public cloud; env AZURE_AUTHORITY_HOST)")
	fs.StringVar(&o.tokScope, "token-scope", os.Getenv("ENTRA_TOKEN_SCOPE"), "token scopes, comma-separated, e.g. https://graph.microsoft.us/.default (default: the -graph-url's origin + /.default; set it when -graph-url is a proxy; env ENTRA_TOKEN_SCOPE)")
	fs.StringVar(&o.scope, "scope", cli.Env("ENTRA_SCOPE", "assigned"), `"assigned" users and groups, or "all"`)
	fs.BoolVar(&o.includeDefault, "include-default-access", false, "keep assignments with the Default Access role")
	fs.BoolVar(&o.transitive, "transitive", false, "include the users of groups nested in assigned groups")
	fs.StringVar(&o.attrs, "attrs", "", "extra Graph user properties to read, comma-separated")
	fs.StringVar(&o.guest, "guest-user-name", "", `guests' user name: "mail-alias" (default, as Entra) or "upn"`)
	fs.StringVar(&o.user, "user", "", "provision on demand: sync only this user (object id or user principal name)")
	fs.BoolVar(&o.demo, "demo", false, "sync a fake Entra tenant into the embedded Netskope server, nothing to set up")
	err := fs.Parse(args)
	return o, err
}

// config builds the source configuration from the options and the
// environment.
func (o *options) config(log *zap.Logger) (entra.Config, error) {
	cfg := entra.Config{
		TenantID: o.tenant, ClientID: o.clientID, ClientSecret: entra.Secret(os.Getenv("AZURE_CLIENT_SECRET")),
		AppID: o.appID, ServicePrincipalID: o.spID, Scope: entra.Scope(o.scope),
		IncludeDefaultAccess: o.includeDefault, Transitive: o.transitive, GuestUserName: o.guest,
		GraphURL: o.graphURL, AuthorityHost: o.authority, Logger: log,
	}
	if cfg.Scope == entra.ScopeAll {
		cfg.AppID, cfg.ServicePrincipalID = "", ""
	}
	cfg.UserAttributes = cli.List(o.attrs)
	cfg.TokenScopes = cli.List(o.tokScope)
	if cfg.ClientSecret == "" {
		// Certificate, workload identity, managed identity, Azure CLI.
		opts := &azidentity.DefaultAzureCredentialOptions{TenantID: o.tenant}
		if o.authority != "" {
			opts.ClientOptions = azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: o.authority}}
		}
		cred, err := azidentity.NewDefaultAzureCredential(opts)
		if err != nil {
			return cfg, fmt.Errorf("no AZURE_CLIENT_SECRET and no default Azure credential: %w", err)
		}
		cfg.Credential = cred
	}
	return cfg, nil
}

// syncOnce plans, shows the plan and applies it when asked. With -user it
// provisions that one user on demand.
func syncOnce(ctx context.Context, o options, src *entra.Source, tgt *netskope.Client, state sync.State, log *zap.Logger, out io.Writer) error {
	var s source.Source = src
	if o.user != "" {
		d, err := src.ReadUser(ctx, o.user)
		if err != nil {
			return err
		}
		u := d.Users[0]
		fmt.Fprintf(out, "provision on demand: %s (%s), %s", u.UserName, u.ID, u.State)
		if len(d.Groups) > 0 {
			names := make([]string, len(d.Groups))
			for i, g := range d.Groups {
				names[i] = g.DisplayName
			}
			fmt.Fprintf(out, "; in scope through %s", strings.Join(names, ", "))
		}
		fmt.Fprintln(out)
		s = src.OnDemand(o.user)
	}
	var engOpts []sync.Option
	if o.user != "" {
		// The on-demand directory holds one user: leave everything else alone.
		engOpts = append(engOpts, sync.WithPartialSource())
	}
	eng, err := o.Engine(s, tgt, state, log, engOpts...)
	if err != nil {
		return err
	}
	_, _, err = o.PlanAndApply(ctx, eng, out)
	// Known once the plan has read the app.
	if req, known := src.AssignmentRequired(); known && !req && o.user == "" {
		fmt.Fprintln(out, "warning: the enterprise app does not require assignment: anyone in the tenant can sign in, but only assigned users and groups are synced")
	}
	return err
}

// runDemo builds a small fake tenant (an app with two assigned groups, a
// directly assigned guest, a Default Access assignment that is left out)
// and syncs it into the embedded Netskope server twice: the second run
// must be empty.
func runDemo(ctx context.Context, o options, log *zap.Logger, out io.Writer) error {
	g := graphtest.NewServer()
	defer g.Close()
	roles := append(g.GalleryRoles(), graphtest.AppRole{ID: g.NewID(), DisplayName: "User", Value: ptr("User"), IsEnabled: true})
	app := g.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Netskope User Authentication",
		AppRoleAssignmentRequired: true, AppRoles: roles})
	names := []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"}
	var ids []string
	for _, n := range names {
		first, last, _ := strings.Cut(n, " ")
		upn := strings.ToLower(first+"."+last) + "@contoso.example"
		ids = append(ids, g.AddUser(graphtest.User{UserPrincipalName: upn, Mail: upn, GivenName: first, Surname: last,
			DisplayName: n, Department: "Engineering"}).ID)
	}
	guest := g.AddUser(graphtest.User{UserPrincipalName: "pat_fabrikam.example#EXT#@contoso.onmicrosoft.com",
		Mail: "pat@fabrikam.example", DisplayName: "Pat (Fabrikam)"}).ID
	eng := g.AddGroup(graphtest.Group{DisplayName: "Engineering"}).ID
	res := g.AddGroup(graphtest.Group{DisplayName: "Research"}).ID
	steps := []error{
		g.AddMembers(eng, ids[0], ids[1], ids[2], g.AddDevice("LAB-PC-01")),
		g.AddMembers(res, ids[2], ids[3]),
	}
	for _, p := range []string{eng, res, guest} {
		_, err := g.Assign(app.ID, p, roles[1].ID)
		steps = append(steps, err)
	}
	_, err := g.Assign(app.ID, ids[4], roles[0].ID) // msiam_access: Default Access
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		return err
	}
	src, err := entra.Config{Credential: g.Credential(), GraphURL: g.URL(), ServicePrincipalID: app.ID, Logger: log}.Open()
	if err != nil {
		return err
	}
	ns := netskopetest.NewServer(netskopetest.WithLogger(log))
	defer ns.Close()
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0), netskope.WithLogger(log))
	if err != nil {
		return err
	}
	o.URL, o.Apply = ns.URL(), true
	state := sync.NewMemoryState()
	fmt.Fprintf(out, "demo: fake Entra tenant at %s, embedded Netskope at %s\n\n== first sync\n", g.URL(), ns.URL())
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== second sync (nothing changed)")
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	// A new hire joins Engineering, another leaves it: provisioning the new
	// hire on demand creates just that user; the leaver waits for the next
	// full sync.
	hire := g.AddUser(graphtest.User{UserPrincipalName: "katherine.johnson@contoso.example", Mail: "katherine.johnson@contoso.example",
		GivenName: "Katherine", Surname: "Johnson", DisplayName: "Katherine Johnson"}).ID
	if err := errors.Join(g.AddMembers(eng, hire), g.RemoveMembers(eng, ids[0])); err != nil {
		return err
	}
	o.user = "katherine.johnson@contoso.example"
	fmt.Fprintln(out, "\n== provision on demand: a new member of Engineering")
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nGraph requests: %d; Netskope now holds %d users and %d groups\n", src.Requests(), ns.UserCount(), ns.GroupCount())
	return nil
}

func ptr[T any](v T) *T { return &v }
