package main

import (
	"context"
	"os"
	"path/filepath"
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
		"Users: 6 to create", "No changes: 6 users and 2 groups are up to date",
		`deactivate-user user "frances.allen@example.com" (left scope)`,
		`delete-user user "edsger.dijkstra@example.com" (deleted at source)`,
		"Update Auto Provisioned User         3", "Hard Delete Auto Provisioned User    1",
		"Netskope now holds 5 users and 2 groups",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "archie") {
		t.Errorf("an archived user was synced:\n%s", out.String())
	}
}

func TestNeedsTarget(t *testing.T) {
	t.Setenv("NETSKOPE_SCIM_URL", "")
	t.Setenv("NETSKOPE_TOKEN", "")
	key := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(key, []byte(`{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJpdHM=\n-----END PRIVATE KEY-----\n","token_uri":"https://oauth2.googleapis.com/token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := run(context.Background(), []string{"-key-file", key, "-admin", "admin@example.com"}, &out)
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("run with a damaged key: %v", err)
	}
	if !strings.Contains(err.Error(), "ServiceAccountKey") {
		t.Errorf("error does not name the key: %v", err)
	}
}
