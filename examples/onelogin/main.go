// Command onelogin syncs the users who have a OneLogin app into a Netskope
// tenant, as OneLogin's Netskope connector does. It plans only, unless
// -apply is given.
//
// The connector provisions every user who gets the app, directly or
// through a role, and puts users into Netskope groups only through the
// rules on the app's Rules tab; OneLogin groups are not sent on their own
// (OneLogin's "Provision Users to Netskope", KB0011116). By default this
// program does what the usual rule does, one Netskope group per role that
// holds the app (-groups roles); examples/config/onelogin.yaml writes the
// rules out instead. -groups groups or roles,groups adds OneLogin's
// groups. A role and a group with the same name would be one Netskope
// group with two owners: the plan reports both as problems and writes
// neither, and the rest of the plan applies. -user-name chooses the
// field that becomes the Netskope userName: email (the connector's
// default) or username.
//
//	export ONELOGIN_URL=https://<subdomain>.onelogin.com ONELOGIN_CLIENT_ID=... ONELOGIN_CLIENT_SECRET=...
//	export ONELOGIN_APP_ID=123456
//	export NETSKOPE_SCIM_URL=https://<tenant>.goskope.com/api/v2/scim NETSKOPE_TOKEN=...
//	go run ./examples/onelogin                       # show the plan
//	go run ./examples/onelogin -deleted delete -apply
//	go run ./examples/onelogin -demo                 # a fake account into the embedded Netskope server
//
// The API credential pair needs Read All (listing an app's users requires
// it). Later runs read only what changed (the cursor lives in the state
// file). The state file also records which Netskope objects this program
// created or adopted; only those are ever deactivated or deleted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/onelogin"
	"github.com/provsync/provsync/source/onelogin/onelogintest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func main() { cli.Main("onelogin", run) }

