package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, []string{"-demo"}, &out); err != nil {
		t.Fatalf("run -demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"Users: 4 to create", "No changes: 4 users and 2 groups are up to date",
		`deactivate-user user "alan@example.com" (suspended at source)`,
		`delete-user user "edsger@example.com" (left scope)`, `create-user user "donald@example.com"`,
		"Netskope now holds 4 users and 2 groups",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNeedsConfiguration(t *testing.T) {
	t.Setenv("ONELOGIN_CLIENT_SECRET", "s3cret-value")
	t.Setenv("ONELOGIN_URL", "")
	var out strings.Builder
	err := run(context.Background(), []string{"-client-id", "c", "-app-id", "1"}, &out)
	if err == nil || !strings.Contains(err.Error(), "BaseURL") || strings.Contains(err.Error(), "s3cret-value") {
		t.Fatalf("run without a OneLogin URL: %v", err)
	}
}

func TestTokenAuthFlag(t *testing.T) {
	t.Setenv("ONELOGIN_CLIENT_SECRET", "s3cret-value")
	err := run(context.Background(), []string{"-onelogin-url", "https://acme.onelogin.com", "-client-id", "c", "-app-id", "1",
		"-token-auth", "header"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-token-auth") {
		t.Fatalf("a bad -token-auth: %v", err)
	}
}

func TestDemoWithConfig(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-demo", "-config", "../config/onelogin.yaml"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	// The configuration's rules make the groups (a group per role), and
	// its policy deactivates a user who loses the app.
	for _, want := range []string{`create-group group "Netskope Users"`, "Groups: 1 to create",
		`deactivate-user user "edsger@example.com" (left scope)`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var bad strings.Builder
	err := run(context.Background(), []string{"-demo", "-config", "../config/nope.yaml"}, &bad)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("a missing config: %v", err)
	}
}
