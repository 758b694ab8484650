package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provsync/provsync/sync/config"
)

// The state is a file (a path, or {file: PATH}) or PostgreSQL, whose
// connection string is a secret like the others.
func TestStateKinds(t *testing.T) {
	t.Setenv("TEST_PG_DSN", "postgres://provsync:hunter2-pg@db.example.com/provsync")
	tests := []struct {
		name, yaml, kind, file, described string
	}{
		{"path", "state: /var/lib/provsync/state.json\n", "file", "/var/lib/provsync/state.json", "/var/lib/provsync/state.json"},
		{"file key", "state: {file: state.json}\n", "file", "state.json", "state.json"},
		{"postgres from env", "state: {postgres: {env: TEST_PG_DSN}}\n", "postgres", "", "postgres (connection string from $TEST_PG_DSN)"},
		{"postgres from file", "state:\n  postgres: {file: /etc/provsync/pg}\n", "postgres", "", "postgres (connection string from /etc/provsync/pg)"},
		{"none", "log: x.jsonl\n", "", "", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			st := cfg.Service.State
			if st.Kind() != tt.kind || st.File != tt.file || st.String() != tt.described {
				t.Errorf("state read as kind %q, file %q, %q", st.Kind(), st.File, st.String())
			}
		})
	}
	cfg, err := config.Parse([]byte("state: {postgres: {env: TEST_PG_DSN}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cfg.Service.State.Postgres.Resolve(); err != nil || !strings.Contains(v, "hunter2-pg") {
		t.Errorf("the connection string from the environment: %v", err)
	}
}

// A connection string is never written in the file, whichever way; the
// errors are located and never repeat it.
func TestStateErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"URL as the path", "state: postgres://provsync:hunter2-pg@db/provsync\n", "f.yaml:1:8: state: "},
		{"postgresql URL", "state: \"postgresql://db/provsync?password=hunter2-pg\"\n", "f.yaml:1:8: state: "},
		{"key=value as the path", "state: host=db password=hunter2-pg\n", "f.yaml:1:8: state: "},
		{"literal postgres", "state:\n  postgres: postgres://provsync:hunter2-pg@db/provsync\n", "f.yaml:2:13: state.postgres: "},
		{"both", "state: {file: s.json, postgres: {env: X}}\n", "f.yaml:1:8: state: config: invalid: give file or postgres, not both"},
		{"unknown key", "state: {sqlite: hunter2-pg}\n", "f.yaml:1:8: state: "},
		{"postgres with a bad key", "state: {postgres: {dsn: hunter2-pg}}\n", "state.postgres: "},
		{"a list", "state: [hunter2-pg]\n", "f.yaml:1:"},
		{"target name with a newline", "target: {name: \"acme\\nx\"}\n", "f.yaml:1:16: target.name: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseNamed(t, tt.yaml)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %q; want one containing %q, wrapping ErrInvalid", redacted(err), tt.want)
			}
			if strings.Contains(err.Error(), "hunter2-pg") {
				t.Errorf("the error repeats the secret: %s", redacted(err))
			}
		})
	}
}

// parseNamed parses yaml as the file f.yaml.
func parseNamed(t *testing.T, yaml string) (*config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(path)
}

func redacted(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), "hunter2-pg", "SECRET")
}

// A service with a PostgreSQL state is whole; target.name names the
// engine's target.
func TestServiceWithPostgresState(t *testing.T) {
	cfg, err := config.Parse([]byte(`source: {file: {path: d.yaml}}
target: {url: https://acme.goskope.com/api/v2/scim, token: {env: X}, name: acme}
state: {postgres: {env: TEST_PG_DSN}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireService(); err != nil {
		t.Errorf("RequireService: %v", err)
	}
	if cfg.Service.Target.Name != "acme" {
		t.Errorf("target name %q", cfg.Service.Target.Name)
	}
	without, err := config.Parse([]byte("target: {url: https://acme.goskope.com/api/v2/scim}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cfg.Options()), len(without.Options())+1; got != want {
		t.Errorf("%d engine options with target.name; want %d (sync.WithTargetName added)", got, want)
	}
	cfg, err = config.Parse([]byte("state: {file: \"\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireService(); err == nil || !strings.Contains(err.Error(), "state: ") {
		t.Errorf("an empty state file: %v", err)
	}
}
