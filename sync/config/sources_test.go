package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/sync/config"
)

const sourcesYAML = `sources:
  - name: employees
    entra:
      tenantId: t
      clientId: c
      clientSecret: {env: TEST_ENTRA_SECRET}
      appId: a
  - name: contractors
    google: {adminEmail: admin@example.com, customer: my_customer}
  - name: lab
    file: {path: lab.yaml}
merge:
  groups: namespace
  groupFormat: "{source}: {name}"
  match: [email, employeeId]
  retired: [interns]
target:
  url: https://acme.goskope.com/api/v2/scim
  token: {env: TEST_TOKEN}
state: state.json
`

func TestSourcesParse(t *testing.T) {
	cfg, err := config.Parse([]byte(sourcesYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireService(); err != nil {
		t.Fatalf("RequireService: %v", err)
	}
	s := cfg.Service
	if len(s.Sources) != 3 || s.Sources[0].Name != "employees" || s.Sources[0].Kind() != "entra" ||
		s.Sources[1].Kind() != "google" || s.Sources[2].File.Path != "lab.yaml" || s.Source.Kind() != "" {
		t.Fatalf("sources read as %+v", s.Sources)
	}
	if s.Merge.Groups != "namespace" || s.Merge.GroupFormat != "{source}: {name}" || strings.Join(s.Merge.Match, ",") != "email,employeeId" ||
		strings.Join(s.Merge.Retired, ",") != "interns" {
		t.Errorf("merge read as %+v", s.Merge)
	}
	t.Setenv("TEST_ENTRA_SECRET", "")
	if _, err := s.Sources[0].Entra.ClientSecret.Resolve(); err == nil || !strings.HasPrefix(err.Error(), "6:21: sources[0].entra.clientSecret: ") {
		t.Errorf("an unset secret of a merged source: %v", err)
	}
}

// The merge options the file sets reach the merged source: here,
// namespaced groups with the file's format.
func TestMergeOptions(t *testing.T) {
	cfg, err := config.Parse([]byte("sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  groups: namespace\n  groupFormat: \"[{source}] {name}\"\n  match: [employeeId]\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := &source.Directory{Users: []source.User{{ID: "1", UserName: "ada@example.com", State: source.StateActive,
		Attributes: source.NewAttrs(map[string]any{"employeeId": "E1"})}}, Groups: []source.Group{{ID: "g", DisplayName: "Eng", Members: []string{"1"}}}}
	b := &source.Directory{Users: []source.User{{ID: "9", UserName: "ada@elsewhere.example", State: source.StateActive,
		Attributes: source.NewAttrs(map[string]any{"employeeId": "e1"})}}}
	m, err := merge.New([]merge.Member{{Name: "a", Source: file.FromDirectory(a)}, {Name: "b", Source: file.FromDirectory(b)}},
		cfg.Service.Merge.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != 1 || d.Users[0].ID != "a/1" || len(d.Groups) != 1 || d.Groups[0].DisplayName != "[a] Eng" {
		t.Errorf("merged with the file's options: %+v", d)
	}
}

func TestSourcesErrorsLocated(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"source and sources", "source:\n  file: {path: d.yaml}\nsources:\n  - name: a\n    file: {path: a.yaml}\n", "f.yaml:4:3: sources: config: invalid: give source or sources, not both"},
		{"bad name", "sources:\n  - name: a/b\n    file: {path: a.yaml}\n", "f.yaml:2:11: sources[0].name: "},
		{"no name", "sources:\n  - file: {path: a.yaml}\n", "f.yaml:2:5: sources[0].name: "},
		{"duplicate name", "sources:\n  - name: a\n    file: {path: a.yaml}\n  - name: A\n    file: {path: b.yaml}\n", "f.yaml:4:11: sources[1].name: config: invalid: \"A\": sources[0] has that name too"},
		{"no provider", "sources:\n  - name: a\n", "f.yaml:2:5: sources[0]: config: invalid: missing"},
		{"two providers", "sources:\n  - name: a\n    file: {path: a.yaml}\n    onelogin: {url: https://a.onelogin.com}\n", "f.yaml:2:5: sources[0]: config: invalid: choose one"},
		{"empty file path", "sources:\n  - name: a\n    file: {path: \"\"}\n", "f.yaml:3:18: sources[0].file.path: config: invalid: empty"},
		{"literal secret", "sources:\n  - name: a\n    entra: {clientSecret: hunter2-value}\n", "f.yaml:3:27: sources[0].entra.clientSecret: "},
		{"merge without sources", "merge:\n  groups: merge\n", "f.yaml:2:3: merge: config: invalid: merge settings need sources"},
		{"group mode", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  groups: union\n", "f.yaml:5:11: merge.groups: config: invalid: group mode \"union\""},
		{"group format", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  groups: namespace\n  groupFormat: \"{name}\"\n", "f.yaml:6:16: merge.groupFormat: "},
		{"group format unused", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  groupFormat: \"{source} {name}\"\n", "f.yaml:5:16: merge.groupFormat: config: invalid: a group format needs groups: namespace"},
		{"empty match", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  match: [email, \"\"]\n", "f.yaml:5:18: merge.match[1]: config: invalid: empty"},
		{"retired and read", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  retired: [b, A]\n", "f.yaml:5:16: merge.retired[1]: config: invalid: \"A\" is sources[0]"},
		{"retired twice", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  retired: [b, b]\n", "f.yaml:5:16: merge.retired[1]: config: invalid: \"b\" is listed twice"},
		{"retired bad name", "sources:\n  - name: a\n    file: {path: a.yaml}\nmerge:\n  retired: [\"b c\"]\n", "f.yaml:5:13: merge.retired[0]: config: invalid: source name"},
		{"unknown key", "sources:\n  - name: a\n    ldap: {url: x}\n", "f.yaml:3:5: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refused(t, tt.yaml, tt.want) })
	}
}
