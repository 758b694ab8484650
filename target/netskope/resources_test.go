package netskope

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

func TestCreate(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
	}{
		{"201 with body", http.StatusCreated, `{"id":"new-1","userName":"a@example.com","displayName":"G"}`, nil},
		{"200 with body", http.StatusOK, `{"id":"new-1","userName":"a@example.com","displayName":"G"}`, nil},
		{"201 without body", http.StatusCreated, ``, target.ErrProtocol},
		{"201 without id", http.StatusCreated, `{"userName":"a@example.com","displayName":"G"}`, target.ErrProtocol},
		{"201 with HTML", http.StatusCreated, `<html></html>`, target.ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeRaw(w, tt.status, "application/scim+json", tt.body)
			})
			c, _ := newTestClient(t, srv.URL)
			ctx := ctxT(t)
			in := &scim.User{
				ID: "ignored", UserName: "a@example.com", Active: scim.Bool(true),
				Enterprise: &scim.EnterpriseUser{Department: "R&D"},
				Groups:     []scim.GroupRef{{Value: "g0"}}, Meta: &scim.Meta{ResourceType: "User"},
			}
			u, uerr := c.CreateUser(ctx, in)
			g, gerr := c.CreateGroup(ctx, &scim.Group{ID: "ignored", DisplayName: "G",
				Members: scim.MemberValues([]string{"u1", "u2"})})
			for _, err := range []error{uerr, gerr} {
				if tt.wantErr == nil && err != nil {
					t.Fatalf("create: %v", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("create = %v, want %v", err, tt.wantErr)
				}
			}
			if tt.wantErr == nil && (u.ID != "new-1" || g.ID != "new-1") {
				t.Errorf("created ids %q, %q; want new-1", u.ID, g.ID)
			}
			if in.Schemas != nil || in.ID != "ignored" {
				t.Errorf("CreateUser changed its argument: %+v", in)
			}

			reqs := rec.all()
			if len(reqs) != 2 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/Users" ||
				reqs[1].Method != http.MethodPost || reqs[1].Path != "/Groups" {
				t.Fatalf("requests %+v, want POST /Users and POST /Groups", reqs)
			}
			var ub map[string]any
			if err := json.Unmarshal(reqs[0].Body, &ub); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ub["schemas"]); got != "["+scim.SchemaUser+" "+scim.SchemaEnterpriseUser+"]" {
				t.Errorf("user schemas = %s", got)
			}
			for _, k := range []string{"id", "meta", "groups"} {
				if _, ok := ub[k]; ok {
					t.Errorf("user body carries %q: %s", k, reqs[0].Body)
				}
			}
			if got := string(reqs[1].Body); !strings.Contains(got, `"schemas":["`+scim.SchemaGroup+`"]`) ||
				!strings.Contains(got, `"members":[{"value":"u1"},{"value":"u2"}]`) || strings.Contains(got, `"id"`) {
				t.Errorf("group body = %s", got)
			}
		})
	}
	c, _ := newTestClient(t, "https://acme.goskope.com/api/v2/scim")
	if _, err := c.CreateUser(ctxT(t), nil); !errors.Is(err, target.ErrInvalid) {
		t.Errorf("CreateUser(nil) = %v", err)
	}
	if _, err := c.CreateGroup(ctxT(t), nil); !errors.Is(err, target.ErrInvalid) {
		t.Errorf("CreateGroup(nil) = %v", err)
	}
}

