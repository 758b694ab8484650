package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, []string{"-demo"}, &out); err != nil {
		t.Fatalf("run -demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"Users: 5 to create", `create-user user "pat@fabrikam.example"`, "No changes: 5 users and 2 groups are up to date",
		"provision on demand: katherine.johnson@contoso.example", "Users: 1 to create, 0 to update, 0 to deactivate",
		"Netskope now holds 6 users and 2 groups",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Provision on demand says what happens: the partial plan is applied.
	_, onDemand, _ := strings.Cut(out.String(), "== provision on demand")
	if !strings.Contains(onDemand, "Plan is incomplete but applyable:\n") || !strings.Contains(onDemand, "applied: 2 applied, 0 failed") ||
		strings.Contains(onDemand, "not applyable") {
		t.Errorf("the on-demand output contradicts itself:\n%s", onDemand)
	}
}

func TestNeedsTarget(t *testing.T) {
	t.Setenv("NETSKOPE_SCIM_URL", "")
	t.Setenv("NETSKOPE_TOKEN", "")
	t.Setenv("AZURE_CLIENT_SECRET", "s3cret-value")
	var out strings.Builder
	err := run(context.Background(), []string{"-tenant", "t", "-client-id", "c", "-app-id", "a"}, &out)
	if err == nil || !strings.Contains(err.Error(), "NETSKOPE_SCIM_URL") || strings.Contains(err.Error(), "s3cret-value") {
		t.Fatalf("run without a target: %v", err)
	}
}

// -token-scope reaches the source's configuration; without it the scope
// is derived from -graph-url.
func TestTokenScopeFlag(t *testing.T) {
	t.Setenv("AZURE_CLIENT_SECRET", "s3cret-value")
	t.Setenv("ENTRA_TOKEN_SCOPE", "")
	base := []string{"-tenant", "t", "-client-id", "c", "-app-id", "a", "-graph-url", "https://graph-proxy.example.com/v1.0",
		"-authority", "https://login.microsoftonline.us/"}
	tests := []struct {
		args []string
		want []string
	}{
		{nil, nil}, // the source derives it from -graph-url
		{[]string{"-token-scope", "https://graph.microsoft.us/.default"}, []string{"https://graph.microsoft.us/.default"}},
		{[]string{"-token-scope", " https://graph.microsoft.us/.default , other/.default,"}, []string{"https://graph.microsoft.us/.default", "other/.default"}},
	}
	for _, tt := range tests {
		o, err := parse(append(slices.Clone(base), tt.args...))
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		cfg, err := o.config(zap.NewNop())
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if _, err := cfg.Open(); err != nil {
			t.Fatalf("%v: Open: %v", tt.args, err)
		}
		if !slices.Equal(cfg.TokenScopes, tt.want) {
			t.Errorf("%v: scopes %q, want %q", tt.args, cfg.TokenScopes, tt.want)
		}
	}
}
