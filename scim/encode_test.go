package scim_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// tricky holds the strings whose escaping encoding/json gets particular
// about.
var tricky = []string{
	"", "plain", `quo"te`, `back\slash`, "<script>&amp;</script>", "tab\tnew\nline\rcr",
	"\b\f\x00\x01\x1f\x7f", "line\u2028para\u2029sep", "bad\xffutf8\xc3", "emoji 😀 é ß 中文",
	"trailing \xe2\x80", "ctl\u0085",
}

func fullUser(s string) scim.User {
	return scim.User{
		Schemas: []string{scim.SchemaUser, scim.SchemaEnterpriseUser, s}, ID: "id" + s, ExternalID: "ext" + s, UserName: s,
		Name:        &scim.Name{Formatted: s, FamilyName: s, GivenName: s, MiddleName: s, HonorificPrefix: s, HonorificSuffix: s},
		DisplayName: s, NickName: s, ProfileURL: s, Title: s, UserType: s, PreferredLanguage: s, Locale: s, Timezone: s,
		Active:       scim.Bool(false),
		Emails:       []scim.Email{{Value: s, Display: s, Type: s, Primary: true}, {Value: s}},
		PhoneNumbers: []scim.PhoneNumber{{Value: s, Type: "work"}, {Display: s, Primary: true}},
		Addresses:    []scim.Address{{Formatted: s, StreetAddress: s, Locality: s, Region: s, PostalCode: s, Country: s, Type: s, Primary: true}, {}},
		Groups:       []scim.GroupRef{{Value: s, Ref: s, Display: s, Type: s}, {}},
		Enterprise: &scim.EnterpriseUser{EmployeeNumber: s, CostCenter: s, Organization: s, Division: s, Department: s,
			Manager: &scim.Manager{Value: s, Ref: s, DisplayName: s}},
		Meta: &scim.Meta{ResourceType: s, Created: s, LastModified: s, Location: s, Version: s},
	}
}

func TestUserAppendJSONMatchesMarshal(t *testing.T) {
	users := map[string]scim.User{
		"zero":                 {},
		"userName only":        {UserName: "a@example.com"},
		"active true":          {UserName: "a", Active: scim.Bool(true)},
		"empty name":           {UserName: "a", Name: &scim.Name{}},
		"empty enterprise":     {UserName: "a", Enterprise: &scim.EnterpriseUser{}},
		"empty manager":        {UserName: "a", Enterprise: &scim.EnterpriseUser{Manager: &scim.Manager{}}},
		"empty meta":           {UserName: "a", Meta: &scim.Meta{}},
		"empty slices":         {UserName: "a", Schemas: []string{}, Emails: []scim.Email{}, PhoneNumbers: []scim.PhoneNumber{}, Addresses: []scim.Address{}, Groups: []scim.GroupRef{}},
		"empty list items":     {UserName: "a", Schemas: []string{""}, Emails: []scim.Email{{}}, PhoneNumbers: []scim.PhoneNumber{{}}},
		"with schemas":         (&scim.User{UserName: "a", Enterprise: &scim.EnterpriseUser{Department: "d"}}).WithSchemas(),
		"only enterprise dept": {Enterprise: &scim.EnterpriseUser{Department: "Sales & <Ops>"}},
	}
	for i, s := range tricky {
		users["full "+string(rune('a'+i))] = fullUser(s)
	}
	for name, u := range users {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(&u)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.AppendJSON(nil); string(got) != string(want) {
				t.Errorf("AppendJSON =\n%s\nwant (json.Marshal)\n%s", got, want)
			}
			// It appends: what b held stays.
			if got := u.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
				t.Errorf("AppendJSON after x = %s", got)
			}
		})
	}
}

func TestGroupAppendJSONMatchesMarshal(t *testing.T) {
	groups := map[string]scim.Group{
		"zero":          {},
		"name only":     {DisplayName: "Sales"},
		"with schemas":  (&scim.Group{DisplayName: "g"}).WithSchemas(),
		"empty members": {DisplayName: "g", Members: []scim.Member{}},
		"empty member":  {DisplayName: "g", Members: []scim.Member{{}}},
		"members":       {DisplayName: "g", Members: scim.MemberValues([]string{"1", "2", "3"})},
		"empty meta":    {DisplayName: "g", Meta: &scim.Meta{}},
	}
	for i, s := range tricky {
		groups["full "+string(rune('a'+i))] = scim.Group{Schemas: []string{s}, ID: s, ExternalID: s, DisplayName: s,
			Members: []scim.Member{{Value: s, Ref: s, Display: s, Type: s}, {Value: s}}, Meta: &scim.Meta{Location: s}}
	}
	for name, g := range groups {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(&g)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.AppendJSON(nil); string(got) != string(want) {
				t.Errorf("AppendJSON =\n%s\nwant (json.Marshal)\n%s", got, want)
			}
		})
	}
}

