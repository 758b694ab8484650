package source_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

func validDir() *source.Directory {
	return &source.Directory{
		Users: []source.User{
			{ID: "u-1", UserName: "ada@example.com", Emails: []source.Email{{Value: "ada@example.com", Primary: true}}},
			{ID: "u-2", UserName: "bob@example.com", State: source.StateSuspended},
			{ID: "u-3", UserName: "cy@example.com", State: source.StateDeleted},
		},
		Groups: []source.Group{
			{ID: "g-1", DisplayName: "Eng", Members: []string{"u-1", "u-2"}, MemberGroups: []string{"g-2"}},
			{ID: "g-2", DisplayName: "Ops", Members: []string{"u-3"}, MemberGroups: []string{"g-1"}},
		},
	}
}

func TestValidateOK(t *testing.T) {
	if err := validDir().Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if err := (&source.Directory{}).Validate(); err != nil {
		t.Fatalf("empty Validate() = %v", err)
	}
	// Free text may hold line breaks and tabs, and names any letters.
	d := validDir()
	d.Users[0].DisplayName = "Ada\tLovelace"
	d.Users[0].UserName = "ádá@例え.jp"
	d.Users[0].Attributes = source.NewAttrs(map[string]any{"address": "1 Main St\nLondon", "notes": strings.Repeat("x", source.MaxValueBytes)})
	d.Groups[0].Description = "line one\nline two"
	d.Groups[0].DisplayName = strings.Repeat("é", source.MaxGroupNameBytes/2)
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() with free text = %v", err)
	}
	// A user, and a group, may be members of several groups.
	d = validDir()
	d.Groups[1].Members = append(d.Groups[1].Members, "u-1", "u-2")
	d.Groups = append(d.Groups, source.Group{ID: "g-3", DisplayName: "All", Members: []string{"u-2", "u-1"}, MemberGroups: []string{"g-2", "g-1"}})
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() with users and groups in several groups = %v", err)
	}
	// A deleted user may share its user name with a live one.
	d = validDir()
	d.Users = append(d.Users, source.User{ID: "u-4", UserName: "CY@example.com"})
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() with a reused deleted user name = %v", err)
	}
}

func TestValidateProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *source.Directory)
		want []string // substrings, one per expected problem
	}{
		{"empty user id", func(d *source.Directory) { d.Users[1].ID = "" },
			[]string{`user (users[1]): id: empty`, `group "g-1" (groups[0]): members[1]: unknown user "u-2"`}},
		{"duplicate user id", func(d *source.Directory) { d.Users[2].ID = "u-1" },
			[]string{`user "u-1" (users[2]): id: duplicate of users[0]`, `group "g-2" (groups[1]): members[0]: unknown user "u-3"`}},
		{"undefined state", func(d *source.Directory) { d.Users[0].State = 9 },
			[]string{`user "u-1" (users[0]): state: undefined state 9`}},
		{"duplicate user name", func(d *source.Directory) { d.Users[1].UserName = "ADA@example.com" },
			[]string{`user "u-2" (users[1]): userName: "ADA@example.com" is also the user name of user "u-1" (users[0])`}},
		{"empty email", func(d *source.Directory) { d.Users[0].Emails = append(d.Users[0].Emails, source.Email{Value: " "}) },
			[]string{`user "u-1" (users[0]): emails[1].value: empty`}},
		{"two primaries", func(d *source.Directory) {
			d.Users[0].Emails = append(d.Users[0].Emails, source.Email{Value: "x@example.com", Primary: true})
		}, []string{`user "u-1" (users[0]): emails: 2 emails are primary`}},
		{"bad attribute type", func(d *source.Directory) { d.Users[0].Attributes = source.NewAttrs(map[string]any{"level": 3}) },
			[]string{`user "u-1" (users[0]): attributes["level"]: value of type int`}},
		{"shadowing attribute", func(d *source.Directory) { d.Users[0].Attributes = source.NewAttrs(map[string]any{"Mail": "x"}) },
			[]string{`user "u-1" (users[0]): attributes["Mail"]: the name is a built-in field's`}},
		{"colliding attributes", func(d *source.Directory) {
			d.Users[0].Attributes = source.NewAttrs(map[string]any{"dept": "a", "Dept": "b"})
		},
			[]string{`user "u-1" (users[0]): attributes["dept"]: collides with attribute "Dept" ignoring case`}},
		{"empty attribute name", func(d *source.Directory) { d.Groups[0].Attributes = source.NewAttrs(map[string]any{"": "a"}) },
			[]string{`group "g-1" (groups[0]): attributes[""]: empty attribute name`}},
		{"group attribute type", func(d *source.Directory) {
			d.Groups[0].Attributes = source.NewAttrs(map[string]any{"owners": []any{"a"}})
		},
			[]string{`group "g-1" (groups[0]): attributes["owners"]: value of type []interface {}`}},
		{"empty group id", func(d *source.Directory) { d.Groups[1].ID = "" },
			[]string{`group (groups[1]): id: empty`, `group "g-1" (groups[0]): memberGroups[0]: unknown group "g-2"`}},
		{"duplicate group id", func(d *source.Directory) { d.Groups[1].ID = "g-1" },
			[]string{`group "g-1" (groups[1]): id: duplicate of groups[0]`, `memberGroups[0]: unknown group "g-2"`}},
		{"unknown member", func(d *source.Directory) { d.Groups[0].Members = append(d.Groups[0].Members, "u-9") },
			[]string{`group "g-1" (groups[0]): members[2]: unknown user "u-9"`}},
		{"duplicate member", func(d *source.Directory) { d.Groups[0].Members = append(d.Groups[0].Members, "u-1") },
			[]string{`group "g-1" (groups[0]): members[2]: user "u-1" is already members[0]`}},
		{"member three times", func(d *source.Directory) { d.Groups[0].Members = append(d.Groups[0].Members, "u-1", "u-1") },
			[]string{`group "g-1" (groups[0]): members[2]: user "u-1" is already members[0]`,
				`group "g-1" (groups[0]): members[3]: user "u-1" is already members[2]`}},
		{"unknown member twice", func(d *source.Directory) { d.Groups[0].Members = append(d.Groups[0].Members, "u-9", "u-9") },
			[]string{`group "g-1" (groups[0]): members[2]: unknown user "u-9"`, `group "g-1" (groups[0]): members[3]: unknown user "u-9"`}},
		{"unknown member group", func(d *source.Directory) { d.Groups[1].MemberGroups = []string{"g-9"} },
			[]string{`group "g-2" (groups[1]): memberGroups[0]: unknown group "g-9"`}},
		{"duplicate member group", func(d *source.Directory) { d.Groups[1].MemberGroups = []string{"g-1", "g-1"} },
			[]string{`group "g-2" (groups[1]): memberGroups[1]: group "g-1" is already memberGroups[0]`}},
		{"invalid UTF-8 user name", func(d *source.Directory) { d.Users[0].UserName = "ada\xff@example.com" },
			[]string{`user "u-1" (users[0]): userName: not valid UTF-8 (byte 3)`}},
		{"NUL in user name", func(d *source.Directory) { d.Users[0].UserName = "ada\x00@example.com" },
			[]string{`user "u-1" (users[0]): userName: control character U+0000 at byte 3`}},
		{"line break in user name", func(d *source.Directory) { d.Users[1].UserName = "bob@example.com\n" },
			[]string{`user "u-2" (users[1]): userName: control character U+000A at byte 15`}},
		{"C1 control in group name", func(d *source.Directory) { d.Groups[0].DisplayName = "E\u0085ng" },
			[]string{`group "g-1" (groups[0]): displayName: control character U+0085 at byte 1`}},
		{"white space user name", func(d *source.Directory) { d.Users[0].UserName = " \u00a0 " },
			[]string{`user "u-1" (users[0]): userName: only white space`}},
		{"white space group name", func(d *source.Directory) { d.Groups[1].DisplayName = "   " },
			[]string{`group "g-2" (groups[1]): displayName: only white space`}},
		{"invalid UTF-8 group name", func(d *source.Directory) { d.Groups[1].DisplayName = "Op\xc3" },
			[]string{`group "g-2" (groups[1]): displayName: not valid UTF-8 (byte 2)`}},
		{"control character in id", func(d *source.Directory) {
			d.Users[0].ID = "u-1\x00"
			d.Groups[0].Members = []string{"u-1\x00", "u-2"}
		}, []string{`user "u-1\x00" (users[0]): id: control character U+0000 at byte 3`}},
		{"control character in email", func(d *source.Directory) { d.Users[0].Emails[0].Value = "ada@exa\tmple.com" },
			[]string{`user "u-1" (users[0]): emails[0].value: control character U+0009 at byte 7`}},
		{"1 MB user name", func(d *source.Directory) { d.Users[0].UserName = strings.Repeat("a", 1<<20) },
			[]string{`user "u-1" (users[0]): userName: 1048576 bytes; at most 512 are allowed`}},
		{"long group name", func(d *source.Directory) { d.Groups[0].DisplayName = strings.Repeat("é", 513) },
			[]string{`group "g-1" (groups[0]): displayName: 1026 bytes; at most 1024 are allowed`}},
		{"long id", func(d *source.Directory) {
			d.Users[2].ID = strings.Repeat("9", 2000)
			d.Groups[1].Members = nil
		}, []string{`user "` + strings.Repeat("9", 64) + `…" (users[2]): id: 2000 bytes; at most 1024 are allowed`}},
		{"10 MB attribute", func(d *source.Directory) {
			d.Users[0].Attributes = source.NewAttrs(map[string]any{"notes": strings.Repeat("x", 10<<20)})
		},
			[]string{`user "u-1" (users[0]): attributes["notes"]: 10485760 bytes; at most 65536 are allowed`}},
		{"long list item", func(d *source.Directory) {
			d.Groups[0].Attributes = source.NewAttrs(map[string]any{"owners": []string{"a", strings.Repeat("x", 65537)}})
		}, []string{`group "g-1" (groups[0]): attributes["owners"][1]: 65537 bytes; at most 65536 are allowed`}},
		{"long list", func(d *source.Directory) {
			d.Users[1].Attributes = source.NewAttrs(map[string]any{"roles": make([]string, 10001)})
		},
			[]string{`user "u-2" (users[1]): attributes["roles"]: 10001 items; at most 10000 are allowed`}},
		{"invalid UTF-8 attribute", func(d *source.Directory) { d.Users[1].Attributes = source.NewAttrs(map[string]any{"dept": "R\xffD"}) },
			[]string{`user "u-2" (users[1]): attributes["dept"]: not valid UTF-8 (byte 1)`}},
		{"long description", func(d *source.Directory) { d.Groups[1].Description = strings.Repeat("x", 65537) },
			[]string{`group "g-2" (groups[1]): description: 65537 bytes`}},
		{"several at once", func(d *source.Directory) {
			d.Users[0].State = 5
			d.Users[1].ID = "u-1"
			d.Groups[1].Members = []string{"nobody"}
		}, []string{`user "u-1" (users[0]): state`, `user "u-1" (users[1]): id: duplicate`,
			`group "g-1" (groups[0]): members[1]: unknown user "u-2"`, `members[0]: unknown user "nobody"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDir()
			tt.edit(d)
			err := d.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want problems")
			}
			if !errors.Is(err, source.ErrInvalid) {
				t.Errorf("Validate() error does not match ErrInvalid: %v", err)
			}
			var oe *source.ObjectError
			if !errors.As(err, &oe) || oe.Kind == "" {
				t.Errorf("Validate() error is not an *ObjectError: %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("Validate() reported %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q\nwant a problem containing %q", err, w)
				}
			}
		})
	}
}

func TestObjectErrorMessage(t *testing.T) {
	tests := []struct {
		err  *source.ObjectError
		want string
	}{
		{&source.ObjectError{Kind: "user", ID: "u-1", Index: 4, Field: "state", Err: errors.New("bad")}, `user "u-1" (users[4]): state: bad`},
		{&source.ObjectError{Kind: "group", ID: "g", Index: -1, Err: errors.New("bad")}, `group "g": bad`},
		{&source.ObjectError{Kind: "user", Index: 0, Field: "id"}, `user (users[0]): id: invalid`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, source.ErrInvalid) {
			t.Errorf("%q does not match ErrInvalid", tt.want)
		}
	}
}

func TestIndex(t *testing.T) {
	d := validDir()
	d.Groups = append(d.Groups, source.Group{ID: "g-3", Members: []string{"u-1"}})
	x := d.Index()
	if u, ok := x.UserByID("u-2"); !ok || u != &d.Users[1] {
		t.Errorf("UserByID(u-2) = %v, %v", u, ok)
	}
	if _, ok := x.UserByID("nope"); ok {
		t.Error("UserByID(nope) found a user")
	}
	if g, ok := x.GroupByID("g-2"); !ok || g.DisplayName != "Ops" {
		t.Errorf("GroupByID(g-2) = %v, %v", g, ok)
	}
	if _, ok := x.GroupByID("u-1"); ok {
		t.Error("GroupByID found a user id")
	}
	tests := []struct {
		user string
		want []string
	}{
		{"u-1", []string{"g-1", "g-3"}},
		{"u-3", []string{"g-2"}},
		{"u-9", nil},
	}
	for _, tt := range tests {
		if got := x.MemberOf(tt.user); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("MemberOf(%s) = %v, want %v", tt.user, got, tt.want)
		}
	}
	// g-1 and g-2 nest each other: the cycle is followed once.
	trans := []struct {
		group string
		want  []string
	}{
		{"g-1", []string{"u-1", "u-2", "u-3"}},
		{"g-2", []string{"u-3", "u-1", "u-2"}},
		{"g-3", []string{"u-1"}},
		{"g-9", nil},
	}
	for _, tt := range trans {
		if got := x.TransitiveMembers(tt.group); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("TransitiveMembers(%s) = %v, want %v", tt.group, got, tt.want)
		}
	}
}

// BenchmarkValidate measures Validate on a 10,000-user directory, which
// the engine runs on every read.
func BenchmarkValidate(b *testing.B) {
	d := synth.Generate(synth.Config{Users: 10000, Groups: 200, MembershipsPerUser: 3, Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
