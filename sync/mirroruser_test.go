package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/synth"
)

// compactUsers are users with every attribute a mirror keeps, and the
// values the compact form writes in short forms of their own.
func compactUsers() map[string]scim.User {
	full := scim.User{
		ID: "d0c1e2f3-0000-4000-8000-000000000001", Schemas: []string{scim.SchemaUser},
		ExternalID: "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b", UserName: "hanako.sato@example.com",
		Name: &scim.Name{Formatted: "佐藤 花子", FamilyName: "佐藤", GivenName: "花子", MiddleName: "M",
			HonorificPrefix: "Dr.", HonorificSuffix: "PhD"},
		DisplayName: "花子 佐藤", NickName: "Hana", ProfileURL: "https://example.com/~hanako", Title: "Engineer",
		UserType: "Employee", PreferredLanguage: "ja-JP", Locale: "ja_JP", Timezone: "Asia/Tokyo",
		Active: scim.Bool(true),
		Emails: []scim.Email{
			{Value: "hanako.sato@example.com", Type: "work", Primary: true},
			{Value: "hanako@home.example", Display: "home mail", Type: "home"},
			{Value: "h.sato@example.com", Type: "custom-type"},
			{},
		},
		PhoneNumbers: []scim.PhoneNumber{{Value: "+81 3 1234 5678", Type: "mobile", Primary: true}, {Value: "+81 3 0000", Display: "desk"}},
		Addresses: []scim.Address{
			{Formatted: "1-1 Chiyoda, Tokyo", StreetAddress: "1-1 Chiyoda", Locality: "Tokyo", Region: "Tokyo",
				PostalCode: "100-0001", Country: "JP", Type: "work", Primary: true},
			{Country: "FR"},
		},
		Groups: []scim.GroupRef{{Value: "g1", Display: "Eng"}},
		Enterprise: &scim.EnterpriseUser{EmployeeNumber: "E100001", CostCenter: "CC-1", Organization: "Acme",
			Division: "R&D", Department: "Engineering <core>",
			Manager: &scim.Manager{Value: "5ef26a5d-a4f8-4302-a716-4ee93108e395", Ref: "../Users/5ef26a5d", DisplayName: "Minh Trần"}},
		Meta: &scim.Meta{ResourceType: "User", Version: `W/"1"`},
	}
	long := strings.Repeat("ü", 200) // a length of two varint bytes
	return map[string]scim.User{
		"every attribute": full,
		"only a userName": {UserName: "a@x"},
		"nothing":         {},
		"inactive, empty parts": {UserName: "b@x", Active: scim.Bool(false), Name: &scim.Name{},
			Enterprise: &scim.EnterpriseUser{Manager: &scim.Manager{}}, Emails: []scim.Email{{Primary: true}}},
		"externalId is the userName": {ExternalID: "c@x", UserName: "c@x", DisplayName: "c@x",
			Emails: []scim.Email{{Value: "c@x"}}},
		"displayName before its name parts would be": {UserName: "d@x", Name: &scim.Name{GivenName: "Léa", FamilyName: "Lefèvre"},
			DisplayName: "Léa Lefèvre", NickName: "Léa Lefèvre", Title: "Léa  Lefèvre"},
		"a given name alone": {UserName: "e@x", Name: &scim.Name{GivenName: "Ada"}, DisplayName: "Ada "},
		"UUIDs that are not lowercase": {UserName: "f@x", ExternalID: "7496AD38-1F1C-41C1-8FB5-3AE6177FAF8B",
			Enterprise: &scim.EnterpriseUser{Manager: &scim.Manager{Value: "7496ad38-1f1c-41c1-8fb5-3ae6177faf8"}}},
		"common values elsewhere": {UserName: "work", Title: "home", Locale: "true", Emails: []scim.Email{{Value: "false", Type: "pager"}}},
		"long and odd text": {UserName: long, DisplayName: "tab\there \"quoted\" \\ \u2028 \x01", Title: "emoji 🙂",
			PhoneNumbers: []scim.PhoneNumber{{Value: long + "x"}}},
		"invalid UTF-8": {UserName: "g\xffh@x", DisplayName: "\xc3", Emails: []scim.Email{{Value: "g\xffh@x"}}},
	}
}

