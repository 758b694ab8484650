package sync_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
)

// failing is a source whose reads fail with err.
type failing struct {
	name string
	err  error
}

func (f failing) Name() string                                    { return f.name }
func (f failing) Read(context.Context) (*source.Directory, error) { return nil, f.err }

// badMapper fails every mapping with err.
type badMapper struct{ err error }

func (m badMapper) Map(context.Context, *source.Directory) (*mapping.Desired, error) {
	return nil, m.err
}

// Each layer adds its context once: the engine names the source only when
// the source's error does not, and a mapping error says "mapping" once.
func TestErrorsAddContextOnce(t *testing.T) {
	dup := &source.Directory{Users: []source.User{{ID: "1", UserName: "a@x.io"}, {ID: "1", UserName: "b@x.io"}}}
	missing := filepath.Join(t.TempDir(), "directory.yaml")
	tests := []struct {
		name   string
		src    source.Source
		mapper mapping.Mapper
		want   []string // substrings, each once
	}{
		{"invalid in-memory directory", file.FromDirectory(dup), nil, []string{"sync: source read failed: memory: ", "duplicate"}},
		{"missing file", file.New(missing), nil, []string{"sync: source read failed: file: open " + missing}},
		{"named source", file.New(missing, file.WithName("hr")), nil, []string{"sync: source read failed: hr: file: open "}},
		{"adapter naming itself", failing{"entra", errors.New("entra: reading the assignments: graph: 500")}, nil,
			[]string{"sync: source read failed: entra: reading the assignments"}},
		{"adapter naming itself after a sentinel", failing{"google:example.com", errors.New("source: unavailable: google: listing users: 503")}, nil,
			[]string{"sync: source read failed: source: unavailable: google: listing users"}},
		{"source not naming itself", failing{"custom", errors.New("connection refused")}, nil,
			[]string{"sync: source read failed: custom: connection refused"}},
		{"mapping error", file.FromDirectory(&source.Directory{}), badMapper{errors.New("mapping: bad attribute mapping: title")}, []string{"sync: mapping: bad attribute mapping"}},
		{"custom mapper error", file.FromDirectory(&source.Directory{}), badMapper{errors.New("no such column")}, []string{"sync: mapping: no such column"}},
	}
	e := newEnv(t, 1, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []sync.Option{}
			if tt.mapper != nil {
				opts = append(opts, sync.WithMapper(tt.mapper))
			}
			eng, err := sync.New(tt.src, e.client, opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = eng.Plan(ctx(t))
			if err == nil {
				t.Fatal("Plan succeeded")
			}
			msg := err.Error()
			if w := sourcetest.RepeatedContext(msg); w != "" {
				t.Errorf("%q repeats %q", msg, w)
			}
			for _, w := range tt.want {
				if strings.Count(msg, w) != 1 {
					t.Errorf("%q does not say %q once", msg, w)
				}
			}
		})
	}
}
