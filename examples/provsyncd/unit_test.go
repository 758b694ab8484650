package main

import (
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/sync"
)

// TestReadmeSystemdUnit keeps the README's systemd unit hardened and in
// step with the program: the directives the README's text relies on,
// a stop timeout longer than the shutdown grace, and an ExecStart
// the program's flags accept.
func TestReadmeSystemdUnit(t *testing.T) {
	sec := readmeSection(t)
	_, block, ok := strings.Cut(sec, "```ini\n")
	if !ok {
		t.Fatal("the section has no ini block (the systemd unit)")
	}
	block, _, _ = strings.Cut(block, "```")
	unit := map[string]string{}
	for i, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %d %q is not key=value", i+1, line)
		}
		if _, dup := unit[k]; dup {
			t.Errorf("unit sets %s twice", k)
		}
		unit[k] = v
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "provsync", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"Restart": "on-failure", "TimeoutStopSec": "15", "EnvironmentFile": "/etc/provsync/provsyncd.env",
		"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
	} {
		if got, ok := unit[k]; !ok || got != want {
			t.Errorf("unit %s = %q (set %v), want %q", k, got, ok, want)
		}
	}
	if stop, err := time.ParseDuration(unit["TimeoutStopSec"] + "s"); err != nil || stop <= sync.DefaultShutdownGrace {
		t.Errorf("TimeoutStopSec %s leaves no time after the %s grace to save", unit["TimeoutStopSec"], sync.DefaultShutdownGrace)
	}
	// The state and log the README's configuration names live in the
	// StateDirectory, the one place the unit may write.
	if !strings.Contains(sec, "state: /var/lib/"+unit["StateDirectory"]+"/") {
		t.Errorf("the README's configuration keeps its state outside /var/lib/%s", unit["StateDirectory"])
	}
	args := strings.Fields(unit["ExecStart"])
	if len(args) < 3 || !strings.HasSuffix(args[0], "/provsyncd") {
		t.Fatalf("ExecStart %q", unit["ExecStart"])
	}
	// The flags parse; the file is absent here, so the error names it.
	err := run(t.Context(), append(args[1:], "-check-config"), new(strings.Builder))
	if err == nil || !strings.Contains(err.Error(), "/etc/provsync/provsync.yaml") || strings.Contains(err.Error(), "flag provided but not defined") {
		t.Errorf("ExecStart's arguments: %v", err)
	}
}