// jsonUser is u as its SCIM JSON reads back, without what a mirror
// leaves out.
func jsonUser(t testing.TB, u scim.User) scim.User {
	t.Helper()
	u.ID, u.Schemas, u.Meta, u.Groups = "", nil, nil, nil
	var back scim.User
	if err := json.Unmarshal(u.AppendJSON(nil), &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// canonJSON is u's JSON as a mirror writes it: the JSON of u as its
// JSON reads back (the same but for invalid UTF-8, which then reads
// U+FFFD instead of its escape).
func canonJSON(t testing.TB, u scim.User) string {
	t.Helper()
	c := jsonUser(t, u)
	return string(c.AppendJSON(nil))
}

// TestCompactUserRoundTrips: a user's mirror in the compact form reads
// back as the user its JSON reads back as, every attribute included
// (multi-valued emails, unicode, invalid UTF-8 as JSON carries it); its
// JSON is the user's JSON (byte for byte, for valid UTF-8); and the form
// is canonical: a
// user and its JSON read back have the same form, which is what plans
// compare.
func TestCompactUserRoundTrips(t *testing.T) {
	for name, u := range compactUsers() {
		t.Run(name, func(t *testing.T) {
			m := userMirror(&u)
			if !isPacked(m.User) {
				t.Fatalf("mirror %q is not in the compact form", m.User)
			}
			want := jsonUser(t, u)
			got, ok := m.user("tid")
			if !ok {
				t.Fatalf("the compact form %q does not read back", m.User)
			}
			want.ID = "tid"
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, want)
			}
			c := u
			c.ID, c.Schemas, c.Meta, c.Groups = "", nil, nil, nil
			if j := m.UserJSON(); string(j) != canonJSON(t, u) {
				t.Errorf("UserJSON = %s\nwant %s", j, canonJSON(t, u))
			}
			want.ID = ""
			if again := userMirror(&want); string(again.User) != string(m.User) {
				t.Errorf("the user read back from JSON packs as %q, the user as %q", again.User, m.User)
			}
			if js := (&Mirror{User: c.AppendJSON(nil)}); !js.Equal(m) || !m.Equal(js) {
				t.Error("the mirror in JSON and in the compact form are not Equal")
			}
		})
	}
}

// TestCompactUsersDiffer: users whose JSON differs have compact forms
// that differ, so that a plan never takes a changed user for its mirror:
// each attribute changed alone, or moved to another one, changes the form.
func TestCompactUsersDiffer(t *testing.T) {
	seen := map[string]string{}
	add := func(name string, u scim.User) {
		t.Helper()
		js := canonJSON(t, u)
		form := string(userMirror(&u).User)
		if other, ok := seen[form]; ok && other != js {
			t.Errorf("%s: users %s and %s have one compact form", name, other, js)
		}
		seen[form] = js
	}
	for name, u := range compactUsers() {
		add(name, u)
		for _, mut := range userMutations() {
			v := jsonUser(t, u)
			mut(&v)
			add(name+" changed", v)
		}
	}
}