// TestCreateDecodesOnlyIDAndMeta: a POST response is read for its id and
// meta only, so attributes a full decode would refuse (a string where a
// list or a bool belongs) or spend allocations on do not fail a create
// that landed, and the user returned is the one sent with the server's id
// and meta.
func TestCreateDecodesOnlyIDAndMeta(t *testing.T) {
	body := `{"schemas":["x"],"id":"new-7","userName":"a@example.com","active":"perhaps","emails":"not a list",` +
		`"members":7,"displayName":{"odd":true},"meta":{"resourceType":"User","location":"https://t.example/Users/new-7"},` +
		`"extra":[1,2,{"deep":null}]}`
	srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeRaw(w, http.StatusCreated, "application/scim+json", body)
	})
	c, _ := newTestClient(t, srv.URL)
	in := &scim.User{UserName: "a@example.com", Enterprise: &scim.EnterpriseUser{Department: "R&D"},
		Groups: []scim.GroupRef{{Value: "g0"}}}
	u, err := c.CreateUser(ctxT(t), in)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.ID != "new-7" || u.Meta == nil || u.Meta.Location != "https://t.example/Users/new-7" ||
		u.UserName != "a@example.com" || u.Enterprise == nil || u.Enterprise.Department != "R&D" || u.Groups != nil {
		t.Errorf("CreateUser returned %+v", u)
	}
	g, err := c.CreateGroup(ctxT(t), &scim.Group{DisplayName: "G", Members: scim.MemberValues([]string{"u1"})})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if g.ID != "new-7" || g.DisplayName != "G" || len(g.Members) != 1 || g.Meta == nil {
		t.Errorf("CreateGroup returned %+v", g)
	}
	if in.ID != "" || in.Meta != nil || in.Schemas != nil {
		t.Errorf("CreateUser changed its argument: %+v", in)
	}
}

func TestReplace(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		wantDN string
	}{
		{"200 with the stored resource", http.StatusOK, `{"id":"x1","userName":"a","displayName":"Stored"}`, "Stored"},
		{"204", http.StatusNoContent, ``, "Sent"},
		{"200 without body", http.StatusOK, ``, "Sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeRaw(w, tt.status, "application/scim+json", tt.body)
			})
			c, _ := newTestClient(t, srv.URL)
			ctx := ctxT(t)
			u, err := c.ReplaceUser(ctx, "x1", &scim.User{ID: "other", UserName: "a", DisplayName: "Sent"})
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != "x1" || u.DisplayName != tt.wantDN {
				t.Errorf("ReplaceUser = %+v", u)
			}
			g, err := c.ReplaceGroup(ctx, "x1", &scim.Group{DisplayName: "Sent"})
			if err != nil {
				t.Fatal(err)
			}
			if g.ID != "x1" || (tt.wantDN == "Sent" && g.DisplayName != "Sent") {
				t.Errorf("ReplaceGroup = %+v", g)
			}
			reqs := rec.all()
			if reqs[0].Method != http.MethodPut || reqs[0].Path != "/Users/x1" || reqs[1].Path != "/Groups/x1" {
				t.Errorf("requests %s %s, %s", reqs[0].Method, reqs[0].Path, reqs[1].Path)
			}
			if b := string(reqs[0].Body); !strings.Contains(b, scim.SchemaUser) || strings.Contains(b, `"id"`) {
				t.Errorf("PUT body = %s", b)
			}
		})
	}
}

func TestGetAndDelete(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusOK} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				if r.Method == http.MethodGet {
					writeJSON(w, http.StatusOK, scim.User{ID: "u1", UserName: "a", Active: scim.Bool(false)})
					return
				}
				writeRaw(w, status, "", "")
			})
			c, _ := newTestClient(t, srv.URL)
			ctx := ctxT(t)
			u, err := c.GetUser(ctx, "u1")
			if err != nil || u.ID != "u1" || u.IsActive() {
				t.Fatalf("GetUser = %+v, %v", u, err)
			}
			if err := c.DeleteUser(ctx, "u1"); err != nil {
				t.Errorf("DeleteUser with %d: %v", status, err)
			}
			if err := c.DeleteGroup(ctx, "g1"); err != nil {
				t.Errorf("DeleteGroup with %d: %v", status, err)
			}
			reqs := rec.all()
			if reqs[1].Method != http.MethodDelete || reqs[1].Path != "/Users/u1" || reqs[2].Path != "/Groups/g1" {
				t.Errorf("requests %+v", reqs[1:])
			}
		})
	}
}

