package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
)

const serviceYAML = `source:
  onelogin:
    url: https://acme.onelogin.com
    clientId: abc
    clientSecret: {env: TEST_OL_SECRET}
    appId: 42
target:
  url: https://acme.goskope.com/api/v2/scim
  token: {file: TOKENFILE}
state: /var/lib/provsync/state.json
log: /var/lib/provsync/prov.jsonl
schedule: {interval: 30m, jitter: 2m, heldPlans: apply-rest, driftCheck: 6h}
webhook: {url: https://hooks.example.com/x, secret: {env: TEST_HOOK_SECRET}}
listener:
  address: 0.0.0.0:8443
  token: {env: TEST_API_TOKEN}
  tlsCert: cert.pem
  tlsKey: key.pem
approval: [delete]
`

func TestServiceParses(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_OL_SECRET", "ol-secret")
	cfg, err := config.Parse([]byte(strings.Replace(serviceYAML, "TOKENFILE", tokenFile, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireService(); err != nil {
		t.Fatalf("RequireService: %v", err)
	}
	s := cfg.Service
	if s.Source.Kind() != "onelogin" || s.Source.OneLogin.AppID != 42 || s.Target.URL != "https://acme.goskope.com/api/v2/scim" ||
		time.Duration(s.Schedule.Interval) != 30*time.Minute || time.Duration(s.Schedule.Jitter) != 2*time.Minute ||
		s.Schedule.HeldPlans != sync.HeldApplyRest || time.Duration(s.Schedule.DriftCheck) != 6*time.Hour || len(cfg.Options()) != 3 || s.Listener.ListenAddress() != "0.0.0.0:8443" || s.Log == "" {
		t.Errorf("service read as %+v", s)
	}
	if v, err := s.Target.Token.Resolve(); err != nil || v != "file-token" {
		t.Errorf("target token from file = %q, %v; want file-token without the newline", v, err)
	}
	if v, err := s.Source.OneLogin.ClientSecret.Resolve(); err != nil || v != "ol-secret" {
		t.Errorf("client secret from env = %q, %v", v, err)
	}
	// An unset variable is an error located at the key, naming the variable.
	t.Setenv("TEST_HOOK_SECRET", "")
	_, err = s.Webhook.Secret.Resolve()
	if err == nil || !strings.HasPrefix(err.Error(), "13:53: webhook.secret: ") || !strings.Contains(err.Error(), "TEST_HOOK_SECRET is not set") {
		t.Errorf("unset variable: %v", err)
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("unset variable does not wrap ErrInvalid: %v", err)
	}
}

// TestLogRetentionParses: logRetention with a PostgreSQL state reads
// days and a row bound; left out, both are 0 (the defaults).
func TestLogRetentionParses(t *testing.T) {
	tests := []struct {
		yaml string
		want config.LogRetention
	}{
		{"state: {postgres: {env: DB}}\nlogRetention: {maxAge: 30d, maxRows: 5000}\n",
			config.LogRetention{MaxAge: sync.Duration(30 * 24 * time.Hour), MaxRows: 5000}},
		{"state: {postgres: {env: DB}}\nlogRetention: {maxAge: 36h}\n", config.LogRetention{MaxAge: sync.Duration(36 * time.Hour)}},
		{"state: {postgres: {env: DB}}\n", config.LogRetention{}},
	}
	for _, tt := range tests {
		cfg, err := config.Parse([]byte(tt.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tt.yaml, err)
		}
		if got := cfg.Service.LogRetention; got != tt.want {
			t.Errorf("%s: read %+v, want %+v", tt.yaml, got, tt.want)
		}
	}
}

// Every service error carries the file, line and column, and the key.
func TestServiceErrorsLocated(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"literal token", "target:\n  url: https://x.example/scim\n  token: hunter2-value\n", "f.yaml:3:10: target.token: "},
		{"literal client secret", "source:\n  entra:\n    clientSecret: \"hunter2-value\"\n", "f.yaml:3:19: source.entra.clientSecret: "},
		{"secret key unknown", "listener:\n  token: {value: hunter2-value}\n", "f.yaml:2:10: listener.token: "},
		{"env and file", "webhook:\n  url: https://h.example\n  secret: {env: A, file: /b}\n", "f.yaml:3:11: webhook.secret: "},
		{"two sources", "source:\n  file: {path: d.yaml}\n  onelogin: {url: https://a.onelogin.com}\n", "f.yaml:2:3: source: "},
		{"empty file path", "source:\n  file: {path: \"\"}\n", "f.yaml:2:16: source.file.path: "},
		{"bad interval", "schedule:\n  interval: 10 minutes\n", "f.yaml:2:13: schedule.interval: "},
		{"negative jitter", "schedule:\n  jitter: -5m\n", "f.yaml:2:11: schedule.jitter: "},
		{"negative drift check", "schedule:\n  driftCheck: -1h\n", "f.yaml:2:15: schedule.driftCheck: "},
		{"held plans", "schedule:\n  heldPlans: sometimes\n", "f.yaml:2:14: schedule.heldPlans: "},
		{"negative log age", "state: {postgres: {env: DB}}\nlogRetention:\n  maxAge: -1d\n", "f.yaml:3:11: logRetention.maxAge: "},
		{"negative log rows", "state: {postgres: {env: DB}}\nlogRetention:\n  maxRows: -5\n", "f.yaml:3:12: logRetention.maxRows: "},
		{"log retention of a file log", "log: prov.jsonl\nlogRetention:\n  maxAge: 30d\n", "f.yaml:3:3: logRetention: "},
		{"not loopback", "listener:\n  address: 0.0.0.0:8080\n", "f.yaml:2:12: listener.address: "},
		{"not loopback, TLS but no token", "listener:\n  address: 10.0.0.5:8443\n  tlsCert: c.pem\n  tlsKey: k.pem\n", "f.yaml:2:12: listener.address: "},
		{"cert without key", "listener:\n  tlsCert: c.pem\n", "f.yaml:2:3: listener: "},
		{"bad address", "listener:\n  address: localhost\n", "f.yaml:2:12: listener.address: "},
		{"target url", "target:\n  url: ftp://x\n", "f.yaml:2:8: target.url: "},
		{"unknown key", "target:\n  url: https://x\n  password: p\n", "f.yaml:3:3: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refused(t, tt.yaml, tt.want) })
	}
}

// refused loads body from f.yaml and checks that the error starts with
// want (the file named without its directory), wraps ErrInvalid and
// never shows the secret "hunter2-value".
func refused(t *testing.T, body, want string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil {
		t.Fatal("Load accepted it")
	}
	msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
	if !strings.HasPrefix(msg, want) {
		t.Errorf("error %q; want it to start %q", msg, want)
	}
	if strings.Contains(msg, "hunter2-value") {
		t.Errorf("the error shows the secret: %q", msg)
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
}

func TestRequireService(t *testing.T) {
	cfg, err := config.Parse([]byte("policy:\n  adopt: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.RequireService()
	for _, want := range []string{"source: ", "target.url: ", "target.token: ", "state: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RequireService = %v; want it to name %q", err, want)
		}
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, "127.1.2.3:9": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false, "127.0.0.1": false,
	} {
		if got := config.Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