// userMutations change one attribute each, or move a value between
// attributes that share a short form.
func userMutations() []func(*scim.User) {
	return []func(*scim.User){
		func(u *scim.User) { u.UserName += "x" },
		func(u *scim.User) { u.ExternalID, u.UserName = u.UserName, u.ExternalID },
		func(u *scim.User) { u.DisplayName = u.UserName },
		func(u *scim.User) { u.Title = u.DisplayName },
		func(u *scim.User) { u.Active = nil },
		func(u *scim.User) { u.Active = scim.Bool(false) },
		func(u *scim.User) { u.Name = nil },
		func(u *scim.User) { u.Enterprise = nil },
		func(u *scim.User) { u.Emails = append(u.Emails, scim.Email{Value: u.UserName}) },
		func(u *scim.User) { u.Emails = append(u.Emails, scim.Email{}) },
		func(u *scim.User) { u.PhoneNumbers = append(u.PhoneNumbers, scim.PhoneNumber{Type: "work"}) },
		func(u *scim.User) { u.Addresses = append(u.Addresses, scim.Address{Type: "work"}) },
		func(u *scim.User) {
			if len(u.Emails) > 0 {
				u.Emails[0].Primary = !u.Emails[0].Primary
			}
		},
		func(u *scim.User) {
			if len(u.Emails) > 1 {
				u.Emails[0], u.Emails[1] = u.Emails[1], u.Emails[0]
			}
		},
		func(u *scim.User) {
			if u.Name != nil {
				u.Name.GivenName, u.Name.FamilyName = u.Name.FamilyName, u.Name.GivenName
			}
		},
		func(u *scim.User) {
			if u.Enterprise != nil && u.Enterprise.Manager != nil {
				u.Enterprise.Manager.Value = strings.ToUpper(u.Enterprise.Manager.Value)
			}
		},
	}
}

