package netskope

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/provsync/provsync/scim"
)

// createdBodies are POST responses, ordinary and not.
var createdBodies = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60","externalId":"00u1","userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"active":true,"emails":[{"value":"ada@example.com","primary":true}],"meta":{"resourceType":"User","created":"2026-12-01T19:53:16Z","lastModified":"2026-12-01T19:53:16Z","location":"https://t/api/v2/scim/Users/8f14e45f","version":"W/\"1\""}}`,
	` { "id" : "x" , "meta" : null } `,
	`{"ID":"upper","Meta":{"Location":"l"}}`,
	`{"id":"first","id":"second"}`,
	`{"meta":{"version":"1"},"meta":{"location":"2"}}`,
	`{"id":"esc\"aped"}`, `{"id":"caf\u00e9"}`, `{"id":"café"}`, `{"\u0069d":"escaped name"}`, `{"ıd":"dotless"}`,
	`{"id":7}`, `{"id":null}`, `{"id":"x","n":-0.5e+10,"t":true,"f":false,"z":null,"a":[[],{},[1,2]],"o":{"k":{"k":[]}}}`,
	`{}`, ``, `   `, `null`, `[]`, `"id"`, `{"id":"x"} trailing`, `{"id":"x",}`, `{"id":"x"`, `{"id":"x" "y":1}`,
	`{"id":"x","n":01}`, `{"id":"x","n":1.}`, `{"id":"x","n":-}`, `{"id":"x","n":1e}`, `{"id":"x","b":tru}`, `{"id":"x","s":"\q"}`,
	`{"id":"x","s":"\u12"}`, "{\"id\":\"x\",\"s\":\"a\tb\"}", `{"id":"x","meta":{"created":5}}`, `{"id":"x","meta":"m"}`,
	`{"id":"x","a":[1 2]}`, `{"id":"x","o":{"k" 1}}`, `{"id":"x","o":{1:2}}`,
	`{"id":"x","meta":{"version":"W/\"a\\b\""}}`, `{"id":"x","meta":{"location":"caf\u00e9"}}`, `{"id":"x","meta":{"location":"café"}}`,
	`{"id":"x","meta":{"extra":{"a":1},"version":"v"}}`, `{"id":"x","meta":{"VERSION":"v","version":"w"}}`, `{"id":"x","meta":{ }}`,
	`{"id":"x","meta":{"created":"a\/b"}}`, `{"id":"x","meta":{"\u0063reated":"c"}}`, `{"id":"x","meta":{"created":null}}`,
}

// TestDecodeCreatedIsUnmarshal: whatever decodeCreated accepts,
// json.Unmarshal accepts and decodes alike; a body json.Unmarshal
// refuses, decodeCreated does not accept.
func TestDecodeCreatedIsUnmarshal(t *testing.T) {
	accepted := 0
	for _, body := range createdBodies {
		if checkDecodeCreated(t, []byte(body)) {
			accepted++
		}
	}
	if accepted < 5 {
		t.Errorf("the fast path took %d bodies, want the ordinary ones at least", accepted)
	}
	if _, ok := decodeCreated([]byte(createdBodies[0])); !ok {
		t.Error("the fast path gave up on an ordinary response")
	}
}

func checkDecodeCreated(t *testing.T, body []byte) bool {
	t.Helper()
	got, ok := decodeCreated(body)
	var want createdResource
	err := json.Unmarshal(body, &want)
	if ok && err != nil {
		t.Fatalf("decodeCreated accepted %q, which json.Unmarshal refuses: %v", body, err)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeCreated(%q) = %+v (meta %+v), json.Unmarshal %+v (meta %+v)", body, got, got.Meta, want, want.Meta)
	}
	return ok
}

func FuzzDecodeCreated(f *testing.F) {
	for _, b := range createdBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeCreated(t, body) })
}

// BenchmarkDecodeCreated compares the POST response's fast path with
// json.Unmarshal:
//
//	go test ./target/netskope -run X -bench DecodeCreated -benchmem
func BenchmarkDecodeCreated(b *testing.B) {
	body := []byte(createdBodies[0])
	b.Run("decodeCreated", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeCreated(body); !ok {
				b.Fatal("gave up")
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var out createdResource
			if err := json.Unmarshal(body, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestUserBodySchemas: the body a create or replace sends names the
// schemas scim.User.WithSchemas names, without the attributes a client
// must not write, whether or not the user has enterprise attributes.
func TestUserBodySchemas(t *testing.T) {
	for _, u := range []*scim.User{
		{UserName: "ann@example.com", ID: "id-1", Meta: &scim.Meta{ResourceType: "User"}, Groups: []scim.GroupRef{{Value: "g1"}}},
		{UserName: "bo@example.com", Enterprise: &scim.EnterpriseUser{Department: "Eng"}},
	} {
		t.Run(u.UserName, func(t *testing.T) {
			var room [2]string
			got := userBody(u, &room)
			want := u.WithSchemas()
			want.ID, want.Meta, want.Groups = "", nil, nil
			if g, w := string(got.AppendJSON(nil)), string(want.AppendJSON(nil)); g != w {
				t.Errorf("body %s, want %s", g, w)
			}
			before := room
			if _ = append(got.Schemas, "x"); room != before {
				t.Error("appending to the body's schemas wrote into its room")
			}
		})
	}
}
