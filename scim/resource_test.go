package scim_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

func TestUserJSONRoundTrip(t *testing.T) {
	in := scim.User{
		ExternalID: "src-1",
		UserName:   "ada@example.com",
		Name:       &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"},
		Active:     scim.Bool(false),
		Emails:     []scim.Email{{Value: "ada@example.com", Type: "work", Primary: true}},
		Enterprise: &scim.EnterpriseUser{Department: "R&D", Manager: &scim.Manager{Value: "m-1"}},
	}.WithSchemas()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"schemas":["` + scim.SchemaUser + `","` + scim.SchemaEnterpriseUser + `"]`,
		`"active":false`,
		`"` + scim.SchemaEnterpriseUser + `":{"department":"R\u0026D","manager":{"value":"m-1"}}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var out scim.User
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.IsActive() || out.Enterprise.Department != "R&D" || out.PrimaryEmail() != "ada@example.com" || out.Name.GivenName != "Ada" {
		t.Errorf("round trip lost data: %+v", out)
	}
}

func TestUserActiveForms(t *testing.T) {
	tests := []struct {
		json    string
		want    *bool
		wantErr bool
	}{
		{`{"userName":"a","active":true}`, scim.Bool(true), false},
		{`{"userName":"a","active":false}`, scim.Bool(false), false},
		{`{"userName":"a","active":"true"}`, scim.Bool(true), false},
		{`{"userName":"a","active":"False"}`, scim.Bool(false), false},
		{`{"userName":"a","active":null}`, nil, false},
		{`{"userName":"a"}`, nil, false},
		{`{"userName":"a","active":"maybe"}`, nil, true},
		{`{"userName":"a","active":3}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			var u scim.User
			err := json.Unmarshal([]byte(tt.json), &u)
			if tt.wantErr {
				if !errors.Is(err, scim.ErrInvalidValue) {
					t.Fatalf("err = %v, want ErrInvalidValue", err)
				}
				if !strings.Contains(err.Error(), "active") {
					t.Errorf("error %q does not name the attribute", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (u.Active == nil) != (tt.want == nil) || (u.Active != nil && *u.Active != *tt.want) {
				t.Errorf("active = %v, want %v", u.Active, tt.want)
			}
			if u.UserName != "a" {
				t.Errorf("userName lost: %+v", u)
			}
		})
	}
}

func TestUserAttributeNamesAreCaseInsensitive(t *testing.T) {
	var u scim.User
	if err := json.Unmarshal([]byte(`{"USERNAME":"a","ExternalId":"x","Name":{"GivenName":"g"}}`), &u); err != nil {
		t.Fatal(err)
	}
	if u.UserName != "a" || u.ExternalID != "x" || u.Name.GivenName != "g" {
		t.Errorf("case-insensitive decode failed: %+v", u)
	}
}

func TestPrimaryEmail(t *testing.T) {
	tests := []struct {
		emails []scim.Email
		want   string
	}{
		{nil, ""},
		{[]scim.Email{{Value: "a"}, {Value: "b", Primary: true}}, "b"},
		{[]scim.Email{{Value: "a"}, {Value: "b"}}, "a"},
	}
	for _, tt := range tests {
		u := scim.User{Emails: tt.emails}
		if got := u.PrimaryEmail(); got != tt.want {
			t.Errorf("PrimaryEmail(%v) = %q, want %q", tt.emails, got, tt.want)
		}
	}
}

func TestPatchOpJSON(t *testing.T) {
	p := scim.NewPatch(
		scim.Add("members", scim.MemberValues([]string{"u1", "u2"})),
		scim.Replace("active", false),
		scim.Remove(scim.ValuePath("members", scim.Eq("value", "u3")).String(), nil),
	)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
		`{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]},` +
		`{"op":"replace","path":"active","value":false},` +
		`{"op":"remove","path":"members[value eq \"u3\"]"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back scim.PatchOp
	if err := json.Unmarshal([]byte(strings.ReplaceAll(want, `"add"`, `"Add"`)), &back); err != nil {
		t.Fatal(err)
	}
	if back.Operations[0].Op != scim.OpAdd {
		t.Errorf("op not folded to lower case: %q", back.Operations[0].Op)
	}
	raw, ok := back.Operations[0].Value.(json.RawMessage)
	if !ok || string(raw) != `[{"value":"u1"},{"value":"u2"}]` {
		t.Errorf("value kept as %T %s", back.Operations[0].Value, raw)
	}
	if back.Operations[2].Value != nil {
		t.Errorf("absent value decoded as %v", back.Operations[2].Value)
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name               string
		status             int
		body               string
		wantText, wantType string
	}{
		{"rfc", 409, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"uniqueness","detail":"User already exists","status":"409"}`, "User already exists", "uniqueness"},
		{"rfc numeric status", 400, `{"detail":"bad","status":400}`, "bad", ""},
		{"netskope message", 429, `{"message":"API rate limit exceeded"}`, "API rate limit exceeded", ""},
		{"error string", 401, `{"error":"invalid_token","error_description":"expired"}`, "invalid_token: expired", ""},
		{"nested error", 500, `{"error":{"message":"boom"}}`, "boom", ""},
		{"raw text", 502, `<html>Bad Gateway</html>`, "<html>Bad Gateway</html>", ""},
		{"empty", 503, ``, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := scim.ParseError(tt.status, []byte(tt.body))
			if e.Status != tt.status || e.Text() != tt.wantText || e.ScimType != tt.wantType {
				t.Errorf("got status %d text %q type %q, want %d %q %q", e.Status, e.Text(), e.ScimType, tt.status, tt.wantText, tt.wantType)
			}
			if !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("Error() = %q lacks %q", e.Error(), tt.wantText)
			}
		})
	}
}

func TestParseErrorTruncatesLongBodies(t *testing.T) {
	body := strings.Repeat("é", 2000)
	e := scim.ParseError(500, []byte(body))
	if len(e.Detail) > 600 || !strings.Contains(e.Detail, "bytes)") {
		t.Errorf("detail not bounded: %d bytes", len(e.Detail))
	}
}

func TestErrorMarshalsStatusAsString(t *testing.T) {
	b, err := json.Marshal(scim.NewError(409, scim.ScimTypeUniqueness, "dup"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"status":"409"`) || !strings.Contains(string(b), `"scimType":"uniqueness"`) {
		t.Errorf("got %s", b)
	}
}

func FuzzUserJSON(f *testing.F) {
	f.Add([]byte(`{"userName":"a","active":"true","emails":[{"value":"x","primary":true}]}`))
	f.Add([]byte(`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var u scim.User
		if json.Unmarshal(b, &u) != nil {
			return
		}
		out, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("a decoded user does not encode: %v", err)
		}
		var again scim.User
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if again.UserName != u.UserName || again.IsActive() != u.IsActive() || again.PrimaryEmail() != u.PrimaryEmail() {
			t.Fatalf("round trip changed the user: %+v vs %+v", u, again)
		}
	})
}

func TestUserSchemasIn(t *testing.T) {
	for _, tt := range []struct {
		name string
		u    scim.User
		want []string
	}{
		{"core only", scim.User{UserName: "a"}, []string{scim.SchemaUser}},
		{"empty enterprise", scim.User{UserName: "a", Enterprise: &scim.EnterpriseUser{}}, []string{scim.SchemaUser}},
		{"enterprise", scim.User{UserName: "a", Enterprise: &scim.EnterpriseUser{Department: "R&D"}},
			[]string{scim.SchemaUser, scim.SchemaEnterpriseUser}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var room [2]string
			got := tt.u.SchemasIn(&room)
			if !slices.Equal(got, tt.want) || &got[0] != &room[0] {
				t.Errorf("SchemasIn = %q (in room: %v), want %q in room", got, &got[0] == &room[0], tt.want)
			}
			if w := tt.u.WithSchemas().Schemas; !slices.Equal(w, tt.want) {
				t.Errorf("WithSchemas sets %q, want %q", w, tt.want)
			}
		})
	}
}
