package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
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

// TestAdminLogFromProvisioningLog counts a provisioning log's events in a
// time range as Google's admin log events, and prints them with
// -admin-log.
func TestAdminLogFromProvisioningLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prov.jsonl")
	l, err := provlog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, ev := range []struct {
		ago     time.Duration
		action  sync.Action
		outcome sync.Status
	}{
		{48 * time.Hour, sync.ActionCreateUser, sync.StatusApplied}, // before the range
		{3 * time.Hour, sync.ActionCreateUser, sync.StatusApplied},
		{3 * time.Hour, sync.ActionCreateUser, sync.StatusApplied},
		{2 * time.Hour, sync.ActionUpdateUser, sync.StatusApplied},
		{2 * time.Hour, sync.ActionDeactivateUser, sync.StatusApplied},
		{2 * time.Hour, sync.ActionDeleteUser, sync.StatusApplied},
		{time.Hour, sync.ActionCreateGroup, sync.StatusApplied}, // no event
		{time.Hour, sync.ActionAddMembers, sync.StatusFailed},
		{time.Hour, sync.ActionUpdateUser, sync.StatusFailed},
		{time.Hour, sync.ActionDeleteUser, sync.StatusSkipped}, // no event
	} {
		if err := l.Write(sync.ChangeEvent{Time: now.Add(-ev.ago), Action: ev.action, Outcome: ev.outcome, Name: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	counts, err := adminLog(path, now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[google.LogEventName]int{google.EventCreateUser: 2, google.EventUpdateUser: 2, google.EventHardDelete: 1, google.EventFailure: 2}
	if !maps.Equal(counts, want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"-admin-log", path, "-since", "72h"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Create User By Auto Provisioning     3") || !strings.Contains(out.String(), "Failures                             2") {
		t.Fatalf("-admin-log printed:\n%s", out.String())
	}
}
