package netskopetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	escim "github.com/elimity-com/scim"
	fp "github.com/scim2/filter-parser/v2"

	"github.com/provsync/provsync/scim"
)

// attrSetBodies are attribute maps for TestAttrSet, as JSON, beyond the
// bodies of validateCases and decodeBodyCases, and whether attrSetOf
// encodes them.
var attrSetBodies = []struct {
	body    string
	encoded bool
}{
	{`{"userName":"a@example.com","displayName":"<A & B>","name":{"givenName":"é","familyName":"\u2028"},"emails":[{"value":"a@example.com","primary":true}],"active":false}`, true},
	{`{"displayName":"Group","externalId":"g-1"}`, true},
	{`{"A":"upper case sorts first","userName":"u","zz":"last","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","manager":{"value":"m"}}}`, true},
	{`{"userName":"u","emails":[],"name":{},"nested":[[],[{}],null]}`, true},
	{`{"userName":"u","id":"an id among the attributes"}`, false},
	{`{"userName":"u","meta":{"created":"x"}}`, false},
	{`{"displayName":"g","members":[{"value":"x"}]}`, false},
	{`{"userName":"u","schemas":["s"]}`, false},
	{`{"userName":"u","n":1}`, false},
	{`{"userName":"u","deep":[[[[[[[["x"]]]]]]]]}`, false},
}

// TestAttrSet checks that a record's encoded attributes read back as the
// map they were made of, and are written as the map would be.
func TestAttrSet(t *testing.T) {
	for _, tt := range attrSetBodies {
		m := decodeAttrs(t, tt.body)
		for _, k := range []kind{kindUser, kindGroup} {
			if a := checkAttrSet(t, k, m); (a.m == nil) != tt.encoded {
				t.Errorf("%s %s: encoded %v, want %v", k, tt.body, a.m == nil, tt.encoded)
			}
		}
	}
	for _, tt := range validateCases {
		checkAttrSet(t, tt.kind, decodeAttrs(t, tt.body))
	}
	for _, tt := range decodeBodyCases {
		if m, err := decodeBody([]byte(tt.body), nil); err == nil && m != nil {
			checkAttrSet(t, kindUser, m)
		}
	}
	// Strings that are not UTF-8 would not read back the same.
	a := attrSetOf(kindUser, "userName", map[string]any{"userName": "bad\xff"})
	if a.m == nil {
		t.Errorf("a string that is not UTF-8 was encoded: %q", a.enc)
	}
}

// FuzzAttrSet is TestAttrSet on any body.
//
//	go test -run '^$' -fuzz FuzzAttrSet ./target/netskope/netskopetest/
func FuzzAttrSet(f *testing.F) {
	for _, tt := range attrSetBodies {
		f.Add([]byte(tt.body))
	}
	for _, tt := range validateCases {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := decodeBody(body, nil); err == nil && m != nil {
			checkAttrSet(t, kindUser, m)
			checkAttrSet(t, kindGroup, m)
		}
	})
}

func decodeAttrs(t *testing.T, body string) map[string]any {
	t.Helper()
	m, err := decodeBody([]byte(body), nil)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return m
}

// checkAttrSet makes the attribute set of m and checks it: the values
// the store indexes; the map it reads back; and the resource it writes,
// in several views, against the same record written from the map.
func checkAttrSet(t *testing.T, k kind, m map[string]any) attrSet {
	t.Helper()
	keyAttr := "userName"
	if k == kindGroup {
		keyAttr = "displayName"
	}
	orig := deepCopy(m).(map[string]any)
	a := attrSetOf(k, keyAttr, m)
	if !reflect.DeepEqual(m, orig) {
		t.Fatalf("attrSetOf changed its map: %#v, was %#v", m, orig)
	}
	if a.keyValue != strAttr(m, keyAttr) || a.ext != strAttr(m, "externalId") {
		t.Errorf("%s %#v: key %q, externalId %q", k, m, a.keyValue, a.ext)
	}
	if k == kindUser {
		want := strAttr(m, "displayName")
		if want == "" {
			want = strAttr(m, "userName")
		}
		if a.display != want {
			t.Errorf("%#v: display %q, want %q", m, a.display, want)
		}
	}
	if got := a.attrMap(); !reflect.DeepEqual(got, m) {
		t.Errorf("%s: attributes read back as %#v, want %#v (enc %s)", k, got, m, a.enc)
	}
	if got := a.attrCopy(); !reflect.DeepEqual(got, m) {
		t.Errorf("%s: attribute copy %#v, want %#v", k, got, m)
	}
	if a.m != nil {
		return a
	}
	if a.enc != "" && (a.enc[0] != ',' || !json.Valid([]byte("{"+a.enc[1:]+"}"))) {
		t.Errorf("%s: encoded attributes are not JSON: %s", k, a.enc)
	}

	st := newStore()
	now := time.Date(2026, 12, 2, 4, 30, 0, 0, time.UTC)
	newRec := func(a attrSet) *record {
		rec := &record{id: "2f6c1a3e-9d4b-4c1e-8a7f-0b1c2d3e4f50", created: now, modified: now.Add(time.Second)}
		setAttrsOf(rec, k, a)
		if k == kindGroup {
			rec.members = map[uint32]uint64{0: 1}
		}
		return rec
	}
	enc := newRec(a)
	mapForm := a
	mapForm.m = a.attrMap()
	asMap := newRec(mapForm)
	if k == kindGroup {
		u := &record{id: "7d0e8f1a-2b3c-4d5e-8f60-718293a4b5c6", attrSet: attrSet{display: "<member>"}}
		u.asMember = appendMember(nil, u)
		st.byNum = []*record{u}
	}
	for _, v := range []view{{}, {members: true}, {members: true, noEmptyMembers: true}} {
		got := st.appendResource([]byte("prefix"), k, enc, v)
		want := st.appendResource([]byte("prefix"), k, asMap, v)
		if !bytes.Equal(got, want) {
			t.Errorf("%s %+v: written\n%s\nwant\n%s", k, v, got, want)
		}
	}
	return a
}

