package entra_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
)

func TestReadUserOnDemand(t *testing.T) {
	tn := newTenant(t)
	a := tn.user("ada@contoso.com")
	b := tn.user("bob@contoso.com")
	guest := tn.user("gus_fabrikam.com#EXT#@contoso.onmicrosoft.com", func(u *graphtest.User) { u.Mail = "gus@fabrikam.com" })
	out := tn.user("out@contoso.com")
	sales := tn.group("Sales", a, b)
	tn.group("Unassigned", a)
	inner := tn.group("Inner", guest)
	outer := tn.group("Outer", inner)
	tn.assign(sales)
	tn.assign(outer)
	tn.assign(b)
	s := tn.open()

	d, err := s.ReadUser(ctx(t), "ada@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != 1 || d.Users[0].ID != a || len(d.Groups) != 1 || d.Groups[0].ID != sales ||
		!slices.Equal(d.Groups[0].Members, []string{a}) {
		t.Fatalf("ada: %+v", d)
	}
	must(t, d.Validate())
	if d, err = s.ReadUser(ctx(t), b); err != nil || len(d.Groups) != 1 {
		t.Fatalf("bob, by id: %v %+v", err, d)
	}
	// A guest by UPN: nested only, so out of scope unless Transitive.
	if _, err = s.ReadUser(ctx(t), "gus_fabrikam.com#EXT#@contoso.onmicrosoft.com"); !errors.Is(err, entra.ErrNotInScope) {
		t.Fatalf("nested guest: %v", err)
	}
	st := tn.open(func(c *entra.Config) { c.Transitive = true })
	if d, err = st.ReadUser(ctx(t), "gus_fabrikam.com#EXT#@contoso.onmicrosoft.com"); err != nil ||
		d.Users[0].UserName != "gus@fabrikam.com" || len(d.Groups) != 1 || d.Groups[0].ID != outer {
		t.Fatalf("nested guest, transitive: %v %+v", err, d)
	}
	if _, err = s.ReadUser(ctx(t), out); !errors.Is(err, entra.ErrNotInScope) || !errors.Is(err, source.ErrInvalid) || !entra.IsNotInScope(err) {
		t.Fatalf("unassigned user: %v", err)
	}
	if _, err = s.ReadUser(ctx(t), "nobody@contoso.com"); !errors.Is(err, source.ErrInvalid) || errors.Is(err, entra.ErrNotInScope) {
		t.Fatalf("unknown user: %v", err)
	}

	// The OnDemand source: the user, and the user's groups listing only
	// the user.
	od := s.OnDemand("ada@contoso.com")
	dir, err := od.Read(ctx(t))
	if err != nil || len(dir.Users) != 1 || dir.Users[0].ID != a {
		t.Fatalf("OnDemand.Read = %+v, %v", dir, err)
	}
	for _, g := range dir.Groups {
		if len(g.Members) != 1 || g.Members[0] != a || len(g.MemberGroups) != 0 {
			t.Errorf("on-demand group %q lists %v", g.DisplayName, g.Members)
		}
	}
	if err := dir.Validate(); err != nil {
		t.Errorf("on-demand directory: %v", err)
	}
	if od.Name() != "entra/on-demand" {
		t.Errorf("name %q", od.Name())
	}
	if dir, err := s.OnDemand(out).Read(ctx(t)); dir != nil || !errors.Is(err, entra.ErrNotInScope) {
		t.Errorf("OnDemand out of scope = %v, %v", dir, err)
	}
}

// TestRequestCounts measures the requests of a full read and of an
// incremental read with nothing changed, for 1,000 assigned users.
func TestRequestCounts(t *testing.T) {
	shapes := []struct {
		name        string
		direct, grp int // users assigned directly; users through 5 groups
		unassigned  int // other users of the tenant
		full, again int // request budgets
	}{
		{"1000 assigned directly", 1000, 0, 0, 8, 5},
		{"1000 assigned directly, tenant of 20000", 1000, 0, 19000, 27, 5},
		{"1000 through 5 groups", 0, 1000, 0, 14, 4},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			tn := newTenant(t)
			var all []string
			for i := 0; i < sh.direct+sh.grp+sh.unassigned; i++ {
				all = append(all, tn.user(fmt.Sprintf("u%05d@contoso.com", i)))
			}
			for _, id := range all[:sh.direct] {
				tn.assign(id)
			}
			for g := 0; g < 5 && sh.grp > 0; g++ {
				n := sh.grp / 5
				tn.assign(tn.group(fmt.Sprint("Group ", g), all[sh.direct+g*n:sh.direct+(g+1)*n]...))
			}
			s := tn.open()
			tn.srv.ResetStats()
			full := readChanges(t, s, "")
			fullN, fullLog := tn.srv.Requests(), routes(tn.srv.RequestLog())
			tn.srv.ResetStats()
			again := readChanges(t, s, full.Cursor)
			againN, againLog := tn.srv.Requests(), routes(tn.srv.RequestLog())
			if len(full.Users) != sh.direct+sh.grp || !again.Empty() {
				t.Fatalf("read %d users; second read empty %v", len(full.Users), again.Empty())
			}
			t.Logf("%s: full read %d requests %v; second run, no changes: %d requests %v; cursor %d bytes",
				sh.name, fullN, fullLog, againN, againLog, len(full.Cursor))
			if fullN > sh.full || againN > sh.again {
				t.Errorf("requests %d and %d, budgets %d and %d", fullN, againN, sh.full, sh.again)
			}
		})
	}
}

