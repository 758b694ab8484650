package sync_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
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

// A failed change is named once, as the plan names it; the target's own
// operation and object ("create user userName=...") are not repeated.
func TestChangeErrorsNameTheChangeOnce(t *testing.T) {
	e := newEnv(t, 2, 1)
	client, err := netskope.New(e.srv.URL(), e.srv.Token(), netskope.WithRateLimit(0, 0),
		netskope.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sync.New(e.src, client)
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetFaults(netskopetest.Faults{Rate500: 1})
	res, err := eng.Apply(ctx(t), p)
	if err != nil || res.Failed == 0 {
		t.Fatalf("Apply against a failing server: %v, %+v", err, res)
	}
	for _, line := range strings.Split(res.Err().Error(), "\n") {
		named := strings.HasPrefix(line, `create-user user "`) || strings.HasPrefix(line, `create-group group "`)
		if strings.Contains(line, "create user") || strings.Contains(line, "create group") || strings.Contains(line, "Name=") ||
			!named || !strings.Contains(line, ": 500 Internal Server Error") {
			t.Errorf("change error %q: want the change named once, then the status", line)
		}
		if w := sourcetest.RepeatedContext(line); w != "" {
			t.Errorf("%q repeats %q", line, w)
		}
	}
	var te *target.Error
	if !errors.As(res.Err(), &te) || te.Status != 500 {
		t.Errorf("the target's error is not reachable: %v", res.Err())
	}
}
