package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// provsyncd with two sources in its configuration, merged: Ada, in both,
// lands once as the employees' user; the Engineering groups of both
// merge into one with every member, as the file asks.
func TestMergedSources(t *testing.T) {
	ns := netskopetest.New(t)
	dir := t.TempDir()
	write := writer(t, dir)
	emp := write("employees.yaml", `users:
  - {id: e1, userName: ada@example.com, email: ada@example.com, givenName: Ada, familyName: L, displayName: Ada L}
  - {id: e2, userName: bob@example.com, email: bob@example.com, givenName: Bob, familyName: B, displayName: Bob B}
groups:
  - {id: g1, displayName: Engineering, members: [e1, e2]}
`)
	con := write("contractors.yaml", `users:
  - {id: c1, userName: ADA@example.com, email: ada@example.com, givenName: Adelaide, familyName: X, displayName: Adelaide X}
  - {id: c2, userName: cy@example.com, email: cy@example.com, givenName: Cy, familyName: C, displayName: Cy C}
groups:
  - {id: h1, displayName: engineering, members: [c1, c2]}
`)
	cfg := write("provsync.yaml", fmt.Sprintf(`sources:
  - name: employees
    file: {path: %s}
  - name: contractors
    file: {path: %s}
merge:
  groups: merge
target:
  url: %s
  token: {env: TEST_PROVSYNCD_MERGE_TOKEN}
state: %s
`, emp, con, ns.URL(), filepath.Join(dir, "state.json")))
	t.Setenv("TEST_PROVSYNCD_MERGE_TOKEN", ns.Token())

	var out strings.Builder
	if err := run(context.Background(), []string{"-config", cfg, "-check-config"}, &out); err != nil ||
		!strings.Contains(out.String(), "source merge(employees=file, contractors=file)") {
		t.Fatalf("-check-config: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"-config", cfg, "-once"}, &out); err != nil {
		t.Fatalf("-once: %v\n%s", err, out.String())
	}
	var users []string
	names := map[string]string{}
	for _, u := range ns.Users() {
		users = append(users, u.UserName+"="+u.ExternalID+":"+u.Name.GivenName)
		names[u.ID] = u.UserName
	}
	sort.Strings(users)
	if got, want := strings.Join(users, " "), "ada@example.com=employees/e1:Ada bob@example.com=employees/e2:Bob cy@example.com=contractors/c2:Cy"; got != want {
		t.Errorf("users\n got %s\nwant %s", got, want)
	}
	groups := ns.Groups()
	if len(groups) != 1 || groups[0].DisplayName != "Engineering" || groups[0].ExternalID != "employees/g1" || len(groups[0].Members) != 3 {
		t.Errorf("groups %+v, want one Engineering of the employees with the three people", groups)
	}
}

// The README's merged configuration parses, with its two sources in
// order and the default group mode.
func TestReadmeMergedConfig(t *testing.T) {
	cfg := readmeConfig(t, "Several sources, one tenant")
	s := cfg.Service
	if len(s.Sources) != 2 || s.Sources[0].Name != "employees" || s.Sources[0].Kind() != "entra" ||
		s.Sources[1].Name != "contractors" || s.Sources[1].Kind() != "google" || s.Merge.Groups != "separate" {
		t.Errorf("the README's configuration read as %+v", s)
	}
}

// examples/provsyncd/merged.yaml parses as a whole service of two sources.
func TestMergedExampleConfig(t *testing.T) {
	cfg, err := config.Load("merged.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireService(); err != nil {
		t.Fatal(err)
	}
	if got := sourceKinds(cfg.Service); got != "merge(employees=entra, contractors=google)" {
		t.Errorf("sources %s", got)
	}
}