// TestOldMirrorsLoadCompact: a state file whose user mirrors are SCIM
// JSON, as every state written so far holds them, loads with the mirrors
// in the compact form, Equal to the mirrors the engine makes of the same
// users, and saves the same JSON back.
func TestOldMirrorsLoadCompact(t *testing.T) {
	users := compactUsers()
	links := map[string]any{}
	for name, u := range users {
		c := u
		c.ID, c.Schemas, c.Meta, c.Groups = "", nil, nil, nil
		links[name] = map[string]any{"targetId": "t-" + name, "origin": "created", "since": "2026-12-01T10:00:00Z",
			"mirror": map[string]json.RawMessage{"user": c.AppendJSON(nil)}}
	}
	links["hand-written"] = map[string]any{"targetId": "t-h", "origin": "adopted", "since": "2026-12-01T10:00:00Z",
		"mirror": map[string]json.RawMessage{"user": json.RawMessage(`{ "userName" : "h@x", "active" : "true", "unknown": 1 }`)}}
	links["not a user"] = map[string]any{"targetId": "t-n", "origin": "adopted", "since": "2026-12-01T10:00:00Z",
		"mirror": map[string]json.RawMessage{"user": json.RawMessage(`{"userName":5}`)}}
	old, err := json.Marshal(map[string]any{"version": 1, "target": "t", "serial": 3, "users": links, "groups": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/state.json"
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	st := NewFileState(path)
	defer st.Close()
	s, err := st.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range users {
		m := s.Users[name].Mirror
		if !isPacked(m.User) {
			t.Errorf("%s: loaded as %q, not in the compact form", name, m.User)
		}
		if !m.Equal(userMirror(&u)) {
			t.Errorf("%s: the loaded mirror is not Equal to the engine's mirror of the user", name)
		}
	}
	if h := s.Users["hand-written"].Mirror; !h.Equal(userMirror(&scim.User{UserName: "h@x", Active: scim.Bool(true)})) {
		t.Errorf("a hand-written mirror loaded as %s", h.UserJSON())
	}
	if n := s.Users["not a user"].Mirror; string(n.User) != `{"userName":5}` {
		t.Errorf("a mirror that is no user loaded as %q; want it kept as it was", n.User)
	} else if _, ok := n.user("t-n"); ok {
		t.Error("a mirror that is no user reads as one")
	}
	s.Serial++
	if err := st.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Users map[string]struct {
			Mirror struct {
				User json.RawMessage `json:"user"`
			} `json:"mirror"`
		} `json:"users"`
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	for name, u := range users {
		if got := saved.Users[name].Mirror.User; string(got) != canonJSON(t, u) {
			t.Errorf("%s: saved as %s\nwant %s", name, got, canonJSON(t, u))
		}
	}
}

// FuzzCompactUser: whatever the text of a user's attributes, its compact
// form reads back as its JSON does and is the form of that JSON.
func FuzzCompactUser(f *testing.F) {
	f.Add("a@x", "a@x", "Ada", "Lovelace", "Ada Lovelace", "work", "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b")
	f.Add("", "", "", "", " ", "true", "")
	f.Add("\xff", "\xff", "\xc3", "b", "\xc3 b", "\x00", "0")
	f.Fuzz(func(t *testing.T, userName, email, given, family, display, typ, ext string) {
		u := scim.User{UserName: userName, ExternalID: ext, DisplayName: display, Title: typ,
			Name:   &scim.Name{GivenName: given, FamilyName: family},
			Emails: []scim.Email{{Value: email, Type: typ}, {Value: userName, Display: display}},
			Enterprise: &scim.EnterpriseUser{Department: family,
				Manager: &scim.Manager{Value: ext, DisplayName: display}}}
		m := userMirror(&u)
		got, ok := m.user("")
		want := jsonUser(t, u)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("read back %+v (%v)\nwant %+v", got, ok, want)
		}
		if again := userMirror(&want); string(again.User) != string(m.User) {
			t.Fatalf("the JSON's form %q differs from the user's %q", again.User, m.User)
		}
		if j, ok := appendPackedJSON(nil, m.User); !ok || string(j) != string(got.AppendJSON(nil)) {
			t.Fatalf("the form's JSON %s (%v) is not its user's %s", j, ok, got.AppendJSON(nil))
		}
	})
}

// BenchmarkUserMirrorSize reports the heap a user's mirror takes, in
// the compact form and as JSON (in a buffer of 384 bytes, as the engine
// made them before the compact form), for users the default mapping makes of
// a synthetic directory:
//
//	go test ./sync -run '^$' -bench UserMirrorSize -benchmem
func BenchmarkUserMirrorSize(b *testing.B) {
	const n = 5000
	d := synth.Generate(synth.Config{Users: n, Groups: 50, MembershipsPerUser: 3, Seed: 1})
	des, err := mapping.Default().Map(context.Background(), d)
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []string{"compact", "json"} {
		b.Run(form, func(b *testing.B) {
			var size uint64
			for b.Loop() {
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				before := ms.HeapAlloc
				kept := make([]*Mirror, len(des.Users))
				for i := range kept {
					u := &des.Users[i].User
					if form == "compact" {
						kept[i] = userMirror(u)
					} else {
						kept[i] = &Mirror{User: u.AppendJSON(make([]byte, 0, 384))} // as mirrors were made
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&ms)
				size = ms.HeapAlloc - before
				runtime.KeepAlive(kept)
			}
			b.ReportMetric(float64(size)/float64(len(des.Users)), "B/user")
		})
	}
}

// userJSONCases are user JSON texts as states may hold them: each
// user's JSON, and texts with what encoding/json reads its own way.
func userJSONCases(t testing.TB) map[string]string {
	cases := map[string]string{
		"spaced, with nulls": ` { "userName" : "a@x" , "name" : null, "title": null, "emails" : [ ] ,
			"active" : null , "id": "x", "schemas": ["s"], "meta": {"version": "W/\"1\"", "n": [1, -2.5e3, true, false, null]},
			"groups": [{"value": "g"}] } `,
		"escapes": `{"userName":"\u0041\u00e9\ud83d\ude42\"\\\/\b\f\n\r\t","displayName":"\ud800x\udc00\ud800\u0041",` +
			`"title":"R\u0026D \u003c\u003e","emails":[{"value":"a\u2028b","primary":true},{"type":"work","primary":false}]}`,
		"repeated names":          `{"userName":"a","userName":"b","name":{"givenName":"g"},"name":{"familyName":"f"},"emails":[{"value":"1"}],"emails":[{"value":"2"}]}`,
		"active as text":          `{"userName":"a","active":"true"}`,
		"another spelling":        `{"username":"a","UserName":"b"}`,
		"a number for text":       `{"userName":5}`,
		"a null element":          `{"userName":"a","emails":[null]}`,
		"enterprise and manager":  `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"d","manager":{"value":"m","$ref":"r","displayName":"n"}}}`,
		"enterprise null manager": `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":null}}`,
		"trailing text":           `{"userName":"a"} x`,
		"raw control character":   "{\"userName\":\"a\tb\"}",
		"invalid UTF-8":           "{\"userName\":\"a\xffb\",\"title\":\"\\u00e9\xc3\"}",
		"not closed":              `{"userName":"a"`,
		"bad escape":              `{"userName":"\x"}`,
	}
	for name, u := range compactUsers() {
		cases["user "+name] = string(u.AppendJSON(nil))
	}
	return cases
}

// TestReadUserJSONIsUnmarshal: the fast reader of a mirror's JSON reads
// each text as encoding/json reads it, or leaves it to encoding/json;
// the users' JSON, as the engine writes it, it reads itself.
func TestReadUserJSONIsUnmarshal(t *testing.T) {
	for name, text := range userJSONCases(t) {
		t.Run(name, func(t *testing.T) {
			got, ok := checkReadUserJSON(t, []byte(text))
			if strings.HasPrefix(name, "user ") && !ok {
				t.Errorf("the JSON of a user, %s, is left to encoding/json", text)
			}
			if ok && name == "escapes" && got.UserName != "Aé🙂\"\\/\b\f\n\r\t" {
				t.Errorf("escapes read as %q", got.UserName)
			}
		})
	}
}

// checkReadUserJSON fails t if readUserJSON reads b other than
// encoding/json does (in the compact form, which both are kept in).
func checkReadUserJSON(t *testing.T, b []byte) (scim.User, bool) {
	t.Helper()
	got, ok := readUserJSON(b)
	var want scim.User
	err := json.Unmarshal(b, &want)
	if !ok {
		return got, false
	}
	if err != nil {
		t.Fatalf("read %s, which encoding/json refuses: %v", b, err)
	}
	if g, w := userMirror(&got), userMirror(&want); !g.Equal(w) {
		t.Fatalf("read %s as\n%s\nencoding/json as\n%s", b, g.UserJSON(), w.UserJSON())
	}
	return got, true
}

// FuzzReadUserJSON: whatever the text, the fast reader reads it as
// encoding/json does, or not at all.
func FuzzReadUserJSON(f *testing.F) {
	for _, text := range userJSONCases(f) {
		f.Add([]byte(text))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkReadUserJSON(t, b) })
}

// TestCreateKeyOfPackedUsers: a packed create's externalId is read
// without unpacking its user, as unpacking reads it, and a form cut
// anywhere gives either that value or none, never a panic. It allocates
// the externalId alone (a UUID's text): unpacking the user for it copied
// the whole form and made a user on the heap, at every create.
func TestCreateKeyOfPackedUsers(t *testing.T) {
	for name, u := range compactUsers() {
		t.Run(name, func(t *testing.T) {
			m := userMirror(&u)
			want, ok := m.user("")
			if !ok {
				t.Fatal("the form does not unpack")
			}
			c := Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: "s", Key: u.UserName}, packedUser: m}
			key, ext, ok := c.createKey()
			if !ok || key != u.UserName || ext != want.ExternalID {
				t.Fatalf("createKey = %q, %q, %v; want %q, %q, true", key, ext, ok, u.UserName, want.ExternalID)
			}
			for i := range m.User {
				if got, ok := packedExternalID(m.User[:i]); ok && got != want.ExternalID {
					t.Errorf("the form cut at %d reads externalId %q, want %q or none", i, got, want.ExternalID)
				}
			}
		})
	}
	u := compactUsers()["every attribute"]
	c := Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: "s", Key: u.UserName}, packedUser: userMirror(&u)}
	if n := testing.AllocsPerRun(100, func() { c.createKey() }); n > 2 {
		t.Errorf("createKey of a packed user made %v allocations, want at most 2 (its externalId, and its packed bytes)", n)
	}
}