// TestMembersOnlyPatch: a PATCH whose every operation is on a group's
// members leaves its attributes untouched (and is answered without
// copying them), any other PATCH changes them as before, and a failed
// one changes nothing.
func TestMembersOnlyPatch(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	u := c.createUser(user("m1"))
	g := c.createGroup(scim.Group{DisplayName: "<Team & Co>", ExternalID: "g-1"})
	path := func(p string) *fp.Path {
		parsed, err := fp.ParsePath([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		return &parsed
	}
	members := memberList{u.ID}
	for _, tt := range []struct {
		name string
		ops  []escim.PatchOperation
		only bool
	}{
		{"add", []escim.PatchOperation{{Op: "add", Path: path("members"), Value: members}}, true},
		{"any case, two", []escim.PatchOperation{{Op: "remove", Path: path("Members"), Value: members}, {Op: "add", Path: path("members"), Value: members}}, true},
		{"filter", []escim.PatchOperation{{Op: "remove", Path: path(`members[value eq "` + u.ID + `"]`)}}, true},
		{"and a rename", []escim.PatchOperation{{Op: "add", Path: path("members"), Value: members}, {Op: "replace", Path: path("displayName"), Value: "Renamed"}}, false},
		{"no path", []escim.PatchOperation{{Op: "add", Value: map[string]any{"members": []any{map[string]any{"value": u.ID}}}}}, false},
		{"unknown path", []escim.PatchOperation{{Op: "add", Path: path("nothing"), Value: "x"}}, false},
	} {
		if got := s.store.groups.membersOnly(tt.ops); got != tt.only {
			t.Errorf("%s: membersOnly %v, want %v", tt.name, got, tt.only)
		}
	}
	if s.store.users.membersOnly(nil) {
		t.Error("membersOnly of a user PATCH")
	}

	attrsOf := func() attrSet {
		s.store.mu.RLock()
		defer s.store.mu.RUnlock()
		rec, _ := s.store.groups.get(g.ID)
		return rec.attrSet
	}
	before := attrsOf()
	c.patch(http.StatusNoContent, "/Groups/"+g.ID, scim.PatchOperation{Op: "add", Path: "members", Value: []scim.Member{{Value: u.ID}}})
	if after := attrsOf(); !reflect.DeepEqual(after, before) {
		t.Errorf("a members PATCH changed the attributes: %+v, was %+v", after, before)
	}
	got, _ := s.Group(g.ID)
	if len(got.Members) != 1 || got.Members[0].Value != u.ID || got.DisplayName != "<Team & Co>" || got.ExternalID != "g-1" {
		t.Errorf("after a members PATCH: %+v", got)
	}
	c.patch(http.StatusNoContent, "/Groups/"+g.ID,
		scim.PatchOperation{Op: "remove", Path: "members", Value: []scim.Member{{Value: u.ID}}},
		scim.PatchOperation{Op: "replace", Path: "displayName", Value: "Renamed"})
	got, _ = s.Group(g.ID)
	if len(got.Members) != 0 || got.DisplayName != "Renamed" || got.ExternalID != "g-1" || attrsOf().keyValue != "Renamed" {
		t.Errorf("after a PATCH of members and name: %+v", got)
	}
}