// routes counts a request log by route.
func routes(log []string) map[string]int {
	m := map[string]int{}
	for _, l := range log {
		r, _, _ := strings.Cut(l, " ")
		m[r]++
	}
	return m
}

// The SDK's root package links every Graph API: no build of this module
// may import it.
func TestNoRootGraphPackage(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skipf("module root not found: %v", err)
	}
	for _, args := range [][]string{
		{"list", "-deps", "./..."},
		{"list", "-deps", "-test", "./..."},
	} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		for _, p := range strings.Fields(string(out)) {
			if p == rootGraphPackage {
				t.Errorf("go %s lists the root package %s", strings.Join(args, " "), rootGraphPackage)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	srv := graphtest.New(t)
	cred := srv.Credential()
	for _, tc := range []struct {
		name string
		cfg  entra.Config
		want string
	}{
		{"no app", entra.Config{Credential: cred}, "ServicePrincipalID"},
		{"both ids", entra.Config{Credential: cred, ServicePrincipalID: "x", AppID: "y"}, "not both"},
		{"no credential", entra.Config{AppID: "y"}, "no credential"},
		{"partial secret", entra.Config{AppID: "y", TenantID: "t", ClientID: "c"}, "one is empty"},
		{"scope", entra.Config{Credential: cred, Scope: "some"}, "unknown scope"},
		{"http graph", entra.Config{Credential: cred, AppID: "y", GraphURL: "http://graph.example.com/v1.0"}, "localhost only"},
		{"http authority", entra.Config{Credential: cred, AppID: "y", AuthorityHost: "http://login.example.com/"}, "not an https URL"},
		{"page size", entra.Config{Credential: cred, AppID: "y", PageSize: 1000}, "PageSize"},
		{"backoff", entra.Config{Credential: cred, AppID: "y", Backoff: -time.Second}, "Backoff"},
		{"attribute", entra.Config{Credential: cred, AppID: "y", UserAttributes: []string{"a,b"}}, "not a property name"},
		{"guest", entra.Config{Credential: cred, AppID: "y", GuestUserName: "x"}, "GuestUserName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Open()
			if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v; want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
	s, err := entra.Config{Credential: cred, AppID: "y", UserAttributes: []string{"city", "mail", "City"}}.Open()
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.Scope != entra.ScopeAssigned || c.GraphURL != entra.CloudPublic.GraphURL || c.PageSize != 999 || c.MaxRetries != 5 ||
		!slices.Equal(c.UserAttributes, []string{"city"}) || !slices.Equal(c.TokenScopes, []string{"https://graph.microsoft.com/.default"}) ||
		s.Name() != "entra" {
		t.Errorf("defaults: %+v", c)
	}
}

// The client secret never shows: not in fmt, zap or JSON, not in errors
// or logs of a run that uses it.
func TestSecretNeverShown(t *testing.T) {
	tn := newTenant(t)
	tn.assign(tn.user("a@contoso.com"))
	secret := tn.srv.ClientSecret()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := entra.Config{TenantID: tn.srv.TenantID(), ClientID: tn.srv.ClientID(), ClientSecret: entra.Secret(secret),
		AuthorityHost: tn.srv.AuthorityHost(), GraphURL: tn.srv.URL(), HTTPClient: tn.srv.AuthorityClient(),
		ServicePrincipalID: tn.sp.ID, Logger: zap.New(core)}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), cfg.ClientSecret.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("the secret shows in %q", s)
		}
	}
	zap.New(core).Info("config", zap.Any("cfg", cfg), zap.Object("obj", cfg))
	s, err := cfg.Open()
	if err != nil {
		t.Fatal(err)
	}
	// Nor does printing the opened source, with any verb.
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x"} {
		for _, v := range []any{cfg, s, cfg.ClientSecret} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
				t.Errorf("%s shows the secret: %.200s", verb, out)
			}
		}
	}
	// The credential signs in at the fake authority (https, offline).
	dir := read(t, s)
	if len(dir.Users) != 1 || tn.srv.TokenRequests() != 1 {
		t.Fatalf("read %d users with %d token requests", len(dir.Users), tn.srv.TokenRequests())
	}
	// A wrong secret fails the read as a configuration error, without the secret.
	bad := cfg
	bad.ClientSecret = "wrong-secret-value"
	sb, err := bad.Open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = sb.Read(ctx(t))
	if err == nil || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("wrong secret: %v", err)
	}
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, secret) || strings.Contains(line, "wrong-secret-value") {
			t.Errorf("a log line shows the secret: %s", line)
		}
	}
}

// rootGraphPackage is msgraph-sdk-go's root import path, which must never
// be linked. It is spelled in two parts so that a search for imports of
// the root package does not find this guard.
const rootGraphPackage = "github.com/microsoftgraph/" + "msgraph-sdk-go"
