package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	admin "google.golang.org/api/admin/directory/v1"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/google/directorytest"
	"github.com/provsync/provsync/source/onelogin/onelogintest"
)

func TestOneLoginToFile(t *testing.T) {
	srv := onelogintest.New(t)
	var ids []int64
	// OneLogin statuses: 1 active, 0 unactivated and 3 suspended, which
	// the source reports as suspended.
	for _, p := range []struct {
		name   string
		status int
	}{{"ada", 0}, {"grace", 1}, {"alan", 3}} {
		u := srv.AddUser(onelogintest.User{Username: p.name, Email: p.name + "@example.com", Firstname: p.name, Lastname: "Example",
			Status: p.status, State: 1})
		ids = append(ids, u.ID)
	}
	srv.AssignApp(777, ids...)
	srv.AddRole(onelogintest.Role{Name: "Engineering", Apps: []int64{777}, Users: ids[:2]})
	id, secret := srv.Credentials()
	t.Setenv("ONELOGIN_CLIENT_SECRET", secret)
	path := filepath.Join(t.TempDir(), "directory.yaml")
	var out strings.Builder
	err := run(context.Background(), []string{"-source", "onelogin", "-onelogin-url", srv.URL(), "-onelogin-client-id", id,
		"-onelogin-app-id", "777", "-out", path}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := "onelogin:777: 3 users (1 active, 2 suspended, 0 deleted), 1 groups, 2 memberships\nwritten to " + path + "\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	// The file reads back as the same directory.
	dir, err := file.New(path).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := userNames(dir); !slices.Equal(got, []string{"ada@example.com", "alan@example.com", "grace@example.com"}) {
		t.Errorf("users in the file: %v", got)
	}
	if strings.Contains(readAll(t, path), secret) {
		t.Error("the secret is in the file")
	}
}

func TestGoogle(t *testing.T) {
	srv := directorytest.New(t)
	for _, name := range []string{"ann", "bob"} {
		srv.AddUser(admin.User{PrimaryEmail: name + "@" + directorytest.Domain, Name: &admin.UserName{GivenName: name, FamilyName: "Example"}})
	}
	key := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(key, srv.ServiceAccountKey(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := run(context.Background(), []string{"-source", "google", "-key-file", key, "-admin", srv.Subject(), "-google-endpoint", srv.Endpoint()}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if want := ": 2 users (2 active, 0 suspended, 0 deleted), 0 groups, 0 memberships\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("output %q, want it to end with %q", out.String(), want)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, `-source "": want entra, google or onelogin`},
		{[]string{"-source", "okta"}, `-source "okta"`},
		{[]string{"-source", "onelogin", "-onelogin-url", "http://onelogin.example.com", "-onelogin-app-id", strconv.Itoa(1)}, "onelogin"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q: %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}

func userNames(d *source.Directory) []string {
	var out []string
	for _, u := range d.Users {
		out = append(out, u.UserName)
	}
	slices.Sort(out)
	return out
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