type options struct {
	cli.Netskope
	baseURL, clientID, groups, deleted, suspended, tokenAuth, userName string
	appID                                                              int64
	skipRoleUsers, demo                                                bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("onelogin", flag.ContinueOnError)
	var o options
	o.Register(fs, "onelogin")
	fs.StringVar(&o.baseURL, "onelogin-url", os.Getenv("ONELOGIN_URL"), "OneLogin API host, https://<subdomain>.onelogin.com (env ONELOGIN_URL)")
	fs.StringVar(&o.clientID, "client-id", os.Getenv("ONELOGIN_CLIENT_ID"), "API credential client id (env ONELOGIN_CLIENT_ID); the secret comes from env ONELOGIN_CLIENT_SECRET only")
	appID, _ := strconv.ParseInt(os.Getenv("ONELOGIN_APP_ID"), 10, 64)
	fs.Int64Var(&o.appID, "app-id", appID, "the Netskope app's id (env ONELOGIN_APP_ID)")
	fs.StringVar(&o.tokenAuth, "token-auth", "form", `how the credentials go to /auth/oauth2/v2/token: "form" (in the body, as documented) or "basic" (HTTP Basic, as OneLogin's SDKs send them)`)
	fs.BoolVar(&o.skipRoleUsers, "skip-role-users", false, "read only the app's user listing, not the users of the roles that hold it")
	fs.StringVar(&o.groups, "groups", "roles", `groups to sync: "roles" (the roles that hold the app), "groups" (OneLogin groups), "roles,groups" or "none"`)
	fs.StringVar(&o.userName, "user-name", "email", `the OneLogin field that becomes the Netskope userName: "email" or "username"`)
	fs.StringVar(&o.deleted, "deleted", "deactivate", `users removed in OneLogin or from the app: "delete", "deactivate" (suspend) or "none" (do nothing)`)
	fs.StringVar(&o.suspended, "suspended", "deactivate", `users whose status is not Active: "deactivate", "delete" or "none"`)
	fs.BoolVar(&o.demo, "demo", false, "sync a fake OneLogin account into the embedded Netskope server, nothing to set up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := o.Logger()
	if err != nil {
		return err
	}
	groups, err := groupSource(o.groups)
	if err != nil {
		return err
	}
	if o.userName != "email" && o.userName != "username" {
		return fmt.Errorf("-user-name %q: want email or username", o.userName)
	}
	if o.demo {
		return runDemo(ctx, o, groups, log, out)
	}
	style, err := authStyle(o.tokenAuth)
	if err != nil {
		return err
	}
	src, err := onelogin.Config{BaseURL: o.baseURL, ClientID: o.clientID, ClientSecret: source.Secret(os.Getenv("ONELOGIN_CLIENT_SECRET")),
		AuthStyle: style, AppID: o.appID, SkipRoleUsers: o.skipRoleUsers, Groups: groups, UserName: o.userName, Logger: log}.Open()
	if err != nil {
		return err
	}
	client, err := o.Connect(ctx, log, out)
	if err != nil {
		return err
	}
	return syncOnce(ctx, o, src, client, sync.NewFileState(o.State), log, out)
}

// groupSource reads the -groups flag.
func groupSource(v string) (onelogin.GroupSource, error) {
	switch strings.ReplaceAll(v, " ", "") {
	case "roles":
		return onelogin.GroupsRoles, nil
	case "groups":
		return onelogin.GroupsGroups, nil
	case "roles,groups", "groups,roles":
		return onelogin.GroupsRolesAndGroups, nil
	case "none":
		return onelogin.GroupsNone, nil
	}
	return "", fmt.Errorf("-groups %q: want roles, groups, roles,groups or none", v)
}

// authStyle reads the -token-auth flag.
func authStyle(v string) (oauth2.AuthStyle, error) {
	switch v {
	case "form", "":
		return oauth2.AuthStyleInParams, nil
	case "basic":
		return oauth2.AuthStyleInHeader, nil
	}
	return 0, fmt.Errorf("-token-auth %q: want form or basic", v)
}

// syncOnce plans and, with -apply, applies one incremental sync.
func syncOnce(ctx context.Context, o options, src *onelogin.Source, tgt target.Target, state sync.State, log *zap.Logger, out io.Writer) error {
	pol := sync.DefaultPolicy()
	// OneLogin keeps no deleted users: a deleted user leaves scope.
	pol.LeftScope, pol.Suspended = sync.Deprovision(o.deleted), sync.Deprovision(o.suspended)
	eng, err := o.Engine(src, tgt, state, log, sync.WithPolicy(pol), sync.WithIncremental(true))
	if err != nil {
		return err
	}
	_, _, err = o.PlanAndApply(ctx, eng, out)
	return err
}

// runDemo builds a small fake account (an app given through two roles
// and directly, a suspended user, a user of another app, a OneLogin group
// named like one of the roles) and syncs it into the embedded Netskope
// server: a first sync, an empty incremental one, then changes.
func runDemo(ctx context.Context, o options, groups onelogin.GroupSource, log *zap.Logger, out io.Writer) error {
	fake := onelogintest.NewServer()
	defer fake.Close()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	fake.SetClock(func() time.Time { return now })
	const app = 424242
	eng := fake.AddGroup(onelogintest.Group{Name: "Engineering"})
	var ids []int64
	for i, n := range [][2]string{{"ada", "Lovelace"}, {"alan", "Turing"}, {"grace", "Hopper"}, {"edsger", "Dijkstra"}, {"barbara", "Liskov"}} {
		u := onelogintest.User{Username: n[0], Email: n[0] + "@example.com", Firstname: n[0], Lastname: n[1], Status: onelogin.StatusActive, State: 1}
		if i < 3 {
			u.GroupID = &eng.ID
		}
		if i == 4 {
			u.Status = onelogin.StatusSuspended
		}
		ids = append(ids, fake.AddUser(u).ID)
	}
	other := fake.AddUser(onelogintest.User{Username: "donald", Email: "donald@example.com", Firstname: "Donald", Lastname: "Knuth", Status: onelogin.StatusActive, State: onelogin.UserStateApproved})
	users := fake.AddRole(onelogintest.Role{Name: "Netskope Users", Apps: []int64{app}})
	if err := fake.SetRoleUsers(users.ID, ids[0], ids[1], ids[2]); err != nil {
		return err
	}
	// A role with the name of the OneLogin group.
	engRole := fake.AddRole(onelogintest.Role{Name: "Engineering", Apps: []int64{app}})
	if err := fake.SetRoleUsers(engRole.ID, ids[0], ids[2]); err != nil {
		return err
	}
	fake.AssignApp(app, ids[3], ids[4])
	fake.AssignApp(app+1, other.ID)
	now = now.Add(time.Hour)
	id, secret := fake.Credentials()
	src, err := onelogin.Config{BaseURL: fake.URL(), ClientID: id, ClientSecret: source.Secret(secret), AppID: app,
		Groups: groups, UserName: o.userName, Logger: log}.Open()
	if err != nil {
		return err
	}
	ns := netskopetest.NewServer(netskopetest.WithLogger(log))
	defer ns.Close()
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0), netskope.WithLogger(log))
	if err != nil {
		return err
	}
	o.URL, o.Apply, o.deleted = ns.URL(), true, "delete"
	state := sync.NewMemoryState()
	fmt.Fprintf(out, "demo: fake OneLogin at %s, embedded Netskope at %s\n\n== first sync\n", fake.URL(), ns.URL())
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	now = now.Add(time.Hour)
	fmt.Fprintln(out, "\n== second sync (nothing changed; an incremental read)")
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	now = now.Add(time.Hour)
	fmt.Fprintln(out, "\n== Alan is suspended, Edsger loses the app, Donald gets it")
	if err := fake.UpdateUser(ids[1], func(u *onelogintest.User) { u.Status = onelogin.StatusSuspended }); err != nil {
		return err
	}
	fake.UnassignApp(app, ids[3])
	fake.AssignApp(app, other.ID)
	now = now.Add(time.Hour)
	if err := syncOnce(ctx, o, src, client, state, log, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nOneLogin API requests: %d; Netskope now holds %d users and %d groups\n", src.Requests(), ns.UserCount(), ns.GroupCount())
	return nil
}
