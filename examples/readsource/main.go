// Command readsource reads the users and groups of one identity provider,
// Microsoft Entra ID, Google Workspace or OneLogin, chosen at run time
// with -source, and says what it found. It writes nothing to Netskope:
// use it to check credentials and scope before a first sync, and -out to
// keep the directory as a file that the file source and the quickstart
// read (go run ./examples/quickstart -dir directory.yaml).
//
//	go run -tags grpcnotrace ./examples/readsource -source entra      # env as for examples/entra
//	go run -tags grpcnotrace ./examples/readsource -source google     # env as for examples/google
//	go run -tags grpcnotrace ./examples/readsource -source onelogin -out directory.yaml
//
// The environment is the other examples': AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET and ENTRA_APP_ID (or ENTRA_SP_ID); GOOGLE_ADMIN_EMAIL
// and GOOGLE_SERVICE_ACCOUNT_KEY_FILE (else Application Default
// Credentials); ONELOGIN_URL, ONELOGIN_CLIENT_ID, ONELOGIN_CLIENT_SECRET
// and ONELOGIN_APP_ID. Secrets come from the environment only.
//
// It links all three sources, so it is also the measure of what a
// program that offers all of them weighs: .ci/binsize builds it and
// prints its size.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/examples/internal/gcred"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/onelogin"
)

func main() { cli.Main("readsource", run) }

type options struct {
	source, out string
	verbose     bool
	// Entra
	tenant, entraClient, entraApp, spID, graphURL, authority, tokenScope string
	// Google
	keyFile, admin, customer, domain, googleEndpoint string
	// OneLogin
	oneloginURL, oneloginClient string
	oneloginApp                 int64
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("readsource", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.source, "source", "", `the identity provider: "entra", "google" or "onelogin"`)
	fs.StringVar(&o.out, "out", "", "write the directory read to this file (.yaml or .json), in the file source's format")
	fs.BoolVar(&o.verbose, "v", false, "log each request")
	fs.StringVar(&o.tenant, "tenant", os.Getenv("AZURE_TENANT_ID"), "Entra tenant id (env AZURE_TENANT_ID)")
	fs.StringVar(&o.entraClient, "entra-client-id", os.Getenv("AZURE_CLIENT_ID"), "Entra app registration's client id (env AZURE_CLIENT_ID); the secret comes from env AZURE_CLIENT_SECRET")
	fs.StringVar(&o.entraApp, "entra-app-id", os.Getenv("ENTRA_APP_ID"), "the Entra enterprise app's application id (env ENTRA_APP_ID)")
	fs.StringVar(&o.spID, "entra-sp-id", os.Getenv("ENTRA_SP_ID"), "or its object id (env ENTRA_SP_ID)")
	fs.StringVar(&o.graphURL, "graph-url", os.Getenv("ENTRA_GRAPH_URL"), "Graph base URL (default: public cloud; env ENTRA_GRAPH_URL)")
	fs.StringVar(&o.authority, "authority", os.Getenv("AZURE_AUTHORITY_HOST"), "Entra authority host (default: public cloud; env AZURE_AUTHORITY_HOST)")
	fs.StringVar(&o.tokenScope, "token-scope", os.Getenv("ENTRA_TOKEN_SCOPE"), "Graph token scopes, comma-separated (default: the Graph URL's origin + /.default; env ENTRA_TOKEN_SCOPE)")
	fs.StringVar(&o.keyFile, "key-file", os.Getenv("GOOGLE_SERVICE_ACCOUNT_KEY_FILE"), "Google service account key file (env GOOGLE_SERVICE_ACCOUNT_KEY_FILE); without it, Application Default Credentials")
	fs.StringVar(&o.admin, "admin", os.Getenv("GOOGLE_ADMIN_EMAIL"), "Google administrator the service account impersonates (env GOOGLE_ADMIN_EMAIL)")
	fs.StringVar(&o.customer, "customer", os.Getenv("GOOGLE_CUSTOMER"), `Google customer id (default "my_customer"; env GOOGLE_CUSTOMER)`)
	fs.StringVar(&o.domain, "domain", os.Getenv("GOOGLE_DOMAIN"), "read one Google domain instead of the whole customer (env GOOGLE_DOMAIN)")
	fs.StringVar(&o.googleEndpoint, "google-endpoint", os.Getenv("GOOGLE_DIRECTORY_ENDPOINT"), "Directory API base URL (default https://admin.googleapis.com/)")
	fs.StringVar(&o.oneloginURL, "onelogin-url", os.Getenv("ONELOGIN_URL"), "OneLogin API host, https://<subdomain>.onelogin.com (env ONELOGIN_URL)")
	fs.StringVar(&o.oneloginClient, "onelogin-client-id", os.Getenv("ONELOGIN_CLIENT_ID"), "OneLogin API credential's client id (env ONELOGIN_CLIENT_ID); the secret comes from env ONELOGIN_CLIENT_SECRET")
	appID, _ := strconv.ParseInt(os.Getenv("ONELOGIN_APP_ID"), 10, 64)
	fs.Int64Var(&o.oneloginApp, "onelogin-app-id", appID, "the OneLogin Netskope app's id (env ONELOGIN_APP_ID)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	format := file.FormatYAML
	if o.out != "" && strings.EqualFold(filepath.Ext(o.out), ".json") {
		format = file.FormatJSON
	}
	log, err := cli.Logger(o.verbose)
	if err != nil {
		return err
	}
	src, err := open(ctx, &o, log)
	if err != nil {
		return err
	}
	dir, err := src.Read(ctx)
	if err != nil {
		return err
	}
	summarize(out, src.Name(), dir)
	if o.out == "" {
		return nil
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	if err := file.Write(f, dir, format); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "written to %s\n", o.out)
	return nil
}

// open opens the source -source names.
func open(ctx context.Context, o *options, log *zap.Logger) (source.Source, error) {
	switch o.source {
	case "entra":
		cfg := entra.Config{TenantID: o.tenant, ClientID: o.entraClient, ClientSecret: entra.Secret(os.Getenv("AZURE_CLIENT_SECRET")),
			AppID: o.entraApp, ServicePrincipalID: o.spID, GraphURL: o.graphURL, AuthorityHost: o.authority,
			TokenScopes: cli.List(o.tokenScope), Logger: log}
		return cfg.Open()
	case "google":
		cfg := google.Config{AdminEmail: o.admin, Customer: o.customer, Domain: o.domain, Endpoint: o.googleEndpoint, Logger: log}
		if err := gcred.Apply(ctx, &cfg, o.keyFile); err != nil {
			return nil, err
		}
		return cfg.Open()
	case "onelogin":
		return onelogin.Config{BaseURL: o.oneloginURL, ClientID: o.oneloginClient,
			ClientSecret: source.Secret(os.Getenv("ONELOGIN_CLIENT_SECRET")), AppID: o.oneloginApp, Logger: log}.Open()
	}
	return nil, fmt.Errorf("-source %q: want entra, google or onelogin", o.source)
}

// summarize prints the counts of a directory: users by state, groups and
// memberships.
func summarize(out io.Writer, name string, dir *source.Directory) {
	states := map[source.State]int{}
	for _, u := range dir.Users {
		states[u.State]++
	}
	members := 0
	for _, g := range dir.Groups {
		members += len(g.Members)
	}
	fmt.Fprintf(out, "%s: %d users (%d active, %d suspended, %d deleted), %d groups, %d memberships\n", name,
		len(dir.Users), states[source.StateActive], states[source.StateSuspended], states[source.StateDeleted],
		len(dir.Groups), members)
}