func TestPatchSuccessStatuses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"204 No Content", http.StatusNoContent, ""},
		{"200 with the resource", http.StatusOK, `{"id":"u1","userName":"a"}`},
		{"200 with a body that is not JSON", http.StatusOK, "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeRaw(w, tt.status, "", tt.body)
			})
			c, _ := newTestClient(t, srv.URL)
			ctx := ctxT(t)
			if err := c.PatchUser(ctx, "u1", scim.Replace("active", false)); err != nil {
				t.Errorf("PatchUser: %v", err)
			}
			if err := c.PatchGroup(ctx, "g1", scim.Replace("displayName", "x")); err != nil {
				t.Errorf("PatchGroup: %v", err)
			}
			if err := c.AddMembers(ctx, "g1", []string{"u1"}); err != nil {
				t.Errorf("AddMembers: %v", err)
			}
			if rec.count() != 3 {
				t.Errorf("%d requests, want 3", rec.count())
			}
		})
	}
	// A PATCH error is an error.
	srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeJSON(w, http.StatusBadRequest, scimError(400, "invalidPath", "bad path"))
	})
	c, _ := newTestClient(t, srv.URL)
	err := c.PatchUser(ctxT(t), "u1", scim.Replace("nope", 1))
	var te *target.Error
	if !errors.As(err, &te) || te.Op != "patch user" || te.Object != "id=u1" || te.SCIM.ScimType != "invalidPath" {
		t.Errorf("PatchUser 400 = %#v", err)
	}
}

func TestPatchPaths(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusNoContent)
	})
	c, _ := newTestClient(t, srv.URL)
	ctx := ctxT(t)
	err := c.PatchGroup(ctx, "g1",
		scim.PatchOperation{Op: "Replace", Path: "displayName", Value: "New"},
		scim.Replace("externalId", "ext"),
		scim.PatchOperation{Op: "Remove", Path: `Members[value eq "U-ABC"]`},
		scim.Add("members", scim.MemberValues([]string{"u1"})),
		scim.Replace("", map[string]any{"displayName": "X"}),
		scim.Replace("urn:custom:Group:Thing", "y"),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.PatchUser(ctx, "u1",
		scim.PatchOperation{Op: "Replace", Path: "displayName", Value: "New"},
		scim.Replace("externalId", "ext"),
		scim.Replace(`emails[type eq "work"].value`, "a@example.com"),
	)
	if err != nil {
		t.Fatal(err)
	}
	// No operations: nothing to send.
	if err := c.PatchUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := c.PatchGroup(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (empty patches send nothing)", len(reqs))
	}
	type body struct {
		Schemas    []string `json:"schemas"`
		Operations []struct {
			Op    string          `json:"op"`
			Path  string          `json:"path"`
			Value json.RawMessage `json:"value"`
		} `json:"Operations"`
	}
	check := func(r seen, wantPath string, want []string) {
		t.Helper()
		if r.Method != http.MethodPatch || r.Path != wantPath {
			t.Errorf("%s %s, want PATCH %s", r.Method, r.Path, wantPath)
		}
		var b body
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Schemas) != 1 || b.Schemas[0] != scim.SchemaPatchOp {
			t.Errorf("schemas = %v", b.Schemas)
		}
		var got []string
		for _, o := range b.Operations {
			got = append(got, o.Op+" "+o.Path)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("operations\n got %q\nwant %q", got, want)
		}
	}
	check(reqs[0], "/Groups/g1", []string{
		"replace displayname", "replace externalid", `remove members[value eq "U-ABC"]`, "add members",
		"replace ", "replace urn:custom:Group:Thing",
	})
	check(reqs[1], "/Users/u1", []string{
		"replace displayName", "replace externalId", `replace emails[type eq "work"].value`,
	})
}