// TestPackedJSONIsAppendJSON: the JSON written straight from a compact
// form is byte for byte the JSON of the user it unpacks as, for every
// form appendPackedUser makes; a mirror's JSON makes no object on the
// way but the form's text.
func TestPackedJSONIsAppendJSON(t *testing.T) {
	users := compactUsers()
	d := synth.Generate(synth.Config{Users: 200, Groups: 5, MembershipsPerUser: 2, Seed: 3})
	des, err := mapping.Default().Map(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range des.Users {
		users[fmt.Sprintf("synthetic %d", i)] = u.User
	}
	for name, u := range users {
		m := userMirror(&u)
		back, ok := unpackUser(m.User)
		if !ok {
			t.Fatalf("%s: the form does not unpack", name)
		}
		want := back.AppendJSON([]byte("x"))
		got, ok := appendPackedJSON([]byte("x"), m.User)
		if !ok || string(got) != string(want) {
			t.Errorf("%s: wrote %s (%v)\nwant %s", name, got, ok, want)
		}
	}
	// A journal line's or state file's mirror: unpacking its user made
	// seven objects.
	m := userMirror(&des.Users[0].User)
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { _, _ = appendMirror(buf, m, false) }); n > 1 {
		t.Errorf("the JSON of a user's mirror made %v allocations, want at most 1 (the form's text)", n)
	}
}

