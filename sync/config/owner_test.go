package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestOwnerKeys: owner names the engine, which then marks the objects it
// creates with it; ownerMarker: false keeps externalId as mapped.
func TestOwnerKeys(t *testing.T) {
	for _, tt := range []struct {
		yaml, want string
	}{
		{"owner: \"hr:emea\"\nmarkerBatch: 10\n", "provsync:hr%3Aemea:u1"},
		{"owner: hr\nownerMarker: false\n", "u1"},
		{"ownerMarker: true\n", "provsync:memory:u1"},
		{"", "u1"},
	} {
		t.Run(tt.yaml, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			srv := netskopetest.New(t)
			client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			src := file.FromDirectory(&source.Directory{Users: []source.User{{ID: "u1", UserName: "ann@example.com", State: source.StateActive}}})
			eng, err := sync.New(src, client, cfg.Options()...)
			if err != nil {
				t.Fatal(err)
			}
			if _, res, err := eng.Sync(context.Background()); err != nil || res.Failed > 0 {
				t.Fatalf("sync: %v", err)
			}
			us := srv.Users()
			if len(us) != 1 || us[0].ExternalID != tt.want {
				t.Errorf("users %+v, want one with externalId %q", us, tt.want)
			}
		})
	}
}

// TestOwnerKeysRefused: a control character in owner, or a negative
// markerBatch, is an error located at the key.
func TestOwnerKeysRefused(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"owner: \"a\\tb\"\n", "f.yaml:1:8: owner: "},
		{"markerBatch: -1\n", "f.yaml:1:14: markerBatch: "},
	} {
		t.Run(strings.TrimSpace(tt.yaml), func(t *testing.T) { refused(t, tt.yaml, tt.want) })
	}
}