func TestMemberChunks(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("u%04d", i)
		}
		return out
	}
	tests := []struct {
		name   string
		remove bool
		ids    []string
		chunk  int
		want   []int // members per PATCH
	}{
		{"2500 ids, chunks of 1000", false, ids(2500), 0, []int{1000, 1000, 500}},
		{"remove 2500 ids, chunks of 1000", true, ids(2500), 0, []int{1000, 1000, 500}},
		{"exactly one chunk", false, ids(1000), 0, []int{1000}},
		{"chunks of 2", false, ids(5), 2, []int{2, 2, 1}},
		{"repeated ids sent once", false, append(ids(3), ids(3)...), 2, []int{2, 1}},
		{"no ids", false, nil, 0, nil},
		{"empty slice", true, []string{}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(http.StatusNoContent)
			})
			var opts []Option
			if tt.chunk > 0 {
				opts = append(opts, WithMemberChunkSize(tt.chunk))
			}
			c, _ := newTestClient(t, srv.URL, opts...)
			change, wantOp := c.AddMembers, "add"
			if tt.remove {
				change, wantOp = c.RemoveMembers, "remove"
			}
			if err := change(ctxT(t), "g1", tt.ids); err != nil {
				t.Fatal(err)
			}
			reqs := rec.all()
			if len(reqs) != len(tt.want) {
				t.Fatalf("%d PATCH requests, want %d", len(reqs), len(tt.want))
			}
			next := 0
			for i, r := range reqs {
				var b scim.PatchOp
				if err := json.Unmarshal(r.Body, &b); err != nil {
					t.Fatal(err)
				}
				if r.Method != http.MethodPatch || r.Path != "/Groups/g1" || len(b.Operations) != 1 {
					t.Fatalf("request %d: %s %s with %d operations", i, r.Method, r.Path, len(b.Operations))
				}
				op := b.Operations[0]
				if op.Op != wantOp || op.Path != "members" {
					t.Errorf("request %d: op %q path %q, want %q members", i, op.Op, op.Path, wantOp)
				}
				var members []map[string]string
				if err := json.Unmarshal(op.Value.(json.RawMessage), &members); err != nil {
					t.Fatalf("request %d value: %v", i, err)
				}
				if len(members) != tt.want[i] {
					t.Errorf("request %d carries %d members, want %d", i, len(members), tt.want[i])
				}
				for _, m := range members {
					if len(m) != 1 || m["value"] != tt.ids[next] {
						t.Fatalf("request %d member %v, want {value: %s} in order", i, m, tt.ids[next])
					}
					next++
				}
			}
		})
	}
}

func TestMemberChunkFailure(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 2 {
			writeJSON(w, http.StatusBadRequest, scimError(400, "invalidValue", "unknown member"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c, _ := newTestClient(t, srv.URL, WithMemberChunkSize(2))
	err := c.AddMembers(ctxT(t), "g1", []string{"a", "b", "c", "d", "e"})
	var te *target.Error
	if !errors.Is(err, target.ErrInvalid) || !errors.As(err, &te) || te.Op != "add members" || te.Object != "id=g1" {
		t.Fatalf("AddMembers = %v", err)
	}
	if !strings.Contains(err.Error(), "chunk 2 of 3") || !strings.Contains(err.Error(), "2 ids before it") {
		t.Errorf("error %q does not say what was applied", err)
	}
	if rec.count() != 2 {
		t.Errorf("%d requests, want 2 (stop at the failed chunk)", rec.count())
	}
	if err := c.AddMembers(ctxT(t), "g1", []string{"a", ""}); !errors.Is(err, target.ErrInvalid) {
		t.Errorf("AddMembers with an empty id = %v", err)
	}
	if err := c.RemoveMembers(ctxT(t), "", []string{"a"}); !errors.Is(err, target.ErrInvalid) {
		t.Errorf("RemoveMembers without group = %v", err)
	}
	if rec.count() != 2 {
		t.Errorf("invalid calls sent requests")
	}
}