// FuzzPackedJSON: a form appendPackedJSON writes, however made, is one
// unpackUser reads, as the same JSON; any other it leaves to it. Any
// form unpacks to send (unpackSent) as unpackUser reads it.
func FuzzPackedJSON(f *testing.F) {
	for _, u := range compactUsers() {
		f.Add([]byte(userMirror(&u).User))
	}
	f.Add([]byte{packedUser, tagName, tagDisplayName, strFullName})
	f.Add([]byte{packedUser, tagUserName, strUserName})
	f.Fuzz(func(t *testing.T, b []byte) {
		sent, sentOK := unpackSent(b)
		if u, uok := unpackUser(b); sentOK != uok || (uok && !reflect.DeepEqual(*sent, u)) {
			t.Fatalf("unpacked to send as %+v (%v), want %+v (%v)", sent, sentOK, u, uok)
		}
		got, ok := appendPackedJSON(nil, b)
		if !ok {
			if len(got) != 0 {
				t.Fatalf("refused, yet wrote %q", got)
			}
			return
		}
		u, uok := unpackUser(b)
		if !uok {
			t.Fatalf("wrote %s of a form that does not unpack", got)
		}
		if want := u.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("wrote %s\nwant %s", got, want)
		}
	})
}

// TestUnpackSentIsUnpackUser: a create's user unpacked into one
// allocation is the user unpackUser reads, and a create's user takes
// five allocations where it took nine (the user, its name, active flag
// and email each one of its own).
func TestUnpackSentIsUnpackUser(t *testing.T) {
	for name, u := range compactUsers() {
		m := userMirror(&u)
		want, ok := unpackUser(m.User)
		got, gotOK := unpackSent(m.User)
		if !ok || !gotOK || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: unpacked %+v (%v), want %+v", name, got, gotOK, want)
		}
	}
	d := synth.Generate(synth.Config{Users: 5, Groups: 1, MembershipsPerUser: 1, Seed: 3})
	des, err := mapping.Default().Map(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	c := Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: "s"}, packedUser: userMirror(&des.Users[0].User)}
	if n := testing.AllocsPerRun(100, func() { c.userToCreate() }); n > 5 {
		t.Errorf("userToCreate made %v allocations, want at most 5", n)
	}
}
