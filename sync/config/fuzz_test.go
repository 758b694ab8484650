package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/provsync/provsync/sync/config"
)

// FuzzParse: any input parses or fails with ErrInvalid; nothing panics.
//
//	go test ./sync/config -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../examples/config/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("mapping:\n  users:\n    - {target: userName, type: expression, expression: 'Join(\"\"'}\n"))
	f.Add([]byte("policy:\n  deletedDeleteAfter: 3d\napproval: [create]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		if err != nil {
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if cfg.Mapper() == nil {
			t.Fatal("a parsed configuration has no mapper")
		}
	})
}
