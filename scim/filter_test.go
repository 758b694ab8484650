package scim_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	filterparser "github.com/scim2/filter-parser/v2"

	"github.com/provsync/provsync/scim"
)

// parseEq parses expr with an independent SCIM filter parser and returns
// the attribute and the decoded value of its single eq comparison.
func parseEq(t *testing.T, expr string) (attr string, value any) {
	t.Helper()
	parsed, err := filterparser.ParseFilter([]byte(expr))
	if err != nil {
		t.Fatalf("filter %q does not parse: %v", expr, err)
	}
	ae, ok := parsed.(*filterparser.AttributeExpression)
	if !ok {
		t.Fatalf("filter %q parsed as %T, want one attribute expression", expr, parsed)
	}
	if ae.Operator != filterparser.EQ {
		t.Fatalf("filter %q: operator %q, want eq", expr, ae.Operator)
	}
	value = ae.CompareValue
	if s, ok := value.(string); ok {
		// The parser keeps the string's escapes; decode them as JSON.
		var decoded string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &decoded); err != nil {
			t.Fatalf("filter %q: value %q is not a JSON string body: %v", expr, s, err)
		}
		value = decoded
	}
	return ae.AttributePath.String(), value
}

func TestEqEscapesValues(t *testing.T) {
	tests := []struct {
		name  string
		value string
	}{
		{"plain", "ada@example.com"},
		{"injection", `a" or userName pr or "b`},
		{"backslash", `dom\user`},
		{"trailing backslash", `a\`},
		{"brackets and parens", `x] or (userName pr) [`},
		{"control characters", "tab\there\nnew\x01line\x1f"},
		{"non-ASCII", "zoë.łukasz@例え.jp"},
		{"html", `<script>&amp;</script>`},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := scim.Eq("userName", tt.value).Build()
			if err != nil {
				t.Fatal(err)
			}
			attr, got := parseEq(t, expr)
			if attr != "userName" || got != tt.value {
				t.Errorf("Eq built %q, which parses as %s eq %q; want userName eq %q", expr, attr, got, tt.value)
			}
		})
	}
}

func TestFilterLiterals(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	tests := []struct {
		f    scim.Filter
		want string
	}{
		{scim.Eq("active", true), `active eq true`},
		{scim.Eq("active", false), `active eq false`},
		{scim.Eq("manager", nil), `manager eq null`},
		{scim.Gt("meta.lastModified", ts), `meta.lastModified gt "2026-01-02T02:04:05Z"`},
		{scim.Le("x", 42), `x le 42`},
		{scim.Ge("x", 1.5), `x ge 1.5`},
		{scim.Present("title"), `title pr`},
		{scim.Sw("userName", "j"), `userName sw "j"`},
		{scim.Eq("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "R&D"),
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"`},
		{scim.And(scim.Eq("a", "1"), scim.Or(scim.Eq("b", "2"), scim.Eq("c", "3"))),
			`a eq "1" and (b eq "2" or c eq "3")`},
		{scim.Or(scim.Eq("a", "1"), scim.Or(scim.Eq("b", "2"), scim.Eq("c", "3"))),
			`a eq "1" or b eq "2" or c eq "3"`},
		{scim.And(scim.Filter{}, scim.Eq("a", "1")), `a eq "1"`},
		{scim.Not(scim.Eq("a", "1")), `not (a eq "1")`},
		{scim.ValuePath("members", scim.Eq("value", "id-1")), `members[value eq "id-1"]`},
		{scim.ValuePath("emails", scim.And(scim.Eq("type", "work"), scim.Co("value", "@x"))),
			`emails[type eq "work" and value co "@x"]`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := tt.f.Build()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if _, err := filterparser.ParseFilter([]byte(got)); err != nil && !strings.Contains(got, "[") {
				t.Errorf("%q does not parse: %v", got, err)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		name string
		f    scim.Filter
	}{
		{"attribute with space", scim.Eq("user Name", "x")},
		{"attribute injection", scim.Eq(`userName eq "x" or id`, "x")},
		{"empty attribute", scim.Eq("", "x")},
		{"digit first", scim.Eq("1abc", "x")},
		{"bad sub-attribute", scim.Eq("name.", "x")},
		{"bad value type", scim.Eq("a", struct{}{})},
		{"NaN", scim.Eq("a", func() float64 { z := 0.0; return z / z }())},
		{"bad present", scim.Present("a b")},
		{"error survives and", scim.And(scim.Eq("a", "1"), scim.Eq("b c", "2"))},
		{"empty value path", scim.ValuePath("members", scim.Filter{})},
		{"bad urn", scim.Eq(`urn:x"y:attr`, "v")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.f.Build()
			if err == nil {
				t.Fatalf("built %q, want an error", s)
			}
			if !errors.Is(err, scim.ErrInvalidFilter) {
				t.Errorf("error %v is not ErrInvalidFilter", err)
			}
			if tt.f.String() != "" {
				t.Errorf("String() = %q on a failed filter", tt.f.String())
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want scim.Path
	}{
		{"userName", scim.Path{Attribute: "userName"}},
		{"name.givenName", scim.Path{Attribute: "name", Sub: "givenName"}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
			scim.Path{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", Attribute: "manager", Sub: "value"}},
		{"$ref", scim.Path{Attribute: "$ref"}},
	}
	for _, tt := range tests {
		got, err := scim.ParsePath(tt.in)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tt.in, err)
		}
		if got != tt.want || got.String() != tt.in {
			t.Errorf("ParsePath(%q) = %+v (%s), want %+v", tt.in, got, got, tt.want)
		}
	}
}

func FuzzEqEscaping(f *testing.F) {
	for _, s := range []string{"", "a", `a" or userName pr or "b`, `\`, "\x00", "ü\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		expr, err := scim.Eq("userName", value).Build()
		if err != nil {
			t.Fatal(err)
		}
		var decoded string
		lit := strings.TrimPrefix(expr, "userName eq ")
		if err := json.Unmarshal([]byte(lit), &decoded); err != nil {
			t.Fatalf("value literal %q is not a JSON string: %v", lit, err)
		}
		want := value
		if !utf8.ValidString(want) {
			want = strings.ToValidUTF8(want, "\uFFFD")
		}
		if decoded != want {
			t.Fatalf("value %q came back as %q", value, decoded)
		}
		attr, got := parseEq(t, expr)
		if attr != "userName" || got != want {
			t.Fatalf("%q parses as %s eq %q", expr, attr, got)
		}
	})
}