// FuzzAppendJSON: for any string in any field, AppendJSON is what
// json.Marshal makes.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, strings.ToUpper(s))
	}
	f.Fuzz(func(t *testing.T, s, o string) {
		u := fullUser(s)
		u.UserName, u.Emails[1].Value = o, o
		want, _ := json.Marshal(&u)
		if got := u.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("user: AppendJSON =\n%s\nwant\n%s", got, want)
		}
		g := scim.Group{DisplayName: s, ExternalID: o, Members: []scim.Member{{Value: o, Display: s}}}
		want, _ = json.Marshal(&g)
		if got := g.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("group: AppendJSON =\n%s\nwant\n%s", got, want)
		}
		if got, want := scim.AppendString(nil, s), must(json.Marshal(s)); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		p := scim.NewPatch(scim.PatchOperation{Op: s, Path: o, Value: []scim.Member{{Value: o, Type: s}}})
		want, _ = json.Marshal(&p)
		if got, _ := p.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("patch: AppendJSON =\n%s\nwant\n%s", got, want)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkUserJSON compares AppendJSON with json.Marshal on a user as
// the default mapping makes it:
//
//	go test ./scim -run X -bench UserJSON -benchmem
func BenchmarkUserJSON(b *testing.B) {
	u := (&scim.User{UserName: "ada.lovelace@example.com", ExternalID: "00u1a2b3c4d5e6f7g8h9",
		Name: &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"}, DisplayName: "Ada Lovelace", Active: scim.Bool(true),
		Emails:     []scim.Email{{Value: "ada.lovelace@example.com", Type: "work", Primary: true}},
		Enterprise: &scim.EnterpriseUser{Department: "Engineering", EmployeeNumber: "10042", Manager: &scim.Manager{Value: "m1"}},
	}).WithSchemas()
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = u.AppendJSON(buf[:0])
		}
	})
	b.Run("AppendJSON-fresh", func(b *testing.B) { // as a request body: a buffer of its own
		for b.Loop() {
			_ = u.AppendJSON(make([]byte, 0, 512))
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&u)
		}
	})
}

// TestAppendKey: a member's name gets a comma before it unless it is the
// first member after start.
func TestAppendKey(t *testing.T) {
	tests := []struct{ b, want string }{
		{"{", `{"k":`},
		{`{"a":1`, `{"a":1,"k":`},
		{`[1,{`, `[1,{"k":`},
	}
	for _, tt := range tests {
		start := strings.LastIndexByte(tt.b, '{') + 1
		if got := string(scim.AppendKey([]byte(tt.b), start, "k")); got != tt.want {
			t.Errorf("AppendKey(%q, %d) = %s, want %s", tt.b, start, got, tt.want)
		}
	}
}

// BenchmarkAppendString appends strings as most are, with nothing to
// escape (a UUID, an address), and one that is mostly escapes:
//
//	go test ./scim -run X -bench AppendString
func BenchmarkAppendString(b *testing.B) {
	for _, s := range []string{"6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "firstname.lastname.000123@example.com", `<"a\b">&` + "\n\u2028é"} {
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = scim.AppendString(buf[:0], s)
			}
		})
	}
}

// TestAppendStringFindsEveryEscapeInAWord: AppendString skips plain
// ASCII eight bytes at a time; a character to escape at any place of a
// word, with plain bytes either side, is still escaped as json.Marshal
// escapes it.
func TestAppendStringFindsEveryEscapeInAWord(t *testing.T) {
	bad := []string{"\x00", "\x1f", `"`, `\`, "<", ">", "&", "\x80", "\xff", "é", "\u2028", " ", "\x7f", "~", "!", "=", "?", "[", "]", "%", "'"}
	for _, c := range bad {
		for at := range 17 {
			s := strings.Repeat("a", at) + c + strings.Repeat("z", 16-at)
			if got, want := scim.AppendString(nil, s), must(json.Marshal(s)); string(got) != string(want) {
				t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}
