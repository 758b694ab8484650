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
		// By default the roles that hold the app are the groups, as the
		// connector's usual rule makes them: "Engineering" is the role
		// (Ada, Grace), not the OneLogin group of the same name (with Alan).
		"  + create-group group \"Engineering\" (new at source)\n      + ada@example.com\n      + grace@example.com\n  + create-group",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// With roles and OneLogin groups both synced, the role "Engineering" and
// the group "Engineering" would be one Netskope group: the plan reports
// them and writes neither, instead of failing on a 409.
func TestDemoRolesAndGroups(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-demo", "-groups", "roles,groups"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	first, _, _ := strings.Cut(out.String(), "== second sync")
	for _, want := range []string{`? group "Engineering": 2 source groups map to the displayName "Engineering"`,
		`create-group group "Netskope Users"`, "applied: 5 applied, 0 failed"} {
		if !strings.Contains(first, want) {
			t.Errorf("first sync lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, `create-group group "Engineering"`) {
		t.Errorf("a group named like a role is created:\n%s", first)
	}
	if !strings.Contains(out.String(), "Netskope now holds 4 users and 1 groups") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestFlags(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-demo", "-user-name", "username", "-groups", "none"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{`create-user user "ada" (new at source)`, "Groups: 0 to create", "Netskope now holds 4 users and 0 groups"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-user-name username -groups none: output lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"-user-name", "mail"}, {"-groups", "teams"}, {"-groups", ""}} {
		err := run(context.Background(), append([]string{"-demo"}, args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("run %q = %v, want an error naming the flag", args, err)
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
	for _, want := range []string{`create-group group "Netskope Users"`, `create-group group "Engineering"`, "Groups: 2 to create",
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
