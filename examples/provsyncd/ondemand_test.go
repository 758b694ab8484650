package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
)

// TestProvisionOnDemand: POST /api/provision creates the one user it
// names (by userName or id) before any cycle ran, and nobody else; a
// second call changes nothing; an unknown user is 404, a bad body 400, a
// call without the token 401. Every call is in the audit log with the
// caller's address, and the token is in no log line.
func TestProvisionOnDemand(t *testing.T) {
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The Runner is not started: the target holds only what on demand wrote.
	a, err := build(ctx, cfg, options{demo: true}, zap.NewNop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	core, audit := observer.New(zapcore.InfoLevel)
	srv := newServer(a.runner, a.eng, a.history, a.plog, a.metrics, a.token, false, zap.NewNop())
	srv.provision, srv.audit = a.provision, zap.New(core)
	hs := httptest.NewServer(srv.handler())
	t.Cleanup(hs.Close)
	c := client{t, hs.URL}
	post := func(h http.Header, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", hs.URL+"/api/provision", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	targetUsers := func() []string {
		t.Helper()
		users, err := a.tgt.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range users {
			names = append(names, u.UserName)
		}
		return names
	}

	tests := []struct {
		name     string
		header   http.Header
		body     string
		want     int
		creates  int    // users the answer's result created
		contains string // in the answer
	}{
		{"no token", http.Header{}, `{"user": "ada.lovelace@example.com"}`, 401, 0, "bearer token"},
		{"wrong token", bearer("x" + a.token), `{"user": "ada.lovelace@example.com"}`, 401, 0, "wrong bearer token"},
		{"no body", bearer(a.token), ``, 400, 0, `{\"user\"`},
		{"empty user", bearer(a.token), `{"user": " "}`, 400, 0, "userName"},
		{"unknown field", bearer(a.token), `{"userName": "ada.lovelace@example.com"}`, 400, 0, "unknown field"},
		{"unknown user", bearer(a.token), `{"user": "nobody@example.com"}`, 404, 0, `user \"nobody@example.com\" is not in the source`},
		{"by userName, other case", bearer(a.token), `{"user": "Ada.Lovelace@example.com"}`, 200, 1, `"Ada.Lovelace@example.com"`},
		{"again: nothing to do", bearer(a.token), `{"user": "ada.lovelace@example.com"}`, 200, 0, `"plan"`},
		{"by id", bearer(a.token), `{"user": "u-alan"}`, 200, 1, "alan.turing@example.com"},
	}
	for _, tt := range tests {
		code, body := post(tt.header, tt.body)
		if code != tt.want || !strings.Contains(body, tt.contains) {
			t.Fatalf("%s: %d %s; want %d containing %s", tt.name, code, body, tt.want, tt.contains)
		}
		if code != 200 {
			continue
		}
		var res provisionResult
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		created := 0
		if res.Result != nil {
			created = res.Result.Applied
		}
		if res.Plan.Summary.CreateUsers != tt.creates || created != tt.creates ||
			res.Plan.Summary.DeactivateUsers+res.Plan.Summary.DeleteUsers != 0 {
			t.Fatalf("%s: planned %+v, applied %d; want %d user created and nothing deprovisioned", tt.name, res.Plan.Summary, created, tt.creates)
		}
	}
	if got := targetUsers(); strings.Join(got, ",") != "ada.lovelace@example.com,alan.turing@example.com" &&
		strings.Join(got, ",") != "alan.turing@example.com,ada.lovelace@example.com" {
		t.Fatalf("target users %v; want only the two provisioned on demand", got)
	}
	// The Runner's first cycle creates the other two users, and not these
	// two again: on demand saved their links in the state.
	rctx, cancel := context.WithCancel(ctx)
	first := make(chan sync.CycleReport, 1)
	a.history.onCycle(func(r sync.CycleReport) {
		select {
		case first <- r:
		default:
		}
		cancel()
	})
	if err := a.runner.Run(rctx); err != nil {
		t.Fatal(err)
	}
	if r := <-first; r.Outcome != sync.CycleSucceeded || r.Planned.CreateUsers != 2 || len(targetUsers()) != 4 {
		t.Fatalf("first cycle %+v, target users %v; want the 2 others created", r, targetUsers())
	}
	c.status("GET", "/healthz", nil, 200)
	entries := audit.All()
	if len(entries) != len(tests) {
		t.Fatalf("audit log has %d entries, want one per call (%d)", len(entries), len(tests))
	}
	for i, e := range entries {
		f := e.ContextMap()
		if e.Message != "api call" || f["call"] != "provision" || !strings.HasPrefix(f["remote"].(string), "127.0.0.1:") {
			t.Errorf("audit entry %d: %s %v", i, e.Message, f)
		}
		line, _ := json.Marshal(f)
		if strings.Contains(string(line), a.token) {
			t.Errorf("audit entry %d holds the token: %s", i, line)
		}
	}
	if f := entries[len(entries)-1].ContextMap(); f["user"] != "u-alan" || f["error"] != nil {
		t.Errorf("last audit entry %v; want user u-alan and no error", f)
	}
}

// plainSource hides every optional capability of its source.
type plainSource struct{ source.Source }

// TestUserSourceCapabilities: the one-user source of a source is a
// source.AttributeSelector exactly when the source is, and Merged exactly
// when it is; its selecting read is its Read with only the attributes
// named.
func TestUserSourceCapabilities(t *testing.T) {
	dir := &source.Directory{
		Users: []source.User{
			{ID: "u1", UserName: "ada@example.com", Attributes: source.NewAttrs(map[string]any{"department": "R&D", "Office": "Paris"})},
			{ID: "u2", UserName: "bob@example.com"},
		},
		Groups: []source.Group{{ID: "g1", DisplayName: "Eng", Members: []string{"u1", "u2"}, Attributes: source.NewAttrs(map[string]any{"type": "team"})}},
	}
	merged, err := merge.New([]merge.Member{{Name: "a", Source: file.FromDirectory(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name              string
		src               source.Source
		selecting, merged bool
	}{
		{"file", file.FromDirectory(dir), true, false},
		{"plain", plainSource{file.FromDirectory(dir)}, false, false},
		{"merged", merged, true, true},
	} {
		one := userSource(tt.src, "ADA@example.com")
		sel, selecting := one.(source.AttributeSelector)
		_, isMerged := one.(source.Merged)
		if selecting != tt.selecting || isMerged != tt.merged {
			t.Errorf("%s: AttributeSelector %v, Merged %v; want %v, %v", tt.name, selecting, isMerged, tt.selecting, tt.merged)
		}
		if !selecting {
			continue
		}
		whole, err := one.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got, err := sel.ReadAttributes(context.Background(), []string{"OFFICE"})
		if err != nil {
			t.Fatal(err)
		}
		want := whole.Clone()
		source.NewAttrFilter([]string{"office"}).Select(want)
		if len(got.Users) != 1 || got.Users[0].Attributes.Len() != 1 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ReadAttributes = %+v; want %+v", tt.name, got, want)
		}
	}
}
