package source_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
)

func testUser() *source.User {
	return &source.User{
		ID:       "u-1",
		UserName: "ada@example.com",
		Emails: []source.Email{
			{Value: "ada.alias@example.com", Type: "other"},
			{Value: "ada@example.com", Type: "work", Primary: true},
		},
		GivenName:   "Ada",
		FamilyName:  "Lovelace",
		DisplayName: "Ada Lovelace",
		State:       source.StateSuspended,
		Attributes: source.NewAttrs(map[string]any{
			"department":       "R&D",
			"employeeId":       "E1",
			"HR.costCenter":    int64(42),
			"roleIds":          []string{"r1", "r2"},
			"hireDate":         time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC),
			"isAdmin":          true,
			"Cost Center Name": "Ops",
			"cost center name": "ops",
		}),
	}
}

func TestUserAttr(t *testing.T) {
	u := testUser()
	deletedAt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name   string
		user   *source.User
		want   any
		wantOK bool
	}{
		{"id", u, "u-1", true},
		{"objectId", u, "u-1", true},
		{"ID", u, "u-1", true},
		{"userName", u, "ada@example.com", true},
		{"userPrincipalName", u, "ada@example.com", true},
		{"USERPRINCIPALNAME", u, "ada@example.com", true},
		{"login", u, "ada@example.com", true},
		{"mail", u, "ada@example.com", true},
		{"email", u, "ada@example.com", true},
		{"primaryEmail", u, "ada@example.com", true},
		{"emails", u, []string{"ada.alias@example.com", "ada@example.com"}, true},
		{"givenName", u, "Ada", true},
		{"firstname", u, "Ada", true},
		{"surname", u, "Lovelace", true},
		{"familyName", u, "Lovelace", true},
		{"lastName", u, "Lovelace", true},
		{"displayName", u, "Ada Lovelace", true},
		{"state", u, "suspended", true},
		{"accountEnabled", u, false, true},
		{"active", u, false, true},
		{"suspended", u, true, true},
		{"deleted", u, false, true},
		{"deletedAt", u, nil, false},
		{"deletionTime", &source.User{State: source.StateDeleted, DeletedAt: deletedAt}, deletedAt, true},
		{"department", u, "R&D", true},
		{"Department", u, "R&D", true},
		{"EMPLOYEEID", u, "E1", true},
		{"hr.costcenter", u, int64(42), true},
		{"roleIds", u, []string{"r1", "r2"}, true},
		{"isAdmin", u, true, true},
		{"hireDate", u, time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), true},
		// Exact match wins; otherwise the smallest key matching ignoring case.
		{"cost center name", u, "ops", true},
		{"COST CENTER NAME", u, "Ops", true},
		{"jobTitle", u, nil, false},
		{"", u, nil, false},
		// Empty built-ins are absent.
		{"mail", &source.User{ID: "x"}, nil, false},
		{"givenName", &source.User{ID: "x"}, nil, false},
		{"emails", &source.User{ID: "x"}, nil, false},
		{"active", &source.User{ID: "x"}, true, true},
		// A user without emails has no mail even if it has a user name.
		{"mail", &source.User{ID: "x", UserName: "x@example.com"}, nil, false},
		// Without a primary, the first non-empty email is the primary one.
		{"mail", &source.User{ID: "x", Emails: []source.Email{{Value: ""}, {Value: "b@x"}, {Value: "c@x"}}}, "b@x", true},
	}
	for _, tt := range tests {
		got, ok := tt.user.Attr(tt.name)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Attr(%q) = %#v, %v; want %#v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestGroupAttr(t *testing.T) {
	g := &source.Group{
		ID: "g-1", DisplayName: "Engineering", Email: "eng@example.com",
		Members: []string{"u-1"}, Attributes: source.NewAttrs(map[string]any{"type": "department"}),
	}
	tests := []struct {
		name   string
		want   any
		wantOK bool
	}{
		{"id", "g-1", true},
		{"objectid", "g-1", true},
		{"displayName", "Engineering", true},
		{"name", "Engineering", true},
		{"mail", "eng@example.com", true},
		{"Email", "eng@example.com", true},
		{"description", nil, false},
		{"members", []string{"u-1"}, true},
		{"memberGroups", nil, false},
		{"TYPE", "department", true},
		{"owner", nil, false},
	}
	for _, tt := range tests {
		got, ok := g.Attr(tt.name)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Attr(%q) = %#v, %v; want %#v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNormalizeValue(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in      any
		want    any
		wantErr bool
	}{
		{"s", "s", false},
		{true, true, false},
		{3, int64(3), false},
		{int32(-3), int64(-3), false},
		{uint16(7), int64(7), false},
		{uint64(1 << 62), int64(1 << 62), false},
		{uint64(1 << 63), nil, true},
		{float32(1.5), float64(1.5), false},
		{2.5, 2.5, false},
		{[]string{"a"}, []string{"a"}, false},
		{[]any{"a", "b"}, []string{"a", "b"}, false},
		{[]any{"a", 1}, nil, true},
		{now, now, false},
		{&now, now, false},
		{nil, nil, true},
		{map[string]any{}, nil, true},
		{struct{}{}, nil, true},
	}
	for _, tt := range tests {
		got, err := source.NormalizeValue(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("NormalizeValue(%#v) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, source.ErrInvalid) {
				t.Errorf("NormalizeValue(%#v) error %v does not match ErrInvalid", tt.in, err)
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NormalizeValue(%#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	// []string is copied.
	in := []string{"a"}
	out, _ := source.NormalizeValue(in)
	out.([]string)[0] = "b"
	if in[0] != "a" {
		t.Error("NormalizeValue shares the []string it was given")
	}
}

func TestCloneIsDeep(t *testing.T) {
	u := testUser()
	c := u.Clone()
	c.Emails[0].Value = "changed"
	c.Attributes = c.Attributes.With("department", "changed")
	c.Attributes.Value("roleIds").([]string)[0] = "changed"
	if u.Emails[0].Value == "changed" || u.Attributes.Value("department") == "changed" || u.Attributes.Value("roleIds").([]string)[0] == "changed" {
		t.Fatal("User.Clone shares data with the original")
	}
	g := source.Group{ID: "g", Members: []string{"u-1"}, MemberGroups: []string{"g2"}, Attributes: source.NewAttrs(map[string]any{"k": []string{"v"}})}
	gc := g.Clone()
	gc.Members[0], gc.MemberGroups[0] = "x", "x"
	gc.Attributes.Value("k").([]string)[0] = "x"
	if g.Members[0] == "x" || g.MemberGroups[0] == "x" || g.Attributes.Value("k").([]string)[0] == "x" {
		t.Fatal("Group.Clone shares data with the original")
	}
	d := &source.Directory{Users: []source.User{*u}, Groups: []source.Group{g}}
	dc := d.Clone()
	dc.Users[0].ID, dc.Groups[0].Members[0] = "x", "x"
	if d.Users[0].ID == "x" || d.Groups[0].Members[0] == "x" {
		t.Fatal("Directory.Clone shares data with the original")
	}
	if !reflect.DeepEqual(d.Clone(), d) {
		t.Fatal("Directory.Clone differs from the original")
	}
}
