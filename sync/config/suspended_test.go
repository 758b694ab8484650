package config_test

import (
	"testing"

	"github.com/provsync/provsync/sync/config"
)

func TestCreateSuspendedKey(t *testing.T) {
	for _, tt := range []struct {
		yaml    string
		want    bool
		wantErr bool
	}{
		{"policy: {}\n", false, false},
		{"policy:\n  createSuspended: true\n", true, false},
		{"policy:\n  createSuspended: false\n", false, false},
		{"policy:\n  createSuspended: true\n  suspended: delete\n", false, true},
		{"policy:\n  createSuspended: maybe\n", false, true},
	} {
		cfg, err := config.Parse([]byte(tt.yaml))
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v, want error %v", tt.yaml, err, tt.wantErr)
			continue
		}
		if err == nil && cfg.Policy.CreateSuspended != tt.want {
			t.Errorf("%q: createSuspended = %v, want %v", tt.yaml, cfg.Policy.CreateSuspended, tt.want)
		}
	}
}
